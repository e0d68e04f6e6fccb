/* resetter: proves SYSTEM_RESET is a warm reset of this VM only: the image is reloaded and vCPU 0
 * restarts at the entry, while RAM outside the image (here .noinit) keeps its contents. And that
 * nothing of the old boot's interrupt state survives it: each boot enables its virtual timer's
 * interrupt before it resets (so the hypervisor keeps that PPI ready in a list register), and
 * the next boot, which leaves it disabled, lets the timer expire with interrupts unmasked: it
 * must take no interrupt. */
#include "guest.h"

#define BOOT_MAGIC 0x7265736574746572ul /* "resetter" */
#define RESETS 3

/* Not in the image (so not reloaded) and not in .bss (so crt0 does not clear it). */
static struct {
	uint64_t magic;
	uint64_t boots;
} counter __attribute__((section(".noinit")));

static volatile unsigned stale;

static void stale_irq(unsigned intid)
{
	(void)intid;
	vtimer_stop();
	stale++;
}

/* The timer expires while its interrupt is disabled in this boot's GIC. */
static void check_nothing_left(void)
{
	irq_set_handler(INTID_VTIMER, stale_irq);
	uint64_t deadline = timer_now() + timer_us(1000);
	vtimer_arm(deadline);
	irq_enable();
	while (timer_now() < deadline + timer_us(5000))
		;
	irq_disable();
	vtimer_stop();
	if (stale)
		printf("resetter: boot %lu: took the timer interrupt it never enabled\n",
		       counter.boots);
	else
		printf("resetter: boot %lu: no interrupt of the last boot\n", counter.boots);
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	if (counter.magic != BOOT_MAGIC) { /* first power-on: RAM holds whatever it held */
		counter.magic = BOOT_MAGIC;
		counter.boots = 0;
	}
	counter.boots++;
	barrier();
	printf("resetter: boot %lu\n", counter.boots);
	gic_init();
	gic_cpu_init();
	if (counter.boots > 1)
		check_nothing_left();
	if (counter.boots < RESETS) {
		gic_enable(INTID_VTIMER, 0x80);
		psci_system_reset();
		printf("resetter: SYSTEM_RESET returned\n");
		return 1;
	}
	counter.magic = 0; /* a later cold start counts from 1 again */
	printf("resetter: done\n");
	psci_system_off();
	return 0;
}
