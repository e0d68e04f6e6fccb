/* mbedtls_config.h: the Mbed TLS 2.28 build of our bare-metal guests (MBEDTLS_CONFIG_FILE): P-256
 * ECDSA and ECDH, SHA-256, HMAC-DRBG, HKDF and ChaCha20-Poly1305, on a static heap, nothing else. */
#ifndef VAULT_MBEDTLS_CONFIG_H
#define VAULT_MBEDTLS_CONFIG_H

/* System: the aarch64 bignum multiply in asm (general registers only); no 128-by-64 division,
 * which would need libgcc's __udivti3. */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_NO_UDBL_DIVISION

/* Platform: no C library behind it. No file system, time, threads, network or entropy source
 * (MBEDTLS_FS_IO, _HAVE_TIME, _THREADING_C, _NET_C, _ENTROPY_C stay undefined). */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_DEPRECATED_REMOVED

/* Memory: calloc/free from one static buffer the guest hands over (memory_buffer_alloc_init).
 * With the MMU off all memory is Device, where an unaligned access faults: blocks hold 64-bit
 * limbs and pointers, so they are 16-aligned, not the default 4. */
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define MBEDTLS_MEMORY_ALIGN_MULTIPLE 16

/* A corrupt heap or a free() outside it (memory_buffer_alloc.c) ends the VM: guests/lib/psci.c. */
void psci_system_off(void);
#define MBEDTLS_PLATFORM_EXIT_MACRO(status) ((void)(status), psci_system_off())

/* Hashes and key derivation: SHA-256 through the md layer, HMAC-DRBG (RFC 6979 nonces and
 * blinding), HKDF (RFC 5869). */
#define MBEDTLS_SHA256_C
#define MBEDTLS_MD_C
#define MBEDTLS_HMAC_DRBG_C
#define MBEDTLS_HKDF_C

/* Elliptic curves: secp256r1 only, with its fast NIST reduction; bignum underneath. No hidden
 * RNG for blinding: every secret-scalar call passes one (see guests/vcrypto). */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_NO_INTERNAL_RNG
#define MBEDTLS_ECP_MAX_BITS 256

/* Signatures and key agreement: ECDSA with RFC 6979 nonces (it needs ASN.1 for its DER
 * signature helpers), ECDH. */
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_ECDH_C

/* AEAD: ChaCha20-Poly1305 (RFC 8439), not AES-GCM: with no crypto extensions (general registers
 * only) AES is table lookups, whose cache footprint a VM sharing the caches can observe. */
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C

#include "mbedtls/check_config.h"

#endif
