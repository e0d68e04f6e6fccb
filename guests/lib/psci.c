/* psci.c: SMCCC 1.1 calls over HVC or SMC and the PSCI calls the guests use. */
#include "guest.h"

/* SMCCC 1.1: arguments in x1..x3, result in x0; x4..x17 are preserved by the callee. */
#define SMCCC_CALL(insn)                                                                       \
	__asm__ volatile(insn : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory")

int64_t smccc_call(enum smccc_conduit conduit, uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3)
{
	register uint64_t x0 __asm__("x0") = fid;
	register uint64_t x1 __asm__("x1") = a1;
	register uint64_t x2 __asm__("x2") = a2;
	register uint64_t x3 __asm__("x3") = a3;

	if (conduit == SMCCC_SMC)
		SMCCC_CALL("smc #0");
	else
		SMCCC_CALL("hvc #0");
	if (!(fid & (1u << 30))) /* SMC32/HVC32: the upper half of x0 is not defined */
		return (int32_t)(uint32_t)x0;
	return (int64_t)x0;
}

static int64_t psci(uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3)
{
	return smccc_call(SMCCC_HVC, fid, a1, a2, a3);
}

int64_t psci_cpu_on(uint64_t mpidr, uint64_t entry, uint64_t context)
{
	return psci(PSCI_CPU_ON, mpidr, entry, context);
}

int64_t psci_affinity_info(uint64_t mpidr)
{
	return psci(PSCI_AFFINITY_INFO, mpidr, 0, 0);
}

void psci_cpu_off(void)
{
	psci(PSCI_CPU_OFF, 0, 0, 0);
}

void psci_system_off(void)
{
	psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

void psci_system_reset(void)
{
	psci(PSCI_SYSTEM_RESET, 0, 0, 0);
}

unsigned smp_start_all(void)
{
	unsigned n = 1;

	while (n < GUEST_MAX_VCPUS &&
	       psci_cpu_on(n, (uint64_t)(uintptr_t)secondary_entry, n) == PSCI_SUCCESS)
		n++;
	return n;
}
