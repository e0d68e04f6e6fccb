/* gic.c: a GICv3 driver for our guests: group 1 only, system-register CPU interface. */
#include "guest.h"

/* Register offsets (GICv3/v4 architecture spec IHI 0069, 12.9 distributor, 12.10-12.11
 * redistributor RD_base and SGI_base frames). */
#define GICD_CTLR 0x0000u
#define GICD_IGROUPR 0x0080u
#define GICD_ISENABLER 0x0100u
#define GICD_ICENABLER 0x0180u
#define GICD_IPRIORITYR 0x0400u
#define GICD_ICFGR 0x0c00u            /* 2 bits per INTID; the upper one set = edge-triggered */
#define GICD_IROUTER 0x6000u
#define GICD_CTLR_ENABLE_G1 (1u << 1) /* EnableGrp1 when DS = 1 (one security state) */
#define GICD_CTLR_ARE (1u << 4)
#define GICD_CTLR_RWP (1u << 31)

#define GICR_FRAME_SIZE 0x20000ul     /* RD_base + SGI_base, 64 KiB each (no VLPIs) */
#define GICR_SGI_BASE 0x10000ul
#define GICR_TYPER_LO 0x0008u
#define GICR_TYPER_HI 0x000cu         /* Affinity_Value: Aff0 in bits [7:0] of this half */
#define GICR_TYPER_LAST (1u << 4)
#define GICR_WAKER 0x0014u
#define GICR_WAKER_SLEEP (1u << 1)    /* ProcessorSleep */
#define GICR_WAKER_ASLEEP (1u << 2)   /* ChildrenAsleep */
#define GICR_IGROUPR0 0x0080u
#define GICR_ISENABLER0 0x0100u
#define GICR_ICENABLER0 0x0180u
#define GICR_IPRIORITYR 0x0400u

#define ICC_SGI1R_INTID_SHIFT 24
#define ICC_SGI1R_IRM (1ul << 40)     /* route to every PE but this one */
#define POLL_LIMIT 10000000u

/* Each access is one plain ldr/str with no writeback, so a hypervisor gets a full syndrome
 * (ESR ISV) and can emulate it; 64-bit registers are accessed as two 32-bit halves, which the
 * spec allows for every register used here. */
static uint32_t rd32(uint64_t a)
{
	uint32_t v;
	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static void wr32(uint64_t a, uint32_t v)
{
	__asm__ volatile("str %w0, [%1]" : : "r"(v), "r"(a) : "memory");
}

static void wr8(uint64_t a, uint8_t v)
{
	__asm__ volatile("strb %w0, [%1]" : : "r"(v), "r"(a) : "memory");
}

uint32_t gicd_read(uint32_t off) { return rd32(GICD_BASE + off); }
void gicd_write(uint32_t off, uint32_t v) { wr32(GICD_BASE + off, v); }

static uint64_t rd_base[GUEST_MAX_VCPUS]; /* vCPU n's RD_base, found by gic_cpu_init() on n */

static bool wait_clear(uint64_t addr, uint32_t mask)
{
	for (unsigned i = 0; i < POLL_LIMIT; i++)
		if (!(rd32(addr) & mask))
			return true;
	return false;
}

void gic_init(void)
{
	/* Disable, then set affinity routing and group 1: ARE may only change while disabled. */
	gicd_write(GICD_CTLR, 0);
	if (!wait_clear(GICD_BASE + GICD_CTLR, GICD_CTLR_RWP))
		printf("gic: GICD_CTLR.RWP stuck\n");
	gicd_write(GICD_CTLR, GICD_CTLR_ARE);
	for (unsigned n = 1; n < IRQ_MAX / 32; n++) {
		gicd_write(GICD_IGROUPR + 4 * n, ~0u);
		gicd_write(GICD_ICENABLER + 4 * n, ~0u);
	}
	gicd_write(GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1);
	wait_clear(GICD_BASE + GICD_CTLR, GICD_CTLR_RWP);
}

/* The frames are in an unspecified order; TYPER names the PE each one serves. */
static uint64_t find_rd(unsigned aff0)
{
	for (uint64_t rd = GICR_BASE;; rd += GICR_FRAME_SIZE) {
		if ((rd32(rd + GICR_TYPER_HI) & 0xffu) == aff0)
			return rd;
		if (rd32(rd + GICR_TYPER_LO) & GICR_TYPER_LAST)
			return 0;
	}
}

bool gic_cpu_init(void)
{
	unsigned me = cpu_id();
	uint64_t rd = find_rd(me);

	if (!rd) {
		printf("gic: no redistributor for vcpu %u\n", me);
		return false;
	}
	rd_base[me] = rd;
	wr32(rd + GICR_WAKER, rd32(rd + GICR_WAKER) & ~GICR_WAKER_SLEEP);
	if (!wait_clear(rd + GICR_WAKER, GICR_WAKER_ASLEEP))
		printf("gic: vcpu %u redistributor does not wake\n", me);
	wr32(rd + GICR_SGI_BASE + GICR_IGROUPR0, ~0u);
	wr32(rd + GICR_SGI_BASE + GICR_ICENABLER0, ~0u);

	/* SRE (with DFB, DIB) first: the other ICC registers exist only with SRE = 1. */
	__asm__ volatile("msr icc_sre_el1, %0\n\tisb" : : "r"(7ul));
	__asm__ volatile("msr icc_pmr_el1, %0" : : "r"(0xfful));
	__asm__ volatile("msr icc_igrpen1_el1, %0\n\tisb" : : "r"(1ul));
	return true;
}

void gic_enable(unsigned intid, uint8_t prio)
{
	unsigned me = cpu_id();

	if (intid < 32) {
		uint64_t sgi = rd_base[me] + GICR_SGI_BASE;
		wr8(sgi + GICR_IPRIORITYR + intid, prio);
		wr32(sgi + GICR_ISENABLER0, 1u << intid);
		return;
	}
	wr8(GICD_BASE + GICD_IPRIORITYR + intid, prio);
	wr32(GICD_BASE + GICD_IROUTER + 8 * intid, me); /* Aff0 = me, IRM = 0; upper half stays 0 */
	gicd_write(GICD_ISENABLER + 4 * (intid / 32), 1u << (intid % 32));
}

/* Only while the SPI is disabled does the spec promise the change takes (IHI 0069 12.9.9). */
void gic_set_edge(unsigned intid)
{
	uint32_t off = GICD_ICFGR + 4 * (intid / 16), bit = 2u << (2 * (intid % 16));

	if (intid >= 32)
		gicd_write(off, gicd_read(off) | bit);
}

void gic_disable(unsigned intid)
{
	if (intid < 32)
		wr32(rd_base[cpu_id()] + GICR_SGI_BASE + GICR_ICENABLER0, 1u << intid);
	else
		gicd_write(GICD_ICENABLER + 4 * (intid / 32), 1u << (intid % 32));
}

/* ICC_SGI1R_EL1 (Arm ARM D17.2.46): INTID [27:24], TargetList [15:0] of Aff0 values 0..15 in
 * affinity cluster 0 (Aff1..3 = 0), which covers every vCPU a VM can have. */
void gic_send_sgi(unsigned intid, unsigned vcpu)
{
	uint64_t v = ((uint64_t)intid << ICC_SGI1R_INTID_SHIFT) | (1ul << vcpu);
	__asm__ volatile("msr icc_sgi1r_el1, %0\n\tisb" : : "r"(v) : "memory");
}

void gic_send_sgi_others(unsigned intid)
{
	uint64_t v = ((uint64_t)intid << ICC_SGI1R_INTID_SHIFT) | ICC_SGI1R_IRM;
	__asm__ volatile("msr icc_sgi1r_el1, %0\n\tisb" : : "r"(v) : "memory");
}
