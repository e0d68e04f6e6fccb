/* keystore.c: P-256 keys in named slots, for the VM that made them (vsock port 5001,
 * docs/vault.md, "Keystore"). A VM creates a key, reads its public half, signs with it and
 * deletes it; the private half never leaves the vault. Slots are per VM name: another VM's
 * slot of the same name is another key, and no answer says whether it exists. */
#include "vault.h"

#include "mbedtls/platform_util.h"

#define KEYS_MAX 32u
#define KEYS_PER_VM 8u                  /* so one VM cannot fill the table for the others */
#define PER_CID_MAX 2u
#define COUNTER 0u                      /* its PV_COUNTER index */

struct key {
	uint8_t used, slot_size, pad[6];
	uint8_t owner[PV_NAME_SIZE];
	uint8_t slot[SVC_NAME_MAX];
	uint8_t d[32];
	uint8_t pub[PUB_SIZE];
	uint8_t pad2[7];
};
struct keys {
	struct key k[KEYS_MAX];
};

static struct keys live, next;
static struct store store = {
	.name = "keystore", .id = 1, .counter = COUNTER, .records = &live,
	.records_size = sizeof(live),
};
static uint8_t key_secret[32];

enum op { CREATE, PUB, SIGN, DELETE };
static const struct svc_op ops[] = {
	[CREATE] = { "create", SVC_BIT(SVC_SLOT), 0 },
	[PUB] = { "pub", SVC_BIT(SVC_SLOT), 0 },
	[SIGN] = { "sign", SVC_BIT(SVC_SLOT) | SVC_BIT(SVC_MSG), 0 },
	[DELETE] = { "delete", SVC_BIT(SVC_SLOT), 0 },
};

static int find(const struct keys *ks, const uint8_t owner[PV_NAME_SIZE], const struct svc_field *slot)
{
	for (unsigned i = 0; i < KEYS_MAX; i++)
		if (ks->k[i].used && !memcmp(ks->k[i].owner, owner, PV_NAME_SIZE) &&
		    ks->k[i].slot_size == slot->size && !memcmp(ks->k[i].slot, slot->bytes, slot->size))
			return (int)i;
	return -1;
}

static const char *slot_why(const struct svc_field *slot, const char *what)
{
	return why_text("slot \"", slot->bytes, slot->size, what);
}

/* The key is derived, not drawn (the vault has no entropy source): from the keystore's secret,
 * the owner, the slot and the counter value this commit takes the store to, so a slot deleted
 * and made again gets another key. */
static const char *create(const uint8_t owner[PV_NAME_SIZE], const struct svc_field *slot,
			  struct cbor_out *o)
{
	uint8_t info[24 + PV_NAME_SIZE + SVC_NAME_MAX + 8] = "pocketvisor keystore key";
	unsigned mine = 0;
	int free_at = -1;

	if (find(&live, owner, slot) >= 0)
		return slot_why(slot, "\" exists");
	for (unsigned i = 0; i < KEYS_MAX; i++) {
		mine += live.k[i].used && !memcmp(live.k[i].owner, owner, PV_NAME_SIZE);
		if (!live.k[i].used && free_at < 0)
			free_at = (int)i;
	}
	if (mine >= KEYS_PER_VM)
		return "key quota reached (8 per VM)";
	if (free_at < 0)
		return "keystore full";
	next = live;
	struct key *k = &next.k[free_at];
	memset(k, 0, sizeof(*k));
	k->used = 1;
	memcpy(k->owner, owner, PV_NAME_SIZE);
	memcpy(k->slot, slot->bytes, slot->size);
	k->slot_size = (uint8_t)slot->size;
	memcpy(info + 24, owner, PV_NAME_SIZE);
	memcpy(info + 24 + PV_NAME_SIZE, k->slot, SVC_NAME_MAX);
	for (unsigned i = 0; i < 8; i++)
		info[24 + PV_NAME_SIZE + SVC_NAME_MAX + i] = (uint8_t)((store.value + 1) >> (56 - 8 * i));
	if (!crypto_p256_derive(key_secret, info, sizeof(info), k->d, k->pub))
		return "key generation failed";
	const char *why = store_commit(&store, &next);
	mbedtls_platform_zeroize(&next, sizeof(next));
	if (why)
		return why;
	cbor_head(o, CBOR_MAP, 1);
	cbor_tstr(o, "pub", 3);
	cbor_bstr(o, live.k[free_at].pub, PUB_SIZE);
	return NULL;
}

static const char *handle(const uint8_t *body, uint32_t size, uint64_t cid, struct cbor_out *o)
{
	struct svc_request req;
	struct caller who;
	uint8_t owner[PV_NAME_SIZE], hash[SHA256_SIZE], sig[SIG_SIZE];
	const char *why = service_begin(body, size, ops, sizeof(ops) / sizeof(ops[0]), cid, &store,
					&req, &who, owner);

	if (why)
		return why;
	const struct svc_field *slot = &req.f[SVC_SLOT];
	if (req.op == CREATE)
		return create(owner, slot, o);
	int i = find(&live, owner, slot);
	if (i < 0)
		return slot_why(slot, "\" not found");
	if (req.op == PUB) {
		cbor_head(o, CBOR_MAP, 1);
		cbor_tstr(o, "pub", 3);
		cbor_bstr(o, live.k[i].pub, PUB_SIZE);
		return NULL;
	}
	if (req.op == SIGN) {
		devkey_sha256(req.f[SVC_MSG].bytes, req.f[SVC_MSG].size, NULL, 0, hash);
		if (!crypto_p256_sign(live.k[i].d, hash, sig))
			return "signing failed";
		cbor_head(o, CBOR_MAP, 1);
		cbor_tstr(o, "sig", 3);
		cbor_bstr(o, sig, SIG_SIZE);
		return NULL;
	}
	next = live;
	memset(&next.k[i], 0, sizeof(next.k[i]));
	why = store_commit(&store, &next);
	mbedtls_platform_zeroize(&next, sizeof(next));
	if (why)
		return why;
	cbor_head(o, CBOR_MAP, 1);
	cbor_tstr(o, "deleted", 7);
	cbor_tstr(o, (const char *)slot->bytes, slot->size);
	return NULL;
}

static struct service service = {
	.name = "keystore", .port = KEYSTORE_PORT, .request_max = SERVICE_REQUEST_MAX,
	.per_cid_max = PER_CID_MAX, .handle = handle,
};

bool keystore_start(void)
{
	store_secret("pocketvisor keystore", key_secret); /* no secret: the store is unavailable */
	store_load(&store);
	return server_listen(&service);
}
