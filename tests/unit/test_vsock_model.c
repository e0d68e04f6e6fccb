/* test_vsock_model.c: a seeded random-operation loop over three VMs' vsock devices, checked
 * against a model of the streams (what each side must receive) and against poison around
 * every byte of guest RAM the hypervisor may not write.
 *
 * The guests are small drivers written here: they post rx chains of 1 to 3 buffers, send
 * packets of 1 to 3 buffers, reset, corrupt their rings and stop reading. Each packet they send
 * carries a unique id in hdr.flags (the router copies the header), and its payload is a
 * function of (id, offset), so the receiver can tell which packet a fragment belongs to, where
 * in it, and whether its bytes are intact. After every step each VM's used rings are drained
 * and what arrived is checked against the model:
 *   - a forwarded packet belongs to a stream the model knows in the state its op needs (a
 *     REQUEST: one the sender's policy allows, on no live stream), fragments in order per
 *     (sender, receiver), each byte once and intact;
 *   - an RST the hypervisor made (flags 0) answers a packet of that VM that was handed back
 *     undelivered, or is owed to it by a stream whose other end went away;
 *   - a packet handed back half delivered belongs to a stream that is gone.
 * Between steps: the stream table's invariants, the owed counters, the stall invariants, and
 * the poison. VSOCK_SEED and VSOCK_STEPS in the environment override the defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "bundle.h"

#include <pv/bundle.h>
#include <pv/virtio.h>
#include <pv/vm.h>
#include <pv/vsock.h>
#include "fake.h"

#define NVM 3u
#define RAM_BASE TEST_RAM_BASE
#define RAM_SIZE TEST_RAM_SIZE
#define POOL_SIZE MiB(16)
#define RING_OFF 0x100000u /* queue q: desc at + q * 0x3000, avail + 0x1000, used + 0x2000 */
#define RX_OFF 0x110000u   /* descriptor i of the rx queue: a 4 KiB area at + i * AREA */
#define TX_OFF 0x120000u
#define AREA 0x1000u
#define QNUM 16u
#define POISON 0xa5u
#define HDR 44u
#define MAX_PAYLOAD 3000u
#define PKTS 4096u /* packet records, a ring by id */

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE,
       OP_CREDIT_REQUEST };

struct desc {
	u64 addr;
	u32 len;
	u16 flags, next;
};

struct hdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

/* ---- randomness: a 64-bit LCG (Knuth's MMIX constants), high bits out ---- */

static u64 rng;

static u32 rnd(u32 n)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (u32)((rng >> 33) % n);
}

static bool chance(u32 per_mille)
{
	return rnd(1000) < per_mille;
}

/* ---- the VMs and their policy ---- */


static struct test_bundle tb;
static u8 *pool;

/* Who may connect where: vm0 to vm1 (any port) and vm2:5000, vm1 to vm0:7000 and vm2 (any),
 * vm2 to vm0 (any). vm2 to vm1 and vm0 to vm2:5001 are forbidden. */
static const struct pvb_vsock_rule rules[NVM][2] = {
	{ { 4, PVB_PORT_ANY }, { 5, 5000 } },
	{ { 3, 7000 }, { 5, PVB_PORT_ANY } },
	{ { 3, PVB_PORT_ANY }, { 0, 0 } },
};
static const u32 rule_count[NVM] = { 2, 2, 1 };

static u32 cid(u32 vm)
{
	return 3 + vm;
}

static bool policy_allows(u32 from, u64 to_cid, u32 port)
{
	for (u32 i = 0; i < rule_count[from]; i++)
		if (rules[from][i].cid == to_cid &&
		    (rules[from][i].port == PVB_PORT_ANY || rules[from][i].port == port))
			return true;
	return false;
}

static void create(void)
{
	test_bundle_init(&tb, NVM);
	for (u32 i = 0; i < NVM; i++) {
		struct pvb_vm *vm = &tb.h.vms[i];
		vm->cid = cid(i);
		vm->rule_count = rule_count[i];
		memcpy(vm->connect, rules[i], sizeof(rules[i]));
	}
	fake_reset();
	if (!pool)
		pool = aligned_alloc(MiB(2), POOL_SIZE);
	EXPECT_EQ(vm_create_all((u8 *)&tb, sizeof(tb), (u64)(uintptr_t)pool,
				(u64)(uintptr_t)pool + POOL_SIZE), NVM);
	memset(pool, POISON, POOL_SIZE); /* the VMs' RAM and what lies after it */
}

/* ---- poison ---- */

static u8 poison_block[AREA];

static u8 *ram(u32 vm, u64 off)
{
	return (u8 *)(uintptr_t)vms[vm].ram_pa.pa + off;
}

static bool poisoned(const u8 *p, u64 n)
{
	for (; n >= AREA; n -= AREA, p += AREA)
		if (memcmp(p, poison_block, AREA))
			return false;
	return !memcmp(p, poison_block, n);
}

/* ---- the guest drivers ---- */

struct chain {
	u8 n;
	u8 desc[3];
	u16 len[3];
};

struct dq {
	u16 avail;     /* the avail index the driver published */
	u16 used;      /* the used entries it has read */
	u16 free_mask; /* descriptors not in a posted chain */
	struct chain ch[QNUM]; /* by head */
	u32 pkt[QNUM];         /* tx: the packet id of each posted head */
};

struct drv {
	bool up;      /* its driver runs (not stopped) */
	bool dry;     /* it posts no rx buffers for now */
	struct dq q[2];
	struct desc desc_shadow[2][QNUM];
	u16 avail_shadow[2][2 + QNUM];
};

static struct drv drv[NVM];

static u64 ring_off(u32 q, u32 part)
{
	return RING_OFF + q * 0x3000u + part * 0x1000u;
}

static u64 area_off(u32 q, u32 i)
{
	return (q == 0 ? RX_OFF : TX_OFF) + i * AREA;
}

static struct desc *gdesc(u32 vm, u32 q)
{
	return (struct desc *)(void *)ram(vm, ring_off(q, 0));
}

static u16 *gavail(u32 vm, u32 q)
{
	return (u16 *)(void *)ram(vm, ring_off(q, 1));
}

static u16 *gused(u32 vm, u32 q)
{
	return (u16 *)(void *)ram(vm, ring_off(q, 2));
}

static void wr(u32 vm, u64 off, u32 v)
{
	u64 val = v;
	EXPECT(virtio_mmio_access(&vms[vm], 0, off, 4, true, &val));
}

static u32 rd(u32 vm, u64 off)
{
	u64 val = 0;
	EXPECT(virtio_mmio_access(&vms[vm], 0, off, 4, false, &val));
	return (u32)val;
}

/* Rings and buffer areas back to poison and zeroed rings: the driver starts afresh. */
static void drv_forget(u32 vm)
{
	memset(&drv[vm].q, 0, sizeof(drv[vm].q));
	memset(drv[vm].desc_shadow, 0, sizeof(drv[vm].desc_shadow));
	memset(drv[vm].avail_shadow, 0, sizeof(drv[vm].avail_shadow));
	for (u32 q = 0; q < 3; q++) {
		memset(ram(vm, ring_off(q, 0)), POISON, 0x3000);
		memset(ram(vm, ring_off(q, 0)), 0, 16 * QNUM);
		memset(ram(vm, ring_off(q, 1)), 0, 4 + 2 * QNUM);
		memset(ram(vm, ring_off(q, 2)), 0, 4 + 8 * QNUM);
	}
	memset(ram(vm, RX_OFF), POISON, 2 * QNUM * AREA);
	drv[vm].q[0].free_mask = drv[vm].q[1].free_mask = 0xffff;
}

/* Takes k free descriptors of queue q, fills them for buffers of lens len[] (NEXT-chained,
 * writable for rx) and publishes the chain. Returns the head, or -1 when too few are free. */
static int post_chain(u32 vm, u32 q, u32 k, const u16 *len)
{
	struct dq *dq = &drv[vm].q[q];
	if ((u32)__builtin_popcount(dq->free_mask) < k)
		return -1;
	struct chain c = { .n = (u8)k };
	for (u32 j = 0; j < k; j++) {
		u32 i = (u32)__builtin_ctz(dq->free_mask);
		dq->free_mask &= (u16)~(1u << i);
		c.desc[j] = (u8)i;
		c.len[j] = len[j];
	}
	for (u32 j = 0; j < k; j++) {
		struct desc d = { RAM_BASE + area_off(q, c.desc[j]), c.len[j],
				  (u16)((q == 0 ? 2 : 0) | (j + 1 < k ? 1 : 0)),
				  j + 1 < k ? c.desc[j + 1] : 0 };
		gdesc(vm, q)[c.desc[j]] = d;
		drv[vm].desc_shadow[q][c.desc[j]] = d;
	}
	dq->ch[c.desc[0]] = c;
	u16 *a = gavail(vm, q), *s = drv[vm].avail_shadow[q];
	a[2 + dq->avail % QNUM] = s[2 + dq->avail % QNUM] = c.desc[0];
	__atomic_thread_fence(__ATOMIC_RELEASE);
	a[1] = s[1] = ++dq->avail;
	return c.desc[0];
}

static void free_chain(u32 vm, u32 q, u32 head)
{
	struct chain *c = &drv[vm].q[q].ch[head];
	for (u32 j = 0; j < c->n; j++) {
		drv[vm].q[q].free_mask |= (u16)(1u << c->desc[j]);
		memset(ram(vm, area_off(q, c->desc[j])), POISON, AREA);
	}
	c->n = 0;
}

/* Chains the device has not handed back (that the driver has not read back, after collect). */
static u32 posted(u32 vm, u32 q)
{
	return (u16)(drv[vm].q[q].avail - drv[vm].q[q].used);
}

/* Up to n rx chains of random shape (64 to 4096 bytes in 1 to 3 buffers), then a notify. */
static void post_rx(u32 vm, u32 n)
{
	static const u16 sizes[] = { 64, 100, 300, 1024, 2000, 4096 };
	for (u32 i = 0; i < n; i++) {
		u32 total = sizes[rnd(ARRAY_SIZE(sizes))], k = 1 + rnd(3);
		u16 len[3];
		if (total < 3 * 48)
			k = 1;
		u32 left = total; /* split anywhere, a header across buffers too */
		for (u32 j = 0; j < k; j++) {
			len[j] = (u16)(j + 1 < k ? 1 + rnd(left - (k - j - 1)) : left);
			left -= len[j];
		}
		if (post_chain(vm, 0, k, len) < 0)
			break;
	}
	wr(vm, 0x050, 0);
}

static void driver_up(u32 vm)
{
	drv_forget(vm);
	drv[vm].up = true;
	drv[vm].dry = false;
	wr(vm, 0x070, 0);
	wr(vm, 0x070, 3);
	wr(vm, 0x024, 1);
	wr(vm, 0x020, 1);
	wr(vm, 0x024, 0);
	wr(vm, 0x020, 0);
	wr(vm, 0x070, 3 | 8);
	for (u32 q = 0; q < 3; q++) {
		wr(vm, 0x030, q);
		wr(vm, 0x038, QNUM);
		wr(vm, 0x080, (u32)(RAM_BASE + ring_off(q, 0)));
		wr(vm, 0x090, (u32)(RAM_BASE + ring_off(q, 1)));
		wr(vm, 0x0a0, (u32)(RAM_BASE + ring_off(q, 2)));
		wr(vm, 0x044, 1);
	}
	wr(vm, 0x070, 0xf);
	EXPECT_EQ(rd(vm, 0x070), 0xf);
	post_rx(vm, rnd(QNUM + 1));
}

/* ---- the model ---- */

struct pkt {
	u32 id;
	u8 from;
	u8 done;  /* handed back, or its sender reset */
	u8 frags; /* fragments seen at the receiver */
	u8 tx_head;
	u32 got;  /* payload bytes seen */
	struct hdr h;
};

static u32 step;
static bool trace; /* VSOCK_TRACE: every packet, arrival and reset on stderr */

static struct pkt pk[PKTS];
static u32 next_id = 1;

struct stream {
	u8 live, open;
	u8 a, b; /* initiator, responder */
	u32 ap, bp;
};

#define MAX_STREAMS 128u
static struct stream ms[MAX_STREAMS];

/* A multiset of RSTs by (to, src_cid, src_port, dst_port). */
struct rst_key {
	u32 to;
	u64 src_cid;
	u32 sport, dport;
};

struct bag {
	struct rst_key k[512];
	u32 n[512];
	u32 count;
};

static struct bag owed, hv_rst, refused;

static void bag_add(struct bag *b, struct rst_key k, int d)
{
	for (u32 i = 0; i < b->count; i++)
		if (!memcmp(&b->k[i], &k, sizeof(k))) {
			b->n[i] = (u32)((int)b->n[i] + d);
			return;
		}
	if (!EXPECT(b->count < ARRAY_SIZE(b->k)) || !EXPECT(d > 0))
		return;
	b->k[b->count] = k;
	b->n[b->count++] = (u32)d;
}

static u32 bag_get(const struct bag *b, struct rst_key k)
{
	for (u32 i = 0; i < b->count; i++)
		if (!memcmp(&b->k[i], &k, sizeof(k)))
			return b->n[i];
	return 0;
}

static void bag_compact(struct bag *b)
{
	u32 j = 0;
	for (u32 i = 0; i < b->count; i++)
		if (b->n[i])
			b->k[j] = b->k[i], b->n[j++] = b->n[i];
	b->count = j;
}

static struct rst_key key(u32 to, u64 src_cid, u32 sport, u32 dport)
{
	struct rst_key k;
	memset(&k, 0, sizeof(k));
	k.to = to, k.src_cid = src_cid, k.sport = sport, k.dport = dport;
	return k;
}

/* The live stream between (x, xp) and (y, yp), opened by either. */
static struct stream *ms_find(u32 x, u32 xp, u32 y, u32 yp)
{
	for (u32 i = 0; i < MAX_STREAMS; i++) {
		struct stream *s = &ms[i];
		if (s->live && ((s->a == x && s->ap == xp && s->b == y && s->bp == yp) ||
				(s->a == y && s->ap == yp && s->b == x && s->bp == xp)))
			return s;
	}
	return NULL;
}

/* vm went away (device reset, failure, VM reset or stop): its streams' other ends are owed an
 * RST, what was owed to it is dropped, and its unfinished packets are forgotten. */
static void model_reset(u32 vm)
{
	if (trace)
		fprintf(stderr, "%u: vm%u resets\n", step, vm);
	for (u32 i = 0; i < MAX_STREAMS; i++) {
		struct stream *s = &ms[i];
		if (!s->live || (s->a != vm && s->b != vm))
			continue;
		u32 other = s->a == vm ? s->b : s->a;
		bag_add(&owed, s->a == vm ? key(other, cid(vm), s->ap, s->bp) :
					    key(other, cid(vm), s->bp, s->ap), 1);
		s->live = 0;
	}
	for (u32 i = 0; i < owed.count; i++)
		if (owed.k[i].to == vm)
			owed.n[i] = 0;
	bag_compact(&owed);
	for (u32 i = 0; i < PKTS; i++)
		if (pk[i].id && !pk[i].done && pk[i].from == vm)
			pk[i].done = 1;
}

/* ---- sending ---- */

static u8 gen(u32 id, u32 off)
{
	u32 x = id * 2654435761u + off * 40503u;
	x ^= x >> 13;
	x *= 0x5bd1e995u;
	return (u8)(x ^ (x >> 15));
}

static struct stats {
	u64 sent, delivered, fragments, bytes, refusals, owed_rsts, resets, corruptions, stalls;
} st;

/* Sends one packet from vm (1 to 3 tx buffers) and notifies. False when its tx ring is full. */
static bool send_pkt(u32 vm, u64 src_cid, u64 dst_cid, u32 sport, u32 dport, u16 op, u16 type,
		     u32 len)
{
	u32 total = HDR + len, k = 1 + rnd(3);
	if (k < (total + AREA - 1) / AREA)
		k = (total + AREA - 1) / AREA;
	if (k > total)
		k = total;
	u16 lens[3];
	u32 left = total;
	for (u32 j = 0; j < k; j++) {
		u32 rest = k - j - 1, lo = left > rest * AREA ? left - rest * AREA : 1;
		u32 hi = left - rest < AREA ? left - rest : AREA;
		lens[j] = (u16)(j + 1 < k ? lo + rnd(hi - lo + 1) : left);
		left -= lens[j];
	}
	struct pkt *p = &pk[next_id % PKTS];
	if (p->id && !EXPECT(p->done))
		return false;
	int head = post_chain(vm, 1, k, lens);
	if (head < 0)
		return false;
	*p = (struct pkt){ .id = next_id++, .from = (u8)vm, .tx_head = (u8)head };
	p->h = (struct hdr){ .src_cid = src_cid, .dst_cid = dst_cid, .src_port = sport,
			     .dst_port = dport, .len = len, .type = type, .op = op, .flags = p->id,
			     .buf_alloc = 65536, .fwd_cnt = rnd(1000) };
	/* the bytes across the chain's buffers */
	const struct chain *c = &drv[vm].q[1].ch[head];
	u32 off = 0;
	for (u32 j = 0; j < c->n; j++) {
		u8 *b = ram(vm, area_off(1, c->desc[j]));
		for (u32 i = 0; i < c->len[j]; i++, off++)
			b[i] = off < HDR ? ((const u8 *)&p->h)[off] : gen(p->id, off - HDR);
	}
	drv[vm].q[1].pkt[head] = p->id;
	st.sent++;
	if (trace)
		fprintf(stderr, "%u: vm%u sends id %u op %u %lu:%u -> %lu:%u len %u\n", step, vm,
			p->id, op, (unsigned long)src_cid, sport, (unsigned long)dst_cid, dport, len);
	wr(vm, 0x050, 1);
	return true;
}

/* ---- draining and checking ---- */

struct obs {
	struct hdr h;
	u8 data[AREA];
};

static struct obs ob[NVM][QNUM];
static u32 ob_count[NVM], ob_next[NVM];
static u32 last_started[NVM][NVM]; /* newest packet id from s that reached r */
static struct pkt *returned[NVM * QNUM];
static u32 returned_count;

static void fail_at(const char *what, u32 vm, const struct hdr *h)
{
	fprintf(stderr, "step %u: vm%u: %s: op %u %lu:%u -> %lu:%u len %u id %u\n", step, vm,
		what, h ? h->op : 0, h ? (unsigned long)h->src_cid : 0, h ? h->src_port : 0,
		h ? (unsigned long)h->dst_cid : 0, h ? h->dst_port : 0, h ? h->len : 0,
		h ? h->flags : 0);
	EXPECT(!what);
}

/* Reads vm's rx and tx used rings: observations, and the tx packets handed back. */
static void collect(u32 vm)
{
	struct dq *rx = &drv[vm].q[0], *tx = &drv[vm].q[1];
	while (gused(vm, 0)[1] != rx->used) {
		u32 *e = (u32 *)(void *)&gused(vm, 0)[2 + 4 * (rx->used++ % QNUM)];
		u32 head = e[0], w = e[1];
		struct chain *c = head < QNUM ? &rx->ch[head] : NULL;
		if (!c || !c->n) {
			fail_at("rx used entry names no posted chain", vm, NULL);
			continue;
		}
		struct obs *o = &ob[vm][ob_count[vm]++];
		u32 off = 0;
		for (u32 j = 0; j < c->n; j++) {
			u8 *b = ram(vm, area_off(0, c->desc[j]));
			u32 n = w > off ? (w - off < c->len[j] ? w - off : c->len[j]) : 0;
			if (n)
				memcpy((u8 *)o + off, b, n);
			/* nothing past what it said it wrote, nor past the buffer */
			if (!poisoned(b + n, AREA - n))
				fail_at("rx buffer written past its used length", vm, NULL);
			off += c->len[j];
		}
		if (w < HDR || w > off || o->h.len != w - HDR)
			fail_at("rx used length does not match the packet", vm, &o->h);
		free_chain(vm, 0, head);
	}
	while (gused(vm, 1)[1] != tx->used) {
		u32 *e = (u32 *)(void *)&gused(vm, 1)[2 + 4 * (tx->used++ % QNUM)];
		u32 head = e[0];
		struct chain *c = head < QNUM ? &tx->ch[head] : NULL;
		if (!c || !c->n) {
			fail_at("tx used entry names no posted chain", vm, NULL);
			continue;
		}
		struct pkt *p = &pk[tx->pkt[head] % PKTS];
		u32 off = 0;
		for (u32 j = 0; j < c->n; j++) {
			u8 *b = ram(vm, area_off(1, c->desc[j]));
			for (u32 i = 0; i < c->len[j]; i++, off++)
				if (b[i] != (off < HDR ? ((const u8 *)&p->h)[off] :
							 gen(p->id, off - HDR))) {
					fail_at("tx buffer changed by the device", vm, &p->h);
					break;
				}
			if (!poisoned(b + c->len[j], AREA - c->len[j]))
				fail_at("written past a tx buffer", vm, &p->h);
		}
		if (e[1] != 0)
			fail_at("tx used length not 0", vm, &p->h);
		returned[returned_count++] = p;
		free_chain(vm, 1, head);
	}
}

/* Whether observation o at r is what the model allows now; if so, its effect on the model. */
static bool apply(u32 r, const struct obs *o)
{
	const struct hdr *h = &o->h;
	if (trace)
		fprintf(stderr, "%u: vm%u got id %u op %u %lu:%u -> %u len %u\n", step, r, h->flags,
			h->op, (unsigned long)h->src_cid, h->src_port, h->dst_port, h->len);
	if (h->dst_cid != cid(r) || h->type != 1) {
		fail_at("misaddressed or mistyped", r, h);
		return true;
	}
	if (!h->flags) { /* the hypervisor's own RST */
		if (h->op != OP_RST || h->len)
			fail_at("a packet no VM sent", r, h);
		else
			bag_add(&hv_rst, key(r, h->src_cid, h->src_port, h->dst_port), 1);
		return true;
	}
	struct pkt *p = &pk[h->flags % PKTS];
	u32 s = p->from;
	if (p->id != h->flags || p->h.dst_cid != cid(r) || h->src_cid != cid(s) ||
	    p->h.src_cid != cid(s) || p->h.type != 1 || p->h.op != h->op ||
	    p->h.src_port != h->src_port || p->h.dst_port != h->dst_port) {
		fail_at("forwarded packet differs from what was sent", r, h);
		return true;
	}
	if (p->id < last_started[s][r] || (p->id > last_started[s][r] && p->frags)) {
		fail_at("out of order", r, h);
		return true;
	}
	struct stream *m = ms_find(s, h->src_port, r, h->dst_port);
	switch (h->op) {
	case OP_REQUEST:
		if (m || !policy_allows(s, cid(r), h->dst_port))
			return false;
		break;
	case OP_RESPONSE:
		if (!m || m->open || m->b != s)
			return false;
		break;
	case OP_RST:
		if (!m)
			return false;
		break;
	default:
		if (!m || !m->open)
			return false;
	}
	if (h->len > p->h.len - p->got || (p->got == p->h.len && p->frags) ||
	    (h->op != OP_RW && h->len != p->h.len)) {
		fail_at("more of the packet than it had", r, h);
		return true;
	}
	for (u32 i = 0; i < h->len; i++)
		if (o->data[i] != gen(p->id, p->got + i)) {
			fail_at("payload corrupted", r, h);
			break;
		}
	last_started[s][r] = p->id;
	p->got += h->len;
	p->frags++;
	st.fragments++;
	st.bytes += h->len;
	if (h->op == OP_REQUEST) {
		u32 i = 0;
		while (i < MAX_STREAMS && ms[i].live)
			i++;
		if (EXPECT(i < MAX_STREAMS))
			ms[i] = (struct stream){ 1, 0, (u8)s, (u8)r, h->src_port, h->dst_port };
	} else if (h->op == OP_RESPONSE) {
		m->open = 1;
	} else if (h->op == OP_RST) {
		m->live = 0;
	}
	return true;
}

/* What apply changes, saved so that another interleaving can be tried. */
static struct {
	struct stream ms[MAX_STREAMS];
	u32 last_started[NVM][NVM];
	struct bag hv_rst;
	struct pkt pk[NVM * QNUM];
	u32 pk_count;
	struct stats st;
} saved;

static void save(void)
{
	memcpy(saved.ms, ms, sizeof(ms));
	memcpy(saved.last_started, last_started, sizeof(last_started));
	saved.hv_rst = hv_rst;
	saved.st = st;
	saved.pk_count = 0;
	for (u32 r = 0; r < NVM; r++)
		for (u32 i = 0; i < ob_count[r]; i++)
			saved.pk[saved.pk_count++] = pk[ob[r][i].h.flags % PKTS];
}

static void restore(void)
{
	memcpy(ms, saved.ms, sizeof(ms));
	memcpy(last_started, saved.last_started, sizeof(last_started));
	hv_rst = saved.hv_rst;
	st = saved.st;
	for (u32 i = saved.pk_count; i--;) /* backwards: the first copy of a record wins */
		pk[saved.pk[i].id % PKTS] = saved.pk[i];
}

/* Whether the model's live streams are the table's REQUESTED and OPEN entries, in state. */
static bool model_is_table(void)
{
	u32 live = 0, model_live = 0;
	for (u32 i = 0; i < NVM; i++)
		for (u32 j = 0; j < VSOCK_STREAMS; j++) {
			const struct vsock_stream *t = &vms[i].vsock.stream[j];
			if (t->state != 1 && t->state != 2)
				continue;
			live++;
			const struct stream *m = ms_find(i, t->port, t->peer, t->peer_port);
			if (!m || m->a != i || m->open != (t->state == 2))
				return false;
		}
	for (u32 i = 0; i < MAX_STREAMS; i++)
		model_live += ms[i].live;
	return live == model_live;
}

/* Applies what arrived, each VM's in the order it arrived, the VMs interleaved greedily in
 * the priority order `order` (a permutation of 0..2). True when everything fit the model. */
static bool apply_in(const u32 *order, bool report)
{
	for (u32 r = 0; r < NVM; r++)
		ob_next[r] = 0;
	for (bool progress = true; progress;) {
		progress = false;
		for (u32 k = 0; k < NVM; k++) {
			u32 r = order[k];
			while (ob_next[r] < ob_count[r] && apply(r, &ob[r][ob_next[r]])) {
				ob_next[r]++;
				progress = true;
			}
		}
	}
	bool ok = true;
	for (u32 r = 0; r < NVM; r++)
		if (ob_next[r] < ob_count[r]) {
			ok = false;
			if (report)
				fail_at("not allowed by the model", r, &ob[r][ob_next[r]].h);
		}
	return ok;
}

/* Everything that arrived this step, in an order the model accepts. One step may run several
 * senders (a VM posting rx buffers resumes each one stalled on it), and what they delivered
 * to different VMs comes in no order the model can know: a RESPONSE to vm2 may have gone
 * before vm2's RST of that stream reached vm0, or the other way. So interleavings of the VMs'
 * arrivals are tried until one fits every arrival and ends where the stream table is (which
 * only tells the interleavings apart: each VM's arrivals keep the order they came in). */
static void apply_all(void)
{
	static const u32 orders[][NVM] = { { 0, 1, 2 }, { 1, 2, 0 }, { 2, 0, 1 },
					   { 0, 2, 1 }, { 2, 1, 0 }, { 1, 0, 2 } };
	save();
	for (u32 i = 0; i < ARRAY_SIZE(orders); i++) {
		if (apply_in(orders[i], false) && model_is_table())
			return;
		restore();
	}
	apply_in(orders[0], true); /* check_invariants reports a table that differs */
}

/* The packets handed back this step: undelivered ones were answered with an RST, half
 * delivered ones belong to a stream that is gone; the RSTs left over were owed. */
static void reconcile(void)
{
	for (u32 i = 0; i < returned_count; i++) {
		struct pkt *p = returned[i];
		bool whole = p->frags && p->got == p->h.len;
		if (!whole && p->h.op != OP_RST) {
			bag_add(&refused, key(p->from, p->h.dst_cid, p->h.dst_port, p->h.src_port), 1);
			st.refusals++;
		}
		if (whole)
			st.delivered++;
		if (p->frags && !whole) {
			struct stream *m = ms_find(p->from, p->h.src_port,
						   (u32)(p->h.dst_cid - 3), p->h.dst_port);
			if (m && m->open)
				fail_at("half delivered on a live stream", p->from, &p->h);
		}
		p->done = 1;
	}
	returned_count = 0;
	for (u32 i = 0; i < refused.count; i++)
		if (bag_get(&hv_rst, refused.k[i]) < refused.n[i])
			fail_at("refused without an RST", refused.k[i].to, NULL);
	for (u32 i = 0; i < hv_rst.count; i++) {
		u32 extra = hv_rst.n[i] - bag_get(&refused, hv_rst.k[i]);
		if (hv_rst.n[i] < bag_get(&refused, hv_rst.k[i]))
			continue;
		if (extra > bag_get(&owed, hv_rst.k[i])) {
			fprintf(stderr, "step %u: vm%u: RST from %lu:%u to port %u neither owed nor "
				"an answer\n", step, hv_rst.k[i].to,
				(unsigned long)hv_rst.k[i].src_cid, hv_rst.k[i].sport,
				hv_rst.k[i].dport);
			EXPECT(0);
			continue;
		}
		if (extra)
			bag_add(&owed, hv_rst.k[i], -(int)extra);
		st.owed_rsts += extra;
	}
	bag_compact(&owed);
	hv_rst.count = refused.count = 0;
}

/* The hypervisor's tables against themselves and against the model. */
static void check_invariants(void)
{
	u32 owed_to[NVM] = { 0 }, model_owed[NVM] = { 0 }, live = 0, model_live = 0;
	for (u32 i = 0; i < NVM; i++)
		for (u32 j = 0; j < VSOCK_STREAMS; j++) {
			const struct vsock_stream *s = &vms[i].vsock.stream[j];
			if (!s->state)
				continue;
			if (s->peer >= NVM || s->peer == i || !vms[s->peer].vsock.cid ||
			    !vms[i].vsock.cid || s->state > 3 ||
			    (s->state == 3 && s->rst != 1 && s->rst != 2) ||
			    (s->state != 3 && s->rst)) {
				fail_at("stream table entry broken", i, NULL);
				continue;
			}
			if (s->state == 3) {
				owed_to[s->rst == 1 ? i : s->peer]++;
				continue;
			}
			live++;
			struct stream *m = ms_find(i, s->port, s->peer, s->peer_port);
			if (!m || m->a != i || m->open != (s->state == 2)) {
				fail_at("stream table and model differ", i, NULL);
				fprintf(stderr, "  table vm%u: state %u peer %u %u -> %u; model %s\n", i,
					s->state, s->peer, s->port, s->peer_port,
					!m ? "none" : m->a != i ? "other way" : "other state");
			}
		}
	for (u32 i = 0; i < MAX_STREAMS; i++)
		model_live += ms[i].live;
	for (u32 i = 0; i < owed.count; i++)
		model_owed[owed.k[i].to] += owed.n[i];
	if (live != model_live) {
		fail_at("live streams: table and model differ", 0, NULL);
		for (u32 i = 0; i < NVM; i++)
			for (u32 j = 0; j < VSOCK_STREAMS; j++) {
				const struct vsock_stream *t = &vms[i].vsock.stream[j];
				if (t->state)
					fprintf(stderr, "  table vm%u: state %u peer %u %u -> %u rst %u\n",
						i, t->state, t->peer, t->port, t->peer_port, t->rst);
			}
		for (u32 i = 0; i < MAX_STREAMS; i++)
			if (ms[i].live)
				fprintf(stderr, "  model: vm%u:%u -> vm%u:%u open %u\n", ms[i].a,
					ms[i].ap, ms[i].b, ms[i].bp, ms[i].open);
	}
	for (u32 v = 0; v < NVM; v++) {
		const struct vsock *vs = &vms[v].vsock;
		if (vs->owed != owed_to[v])
			fail_at("owed counter is not the CLOSING entries owed", v, NULL);
		if (vs->owed != model_owed[v])
			fail_at("owed counter differs from the model", v, NULL);
		bool up = drv[v].up;
		u32 rx_posted = up ? posted(v, 0) : 0;
		/* what waits, waits for a VM with no rx buffer */
		if (up && vs->owed && rx_posted)
			fail_at("RSTs owed to a VM with rx buffers", v, NULL);
		if (up && posted(v, 1) && !vs->stalled)
			fail_at("tx packets waiting, not stalled", v, NULL);
		if (vs->stalled) {
			u32 w = vs->waiting_on;
			if (!up || w >= NVM || !drv[w].up || posted(w, 0))
				fail_at("stalled on a VM that could take it", v, NULL);
		}
		if (up && rd(v, 0x070) != 0xf)
			fail_at("device not up", v, NULL);
	}
}

/* Rings as the driver wrote them, the used rings' tails, every area not posted: poison. */
static void check_rings(u32 vm)
{
	for (u32 q = 0; q < 2; q++) {
		if (memcmp(gdesc(vm, q), drv[vm].desc_shadow[q], sizeof(drv[vm].desc_shadow[q])) ||
		    memcmp(gavail(vm, q), drv[vm].avail_shadow[q],
			   sizeof(drv[vm].avail_shadow[q])))
			fail_at("device wrote the descriptor table or avail ring", vm, NULL);
		if (!poisoned((u8 *)gused(vm, q) + 4 + 8 * QNUM, 64))
			fail_at("written past the used ring", vm, NULL);
	}
}

static void check_poison_all(void)
{
	for (u32 vm = 0; vm < NVM; vm++) {
		if (!drv[vm].up)
			continue; /* stopped: its driver's rings are all that is in its RAM */
		check_rings(vm);
		if (!poisoned(ram(vm, 0), RING_OFF) ||
		    !poisoned(ram(vm, TX_OFF + QNUM * AREA), RAM_SIZE - TX_OFF - QNUM * AREA))
			fail_at("RAM outside the rings and buffers written", vm, NULL);
		for (u32 q = 0; q < 3; q++) {
			if (!poisoned(ram(vm, ring_off(q, 0)) + 16 * QNUM, 0x1000 - 16 * QNUM) ||
			    !poisoned(ram(vm, ring_off(q, 1)) + 4 + 2 * QNUM, 0x1000 - 4 - 2 * QNUM) ||
			    !poisoned(ram(vm, ring_off(q, 2)) + 4 + 8 * QNUM, 0x1000 - 4 - 8 * QNUM))
				fail_at("ring page written", vm, NULL);
		}
		for (u32 q = 0; q < 2; q++)
			for (u32 i = 0; i < QNUM; i++) {
				const struct dq *dq = &drv[vm].q[q];
				if (dq->free_mask & (1u << i)) {
					if (!poisoned(ram(vm, area_off(q, i)), AREA))
						fail_at("a buffer not posted was written", vm, NULL);
				} else {
					u32 len = drv[vm].desc_shadow[q][i].len;
					if (!poisoned(ram(vm, area_off(q, i)) + len, AREA - len))
						fail_at("written past a posted buffer", vm, NULL);
				}
			}
	}
	if (!poisoned(pool + NVM * RAM_SIZE, POOL_SIZE - NVM * RAM_SIZE))
		fail_at("memory after the VMs' RAM written", 0, NULL);
}

/* ---- the operations ---- */

static u32 pick_up_vm(void)
{
	u32 v = rnd(NVM);
	for (u32 i = 0; i < NVM && !drv[v].up; i++)
		v = (v + 1) % NVM;
	return v;
}

static u32 local_port(void)
{
	return 1000 + rnd(12);
}

static u32 service_port(void)
{
	static const u32 p[] = { 5000, 5001, 7000 };
	return p[rnd(3)];
}

static u64 some_cid(u32 vm)
{
	if (chance(30))
		return (u64[]){ 2, 99, cid(vm), 1ull << 32 | 4 }[rnd(4)];
	return cid(rnd(NVM));
}

enum want { ANY, ASKED, OPEN };

/* A model stream vm is an end of (one it was asked for, or an open one, if it can), as (its
 * port, other cid, other port); or now and then, and when there is none, a random tuple. */
static void pick_stream(u32 vm, enum want want, u32 *port, u64 *to, u32 *to_port)
{
	struct stream *c[MAX_STREAMS];
	u32 n = 0;
	for (u32 i = 0; i < MAX_STREAMS; i++)
		if (ms[i].live && (ms[i].a == vm || ms[i].b == vm) &&
		    (want == ANY || chance(50) || (want == ASKED ? ms[i].b == vm && !ms[i].open :
								    ms[i].open)))
			c[n++] = &ms[i];
	if (!n || chance(80)) {
		*port = chance(500) ? local_port() : service_port();
		*to = some_cid(vm);
		*to_port = chance(500) ? local_port() : service_port();
		return;
	}
	struct stream *s = c[rnd(n)];
	bool init = s->a == vm;
	*port = init ? s->ap : s->bp;
	*to = cid(init ? s->b : s->a);
	*to_port = init ? s->bp : s->ap;
}

static u32 payload_len(void)
{
	u32 r = rnd(10);
	return r < 3 ? rnd(16) : r < 8 ? rnd(600) : rnd(MAX_PAYLOAD + 1);
}

/* vm's device is reset now (the first thing of this step), its driver comes up again. */
static void device_reset(u32 vm)
{
	wr(vm, 0x070, 0);
	model_reset(vm);
	driver_up(vm);
	st.resets++;
}

/* Breaks one rule of docs/virtio.md, such that the device notices it before anything else
 * moves (the model takes the failure as the first event of the step): its tx ring (while
 * nothing waits in it), its rx ring (while an RST is owed to it) or a register. Then resets. */
static void corrupt(u32 vm)
{
	const struct vsock *vs = &vms[vm].vsock;
	u32 kind = rnd(10);
	if (kind < 6 && posted(vm, 1))
		kind = 9;
	/* flush_owed puts the first RST in its rx ring before anything else moves (a stalled
	 * sender resumed first could have its packet delivered before the failure) */
	if (kind >= 6 && kind < 8 && (posted(vm, 0) || !vs->owed))
		kind = 9;
	if (kind < 6) {
		u16 len[2] = { HDR, 8 };
		int head = post_chain(vm, 1, 2, len);
		if (!EXPECT(head >= 0))
			return;
		struct desc *d = &gdesc(vm, 1)[head];
		struct hdr *h = (struct hdr *)(void *)ram(vm, area_off(1, (u32)head));
		*h = (struct hdr){ .src_cid = cid(vm), .dst_cid = cid((vm + 1) % NVM), .len = 8,
				   .type = 1, .op = OP_RW };
		switch (kind) {
		case 0: d->next = (u16)(QNUM + rnd(100)); break;
		case 1: gdesc(vm, 1)[d->next].flags = 1, gdesc(vm, 1)[d->next].next = (u16)head;
			break;
		case 2: d->addr = (u64[]){ RAM_BASE - 64, RAM_BASE + RAM_SIZE - 0x10000,
					    ~0ull - 20 }[rnd(3)];
			break;
		case 3: d->flags |= (u16)(rnd(2) ? 4 : 2); break;
		case 4: h->len = 9 + rnd(1000); break;
		default: gavail(vm, 1)[1] = (u16)(gavail(vm, 1)[1] + QNUM); break;
		}
		wr(vm, 0x050, 1);
	} else if (kind < 8) {
		u16 len[1] = { 256 };
		int head = post_chain(vm, 0, 1, len);
		if (!EXPECT(head >= 0))
			return;
		struct desc *d = &gdesc(vm, 0)[head];
		if (kind == 6)
			d->flags = 0; /* readable */
		else
			d->len = 43;
		wr(vm, 0x050, 0);
	} else if (kind == 8) {
		wr(vm, 0x030, rnd(3));
		wr(vm, (u32[]){ 0x038, 0x080, 0x084, 0x090, 0x094, 0x0a0, 0x0a4 }[rnd(7)], 0x40);
	} else {
		wr(vm, 0x030, 2);
		wr(vm, 0x044, 0);
		wr(vm, 0x050, 2);
	}
	EXPECT(rd(vm, 0x070) & 0x40);
	st.corruptions++;
	model_reset(vm);
	device_reset(vm);
}

static void one_step(void)
{
	u32 vm = pick_up_vm(), r = rnd(1000), port, to_port;
	u64 to;
	if (trace)
		fprintf(stderr, "%u: action %u on vm%u (stalled %u on %u, sent %u)\n", step, r, vm,
			vms[vm].vsock.stalled, vms[vm].vsock.waiting_on, vms[vm].vsock.sent);
	if (r < 90) { /* connect, mostly where the policy allows */
		u32 i = rnd(rule_count[vm]);
		bool ok = chance(700);
		u32 sp = rules[vm][i].port == PVB_PORT_ANY ? service_port() : rules[vm][i].port;
		send_pkt(vm, cid(vm), ok ? rules[vm][i].cid : some_cid(vm), local_port(),
			 ok ? sp : service_port(), OP_REQUEST, 1, 0);
	} else if (r < 180) { /* accept, or a RESPONSE out of turn */
		pick_stream(vm, ASKED, &port, &to, &to_port);
		send_pkt(vm, cid(vm), to, port, to_port, OP_RESPONSE, 1, 0);
	} else if (r < 520) {
		pick_stream(vm, OPEN, &port, &to, &to_port);
		send_pkt(vm, cid(vm), to, port, to_port, OP_RW, 1, payload_len());
	} else if (r < 550) {
		pick_stream(vm, ANY, &port, &to, &to_port);
		send_pkt(vm, cid(vm), to, port, to_port, OP_RST, 1, 0);
	} else if (r < 600) { /* SHUTDOWN, CREDIT_UPDATE, CREDIT_REQUEST; or an op that is none */
		pick_stream(vm, OPEN, &port, &to, &to_port);
		send_pkt(vm, cid(vm), to, port, to_port,
			 chance(100) ? (u16[]){ 0, 8, 0xffff }[rnd(3)] : (u16[]){ 4, 6, 7 }[rnd(3)],
			 1, 0);
	} else if (r < 620) { /* spoofed source, or another type */
		pick_stream(vm, OPEN, &port, &to, &to_port);
		bool spoof = rnd(2);
		send_pkt(vm, spoof ? cid((vm + 1 + rnd(2)) % NVM) : cid(vm), to, port, to_port,
			 (u16)(OP_REQUEST + rnd(5)), spoof ? 1 : (u16)(2 + rnd(3)), rnd(20));
	} else if (r < 960) {
		if (!drv[vm].dry)
			post_rx(vm, rnd(QNUM + 1));
	} else if (r < 975) { /* stops reading for a while, or starts again */
		drv[vm].dry = !drv[vm].dry && chance(300);
	} else if (r < 982) {
		device_reset(vm);
	} else if (r < 990) {
		corrupt(vm);
	} else if (r < 993) {
		vm_reset(&vms[vm], false);
		memset(ram(vm, 0), POISON, 4096); /* the image it loaded again */
		model_reset(vm);
		driver_up(vm);
		st.resets++;
	} else if (r < 997) {
		u32 stopped = 0;
		for (u32 i = 0; i < NVM; i++)
			stopped += !drv[i].up;
		if (stopped == 0) {
			vm_stop(&vms[vm], "random");
			/* Nothing it wrote is left: its rings and buffers neither. */
			for (u64 off = 0; off < RAM_SIZE; off += 8)
				if (*(u64 *)ram(vm, off)) {
					fail_at("RAM not zeroed at stop", vm, NULL);
					break;
				}
			model_reset(vm);
			drv_forget(vm);
			drv[vm].up = false;
			st.resets++;
		} else {
			for (u32 i = 0; i < NVM; i++)
				if (!drv[i].up) { /* boots again */
					vms[i].state = VM_RUNNING;
					memset(ram(i, 0), POISON, RAM_SIZE);
					driver_up(i);
				}
		}
	} else { /* a notify with nothing new */
		wr(vm, 0x050, rnd(2));
	}
}

static void drain_and_check(void)
{
	for (u32 vm = 0; vm < NVM; vm++) {
		ob_count[vm] = 0;
		if (drv[vm].up)
			collect(vm);
	}
	apply_all();
	reconcile();
	check_invariants();
	for (u32 vm = 0; vm < NVM; vm++)
		check_rings(vm);
}

static u64 env_u64(const char *name, u64 dflt)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

TEST(random_operations_against_the_model)
{
	u64 seed = env_u64("VSOCK_SEED", 0x9e3779b97f4a7c15ull);
	trace = env_u64("VSOCK_TRACE", 0);
	u32 steps = (u32)env_u64("VSOCK_STEPS", 200000);
	clock_t t0 = clock();
	rng = seed;
	memset(poison_block, POISON, sizeof(poison_block));
	memset(pk, 0, sizeof(pk));
	memset(ms, 0, sizeof(ms));
	memset(last_started, 0, sizeof(last_started));
	owed.count = hv_rst.count = refused.count = 0;
	create();
	for (u32 vm = 0; vm < NVM; vm++)
		driver_up(vm);
	u32 failures = harness_current_failures;
	for (step = 0; step < steps && harness_current_failures == failures; step++) {
		fake.now += FAKE_TIMER_FREQ / 100;
		fake.out_len = 0; /* the log is not what this test reads */
		one_step();
		drain_and_check();
		for (u32 vm = 0; vm < NVM; vm++)
			st.stalls += vms[vm].vsock.stalled;
		if (step % 2048 == 0)
			check_poison_all();
	}
	/* the end: everyone up and reading until nothing moves */
	for (u32 vm = 0; vm < NVM; vm++)
		if (!drv[vm].up) {
			vms[vm].state = VM_RUNNING;
			memset(ram(vm, 0), POISON, RAM_SIZE);
			driver_up(vm);
		}
	for (u32 round = 0; round < 64 && harness_current_failures == failures; round++) {
		for (u32 vm = 0; vm < NVM; vm++)
			post_rx(vm, QNUM);
		drain_and_check();
	}
	check_poison_all();
	for (u32 vm = 0; vm < NVM; vm++) {
		EXPECT_EQ(posted(vm, 1), 0);
		EXPECT(!vms[vm].vsock.stalled);
		EXPECT_EQ(vms[vm].vsock.owed, 0);
	}
	EXPECT_EQ(owed.count, 0);
	for (u32 i = 0; i < PKTS; i++)
		if (pk[i].id && !pk[i].done)
			fail_at("a packet never handed back", pk[i].from, &pk[i].h);
	printf("vsock model: seed %#llx, %u steps in %.1f s: %llu packets sent, %llu delivered "
	       "(%llu fragments, %llu bytes), %llu refused, %llu owed RSTs, %llu resets, "
	       "%llu corruptions, %llu stalled VM-steps\n",
	       (unsigned long long)seed, step, (double)(clock() - t0) / CLOCKS_PER_SEC,
	       (unsigned long long)st.sent, (unsigned long long)st.delivered,
	       (unsigned long long)st.fragments, (unsigned long long)st.bytes,
	       (unsigned long long)st.refusals, (unsigned long long)st.owed_rsts,
	       (unsigned long long)st.resets, (unsigned long long)st.corruptions,
	       (unsigned long long)st.stalls);
}
