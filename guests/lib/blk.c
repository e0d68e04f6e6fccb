/* blk.c: the bare-metal virtio-blk driver (blk.h): registers, bring-up, one request chain at a time. */
#include "blk.h"

/* Section 2.7: the split ring, with the alignments the spec asks (16, 2, 4). */
struct ring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
struct ring {
	_Alignas(16) struct ring_desc desc[BLK_QUEUE_SIZE];
	uint16_t avail_flags, avail_idx, avail_ring[BLK_QUEUE_SIZE], used_event;
	_Alignas(4) uint16_t used_flags;
	uint16_t used_idx;
	struct {
		uint32_t id, len;
	} used_ring[BLK_QUEUE_SIZE];
	uint16_t avail_event;
};

static volatile struct ring ring;
static uint64_t base;
static uint16_t num;          /* QueueNum */
static uint16_t avail_next;   /* what we published */
static uint16_t used_seen;    /* what we consumed */

uint32_t blk_read(uint32_t off)
{
	return mmio_ld32(base + off);
}

void blk_write(uint32_t off, uint32_t value)
{
	mmio_st32(base + off, value);
}

uint32_t blk_status(void)
{
	return blk_read(VIRTIO_MMIO_STATUS);
}

uint64_t blk_base(void)
{
	return base;
}

uint64_t blk_addr(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p; /* MMU off: VA = IPA */
}

/* An empty slot is a data abort under pocketvisor and a device-less transport natively (QEMU
 * fills its transports from the top: one -device lands in slot 31). */
static bool is_blk(unsigned slot)
{
	struct probe p;
	uint64_t b = VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_STRIDE;

	if (probe_ld32(b + VIRTIO_MMIO_MAGIC_VALUE, &p) || p.value != VIRTIO_MMIO_MAGIC)
		return false;
	base = b;
	return blk_read(VIRTIO_MMIO_VERSION) == 2 && blk_read(VIRTIO_MMIO_DEVICE_ID) == VIRTIO_ID_BLOCK;
}

int blk_find(unsigned slot)
{
	if (slot < VIRTIO_MMIO_SLOTS && is_blk(slot))
		return (int)slot;
	for (unsigned s = 0; s < VIRTIO_MMIO_SLOTS; s++)
		if (is_blk(s))
			return (int)s;
	base = 0;
	return -1;
}

uint32_t blk_features(void)
{
	blk_write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return blk_read(VIRTIO_MMIO_DEVICE_FEATURES);
}

/* Section 4.2.2.2: config space is read one 32-bit half at a time; a le64 that changes between
 * the halves is not our concern (the capacity of a partition does not). */
uint64_t blk_capacity(void)
{
	return blk_read(VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_CAPACITY) |
	       (uint64_t)blk_read(VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_CAPACITY + 4) << 32;
}

static void wr64(uint32_t low, uint64_t v)
{
	blk_write(low, (uint32_t)v);
	blk_write(low + 4, (uint32_t)(v >> 32));
}

/* Section 4.2.3.1: writing 0 resets; it is done when Status reads back 0. */
static void reset(void)
{
	blk_write(VIRTIO_MMIO_STATUS, 0);
	while (blk_status() != 0)
		;
	volatile uint8_t *b = (volatile uint8_t *)&ring;
	for (size_t i = 0; i < sizeof(ring); i++)
		b[i] = 0;
	avail_next = used_seen = 0;
	barrier();
}

bool blk_setup(void)
{
	uint32_t ack = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	reset();
	blk_write(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	blk_write(VIRTIO_MMIO_STATUS, ack);
	blk_write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	if (!(blk_read(VIRTIO_MMIO_DEVICE_FEATURES) & VIRTIO_F_VERSION_1_HI))
		return false;
	uint32_t lo = blk_features() & (VIRTIO_BLK_F_RO | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH |
					VIRTIO_F_INDIRECT_DESC);
	blk_write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	blk_write(VIRTIO_MMIO_DRIVER_FEATURES, lo);
	blk_write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	blk_write(VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_F_VERSION_1_HI);
	blk_write(VIRTIO_MMIO_STATUS, ack | VIRTIO_STATUS_FEATURES_OK);
	if (!(blk_status() & VIRTIO_STATUS_FEATURES_OK))
		return false;
	blk_write(VIRTIO_MMIO_QUEUE_SEL, 0);
	uint32_t max = blk_read(VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		return false;
	for (num = BLK_QUEUE_SIZE; num > max; num /= 2) /* a power of two (2.7) */
		;
	blk_write(VIRTIO_MMIO_QUEUE_NUM, num);
	wr64(VIRTIO_MMIO_QUEUE_DESC_LOW, blk_addr(ring.desc));
	wr64(VIRTIO_MMIO_QUEUE_DRIVER_LOW, blk_addr(&ring.avail_flags));
	wr64(VIRTIO_MMIO_QUEUE_DEVICE_LOW, blk_addr(&ring.used_flags));
	barrier(); /* the zeroed rings before QueueReady */
	blk_write(VIRTIO_MMIO_QUEUE_READY, 1);
	blk_write(VIRTIO_MMIO_STATUS, ack | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	return blk_status() == (ack | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

/* Polls the used index (memory) and, every millisecond, Status (a trap to the hypervisor). */
static enum blk_wait wait_used(uint64_t us)
{
	uint64_t now = timer_now(), deadline = now + timer_us(us), next_status = now;

	for (;;) {
		if (ring.used_idx != used_seen) {
			barrier(); /* 2.7.14: the index, then the element and the buffers it covers */
			used_seen++;
			blk_write(VIRTIO_MMIO_INTERRUPT_ACK, blk_read(VIRTIO_MMIO_INTERRUPT_STATUS));
			return blk_status() & VIRTIO_STATUS_NEEDS_RESET ? BLK_NEEDS_RESET : BLK_USED;
		}
		now = timer_now();
		if (now >= next_status) {
			if (blk_status() & VIRTIO_STATUS_NEEDS_RESET)
				return BLK_NEEDS_RESET;
			next_status = now + timer_us(1000);
		}
		if (now >= deadline)
			return BLK_TIMEOUT;
		/* A hint, a NOP on hardware; QEMU's single-threaded TCG (as under -icount) takes it
		 * to run the other cores, one of which takes the disk's interrupt, instead of
		 * spinning here to the end of its time slice. */
		__asm__ volatile("yield" ::: "memory");
	}
}

static void chain(volatile struct ring_desc *d, const struct seg *segs, unsigned count,
		  unsigned loop)
{
	for (unsigned i = 0; i < count; i++) {
		bool more = i + 1 < count || i == loop;
		d[i].addr = segs[i].addr;
		d[i].len = segs[i].len;
		d[i].flags = (uint16_t)(segs[i].flags | (more ? VIRTQ_DESC_F_NEXT : 0));
		d[i].next = (uint16_t)(i == loop ? 0 : more ? i + 1 : 0);
	}
}

static enum blk_wait publish(uint64_t us)
{
	ring.avail_ring[avail_next % num] = 0;
	barrier();
	ring.avail_idx = ++avail_next;
	barrier();
	blk_write(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	return wait_used(us);
}

/* Section 2.7.13: descriptors and the ring entry before the index, the index before the
 * notification. Every request uses descriptors from 0: one is in flight at a time. */
enum blk_wait blk_submit(const struct seg *segs, unsigned count, uint64_t us)
{
	chain(ring.desc, segs, count < num ? count : num, ~0u);
	return publish(us);
}

static volatile _Alignas(16) struct ring_desc table_own[BLK_TABLE_SIZE];

enum blk_wait blk_submit_indirect(const struct seg *segs, unsigned count, unsigned loop,
				  uint64_t table, uint32_t len, uint16_t flags, uint64_t us)
{
	chain(table_own, segs, count < BLK_TABLE_SIZE ? count : BLK_TABLE_SIZE, loop);
	ring.desc[0].addr = table ? table : blk_addr(table_own);
	ring.desc[0].len = len ? len : 16u * count;
	ring.desc[0].flags = flags;
	ring.desc[0].next = 1;
	return publish(us);
}

/* ---- well-formed requests (section 5.2.6): header, data, status ---- */

#define RW_US 1000000u

static volatile struct blk_req_hdr rw_hdr;
static volatile uint8_t rw_status;

static bool rw(uint32_t type, uint64_t sector, void *buf, uint32_t size)
{
	struct seg s[3] = {
		{ blk_addr(&rw_hdr), sizeof(rw_hdr), 0 },
		{ blk_addr(buf), size, (uint16_t)(type == VIRTIO_BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0) },
		{ blk_addr(&rw_status), 1, VIRTQ_DESC_F_WRITE },
	};

	if (!base)
		return false;
	rw_hdr.type = type;
	rw_hdr.reserved = 0;
	rw_hdr.sector = sector;
	rw_status = 0xff;
	if (size)
		return blk_submit(s, 3, RW_US) == BLK_USED && rw_status == VIRTIO_BLK_S_OK;
	s[1] = s[2];
	return blk_submit(s, 2, RW_US) == BLK_USED && rw_status == VIRTIO_BLK_S_OK;
}

bool blk_rw(bool write, uint64_t sector, void *buf, uint32_t size)
{
	if (!size || size % SECTOR_SIZE)
		return false;
	return rw(write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector, buf, size);
}

bool blk_flush(void)
{
	return rw(VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
}
