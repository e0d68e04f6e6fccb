/* virtio.c: the board's disk and NIC on QEMU virt, as virtio-mmio devices (virtio 1.2 section
 * 4.2, version 2) that the hypervisor drives itself: the block and net provider of provider.h.
 * Rings and buffers are the hypervisor's own (.bss); the disk moves data straight into and out
 * of VMs' RAM, the NIC through the hypervisor's frame buffers. */
#include <pv/arch.h>
#include <pv/fdt.h>
#include <pv/gic.h>
#include <pv/log.h>
#include <pv/net.h>
#include <pv/provider.h>
#include <pv/spinlock.h>
#include <pv/string.h>
#include <pv/virtio_regs.h>

#define F_BLK_SEG_MAX BIT(2)
#define F_BLK_FLUSH BIT(9)
#define D_NEXT 1u
#define D_WRITE 2u

#define F_INDIRECT BIT(28) /* VIRTIO_RING_F_INDIRECT_DESC (2.7.5.3) */
#define D_INDIRECT 4u
/* A block request is one ring entry (its slot) pointing to that slot's table of descriptors:
 * header, data, status. */
#define BLK_PER (PBLK_DATA_SEGS + 2)
#define BLK_NUM 16u /* a power of two above PBLK_SLOTS and the hypervisor's own slot */
#define SYNC_TAG PBLK_SLOTS
#define NET_NUM 16u
#define NET_BUF 1536u /* a header and the longest frame */

struct desc {
	u64 addr;
	u32 len;
	u16 flags, next;
};

/* One split virtqueue of n entries, laid out as 2.7 asks (no event index). */
#define RING(n)                                                 \
	struct {                                                \
		struct desc d[n];                               \
		u16 avail_flags, avail_idx, avail[n];           \
		u32 pad;                                        \
		u16 used_flags, used_idx;                       \
		struct { u32 id, len; } used[n];                \
	} __attribute__((aligned(16)))

struct pdev {
	u64 base;
	u32 intid;
	u16 last_used[2]; /* per queue: the used entries taken so far */
};

static struct pdev disk, nic;
static RING(BLK_NUM) blk_q;
static RING(NET_NUM) rx_q, tx_q;
/* Not cleared at boot (.noinit, 56 KiB a boot without board devices need not pay for): each
 * table is filled before its request is posted, a tx buffer before it is sent, and only the
 * length the NIC says it wrote is taken from an rx buffer. */
#define NOINIT __attribute__((section(".noinit.virtio")))
static struct desc blk_table[PBLK_SLOTS + 1][BLK_PER] __attribute__((aligned(16))) NOINIT;
static u8 rx_buf[NET_NUM][NET_BUF] __attribute__((aligned(64))) NOINIT;
static u8 tx_buf[NET_NUM][NET_BUF] __attribute__((aligned(64))) NOINIT;
static u8 blk_hdr[PBLK_SLOTS + 1][16] __attribute__((aligned(16)));
static u8 sync_status;
static u32 sync_done;
static u64 disk_sectors;
static u32 disk_segs; /* set by disk_init: no initialised data (pocketvisor.ld) */
static u32 disk_flush; /* F_BLK_FLUSH was agreed */
static u32 tx_free; /* tx buffers not at the NIC; they go round in ring order */

static volatile u32 *reg(const struct pdev *p, u32 off)
{
	return (volatile u32 *)(uintptr_t)(p->base + off);
}

static u64 pa_of(const void *p)
{
	return (u64)(uintptr_t)p; /* EL2 maps its RAM 1:1 */
}

/* Ring writes are visible to the device before the register write that tells it. */
static void notify(const struct pdev *p, u32 q)
{
	__asm__ volatile("dsb st" ::: "memory");
	*reg(p, VMMIO_QUEUE_NOTIFY) = q;
}

static void publish(u16 *idx)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(idx, (u16)(*idx + 1), __ATOMIC_RELAXED);
}

static u16 used_idx(const u16 *idx)
{
	u16 v = __atomic_load_n(idx, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return v;
}

static void queue_set(const struct pdev *p, u32 q, u32 n, const void *desc, const void *avail,
		      const void *used)
{
	const void *ring[3] = { desc, avail, used };
	*reg(p, VMMIO_QUEUE_SEL) = q;
	*reg(p, VMMIO_QUEUE_NUM) = n;
	for (u32 r = 0; r < 3; r++) {
		*reg(p, VMMIO_QUEUE_DESC + 16 * r) = (u32)pa_of(ring[r]);
		*reg(p, VMMIO_QUEUE_DESC + 16 * r + 4) = (u32)(pa_of(ring[r]) >> 32);
	}
	*reg(p, VMMIO_QUEUE_READY) = 1;
}

/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, features (VERSION_1 and what we use of `want`),
 * FEATURES_OK. Queues come next, then start(). */
static u64 begin(struct pdev *p, u64 want, u32 queues, u32 n)
{
	u64 offered = 0;
	*reg(p, VMMIO_STATUS) = 0;
	*reg(p, VMMIO_STATUS) = VSTAT_ACKNOWLEDGE | VSTAT_DRIVER;
	for (u32 i = 0; i < 2; i++) {
		*reg(p, VMMIO_DEV_FEATURES_SEL) = i;
		offered |= (u64)*reg(p, VMMIO_DEV_FEATURES) << 32 * i;
	}
	want = (want | VIRTIO_F_VERSION_1) & offered;
	for (u32 i = 0; i < 2; i++) {
		*reg(p, VMMIO_DRV_FEATURES_SEL) = i;
		*reg(p, VMMIO_DRV_FEATURES) = (u32)(want >> 32 * i);
	}
	*reg(p, VMMIO_STATUS) = VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FEATURES_OK;
	for (u32 q = 0; q < queues; q++) {
		*reg(p, VMMIO_QUEUE_SEL) = q;
		if (*reg(p, VMMIO_QUEUE_NUM_MAX) < n)
			return 0;
	}
	return *reg(p, VMMIO_STATUS) & VSTAT_FEATURES_OK && want & VIRTIO_F_VERSION_1 ? want : 0;
}

static __attribute__((noinline)) void start(struct pdev *p)
{
	*reg(p, VMMIO_STATUS) = VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FEATURES_OK | VSTAT_DRIVER_OK;
	gic_spi_set(p->intid, 0, true);
}

static bool disk_init(struct pdev *p)
{
	u64 f = begin(p, F_BLK_SEG_MAX | F_BLK_FLUSH | F_INDIRECT, 1, BLK_NUM);
	if (!(f & F_INDIRECT))
		return false;
	disk_sectors = (u64)reg(p, VMMIO_CONFIG)[1] << 32 | reg(p, VMMIO_CONFIG)[0];
	disk_flush = (u32)(f >> 9) & 1;
	disk_segs = PBLK_DATA_SEGS;
	if (f & F_BLK_SEG_MAX) /* 5.2.4: its seg_max, at config offset 12 */
		disk_segs = reg(p, VMMIO_CONFIG)[3] - 1 < PBLK_DATA_SEGS ? reg(p, VMMIO_CONFIG)[3]
									  : PBLK_DATA_SEGS;
	queue_set(p, 0, BLK_NUM, blk_q.d, &blk_q.avail_flags, &blk_q.used_flags);
	start(p);
	log_info(NULL, "board disk: virtio-blk at %#lx, %lu sectors, %u buffers a request", p->base,
		 disk_sectors, disk_segs);
	return true;
}

static __attribute__((noinline)) void rx_post(u32 i)
{
	rx_q.avail[rx_q.avail_idx % NET_NUM] = (u16)i;
	publish(&rx_q.avail_idx);
}

static bool nic_init(struct pdev *p)
{
	if (!begin(p, 0, 2, NET_NUM))
		return false;
	tx_free = NET_NUM;
	for (u32 i = 0; i < NET_NUM; i++) {
		rx_q.d[i] = (struct desc){ pa_of(rx_buf[i]), NET_BUF, D_WRITE, 0 };
		tx_q.d[i] = (struct desc){ pa_of(tx_buf[i]), 0, 0, 0 };
		rx_post(i);
	}
	queue_set(p, 0, NET_NUM, rx_q.d, &rx_q.avail_flags, &rx_q.used_flags);
	queue_set(p, 1, NET_NUM, tx_q.d, &tx_q.avail_flags, &tx_q.used_flags);
	start(p);
	notify(p, 0);
	log_info(NULL, "board NIC: virtio-net at %#lx", p->base);
	return true;
}

void provider_probe(const struct board_info *board)
{
	for (u32 i = 0; i < board->virtio_count; i++) {
		struct pdev p = { board->virtio_base[i], board->virtio_intid[i], { 0, 0 } };
		u32 id = *reg(&p, VMMIO_DEVICE_ID);
		if (*reg(&p, VMMIO_MAGIC) != VMMIO_MAGIC_VALUE || !id)
			continue;
		if (*reg(&p, VMMIO_VERSION) != 2) {
			log_warn(NULL, "virtio-mmio at %#lx: legacy, not used", p.base);
		} else if (id == VIRTIO_ID_BLK && !disk.base) {
			disk = p;
			if (!disk_init(&disk))
				disk.base = 0;
		} else if (id == VIRTIO_ID_NET && !nic.base) {
			nic = p;
			if (!nic_init(&nic))
				nic.base = 0;
		}
	}
}

u64 pblk_sectors(void)
{
	return disk.base ? disk_sectors : 0;
}

u32 pblk_segs(void)
{
	return disk_segs;
}

static void put_desc(struct desc *t, u32 i, paddr_t pa, u32 len, u16 flags)
{
	t[i] = (struct desc){ pa.pa, len, flags, (u16)(i + 1) };
}

void pblk_submit(const struct pblk_req *r, u32 tag)
{
	struct desc *t = blk_table[tag];
	u64 *h = (u64 *)blk_hdr[tag];
	h[0] = r->type;
	h[1] = r->sector;
	put_desc(t, 0, pa_init(pa_of(h)), 16, D_NEXT);
	for (u32 s = 0; s < r->count; s++)
		put_desc(t, 1 + s, r->seg[s].pa, r->seg[s].len,
			 (u16)(D_NEXT | (r->type == 0 ? D_WRITE : 0)));
	put_desc(t, 1 + r->count, r->status, 1, D_WRITE);
	blk_q.d[tag] = (struct desc){ pa_of(t), 16 * (r->count + 2), D_INDIRECT, 0 };
	blk_q.avail[blk_q.avail_idx % BLK_NUM] = (u16)tag;
	publish(&blk_q.avail_idx);
	notify(&disk, 0);
}

void pblk_poll(void)
{
	while (disk.last_used[0] != used_idx(&blk_q.used_idx)) {
		u32 id = blk_q.used[disk.last_used[0]++ % BLK_NUM].id;
		if (id < PBLK_SLOTS)
			blk_done(id);
		else if (id == SYNC_TAG)
			sync_done = 1;
	}
}

bool pblk_sync(u32 type, u64 sector, void *buf)
{
	static struct pblk_req r; /* 4 KiB: not on a stack; one caller at a time (virtio_lock) */
	if (!disk.base || sector >= disk_sectors)
		return false;
	if (type == PBLK_FLUSH && !disk_flush)
		return true; /* nothing is cached that a flush would write */
	r.type = type;
	r.sector = sector;
	r.count = type != PBLK_FLUSH;
	r.seg[0] = (struct vq_seg){ pa_init(pa_of(buf)), 512 };
	r.status = pa_init(pa_of(&sync_status));
	sync_status = 0xff;
	sync_done = 0;
	gic_spi_set(disk.intid, arch_cpu_id(), true); /* its interrupt wakes this core */
	pblk_submit(&r, SYNC_TAG);
	/* Wait in WFI: the disk's interrupt wakes the core (masked at EL2, so not taken; acked
	 * here, so not lost for VMs' requests, which complete in pblk_poll as usual). A busy wait
	 * would also keep QEMU's single-threaded TCG (as under -icount) from running its I/O. */
	for (;;) {
		*reg(&disk, VMMIO_INT_ACK) = *reg(&disk, VMMIO_INT_STATUS);
		pblk_poll();
		if (sync_done)
			break;
		arch_idle();
	}
	gic_spi_set(disk.intid, 0, true); /* and core 0 takes it again */
	return sync_status == 0;
}

bool pnet_present(void)
{
	return nic.base != 0;
}

/* tx buffers the NIC is done with. */
static void tx_reclaim(void)
{
	while (nic.last_used[1] != used_idx(&tx_q.used_idx)) {
		nic.last_used[1]++;
		tx_free++;
	}
}

bool pnet_send(const struct vq_chain *f, u32 off, u32 len)
{
	if (!nic.base)
		return true; /* no uplink: the frame is gone, as on an unplugged port */
	tx_reclaim();
	if (!tx_free)
		return false;
	u16 i = tx_q.avail_idx % NET_NUM;
	memset(tx_buf[i], 0, NET_HDR);
	vq_read(tx_buf[i] + NET_HDR, f, off, len);
	tx_q.d[i].len = NET_HDR + len;
	tx_q.avail[i] = i;
	tx_free--;
	publish(&tx_q.avail_idx);
	notify(&nic, 1);
	return true;
}

static void nic_irq(void)
{
	bool repost = false;
	while (nic.last_used[0] != used_idx(&rx_q.used_idx)) {
		u32 k = nic.last_used[0]++ % NET_NUM, id = rx_q.used[k].id, len = rx_q.used[k].len;
		if (id >= NET_NUM)
			continue;
		VQ_CHAIN(c, 1);
		vq_hv_chain(&c, rx_buf[id], len < NET_BUF ? len : NET_BUF);
		net_uplink_receive(&c);
		rx_post(id);
		repost = true;
	}
	if (repost)
		notify(&nic, 0);
	u32 before = tx_free;
	tx_reclaim();
	if (tx_free != before)
		net_uplink_ready();
}

bool provider_irq(u32 intid)
{
	struct pdev *p = disk.base && intid == disk.intid ? &disk
			 : nic.base && intid == nic.intid ? &nic
							  : NULL;
	if (!p)
		return false;
	spin_lock(&virtio_lock);
	*reg(p, VMMIO_INT_ACK) = *reg(p, VMMIO_INT_STATUS); /* first: what comes after raises it again */
	if (p == &disk)
		pblk_poll();
	else
		nic_irq();
	spin_unlock(&virtio_lock);
	return true;
}
