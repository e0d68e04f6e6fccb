/* pingpong: the other half of the vCPU switch measurement (bench.dts): a low-priority VM on the
 * bench VM's core that spins reading the virtual counter. Each time bench's timer fires, bench
 * preempts it; the gap this VM then sees in the counter is bench's whole turn: deadline to
 * bench's handler (bench's vtimer_wfi), bench's own work (switch_busy) and the switch back
 * here. bench/run.py subtracts the first two to get the switch. */
#include "guest.h"

#define SKIP 20u            /* the first gaps include this VM's own start */
#define GAPS 900u           /* fewer than bench's 1000 wakeups, so it ends while bench runs */
#define GAP_MIN_TICKS 3u    /* the loop reads the counter every 5 instructions: more is a gap */
#define GAP_MAX_TICKS 62500u /* 1 ms: longer is something other than one bench wakeup */

static uint32_t gaps[GAPS];

/* Waits for a gap; returns it in instructions. The gap began at a tick edge (bench's deadline,
 * the first tick this loop did not see); it ended when this VM resumed, which the second loop
 * places to within a few instructions by counting its 4-instruction turns up to the next edge:
 * resume = next edge - 4 * turns - 5 (the instructions between resuming and that loop, on
 * average). */
static uint64_t wait_gap(uint64_t ipt)
{
	uint64_t prev, cur, gap, turns;

	__asm__ volatile("mrs %[prev], cntvct_el0\n"
			 "1:\tmrs %[cur], cntvct_el0\n\t"
			 "sub %[gap], %[cur], %[prev]\n\t"
			 "mov %[prev], %[cur]\n\t"
			 "cmp %[gap], %[min]\n\t"
			 "b.lo 1b\n\t"
			 "mov %[turns], #0\n"
			 "2:\tadd %[turns], %[turns], #1\n\t"
			 "mrs %[prev], cntvct_el0\n\t"
			 "cmp %[prev], %[cur]\n\t"
			 "b.eq 2b"
			 : [prev] "=&r"(prev), [cur] "=&r"(cur), [gap] "=&r"(gap), [turns] "=&r"(turns)
			 : [min] "r"((uint64_t)GAP_MIN_TICKS)
			 : "cc", "memory");
	if (gap > GAP_MAX_TICKS)
		return 0;
	return gap * ipt - 4 * turns - 5;
}

int main(uint64_t boot_arg)
{
	uint64_t ipt = 1000000000u / timer_freq();
	unsigned n = 0, skipped = 0;

	(void)boot_arg;
	printf("pingpong: timing preemptions\n");
	while (n < GAPS) {
		uint64_t g = wait_gap(ipt);
		if (!g)
			continue;
		if (skipped < SKIP)
			skipped++;
		else
			gaps[n++] = (uint32_t)g;
	}
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j && gaps[j - 1] > gaps[j]; j--) {
			uint32_t t = gaps[j];
			gaps[j] = gaps[j - 1];
			gaps[j - 1] = t;
		}
	printf("bench: switch_gap %u\n", gaps[n / 2]);
	return 0;
}
