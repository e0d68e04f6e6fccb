/* virtq.c: the split-virtqueue walker (virtio 1.2 section 2.7). The rings are guest memory: every
 * index, address and length is read once into the hypervisor and checked before it is used. */
#include <pv/string.h>
#include <pv/virtio.h>
#include <pv/vm.h>

/* Descriptor flags (2.7.5) and the avail ring's (2.7.6). */
#define DESC_F_NEXT 1u
#define DESC_F_WRITE 2u
#define DESC_F_INDIRECT 4u
#define AVAIL_F_NO_INTERRUPT 1u

struct desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

/* Guest memory changes under us: each ring field is loaded once, as one access. */
static u16 load16(paddr_t pa)
{
	return __atomic_load_n((volatile u16 *)pa_ptr(pa), __ATOMIC_RELAXED);
}

static u16 avail_idx(const struct virtq *vq)
{
	u16 idx = load16(pa_add(vq->ring_pa[VQ_AVAIL], 2));
	/* The entries and descriptors the index covers are read after it (2.7.13.3). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return idx;
}

u16 vq_pending(struct vm *vm, struct virtio_dev *d, u32 q)
{
	struct virtq *vq = &d->vq[q];
	if (!vq->ready)
		return 0; /* its rings were never checked: ring_pa may be 0, not the guest's */
	u16 n = (u16)(avail_idx(vq) - vq->last_avail);
	if (n > vq->num) {
		virtio_fail(vm, d, "avail index jumped", q);
		return 0;
	}
	return n;
}

/* One buffer of a chain: its direction, then its place in the VM's RAM. NULL, or what is wrong. */
static const char *take_seg(const struct vm *vm, u32 dir, const struct desc *ds,
			    struct vq_chain *c)
{
	bool w = (ds->flags & DESC_F_WRITE) != 0;
	if (ds->flags & DESC_F_INDIRECT)
		return "indirect descriptor";
	/* Readable buffers come first (2.7.4): one after a writable one is out of order. */
	if (dir == VQ_MIXED ? !w && c->len != c->out_len : w != (dir == VQ_IN))
		return "wrong buffer direction";
	if (ds->len == 0)
		return NULL; /* nothing to move; some drivers leave empty ones in a chain */
	if (c->count == c->cap)
		return "descriptor chain too long";
	struct vq_seg *s = &c->seg[c->count];
	if (!vm_guest_buffer(vm, ds->addr, ds->len, &s->pa))
		return "buffer outside RAM";
	s->len = ds->len;
	c->len += ds->len;
	if (!w)
		c->out_len += ds->len;
	c->count++;
	return NULL;
}

/* Guest memory, read once: a descriptor as two 64-bit loads (an indirect table need not be
 * aligned; EL2 runs without alignment checks, see move()). */
typedef u64 __attribute__((aligned(1), may_alias)) u64_any;

static void load_desc(struct desc *ds, paddr_t at)
{
	const volatile u64_any *p = pa_ptr(at);
	u64 lo = p[0], hi = p[1];
	*ds = (struct desc){ lo, (u32)hi, (u16)(hi >> 32), (u16)(hi >> 48) };
}

/* The chain through n descriptors at table (the ring's, or an indirect table) from entry i, or
 * what is wrong with it. A chain longer than its table revisits an entry: a loop (2.7.5.3.1). */
static const char *walk_table(const struct vm *vm, paddr_t table, u32 n, u32 dir, u32 i,
			      struct vq_chain *c)
{
	struct desc ds;
	for (u32 k = 0;; k++) {
		if (k == n)
			return "descriptor chain too long";
		if (i >= n)
			return "descriptor index out of range";
		load_desc(&ds, pa_add(table, (u64)i * sizeof(ds)));
		const char *why = take_seg(vm, dir, &ds, c);
		if (why)
			return why;
		if (!(ds.flags & DESC_F_NEXT))
			return NULL;
		i = ds.next;
	}
}

/* The chain from head, or what is wrong with it. With `indirect` negotiated, the head may be
 * the one descriptor of its chain and name a table of up to VIRTIO_TABLE_MAX descriptors in the
 * VM's RAM, whose own entries are plain (2.7.5.3.1): the table is walked instead. */
static const char *walk(const struct vm *vm, const struct virtq *vq, u32 dir, u16 head,
			bool indirect, struct vq_chain *c)
{
	c->head = head;
	c->count = 0;
	c->len = c->out_len = 0;
	if (head >= vq->num)
		return "descriptor index out of range";
	struct desc ds;
	load_desc(&ds, pa_add(vq->ring_pa[VQ_DESC], (u64)head * sizeof(ds)));
	if (!(ds.flags & DESC_F_INDIRECT) || !indirect)
		return walk_table(vm, vq->ring_pa[VQ_DESC], vq->num, dir, head, c);
	paddr_t table;
	if (ds.flags & DESC_F_NEXT)
		return "indirect descriptor with next";
	if (!ds.len || ds.len % sizeof(ds) || ds.len / sizeof(ds) > VIRTIO_TABLE_MAX)
		return "bad indirect table size";
	if (!vm_guest_buffer(vm, ds.addr, ds.len, &table))
		return "indirect table outside RAM";
	return walk_table(vm, table, ds.len / (u32)sizeof(ds), dir, 0, c);
}

bool vq_peek(struct vm *vm, struct virtio_dev *d, u32 q, u32 dir, struct vq_chain *c)
{
	struct virtq *vq = &d->vq[q];
	if (!vq_pending(vm, d, q))
		return false;
	u16 head = load16(pa_add(vq->ring_pa[VQ_AVAIL], 4 + 2u * (vq->last_avail & (vq->num - 1u))));
	const char *why = walk(vm, vq, dir, head, (d->drv_features & VIRTIO_F_INDIRECT_DESC) != 0, c);
	if (why)
		virtio_fail(vm, d, why, q);
	return !why;
}

void vq_take(struct virtio_dev *d, u32 q)
{
	d->vq[q].last_avail++;
}

bool vq_push(struct virtio_dev *d, u32 q, u16 head, u32 written)
{
	struct virtq *vq = &d->vq[q];
	/* A request the board's disk finishes after the driver took its queue down: num and the
	 * rings may have changed since they were checked, so nothing is written. */
	if (!vq->ready)
		return false;
	u32 *e = pa_ptr(pa_add(vq->ring_pa[VQ_USED], 4 + 8u * (vq->used_idx & (vq->num - 1u))));
	e[0] = head;
	e[1] = written;
	/* The entry is visible before the index that publishes it (2.7.8.2). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n((volatile u16 *)pa_ptr(pa_add(vq->ring_pa[VQ_USED], 2)), ++vq->used_idx,
			 __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* then the driver's suppression flag is read */
	return !(load16(vq->ring_pa[VQ_AVAIL]) & AVAIL_F_NO_INTERRUPT);
}

const struct vq_seg *vq_seg_at(const struct vq_chain *c, u32 *off)
{
	const struct vq_seg *s = c->seg;
	while (*off >= s->len) {
		*off -= s->len;
		s++;
	}
	return s;
}

static u32 min32(u32 a, u32 b)
{
	return a < b ? a : b;
}

/* Payload sits at any offset (after a 44-byte header, say), so the copy does not wait for both
 * sides to be aligned: EL2 maps RAM as Normal memory and runs without SCTLR_EL2.A, where
 * unaligned loads and stores are allowed (Arm ARM B2.5.2). Two words a round: LDP/STP. */

static void move(u8 *d, const u8 *s, u32 n)
{
	for (; n >= 16; n -= 16, d += 16, s += 16) {
		u64 a = ((const u64_any *)s)[0], b = ((const u64_any *)s)[1];
		((u64_any *)d)[0] = a;
		((u64_any *)d)[1] = b;
	}
	while (n--)
		*d++ = *s++;
}

/* A place in a chain: a segment and an offset inside it. Found once with vq_seg_at, then moved
 * forward segment by segment, so a copy over many buffers is one pass, not one search each. */
struct cursor {
	const struct vq_seg *s;
	u32 off;
};

static struct cursor cursor_at(const struct vq_chain *c, u32 off)
{
	const struct vq_seg *s = vq_seg_at(c, &off);
	return (struct cursor){ s, off };
}

static u32 cursor_room(const struct cursor *k)
{
	return k->s->len - k->off;
}

static u8 *cursor_step(struct cursor *k, u32 n)
{
	u8 *p = pa_ptr(pa_add(k->s->pa, k->off));
	k->off += n;
	if (k->off == k->s->len) /* chains hold no empty segments (take_seg) */
		k->s++, k->off = 0;
	return p;
}

/* Callers keep every range inside the chains (their len): no segment is overrun. */
void vq_copy(const struct vq_chain *dst, u32 doff, const struct vq_chain *src, u32 soff, u32 n)
{
	if (!n)
		return; /* doff may be the chain's end: there is no segment to find */
	struct cursor d = cursor_at(dst, doff), s = cursor_at(src, soff);
	while (n) {
		u32 k = min32(n, min32(cursor_room(&d), cursor_room(&s)));
		u8 *to = cursor_step(&d, k);
		move(to, cursor_step(&s, k), k);
		n -= k;
	}
}

/* Only what a one-segment chain uses is written: the rest of seg[] is never read. */
void vq_hv_chain(struct vq_chain *c, const void *p, u32 n)
{
	c->count = 1;
	c->out_len = c->len = n;
	c->seg[0] = (struct vq_seg){ pa_init((u64)(uintptr_t)p), n };
}

/* n bytes between a hypervisor buffer and a chain at off, either way. */
static void hv_copy(const struct vq_chain *c, u32 off, u8 *p, u32 n, bool to_chain)
{
	if (!n)
		return;
	struct cursor g = cursor_at(c, off);
	while (n) {
		u32 k = min32(n, cursor_room(&g));
		u8 *q = cursor_step(&g, k);
		if (to_chain)
			move(q, p, k);
		else
			move(p, q, k);
		p += k, n -= k;
	}
}

void vq_write(const struct vq_chain *dst, u32 doff, const void *src, u32 n)
{
	hv_copy(dst, doff, (u8 *)(uintptr_t)src, n, true);
}

void vq_read(void *dst, const struct vq_chain *src, u32 soff, u32 n)
{
	hv_copy(src, soff, dst, n, false);
}
