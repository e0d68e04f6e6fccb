/* sysreg.h: system-register access and the EL2 register layouts we program (Arm ARM D13/D17). */
#ifndef ARCH_SYSREG_H
#define ARCH_SYSREG_H

#include <pv/types.h>

#define read_sysreg(r) ({ u64 v_; __asm__ volatile("mrs %0, " #r : "=r"(v_)); v_; })
#define write_sysreg(r, v) __asm__ volatile("msr " #r ", %0" : : "r"((u64)(v)))
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")
#define wfi() __asm__ volatile("wfi" ::: "memory")
#define sev() __asm__ volatile("sev" ::: "memory")
#define dc_cisw(setway) __asm__ volatile("dc cisw, %0" : : "r"((u64)(setway)) : "memory")

/* HCR_EL2 (D13.2.48). */
#define HCR_VM BIT(0)
#define HCR_SWIO BIT(1)
#define HCR_FMO BIT(3)
#define HCR_IMO BIT(4)
#define HCR_AMO BIT(5)
#define HCR_FB BIT(9)
#define HCR_BSU_IS (1ull << 10)
#define HCR_TWI BIT(13)
#define HCR_TWE BIT(14)
#define HCR_TID3 BIT(18)
#define HCR_TSC BIT(19)
#define HCR_TIDCP BIT(20)
#define HCR_TACR BIT(21)
#define HCR_TSW BIT(22)
#define HCR_RW BIT(31)

/* A trapped MSR/MRS/SYS (EC 0x18): its encoding op0:op1:CRn:CRm:op2 where ESR_EL2.ISS keeps it
 * (D17.2.37), so an ISS masked with SYSREG_MASK compares with these directly. */
#define SYSREG_ENC(op0, op1, crn, crm, op2) \
	((u32)(((op0) << 20) | ((op2) << 17) | ((op1) << 14) | ((crn) << 10) | ((crm) << 1)))
#define SYSREG_MASK SYSREG_ENC(3, 7, 15, 15, 7)
#define SYSREG_OP0(enc) ((u32)FIELD(enc, 21, 20))
#define SYSREG_OP2(enc) ((u32)FIELD(enc, 19, 17))
#define SYSREG_CRM(enc) ((u32)FIELD(enc, 4, 1))

/* ICH_HCR_EL2 (IHI 0069 12.4.7): the virtual CPU interface on; the underflow interrupt. */
#define ICH_HCR_EN BIT(0)
#define ICH_HCR_UIE BIT(1)

/* ESR_ELx (D13.2.37): exception class and the data-abort syndrome we decode for MMIO. */
#define ESR_EC(esr) FIELD(esr, 31, 26)
#define ESR_IL BIT(25)
#define ESR_ISS(esr) FIELD(esr, 24, 0)
#define EC_UNKNOWN 0x00
#define EC_WFX 0x01
#define EC_HVC64 0x16
#define EC_SMC64 0x17
#define EC_SYSREG 0x18
#define EC_IABT_LOW 0x20
#define EC_IABT_CUR 0x21
#define EC_DABT_LOW 0x24
#define EC_DABT_CUR 0x25
#define ESR_DABT_ISV BIT(24)
#define ESR_DABT_SAS(esr) FIELD(esr, 23, 22)
#define ESR_DABT_SSE BIT(21)
#define ESR_DABT_SRT(esr) FIELD(esr, 20, 16)
#define ESR_DABT_SF BIT(15)
#define ESR_DABT_S1PTW BIT(7)
#define ESR_DABT_WNR BIT(6)
#define ESR_FSC(esr) FIELD(esr, 5, 0)
#define FSC_SEA 0x10 /* synchronous external abort, not on a table walk */

/* SPSR / PSTATE. */
#define PSR_MODE_MASK 0xfull
#define PSR_MODE_EL0T 0x0ull
#define PSR_MODE_EL1T 0x4ull
#define PSR_MODE_EL1H 0x5ull
#define PSR_AARCH32 BIT(4)
#define PSR_DAIF (0xfull << 6)

/* Stage-2 and EL2 stage-1 descriptors, 4 KiB granule (D8.3). */
#define PTE_VALID BIT(0)
#define PTE_TABLE (BIT(0) | BIT(1))
#define PTE_BLOCK BIT(0)
#define PTE_PAGE (BIT(0) | BIT(1))
#define PTE_AF BIT(10)
#define PTE_SH_INNER (3ull << 8)
#define PTE_XN BIT(54)
#define PTE_ADDR_MASK 0x0000fffffffff000ull
#define S2_MEMATTR_NORMAL (0xfull << 2) /* outer and inner write-back */
#define S2_MEMATTR_DEVICE (0x1ull << 2) /* Device-nGnRE */
#define S2_AP_RO (1ull << 6)
#define S2_AP_RW (3ull << 6)
#define S1_ATTR_DEVICE (0ull << 2)      /* MAIR index 0 */
#define S1_ATTR_NORMAL (1ull << 2)      /* MAIR index 1 */

#endif
