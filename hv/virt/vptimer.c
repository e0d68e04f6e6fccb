/* vptimer.c: the EL1 physical timer (Arm ARM D11.2.4) for guests that use it instead of the
 * virtual one. The hardware timer belongs to no guest (CNTHCTL_EL2.EL1PCEN=0 traps it); each
 * vCPU has a comparator here, whose deadline the scheduler folds into the core's one timer. */
#include <pv/sched.h>
#include <pv/vm.h>
#include <pv/vptimer.h>

#define CTL_ENABLE BIT(0)
#define CTL_IMASK BIT(1)
#define CTL_ISTATUS BIT(2)

u64 vptimer_deadline(const struct vcpu *vcpu)
{
	return (vcpu->ptimer_ctl & (CTL_ENABLE | CTL_IMASK)) == CTL_ENABLE ? vcpu->ptimer_cval : ~0ull;
}

void vptimer_sync(struct vcpu *vcpu, u64 now)
{
	bool level = vptimer_deadline(vcpu) <= now;
	if (level != vcpu->ptimer_line) {
		vcpu->ptimer_line = level;
		sched_wake_mask(vcpu->vm, vgic_set_level(&vcpu->vm->vgic, vcpu->id, VPTIMER_PPI, level));
	}
}

void vptimer_access(struct vcpu *vcpu, enum vptimer_reg reg, bool write, u64 *val, u64 now)
{
	if (!write) {
		if (reg == VPTIMER_CTL)
			*val = vcpu->ptimer_ctl | ((vcpu->ptimer_ctl & CTL_ENABLE) &&
						   now >= vcpu->ptimer_cval ? CTL_ISTATUS : 0);
		else if (reg == VPTIMER_CVAL)
			*val = vcpu->ptimer_cval;
		else /* TVAL: the signed 32-bit distance to the deadline */
			*val = (u64)(s64)(s32)(u32)(vcpu->ptimer_cval - now);
		return;
	}
	if (reg == VPTIMER_CTL)
		vcpu->ptimer_ctl = *val & (CTL_ENABLE | CTL_IMASK);
	else if (reg == VPTIMER_CVAL)
		vcpu->ptimer_cval = *val;
	else
		vcpu->ptimer_cval = now + (u64)(s64)(s32)(u32)*val;
	vptimer_sync(vcpu, now);
	sched_wake(vcpu); /* its core re-arms its timer for the new deadline */
}
