/* net.c: virtio-net (virtio 1.2 section 5.1) for VMs, and the switch between their ports and the
 * board's NIC (the uplink). A frame is read once from the sender's tx buffers and copied straight
 * into each receiver's rx buffers; the switch learns nothing from traffic: every port's MAC is in
 * the config, and a frame whose source is not the sender's own is dropped. The policy
 * (PVB_NET_UPLINK, net_peers) decides where frames may go; everything else is dropped and
 * counted. */
#include <pv/log.h>
#include <pv/net.h>
#include <pv/provider.h>
#include <pv/string.h>
#include <pv/vm.h>

#define ETH_MIN 14u /* destination, source, type */

static bool has_port(const struct vm *vm)
{
	return (vm->cfg->net_flags & PVB_NET_PORT) != 0;
}

static bool uplinked(const struct vm *vm)
{
	return (vm->cfg->net_flags & PVB_NET_UPLINK) != 0;
}

/* A frame vm sent is dropped: counted, and logged (rate-limited). */
static void drop(struct vm *vm, u32 *count, const char *why)
{
	++*count;
	log_guest(vm, "net: frame dropped: %s (%u so far)", why, *count);
}

/* One frame (len bytes of f after its header) into vm's next rx buffer, or dropped. */
static void rx_put(struct vm *vm, const struct vq_chain *f, u32 len)
{
	static const u8 hdr[NET_HDR] = { [10] = 1 }; /* num_buffers 1; no offloads */
	struct vnet *n = &vm->net;
	VQ_CHAIN(c, VIRTIO_SEGS);
	if (!n->dev.live || !vq_peek(vm, &n->dev, NET_RX, VQ_IN, &c) || c.len < NET_HDR + len) {
		n->drop_full++;
		return;
	}
	vq_write(&c, 0, hdr, NET_HDR);
	vq_copy(&c, NET_HDR, f, NET_HDR, len);
	vq_take(&n->dev, NET_RX);
	n->rx++;
	if (vq_push(&n->dev, NET_RX, c.head, NET_HDR + len))
		virtio_interrupt(vm, &n->dev, PVB_SLOT_NET);
}

/* The switch: a frame from VM `from` (NULL: the uplink) to destination dst. False when it must
 * wait for room at the uplink (nothing was delivered then). */
static bool forward(struct vm *from, const struct vq_chain *f, u32 len, const u8 *dst)
{
	bool group = dst[0] & 1, known = false;
	u32 allow = 0;
	for (u32 i = 0; i < vm_count; i++) {
		const struct vm *t = &vms[i];
		if (t == from || !has_port(t))
			continue;
		bool mine = !memcmp(t->net.mac, dst, 6);
		known |= mine;
		if ((group || mine) && (from ? (from->cfg->net_peers & BIT(i)) != 0 : uplinked(t)))
			allow |= (u32)BIT(i);
	}
	if (from && uplinked(from) && (group || !known) && !pnet_send(f, NET_HDR, len))
		return false;
	if (from && !group && !allow && (known || !uplinked(from)))
		drop(from, &from->net.drop_policy, "the policy forbids its destination");
	for (u32 i = 0; allow; i++)
		if (allow & BIT(i)) {
			allow &= ~(u32)BIT(i);
			rx_put(&vms[i], f, len);
		}
	return true;
}

/* Every frame vm's tx ring holds, until it is empty or the uplink is full. */
static void tx_run(struct vm *vm)
{
	struct vnet *n = &vm->net;
	struct virtio_dev *d = &n->dev;
	VQ_CHAIN(c, VIRTIO_SEGS);
	bool irq = false;
	n->stalled = 0;
	for (u32 budget = d->vq[NET_TX].num; budget-- && d->live &&
					     vq_peek(vm, d, NET_TX, VQ_OUT, &c);) {
		u8 eth[12];
		u32 len = (u32)c.len - NET_HDR;
		if (c.len < NET_HDR + ETH_MIN || c.len > NET_HDR + NET_FRAME_MAX) {
			drop(vm, &n->drop_policy, "not an Ethernet frame");
		} else if (vq_read(eth, &c, NET_HDR, 12), memcmp(eth + 6, n->mac, 6)) {
			drop(vm, &n->drop_spoof, "its source is not the VM's MAC");
		} else if (!forward(vm, &c, len, eth)) {
			n->stalled = 1;
			break;
		} else {
			n->tx++;
		}
		vq_take(d, NET_TX);
		irq |= vq_push(d, NET_TX, c.head, 0);
	}
	if (irq)
		virtio_interrupt(vm, d, PVB_SLOT_NET);
}

void net_notify(struct vm *vm, u32 q)
{
	if (q == NET_TX)
		tx_run(vm); /* rx buffers wait for frames: nothing is queued for them */
}

void net_uplink_receive(const struct vq_chain *f)
{
	u8 dst[6];
	if (f->len < NET_HDR + ETH_MIN || f->len > NET_HDR + NET_FRAME_MAX)
		return;
	vq_read(dst, f, NET_HDR, 6);
	forward(NULL, f, (u32)f->len - NET_HDR, dst);
}

void net_uplink_ready(void)
{
	for (u32 i = 0; i < vm_count; i++)
		if (vms[i].net.stalled)
			tx_run(&vms[i]);
}

void net_reset(struct vm *vm)
{
	memcpy(vm->net.mac, vm->cfg->mac, 6);
	vm->net.stalled = 0;
}

void net_config(const struct vm *vm, u8 cfg[16])
{
	memcpy(cfg, vm->net.mac, 6);
}
