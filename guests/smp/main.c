/* smp: a 4-vCPU VM. Proves the SMCCC/PSCI interface over both conduits, CPU_ON/CPU_OFF and
 * AFFINITY_INFO, and that three vCPUs racing CPU_ON for the same target start it exactly once. */
#include "guest.h"

#define VCPUS 4
#define NO_RC 0x7fffffffl /* a race slot nobody wrote yet */
#define SPIN_LIMIT 200000000ul /* polling rounds before declaring a hang */

/* Cross-vCPU state. Each slot has one writer (named), so no atomics are needed. */
static volatile uint32_t up[VCPUS];        /* vCPU n: times it ran secondary_main */
static volatile int64_t race_rc[VCPUS];    /* vCPU n: what its CPU_ON(vCPU 3) returned */
static volatile bool race_go;              /* vCPU 0: release the racers */
static volatile bool all_off;              /* vCPU 0: secondaries may CPU_OFF now */
static bool all_ok = true;                 /* every check so far passed */

/* Prints "smp: <where><what> = <got> ok|BAD"; <where> is "hvc ", "smc " or "". */
static bool expect_at(const char *where, const char *what, int64_t got, int64_t want)
{
	printf("smp: %s%s = %ld %s\n", where, what, got, got == want ? "ok" : "BAD");
	all_ok = all_ok && got == want;
	return got == want;
}

static bool expect(const char *what, int64_t got, int64_t want)
{
	return expect_at("", what, got, want);
}

/* A call that may be undefined natively (SMC, or an SMCCC ID QEMU's own PSCI does not know). */
static int64_t try_call(enum smccc_conduit c, uint32_t fid, uint64_t a1, bool *undef)
{
	trap_expect();
	int64_t r = smccc_call(c, fid, a1, 0, 0);
	*undef = trap_end(NULL);
	return r;
}

static void check_conduit(enum smccc_conduit c, const char *where)
{
	static const struct {
		const char *what;
		uint32_t fid;
		uint64_t arg;
		int64_t want;
	} calls[] = {
		{ "SMCCC_VERSION", SMCCC_VERSION, 0, 0x10001 },
		{ "SMCCC_ARCH_FEATURES(ARCH_FEATURES)", SMCCC_ARCH_FEATURES, SMCCC_ARCH_FEATURES, 0 },
		{ "SMCCC_ARCH_FEATURES(0x8000ff00)", SMCCC_ARCH_FEATURES, 0x8000ff00u, -1 },
		{ "PSCI_VERSION", PSCI_VERSION, 0, 0x10001 },
		{ "PSCI_FEATURES(CPU_ON)", PSCI_FEATURES, PSCI_CPU_ON, 0 },
		{ "PSCI_FEATURES(SMCCC_VERSION)", PSCI_FEATURES, SMCCC_VERSION, 0 },
		{ "PSCI_FEATURES(0x8400ff00)", PSCI_FEATURES, 0x8400ff00u, -1 },
		{ "unknown 0x8400ff00", 0x8400ff00u, 0, -1 },
		{ "unknown 0xc2001234", 0xc2001234u, 0, -1 },
	};
	bool ok = true;

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		bool undef;
		int64_t r = try_call(c, calls[i].fid, calls[i].arg, &undef);
		if (undef) {
			printf("smp: %s%s = undefined BAD\n", where, calls[i].what);
			ok = all_ok = false;
		} else if (!expect_at(where, calls[i].what, r, calls[i].want)) {
			ok = false;
		}
	}
	printf("smp: %scalls %s\n", where, ok ? "ok" : "BAD");
}

/* Waits until *flag (written by another vCPU) is nonzero; false after SPIN_LIMIT rounds. */
static bool wait_u32(volatile uint32_t *flag)
{
	for (uint64_t i = 0; i < SPIN_LIMIT; i++) {
		barrier();
		if (*flag)
			return true;
	}
	return false;
}

static bool wait_off(uint64_t mpidr)
{
	for (uint64_t i = 0; i < SPIN_LIMIT / 1000; i++) {
		if (psci_affinity_info(mpidr) == AFF_OFF)
			return true;
		delay(1000);
	}
	return false;
}

static void start(unsigned n)
{
	int64_t r = psci_cpu_on(n, (uint64_t)(uintptr_t)secondary_entry, n);
	/* Wait before printing: vCPU n prints its own "up" line meanwhile. */
	bool came_up = r == PSCI_SUCCESS && wait_u32(&up[n]);
	printf("smp: CPU_ON(%u) = %ld\n", n, r);
	if (!came_up) {
		printf("smp: vcpu %u did not come up BAD\n", n);
		all_ok = false;
	}
}

static void race(void)
{
	for (unsigned n = 0; n < 3; n++)
		race_rc[n] = NO_RC;
	barrier();
	race_go = true; /* vCPUs 1 and 2 are spinning on this: all three call CPU_ON at once */
	barrier();
	race_rc[0] = psci_cpu_on(3, (uint64_t)(uintptr_t)secondary_entry, 3);
	barrier();
	for (unsigned n = 1; n < 3; n++)
		for (uint64_t i = 0; i < SPIN_LIMIT && race_rc[n] == NO_RC; i++)
			barrier();
	bool up3 = wait_u32(&up[3]);
	delay(20 * DELAY_TICK); /* give a wrongly doubled start time to show itself */
	barrier();

	unsigned zero = 0, busy = 0;
	for (unsigned n = 0; n < 3; n++) {
		zero += race_rc[n] == PSCI_SUCCESS;
		busy += race_rc[n] == PSCI_ALREADY_ON || race_rc[n] == PSCI_ON_PENDING;
	}
	printf("smp: race rc %ld %ld %ld, vcpu 3 started %u times\n", race_rc[0], race_rc[1],
	       race_rc[2], up[3]);
	if (up3 && zero == 1 && busy == 2 && up[3] == 1) {
		printf("smp: race ok\n");
	} else {
		printf("smp: race BAD\n");
		all_ok = false;
	}
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	printf("smp: vcpu 0 up\n");
	check_conduit(SMCCC_HVC, "hvc ");
	check_conduit(SMCCC_SMC, "smc ");

	expect("CPU_ON(4) absent", psci_cpu_on(4, (uint64_t)(uintptr_t)secondary_entry, 4),
	       PSCI_INVALID_PARAMETERS);
	expect("CPU_ON(0) self", psci_cpu_on(0, (uint64_t)(uintptr_t)secondary_entry, 0),
	       PSCI_ALREADY_ON);
	expect("AFFINITY_INFO(1) before", psci_affinity_info(1), AFF_OFF);

	start(1);
	start(2);
	expect("AFFINITY_INFO(0)", psci_affinity_info(0), AFF_ON);
	expect("AFFINITY_INFO(1)", psci_affinity_info(1), AFF_ON);
	expect("AFFINITY_INFO(2)", psci_affinity_info(2), AFF_ON);
	expect("AFFINITY_INFO(3)", psci_affinity_info(3), AFF_OFF);

	race();

	all_off = true;
	barrier();
	for (unsigned n = 1; n < VCPUS; n++) {
		bool off = wait_off(n);
		printf("smp: vcpu %u %s\n", n, off ? "off" : "did not power off BAD");
		all_ok = all_ok && off;
	}
	printf("smp: %s\n", all_ok ? "all checks ok" : "some checks BAD");
	printf("smp: done\n");
	psci_system_off();
	return 0;
}

/* vCPUs 1..3. Only vCPU 0 prints while others run, except each one's "up" line, which it prints
 * before raising its flag, so lines never interleave mid-line. */
void secondary_main(uint64_t context)
{
	unsigned me = cpu_id();

	printf("smp: vcpu %u up\n", me);
	if (context != me)
		printf("smp: vcpu %u got context %lu BAD\n", me, context);
	up[me] = up[me] + 1;
	barrier();
	if (me == 1 || me == 2) {
		while (!race_go)
			barrier();
		race_rc[me] = psci_cpu_on(3, (uint64_t)(uintptr_t)secondary_entry, 3);
		barrier();
	}
	while (!all_off)
		barrier();
	/* returning to crt0 calls CPU_OFF */
}
