/* fuzz_trap.c: the decoders between a guest exit and the device it reaches: ESR_EL2 of a data
 * abort into an MMIO access (hv/arch/aarch64/traps.c, on to hv/core/mmio.c and the devices),
 * trapped system-register accesses (traps.c, sysreg_trap.c), HVC/SMC, WFx, instruction aborts
 * and unknown classes, on the light path (exit_light) and the full one (trap_sync). The
 * AArch64 sources are built with host_sysreg.h: ESR_EL2, FAR_EL2, HPFAR_EL2 come from the
 * input, as do the guest's registers. */
#include <setjmp.h>
#include <pv/arch.h>
#include <pv/exit.h>
#include "fuzz.h"
#include "world.h"

#define VCPUS 2u
#define MAX_TRAPS 64u

/* ---- the system registers the trap code reads and writes ---- */

struct sysreg {
	const char *name;
	u64 value;
};

/* ID registers read as all ones, so that every field the VM must not see is there to hide. */
static struct sysreg regs[] = {
	{ "esr_el2", 0 }, { "far_el2", 0 }, { "hpfar_el2", 0 }, { "vbar_el1", 0 },
	{ "mdscr_el1", 0 }, { "esr_el1", 0 }, { "far_el1", 0 }, { "elr_el1", 0 },
	{ "spsr_el1", 0 }, { "dc_cisw", 0 },
	{ "id_aa64pfr0_el1", ~0ull }, { "s3_0_c0_c4_1", ~0ull }, { "id_aa64dfr0_el1", ~0ull },
	{ "id_aa64isar0_el1", ~0ull }, { "id_aa64isar1_el1", ~0ull }, { "s3_0_c0_c6_2", ~0ull },
	{ "id_aa64mmfr0_el1", ~0ull }, { "id_aa64mmfr1_el1", ~0ull }, { "s3_0_c0_c7_2", ~0ull },
	/* A debug user's breakpoints and watchpoints, as dbg_load writes them (6 and 4: what the
	 * all-ones ID_AA64DFR0_EL1 is capped to). */
	{ "dbgbvr0_el1", 0 }, { "dbgbcr0_el1", 0 },
	{ "dbgbvr1_el1", 0 }, { "dbgbcr1_el1", 0 },
	{ "dbgbvr2_el1", 0 }, { "dbgbcr2_el1", 0 },
	{ "dbgbvr3_el1", 0 }, { "dbgbcr3_el1", 0 },
	{ "dbgbvr4_el1", 0 }, { "dbgbcr4_el1", 0 },
	{ "dbgbvr5_el1", 0 }, { "dbgbcr5_el1", 0 },
	{ "dbgwvr0_el1", 0 }, { "dbgwcr0_el1", 0 },
	{ "dbgwvr1_el1", 0 }, { "dbgwcr1_el1", 0 },
	{ "dbgwvr2_el1", 0 }, { "dbgwcr2_el1", 0 },
	{ "dbgwvr3_el1", 0 }, { "dbgwcr3_el1", 0 },
};

/* A register the trap code started to use without this table knowing it stops the run: the
 * harness must learn what the hardware would answer. */
static struct sysreg *sysreg(const char *name)
{
	for (u32 i = 0; i < ARRAY_SIZE(regs); i++)
		if (strcmp(regs[i].name, name) == 0)
			return &regs[i];
	fprintf(stderr, "fuzz_trap: unknown system register %s\n", name);
	abort();
}

u64 fuzz_sysreg_read(const char *name) { return sysreg(name)->value; }
/* No breakpoint or watchpoint a guest sets may match at EL2 (HMC, bit 13 of DBGB/WCR). */
void fuzz_sysreg_write(const char *name, u64 v)
{
	if (strncmp(name, "dbg", 3) == 0 && name[5] == 'r' && name[4] == 'c')
		FUZZ_ASSERT(!(v & 1ull << 13));
	sysreg(name)->value = v;
}

static void set(const char *name, u64 v) { sysreg(name)->value = v; }

/* ---- the exits ---- */

#define EC_SHIFT 26
#define VBAR (WORLD_RAM_BASE + 0x10000)

/* Where a faulting access went: each device window (GICD, GICR, UART, virtio), RAM, or any
 * address at all. */
static u64 fault_address(struct fuzz_in *in)
{
	static const u64 base[] = { 0x08000000, 0x080a0000, 0x09000000, 0x0a000000, WORLD_RAM_BASE };
	u8 sel = fuzz_u8(in);
	if (sel % 6 == 5)
		return fuzz_u64(in);
	return base[sel % 6] + (fuzz_u32(in) & (sel & 0x80 ? 0xfffffu : 0x3ffu));
}

static u32 syndrome(struct fuzz_in *in, u8 kind)
{
	static const u32 ec[] = { 0x24, 0x24, 0x18, 0x16, 0x17, 0x01, 0x20 };
	u32 iss = fuzz_u32(in) & 0x1ffffff;
	if (kind == 7)
		return fuzz_u32(in); /* any class, even ones no guest can cause */
	if (ec[kind] == 0x16 || ec[kind] == 0x17)
		iss &= 0xffff; /* HVC/SMC: the immediate */
	return ec[kind] << EC_SHIFT | 1u << 25 | iss;
}

/* One exit of vCPU `id`: its LRs filled as for an entry, the light path tried first when the
 * input says so, then the full path for what the light one leaves (as entry.S and exit.c do). */
static void one_exit(struct fuzz_in *in, u32 id)
{
	struct vcpu *v = &vms[0].vcpus[id];
	u8 sel = fuzz_u8(in);
	u64 ipa = fault_address(in), esr = syndrome(in, (sel >> 1) & 7);
	for (u32 n = sel >> 6; n; n--) {
		u8 r = fuzz_u8(in);
		v->regs.x[r % 31] = fuzz_u64(in);
	}
	v->regs.pc = sel & 0x20 ? VBAR + 0x200 + (fuzz_u8(in) & 0xfc) : WORLD_RAM_BASE + 0x1000;
	v->regs.pstate = (fuzz_u8(in) & 0xf) | 0x3c0;
	set("esr_el2", esr);
	set("hpfar_el2", (ipa >> 12) << 4);
	set("far_el2", (fuzz_u64(in) & ~0xfffull) | (ipa & 0xfff));
	cpus[0].loaded = v;
	vgic_flush(&vms[0].vgic, id, arch_vgic_lr_count());
	u64 kind = sel & 1 ? exit_light(v) : EXIT_SYNC;
	vgic_sync(&vms[0].vgic, id);
	if (kind == EXIT_SYNC)
		trap_sync(v);
	else
		FUZZ_ASSERT(kind == EXIT_RESUME || kind == EXIT_HANDLED);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return world_build(1, VCPUS) ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	jmp_buf off;
	world_restore();
	world_tb.h.vms[0].flags = fuzz_u8(&in) & PVB_VM_PMU; /* a VM with or without the PMU */
	set("vbar_el1", VBAR);
	set("mdscr_el1", 0);
	/* The VM stops itself (SYSTEM_OFF, a fault in its vectors): being the only one, the
	 * board powers off, which returns here. */
	fake.off_jump = &off;
	if (setjmp(off))
		return 0;
	for (u32 n = 0; n < MAX_TRAPS && in.n && vms[0].state == VM_RUNNING; n++)
		one_exit(&in, fuzz_u8(&in) % VCPUS);
	FUZZ_ASSERT(vgic_audit(&vms[0].vgic));
	return 0;
}
