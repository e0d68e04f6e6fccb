/* vpsci.c: PSCI 1.1 for guests (Arm DEN0022). CPU calls act on the caller's VM; SYSTEM_OFF and
 * SYSTEM_RESET on the caller's VM alone. */
#include <pv/sched.h>
#include <pv/smccc.h>
#include <pv/vm.h>

/* The calls we answer, by function number (fid - PSCI_VERSION): VERSION, CPU_SUSPEND, CPU_OFF,
 * CPU_ON, AFFINITY_INFO, MIGRATE_INFO_TYPE, SYSTEM_OFF, SYSTEM_RESET and FEATURES in SMC32;
 * CPU_SUSPEND, CPU_ON and AFFINITY_INFO in SMC64 as well. */
#define PSCI_KNOWN_32 0x75fu
#define PSCI_KNOWN_64 0x01au

static bool psci_known(u32 fid)
{
	u32 n = (fid & ~PSCI_64) - PSCI_VERSION;
	return n < 32 && ((fid & PSCI_64 ? PSCI_KNOWN_64 : PSCI_KNOWN_32) >> n & 1);
}

/* A vCPU of the caller's VM by MPIDR: only Aff0 may be set (that is how VMPIDR is built). */
static struct vcpu *vcpu_by_mpidr(struct vm *vm, u64 mpidr)
{
	if (mpidr >= vm->vcpu_count)
		return NULL;
	return &vm->vcpus[mpidr];
}

/* Of several racing CPU_ONs, the one whose compare-and-swap moves OFF to BOOTING wins; every
 * other one, from then on, is told ALREADY_ON (as KVM answers): the target is on its way, and
 * no caller waits on an ON_PENDING that another caller's request already settled. The state
 * machine is in docs/abi.md. */
static s64 cpu_on(struct vcpu *caller, u64 mpidr, u64 entry, u64 ctx)
{
	struct vcpu *t = vcpu_by_mpidr(caller->vm, mpidr);
	paddr_t pa;
	if (!t)
		return PSCI_INVALID_PARAMETERS;
	if (!vm_ipa_to_pa(caller->vm, entry, 4, &pa))
		return PSCI_INVALID_ADDRESS;
	u32 expected = VCPU_OFF;
	if (!__atomic_compare_exchange_n(&t->power, &expected, (u32)VCPU_BOOTING, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return PSCI_ALREADY_ON;
	t->boot_entry = entry;
	t->boot_ctx = ctx;
	__atomic_store_n(&t->power, (u32)VCPU_ON_PENDING, __ATOMIC_RELEASE);
	sched_wake(t);
	return PSCI_SUCCESS;
}

static s64 affinity_info(struct vcpu *caller, u64 mpidr, u64 level)
{
	struct vcpu *t = vcpu_by_mpidr(caller->vm, mpidr);
	if (!t || level != 0)
		return PSCI_INVALID_PARAMETERS;
	switch (__atomic_load_n(&t->power, __ATOMIC_ACQUIRE)) {
	case VCPU_ON:
		return 0;
	case VCPU_OFF:
		return 1;
	default:
		return 2; /* ON_PENDING */
	}
}

bool vpsci_call(struct vcpu *vcpu, u32 fid, s64 *ret)
{
	u64 a1 = vcpu->regs.x[1], a2 = vcpu->regs.x[2], a3 = vcpu->regs.x[3];
	if (!psci_known(fid))
		return false;
	if (!(fid & PSCI_64)) { /* SMC32 calls: only the low halves are arguments */
		a1 = (u32)a1, a2 = (u32)a2, a3 = (u32)a3;
	}
	switch (fid & ~PSCI_64) {
	case PSCI_VERSION:
		*ret = PSCI_VERSION_1_1;
		break;
	case PSCI_CPU_SUSPEND: /* as standby: a scheduling point, then "woken" */
		vcpu->yield = 1;
		*ret = PSCI_SUCCESS;
		break;
	case PSCI_CPU_OFF:
		__atomic_store_n(&vcpu->power, (u32)VCPU_OFF, __ATOMIC_RELEASE);
		*ret = PSCI_DENIED; /* seen only if the vCPU could not be stopped */
		break;
	case PSCI_CPU_ON:
		*ret = cpu_on(vcpu, a1, a2, a3);
		break;
	case PSCI_AFFINITY_INFO:
		*ret = affinity_info(vcpu, a1, a2);
		break;
	case PSCI_MIGRATE_INFO_TYPE:
		*ret = 2; /* no trusted OS that needs migrating */
		break;
	case PSCI_SYSTEM_OFF:
		vm_stop(vcpu->vm, "powered off (PSCI SYSTEM_OFF)");
		*ret = PSCI_SUCCESS;
		break;
	case PSCI_SYSTEM_RESET:
		vm_reset(vcpu->vm, false);
		*ret = PSCI_SUCCESS;
		break;
	case PSCI_FEATURES:
		/* SMCCC_VERSION is listed too: it is how callers find SMCCC 1.1 (DEN0022 5.1.14). */
		*ret = psci_known((u32)a1) || a1 == SMCCC_VERSION ? PSCI_SUCCESS : PSCI_NOT_SUPPORTED;
		break;
	}
	return true;
}
