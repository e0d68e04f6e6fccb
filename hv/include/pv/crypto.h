/* crypto.h: what EL2 computes itself (docs/attestation.md): SHA-256 (FIPS 180-4), HMAC-SHA256
 * (RFC 2104) and one block of HKDF-Expand (RFC 5869). Nothing asymmetric: that is the vault's. Shared with
 * pvpack, which computes the same measurements on the host. */
#ifndef PV_CRYPTO_H
#define PV_CRYPTO_H

#include <pv/types.h>

#define SHA256_SIZE 32u
#define SHA256_BLOCK 64u

struct sha256 {
	u32 h[8];
	u64 len; /* bytes so far */
	u8 buf[SHA256_BLOCK];
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, u64 n);
void sha256_final(struct sha256 *s, u8 out[SHA256_SIZE]);
void sha256(const void *p, u64 n, u8 out[SHA256_SIZE]);

/* HMAC-SHA256 over the message a || b, with a key of at most one block (every key EL2 uses
 * is 32 bytes). */
void hmac(const u8 *key, u32 key_len, const void *a, u64 a_len, const void *b, u64 b_len,
	  u8 out[SHA256_SIZE]);

/* HKDF-Expand (RFC 5869 2.3) of one block: the 32-byte key for info from the pseudorandom key
 * prk (longer outputs are not needed at EL2). */
void hkdf_expand32(const u8 prk[SHA256_SIZE], const void *info, u32 info_len, u8 out[SHA256_SIZE]);

/* The compression function over n whole blocks with the Armv8 SHA-2 instructions; false, with
 * nothing done, on a core without them (ID_AA64ISAR0_EL1.SHA2). The host build has none. */
bool arch_sha256_blocks(u32 h[8], const u8 *p, u64 n);

/* Overwrites n bytes where the compiler may not leave it out (secrets going out of scope). */
void secure_zero(void *p, u64 n);

#endif
