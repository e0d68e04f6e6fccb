/* blk.h: a small virtio-blk driver for bare-metal guests: one split virtqueue in static memory.
 * Requests are descriptor chains the caller lays out segment by segment (blk_submit, so
 * guests/blkattack can break any of them), or whole sector reads and writes (blk_rw, the
 * vault's sealed storage). */
#ifndef BLK_H
#define BLK_H

#include "guest.h"
#include "virtio_mmio.h"

/* The register map: virtio_mmio.h (guests/lib). */
#define VIRTIO_MMIO_SLOTS 32u         /* QEMU virt's transports: 0x0a000000..0x0a003e00 */

/* Section 2.1: device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01u
#define VIRTIO_STATUS_DRIVER 0x02u
#define VIRTIO_STATUS_DRIVER_OK 0x04u
#define VIRTIO_STATUS_FEATURES_OK 0x08u
#define VIRTIO_STATUS_NEEDS_RESET 0x40u

/* Section 2.7.5: descriptor flags. */
#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTIO_F_INDIRECT_DESC (1u << 28)
#define BLK_TABLE_SIZE 8u /* entries of the indirect table we lay out */

/* Section 5.2: the block device: its ID, the features we may take, config, requests. */
#define VIRTIO_ID_BLOCK 2u
#define VIRTIO_F_VERSION_1_HI (1u << (32 - 32))
#define VIRTIO_BLK_F_RO (1u << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1u << 6)
#define VIRTIO_BLK_F_FLUSH (1u << 9)
#define VIRTIO_BLK_CFG_CAPACITY 0x00u /* le64, in 512-byte sectors whatever blk_size says */
#define VIRTIO_BLK_T_IN 0u
#define VIRTIO_BLK_T_OUT 1u
#define VIRTIO_BLK_T_FLUSH 4u
#define VIRTIO_BLK_T_GET_ID 8u
#define VIRTIO_BLK_S_OK 0u
#define VIRTIO_BLK_S_IOERR 1u
#define VIRTIO_BLK_S_UNSUPP 2u
#define VIRTIO_BLK_ID_BYTES 20u
#define SECTOR_SIZE 512u

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};
_Static_assert(sizeof(struct blk_req_hdr) == 16, "virtio 1.2 5.2.6");

#define BLK_QUEUE_SIZE 16u /* the QueueNum we use (QueueNumMax permitting) */

/* One buffer of a request chain, in the order the device sees it. */
struct seg {
	uint64_t addr;
	uint32_t len;
	uint16_t flags; /* VIRTQ_DESC_F_WRITE or 0; NEXT is added between segments */
};

enum blk_wait { BLK_USED, BLK_NEEDS_RESET, BLK_TIMEOUT };

uint32_t blk_read(uint32_t off);
void blk_write(uint32_t off, uint32_t value);
uint32_t blk_status(void);
/* Finds a block device: at `slot`, or (if there is none there) the first slot that holds one.
 * Returns the slot, or -1. */
int blk_find(unsigned slot);
uint64_t blk_base(void);
/* Reset, then the whole bring-up of section 3.1.1 with VERSION_1 and what of RO, BLK_SIZE,
 * FLUSH and INDIRECT_DESC is offered; false if the device refused any step. */
bool blk_setup(void);
uint32_t blk_features(void);           /* the device's offer, low word */
uint64_t blk_capacity(void);
/* Lays the segments out as one chain (descriptors 0..count-1), publishes it, notifies, and
 * waits `us` microseconds at most for the device to use it or ask for a reset. */
enum blk_wait blk_submit(const struct seg *segs, unsigned count, uint64_t us);
/* The same segments as an indirect table (2.7.5.3, chained 0..count-1, count at most
 * BLK_TABLE_SIZE; `next` of entry `loop`, if below count, points back to entry 0), named by one
 * ring descriptor: at `table` (0: our own table) with `len` bytes (0: 16 count) and `flags`
 * (INDIRECT and what else the case wants). */
enum blk_wait blk_submit_indirect(const struct seg *segs, unsigned count, unsigned loop,
				  uint64_t table, uint32_t len, uint16_t flags, uint64_t us);
uint64_t blk_addr(const volatile void *p);
/* A well-formed request of `size` bytes (a non-zero multiple of SECTOR_SIZE) at `sector`:
 * written from, or read into, `buf`; waits up to a second. False unless the device answered
 * VIRTIO_BLK_S_OK. */
bool blk_rw(bool write, uint64_t sector, void *buf, uint32_t size);
bool blk_flush(void);                   /* VIRTIO_BLK_T_FLUSH (needs VIRTIO_BLK_F_FLUSH) */

#endif
