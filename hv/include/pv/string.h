/* string.h: the few freestanding memory helpers the hypervisor uses. */
#ifndef PV_STRING_H
#define PV_STRING_H

#include <pv/types.h>

/* The compiler may emit calls to these, so they keep their standard names. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strnlen(const char *s, size_t max);

#endif
