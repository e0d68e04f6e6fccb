/* vsock.c: vsock stream sockets over the virtio-vsock device in slot 0; a fixed table of them. */
#include "guest.h"

/* Packet header (virtio 1.2, 5.10.6): little-endian like us, 44 bytes, no padding. Buffers
 * are 8-aligned, so every field is read with one naturally aligned access or two. */
struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct hdr) == 44, "virtio_vsock_hdr is 44 bytes");

#define TYPE_STREAM 1u
#define OP_REQUEST 1u
#define OP_RESPONSE 2u
#define OP_RST 3u
#define OP_SHUTDOWN 4u
#define OP_RW 5u
#define OP_CREDIT_UPDATE 6u
#define OP_CREDIT_REQUEST 7u
#define SHUT_RCV 1u                     /* the peer will receive no more */
#define SHUT_SEND 2u                    /* the peer will send no more */
#define SHUT_BOTH (SHUT_RCV | SHUT_SEND)
#define EVENT_TRANSPORT_RESET 0u        /* 5.10.6.7 */

#define Q_RX 0u
#define Q_TX 1u
#define Q_EVENT 2u
#define PAYLOAD_MAX 4096u               /* per rx and tx buffer, after the header */
#define PKT_SIZE ((uint32_t)sizeof(struct hdr) + PAYLOAD_MAX)
#define EVENT_BUFS 4u
#define LISTEN_MAX 8u                   /* the vault listens on 5000-5003 and 5100 */
#define CLOSE_TIMEOUT_US 1000000u       /* SHUTDOWN sent and no RST back: forget it anyway */
#define PORT_FIRST_EPHEMERAL 49152u

/* Control packets that found no tx buffer; vsock_poll sends them when one frees up. */
#define OWE_RESPONSE 1u
#define OWE_CREDIT 2u
#define OWE_SHUTDOWN 4u
#define OWE_RST 8u

enum state {
	FREE,
	CONNECTING,                     /* REQUEST sent */
	OPEN,
	CLOSED,                         /* the stream is over; the owner has yet to vsock_close */
	CLOSING,                        /* closed by the owner: SHUTDOWN sent, waiting for RST */
};

struct conn {
	enum state state;
	uint8_t owe, peer_shut;
	bool fresh, credit_asked;
	uint64_t peer_cid;
	uint32_t peer_port, port;
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt; /* the peer's credit (5.10.6.3) */
	uint32_t rx_cnt, fwd_cnt, fwd_told;            /* in, consumed, last told the peer */
	uint64_t close_deadline;
	uint8_t buf[VSOCK_CONN_BUF];                   /* bytes rx_cnt - fwd_cnt, a ring */
};
_Static_assert((VSOCK_CONN_BUF & (VSOCK_CONN_BUF - 1)) == 0, "the receive ring wraps by mask");

struct listener {
	uint32_t port;
	unsigned per_cid_max;           /* 0: slot unused */
};

struct pkt {
	uint64_t words[(PKT_SIZE + 7) / 8];
};

static struct virtio_dev dev;
static struct virtq_mem rings[3];
static struct pkt rx_bufs[VIRTQ_SIZE], tx_bufs[VIRTQ_SIZE];
static uint32_t events[EVENT_BUFS];
static struct conn conns[VSOCK_CONN_COUNT];
static struct listener listeners[LISTEN_MAX];
static uint64_t my_cid;
static uint32_t next_port = PORT_FIRST_EPHEMERAL;

static struct virtq *rxq(void) { return &dev.q[Q_RX]; }
static struct virtq *txq(void) { return &dev.q[Q_TX]; }
static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

static struct conn *conn_get(int c)
{
	return c >= 0 && c < (int)VSOCK_CONN_COUNT && conns[c].state != FREE ? &conns[c] : NULL;
}

/* ---- sending ---- */

static void reclaim_tx(void)
{
	uint32_t len;
	int id;

	while ((id = virtq_next_used(txq(), &len)) >= 0)
		virtq_free(txq(), (unsigned)id);
	virtq_want_interrupts(txq(), txq()->free_count < txq()->num);
}

/* Data may fill the tx queue only up to a reserve, so control packets (RESPONSE, credit,
 * RST) still go out while a slow receiver holds our data back. */
static uint32_t tx_data_slots(void)
{
	struct virtq *q = txq();
	uint32_t busy = (uint32_t)(q->num - q->free_count), limit = q->num - q->num / 8u;

	return busy < limit ? limit - busy : 0;
}

static int tx_slot(bool data)
{
	reclaim_tx();
	if (data && !tx_data_slots())
		return -1;
	return virtq_alloc(txq());
}

struct dest {
	uint64_t cid;
	uint32_t port, src_port;
};

/* One packet to `to`; c (may be NULL) supplies and records the credit fields. */
static bool send_pkt(struct dest to, struct conn *c, uint16_t op, uint32_t flags,
		     const void *data, uint32_t len)
{
	int id = tx_slot(op == OP_RW);
	if (id < 0)
		return false;
	struct hdr *h = (struct hdr *)tx_bufs[id].words;
	*h = (struct hdr){ .src_cid = my_cid, .dst_cid = to.cid, .src_port = to.src_port,
			   .dst_port = to.port, .len = len, .type = TYPE_STREAM, .op = op,
			   .flags = flags, .buf_alloc = VSOCK_CONN_BUF, .fwd_cnt = c ? c->fwd_cnt : 0 };
	if (len)
		memcpy(h + 1, data, len);
	virtq_post(txq(), (unsigned)id, h, (uint32_t)sizeof(*h) + len, false);
	virtq_notify(txq());
	reclaim_tx(); /* pocketvisor takes a packet at the notify, unless its receiver is full */
	if (c) {
		c->fwd_told = c->fwd_cnt;
		c->tx_cnt += len;
	}
	return true;
}

static struct dest dest_of(const struct conn *c)
{
	return (struct dest){ c->peer_cid, c->peer_port, c->port };
}

static const uint16_t owe_ops[] = { [OWE_RESPONSE] = OP_RESPONSE, [OWE_CREDIT] = OP_CREDIT_UPDATE,
				    [OWE_SHUTDOWN] = OP_SHUTDOWN, [OWE_RST] = OP_RST };

/* Everything but the receive ring, which rx_cnt and fwd_cnt say is empty. */
static void forget(struct conn *c)
{
	memset(c, 0, offsetof(struct conn, buf));
}

static void open_slot(struct conn *c, enum state state, struct dest peer)
{
	forget(c);
	c->state = state;
	c->peer_cid = peer.cid;
	c->peer_port = peer.port;
	c->port = peer.src_port;
}

/* After an RST either way: the owner still holds an open conn, or nobody does. */
static void stream_over(struct conn *c)
{
	if (c->state == CLOSING && !c->owe)
		forget(c);
	else if (c->state != CLOSING)
		c->state = CLOSED;
}

static void control(struct conn *c, uint8_t owe)
{
	uint32_t flags = owe == OWE_SHUTDOWN ? SHUT_BOTH : 0;

	if (!send_pkt(dest_of(c), c, owe_ops[owe], flags, NULL, 0)) {
		c->owe |= owe;
		return;
	}
	c->owe &= (uint8_t)~owe;
	if (owe == OWE_RST)
		stream_over(c);
}

/* Sent or owed, the stream is over for its owner at once. */
static void reset(struct conn *c)
{
	control(c, OWE_RST);
	if (c->owe & OWE_RST)
		stream_over(c);
}

static uint32_t credit(const struct conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	return in_flight < c->peer_buf_alloc ? c->peer_buf_alloc - in_flight : 0;
}

/* ---- receiving ---- */

static struct conn *find(const struct hdr *h)
{
	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++) {
		struct conn *c = &conns[i];
		if (c->state != FREE && c->peer_cid == h->src_cid && c->peer_port == h->src_port &&
		    c->port == h->dst_port)
			return c;
	}
	return NULL;
}

/* Streams a peer holds to one of our listening ports. */
static unsigned count_from(uint64_t cid, uint32_t port)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
		n += conns[i].state != FREE && conns[i].peer_cid == cid && conns[i].port == port;
	return n;
}

static struct conn *slot_free(void)
{
	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
		if (conns[i].state == FREE)
			return &conns[i];
	return NULL;
}

static void take_credit(struct conn *c, const struct hdr *h)
{
	if (h->fwd_cnt != c->peer_fwd_cnt || h->buf_alloc != c->peer_buf_alloc)
		c->credit_asked = false;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
}

/* A REQUEST for no stream we have: RESPONSE if someone listens and the peer is under its
 * share of the table, RST otherwise. */
static void accept_request(const struct hdr *h)
{
	struct dest back = { h->src_cid, h->src_port, h->dst_port };
	const struct listener *l = NULL;

	for (unsigned i = 0; i < LISTEN_MAX; i++)
		if (listeners[i].per_cid_max && listeners[i].port == h->dst_port)
			l = &listeners[i];
	struct conn *c = slot_free();
	if (!l || !c || count_from(h->src_cid, h->dst_port) >= l->per_cid_max) {
		send_pkt(back, NULL, OP_RST, 0, NULL, 0);
		return;
	}
	open_slot(c, OPEN, (struct dest){ h->src_cid, h->src_port, h->dst_port });
	c->fresh = true;
	take_credit(c, h);
	control(c, OWE_RESPONSE);
}

static void take_data(struct conn *c, const uint8_t *data, uint32_t len)
{
	if (c->state != OPEN || (c->peer_shut & SHUT_SEND))
		return; /* late data for a stream we are done with */
	if (len > VSOCK_CONN_BUF - (c->rx_cnt - c->fwd_cnt)) {
		reset(c); /* more than the credit we gave: the peer broke 5.10.6.3 */
		return;
	}
	uint32_t at = c->rx_cnt & (VSOCK_CONN_BUF - 1), first = min32(len, VSOCK_CONN_BUF - at);
	memcpy(c->buf + at, data, first);
	memcpy(c->buf, data + first, len - first);
	c->rx_cnt += len;
}

static void take_shutdown(struct conn *c, uint32_t flags)
{
	if (c->state != OPEN && c->state != CLOSING)
		return;
	c->peer_shut |= (uint8_t)(flags & SHUT_BOTH);
	if (c->state == CLOSING || c->peer_shut == SHUT_BOTH)
		reset(c); /* 5.10.6.6: the clean disconnect ends with our RST */
}

static void handle(const struct hdr *h, const uint8_t *data)
{
	struct conn *c = find(h);

	if (!c) {
		if (h->op == OP_REQUEST)
			accept_request(h);
		else if (h->op != OP_RST)
			send_pkt((struct dest){ h->src_cid, h->src_port, h->dst_port }, NULL, OP_RST, 0,
				 NULL, 0);
		return;
	}
	take_credit(c, h);
	switch (h->op) {
	case OP_RESPONSE:
		if (c->state == CONNECTING)
			c->state = OPEN;
		else
			reset(c);
		break;
	case OP_RW: take_data(c, data, h->len); break;
	case OP_SHUTDOWN: take_shutdown(c, h->flags); break;
	case OP_CREDIT_REQUEST: control(c, OWE_CREDIT); break;
	case OP_RST: c->owe = 0; stream_over(c); break;
	case OP_REQUEST: reset(c); break; /* a second REQUEST for a live stream */
	default: break;                   /* CREDIT_UPDATE: take_credit did it */
	}
}

/* Never trusts the header beyond the bytes the device wrote into the buffer we posted. */
static void rx_packet(const struct pkt *p, uint32_t len)
{
	const struct hdr *h = (const struct hdr *)p->words;

	if (len < sizeof(*h) || h->len > len - sizeof(*h) || h->dst_cid != my_cid)
		return;
	if (h->type != TYPE_STREAM) {
		if (h->op != OP_RST)
			send_pkt((struct dest){ h->src_cid, h->src_port, h->dst_port }, NULL, OP_RST, 0,
				 NULL, 0);
		return;
	}
	handle(h, (const uint8_t *)(h + 1));
}

/* ---- the device ---- */

static void rx_post(unsigned id)
{
	virtq_post(rxq(), id, rx_bufs[id].words, PKT_SIZE, true);
}

static void transport_reset(void)
{
	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
		if (conns[i].state != FREE) {
			conns[i].owe = 0;
			stream_over(&conns[i]);
		}
	my_cid = virtio_config_read(&dev, 0) | (uint64_t)virtio_config_read(&dev, 4) << 32;
}

static void poll_events(void)
{
	struct virtq *q = &dev.q[Q_EVENT];
	uint32_t len;
	int id;

	while ((id = virtq_next_used(q, &len)) >= 0) {
		if (len >= sizeof(events[0]) && events[id] == EVENT_TRANSPORT_RESET)
			transport_reset();
		virtq_post(q, (unsigned)id, &events[id], sizeof(events[0]), true);
	}
	virtq_notify(q);
}

static void flush_owed(uint64_t now)
{
	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++) {
		struct conn *c = &conns[i];
		for (uint8_t bit = OWE_RESPONSE; bit <= OWE_RST && c->state != FREE; bit = (uint8_t)(bit << 1))
			if (c->owe & bit)
				control(c, bit);
		if (c->state == CLOSING && now >= c->close_deadline) {
			send_pkt(dest_of(c), c, OP_RST, 0, NULL, 0); /* best effort */
			forget(c);
		}
	}
}

/* The reset in virtio_probe ends every stream the device had (docs/virtio.md). */
bool vsock_init(void)
{
	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
		forget(&conns[i]);
	memset(listeners, 0, sizeof(listeners));
	if (!virtio_probe(&dev, 0, VIRTIO_ID_VSOCK))
		return false;
	for (unsigned i = 0; i < 3; i++)
		if (!virtio_queue_init(&dev, i, &rings[i]))
			return false;
	int id;
	while ((id = virtq_alloc(rxq())) >= 0)
		rx_post((unsigned)id);
	for (unsigned i = 0; i < EVENT_BUFS && (id = virtq_alloc(&dev.q[Q_EVENT])) >= 0; i++)
		virtq_post(&dev.q[Q_EVENT], (unsigned)id, &events[id], sizeof(events[0]), true);
	virtio_start(&dev);
	virtq_notify(rxq());
	virtq_notify(&dev.q[Q_EVENT]);
	my_cid = virtio_config_read(&dev, 0) | (uint64_t)virtio_config_read(&dev, 4) << 32;
	return true;
}

uint64_t vsock_cid(void)
{
	return my_cid;
}

void vsock_poll(void)
{
	uint32_t len;
	int id;
	bool any = false;

	if (!rxq()->mem)
		return;
	reclaim_tx();
	while ((id = virtq_next_used(rxq(), &len)) >= 0) {
		rx_packet(&rx_bufs[id], len);
		rx_post((unsigned)id);
		any = true;
	}
	if (any)
		virtq_notify(rxq());
	poll_events();
	flush_owed(timer_now());
}

bool vsock_pending(void)
{
	return virtq_has_used(rxq()) || virtq_has_used(txq()) || virtq_has_used(&dev.q[Q_EVENT]);
}

void vsock_wait(void)
{
	WAIT_UNTIL(vsock_pending());
}

/* ---- the socket calls ---- */

bool vsock_listen(uint32_t port, unsigned per_cid_max)
{
	for (unsigned i = 0; i < LISTEN_MAX; i++)
		if (!listeners[i].per_cid_max || listeners[i].port == port) {
			listeners[i] = (struct listener){ port, per_cid_max ? per_cid_max : 1 };
			return true;
		}
	return false;
}

int vsock_accept(uint32_t port)
{
	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
		if (conns[i].state != FREE && conns[i].fresh && conns[i].port == port) {
			conns[i].fresh = false;
			return (int)i;
		}
	return -1;
}

static uint32_t ephemeral_port(void)
{
	for (;;) {
		uint32_t p = next_port++;
		if (next_port > 0xffffu)
			next_port = PORT_FIRST_EPHEMERAL;
		bool used = false;
		for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
			used |= conns[i].state != FREE && conns[i].port == p;
		if (!used)
			return p;
	}
}

int vsock_connect(uint64_t cid, uint32_t port)
{
	struct conn *c = rxq()->mem ? slot_free() : NULL;

	if (!c)
		return -1;
	open_slot(c, CONNECTING, (struct dest){ cid, port, ephemeral_port() });
	while (!send_pkt(dest_of(c), c, OP_REQUEST, 0, NULL, 0))
		vsock_wait();
	for (;;) {
		vsock_poll();
		if (c->state != CONNECTING)
			break;
		vsock_wait();
	}
	int id = (int)(c - conns);
	if (c->state == OPEN)
		return id;
	vsock_close(id);
	return -1;
}

bool vsock_peer(int id, uint64_t *cid, uint32_t *port)
{
	const struct conn *c = conn_get(id);

	if (!c)
		return false;
	*cid = c->peer_cid;
	*port = c->peer_port;
	return true;
}

uint32_t vsock_send_space(int id)
{
	struct conn *c = conn_get(id);

	if (!c || c->state != OPEN || (c->peer_shut & SHUT_RCV))
		return 0;
	reclaim_tx();
	return min32(credit(c), tx_data_slots() * PAYLOAD_MAX);
}

int vsock_send(int id, const void *buf, uint32_t len)
{
	struct conn *c = conn_get(id);
	uint32_t sent = 0;

	if (!c || c->state != OPEN || (c->peer_shut & SHUT_RCV))
		return -1;
	while (sent < len) {
		uint32_t n = min32(min32(len - sent, credit(c)), PAYLOAD_MAX);
		if (!n) {
			/* Once per stall: the peer's next update (it sends one as it reads) clears it. */
			if (!c->credit_asked && send_pkt(dest_of(c), c, OP_CREDIT_REQUEST, 0, NULL, 0))
				c->credit_asked = true;
			break;
		}
		if (!send_pkt(dest_of(c), c, OP_RW, 0, (const uint8_t *)buf + sent, n))
			break;
		sent += n;
	}
	return (int)sent;
}

int vsock_recv(int id, void *buf, uint32_t size)
{
	struct conn *c = conn_get(id);

	if (!c)
		return -1;
	uint32_t ready = c->rx_cnt - c->fwd_cnt;
	if (!ready) {
		bool more = (c->state == CONNECTING || c->state == OPEN) && !(c->peer_shut & SHUT_SEND);
		return more ? 0 : -1;
	}
	uint32_t n = min32(size, ready);
	uint32_t at = c->fwd_cnt & (VSOCK_CONN_BUF - 1), first = min32(n, VSOCK_CONN_BUF - at);
	memcpy(buf, c->buf + at, first);
	memcpy((uint8_t *)buf + first, c->buf, n - first);
	c->fwd_cnt += n;
	if (c->state == OPEN && c->fwd_cnt - c->fwd_told >= VSOCK_CONN_BUF / 2)
		control(c, OWE_CREDIT);
	return (int)n;
}

void vsock_close(int id)
{
	struct conn *c = conn_get(id);

	if (!c || c->state == CLOSING)
		return;
	c->fresh = false;
	if (c->state == CLOSED && !c->owe) {
		forget(c);
		return;
	}
	bool was_closed = c->state == CLOSED;
	c->state = CLOSING;
	c->close_deadline = timer_now() + timer_us(CLOSE_TIMEOUT_US);
	if (!was_closed)
		control(c, OWE_SHUTDOWN);
}
