/* rt: the high-priority VM: a 1 ms periodic task on the virtual timer for 500 periods. Proves
 * a low-priority VM spinning on the same core never makes it miss a deadline: a period is missed
 * when its handler runs only after the next deadline has already passed. */
#include "guest.h"

#define PERIODS 500u
#define PERIOD_US 1000

static uint64_t deadline, period, max_late;
static unsigned count, missed;
static volatile bool done;

static void tick(unsigned intid)
{
	uint64_t late = timer_now() - deadline;

	(void)intid;
	if (late > max_late)
		max_late = late;
	if (late >= period)
		missed++;
	if (++count < PERIODS) {
		deadline += period; /* the schedule is fixed: lateness does not move it */
		vtimer_arm(deadline);
	} else {
		vtimer_stop();
		done = true;
	}
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	printf("rt: %u periods of %u us\n", PERIODS, PERIOD_US);
	gic_init();
	gic_cpu_init();
	irq_set_handler(INTID_VTIMER, tick);
	gic_enable(INTID_VTIMER, IRQ_PRIO_DEFAULT);
	period = timer_us(PERIOD_US);
	deadline = timer_now() + period;
	vtimer_arm(deadline);
	WAIT_UNTIL(done);
	printf("rt: %u periods, %u missed, max late %lu ticks\n", count, missed, max_late);
	printf("rt: %s\n", count == PERIODS && !missed ? "ok" : "BAD");
	return 0;
}
