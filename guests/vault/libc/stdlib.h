/* stdlib.h: Mbed TLS's threading.h includes it but, with MBEDTLS_PLATFORM_NO_STD_FUNCTIONS and
 * no threads, uses nothing of it; size_t and NULL are all there is to give. */
#ifndef VAULT_LIBC_STDLIB_H
#define VAULT_LIBC_STDLIB_H

#include <stddef.h>

#endif
