/* flood: more interrupts pending at once than the core has list registers. With IRQs masked,
 * 12 SPIs (edge) with 12 different priorities and 4 self-SGIs are made pending; after the
 * unmask each must be taken exactly once, in priority order (lower value first), which needs
 * the hypervisor to refill the LRs as the guest drains them (the underflow interrupt). */
#include "guest.h"

#define SPI_FIRST 40u
#define SPI_COUNT 12u
#define SGI_COUNT 4u
#define TOTAL (SPI_COUNT + SGI_COUNT)
#define GICD_ISPENDR 0x0200u
#define GICD_ICFGR 0x0c00u

static volatile unsigned order[TOTAL], taken;
static uint8_t prio_of[IRQ_MAX];

static void take(unsigned intid)
{
	if (taken < TOTAL)
		order[taken] = intid;
	taken++;
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	gic_init();
	gic_cpu_init();
	irq_disable();
	gicd_write(GICD_ICFGR + 4 * (SPI_FIRST / 16), 0xaaaaaaaau); /* INTIDs 32..47: edge */
	gicd_write(GICD_ICFGR + 4 * (SPI_FIRST / 16 + 1), 0xaaaaaaaau); /* 48..63 */
	/* Priorities interleave SPIs and SGIs, so the order proves sorting across refills. */
	for (unsigned i = 0; i < SPI_COUNT; i++) {
		unsigned intid = SPI_FIRST + i;
		prio_of[intid] = (uint8_t)(0xb0 - 0x08 * i); /* later SPIs are more urgent */
		irq_set_handler(intid, take);
		gic_enable(intid, prio_of[intid]);
	}
	for (unsigned i = 0; i < SGI_COUNT; i++) {
		prio_of[i] = (uint8_t)(0x54 + 0x10 * i);
		irq_set_handler(i, take);
		gic_enable(i, prio_of[i]);
	}
	for (unsigned i = 0; i < SPI_COUNT; i++)
		gicd_write(GICD_ISPENDR + 4 * ((SPI_FIRST + i) / 32), 1u << ((SPI_FIRST + i) % 32));
	for (unsigned i = 0; i < SGI_COUNT; i++)
		gic_send_sgi(i, 0);
	printf("flood: %u interrupts pending, IRQs masked\n", TOTAL);

	uint64_t give_up = timer_now() + timer_us(2000000);
	irq_enable();
	while (taken < TOTAL && timer_now() < give_up)
		;
	delay(DELAY_TICK / 10); /* a duplicate would arrive now */
	irq_disable();

	bool ok = taken == TOTAL;
	for (unsigned i = 1; i < TOTAL && i < taken; i++)
		if (prio_of[order[i - 1]] > prio_of[order[i]])
			ok = false;
	printf("flood: took %u, order", taken);
	for (unsigned i = 0; i < TOTAL && i < taken; i++)
		printf(" %u", order[i]);
	printf("\nflood: %s\n", ok ? "ok" : "BAD");
	return 0;
}
