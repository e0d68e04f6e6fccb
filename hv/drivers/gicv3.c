/* gicv3.c: the board's GICv3 as the hypervisor uses it (GICv3 architecture spec, IHI 0069). */
#include <pv/gic.h>
#include <board.h>
#include "sysreg.h"

#define GICD_CTLR 0x0
#define GICD_CTLR_RWP BIT(31)
#define GICD_CTLR_ARE BIT(4)
#define GICD_CTLR_GRP1 BIT(1)
#define GICD_IGROUPR 0x80
#define GICD_ISENABLER 0x100
#define GICD_ICENABLER 0x180
#define GICD_ICACTIVER 0x380
#define GICD_IPRIORITYR 0x400
#define GICD_IROUTER 0x6000
#define GICR_WAKER 0x14
#define GICR_WAKER_SLEEP BIT(1)
#define GICR_WAKER_CHILDREN_ASLEEP BIT(2)
#define GICR_SGI_BASE 0x10000
#define GICR_IGROUPR0 (GICR_SGI_BASE + 0x80)
#define GICR_ISENABLER0 (GICR_SGI_BASE + 0x100)
#define GICR_ISACTIVER0 (GICR_SGI_BASE + 0x300)
#define GICR_ICACTIVER0 (GICR_SGI_BASE + 0x380)
#define GICR_IPRIORITYR (GICR_SGI_BASE + 0x400)
#define ICC_CTLR_EOIMODE BIT(1)

static volatile u32 *reg32(u64 base, u64 off)
{
	return (volatile u32 *)(uintptr_t)(base + off);
}

static u64 rd_base(u32 cpu)
{
	return PLAT_GICR_BASE + cpu * PLAT_GICR_STRIDE; /* QEMU virt: one per core, in order */
}

/* GICD_CTLR.RWP: the last write to CTLR or to an ICENABLER has taken effect (12.9.4). */
static void dist_wait(void)
{
	while (*reg32(PLAT_GICD_BASE, GICD_CTLR) & GICD_CTLR_RWP)
		;
}

/* With the board's security disabled (no EL3), ARE and Group 1 are all there is (12.8). The
 * UART's SPI goes to core 0, which hands keyboard input to the VM that has focus. */
void gic_init_dist(void)
{
	*reg32(PLAT_GICD_BASE, GICD_CTLR) = GICD_CTLR_ARE | GICD_CTLR_GRP1;
	dist_wait();
	/* Every SPI the hypervisor may take (its UART's, VMs' devices') is group 1. */
	*reg32(PLAT_GICD_BASE, GICD_IGROUPR + 4) = ~0u;
	*reg32(PLAT_GICD_BASE, GICD_IGROUPR + 8) = ~0u;
	gic_spi_set(SPI_UART, 0, true);
}

/* Deactivated first, so that after a VM reset nothing is left for its new guest to deactivate
 * (an SPI's active state is the distributor's: any core may clear it). Then, below the
 * hypervisor's PPIs in priority, routed to core cpu (whose MPIDR is Aff0 = cpu), level-sensitive
 * as it was reset, and enabled or disabled. One taken between the two is deactivated by its
 * handler, as is one taken before the disable takes effect (GICD_CTLR.RWP). */
__attribute__((noinline)) void gic_spi_set(u32 intid, u32 cpu, bool on)
{
	volatile u8 *d = (volatile u8 *)(uintptr_t)PLAT_GICD_BASE;
	volatile u32 *bits = (volatile u32 *)d + intid / 32; /* one bit per INTID */
	u32 bit = 1u << (intid % 32);
	bits[GICD_ICACTIVER / 4] = bit;
	d[GICD_IPRIORITYR + intid] = 0xa0;
	((volatile u64 *)d + intid)[GICD_IROUTER / 8] = cpu;
	bits[(on ? GICD_ISENABLER : GICD_ICENABLER) / 4] = bit;
}

void gic_init_cpu(u32 cpu)
{
	u64 rd = rd_base(cpu);
	const u32 mine = BIT(SGI_KICK) | BIT(PPI_MAINTENANCE) | BIT(PPI_HYP_TIMER) | BIT(PPI_VTIMER);
	*reg32(rd, GICR_WAKER) &= ~(u32)GICR_WAKER_SLEEP;
	while (*reg32(rd, GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP)
		;
	*reg32(rd, GICR_IGROUPR0) = ~0u;
	for (u32 i = 0; i < 32; i++)
		if (mine & BIT(i))
			*(volatile u8 *)(uintptr_t)(rd + GICR_IPRIORITYR + i) = 0x80;
	*reg32(rd, GICR_ISENABLER0) = mine;
	/* ICC_SRE_EL2: system registers on, and Enable lets EL1 use its (virtual) interface. */
	write_sysreg(icc_sre_el2, 0xf);
	isb();
	write_sysreg(icc_ctlr_el1, ICC_CTLR_EOIMODE);
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
	dsb(sy);
	return intid;
}

void gic_eoi(u32 intid)
{
	write_sysreg(icc_eoir1_el1, intid);
}

void gic_deactivate(u32 intid)
{
	write_sysreg(icc_dir_el1, intid);
	isb();
}

bool gic_ppi_take_active(u32 cpu, u32 intid)
{
	u64 rd = rd_base(cpu);
	if (!(*reg32(rd, GICR_ISACTIVER0) & BIT(intid)))
		return false;
	*reg32(rd, GICR_ICACTIVER0) = (u32)BIT(intid);
	return true;
}

void gic_ppi_set_active(u32 cpu, u32 intid)
{
	*reg32(rd_base(cpu), GICR_ISACTIVER0) = (u32)BIT(intid);
}
