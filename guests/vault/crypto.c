/* crypto.c: the services' primitives over Mbed TLS: P-256 keys derived from a secret, ECDSA
 * (RFC 6979) signing and verifying, HKDF and HMAC-SHA256, ChaCha20-Poly1305 (RFC 8439). The
 * device key has its own file (devkey.c); these work on keys the caller holds. */
#include "vault.h"

#include "mbedtls/chachapoly.h"
#include "mbedtls/ecdsa.h"
#include "mbedtls/hkdf.h"
#include "mbedtls/hmac_drbg.h"
#include "mbedtls/md.h"
#include "mbedtls/platform_util.h"

#define SCALAR_SIZE 32u
#define OKM_SIZE (SCALAR_SIZE + 8u)     /* FIPS 186-4 B.4.1, as devkey.c */

static mbedtls_ecp_group grp;
static mbedtls_hmac_drbg_context blind;
static bool ready;

static const mbedtls_md_info_t *sha256_info(void)
{
	return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
}

bool crypto_hkdf(const uint8_t *ikm, size_t ikm_size, const void *info, size_t info_size,
		 uint8_t *out, size_t out_size)
{
	return mbedtls_hkdf(sha256_info(), NULL, 0, ikm, ikm_size, info, info_size, out,
			    out_size) == 0;
}

bool crypto_hmac(const uint8_t key[32], const void *a, size_t a_size, const void *b,
		 size_t b_size, uint8_t out[SHA256_SIZE])
{
	mbedtls_md_context_t ctx;
	int ret;

	mbedtls_md_init(&ctx);
	ret = mbedtls_md_setup(&ctx, sha256_info(), 1) || mbedtls_md_hmac_starts(&ctx, key, 32) ||
	      mbedtls_md_hmac_update(&ctx, a, a_size) || mbedtls_md_hmac_update(&ctx, b, b_size) ||
	      mbedtls_md_hmac_finish(&ctx, out);
	mbedtls_md_free(&ctx);
	return ret == 0;
}

/* Blinding of the scalar multiplications (never their results): the vault has no entropy
 * source, so it comes from a secret, as devkey.c's does, stirred with the counter per use. */
bool crypto_init(const uint8_t seed[32])
{
	mbedtls_ecp_group_init(&grp);
	mbedtls_hmac_drbg_init(&blind);
	ready = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
		mbedtls_hmac_drbg_seed_buf(&blind, sha256_info(), seed, 32) == 0;
	return ready;
}

static void stir(void)
{
	uint64_t now = timer_now();
	mbedtls_hmac_drbg_update_ret(&blind, (const uint8_t *)&now, sizeof(now));
}

bool crypto_p256_derive(const uint8_t ikm[32], const void *info, size_t info_size,
			uint8_t d_out[32], uint8_t pub[PUB_SIZE])
{
	uint8_t okm[OKM_SIZE];
	mbedtls_mpi d, n_minus_1;
	mbedtls_ecp_point q;
	size_t len = 0;
	int ret = -1;

	if (!ready)
		return false;
	mbedtls_mpi_init(&d);
	mbedtls_mpi_init(&n_minus_1);
	mbedtls_ecp_point_init(&q);
	stir();
	if (crypto_hkdf(ikm, 32, info, info_size, okm, sizeof(okm)) &&
	    !(ret = mbedtls_mpi_read_binary(&d, okm, sizeof(okm))) &&
	    !(ret = mbedtls_mpi_sub_int(&n_minus_1, &grp.N, 1)) &&
	    !(ret = mbedtls_mpi_mod_mpi(&d, &d, &n_minus_1)) && !(ret = mbedtls_mpi_add_int(&d, &d, 1)) &&
	    !(ret = mbedtls_ecp_mul(&grp, &q, &d, &grp.G, mbedtls_hmac_drbg_random, &blind)) &&
	    !(ret = mbedtls_ecp_point_write_binary(&grp, &q, MBEDTLS_ECP_PF_UNCOMPRESSED, &len, pub,
						   PUB_SIZE)))
		ret = mbedtls_mpi_write_binary(&d, d_out, SCALAR_SIZE);
	mbedtls_mpi_free(&d);
	mbedtls_mpi_free(&n_minus_1);
	mbedtls_ecp_point_free(&q);
	mbedtls_platform_zeroize(okm, sizeof(okm));
	return ret == 0 && len == PUB_SIZE;
}

bool crypto_p256_sign(const uint8_t d_in[32], const uint8_t hash[SHA256_SIZE], uint8_t sig[SIG_SIZE])
{
	mbedtls_mpi d, r, s;
	int ret;

	if (!ready)
		return false;
	mbedtls_mpi_init(&d);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	stir();
	/* RFC 6979: the nonce comes from the key and the hash alone; blinding is separate. */
	if (!(ret = mbedtls_mpi_read_binary(&d, d_in, SCALAR_SIZE)) &&
	    !(ret = mbedtls_ecdsa_sign_det_ext(&grp, &r, &s, &d, hash, SHA256_SIZE, MBEDTLS_MD_SHA256,
					       mbedtls_hmac_drbg_random, &blind)) &&
	    !(ret = mbedtls_mpi_write_binary(&r, sig, SCALAR_SIZE)))
		ret = mbedtls_mpi_write_binary(&s, sig + SCALAR_SIZE, SCALAR_SIZE);
	mbedtls_mpi_free(&d);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return ret == 0;
}

bool crypto_p256_verify(const uint8_t pub[PUB_SIZE], const uint8_t hash[SHA256_SIZE],
			const uint8_t sig[SIG_SIZE])
{
	mbedtls_ecp_point q;
	mbedtls_mpi r, s;
	int ret;

	if (!ready)
		return false;
	mbedtls_ecp_point_init(&q);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	/* A point off the curve is refused here (SEC 1 3.2.2), before any arithmetic with it. */
	if (!(ret = mbedtls_ecp_point_read_binary(&grp, &q, pub, PUB_SIZE)) &&
	    !(ret = mbedtls_ecp_check_pubkey(&grp, &q)) &&
	    !(ret = mbedtls_mpi_read_binary(&r, sig, SCALAR_SIZE)) &&
	    !(ret = mbedtls_mpi_read_binary(&s, sig + SCALAR_SIZE, SCALAR_SIZE)))
		ret = mbedtls_ecdsa_verify(&grp, hash, SHA256_SIZE, &q, &r, &s);
	mbedtls_ecp_point_free(&q);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return ret == 0;
}

bool crypto_aead_seal(const uint8_t key[32], const uint8_t nonce[AEAD_NONCE_SIZE],
		      const uint8_t *aad, size_t aad_size, const uint8_t *in, size_t size,
		      uint8_t *out, uint8_t tag[AEAD_TAG_SIZE])
{
	mbedtls_chachapoly_context ctx;
	int ret;

	mbedtls_chachapoly_init(&ctx);
	ret = mbedtls_chachapoly_setkey(&ctx, key) ||
	      mbedtls_chachapoly_encrypt_and_tag(&ctx, size, nonce, aad, aad_size, in, out, tag);
	mbedtls_chachapoly_free(&ctx);
	return ret == 0;
}

bool crypto_aead_open(const uint8_t key[32], const uint8_t nonce[AEAD_NONCE_SIZE],
		      const uint8_t *aad, size_t aad_size, const uint8_t *in, size_t size,
		      const uint8_t tag[AEAD_TAG_SIZE], uint8_t *out)
{
	mbedtls_chachapoly_context ctx;
	int ret;

	mbedtls_chachapoly_init(&ctx);
	ret = mbedtls_chachapoly_setkey(&ctx, key) ||
	      mbedtls_chachapoly_auth_decrypt(&ctx, size, nonce, aad, aad_size, tag, in, out);
	mbedtls_chachapoly_free(&ctx);
	return ret == 0;
}
