/* vsock.h: the virtio-vsock device of each VM and the router between them (virtio 1.2 section
 * 5.10; docs/virtio.md). The hypervisor holds no payload: packets go from the sender's tx
 * buffers straight into the receiver's rx buffers. */
#ifndef PV_VSOCK_H
#define PV_VSOCK_H

#include <pv/bundle.h>
#include <pv/types.h>
#include <pv/virtio.h>

#define VSOCK_STREAMS 32u  /* streams one VM may have opened at once */
#define VSOCK_MAX_PAYLOAD 0x10000u /* a packet's payload at most (Linux sends up to 64 KiB):
				    * bounds the work one packet makes */
#define VSOCK_RX 0u
#define VSOCK_TX 1u
#define VSOCK_EVENT 2u

/* A stream one VM (the initiator) opened to another: the hypervisor's only record of it. */
struct vsock_stream {
	u8 state;   /* enum in vsock.c */
	u8 peer;    /* the other VM's index */
	u8 rst;     /* CLOSING: the RST is owed to the initiator (bit 0) or the peer (bit 1) */
	u32 port, peer_port;
};

struct vsock {
	struct virtio_dev dev;
	u32 cid; /* 0: the VM has no vsock device */
	/* A tx packet that did not fit the receiver's rx buffers: how much of its payload went
	 * already. The tx queue waits behind it until the receiver posts buffers. */
	u8 stalled;
	u8 waiting_on; /* the receiver's VM index, when stalled */
	u32 sent;
	u32 owed;      /* RSTs owed to it by streams in CLOSING state (any VM's table) */
	u64 log_at;    /* counter at its last rate-limited log line */
	struct vsock_stream stream[VSOCK_STREAMS];
};

/* The device's queue q was notified (the transport holds the virtio lock). */
void vsock_notify(struct vm *vm, u32 q);
/* The device is reset (status 0, NEEDS_RESET, VM reset or stop): every stream the VM had is
 * closed and its peers get RST. */
void vsock_reset(struct vm *vm);
/* The VM whose vsock CID is cid (its config's), or NULL: vsock routing and the attester call. */
struct vm *vm_by_cid(u64 cid);

#endif
