/* vault.h: the vault's modules: its device key, tokens, the attestation and echo services. */
#ifndef VAULT_H
#define VAULT_H

#include "guest.h"
#include "request.h"

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
		   const uint8_t hv_measurement[SHA256_SIZE]);

/* ---- attest.c: the attestation service on vsock port 5000 ---- */
#define ATTEST_PORT 5000u
bool attest_start(void);                /* after vsock_init; false if it cannot listen */
void attest_serve(void);                /* new streams and every stream's progress; never blocks */
uint64_t attest_deadline(void);         /* the earliest request deadline, 0 if none */

/* ---- echo.c: the echo service on vsock port 5100 ---- */
#define ECHO_PORT 5100u
bool echo_start(void);
void echo_serve(void);

#endif
