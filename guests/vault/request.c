/* request.c: decodes and checks an attestation request's CBOR body; every refusal has its text. */
#include "request.h"

#include <string.h>

#include "cbor.h"

/* The only key there is. A request that names another is refused rather than half-read: a
 * client that sends something new learns at once that this vault does not know it. */
static const char nonce_key[] = "nonce";

const char *request_parse(const uint8_t *body, size_t size, struct request *req)
{
	struct cbor_in in = { body, size };
	unsigned major;
	uint64_t count, n;
	enum cbor_err e;
	const uint8_t *nonce = NULL, *key;
	size_t nonce_size = 0;
	const char *bad = cbor_read_map(&in, &count);

	if (bad)
		return bad;
	/* Each pair takes at least two bytes, so a huge count ends at the body's end. */
	for (uint64_t i = 0; i < count; i++) {
		if ((bad = cbor_read_key(&in, &key, &n)))
			return bad;
		if (n != sizeof(nonce_key) - 1 || memcmp(key, nonce_key, sizeof(nonce_key) - 1) != 0)
			return "unknown key";
		if (nonce)
			return "duplicate key";
		if ((e = cbor_read_head(&in, &major, &n)) != CBOR_OK)
			return cbor_err_text(e);
		if (major != CBOR_BSTR)
			return "nonce not a byte string";
		if (!(nonce = cbor_read_bytes(&in, n)))
			return "not CBOR";
		if (n < REQUEST_NONCE_MIN)
			return "nonce too short";
		if (n > REQUEST_NONCE_MAX)
			return "nonce too long";
		nonce_size = (size_t)n;
	}
	if (in.left)
		return "trailing bytes";
	if (!nonce)
		return "no nonce";
	req->nonce = nonce;
	req->nonce_size = nonce_size;
	return NULL;
}
