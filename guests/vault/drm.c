/* drm.c: DRM licences (vsock port 5002, docs/vault.md, "DRM licences"). A content provider,
 * whose public key the vault's config names (bootargs `drm-provider=`, so it is measured),
 * signs a licence for one VM of this device, with a number of plays and a content key wrapped
 * for the device key. The VM installs it; each play takes one play off and, once that is on
 * the disk, releases the content key; with no plays left, nothing. */
#include "vault.h"

#include "licence.h"
#include "mbedtls/platform_util.h"

#define LICENCES_MAX 16u
#define LICENCES_PER_VM 8u
#define PER_CID_MAX 2u
#define COUNTER 1u
#define PROVIDER_ARG "drm-provider="

struct lic {
	uint8_t used, id_size, key_size, pad;
	uint32_t plays;                 /* left */
	uint8_t owner[PV_NAME_SIZE];
	uint8_t id[SVC_NAME_MAX];
	uint8_t key[LICENCE_KEY_MAX];
};
struct lics {
	struct lic l[LICENCES_MAX];
};

static struct lics live, next;
static struct store store = {
	.name = "drm", .id = 2, .counter = COUNTER, .records = &live, .records_size = sizeof(live),
};
static uint8_t provider[PUB_SIZE];
static bool have_provider;

enum op { INSTALL, PLAY, INFO };
static const struct svc_op ops[] = {
	[INSTALL] = { "install", SVC_BIT(SVC_LICENCE), 0 },
	[PLAY] = { "play", SVC_BIT(SVC_ID), 0 },
	[INFO] = { "info", SVC_BIT(SVC_ID), 0 },
};

static int find(const uint8_t owner[PV_NAME_SIZE], const uint8_t *id, size_t id_size)
{
	for (unsigned i = 0; i < LICENCES_MAX; i++)
		if (live.l[i].used && !memcmp(live.l[i].owner, owner, PV_NAME_SIZE) &&
		    live.l[i].id_size == id_size && !memcmp(live.l[i].id, id, id_size))
			return (int)i;
	return -1;
}

static const char *id_why(const uint8_t *id, size_t id_size, const char *what)
{
	return why_text("licence \"", id, id_size, what);
}

static bool signed_by_provider(const struct licence *l)
{
	uint8_t hash[SHA256_SIZE];

	/* An ES256 COSE_Sign1, as token.c signs (licence.c checked its protected header). */
	if (!cose_sign1_hash(l->payload, l->payload_size, hash))
		return false;
	return crypto_p256_verify(provider, hash, l->sig);
}

/* ECIES: KEK = HKDF-SHA256(ECDH(device key, epk), info = "pocketvisor drm content key"), and
 * the content key opens with ChaCha20-Poly1305 under it, a zero nonce (one KEK per licence:
 * the ephemeral key is new each time) and the licence id as associated data. */
static bool unwrap(const struct licence *l, uint8_t *key)
{
	static const uint8_t zero_nonce[AEAD_NONCE_SIZE];
	uint8_t shared[32], kek[32];
	size_t n = l->wrapped_size - LICENCE_TAG_SIZE;
	bool ok = devkey_ecdh(l->epk, shared) &&
		  crypto_hkdf(shared, sizeof(shared), "pocketvisor drm content key", 27, kek,
			      sizeof(kek)) &&
		  crypto_aead_open(kek, zero_nonce, l->id, l->id_size, l->wrapped, n,
				   l->wrapped + n, key);

	mbedtls_platform_zeroize(shared, sizeof(shared));
	mbedtls_platform_zeroize(kek, sizeof(kek));
	return ok;
}

static const char *install(const uint8_t owner[PV_NAME_SIZE], const char *vm,
			   const struct svc_field *f, struct cbor_out *o)
{
	struct licence l;
	unsigned mine = 0;
	int free_at = -1;
	const char *why = licence_parse(f->bytes, f->size, &l);

	if (why)
		return why;
	if (!have_provider)
		return "no provider key in the vault's config";
	if (!signed_by_provider(&l))
		return "licence: signature does not verify with the provider key";
	if (l.vm_size != strlen(vm) || memcmp(l.vm, vm, l.vm_size))
		return why_text("licence: for vm \"", l.vm, l.vm_size, "\"");
	if (find(owner, l.id, l.id_size) >= 0)
		return id_why(l.id, l.id_size, "\" exists");
	for (unsigned i = 0; i < LICENCES_MAX; i++) {
		mine += live.l[i].used && !memcmp(live.l[i].owner, owner, PV_NAME_SIZE);
		if (!live.l[i].used && free_at < 0)
			free_at = (int)i;
	}
	if (mine >= LICENCES_PER_VM)
		return "licence quota reached (8 per VM)";
	if (free_at < 0)
		return "licence table full";
	next = live;
	struct lic *n = &next.l[free_at];
	memset(n, 0, sizeof(*n));
	if (!unwrap(&l, n->key)) {
		mbedtls_platform_zeroize(&next, sizeof(next));
		return "licence: content key does not unwrap (a licence for another device?)";
	}
	n->used = 1;
	n->id_size = (uint8_t)l.id_size;
	n->key_size = (uint8_t)(l.wrapped_size - LICENCE_TAG_SIZE);
	n->plays = (uint32_t)l.plays;
	memcpy(n->owner, owner, PV_NAME_SIZE);
	memcpy(n->id, l.id, l.id_size);
	why = store_commit(&store, &next);
	mbedtls_platform_zeroize(&next, sizeof(next));
	if (why)
		return why;
	cbor_head(o, CBOR_MAP, 2);
	cbor_tstr(o, "id", 2);
	cbor_tstr(o, (const char *)l.id, l.id_size);
	cbor_tstr(o, "plays", 5);
	cbor_uint(o, l.plays);
	return NULL;
}

/* The key goes out only once the play is counted on the disk and in the counter. */
static const char *play(int i, struct cbor_out *o)
{
	const struct lic *l = &live.l[i];

	if (!l->plays)
		return id_why(l->id, l->id_size, "\": no plays left");
	next = live;
	next.l[i].plays--;
	const char *why = store_commit(&store, &next);
	mbedtls_platform_zeroize(&next, sizeof(next));
	if (why)
		return why;
	cbor_head(o, CBOR_MAP, 3);
	cbor_tstr(o, "id", 2);
	cbor_tstr(o, (const char *)l->id, l->id_size);
	cbor_tstr(o, "key", 3);
	cbor_bstr(o, l->key, l->key_size);
	cbor_tstr(o, "plays", 5);
	cbor_uint(o, l->plays);
	return NULL;
}

static const char *handle(const uint8_t *body, uint32_t size, uint64_t cid, struct cbor_out *o)
{
	struct svc_request req;
	struct caller who;
	uint8_t owner[PV_NAME_SIZE];
	const char *why = service_begin(body, size, ops, sizeof(ops) / sizeof(ops[0]), cid, &store,
					&req, &who, owner);

	if (why)
		return why;
	if (req.op == INSTALL)
		return install(owner, who.name, &req.f[SVC_LICENCE], o);
	const struct svc_field *id = &req.f[SVC_ID];
	int i = find(owner, id->bytes, id->size);
	if (i < 0)
		return id_why(id->bytes, id->size, "\" not found");
	if (req.op == PLAY)
		return play(i, o);
	cbor_head(o, CBOR_MAP, 2);
	cbor_tstr(o, "id", 2);
	cbor_tstr(o, (const char *)live.l[i].id, live.l[i].id_size);
	cbor_tstr(o, "plays", 5);
	cbor_uint(o, live.l[i].plays);
	return NULL;
}

static struct service service = {
	.name = "drm", .port = DRM_PORT, .request_max = SERVICE_REQUEST_MAX,
	.per_cid_max = PER_CID_MAX, .handle = handle,
};

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool starts(const char *s, const char *prefix)
{
	while (*prefix && *s == *prefix)
		s++, prefix++;
	return !*prefix;
}

/* `drm-provider=` and 130 hex digits, an uncompressed P-256 point, anywhere in the bootargs. */
static bool provider_key(const char *args)
{
	size_t klen = sizeof(PROVIDER_ARG) - 1;

	for (const char *w = args; w && *w;) {
		if (starts(w, PROVIDER_ARG)) {
			const char *h = w + klen;
			for (unsigned i = 0; i < PUB_SIZE; i++) {
				int hi = hex_digit(h[2 * i]), lo = hi < 0 ? -1 : hex_digit(h[2 * i + 1]);
				if (hi < 0 || lo < 0)
					return false;
				provider[i] = (uint8_t)(hi << 4 | lo);
			}
			return (h[2 * PUB_SIZE] == ' ' || !h[2 * PUB_SIZE]) && provider[0] == 0x04;
		}
		while (*w && *w != ' ')
			w++;
		while (*w == ' ')
			w++;
	}
	return false;
}

bool drm_start(const char *args)
{
	have_provider = provider_key(args);
	if (have_provider) {
		uint8_t id[SHA256_SIZE];
		devkey_sha256(provider, PUB_SIZE, NULL, 0, id);
		printf("vault: drm: provider key %02x%02x%02x%02x... (sha-256 of the point)\n", id[0],
		       id[1], id[2], id[3]);
	} else {
		printf("vault: drm: no provider key (bootargs drm-provider=): licences are refused\n");
	}
	store_load(&store);
	return server_listen(&service);
}
