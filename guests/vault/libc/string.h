/* string.h: what Mbed TLS takes from <string.h>; the functions are guests/lib/util.c's. */
#ifndef VAULT_LIBC_STRING_H
#define VAULT_LIBC_STRING_H

#include <stddef.h>

void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
int strcmp(const char *a, const char *b);
size_t strlen(const char *s);

#endif
