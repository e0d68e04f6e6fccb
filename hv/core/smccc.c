/* smccc.c: SMCCC 1.1 calls from guests, over HVC or SMC: the Arm-architecture calls here,
 * PSCI in vpsci.c, PV time in pvtime.c, pocketvisor's own (keys, measurements) in identity.c;
 * anything else (the Spectre workaround queries, TRNG) is NOT_SUPPORTED, never an exception. */
#include <pv/identity.h>
#include <pv/pvtime.h>
#include <pv/smccc.h>
#include <pv/vcpu.h>

/* The calls of the other ranges, out of line: their frame (identity.c's buffers) is not built
 * for the Arm-architecture calls, which entry.S's fast path answers through smccc_call. */
static __attribute__((noinline)) s64 other_call(struct vcpu *vcpu, u32 fid)
{
	s64 ret = PSCI_NOT_SUPPORTED;
	if (!pvtime_call(vcpu, fid, &ret) && !identity_call(vcpu, fid, &ret))
		vpsci_call(vcpu, fid, &ret);
	return ret;
}

void smccc_call(struct vcpu *vcpu)
{
	u32 fid = (u32)vcpu->regs.x[0], q = (u32)vcpu->regs.x[1];
	s64 ret;

	if (fid == SMCCC_VERSION)
		ret = SMCCC_VERSION_1_1;
	else if (fid == SMCCC_ARCH_FEATURES)
		ret = (q == SMCCC_VERSION || q == SMCCC_ARCH_FEATURES || q == PV_TIME_FEATURES) ?
			      0 : PSCI_NOT_SUPPORTED;
	else
		ret = other_call(vcpu, fid);
	vcpu->regs.x[0] = (u64)ret;
}
