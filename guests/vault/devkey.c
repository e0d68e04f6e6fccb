/* devkey.c: the device attestation key (docs/vault.md, "The device key"). The vault asks the
 * hypervisor for its sealing key labelled "device-key", which depends on the device secret, the
 * hypervisor's and the vault's measurements; a P-256 key pair comes from it by HKDF-SHA256 and
 * FIPS 186-4 B.4.1, as guests/vcrypto proves against the host. The private scalar never leaves
 * this file. */
#include "vault.h"

#include "mbedtls/ecdh.h"
#include "mbedtls/ecdsa.h"
#include "mbedtls/hkdf.h"
#include "mbedtls/hmac_drbg.h"
#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/platform.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/sha256.h"

#define SCALAR_SIZE 32u
/* B.4.1: 64 bits more than n, then d = c mod (n - 1) + 1, in [1, n-1] with a bias under 2^-64. */
#define OKM_SIZE (SCALAR_SIZE + 8u)
/* Deriving the key and one signature at a time need between 6 and 8 KiB (with 6 KiB signing
 * fails with MBEDTLS_ERR_MPI_ALLOC_FAILED, and the vault refuses with "signing failed"). */
#define HEAP_SIZE (16u * 1024u)

static const char seal_label[] = "device-key";
static const char key_info[] = "pocketvisor vault device key";
static const char blind_info[] = "pocketvisor vault blinding";

static uint8_t heap[HEAP_SIZE] __attribute__((aligned(16)));
static enum devkey_state state;
static mbedtls_ecp_group grp;
static mbedtls_mpi d;
static mbedtls_ecp_point q;
static mbedtls_hmac_drbg_context blind;
static uint8_t pub[PUB_SIZE], ueid[UEID_SIZE];

static const mbedtls_md_info_t *sha256_info(void)
{
	return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
}

void devkey_sha256(const void *a, size_t a_size, const void *b, size_t b_size,
		   uint8_t out[SHA256_SIZE])
{
	mbedtls_sha256_context ctx;

	mbedtls_sha256_init(&ctx);
	mbedtls_sha256_starts_ret(&ctx, 0);
	mbedtls_sha256_update_ret(&ctx, a, a_size);
	mbedtls_sha256_update_ret(&ctx, b, b_size);
	mbedtls_sha256_finish_ret(&ctx, out);
	mbedtls_sha256_free(&ctx);
}

static void print_hex(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

/* The key pair from the 32-byte sealing key. HKDF with no salt (RFC 5869: HashLen zeros). The
 * blinding generator randomizes how the scalar multiplications run, never their results: it is
 * seeded from the seal too (the vault has no entropy source) and stirred before each signature. */
static int derive(const uint8_t seal[PV_KEY_SIZE])
{
	uint8_t okm[OKM_SIZE], seed[32];
	mbedtls_mpi n_minus_1;
	size_t len;
	int ret;

	mbedtls_mpi_init(&n_minus_1);
	if ((ret = mbedtls_hkdf(sha256_info(), NULL, 0, seal, PV_KEY_SIZE,
				(const uint8_t *)blind_info, sizeof(blind_info) - 1, seed,
				sizeof(seed))) ||
	    (ret = mbedtls_hmac_drbg_seed_buf(&blind, sha256_info(), seed, sizeof(seed))) ||
	    (ret = mbedtls_hkdf(sha256_info(), NULL, 0, seal, PV_KEY_SIZE,
				(const uint8_t *)key_info, sizeof(key_info) - 1, okm, sizeof(okm))) ||
	    (ret = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1)) ||
	    (ret = mbedtls_mpi_read_binary(&d, okm, sizeof(okm))) ||
	    (ret = mbedtls_mpi_sub_int(&n_minus_1, &grp.N, 1)) ||
	    (ret = mbedtls_mpi_mod_mpi(&d, &d, &n_minus_1)) ||
	    (ret = mbedtls_mpi_add_int(&d, &d, 1)) ||
	    (ret = mbedtls_ecp_mul(&grp, &q, &d, &grp.G, mbedtls_hmac_drbg_random, &blind)) ||
	    (ret = mbedtls_ecp_point_write_binary(&grp, &q, MBEDTLS_ECP_PF_UNCOMPRESSED, &len, pub,
						  sizeof(pub))))
		goto out;
	if (len != PUB_SIZE)
		ret = -1;
out:
	mbedtls_mpi_free(&n_minus_1);
	mbedtls_platform_zeroize(okm, sizeof(okm));
	mbedtls_platform_zeroize(seed, sizeof(seed));
	return ret;
}

enum devkey_state devkey_init(void)
{
	uint8_t seal[PV_KEY_SIZE];

	mbedtls_memory_buffer_alloc_init(heap, sizeof(heap));
	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	mbedtls_ecp_point_init(&q);
	mbedtls_hmac_drbg_init(&blind);
	int64_t e = pv_seal_key(seal_label, seal);
	if (e == PV_E_NO_SECRET) {
		printf("vault: no device secret: no device key, attestation requests are refused\n");
		return state = DEVKEY_NO_SECRET;
	}
	if (e) {
		printf("vault: sealing key refused (%ld): no device key\n", e);
		return state = DEVKEY_FAILED;
	}
	int ret = derive(seal);
	mbedtls_platform_zeroize(seal, sizeof(seal));
	if (ret) {
		printf("vault: device key derivation failed (-0x%x)\n", (unsigned)-ret);
		return state = DEVKEY_FAILED;
	}
	ueid[0] = 0x01; /* RFC 9711 4.2.1.1: RAND, a random number of 32 bytes */
	devkey_sha256(pub, sizeof(pub), NULL, 0, ueid + 1);
	/* 65 bytes are 130 hex digits, more than one 120-character console line holds: two lines. */
	printf("vault: device key 1/2 ");
	print_hex(pub, 33);
	printf("\nvault: device key 2/2 ");
	print_hex(pub + 33, PUB_SIZE - 33);
	printf("\nvault: device id ");
	print_hex(ueid, UEID_SIZE);
	printf("\n");
	return state = DEVKEY_READY;
}

enum devkey_state devkey_state(void)
{
	return state;
}

const uint8_t *devkey_public(void)
{
	return pub;
}

const uint8_t *devkey_ueid(void)
{
	return ueid;
}

bool devkey_sign(const uint8_t hash[SHA256_SIZE], uint8_t sig[SIG_SIZE])
{
	mbedtls_mpi r, s;
	uint64_t now = timer_now();
	int ret;

	if (state != DEVKEY_READY)
		return false;
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	/* RFC 6979: the nonce comes from the key and the hash alone; blinding is separate. */
	if ((ret = mbedtls_hmac_drbg_update_ret(&blind, (const uint8_t *)&now, sizeof(now))) ||
	    (ret = mbedtls_ecdsa_sign_det_ext(&grp, &r, &s, &d, hash, SHA256_SIZE, MBEDTLS_MD_SHA256,
					      mbedtls_hmac_drbg_random, &blind)) ||
	    (ret = mbedtls_mpi_write_binary(&r, sig, SCALAR_SIZE)) ||
	    (ret = mbedtls_mpi_write_binary(&s, sig + SCALAR_SIZE, SCALAR_SIZE)))
		printf("vault: signing failed (-0x%x)\n", (unsigned)-ret);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return ret == 0;
}

bool devkey_ecdh(const uint8_t peer[PUB_SIZE], uint8_t shared[SHA256_SIZE])
{
	mbedtls_ecp_point p;
	mbedtls_mpi z;
	int ret;

	if (state != DEVKEY_READY)
		return false;
	mbedtls_ecp_point_init(&p);
	mbedtls_mpi_init(&z);
	/* The peer's point is checked to be on the curve first (SEC 1 3.2.2): an invalid-curve
	 * point would make the shared secret leak bits of d. */
	if (!(ret = mbedtls_ecp_point_read_binary(&grp, &p, peer, PUB_SIZE)) &&
	    !(ret = mbedtls_ecp_check_pubkey(&grp, &p)) &&
	    !(ret = mbedtls_ecdh_compute_shared(&grp, &z, &p, &d, mbedtls_hmac_drbg_random, &blind)))
		ret = mbedtls_mpi_write_binary(&z, shared, SCALAR_SIZE);
	mbedtls_ecp_point_free(&p);
	mbedtls_mpi_free(&z);
	return ret == 0;
}
