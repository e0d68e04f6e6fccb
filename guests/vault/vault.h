/* vault.h: the vault's modules: its device key, tokens, the stream server, the attestation,
 * keystore, DRM, wallet and echo services, and their sealed store on the vault-data disk. */
#ifndef VAULT_H
#define VAULT_H

#include "guest.h"
#include "cbor.h"
#include "request.h"
#include "svcreq.h"

#define SHA256_SIZE 32u
#define PUB_SIZE 65u                    /* an uncompressed P-256 point: 04 || x || y */
#define UEID_SIZE 33u                   /* RFC 9711 4.2.1: type 0x01 (RAND) and 32 bytes */
#define SIG_SIZE 64u                    /* COSE ES256: r || s, 32 bytes each (RFC 9053, 2.1) */

/* ---- devkey.c: the device attestation key, from the vault's sealing key "device-key" ---- */
enum devkey_state { DEVKEY_NONE, DEVKEY_NO_SECRET, DEVKEY_FAILED, DEVKEY_READY };
enum devkey_state devkey_init(void);    /* once, at boot; prints what it found */
enum devkey_state devkey_state(void);
const uint8_t *devkey_public(void);     /* PUB_SIZE bytes (DEVKEY_READY only) */
const uint8_t *devkey_ueid(void);       /* UEID_SIZE bytes: 0x01 || SHA-256(public key) */
/* RFC 6979 ECDSA of a SHA-256 digest, as r || s; false if Mbed TLS failed. */
bool devkey_sign(const uint8_t hash[SHA256_SIZE], uint8_t sig[SIG_SIZE]);
/* ECDH with the device key: the shared x coordinate; false for a point not on P-256. */
bool devkey_ecdh(const uint8_t peer[PUB_SIZE], uint8_t shared[SHA256_SIZE]);
/* SHA-256 over two pieces (Mbed TLS's). */
void devkey_sha256(const void *a, size_t a_size, const void *b, size_t b_size,
		   uint8_t out[SHA256_SIZE]);

/* ---- token.c: the EAT (RFC 9711) as a COSE_Sign1 (RFC 9052), docs/vault.md "The token" ---- */
#define TOKEN_MAX 400u                  /* the largest token is 297 bytes (a 64-byte nonce) */
struct caller {
	uint64_t cid;
	char name[PV_NAME_SIZE + 1];
	uint8_t measurement[SHA256_SIZE];
};
/* The signed token for this request and caller in out; its size, or 0 if signing failed. */
size_t token_build(uint8_t out[TOKEN_MAX], const struct request *req, const struct caller *c,
		   const uint8_t hv_measurement[SHA256_SIZE], const uint64_t *boot_count);
/* A COSE_Sign1 (ES256, the device key) of `payload` into o; false if signing failed. */
bool token_sign1(struct cbor_out *o, const uint8_t *payload, size_t payload_size);
/* SHA-256 of the RFC 9052 Sig_structure of an ES256 COSE_Sign1 over payload; false if the
 * payload is too long to describe. */
bool cose_sign1_hash(const uint8_t *payload, size_t payload_size, uint8_t hash[SHA256_SIZE]);

/* ---- crypto.c: P-256, HKDF/HMAC-SHA256, ChaCha20-Poly1305 for the services ---- */
#define AEAD_NONCE_SIZE 12u
#define AEAD_TAG_SIZE 16u
bool crypto_init(const uint8_t seed[32]);           /* after devkey_init (its heap) */
bool crypto_hkdf(const uint8_t *ikm, size_t ikm_size, const void *info, size_t info_size,
		 uint8_t *out, size_t out_size);     /* RFC 5869, no salt */
bool crypto_hmac(const uint8_t key[32], const void *a, size_t a_size, const void *b,
		 size_t b_size, uint8_t out[SHA256_SIZE]);
/* A key pair from HKDF(ikm, info), by FIPS 186-4 B.4.1 as the device key. */
bool crypto_p256_derive(const uint8_t ikm[32], const void *info, size_t info_size,
			uint8_t d[32], uint8_t pub[PUB_SIZE]);
bool crypto_p256_sign(const uint8_t d[32], const uint8_t hash[SHA256_SIZE], uint8_t sig[SIG_SIZE]);
bool crypto_p256_verify(const uint8_t pub[PUB_SIZE], const uint8_t hash[SHA256_SIZE],
			const uint8_t sig[SIG_SIZE]);
bool crypto_aead_seal(const uint8_t key[32], const uint8_t nonce[AEAD_NONCE_SIZE],
		      const uint8_t *aad, size_t aad_size, const uint8_t *in, size_t size,
		      uint8_t *out, uint8_t tag[AEAD_TAG_SIZE]);
bool crypto_aead_open(const uint8_t key[32], const uint8_t nonce[AEAD_NONCE_SIZE],
		      const uint8_t *aad, size_t aad_size, const uint8_t *in, size_t size,
		      const uint8_t tag[AEAD_TAG_SIZE], uint8_t *out);

/* ---- server.c: framed CBOR requests and answers on vsock, for every service below ---- */
#define SERVICE_REQUEST_MAX 512u        /* body bytes, the most any service takes */
#define SERVICE_ANSWER_MAX 512u
struct service {
	const char *name;               /* in its log lines: "vault: NAME: refused cid C: TEXT" */
	uint32_t port;
	uint32_t request_max;           /* body bytes, at most SERVICE_REQUEST_MAX */
	unsigned per_cid_max;           /* streams one peer may hold on this port */
	/* A whole request body from CID `cid`: its answer's CBOR into o and NULL, or the
	 * refusal's text (o is then dropped). */
	const char *(*handle)(const uint8_t *body, uint32_t size, uint64_t cid, struct cbor_out *o);
	unsigned refused;
};
bool server_listen(struct service *s);  /* after vsock_init; false if it cannot listen */
void server_bench(void);                /* `vault.bench=1`: print each request's cost (PMU) */
void server_serve(void);                /* new streams and every stream's progress; never blocks */
uint64_t server_deadline(void);         /* the earliest request deadline, 0 if none */
/* Who is calling: the VM the hypervisor says has this CID (PV_MEASUREMENT); false if none. */
bool caller_of(uint64_t cid, struct caller *who);

/* ---- attest.c: the attestation service on vsock port 5000 ---- */
#define ATTEST_PORT 5000u
bool attest_start(void);                /* after vsock_init; false if it cannot listen */

/* ---- store.c: a service's records, sealed on the vault-data disk, with a rollback counter ---- */
enum store_state { STORE_UNAVAILABLE, STORE_REFUSED, STORE_READY };
struct store {
	const char *name;               /* "keystore", "drm", "wallet" */
	uint8_t id;                     /* 1.. : its area on the disk and in the image's header */
	uint32_t counter;               /* its PV_COUNTER index */
	void *records;                  /* the plaintext, in RAM */
	uint32_t records_size;
	enum store_state state;
	const char *why;                /* not READY: the refusal's text */
	uint64_t value;                 /* READY: the counter's value, the current copy's */
	int current;                    /* the copy that holds it (0, 1), -1 for none yet */
};
void store_init(void);                  /* once: the disk and the sealing key */
void store_load(struct store *s);       /* at boot: prints what it found */
/* `records` (records_size bytes) becomes the store's content, sealed with counter value + 1,
 * then the counter moves on; NULL, or why nothing changed. */
const char *store_commit(struct store *s, const void *records);
const char *counter_error(int64_t e);   /* PV_COUNTER's error in words */
/* The service's own secret for its labels: HKDF of the sealing key "vault-data". */
bool store_secret(const char *info, uint8_t out[32]);

/* ---- keystore.c, drm.c, wallet.c: the trusted services on ports 5001..5003 ---- */
#define KEYSTORE_PORT 5001u
#define DRM_PORT 5002u
#define WALLET_PORT 5003u
bool keystore_start(void);
bool drm_start(const char *bootargs);   /* the provider's key: `drm-provider=<130 hex>` */
bool wallet_start(void);
/* The caller's name as a record's owner: 16 bytes, NUL-padded. */
void owner_of(const struct caller *who, uint8_t owner[PV_NAME_SIZE]);
/* The start of every service request (server.c): the body parsed against the service's ops,
 * the caller known (who, and its owner bytes) and the service's store readable; NULL, or the
 * refusal's text. */
struct svc_op;
struct svc_request;
const char *service_begin(const uint8_t *body, uint32_t size, const struct svc_op *ops,
			  unsigned op_count, uint64_t cid, const struct store *s,
			  struct svc_request *req, struct caller *who, uint8_t owner[PV_NAME_SIZE]);

/* ---- echo.c: the echo service on vsock port 5100 ---- */
#define ECHO_PORT 5100u
bool echo_start(void);
void echo_serve(void);

#endif
