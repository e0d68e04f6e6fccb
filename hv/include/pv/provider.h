/* provider.h: the board's disk and NIC as the hypervisor's devices see them. On QEMU virt both
 * are virtio-mmio devices the hypervisor drives itself (hv/drivers/virtio.c); a phone's UFS or
 * eMMC, its Wi-Fi, or a driver VM would provide the same few calls (docs/storage-net.md). Every
 * call is made with the virtio lock held; completions come back the same way. */
#ifndef PV_PROVIDER_H
#define PV_PROVIDER_H

#include <pv/types.h>
#include <pv/virtio.h>

struct board_info;

/* Finds and starts the board's disk and NIC (at boot, before any VM runs). */
void provider_probe(const struct board_info *board);
/* A physical interrupt: true when it was the disk's or the NIC's (handled). */
bool provider_irq(u32 intid);

/* Block. A request names sectors of the whole disk, already checked by the caller, and the data
 * buffers by host-physical address (a VM's own RAM: no copy); the provider writes the virtio
 * status byte (VIRTIO_BLK_S_*) at status when done and calls blk_done(tag). */
#define PBLK_SLOTS 8u      /* requests in flight at once; tag < PBLK_SLOTS */
#define PBLK_DATA_SEGS 254u /* data buffers one request may have, at most */
#define PBLK_IN 0u    /* request types: virtio-blk's (5.2.6) */
#define PBLK_OUT 1u
#define PBLK_FLUSH 4u
struct pblk_req {
	u32 type; /* PBLK_* */
	u64 sector;
	u32 count;
	struct vq_seg seg[PBLK_DATA_SEGS];
	paddr_t status;
};
u64 pblk_sectors(void); /* 0: there is no disk */
u32 pblk_segs(void);    /* data buffers per request the disk takes (<= PBLK_DATA_SEGS) */
void pblk_submit(const struct pblk_req *r, u32 tag);
/* Takes the disk's finished requests now (blk_done for each), without waiting for its IRQ. */
void pblk_poll(void);
/* The hypervisor's own request, waiting for it (at boot, or with virtio_lock held): one
 * 512-byte sector in (PBLK_IN) or out (PBLK_OUT) at buf, or a flush (PBLK_FLUSH, buf unused).
 * False if the disk refused it or there is none. */
bool pblk_sync(u32 type, u64 sector, void *buf);
void blk_done(u32 tag);

/* Net. pnet_send copies the frame (len bytes of f from off) and sends it with a clean header;
 * false when the NIC has no room now (net_uplink_ready follows). */
bool pnet_present(void);
bool pnet_send(const struct vq_chain *f, u32 off, u32 len);

#endif
