/* string.c: memory helpers for a freestanding image (the compiler may call these too). */
#include <pv/string.h>

/* used: with LTO, calls the compiler itself emits late (struct copies) must still find them. */
__attribute__((used)) void *memcpy(void *dst, const void *src, size_t n)
{
	u8 *d = dst;
	const u8 *s = src;
	/* Word copies when both sides allow it: images are large and always aligned. */
	if (!(((uintptr_t)d | (uintptr_t)s) & 7)) {
		for (; n >= 8; n -= 8, d += 8, s += 8)
			*(u64 *)(void *)d = *(const u64 *)(const void *)s;
	}
	while (n--)
		*d++ = *s++;
	return dst;
}

__attribute__((used)) void *memset(void *dst, int c, size_t n)
{
	u8 *d = dst;
	if (!c && !((uintptr_t)d & 7)) {
		u64 *w = (u64 *)(void *)d;
		for (; n >= 16; n -= 16, w += 2) /* a store pair a round */
			w[0] = 0, w[1] = 0;
		d = (u8 *)w;
	}
	while (n--)
		*d++ = (u8)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}
