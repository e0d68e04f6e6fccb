/* blkattack: a hostile virtio-blk driver. It sends its device (slot 1, docs/storage-net.md) every
 * request a driver should not (past the end of its partition, sector arithmetic that wraps,
 * buffers outside its RAM, in MMIO or in the hypervisor's last 64 KiB, broken framing) and
 * prints what each got back: the status byte, or needs-reset. Its writes carry markers that
 * tests/system/test_blkattack.py looks for on the host: "blkattack-own-0\n" must land in
 * sector 0 of its own partition, "blkattack-escape" and "blkattack-nostat" nowhere at all. */
#include "blk.h"

#define DEFAULT_SLOT 1u          /* PVB_SLOT_DISK: the VM's first disk */
#define DEFAULT_GAP_MS 1100u     /* the log takes one line per second per VM: space the cases */
#define REQUEST_US 1000000u      /* how long a request may take before it is "timeout" */
#define STORM 100u
#define PV_RESERVED_SIZE 0x10000ul /* the last 64 KiB of our RAM are the hypervisor's */
#define HIGH_ADDR 0xffff0000ul
#define STATUS_UNSET 0xffu       /* what the status byte holds until the device writes it */
#define TAG_SIZE 16u

static const char TAG_OWN[] = "blkattack-own-0\n";    /* sector 0 of our partition */
static const char TAG_ESCAPE[] = "blkattack-escape";  /* requests that must not be done */
static const char TAG_NOSTAT[] = "blkattack-nostat";  /* a write without a status byte */
_Static_assert(sizeof(TAG_OWN) == TAG_SIZE + 1 && sizeof(TAG_ESCAPE) == TAG_SIZE + 1 &&
	       sizeof(TAG_NOSTAT) == TAG_SIZE + 1, "tags are 16 bytes");

static volatile struct blk_req_hdr hdr;
static volatile uint8_t status;
static volatile uint8_t data[2 * SECTOR_SIZE] __attribute__((aligned(SECTOR_SIZE)));
static volatile uint8_t back[SECTOR_SIZE] __attribute__((aligned(SECTOR_SIZE)));
static uint64_t capacity;
static bool broken; /* the last case left the device needing a reset (or a request in flight) */

static uint64_t reserved_start(void)
{
	return (uint64_t)(uintptr_t)__ram_end - PV_RESERVED_SIZE;
}

/* Each sector: the tag, then bytes the host test recomputes (i * 7 + 0x5a). */
static void fill(volatile uint8_t *p, uint32_t size, const char *tag)
{
	for (uint32_t i = 0; i < size; i++) {
		uint32_t j = i % SECTOR_SIZE;
		p[i] = j < TAG_SIZE ? (uint8_t)tag[j] : (uint8_t)(j * 7 + 0x5a);
	}
}

static const char *outcome(enum blk_wait w)
{
	if (w != BLK_USED) {
		broken = true;
		return w == BLK_NEEDS_RESET ? "needs-reset" : "timeout";
	}
	switch (status) {
	case VIRTIO_BLK_S_OK:
		return "OK";
	case VIRTIO_BLK_S_IOERR:
		return "IOERR";
	case VIRTIO_BLK_S_UNSUPP:
		return "UNSUPP";
	case STATUS_UNSET:
		return "no-status";
	default:
		printf("blkattack: status byte 0x%x\n", status);
		return "bad-status";
	}
}

static void set_hdr(uint32_t type, uint64_t sector)
{
	hdr.type = type;
	hdr.reserved = 0;
	hdr.sector = sector;
	status = STATUS_UNSET;
}

/* A well-formed request: header, data (if any) in the direction the type needs, status. */
static const char *request(uint32_t type, uint64_t sector, uint64_t addr, uint32_t size)
{
	struct seg s[3] = {
		{ blk_addr(&hdr), sizeof(hdr), 0 },
		{ addr, size, type == VIRTIO_BLK_T_OUT ? 0 : VIRTQ_DESC_F_WRITE },
		{ blk_addr(&status), 1, VIRTQ_DESC_F_WRITE },
	};
	set_hdr(type, sector);
	if (!size) {
		s[1] = s[2];
		return outcome(blk_submit(s, 2, REQUEST_US));
	}
	return outcome(blk_submit(s, 3, REQUEST_US));
}

static const char *read_to(uint64_t sector, uint64_t addr, uint32_t size)
{
	return request(VIRTIO_BLK_T_IN, sector, addr, size);
}

static const char *read_at(uint64_t sector, uint32_t size)
{
	return read_to(sector, blk_addr(data), size);
}

/* A write that must be refused: its data carries TAG_ESCAPE, which the host must never find. */
static const char *escape_write(uint64_t sector, uint32_t size)
{
	fill(data, sizeof(data), TAG_ESCAPE);
	return request(VIRTIO_BLK_T_OUT, sector, blk_addr(data), size);
}

/* ---- what a driver may do ---- */

static const char *read_last(void)
{
	return read_at(capacity - 1, SECTOR_SIZE);
}

static const char *write_sector_0(void)
{
	fill(data, SECTOR_SIZE, TAG_OWN);
	return request(VIRTIO_BLK_T_OUT, 0, blk_addr(data), SECTOR_SIZE);
}

static const char *flush(void)
{
	return request(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
}

static const char *get_id(void)
{
	for (unsigned i = 0; i < VIRTIO_BLK_ID_BYTES; i++)
		data[i] = 0;
	const char *r = request(VIRTIO_BLK_T_GET_ID, 0, blk_addr(data), VIRTIO_BLK_ID_BYTES);
	if (str_eq(r, "OK")) {
		char id[VIRTIO_BLK_ID_BYTES + 1]; /* NUL-padded, not NUL-terminated if 20 long */
		for (unsigned i = 0; i < VIRTIO_BLK_ID_BYTES; i++)
			id[i] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : data[i] ? '?' : 0;
		id[VIRTIO_BLK_ID_BYTES] = 0;
		printf("blkattack: id \"%s\"\n", id);
	}
	return r;
}

/* Splitting the header in two is legal (2.6.4: the device must not assume a framing). */
static const char *header_split(void)
{
	struct seg s[4] = {
		{ blk_addr(&hdr), 8, 0 },
		{ blk_addr(&hdr) + 8, 8, 0 },
		{ blk_addr(data), SECTOR_SIZE, VIRTQ_DESC_F_WRITE },
		{ blk_addr(&status), 1, VIRTQ_DESC_F_WRITE },
	};
	set_hdr(VIRTIO_BLK_T_IN, 0);
	return outcome(blk_submit(s, 4, REQUEST_US));
}

/* After every refusal and reset: sector 0 still holds what write-sector-0 put there. */
static const char *read_back(void)
{
	for (unsigned i = 0; i < SECTOR_SIZE; i++)
		back[i] = 0;
	const char *r = read_to(0, blk_addr(back), SECTOR_SIZE);
	if (!str_eq(r, "OK"))
		return r;
	fill(data, SECTOR_SIZE, TAG_OWN);
	for (unsigned i = 0; i < SECTOR_SIZE; i++)
		if (back[i] != data[i])
			return "different";
	return "same";
}

/* ---- outside the partition ---- */

static const char *unknown_type(void)
{
	return request(0xffu, 0, blk_addr(data), SECTOR_SIZE);
}

static const char *read_at_end(void)
{
	return read_at(capacity, SECTOR_SIZE);
}

static const char *read_straddles_end(void)
{
	return read_at(capacity - 1, 2 * SECTOR_SIZE);
}

static const char *write_at_end(void)
{
	return escape_write(capacity, SECTOR_SIZE);
}

static const char *write_straddles_end(void)
{
	return escape_write(capacity - 1, 2 * SECTOR_SIZE);
}

/* sector + 2 wraps past 2^64 to 1: a check of `sector + count <= capacity` in 64 bits passes. */
static const char *read_sector_wraps(void)
{
	return read_at(~0ull, 2 * SECTOR_SIZE);
}

static const char *write_sector_wraps(void)
{
	return escape_write(~0ull, 2 * SECTOR_SIZE);
}

/* sector * 512 is exactly 2^64: a byte offset computed in 64 bits is 0. */
static const char *write_offset_wraps(void)
{
	return escape_write(1ull << 55, SECTOR_SIZE);
}

/* ---- buffers that are not ours, or not whole ---- */

static const char *read_huge_length(void)
{
	return read_at(0, 0xffffffffu);
}

static const char *write_huge_length(void)
{
	return escape_write(0, 0xfffffe00u); /* whole sectors: only the size is wrong */
}

static const char *buffer_at_zero(void)
{
	return read_to(0, 0, SECTOR_SIZE);
}

static const char *buffer_high(void)
{
	return read_to(0, HIGH_ADDR, SECTOR_SIZE);
}

/* The device would read the PL011's registers into our sector 1. */
static const char *write_from_uart(void)
{
	return request(VIRTIO_BLK_T_OUT, 1, UART_BASE, SECTOR_SIZE);
}

/* The device would write sector 0 over the GIC distributor. */
static const char *read_into_gic(void)
{
	return read_to(0, GICD_BASE, SECTOR_SIZE);
}

static const char *buffer_in_reserved(void)
{
	return read_to(0, reserved_start(), SECTOR_SIZE);
}

static const char *buffer_straddles_reserved(void)
{
	return read_to(0, reserved_start() - SECTOR_SIZE / 2, SECTOR_SIZE);
}

/* ---- broken framing ---- */

static const char *header_short(void)
{
	struct seg s[3] = {
		{ blk_addr(&hdr), 8, 0 },
		{ blk_addr(data), SECTOR_SIZE, VIRTQ_DESC_F_WRITE },
		{ blk_addr(&status), 1, VIRTQ_DESC_F_WRITE },
	};
	set_hdr(VIRTIO_BLK_T_IN, 0);
	return outcome(blk_submit(s, 3, REQUEST_US));
}

/* Nothing for the device to read the request from. */
static const char *header_writable(void)
{
	struct seg s[3] = {
		{ blk_addr(&hdr), sizeof(hdr), VIRTQ_DESC_F_WRITE },
		{ blk_addr(data), SECTOR_SIZE, VIRTQ_DESC_F_WRITE },
		{ blk_addr(&status), 1, VIRTQ_DESC_F_WRITE },
	};
	set_hdr(VIRTIO_BLK_T_IN, 0);
	return outcome(blk_submit(s, 3, REQUEST_US));
}

/* A write whose status byte is device-readable: no byte for the device to answer in, so it
 * must not do the write (TAG_NOSTAT, sector 2) and cannot say so except by needing a reset. */
static const char *status_readable(void)
{
	struct seg s[3] = {
		{ blk_addr(&hdr), sizeof(hdr), 0 },
		{ blk_addr(data), SECTOR_SIZE, 0 },
		{ blk_addr(&status), 1, 0 },
	};
	fill(data, SECTOR_SIZE, TAG_NOSTAT);
	set_hdr(VIRTIO_BLK_T_OUT, 2);
	return outcome(blk_submit(s, 3, REQUEST_US));
}

/* A read with a header and nothing else. */
static const char *no_status(void)
{
	struct seg s[1] = { { blk_addr(&hdr), sizeof(hdr), 0 } };
	set_hdr(VIRTIO_BLK_T_IN, 0);
	return outcome(blk_submit(s, 1, REQUEST_US));
}

/* ---- indirect tables (2.7.5.3): guest memory the device reads too ---- */

/* The usual three buffers of a read of sector 0 into data. */
static const char *indirect(unsigned loop, uint64_t table, uint32_t len, uint16_t flags)
{
	if (!(blk_features() & VIRTIO_F_INDIRECT_DESC))
		return "not-offered";
	struct seg s[3] = {
		{ blk_addr(&hdr), sizeof(hdr), 0 },
		{ blk_addr(data), SECTOR_SIZE, VIRTQ_DESC_F_WRITE },
		{ blk_addr(&status), 1, VIRTQ_DESC_F_WRITE },
	};
	set_hdr(VIRTIO_BLK_T_IN, 0);
	return outcome(blk_submit_indirect(s, 3, loop, table, len, flags, REQUEST_US));
}

static const char *indirect_read(void)
{
	return indirect(~0u, 0, 0, VIRTQ_DESC_F_INDIRECT);
}

static const char *indirect_with_next(void)
{
	return indirect(~0u, 0, 0, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT);
}

static const char *indirect_bad_size(void)
{
	return indirect(~0u, 0, 40, VIRTQ_DESC_F_INDIRECT);
}

/* 257 descriptors: more than any request has (and than the table we wrote). */
static const char *indirect_too_big(void)
{
	return indirect(~0u, 0, 16u * 257, VIRTQ_DESC_F_INDIRECT);
}

/* The hypervisor's 64 KiB as the table: it must not be read. */
static const char *indirect_in_reserved(void)
{
	return indirect(~0u, reserved_start(), 48, VIRTQ_DESC_F_INDIRECT);
}

/* The GIC distributor as the table. */
static const char *indirect_in_gic(void)
{
	return indirect(~0u, GICD_BASE, 48, VIRTQ_DESC_F_INDIRECT);
}

/* The last entry points back to the first. */
static const char *indirect_loop(void)
{
	return indirect(2, 0, 0, VIRTQ_DESC_F_INDIRECT);
}

/* A table whose first entry names another table. */
static const char *indirect_nested(void)
{
	if (!(blk_features() & VIRTIO_F_INDIRECT_DESC))
		return "not-offered";
	struct seg s[1] = { { blk_addr(&hdr), 48, VIRTQ_DESC_F_INDIRECT } };
	set_hdr(VIRTIO_BLK_T_IN, 0);
	return outcome(blk_submit_indirect(s, 1, ~0u, 0, 0, VIRTQ_DESC_F_INDIRECT, REQUEST_US));
}

/* Refusals cost the device little and the log at most a line a second. */
static const char *storm_past_end(void)
{
	uint64_t start = timer_now();
	const char *r = "OK";
	for (unsigned i = 0; i < STORM && str_eq(r = read_at_end(), "IOERR"); i++)
		;
	printf("blkattack: storm: %u reads past the end in %lu us\n", STORM,
	       (timer_now() - start) * 1000000u / timer_freq());
	return r;
}

/* ---- the run ---- */

struct attack {
	const char *name;
	const char *(*run)(void);
};

static const struct attack attacks[] = {
	{ "read-last", read_last },
	{ "write-sector-0", write_sector_0 },
	{ "flush", flush },
	{ "get-id", get_id },
	{ "unknown-type", unknown_type },
	{ "read-at-end", read_at_end },
	{ "read-straddles-end", read_straddles_end },
	{ "write-at-end", write_at_end },
	{ "write-straddles-end", write_straddles_end },
	{ "read-sector-wraps", read_sector_wraps },
	{ "write-sector-wraps", write_sector_wraps },
	{ "write-offset-wraps", write_offset_wraps },
	{ "read-huge-length", read_huge_length },
	{ "write-huge-length", write_huge_length },
	{ "buffer-at-zero", buffer_at_zero },
	{ "buffer-high", buffer_high },
	{ "write-from-uart", write_from_uart },
	{ "read-into-gic", read_into_gic },
	{ "buffer-in-reserved", buffer_in_reserved },
	{ "buffer-straddles-reserved", buffer_straddles_reserved },
	{ "header-short", header_short },
	{ "header-split", header_split },
	{ "header-writable", header_writable },
	{ "status-readable", status_readable },
	{ "indirect-read", indirect_read },
	{ "indirect-with-next", indirect_with_next },
	{ "indirect-bad-size", indirect_bad_size },
	{ "indirect-too-big", indirect_too_big },
	{ "indirect-in-reserved", indirect_in_reserved },
	{ "indirect-in-gic", indirect_in_gic },
	{ "indirect-loop", indirect_loop },
	{ "indirect-nested", indirect_nested },
	{ "no-status", no_status },
	{ "storm-past-end", storm_past_end },
	{ "read-back", read_back },
};

static void pause_ms(uint64_t ms)
{
	uint64_t end = timer_now() + timer_us(ms * 1000u);
	while (timer_now() < end)
		;
}

/* Bootargs: blkattack.slot=N (default 1; a slot with no block device: the first one that has
 * one, which natively is QEMU's slot 31), blkattack.gap=MS between cases (default 1100). */
int main(uint64_t boot_arg)
{
	const char *args = bootargs(boot_arg);
	uint64_t slot = DEFAULT_SLOT, gap = DEFAULT_GAP_MS;

	bootarg_u64(args, "blkattack.slot", &slot);
	bootarg_u64(args, "blkattack.gap", &gap);
	int found = blk_find((unsigned)slot);
	if (found < 0 || !blk_setup()) {
		printf("blkattack: no block device\n");
		return 0;
	}
	capacity = blk_capacity();
	uint32_t features = blk_features();
	printf("blkattack: %lu cases against the block device in slot %d (0x%lx), %lu sectors, "
	       "features 0x%x%s, RAM 0x%lx-0x%lx\n", sizeof(attacks) / sizeof(attacks[0]), found,
	       blk_base(), capacity, features, features & VIRTIO_BLK_F_RO ? " (read-only)" : "",
	       (uint64_t)(uintptr_t)__ram_base, (uint64_t)(uintptr_t)__ram_end);
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		if (i)
			pause_ms(gap);
		if (broken && !blk_setup()) {
			printf("blkattack: %s: setup-failed\n", attacks[i].name);
			continue;
		}
		broken = false;
		printf("blkattack: %s: %s\n", attacks[i].name, attacks[i].run());
	}
	printf("blkattack: done\n");
	printf("blkattack: capacity %lu\n", blk_capacity());
	blk_write(VIRTIO_MMIO_STATUS, 0);
	psci_system_off();
	return 0;
}
