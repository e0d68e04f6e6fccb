/* fuzz_vaultreq.c: the vault's attestation request parser (guests/vault/request.c over cbor.c),
 * built for the host: any body gives either a nonce of 8 to 64 bytes inside the body, or one of
 * the refusals docs/vault.md lists, never a read outside the body (ASan) or undefined
 * behaviour (UBSan). A body the parser accepts must also be what the encoder writes for it, up
 * to the head forms: re-encoding the nonce and parsing that gives the same nonce. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor.h"
#include "fuzz.h"
#include "request.h"

static const char *const refusals[] = {
	"not CBOR", "indefinite length", "not a map", "key not a text string", "unknown key",
	"duplicate key", "nonce not a byte string", "nonce too short", "nonce too long",
	"trailing bytes", "no nonce",
};

static void check_refusal(const char *why)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (strcmp(why, refusals[i]) == 0)
			return;
	fprintf(stderr, "fuzz_vaultreq: undocumented refusal \"%s\"\n", why);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly `size` bytes, so ASan sees a read one past the body. */
	uint8_t *body = malloc(size ? size : 1);
	struct request req;

	memcpy(body, data, size);
	const char *why = request_parse(body, size, &req);
	if (why) {
		check_refusal(why);
		free(body);
		return 0;
	}
	if (req.nonce < body || req.nonce + req.nonce_size > body + size ||
	    req.nonce_size < REQUEST_NONCE_MIN || req.nonce_size > REQUEST_NONCE_MAX)
		abort();
	uint8_t again[128];
	struct cbor_out o;
	struct request back;
	cbor_out_init(&o, again, sizeof(again));
	cbor_head(&o, CBOR_MAP, 1);
	cbor_tstr(&o, "nonce", 5);
	cbor_bstr(&o, req.nonce, req.nonce_size);
	if (o.overflow || request_parse(again, o.len, &back) != NULL ||
	    back.nonce_size != req.nonce_size || memcmp(back.nonce, req.nonce, req.nonce_size) != 0)
		abort();
	free(body);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}
