/* vqattack: a hostile virtio-vsock driver. It plays every bad case of docs/virtio.md's refusal
 * table against its own device (slot 0), each from a fresh reset, and reports what the device
 * did; then it brings the device up properly to show that it recovered. tests/configs/
 * vqattack.dts runs it beside the victim, whose RAM (0x40000000) is where the rings and buffers
 * "outside RAM" point, so a device that followed them would break the victim's pattern. */
#include "vq.h"

/* The peer and the addresses the cases aim at (tests/configs/vqattack.dts). */
#define VICTIM_CID 4u          /* default CID: 3 + its index (vm@1) */
#define VICTIM_PORT 5000u      /* what our `connect` allows */
#define FORBIDDEN_PORT 5001u   /* the same VM, a port our policy does not list */
#define UNKNOWN_CID 99u        /* no VM has it */
#define FOREIGN_ADDR 0x40800000ul  /* the middle of the victim's RAM */
#define PV_RESERVED_SIZE 0x10000ul /* the last 64 KiB of our RAM are the hypervisor's */
#define WRAP_ADDR 0xfffffffffffffff0ul
#define PORT_BASE 40000u       /* our source port: PORT_BASE + the case's number */

#define REFUSE_WAIT_US 200000u /* how long a refusal may take to show */
#define REPLY_WAIT_US 500000u  /* how long a reply may take; "nothing" waits this long */
#define LOG_GAP_US 1100000u    /* the log takes one line per second per VM: space the cases */
#define STORM 10000u

#define BRINGUP_FAILED "bringup-failed"

static uint64_t my_cid;
static uint32_t my_port;

static uint64_t reserved_start(void)
{
	return (uint64_t)(uintptr_t)__ram_end - PV_RESERVED_SIZE;
}

static bool wait_needs_reset(uint64_t us)
{
	uint64_t deadline = timer_now() + timer_us(us);
	do {
		if (vq_status() & VIRTIO_STATUS_NEEDS_RESET)
			return true;
	} while (timer_now() < deadline);
	return false;
}

/* What the device did after a violation it must refuse: DEVICE_NEEDS_RESET with nothing used,
 * since a refused buffer is never partly used. `tx_used_ok`: the case's trigger was a good tx
 * packet, which the device may take. */
static const char *refusal(bool tx_used_ok)
{
	if (!wait_needs_reset(REFUSE_WAIT_US))
		return vq_rx_next(0) ? "answered" : "accepted";
	if (vq_used_idx(VQ_RX) != 0 || (!tx_used_ok && vq_used_idx(VQ_TX) != 0))
		return "needs-reset-but-used";
	return "needs-reset";
}

/* What came back in rx for a packet we sent to peer_cid:peer_port from my_port. */
static const char *reply(uint64_t peer_cid, uint32_t peer_port)
{
	const volatile struct pkt *p = vq_rx_next(REPLY_WAIT_US);

	if (vq_status() & VIRTIO_STATUS_NEEDS_RESET)
		return "needs-reset";
	if (!p)
		return "nothing";
	const volatile struct vsock_hdr *h = &p->hdr;
	if (h->dst_cid != my_cid || h->dst_port != my_port || h->src_cid != peer_cid ||
	    h->src_port != peer_port) {
		printf("vqattack: reply %lu:%u -> %lu:%u op %u, want %lu:%u -> %lu:%u\n", h->src_cid,
		       h->src_port, h->dst_cid, h->dst_port, h->op, peer_cid, peer_port, my_cid,
		       my_port);
		return "misaddressed";
	}
	if (h->op == VSOCK_OP_RST)
		return "rst";
	if (h->op == VSOCK_OP_RESPONSE)
		return "response";
	printf("vqattack: reply op %u\n", h->op);
	return "other-op";
}

/* tx[i] becomes a packet the device answers with RST and nothing else (RW on no stream): if any
 * part of a refused chain were used, an RST would show up in rx. */
static void canary(uint16_t i)
{
	pkt_fill(&vq_tx_pkts[i], my_cid, VICTIM_CID, my_port, VICTIM_PORT, VSOCK_TYPE_STREAM,
		 VSOCK_OP_RW, 0);
}

static bool negotiated(void)
{
	vq_reset();
	return vq_negotiate(0, VIRTIO_F_VERSION_1_HI) & VIRTIO_STATUS_FEATURES_OK;
}

/* ---- register accesses the transport refuses with a data abort ---- */

enum access { LOAD8, LOAD16, STORE16, LOAD32, LOAD64 };

/* Does one access of this width to `addr` abort? *value gets what a load read. */
static const char *access_outcome(enum access a, uint64_t addr, uint64_t *value)
{
	struct trap_info t;
	uint64_t v = 0;

	trap_expect();
	switch (a) {
	case LOAD8:
		__asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
		break;
	case LOAD16:
		__asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
		break;
	case STORE16:
		__asm__ volatile("strh wzr, [%0]" : : "r"(addr) : "memory");
		break;
	case LOAD32:
		__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
		break;
	case LOAD64:
		__asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(addr) : "memory");
		break;
	}
	if (!trap_end(&t)) {
		if (value)
			*value = v;
		return "no-abort";
	}
	if (ESR_EC(t.esr) != EC_DABT_CUR || t.far != addr) {
		printf("vqattack: 0x%lx: esr 0x%lx far 0x%lx\n", addr, t.esr, t.far);
		return "other-exception";
	}
	return "data-abort";
}

static const char *reg_byte_read(void)
{
	return access_outcome(LOAD8, VQ_MMIO_BASE + VIRTIO_MMIO_STATUS, NULL);
}

static const char *reg_halfword_write(void)
{
	return access_outcome(STORE16, VQ_MMIO_BASE + VIRTIO_MMIO_QUEUE_SEL, NULL);
}

static const char *reg_doubleword_read(void)
{
	return access_outcome(LOAD64, VQ_MMIO_BASE + VIRTIO_MMIO_MAGIC_VALUE, NULL);
}

/* An offset that holds no register reads 0 and ignores writes (docs/virtio.md). */
static const char *reg_hole(void)
{
	uint64_t v = 1;
	const char *r = access_outcome(LOAD32, VQ_MMIO_BASE + VIRTIO_MMIO_HOLE, &v);
	return str_eq(r, "no-abort") && v != 0 ? "hole-not-zero" : r;
}

/* The configuration space is the one place 8- and 16-bit accesses are fine (section 4.2.2.2). */
static const char *config_narrow_read(void)
{
	uint64_t b = 0, h = 0;
	const char *r = access_outcome(LOAD8, VQ_MMIO_BASE + VIRTIO_MMIO_CONFIG, &b);
	if (!str_eq(r, "no-abort"))
		return r;
	r = access_outcome(LOAD16, VQ_MMIO_BASE + VIRTIO_MMIO_CONFIG, &h);
	if (!str_eq(r, "no-abort"))
		return r;
	return b == (my_cid & 0xff) && h == (my_cid & 0xffff) ? "ok" : "wrong-value";
}

/* Slot 1 has no device in this VM: like any unmapped address, an external abort. */
static const char *slot_1(void)
{
	struct probe p;
	uint64_t addr = VQ_MMIO_BASE + VQ_SLOT_SIZE;

	if (!probe_ld32(addr, &p))
		return "no-abort";
	if (ESR_EC(p.esr) != EC_DABT_CUR || p.far != addr)
		return "other-exception";
	return "data-abort";
}

/* ---- identity and feature negotiation ---- */

static const char *identity(void)
{
	vq_reset();
	if (vq_read(VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC || vq_read(VIRTIO_MMIO_VERSION) != 2 ||
	    vq_read(VIRTIO_MMIO_DEVICE_ID) != VIRTIO_ID_VSOCK ||
	    vq_read(VIRTIO_MMIO_VENDOR_ID) != PV_VIRTIO_VENDOR)
		return "wrong-identity";
	vq_write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t lo = vq_read(VIRTIO_MMIO_DEVICE_FEATURES);
	vq_write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint32_t hi = vq_read(VIRTIO_MMIO_DEVICE_FEATURES);
	if (lo != 0 || hi != VIRTIO_F_VERSION_1_HI) {
		printf("vqattack: device features 0x%x%08x\n", hi, lo);
		return "wrong-features";
	}
	for (unsigned q = 0; q <= VQ_COUNT; q++) {
		vq_write(VIRTIO_MMIO_QUEUE_SEL, q);
		if (vq_read(VIRTIO_MMIO_QUEUE_NUM_MAX) != (q < VQ_COUNT ? VQ_NUM_MAX : 0))
			return "wrong-queue-num-max";
	}
	printf("vqattack: device vsock, cid %lu\n", my_cid);
	return my_cid >= 3 ? "ok" : "wrong-cid";
}

/* Section 3.1.1: FEATURES_OK reads back clear (docs/virtio.md: a driver may then try again with
 * features that were offered; nothing of the refused set is kept). */
static const char *features_refused(uint32_t lo, uint32_t hi)
{
	vq_reset();
	if (vq_negotiate(lo, hi) & VIRTIO_STATUS_FEATURES_OK)
		return "features-ok-set";
	return "features-ok-clear";
}

static const char *features_unoffered(void)
{
	return features_refused(VIRTIO_F_INDIRECT_DESC_LO, VIRTIO_F_VERSION_1_HI);
}

static const char *features_no_version_1(void)
{
	return features_refused(0, 0);
}

/* ---- the device working as it should, between the attacks ---- */

/* A notification before DRIVER_OK is held, and served when DRIVER_OK comes. */
static const char *held_notify(void)
{
	if (!negotiated())
		return BRINGUP_FAILED;
	for (unsigned q = 0; q < VQ_COUNT; q++) {
		vq_queue_own(q);
		vq_queue_ready(q);
	}
	vq_post_rx();
	vq_post_events();
	canary(0);
	pkt_send(0, 0);
	if (vq_rx_next(REFUSE_WAIT_US) || vq_used_idx(VQ_TX) != 0)
		return "used-before-driver-ok";
	vq_driver_ok();
	return reply(VICTIM_CID, VICTIM_PORT);
}

static const char *rw_no_stream(void)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	canary(0);
	pkt_send(0, 0);
	return reply(VICTIM_CID, VICTIM_PORT);
}

/* Notifying an empty queue costs the device nothing: no state, no log, and it still works. */
static const char *notify_storm(void)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	uint64_t start = timer_now();
	for (unsigned i = 0; i < STORM; i++)
		vq_notify(VQ_TX);
	uint64_t ticks = timer_now() - start;
	printf("vqattack: notify-storm: %u notifies in %lu us\n", STORM,
	       ticks * 1000000u / timer_freq());
	if (vq_status() & VIRTIO_STATUS_NEEDS_RESET)
		return "needs-reset";
	if (vq_used_idx(VQ_TX) != 0 || vq_rx_next(0))
		return "used";
	canary(0);
	pkt_send(0, 0);
	return str_eq(reply(VICTIM_CID, VICTIM_PORT), "rst") ? "ok" : "broken-after";
}

/* ---- queue set-up the device refuses at QueueReady = 1 (queue 1: tx) ---- */

static const char *bad_ring(uint32_t num, uint64_t desc, uint64_t driver, uint64_t device)
{
	if (!negotiated())
		return BRINGUP_FAILED;
	vq_queue_place(VQ_TX, num, desc, driver, device);
	vq_queue_ready(VQ_TX);
	return refusal(false);
}

static uint64_t own_desc(void) { return vq_addr(vq_rings[VQ_TX].desc); }
static uint64_t own_avail(void) { return vq_addr(&vq_rings[VQ_TX].avail); }
static uint64_t own_used(void) { return vq_addr(&vq_rings[VQ_TX].used); }

static const char *queue_size_not_pow2(void)
{
	return bad_ring(12, own_desc(), own_avail(), own_used());
}

static const char *queue_size_above_max(void)
{
	return bad_ring(VQ_NUM_MAX * 2, own_desc(), own_avail(), own_used());
}

static const char *ring_outside_ram(void)
{
	return bad_ring(VQ_SIZE, FOREIGN_ADDR, own_avail(), own_used());
}

/* The low half is our own good ring: a device that dropped QueueDescHigh would take it. */
static const char *ring_above_4g(void)
{
	return bad_ring(VQ_SIZE, own_desc() + (1ul << 32), own_avail(), own_used());
}

static const char *ring_in_reserved(void)
{
	return bad_ring(VQ_SIZE, reserved_start(), own_avail(), own_used());
}

/* The used ring starts in our RAM and ends in the hypervisor's 64 KiB: the device writes it. */
static const char *ring_straddles_reserved(void)
{
	_Static_assert(VQ_USED_SIZE > 64, "the used ring must reach past the line");
	return bad_ring(VQ_SIZE, own_desc(), own_avail(), reserved_start() - 64);
}

static const char *ring_misaligned(void)
{
	return bad_ring(VQ_SIZE, own_desc() + 8, own_avail(), own_used());
}

/* ---- changing a ready queue, notifying one that is not ---- */

static const char *num_changed_while_ready(void)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	vq_write(VIRTIO_MMIO_QUEUE_SEL, VQ_TX);
	vq_write(VIRTIO_MMIO_QUEUE_NUM, VQ_SIZE / 2); /* a size that would be fine before ready */
	return refusal(false);
}

static const char *ring_changed_while_ready(void)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	vq_write(VIRTIO_MMIO_QUEUE_SEL, VQ_TX);
	vq_write(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)vq_addr(vq_spare_ring.desc)); /* also good */
	return refusal(false);
}

static const char *notify_not_ready(void)
{
	if (!negotiated())
		return BRINGUP_FAILED;
	vq_queue_own(VQ_RX);
	vq_queue_ready(VQ_RX);
	vq_queue_own(VQ_EVENT);
	vq_queue_ready(VQ_EVENT);
	vq_queue_own(VQ_TX); /* placed, never ready */
	vq_post_rx();
	vq_post_events();
	vq_driver_ok();
	canary(0);
	pkt_send(0, 0);
	return refusal(false);
}

/* ---- bad rings and chains in tx (each from a good bring-up; tx[0] holds a canary) ---- */

static const char *tx_refused(uint16_t head)
{
	vq_publish(VQ_TX, head);
	vq_notify(VQ_TX);
	return refusal(false);
}

/* One descriptor, the chain's head. */
static const char *bad_tx_desc(uint64_t addr, uint32_t len, uint16_t flags)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	canary(0);
	vq_desc(VQ_TX, 0, addr, len, flags, 0);
	return tx_refused(0);
}

static uint64_t canary_addr(void) { return vq_addr(&vq_tx_pkts[0]); }

/* Every slot of the ring names the canary: a device that served any before checking the index
 * would answer RSTs. */
static const char *avail_index_jump(void)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	canary(0);
	vq_desc(VQ_TX, 0, canary_addr(), VSOCK_HDR_SIZE, 0, 0);
	barrier();
	vq_rings[VQ_TX].avail.idx = VQ_SIZE + 1;
	vq_notify(VQ_TX);
	return refusal(false);
}

static const char *head_out_of_range(void)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	canary(0);
	vq_desc(VQ_TX, 0, canary_addr(), VSOCK_HDR_SIZE, 0, 0);
	return tx_refused(VQ_SIZE);
}

static const char *next_out_of_range(void)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	canary(0);
	vq_desc(VQ_TX, 0, canary_addr(), VSOCK_HDR_SIZE, VIRTQ_DESC_F_NEXT, VQ_SIZE);
	return tx_refused(0);
}

static const char *chain_loop(void)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	canary(0);
	vq_desc(VQ_TX, 0, canary_addr(), VSOCK_HDR_SIZE, VIRTQ_DESC_F_NEXT, 1);
	vq_desc(VQ_TX, 1, vq_addr(&vq_tx_pkts[1]), 16, VIRTQ_DESC_F_NEXT, 0);
	return tx_refused(0);
}

static const char *buffer_outside_ram(void)
{
	return bad_tx_desc(FOREIGN_ADDR, VSOCK_HDR_SIZE, 0);
}

static const char *buffer_in_reserved(void)
{
	return bad_tx_desc(reserved_start(), VSOCK_HDR_SIZE, 0);
}

static const char *buffer_straddles_reserved(void)
{
	return bad_tx_desc(reserved_start() - 16, VSOCK_HDR_SIZE, 0);
}

static const char *buffer_wraps(void)
{
	return bad_tx_desc(WRAP_ADDR, VSOCK_HDR_SIZE, 0);
}

/* Starts at our canary, ends ~4 GiB later. */
static const char *buffer_too_long(void)
{
	return bad_tx_desc(canary_addr(), 0xfffffff0u, 0);
}

/* The indirect table is good and names the canary: only the flag is wrong. */
static const char *indirect(void)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	canary(0);
	volatile struct raw_desc *t = vq_spare_ring.desc;
	t->addr = canary_addr();
	t->len = VSOCK_HDR_SIZE;
	t->flags = 0;
	t->next = 0;
	vq_desc(VQ_TX, 0, vq_addr(t), sizeof(struct raw_desc), VIRTQ_DESC_F_INDIRECT, 0);
	return tx_refused(0);
}

static const char *tx_writable(void)
{
	return bad_tx_desc(canary_addr(), VSOCK_HDR_SIZE, VIRTQ_DESC_F_WRITE);
}

static const char *tx_short(void)
{
	return bad_tx_desc(canary_addr(), 20, 0);
}

static const char *tx_len_too_big(void)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	canary(0);
	vq_tx_pkts[0].hdr.len = 100;
	vq_desc(VQ_TX, 0, canary_addr(), VSOCK_HDR_SIZE + 16, 0, 0);
	return tx_refused(0);
}

/* After DEVICE_NEEDS_RESET the device ignores notifications until the driver writes 0. */
static const char *ignored_after_needs_reset(void)
{
	const char *r = tx_short();
	if (!str_eq(r, "needs-reset"))
		return r;
	canary(1);
	pkt_send(1, 0);
	if (vq_rx_next(REPLY_WAIT_US))
		return "answered";
	return vq_used_idx(VQ_TX) == 0 ? "ignored" : "used";
}

/* ---- bad rx buffers: the device may check them when posted or only when it fills one, so
 * after the notify a canary makes it fill one (with the RST that answers it) ---- */

static const char *bad_rx(uint64_t addr, uint16_t flags)
{
	if (!negotiated())
		return BRINGUP_FAILED;
	for (unsigned q = 0; q < VQ_COUNT; q++) {
		vq_queue_own(q);
		vq_queue_ready(q);
	}
	vq_desc(VQ_RX, 0, addr, PKT_SIZE, flags, 0);
	vq_publish(VQ_RX, 0);
	vq_post_events();
	vq_driver_ok();
	vq_notify(VQ_RX);
	if (wait_needs_reset(REFUSE_WAIT_US))
		return refusal(false);
	canary(0);
	pkt_send(0, 0);
	return refusal(true);
}

static const char *rx_readable(void)
{
	return bad_rx(vq_addr(&vq_rx_pkts[0]), 0);
}

static const char *rx_buffer_outside_ram(void)
{
	return bad_rx(FOREIGN_ADDR, VIRTQ_DESC_F_WRITE);
}

/* ---- vsock: packets the hypervisor answers with RST (or drops), never delivers ---- */

static const char *vsock_case(uint64_t src_cid, uint64_t dst_cid, uint32_t dst_port, uint16_t type,
			      uint16_t op)
{
	if (!vq_up())
		return BRINGUP_FAILED;
	pkt_fill(&vq_tx_pkts[0], src_cid, dst_cid, my_port, dst_port, type, op, 0);
	pkt_send(0, 0);
	return reply(dst_cid, dst_port);
}

/* Pretends to be the victim. The reply, if any, must still come to our real CID. */
static const char *spoof_src_cid(void)
{
	return vsock_case(VICTIM_CID, VICTIM_CID, VICTIM_PORT, VSOCK_TYPE_STREAM, VSOCK_OP_RW);
}

static const char *type_seqpacket(void)
{
	return vsock_case(my_cid, VICTIM_CID, VICTIM_PORT, VSOCK_TYPE_SEQPACKET, VSOCK_OP_RW);
}

static const char *request_unknown_cid(void)
{
	return vsock_case(my_cid, UNKNOWN_CID, VICTIM_PORT, VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST);
}

static const char *request_forbidden_port(void)
{
	return vsock_case(my_cid, VICTIM_CID, FORBIDDEN_PORT, VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST);
}

static const char *request_to_host(void)
{
	return vsock_case(my_cid, VSOCK_CID_HOST, VICTIM_PORT, VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST);
}

/* After all of it: a good bring-up, a REQUEST our policy allows; the victim has no driver, so the
 * contract answers RST (a RESPONSE if it ever had one); the tx buffer must have been used. */
static const char *recovery(void)
{
	const char *r = vsock_case(my_cid, VICTIM_CID, VICTIM_PORT, VSOCK_TYPE_STREAM,
				   VSOCK_OP_REQUEST);
	if (vq_used_idx(VQ_TX) != 1)
		return "tx-unused";
	return r;
}

/* ---- the run ---- */

struct attack {
	const char *name;
	const char *(*run)(void);
	const char *expect; /* the outcomes that are right, '|' between them */
	bool logs;          /* the hypervisor logs it: keep LOG_GAP_US from the case before */
};

static const struct attack attacks[] = {
	{ "identity", identity, "ok", false },
	{ "config-narrow-read", config_narrow_read, "ok", false },
	{ "reg-byte-read", reg_byte_read, "data-abort", false },
	{ "reg-halfword-write", reg_halfword_write, "data-abort", false },
	{ "reg-doubleword-read", reg_doubleword_read, "data-abort", false },
	{ "reg-hole", reg_hole, "no-abort", false },
	{ "slot-1", slot_1, "data-abort", false },
	{ "features-unoffered", features_unoffered, "features-ok-clear", false },
	{ "features-no-version-1", features_no_version_1, "features-ok-clear", false },
	{ "held-notify", held_notify, "rst", false },
	{ "rw-no-stream", rw_no_stream, "rst", false },
	{ "notify-storm", notify_storm, "ok", false },
	{ "queue-size-not-pow2", queue_size_not_pow2, "needs-reset", true },
	{ "queue-size-above-max", queue_size_above_max, "needs-reset", true },
	{ "ring-outside-ram", ring_outside_ram, "needs-reset", true },
	{ "ring-above-4g", ring_above_4g, "needs-reset", true },
	{ "ring-in-reserved", ring_in_reserved, "needs-reset", true },
	{ "ring-straddles-reserved", ring_straddles_reserved, "needs-reset", true },
	{ "ring-misaligned", ring_misaligned, "needs-reset", true },
	{ "num-changed-while-ready", num_changed_while_ready, "needs-reset", true },
	{ "ring-changed-while-ready", ring_changed_while_ready, "needs-reset", true },
	{ "notify-not-ready", notify_not_ready, "needs-reset", true },
	{ "avail-index-jump", avail_index_jump, "needs-reset", true },
	{ "head-out-of-range", head_out_of_range, "needs-reset", true },
	{ "next-out-of-range", next_out_of_range, "needs-reset", true },
	{ "chain-loop", chain_loop, "needs-reset", true },
	{ "buffer-outside-ram", buffer_outside_ram, "needs-reset", true },
	{ "buffer-in-reserved", buffer_in_reserved, "needs-reset", true },
	{ "buffer-straddles-reserved", buffer_straddles_reserved, "needs-reset", true },
	{ "buffer-wraps", buffer_wraps, "needs-reset", true },
	{ "buffer-too-long", buffer_too_long, "needs-reset", true },
	{ "indirect", indirect, "needs-reset", true },
	{ "tx-writable", tx_writable, "needs-reset", true },
	{ "rx-readable", rx_readable, "needs-reset", true },
	{ "rx-buffer-outside-ram", rx_buffer_outside_ram, "needs-reset", true },
	{ "tx-short", tx_short, "needs-reset", true },
	{ "tx-len-too-big", tx_len_too_big, "needs-reset", true },
	{ "ignored-after-needs-reset", ignored_after_needs_reset, "ignored", true },
	{ "spoof-src-cid", spoof_src_cid, "rst|nothing", true },
	{ "type-seqpacket", type_seqpacket, "rst", true },
	{ "request-unknown-cid", request_unknown_cid, "rst", true },
	{ "request-forbidden-port", request_forbidden_port, "rst", true },
	{ "request-to-host", request_to_host, "rst", true },
	{ "recovery", recovery, "rst|response", true },
};

/* Is `got` one of the '|'-separated words of `list`? */
static bool one_of(const char *got, const char *list)
{
	for (const char *w = list; *w;) {
		const char *g = got;
		while (*g && *g == *w) {
			g++;
			w++;
		}
		if (!*g && (!*w || *w == '|'))
			return true;
		while (*w && *w != '|')
			w++;
		if (*w)
			w++;
	}
	return false;
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	size_t count = sizeof(attacks) / sizeof(attacks[0]), good = 0;
	uint64_t last = 0;

	my_cid = vq_cid();
	printf("vqattack: %lu cases against the vsock device at 0x%lx, RAM 0x%lx-0x%lx\n", count,
	       VQ_MMIO_BASE, (uint64_t)(uintptr_t)__ram_base, (uint64_t)(uintptr_t)__ram_end);
	for (size_t i = 0; i < count; i++) {
		const struct attack *a = &attacks[i];
		if (a->logs && last)
			while (timer_now() < last + timer_us(LOG_GAP_US))
				;
		my_port = PORT_BASE + (uint32_t)i;
		const char *got = a->run();
		last = timer_now();
		printf("vqattack: case %s: %s\n", a->name, got);
		if (one_of(got, a->expect))
			good++;
		else
			printf("vqattack: UNEXPECTED in %s, want %s\n", a->name, a->expect);
	}
	vq_reset();
	printf("vqattack: done, %lu cases, %lu as expected\n", count, good);
	psci_system_off();
	return 0;
}
