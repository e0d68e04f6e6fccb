/* rtc: proves a physical device the config gives a VM works through pocketvisor: QEMU virt's
 * PL031 RTC, its registers mapped at their own address and its SPI (INTID 34) forwarded through
 * the virtual GIC with the HW bit. Three match interrupts, each taken and EOIed once (the next
 * one can only come if that EOI deactivated the physical SPI); then one taken and left active
 * across SYSTEM_RESET, which must come again after the reset: the hypervisor deactivated it. A VM
 * that is not given the device gets a data abort at its first register instead. */
#include "guest.h"

#define RTC_BASE 0x09010000ul
#define RTCDR 0x00u   /* data: seconds */
#define RTCMR 0x04u   /* match */
#define RTCIMSC 0x10u /* interrupt mask set/clear: 1 = enabled */
#define RTCMIS 0x18u  /* masked interrupt status */
#define RTCICR 0x1cu  /* interrupt clear */
#define INTID_RTC 34u
#define GICD_ISPENDR1 0x0204u
#define GICD_ISACTIVER1 0x0304u
#define ROUNDS 3
#define WAIT_US 3000000 /* a match one second ahead comes within this */
#define BOOT_MAGIC 0x72746330ul

static struct {
	uint64_t magic;
	uint64_t boots;
} counter __attribute__((section(".noinit")));

static volatile unsigned irqs, last_intid, last_mis;
static volatile bool timeout, reset_in_handler;

static uint32_t rtc_rd(uint32_t off) { return *(volatile uint32_t *)(RTC_BASE + off); }
static void rtc_wr(uint32_t off, uint32_t v) { *(volatile uint32_t *)(RTC_BASE + off) = v; }

/* Taken (acknowledged) by irq.c, which EOIs after this returns: one EOI per interrupt. */
static void rtc_irq(unsigned intid)
{
	last_intid = intid;
	last_mis = rtc_rd(RTCMIS);
	if (reset_in_handler) {
		printf("rtc: interrupt %u taken, resetting with it active\n", intid);
		psci_system_reset(); /* no EOI, and the device still asserts it */
	}
	rtc_wr(RTCICR, 1);
	irqs++;
}

static void watchdog_irq(unsigned intid)
{
	(void)intid;
	vtimer_stop();
	timeout = true;
}

/* Waits for interrupt number `n` (counted from 1); false after WAIT_US without it. */
static bool wait_irq(unsigned n)
{
	timeout = false;
	vtimer_arm(timer_now() + timer_us(WAIT_US));
	WAIT_UNTIL(irqs >= n || timeout);
	vtimer_stop();
	return irqs >= n;
}

static void match_next_second(void)
{
	rtc_wr(RTCMR, rtc_rd(RTCDR) + 1);
	rtc_wr(RTCIMSC, 1);
}

/* What the virtual GIC says once the guest has EOIed it: neither pending nor active. */
static void report(const char *what)
{
	uint32_t bit = 1u << (INTID_RTC - 32);
	printf("rtc: %s: interrupt %u, RTCMIS %u, then pending %u active %u\n", what, last_intid,
	       last_mis, !!(gicd_read(GICD_ISPENDR1) & bit), !!(gicd_read(GICD_ISACTIVER1) & bit));
}

int main(uint64_t boot_arg)
{
	struct probe p;

	(void)boot_arg;
	if (counter.magic != BOOT_MAGIC) {
		counter.magic = BOOT_MAGIC;
		counter.boots = 0;
	}
	counter.boots++;
	barrier();
	probe_ld32(RTC_BASE + RTCDR, &p);
	if (p.esr) {
		printf("rtc: no device: data abort at 0x%lx (EC 0x%x)\n", p.far,
		       (unsigned)ESR_EC(p.esr));
		printf("rtc: done\n");
		psci_system_off();
	}
	printf("rtc: boot %lu: PL031 at 0x%lx\n", counter.boots, RTC_BASE);
	gic_init();
	gic_cpu_init();
	irq_set_handler(INTID_RTC, rtc_irq);
	irq_set_handler(INTID_VTIMER, watchdog_irq);
	gic_enable(INTID_VTIMER, IRQ_PRIO_DEFAULT);
	if (counter.boots > 1) {
		/* The device still asserts what boot 1 left active: it comes again at once. */
		gic_enable(INTID_RTC, IRQ_PRIO_DEFAULT);
		if (!wait_irq(1)) {
			printf("rtc: BAD: no interrupt after the reset\n");
			return 1;
		}
		report("after reset");
		counter.magic = 0;
		printf("rtc: ok\n");
		psci_system_off();
	}
	rtc_wr(RTCIMSC, 0);
	rtc_wr(RTCICR, 1);
	gic_enable(INTID_RTC, IRQ_PRIO_DEFAULT);
	for (unsigned n = 1; n <= ROUNDS; n++) {
		match_next_second();
		if (!wait_irq(n)) {
			printf("rtc: BAD: round %u: no interrupt\n", n);
			return 1;
		}
		char what[16] = "round N";
		what[6] = (char)('0' + n);
		report(what);
	}
	delay(DELAY_TICK * 10); /* no interrupt more than the three */
	printf("rtc: %u interrupts\n", irqs);
	reset_in_handler = true;
	match_next_second();
	wait_irq(ROUNDS + 1);
	printf("rtc: BAD: still here\n");
	return 1;
}
