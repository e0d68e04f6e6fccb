/* attest.c: the attestation service on vsock port 5000 (docs/vault.md, "The protocol"). A
 * request is a 4-byte big-endian length and a CBOR body; the answer is a length and a token, or
 * a length and {"error": text}, after which the stream is closed. Every stream has its own
 * fixed buffers and a deadline, so a client that sends too much, too little or nothing, or
 * never reads, costs only its own stream; others are served in between. */
#include "vault.h"

#include "cbor.h"

#define PER_CID_MAX 4u                  /* streams one peer may hold at once; more get RST */
#define LEN_SIZE 4u
#define REQUEST_MAX 256u                /* body bytes; a nonce request takes at most 75 */
#define TIMEOUT_US 5000000u             /* for a whole request, and again for its answer */
#define ANNOUNCE_FIRST 4u               /* tokens logged one by one; then counts */
#define REFUSALS_FIRST 8u

struct client {
	bool open;
	bool close_after;               /* the answer is a refusal: close once it is out */
	uint32_t got;                   /* bytes of in[] received */
	uint32_t out_size, out_sent;    /* an answer being sent, if out_size */
	uint64_t deadline;
	uint8_t in[LEN_SIZE + REQUEST_MAX];
	uint8_t out[LEN_SIZE + TOKEN_MAX];
};

static struct client clients[VSOCK_CONN_COUNT];
static uint8_t hv_measurement[SHA256_SIZE];
static bool hv_known;
static unsigned issued, refused;

static bool power_of_two(unsigned n) { return n && !(n & (n - 1)); }

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void be32_put(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8), b[3] = (uint8_t)v;
}

static uint32_t body_size(const struct client *cl) { return be32(cl->in); }

static uint64_t peer_cid(int c)
{
	uint64_t cid = 0;
	uint32_t port;

	vsock_peer(c, &cid, &port);
	return cid;
}

static void finish(int c)
{
	vsock_close(c);
	clients[c].open = false;
}

static void answer(struct client *cl, size_t body, bool close_after, uint64_t now)
{
	be32_put(cl->out, (uint32_t)body);
	cl->out_size = (uint32_t)(LEN_SIZE + body);
	cl->out_sent = 0;
	cl->close_after = close_after;
	cl->deadline = now + timer_us(TIMEOUT_US);
}

static void refuse(int c, struct client *cl, const char *why, uint64_t now)
{
	struct cbor_out o;

	cbor_out_init(&o, cl->out + LEN_SIZE, TOKEN_MAX);
	cbor_head(&o, CBOR_MAP, 1);
	cbor_tstr(&o, "error", 5);
	cbor_tstr(&o, why, strlen(why));
	answer(cl, o.len, true, now);
	refused++;
	if (refused <= REFUSALS_FIRST)
		printf("vault: refused cid %lu: %s\n", peer_cid(c), why);
	else if (power_of_two(refused))
		printf("vault: %u requests refused\n", refused);
}

/* Who is calling: the CID on the stream is the one the hypervisor put on its packets, and the
 * hypervisor tells an attester what VM has it. 0 and 2 would be the vault and the hypervisor
 * themselves: no VM's stream comes from them. */
static bool caller_of(int c, struct caller *who)
{
	who->cid = peer_cid(c);
	return who->cid > VSOCK_CID_HOST &&
	       pv_measurement(who->cid, who->measurement, who->name) == 0;
}

/* Validate everything, then sign: the request, the vault's own state, the caller. */
static void handle(int c, struct client *cl, uint64_t now)
{
	struct request req;
	struct caller who;
	const char *why = request_parse(cl->in + LEN_SIZE, body_size(cl), &req);

	if (!why && devkey_state() != DEVKEY_READY)
		why = "no device key";
	if (!why && !hv_known)
		why = "no hypervisor measurement";
	if (!why && !caller_of(c, &who))
		why = "caller unknown";
	if (why) {
		refuse(c, cl, why, now);
		return;
	}
	size_t n = token_build(cl->out + LEN_SIZE, &req, &who, hv_measurement);
	if (!n) {
		refuse(c, cl, "signing failed", now);
		return;
	}
	answer(cl, n, false, timer_now()); /* signing took a while: the answer's time starts now */
	issued++;
	if (issued <= ANNOUNCE_FIRST)
		printf("vault: token for vm %s (cid %lu), %lu bytes\n", who.name, who.cid, (uint64_t)n);
	else if (power_of_two(issued))
		printf("vault: %u tokens issued\n", issued);
}

/* Sends what the peer's credit allows; true once the answer is out and the stream waits for
 * its next request. */
static bool flush(int c, struct client *cl, uint64_t now)
{
	int n = vsock_send(c, cl->out + cl->out_sent, cl->out_size - cl->out_sent);

	if (n < 0 || (n == 0 && now >= cl->deadline)) { /* gone, or it never reads */
		finish(c);
		return false;
	}
	cl->out_sent += (uint32_t)n;
	if (cl->out_sent < cl->out_size)
		return false;
	if (cl->close_after) {
		finish(c);
		return false;
	}
	cl->out_size = cl->out_sent = cl->got = 0;
	cl->deadline = now + timer_us(TIMEOUT_US);
	return true;
}

/* Takes in no more than the request in progress needs, so bytes of the next request stay in
 * the stream until this one is answered. */
static void step(int c, uint64_t now)
{
	struct client *cl = &clients[c];

	while (cl->open) {
		if (cl->out_size) {
			if (!flush(c, cl, now))
				return;
			continue;
		}
		uint32_t want = cl->got < LEN_SIZE ? LEN_SIZE - cl->got
						   : LEN_SIZE + body_size(cl) - cl->got;
		int n = vsock_recv(c, cl->in + cl->got, want);
		if (n < 0) { /* the peer sends no more */
			if (cl->got)
				refuse(c, cl, "truncated request", now);
			else
				finish(c);
			continue;
		}
		if (n == 0) {
			if (now >= cl->deadline)
				refuse(c, cl, "request timed out", now);
			else
				return;
			continue;
		}
		cl->got += (uint32_t)n;
		if (cl->got == LEN_SIZE && body_size(cl) == 0)
			refuse(c, cl, "empty request", now);
		else if (cl->got == LEN_SIZE && body_size(cl) > REQUEST_MAX)
			refuse(c, cl, "request too long", now);
		else if (cl->got > LEN_SIZE && cl->got == LEN_SIZE + body_size(cl))
			handle(c, cl, now);
	}
}

bool attest_start(void)
{
	uint8_t m[SHA256_SIZE];
	char name[PV_NAME_SIZE + 1];

	hv_known = pv_measurement(VSOCK_CID_HOST, m, name) == 0;
	if (hv_known)
		memcpy(hv_measurement, m, sizeof(m));
	else
		printf("vault: no hypervisor measurement: attestation requests are refused\n");
	return vsock_listen(ATTEST_PORT, PER_CID_MAX);
}

void attest_serve(void)
{
	uint64_t now = timer_now();
	int c;

	while ((c = vsock_accept(ATTEST_PORT)) >= 0) {
		struct client *cl = &clients[c];
		cl->open = true;
		cl->got = cl->out_size = cl->out_sent = 0;
		cl->deadline = now + timer_us(TIMEOUT_US);
	}
	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
		if (clients[i].open)
			step((int)i, now);
}

uint64_t attest_deadline(void)
{
	uint64_t first = 0;

	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
		if (clients[i].open && (!first || clients[i].deadline < first))
			first = clients[i].deadline;
	return first;
}
