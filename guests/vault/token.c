/* token.c: the attestation token (docs/vault.md, "The token"): an EAT claims set (RFC 9711) as
 * the payload of a COSE_Sign1 (RFC 9052, 4.2) signed with ES256 by the device key. Encoded
 * deterministically (RFC 8949, 4.2.1: shortest heads, map keys in bytewise order of their
 * encodings), so a verifier can rebuild any part and compare. */
#include "vault.h"

#include "cbor.h"

/* Claim keys: RFC 9711's, and pocketvisor's own below -65536 (RFC 8392, 9.1: private use). */
#define CLAIM_NONCE 10                  /* eat_nonce, RFC 9711 4.1 */
#define CLAIM_UEID 256                  /* ueid, 4.2.1 */
#define CLAIM_BOOTCOUNT 267             /* bootcount, 4.3.3 */
#define CLAIM_CALLER_NAME (-65537)
#define CLAIM_CALLER_MEASUREMENT (-65538)
#define CLAIM_CALLER_CID (-65539)
#define CLAIM_HV_MEASUREMENT (-65540)
#define CLAIM_LIFECYCLE (-65541)
#define CLAIM_COUNT 7u                  /* and the boot count, when there is one */
#define LIFECYCLE_SECURED 3u            /* the PSA lifecycle's "secured" (docs/vault.md) */

#define COSE_SIGN1_TAG 18u              /* RFC 9052, 2 */

/* The payload at most: 234 bytes (a 64-byte nonce, a 16-character name, a 32-bit CID, a 64-bit
 * boot count). */
#define CLAIMS_MAX 248u

static size_t name_size(const char *name)
{
	size_t n = 0;
	while (n < PV_NAME_SIZE && name[n])
		n++;
	return n;
}

static size_t claims_encode(uint8_t *buf, const struct request *req, const struct caller *c,
			    const uint8_t hv[SHA256_SIZE], const uint64_t *boot_count)
{
	struct cbor_out o;

	cbor_out_init(&o, buf, CLAIMS_MAX);
	cbor_head(&o, CBOR_MAP, CLAIM_COUNT + (boot_count ? 1 : 0));
	cbor_uint(&o, CLAIM_NONCE);
	cbor_bstr(&o, req->nonce, req->nonce_size);
	cbor_uint(&o, CLAIM_UEID);
	cbor_bstr(&o, devkey_ueid(), UEID_SIZE);
	if (boot_count) { /* 19 01 0b sorts after ueid's 19 01 00, before the negative keys */
		cbor_uint(&o, CLAIM_BOOTCOUNT);
		cbor_uint(&o, *boot_count);
	}
	cbor_nint(&o, CLAIM_CALLER_NAME);
	cbor_tstr(&o, c->name, name_size(c->name));
	cbor_nint(&o, CLAIM_CALLER_MEASUREMENT);
	cbor_bstr(&o, c->measurement, SHA256_SIZE);
	cbor_nint(&o, CLAIM_CALLER_CID);
	cbor_uint(&o, c->cid);
	cbor_nint(&o, CLAIM_HV_MEASUREMENT);
	cbor_bstr(&o, hv, SHA256_SIZE);
	cbor_nint(&o, CLAIM_LIFECYCLE);
	cbor_uint(&o, LIFECYCLE_SECURED);
	return o.overflow ? 0 : o.len;
}

/* The protected header, {1 (alg): -7 (ES256)}, as the bstr's content. */
static const uint8_t protected_hdr[] = { 0xa1, 0x01, 0x26 };

bool cose_sign1_hash(const uint8_t *payload, size_t payload_size, uint8_t hash[SHA256_SIZE])
{
	uint8_t tbs[32];
	struct cbor_out o;

	/* RFC 9052 4.4: Sig_structure = ["Signature1", protected, external_aad = h'', payload];
	 * hashed as its head and the payload, without a copy of the payload. */
	cbor_out_init(&o, tbs, sizeof(tbs));
	cbor_head(&o, CBOR_ARRAY, 4);
	cbor_tstr(&o, "Signature1", 10);
	cbor_bstr(&o, protected_hdr, sizeof(protected_hdr));
	cbor_bstr(&o, NULL, 0);
	cbor_head(&o, CBOR_BSTR, payload_size);
	if (o.overflow)
		return false;
	devkey_sha256(tbs, o.len, payload, payload_size, hash);
	return true;
}

bool token_sign1(struct cbor_out *out, const uint8_t *payload, size_t payload_size)
{
	uint8_t hash[SHA256_SIZE], sig[SIG_SIZE];

	if (!cose_sign1_hash(payload, payload_size, hash))
		return false;
	if (!devkey_sign(hash, sig))
		return false;
	cbor_head(out, CBOR_TAG, COSE_SIGN1_TAG);
	cbor_head(out, CBOR_ARRAY, 4);
	cbor_bstr(out, protected_hdr, sizeof(protected_hdr));
	cbor_head(out, CBOR_MAP, 0);             /* unprotected: nothing */
	cbor_bstr(out, payload, payload_size);
	cbor_bstr(out, sig, sizeof(sig));
	return !out->overflow;
}

size_t token_build(uint8_t out[TOKEN_MAX], const struct request *req, const struct caller *c,
		   const uint8_t hv_measurement[SHA256_SIZE], const uint64_t *boot_count)
{
	uint8_t claims[CLAIMS_MAX];
	size_t claims_size = claims_encode(claims, req, c, hv_measurement, boot_count);
	struct cbor_out o;

	if (!claims_size)
		return 0;
	cbor_out_init(&o, out, TOKEN_MAX);
	return token_sign1(&o, claims, claims_size) ? o.len : 0;
}
