/* svcreq.c: decodes and checks a service request's CBOR body; every refusal has its text. */
#include "svcreq.h"

#include <string.h>

#include "cbor.h"

enum kind { NAME, BYTES, UINT };

static const struct {
	const char *name;
	enum kind kind;
	uint64_t max;                   /* bytes, or the largest value (values start at 1) */
} keys[SVC_KEY_COUNT] = {
	[SVC_OP] = { "op", NAME, SVC_NAME_MAX },
	[SVC_SLOT] = { "slot", NAME, SVC_NAME_MAX },
	[SVC_MSG] = { "msg", BYTES, SVC_MSG_MAX },
	[SVC_LICENCE] = { "licence", BYTES, SVC_LICENCE_MAX },
	[SVC_ID] = { "id", NAME, SVC_NAME_MAX },
	[SVC_AMOUNT] = { "amount", UINT, SVC_AMOUNT_MAX },
	[SVC_PAYEE] = { "payee", NAME, SVC_NAME_MAX },
	[SVC_SEQ] = { "seq", UINT, SVC_SEQ_MAX },
};

static char why[96];
static size_t why_len;

static void add(const char *s, size_t n)
{
	for (size_t i = 0; i < n && why_len + 1 < sizeof(why); i++)
		why[why_len++] = s[i];
	why[why_len] = '\0';
}

const char *why_text(const char *a, const uint8_t *name, size_t name_size, const char *b)
{
	why_len = 0;
	add(a, strlen(a));
	add((const char *)name, name_size);
	add(b, strlen(b));
	return why;
}

const char *why_number(const char *a, uint64_t n, const char *b)
{
	char d[20];
	size_t k = 0;

	do
		d[sizeof(d) - 1 - k++] = (char)('0' + n % 10);
	while ((n /= 10) && k < sizeof(d));
	why_len = 0;
	add(a, strlen(a));
	add(d + sizeof(d) - k, k);
	add(b, strlen(b));
	return why;
}

static const char *about(unsigned k, const char *what)
{
	return why_text("", (const uint8_t *)keys[k].name, strlen(keys[k].name), what);
}

bool svc_name_ok(const uint8_t *s, size_t n)
{
	if (n == 0 || n > SVC_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int key_index(const uint8_t *name, uint64_t n)
{
	for (unsigned k = 0; k < SVC_KEY_COUNT; k++)
		if (strlen(keys[k].name) == n && memcmp(keys[k].name, name, (size_t)n) == 0)
			return (int)k;
	return -1;
}

/* One value, checked against its key's type and bounds. */
static const char *value(struct cbor_in *in, unsigned k, struct svc_field *f)
{
	unsigned major;
	uint64_t n;
	enum cbor_err e = cbor_read_head(in, &major, &n);

	if (e != CBOR_OK)
		return cbor_err_text(e);
	if (keys[k].kind == UINT) {
		if (major != CBOR_UINT)
			return about(k, ": not an unsigned integer");
		if (n == 0)
			return about(k, ": zero");
		if (n > keys[k].max)
			return about(k, ": too large");
		f->value = n;
	} else {
		if (keys[k].kind == NAME && major != CBOR_TSTR)
			return about(k, ": not a text string");
		if (keys[k].kind == BYTES && major != CBOR_BSTR)
			return about(k, ": not a byte string");
		if (!(f->bytes = cbor_read_bytes(in, n)))
			return "not CBOR";
		if (n > keys[k].max)
			return about(k, ": too long");
		if (keys[k].kind == NAME && !svc_name_ok(f->bytes, (size_t)n))
			return about(k, n ? ": not 1 to 16 of A-Z a-z 0-9 . _ -" : ": empty");
		f->size = (size_t)n;
	}
	f->present = true;
	return NULL;
}

const char *svcreq_parse(const uint8_t *body, size_t size, const struct svc_op *ops,
			 unsigned op_count, struct svc_request *out)
{
	struct cbor_in in = { body, size };
	struct svc_request req;
	uint64_t count, n;
	const char *bad;

	memset(&req, 0, sizeof(req));
	if ((bad = cbor_read_map(&in, &count)))
		return bad;
	/* Each pair takes at least two bytes, so a huge count ends at the body's end. */
	for (uint64_t i = 0; i < count; i++) {
		const uint8_t *name;
		if ((bad = cbor_read_key(&in, &name, &n)))
			return bad;
		int k = key_index(name, n);
		if (k < 0)
			return "unknown key";
		if (req.f[k].present)
			return "duplicate key";
		if ((bad = value(&in, (unsigned)k, &req.f[k])))
			return bad;
	}
	if (in.left)
		return "trailing bytes";
	if (!req.f[SVC_OP].present)
		return "no op";
	for (req.op = 0; req.op < op_count; req.op++)
		if (strlen(ops[req.op].name) == req.f[SVC_OP].size &&
		    memcmp(ops[req.op].name, req.f[SVC_OP].bytes, req.f[SVC_OP].size) == 0)
			break;
	if (req.op == op_count)
		return "unknown op";
	const struct svc_op *op = &ops[req.op];
	for (unsigned k = 1; k < SVC_KEY_COUNT; k++) {
		if ((op->required & SVC_BIT(k)) && !req.f[k].present)
			return about(k, " missing");
		if (req.f[k].present && !((op->required | op->optional) & SVC_BIT(k)))
			return about(k, " not used by this op");
	}
	*out = req;
	return NULL;
}
