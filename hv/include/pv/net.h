/* net.h: virtio-net for VMs (virtio 1.2 section 5.1) and the switch between their ports and the
 * board's NIC (docs/storage-net.md): frames go by destination MAC, only where the config's
 * policy allows, and only with the sender's own source MAC. */
#ifndef PV_NET_H
#define PV_NET_H

#include <pv/types.h>
#include <pv/virtio.h>

struct vm;

#define NET_RX 0u
#define NET_TX 1u
#define NET_HDR 12u     /* struct virtio_net_hdr with VERSION_1 (5.1.6) */
#define NET_FRAME_MAX 1518u /* Ethernet with one VLAN tag, no FCS */

struct vnet {
	struct virtio_dev dev;
	u8 mac[6];
	u8 stalled; /* its tx ring waits for room at the board's NIC */
	/* Frames, for management: sent, received, and dropped because the source MAC was not its
	 * own, the policy forbids the destination, or the receiver had no buffer. */
	u32 tx, rx, drop_spoof, drop_policy, drop_full;
};

void net_notify(struct vm *vm, u32 q);
void net_reset(struct vm *vm);
/* Configuration space (5.1.4): mac. */
void net_config(const struct vm *vm, u8 cfg[16]);
#define NET_FEATURES (VIRTIO_F_VERSION_1 | BIT(5)) /* VIRTIO_NET_F_MAC */

/* From the net provider (virtio lock held): a frame from the uplink, its 12-byte header first;
 * and room again for frames to it. */
void net_uplink_receive(const struct vq_chain *f);
void net_uplink_ready(void);

#endif
