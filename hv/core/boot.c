/* boot.c: bringing the machine up: board facts, cores, VMs, then every core schedules. */
#include <pv/arch.h>
#include <pv/blk.h>
#include <pv/bundle.h>
#include <pv/bundle_check.h>
#include <pv/console.h>
#include <pv/exit.h>
#include <pv/cpu.h>
#include <pv/fdt.h>
#include <pv/gic.h>
#include <pv/identity.h>
#include <pv/log.h>
#include <pv/provider.h>
#include <pv/sched.h>
#include <pv/vm.h>
#include <board.h>

void boot_primary(u64 dtb, u64 start);
void boot_secondary(u64 cpu);

struct cpu cpus[PLAT_CPU_COUNT];

struct cpu *this_cpu(void)
{
	return &cpus[arch_cpu_id()];
}

static __attribute__((noinline)) void cpu_online(u32 id)
{
	struct cpu *c = &cpus[id];
	c->id = id;
	c->stack_top = arch_stack_top(id);
	arch_cpu_init();
	gic_init_cpu(id);
}

/* start: the physical counter at the hypervisor's first instruction; the boot benchmark
 * (bench/run.py) measures from there, not from the board's reset. */
void boot_primary(u64 dtb, u64 start)
{
	struct board_info board;

	log_info(NULL, "pocketvisor for %s: core 0 at EL2, counter %lu", PLAT_NAME, start);
	if (fdt_read_board((const void *)(uintptr_t)dtb, MiB(1), &board, false) < 0)
		panic("no readable board DTB at %#lx (is the image loaded as an arm64 Image?)", dtb);
	if (board.ram_base != PLAT_RAM_BASE)
		panic("board RAM starts at %#lx, expected %#llx", board.ram_base, PLAT_RAM_BASE);
	if (!board.initrd_start || board.initrd_end <= board.initrd_start)
		panic("no boot bundle: the loader must pass it as the initrd (QEMU -initrd)");
	/* The bundle stays where the loader put it (resets reload images from it), below VM RAM. */
	if (board.initrd_end > PLAT_RAM_BASE + PLAT_HV_RESERVED)
		panic("boot bundle ends at %#lx, past the hypervisor's reserved RAM (%#llx)",
		      board.initrd_end, PLAT_RAM_BASE + PLAT_HV_RESERVED);

	identity_init((u8 *)(uintptr_t)PLAT_UDS_BASE);
	gic_init_dist();
	/* The board's devices are looked for (a second walk, reading every device node) only when
	 * some VM has a disk or an uplink. */
	const u8 *bundle = (const u8 *)(uintptr_t)board.initrd_start;
	if (bundle_uses_board(bundle, board.initrd_end - board.initrd_start) &&
	    fdt_read_board((const void *)(uintptr_t)dtb, MiB(1), &board, true) == 0)
		provider_probe(&board);
	cpu_online(0);
	cpus[0].online = 1;
	/* Cores that do not exist answer INVALID_PARAMETERS; they simply get no vCPUs. */
	for (u32 id = 1; id < PLAT_CPU_COUNT; id++)
		cpus[id].online = arch_cpu_start(id) == 0;

	if (!vm_create_all((const u8 *)(uintptr_t)board.initrd_start,
			   board.initrd_end - board.initrd_start, PLAT_RAM_BASE + PLAT_HV_RESERVED,
			   board.ram_base + board.ram_size))
		panic("no VM could be started");
	blk_attach();
	counters_init();
	arch_ram_cached();
	console_banner();
	for (u32 id = 1; id < PLAT_CPU_COUNT; id++)
		if (cpus[id].online)
			arch_kick(id);
	schedule_first();
}

void boot_secondary(u64 cpu)
{
	cpu_online((u32)cpu);
	schedule_first();
}
