/* attest.c: the attestation service on vsock port 5000 (docs/vault.md, "Attestation"): a request
 * {"nonce": bstr} gets a token signed by the device key, naming the caller the hypervisor says
 * is behind the stream's CID. The streams themselves are server.c's. */
#include "vault.h"

#include "cbor.h"

#define PER_CID_MAX 4u                  /* streams one peer may hold at once; more get RST */
#define REQUEST_MAX 256u                /* body bytes; a nonce request takes at most 75 */
#define ANNOUNCE_FIRST 4u               /* tokens logged one by one; then counts */

static uint8_t hv_measurement[SHA256_SIZE];
static bool hv_known;
static uint64_t boot_count;
static bool boot_count_known;
static unsigned issued;

static bool power_of_two(unsigned n) { return n && !(n & (n - 1)); }

/* Validate everything, then sign: the request, the vault's own state, the caller. */
static const char *handle(const uint8_t *body, uint32_t size, uint64_t cid, struct cbor_out *o)
{
	struct request req;
	struct caller who;
	const char *why = request_parse(body, size, &req);

	if (!why && devkey_state() != DEVKEY_READY)
		why = "no device key";
	if (!why && !hv_known)
		why = "no hypervisor measurement";
	if (!why && !caller_of(cid, &who))
		why = "caller unknown";
	if (why)
		return why;
	size_t n = token_build(o->buf, &req, &who, hv_measurement,
			       boot_count_known ? &boot_count : NULL);
	if (!n || n > o->size)
		return "signing failed";
	o->len = n;
	issued++;
	if (issued <= ANNOUNCE_FIRST)
		printf("vault: token for vm %s (cid %lu), %lu bytes\n", who.name, who.cid, (uint64_t)n);
	else if (power_of_two(issued))
		printf("vault: %u tokens issued\n", issued);
	return NULL;
}

static struct service attest = {
	.name = "attest", .port = ATTEST_PORT, .request_max = REQUEST_MAX,
	.per_cid_max = PER_CID_MAX, .handle = handle,
};

bool attest_start(void)
{
	uint8_t m[SHA256_SIZE];
	char name[PV_NAME_SIZE + 1];

	hv_known = pv_measurement(VSOCK_CID_HOST, m, name) == 0;
	if (hv_known)
		memcpy(hv_measurement, m, sizeof(m));
	else
		printf("vault: no hypervisor measurement: attestation requests are refused\n");
	/* RFC 9711 4.3.3's bootcount, when the hypervisor keeps one (`rollback-counters;`). */
	int64_t e = pv_counter(PV_COUNTER_BOOT, false, &boot_count);
	boot_count_known = e == 0;
	if (boot_count_known)
		printf("vault: boot count %lu\n", boot_count);
	else
		printf("vault: no boot count (%s): tokens carry none\n", counter_error(e));
	return server_listen(&attest);
}
