/* test_guest_vsock.c: guests/lib's virtio.c and vsock.c on the host against a fake
 * virtio-mmio vsock device: the registers, the split rings, and a peer the tests script
 * (packets to our own CID loop back, so one guest can be both ends of a stream). */
#include <stdlib.h>
#define main guest_main /* guest.h declares the guests' main(boot_arg); the harness has its own */
#include "guest.h"
#undef main
#include "harness.h"

/* The wire format, written out again here so the test checks vsock.c's layout too. */
struct pkt_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct pkt_hdr) == 44, "virtio_vsock_hdr");

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE,
       OP_CREDIT_REQUEST };
#define MY_CID 3u
#define PEER 7u
#define MAXPKT 256
#define PAYLOAD 4096u

struct pkt {
	struct pkt_hdr h;
	uint8_t data[2 * PAYLOAD];
	uint32_t used_len;      /* for injected ones: the used length to report (0: the real one) */
};

/* ---- the fake device ---- */

static struct {
	uint32_t status, queue_sel, dev_sel, drv_sel, isr, acks;
	uint64_t drv_features;
	uint32_t num[3], ready[3];
	uint64_t desc[3], driver[3], device[3];
	uint16_t seen[3];       /* avail entries taken */
	uint16_t used[3];
	bool notified[3];
} fd;
static struct pkt wire[MAXPKT], inbox[MAXPKT]; /* sent by the guest to the peer; to deliver */
static unsigned wire_count, inbox_head, inbox_tail, idle_waits, tx_posts;
static irq_handler_fn handler;
static uint64_t now;
/* For the next inject(): its header's flags, and a used length other than the true one. */
static uint32_t next_flags, next_used_len;

static void set64(uint64_t *r, uint32_t off, uint32_t v)
{
	*r = off & 4 ? (*r & 0xffffffffu) | (uint64_t)v << 32 : (*r & ~0xffffffffull) | v;
}

uint32_t mmio_read32(uint64_t addr)
{
	uint32_t off = (uint32_t)(addr - VIRTIO_MMIO_BASE), q = fd.queue_sel;
	switch (off) {
	case 0x000: return 0x74726976u;
	case 0x004: return 2;
	case 0x008: return VIRTIO_ID_VSOCK;
	case 0x010: return fd.dev_sel == 1 ? 1u : 0u;
	case 0x034: return q < 3 ? 128u : 0u;
	case 0x044: return q < 3 ? fd.ready[q] : 0u;
	case 0x060: return fd.isr;
	case 0x070: return fd.status;
	case 0x100: return MY_CID;
	case 0x104: return 0;
	}
	fprintf(stderr, "fake: read of unknown register %#x\n", off);
	abort();
}

void mmio_write32(uint64_t addr, uint32_t v)
{
	uint32_t off = (uint32_t)(addr - VIRTIO_MMIO_BASE), q = fd.queue_sel;
	switch (off) {
	case 0x014: fd.dev_sel = v; return;
	case 0x020: set64(&fd.drv_features, fd.drv_sel ? 4 : 0, v); return;
	case 0x024: fd.drv_sel = v; return;
	case 0x030: fd.queue_sel = v; return;
	case 0x038: fd.num[q] = v; return;
	case 0x044: fd.ready[q] = v; return;
	case 0x050: fd.notified[v] = true; return;
	case 0x064: fd.isr &= ~v; fd.acks++; return;
	case 0x070:
		/* 3.1.1: FEATURES_OK sticks only for VERSION_1 alone, as docs/virtio.md says. */
		fd.status = (v & 8) && fd.drv_features != 1ull << 32 ? v & ~8u : v;
		if (!v)
			memset(fd.ready, 0, sizeof(fd.ready));
		return;
	case 0x080: case 0x084: set64(&fd.desc[q], off, v); return;
	case 0x090: case 0x094: set64(&fd.driver[q], off, v); return;
	case 0x0a0: case 0x0a4: set64(&fd.device[q], off, v); return;
	}
	fprintf(stderr, "fake: write of unknown register %#x\n", off);
	abort();
}

/* The guest's rings, at the addresses it wrote (host pointers here). */
static struct virtq_desc *desc(unsigned q, unsigned i)
{
	return (struct virtq_desc *)(uintptr_t)fd.desc[q] + i;
}

static uint16_t *avail(unsigned q) { return (uint16_t *)(uintptr_t)fd.driver[q]; } /* flags, idx */
static uint16_t *used_hdr(unsigned q) { return (uint16_t *)(uintptr_t)fd.device[q]; }

static struct virtq_used_elem *used_ring(unsigned q)
{
	return (struct virtq_used_elem *)(used_hdr(q) + 2);
}

static bool take(unsigned q, unsigned *id)
{
	if (avail(q)[1] == fd.seen[q])
		return false;
	*id = avail(q)[2 + fd.seen[q]++ % fd.num[q]];
	return true;
}

static void give(unsigned q, unsigned id, uint32_t len)
{
	used_ring(q)[fd.used[q] % fd.num[q]] = (struct virtq_used_elem){ id, len };
	used_hdr(q)[1] = ++fd.used[q];
	fd.isr |= 1;
}

/* Guest tx: to our own CID loops back, the rest is the scripted peer's. */
static bool run_tx(void)
{
	unsigned id;
	bool any = false;

	while (take(1, &id)) {
		struct virtq_desc *d = desc(1, id);
		struct pkt p = { 0 };
		EXPECT(!(d->flags & 2) && d->len >= 44 && d->len <= 44 + PAYLOAD);
		memcpy(&p, (void *)(uintptr_t)d->addr, d->len);
		EXPECT_EQ(p.h.len, d->len - 44);
		EXPECT_EQ(p.h.src_cid, MY_CID);
		if (p.h.dst_cid == MY_CID && inbox_tail - inbox_head < MAXPKT)
			inbox[inbox_tail++ % MAXPKT] = p;
		else if (wire_count < MAXPKT)
			wire[wire_count++] = p;
		give(1, id, 0);
		tx_posts++;
		any = true;
	}
	return any;
}

static bool run_rx(void)
{
	unsigned id;
	bool any = false;

	while (inbox_head != inbox_tail && take(0, &id)) {
		struct pkt *p = &inbox[inbox_head++ % MAXPKT];
		struct virtq_desc *d = desc(0, id);
		uint32_t len = 44 + p->h.len;
		EXPECT((d->flags & 2) && d->len == 44 + PAYLOAD);
		memcpy((void *)(uintptr_t)d->addr, p, len < d->len ? len : d->len);
		give(0, id, p->used_len ? p->used_len : len);
		any = true;
	}
	return any;
}

static void run_device(void)
{
	bool any = run_tx() | run_rx();
	if (any && handler)
		handler(VIRTIO_INTID_BASE);
	idle_waits = any ? 0 : idle_waits + 1;
	if (idle_waits > 100) {
		fprintf(stderr, "fake: the guest waits for something that never comes\n");
		abort();
	}
}

/* ---- what the guest code calls besides the device ---- */

void host_wfi(void) { run_device(); }
uint64_t probe_ld32(uint64_t addr, struct probe *p)
{
	p->esr = 0;
	p->value = mmio_read32(addr);
	return 0;
}
void irq_set_handler(unsigned intid, irq_handler_fn fn) { EXPECT_EQ(intid, 48u); handler = fn; }
void gic_enable(unsigned intid, uint8_t prio) { (void)intid; (void)prio; }
void gic_set_edge(unsigned intid) { EXPECT_EQ(intid, 48u); }
uint64_t timer_now(void) { return now; }
uint64_t timer_us(uint64_t us) { return us; }

/* ---- helpers ---- */

static void setup(void)
{
	memset(&fd, 0, sizeof(fd));
	wire_count = inbox_head = inbox_tail = idle_waits = 0;
	handler = NULL;
	next_flags = next_used_len = 0;
	EXPECT(vsock_init());
}

/* Delivers a packet from the peer, lets the guest handle it and its device answer. */
static void inject(uint16_t op, uint32_t src_port, uint32_t dst_port, const void *data,
		   uint32_t len, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct pkt *p = &inbox[inbox_tail++ % MAXPKT];
	memset(p, 0, sizeof(*p));
	p->h = (struct pkt_hdr){ PEER, MY_CID, src_port, dst_port, len, 1, op, next_flags,
				 buf_alloc, fwd_cnt };
	p->used_len = next_used_len;
	next_flags = next_used_len = 0;
	if (len)
		memcpy(p->data, data, len);
	run_device();
	vsock_poll();
	run_device();
}

static unsigned sent_ops(uint16_t op)
{
	unsigned n = 0;
	for (unsigned i = 0; i < wire_count; i++)
		n += wire[i].h.op == op;
	return n;
}

static const struct pkt *last_sent(void) { return wire_count ? &wire[wire_count - 1] : NULL; }

/* A stream from the peer's port `port` to our `listen_port`, accepted; -1 on failure. */
static int peer_stream(uint32_t port, uint32_t listen_port, uint32_t buf_alloc)
{
	inject(OP_REQUEST, port, listen_port, NULL, 0, buf_alloc, 0);
	const struct pkt *r = last_sent();
	if (!EXPECT(r && r->h.op == OP_RESPONSE && r->h.dst_port == port))
		return -1;
	return vsock_accept(listen_port);
}

/* ---- tests ---- */

TEST(init_sets_up_the_device_as_the_spec_orders)
{
	setup();
	EXPECT_EQ(fd.status, 1u | 2u | 8u | 4u);
	EXPECT_EQ(fd.drv_features, 1ull << 32);
	for (unsigned q = 0; q < 3; q++) {
		EXPECT_EQ(fd.num[q], 64u);
		EXPECT_EQ(fd.ready[q], 1u);
		EXPECT_EQ(fd.desc[q] % 16, 0u);
		EXPECT_EQ(fd.device[q] % 4, 0u);
	}
	EXPECT_EQ(avail(0)[1], 64u); /* every rx buffer posted */
	EXPECT_EQ(avail(2)[1], 4u);
	EXPECT(fd.notified[0]);
	EXPECT_EQ(vsock_cid(), (uint64_t)MY_CID);
}

TEST(loopback_stream_carries_data_both_ways_and_closes)
{
	char buf[16] = { 0 };

	setup();
	EXPECT(vsock_listen(5000, 8));
	int c = vsock_connect(MY_CID, 5000);
	int s = vsock_accept(5000);
	if (!EXPECT(c >= 0 && s >= 0 && c != s))
		return;
	EXPECT_EQ(vsock_accept(5000), -1);
	EXPECT_EQ(vsock_send(c, "hello", 5), 5);
	run_device();
	vsock_poll();
	EXPECT_EQ(vsock_recv(s, buf, sizeof(buf)), 5);
	EXPECT(!memcmp(buf, "hello", 5));
	EXPECT_EQ(vsock_recv(s, buf, sizeof(buf)), 0);
	EXPECT_EQ(vsock_send(s, "back", 4), 4);
	run_device();
	vsock_poll();
	EXPECT_EQ(vsock_recv(c, buf, sizeof(buf)), 4);
	vsock_close(c);
	run_device();
	vsock_poll();          /* s gets SHUTDOWN, answers RST */
	EXPECT_EQ(vsock_recv(s, buf, sizeof(buf)), -1);
	run_device();
	vsock_poll();          /* c gets the RST: its slot is free */
	vsock_close(s);
	EXPECT_EQ(vsock_recv(c, buf, 1), -1);
	EXPECT_EQ(vsock_recv(s, buf, 1), -1);
	EXPECT(fd.acks > 0);
	EXPECT_EQ(fd.isr, 0u);
}

TEST(send_respects_the_peer_credit_and_asks_once)
{
	static uint8_t data[300];

	setup();
	vsock_listen(5000, 8);
	int c = peer_stream(1234, 5000, 100);
	if (!EXPECT(c >= 0))
		return;
	EXPECT_EQ(vsock_send_space(c), 100u);
	EXPECT_EQ(vsock_send(c, data, 300), 100);
	EXPECT_EQ(vsock_send(c, data, 300), 0);
	run_device();
	EXPECT_EQ(sent_ops(OP_RW), 1u);
	EXPECT_EQ(sent_ops(OP_CREDIT_REQUEST), 1u);
	inject(OP_CREDIT_UPDATE, 1234, 5000, NULL, 0, 100, 60);
	EXPECT_EQ(vsock_send(c, data, 300), 60);
	inject(OP_CREDIT_UPDATE, 1234, 5000, NULL, 0, 50, 60); /* a shrunk buffer: no credit */
	EXPECT_EQ(vsock_send_space(c), 0u);
	EXPECT_EQ(vsock_send(c, data, 300), 0);
}

TEST(credit_update_after_half_the_buffer_is_read)
{
	static uint8_t data[PAYLOAD], out[PAYLOAD];

	setup();
	vsock_listen(5000, 8);
	int c = peer_stream(1234, 5000, 65536);
	for (unsigned i = 0; i < VSOCK_CONN_BUF / 2 / PAYLOAD; i++) {
		data[0] = (uint8_t)i;
		inject(OP_RW, 1234, 5000, data, PAYLOAD, 65536, 0);
	}
	unsigned updates = sent_ops(OP_CREDIT_UPDATE);
	for (unsigned i = 0; i < VSOCK_CONN_BUF / 2 / PAYLOAD; i++) {
		EXPECT_EQ(vsock_recv(c, out, PAYLOAD), (int)PAYLOAD);
		EXPECT_EQ(out[0], (uint8_t)i);
	}
	run_device();
	EXPECT_EQ(sent_ops(OP_CREDIT_UPDATE), updates + 1);
	EXPECT_EQ(last_sent()->h.fwd_cnt, VSOCK_CONN_BUF / 2);
	EXPECT_EQ(last_sent()->h.buf_alloc, VSOCK_CONN_BUF);
	inject(OP_CREDIT_REQUEST, 1234, 5000, NULL, 0, 65536, 0);
	EXPECT_EQ(last_sent()->h.op, OP_CREDIT_UPDATE);
}

TEST(a_peer_that_overruns_its_credit_is_reset)
{
	static uint8_t data[PAYLOAD], out[64];

	setup();
	vsock_listen(5000, 8);
	int c = peer_stream(1234, 5000, 65536);
	for (unsigned i = 0; i < VSOCK_CONN_BUF / PAYLOAD; i++)
		inject(OP_RW, 1234, 5000, data, PAYLOAD, 65536, 0);
	EXPECT_EQ(sent_ops(OP_RST), 0u);
	inject(OP_RW, 1234, 5000, data, 1, 65536, 0);
	EXPECT_EQ(last_sent()->h.op, OP_RST);
	EXPECT_EQ(vsock_recv(c, out, sizeof(out)), 64); /* what arrived within credit stays */
	EXPECT_EQ(vsock_send(c, out, 1), -1);
}

TEST(packets_for_no_stream_get_rst_but_rst_gets_nothing)
{
	setup();
	inject(OP_RW, 99, 5000, "x", 1, 0, 0);
	EXPECT_EQ(wire_count, 1u);
	EXPECT_EQ(last_sent()->h.op, OP_RST);
	EXPECT_EQ(last_sent()->h.dst_port, 99u);
	inject(OP_RST, 99, 5000, NULL, 0, 0, 0);
	inject(OP_REQUEST, 98, 6000, NULL, 0, 0, 0); /* nobody listens on 6000 */
	EXPECT_EQ(wire_count, 2u);
	EXPECT_EQ(last_sent()->h.op, OP_RST);
}

TEST(one_peer_gets_at_most_its_share_of_the_table)
{
	setup();
	vsock_listen(5000, VSOCK_CONN_COUNT / 2);
	for (uint32_t i = 0; i < VSOCK_CONN_COUNT / 2; i++)
		EXPECT(peer_stream(2000 + i, 5000, 4096) >= 0);
	inject(OP_REQUEST, 3000, 5000, NULL, 0, 4096, 0);
	EXPECT_EQ(last_sent()->h.op, OP_RST);
	EXPECT_EQ(sent_ops(OP_RESPONSE), VSOCK_CONN_COUNT / 2);
}

TEST(a_header_longer_than_the_buffer_is_dropped)
{
	static uint8_t data[64], out[64];

	setup();
	vsock_listen(5000, 8);
	int c = peer_stream(1234, 5000, 4096);
	unsigned sent = wire_count;
	next_used_len = 44 + 10; /* the device wrote 10 of the 64 bytes */
	inject(OP_RW, 1234, 5000, data, 64, 4096, 0);
	EXPECT_EQ(vsock_recv(c, out, sizeof(out)), 0);
	EXPECT_EQ(wire_count, sent);
	next_used_len = 100000; /* more than was posted: clamped */
	inject(OP_RW, 1234, 5000, data, 64, 4096, 0);
	EXPECT_EQ(vsock_recv(c, out, sizeof(out)), 64);
}

TEST(peer_shutdown_is_answered_with_rst_after_its_data)
{
	char out[8];

	setup();
	vsock_listen(5000, 8);
	int c = peer_stream(1234, 5000, 4096);
	inject(OP_RW, 1234, 5000, "bye", 3, 4096, 0);
	inject(OP_SHUTDOWN, 1234, 5000, NULL, 0, 4096, 0);
	EXPECT_EQ(sent_ops(OP_RST), 0u);            /* flags 0: nothing shut yet */
	next_flags = 3;
	inject(OP_SHUTDOWN, 1234, 5000, NULL, 0, 4096, 0);
	EXPECT_EQ(last_sent()->h.op, OP_RST);
	EXPECT_EQ(vsock_recv(c, out, sizeof(out)), 3);
	EXPECT_EQ(vsock_recv(c, out, sizeof(out)), -1);
	vsock_close(c);
	EXPECT_EQ(vsock_accept(5000), -1);
}

TEST(close_without_an_answer_times_out_with_rst)
{
	setup();
	vsock_listen(5000, 8);
	for (unsigned round = 0; round < 3; round++) { /* the slot comes back each time */
		int c = peer_stream(1234, 5000, 4096);
		if (!EXPECT(c >= 0))
			return;
		vsock_close(c);
		run_device();
		EXPECT_EQ(last_sent()->h.op, OP_SHUTDOWN);
		EXPECT_EQ(last_sent()->h.flags, 3u);
		now += 2000000;
		vsock_poll();
		run_device();
		EXPECT_EQ(last_sent()->h.op, OP_RST);
	}
}

TEST(a_refused_connect_returns_minus_one)
{
	setup();
	EXPECT_EQ(vsock_connect(MY_CID, 7777), -1); /* loopback, nobody listens: RST */
	vsock_listen(7777, 1);
	EXPECT(vsock_connect(MY_CID, 7777) >= 0);
}

TEST(features_without_version_1_are_refused)
{
	setup();
	struct virtio_dev d;
	EXPECT(virtio_probe(&d, 0, VIRTIO_ID_VSOCK));
	EXPECT(!virtio_probe(&d, 0, 1)); /* a different device ID */
}

/* Through the credit window many times over, and past the 16-bit ring indices' wrap. */
TEST(loopback_bulk_arrives_whole_and_in_order)
{
	static uint8_t out[3000];
	uint32_t total = 1024 * 1024, sent = 0, got = 0, packets = 0;
	bool ok = true;

	setup();
	vsock_listen(5000, 8);
	int c = vsock_connect(MY_CID, 5000), s = vsock_accept(5000);
	if (!EXPECT(c >= 0 && s >= 0))
		return;
	while (ok && (got < total || packets < 70000)) {
		uint8_t chunk[3000];
		uint32_t n = got < total ? sizeof(chunk) : 1;
		for (uint32_t i = 0; i < n; i++)
			chunk[i] = (uint8_t)((sent + i) * 7u);
		int k = vsock_send(c, chunk, n);
		ok = EXPECT(k >= 0);
		sent += (uint32_t)k;
		packets++;
		run_device();
		vsock_poll();
		int r = vsock_recv(s, out, sizeof(out));
		ok = ok && EXPECT(r >= 0);
		for (int i = 0; ok && i < r; i++)
			ok = EXPECT_EQ(out[i], (uint8_t)((got + (uint32_t)i) * 7u));
		got += (uint32_t)(r > 0 ? r : 0);
		run_device();
		vsock_poll();
	}
	EXPECT(got >= total);
	EXPECT(tx_posts > 65536u);
	EXPECT_EQ(sent_ops(OP_RST), 0u);
}
