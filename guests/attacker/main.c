/* attacker: proves stage-2 isolation. Linked at guest-physical 0xC0000000, it touches every
 * 4 KiB page of the 4 GiB guest-physical space outside its own RAM and the UART, so the sweep
 * also covers 0x40000000-0x80000000, where the hypervisor and the other VMs really live in host
 * RAM. Every access must come back as a synchronous external abort at the right address. */
#include "guest.h"

#define PAGE 0x1000ul
#define SPACE_END 0x100000000ul      /* 4 GiB of guest-physical space */
#define WRITE_STEP 0x100000ul        /* also write one page in every MiB */
#define PROGRESS_STEP 0x10000000ul   /* a progress line every 256 MiB */
#define WRITE_VALUE 0xa77ac4e5u
#define REPORT_MAX 8                 /* print the first few surprises, count the rest */

/* Pages that are ours to touch. Devices the hypervisor emulates for every VM belong here too:
 * the UART, the GIC distributor (64 KiB) and our one vCPU's redistributor frames (128 KiB); a
 * second vCPU's frames would belong to nobody and must fault. */
#define GICD_BASE 0x08000000ul
#define GICD_END 0x08010000ul
#define GICR_BASE 0x080a0000ul
#define GICR_END 0x080c0000ul

static bool allowed(uint64_t addr)
{
	uint64_t ram = (uint64_t)(uintptr_t)__ram_base, ram_end = (uint64_t)(uintptr_t)__ram_end;
	return (addr >= ram && addr < ram_end) || (addr >> 12) == (UART_BASE >> 12) ||
	       (addr >= GICD_BASE && addr < GICD_END) || (addr >= GICR_BASE && addr < GICR_END);
}

/* Above the 32-bit guest space, below the 40-bit physical address size every Cortex-A53/A57 has
 * (beyond it the MMU-off CPU raises an address size fault itself, which proves nothing). */
static const uint64_t high_pages[] = {
	0x100000000ul, 0x140000000ul, 0x17ffff000ul, 0x200000000ul,
	0x4000000000ul, 0x8000000000ul, 0xc000000000ul, 0xfffffff000ul,
};

struct tally {
	uint64_t probes, faults, leaks, odd;
};

static struct tally reads, writes;

/* Counts one probe's outcome: the only good one is a data abort, external, at this address. */
static void count(struct tally *t, const char *kind, uint64_t addr, const struct probe *p)
{
	t->probes++;
	if (!p->esr) {
		if (t->leaks++ < REPORT_MAX)
			printf("attacker: LEAK: %s 0x%lx did not fault (read 0x%x)\n", kind, addr, p->value);
	} else if (ESR_EC(p->esr) == EC_DABT_CUR && ESR_DFSC(p->esr) == FSC_SEA && p->far == addr) {
		t->faults++;
	} else if (t->odd++ < REPORT_MAX) {
		printf("attacker: %s 0x%lx: unexpected esr 0x%lx far 0x%lx\n", kind, addr, p->esr,
		       p->far);
	}
}

static void touch(uint64_t addr)
{
	struct probe p;

	probe_ld32(addr, &p);
	count(&reads, "read", addr, &p);
	if (addr % WRITE_STEP == 0) {
		probe_st32(addr, WRITE_VALUE, &p);
		count(&writes, "write", addr, &p);
	}
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	printf("attacker: sweeping 0x0-0x%lx from RAM at 0x%lx\n", SPACE_END,
	       (uint64_t)(uintptr_t)__ram_base);
	for (uint64_t addr = 0; addr < SPACE_END; addr += PAGE) {
		if (!allowed(addr))
			touch(addr);
		if ((addr + PAGE) % PROGRESS_STEP == 0)
			printf("attacker: swept to 0x%lx: %lu faults, %lu leaks\n", addr + PAGE,
			       reads.faults + writes.faults, reads.leaks + writes.leaks);
	}
	for (size_t i = 0; i < sizeof(high_pages) / sizeof(high_pages[0]); i++)
		touch(high_pages[i]);

	if (reads.odd || writes.odd)
		printf("attacker: %lu unexpected syndromes\n", reads.odd + writes.odd);
	printf("attacker: wrote %lu pages, %lu faults, %lu leaks\n", writes.probes, writes.faults,
	       writes.leaks);
	printf("attacker: swept %lu pages, %lu faults, %lu leaks\n", reads.probes, reads.faults,
	       reads.leaks);
	psci_system_off();
	return 0;
}
