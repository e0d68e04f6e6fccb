/* store.c: each service's records, sealed on the vault's vault-data disk (docs/vault.md,
 * "Sealed storage"). A service has two copies, A and B, each one image: a header, the records
 * encrypted and authenticated with ChaCha20-Poly1305 under a key from the sealing key
 * "vault-data", and the value of the service's rollback counter (PV_COUNTER, kept by the
 * hypervisor) the image was written for. To commit, the new image goes into the older copy
 * with the counter's value + 1, then the counter moves on: at boot the copy whose value is the
 * counter's is the current one, a copy one ahead is a commit the power cut short (finished
 * then), and anything older is a replayed disk, refused. */
#include "vault.h"

#include "blk.h"
#include "mbedtls/platform_util.h"

#define DISK_SLOT 1u                    /* PVB_SLOT_DISK: the VM's first disk */
#define AREA_SIZE (256u * 1024u)        /* per copy; copy k of store id s at (2(s-1)+k) areas */
#define AREAS 6u                        /* three stores */
#define IMAGE_MAX (16u * 1024u)
/* The header, all of it the AEAD's associated data: "PVVD", format, store id, 2 zero bytes,
 * the counter value (8 bytes, little-endian), the records' size (4), the nonce (12). */
#define HEADER_SIZE 32u
#define MAGIC 0x44565650u               /* "PVVD", little-endian */
#define FORMAT 1u

static const char seal_label[] = "vault-data";
static uint8_t seal[PV_KEY_SIZE], aead_key[32], nonce_key[32];
static bool have_disk, have_key;
static const char *init_why;
static uint8_t image[IMAGE_MAX] __attribute__((aligned(16)));
static uint8_t plain[IMAGE_MAX] __attribute__((aligned(16)));

static void put64(uint8_t *b, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get64(const uint8_t *b)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

const char *counter_error(int64_t e)
{
	switch (e) {
	case -1: return "-1: the hypervisor has no counters";
	case -2: return "-2: bad counter index";
	case PV_E_DENIED: return "-3: the config gives the vault no rollback-counters";
	case PV_E_NO_SECRET: return "-4: no device secret";
	case PV_E_NO_STORE: return "-6: no hv-rpmb counter store, or it does not authenticate";
	case PV_E_IO: return "-7: the counter store's write failed";
	default: return "unexpected error";
	}
}

bool store_secret(const char *info, uint8_t out[32])
{
	return have_key && crypto_hkdf(seal, sizeof(seal), info, strlen(info), out, 32);
}

void store_init(void)
{
	int64_t e = pv_seal_key(seal_label, seal);

	have_key = e == 0 && crypto_hkdf(seal, sizeof(seal), "pocketvisor vault-data key", 26,
					 aead_key, sizeof(aead_key)) &&
		   crypto_hkdf(seal, sizeof(seal), "pocketvisor vault-data nonce", 28, nonce_key,
			       sizeof(nonce_key));
	have_disk = blk_find(DISK_SLOT) == (int)DISK_SLOT && blk_setup() &&
		    blk_capacity() * SECTOR_SIZE >= (uint64_t)AREAS * AREA_SIZE &&
		    !(blk_features() & VIRTIO_BLK_F_RO);
	if (!have_key)
		init_why = e == PV_E_NO_SECRET ? "no device secret" : "no sealing key";
	else if (!have_disk)
		init_why = "no vault-data disk";
	if (init_why)
		printf("vault: vault-data: %s: the services keep nothing and refuse every request\n",
		       init_why);
	else
		printf("vault: vault-data: %lu KiB at slot %u\n", blk_capacity() / 2, DISK_SLOT);
}

static uint64_t area_sector(const struct store *s, int copy)
{
	return ((uint64_t)(s->id - 1) * 2 + (uint64_t)copy) * (AREA_SIZE / SECTOR_SIZE);
}

static uint32_t image_size(const struct store *s)
{
	uint32_t n = HEADER_SIZE + s->records_size + AEAD_TAG_SIZE;
	return (n + SECTOR_SIZE - 1) / SECTOR_SIZE * SECTOR_SIZE;
}

/* The nonce is an HMAC of the header and the records (a synthetic IV, as in SIV, RFC 5297):
 * the same key seals every image, and with no entropy source a counter-based nonce could
 * repeat after a commit that failed between the write and the counter. Equal nonces then
 * mean equal contents, which reveals nothing new. */
static bool seal_image(const struct store *s, uint64_t value, const void *records)
{
	uint8_t mac[SHA256_SIZE];

	memset(image, 0, image_size(s));
	put64(image, MAGIC | (uint64_t)FORMAT << 32 | (uint64_t)s->id << 40);
	put64(image + 8, value);
	put64(image + 16, s->records_size); /* 4 bytes, and the nonce's first 4, zero till then */
	if (!crypto_hmac(nonce_key, image, 20, records, s->records_size, mac))
		return false;
	memcpy(image + 20, mac, AEAD_NONCE_SIZE);
	return crypto_aead_seal(aead_key, image + 20, image, HEADER_SIZE, records, s->records_size,
				image + HEADER_SIZE, image + HEADER_SIZE + s->records_size);
}

enum copy { BLANK, CORRUPT, SEALED };

/* Reads copy `k` into `plain` if it opens; its value in *value. */
static enum copy open_copy(const struct store *s, int k, uint64_t *value)
{
	uint32_t size = image_size(s);

	if (!blk_rw(false, area_sector(s, k), image, size))
		return CORRUPT;
	uint64_t h = get64(image);
	if ((uint32_t)h != MAGIC) {
		for (uint32_t i = 0; i < HEADER_SIZE; i++)
			if (image[i])
				return CORRUPT;
		return BLANK; /* never written */
	}
	if (h != (MAGIC | (uint64_t)FORMAT << 32 | (uint64_t)s->id << 40) ||
	    get32(image + 16) != s->records_size)
		return CORRUPT;
	*value = get64(image + 8);
	return crypto_aead_open(aead_key, image + 20, image, HEADER_SIZE, image + HEADER_SIZE,
				s->records_size, image + HEADER_SIZE + s->records_size, plain) ?
		       SEALED : CORRUPT;
}

static void refuse_store(struct store *s, const char *why)
{
	s->state = STORE_REFUSED;
	s->why = why;
}

static void take(struct store *s, int k, uint64_t value)
{
	memcpy(s->records, plain, s->records_size);
	mbedtls_platform_zeroize(plain, s->records_size);
	s->value = value;
	s->current = k;
	s->state = STORE_READY;
}

void store_load(struct store *s)
{
	uint64_t device, v[2] = { 0, 0 };
	enum copy c[2];
	int64_t e;

	s->state = STORE_UNAVAILABLE;
	s->current = -1;
	memset(s->records, 0, s->records_size);
	if (init_why) {
		s->why = init_why;
		return;
	}
	if ((e = pv_counter(s->counter, false, &device))) {
		printf("vault: vault-data: %s: no rollback counter %u (%s): requests refused\n",
		       s->name, s->counter, counter_error(e));
		s->why = "no rollback counter";
		return;
	}
	for (int k = 0; k < 2; k++) {
		c[k] = open_copy(s, k, &v[k]);
		if (c[k] == CORRUPT)
			printf("vault: vault-data: %s copy %c: authentication failed\n", s->name,
			       "AB"[k]);
	}
	for (int k = 0; k < 2; k++)
		if (c[k] == SEALED && v[k] == device) {
			open_copy(s, k, &v[k]); /* plain holds the last copy opened */
			take(s, k, device);
			printf("vault: vault-data: %s: counter %lu, copy %c\n", s->name, device, "AB"[k]);
			return;
		}
	for (int k = 0; k < 2; k++)
		if (c[k] == SEALED && v[k] == device + 1) {
			uint64_t now;
			if ((e = pv_counter(s->counter, true, &now)) || now != device + 1) {
				printf("vault: vault-data: %s: cannot finish the commit of counter %lu (%s)\n",
				       s->name, device + 1, e ? counter_error(e) : "counter moved");
				s->why = "rollback counter failed";
				return;
			}
			open_copy(s, k, &v[k]);
			take(s, k, now);
			printf("vault: vault-data: %s: finished an interrupted commit: counter %lu, "
			       "copy %c\n", s->name, now, "AB"[k]);
			return;
		}
	if (c[0] == BLANK && c[1] == BLANK && device == 0) {
		s->value = 0;
		s->state = STORE_READY;
		printf("vault: vault-data: %s: new, counter 0\n", s->name);
		return;
	}
	int newest = c[0] == SEALED && (c[1] != SEALED || v[0] >= v[1]) ? 0 :
		     c[1] == SEALED ? 1 : -1;
	if (newest >= 0 && v[newest] < device) {
		printf("vault: vault-data: %s: stale (counter %lu, device at %lu): refused\n", s->name,
		       v[newest], device);
		refuse_store(s, "records refused: stale");
	} else if (newest >= 0) {
		printf("vault: vault-data: %s: ahead of the device (counter %lu, device at %lu): "
		       "refused\n", s->name, v[newest], device);
		refuse_store(s, "records refused: ahead of the counter");
	} else if (c[0] == CORRUPT || c[1] == CORRUPT) {
		printf("vault: vault-data: %s: no authentic copy (device at %lu): refused\n", s->name,
		       device);
		refuse_store(s, "records refused: corrupt");
	} else {
		printf("vault: vault-data: %s: no records, device at %lu: refused\n", s->name, device);
		refuse_store(s, "records refused: missing");
	}
	mbedtls_platform_zeroize(plain, sizeof(plain));
}

/* After a failed counter write the new copy must not pass for an interrupted commit at the next
 * boot (the client was told it failed): its header goes. If that write fails too, the next boot
 * finishes the commit: the one case where a refused request takes effect. */
static void unwrite(const struct store *s, int k)
{
	memset(image, 0, SECTOR_SIZE);
	blk_rw(true, area_sector(s, k), image, SECTOR_SIZE);
	blk_flush();
}

const char *store_commit(struct store *s, const void *records)
{
	int k = s->current == 0 ? 1 : 0;
	uint64_t now;
	int64_t e;

	if (s->state != STORE_READY)
		return s->why;
	if (!seal_image(s, s->value + 1, records))
		return "sealing failed";
	if (!blk_rw(true, area_sector(s, k), image, image_size(s)) || !blk_flush()) {
		printf("vault: vault-data: %s: write of copy %c failed\n", s->name, "AB"[k]);
		unwrite(s, k);
		return "vault-data write failed";
	}
	if ((e = pv_counter(s->counter, true, &now)) || now != s->value + 1) {
		printf("vault: vault-data: %s: rollback counter %u failed (%s)\n", s->name, s->counter,
		       e ? counter_error(e) : "it moved");
		unwrite(s, k);
		return "rollback counter failed";
	}
	memcpy(s->records, records, s->records_size);
	s->value = now;
	s->current = k;
	return NULL;
}
