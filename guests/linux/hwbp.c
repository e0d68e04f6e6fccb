/* hwbp: hardware breakpoints and watchpoints through Linux's own perf interface, the path gdb's
 * `hbreak`/`watch` and `perf record -e mem:ADDR` take. Counts the hits of an execute
 * breakpoint on a function and of a write watchpoint on a variable while calling and writing
 * each N times; the kernel steps over each hit instruction (software step at EL0), so a count of
 * N needs breakpoints, watchpoints, debug exceptions and single step to work. Prints
 *   "hwbp: exec HITS/N watch HITS/N"
 * or "hwbp: <what>: <error>". Usage: hwbp [N] (default 1000). */
#include <errno.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile uint64_t watched;

__attribute__((noinline)) static void target(void)
{
	__asm__ volatile("" ::: "memory");
}

static int open_bp(uint32_t type, uint64_t addr, uint64_t len)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof a);
	a.type = PERF_TYPE_BREAKPOINT;
	a.size = sizeof a;
	a.bp_type = type;
	a.bp_addr = addr;
	a.bp_len = len;
	a.disabled = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	return (int)syscall(__NR_perf_event_open, &a, 0, -1, -1, 0ul);
}

/* Runs body n times with the breakpoint armed; returns its count, or -1 with a message. */
static long count(const char *what, uint32_t type, uint64_t addr, uint64_t len, long n)
{
	int fd = open_bp(type, addr, len);
	if (fd < 0) {
		printf("hwbp: %s: perf_event_open: %s\n", what, strerror(errno));
		return -1;
	}
	ioctl(fd, PERF_EVENT_IOC_RESET, 0);
	ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	for (long i = 0; i < n; i++) {
		if (type == HW_BREAKPOINT_X)
			target();
		else
			watched = (uint64_t)i;
	}
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	uint64_t hits = 0;
	if (read(fd, &hits, sizeof hits) != (ssize_t)sizeof hits) {
		printf("hwbp: %s: read: %s\n", what, strerror(errno));
		hits = (uint64_t)-1;
	}
	close(fd);
	return (long)hits;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 0) : 1000;
	long exec = count("exec", HW_BREAKPOINT_X, (uint64_t)(uintptr_t)&target, HW_BREAKPOINT_LEN_4, n);
	long watch = count("watch", HW_BREAKPOINT_W, (uint64_t)(uintptr_t)&watched,
			   HW_BREAKPOINT_LEN_8, n);
	printf("hwbp: exec %ld/%ld watch %ld/%ld\n", exec, n, watch, n);
	return exec == n && watch == n ? 0 : 1;
}
