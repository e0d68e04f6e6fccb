/* cli.h: argument parsing and the counter, shared by the static Linux tools (vsockt.c,
 * vault.c). Each tool defines its own usage(), which prints its synopsis and exits with
 * status 2. */
#ifndef PV_LINUX_CLI_H
#define PV_LINUX_CLI_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

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

#endif
