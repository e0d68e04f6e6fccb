/* vsock.c: each VM's virtio-vsock device and the router between them (virtio 1.2 section 5.10,
 * docs/virtio.md): policy on REQUEST, a fixed stream table, payload copied once from the
 * sender's tx buffers into the receiver's rx buffers. Runs under the virtio lock. */
#include <pv/cpu.h>
#include <pv/log.h>
#include <pv/manage.h>
#include <pv/string.h>
#include <pv/vm.h>
#include <pv/vsock.h>

/* The packet header (5.10.6), little-endian, 44 bytes. */
struct hdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port;
	u32 len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct hdr) == 44, "virtio_vsock_hdr is 44 bytes");

#define TYPE_STREAM 1u
enum op { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE,
	  OP_CREDIT_REQUEST };
enum stream_state { FREE, REQUESTED, OPEN, CLOSING /* only an RST is still owed */ };

/* What the router does with one tx packet. */
enum action { DROP, REFUSE /* RST back to the sender */, DELIVER, HOST /* to the service */ };

struct route {
	enum action act;
	struct vm *to;
	struct vsock_stream *s; /* the stream the packet belongs to, or NULL */
	struct vsock_stream *slot; /* REQUEST: the free entry it will take */
};

static u32 irq_pending; /* VMs whose rx or tx ring got used buffers (bit = VM index) */
static void raise_pending(void);

static bool up(const struct vm *vm)
{
	return vm->vsock.cid && vm->vsock.dev.live && vm->vsock.dev.vq[VSOCK_RX].ready &&
	       vm->vsock.dev.vq[VSOCK_TX].ready;
}

struct vm *vm_by_cid(u64 cid)
{
	for (u32 i = 0; i < vm_count; i++)
		if (vms[i].vsock.cid && vms[i].vsock.cid == cid)
			return &vms[i];
	return NULL;
}

static bool allowed(const struct vm *vm, const struct hdr *h)
{
	const struct pvb_vm *c = vm->cfg;
	for (u32 i = 0; i < c->rule_count && i < PVB_MAX_VSOCK_RULES; i++)
		if (c->connect[i].cid == h->dst_cid &&
		    (c->connect[i].port == PVB_PORT_ANY || c->connect[i].port == h->dst_port))
			return true;
	return false;
}

/* The live stream between (from, h->src_port) and (to, h->dst_port), opened by either. */
static struct vsock_stream *find(struct vm *from, struct vm *to, const struct hdr *h)
{
	for (u32 i = 0; i < VSOCK_STREAMS; i++) {
		struct vsock_stream *s = &from->vsock.stream[i];
		if (s->state && s->state != CLOSING && s->peer == to->id && s->port == h->src_port &&
		    s->peer_port == h->dst_port)
			return s;
		s = &to->vsock.stream[i];
		if (s->state && s->state != CLOSING && s->peer == from->id &&
		    s->port == h->dst_port && s->peer_port == h->src_port)
			return s;
	}
	return NULL;
}

static struct vsock_stream *free_slot(struct vm *vm)
{
	for (u32 i = 0; i < VSOCK_STREAMS; i++)
		if (vm->vsock.stream[i].state == FREE)
			return &vm->vsock.stream[i];
	return NULL;
}

static void refused(struct vm *vm, const struct hdr *h, const char *why)
{
	vm->stat.vsock_refused++;
	log_guest(vm, "vsock: connect to %lu:%u refused: %s", h->dst_cid, h->dst_port, why);
}

/* Whether packet op from vm may go on stream s: an RST always, a RESPONSE from the end that
 * was asked, the rest once the stream is open. */
static bool fits(const struct vsock_stream *s, const struct vm *vm, u16 op)
{
	if (op == OP_RST)
		return true;
	if (op == OP_RESPONSE)
		return s->state == REQUESTED && s->peer == vm->id;
	return s->state == OPEN && op >= OP_SHUTDOWN && op <= OP_CREDIT_REQUEST;
}

/* Decides, with no side effect, what becomes of packet h from vm. */
static struct route decide(struct vm *vm, const struct hdr *h)
{
	struct route r = { .act = h->op == OP_RST ? DROP : REFUSE };
	if (h->src_cid != vm->vsock.cid || h->type != TYPE_STREAM) {
		log_guest(vm, "vsock: bad source %lu or type %u", h->src_cid, h->type);
		return r;
	}
	/* The management service takes a REQUEST its policy allows (the VM manages some VM) and
	 * what belongs to the VM's stream to it; the rest finds no VM at CID 2. */
	const struct manage_stream *m = &vm->mgmt;
	if (h->dst_cid == PVM_CID && h->dst_port == PVM_PORT &&
	    (h->op == OP_REQUEST ? vm->cfg->manages != 0 : m->open && h->src_port == m->port)) {
		r.act = HOST;
		return r;
	}
	/* The policy first: a VM learns nothing of peers it may not reach. */
	if (h->op == OP_REQUEST && !allowed(vm, h)) {
		refused(vm, h, "not allowed by its policy");
		return r;
	}
	struct vm *to = vm_by_cid(h->dst_cid);
	if (to == vm)
		to = NULL; /* its own CID: a guest's loopback never needs the device */
	if (!to || !up(to)) {
		if (h->op == OP_REQUEST)
			refused(vm, h, "no VM there is up"); /* none, or no driver yet */
		return r;
	}
	r.to = to;
	r.s = find(vm, to, h);
	if (h->op == OP_REQUEST) {
		if (r.s) {
			refused(vm, h, "not allowed by its policy"); /* it is open already */
			return r;
		}
		r.slot = free_slot(vm);
		if (!r.slot) {
			refused(vm, h, "too many streams");
			return r;
		}
	} else if (!r.s || !fits(r.s, vm, h->op)) {
		return r; /* belongs to no stream in the state it needs: RST, or dropped if RST */
	}
	r.act = DELIVER;
	return r;
}

/* After the whole packet went: the stream table follows what both ends now believe. */
static void commit(struct vm *vm, const struct hdr *h, const struct route *r)
{
	if (h->op == OP_REQUEST) {
		*r->slot = (struct vsock_stream){ .state = REQUESTED, .peer = (u8)r->to->id,
						  .port = h->src_port, .peer_port = h->dst_port };
		vm->stat.vsock_connects++;
	}
	else if (h->op == OP_RESPONSE)
		r->s->state = OPEN;
	else if (h->op == OP_RST)
		r->s->state = FREE;
}

/* Puts one packet into vm's rx ring: header h (its len replaced by n), then n bytes of src from
 * soff. False when the VM has no rx buffer posted, or a broken one (its device then fails). */
static bool rx_put(struct vm *vm, const struct hdr *h, const struct vq_chain *src, u32 soff,
		   u32 *n)
{
	struct virtio_dev *d = &vm->vsock.dev;
	VQ_CHAIN(c, VIRTIO_SEGS);
	if (!up(vm) || !vq_peek(vm, d, VSOCK_RX, true, &c))
		return false;
	if (c.len < sizeof(*h) + (*n ? 1 : 0)) {
		virtio_fail(vm, d, "bad packet", VSOCK_RX);
		return false;
	}
	if (*n > c.len - sizeof(*h))
		*n = (u32)(c.len - sizeof(*h));
	struct hdr out = *h;
	out.len = *n;
	vq_write(&c, 0, &out, sizeof(out));
	if (*n)
		vq_copy(&c, sizeof(out), src, soff, *n);
	vq_take(d, VSOCK_RX);
	if (vq_push(d, VSOCK_RX, c.head, (u32)sizeof(out) + *n))
		irq_pending |= (u32)BIT(vm->id);
	return true;
}

/* Out of line: two callers, neither on the data path. */
static __attribute__((noinline)) struct hdr rst_to(u64 dst_cid, u32 dst_port, u64 src_cid,
						   u32 src_port)
{
	return (struct hdr){ .src_cid = src_cid, .dst_cid = dst_cid, .src_port = src_port,
			     .dst_port = dst_port, .type = TYPE_STREAM, .op = OP_RST };
}

/* ---- The management service's end of vm's stream to CID 2 (docs/manage.md) ---- */

/* A packet of the service's to vm's port `port`, with the service's credit: room for one
 * request, and what it took so far. */
static struct hdr host_hdr(const struct vm *vm, u32 port, u16 op)
{
	struct hdr h = rst_to(vm->vsock.cid, port, PVM_CID, PVM_PORT);
	h.op = op;
	h.buf_alloc = sizeof(struct pvm_req);
	h.fwd_cnt = vm->mgmt.rx_cnt;
	return h;
}

/* A header-only packet to vm; false when it has no rx buffer for it. */
static bool host_ctl(struct vm *vm, u32 port, u16 op)
{
	struct hdr h = host_hdr(vm, port, op);
	u32 n = 0;
	return rx_put(vm, &h, NULL, 0, &n);
}

void vsock_host_flush(struct vm *vm)
{
	struct manage_stream *m = &vm->mgmt;
	while (m->open && m->reply_sent < m->reply_len) {
		/* Within the credit the VM's latest packet gave (5.10.6.3). */
		u32 n = m->reply_len - m->reply_sent, room = m->peer_buf_alloc - (m->tx_cnt - m->peer_fwd_cnt);
		if (room > m->peer_buf_alloc)
			room = 0; /* it claims to have taken more than it got */
		n = n < room ? n : room;
		VQ_CHAIN(src, 1);
		vq_hv_chain(&src, m->reply + m->reply_sent, n);
		struct hdr h = host_hdr(vm, m->port, OP_RW);
		if (!n || !rx_put(vm, &h, &src, 0, &n))
			return; /* on at its next credit update, or when it posts rx buffers */
		m->reply_sent += n;
		m->tx_cnt += n;
	}
}

void vsock_host_answer(struct vm *vm, u32 gen, u32 len)
{
	struct manage_stream *m = &vm->mgmt;
	if (!m->open || !m->pending || m->gen != gen)
		return; /* the stream it was for is gone */
	m->pending = m->fill = 0;
	m->reply_len = len;
	m->reply_sent = 0;
	vsock_host_flush(vm);
	raise_pending();
}

/* One packet from vm to the service. False, with nothing changed, when the answer it needs
 * finds no rx buffer: the caller waits for them. */
static __attribute__((noinline)) bool host_packet(struct vm *vm, const struct hdr *h, const struct vq_chain *c)
{
	struct manage_stream *m = &vm->mgmt;
	if (h->op == OP_REQUEST) {
		if (m->open && h->src_port != m->port) {
			log_guest(vm, "manage: second stream refused");
			return host_ctl(vm, h->src_port, OP_RST);
		}
		/* Not its answer buffer: manage_run may be writing an answer for the stream this
		 * one replaces, which gen then tells apart. */
		u32 gen = m->gen + 1;
		memset(m, 0, __builtin_offsetof(struct manage_stream, reply));
		m->gen = gen;
		m->port = h->src_port;
		if (!host_ctl(vm, h->src_port, OP_RESPONSE))
			return false; /* closed: it is taken afresh once the VM posts rx buffers */
		m->open = 1;
		vm->stat.vsock_connects++;
	}
	m->peer_buf_alloc = h->buf_alloc;
	m->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case OP_REQUEST:
		return true;
	case OP_RW:
		/* One request at a time, and nothing more until its answer went: it had the
		 * credit for one request only. */
		if (!m->pending && m->reply_sent == m->reply_len && h->len <= sizeof(m->req) - m->fill) {
			vq_read((u8 *)&m->req + m->fill, c, sizeof(*h), h->len);
			m->fill = (u8)(m->fill + h->len);
			m->rx_cnt += h->len;
			if (m->fill == sizeof(m->req)) {
				m->pending = 1;
				__atomic_or_fetch(&manage_todo, (u32)BIT(vm->id), __ATOMIC_RELEASE);
				__atomic_store_n(&this_cpu()->resched, 1u, __ATOMIC_RELEASE);
			}
			return true;
		}
		log_guest(vm, "manage: request overrun: stream reset");
		break;
	case OP_CREDIT_REQUEST:
		return host_ctl(vm, m->port, OP_CREDIT_UPDATE);
	case OP_CREDIT_UPDATE:
		vsock_host_flush(vm);
		return true;
	case OP_RST:
		m->open = m->pending = 0;
		return true;
	}
	/* SHUTDOWN (whatever it still had coming is dropped), or a packet out of place. */
	if (!host_ctl(vm, m->port, OP_RST))
		return false;
	m->open = m->pending = 0;
	return true;
}

/* RSTs owed to vm by streams whose other end went away. False while some are still owed (its
 * rx ring is full). */
static bool flush_owed(struct vm *vm)
{
	u32 n = 0;
	for (u32 i = 0; vm->vsock.owed && i < vm_count; i++)
		for (u32 j = 0; j < VSOCK_STREAMS; j++) {
			struct vsock_stream *s = &vms[i].vsock.stream[j];
			bool own = i == vm->id;
			if (s->state != CLOSING || !(own ? s->rst & 1 : s->rst & 2 && s->peer == vm->id))
				continue;
			/* From the far end's (cid, port) to this end's port. */
			struct vm *far = own ? &vms[s->peer] : &vms[i];
			struct hdr h = rst_to(vm->vsock.cid, own ? s->port : s->peer_port,
					      far->cfg->cid, own ? s->peer_port : s->port);
			if (!rx_put(vm, &h, NULL, 0, &n))
				return false;
			*s = (struct vsock_stream){ 0 };
			vm->vsock.owed--;
		}
	return true;
}

/* Delivers the rest of one tx packet to r->to, split over its rx buffers as they come. False
 * when the receiver ran out of buffers: v->sent says how far it got. */
static bool deliver(struct vm *vm, const struct hdr *h, const struct vq_chain *c,
		    const struct route *r)
{
	struct vsock *v = &vm->vsock;
	do {
		u32 n = h->len - v->sent;
		if (!rx_put(r->to, h, c, (u32)sizeof(*h) + v->sent, &n))
			return false;
		v->sent += n;
	} while (v->sent < h->len);
	return true;
}

/* Whether vm's driver notifies when it posts rx buffers (VRING_USED_F_NO_NOTIFY, 2.7.10): only
 * while something waits for them, so a receiver's refills cost it no trap. True when buffers
 * came meanwhile: the caller goes on at once. */
static bool rx_wanted(struct vm *vm, bool want)
{
	const struct virtq *vq = &vm->vsock.dev.vq[VSOCK_RX];
	__atomic_store_n((volatile u16 *)pa_ptr(vq->ring_pa[VQ_USED]), (u16)!want,
			 __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* then the avail index is read (2.7.13.4) */
	return want && vq_pending(vm, &vm->vsock.dev, VSOCK_RX);
}

/* vm's tx ring waits for on's rx buffers; false when they came already. */
static bool stall(struct vm *vm, struct vm *on)
{
	vm->vsock.stalled = 1;
	vm->vsock.waiting_on = (u8)on->id;
	if (!rx_wanted(on, true))
		return true;
	vm->vsock.stalled = 0;
	return false;
}

/* Every packet vm's tx ring holds, in order, until it is empty or a receiver is full. */
static void tx_run(struct vm *vm)
{
	struct vsock *v = &vm->vsock;
	struct virtio_dev *d = &v->dev;
	VQ_CHAIN(c, VIRTIO_SEGS);
	struct hdr h;
	v->stalled = 0;
	/* At most a ring's worth a call: what a driver adds meanwhile comes with its own notify,
	 * and a driver that refills as fast as it is served cannot keep a core here. */
	for (u32 budget = d->vq[VSOCK_TX].num; budget-- && up(vm) &&
					       vq_peek(vm, d, VSOCK_TX, false, &c);) {
		/* A stalled packet is read again: its len may not shrink below what went already. */
		if (c.len < sizeof(h) || (vq_read(&h, &c, 0, sizeof(h)), h.len > c.len - sizeof(h)) ||
		    h.len > VSOCK_MAX_PAYLOAD || h.len < v->sent) {
			virtio_fail(vm, d, "bad packet", VSOCK_TX);
			return;
		}
		struct route r = decide(vm, &h);
		if (r.act == DELIVER) {
			h.src_cid = v->cid; /* the hypervisor says who sent it */
			if (!deliver(vm, &h, &c, &r)) {
				if (!up(r.to)) {
					v->sent = 0; /* the receiver failed: decide again */
					continue;
				}
				if (stall(vm, r.to))
					return;
				continue;
			}
			commit(vm, &h, &r);
		} else if (r.act == HOST) {
			if (!host_packet(vm, &h, &c)) {
				if (stall(vm, vm))
					return;
				continue;
			}
		} else if (r.act == REFUSE) {
			/* The RST goes back at once; a sender with no rx buffer waits for its own. */
			struct hdr rst = rst_to(v->cid, h.src_port, h.dst_cid, h.dst_port);
			u32 n = 0;
			if (!rx_put(vm, &rst, NULL, 0, &n)) {
				if (stall(vm, vm))
					return;
				continue;
			}
		}
		v->sent = 0;
		vq_take(d, VSOCK_TX);
		if (vq_push(d, VSOCK_TX, c.head, 0))
			irq_pending |= (u32)BIT(vm->id);
	}
}

/* vm posted rx buffers, or went away: what waited for it goes on. */
static void rx_ready(struct vm *vm)
{
	/* No notifications from here on, unless something below has to wait for its buffers. */
	if (up(vm))
		rx_wanted(vm, false);
	while (up(vm) && !flush_owed(vm) && rx_wanted(vm, true))
		;
	vsock_host_flush(vm); /* a management answer that waited for buffers */
	for (u32 i = 0; i < vm_count; i++)
		if (vms[i].vsock.stalled && vms[i].vsock.waiting_on == vm->id)
			tx_run(&vms[i]);
}

static void raise_pending(void)
{
	for (u32 i = 0; irq_pending; i++)
		if (irq_pending & BIT(i)) {
			irq_pending &= ~(u32)BIT(i);
			virtio_interrupt(&vms[i], &vms[i].vsock.dev, 0);
		}
}

void vsock_notify(struct vm *vm, u32 q)
{
	if (q == VSOCK_TX)
		tx_run(vm);
	else if (q == VSOCK_RX)
		rx_ready(vm);
	raise_pending(); /* the event queue is never used: the CID does not change */
}

/* Stream s of owner's table as vm goes away: an RST is owed to its other end, and one owed to
 * vm itself is dropped (its driver starts afresh). */
static void close_end(struct vm *owner, struct vsock_stream *s, const struct vm *vm)
{
	bool own = owner == vm;
	if (s->state == FREE || (!own && s->peer != vm->id))
		return;
	if (s->state == CLOSING) {
		if (s->rst & (own ? 1 : 2))
			*s = (struct vsock_stream){ 0 };
		return;
	}
	s->state = CLOSING;
	s->rst = own ? 2 : 1;
	(own ? &vms[s->peer] : owner)->vsock.owed++;
}

void vsock_reset(struct vm *vm)
{
	struct vsock *v = &vm->vsock;
	for (u32 i = 0; i < vm_count; i++)
		for (u32 j = 0; j < VSOCK_STREAMS; j++)
			close_end(&vms[i], &vms[i].vsock.stream[j], vm);
	v->owed = 0;
	v->stalled = 0;
	v->sent = 0;
	vm->mgmt.open = vm->mgmt.pending = 0; /* its stream to the service is gone with it */
	for (u32 i = 0; i < vm_count; i++)
		rx_ready(&vms[i]); /* RSTs to its peers; senders that waited for it */
	raise_pending();
}
