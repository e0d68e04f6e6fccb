/* svcreq.h: the body of a request to the keystore, DRM and wallet services (docs/vault.md,
 * "Trusted services"): one CBOR map of text keys, "op" naming the operation and the other keys
 * its arguments, each of one type and bounded size. Portable C, like cbor.h
 * (tests/fuzz/fuzz_vaultsvc.c). */
#ifndef VAULT_SVCREQ_H
#define VAULT_SVCREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SVC_NAME_MAX 16u                /* slot, id, payee and op: 1 to 16 of [A-Za-z0-9._-] */
#define SVC_MSG_MAX 256u                /* bytes a keystore key signs */
#define SVC_LICENCE_MAX 400u            /* a licence, COSE_Sign1: pvlicence writes 240 bytes */
#define SVC_AMOUNT_MAX 1000000000000ull /* one payment or top-up, in the wallet's units */
#define SVC_SEQ_MAX 0xffffffffull

enum svc_key { SVC_OP, SVC_SLOT, SVC_MSG, SVC_LICENCE, SVC_ID, SVC_AMOUNT, SVC_PAYEE, SVC_SEQ,
	       SVC_KEY_COUNT };
#define SVC_BIT(k) (1u << (k))

struct svc_field {
	bool present;
	const uint8_t *bytes;           /* a string's bytes, into the parsed body */
	size_t size;
	uint64_t value;                 /* an unsigned integer's */
};

/* One operation a service knows: its name, the keys it needs and those it may have. */
struct svc_op {
	const char *name;
	uint32_t required, optional;    /* SVC_BIT masks, without SVC_OP */
};

struct svc_request {
	unsigned op;                    /* index into the service's table */
	struct svc_field f[SVC_KEY_COUNT];
};

/* NULL with *req filled in, or the refusal's text (docs/vault.md, "Errors"; a static buffer,
 * good until the next call); checks all of the body and changes nothing else. */
const char *svcreq_parse(const uint8_t *body, size_t size, const struct svc_op *ops,
			 unsigned op_count, struct svc_request *req);
/* True if the n bytes are a name: 1 to SVC_NAME_MAX of [A-Za-z0-9._-]. */
bool svc_name_ok(const uint8_t *s, size_t n);

/* ---- refusal texts built from pieces, into one static buffer (no formatting library) ---- */
const char *why_text(const char *a, const uint8_t *name, size_t name_size, const char *b);
const char *why_number(const char *a, uint64_t n, const char *b);

#endif
