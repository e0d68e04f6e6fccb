/* virtio.h: virtio-mmio devices at EL2 (virtio 1.2 section 4.2, version 2): the register file,
 * split virtqueues checked against the VM's RAM, and the devices behind them (docs/virtio.md). */
#ifndef PV_VIRTIO_H
#define PV_VIRTIO_H

#include <pv/types.h>

struct vm;
struct vcpu;

#define VIRTIO_QUEUES 3u      /* the most any device has (vsock: rx, tx, event) */
#define VIRTIO_QUEUE_MAX 128u /* QueueNumMax */
#define VIRTIO_SEGS 64u       /* buffers in one vsock or net chain; more is refused */
#define VIRTIO_TABLE_MAX 256u /* entries in one indirect table (disks: a request's header,
			       * 254 data buffers and its status), and buffers in its chain */

/* One split virtqueue (virtio 1.2 section 2.7): where the driver put its rings, and how far the
 * device got. The rings live in guest RAM and are read afresh, never trusted. */
enum virtq_ring { VQ_DESC, VQ_AVAIL, VQ_USED }; /* in the order of their registers */
struct virtq {
	u64 ring[3];        /* guest-physical, as the driver wrote them */
	paddr_t ring_pa[3]; /* checked at QueueReady */
	u16 num;
	u16 last_avail; /* next avail entry the device takes */
	u16 used_idx;   /* the used index the device last published */
	u8 ready;
};

/* A checked buffer: host-physical, inside the VM's RAM and outside the hypervisor's 64 KiB. */
struct vq_seg {
	paddr_t pa;
	u32 len;
};

/* A descriptor chain taken from the avail ring: its head (to hand back on the used ring) and
 * its buffers, all of one direction. */
struct vq_chain {
	u16 head;
	u16 count;
	u16 cap;     /* entries seg[] has room for; a longer chain is refused */
	u64 out_len; /* bytes in the device-readable segs, which come first */
	u64 len;     /* bytes in all segs */
	struct vq_seg *seg;
};
/* A chain with room for n buffers, on the stack or static (a disk's 256 do not fit a stack). */
#define VQ_CHAIN(name, n)            \
	struct vq_seg name##_segs[n]; \
	struct vq_chain name = { .cap = (n), .seg = name##_segs }

/* One device slot of a VM: the transport's registers. */
struct virtio_dev {
	u8 type;      /* its virtio device ID (VIRTIO_ID_*), kept across resets */
	u32 status;
	u32 dev_features_sel, drv_features_sel, queue_sel;
	u64 drv_features;
	u32 isr;      /* InterruptStatus */
	u8 live;      /* FEATURES_OK and DRIVER_OK, not NEEDS_RESET */
	struct virtq vq[VIRTIO_QUEUES];
};

#define VIRTIO_ID_NET 1u
#define VIRTIO_ID_BLK 2u
#define VIRTIO_ID_VSOCK 19u
#define VIRTIO_F_VERSION_1 BIT(32)
#define VIRTIO_F_INDIRECT_DESC BIT(28) /* 2.7.5.3; offered by disks only */

/* One lock for every virtio device and the board devices behind them: data moves between VMs'
 * devices, and the work under it is short. */
extern struct spinlock virtio_lock;

/* The transport's view of a device error: DEVICE_NEEDS_RESET and one rate-limited log line. */
void virtio_fail(struct vm *vm, struct virtio_dev *d, const char *what, u32 q);
/* Used-buffer notification: InterruptStatus bit 0 and the device's edge SPI. */
void virtio_interrupt(struct vm *vm, struct virtio_dev *d, u32 slot);

/* Virtqueue walker (virtq.c). Each checks everything it reads and, on a rule broken, marks the
 * device (virtio_fail) and returns false; nothing is consumed then.
 *   vq_pending: entries waiting in the avail ring (0 when the ring is broken).
 *   vq_peek:    the chain at the front of the avail ring, writable (VQ_IN), readable (VQ_OUT)
 *               or readable then writable (VQ_MIXED), without taking it; into c's segments
 *               (at most c->cap of them), through an indirect table if the driver took
 *               VIRTIO_F_INDIRECT_DESC.
 *   vq_take:    takes the front entry (after vq_peek).
 *   vq_push:    hands a chain back on the used ring with `written` bytes; true when the driver
 *               wants an interrupt for it. */
u16 vq_pending(struct vm *vm, struct virtio_dev *d, u32 q);
enum vq_dir { VQ_OUT, VQ_IN, VQ_MIXED };
bool vq_peek(struct vm *vm, struct virtio_dev *d, u32 q, u32 dir, struct vq_chain *c);
void vq_take(struct virtio_dev *d, u32 q);
bool vq_push(struct virtio_dev *d, u32 q, u16 head, u32 written);
/* Copies n bytes between checked chains: from src at offset soff to dst at doff. */
void vq_copy(const struct vq_chain *dst, u32 doff, const struct vq_chain *src, u32 soff, u32 n);
void vq_write(const struct vq_chain *dst, u32 doff, const void *src, u32 n);
void vq_read(void *dst, const struct vq_chain *src, u32 soff, u32 n);
/* A hypervisor buffer as a one-segment chain (EL2 maps its RAM 1:1). */
void vq_hv_chain(struct vq_chain *c, const void *p, u32 n);
/* The segment holding byte off of the chain; *off becomes the offset within it. */
const struct vq_seg *vq_seg_at(const struct vq_chain *c, u32 *off);

/* The transport (virtio_mmio.c): a trapped access at offset off of slot `slot`. False, with no
 * side effect, for an access the device does not have (the caller injects an abort). */
bool virtio_mmio_access(struct vm *vm, u32 slot, u64 off, u32 size, bool write, u64 *val);
/* The VM stops or resets: every device back to its reset state, its streams closed. */
void virtio_vm_reset(struct vm *vm);

#endif
