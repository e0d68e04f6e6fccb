/* test_core.c: the portable hypervisor core on the fake architecture: board DTB reading,
 * formatting, bundle re-checks, VM creation/reset/stop, PSCI, the vPL011 and the console. */
#include <libfdt.h>
#include <stdlib.h>
#include <pv/bundle_check.h>
#include <pv/console.h>
#include <pv/cpu.h>
#include <pv/fdt.h>
#include <pv/fmt.h>
#include <pv/mmio.h>
#include <pv/passthru.h>
#include <pv/pvtime.h>
#include <pv/smccc.h>
#include <pv/vm.h>
#include <pv/vptimer.h>
#include <board.h>
#include "fake.h"
#include "harness.h"
#include "bundle.h"

/* ---- formatting ---- */

static const char *fmt(const char *f, ...)
{
	static char buf[64];
	va_list ap;
	va_start(ap, f);
	fmt_vformat(buf, sizeof(buf), f, ap);
	va_end(ap);
	return buf;
}

TEST(fmt_conversions)
{
	EXPECT_STR(fmt("%d|%u|%x", -42, 42u, 0xbeefu), "-42|42|beef");
	EXPECT_STR(fmt("%#lx %x %d %d", 0x1000ul, 0xabu, 7, -7), "0x1000 ab 7 -7");
	EXPECT_STR(fmt("%ld %lu %c%%", -5l, 18446744073709551615ul, 'z'), "-5 18446744073709551615 z%");
	EXPECT_STR(fmt("%s %c %s", "vm", 'x', (char *)NULL), "vm x (null)");
	EXPECT_STR(fmt("%ld %lu", (long)-1, (unsigned long)-1), "-1 18446744073709551615");
	EXPECT_STR(fmt("100%% %q"), "100% %q");
}

TEST(fmt_truncates_and_terminates)
{
	char buf[8];
	EXPECT_EQ(fmt_format(buf, sizeof(buf), "%s", "0123456789"), 7);
	EXPECT_STR(buf, "0123456");
	EXPECT_EQ(fmt_format(buf, 1, "abc"), 0);
	EXPECT_STR(buf, "");
}

/* ---- board DTB ---- */

/* A device node as QEMU virt writes one: compatible, reg, interrupts <GIC_SPI spi edge>. */
static void board_device(void *fdt, const char *name, const char *compatible, uint64_t base,
			 uint32_t spi, int addr_cells)
{
	fdt32_t irq[3] = { 0, cpu_to_fdt32(spi), cpu_to_fdt32(1) };
	fdt64_t reg2[2] = { cpu_to_fdt64(base), cpu_to_fdt64(0x200) };
	fdt32_t reg1[3] = { cpu_to_fdt32((uint32_t)base), 0, cpu_to_fdt32(0x200) };
	fdt_begin_node(fdt, name);
	fdt_property(fdt, "dma-coherent", NULL, 0);
	fdt_property(fdt, "interrupts", irq, sizeof(irq));
	if (addr_cells == 2)
		fdt_property(fdt, "reg", reg2, sizeof(reg2));
	else
		fdt_property(fdt, "reg", reg1, sizeof(reg1));
	fdt_property(fdt, "compatible", compatible, (int)strlen(compatible) + 1);
	fdt_end_node(fdt);
}

/* flags: FDT_CREATE_FLAG_NO_NAME_DEDUP stores each property name anew, as a DTB may. */
static void *board_dtb_flags(int with_initrd, int addr_cells, uint32_t flags)
{
	size_t size = 4096;
	void *fdt = malloc(size);
	fdt_create_with_flags(fdt, (int)size, flags);
	fdt_finish_reservemap(fdt);
	fdt_begin_node(fdt, "");
	fdt_property_u32(fdt, "#address-cells", (uint32_t)addr_cells);
	fdt_property_u32(fdt, "#size-cells", 2);
	fdt_begin_node(fdt, "cpus");
	fdt_property_u32(fdt, "reg", 7); /* a "reg" that is not memory's */
	fdt_end_node(fdt);
	fdt_begin_node(fdt, "memory@40000000");
	fdt_property_string(fdt, "device_type", "memory");
	if (addr_cells == 2) {
		fdt64_t reg[2] = { cpu_to_fdt64(0x40000000), cpu_to_fdt64(0x40000000) };
		fdt_property(fdt, "reg", reg, sizeof(reg));
	} else {
		fdt32_t reg[3] = { cpu_to_fdt32(0x40000000), 0, cpu_to_fdt32(0x20000000) };
		fdt_property(fdt, "reg", reg, sizeof(reg));
	}
	fdt_end_node(fdt);
	fdt_begin_node(fdt, "chosen");
	if (with_initrd) {
		fdt_property_u64(fdt, "linux,initrd-start", 0x48000000);
		fdt_property_u32(fdt, "linux,initrd-end", 0x48100000);
	}
	fdt_end_node(fdt);
	board_device(fdt, "pl011@9000000", "arm,pl011", 0x9000000, 1, addr_cells);
	board_device(fdt, "virtio_mmio@a000000", "virtio,mmio", 0xa000000, 16, addr_cells);
	board_device(fdt, "virtio_mmio@a000200", "virtio,mmio", 0xa000200, 17, addr_cells);
	fdt_begin_node(fdt, "intc");
	board_device(fdt, "virtio_mmio@b000000", "virtio,mmio", 0xb000000, 9, addr_cells);
	fdt_end_node(fdt);
	fdt_end_node(fdt);
	fdt_finish(fdt);
	return fdt;
}

static void *board_dtb(int with_initrd, int addr_cells)
{
	return board_dtb_flags(with_initrd, addr_cells, 0);
}

TEST(fdt_reads_ram_and_initrd)
{
	void *dtb = board_dtb(1, 2);
	struct board_info b;
	EXPECT_EQ(fdt_read_board(dtb, fdt_totalsize(dtb), &b, true), 0);
	EXPECT_EQ(b.ram_base, 0x40000000);
	EXPECT_EQ(b.ram_size, 0x40000000);
	EXPECT_EQ(b.initrd_start, 0x48000000);
	EXPECT_EQ(b.initrd_end, 0x48100000);
	free(dtb);
	dtb = board_dtb(0, 1);
	EXPECT_EQ(fdt_read_board(dtb, fdt_totalsize(dtb), &b, true), 0);
	EXPECT_EQ(b.ram_size, 0x20000000);
	EXPECT_EQ(b.initrd_start, 0);
	free(dtb);
}

/* Top-level virtio,mmio nodes only (not the UART, not one inside another node), with their
 * base and SPI; with names stored once or once per property; none when not asked for. */
TEST(fdt_finds_virtio_transports_when_asked)
{
	for (uint32_t flags = 0; flags <= FDT_CREATE_FLAG_NO_NAME_DEDUP; flags++) {
		for (int cells = 1; cells <= 2; cells++) {
			void *dtb = board_dtb_flags(1, cells, flags);
			struct board_info b;
			EXPECT_EQ(fdt_read_board(dtb, fdt_totalsize(dtb), &b, true), 0);
			EXPECT_EQ(b.virtio_count, 2);
			EXPECT_EQ(b.virtio_base[0], 0xa000000);
			EXPECT_EQ(b.virtio_intid[0], 48);
			EXPECT_EQ(b.virtio_base[1], 0xa000200);
			EXPECT_EQ(b.virtio_intid[1], 49);
			EXPECT_EQ(b.ram_base, 0x40000000);
			EXPECT_EQ(fdt_read_board(dtb, fdt_totalsize(dtb), &b, false), 0);
			EXPECT_EQ(b.virtio_count, 0);
			EXPECT_EQ(b.initrd_end, 0x48100000);
			free(dtb);
		}
	}
}

/* Every truncation and every single-byte corruption is refused or read within bounds (ASan
 * watches the exact-size copies). */
TEST(fdt_survives_truncation_and_corruption)
{
	void *dtb = board_dtb(1, 2);
	u32 total = fdt_totalsize(dtb);
	struct board_info b;
	for (u32 len = 0; len < total; len++) {
		u8 *copy = malloc(len ? len : 1);
		memcpy(copy, dtb, len);
		if (!EXPECT(fdt_read_board(copy, len, &b, true) < 0))
			fprintf(stderr, "  accepted a DTB cut to %u of %u bytes\n", len, total);
		free(copy);
	}
	for (u32 i = 0; i < total; i++) {
		u8 *copy = malloc(total);
		memcpy(copy, dtb, total);
		copy[i] ^= 0xa5;
		(void)fdt_read_board(copy, total, &b, true);
		free(copy);
	}
	free(dtb);
}

/* ---- bundles ---- */

#define RAM_POOL (MiB(64))
static u8 *ram_pool;

/* Two vCPUs on any core; each VM's image a different fill byte. */
static void bundle_init(struct test_bundle *b, u32 nvms)
{
	test_bundle_init(b, nvms);
	for (u32 i = 0; i < nvms; i++) {
		b->h.vms[i].vcpu_count = 2;
		b->h.vms[i].cpu_mask = 0xf;
		memset(b->payload + 4096 * i, 0x11 * (int)(i + 1), 4096);
	}
}

TEST(bundle_header_checks)
{
	static struct test_bundle b;
	bundle_init(&b, 1);
	EXPECT(bundle_check_header((u8 *)&b, sizeof(b)) == NULL);
	EXPECT_STR(bundle_check_header((u8 *)&b, 16), "smaller than its header");
	b.h.magic ^= 1;
	EXPECT_STR(bundle_check_header((u8 *)&b, sizeof(b)), "bad magic (not a pocketvisor bundle)");
	bundle_init(&b, 1);
	b.h.version = PVB_VERSION + 1;
	EXPECT_STR(bundle_check_header((u8 *)&b, sizeof(b)), "unsupported version");
	bundle_init(&b, 1);
	b.h.total_size = sizeof(b) + 1;
	EXPECT_STR(bundle_check_header((u8 *)&b, sizeof(b)), "larger than what was loaded");
	bundle_init(&b, 1);
	b.h.vm_count = 9;
	EXPECT_STR(bundle_check_header((u8 *)&b, sizeof(b)), "VM count out of range");
}

TEST(bundle_vm_checks)
{
	static struct test_bundle b;
	const char *blob = "a payload lies outside the bundle or the VM's RAM";
	struct pvb_vm *vm = &b.h.vms[0];
	bundle_init(&b, 1);
	EXPECT(bundle_check_vm(&b.h, 0) == NULL);
	memset(vm->name, 'a', sizeof(vm->name));
	EXPECT_STR(bundle_check_vm(&b.h, 0), "bad name");
	bundle_init(&b, 1);
	vm->ram_size = MiB(1);
	EXPECT_STR(bundle_check_vm(&b.h, 0), "RAM not 2 MiB aligned or outside the guest-physical space");
	bundle_init(&b, 1);
	vm->ram_base = 0xfffe00000ull; /* crosses the 4 GiB limit */
	EXPECT_STR(bundle_check_vm(&b.h, 0), "RAM not 2 MiB aligned or outside the guest-physical space");
	bundle_init(&b, 1);
	vm->ram_base = 0x08000000;
	vm->image.load = vm->entry = 0x08000000;
	EXPECT_STR(bundle_check_vm(&b.h, 0), "RAM overlaps the virtual devices");
	bundle_init(&b, 1);
	vm->vcpu_count = 9;
	EXPECT_STR(bundle_check_vm(&b.h, 0), "vCPU count out of range");
	bundle_init(&b, 1);
	vm->image.offset = ~0ull - 100; /* offset + size wraps */
	EXPECT_STR(bundle_check_vm(&b.h, 0), blob);
	bundle_init(&b, 1);
	vm->image.load = 0x40000000 + MiB(2) - 100;
	EXPECT_STR(bundle_check_vm(&b.h, 0), blob);
	bundle_init(&b, 1);
	vm->entry = 0x3ffffffc;
	EXPECT_STR(bundle_check_vm(&b.h, 0), "entry point outside RAM");
	bundle_init(&b, 1);
	vm->vcpu_pin[1] = 4;
	EXPECT_STR(bundle_check_vm(&b.h, 0), "vCPU pinned to a core the board does not have");
}

/* ---- VMs ---- */

static struct test_bundle tb;

static u32 create(u64 ram)
{
	fake_reset();
	if (!ram_pool)
		ram_pool = aligned_alloc(MiB(2), RAM_POOL);
	memset(ram_pool, 0xee, RAM_POOL); /* what a previous owner left behind */
	return vm_create_all((u8 *)&tb, sizeof(tb), (u64)(uintptr_t)ram_pool,
			     (u64)(uintptr_t)ram_pool + ram);
}

TEST(vm_create_zeroes_ram_and_loads_image)
{
	bundle_init(&tb, 2);
	tb.h.vms[1].vcpu_pin[0] = 3;
	tb.h.vms[1].vcpu_pin[1] = 2;
	EXPECT_EQ(create(RAM_POOL), 2);
	EXPECT_EQ(vm_count, 2);
	EXPECT_EQ(vms[0].ram_pa.pa, (u64)(uintptr_t)ram_pool);
	EXPECT_EQ(vms[1].ram_pa.pa, (u64)(uintptr_t)ram_pool + MiB(2));
	EXPECT_EQ(ram_pool[0], 0x11);
	EXPECT_EQ(ram_pool[4095], 0x11);
	EXPECT_EQ(ram_pool[4096], 0); /* zeroed, not what was there */
	EXPECT_EQ(ram_pool[MiB(2) - 1], 0);
	EXPECT_EQ(ram_pool[MiB(2)], 0x22);
	EXPECT_EQ(vms[0].state, VM_RUNNING);
	EXPECT_EQ(vms[0].vcpus[0].power, VCPU_ON_PENDING);
	EXPECT_EQ(vms[0].vcpus[0].boot_entry, 0x40000000);
	EXPECT_EQ(vms[0].vcpus[1].power, VCPU_OFF);
	EXPECT_EQ(vms[0].vcpus[0].cpu, 0); /* spread over the allowed cores */
	EXPECT_EQ(vms[0].vcpus[1].cpu, 1);
	EXPECT_EQ(vms[1].vcpus[0].cpu, 3); /* pinned */
	EXPECT_EQ(vms[1].vcpus[1].cpu, 2);
	EXPECT(vms[0].vttbr != vms[1].vttbr);
}

TEST(vm_create_refuses_what_does_not_fit)
{
	bundle_init(&tb, 3);
	tb.h.vms[1].ram_size = MiB(4);
	tb.h.vms[2].vcpu_pin[0] = 1;
	EXPECT_EQ(create(MiB(4)), 2); /* vm1 needs 4 MiB, only 2 are left after vm0 */
	EXPECT(strstr(fake.out, "pv: error: vm vm1: not started: its RAM does not fit"));
	EXPECT_EQ(vms[1].state, VM_OFF);
	EXPECT_EQ(vms[2].ram_pa.pa, (u64)(uintptr_t)ram_pool + MiB(2));
	bundle_init(&tb, 2);
	cpus[2].online = 0;
	tb.h.vms[0].vcpu_pin[1] = 2;
	tb.h.vms[1].cpu_mask = 0;
	fake_reset();
	cpus[2].online = 0;
	EXPECT_EQ(vm_create_all((u8 *)&tb, sizeof(tb), (u64)(uintptr_t)ram_pool,
				(u64)(uintptr_t)ram_pool + RAM_POOL), 0);
	EXPECT(strstr(fake.out, "vm vm0: vCPU 1 is pinned to core 2, which is offline"));
	EXPECT(strstr(fake.out, "vm vm1: none of the cores it may run on (mask 0x0) is online"));
	bundle_init(&tb, 1);
	tb.h.magic = 0;
	EXPECT_EQ(create(RAM_POOL), 0);
	EXPECT(strstr(fake.out, "boot bundle rejected: bad magic"));
}

static s64 call(struct vcpu *v, u64 fid, u64 a1, u64 a2, u64 a3)
{
	v->regs.x[0] = fid, v->regs.x[1] = a1, v->regs.x[2] = a2, v->regs.x[3] = a3;
	smccc_call(v);
	return (s64)v->regs.x[0];
}

TEST(psci_cpu_on_and_affinity)
{
	bundle_init(&tb, 1);
	tb.h.vms[0].vcpu_count = 4;
	create(RAM_POOL);
	struct vcpu *v0 = &vms[0].vcpus[0], *v1 = &vms[0].vcpus[1];
	v0->power = VCPU_ON;
	EXPECT_EQ(call(v0, PSCI_AFFINITY_INFO, 1, 0, 0), 1);
	EXPECT_EQ(call(v0, PSCI_CPU_ON | PSCI_64, 1, 0x40000100, 77), PSCI_SUCCESS);
	EXPECT_EQ(v1->power, VCPU_ON_PENDING);
	EXPECT_EQ(v1->boot_entry, 0x40000100);
	EXPECT_EQ(v1->boot_ctx, 77);
	EXPECT_EQ(call(v0, PSCI_AFFINITY_INFO, 1, 0, 0), 2);
	/* Accepted: every later CPU_ON for it is ALREADY_ON, never ON_PENDING (issue 10). */
	EXPECT_EQ(call(v0, PSCI_CPU_ON | PSCI_64, 1, 0x40000200, 0), PSCI_ALREADY_ON);
	EXPECT_EQ(v1->boot_entry, 0x40000100); /* the loser changed nothing */
	v1->power = VCPU_BOOTING; /* a racer between its compare-and-swap and publishing the entry */
	EXPECT_EQ(call(v0, PSCI_CPU_ON | PSCI_64, 1, 0x40000200, 0), PSCI_ALREADY_ON);
	EXPECT_EQ(call(v0, PSCI_AFFINITY_INFO, 1, 0, 0), 2);
	EXPECT_EQ(v1->boot_entry, 0x40000100);
	v1->power = VCPU_ON;
	EXPECT_EQ(call(v0, PSCI_CPU_ON | PSCI_64, 1, 0x40000200, 0), PSCI_ALREADY_ON);
	EXPECT_EQ(call(v0, PSCI_AFFINITY_INFO | PSCI_64, 1, 0, 0), 0);
	EXPECT_EQ(call(v0, PSCI_CPU_ON | PSCI_64, 4, 0x40000000, 0), PSCI_INVALID_PARAMETERS);
	EXPECT_EQ(call(v0, PSCI_CPU_ON | PSCI_64, 0x102, 0x40000000, 0), PSCI_INVALID_PARAMETERS);
	EXPECT_EQ(call(v0, PSCI_CPU_ON | PSCI_64, 2, 0x40000000 + MiB(2), 0), PSCI_INVALID_ADDRESS);
	EXPECT_EQ(call(v0, PSCI_AFFINITY_INFO, 1, 1, 0), PSCI_INVALID_PARAMETERS);
	/* SMC32: only the low 32 bits of each argument count. */
	EXPECT_EQ(call(v0, PSCI_CPU_ON, 0xffffffff00000002ull, 0xabcd000040000300ull, 5), 0);
	EXPECT_EQ(vms[0].vcpus[2].boot_entry, 0x40000300);
	EXPECT_EQ(call(v0, PSCI_CPU_OFF, 0, 0, 0), PSCI_DENIED);
	EXPECT_EQ(v0->power, VCPU_OFF);
}

TEST(smccc_versions_features_unknown)
{
	bundle_init(&tb, 1);
	create(RAM_POOL);
	struct vcpu *v = &vms[0].vcpus[0];
	EXPECT_EQ(call(v, SMCCC_VERSION, 0, 0, 0), 0x10001);
	EXPECT_EQ(call(v, PSCI_VERSION, 0, 0, 0), 0x10001);
	EXPECT_EQ(call(v, SMCCC_ARCH_FEATURES, SMCCC_ARCH_FEATURES, 0, 0), 0);
	EXPECT_EQ(call(v, SMCCC_ARCH_FEATURES, 0x80008000, 0, 0), -1);
	EXPECT_EQ(call(v, PSCI_FEATURES, PSCI_CPU_ON | PSCI_64, 0, 0), 0);
	EXPECT_EQ(call(v, PSCI_FEATURES, SMCCC_VERSION, 0, 0), 0);
	EXPECT_EQ(call(v, PSCI_FEATURES, PSCI_VERSION | PSCI_64, 0, 0), -1);
	EXPECT_EQ(call(v, PSCI_MIGRATE_INFO_TYPE, 0, 0, 0), 2);
	EXPECT_EQ(call(v, 0xc2001234, 0, 0, 0), -1);
	EXPECT_EQ(call(v, 0xffffffff84000000ull, 0, 0, 0), 0x10001); /* only w0 is the function ID */
	EXPECT_EQ(call(v, 0, 0, 0, 0), -1);
}

TEST(pvtime_discovery_and_stolen_time_record)
{
	bundle_init(&tb, 1);
	tb.h.vms[0].vcpu_count = 2;
	create(RAM_POOL);
	struct vcpu *v0 = &vms[0].vcpus[0], *v1 = &vms[0].vcpus[1];
	EXPECT_EQ(call(v0, SMCCC_ARCH_FEATURES, PV_TIME_FEATURES, 0, 0), 0);
	EXPECT_EQ(call(v0, PV_TIME_FEATURES, PV_TIME_ST, 0, 0), 0);
	EXPECT_EQ(call(v0, PV_TIME_FEATURES, PV_TIME_FEATURES, 0, 0), 0);
	EXPECT_EQ(call(v0, PV_TIME_FEATURES, 0xc5000022, 0, 0), -1);
	/* Records at the top 64 KiB of RAM, one per vCPU; nothing is written before the ask. */
	u8 *area = ram_pool + MiB(2) - PVB_PVTIME_SIZE;
	v1->stolen = FAKE_TIMER_FREQ;
	pvtime_update(v1);
	EXPECT_EQ(*(u64 *)(area + 64 + 8), 0);
	EXPECT_EQ(call(v1, PV_TIME_ST, 0, 0, 0), 0x40000000 + MiB(2) - PVB_PVTIME_SIZE + 64);
	EXPECT_EQ(*(u64 *)(area + 64 + 8), 1000000000ull); /* one second of ticks, in ns */
	v1->stolen = 3 * FAKE_TIMER_FREQ + 5; /* 5 ticks of 16 ns */
	pvtime_update(v1);
	EXPECT_EQ(*(u64 *)(area + 64 + 8), 3000000080ull);
	EXPECT_EQ(*(u64 *)(area + 8), 0); /* vCPU 0 did not ask */
	vcpu_reset(v1, 0x40000000, 0); /* a reset forgets the ask and the count */
	EXPECT_EQ(v1->pvtime_ipa, 0);
	EXPECT_EQ(v1->stolen, 0);
}

TEST(system_reset_reloads_only_the_caller)
{
	bundle_init(&tb, 2);
	create(RAM_POOL);
	struct vcpu *v = &vms[0].vcpus[1];
	v->power = VCPU_ON;
	vms[0].vcpus[0].power = VCPU_ON;
	vms[1].vcpus[0].power = VCPU_ON;
	ram_pool[0] = 0x99;         /* the guest overwrote its image */
	ram_pool[MiB(1)] = 0x77;     /* and its data */
	ram_pool[MiB(2)] = 0x55;     /* the other VM's memory changes too */
	call(v, PSCI_SYSTEM_RESET, 0, 0, 0);
	EXPECT_EQ(ram_pool[0], 0x11); /* image reloaded */
	EXPECT_EQ(ram_pool[MiB(1)], 0x77); /* warm reset: the rest stays */
	EXPECT_EQ(ram_pool[MiB(2)], 0x55);
	EXPECT_EQ(vms[0].state, VM_RUNNING);
	EXPECT_EQ(vms[0].vcpus[0].power, VCPU_ON_PENDING);
	EXPECT_EQ(vms[0].vcpus[1].power, VCPU_OFF);
	EXPECT_EQ(vms[1].vcpus[0].power, VCPU_ON);
	EXPECT(strstr(fake.out, "pv: info: vm vm0: reset"));
	EXPECT_EQ(fake.s2_flushes, 1);
}

/* A reset asked by the vCPU this core has loaded: its hardware state goes with the old GIC. LR0
 * held the timer slot; left there, the reset GIC would not know of it and the next guest on the
 * core would get a timer interrupt the vGIC never sees (and lose it when that LR is reused). */
TEST(system_reset_from_the_loaded_vcpu_empties_its_timer_slot)
{
	bundle_init(&tb, 1);
	tb.h.vms[0].vcpu_count = 2;
	create(RAM_POOL);
	struct vcpu *v = &vms[0].vcpus[1];
	const u64 slot = (1ull << 61) | (1ull << 60) | (27ull << 32) | 27; /* HW, group 1 */
	v->power = VCPU_ON;
	v->running = 1;
	cpus[0].loaded = v;
	vms[0].vgic.cpu[1].slot = slot;
	vms[0].vgic.cpu[1].lr_used = 1;
	fake.lr[0] = slot;
	u32 lowers = fake.vtimer_lowers;
	call(v, PSCI_SYSTEM_RESET, 0, 0, 0);
	cpus[0].loaded = NULL;
	EXPECT_EQ(vms[0].state, VM_RUNNING);
	EXPECT_EQ(fake.lr[0], 0);
	EXPECT_EQ(vms[0].vgic.cpu[1].slot, 0);
	EXPECT_EQ(fake.vtimer_lowers, lowers + 1); /* its physical PPI not left active */
}

TEST(system_off_stops_one_vm_then_the_machine)
{
	jmp_buf off;
	bundle_init(&tb, 2);
	create(RAM_POOL);
	vms[0].vcpus[0].power = VCPU_ON;
	vms[1].vcpus[0].power = VCPU_ON;
	call(&vms[0].vcpus[0], PSCI_SYSTEM_OFF, 0, 0, 0);
	EXPECT_EQ(vms[0].state, VM_OFF);
	EXPECT_EQ(vms[1].state, VM_RUNNING);
	EXPECT_EQ(fake.system_offs, 0);
	EXPECT(strstr(fake.out, "vm vm0: stopped: powered off (PSCI SYSTEM_OFF)"));
	call(&vms[0].vcpus[0], PSCI_SYSTEM_RESET, 0, 0, 0); /* a stopped VM stays stopped */
	EXPECT_EQ(vms[0].state, VM_OFF);
	fake.off_jump = &off;
	if (!setjmp(off))
		call(&vms[1].vcpus[0], PSCI_SYSTEM_OFF, 0, 0, 0);
	EXPECT_EQ(fake.system_offs, 1);
	EXPECT(strstr(fake.out, "every VM is off: powering off"));
}

/* ---- physical devices (passthru) ---- */

TEST(passthru_maps_regions_and_forwards_spis)
{
	bundle_init(&tb, 2);
	tb.h.vms[1].vcpu_pin[0] = 2;
	tb.h.vms[1].dev_regions[0] = (struct pvb_region){ 0x09010000, 0x1000 };
	tb.h.vms[1].dev_regions[1] = (struct pvb_region){ 0x09030000, 0x2000 };
	tb.h.vms[1].dev_spis = BIT(34 - 32) | BIT(39 - 32);
	EXPECT_EQ(create(RAM_POOL), 2);
	EXPECT_EQ(fake.dev_map_count, 2);
	EXPECT_EQ(fake.dev_maps[0].pa, 0x09010000);
	EXPECT_EQ(fake.dev_maps[1].size, 0x2000);
	EXPECT_EQ(fake.spi_enabled[0], BIT(34) | BIT(39));
	EXPECT_EQ(fake.spi_route[34], 2); /* the core vCPU 0 was placed on */
	struct vgic *g = &vms[1].vgic;
	u64 val = 0;
	u32 kick;
	/* The guest enables INTID 34; each firing makes it pending with HW=1, pINTID 34. */
	vgic_dist_access(g, 0x0, 4, true, &(u64){ 2 }, &kick);
	vgic_dist_access(g, 0x104, 4, true, &(u64){ BIT(34 - 32) }, &kick);
	u32 kicks = fake.kicks;
	EXPECT(passthru_irq(34));
	EXPECT_EQ(fake.kicks, kicks + 1);
	EXPECT(vgic_flush(g, 0, 4) == false);
	EXPECT_EQ(fake.lr[0], BIT(62) | BIT(61) | BIT(60) | (34ull << 32) | 34);
	vgic_sync(g, 0);
	EXPECT(!passthru_irq(33)); /* the UART is the hypervisor's */
	EXPECT(!passthru_irq(27));
	EXPECT(!passthru_irq(35)); /* nobody's */
	vgic_dist_access(g, 0x204, 4, false, &val, &kick);
	EXPECT_EQ(val, BIT(34 - 32)); /* still pending: the guest has not taken it */
	/* Stopping the VM turns its SPIs off (and deactivates them); one still in flight is not
	 * forwarded, so the caller deactivates it. */
	u32 deactivations = fake.spi_deactivations;
	vm_stop(&vms[1], "test");
	EXPECT_EQ(fake.spi_enabled[0], 0);
	EXPECT_EQ(fake.spi_deactivations, deactivations + 2);
	EXPECT(!passthru_irq(34));
}

/* Found by fuzz_bundle: SPIs 64..95 overflowed the fake GIC's 64-bit record of enabled SPIs
 * (UBSan: shift exponent too large), so the last SPIs a VM may own went untested. */
TEST(passthru_forwards_the_highest_spis)
{
	bundle_init(&tb, 1);
	tb.h.vms[0].dev_spis = BIT(63) | BIT(64 - 32);
	EXPECT_EQ(create(RAM_POOL), 1);
	EXPECT_EQ(fake.spi_enabled[0], 0);
	EXPECT_EQ(fake.spi_enabled[1], BIT(95 - 64) | BIT(0));
	EXPECT_EQ(fake.spi_route[95], 0);
	EXPECT(passthru_irq(95));
}

TEST(passthru_refuses_regions_outside_the_device_window)
{
	static const struct pvb_region bad[] = {
		{ 0x40000000, 0x1000 }, /* RAM */
		{ 0x08000000, 0x1000 }, /* the GIC */
		{ 0x09000000, 0x1000 }, /* the UART */
		{ 0x09ff0000, 0x20000 }, /* past the window's end */
		{ 0x09010800, 0x1000 }, /* unaligned */
		{ 0x09010000, 0x800 },
	};
	for (u32 i = 0; i < ARRAY_SIZE(bad); i++) {
		bundle_init(&tb, 1);
		tb.h.vms[0].dev_regions[1] = bad[i];
		EXPECT_EQ(create(RAM_POOL), 0);
		EXPECT(strstr(fake.out, "vm vm0: cannot map its RAM and devices"));
	}
	bundle_init(&tb, 1);
	tb.h.vms[0].dev_spis = BIT(33 - 32);
	EXPECT_EQ(create(RAM_POOL), 0);
	EXPECT_EQ(fake.spi_enabled[0], 0);
	bundle_init(&tb, 1);
	tb.h.vms[0].dev_regions[0] = (struct pvb_region){ 0x09fff000, 0x1000 }; /* the last page */
	EXPECT_EQ(create(RAM_POOL), 1);
}

/* ---- vPL011 and the console ---- */

static u64 uart(struct vm *vm, u64 off, u32 size, bool write, u64 val)
{
	vpl011_access(vm, off, size, write, &val);
	return val;
}

TEST(vpl011_lines_are_tagged)
{
	bundle_init(&tb, 2);
	create(RAM_POOL);
	fake.out_len = 0;
	for (const char *s = "hi\r\nthere"; *s; s++)
		uart(&vms[1], 0, 4, true, (u8)*s);
	EXPECT_STR(fake.out, "\r\n[vm1] hi\r\n" + 2);
	vpl011_flush(&vms[1]);
	EXPECT(strstr(fake.out, "[vm1] there\r\n"));
	fake.out_len = 0;
	for (u32 i = 0; i < 130; i++)
		uart(&vms[0], 0, 1, true, 'x');
	EXPECT_EQ(strlen(fake.out), 6 + 120 + 2); /* a full line is printed on its own */
}

TEST(vpl011_registers)
{
	bundle_init(&tb, 1);
	create(RAM_POOL);
	struct vm *vm = &vms[0];
	EXPECT_EQ(uart(vm, 0x18, 4, false, 0), 0x90); /* TXFE | RXFE */
	EXPECT_EQ(uart(vm, 0xfe0, 4, false, 0), 0x11);
	EXPECT_EQ(uart(vm, 0xffc, 4, false, 0), 0xb1);
	EXPECT_EQ(uart(vm, 0xf00, 4, false, 0), 0);
	uart(vm, 0x38, 4, true, 0xffffffff);
	EXPECT_EQ(uart(vm, 0x38, 4, false, 0), 0x7ff);
	EXPECT_EQ(uart(vm, 0x40, 4, false, 0), 0x20); /* TX interrupt pending, RX not */
	uart(vm, 0x30, 2, true, 0x301);
	EXPECT_EQ(uart(vm, 0x30, 4, false, 0), 0x301);
	EXPECT_EQ(uart(vm, 0x31, 1, false, 0), 0x3);
}

TEST(console_input_follows_focus)
{
	bundle_init(&tb, 2);
	create(RAM_POOL);
	fake.in = "ab\x1d" "2c\x1d\x1d\x1d" "9d";
	console_poll();
	EXPECT_EQ(uart(&vms[0], 0x18, 4, false, 0) & 0x10, 0);
	EXPECT_EQ(uart(&vms[0], 0, 4, false, 0), 'a');
	EXPECT_EQ(uart(&vms[0], 0, 4, false, 0), 'b');
	EXPECT_EQ(uart(&vms[0], 0x18, 4, false, 0) & 0x10, 0x10);
	EXPECT_EQ(uart(&vms[1], 0, 4, false, 0), 'c');
	EXPECT_EQ(uart(&vms[1], 0, 4, false, 0), 0x1d); /* Ctrl-] twice sends one */
	EXPECT_EQ(uart(&vms[1], 0, 4, false, 0), 'd');  /* Ctrl-] 9: no such VM, dropped */
	EXPECT(strstr(fake.out, "vm vm1: has the keyboard now"));
	for (u32 i = 0; i < 100; i++) /* a full FIFO drops input instead of growing */
		EXPECT_EQ(vpl011_receive(&vms[1], 'z'), i < VPL011_RX_SIZE);
}

TEST(mmio_decodes_sign_and_width)
{
	bundle_init(&tb, 1);
	create(RAM_POOL);
	struct vcpu *v = &vms[0].vcpus[0];
	struct mmio_access a = { .ipa = PLAT_GUEST_UART_BASE + 0xfe0, .size = 1, .reg = 3,
				 .sign_extend = true, .wide = true };
	EXPECT(mmio_dispatch(v, &a));
	EXPECT_EQ(v->regs.x[3], 0x11);
	a.ipa = PLAT_GUEST_UART_BASE + 0xffc; /* 0xb1 has its sign bit set */
	EXPECT(mmio_dispatch(v, &a));
	EXPECT_EQ(v->regs.x[3], 0xffffffffffffffb1ull);
	a.wide = false;
	EXPECT(mmio_dispatch(v, &a));
	EXPECT_EQ(v->regs.x[3], 0xffffffb1ull);
	a.reg = 31; /* xzr: nothing written */
	EXPECT(mmio_dispatch(v, &a));
	a.ipa = PLAT_GUEST_UART_BASE + 0xffe, a.size = 4; /* straddles the end of the device */
	EXPECT(!mmio_dispatch(v, &a));
	a.ipa = PLAT_GUEST_UART_BASE - 4;
	EXPECT(!mmio_dispatch(v, &a));
}

/* ---- the emulated EL1 physical timer ---- */

TEST(vptimer_registers_and_line)
{
	bundle_init(&tb, 1);
	create(RAM_POOL);
	struct vcpu *v = &vms[0].vcpus[0];
	u64 val = 100;
	vptimer_access(v, VPTIMER_CVAL, true, &val, 50);
	val = 1; /* ENABLE */
	vptimer_access(v, VPTIMER_CTL, true, &val, 50);
	vptimer_access(v, VPTIMER_CTL, false, &val, 60);
	EXPECT_EQ(val, 1); /* not yet: no ISTATUS */
	EXPECT_EQ(vptimer_deadline(v), 100);
	vptimer_access(v, VPTIMER_TVAL, false, &val, 90);
	EXPECT_EQ(val, 10);
	vptimer_access(v, VPTIMER_TVAL, false, &val, 110);
	EXPECT_EQ(val, (u64)-10); /* TVAL is a signed 32-bit distance */
	EXPECT(!v->ptimer_line);
	vptimer_sync(v, 100);
	EXPECT(v->ptimer_line);
	vptimer_access(v, VPTIMER_CTL, false, &val, 100);
	EXPECT_EQ(val, 5); /* ENABLE | ISTATUS */
	val = 3; /* masked: the line drops, the deadline no longer counts */
	vptimer_access(v, VPTIMER_CTL, true, &val, 120);
	EXPECT(!v->ptimer_line);
	EXPECT_EQ(vptimer_deadline(v), ~0ull);
	val = 0xffffff00; /* TVAL write: now + sign-extended value */
	vptimer_access(v, VPTIMER_TVAL, true, &val, 1000);
	EXPECT_EQ(v->ptimer_cval, 1000 - 256);
	val = 0x1ff; /* CTL keeps only ENABLE and IMASK */
	vptimer_access(v, VPTIMER_CTL, true, &val, 1000);
	EXPECT_EQ(v->ptimer_ctl, 3);
}
