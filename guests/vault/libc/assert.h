/* assert.h: Mbed TLS only wants static_assert from it (common.h); assert() it never calls with
 * MBEDTLS_CHECK_PARAMS off, so it checks nothing. */
#ifndef VAULT_LIBC_ASSERT_H
#define VAULT_LIBC_ASSERT_H

#define static_assert _Static_assert
#define assert(cond) ((void)0)

#endif
