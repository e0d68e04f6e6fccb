/* timer: proves virtual-timer interrupts arrive at their deadlines: every vCPU runs a periodic
 * deadline (2 ms, 50 periods) and records how late each interrupt was; then the EL1 physical
 * timer (emulated by pocketvisor) fires once. */
#include "guest.h"

#define PERIODS 50
#define PERIOD_US 2000
#define LATE_BOUND_US 10000     /* one scheduler tick: the most a shared core may add */
#define PTIMER_US 1000
#define PTIMER_WAIT_US 500000   /* longer than this and it is not coming */

struct vcpu_state {
	uint64_t deadline, period, max_late;
	unsigned count;
	volatile bool done;
};

static struct vcpu_state st[GUEST_MAX_VCPUS]; /* slot n: written by vCPU n only */
static volatile bool ptimer_fired, ptimer_timeout;

/* Lateness is measured against the programmed deadline, and the next deadline follows from it
 * (not from "now"), so delays do not accumulate into drift. */
static void vtimer_irq(unsigned intid)
{
	struct vcpu_state *s = &st[cpu_id()];
	uint64_t late = timer_now() - s->deadline;

	(void)intid;
	if (late > s->max_late)
		s->max_late = late;
	if (++s->count < PERIODS) {
		s->deadline += s->period;
		vtimer_arm(s->deadline);
	} else {
		vtimer_stop();
		s->done = true;
	}
}

static void run_periods(void)
{
	struct vcpu_state *s = &st[cpu_id()];

	gic_cpu_init();
	irq_set_handler(INTID_VTIMER, vtimer_irq);
	gic_enable(INTID_VTIMER, IRQ_PRIO_DEFAULT);
	s->period = timer_us(PERIOD_US);
	s->deadline = timer_now() + s->period;
	vtimer_arm(s->deadline);
	WAIT_UNTIL(s->done);
}

static void ptimer_irq(unsigned intid)
{
	(void)intid;
	ptimer_stop();
	ptimer_fired = true;
}

static void watchdog_irq(unsigned intid)
{
	(void)intid;
	vtimer_stop();
	ptimer_timeout = true;
}

/* The physical timer fires once; the virtual timer is the watchdog in case it never does. */
static bool check_ptimer(void)
{
	irq_set_handler(INTID_PTIMER, ptimer_irq);
	irq_set_handler(INTID_VTIMER, watchdog_irq);
	gic_enable(INTID_PTIMER, IRQ_PRIO_DEFAULT);
	vtimer_arm(timer_now() + timer_us(PTIMER_WAIT_US));
	ptimer_arm_in(timer_us(PTIMER_US));
	WAIT_UNTIL(ptimer_fired || ptimer_timeout);
	vtimer_stop();
	return ptimer_fired;
}

void secondary_main(uint64_t context)
{
	(void)context;
	run_periods();
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	printf("timer: %u periods of %u us on each vcpu\n", PERIODS, PERIOD_US);
	gic_init();
	unsigned vcpus = smp_start_all();
	run_periods();

	unsigned total = 0;
	uint64_t max_late = 0;
	for (unsigned n = 0; n < vcpus; n++) {
		while (!st[n].done) /* secondaries on other cores finish on their own */
			sleep_until(timer_now() + timer_us(PERIOD_US));
		barrier();
		if (vcpus > 1)
			printf("timer: vcpu %u: %u interrupts, max late %lu ticks\n", n, st[n].count,
			       st[n].max_late);
		total += st[n].count;
		if (st[n].max_late > max_late)
			max_late = st[n].max_late;
	}
	printf("timer: %u interrupts, max late %lu ticks (tick = %lu Hz)\n", total, max_late,
	       timer_freq());
	bool ok = total == vcpus * PERIODS && max_late <= timer_us(LATE_BOUND_US);
	printf("timer: %s\n", ok ? "ok" : "BAD");
	printf("timer: ptimer %s\n", check_ptimer() ? "ok" : "BAD (no interrupt)");
	return 0;
}
