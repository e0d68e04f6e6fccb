/* vq.c: vqattack's raw virtio-mmio driver: registers, bring-up steps, rings and vsock packets. */
#include "vq.h"

volatile struct vring vq_rings[VQ_COUNT];
volatile struct vring vq_spare_ring;
volatile struct pkt vq_tx_pkts[VQ_SIZE];
volatile struct pkt vq_rx_pkts[VQ_SIZE];
static volatile uint64_t events[VQ_SIZE]; /* section 5.10.6.4: le32 id each; 8 bytes is plenty */

/* What this driver published and consumed, per queue (the device keeps its own copies). */
static uint16_t avail_next[VQ_COUNT];
static uint16_t used_seen[VQ_COUNT];

uint32_t vq_read(uint32_t off)
{
	return mmio_ld32(VQ_MMIO_BASE + off);
}

void vq_write(uint32_t off, uint32_t value)
{
	mmio_st32(VQ_MMIO_BASE + off, value);
}

uint32_t vq_status(void)
{
	return vq_read(VIRTIO_MMIO_STATUS);
}

uint64_t vq_cid(void)
{
	return vq_read(VIRTIO_MMIO_CONFIG) | (uint64_t)vq_read(VIRTIO_MMIO_CONFIG + 4) << 32;
}

uint64_t vq_addr(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void zero(volatile void *p, size_t size)
{
	volatile uint8_t *b = p;
	for (size_t i = 0; i < size; i++)
		b[i] = 0;
}

/* Section 4.2.3.1: writing 0 resets; the driver reads it back until the reset is done. */
void vq_reset(void)
{
	vq_write(VIRTIO_MMIO_STATUS, 0);
	while (vq_status() != 0)
		;
	zero(vq_rings, sizeof(vq_rings));
	zero(&vq_spare_ring, sizeof(vq_spare_ring));
	zero(vq_tx_pkts, sizeof(vq_tx_pkts));
	zero(vq_rx_pkts, sizeof(vq_rx_pkts));
	for (unsigned q = 0; q < VQ_COUNT; q++)
		avail_next[q] = used_seen[q] = 0;
	barrier();
}

uint32_t vq_negotiate(uint32_t lo, uint32_t hi)
{
	vq_write(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vq_write(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vq_write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vq_write(VIRTIO_MMIO_DRIVER_FEATURES, lo);
	vq_write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vq_write(VIRTIO_MMIO_DRIVER_FEATURES, hi);
	vq_write(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					     VIRTIO_STATUS_FEATURES_OK);
	return vq_status();
}

void vq_queue_place(unsigned q, uint32_t num, uint64_t desc, uint64_t driver, uint64_t device)
{
	vq_write(VIRTIO_MMIO_QUEUE_SEL, q);
	vq_write(VIRTIO_MMIO_QUEUE_NUM, num);
	vq_write(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	vq_write(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	vq_write(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)driver);
	vq_write(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(driver >> 32));
	vq_write(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)device);
	vq_write(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(device >> 32));
}

void vq_queue_own(unsigned q)
{
	vq_queue_place(q, VQ_SIZE, vq_addr(vq_rings[q].desc), vq_addr(&vq_rings[q].avail),
		       vq_addr(&vq_rings[q].used));
}

void vq_queue_ready(unsigned q)
{
	barrier(); /* the rings are in place before the device may look at them */
	vq_write(VIRTIO_MMIO_QUEUE_SEL, q);
	vq_write(VIRTIO_MMIO_QUEUE_READY, 1);
}

void vq_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	volatile struct raw_desc *d = &vq_rings[q].desc[i % VQ_SIZE];
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* Section 2.7.13: the ring entry is written before the index that makes it visible. */
void vq_publish(unsigned q, uint16_t head)
{
	volatile struct virtq_avail *a = &vq_rings[q].avail;
	a->ring[avail_next[q] % VQ_SIZE] = head;
	barrier();
	a->idx = ++avail_next[q];
	barrier();
}

void vq_notify(unsigned q)
{
	barrier();
	vq_write(VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

uint16_t vq_used_idx(unsigned q)
{
	return vq_rings[q].used.idx;
}

void vq_post_rx(void)
{
	for (uint16_t i = 0; i < VQ_SIZE; i++) {
		vq_desc(VQ_RX, i, vq_addr(&vq_rx_pkts[i]), PKT_SIZE, VIRTQ_DESC_F_WRITE, 0);
		vq_publish(VQ_RX, i);
	}
}

void vq_post_events(void)
{
	for (uint16_t i = 0; i < VQ_SIZE; i++) {
		vq_desc(VQ_EVENT, i, vq_addr(&events[i]), sizeof(events[i]), VIRTQ_DESC_F_WRITE, 0);
		vq_publish(VQ_EVENT, i);
	}
}

void vq_driver_ok(void)
{
	barrier();
	vq_write(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

bool vq_up(void)
{
	vq_reset();
	if (!(vq_negotiate(0, VIRTIO_F_VERSION_1_HI) & VIRTIO_STATUS_FEATURES_OK))
		return false;
	for (unsigned q = 0; q < VQ_COUNT; q++) {
		vq_queue_own(q);
		vq_queue_ready(q);
	}
	vq_post_rx();
	vq_post_events();
	vq_driver_ok();
	return vq_status() == (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

const volatile struct pkt *vq_rx_next(uint64_t us)
{
	uint64_t deadline = timer_now() + timer_us(us);
	do {
		if (vq_used_idx(VQ_RX) != used_seen[VQ_RX]) {
			barrier(); /* the used element is read only after the index that covers it */
			uint32_t id = vq_rings[VQ_RX].used.ring[used_seen[VQ_RX]++ % VQ_SIZE].id;
			vq_write(VIRTIO_MMIO_INTERRUPT_ACK, vq_read(VIRTIO_MMIO_INTERRUPT_STATUS));
			if (id >= VQ_SIZE) {
				printf("vqattack: device used rx id %u, not one of ours\n", id);
				return NULL;
			}
			return &vq_rx_pkts[id];
		}
	} while (timer_now() < deadline);
	return NULL;
}

void pkt_fill(volatile struct pkt *p, uint64_t src_cid, uint64_t dst_cid, uint32_t src_port,
	      uint32_t dst_port, uint16_t type, uint16_t op, uint32_t len)
{
	volatile struct vsock_hdr *h = &p->hdr;
	h->src_cid = src_cid;
	h->dst_cid = dst_cid;
	h->src_port = src_port;
	h->dst_port = dst_port;
	h->len = len;
	h->type = type;
	h->op = op;
	h->flags = 0;
	h->buf_alloc = 4096;
	h->fwd_cnt = 0;
}

void pkt_send(uint16_t i, uint32_t payload)
{
	vq_desc(VQ_TX, i, vq_addr(&vq_tx_pkts[i]), VSOCK_HDR_SIZE + payload, 0, 0);
	vq_publish(VQ_TX, i);
	vq_notify(VQ_TX);
}
