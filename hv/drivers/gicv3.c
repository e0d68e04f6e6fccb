/* gicv3.c: the board's GICv3 as the hypervisor uses it (GICv3 architecture spec, IHI 0069). */
#include <pv/gic.h>
#include <board.h>
#include "sysreg.h"

#define GICD_CTLR 0x0
#define GICD_CTLR_RWP BIT(31)
#define GICD_CTLR_ARE BIT(4)
#define GICD_CTLR_GRP1 BIT(1)
#define GICR_WAKER 0x14
#define GICR_WAKER_SLEEP BIT(1)
#define GICR_WAKER_CHILDREN_ASLEEP BIT(2)
#define GICR_SGI_BASE 0x10000
#define GICR_IGROUPR0 (GICR_SGI_BASE + 0x80)
#define GICR_ISENABLER0 (GICR_SGI_BASE + 0x100)
#define GICR_IPRIORITYR (GICR_SGI_BASE + 0x400)

static volatile u32 *reg32(u64 base, u64 off)
{
	return (volatile u32 *)(uintptr_t)(base + off);
}

/* With the board's security disabled (no EL3), ARE and Group 1 are all there is (12.8). */
void gic_init_dist(void)
{
	*reg32(PLAT_GICD_BASE, GICD_CTLR) = GICD_CTLR_ARE | GICD_CTLR_GRP1;
	while (*reg32(PLAT_GICD_BASE, GICD_CTLR) & GICD_CTLR_RWP)
		;
}

/* QEMU virt lays out one redistributor per core, in core order. */
void gic_init_cpu(u32 cpu)
{
	u64 rd = PLAT_GICR_BASE + cpu * PLAT_GICR_STRIDE;
	*reg32(rd, GICR_WAKER) &= ~(u32)GICR_WAKER_SLEEP;
	while (*reg32(rd, GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP)
		;
	*reg32(rd, GICR_IGROUPR0) = ~0u;
	*reg32(rd, GICR_IPRIORITYR + SGI_KICK) = 0x80;
	*reg32(rd, GICR_ISENABLER0) = 1u << SGI_KICK;
	/* ICC_SRE_EL2: system registers on, and Enable lets EL1 use its (virtual) interface. */
	write_sysreg(icc_sre_el2, 0xf);
	isb();
	write_sysreg(icc_pmr_el1, 0xff);
	write_sysreg(icc_igrpen1_el1, 1);
	isb();
}

void gic_send_sgi(u32 cpu, u32 intid)
{
	dsb(ish); /* what the kicked core should see is visible before the SGI */
	write_sysreg(icc_sgi1r_el1, ((u64)intid << 24) | (1ull << (cpu & 15)));
	isb();
}

u32 gic_ack(void)
{
	u32 intid = (u32)read_sysreg(icc_iar1_el1);
	__asm__ volatile("dsb sy" ::: "memory");
	return intid;
}

void gic_eoi(u32 intid)
{
	write_sysreg(icc_eoir1_el1, intid);
	isb();
}
