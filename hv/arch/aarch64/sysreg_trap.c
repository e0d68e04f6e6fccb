/* sysreg_trap.c: the system registers a guest reaches only through EL2 (EC 0x18): the ID
 * registers (HCR_EL2.TID3), the debug registers (MDCR_EL2.TDA, TDOSA, TDRA) and set/way cache
 * maintenance (HCR_EL2.TSW). Each VM sees the core minus what it cannot use, and nothing a
 * guest writes here reaches another VM. */
#include <pv/arch.h>
#include <pv/vm.h>
#include "aarch64.h"
#include "sysreg.h"

#define ID_FIELD(shift) (0xfull << (shift))

/* ID_AA64PFR0_EL1 (D17.2.64): EL0 and EL1 AArch64 only (a VM may not use AArch32); no SVE,
 * RAS, secure EL2, MPAM or activity monitors, which it could not use or would share. */
#define PFR0_HIDE (ID_FIELD(0) | ID_FIELD(4) | ID_FIELD(28) | ID_FIELD(32) | ID_FIELD(36) | \
		   ID_FIELD(40) | ID_FIELD(44))
#define PFR0_SET (0x1ull | 0x1ull << 4)
/* ID_AA64PFR1_EL1: BTI and SSBS work at EL1; no MTE, SME, RAS or MPAM fractions. */
#define PFR1_KEEP (ID_FIELD(0) | ID_FIELD(4))
/* ID_AA64DFR0_EL1: the debug version and comparator counts (breakpoints read as zero, below);
 * the PMU only for a VM allowed it; no trace, SPE or double lock (DoubleLock 0xf = none). */
#define DFR0_KEEP (ID_FIELD(0) | ID_FIELD(12) | ID_FIELD(20) | ID_FIELD(28))
#define DFR0_PMU ID_FIELD(8)
#define DFR0_NO_DOUBLELOCK ID_FIELD(36)
/* ID_AA64MMFR0_EL1.PARange: the VM's 32-bit IPA space (VTCR_EL2.T0SZ), not the core's PA. */
#define MMFR0_PARANGE ID_FIELD(0)

/* op0=3, op1=0, CRn=0, CRm=1..7: the AArch32 ones (CRm 1..3) read as zero, since a VM has no
 * AArch32; reserved encodings read as zero too (D17.2, "ID register" encodings). */
static u64 id_reg(const struct vcpu *vcpu, u32 crm, u32 op2)
{
	switch (crm << 3 | op2) {
	case 4 << 3 | 0: return (read_sysreg(id_aa64pfr0_el1) & ~PFR0_HIDE) | PFR0_SET;
	case 4 << 3 | 1: return read_sysreg(s3_0_c0_c4_1) & PFR1_KEEP;
	case 5 << 3 | 0:
		return (read_sysreg(id_aa64dfr0_el1) &
			(DFR0_KEEP | (vcpu->vm->cfg->flags & PVB_VM_PMU ? DFR0_PMU : 0))) |
		       DFR0_NO_DOUBLELOCK;
	case 6 << 3 | 0: return read_sysreg(id_aa64isar0_el1);
	case 6 << 3 | 1: return read_sysreg(id_aa64isar1_el1);
	case 6 << 3 | 2: return read_sysreg(s3_0_c0_c6_2);
	case 7 << 3 | 0: return read_sysreg(id_aa64mmfr0_el1) & ~MMFR0_PARANGE;
	case 7 << 3 | 1: return read_sysreg(id_aa64mmfr1_el1);
	case 7 << 3 | 2: return read_sysreg(s3_0_c0_c7_2);
	default: return 0;
	}
}

/* Debug registers (op0=2): breakpoints, watchpoints, the OS lock and the debug comms channel
 * read as zero and ignore writes, so a guest can neither watch another VM nor be watched; only
 * MDSCR_EL1 is real, switched with the vCPU, and of it only software step (SS), the DCC trap
 * (TDCC) and debug exceptions at EL1 (KDE): MDE, which would arm the core's breakpoint and
 * watchpoint registers (never the guest's: their values are whatever they were), stays off.
 * OSLSR_EL1 says the OS lock is implemented (OSLM = 0b10) and unlocked. */
#define MDSCR_EL1 SYSREG_ENC(2, 0, 0, 2, 2)
#define MDSCR_GUEST (BIT(0) | BIT(12) | BIT(13)) /* SS, TDCC, KDE */
#define OSLSR_EL1 SYSREG_ENC(2, 0, 1, 1, 4)
#define OSLSR_OSLM_IMPLEMENTED 0x8u

static u64 debug_reg(u32 enc, bool read, u64 val)
{
	if (enc == MDSCR_EL1) {
		if (read)
			return read_sysreg(mdscr_el1);
		write_sysreg(mdscr_el1, val & MDSCR_GUEST);
		return 0;
	}
	return read && enc == OSLSR_EL1 ? OSLSR_OSLM_IMPLEMENTED : 0;
}

/* DC ISW, CSW, CISW (op0=1, CRn=7, CRm 6, 10, 14, op2=2): done as clean and invalidate by
 * set/way on the real cache, which loses nothing of another VM's (an invalidate alone would). */
static bool set_way(u32 enc, u64 val)
{
	u32 crm = SYSREG_CRM(enc);
	if ((enc & ~SYSREG_ENC(0, 0, 0, 15, 0)) != SYSREG_ENC(1, 0, 7, 0, 2) ||
	    (crm != 6 && crm != 10 && crm != 14))
		return false;
	dc_cisw(val);
	return true;
}

bool sysreg_emulate(struct vcpu *vcpu, u32 enc, bool read, u32 rt)
{
	u64 val = vcpu_reg(vcpu, rt);
	switch (SYSREG_OP0(enc)) {
	case 1:
		return !read && set_way(enc, val);
	case 2:
		val = debug_reg(enc, read, val);
		break;
	case 3:
		if ((enc & ~SYSREG_ENC(0, 0, 0, 15, 7)) != SYSREG_ENC(3, 0, 0, 0, 0) ||
		    SYSREG_CRM(enc) == 0 || !read)
			return false;
		val = id_reg(vcpu, SYSREG_CRM(enc), SYSREG_OP2(enc));
		break;
	default:
		return false;
	}
	if (read)
		vcpu_set_reg(vcpu, rt, val);
	return true;
}
