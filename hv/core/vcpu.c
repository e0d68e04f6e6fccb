/* vcpu.c: the portable part of a vCPU's reset. */
#include <pv/arch.h>
#include <pv/string.h>
#include <pv/vcpu.h>

void vcpu_reset(struct vcpu *vcpu, u64 pc, u64 arg)
{
	memset(&vcpu->regs, 0, sizeof(vcpu->regs));
	arch_vcpu_reset(vcpu); /* also sets the reset PSTATE */
	vcpu->regs.x[0] = arg;
	vcpu->regs.pc = pc;
	vcpu->yield = 0;
	vcpu->ptimer_ctl = vcpu->ptimer_cval = 0;
	vcpu->ptimer_line = false;
	vcpu->wait_since = vcpu->stolen = vcpu->pvtime_ipa = 0;
}
