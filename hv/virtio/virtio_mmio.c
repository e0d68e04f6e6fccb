/* virtio_mmio.c: the virtio-mmio register file (virtio 1.2 section 4.2.2, version 2 only) that
 * every device slot of a VM shares, its status machine and its queue set-up checks. */
#include <pv/arch.h>
#include <pv/blk.h>
#include <pv/log.h>
#include <pv/net.h>
#include <pv/sched.h>
#include <pv/spinlock.h>
#include <pv/string.h>
#include <pv/virtio.h>
#include <pv/virtio_regs.h>
#include <pv/vm.h>
#include <pv/vsock.h>
#include <board.h>

/* Registers and status bits: virtio_regs.h. */
#define VENDOR_VALUE 0x50565356u /* "VSVP" read as bytes: pocketvisor's */
#define INT_USED 1u

/* Taken by trapped accesses, VM reset and the board devices' interrupts; never held across a
 * VM stop. */
struct spinlock virtio_lock;

/* The device in a slot, or NULL (docs/virtio.md, bundle.h PVB_SLOT_*). */
static struct virtio_dev *dev_at(struct vm *vm, u32 slot)
{
	if (slot == PVB_SLOT_VSOCK)
		return vm->vsock.cid ? &vm->vsock.dev : NULL;
	if (slot == PVB_SLOT_NET)
		return vm->cfg->net_flags & PVB_NET_PORT ? &vm->net.dev : NULL;
	/* A disk whose partition is missing stays in the guest's DTB: its slot reads as a
	 * transport with no device (DeviceID 0, 4.2.2), and ignores writes. */
	if (slot - PVB_SLOT_DISK < PVB_MAX_DISKS)
		return vm->cfg->disks[slot - PVB_SLOT_DISK].part[0] ? &vm->blk[slot - PVB_SLOT_DISK].dev
								    : NULL;
	return NULL;
}

static struct vblk *blk_of(struct virtio_dev *d)
{
	return (struct vblk *)(void *)d; /* dev is its first member */
}

void virtio_fail(struct vm *vm, struct virtio_dev *d, const char *what, u32 q)
{
	bool first = !(d->status & VSTAT_NEEDS_RESET);
	d->status |= VSTAT_NEEDS_RESET;
	d->live = 0;
	if (!first)
		return;
	log_guest(vm, "virtio-%s: queue %u: %s; device needs reset",
		  &"net\0blk\0vsock"[d->type == VIRTIO_ID_VSOCK ? 8 : 4 * (d->type - 1)], q, what);
	if (d->type == VIRTIO_ID_VSOCK)
		vsock_reset(vm); /* its peers are told at once, not when it gets round to a reset */
}

void virtio_interrupt(struct vm *vm, struct virtio_dev *d, u32 slot)
{
	d->isr |= INT_USED;
	sched_wake_mask(vm, vgic_raise(&vm->vgic, 0, PLAT_GUEST_VIRTIO_INTID + slot));
}

static u64 dev_features(const struct virtio_dev *d)
{
	if (d->type == VIRTIO_ID_BLK)
		return blk_features(blk_of((struct virtio_dev *)d));
	return d->type == VIRTIO_ID_NET ? NET_FEATURES : VIRTIO_F_VERSION_1;
}

static void dev_notify(struct vm *vm, struct virtio_dev *d, u32 q)
{
	if (d->type == VIRTIO_ID_VSOCK)
		vsock_notify(vm, q);
	else if (d->type == VIRTIO_ID_NET)
		net_notify(vm, q);
	else
		blk_notify(vm, blk_of(d));
}

/* Back to the reset state; the device's type stays. Nothing runs on it from here on. */
static void dev_reset(struct vm *vm, struct virtio_dev *d)
{
	u8 type = d->type;
	*d = (struct virtio_dev){ .type = type };
	if (type == VIRTIO_ID_VSOCK)
		vsock_reset(vm);
	else if (type == VIRTIO_ID_NET)
		net_reset(vm);
	else
		blk_reset(vm, blk_of(d));
}

/* The queue's rings where the driver says, checked once here: sizes, alignment (2.7), inside
 * its RAM and out of the hypervisor's 64 KiB. */
static bool queue_enable(struct vm *vm, struct virtio_dev *d, u32 q)
{
	struct virtq *vq = &d->vq[q];
	u64 n = vq->num;
	if (n == 0 || n > VIRTIO_QUEUE_MAX || (n & (n - 1))) {
		virtio_fail(vm, d, "bad size", q);
		return false;
	}
	static const u8 align[3] = { 16, 2, 4 }, entry[3] = { 16, 2, 8 }, extra[3] = { 0, 6, 6 };
	for (u32 r = 0; r < 3; r++)
		if (!IS_ALIGNED(vq->ring[r], align[r]) ||
		    !vm_guest_buffer(vm, vq->ring[r], extra[r] + entry[r] * n, &vq->ring_pa[r])) {
			virtio_fail(vm, d, "ring outside RAM", q);
			return false;
		}
	vq->last_avail = vq->used_idx = 0; /* fresh rings start at index 0 (2.7.13) */
	vq->ready = 1;
	return true;
}

static void notify(struct vm *vm, struct virtio_dev *d, u32 q)
{
	if (q >= VIRTIO_QUEUES)
		return; /* no such queue: nothing to do (4.2.3.3) */
	if (!d->vq[q].ready) {
		virtio_fail(vm, d, "notify before ready", q);
		return;
	}
	if (d->live) /* else DRIVER_OK looks at every queue */
		dev_notify(vm, d, q);
}

static void set_status(struct vm *vm, struct virtio_dev *d, u32 v)
{
	if (v == 0) {
		dev_reset(vm, d);
		return;
	}
	/* FEATURES_OK only for what was offered, VERSION_1 included (3.1.1, 6.1). */
	if ((v & VSTAT_FEATURES_OK) && !(d->status & VSTAT_FEATURES_OK) &&
	    ((d->drv_features & ~dev_features(d)) || !(d->drv_features & VIRTIO_F_VERSION_1)))
		v &= ~VSTAT_FEATURES_OK;
	d->status = (v & 0xff) | (d->status & VSTAT_NEEDS_RESET);
	bool live = (d->status & (VSTAT_FEATURES_OK | VSTAT_DRIVER_OK | VSTAT_NEEDS_RESET | VSTAT_FAILED)) ==
		    (VSTAT_FEATURES_OK | VSTAT_DRIVER_OK);
	bool woke = live && !d->live;
	d->live = live;
	if (woke) { /* what the driver notified before DRIVER_OK, and what waited for it */
		dev_notify(vm, d, 0);
		dev_notify(vm, d, 1);
	}
}

/* Half `high` of a 64-bit value the driver writes as two 32-bit registers. */
static __attribute__((noinline)) void set_half(u64 *p, bool high, u32 v)
{
	u32 shift = high ? 32 : 0;
	*p = (*p & ~(0xffffffffull << shift)) | ((u64)v << shift);
}

/* QueueNum and the ring addresses: only while the queue is not ready (4.2.3.2). */
static void queue_write(struct vm *vm, struct virtio_dev *d, u64 off, u32 v)
{
	struct virtq *vq = &d->vq[d->queue_sel];
	if (vq->ready) {
		virtio_fail(vm, d, "changed while ready", d->queue_sel);
		return;
	}
	if (off == VMMIO_QUEUE_NUM) {
		vq->num = (u16)(v > 0xffff ? 0 : v);
		return;
	}
	set_half(&vq->ring[(off - VMMIO_QUEUE_DESC) >> 4], (off & 4) != 0, v);
}

static void reg_write(struct vm *vm, struct virtio_dev *d, u64 off, u32 v)
{
	u32 q = d->queue_sel; /* the guest's: its queue is reached only once q is checked */
	switch (off) {
	case VMMIO_DEV_FEATURES_SEL: d->dev_features_sel = v; break;
	case VMMIO_DRV_FEATURES_SEL: d->drv_features_sel = v; break;
	case VMMIO_DRV_FEATURES:
		if (d->drv_features_sel < 2 && !(d->status & VSTAT_FEATURES_OK))
			set_half(&d->drv_features, d->drv_features_sel, v);
		break;
	case VMMIO_QUEUE_SEL: d->queue_sel = v; break; /* checked where used: QueueNumMax reads 0 */
	case VMMIO_QUEUE_READY:
		if (q < VIRTIO_QUEUES) {
			if (!(v & 1))
				d->vq[q].ready = 0;
			else if (!d->vq[q].ready)
				queue_enable(vm, d, q);
		}
		break;
	case VMMIO_QUEUE_NOTIFY: notify(vm, d, v); break;
	case VMMIO_INT_ACK: d->isr &= ~v; break;
	case VMMIO_STATUS: set_status(vm, d, v); break;
	default:
		if (q < VIRTIO_QUEUES &&
		    (off == VMMIO_QUEUE_NUM || (off >= VMMIO_QUEUE_DESC && off <= VMMIO_QUEUE_DEVICE_HIGH &&
					  (off & 0xf) < 8)))
			queue_write(vm, d, off, v);
		break; /* read-only registers ignore writes */
	}
}

static u32 reg_read(const struct virtio_dev *d, u64 off)
{
	static const u32 ident[4] = { VMMIO_MAGIC_VALUE, 2, 0, VENDOR_VALUE };
	bool q_ok = d->queue_sel < VIRTIO_QUEUES;
	if (off <= VMMIO_VENDOR_ID)
		return off == VMMIO_DEVICE_ID ? d->type : ident[off / 4];
	switch (off) {
	case VMMIO_DEV_FEATURES:
		return d->dev_features_sel < 2 ? (u32)(dev_features(d) >> 32 * d->dev_features_sel)
					       : 0;
	case VMMIO_QUEUE_NUM_MAX: return q_ok ? VIRTIO_QUEUE_MAX : 0;
	case VMMIO_QUEUE_READY: return q_ok && d->vq[d->queue_sel].ready;
	case VMMIO_INT_STATUS: return d->isr;
	case VMMIO_STATUS: return d->status;
	default:
		return 0; /* ConfigGeneration and the rest (no shared memory: vsock has none) */
	}
}

/* Configuration space (read-only here): guest_cid, capacity and seg_max, or mac. */
static bool config_read(struct vm *vm, struct virtio_dev *d, u64 off, u32 size, u64 *val)
{
	u8 cfg[16] = { 0 };
	if (off + size > sizeof(cfg))
		return false;
	if (d->type == VIRTIO_ID_VSOCK)
		memcpy(cfg, &vm->vsock.cid, 4);
	else if (d->type == VIRTIO_ID_NET)
		net_config(vm, cfg);
	else
		blk_config(blk_of(d), cfg);
	*val = 0;
	memcpy(val, cfg + off, size);
	return true;
}

bool virtio_mmio_access(struct vm *vm, u32 slot, u64 off, u32 size, bool write, u64 *val)
{
	struct virtio_dev *d = dev_at(vm, slot);
	if (!d || !IS_ALIGNED(off, size))
		return false;
	if (write && !d->type)
		return true;
	if (off >= VMMIO_CONFIG) {
		if (write)
			return true; /* every configuration here is read-only */
		return config_read(vm, d, off - VMMIO_CONFIG, size, val);
	}
	if (size != 4)
		return false;
	spin_lock(&virtio_lock);
	if (write)
		reg_write(vm, d, off, (u32)*val);
	else
		*val = reg_read(d, off);
	spin_unlock(&virtio_lock);
	return true;
}

void virtio_vm_reset(struct vm *vm)
{
	spin_lock(&virtio_lock);
	vm->vsock.cid = vm->cfg->cid;
	vm->vsock.dev.type = VIRTIO_ID_VSOCK;
	vm->net.dev.type = VIRTIO_ID_NET;
	dev_reset(vm, &vm->vsock.dev);
	dev_reset(vm, &vm->net.dev);
	for (u32 i = 0; i < PVB_MAX_DISKS; i++) {
		vm->blk[i].dev.type = vm->blk[i].sectors ? VIRTIO_ID_BLK : 0;
		dev_reset(vm, &vm->blk[i].dev);
	}
	spin_unlock(&virtio_lock);
}
