/* timer.c: the generic timer (Arm ARM D11): the EL2 physical timer drives the scheduler, and
 * each vCPU's virtual timer is switched with it. */
#include <pv/arch.h>
#include <pv/gic.h>
#include <pv/vm.h>
#include "sysreg.h"

#define CNT_CTL_ENABLE BIT(0)
#define CNT_CTL_IMASK BIT(1)
#define CNT_CTL_ISTATUS BIT(2)

u64 arch_timer_now(void)
{
	isb(); /* the counter read is not reordered before what came earlier */
	return read_sysreg(cntpct_el0);
}

u64 arch_timer_freq(void)
{
	return read_sysreg(cntfrq_el0);
}

/* One event per core: the earliest of a time-slice end and blocked vCPUs' timer deadlines. */
void arch_timer_arm(u64 deadline)
{
	if (deadline == ~0ull) {
		write_sysreg(cnthp_ctl_el2, 0);
		return;
	}
	write_sysreg(cnthp_cval_el2, deadline);
	write_sysreg(cnthp_ctl_el2, CNT_CTL_ENABLE);
	isb();
}

/* When the put vCPU's virtual timer fires, in physical counter ticks; ~0 if it cannot. */
u64 arch_vtimer_deadline(const struct vcpu *vcpu)
{
	u64 ctl = vcpu->arch.cntv_ctl;
	u64 cval = vcpu->arch.cntv_cval, off = vcpu->vm->cntvoff;
	if ((ctl & (CNT_CTL_ENABLE | CNT_CTL_IMASK)) != CNT_CTL_ENABLE)
		return ~0ull;
	return cval + off < cval ? ~0ull : cval + off; /* virtual = physical - CNTVOFF */
}

/* The loaded vCPU's virtual timer lives in the core's registers; the scheduler reads its
 * deadline from the saved copy, so bring that up to date (the timer keeps running). */
void arch_vtimer_snapshot(struct vcpu *vcpu)
{
	vcpu->arch.cntv_ctl = read_sysreg(cntv_ctl_el0);
	vcpu->arch.cntv_cval = read_sysreg(cntv_cval_el0);
}

bool arch_vtimer_line(void)
{
	return (read_sysreg(cntv_ctl_el0) & (CNT_CTL_ENABLE | CNT_CTL_IMASK | CNT_CTL_ISTATUS)) ==
	       (CNT_CTL_ENABLE | CNT_CTL_ISTATUS);
}

void arch_vtimer_lower(void)
{
	gic_ppi_take_active(arch_cpu_id(), PPI_VTIMER);
}
