/* licence.c: decodes a DRM licence's COSE_Sign1 and claims; every refusal has its text. */
#include "licence.h"

#include <string.h>

#include "cbor.h"
#include "svcreq.h"

#define COSE_SIGN1_TAG 18u
#define SIG_BYTES 64u

static const uint8_t es256[] = { 0xa1, 0x01, 0x26 }; /* {1 (alg): -7 (ES256)} */

/* The next item, if it has this major type: its argument (and for strings, *bytes). */
static bool item(struct cbor_in *in, unsigned want, uint64_t *arg, const uint8_t **bytes)
{
	unsigned major;

	if (cbor_read_head(in, &major, arg) != CBOR_OK || major != want)
		return false;
	if (want == CBOR_BSTR || want == CBOR_TSTR)
		return (*bytes = cbor_read_bytes(in, *arg)) != NULL;
	return true;
}

static const char *claims(const uint8_t *p, size_t size, struct licence *l)
{
	struct cbor_in in = { p, size };
	uint64_t count, key, n;
	const uint8_t *b;
	unsigned seen = 0;

	if (!item(&in, CBOR_MAP, &count, &b))
		return "licence: claims not a map";
	for (uint64_t i = 0; i < count; i++) {
		if (!item(&in, CBOR_UINT, &key, &b))
			return "licence: claim key not an unsigned integer";
		if (key < LICENCE_ID || key > LICENCE_WRAPPED)
			return "licence: unknown claim";
		if (seen & (1u << key))
			return "licence: duplicate claim";
		seen |= 1u << key;
		if (key == LICENCE_PLAYS) {
			if (!item(&in, CBOR_UINT, &n, &b) || n == 0 || n > LICENCE_PLAYS_MAX)
				return "licence: plays not 1 to 1000000";
			l->plays = n;
		} else if (key == LICENCE_ID || key == LICENCE_VM) {
			if (!item(&in, CBOR_TSTR, &n, &b) || !svc_name_ok(b, (size_t)n))
				return key == LICENCE_ID ? "licence: bad id" : "licence: bad vm";
			*(key == LICENCE_ID ? &l->id : &l->vm) = b;
			*(key == LICENCE_ID ? &l->id_size : &l->vm_size) = (size_t)n;
		} else if (key == LICENCE_EPK) {
			if (!item(&in, CBOR_BSTR, &n, &b) || n != LICENCE_EPK_SIZE || b[0] != 0x04)
				return "licence: bad ephemeral key";
			l->epk = b;
		} else {
			if (!item(&in, CBOR_BSTR, &n, &b) || n < LICENCE_KEY_MIN + LICENCE_TAG_SIZE ||
			    n > LICENCE_KEY_MAX + LICENCE_TAG_SIZE)
				return "licence: bad wrapped key";
			l->wrapped = b;
			l->wrapped_size = (size_t)n;
		}
	}
	if (in.left)
		return "licence: trailing bytes in the claims";
	if (seen != 0x3eu) /* keys 1..5 */
		return "licence: a claim is missing";
	return NULL;
}

const char *licence_parse(const uint8_t *p, size_t size, struct licence *out)
{
	struct cbor_in in = { p, size };
	struct licence l;
	uint64_t n;
	const uint8_t *b;
	const char *why;

	memset(&l, 0, sizeof(l));
	if (!item(&in, CBOR_TAG, &n, &b) || n != COSE_SIGN1_TAG || !item(&in, CBOR_ARRAY, &n, &b) ||
	    n != 4)
		return "licence: not a COSE_Sign1";
	if (!item(&in, CBOR_BSTR, &n, &b) || n != sizeof(es256) || memcmp(b, es256, sizeof(es256)))
		return "licence: not ES256";
	if (!item(&in, CBOR_MAP, &n, &b) || n != 0)
		return "licence: unprotected header not empty";
	if (!item(&in, CBOR_BSTR, &n, &l.payload))
		return "licence: no payload";
	l.payload_size = (size_t)n;
	if (!item(&in, CBOR_BSTR, &n, &l.sig) || n != SIG_BYTES)
		return "licence: signature not 64 bytes";
	if (in.left)
		return "licence: trailing bytes";
	if ((why = claims(l.payload, l.payload_size, &l)))
		return why;
	*out = l;
	return NULL;
}
