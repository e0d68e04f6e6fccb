/* fuzz_virtio.c: the virtio-mmio transport (hv/virtio/virtio_mmio.c), the virtqueue walker
 * (virtq.c), the vsock router (vsock.c), the disks (blk.c) and the switch (net.c) between two
 * VMs, from the guest's side: register
 * accesses of every width and offset, and the contents of its rings and buffers, which a
 * hostile driver writes as it likes. Short-cut operations (bring the device up, place a
 * descriptor, offer it, send a vsock packet) let inputs get deep quickly, as a driver would
 * (tests/unit/test_virtio.c plays the well-behaved one). */
#include "fuzz.h"
#include "world.h"
#include <pv/blk.h>
#include <pv/gpt.h>
#include <pv/manage.h>
#include <pv/net.h>
#include <pv/provider.h>
#include <pv/virtio.h>
#include <pv/vsock.h>
#include <board.h>

#define VMS 2u
#define MAX_OPS 64u
#define QNUM_MAX 128u
/* Each VM's driver keeps its rings at RING(q) and its buffers at BUF(i), and the input may
 * write anywhere in the first WINDOW bytes of its RAM. */
#define RING(q) (WORLD_RAM_BASE + 0x10000u + (q) * 0x2000u) /* avail at +0x800, used +0x1000 */
#define BUF(i) (WORLD_RAM_BASE + 0x20000u + (i) * 0x1000u)
#define WINDOW 0x40000u

struct desc {
	u64 addr;
	u32 len;
	u16 flags, next;
};

struct vsock_hdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static u16 avail_idx[VMS][VIRTIO_QUEUES], qnum[VMS][VIRTIO_QUEUES];
static u32 cur_slot[VMS]; /* the device driver_up chose: vsock, disk, or net */

/* The board's disk (fake.disk): a GPT, VM 0's partition (read-write) and VM 1's (read-only),
 * and sectors around them that no request may ever change. */
#define DISK_SECTORS 64u
#define PART0 34u
#define PART1 44u
#define PART_SECTORS 8u
static u8 disk[DISK_SECTORS * 512] __attribute__((aligned(8))), disk_at_start[DISK_SECTORS * 512];

static bool reg(u32 vm, u64 off, u32 size, bool write, u64 *val)
{
	return virtio_mmio_access(&vms[vm], cur_slot[vm], off, size, write, val);
}

static void reg_write(u32 vm, u64 off, u32 v)
{
	u64 val = v;
	reg(vm, off, 4, true, &val);
}

/* A guest-physical address for a buffer or ring: mostly where the driver keeps them, but
 * also just below the hypervisor's 64 KiB at the top of RAM, or anywhere at all. */
static u64 guest_addr(struct fuzz_in *in)
{
	u8 mode = fuzz_u8(in);
	switch (mode & 3) {
	case 0: return WORLD_RAM_BASE + fuzz_u32(in) % WINDOW;
	case 1: return BUF(mode >> 4);
	case 2: return WORLD_RAM_BASE + WORLD_RAM_SIZE - PVB_PVTIME_SIZE - (fuzz_u16(in) & 0x1fff);
	default: return fuzz_u64(in);
	}
}

/* The status handshake, features, and all three queues at RING(q) with the size asked for, on
 * the device the input picks. */
static void driver_up(struct fuzz_in *in, u32 vm)
{
	static const u32 slots[4] = { PVB_SLOT_VSOCK, PVB_SLOT_DISK, PVB_SLOT_NET, PVB_SLOT_VSOCK };
	u8 how = fuzz_u8(in);
	cur_slot[vm] = slots[(how >> 4) & 3];
	reg_write(vm, 0x070, 0);
	reg_write(vm, 0x070, 1 | 2);
	reg_write(vm, 0x024, 1);
	reg_write(vm, 0x020, 1); /* VERSION_1 */
	reg_write(vm, 0x024, 0);
	reg_write(vm, 0x020, 0);
	reg_write(vm, 0x070, 1 | 2 | 8);
	for (u32 q = 0; q < VIRTIO_QUEUES; q++) {
		qnum[vm][q] = (u16)(how & 0x80 ? fuzz_u16(in) : 1u << (how & 7));
		avail_idx[vm][q] = 0;
		reg_write(vm, 0x030, q);
		reg_write(vm, 0x038, qnum[vm][q]);
		reg_write(vm, 0x080, (u32)RING(q));
		reg_write(vm, 0x084, 0);
		reg_write(vm, 0x090, (u32)RING(q) + 0x800);
		reg_write(vm, 0x0a0, (u32)RING(q) + 0x1000);
		reg_write(vm, 0x044, 1);
	}
	if (!(how & 0x40))
		reg_write(vm, 0x070, 1 | 2 | 8 | 4);
}

static void put_desc(u32 vm, u32 q, u32 i, const struct desc *d)
{
	memcpy(world_gpa(vm, RING(q) + 16 * (i % QNUM_MAX)), d, sizeof(*d));
}

static void offer(u32 vm, u32 q, u16 head)
{
	u8 *avail = world_gpa(vm, RING(q) + 0x800);
	u16 n = qnum[vm][q] && qnum[vm][q] <= QNUM_MAX ? qnum[vm][q] : QNUM_MAX, idx;
	memcpy(avail + 4 + 2 * (avail_idx[vm][q] % n), &head, 2);
	idx = ++avail_idx[vm][q];
	memcpy(avail + 2, &idx, 2);
}

/* A vsock packet in tx buffer i: a header with fields from the input (CIDs mostly the real
 * ones), an optional payload, one descriptor, offered and notified. */
static void send(struct fuzz_in *in, u32 vm)
{
	static const u64 cids[4] = { 3, 4, 2, 0 };
	u8 how = fuzz_u8(in);
	u32 i = 8 + (how & 7);
	struct vsock_hdr h = {
		.src_cid = how & 0x08 ? fuzz_u64(in) : 3 + vm,
		.dst_cid = cids[(how >> 4) & 3] ? cids[(how >> 4) & 3] : fuzz_u64(in),
		.src_port = fuzz_u8(in), .dst_port = fuzz_u8(in), .len = fuzz_u16(in),
		.type = how & 0x40 ? fuzz_u16(in) : 1, .op = fuzz_u8(in) % 8,
		.flags = fuzz_u8(in) & 3, .buf_alloc = fuzz_u32(in), .fwd_cnt = fuzz_u32(in),
	};
	u32 dlen = how & 0x80 ? fuzz_u32(in) : (u32)sizeof(h) + (h.len & 0x7ff);
	if (h.dst_port >= 0xf0)
		h.dst_port = PVM_PORT; /* the management service's (tests/fuzz/world.h: fuzz0 manages) */
	memcpy(world_gpa(vm, BUF(i)), &h, sizeof(h));
	put_desc(vm, VSOCK_TX, i, &(struct desc){ BUF(i), dlen, 0, 0 });
	offer(vm, VSOCK_TX, (u16)i);
	reg_write(vm, 0x050, VSOCK_TX);
}

static void step(struct fuzz_in *in)
{
	static const u32 sizes[8] = { 4, 4, 4, 1, 2, 8, 0, 3 };
	u8 op = fuzz_u8(in);
	u32 vm = (op >> 3) & 1, q = (op >> 4) % VIRTIO_QUEUES;
	switch (op & 7) {
	case 0: { /* any register of any slot */
		u8 how = fuzz_u8(in);
		u64 off = how & 0x80 ? fuzz_u64(in) : fuzz_u16(in) & 0x1ff, val = fuzz_u32(in);
		u32 slot = how & 0x40 ? fuzz_u8(in) % PLAT_GUEST_VIRTIO_SLOTS : 0;
		bool write = how & 0x20, ok;
		ok = virtio_mmio_access(&vms[vm], slot, off, sizes[how & 7], write, &val);
		FUZZ_ASSERT(!ok || write || sizes[how & 7] >= 8 || val < 1ull << (8 * sizes[how & 7]));
		break;
	}
	case 1: { /* the driver scribbles on its own RAM */
		u32 at = fuzz_u32(in) % WINDOW, n = fuzz_u8(in) % 64;
		for (u32 i = 0; i < n && at + i < WINDOW; i++)
			*world_gpa(vm, WORLD_RAM_BASE + at + i) = fuzz_u8(in);
		break;
	}
	case 2: driver_up(in, vm); break;
	case 3: {
		struct desc d = { guest_addr(in), fuzz_u32(in), fuzz_u16(in), fuzz_u16(in) };
		if (!(op & 0x80)) /* mostly sane: a buffer of up to 4 KiB, flags NEXT and WRITE */
			d.len &= 0xfff, d.flags &= 3, d.next %= QNUM_MAX;
		put_desc(vm, q, fuzz_u8(in), &d);
		break;
	}
	case 4: offer(vm, q, op & 0x80 ? fuzz_u16(in) : fuzz_u8(in) % QNUM_MAX); break;
	case 5:
		reg_write(vm, 0x050, op & 0x80 ? fuzz_u32(in) : q);
		if (op & 0x40)
			fake_disk_finish(); /* the board's disk returns what it holds */
		break;
	case 6: send(in, vm); break;
	default: { /* an rx buffer posted, as the driver does after reading one */
		u32 i = fuzz_u8(in) % 8;
		put_desc(vm, VSOCK_RX, i, &(struct desc){ BUF(i), 0x1000, 2, 0 });
		offer(vm, VSOCK_RX, (u16)i);
		if (op & 0x80)
			reg_write(vm, 0x050, VSOCK_RX);
		break;
	}
	}
}

static void gpt_entry(u32 i, const char *name, u64 first)
{
	struct gpt_entry *e = (struct gpt_entry *)(void *)(disk + 2 * 512) + i;
	e->type[0] = 1; /* a type GUID that is not zero */
	e->first = first;
	e->last = first + PART_SECTORS - 1;
	for (u32 c = 0; name[c]; c++)
		e->name[c] = (u8)name[c];
}

/* Both VMs get a disk and a port on the switch (peers, VM 0 uplinked); the disk has a GPT. */
static bool storage_net_init(void)
{
	struct gpt_header *h = (struct gpt_header *)(void *)(disk + 512);
	memcpy(h->sig, GPT_SIGNATURE, 8);
	h->entries = 2;
	h->count = 4;
	h->entry_size = sizeof(struct gpt_entry);
	gpt_entry(0, "p0", PART0);
	gpt_entry(1, "p1", PART1);
	memcpy(disk_at_start, disk, sizeof(disk));
	for (u32 i = 0; i < VMS; i++) {
		struct pvb_vm *v = &world_tb.h.vms[i];
		snprintf(v->disks[0].part, sizeof(v->disks[0].part), "p%u", i);
		v->disks[0].flags = i ? PVB_DISK_RO : 0;
		v->net_flags = (u8)(PVB_NET_PORT | (i ? 0 : PVB_NET_UPLINK));
		v->net_peers = (u32)BIT(1 - i);
		memcpy(v->mac, (u8[6]){ 2, 0, 0, 0, 0, (u8)(i + 1) }, 6);
	}
	fake.disk = disk;
	fake.disk_sectors = DISK_SECTORS;
	fake.nic = true;
	blk_attach();
	for (u32 i = 0; i < VMS; i++) {
		if (!vms[i].blk[0].sectors)
			return false;
		virtio_vm_reset(&vms[i]);
	}
	memcpy(world_vms, vms, sizeof(vms));
	world_fake = fake;
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return world_build(VMS, 1) && storage_net_init() ? 0 : -1;
}

/* No request ever changed a sector outside the partition of a VM that may write it. */
static bool disk_outside_untouched(void)
{
	return !memcmp(disk, disk_at_start, PART0 * 512) &&
	       !memcmp(disk + (PART0 + PART_SECTORS) * 512, disk_at_start + (PART0 + PART_SECTORS) * 512,
		       (DISK_SECTORS - PART0 - PART_SECTORS) * 512);
}

/* The hypervisor's 64 KiB at the top of each VM's RAM: no device write may land there. */
static bool hv_area_untouched(u32 vm)
{
	const u8 *p = world_gpa(vm, WORLD_RAM_BASE + WORLD_RAM_SIZE - PVB_PVTIME_SIZE);
	return !p[0] && !memcmp(p, p + 1, PVB_PVTIME_SIZE - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	world_restore();
	memset(avail_idx, 0, sizeof(avail_idx));
	memset(qnum, 0, sizeof(qnum));
	memset(cur_slot, 0, sizeof(cur_slot));
	for (u32 n = 0; n < MAX_OPS && in.n; n++) {
		step(&in);
		manage_run(); /* as the next scheduling decision would */
	}
	for (u32 vm = 0; vm < VMS; vm++) {
		FUZZ_ASSERT(hv_area_untouched(vm));
		FUZZ_ASSERT(vgic_audit(&vms[vm].vgic));
	}
	/* Both VMs reset: every stream closed, the router quiet, the disk holds nothing of theirs
	 * (what vm_stop relies on). */
	for (u32 vm = 0; vm < VMS; vm++)
		virtio_vm_reset(&vms[vm]);
	for (u32 t = 0; t < PBLK_SLOTS; t++)
		FUZZ_ASSERT(!fake.req[t].held);
	FUZZ_ASSERT(disk_outside_untouched());
	return 0;
}
