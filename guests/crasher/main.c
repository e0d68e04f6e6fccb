/* crasher: does every bad thing a guest can do that must end in an exception for the guest, an
 * error code, or this VM alone being stopped, never the hypervisor or another VM. */
#include "guest.h"

/* Nothing is mapped here, under pocketvisor (no RAM, no device) or on QEMU virt itself (a hole
 * between virtio-mmio and the platform bus), so the same binary can be checked natively. */
#define UNMAPPED 0x0b000000ul
#define UART_UNIMPLEMENTED (UART_BASE + 0xf00u)
#define UNKNOWN_FID 0x8400ff00u /* in the PSCI range, not assigned */
#define VBAR_UNMAPPED 0x1000ul

static void undefined_instruction(void)
{
	struct trap_info t = { 0 };

	trap_expect();
	__asm__ volatile("udf #0" ::: "memory");
	if (trap_end(&t) && ESR_EC(t.esr) == EC_UNKNOWN)
		printf("crasher: undef caught\n");
	else
		printf("crasher: undef NOT caught as EC 0 (esr 0x%lx)\n", t.esr);
}

static void unmapped_read(void)
{
	struct probe p;

	probe_ld32(UNMAPPED, &p);
	if (ESR_EC(p.esr) == EC_DABT_CUR && ESR_DFSC(p.esr) == FSC_SEA && p.far == UNMAPPED)
		printf("crasher: abort caught\n");
	else
		printf("crasher: abort WRONG: esr 0x%lx far 0x%lx\n", p.esr, p.far);
}

/* An unknown function ID must give NOT_SUPPORTED. Natively (QEMU's PSCI, no EL2/EL3) an
 * unknown HVC or any SMC is undefined instead, so that is caught and reported, not fatal. */
static void unknown_call(enum smccc_conduit conduit, const char *name)
{
	struct trap_info t = { 0 };

	trap_expect();
	int64_t r = smccc_call(conduit, UNKNOWN_FID, 0, 0, 0);
	if (trap_end(&t))
		printf("crasher: %s unknown -> undefined (esr 0x%lx)\n", name, t.esr);
	else
		printf("crasher: %s unknown -> %ld\n", name, r);
}

static void uart_hole(void)
{
	struct probe p;

	if (probe_ld32(UART_UNIMPLEMENTED, &p))
		printf("crasher: uart 0xf00 -> abort (esr 0x%lx)\n", p.esr);
	else
		printf("crasher: uart 0xf00 -> 0x%x\n", p.value);
}

/* With VBAR_EL1 pointing at nothing, the abort cannot be delivered: the hypervisor has to
 * stop this VM. Natively 0x1000 is flash full of zeros (UDF), so the CPU loops there. */
static void fault_without_vectors(void)
{
	struct probe p;

	printf("crasher: vbar to 0x1000, faulting\n");
	__asm__ volatile("msr vbar_el1, %0\n\tisb" : : "r"(VBAR_UNMAPPED) : "memory");
	probe_ld32(UNMAPPED, &p);
	printf("crasher: still alive\n");
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	undefined_instruction();
	unmapped_read();
	unknown_call(SMCCC_HVC, "hvc");
	unknown_call(SMCCC_SMC, "smc");
	uart_hole();
	fault_without_vectors();
	return 0;
}
