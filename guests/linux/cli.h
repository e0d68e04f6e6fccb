/* cli.h: argument parsing and the counter, shared by the static Linux tools (vsockt.c,
 * vault.c). Each tool defines its own usage(), which prints its synopsis and exits with
 * status 2. */
#ifndef PV_LINUX_CLI_H
#define PV_LINUX_CLI_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static _Noreturn void usage(void);

/* A decimal argument in [0, max], or usage. */
static unsigned long number(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		usage();
	return v;
}

/* The virtual counter (CNTVCT_EL0, which Linux lets EL0 read): make bench's tick counts. */
static inline uint64_t counter(void)
{
	uint64_t t;

	/* isb: the read must not be taken before the instructions ahead of it. */
	__asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(t) : : "memory");
	return t;
}

/* Milliseconds from now until the CLOCK_MONOTONIC time *deadline, clamped to 0..1000000 (a
 * poll timeout). */
static inline int ms_until(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (deadline->tv_sec - now.tv_sec) * 1000LL +
		       (deadline->tv_nsec - now.tv_nsec) / 1000000LL;
	return ms < 0 ? 0 : ms > 1000000 ? 1000000 : (int)ms;
}

#endif
