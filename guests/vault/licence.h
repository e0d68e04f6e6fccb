/* licence.h: a DRM licence as a content provider issues it (docs/vault.md, "DRM licences";
 * tools/pvlicence): a COSE_Sign1 (RFC 9052 4.2, ES256) over a CBOR map of uint keys. The content
 * key in it is wrapped for this device's key (ECDH, HKDF, ChaCha20-Poly1305), so only this
 * vault can release it. Portable C (tests/fuzz/fuzz_vaultsvc.c): the structure only, not the
 * signature or the wrapping, which drm.c checks with Mbed TLS. */
#ifndef VAULT_LICENCE_H
#define VAULT_LICENCE_H

#include <stddef.h>
#include <stdint.h>

#define LICENCE_ID 1u                   /* text: the licence's name, 1..16 of [A-Za-z0-9._-] */
#define LICENCE_PLAYS 2u                /* uint: plays it allows, 1..LICENCE_PLAYS_MAX */
#define LICENCE_VM 3u                   /* text: the VM it is for */
#define LICENCE_EPK 4u                  /* bytes: the provider's ephemeral P-256 key, 65 */
#define LICENCE_WRAPPED 5u              /* bytes: the content key (16..32) and its 16-byte tag */
#define LICENCE_PLAYS_MAX 1000000u
#define LICENCE_EPK_SIZE 65u
#define LICENCE_TAG_SIZE 16u
#define LICENCE_KEY_MIN 16u
#define LICENCE_KEY_MAX 32u

struct licence {
	const uint8_t *id, *vm, *epk, *wrapped;   /* all into the parsed bytes */
	size_t id_size, vm_size, wrapped_size;
	uint64_t plays;
	const uint8_t *payload;                   /* what the signature covers, with the header */
	size_t payload_size;
	const uint8_t *sig;                       /* r || s, 64 bytes */
};

/* NULL with *l filled in, or the refusal's text ("licence: ..."); reads nothing outside. */
const char *licence_parse(const uint8_t *b, size_t size, struct licence *l);

#endif
