/* victim: proves no other VM can write this VM's RAM: it fills all its free RAM with a pattern
 * that depends on the address (so a copy or shift is caught too) and re-checks it while the
 * attacker next door sweeps the guest-physical space. */
#include "guest.h"

/* How long it watches: by default VICTIM_TICKS checks DELAY_TICK apart (isolation.dts); a build
 * that defines VICTIM_TICK_US paces them on the virtual counter instead (guests/longvictim).
 * The config's bootargs may say otherwise: `victim.ticks=N` checks (0: forever) and
 * `victim.stamp=1` the virtual time of each tick, so a test can measure its heartbeat rate
 * (tests/configs/chaos.dts). */
#ifndef VICTIM_TICKS
#define VICTIM_TICKS 20
#endif
#define SECRET 0x5ec2e75ec2e75ec2ul

static uint64_t pattern(uint64_t addr)
{
	return (addr * 0x9e3779b97f4a7c15ul) ^ SECRET;
}

/* The area between .noinit and the stacks, in 64-bit words. */
static volatile uint64_t *area_start(void) { return (volatile uint64_t *)(uintptr_t)__free_start; }
static volatile uint64_t *area_end(void) { return (volatile uint64_t *)(uintptr_t)__stacks_start; }

static void fill(void)
{
	for (volatile uint64_t *p = area_start(); p < area_end(); p++)
		*p = pattern((uint64_t)(uintptr_t)p);
}

/* Returns the number of bad words; prints the first one. */
static uint64_t verify(void)
{
	uint64_t bad = 0;

	for (volatile uint64_t *p = area_start(); p < area_end(); p++) {
		uint64_t want = pattern((uint64_t)(uintptr_t)p), got = *p;
		if (got != want && !bad++)
			printf("victim: first bad word at 0x%lx: 0x%lx, want 0x%lx\n",
			       (uint64_t)(uintptr_t)p, got, want);
	}
	return bad;
}

static void wait_tick(uint64_t *next)
{
#ifdef VICTIM_TICK_US
	*next += timer_us(VICTIM_TICK_US);
	while (timer_now() < *next)
		;
#else
	(void)next;
	delay(DELAY_TICK);
#endif
}

int main(uint64_t boot_arg)
{
	uint64_t next = timer_now(), ticks = VICTIM_TICKS, stamp = 0;
	const char *args = bootargs(boot_arg);

	bootarg_u64(args, "victim.ticks", &ticks);
	bootarg_u64(args, "victim.stamp", &stamp);
	fill();
	printf("victim: filled %lu KiB\n",
	       (uint64_t)((uintptr_t)__stacks_start - (uintptr_t)__free_start) / 1024);
	for (uint64_t i = 1; !ticks || i <= ticks; i++) {
		wait_tick(&next);
		if (stamp)
			printf("victim: tick %lu at %lu us\n", i, timer_now() * 1000000u / timer_freq());
		else
			printf("victim: tick %lu\n", i);
		uint64_t bad = verify();
		if (bad)
			printf("victim: pattern BROKEN, %lu words\n", bad);
		else
			printf("victim: pattern intact\n");
	}
	printf("victim: done\n");
	psci_system_off();
	return 0;
}
