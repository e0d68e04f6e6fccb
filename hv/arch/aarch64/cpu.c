/* cpu.c: physical cores: identity, start through the board's PSCI, kicks, idle, power off. */
#include <pv/arch.h>
#include <pv/cpu.h>
#include <pv/crypto.h>
#include <pv/exit.h>
#include <pv/log.h>
#include <pv/smccc.h>
#include <pv/string.h>
#include "aarch64.h"
#include "asm_offsets.h"
#include <pv/gic.h>
#include "sysreg.h"


/* EL2 controls every core needs before it runs a guest. */
void arch_cpu_init(void)
{
	s2_init_cpu();
	write_sysreg(hstr_el2, 0);
	write_sysreg(cnthctl_el2, 0x1);   /* EL1 reads the physical counter; its timer traps */
	write_sysreg(cntvoff_el2, 0);
	/* Guests see the real core's MIDR; MDCR_EL2.HPMN = all counters (trapping comes with the
	 * scheduler, which decides which VM may count). */
	write_sysreg(vpidr_el2, read_sysreg(midr_el1));
	write_sysreg(mdcr_el2, FIELD(read_sysreg(pmcr_el0), 15, 11));
	/* The core's own OS lock resets locked and would hold off every guest's debug events;
	 * each vCPU has a virtual one instead (sysreg_trap.c). */
	write_sysreg(oslar_el1, 0);
	/* The virtual CPU interface's registers reset to UNKNOWN values (IHI 0069 12.4). */
	write_sysreg(ich_hcr_el2, 0);
	for (u32 i = 0; i < arch_vgic_lr_count(); i++)
		arch_vgic_write_lr(i, 0);
	isb();
}

u64 arch_stack_top(u32 cpu)
{
	extern u8 stacks[];
	return (u64)(uintptr_t)stacks + (u64)(cpu + 1) * STACK_SIZE; /* as core_setup in entry.S */
}

u32 arch_cpu_id(void)
{
	return (u32)FIELD(read_sysreg(mpidr_el1), 7, 0);
}

/* QEMU's PSCI rejects a target MPIDR with bit 31 set, so pass the bare affinity. */
int arch_cpu_start(u32 cpu)
{
	return (int)arch_smc(PSCI_CPU_ON | PSCI_64, cpu, (u64)(uintptr_t)secondary_entry, cpu);
}

void arch_kick(u32 cpu)
{
	gic_send_sgi(cpu, SGI_KICK);
}

void arch_idle(void)
{
	wfi();
}

_Noreturn void arch_system_off(void)
{
	arch_smc(PSCI_SYSTEM_OFF, 0, 0, 0);
	for (;;)
		wfi();
}

/* A fault in the hypervisor itself: nothing a guest did, so the report is for us. */
_Noreturn void hv_exception(u64 kind, u64 *frame)
{
	(void)frame;
	panic("EL2 exception %lu on core %u: ESR %#lx ELR %#lx FAR %#lx", kind, arch_cpu_id(),
	      read_sysreg(esr_el2), read_sysreg(elr_el2), read_sysreg(far_el2));
}

void arch_sync_icache(void)
{
	__asm__ volatile("ic ialluis\n dsb ish\n isb" ::: "memory");
}

void sha256_ce_blocks(u32 h[8], const u8 *p, u64 n);

bool arch_sha256_blocks(u32 h[8], const u8 *p, u64 n)
{
	if (!FIELD(read_sysreg(id_aa64isar0_el1), 15, 12)) /* SHA2: 0 = none */
		return false;
	if (n)
		sha256_ce_blocks(h, p, n);
	return true;
}

/* From the linker script: the image as loaded, up to the end of its constants. */
extern const u8 __image_start[], __measured_end[];

const u8 *arch_image(u64 *size)
{
	*size = (u64)(__measured_end - __image_start);
	return __image_start;
}
