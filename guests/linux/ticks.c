/* ticks.c: prints the virtual counter (CNTVCT_EL0, readable at EL0 under Linux) as
 * "ticks: N HZ", for `make bench` to time the Linux boot. No C library: a few hundred bytes. */
#include <stddef.h>
#include <stdint.h>

static void sys_write(const char *s, size_t n)
{
	register uint64_t x0 __asm__("x0") = 1, x1 __asm__("x1") = (uint64_t)s, x2 __asm__("x2") = n;
	register uint64_t x8 __asm__("x8") = 64; /* write */
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x8) : "memory");
}

static _Noreturn void sys_exit(void)
{
	register uint64_t x0 __asm__("x0") = 0, x8 __asm__("x8") = 93; /* exit */
	__asm__ volatile("svc #0" : : "r"(x0), "r"(x8) : "memory");
	__builtin_unreachable();
}

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

void _start(void);
void _start(void)
{
	uint64_t t, f;
	char buf[64] = "ticks: ";
	size_t n = 7;
	__asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(t));
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
	n += put_u64(buf + n, t);
	buf[n++] = ' ';
	n += put_u64(buf + n, f);
	buf[n++] = '\n';
	sys_write(buf, n);
	sys_exit();
}
