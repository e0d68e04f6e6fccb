/* server.c: the vault's framed request/answer streams, shared by every service on vsock
 * (docs/vault.md, "The protocol"). A request is a 4-byte big-endian length and a CBOR body; the
 * answer is a length and the service's CBOR, or a length and {"error": text}, after which the
 * stream is closed. Every stream has its own fixed buffers and a deadline, so a client that sends
 * too much, too little or nothing, or never reads, costs only its own stream; others are served
 * in between. */
#include "vault.h"

#define LEN_SIZE 4u
#define TIMEOUT_US 5000000u             /* for a whole request, and again for its answer */
#define REFUSALS_FIRST 8u               /* refusals logged one by one, per service; then counts */
#define SERVICE_COUNT 4u

struct client {
	struct service *svc;            /* NULL: not a stream of ours */
	bool close_after;               /* the answer is a refusal: close once it is out */
	uint32_t got;                   /* bytes of in[] received */
	uint32_t out_size, out_sent;    /* an answer being sent, if out_size */
	uint64_t deadline;
	uint8_t in[LEN_SIZE + SERVICE_REQUEST_MAX];
	uint8_t out[LEN_SIZE + SERVICE_ANSWER_MAX];
};

static struct client clients[VSOCK_CONN_COUNT];
static struct service *services[SERVICE_COUNT];
static unsigned service_count;

static bool power_of_two(unsigned n) { return n && !(n & (n - 1)); }

/* make bench's vault rows (bench/run.py): with `vault.bench=1` in its bootargs and `pmu;` in its
 * config, the vault counts the instructions each request's handling retires at EL1 (PMU event
 * counter 0) and at EL2 on its behalf (counter 1: its calls, its disk's traps and the hypervisor's
 * waits for the board's disk), and prints them. The PMU is not switched between VMs, so the
 * bench gives the vault a core of its own. */
#define PMU_INST_RETIRED 0x08u
#define PMEVTYPER_EL1_ONLY (1ul << 30)                  /* U: not EL0 */
#define PMEVTYPER_EL2_ONLY (1ul << 31 | 1ul << 30 | 1ul << 27) /* not EL1, not EL0; NSH: EL2 */
static bool bench;

void server_bench(void)
{
	bench = true;
	__asm__ volatile("msr pmevtyper0_el0, %0\n\t"
			 "msr pmevtyper1_el0, %1\n\t"
			 "msr pmcr_el0, %2\n\t"
			 "msr pmcntenset_el0, %3\n\t"
			 "isb"
			 : : "r"(PMEVTYPER_EL1_ONLY | PMU_INST_RETIRED),
			   "r"(PMEVTYPER_EL2_ONLY | PMU_INST_RETIRED), "r"(1ul | 2ul), "r"(3ul)
			 : "memory");
}

static void pmu_read(uint64_t *el1, uint64_t *el2)
{
	__asm__ volatile("isb\n\tmrs %0, pmevcntr0_el0\n\tmrs %1, pmevcntr1_el0"
			 : "=r"(*el1), "=r"(*el2) : : "memory");
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void be32_put(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8), b[3] = (uint8_t)v;
}

static uint32_t body_size(const struct client *cl) { return be32(cl->in); }

static uint64_t peer(int c)
{
	uint64_t cid = 0;
	uint32_t port;

	vsock_peer(c, &cid, &port);
	return cid;
}

static void finish(int c)
{
	vsock_close(c);
	clients[c].svc = NULL;
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
	struct service *s = cl->svc;
	struct cbor_out o;

	cbor_out_init(&o, cl->out + LEN_SIZE, SERVICE_ANSWER_MAX);
	cbor_head(&o, CBOR_MAP, 1);
	cbor_tstr(&o, "error", 5);
	cbor_tstr(&o, why, strlen(why));
	answer(cl, o.overflow ? 0 : o.len, true, now);
	s->refused++;
	if (s->refused <= REFUSALS_FIRST)
		printf("vault: %s: refused cid %lu: %s\n", s->name, peer(c), why);
	else if (power_of_two(s->refused))
		printf("vault: %s: %u requests refused\n", s->name, s->refused);
}

static void handle(int c, struct client *cl, uint64_t now)
{
	struct cbor_out o;

	uint64_t el1 = 0, el2 = 0, el1_end, el2_end;
	if (bench)
		pmu_read(&el1, &el2);
	cbor_out_init(&o, cl->out + LEN_SIZE, SERVICE_ANSWER_MAX);
	const char *why = cl->svc->handle(cl->in + LEN_SIZE, body_size(cl), peer(c), &o);
	if (bench) {
		pmu_read(&el1_end, &el2_end);
		printf("vault: bench %s el1 %lu el2 %lu\n", cl->svc->name, (el1_end - el1) & 0xffffffffu,
		       (el2_end - el2) & 0xffffffffu);
	}
	if (!why && o.overflow)
		why = "answer too long"; /* never expected: every answer's size is bounded */
	if (why)
		refuse(c, cl, why, now);
	else
		answer(cl, o.len, false, timer_now()); /* signing takes a while: its time starts now */
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

	while (cl->svc) {
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
		else if (cl->got == LEN_SIZE && body_size(cl) > cl->svc->request_max)
			refuse(c, cl, "request too long", now);
		else if (cl->got > LEN_SIZE && cl->got == LEN_SIZE + body_size(cl))
			handle(c, cl, now);
	}
}

bool server_listen(struct service *s)
{
	if (service_count == SERVICE_COUNT || s->request_max > SERVICE_REQUEST_MAX ||
	    !vsock_listen(s->port, s->per_cid_max))
		return false;
	services[service_count++] = s;
	return true;
}

void server_serve(void)
{
	uint64_t now = timer_now();
	int c;

	for (unsigned i = 0; i < service_count; i++)
		while ((c = vsock_accept(services[i]->port)) >= 0) {
			struct client *cl = &clients[c];
			cl->svc = services[i];
			cl->got = cl->out_size = cl->out_sent = 0;
			cl->deadline = now + timer_us(TIMEOUT_US);
		}
	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
		if (clients[i].svc)
			step((int)i, now);
}

uint64_t server_deadline(void)
{
	uint64_t first = 0;

	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
		if (clients[i].svc && (!first || clients[i].deadline < first))
			first = clients[i].deadline;
	return first;
}

/* Who is calling: the CID on the stream is the one the hypervisor put on its packets, and the
 * hypervisor tells an attester what VM has it. 0 and 2 would be the vault and the hypervisor
 * themselves: no VM's stream comes from them. */
bool caller_of(uint64_t cid, struct caller *who)
{
	memset(who, 0, sizeof(*who));
	who->cid = cid;
	return cid > VSOCK_CID_HOST && pv_measurement(cid, who->measurement, who->name) == 0;
}

void owner_of(const struct caller *who, uint8_t owner[PV_NAME_SIZE])
{
	memset(owner, 0, PV_NAME_SIZE);
	for (unsigned i = 0; i < PV_NAME_SIZE && who->name[i]; i++)
		owner[i] = (uint8_t)who->name[i];
}

const char *service_begin(const uint8_t *body, uint32_t size, const struct svc_op *ops,
			  unsigned op_count, uint64_t cid, const struct store *s,
			  struct svc_request *req, struct caller *who, uint8_t owner[PV_NAME_SIZE])
{
	const char *why = svcreq_parse(body, size, ops, op_count, req);

	if (why)
		return why;
	if (!caller_of(cid, who))
		return "caller unknown";
	if (s->state != STORE_READY)
		return s->why;
	owner_of(who, owner);
	return NULL;
}
