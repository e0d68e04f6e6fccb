/* test_virtio.c: the virtio-mmio transport, the virtqueue walker and the vsock router on the
 * fake architecture, driven as a guest driver would drive them through trapped accesses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "bundle.h"

#include <pv/bundle.h>
#include <pv/virtio.h>
#include <pv/vm.h>
#include <pv/vsock.h>
#include "fake.h"

#define RAM_BASE TEST_RAM_BASE
#define RAM_SIZE TEST_RAM_SIZE
#define RING_OFF 0x100000u /* queue q: desc at + q * 0x4000, avail + 0x1000, used + 0x2000 */
#define BUF_OFF 0x140000u  /* rx buffer i of queue 0, tx buffer i: 0x800 bytes each */
#define TXBUF_OFF 0x180000u
#define QNUM 128u

/* ---- VMs from a bundle ---- */

static struct test_bundle tb;
static u8 *ram_pool;

static void bundle(u32 nvms)
{
	test_bundle_init(&tb, nvms);
	for (u32 i = 0; i < nvms; i++)
		tb.h.vms[i].cid = 3 + i;
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
	*desc_of(vm, 0, i) = (struct desc){ RAM_BASE + BUF_OFF + 0x800u * i, 0x800, 2, 0 };
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
	EXPECT_EQ(rd(vm, 0x008), VIRTIO_ID_VSOCK);
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
	u64 buf = RAM_BASE + TXBUF_OFF + 0x800u * i;
	struct hdr h = { .src_cid = vms[vm].cfg->cid, .dst_cid = dst_cid, .src_port = sport,
			 .dst_port = dport, .len = len, .type = 1, .op = op, .buf_alloc = 65536 };
	memcpy(gpa(vm, buf), &h, sizeof(h));
	if (len)
		memcpy(gpa(vm, buf) + sizeof(h), data, len);
	*desc_of(vm, 1, i) = (struct desc){ buf, (u32)sizeof(h) + len, 0, 0 };
	offer(vm, 1, (u16)i);
	wr(vm, 0x050, 1);
}

static bool hold_rx[8]; /* recv does not repost: the VM's rx ring runs dry */

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
	if (!hold_rx[vm])
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


/* ---- refusals (docs/virtio.md, "What the device refuses") ---- */

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE };
#define F_NEXT 1u
#define F_WRITE 2u
#define F_INDIRECT 4u
#define STATUS_UP 0xfu
#define NEEDS_RESET 0x40u

static void out_clear(void)
{
	fake.out_len = 0;
	fake.out[0] = 0;
}

/* The next second of the counter, so the next rate-limited line is printed. */
static void next_second(void)
{
	fake.now += 2 * FAKE_TIMER_FREQ;
}

/* Whether the device's SPI (INTID 48) is pending at the VM's distributor: GICD_ISPENDR1. */
static bool spi_pending(u32 vm)
{
	u64 v = 0;
	u32 kick = 0;
	EXPECT(vgic_dist_access(&vms[vm].vgic, 0x204, 4, false, &v, &kick));
	return v & (1u << 16);
}

static void spi_clear(u32 vm)
{
	u64 v = 1u << 16;
	u32 kick = 0;
	EXPECT(vgic_dist_access(&vms[vm].vgic, 0x284, 4, true, &v, &kick));
}

/* Offers a raw tx chain of descriptors 0..n-1 of queue 1 and notifies. */
static void tx_chain(u32 vm, const struct desc *d, u32 n)
{
	for (u32 i = 0; i < n; i++)
		*desc_of(vm, 1, i) = d[i];
	offer(vm, 1, 0);
	wr(vm, 0x050, 1);
}

/* A tx packet header for vm at tx buffer area 0, as send() writes it. */
static u64 tx_hdr(u32 vm, u64 dst_cid, u32 sport, u32 dport, u16 op, u32 len)
{
	u64 buf = RAM_BASE + TXBUF_OFF;
	struct hdr h = { .src_cid = vms[vm].cfg->cid, .dst_cid = dst_cid, .src_port = sport,
			 .dst_port = dport, .len = len, .type = 1, .op = op };
	memcpy(gpa(vm, buf), &h, sizeof(h));
	return buf;
}

static void connect_pair(u32 a, u32 ap, u32 b, u32 bp)
{
	struct hdr h;
	send(a, 3 + b, ap, bp, OP_REQUEST, NULL, 0);
	EXPECT(recv_op(b, OP_REQUEST, &h));
	send(b, 3 + a, bp, ap, OP_RESPONSE, NULL, 0);
	EXPECT(recv_op(a, OP_RESPONSE, &h));
}

/* An RW each way on an open stream arrives intact. */
static void echo(u32 a, u32 ap, u32 b, u32 bp)
{
	struct hdr h;
	u8 got[16];
	send(a, 3 + b, ap, bp, OP_RW, "ping", 4);
	EXPECT(recv(b, &h, got) && EXPECT_EQ(h.op, OP_RW) && EXPECT_EQ(h.len, 4) &&
	       EXPECT(!memcmp(got, "ping", 4)));
	EXPECT_EQ(h.src_cid, 3 + a);
	send(b, 3 + a, bp, ap, OP_RW, "pong!", 5);
	EXPECT(recv(a, &h, got) && EXPECT_EQ(h.op, OP_RW) && EXPECT_EQ(h.len, 5) &&
	       EXPECT(!memcmp(got, "pong!", 5)));
}

/* Three VMs up; streams vm0:1024 <-> vm1:5000 and vm1:2000 <-> vm2:6000 open. */
static void three_up(void)
{
	bundle(3);
	allow(0, 4, 5000);
	allow(1, 5, 6000);
	EXPECT_EQ(create(), 3);
	memset(tx_slot, 0, sizeof(tx_slot));
	for (u32 i = 0; i < 3; i++)
		driver_up(i);
	connect_pair(0, 1024, 1, 5000);
	connect_pair(1, 2000, 2, 6000);
	out_clear();
	next_second();
}

/* vm0 broke a rule on queue q: its device needs reset, one line says so, and vm1 got rsts RSTs
 * for its stream with vm0 and nothing else, vm2 nothing; vm1 and vm2 still talk, and vm0 works
 * again after a reset. */
static void expect_refused(u32 q, const char *what, u32 rsts)
{
	char line[160];
	struct hdr h;
	snprintf(line, sizeof(line),
		 "pv: warn: vm vm0: virtio-vsock: queue %u: %s; device needs reset\r\n", q, what);
	EXPECT(rd(0, 0x070) & NEEDS_RESET);
	EXPECT_STR(fake.out, line);
	for (u32 i = 0; i < rsts; i++)
		if (EXPECT(recv_op(1, OP_RST, &h))) {
			EXPECT_EQ(h.src_cid, 3);
			EXPECT_EQ(h.src_port, 1024);
			EXPECT_EQ(h.dst_port, 5000);
		}
	EXPECT(!recv(1, &h, NULL));
	EXPECT(!recv(2, &h, NULL));
	EXPECT_EQ(vms[1].vsock.owed + vms[2].vsock.owed, 0);
	EXPECT_EQ(rd(1, 0x070), STATUS_UP);
	EXPECT_EQ(rd(2, 0x070), STATUS_UP);
	echo(1, 2000, 2, 6000);
	/* further notifications are ignored until the reset, and logged no more */
	wr(0, 0x050, 1);
	wr(0, 0x050, 0);
	EXPECT_STR(fake.out, line);
	wr(0, 0x070, 0);
	EXPECT_EQ(rd(0, 0x070), 0);
	driver_up(0);
	EXPECT_EQ(rd(0, 0x070), STATUS_UP);
	connect_pair(0, 1024, 1, 5000);
	echo(0, 1024, 1, 5000);
	echo(1, 2000, 2, 6000);
}

/* Nothing of queue q was consumed since the snapshot. */
struct q_snap {
	u16 used, last_avail;
};

static struct q_snap snap(u32 vm, u32 q)
{
	return (struct q_snap){ used_of(vm, q)[1], vms[vm].vsock.dev.vq[q].last_avail };
}

static void expect_unconsumed(u32 vm, u32 q, struct q_snap s)
{
	EXPECT_EQ(used_of(vm, q)[1], s.used);
	EXPECT_EQ(vms[vm].vsock.dev.vq[q].used_idx, s.used);
	EXPECT_EQ(vms[vm].vsock.dev.vq[q].last_avail, s.last_avail);
}

/* The event queue of a live device re-enabled with a bad size or ring. */
static void requeue(u32 num, u64 desc, u64 avail, u64 used)
{
	wr(0, 0x030, 2);
	wr(0, 0x044, 0);
	wr(0, 0x038, num);
	wr(0, 0x080, (u32)desc);
	wr(0, 0x084, (u32)(desc >> 32));
	wr(0, 0x090, (u32)avail);
	wr(0, 0x094, (u32)(avail >> 32));
	wr(0, 0x0a0, (u32)used);
	wr(0, 0x0a4, (u32)(used >> 32));
	EXPECT_STR(fake.out, "");
	wr(0, 0x044, 1);
}

TEST(refuse_bad_queue_size)
{
	static const u32 bad[] = { 0, 3, 256, 0x10010, 129 };
	for (u32 i = 0; i < ARRAY_SIZE(bad); i++) {
		three_up();
		requeue(bad[i], ring(2, 0), ring(2, 1), ring(2, 2));
		EXPECT_EQ(rd(0, 0x044), 0);
		expect_refused(2, "bad size", 1);
	}
	/* 1 and 128 are fine */
	three_up();
	requeue(1, ring(2, 0), ring(2, 1), ring(2, 2));
	EXPECT_EQ(rd(0, 0x070), STATUS_UP);
	requeue(128, ring(2, 0), ring(2, 1), ring(2, 2));
	EXPECT_EQ(rd(0, 0x070), STATUS_UP);
}

TEST(refuse_ring_outside_ram)
{
	const u64 top = RAM_BASE + RAM_SIZE - 0x10000; /* the hypervisor's 64 KiB start here */
	const u64 d = ring(2, 0), a = ring(2, 1), u = ring(2, 2);
	const u64 cases[][3] = {
		{ RAM_BASE - 0x1000, a, u },     /* below RAM */
		{ d, RAM_BASE + RAM_SIZE, u },   /* above */
		{ d, a, top },                   /* in the reserved 64 KiB */
		{ top - QNUM * 16 + 16, a, u },    /* desc table runs into it */
		{ d, a, top - 6 - 8 * QNUM + 4 },  /* used ring runs into it */
		{ d, top - 6 - 2 * QNUM + 2, u },  /* avail ring runs into it */
		{ d + 8, a, u },                 /* misaligned: desc 16, avail 2, used 4 */
		{ d, a + 1, u },
		{ d, a, u + 2 },
		{ ~0ull - 0xff, a, u },          /* wraps */
		{ d | (1ull << 32), a, u },      /* high half */
	};
	for (u32 i = 0; i < ARRAY_SIZE(cases); i++) {
		three_up();
		requeue(QNUM, cases[i][0], cases[i][1], cases[i][2]);
		EXPECT_EQ(rd(0, 0x044), 0);
		expect_refused(2, "ring outside RAM", 1);
	}
	/* the last ring that fits below the reserved 64 KiB is fine */
	three_up();
	requeue(QNUM, top - QNUM * 16, top - 0x1000, top - 6 - 8 * QNUM - 2);
	EXPECT_EQ(rd(0, 0x070), STATUS_UP);
}

TEST(refuse_ring_outside_ram_before_driver_ok)
{
	bundle(1);
	EXPECT_EQ(create(), 1);
	out_clear();
	wr(0, 0x070, 0);
	wr(0, 0x070, 3);
	wr(0, 0x030, 0);
	wr(0, 0x038, QNUM);
	wr(0, 0x080, (u32)(RAM_BASE - 0x10000));
	wr(0, 0x090, (u32)ring(0, 1));
	wr(0, 0x0a0, (u32)ring(0, 2));
	wr(0, 0x044, 1);
	EXPECT_EQ(rd(0, 0x044), 0);
	EXPECT_EQ(rd(0, 0x070), 3 | NEEDS_RESET);
	EXPECT_STR(fake.out,
		   "pv: warn: vm vm0: virtio-vsock: queue 0: ring outside RAM; device needs reset\r\n");
	/* DRIVER_OK does not make it live */
	wr(0, 0x070, 0xf);
	EXPECT(!vms[0].vsock.dev.live);
	wr(0, 0x070, 0);
	EXPECT_EQ(rd(0, 0x070), 0);
	driver_up(0);
	EXPECT_EQ(rd(0, 0x070), STATUS_UP);
}

TEST(refuse_changes_while_ready)
{
	static const u32 regs[] = { 0x038, 0x080, 0x084, 0x090, 0x094, 0x0a0, 0x0a4 };
	for (u32 i = 0; i < ARRAY_SIZE(regs); i++) {
		three_up();
		struct virtq before = vms[0].vsock.dev.vq[1];
		wr(0, 0x030, 1);
		wr(0, regs[i], 0x1000);
		struct virtq *vq = &vms[0].vsock.dev.vq[1];
		EXPECT(!memcmp(vq->ring, before.ring, sizeof(vq->ring)) && vq->num == before.num);
		expect_refused(1, "changed while ready", 1);
	}
	/* a queue taken down may be changed */
	three_up();
	wr(0, 0x030, 2);
	wr(0, 0x044, 0);
	wr(0, 0x038, 8);
	wr(0, 0x044, 1);
	EXPECT_EQ(rd(0, 0x070), STATUS_UP);
	EXPECT_STR(fake.out, "");
}

/* Found by fuzz_virtio: QueueReady with QueueSel past the last queue made a pointer to a
 * queue that does not exist (UBSan: index out of bounds) before checking QueueSel. It must
 * change nothing, whatever QueueSel holds. */
TEST(queue_ready_with_bad_queue_sel)
{
	static const u32 sels[] = { 3, 0x85858585, 0xffffffff };
	for (u32 i = 0; i < ARRAY_SIZE(sels); i++) {
		three_up();
		struct virtio_dev before = vms[0].vsock.dev;
		wr(0, 0x030, sels[i]);
		wr(0, 0x044, 1);
		wr(0, 0x044, 0);
		before.queue_sel = sels[i];
		EXPECT(!memcmp(&vms[0].vsock.dev, &before, sizeof(before)));
		EXPECT_EQ(rd(0, 0x044), 0);
		EXPECT_EQ(rd(0, 0x070), STATUS_UP);
	}
	EXPECT_STR(fake.out, "");
}

TEST(refuse_notify_before_ready)
{
	three_up();
	wr(0, 0x030, 2);
	wr(0, 0x044, 0);
	wr(0, 0x050, 2);
	expect_refused(2, "notify before ready", 1);
	/* a fresh device: set up but rx not ready yet */
	bundle(1);
	EXPECT_EQ(create(), 1);
	out_clear();
	wr(0, 0x070, 0);
	wr(0, 0x070, 3);
	wr(0, 0x050, 1);
	EXPECT(rd(0, 0x070) & NEEDS_RESET);
	EXPECT_STR(fake.out,
		   "pv: warn: vm vm0: virtio-vsock: queue 1: notify before ready; device needs reset\r\n");
	/* a queue the device does not have: nothing (4.2.3.3) */
	wr(0, 0x070, 0);
	wr(0, 0x050, 3);
	wr(0, 0x050, 0xffff);
	EXPECT_EQ(rd(0, 0x070), 0);
}

TEST(refuse_avail_index_jump)
{
	three_up();
	struct q_snap s = snap(0, 1);
	avail_of(0, 1)[1] = (u16)(avail_idx[0][1] + QNUM + 1);
	wr(0, 0x050, 1);
	expect_unconsumed(0, 1, s);
	expect_refused(1, "avail index jumped", 1);
	/* the rx ring's index checked when a packet comes for it */
	three_up();
	s = snap(0, 0);
	avail_of(0, 0)[1] = (u16)(vms[0].vsock.dev.vq[0].last_avail - 1);
	send(1, 3, 5000, 1024, OP_RW, "x", 1);
	expect_unconsumed(0, 0, s);
	expect_refused(0, "avail index jumped", 2);
}

/* A tx chain that breaks a rule of the walker: nothing of the tx ring consumed. */
static void tx_refused(const struct desc *d, u32 n, const char *what)
{
	three_up();
	struct q_snap s = snap(0, 1);
	tx_chain(0, d, n);
	expect_unconsumed(0, 1, s);
	expect_refused(1, what, 1);
}

TEST(refuse_descriptor_index_out_of_range)
{
	three_up();
	struct q_snap s = snap(0, 1);
	tx_hdr(0, 4, 1024, 5000, OP_RW, 0);
	*desc_of(0, 1, 0) = (struct desc){ RAM_BASE + TXBUF_OFF, 44, 0, 0 };
	offer(0, 1, QNUM); /* head */
	wr(0, 0x050, 1);
	expect_unconsumed(0, 1, s);
	expect_refused(1, "descriptor index out of range", 1);
	u64 b = tx_hdr(0, 4, 1024, 5000, OP_RW, 4);
	struct desc next[] = { { b, 44, F_NEXT, QNUM }, { b + 44, 4, 0, 0 } };
	tx_refused(next, 2, "descriptor index out of range");
	struct desc far[] = { { b, 44, F_NEXT, 0xffff } };
	tx_refused(far, 1, "descriptor index out of range");
}

TEST(refuse_descriptor_chain_loop)
{
	u64 b = RAM_BASE + TXBUF_OFF;
	struct desc empty_loop[] = { { b, 0, F_NEXT, 1 }, { b, 0, F_NEXT, 0 } };
	tx_refused(empty_loop, 2, "descriptor chain too long");
	struct desc self[] = { { b, 44, F_NEXT, 0 } };
	tx_refused(self, 1, "descriptor chain too long");
	/* QNUM empty descriptors and then a real one is QNUM + 1 long */
	struct desc long_chain[QNUM];
	for (u32 i = 0; i < QNUM; i++)
		long_chain[i] = (struct desc){ b, 0, F_NEXT, (u16)((i + 1) % QNUM) };
	tx_refused(long_chain, QNUM, "descriptor chain too long");
}

TEST(refuse_more_than_virtio_segs)
{
	struct desc d[VIRTIO_SEGS + 1];
	u64 b = tx_hdr(0, 4, 1024, 5000, OP_RW, VIRTIO_SEGS);
	d[0] = (struct desc){ b, 44, F_NEXT, 1 };
	for (u32 i = 1; i <= VIRTIO_SEGS; i++)
		d[i] = (struct desc){ b + 44 + i, 1, i < VIRTIO_SEGS ? F_NEXT : 0, (u16)(i + 1) };
	three_up();
	tx_hdr(0, 4, 1024, 5000, OP_RW, VIRTIO_SEGS);
	struct q_snap s = snap(0, 1);
	tx_chain(0, d, VIRTIO_SEGS + 1);
	expect_unconsumed(0, 1, s);
	expect_refused(1, "descriptor chain too long", 1);
}

/* VIRTIO_SEGS buffers, header split over two and empty ones between: arrives whole. */
TEST(tx_chain_of_virtio_segs_with_split_header)
{
	struct hdr h;
	u8 got[64];
	three_up();
	u64 b = tx_hdr(0, 4, 1024, 5000, OP_RW, 30);
	for (u32 i = 0; i < 30; i++)
		gpa(0, b)[44 + i] = (u8)('a' + i);
	struct desc d[VIRTIO_SEGS + 2];
	d[0] = (struct desc){ b, 20, F_NEXT, 1 };
	d[1] = (struct desc){ 0, 0, F_NEXT, 2 }; /* empty: not a buffer, address not looked at */
	d[2] = (struct desc){ b + 20, 30, F_NEXT, 3 };
	d[3] = (struct desc){ ~0ull, 0, F_NEXT, 4 };
	for (u32 i = 4; i < VIRTIO_SEGS + 2; i++)
		d[i] = (struct desc){ b + 50 + (i - 4) * 4, 4, i + 1 < VIRTIO_SEGS + 2 ? F_NEXT : 0,
				      (u16)(i + 1) };
	u16 used = used_of(0, 1)[1];
	tx_chain(0, d, VIRTIO_SEGS + 2);
	EXPECT_EQ(rd(0, 0x070), STATUS_UP);
	if (EXPECT(recv(1, &h, got)) && EXPECT_EQ(h.len, 30))
		for (u32 i = 0; i < 30; i++)
			EXPECT_EQ(got[i], 'a' + i);
	EXPECT_EQ(used_of(0, 1)[1], used + 1);
}

TEST(refuse_buffer_outside_ram)
{
	const u64 top = RAM_BASE + RAM_SIZE - 0x10000;
	const u64 addrs[][2] = {
		{ RAM_BASE - 0x1000, 44 }, { RAM_BASE - 20, 44 }, { RAM_BASE + RAM_SIZE, 44 },
		{ top, 44 }, { top - 20, 44 }, { top + 0x8000, 44 }, { ~0ull - 20, 44 },
		{ 0xffffffffffff0000ull, 0x20000 }, { RAM_BASE + TXBUF_OFF, 0xffffffffu },
		{ RAM_BASE | (1ull << 40), 44 },
	};
	for (u32 i = 0; i < ARRAY_SIZE(addrs); i++) {
		struct desc d[] = { { addrs[i][0], (u32)addrs[i][1], 0, 0 } };
		tx_refused(d, 1, "buffer outside RAM");
	}
	/* a later buffer of the chain */
	u64 b = tx_hdr(0, 4, 1024, 5000, OP_RW, 4);
	struct desc second[] = { { b, 44, F_NEXT, 1 }, { top - 2, 4, 0, 0 } };
	tx_refused(second, 2, "buffer outside RAM");
	/* the last bytes below the reserved 64 KiB are fine */
	three_up();
	tx_hdr(0, 4, 1024, 5000, OP_RW, 4);
	memcpy(gpa(0, top - 4), "edge", 4);
	struct desc edge[] = { { RAM_BASE + TXBUF_OFF, 44, F_NEXT, 1 }, { top - 4, 4, 0, 0 } };
	tx_chain(0, edge, 2);
	struct hdr h;
	u8 got[8];
	EXPECT(recv(1, &h, got) && EXPECT(!memcmp(got, "edge", 4)));
	EXPECT_EQ(rd(0, 0x070), STATUS_UP);
}

TEST(refuse_indirect_descriptor)
{
	u64 b = tx_hdr(0, 4, 1024, 5000, OP_RW, 0);
	struct desc d[] = { { b, 44, F_INDIRECT, 0 } };
	tx_refused(d, 1, "indirect descriptor");
	struct desc later[] = { { b, 44, F_NEXT, 1 }, { b, 16, F_INDIRECT, 0 } };
	tx_refused(later, 2, "indirect descriptor");
	/* even an empty one */
	struct desc empty[] = { { b, 44, F_NEXT, 1 }, { b, 0, F_INDIRECT, 0 } };
	tx_refused(empty, 2, "indirect descriptor");
}

TEST(refuse_wrong_direction)
{
	u64 b = tx_hdr(0, 4, 1024, 5000, OP_RW, 0);
	struct desc d[] = { { b, 44, F_WRITE, 0 } };
	tx_refused(d, 1, "wrong buffer direction");
	struct desc mixed[] = { { b, 44, F_NEXT, 1 }, { b + 0x100, 0, F_WRITE, 0 } };
	tx_refused(mixed, 2, "wrong buffer direction");
	/* rx: a readable buffer at the front of the rx ring, found when a packet comes */
	three_up();
	struct q_snap s = snap(0, 0);
	u16 head = avail_of(0, 0)[2 + s.last_avail % QNUM];
	desc_of(0, 0, head)->flags = 0;
	send(1, 3, 5000, 1024, OP_RW, "x", 1);
	expect_unconsumed(0, 0, s);
	EXPECT_EQ(used_of(1, 1)[1], avail_idx[1][1]); /* the sender's packet went back, refused */
	expect_refused(0, "wrong buffer direction", 2);
}

TEST(refuse_bad_packet)
{
	u64 b = tx_hdr(0, 4, 1024, 5000, OP_RW, 0);
	struct desc short_hdr[] = { { b, 43, 0, 0 } };
	tx_refused(short_hdr, 1, "bad packet");
	struct desc split_short[] = { { b, 20, F_NEXT, 1 }, { b + 20, 20, 0, 0 } };
	tx_refused(split_short, 2, "bad packet");
	struct desc none[] = { { b, 0, 0, 0 } };
	tx_refused(none, 1, "bad packet");
	/* len beyond the buffer */
	three_up();
	b = tx_hdr(0, 4, 1024, 5000, OP_RW, 51);
	struct q_snap s = snap(0, 1);
	struct desc d[] = { { b, 44 + 50, 0, 0 } };
	tx_chain(0, d, 1);
	expect_unconsumed(0, 1, s);
	expect_refused(1, "bad packet", 1);
	three_up();
	b = tx_hdr(0, 4, 1024, 5000, OP_RW, 0xffffffffu);
	tx_chain(0, d, 1);
	expect_refused(1, "bad packet", 1);
	/* rx: a buffer too small for the header */
	three_up();
	s = snap(0, 0);
	desc_of(0, 0, avail_of(0, 0)[2 + s.last_avail % QNUM])->len = 43;
	send(1, 3, 5000, 1024, OP_REQUEST + 2, NULL, 0); /* an RST fits no smaller buffer */
	expect_unconsumed(0, 0, s);
	expect_refused(0, "bad packet", 1);
}

TEST(refuse_rx_buffer_outside_ram)
{
	three_up();
	struct q_snap s = snap(0, 0);
	desc_of(0, 0, avail_of(0, 0)[2 + s.last_avail % QNUM])->addr =
		RAM_BASE + RAM_SIZE - 0x10000;
	send(1, 3, 5000, 1024, OP_RW, "x", 1);
	expect_unconsumed(0, 0, s);
	expect_refused(0, "buffer outside RAM", 2);
}

/* One line per second per VM: a second failure within the second is not logged. */
TEST(refusal_log_rate_limited)
{
	three_up();
	wr(0, 0x030, 1);
	wr(0, 0x038, 8);
	const char *line = "pv: warn: vm vm0: virtio-vsock: queue 1: changed while ready; "
			   "device needs reset\r\n";
	EXPECT_STR(fake.out, line);
	wr(0, 0x070, 0);
	driver_up(0);
	fake.now += FAKE_TIMER_FREQ / 2;
	wr(0, 0x030, 1);
	wr(0, 0x038, 8);
	EXPECT(rd(0, 0x070) & NEEDS_RESET);
	EXPECT_STR(fake.out, line);
	wr(0, 0x070, 0);
	driver_up(0);
	next_second();
	wr(0, 0x030, 1);
	wr(0, 0x038, 8);
	EXPECT_EQ(fake.out_len, 2 * strlen(line));
}

/* ---- interrupts ---- */

/* VRING_AVAIL_F_NO_INTERRUPT (2.7.7): no InterruptStatus bit, no SPI for that queue's used
 * buffers; the other queue still interrupts. */
TEST(interrupt_suppression)
{
	struct hdr h;
	three_up();
	for (u32 i = 0; i < 2; i++) {
		wr(i, 0x064, 1);
		spi_clear(i);
	}
	avail_of(1, 0)[0] = 1; /* vm1: no interrupt for rx */
	send(0, 4, 1024, 5000, OP_RW, "q", 1);
	EXPECT_EQ(used_of(1, 0)[1], used_seen[1][0] + 1); /* delivered all the same */
	EXPECT_EQ(rd(1, 0x060), 0);
	EXPECT(!spi_pending(1));
	EXPECT_EQ(rd(0, 0x060), 1); /* vm0's tx buffer came back: interrupt */
	EXPECT(spi_pending(0));
	EXPECT(recv_op(1, OP_RW, &h));
	wr(0, 0x064, 1);
	spi_clear(0);
	avail_of(0, 1)[0] = 1; /* and vm0: none for tx */
	send(0, 4, 1024, 5000, OP_RW, "r", 1);
	EXPECT_EQ(rd(0, 0x060), 0);
	EXPECT(!spi_pending(0));
	EXPECT(recv_op(1, OP_RW, &h));
	avail_of(1, 0)[0] = 0;
	send(0, 4, 1024, 5000, OP_RW, "s", 1);
	EXPECT_EQ(rd(1, 0x060), 1);
	EXPECT(spi_pending(1));
	EXPECT(recv_op(1, OP_RW, &h));
}

/* ---- the vsock router ---- */

#define BIG_OFF 0x1c0000u /* a 64 KiB tx buffer area */

/* Gives vm's rx buffers, one per used entry, back (as recv does) and notifies queue 0. */
static void repost_all(u32 vm)
{
	u32 n = (u16)(used_of(vm, 0)[1] - (avail_idx[vm][0] - QNUM));
	for (u32 i = 0; i < n; i++) {
		u32 *e = (u32 *)(void *)&used_of(vm, 0)[2 + 4 * ((avail_idx[vm][0] - QNUM) % QNUM)];
		post_rx(vm, e[0]);
	}
	wr(vm, 0x050, 0);
}

/* vm's rx ring taken up by n one-byte RWs from `from` on an open stream, held unread. */
static void fill_rx(u32 vm, u32 n, u32 from, u32 fport, u32 port)
{
	for (u32 i = 0; i < n; i++)
		send(from, 3 + vm, fport, port, OP_RW, "f", 1);
	EXPECT_EQ((u16)(used_of(vm, 0)[1] - used_seen[vm][0]), n);
}

static void drain(u32 vm, u32 n)
{
	struct hdr h;
	for (u32 i = 0; i < n; i++)
		EXPECT(recv(vm, &h, NULL));
}

static bool got_rst(u32 vm, u32 src_cid, u32 sport, u32 dport)
{
	struct hdr h;
	return EXPECT(recv_op(vm, OP_RST, &h)) && EXPECT_EQ(h.src_cid, src_cid) &&
	       EXPECT_EQ(h.src_port, sport) && EXPECT_EQ(h.dst_port, dport) &&
	       EXPECT_EQ(h.dst_cid, 3 + vm) && EXPECT_EQ(h.type, 1);
}

static u32 live_streams(void)
{
	u32 n = 0;
	for (u32 i = 0; i < vm_count; i++)
		for (u32 j = 0; j < VSOCK_STREAMS; j++)
			n += vms[i].vsock.stream[j].state != 0;
	return n;
}

enum how { DEVICE_RESET, VM_RESET, VM_STOP };

/* vm0 goes away with four streams: to vm1 twice, from vm1 once (vm1's rx ring full at that
 * moment) and to vm2. Every peer gets one RST per stream; vm1's come when it posts buffers. */
static void goes_away(enum how how)
{
	struct hdr h;
	bundle(3);
	allow(0, 4, PVB_PORT_ANY);
	allow(0, 5, 5000);
	allow(1, 3, 7000);
	EXPECT_EQ(create(), 3);
	memset(tx_slot, 0, sizeof(tx_slot));
	memset(hold_rx, 0, sizeof(hold_rx));
	for (u32 i = 0; i < 3; i++)
		driver_up(i);
	connect_pair(0, 1024, 1, 5000);
	connect_pair(0, 1025, 1, 5001);
	connect_pair(1, 2000, 0, 7000);
	connect_pair(0, 1026, 2, 5000);
	hold_rx[1] = 1;
	fill_rx(1, QNUM, 0, 1024, 5000);
	u16 used1 = used_of(1, 0)[1];
	if (how == DEVICE_RESET)
		wr(0, 0x070, 0);
	else if (how == VM_RESET)
		vm_reset(&vms[0], false);
	else
		vm_stop(&vms[0], "test");
	EXPECT(got_rst(2, 3, 1026, 5000));
	EXPECT(!recv(2, &h, NULL));
	EXPECT_EQ(used_of(1, 0)[1], used1); /* nowhere to put them yet */
	EXPECT_EQ(vms[1].vsock.owed, 3);
	EXPECT_EQ(live_streams(), 3);
	drain(1, QNUM);
	hold_rx[1] = 0;
	/* two buffers: two RSTs, one still owed */
	post_rx(1, 0);
	post_rx(1, 1);
	wr(1, 0x050, 0);
	EXPECT_EQ(vms[1].vsock.owed, 1);
	post_rx(1, 2);
	wr(1, 0x050, 0);
	EXPECT_EQ(vms[1].vsock.owed, 0);
	u32 seen = 0;
	for (u32 i = 0; i < 3; i++) {
		if (!EXPECT(recv_op(1, OP_RST, &h)))
			break;
		EXPECT_EQ(h.src_cid, 3);
		seen |= h.src_port == 1024 && h.dst_port == 5000 ? 1u :
			h.src_port == 1025 && h.dst_port == 5001 ? 2u :
			h.src_port == 7000 && h.dst_port == 2000 ? 4u : 8u;
	}
	EXPECT_EQ(seen, 7);
	EXPECT(!recv(1, &h, NULL));
	EXPECT_EQ(live_streams(), 0);
	EXPECT_EQ(rd(1, 0x070), STATUS_UP);
	if (how == VM_STOP) {
		EXPECT_EQ(vms[0].state, VM_OFF);
		send(1, 3, 2001, 7000, OP_REQUEST, NULL, 0);
		EXPECT(got_rst(1, 3, 7000, 2001));
		EXPECT(strstr(fake.out, "vm vm1: vsock: connect to 3:7000 refused: no VM there is up"));
		return;
	}
	driver_up(0);
	connect_pair(0, 1024, 1, 5000);
	echo(0, 1024, 1, 5000);
	connect_pair(1, 2000, 0, 7000);
	echo(1, 2000, 0, 7000);
}

TEST(device_reset_rsts_every_stream)
{
	goes_away(DEVICE_RESET);
}

TEST(vm_reset_rsts_every_stream)
{
	goes_away(VM_RESET);
}

TEST(vm_stop_rsts_every_stream)
{
	goes_away(VM_STOP);
}

/* Resets on both sides before the RST could go: what is owed to a VM that resets is dropped. */
TEST(owed_rst_dropped_when_its_receiver_resets)
{
	struct hdr h;
	three_up();
	hold_rx[1] = 1;
	fill_rx(1, QNUM, 0, 1024, 5000);
	wr(0, 0x070, 0);
	EXPECT_EQ(vms[1].vsock.owed, 1);
	wr(1, 0x070, 0);
	hold_rx[1] = 0;
	EXPECT_EQ(vms[1].vsock.owed, 0);
	EXPECT_EQ(live_streams(), 0);
	driver_up(1);
	EXPECT(!recv(1, &h, NULL));
	EXPECT(got_rst(2, 4, 2000, 6000)); /* vm1's reset: its stream with vm2 */
}

/* A receiver with no rx buffer holds the sender's tx queue, every packet behind the first
 * too, until it posts buffers and notifies. */
TEST(receiver_without_rx_stalls_sender)
{
	struct hdr h;
	u8 got[8];
	three_up();
	hold_rx[1] = 1;
	fill_rx(1, QNUM, 0, 1024, 5000);
	drain(1, QNUM);
	hold_rx[1] = 0;
	u16 tx_used = used_of(0, 1)[1];
	send(0, 4, 1024, 5000, OP_RW, "one", 3);
	send(0, 4, 1024, 5000, OP_RW, "two", 3);
	send(0, 5, 1, 1, OP_REQUEST, NULL, 0); /* would be refused: waits all the same */
	EXPECT_EQ(used_of(0, 1)[1], tx_used);
	EXPECT(vms[0].vsock.stalled && vms[0].vsock.waiting_on == 1);
	EXPECT(!recv(0, &h, NULL));
	/* posting without a notification is not enough */
	post_rx(1, 0);
	EXPECT_EQ(used_of(0, 1)[1], tx_used);
	wr(1, 0x050, 0);
	EXPECT_EQ(used_of(0, 1)[1], tx_used + 1);
	EXPECT(recv(1, &h, got) && EXPECT(!memcmp(got, "one", 3))); /* reposts one */
	wr(1, 0x050, 0);
	EXPECT_EQ(used_of(0, 1)[1], tx_used + 3);
	EXPECT(recv(1, &h, got) && EXPECT(!memcmp(got, "two", 3)));
	EXPECT(got_rst(0, 5, 1, 1));
	EXPECT(!vms[0].vsock.stalled);
}

/* A packet that is refused while its sender has no rx buffer for the RST: the sender's tx
 * queue waits for its own rx buffers. */
TEST(refusal_waits_for_senders_rx)
{
	struct hdr h;
	three_up();
	hold_rx[0] = 1;
	fill_rx(0, QNUM, 1, 5000, 1024);
	drain(0, QNUM);
	hold_rx[0] = 0;
	u16 tx_used = used_of(0, 1)[1];
	send(0, 4, 999, 5000, OP_RW, "x", 1); /* no such stream */
	send(0, 4, 1024, 5000, OP_RW, "y", 1);
	EXPECT_EQ(used_of(0, 1)[1], tx_used);
	EXPECT(vms[0].vsock.stalled && vms[0].vsock.waiting_on == 0);
	EXPECT(!recv(1, &h, NULL));
	post_rx(0, 0);
	wr(0, 0x050, 0);
	EXPECT_EQ(used_of(0, 1)[1], tx_used + 2);
	EXPECT(got_rst(0, 4, 5000, 999));
	EXPECT(recv_op(1, OP_RW, &h));
}

TEST(stream_table_full)
{
	struct hdr h;
	three_up();
	allow(0, 4, PVB_PORT_ANY);
	for (u32 i = 1; i < VSOCK_STREAMS; i++) { /* one is open already */
		send(0, 4, 3000 + i, 5000, OP_REQUEST, NULL, 0);
		EXPECT(recv_op(1, OP_REQUEST, &h));
	}
	next_second();
	out_clear();
	send(0, 4, 4000, 5000, OP_REQUEST, NULL, 0);
	EXPECT(got_rst(0, 4, 5000, 4000));
	EXPECT(!recv(1, &h, NULL));
	EXPECT_STR(fake.out, "pv: warn: vm vm0: vsock: connect to 4:5000 refused: too many streams"
			     "\r\n");
	/* vm1 may still open its own; vm0 again once one closes */
	send(1, 5, 2001, 6000, OP_REQUEST, NULL, 0);
	EXPECT(recv_op(2, OP_REQUEST, &h));
	send(0, 4, 3001, 5000, OP_RST, NULL, 0);
	EXPECT(recv_op(1, OP_RST, &h));
	send(0, 4, 4000, 5000, OP_REQUEST, NULL, 0);
	EXPECT(recv_op(1, OP_REQUEST, &h));
}

static void send_hdr(u32 vm, struct hdr h)
{
	u32 i = tx_slot[vm]++ % QNUM;
	u64 buf = RAM_BASE + TXBUF_OFF + 0x800u * i;
	memcpy(gpa(vm, buf), &h, sizeof(h));
	*desc_of(vm, 1, i) = (struct desc){ buf, (u32)sizeof(h), 0, 0 };
	offer(vm, 1, (u16)i);
	wr(vm, 0x050, 1);
}

TEST(spoofed_source_or_type_gets_rst)
{
	struct hdr h;
	three_up();
	/* vm0 pretends to be vm2 on vm2's stream with vm1 */
	send_hdr(0, (struct hdr){ .src_cid = 5, .dst_cid = 4, .src_port = 6000, .dst_port = 2000,
				  .type = 1, .op = OP_RW });
	EXPECT(got_rst(0, 4, 2000, 6000));
	EXPECT(!recv(1, &h, NULL));
	EXPECT_STR(fake.out, "pv: warn: vm vm0: vsock: bad source 5 or type 1\r\n");
	/* a spoofed RST is dropped, with no answer */
	send_hdr(0, (struct hdr){ .src_cid = 5, .dst_cid = 4, .src_port = 6000, .dst_port = 2000,
				  .type = 1, .op = OP_RST });
	EXPECT(!recv(0, &h, NULL) && !recv(1, &h, NULL));
	echo(1, 2000, 2, 6000);
	/* SEQPACKET (2) on the open stream */
	next_second();
	out_clear();
	send_hdr(0, (struct hdr){ .src_cid = 3, .dst_cid = 4, .src_port = 1024, .dst_port = 5000,
				  .type = 2, .op = OP_RW });
	EXPECT(got_rst(0, 4, 5000, 1024));
	EXPECT(!recv(1, &h, NULL));
	EXPECT_STR(fake.out, "pv: warn: vm vm0: vsock: bad source 3 or type 2\r\n");
	/* the streams are untouched */
	echo(0, 1024, 1, 5000);
	echo(1, 2000, 2, 6000);
}

TEST(response_only_from_the_asked_end)
{
	struct hdr h;
	three_up();
	allow(0, 4, 5005);
	send(0, 4, 1030, 5005, OP_REQUEST, NULL, 0);
	EXPECT(recv_op(1, OP_REQUEST, &h));
	/* the initiator answers its own request */
	send(0, 4, 1030, 5005, OP_RESPONSE, NULL, 0);
	EXPECT(got_rst(0, 4, 5005, 1030));
	EXPECT(!recv(1, &h, NULL));
	/* RW before the RESPONSE, from either end */
	send(0, 4, 1030, 5005, OP_RW, "early", 5);
	EXPECT(got_rst(0, 4, 5005, 1030));
	send(1, 3, 5005, 1030, OP_RW, "early", 5);
	EXPECT(got_rst(1, 3, 1030, 5005));
	send(1, 3, 5005, 1030, OP_CREDIT_UPDATE, NULL, 0);
	EXPECT(got_rst(1, 3, 1030, 5005));
	EXPECT(!recv(0, &h, NULL) && !recv(1, &h, NULL));
	/* the stream is still asked for: the right end's RESPONSE opens it */
	send(1, 3, 5005, 1030, OP_RESPONSE, NULL, 0);
	EXPECT(recv_op(0, OP_RESPONSE, &h));
	echo(0, 1030, 1, 5005);
	/* a second RESPONSE on an open stream */
	send(1, 3, 5005, 1030, OP_RESPONSE, NULL, 0);
	EXPECT(got_rst(1, 3, 1030, 5005));
	/* a REQUEST on it again, from either end */
	send(0, 4, 1030, 5005, OP_REQUEST, NULL, 0);
	EXPECT(got_rst(0, 4, 5005, 1030));
	send(1, 3, 5005, 1030, OP_REQUEST, NULL, 0);
	EXPECT(got_rst(1, 3, 1030, 5005));
	echo(0, 1030, 1, 5005);
	EXPECT(!recv(0, &h, NULL) && !recv(1, &h, NULL));
}

/* A sender stalled half-way through a packet must not be able to change what the hypervisor
 * already sent: its header and buffers are read again when it resumes. */
TEST(stalled_packet_changed_by_its_sender)
{
	static u8 big[6000];
	struct hdr h;
	three_up();
	hold_rx[1] = 1;
	fill_rx(1, QNUM - 1, 0, 1024, 5000);
	u64 b = RAM_BASE + BIG_OFF;
	struct hdr t = { .src_cid = 3, .dst_cid = 4, .src_port = 1024, .dst_port = 5000,
			 .len = sizeof(big), .type = 1, .op = OP_RW };
	memcpy(gpa(0, b), &t, sizeof(t));
	memcpy(gpa(0, b) + sizeof(t), big, sizeof(big));
	struct desc d[] = { { b, 44 + sizeof(big), 0, 0 } };
	tx_chain(0, d, 1);
	EXPECT(vms[0].vsock.stalled);
	EXPECT_EQ(vms[0].vsock.sent, 0x800 - 44); /* one rx buffer's worth */
	/* now it says the packet is short, and so is its buffer */
	t.len = 10;
	memcpy(gpa(0, b), &t, sizeof(t));
	desc_of(0, 1, 0)->len = 44 + 10;
	out_clear();
	drain(1, QNUM);
	hold_rx[1] = 0;
	repost_all(1);
	EXPECT(rd(0, 0x070) & NEEDS_RESET);
	EXPECT_STR(fake.out,
		   "pv: warn: vm vm0: virtio-vsock: queue 1: bad packet; device needs reset\r\n");
	EXPECT(got_rst(1, 3, 1024, 5000));
	EXPECT(!recv(1, &h, NULL));
}

/* ---- the management service at CID 2 (hv/core/manage.c, docs/manage.md) ---- */

#include <pv/arch.h>
#include <pv/manage.h>

#define MPORT 1500u /* the manager's end */

/* vm connects to the service from port sport; true when the service answered RESPONSE. */
static bool mgmt_connect(u32 vm, u32 sport, u32 dport)
{
	struct hdr h;
	send(vm, PVM_CID, sport, dport, OP_REQUEST, NULL, 0);
	if (!recv(vm, &h, NULL))
		return false;
	EXPECT_EQ(h.src_cid, PVM_CID);
	EXPECT_EQ(h.dst_port, sport);
	if (h.op == OP_RESPONSE)
		EXPECT_EQ(h.buf_alloc, sizeof(struct pvm_req)); /* room for one request */
	return h.op == OP_RESPONSE;
}

/* One request on vm's stream, carried out as sched_next would; its answer in out (the status,
 * or 99 when none came), the payload in payload. */
static s32 mgmt_ask(u32 vm, u32 op, const char *name, u32 arg, u8 *payload, u32 *len)
{
	struct pvm_req q = { .magic = PVM_MAGIC, .op = op, .arg = arg };
	strncpy(q.name, name, sizeof(q.name));
	send(vm, PVM_CID, MPORT, PVM_PORT, OP_RW, &q, sizeof(q));
	manage_run();
	static u8 got[PVM_RESP_MAX];
	u32 n = 0;
	struct hdr h;
	while (recv(vm, &h, got + n)) {
		if (h.op != OP_RW)
			return 98;
		n += h.len;
	}
	struct pvm_resp r;
	if (n < sizeof(r))
		return 99;
	memcpy(&r, got, sizeof(r));
	EXPECT_EQ(r.magic, PVM_MAGIC);
	EXPECT_EQ(r.op, op);
	EXPECT_EQ(n, sizeof(r) + r.len);
	if (payload)
		memcpy(payload, got + sizeof(r), r.len);
	if (len)
		*len = r.len;
	return r.status;
}

/* vm0 manages vm1 and vm2; vm1 nothing. */
static void managed_three(void)
{
	bundle(3);
	tb.h.vms[0].manages = 0x6;
	EXPECT_EQ(create(), 3);
	for (u32 i = 0; i < 3; i++)
		driver_up(i);
	manage_todo = 0;
}

TEST(manage_only_with_the_right_and_on_its_port)
{
	struct hdr h;
	managed_three();
	out_clear();
	EXPECT(!mgmt_connect(1, MPORT, PVM_PORT)); /* it manages nothing: RST */
	EXPECT(strstr(fake.out, "vm vm1: vsock: connect to 2:700 refused: not allowed by its policy"));
	EXPECT_EQ(vms[1].stat.vsock_refused, 1);
	EXPECT(!mgmt_connect(0, MPORT, PVM_PORT + 1)); /* another port */
	EXPECT(mgmt_connect(0, MPORT, PVM_PORT));
	EXPECT(!mgmt_connect(0, MPORT + 1, PVM_PORT)); /* one stream at a time */
	EXPECT(strstr(fake.out, "vm vm0: manage: second stream refused"));
	u8 p[PVM_RESP_MAX];
	u32 n;
	EXPECT_EQ(mgmt_ask(0, PVM_LIST, "", 0, p, &n), PVM_OK);
	EXPECT_EQ(n, 2 * sizeof(struct pvm_vm));
	struct pvm_vm *v = (struct pvm_vm *)p;
	EXPECT_STR(v[0].name, "vm1");
	EXPECT_STR(v[1].name, "vm2");
	EXPECT_EQ(v[0].state, PVM_RUNNING);
	EXPECT_EQ(v[0].cid, 4);
	EXPECT_EQ(v[0].vcpus, vms[1].vcpu_count);
	EXPECT(!recv(1, &h, NULL) && !recv(2, &h, NULL));
}

TEST(manage_refuses_malformed_requests_and_goes_on)
{
	struct hdr h;
	managed_three();
	EXPECT(mgmt_connect(0, MPORT, PVM_PORT));
	struct pvm_req q = { .magic = 0x12345678, .op = PVM_LIST };
	send(0, PVM_CID, MPORT, PVM_PORT, OP_RW, &q, sizeof(q));
	manage_run();
	EXPECT(recv(0, &h, NULL) && h.op == OP_RW && h.len == sizeof(struct pvm_resp));
	EXPECT_EQ(mgmt_ask(0, 99, "vm1", 0, NULL, NULL), PVM_E_OP);
	EXPECT_EQ(mgmt_ask(0, 0, "vm1", 0, NULL, NULL), PVM_E_OP);
	EXPECT_EQ(mgmt_ask(0, PVM_STOP, "nosuch", 0, NULL, NULL), PVM_E_NO_VM);
	EXPECT_EQ(mgmt_ask(0, PVM_STOP, "", 0, NULL, NULL), PVM_E_NO_VM);
	q = (struct pvm_req){ .magic = PVM_MAGIC, .op = PVM_STOP };
	memcpy(q.name, "vm1\0x", 5); /* something after the NUL */
	send(0, PVM_CID, MPORT, PVM_PORT, OP_RW, &q, sizeof(q));
	manage_run();
	EXPECT(recv(0, &h, NULL) && h.op == OP_RW);
	EXPECT_EQ(vms[1].state, VM_RUNNING);
	memset(q.name, 'v', sizeof(q.name)); /* no NUL */
	send(0, PVM_CID, MPORT, PVM_PORT, OP_RW, &q, sizeof(q));
	manage_run();
	EXPECT(recv(0, &h, NULL) && h.op == OP_RW);
	out_clear();
	EXPECT_EQ(mgmt_ask(0, PVM_STOP, "vm0", 0, NULL, NULL), PVM_E_DENIED); /* not itself */
	EXPECT(strstr(fake.out, "vm vm0: manage: stop vm0 refused: not allowed"));
	EXPECT_EQ(vms[0].state, VM_RUNNING);
	EXPECT_EQ(mgmt_ask(0, PVM_RESUME, "vm1", 0, NULL, NULL), PVM_E_STATE);
	EXPECT_EQ(mgmt_ask(0, PVM_SET_CPUS, "vm1", 0, NULL, NULL), PVM_E_ARG);
	EXPECT_EQ(mgmt_ask(0, PVM_SET_CPUS, "vm1", 0x80000000u, NULL, NULL), PVM_E_ARG);
	/* a request in two packets */
	q = (struct pvm_req){ .magic = PVM_MAGIC, .op = PVM_LIST };
	send(0, PVM_CID, MPORT, PVM_PORT, OP_RW, &q, 10);
	manage_run();
	EXPECT(!recv(0, &h, NULL)); /* not whole yet */
	send(0, PVM_CID, MPORT, PVM_PORT, OP_RW, (u8 *)&q + 10, sizeof(q) - 10);
	manage_run();
	EXPECT(recv(0, &h, NULL) && h.op == OP_RW && h.len == 16 + 2 * sizeof(struct pvm_vm));
	/* more than one request before its answer: the stream is reset, nothing is done */
	u8 two[2 * sizeof(q)];
	q.op = PVM_STOP;
	strcpy(q.name, "vm1");
	memcpy(two, &q, sizeof(q));
	memcpy(two + sizeof(q), &q, sizeof(q));
	out_clear();
	send(0, PVM_CID, MPORT, PVM_PORT, OP_RW, two, sizeof(two));
	manage_run();
	EXPECT(recv_op(0, OP_RST, &h));
	EXPECT(strstr(fake.out, "vm vm0: manage: request overrun: stream reset"));
	EXPECT_EQ(vms[1].state, VM_RUNNING);
	/* the stream is gone: what comes on it gets an RST from the port it was sent to */
	send(0, PVM_CID, MPORT, PVM_PORT, OP_RW, &q, sizeof(q));
	EXPECT(got_rst(0, PVM_CID, PVM_PORT, MPORT));
	manage_run();
	EXPECT_EQ(vms[1].state, VM_RUNNING);
	/* a credit request is answered; a shutdown ends it */
	EXPECT(mgmt_connect(0, MPORT, PVM_PORT));
	send(0, PVM_CID, MPORT, PVM_PORT, 7 /* CREDIT_REQUEST */, NULL, 0);
	EXPECT(recv_op(0, OP_CREDIT_UPDATE, &h));
	EXPECT_EQ(h.buf_alloc, sizeof(q));
	send(0, PVM_CID, MPORT, PVM_PORT, OP_RW, &q, 5);
	send(0, PVM_CID, MPORT, PVM_PORT, OP_SHUTDOWN, NULL, 0);
	EXPECT(recv_op(0, OP_RST, &h));
	manage_run();
	EXPECT(!recv(0, &h, NULL));
	EXPECT_EQ(vms[1].state, VM_RUNNING);
}

TEST(manage_lifecycle_pause_stop_start_reset)
{
	managed_three();
	EXPECT(mgmt_connect(0, MPORT, PVM_PORT));
	u8 p[PVM_RESP_MAX];
	u32 n;
	struct pvm_info *in = (struct pvm_info *)p;
	EXPECT_EQ(mgmt_ask(0, PVM_PAUSE, "vm1", 0, NULL, NULL), PVM_OK);
	EXPECT_EQ(vms[1].state, VM_PAUSED);
	EXPECT_EQ(mgmt_ask(0, PVM_PAUSE, "vm1", 0, NULL, NULL), PVM_E_STATE);
	EXPECT_EQ(mgmt_ask(0, PVM_INFO, "vm1", 0, p, &n), PVM_OK);
	EXPECT_EQ(n, sizeof(*in) + vms[1].vcpu_count * sizeof(struct pvm_vcpu));
	EXPECT_EQ(in->vm.state, PVM_PAUSED);
	EXPECT_EQ(in->starts, 1);
	EXPECT_EQ(in->freq, FAKE_TIMER_FREQ);
	EXPECT_EQ(mgmt_ask(0, PVM_RESUME, "vm1", 0, NULL, NULL), PVM_OK);
	EXPECT_EQ(vms[1].state, VM_RUNNING);
	/* stop: its RAM zeroed, its streams closed */
	memset(gpa(1, RAM_BASE + 0x1000), 0x5a, 0x1000);
	EXPECT_EQ(mgmt_ask(0, PVM_STOP, "vm1", 0, NULL, NULL), PVM_OK);
	EXPECT_EQ(vms[1].state, VM_OFF);
	u8 zero[0x1000] = { 0 };
	EXPECT(!memcmp(gpa(1, RAM_BASE + 0x1000), zero, sizeof(zero)));
	EXPECT_EQ(mgmt_ask(0, PVM_STOP, "vm1", 0, NULL, NULL), PVM_E_STATE);
	EXPECT_EQ(mgmt_ask(0, PVM_RESET, "vm1", 0, NULL, NULL), PVM_E_STATE);
	EXPECT_EQ(mgmt_ask(0, PVM_INFO, "vm1", 0, p, &n), PVM_OK);
	EXPECT_EQ(in->vm.state, PVM_OFF);
	EXPECT_EQ(in->uptime_ticks, 0);
	EXPECT_EQ(mgmt_ask(0, PVM_START, "vm1", 0, NULL, NULL), PVM_OK);
	EXPECT_EQ(vms[1].state, VM_RUNNING);
	EXPECT_EQ(vms[1].vcpus[0].power, VCPU_ON_PENDING);
	EXPECT_EQ(mgmt_ask(0, PVM_START, "vm1", 0, NULL, NULL), PVM_E_STATE);
	EXPECT_EQ(mgmt_ask(0, PVM_INFO, "vm1", 0, p, &n), PVM_OK);
	EXPECT_EQ(in->starts, 2);
	/* reset from paused: a clean boot */
	EXPECT_EQ(mgmt_ask(0, PVM_PAUSE, "vm1", 0, NULL, NULL), PVM_OK);
	memset(gpa(1, RAM_BASE + 0x1000), 0x5a, 0x1000);
	EXPECT_EQ(mgmt_ask(0, PVM_RESET, "vm1", 0, NULL, NULL), PVM_OK);
	EXPECT_EQ(vms[1].state, VM_RUNNING);
	EXPECT(!memcmp(gpa(1, RAM_BASE + 0x1000), zero, sizeof(zero)));
	EXPECT_EQ(mgmt_ask(0, PVM_SET_CPUS, "vm1", 1, NULL, NULL), PVM_OK);
	EXPECT_EQ(vms[1].vcpus[0].allowed, 1);
	EXPECT_EQ(vms[1].vcpus[0].cpu, 0);
	/* the log has every operation */
	EXPECT_EQ(mgmt_ask(0, PVM_LOG, "", 0, p, &n), PVM_OK);
	struct pvm_log *l = (struct pvm_log *)p;
	EXPECT(n > sizeof(*l));
	EXPECT_EQ(l->from, l->first);
	p[n < sizeof(p) ? n : sizeof(p) - 1] = 0;
	EXPECT(strstr((char *)(l + 1), "vm vm1: stop by vm0") ||
	       l->next - l->first > PVM_LOG_CHUNK);
}

/* Test (e)'s core: cycles leave no trace in what the hypervisor holds. */
TEST(manage_200_cycles_leak_nothing)
{
	struct hdr h;
	managed_three();
	allow(2, 3, 5000);
	EXPECT(mgmt_connect(0, MPORT, PVM_PORT));
	u32 tables = arch_s2_free();
	for (u32 i = 0; i < 200; i++) {
		EXPECT_EQ(mgmt_ask(0, PVM_STOP, "vm1", 0, NULL, NULL), PVM_OK);
		EXPECT_EQ(mgmt_ask(0, PVM_START, "vm1", 0, NULL, NULL), PVM_OK);
		EXPECT_EQ(mgmt_ask(0, PVM_RESET, "vm1", 0, NULL, NULL), PVM_OK);
	}
	EXPECT_EQ(arch_s2_free(), tables);
	EXPECT_EQ(vms[1].starts, 401);
	/* the others never noticed */
	EXPECT(!recv(2, &h, NULL));
	EXPECT_EQ(vms[2].state, VM_RUNNING);
	EXPECT_EQ(mgmt_ask(0, PVM_LIST, "", 0, NULL, NULL), PVM_OK);
}
