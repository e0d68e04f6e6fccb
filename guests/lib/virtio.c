/* virtio.c: a virtio-mmio version 2 driver with split virtqueues, for one device per slot. */
#include "guest.h"
#include "virtio_mmio.h"

/* Registers: virtio_mmio.h; every access is one 32-bit mmio_read32/mmio_write32. */

#define STATUS_ACKNOWLEDGE 1u          /* 2.1 */
#define STATUS_DRIVER 2u
#define STATUS_DRIVER_OK 4u
#define STATUS_FEATURES_OK 8u
#define STATUS_NEEDS_RESET 0x40u
#define F_VERSION_1_HI (1u << 0)       /* feature bit 32: bit 0 of the second word (6) */
#define DESC_F_WRITE 2u                /* 2.7.5 */
#define USED_F_NO_NOTIFY 1u            /* 2.7.10 */
#define AVAIL_F_NO_INTERRUPT 1u        /* 2.7.7 */

static uint32_t rd(const struct virtio_dev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static void wr(const struct virtio_dev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

static uint64_t addr_of(const volatile void *p) { return (uint64_t)(uintptr_t)p; } /* MMU off */

static void wr64(const struct virtio_dev *d, uint32_t low, uint64_t v)
{
	wr(d, low, (uint32_t)v);
	wr(d, low + 4, (uint32_t)(v >> 32));
}

/* The device offers VERSION_1 and may offer more; we take VERSION_1 and, of the low word, what
 * the caller wants and the device offers (docs/virtio.md). */
static bool negotiate(struct virtio_dev *d, uint32_t want_lo)
{
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	if (!(rd(d, VIRTIO_MMIO_DEVICE_FEATURES) & F_VERSION_1_HI))
		return false;
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	d->features_lo = want_lo ? rd(d, VIRTIO_MMIO_DEVICE_FEATURES) & want_lo : 0;
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, d->features_lo);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, F_VERSION_1_HI);
	uint32_t status = STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK;
	wr(d, VIRTIO_MMIO_STATUS, status);
	return rd(d, VIRTIO_MMIO_STATUS) & STATUS_FEATURES_OK; /* 3.1.1: read back, or it was refused */
}

/* 3.1.1 steps 1-6. The magic is read with a probe: an empty slot is a data abort under
 * pocketvisor, a device-less transport natively. */
bool virtio_probe_features(struct virtio_dev *d, unsigned slot, uint32_t device_id,
			   uint32_t want_lo)
{
	struct probe p;

	memset(d, 0, sizeof(*d));
	d->base = VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_STRIDE;
	d->intid = VIRTIO_INTID_BASE + slot;
	if (probe_ld32(d->base + VIRTIO_MMIO_MAGIC_VALUE, &p) || p.value != VIRTIO_MMIO_MAGIC)
		return false;
	if (rd(d, VIRTIO_MMIO_VERSION) != 2 || rd(d, VIRTIO_MMIO_DEVICE_ID) != device_id)
		return false;
	wr(d, VIRTIO_MMIO_STATUS, 0);
	wr(d, VIRTIO_MMIO_STATUS, STATUS_ACKNOWLEDGE);
	wr(d, VIRTIO_MMIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
	if (negotiate(d, want_lo))
		return true;
	wr(d, VIRTIO_MMIO_STATUS, 0);
	return false;
}

bool virtio_probe(struct virtio_dev *d, unsigned slot, uint32_t device_id)
{
	return virtio_probe_features(d, slot, device_id, 0);
}

/* 4.2.3.2. The rings are zeroed here, before the device may look at them. */
bool virtio_queue_init(struct virtio_dev *d, unsigned index, struct virtq_mem *mem)
{
	if (index >= VIRTIO_MAX_QUEUES)
		return false;
	wr(d, VIRTIO_MMIO_QUEUE_SEL, index);
	uint32_t max = rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0 || rd(d, VIRTIO_MMIO_QUEUE_READY))
		return false;
	struct virtq *q = &d->q[index];
	memset(q, 0, sizeof(*q));
	memset(mem, 0, sizeof(*mem));
	q->dev = d;
	q->mem = mem;
	q->index = index;
	q->num = VIRTQ_SIZE;
	while (q->num > max) /* QueueNum must be a power of two (2.7) */
		q->num /= 2;
	for (uint16_t i = 0; i < q->num; i++)
		q->free[q->free_count++] = (uint16_t)(q->num - 1 - i); /* pops 0, 1, 2, ... */
	wr(d, VIRTIO_MMIO_QUEUE_NUM, q->num);
	wr64(d, VIRTIO_MMIO_QUEUE_DESC_LOW, addr_of(mem->desc));
	wr64(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, addr_of(&mem->avail_flags));
	wr64(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, addr_of(&mem->used_flags));
	dmb(); /* the zeroed rings before QueueReady */
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (index >= d->queue_count)
		d->queue_count = index + 1;
	return true;
}

/* Edge-triggered: acknowledging is all the handler has to do; waiters look at the used rings. */
#define MAX_DEVS 4u
static struct virtio_dev *irq_devs[MAX_DEVS];

static void virtio_irq(unsigned intid)
{
	for (unsigned i = 0; i < MAX_DEVS; i++) {
		struct virtio_dev *d = irq_devs[i];
		if (d && d->intid == intid) /* used buffers: the one interrupt our devices raise */
			wr(d, VIRTIO_MMIO_INTERRUPT_ACK, 1);
	}
}

void virtio_start(struct virtio_dev *d)
{
	for (unsigned i = 0; i < MAX_DEVS; i++)
		if (!irq_devs[i] || irq_devs[i] == d) {
			irq_devs[i] = d;
			break;
		}
	irq_set_handler(d->intid, virtio_irq);
	gic_set_edge(d->intid);
	gic_enable(d->intid, IRQ_PRIO_DEFAULT);
	wr(d, VIRTIO_MMIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
}

uint32_t virtio_config_read(struct virtio_dev *d, uint32_t off)
{
	return rd(d, VIRTIO_MMIO_CONFIG + off);
}

bool virtio_needs_reset(struct virtio_dev *d)
{
	return rd(d, VIRTIO_MMIO_STATUS) & STATUS_NEEDS_RESET;
}

int virtq_alloc(struct virtq *q)
{
	return q->free_count ? q->free[--q->free_count] : -1;
}

void virtq_free(struct virtq *q, unsigned id)
{
	if (id < q->num && q->free_count < q->num)
		q->free[q->free_count++] = (uint16_t)id;
}

/* One buffer, one descriptor: no chains, so `next` is never read by the device. */
void virtq_post(struct virtq *q, unsigned id, void *buf, uint32_t size, bool device_writes)
{
	volatile struct virtq_mem *m = q->mem;

	m->desc[id].addr = addr_of(buf);
	m->desc[id].len = size;
	m->desc[id].flags = device_writes ? DESC_F_WRITE : 0;
	m->desc[id].next = 0;
	m->avail_ring[q->avail % q->num] = (uint16_t)id;
	q->avail++;
	q->posted[id] = size;
}

/* 2.7.13: descriptors and ring entries before the index (dmb); the index before reading the
 * device's NO_NOTIFY flag and before the notification (dsb: a store, then a load and the
 * trapping store, in that order for an observer on any core). */
void virtq_notify(struct virtq *q)
{
	volatile struct virtq_mem *m = q->mem;

	if (m->avail_idx == q->avail)
		return;
	dmb();
	m->avail_idx = q->avail;
	barrier();
	if (!(m->used_flags & USED_F_NO_NOTIFY))
		wr(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

/* VIRTQ_AVAIL_F_NO_INTERRUPT (2.7.7): the driver still checks the used ring before it waits,
 * and the barrier orders the flag before that check, as the device orders its used index
 * before reading the flag. */
void virtq_want_interrupts(struct virtq *q, bool want)
{
	((volatile struct virtq_mem *)q->mem)->avail_flags = (uint16_t)(want ? 0 : AVAIL_F_NO_INTERRUPT);
	barrier();
}

bool virtq_has_used(const struct virtq *q)
{
	return q->mem && ((volatile struct virtq_mem *)q->mem)->used_idx != q->used;
}

/* 2.7.14: read the used index, then (dmb) the entry and the buffer it names. An id that is
 * not posted or a length beyond the posted size is the device's mistake: the id is skipped,
 * the length clamped, so a caller never reads past what it posted. */
int virtq_next_used(struct virtq *q, uint32_t *len)
{
	volatile struct virtq_mem *m = q->mem;

	while (virtq_has_used(q)) {
		dmb();
		uint32_t id = m->used_ring[q->used % q->num].id;
		uint32_t n = m->used_ring[q->used % q->num].len;
		q->used++;
		if (id >= q->num || !q->posted[id])
			continue;
		*len = n < q->posted[id] ? n : q->posted[id];
		q->posted[id] = 0;
		return (int)id;
	}
	return -1;
}
