/* vcrypto: proves Mbed TLS (Debian's source, guests/vault/mbedtls.mk) works bare-metal: from a
 * fixed seed it derives P-256 keys with HKDF-SHA256, signs with RFC 6979 ECDSA, agrees a secret by
 * ECDH and seals with ChaCha20-Poly1305; tests/system/test_vcrypto.py redoes each step on the host. */
#include "guest.h"

#include "mbedtls/chachapoly.h"
#include "mbedtls/ecdh.h"
#include "mbedtls/ecdsa.h"
#include "mbedtls/hkdf.h"
#include "mbedtls/hmac_drbg.h"
#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/platform.h"

#define SCALAR_SIZE 32u                         /* P-256: n, d, r, s, x and y are 32 bytes */
#define PUB_SIZE (1u + 2u * SCALAR_SIZE)        /* uncompressed point: 04 || x || y */
/* FIPS 186-4 B.4.1 (key pair from extra random bits): 64 bits more than n, then
 * d = c mod (n - 1) + 1, which is in [1, n-1] with a bias of at most 2^-64. */
#define OKM_SIZE (SCALAR_SIZE + 8u)
#define HEAP_SIZE (32u * 1024u)
#define HEAP_FILL 0xa5u

/* Everything below is fixed, so every run prints the same lines; the test has the same values. */
static const uint8_t seed[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const char device_info[] = "pocketvisor vault device key";
static const char peer_info[] = "pocketvisor vcrypto peer key";
static const char blind_info[] = "pocketvisor vcrypto blinding";
static const char aead_info[] = "pocketvisor vcrypto aead key";
static const char message[] = "pocketvisor vcrypto: sign me";
static const char aad[] = "vcrypto aad";
static const char plaintext[] = "the vault keeps its secrets";
static const uint8_t nonce[12] = { 'v', 'c', 'r', 'y', 'p', 't', 'o', 'n', 'o', 'n', 'c', 'e' };

static uint8_t heap[HEAP_SIZE] __attribute__((aligned(16)));

struct key {
	mbedtls_mpi d;
	mbedtls_ecp_point q;
};

/* Any failure ends the run with the call that failed and Mbed TLS's error code. */
static void check(int ret, const char *what)
{
	if (ret == 0)
		return;
	printf("vcrypto: FAIL %s: -0x%x\n", what, (unsigned)-ret);
	psci_system_off();
	for (;;)
		wfi();
}

static void print_hex(const char *label, const uint8_t *b, size_t n)
{
	printf("vcrypto: %s ", label);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static uint64_t ticks_since(uint64_t start) { return timer_now() - start; }

/* ---- the heap: one static buffer, and its high-water mark ---- */

/* Everything past the first block's header is filled with HEAP_FILL. The allocator (first fit,
 * from the low end) zeroes what it hands out and writes headers only where blocks start, so the
 * last byte no longer HEAP_FILL bounds all it ever used, headers included. */
static void heap_init(void)
{
	mbedtls_memory_buffer_alloc_init(heap, sizeof(heap));
	uint8_t *first = mbedtls_calloc(1, 1); /* right after the first header */
	if (!first)
		check(-1, "heap_init");
	size_t used = (size_t)(first - heap);
	mbedtls_free(first);
	memset(heap + used, HEAP_FILL, sizeof(heap) - used);
}

static size_t heap_peak(void)
{
	size_t n = sizeof(heap);
	while (n && heap[n - 1] == HEAP_FILL)
		n--;
	return n;
}

/* ---- keys ---- */

static void hkdf(const uint8_t *ikm, size_t ikm_size, const char *info, uint8_t *out, size_t size)
{
	/* No salt: RFC 5869 then uses HashLen zero bytes, as the host's HKDF(salt=None) does. */
	check(mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), NULL, 0, ikm, ikm_size,
			   (const uint8_t *)info, strlen(info), out, size), info);
}

/* The private scalar from the seed (FIPS 186-4 B.4.1 on HKDF output) and its public point.
 * `blind` randomizes the scalar multiplication's coordinates, never its result. */
static void key_derive(mbedtls_ecp_group *grp, struct key *k, const char *info,
		       mbedtls_hmac_drbg_context *blind)
{
	uint8_t okm[OKM_SIZE];
	mbedtls_mpi n_minus_1;

	hkdf(seed, sizeof(seed), info, okm, sizeof(okm));
	mbedtls_mpi_init(&n_minus_1);
	check(mbedtls_mpi_read_binary(&k->d, okm, sizeof(okm)), "mpi_read_binary");
	check(mbedtls_mpi_sub_int(&n_minus_1, &grp->N, 1), "mpi_sub_int");
	check(mbedtls_mpi_mod_mpi(&k->d, &k->d, &n_minus_1), "mpi_mod_mpi");
	check(mbedtls_mpi_add_int(&k->d, &k->d, 1), "mpi_add_int");
	check(mbedtls_ecp_mul(grp, &k->q, &k->d, &grp->G, mbedtls_hmac_drbg_random, blind),
	      "ecp_mul");
	mbedtls_mpi_free(&n_minus_1);
	mbedtls_platform_zeroize(okm, sizeof(okm));
}

static void key_print(const mbedtls_ecp_group *grp, const struct key *k, const char *label)
{
	uint8_t pub[PUB_SIZE];
	size_t len;

	check(mbedtls_ecp_point_write_binary(grp, &k->q, MBEDTLS_ECP_PF_UNCOMPRESSED, &len, pub,
					     sizeof(pub)), "ecp_point_write_binary");
	print_hex(label, pub, len);
}

/* ---- the four proofs ---- */

/* RFC 6979: the nonce comes from the key and the hash, so the signature is reproducible. */
static void sign(mbedtls_ecp_group *grp, const struct key *k, mbedtls_hmac_drbg_context *blind)
{
	uint8_t hash[32], sig[2 * SCALAR_SIZE];
	mbedtls_mpi r, s;

	check(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const uint8_t *)message,
			 strlen(message), hash), "sha256");
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	check(mbedtls_ecdsa_sign_det_ext(grp, &r, &s, &k->d, hash, sizeof(hash), MBEDTLS_MD_SHA256,
					 mbedtls_hmac_drbg_random, blind), "ecdsa_sign_det_ext");
	check(mbedtls_ecdsa_verify(grp, hash, sizeof(hash), &k->q, &r, &s), "ecdsa_verify");
	check(mbedtls_mpi_write_binary(&r, sig, SCALAR_SIZE), "mpi_write_binary r");
	check(mbedtls_mpi_write_binary(&s, sig + SCALAR_SIZE, SCALAR_SIZE), "mpi_write_binary s");
	print_hex("sig", sig, sizeof(sig));
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
}

/* Both sides of the exchange must agree; the shared x-coordinate goes to `secret`. */
static void ecdh(mbedtls_ecp_group *grp, const struct key *a, const struct key *b,
		 mbedtls_hmac_drbg_context *blind, uint8_t secret[SCALAR_SIZE])
{
	mbedtls_mpi za, zb;

	mbedtls_mpi_init(&za);
	mbedtls_mpi_init(&zb);
	check(mbedtls_ecdh_compute_shared(grp, &za, &b->q, &a->d, mbedtls_hmac_drbg_random, blind),
	      "ecdh_compute_shared a");
	check(mbedtls_ecdh_compute_shared(grp, &zb, &a->q, &b->d, mbedtls_hmac_drbg_random, blind),
	      "ecdh_compute_shared b");
	if (mbedtls_mpi_cmp_mpi(&za, &zb) != 0)
		check(-1, "ecdh: the two sides disagree");
	check(mbedtls_mpi_write_binary(&za, secret, SCALAR_SIZE), "mpi_write_binary z");
	print_hex("ecdh", secret, SCALAR_SIZE);
	mbedtls_mpi_free(&za);
	mbedtls_mpi_free(&zb);
}

/* Seal and open with a key from the ECDH secret; then one flipped ciphertext bit must be refused. */
static void aead(const uint8_t secret[SCALAR_SIZE])
{
	uint8_t key[32], sealed[sizeof(plaintext) - 1 + 16], opened[sizeof(plaintext) - 1];
	const size_t len = sizeof(plaintext) - 1;
	uint8_t *tag = sealed + len;
	mbedtls_chachapoly_context ctx;

	hkdf(secret, SCALAR_SIZE, aead_info, key, sizeof(key));
	mbedtls_chachapoly_init(&ctx);
	check(mbedtls_chachapoly_setkey(&ctx, key), "chachapoly_setkey");
	check(mbedtls_chachapoly_encrypt_and_tag(&ctx, len, nonce, (const uint8_t *)aad,
						 strlen(aad), (const uint8_t *)plaintext, sealed,
						 tag), "chachapoly_encrypt_and_tag");
	print_hex("sealed", sealed, sizeof(sealed));
	check(mbedtls_chachapoly_auth_decrypt(&ctx, len, nonce, (const uint8_t *)aad, strlen(aad),
					      tag, sealed, opened), "chachapoly_auth_decrypt");
	if (memcmp(opened, plaintext, len) != 0)
		check(-1, "aead: opened text differs");
	printf("vcrypto: aead ok\n");

	sealed[len / 2] ^= 0x01u;
	int ret = mbedtls_chachapoly_auth_decrypt(&ctx, len, nonce, (const uint8_t *)aad,
						  strlen(aad), tag, sealed, opened);
	if (ret != MBEDTLS_ERR_CHACHAPOLY_AUTH_FAILED)
		check(ret ? ret : -1, "aead: tampered text accepted");
	printf("vcrypto: tamper refused\n");
	mbedtls_chachapoly_free(&ctx);
	mbedtls_platform_zeroize(key, sizeof(key));
}

int main(uint64_t boot_arg)
{
	mbedtls_ecp_group grp;
	mbedtls_hmac_drbg_context blind;
	struct key device, peer;
	uint8_t blind_seed[32], secret[SCALAR_SIZE];
	uint64_t t;

	(void)boot_arg;
	printf("vcrypto: mbed tls, p-256, heap %u bytes\n", HEAP_SIZE);
	heap_init();
	mbedtls_ecp_group_init(&grp);
	mbedtls_hmac_drbg_init(&blind);
	mbedtls_mpi_init(&device.d);
	mbedtls_ecp_point_init(&device.q);
	mbedtls_mpi_init(&peer.d);
	mbedtls_ecp_point_init(&peer.q);
	check(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1), "ecp_group_load");
	/* Blinding only needs values an observer cannot predict; none of the outputs depend on
	 * them. This proof has no entropy source, so they come from the seed too. */
	hkdf(seed, sizeof(seed), blind_info, blind_seed, sizeof(blind_seed));
	check(mbedtls_hmac_drbg_seed_buf(&blind, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
					 blind_seed, sizeof(blind_seed)), "hmac_drbg_seed_buf");

	t = timer_now();
	key_derive(&grp, &device, device_info, &blind);
	printf("vcrypto: keygen ticks %lu\n", ticks_since(t));
	key_derive(&grp, &peer, peer_info, &blind);
	key_print(&grp, &device, "pub");
	key_print(&grp, &peer, "peer");

	t = timer_now();
	sign(&grp, &device, &blind);
	printf("vcrypto: sign+verify ticks %lu\n", ticks_since(t));

	t = timer_now();
	ecdh(&grp, &device, &peer, &blind, secret);
	printf("vcrypto: ecdh both sides ticks %lu\n", ticks_since(t));

	t = timer_now();
	aead(secret);
	printf("vcrypto: aead ticks %lu\n", ticks_since(t));

	mbedtls_mpi_free(&device.d);
	mbedtls_ecp_point_free(&device.q);
	mbedtls_mpi_free(&peer.d);
	mbedtls_ecp_point_free(&peer.q);
	mbedtls_hmac_drbg_free(&blind);
	mbedtls_ecp_group_free(&grp);
	printf("vcrypto: heap peak %lu bytes\n", (uint64_t)heap_peak());
	printf("vcrypto: done\n");
	psci_system_off();
	return 0;
}
