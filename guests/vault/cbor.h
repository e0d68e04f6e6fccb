/* cbor.h: a small CBOR (RFC 8949) encoder and a bounded item-head decoder for the vault: no
 * allocation, no recursion, every length checked against the bytes there are. Portable C, so
 * the host fuzz target (tests/fuzz/fuzz_vaultreq.c) builds it too. */
#ifndef VAULT_CBOR_H
#define VAULT_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Major types (RFC 8949, 3.1). */
#define CBOR_UINT 0u
#define CBOR_NINT 1u
#define CBOR_BSTR 2u
#define CBOR_TSTR 3u
#define CBOR_ARRAY 4u
#define CBOR_MAP 5u
#define CBOR_TAG 6u
#define CBOR_SIMPLE 7u

/* ---- encoding: always the shortest head (RFC 8949, 4.2.1), so an encoding is deterministic.
 * Writing past `size` writes nothing and sets `overflow`; check it once at the end. ---- */
struct cbor_out {
	uint8_t *buf;
	size_t size, len;
	bool overflow;
};

void cbor_out_init(struct cbor_out *o, uint8_t *buf, size_t size);
void cbor_head(struct cbor_out *o, unsigned major, uint64_t arg);
void cbor_uint(struct cbor_out *o, uint64_t v);
void cbor_nint(struct cbor_out *o, int64_t v);          /* v < 0 */
void cbor_bstr(struct cbor_out *o, const void *p, size_t n);
void cbor_tstr(struct cbor_out *o, const char *s, size_t n);
void cbor_raw(struct cbor_out *o, const void *p, size_t n); /* bytes already encoded */

/* ---- decoding: one item head at a time ---- */
struct cbor_in {
	const uint8_t *p;
	size_t left;
};

enum cbor_err {
	CBOR_OK,
	CBOR_TRUNCATED,   /* the head or a string runs past the end */
	CBOR_MALFORMED,   /* additional information 28..30, or a break (0xff) out of place */
	CBOR_INDEFINITE,  /* an indefinite-length string, array or map (additional info 31) */
};

/* The next head: its major type and argument (a length, a count, a value or a tag number; for
 * major 7 the simple value or the float's bits). */
enum cbor_err cbor_read_head(struct cbor_in *in, unsigned *major, uint64_t *arg);
/* The n bytes of a string whose head was just read, or NULL (and nothing taken) if fewer remain. */
const uint8_t *cbor_read_bytes(struct cbor_in *in, uint64_t n);
/* For request parsers (docs/vault.md, "Errors"): a head error in words; a map's head (its pair
 * count into *count); the next key, a text string (its bytes and size). Each answers NULL, or
 * the refusal's text. */
const char *cbor_err_text(enum cbor_err e);
const char *cbor_read_map(struct cbor_in *in, uint64_t *count);
const char *cbor_read_key(struct cbor_in *in, const uint8_t **key, uint64_t *n);

#endif
