/* fuzz_virtio.c: the virtio-mmio transport (hv/virtio/virtio_mmio.c), the virtqueue walker
 * (virtq.c) and the vsock router (vsock.c) between two VMs, from the guest's side: register
 * accesses of every width and offset, and the contents of its rings and buffers, which a
 * hostile driver writes as it likes. Short-cut operations (bring the device up, place a
 * descriptor, offer it, send a vsock packet) let inputs get deep quickly, as a driver would
 * (tests/unit/test_virtio.c plays the well-behaved one). */
#include "fuzz.h"
#include "world.h"
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

static bool reg(u32 vm, u64 off, u32 size, bool write, u64 *val)
{
	return virtio_mmio_access(&vms[vm], 0, off, size, write, val);
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

/* The status handshake, features, and all three queues at RING(q) with the size asked for. */
static void driver_up(struct fuzz_in *in, u32 vm)
{
	u8 how = fuzz_u8(in);
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
	case 5: reg_write(vm, 0x050, op & 0x80 ? fuzz_u32(in) : q); break;
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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return world_build(VMS, 1) ? 0 : -1;
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
	for (u32 n = 0; n < MAX_OPS && in.n; n++)
		step(&in);
	for (u32 vm = 0; vm < VMS; vm++) {
		FUZZ_ASSERT(hv_area_untouched(vm));
		FUZZ_ASSERT(vgic_audit(&vms[vm].vgic));
	}
	/* Both VMs reset: every stream closed, the router quiet (what vm_stop relies on). */
	for (u32 vm = 0; vm < VMS; vm++)
		virtio_vm_reset(&vms[vm]);
	return 0;
}
