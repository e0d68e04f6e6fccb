/* request.h: the body of an attestation request (docs/vault.md, "The protocol"): a CBOR map
 * {"nonce": bstr} and nothing else. Portable C, like cbor.h (tests/fuzz/fuzz_vaultreq.c). */
#ifndef VAULT_REQUEST_H
#define VAULT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

/* RFC 9711, 4.1: an eat_nonce has 8 to 64 bytes. */
#define REQUEST_NONCE_MIN 8u
#define REQUEST_NONCE_MAX 64u

struct request {
	const uint8_t *nonce; /* into the body that was parsed */
	size_t nonce_size;
};

/* NULL with *req filled in, or the refusal's text (docs/vault.md, "Errors"); checks all of the
 * body and changes nothing else. */
const char *request_parse(const uint8_t *body, size_t size, struct request *req);

#endif
