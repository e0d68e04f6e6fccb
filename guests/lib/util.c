/* util.c: small helpers every guest needs: delays, vCPU id, strings, weak defaults, and the
 * <string.h> functions the compiler or Mbed TLS (guests/vault/libc/string.h) may call. */
#include "guest.h"

uint64_t boot_cntpct; /* set by crt0 after clearing .bss */

void delay(uint64_t loops)
{
	if (!loops)
		return;
	/* In asm so the compiler cannot drop or shorten the loop: its length is the calibration. */
	__asm__ volatile("1: subs %0, %0, #1\n\tb.ne 1b" : "+r"(loops) : : "cc");
}

unsigned cpu_id(void)
{
	uint64_t mpidr;
	__asm__ volatile("mrs %0, mpidr_el1" : "=r"(mpidr));
	return (unsigned)(mpidr & 0xffu);
}

/* Inline asm, not a volatile pointer: it pins the exact instruction form (guest.h). */
uint32_t mmio_read32(uint64_t addr)
{
	uint32_t v;
	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

void mmio_write32(uint64_t addr, uint32_t v)
{
	__asm__ volatile("str %w0, [%1]" : : "r"(v), "r"(addr) : "memory");
}

bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

/* Copies backwards when the destination starts inside the source. */
void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	if (p <= q || p >= q + n)
		return memcpy(d, s, n);
	while (n--)
		p[n] = q[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* Guests that never start secondaries need no secondary_main; one started anyway just stops. */
__attribute__((weak)) void secondary_main(uint64_t context)
{
	(void)context;
}
