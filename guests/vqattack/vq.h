/* vq.h: vqattack's own raw virtio-mmio transport and split virtqueues, hand-built in static memory
 * so that a case can set every register and ring field to what a hostile driver would. */
#ifndef VQ_H
#define VQ_H

#include "guest.h"
#include "virtio_mmio.h"

/* docs/virtio.md, "Where the devices are": slot n at 0x0a000000 + n * 0x200; slot 0 is vsock. */
#define VQ_MMIO_BASE 0x0a000000ul
#define VQ_SLOT_SIZE 0x200ul

/* The register map: virtio_mmio.h (guests/lib). */
#define VIRTIO_MMIO_HOLE 0x018u /* between DeviceFeaturesSel and DriverFeatures: no register */

#define VIRTIO_ID_VSOCK 19u
#define PV_VIRTIO_VENDOR 0x50565356u  /* "PVSV" (docs/virtio.md) */

/* Section 2.1: device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01u
#define VIRTIO_STATUS_DRIVER 0x02u
#define VIRTIO_STATUS_DRIVER_OK 0x04u
#define VIRTIO_STATUS_FEATURES_OK 0x08u
#define VIRTIO_STATUS_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED 0x80u

/* Section 6: feature bits, as the 32-bit halves DriverFeaturesSel selects. */
#define VIRTIO_F_VERSION_1_HI (1u << (32 - 32))  /* bit 32: the only one offered */
#define VIRTIO_F_INDIRECT_DESC_LO (1u << 28)     /* bit 28: not offered */

/* Section 2.7.5: split virtqueue descriptors. */
#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u

/* Section 4.2.3.2 / docs/virtio.md: what QueueNumMax says for each vsock queue. */
#define VQ_NUM_MAX 128u
#define VQ_SIZE 16u /* the QueueNum this driver uses */

enum vq_index { VQ_RX = 0, VQ_TX = 1, VQ_EVENT = 2, VQ_COUNT = 3 };

/* Section 2.7: the three parts of a split virtqueue; alignment 16 (descriptors), 2 (driver
 * area), 4 (device area) is all the spec asks; the cases break it on purpose. */
struct raw_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[VQ_SIZE];
	uint16_t used_event;
};
struct raw_used_elem {
	uint32_t id;
	uint32_t len;
};
struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct raw_used_elem ring[VQ_SIZE];
	uint16_t avail_event;
};
struct vring {
	_Alignas(64) struct raw_desc desc[VQ_SIZE];
	struct virtq_avail avail;
	_Alignas(4) struct virtq_used used;
};
_Static_assert(sizeof(struct raw_desc) == 16, "virtio 1.2 2.7.5");
_Static_assert(offsetof(struct virtq_used, ring) == 4, "virtio 1.2 2.7.8");
#define VQ_USED_SIZE (4u + 8u * VQ_SIZE + 2u) /* the device area's size in the spec's terms */

/* Section 5.10.6: the vsock packet header, 44 bytes on the wire (the C struct pads to 48). */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};
#define VSOCK_HDR_SIZE 44u
_Static_assert(offsetof(struct vsock_hdr, fwd_cnt) + 4 == VSOCK_HDR_SIZE, "virtio 1.2 5.10.6");

#define VSOCK_TYPE_STREAM 1u
#define VSOCK_TYPE_SEQPACKET 2u
#define VSOCK_OP_REQUEST 1u
#define VSOCK_OP_RESPONSE 2u
#define VSOCK_OP_RST 3u
#define VSOCK_OP_RW 5u
#define VSOCK_CID_HOST 2u

/* One packet buffer: a header, then payload from byte VSOCK_HDR_SIZE on (pkt_payload). */
#define PKT_SIZE 128u
struct pkt {
	struct vsock_hdr hdr;
	uint8_t rest[PKT_SIZE - sizeof(struct vsock_hdr)];
};

/* The rings and buffers. Everything is volatile: the device reads and writes them behind the
 * compiler's back (and with the MMU off they are Device memory, so no cache maintenance). */
extern volatile struct vring vq_rings[VQ_COUNT];
extern volatile struct vring vq_spare_ring;     /* a second valid place for a ring */
extern volatile struct pkt vq_tx_pkts[VQ_SIZE];
extern volatile struct pkt vq_rx_pkts[VQ_SIZE];

/* Registers: one 32-bit access each (a single ldr/str, so the hypervisor can decode it). */
uint32_t vq_read(uint32_t off);
void vq_write(uint32_t off, uint32_t value);
uint32_t vq_status(void);
uint64_t vq_cid(void);                   /* the vsock config space: guest_cid (le64) */

/* Bring-up, step by step (section 3.1.1), so a case can stop or break at any step. */
void vq_reset(void);                     /* Status = 0, and this driver's rings zeroed */
uint32_t vq_negotiate(uint32_t lo, uint32_t hi); /* ACK, DRIVER, features, FEATURES_OK: Status */
void vq_queue_place(unsigned q, uint32_t num, uint64_t desc, uint64_t driver, uint64_t device);
void vq_queue_own(unsigned q);           /* VQ_SIZE entries in vq_rings[q] */
void vq_queue_ready(unsigned q);
void vq_post_rx(void);                   /* every rx buffer, device-writable */
void vq_post_events(void);
void vq_driver_ok(void);
bool vq_up(void);                        /* all of the above; true if the device took it */

/* Rings. */
uint64_t vq_addr(const volatile void *p);
void vq_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
void vq_publish(unsigned q, uint16_t head); /* head into the avail ring, then avail idx + 1 */
void vq_notify(unsigned q);
uint16_t vq_used_idx(unsigned q);
/* The next rx buffer the device used within `us` microseconds, or NULL. */
const volatile struct pkt *vq_rx_next(uint64_t us);

/* Packets. */
void pkt_fill(volatile struct pkt *p, uint64_t src_cid, uint64_t dst_cid, uint32_t src_port,
	      uint32_t dst_port, uint16_t type, uint16_t op, uint32_t len);
/* Puts packet tx[i] (header and `payload` bytes) in tx descriptor i, publishes it, notifies. */
void pkt_send(uint16_t i, uint32_t payload);

#endif
