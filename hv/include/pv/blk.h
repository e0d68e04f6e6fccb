/* blk.h: virtio-blk for a VM's disks (virtio 1.2 section 5.2; docs/storage-net.md). Each disk is
 * a window onto one GPT partition of the board's disk: sector 0 is the partition's first. */
#ifndef PV_BLK_H
#define PV_BLK_H

#include <pv/types.h>
#include <pv/virtio.h>

struct vm;

struct vblk {
	struct virtio_dev dev;
	u64 start;   /* the partition's first sector on the board's disk (found at boot) */
	u64 sectors; /* its size; 0: the VM has no disk here */
	u8 ro;       /* PVB_DISK_RO */
	u8 busy;     /* its requests the board's disk holds */
	u8 wait;     /* a request waits for room at the board's disk */
};

/* Finds every VM's partitions in the board disk's GPT (at boot, after the VMs are built). */
void blk_attach(void);
/* The device's queue was notified (virtio lock held). */
void blk_notify(struct vm *vm, struct vblk *b);
/* Reset: waits until the board's disk returns every request it holds for the device, so no
 * transfer lands in the VM's RAM afterwards. */
void blk_reset(struct vm *vm, struct vblk *b);
/* Configuration space (5.2.4): capacity, seg_max. */
void blk_config(const struct vblk *b, u8 cfg[16]);
/* Features the device offers (VERSION_1 included). */
u64 blk_features(const struct vblk *b);

#endif
