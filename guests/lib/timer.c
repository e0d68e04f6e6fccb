/* timer.c: the generic timer: the virtual counter, virtual and EL1 physical timer deadlines. */
#include "guest.h"

#define CNT_CTL_ENABLE 1ul /* CNTV_CTL/CNTP_CTL: ENABLE = 1, IMASK = 0 (Arm ARM D11.2.4) */

uint64_t timer_freq(void)
{
	uint64_t f;
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
	return f;
}

/* The ISB keeps the read from being taken early, before the code that precedes it. */
uint64_t timer_now(void)
{
	uint64_t t;
	__asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(t) : : "memory");
	return t;
}

uint64_t timer_us(uint64_t us)
{
	return timer_freq() * us / 1000000u;
}

void vtimer_arm(uint64_t deadline)
{
	__asm__ volatile("msr cntv_cval_el0, %0\n\tmsr cntv_ctl_el0, %1\n\tisb"
			 : : "r"(deadline), "r"(CNT_CTL_ENABLE) : "memory");
}

/* The timer interrupt is level-triggered: a handler must stop or re-arm it before the EOI. */
void vtimer_stop(void)
{
	__asm__ volatile("msr cntv_ctl_el0, xzr\n\tisb" : : : "memory");
}

void ptimer_arm_in(uint64_t ticks)
{
	__asm__ volatile("msr cntp_tval_el0, %0\n\tmsr cntp_ctl_el0, %1\n\tisb"
			 : : "r"(ticks), "r"(CNT_CTL_ENABLE) : "memory");
}

void ptimer_stop(void)
{
	__asm__ volatile("msr cntp_ctl_el0, xzr\n\tisb" : : : "memory");
}

/* ---- sleeping on the virtual timer (for guests that do not use it themselves) ---- */
static volatile bool woke[GUEST_MAX_VCPUS];
static volatile bool sleep_ready[GUEST_MAX_VCPUS];

static void sleep_irq(unsigned intid)
{
	(void)intid;
	vtimer_stop();
	woke[cpu_id()] = true;
}

void sleep_until(uint64_t deadline)
{
	unsigned me = cpu_id();

	irq_set_handler(INTID_VTIMER, sleep_irq);
	if (!sleep_ready[me]) {
		gic_enable(INTID_VTIMER, IRQ_PRIO_DEFAULT);
		sleep_ready[me] = true;
	}
	woke[me] = false;
	vtimer_arm(deadline);
	WAIT_UNTIL(woke[me]);
}
