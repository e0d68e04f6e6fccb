/* smccc.c: SMCCC 1.1 calls from guests, over HVC or SMC: the Arm-architecture calls here,
 * PSCI in vpsci.c, PV time in pvtime.c, pocketvisor's own (keys, measurements) in identity.c;
 * anything else (the Spectre workaround queries, TRNG) is NOT_SUPPORTED, never an exception. */
#include <pv/identity.h>
#include <pv/pvtime.h>
#include <pv/smccc.h>
#include <pv/vcpu.h>

void smccc_call(struct vcpu *vcpu)
{
	u32 fid = (u32)vcpu->regs.x[0];
	s64 ret = PSCI_NOT_SUPPORTED;

	switch (fid) {
	case SMCCC_VERSION:
		ret = SMCCC_VERSION_1_1;
		break;
	case SMCCC_ARCH_FEATURES: {
		u32 q = (u32)vcpu->regs.x[1];
		ret = (q == SMCCC_VERSION || q == SMCCC_ARCH_FEATURES || q == PV_TIME_FEATURES) ?
			      0 : PSCI_NOT_SUPPORTED;
		break;
	}
	default:
		if (!pvtime_call(vcpu, fid, &ret) && !identity_call(vcpu, fid, &ret))
			vpsci_call(vcpu, fid, &ret);
		break;
	}
	vcpu->regs.x[0] = (u64)ret;
}
