/* pvtime.c: stolen time for guests (Arm DEN0057A, "Paravirtualized Time for Arm-based
 * Systems"). The scheduler counts, per vCPU, the counter ticks it spent ready but not running
 * (sched.c); this file answers the discovery calls and writes the record in nanoseconds. */
#include <pv/arch.h>
#include <pv/pvtime.h>
#include <pv/smccc.h>
#include <pv/vm.h>

#define NSEC_PER_SEC 1000000000ull

/* The record (DEN0057A 3.1): revision and attributes 0, then the stolen nanoseconds. */
struct pvtime_record {
	u32 revision;
	u32 attributes;
	u64 stolen_ns;
};

static u64 record_ipa(const struct vcpu *vcpu)
{
	const struct pvb_vm *cfg = vcpu->vm->cfg;
	return cfg->ram_base + cfg->ram_size - PVB_PVTIME_SIZE + vcpu->id * PVTIME_RECORD_SIZE;
}

bool pvtime_call(struct vcpu *vcpu, u32 fid, s64 *ret)
{
	if (fid == PV_TIME_FEATURES) {
		u32 q = (u32)vcpu->regs.x[1];
		*ret = q == PV_TIME_FEATURES || q == PV_TIME_ST ? 0 : PSCI_NOT_SUPPORTED;
		return true;
	}
	if (fid != PV_TIME_ST)
		return false;
	u64 ipa = record_ipa(vcpu);
	paddr_t pa;
	if (!vm_ipa_to_pa(vcpu->vm, ipa, sizeof(struct pvtime_record), &pa)) {
		*ret = PSCI_NOT_SUPPORTED; /* RAM too small for the area: cannot happen via pvpack */
		return true;
	}
	struct pvtime_record *r = pa_ptr(pa);
	r->revision = r->attributes = 0;
	vcpu->pvtime_ipa = ipa;
	pvtime_update(vcpu);
	*ret = (s64)ipa;
	return true;
}

void pvtime_update(struct vcpu *vcpu)
{
	paddr_t pa;
	if (!vcpu->pvtime_ipa || !vm_ipa_to_pa(vcpu->vm, vcpu->pvtime_ipa, 16, &pa))
		return;
	u64 f = arch_timer_freq(), t = vcpu->stolen;
	u64 ns = t / f * NSEC_PER_SEC + t % f * NSEC_PER_SEC / f;
	/* One aligned 64-bit store: the guest never sees half of it. */
	__atomic_store_n(&((struct pvtime_record *)pa_ptr(pa))->stolen_ns, ns, __ATOMIC_RELEASE);
}
