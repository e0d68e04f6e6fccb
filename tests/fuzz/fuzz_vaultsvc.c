/* fuzz_vaultsvc.c: the vault's service request parser (guests/vault/svcreq.c) and its licence
 * parser (licence.c), built for the host. The first input byte picks the service's table of
 * operations (keystore, DRM, wallet), the rest is the body: either a request whose every
 * present field has its key's type and bounds, inside the body, and whose op needs exactly
 * the fields there, or one of the refusals docs/vault.md lists. A licence field is parsed as a
 * licence too, with the same rules: claims inside the bytes and in range, or a "licence: "
 * refusal. Never a read outside the body (ASan) or undefined behaviour (UBSan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor.h"
#include "fuzz.h"
#include "licence.h"
#include "svcreq.h"

#define B SVC_BIT
static const struct svc_op keystore[] = {
	{ "create", B(SVC_SLOT), 0 }, { "pub", B(SVC_SLOT), 0 },
	{ "sign", B(SVC_SLOT) | B(SVC_MSG), 0 }, { "delete", B(SVC_SLOT), 0 },
};
static const struct svc_op drm[] = {
	{ "install", B(SVC_LICENCE), 0 }, { "play", B(SVC_ID), 0 }, { "info", B(SVC_ID), 0 },
};
static const struct svc_op wallet[] = {
	{ "topup", B(SVC_AMOUNT), 0 }, { "pay", B(SVC_AMOUNT) | B(SVC_PAYEE), B(SVC_SEQ) },
	{ "balance", 0, 0 }, { "receipt", B(SVC_SEQ), 0 },
};
static const struct {
	const struct svc_op *ops;
	unsigned count;
} tables[] = { { keystore, 4 }, { drm, 3 }, { wallet, 4 } };

static const char *const fixed[] = {
	"not CBOR", "indefinite length", "not a map", "key not a text string", "unknown key",
	"duplicate key", "trailing bytes", "no op", "unknown op",
};
static const char *const per_key[] = {
	": not an unsigned integer", ": zero", ": too large", ": not a text string",
	": not a byte string", ": too long", ": not 1 to 16 of A-Z a-z 0-9 . _ -", ": empty",
	" missing", " not used by this op",
};
static const char *const keys[] = { "op", "slot", "msg", "licence", "id", "amount", "payee", "seq" };

static void check_refusal(const char *why)
{
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!strcmp(why, fixed[i]))
			return;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		size_t n = strlen(keys[k]);
		if (strncmp(why, keys[k], n))
			continue;
		for (size_t i = 0; i < sizeof(per_key) / sizeof(per_key[0]); i++)
			if (!strcmp(why + n, per_key[i]))
				return;
	}
	fprintf(stderr, "fuzz_vaultsvc: undocumented refusal \"%s\"\n", why);
	abort();
}

static bool inside(const uint8_t *p, size_t n, const uint8_t *body, size_t size)
{
	return p >= body && n <= size && p + n <= body + size;
}

static void check_licence(const uint8_t *p, size_t size)
{
	struct licence l;
	const char *why = licence_parse(p, size, &l);

	if (why) {
		FUZZ_ASSERT(!strncmp(why, "licence: ", 9));
		return;
	}
	FUZZ_ASSERT(inside(l.payload, l.payload_size, p, size) && inside(l.sig, 64, p, size));
	FUZZ_ASSERT(inside(l.id, l.id_size, p, size) && svc_name_ok(l.id, l.id_size));
	FUZZ_ASSERT(inside(l.vm, l.vm_size, p, size) && svc_name_ok(l.vm, l.vm_size));
	FUZZ_ASSERT(inside(l.epk, LICENCE_EPK_SIZE, p, size) && l.epk[0] == 0x04);
	FUZZ_ASSERT(inside(l.wrapped, l.wrapped_size, p, size));
	FUZZ_ASSERT(l.wrapped_size >= LICENCE_KEY_MIN + LICENCE_TAG_SIZE &&
		    l.wrapped_size <= LICENCE_KEY_MAX + LICENCE_TAG_SIZE);
	FUZZ_ASSERT(l.plays >= 1 && l.plays <= LICENCE_PLAYS_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	unsigned t = data[0] % 3;
	/* A copy of exactly the body, so ASan sees a read one past it. */
	size_t n = size - 1;
	uint8_t *body = malloc(n ? n : 1);
	struct svc_request req;

	memcpy(body, data + 1, n);
	const char *why = svcreq_parse(body, n, tables[t].ops, tables[t].count, &req);
	if (why) {
		check_refusal(why);
	} else {
		const struct svc_op *op = &tables[t].ops[req.op];
		FUZZ_ASSERT(req.op < tables[t].count && req.f[SVC_OP].present);
		for (unsigned k = 1; k < SVC_KEY_COUNT; k++) {
			const struct svc_field *f = &req.f[k];
			if (op->required & SVC_BIT(k))
				FUZZ_ASSERT(f->present);
			if (f->present)
				FUZZ_ASSERT((op->required | op->optional) & SVC_BIT(k));
			if (f->present && f->bytes)
				FUZZ_ASSERT(inside(f->bytes, f->size, body, n));
		}
		if (req.f[SVC_SLOT].present)
			FUZZ_ASSERT(svc_name_ok(req.f[SVC_SLOT].bytes, req.f[SVC_SLOT].size));
		if (req.f[SVC_MSG].present)
			FUZZ_ASSERT(req.f[SVC_MSG].size <= SVC_MSG_MAX);
		if (req.f[SVC_AMOUNT].present)
			FUZZ_ASSERT(req.f[SVC_AMOUNT].value >= 1 &&
				    req.f[SVC_AMOUNT].value <= SVC_AMOUNT_MAX);
		if (req.f[SVC_LICENCE].present)
			check_licence(req.f[SVC_LICENCE].bytes, req.f[SVC_LICENCE].size);
	}
	/* The body as a licence of its own, too: the parser sees more shapes that way. */
	check_licence(body, n);
	free(body);
	return 0;
}
