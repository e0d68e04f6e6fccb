/* netspoof: a virtio-net guest (slot 3, docs/storage-net.md) that sends broadcast frames with its
 * own MAC as source and frames with a forged one, and prints every such frame it receives. Two
 * of them on the hypervisor's switch (tests/configs/netspoof.dts) show which frames the switch
 * lets through: a peer's real frames, never a forged source, nothing between VMs that are not
 * peers (tests/system/test_netspoof.py). */
#include "guest.h"

/* virtio 1.2 section 5.1: the network device. */
#define VIRTIO_NET_F_MAC (1u << 5)
#define NET_CFG_MAC 0x00u        /* 6 bytes, then le16 status: read as two 32-bit words */
#define NET_HDR_SIZE 12u         /* struct virtio_net_hdr with VERSION_1 (5.1.6): all zero */
#define RX_QUEUE 0u
#define TX_QUEUE 1u

/* IEEE 802.3 framing; 0x88b5 is an EtherType for local experiments (IEEE Std 802). */
#define MAC_SIZE 6u
#define ETH_HDR_SIZE 14u
#define ETH_MIN_FRAME 60u        /* without the FCS, which the device adds */
#define ETHERTYPE 0x88b5u
#define PAYLOAD_MAX 46u          /* what fits in a minimum frame, which is all we send */
#define RX_BUF_SIZE 1536u        /* at least 1526 without MRG_RXBUF (5.1.6.3.1) */
#define RX_BUFS 16u
#define TX_BUF_SIZE (NET_HDR_SIZE + ETH_MIN_FRAME)
#define TX_BUFS 16u
#define TX_WAIT_US 1000000u

#define DEFAULT_SLOT 3u          /* PVB_SLOT_NET */
#define DEFAULT_REAL 3u
#define DEFAULT_SPOOF 3u
#define DEFAULT_DELAY_MS 2000u   /* before the first frame: the receivers come up meanwhile */
#define DEFAULT_GAP_MS 100u
#define DEFAULT_LISTEN_MS 3000u  /* after the last frame */
#define DEFAULT_SPOOF_MAC 0x020000000099ull
#define BROADCAST 0xffffffffffffull

static struct virtio_dev dev;
static struct virtq_mem rx_mem, tx_mem;
static uint8_t rx_bufs[VIRTQ_SIZE][RX_BUF_SIZE];
static uint8_t tx_bufs[VIRTQ_SIZE][TX_BUF_SIZE];
static uint8_t my_mac[MAC_SIZE];
static unsigned got, tx_done;
static bool dead; /* the device asked for a reset: we stop, that is the finding */
static volatile bool timer_fired;

static void mac_from_u64(uint8_t *mac, uint64_t v)
{
	for (unsigned i = 0; i < MAC_SIZE; i++)
		mac[i] = (uint8_t)(v >> (8 * (MAC_SIZE - 1 - i)));
}

static void print_mac(const volatile uint8_t *mac)
{
	printf("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static bool find_device(unsigned slot)
{
	if (virtio_probe_features(&dev, slot, VIRTIO_ID_NET, VIRTIO_NET_F_MAC))
		return true;
	for (unsigned s = 0; s < 32; s++) /* natively QEMU fills its slots from 31 down */
		if (virtio_probe_features(&dev, s, VIRTIO_ID_NET, VIRTIO_NET_F_MAC))
			return true;
	return false;
}

static void read_mac(void)
{
	if (!(dev.features_lo & VIRTIO_NET_F_MAC)) {
		printf("netspoof: the device offers no MAC; using 02:00:00:00:00:00\n");
		mac_from_u64(my_mac, 0x020000000000ull);
		return;
	}
	uint32_t lo = virtio_config_read(&dev, NET_CFG_MAC), hi = virtio_config_read(&dev, NET_CFG_MAC + 4);
	for (unsigned i = 0; i < 4; i++)
		my_mac[i] = (uint8_t)(lo >> (8 * i));
	my_mac[4] = (uint8_t)hi;
	my_mac[5] = (uint8_t)(hi >> 8);
}

/* A received frame: printed if it is one of ours (EtherType and "netspoof " payload). */
static void received(const volatile uint8_t *buf, uint32_t len)
{
	const volatile uint8_t *eth = buf + NET_HDR_SIZE;
	static const char prefix[] = "netspoof ";
	char text[PAYLOAD_MAX + 1];
	uint32_t n = 0;

	if (len < NET_HDR_SIZE + ETH_HDR_SIZE || (eth[12] << 8 | eth[13]) != ETHERTYPE)
		return;
	len -= NET_HDR_SIZE + ETH_HDR_SIZE;
	for (; n < len && n < PAYLOAD_MAX; n++) {
		uint8_t c = eth[ETH_HDR_SIZE + n];
		if (c < 0x20 || c >= 0x7f)
			break;
		text[n] = (char)c;
	}
	text[n] = 0;
	for (unsigned i = 0; prefix[i]; i++)
		if (text[i] != prefix[i])
			return;
	got++;
	printf("netspoof: got %s from ", text);
	print_mac(eth + MAC_SIZE);
	printf("\n");
}

/* Takes what the device used: received frames (the buffer goes straight back) and sent ones. */
static void service(void)
{
	struct virtq *rx = &dev.q[RX_QUEUE], *tx = &dev.q[TX_QUEUE];
	uint32_t len;
	int id;

	while ((id = virtq_next_used(rx, &len)) >= 0) {
		received(rx_bufs[id], len);
		virtq_post(rx, (unsigned)id, rx_bufs[id], RX_BUF_SIZE, true);
	}
	virtq_notify(rx);
	while ((id = virtq_next_used(tx, &len)) >= 0) {
		virtq_free(tx, (unsigned)id);
		tx_done++;
	}
	if (!dead && virtio_needs_reset(&dev)) {
		dead = true;
		printf("netspoof: needs-reset\n");
	}
}

static void timer_irq(unsigned intid)
{
	(void)intid;
	vtimer_stop();
	timer_fired = true;
}

/* Serves the device until `deadline` (the virtual counter), sleeping in WFI in between. */
static void serve_until(uint64_t deadline)
{
	while (!dead && timer_now() < deadline) {
		timer_fired = false;
		vtimer_arm(deadline);
		WAIT_UNTIL(timer_fired || virtq_has_used(&dev.q[RX_QUEUE]) ||
			   virtq_has_used(&dev.q[TX_QUEUE]));
		vtimer_stop();
		service();
	}
}

static uint64_t ms_from_now(uint64_t ms)
{
	return timer_now() + timer_us(ms * 1000u);
}

/* One minimum-size frame to `dst` from `src` carrying "netspoof <seq> <kind>"; false if the
 * device did not take it back within TX_WAIT_US. */
static bool send(const uint8_t *dst, const uint8_t *src, unsigned seq, const char *kind)
{
	struct virtq *tx = &dev.q[TX_QUEUE];
	uint64_t deadline = ms_from_now(TX_WAIT_US / 1000u);
	int id;

	while ((id = virtq_alloc(tx)) < 0 && !dead && timer_now() < deadline)
		serve_until(ms_from_now(1));
	if (id < 0)
		return false;
	uint8_t *b = tx_bufs[id], *eth = b + NET_HDR_SIZE;
	memset(b, 0, TX_BUF_SIZE);
	memcpy(eth, dst, MAC_SIZE);
	memcpy(eth + MAC_SIZE, src, MAC_SIZE);
	eth[12] = (uint8_t)(ETHERTYPE >> 8);
	eth[13] = (uint8_t)ETHERTYPE;
	char *p = (char *)eth + ETH_HDR_SIZE;
	static const char prefix[] = "netspoof ";
	char digits[12];
	unsigned nd = 0;
	for (unsigned i = 0; prefix[i]; i++)
		*p++ = prefix[i];
	do
		digits[nd++] = (char)('0' + seq % 10);
	while ((seq /= 10) != 0);
	while (nd)
		*p++ = digits[--nd];
	*p++ = ' ';
	while (*kind)
		*p++ = *kind++;
	virtq_post(tx, (unsigned)id, b, TX_BUF_SIZE, false);
	virtq_notify(tx);
	return true;
}

static bool bring_up(unsigned slot)
{
	if (!find_device(slot) || !virtio_queue_init(&dev, RX_QUEUE, &rx_mem) ||
	    !virtio_queue_init(&dev, TX_QUEUE, &tx_mem))
		return false;
	struct virtq *rx = &dev.q[RX_QUEUE];
	for (unsigned i = 0; i < RX_BUFS; i++) {
		int id = virtq_alloc(rx);
		if (id < 0)
			break;
		virtq_post(rx, (unsigned)id, rx_bufs[id], RX_BUF_SIZE, true);
	}
	read_mac();
	irq_set_handler(INTID_VTIMER, timer_irq);
	gic_enable(INTID_VTIMER, IRQ_PRIO_DEFAULT);
	virtio_start(&dev);
	virtq_notify(rx); /* after DRIVER_OK (3.1.1): the buffers posted above */
	return true;
}

/* Bootargs (all optional): netspoof.slot=N, netspoof.real=N and netspoof.spoof=N frames,
 * netspoof.spoofmac=0x... (the forged source), netspoof.dst=0x... (default broadcast),
 * netspoof.delay=MS before the first, netspoof.gap=MS between frames, netspoof.listen=MS after
 * the last. A receiver is a netspoof with real=0 spoof=0. */
int main(uint64_t boot_arg)
{
	const char *args = bootargs(boot_arg);
	uint64_t slot = DEFAULT_SLOT, real = DEFAULT_REAL, spoof = DEFAULT_SPOOF;
	uint64_t delay = DEFAULT_DELAY_MS, gap = DEFAULT_GAP_MS, listen = DEFAULT_LISTEN_MS;
	uint64_t spoof_mac = DEFAULT_SPOOF_MAC, dst_mac = BROADCAST;
	uint8_t fake[MAC_SIZE], dst[MAC_SIZE];

	bootarg_u64(args, "netspoof.slot", &slot);
	bootarg_u64(args, "netspoof.real", &real);
	bootarg_u64(args, "netspoof.spoof", &spoof);
	bootarg_u64(args, "netspoof.spoofmac", &spoof_mac);
	bootarg_u64(args, "netspoof.dst", &dst_mac);
	bootarg_u64(args, "netspoof.delay", &delay);
	bootarg_u64(args, "netspoof.gap", &gap);
	bootarg_u64(args, "netspoof.listen", &listen);
	mac_from_u64(fake, spoof_mac);
	mac_from_u64(dst, dst_mac);
	gic_init();
	gic_cpu_init();
	if (!bring_up((unsigned)slot)) {
		printf("netspoof: no network device\n");
		return 0;
	}
	printf("netspoof: mac ");
	print_mac(my_mac);
	printf(", %lu real and %lu spoofed frames to ", real, spoof);
	print_mac(dst);
	printf(", spoofing ");
	print_mac(fake);
	printf("\n");
	serve_until(ms_from_now(delay));
	unsigned sent_real = 0, sent_spoof = 0;
	for (unsigned i = 0; !dead && (i < real || i < spoof); i++) {
		if (i < real && send(dst, my_mac, i, "real"))
			sent_real++;
		serve_until(ms_from_now(gap));
		if (i < spoof && send(dst, fake, i, "spoof"))
			sent_spoof++;
		serve_until(ms_from_now(gap));
	}
	serve_until(ms_from_now(listen));
	printf("netspoof: done, sent %u real and %u spoofed (%u taken back), got %u\n", sent_real,
	       sent_spoof, tx_done, got);
	psci_system_off();
	return 0;
}
