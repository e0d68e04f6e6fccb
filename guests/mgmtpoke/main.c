/* mgmtpoke: a hostile client of the hypervisor's management service (vsock CID 2 port 700,
 * hv/include/pv/manage_abi.h), and the management rows of `make bench`. `mgmtpoke.mode=` picks:
 *
 * (none) One case per stream unless said: requests malformed (bad magic, op 0 and 99, names with
 * no NUL or junk after it), refused (no such VM, one it may not manage, bad core masks, a resume
 * of a running VM), two requests and an oversized one in one packet (the stream is reset), a
 * truncated one and a shutdown, another port of CID 2, a good LIST after an error on the same
 * stream, 200 LISTs in a row on one stream and a LOG. One line per case,
 * `mgmtpoke: <case>: <what happened>` (tests/system/test_manage_bare.py knows what each must be).
 * Then on one stream: 200 cycles of STOP, START, RESET of the target with INFO before and after
 * (`mgmtpoke: cycles: ...`: the stage-2 table pool and the boot count), a PAUSE of it for
 * PAUSE_US and its RESUME, and a last STOP; then `mgmtpoke: done` and it powers off.
 * The two cases that break the service's credit (28 bytes: one request) drive the device with
 * raw packets first and see the RST itself ("reset"); the rest go through the library, where
 * "reset" is a stream that ended with no answer (it cannot tell an RST from a SHUTDOWN).
 * `noright`: a VM with no `manages` connects once: `mgmtpoke: connect: refused` is right.
 * `bench` and `first` (bench/run.py, one core, both VMs with `pmu;`): bench counts instructions
 * at EL1 and EL2 with PMU event counter 0 and STARTs and STOPs the target, which in mode
 * `first` reads the same counter (the PMU is not switched between VMs) and prints it.
 * Bootargs: `mgmtpoke.target=NAME` the VM its config lets it manage (default "ticker", which must
 * be running; "target" for bench, where it is off), `mgmtpoke.denied=NAME` one it may not
 * (default "victim"). */
#include "guest.h"

#include <pv/manage_abi.h>

#define ANSWER_WAIT_US 10000000u /* the hypervisor answers at once; TCG may be slow */
#define SILENCE_US 500000u       /* no answer within this: none is coming */
#define CLOSE_WAIT_US 800000u    /* the library forgets a closed stream by itself after 1 s */
#define FLOOD_REQUESTS 200u
#define NAME_ARG_MAX 15u
#define LOG_QUIET_US 1100000u    /* the hypervisor logs a VM's refusals at most once a second */
#define CYCLES 200u              /* of STOP, START and RESET */
#define SETTLE_US 2500000u       /* after the cycles: the target boots and prints its ticks */
#define PAUSE_US 2500000u        /* more than two of guests/idle's one-second ticks */
#define CATCH_UP_US 300000u      /* after the resume: the ticks that fell due meanwhile */
#define BENCH_ROUNDS 5u
#define BENCH_SETTLE_US 20000u   /* the bench's target prints its line and idles */

static volatile bool timer_fired;
static uint64_t payload[PVM_RESP_MAX / 8]; /* 8-aligned: memory is Device with the MMU off */
static char target[NAME_ARG_MAX + 1] = "ticker", denied[NAME_ARG_MAX + 1] = "victim";

/* ---- waiting with a deadline: the virtual timer beside the vsock device ---- */

static void timer_irq(unsigned intid)
{
	(void)intid;
	vtimer_stop();
	timer_fired = true;
}

/* Sleeps until the device has news or the deadline passes; false once it has passed. */
static bool wait_for(uint64_t deadline)
{
	if (timer_now() >= deadline)
		return false;
	timer_fired = false;
	vtimer_arm(deadline);
	WAIT_UNTIL(vsock_pending() || timer_fired);
	vtimer_stop();
	vsock_poll();
	return timer_now() < deadline;
}

static uint64_t after_us(uint64_t us)
{
	return timer_now() + timer_us(us);
}

/* WFI for `us` of virtual time (vsock news does not end it). */
static void sleep_us(uint64_t us)
{
	timer_fired = false;
	vtimer_arm(after_us(us));
	WAIT_UNTIL(timer_fired);
}

/* ---- requests and answers ---- */

static struct pvm_req request(uint32_t op, const char *name, uint32_t arg)
{
	struct pvm_req r;

	memset(&r, 0, sizeof(r));
	r.magic = PVM_MAGIC;
	r.op = op;
	r.arg = arg;
	for (unsigned i = 0; name && name[i] && i < PVM_NAME_SIZE; i++)
		r.name[i] = name[i];
	return r;
}

/* All len bytes, or false if the stream is gone or takes none for ANSWER_WAIT_US. `one_packet`:
 * only if the peer's credit takes them all at once, so they leave as one packet. */
static bool send_bytes(int c, const void *p, uint32_t len, bool one_packet)
{
	uint64_t deadline = after_us(ANSWER_WAIT_US);

	vsock_poll();
	if (one_packet) {
		while (vsock_send_space(c) < len) {
			/* No credit at all: vsock_send sends nothing but a CREDIT_REQUEST. */
			if (!vsock_send_space(c))
				vsock_send(c, p, len);
			if (!wait_for(deadline))
				return false;
		}
		return vsock_send(c, p, len) == (int)len;
	}
	for (uint32_t sent = 0; sent < len;) {
		int n = vsock_send(c, (const uint8_t *)p + sent, len - sent);
		if (n < 0)
			return false;
		sent += (uint32_t)n;
		if (sent < len && !wait_for(deadline))
			return false;
	}
	return true;
}

enum got { GOT_ALL, GOT_END, GOT_NOTHING };

static enum got recv_all(int c, void *p, uint32_t len, uint64_t deadline)
{
	for (uint32_t got = 0; got < len;) {
		vsock_poll();
		int n = vsock_recv(c, (uint8_t *)p + got, len - got);
		if (n < 0)
			return GOT_END;
		got += (uint32_t)n;
		if (!n && !wait_for(deadline))
			return GOT_NOTHING;
	}
	return GOT_ALL;
}

/* One answer: its header in *r and its payload in `payload`. The answer must be to `op`. */
enum answer { ANSWERED, ENDED, SILENT, ODD };

static enum answer read_answer(int c, uint32_t op, struct pvm_resp *r, uint64_t wait_us)
{
	uint64_t deadline = after_us(wait_us);
	enum got g = recv_all(c, r, sizeof(*r), deadline);

	if (g != GOT_ALL)
		return g == GOT_END ? ENDED : SILENT;
	if (r->magic != PVM_MAGIC || r->op != op || r->len > sizeof(payload) ||
	    (r->status != PVM_OK && r->len))
		return ODD;
	return recv_all(c, payload, r->len, deadline) == GOT_ALL ? ANSWERED : ODD;
}

/* What the answer was, as the end of a case's line. */
static void print_answer(enum answer a, const struct pvm_resp *r)
{
	if (a == ENDED)
		printf("reset");
	else if (a == SILENT)
		printf("no answer");
	else if (a == ODD)
		printf("odd answer: magic 0x%x op %u status %d len %u", r->magic, r->op, r->status,
		       r->len);
	else if (r->len)
		printf("status %d, %u bytes", r->status, r->len);
	else
		printf("status %d", r->status);
}

/* A fresh stream to the service, the case's name printed first: -1 (and "refused") on RST.
 * The service's RESPONSE gives credit for one request; "no credit at connect" if it did not. */
static int open_case(const char *name)
{
	int c = vsock_connect(PVM_CID, PVM_PORT);

	if (name)
		printf("mgmtpoke: %s: ", name);
	if (c < 0) {
		printf("refused");
		return -1;
	}
	vsock_poll();
	if (vsock_send_space(c) < sizeof(struct pvm_req))
		printf("no credit at connect, ");
	return c;
}

/* The stream's slot is free again: the hypervisor answered our SHUTDOWN (RST or SHUTDOWN back),
 * before the library's own timeout would have freed it. */
static bool closed_by_peer(int c)
{
	uint64_t deadline = after_us(CLOSE_WAIT_US), cid;
	uint32_t port;

	vsock_close(c);
	while (vsock_peer(c, &cid, &port))
		if (!wait_for(deadline))
			return false;
	return true;
}

/* One request of `size` bytes (a pvm_req, or more or fewer bytes of one) in one packet on a fresh
 * stream, and the answer to it. */
static void one_case(const char *name, const void *bytes, uint32_t size, uint32_t op)
{
	struct pvm_resp r;
	int c = open_case(name);

	if (c >= 0) {
		if (!send_bytes(c, bytes, size, true))
			printf("not sent, ");
		print_answer(read_answer(c, op, &r, ANSWER_WAIT_US), &r);
		vsock_close(c);
	}
	printf("\n");
}

static void req_case(const char *name, uint32_t op, const char *vm, uint32_t arg)
{
	struct pvm_req q = request(op, vm, arg);
	one_case(name, &q, sizeof(q), op);
}

/* ---- the cases ---- */

static void malformed(void)
{
	struct pvm_req q = request(PVM_LIST, NULL, 0);

	q.magic = 0x314d5651u; /* "QVM1" */
	one_case("bad-magic", &q, sizeof(q), PVM_LIST);
	req_case("unknown-op", 99, NULL, 0);
	req_case("op-zero", 0, NULL, 0);
	q = request(PVM_INFO, NULL, 0);
	memset(q.name, 'A', sizeof(q.name));
	one_case("name-no-nul", &q, sizeof(q), PVM_INFO);
	q = request(PVM_INFO, "work", 0);
	q.name[5] = 'x'; /* "work\0x" */
	one_case("name-junk", &q, sizeof(q), PVM_INFO);
}

static void refused(void)
{
	struct pvm_resp r;
	static const uint32_t masks[] = { 0, 0x80000000u };

	req_case("no-vm", PVM_INFO, "nosuch", 0);
	sleep_us(LOG_QUIET_US); /* the refusal is logged, not lost to the rate limit */
	req_case("denied", PVM_STOP, denied, 0);
	printf("mgmtpoke: bad-mask: ");
	for (unsigned i = 0; i < 2; i++) {
		struct pvm_req q = request(PVM_SET_CPUS, target, masks[i]);
		printf("%smask 0x%x ", i ? ", " : "", masks[i]);
		int c = open_case(NULL);
		if (c < 0)
			continue;
		if (!send_bytes(c, &q, sizeof(q), true))
			printf("not sent, ");
		print_answer(read_answer(c, PVM_SET_CPUS, &r, ANSWER_WAIT_US), &r);
		vsock_close(c);
	}
	printf("\n");
	req_case("wrong-state", PVM_RESUME, target, 0);
}

/* ---- raw packets: more bytes than the service's credit, which the library never sends ----
 * The service offers credit for one request (28 bytes), and vsock_send keeps to the credit, so
 * these cases drive the device themselves (virtio 1.2, 5.10.6), before vsock_init resets it for
 * the library. Nothing but the packets of the case's one stream is looked at. */

struct raw_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct raw_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

#define RAW_PAYLOAD 4096u
#define RAW_PKT (sizeof(struct raw_hdr) + RAW_PAYLOAD)
#define RAW_RX_BUFS 8u
#define RAW_PORT 40000u         /* our end: any port the hypervisor has no stream for */
#define OP_REQUEST 1u
#define OP_RESPONSE 2u
#define OP_RST 3u
#define OP_SHUTDOWN 4u
#define OP_RW 5u
#define OP_CREDIT_REQUEST 7u

struct raw_pkt {
	uint64_t words[(RAW_PKT + 7) / 8];
};

static struct virtio_dev raw_dev;
static struct virtq_mem raw_rings[3];
static struct raw_pkt raw_rx[RAW_RX_BUFS], raw_tx;
static uint64_t raw_cid;

static bool raw_init(void)
{
	if (!virtio_probe(&raw_dev, 0, VIRTIO_ID_VSOCK))
		return false;
	for (unsigned i = 0; i < 3; i++)
		if (!virtio_queue_init(&raw_dev, i, &raw_rings[i]))
			return false;
	for (unsigned i = 0; i < RAW_RX_BUFS; i++) {
		int id = virtq_alloc(&raw_dev.q[0]);
		if (id < 0)
			return false;
		virtq_post(&raw_dev.q[0], (unsigned)id, raw_rx[id].words, RAW_PKT, true);
	}
	virtio_start(&raw_dev);
	virtq_notify(&raw_dev.q[0]);
	raw_cid = virtio_config_read(&raw_dev, 0) | (uint64_t)virtio_config_read(&raw_dev, 4) << 32;
	return true;
}

/* One packet on our stream to the service; it takes a packet at the notify, so the one tx
 * buffer is free again by the time the next goes (we wait for it if not). */
static bool raw_send(uint32_t port, uint16_t op, const void *data, uint32_t len)
{
	struct virtq *q = &raw_dev.q[1];
	uint64_t deadline = after_us(ANSWER_WAIT_US);
	uint32_t used_len;
	int id;

	while ((id = virtq_alloc(q)) < 0) {
		while ((id = virtq_next_used(q, &used_len)) >= 0)
			virtq_free(q, (unsigned)id);
		if (timer_now() >= deadline)
			return false;
	}
	struct raw_hdr *h = (struct raw_hdr *)raw_tx.words;
	*h = (struct raw_hdr){ .src_cid = raw_cid, .dst_cid = PVM_CID, .src_port = port,
			       .dst_port = PVM_PORT, .len = len, .type = 1, .op = op,
			       .buf_alloc = RAW_PAYLOAD, .fwd_cnt = 0 };
	if (len)
		memcpy(h + 1, data, len);
	virtq_post(q, (unsigned)id, h, (uint32_t)sizeof(*h) + len, false);
	virtq_notify(q);
	for (uint64_t end = after_us(ANSWER_WAIT_US); timer_now() < end;)
		if ((id = virtq_next_used(q, &used_len)) >= 0) {
			virtq_free(q, (unsigned)id);
			return true;
		}
	return false;
}

/* The next packet for our stream before the deadline: its op (its payload into `payload`, its
 * size in *len), or 0 if none came. */
static uint16_t raw_recv(uint32_t port, uint32_t *len, uint64_t deadline)
{
	struct virtq *q = &raw_dev.q[0];

	for (;;) {
		uint32_t got;
		int id = virtq_next_used(q, &got);
		if (id < 0) {
			timer_fired = false;
			vtimer_arm(deadline);
			WAIT_UNTIL(virtq_has_used(q) || timer_fired);
			vtimer_stop();
			if (!virtq_has_used(q))
				return 0;
			continue;
		}
		const struct raw_hdr *h = (const struct raw_hdr *)raw_rx[id].words;
		uint16_t op = 0;
		if (got >= sizeof(*h) && h->len <= got - sizeof(*h) && h->src_cid == PVM_CID &&
		    h->src_port == PVM_PORT && h->dst_port == port) {
			op = h->op;
			*len = h->len < sizeof(payload) ? h->len : (uint32_t)sizeof(payload);
			memcpy(payload, h + 1, *len);
		}
		virtq_post(q, (unsigned)id, raw_rx[id].words, RAW_PKT, true);
		virtq_notify(q);
		if (op)
			return op;
	}
}

/* `size` bytes of requests in one packet on a fresh stream, whatever the credit; then every
 * packet of the stream until it ends or stays quiet: "reset" for the RST we expect. */
static void raw_case(const char *name, uint32_t port, const void *bytes, uint32_t size)
{
	uint32_t len = 0, answers = 0;
	uint16_t op;

	printf("mgmtpoke: %s: ", name);
	if (!raw_send(port, OP_REQUEST, NULL, 0)) {
		printf("REQUEST not sent\n");
		return;
	}
	uint64_t deadline = after_us(ANSWER_WAIT_US);
	while ((op = raw_recv(port, &len, deadline)) != 0 && op != OP_RESPONSE && op != OP_RST)
		;
	if (op != OP_RESPONSE) {
		printf(op == OP_RST ? "refused\n" : "no RESPONSE\n");
		return;
	}
	if (!raw_send(port, OP_RW, bytes, size)) {
		printf("not sent\n");
		return;
	}
	for (deadline = after_us(SILENCE_US);;) {
		op = raw_recv(port, &len, deadline);
		if (op == OP_RW && len >= sizeof(struct pvm_resp)) {
			const struct pvm_resp *r = (const struct pvm_resp *)payload;
			printf("%sstatus %d", answers++ ? ", " : "", r->status);
			continue;
		}
		if (op == OP_RW || op == OP_CREDIT_REQUEST || (op && op != OP_RST && op != OP_SHUTDOWN))
			continue; /* the rest of an answer, or credit talk */
		const char *end = op == OP_RST ? "reset" : op == OP_SHUTDOWN ? "shutdown" : "no reset";
		printf("%s%s\n", answers ? ", then " : "", end);
		if (op != OP_RST)
			raw_send(port, OP_RST, NULL, 0);
		return;
	}
}

/* Bytes past one request before its answer: the hypervisor resets the stream. */
static void overlong(void)
{
	struct pvm_req two[2] = { request(PVM_LIST, NULL, 0), request(PVM_LIST, NULL, 0) };
	uint8_t forty[40];

	if (!raw_init()) {
		printf("mgmtpoke: no vsock device for raw packets\n");
		return;
	}
	printf("mgmtpoke: cid %lu, raw packets to cid %u port %u\n", raw_cid, PVM_CID, PVM_PORT);
	raw_case("two-requests", RAW_PORT, two, sizeof(two));
	sleep_us(LOG_QUIET_US); /* so its overrun is logged too */
	memset(forty, 0, sizeof(forty));
	memcpy(forty, &two[0], sizeof(two[0]));
	raw_case("oversized", RAW_PORT + 1, forty, sizeof(forty));
}

/* 10 bytes of a request, then our SHUTDOWN: no answer, and the stream ends. */
static void truncated(void)
{
	struct pvm_req q = request(PVM_STOP, target, 0);
	struct pvm_resp r;
	int c = open_case("truncated");

	if (c < 0) {
		printf("\n");
		return;
	}
	if (!send_bytes(c, &q, 10, true))
		printf("not sent, ");
	enum answer a = read_answer(c, PVM_STOP, &r, SILENCE_US);
	if (a != SILENT) {
		print_answer(a, &r);
		printf("\n");
		vsock_close(c);
		return;
	}
	printf("no answer, %s\n", closed_by_peer(c) ? "closed" : "not closed");
}

static void wrong_port(void)
{
	int c = vsock_connect(PVM_CID, PVM_PORT + 1);

	printf("mgmtpoke: wrong-port: %s\n", c < 0 ? "refused" : "connected");
	if (c >= 0)
		vsock_close(c);
}

static const char *const states[] = { "off", "running", "stopping", "paused", "broken" };

static const char *state_name(uint32_t state)
{
	return state < 5 ? states[state] : "unknown-state";
}

/* A LIST answer's VMs: ", VMs: ticker running, work off". */
static void print_vms(const struct pvm_resp *r)
{
	const uint8_t *p = (const uint8_t *)payload;

	if (r->len % sizeof(struct pvm_vm)) {
		printf(", not a whole number of VMs");
		return;
	}
	printf(", VMs:");
	for (uint32_t at = 0; at < r->len; at += (uint32_t)sizeof(struct pvm_vm)) {
		struct pvm_vm vm;
		char name[PVM_NAME_SIZE + 1];
		memcpy(&vm, p + at, sizeof(vm));
		for (unsigned i = 0; i <= PVM_NAME_SIZE; i++) {
			char ch = i < PVM_NAME_SIZE ? vm.name[i] : '\0';
			name[i] = ch && (ch < ' ' || ch > '~') ? '?' : ch;
		}
		printf("%s %s %s", at ? "," : "", name, state_name(vm.state));
	}
}

/* An error answer, then a good LIST on the same stream. */
static void ok_list(void)
{
	struct pvm_req bad = request(PVM_LIST, NULL, 0), good = request(PVM_LIST, NULL, 0);
	struct pvm_resp r;
	int c = open_case("ok-list");

	if (c < 0) {
		printf("\n");
		return;
	}
	bad.magic = ~PVM_MAGIC;
	if (!send_bytes(c, &bad, sizeof(bad), true))
		printf("not sent, ");
	enum answer a = read_answer(c, PVM_LIST, &r, ANSWER_WAIT_US);
	print_answer(a, &r);
	if (a == ANSWERED) {
		printf(", then ");
		if (!send_bytes(c, &good, sizeof(good), true))
			printf("not sent, ");
		a = read_answer(c, PVM_LIST, &r, ANSWER_WAIT_US);
		print_answer(a, &r);
		if (a == ANSWERED && r.status == PVM_OK)
			print_vms(&r);
	}
	printf("\n");
	vsock_close(c);
}

/* Request, whole answer, next request: FLOOD_REQUESTS times on one stream. */
static void flood(void)
{
	struct pvm_req q = request(PVM_LIST, NULL, 0);
	struct pvm_resp r;
	enum answer a = ANSWERED;
	unsigned ok = 0, i = 0;
	int c = open_case("flood");

	if (c < 0) {
		printf("\n");
		return;
	}
	for (; i < FLOOD_REQUESTS; i++) {
		if (!send_bytes(c, &q, sizeof(q), false))
			break;
		a = read_answer(c, PVM_LIST, &r, ANSWER_WAIT_US);
		if (a != ANSWERED)
			break;
		ok += r.status == PVM_OK;
	}
	printf("%u of %u answered", ok, FLOOD_REQUESTS);
	if (i < FLOOD_REQUESTS) {
		printf(", then ");
		if (a == ANSWERED)
			printf("not sent");
		else
			print_answer(a, &r);
	}
	printf("\n");
	vsock_close(c);
}

static void log_case(void)
{
	struct pvm_req q = request(PVM_LOG, NULL, 0);
	struct pvm_resp r;
	struct pvm_log l;
	int c = open_case("log");

	if (c < 0) {
		printf("\n");
		return;
	}
	if (!send_bytes(c, &q, sizeof(q), true))
		printf("not sent, ");
	enum answer a = read_answer(c, PVM_LOG, &r, ANSWER_WAIT_US);
	if (a != ANSWERED || r.status != PVM_OK || r.len < sizeof(l)) {
		print_answer(a, &r);
	} else {
		memcpy(&l, payload, sizeof(l));
		printf("status %d, first %u, next %u, from %u, %u bytes", r.status, l.first, l.next,
		       l.from, r.len - (uint32_t)sizeof(l));
	}
	printf("\n");
	vsock_close(c);
}

/* ---- one stream, many requests: the cycles, the pause, the bench ---- */

#define CALL_NOT_SENT (-100) /* below every status */
#define CALL_NO_ANSWER (-101)

/* One request on stream c: the answer's status (its payload in `payload`), or CALL_*. */
static int32_t call(int c, uint32_t op, const char *vm, uint32_t arg)
{
	struct pvm_req q = request(op, vm, arg);
	struct pvm_resp r;

	if (!send_bytes(c, &q, sizeof(q), false))
		return CALL_NOT_SENT;
	return read_answer(c, op, &r, ANSWER_WAIT_US) == ANSWERED ? r.status : CALL_NO_ANSWER;
}

static bool info_of(int c, const char *vm, struct pvm_info *out)
{
	if (call(c, PVM_INFO, vm, 0) != PVM_OK)
		return false;
	memcpy(out, payload, sizeof(*out)); /* an INFO answer is at least this long */
	return true;
}

/* The target stopped, started and reset CYCLES times, every answer status 0; then the INFO of
 * before and after: a cycle takes no stage-2 table page for good, and each START and RESET is
 * one boot. */
static void cycles(int c)
{
	static const uint32_t ops[] = { PVM_STOP, PVM_START, PVM_RESET };
	static const char *const names[] = { "stop", "start", "reset" };
	struct pvm_info before, after;
	unsigned done = 0, k = 0;
	int32_t st = PVM_OK;

	printf("mgmtpoke: cycles: ");
	if (!info_of(c, target, &before)) {
		printf("no INFO of %s\n", target);
		return;
	}
	for (; done < CYCLES && st == PVM_OK; done += st == PVM_OK)
		for (k = 0; k < 3 && st == PVM_OK; k++)
			st = call(c, ops[k], target, 0);
	printf("%u of %u", done, CYCLES);
	if (st != PVM_OK)
		printf(", then %s: status %d", names[k - 1], st);
	if (!info_of(c, target, &after)) {
		printf(", no INFO after\n");
		return;
	}
	printf(", tables free %u -> %u, starts %u -> %u\n", before.tables_free, after.tables_free,
	       before.starts, after.starts);
	printf("mgmtpoke: %s after the cycles: %s\n", target, state_name(after.vm.state));
}

/* The target's uptime by its INFO, in ms: where its own clock stood (0, and an unknown state,
 * if no INFO came). */
static uint64_t uptime_ms(int c, struct pvm_info *i)
{
	if (!info_of(c, target, i) || !i->freq) {
		i->vm.state = ~0u;
		return 0;
	}
	return i->uptime_ticks * 1000u / i->freq;
}

/* PAUSE, PAUSE_US of our own time, RESUME, each with the target's uptime just before. The
 * lines bracket the pause: `paused` once it was answered, `resuming` before the RESUME goes
 * (the target may print at once after it, before our next line): the test finds no line of
 * the target's in between, and those of its one-second ticks that fell due meanwhile after. */
static void pause_case(int c)
{
	struct pvm_info i;
	uint64_t at = uptime_ms(c, &i);
	int32_t st = call(c, PVM_PAUSE, target, 0);

	printf("mgmtpoke: paused at %s's %lu ms: status %d\n", target, at, st);
	sleep_us(PAUSE_US);
	at = uptime_ms(c, &i);
	printf("mgmtpoke: resuming at %s's %lu ms, %s\n", target, at, state_name(i.vm.state));
	printf("mgmtpoke: resumed: status %d\n", call(c, PVM_RESUME, target, 0));
	sleep_us(CATCH_UP_US);
	printf("mgmtpoke: %u ms after the resume\n", CATCH_UP_US / 1000);
}

/* What the default mode does after the cases: on one stream, the cycles, the pause, and a last
 * STOP (the target would run for ever, and the board powers off when every VM is off). */
static void lifecycle(void)
{
	int c = vsock_connect(PVM_CID, PVM_PORT);

	if (c < 0) {
		printf("mgmtpoke: cycles: refused\n");
		return;
	}
	cycles(c);
	sleep_us(SETTLE_US);
	pause_case(c);
	printf("mgmtpoke: last stop: status %d\n", call(c, PVM_STOP, target, 0));
	vsock_close(c);
}

/* A VM whose config has no `manages`: the service refuses the connection itself. */
static void noright(void)
{
	if (!vsock_init()) {
		printf("mgmtpoke: no vsock device\n");
		return;
	}
	int c = vsock_connect(PVM_CID, PVM_PORT);
	printf("mgmtpoke: connect: %s\n", c < 0 ? "refused" : "connected");
	if (c >= 0)
		vsock_close(c);
}

/* ---- the bench (bench/run.py: -icount shift=0 -smp 1, both VMs with `pmu;`) ----
 * PMU event counter 0 counts instructions retired at EL1 and, with NSH, at EL2 (Arm ARM D17.5,
 * PMEVTYPER<n>_EL0: P and U clear count EL1 and EL0). The hypervisor does not switch the PMU
 * between VMs, so the target, on the same core, reads the same counter. Event counters are
 * 32 bits on this PMU (no PMCR_EL0.LP): differences are taken modulo 2^32. */
#define PMU_INST_RETIRED 0x08u
#define PMEVTYPER_NSH (1ul << 27)
#define PMCR_E (1ul << 0) /* PMCR_EL0 (D17.5.7): enable */
#define PMCR_P (1ul << 1) /* reset the event counters */

/* No ISB: under QEMU a PMU read is exact in program order (guests/bench says why). */
static inline uint32_t pmu_count(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, pmevcntr0_el0" : "=r"(v) : : "memory");
	return (uint32_t)v;
}

static void pmu_start(void)
{
	__asm__ volatile("msr pmevtyper0_el0, %0\n\t"
			 "msr pmcr_el0, %1\n\t"
			 "msr pmcntenset_el0, %2\n\t"
			 "isb"
			 : : "r"(PMEVTYPER_NSH | PMU_INST_RETIRED), "r"(PMCR_E | PMCR_P), "r"(1ul)
			 : "memory");
}

static inline uint64_t cntpct(void)
{
	uint64_t v;
	__asm__ volatile("isb\n\tmrs %0, cntpct_el0" : "=r"(v) : : "memory");
	return v;
}

/* One request on stream c, timed: the counter before sending and once the answer was read, and
 * the generic counter's ticks in between (bench/run.py checks with them that EL2 was counted:
 * under -icount shift=0, with nothing idle, ticks x 1e9 / CNTFRQ is the same count). */
static void timed(int c, const char *what, uint32_t op)
{
	uint64_t t0 = cntpct();
	uint32_t sent = pmu_count();
	int32_t st = call(c, op, target, 0);
	uint32_t answered = pmu_count();
	uint64_t ticks = cntpct() - t0;

	printf("mgmtpoke: %s sent at %u, answered at %u, %lu ticks: status %d\n", what, sent,
	       answered, ticks, st);
}

/* BENCH_ROUNDS times: START the target (off), let it print where the counter stood at its
 * first instruction, STOP it. The prints come after what they measure. */
static void bench(void)
{
	if (!vsock_init()) {
		printf("mgmtpoke: no vsock device\n");
		return;
	}
	pmu_start();
	int c = vsock_connect(PVM_CID, PVM_PORT);
	if (c < 0) {
		printf("mgmtpoke: bench: refused\n");
		return;
	}
	for (unsigned i = 0; i < BENCH_ROUNDS; i++) {
		timed(c, "start", PVM_START);
		sleep_us(BENCH_SETTLE_US);
		timed(c, "stop", PVM_STOP);
	}
	vsock_close(c);
	printf("mgmtpoke: bench done\n");
}

/* The bench's target, from main's first lines: where the counter stood at crt0's first
 * instruction. crt0 clears .bss (the vsock library's megabyte, about 570,000 instructions)
 * before main, so main backs its reading off by the generic counter's ticks since crt0 read
 * it (boot_cntpct): under -icount shift=0 a tick is 1e9 / CNTFRQ instructions of this, the
 * only, core, and nothing idles in between. The counter first: a trap of that read is then in
 * both. Then it sleeps for good, for the bench to stop. */
static _Noreturn void first(void)
{
	uint64_t now = cntpct();
	uint32_t at_main = pmu_count();
	uint32_t at_first = at_main - (uint32_t)((now - boot_cntpct) * (1000000000u / timer_freq()));
	printf("mgmtpoke: first instruction at %u, main at %u\n", at_first, at_main);
	for (;;)
		wfi();
}

/* ---- options ---- */

/* The value of the word `key=VALUE` in args, at most max bytes, into out; false if none. */
static bool bootarg_name(const char *args, const char *key, char *out, unsigned max)
{
	for (const char *w = args; w && *w;) {
		const char *k = key, *p = w;
		while (*k && *p == *k) {
			p++;
			k++;
		}
		if (!*k && *p == '=') {
			unsigned n = 0;
			for (p++; p[n] && p[n] != ' '; n++)
				if (n == max)
					return false;
			if (!n)
				return false;
			memcpy(out, p, n);
			out[n] = '\0';
			return true;
		}
		while (*w && *w != ' ')
			w++;
		while (*w == ' ')
			w++;
	}
	return false;
}

/* The cases of the default mode, then the lifecycle phases. */
static void poke(void)
{
	overlong(); /* first: vsock_init then resets the device under the raw streams */
	if (!vsock_init()) {
		printf("mgmtpoke: no vsock device\n");
		return;
	}
	printf("mgmtpoke: cid %lu, poking cid %u port %u, target %s, denied %s\n", vsock_cid(),
	       PVM_CID, PVM_PORT, target, denied);
	malformed();
	refused();
	truncated();
	wrong_port();
	ok_list();
	flood();
	log_case();
	lifecycle();
	printf("mgmtpoke: done\n");
}

int main(uint64_t boot_arg)
{
	const char *args = bootargs(boot_arg);
	char mode[NAME_ARG_MAX + 1] = "";

	bootarg_name(args, "mgmtpoke.mode", mode, NAME_ARG_MAX);
	if (str_eq(mode, "first"))
		first();
	bootarg_name(args, "mgmtpoke.target", target, NAME_ARG_MAX);
	bootarg_name(args, "mgmtpoke.denied", denied, NAME_ARG_MAX);
	gic_init();
	gic_cpu_init();
	irq_set_handler(INTID_VTIMER, timer_irq);
	gic_enable(INTID_VTIMER, IRQ_PRIO_DEFAULT);
	irq_enable();
	if (!mode[0])
		poke();
	else if (str_eq(mode, "noright"))
		noright();
	else if (str_eq(mode, "bench"))
		bench();
	else
		printf("mgmtpoke: unknown mode %s\n", mode);
	psci_system_off();
	return 0;
}
