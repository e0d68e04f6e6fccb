/* pmu: tells whether this VM may use the PMU: `pmu: allowed` (every access works and the cycle
 * counter counts) or `pmu: undef` (every access is UNDEFINED, as for a VM whose config lacks
 * `pmu;`); anything in between is a leak and says BAD. */
#include "guest.h"

#define PMCR_E 1ul     /* PMCR_EL0 (Arm ARM D17.5.7): enable counters */
#define PMCNT_C (1ul << 31)

enum access { READ_PMCR, WRITE_PMCR, WRITE_CNTENSET, WRITE_CCFILTR, READ_CCNTR, ACCESS_COUNT };

static const char *const names[ACCESS_COUNT] = {
	"read PMCR_EL0", "write PMCR_EL0", "write PMCNTENSET_EL0", "write PMCCFILTR_EL0",
	"read PMCCNTR_EL0",
};

/* One access; true if it was UNDEFINED (caught, skipped). */
static bool access(enum access a, uint64_t *val)
{
	struct trap_info t;

	*val = 0;
	trap_expect();
	switch (a) {
	case READ_PMCR: __asm__ volatile("mrs %0, pmcr_el0" : "=r"(*val)); break;
	case WRITE_PMCR: __asm__ volatile("msr pmcr_el0, %0\n\tisb" : : "r"(PMCR_E)); break;
	case WRITE_CNTENSET: __asm__ volatile("msr pmcntenset_el0, %0\n\tisb" : : "r"(PMCNT_C)); break;
	case WRITE_CCFILTR: __asm__ volatile("msr pmccfiltr_el0, xzr\n\tisb"); break;
	default: __asm__ volatile("isb\n\tmrs %0, pmccntr_el0" : "=r"(*val)); break;
	}
	if (!trap_end(&t))
		return false;
	if (ESR_EC(t.esr) != EC_UNKNOWN)
		printf("pmu: %s: exception class 0x%lx BAD\n", names[a], ESR_EC(t.esr));
	return true;
}

int main(uint64_t boot_arg)
{
	unsigned undefs = 0;
	uint64_t v, c0, c1;

	(void)boot_arg;
	for (enum access a = READ_PMCR; a < READ_CCNTR; a++)
		undefs += access(a, &v);
	undefs += access(READ_CCNTR, &c0);
	delay(1000);
	undefs += access(READ_CCNTR, &c1);

	if (undefs == ACCESS_COUNT + 1) {
		printf("pmu: undef\n");
	} else if (undefs == 0 && c1 > c0) {
		printf("pmu: cycle counter %lu -> %lu\n", c0, c1);
		printf("pmu: allowed\n");
	} else {
		printf("pmu: %u of %u accesses undefined, counter %lu -> %lu BAD\n", undefs,
		       ACCESS_COUNT + 1, c0, c1);
	}
	return 0;
}
