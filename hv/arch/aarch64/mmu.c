/* mmu.c: the hypervisor's own (EL2) translation: 4 GiB identity map, devices below RAM. */
#include <pv/types.h>
#include "aarch64.h"
#include "sysreg.h"

/* One level-1 table of 1 GiB blocks (T0SZ=32 starts the walk at level 1, D8.2.6). The first
 * gigabyte holds the board's devices, the rest is RAM. */
static u64 el2_l1[512] __attribute__((aligned(4096)));

#define TCR_EL2_RES1 (BIT(31) | BIT(23))
#define TCR_T0SZ(n) ((u64)(n))
#define TCR_IRGN0_WB (1ull << 8)
#define TCR_ORGN0_WB (1ull << 10)
#define TCR_SH0_INNER (3ull << 12)
#define TCR_PS_40BIT (2ull << 16)
#define MAIR_DEVICE_NGNRNE 0x00ull
#define MAIR_NORMAL_WB 0xffull
#define SCTLR_EL2_RES1 0x30c50830ull
#define SCTLR_M BIT(0)
#define SCTLR_C BIT(2)
#define SCTLR_SA BIT(3)
#define SCTLR_I BIT(12)

/* Runs on each core with its MMU still off; the primary fills the table first, and the others
 * only start after the primary's PSCI CPU_ON, which orders the stores before them. */
void mmu_enable(u64 cpu)
{
	if (cpu == 0) {
		el2_l1[0] = 0 | PTE_BLOCK | PTE_AF | S1_ATTR_DEVICE | PTE_XN;
		for (u64 i = 1; i < 4; i++)
			el2_l1[i] = (i << 30) | PTE_BLOCK | PTE_AF | PTE_SH_INNER | S1_ATTR_NORMAL;
		dsb(sy);
	}
	write_sysreg(mair_el2, MAIR_DEVICE_NGNRNE | (MAIR_NORMAL_WB << 8));
	write_sysreg(tcr_el2, TCR_EL2_RES1 | TCR_T0SZ(32) | TCR_IRGN0_WB | TCR_ORGN0_WB |
				      TCR_SH0_INNER | TCR_PS_40BIT);
	write_sysreg(ttbr0_el2, (u64)(uintptr_t)el2_l1);
	isb();
	__asm__ volatile("tlbi alle2\n dsb nsh" ::: "memory");
	write_sysreg(sctlr_el2, SCTLR_EL2_RES1 | SCTLR_M | SCTLR_C | SCTLR_SA | SCTLR_I);
	isb();
}
