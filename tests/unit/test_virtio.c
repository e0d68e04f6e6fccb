/* test_virtio.c: the virtio-mmio transport, the virtqueue walker and the vsock router on the
 * fake architecture, driven as a guest driver would drive them through trapped accesses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include <pv/bundle.h>
#include <pv/virtio.h>
#include <pv/vm.h>
#include <pv/vsock.h>
#include "fake.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE MiB(2)
#define RING_OFF 0x100000u /* queue q: desc at + q * 0x4000, avail + 0x1000, used + 0x2000 */
#define BUF_OFF 0x140000u  /* rx buffer i of queue 0, tx buffer i: 0x1000 bytes each */
#define TXBUF_OFF 0x180000u
#define QNUM 16u

/* ---- VMs from a bundle ---- */

struct test_bundle {
	struct pvb_header h;
	u8 payload[4 * 4096];
};

static struct test_bundle tb;
static u8 *ram_pool;

static void bundle(u32 nvms)
{
	memset(&tb, 0, sizeof(tb));
	tb.h = (struct pvb_header){ .magic = PVB_MAGIC, .version = PVB_VERSION,
				    .header_size = sizeof(tb.h), .vm_count = nvms,
				    .total_size = sizeof(tb) };
	for (u32 i = 0; i < nvms; i++) {
		struct pvb_vm *vm = &tb.h.vms[i];
		snprintf(vm->name, sizeof(vm->name), "vm%u", i);
		vm->ram_base = RAM_BASE;
		vm->ram_size = RAM_SIZE;
		vm->entry = RAM_BASE;
		vm->image = (struct pvb_blob){ offsetof(struct test_bundle, payload), 4096, RAM_BASE };
		vm->vcpu_count = 1;
		vm->cpu_mask = 1;
		memset(vm->vcpu_pin, PVB_NO_PIN, sizeof(vm->vcpu_pin));
		vm->cid = 3 + i;
	}
}

static void allow(u32 from, u32 to_cid, u32 port)
{
	struct pvb_vm *vm = &tb.h.vms[from];
	vm->connect[vm->rule_count++] = (struct pvb_vsock_rule){ to_cid, port };
}

static u32 create(void)
{
	fake_reset();
	if (!ram_pool)
		ram_pool = aligned_alloc(MiB(2), MiB(16));
	return vm_create_all((u8 *)&tb, sizeof(tb), (u64)(uintptr_t)ram_pool,
			     (u64)(uintptr_t)ram_pool + MiB(16));
}

/* ---- a guest driver ---- */

static u8 *gpa(u32 vm, u64 ipa)
{
	return (u8 *)(uintptr_t)vms[vm].ram_pa.pa + (ipa - RAM_BASE);
}

static bool wr(u32 vm, u64 off, u32 v)
{
	u64 val = v;
	return virtio_mmio_access(&vms[vm], 0, off, 4, true, &val);
}

static u32 rd(u32 vm, u64 off)
{
	u64 val = 0xdeadbeef;
	EXPECT(virtio_mmio_access(&vms[vm], 0, off, 4, false, &val));
	return (u32)val;
}

struct desc {
	u64 addr;
	u32 len;
	u16 flags, next;
};

struct hdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static u64 ring(u32 q, u32 part)
{
	return RAM_BASE + RING_OFF + q * 0x4000u + part * 0x1000u;
}

static struct desc *desc_of(u32 vm, u32 q, u32 i)
{
	return (struct desc *)(void *)gpa(vm, ring(q, 0) + 16 * i);
}

static u16 *avail_of(u32 vm, u32 q)
{
	return (u16 *)(void *)gpa(vm, ring(q, 1));
}

static u16 *used_of(u32 vm, u32 q)
{
	return (u16 *)(void *)gpa(vm, ring(q, 2));
}

/* Driver-side state of each VM's queues. */
static u16 avail_idx[8][3], used_seen[8][3];

static void offer(u32 vm, u32 q, u16 head)
{
	u16 *a = avail_of(vm, q);
	a[2 + avail_idx[vm][q] % QNUM] = head;
	a[1] = ++avail_idx[vm][q];
}

static void post_rx(u32 vm, u32 i)
{
	*desc_of(vm, 0, i) = (struct desc){ RAM_BASE + BUF_OFF + 0x1000u * i, 0x1000, 2, 0 };
	offer(vm, 0, (u16)i);
}

static void queue_setup(u32 vm, u32 q)
{
	EXPECT(wr(vm, 0x030, q));
	EXPECT_EQ(rd(vm, 0x034), VIRTIO_QUEUE_MAX);
	wr(vm, 0x038, QNUM);
	wr(vm, 0x080, (u32)ring(q, 0));
	wr(vm, 0x084, 0);
	wr(vm, 0x090, (u32)ring(q, 1));
	wr(vm, 0x0a0, (u32)ring(q, 2));
	wr(vm, 0x044, 1);
	EXPECT_EQ(rd(vm, 0x044), 1);
}

static void driver_up(u32 vm)
{
	memset(avail_idx[vm], 0, sizeof(avail_idx[vm]));
	memset(used_seen[vm], 0, sizeof(used_seen[vm]));
	memset(gpa(vm, RAM_BASE + RING_OFF), 0, 0x10000);
	EXPECT_EQ(rd(vm, 0x000), 0x74726976u);
	EXPECT_EQ(rd(vm, 0x004), 2);
	EXPECT_EQ(rd(vm, 0x008), VSOCK_DEVICE_ID);
	wr(vm, 0x070, 0);
	wr(vm, 0x070, 1 | 2);
	wr(vm, 0x014, 1);
	EXPECT_EQ(rd(vm, 0x010), 1); /* VERSION_1 */
	wr(vm, 0x024, 1);
	wr(vm, 0x020, 1);
	wr(vm, 0x024, 0);
	wr(vm, 0x020, 0);
	wr(vm, 0x070, 1 | 2 | 8);
	EXPECT_EQ(rd(vm, 0x070), 1 | 2 | 8);
	for (u32 q = 0; q < 3; q++)
		queue_setup(vm, q);
	for (u32 i = 0; i < QNUM; i++)
		post_rx(vm, i);
	wr(vm, 0x070, 1 | 2 | 8 | 4);
}

static u32 tx_slot[8];

static void send(u32 vm, u64 dst_cid, u32 sport, u32 dport, u16 op, const void *data, u32 len)
{
	u32 i = tx_slot[vm]++ % QNUM;
	u64 buf = RAM_BASE + TXBUF_OFF + 0x1000u * i;
	struct hdr h = { .src_cid = vms[vm].cfg->cid, .dst_cid = dst_cid, .src_port = sport,
			 .dst_port = dport, .len = len, .type = 1, .op = op, .buf_alloc = 65536 };
	memcpy(gpa(vm, buf), &h, sizeof(h));
	if (len)
		memcpy(gpa(vm, buf) + sizeof(h), data, len);
	*desc_of(vm, 1, i) = (struct desc){ buf, (u32)sizeof(h) + len, 0, 0 };
	offer(vm, 1, (u16)i);
	wr(vm, 0x050, 1);
}

/* The next packet in vm's rx used ring, reposting its buffer; false when there is none. */
static bool recv(u32 vm, struct hdr *h, u8 *data)
{
	u16 *u = used_of(vm, 0);
	if (u[1] == used_seen[vm][0])
		return false;
	u32 *e = (u32 *)(void *)&u[2 + 4 * (used_seen[vm][0]++ % QNUM)];
	u8 *buf = gpa(vm, desc_of(vm, 0, e[0])->addr);
	memcpy(h, buf, sizeof(*h));
	EXPECT_EQ(e[1], sizeof(*h) + h->len);
	if (data)
		memcpy(data, buf + sizeof(*h), h->len);
	post_rx(vm, e[0]);
	return true;
}

static bool recv_op(u32 vm, u16 op, struct hdr *h)
{
	return recv(vm, h, NULL) && EXPECT_EQ(h->op, op);
}

/* ---- tests ---- */

TEST(transport_identity_and_features)
{
	bundle(2);
	tb.h.vms[1].cid = 0;
	EXPECT_EQ(create(), 2);
	u64 v;
	EXPECT(!virtio_mmio_access(&vms[1], 0, 0, 4, false, &v)); /* no device: abort */
	EXPECT(!virtio_mmio_access(&vms[0], 1, 0, 4, false, &v)); /* empty slot */
	EXPECT(!virtio_mmio_access(&vms[0], 0, 0, 1, false, &v)); /* byte read of a register */
	EXPECT(!virtio_mmio_access(&vms[0], 0, 2, 4, false, &v)); /* misaligned */
	EXPECT(virtio_mmio_access(&vms[0], 0, 0x100, 4, false, &v));
	EXPECT_EQ(v, 3);
	EXPECT(virtio_mmio_access(&vms[0], 0, 0x104, 4, false, &v));
	EXPECT_EQ(v, 0);
	EXPECT(virtio_mmio_access(&vms[0], 0, 0x100, 1, false, &v));
	EXPECT_EQ(v, 3);
	/* an unoffered feature: FEATURES_OK does not stick */
	wr(0, 0x070, 3);
	wr(0, 0x024, 0);
	wr(0, 0x020, 1u << 28);
	wr(0, 0x070, 3 | 8);
	EXPECT_EQ(rd(0, 0x070) & 8, 0);
	/* without VERSION_1 neither */
	wr(0, 0x070, 0);
	wr(0, 0x070, 3 | 8);
	EXPECT_EQ(rd(0, 0x070) & 8, 0);
	driver_up(0);
	EXPECT_EQ(rd(0, 0x070), 0xf);
	wr(0, 0x030, 3);
	EXPECT_EQ(rd(0, 0x034), 0);
}

TEST(connect_echo_and_close)
{
	struct hdr h;
	u8 data[64];
	bundle(2);
	allow(0, 4, 5000);
	EXPECT_EQ(create(), 2);
	driver_up(0);
	driver_up(1);
	send(0, 4, 1024, 5000, 1, NULL, 0); /* REQUEST */
	EXPECT(recv_op(1, 1, &h));
	EXPECT_EQ(h.src_cid, 3);
	EXPECT_EQ(h.src_port, 1024);
	EXPECT_EQ(rd(1, 0x060), 1);
	wr(1, 0x064, 1);
	EXPECT_EQ(rd(1, 0x060), 0);
	send(1, 3, 5000, 1024, 2, NULL, 0); /* RESPONSE */
	EXPECT(recv_op(0, 2, &h));
	send(0, 4, 1024, 5000, 5, "hello", 5); /* RW */
	EXPECT(recv(1, &h, data));
	EXPECT_EQ(h.op, 5);
	EXPECT_EQ(h.len, 5);
	EXPECT(!memcmp(data, "hello", 5));
	send(1, 3, 5000, 1024, 5, "olleh", 5);
	EXPECT(recv(0, &h, data));
	EXPECT(!memcmp(data, "olleh", 5));
	/* the tx buffers came back */
	EXPECT_EQ(used_of(0, 1)[1], 2);
	EXPECT_EQ(used_of(1, 1)[1], 2);
	send(0, 4, 1024, 5000, 3, NULL, 0); /* RST */
	EXPECT(recv_op(1, 3, &h));
	send(1, 3, 5000, 1024, 5, "late", 4); /* on a stream that is gone: RST back */
	EXPECT(recv_op(1, 3, &h));
	EXPECT(!recv(0, &h, NULL));
}

TEST(policy_refusals_get_rst)
{
	struct hdr h;
	bundle(3);
	allow(0, 4, 5000);
	EXPECT_EQ(create(), 3);
	for (u32 i = 0; i < 3; i++)
		driver_up(i);
	send(0, 4, 1, 5001, 1, NULL, 0); /* port not listed */
	EXPECT(recv_op(0, 3, &h));
	EXPECT_EQ(h.src_cid, 4);
	EXPECT_EQ(h.src_port, 5001);
	EXPECT_EQ(h.dst_port, 1);
	send(0, 5, 1, 5000, 1, NULL, 0); /* VM not listed */
	EXPECT(recv_op(0, 3, &h));
	send(0, 99, 1, 5000, 1, NULL, 0); /* no such CID */
	EXPECT(recv_op(0, 3, &h));
	send(0, 2, 1, 5000, 1, NULL, 0); /* the hypervisor: no service yet */
	EXPECT(recv_op(0, 3, &h));
	send(1, 3, 1, 5000, 1, NULL, 0); /* vm1 has no rules */
	EXPECT(recv_op(1, 3, &h));
	EXPECT(!recv(1, &h, NULL) && !recv(2, &h, NULL));
	EXPECT(strstr(fake.out, "vm vm0: vsock: connect to 4:5001 refused: not allowed"));
	EXPECT_EQ(vms[0].vsock.refusals, 4);
}

TEST(large_packet_split_over_rx_buffers)
{
	static u8 big[3000], got[3000];
	struct hdr h;
	bundle(2);
	allow(0, 4, 7);
	EXPECT_EQ(create(), 2);
	driver_up(0);
	driver_up(1);
	for (u32 i = 0; i < sizeof(big); i++)
		big[i] = (u8)(i * 7);
	send(0, 4, 1, 7, 1, NULL, 0);
	EXPECT(recv_op(1, 1, &h));
	send(1, 3, 7, 1, 2, NULL, 0);
	EXPECT(recv_op(0, 2, &h));
	/* rx buffers of 1 KiB: 3000 bytes arrive as 1024 - 44, ... */
	for (u32 i = 0; i < QNUM; i++)
		desc_of(1, 0, i)->len = 1024;
	send(0, 4, 1, 7, 5, big, sizeof(big));
	u32 n = 0;
	while (recv(1, &h, got + n)) {
		EXPECT_EQ(h.op, 5);
		EXPECT(h.len <= 1024 - 44);
		n += h.len;
		desc_of(1, 0, (u32)(avail_of(1, 0)[2 + (avail_idx[1][0] - 1) % QNUM]))->len = 1024;
	}
	EXPECT_EQ(n, sizeof(big));
	EXPECT(!memcmp(big, got, sizeof(big)));
}

