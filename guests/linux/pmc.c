/* pmc.c: `pmc 'COMMAND'` runs COMMAND with /bin/sh -c and prints "pmc: N instructions": what
 * CPU 0 executed meanwhile at every exception level (a cpu-wide perf counter of retired
 * instructions; EL2 too unless the core refuses). `pmc -g 'COMMAND'` leaves EL2 out (the
 * guest's own share: exclude_hv). `make bench` counts block and TCP transfers
 * with it: under -icount the virtual counter also jumps over idle time (sleep=off warps to the
 * next deadline while QEMU does the I/O), the instruction count does not. No C library. */
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

static long syscall6(long n, long a, long b, long c, long d, long e)
{
	register long x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d, x4 __asm__("x4") = e, x8 __asm__("x8") = n;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x8)
			 : "memory");
	return x0;
}

enum { SYS_READ = 63, SYS_WRITE = 64, SYS_EXIT = 93, SYS_CLONE = 220, SYS_EXECVE = 221,
       SYS_PERF_EVENT_OPEN = 241, SYS_WAIT4 = 260, SIGCHLD = 17 };

/* struct perf_event_attr as of PERF_ATTR_SIZE_VER1 (include/uapi/linux/perf_event.h); the
 * flags word 0 (enabled at once, counting user, kernel and hypervisor) or exclude_hv. */
struct perf_attr {
	uint32_t type, size;
	uint64_t config, sample_period, sample_type, read_format, flags;
	uint32_t wakeup_events, bp_type;
	uint64_t config1, config2;
};
#define PERF_TYPE_HARDWARE 0
#define PERF_COUNT_HW_INSTRUCTIONS 1
#define PERF_FLAG_EXCLUDE_HV (1u << 6) /* after disabled, inherit, pinned, exclusive, user, kernel */

static size_t put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		p[i++] = tmp[--n];
	return i;
}

static _Noreturn void fail(const char *why)
{
	size_t n = 0;
	while (why[n])
		n++;
	syscall6(SYS_WRITE, 2, (long)why, (long)n, 0, 0);
	syscall6(SYS_EXIT, 1, 0, 0, 0, 0);
	__builtin_unreachable();
}

void start(long *sp);
void start(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
	bool guest = argc == 3 && argv[1][0] == '-' && argv[1][1] == 'g' && !argv[1][2];
	if (argc != 2 + guest)
		fail("usage: pmc [-g] 'COMMAND'\n");
	struct perf_attr attr = { .type = PERF_TYPE_HARDWARE, .size = sizeof(attr),
				  .config = PERF_COUNT_HW_INSTRUCTIONS,
				  .flags = guest ? PERF_FLAG_EXCLUDE_HV : 0 };
	long fd = syscall6(SYS_PERF_EVENT_OPEN, (long)&attr, -1, 0, -1, 0); /* all tasks, CPU 0 */
	if (fd < 0)
		fail("pmc: perf_event_open failed\n");
	long pid = syscall6(SYS_CLONE, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		char *args[] = { "/bin/sh", "-c", argv[1 + guest], NULL };
		syscall6(SYS_EXECVE, (long)args[0], (long)args, (long)envp, 0, 0);
		fail("pmc: exec /bin/sh failed\n");
	}
	if (pid < 0 || syscall6(SYS_WAIT4, pid, 0, 0, 0, 0) != pid)
		fail("pmc: fork or wait failed\n");
	uint64_t count = 0;
	if (syscall6(SYS_READ, fd, (long)&count, sizeof(count), 0, 0) != sizeof(count))
		fail("pmc: reading the counter failed\n");
	char buf[64] = "pmc: ";
	size_t n = 5;
	n += put_u64(buf + n, count);
	const char *tail = " instructions\n";
	while (*tail)
		buf[n++] = *tail++;
	syscall6(SYS_WRITE, 1, (long)buf, (long)n, 0, 0);
	syscall6(SYS_EXIT, 0, 0, 0, 0, 0);
}

/* The kernel enters with sp at argc; C wants it as an argument. */
__asm__(".globl _start\n_start:\n\tmov x0, sp\n\tb start\n");
