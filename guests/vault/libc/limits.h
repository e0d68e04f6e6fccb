/* limits.h: the compiler's own limits.h. It would include_next a C library's limits.h unless
 * _LIBC_LIMITS_H_ (the guard such a header defines) says one was already read; there is none. */
#ifndef VAULT_LIBC_LIMITS_H
#define VAULT_LIBC_LIMITS_H

#define _LIBC_LIMITS_H_
#include_next <limits.h>

#endif
