/* cbor.c: the vault's CBOR encoder and item-head decoder (RFC 8949, section 3). */
#include "cbor.h"

#include <string.h>

void cbor_out_init(struct cbor_out *o, uint8_t *buf, size_t size)
{
	*o = (struct cbor_out){ .buf = buf, .size = size };
}

void cbor_raw(struct cbor_out *o, const void *p, size_t n)
{
	if (o->overflow || n > o->size - o->len) {
		o->overflow = true;
		return;
	}
	if (!n)
		return;
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

/* 3.1: arguments below 24 live in the initial byte; then 1, 2, 4 or 8 bytes, big-endian. */
void cbor_head(struct cbor_out *o, unsigned major, uint64_t arg)
{
	uint8_t b[9];
	unsigned extra = arg < 24 ? 0 : arg <= 0xff ? 1 : arg <= 0xffff ? 2 : arg <= 0xffffffffu ? 4 : 8;
	unsigned ai = extra == 0 ? (unsigned)arg : extra == 1 ? 24 : extra == 2 ? 25 : extra == 4 ? 26 : 27;

	b[0] = (uint8_t)(major << 5 | ai);
	for (unsigned i = 0; i < extra; i++)
		b[1 + i] = (uint8_t)(arg >> (8 * (extra - 1 - i)));
	cbor_raw(o, b, 1 + extra);
}

void cbor_uint(struct cbor_out *o, uint64_t v)
{
	cbor_head(o, CBOR_UINT, v);
}

/* 3.1, major type 1: the argument is -1 - v. */
void cbor_nint(struct cbor_out *o, int64_t v)
{
	cbor_head(o, CBOR_NINT, (uint64_t)(-(v + 1)));
}

void cbor_bstr(struct cbor_out *o, const void *p, size_t n)
{
	cbor_head(o, CBOR_BSTR, n);
	cbor_raw(o, p, n);
}

void cbor_tstr(struct cbor_out *o, const char *s, size_t n)
{
	cbor_head(o, CBOR_TSTR, n);
	cbor_raw(o, s, n);
}

enum cbor_err cbor_read_head(struct cbor_in *in, unsigned *major, uint64_t *arg)
{
	if (!in->left)
		return CBOR_TRUNCATED;
	uint8_t ib = in->p[0];
	unsigned ai = ib & 0x1fu, extra;

	*major = ib >> 5;
	if (ai < 24)
		extra = 0;
	else if (ai <= 27)
		extra = 1u << (ai - 24);
	else if (ai == 31)
		/* 3.2: the break code (major 7) ends an indefinite item, which is never open here. */
		return *major == CBOR_SIMPLE || *major <= CBOR_NINT || *major == CBOR_TAG ?
			CBOR_MALFORMED : CBOR_INDEFINITE;
	else
		return CBOR_MALFORMED; /* 28..30: reserved (3.1) */
	if (in->left - 1 < extra)
		return CBOR_TRUNCATED;
	uint64_t v = extra ? 0 : ai;
	for (unsigned i = 0; i < extra; i++)
		v = v << 8 | in->p[1 + i];
	*arg = v;
	in->p += 1 + extra;
	in->left -= 1 + extra;
	return CBOR_OK;
}

const uint8_t *cbor_read_bytes(struct cbor_in *in, uint64_t n)
{
	if (n > in->left)
		return NULL;
	const uint8_t *p = in->p;
	in->p += n;
	in->left -= (size_t)n;
	return p;
}

const char *cbor_err_text(enum cbor_err e)
{
	return e == CBOR_INDEFINITE ? "indefinite length" : "not CBOR";
}

const char *cbor_read_map(struct cbor_in *in, uint64_t *count)
{
	unsigned major;
	enum cbor_err e = cbor_read_head(in, &major, count);

	if (e != CBOR_OK)
		return cbor_err_text(e);
	return major == CBOR_MAP ? NULL : "not a map";
}

const char *cbor_read_key(struct cbor_in *in, const uint8_t **key, uint64_t *n)
{
	unsigned major;
	enum cbor_err e = cbor_read_head(in, &major, n);

	if (e != CBOR_OK)
		return cbor_err_text(e);
	if (major != CBOR_TSTR)
		return "key not a text string";
	return (*key = cbor_read_bytes(in, *n)) ? NULL : "not CBOR";
}
