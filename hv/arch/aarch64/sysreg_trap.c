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
/* ID_AA64DFR0_EL1: the debug version, the breakpoints and watchpoints guests get (dbg_count)
 * and the core's context-aware ones; the PMU only for a VM allowed it; no trace, SPE or double
 * lock (DoubleLock 0xf = none). */
#define DFR0_KEEP (ID_FIELD(0) | ID_FIELD(28))
#define DFR0_PMU ID_FIELD(8)
#define DFR0_NO_DOUBLELOCK ID_FIELD(36)
/* ID_AA64MMFR0_EL1.PARange: the VM's 32-bit IPA space (VTCR_EL2.T0SZ), not the core's PA. */
#define MMFR0_PARANGE ID_FIELD(0)

/* op0=3, op1=0, CRn=0, CRm=1..7: the AArch32 ones (CRm 1..3) read as zero, since a VM has no
 * AArch32; reserved encodings read as zero too (D17.2, "ID register" encodings). */
static __attribute__((noinline)) u64 id_reg(const struct vcpu *vcpu, u32 crm, u32 op2)
{
	switch (crm << 3 | op2) {
	case 4 << 3 | 0: return (read_sysreg(id_aa64pfr0_el1) & ~PFR0_HIDE) | PFR0_SET;
	case 4 << 3 | 1: return read_sysreg(s3_0_c0_c4_1) & PFR1_KEEP;
	case 5 << 3 | 0:
		return (read_sysreg(id_aa64dfr0_el1) &
			(DFR0_KEEP | (vcpu->vm->cfg->flags & PVB_VM_PMU ? DFR0_PMU : 0))) |
		       DFR0_NO_DOUBLELOCK | (u64)(dbg_count(false) - 1) << 12 |
		       (u64)(dbg_count(true) - 1) << 20;
	case 6 << 3 | 0: return read_sysreg(id_aa64isar0_el1);
	case 6 << 3 | 1: return read_sysreg(id_aa64isar1_el1);
	case 6 << 3 | 2: return read_sysreg(s3_0_c0_c6_2);
	case 7 << 3 | 0: return read_sysreg(id_aa64mmfr0_el1) & ~MMFR0_PARANGE;
	case 7 << 3 | 1: return read_sysreg(id_aa64mmfr1_el1);
	case 7 << 3 | 2: return read_sysreg(s3_0_c0_c7_2);
	default: return 0;
	}
}

/* Debug registers (op0=2, D13.3). Every access traps (MDCR_EL2.TDA, TDOSA, TDRA) and is
 * answered from the vCPU's own copy (struct arch_vcpu), so the copy is always the truth and
 * putting a vCPU away saves nothing. The first DBGB/WCR write that enables a breakpoint or
 * watchpoint, or MDSCR_EL1 write that turns on software step, debug exceptions at EL1 or
 * monitor debug (SS, KDE, MDE), makes the vCPU a debug user (dbg_live): from then on its
 * breakpoints and watchpoints are written to the core whenever it is loaded and after each
 * such write. Other vCPUs never have SS, KDE or MDE set on the core, so whatever a debug user
 * left in the comparators cannot fire for them, and their switch does not grow. Guests get the
 * core's breakpoints and watchpoints up to DBG_BRPS and DBG_WRPS (ID_AA64DFR0_EL1 says how
 * many); the match-at-EL2 bit (HMC) is kept clear. The OS lock is per vCPU, locked at reset
 * as on a cold core, and works by keeping SS, KDE and MDE off on the core while it is locked
 * (which stops the same debug events; the core's own lock stays open, cpu.c); OSLSR_EL1
 * reports it (OSLM = 0b10). The rest (DCC, claim tags, OS double lock, power control, MDRAR)
 * reads as zero and ignores writes. */
#define MDSCR_EL1 SYSREG_ENC(2, 0, 0, 2, 2)
#define MDSCR_SS BIT(0)
#define MDSCR_KDE BIT(13)
#define MDSCR_MDE BIT(15)
#define MDSCR_GUEST (MDSCR_SS | BIT(12) | MDSCR_KDE | MDSCR_MDE) /* SS, TDCC, KDE, MDE */
#define OSLAR_EL1 SYSREG_ENC(2, 0, 1, 0, 4)
#define OSLSR_EL1 SYSREG_ENC(2, 0, 1, 1, 4)
#define OSLSR_OSLM_IMPLEMENTED 0x8u
#define DBG_CTRL_E BIT(0)
#define DBG_CTRL_HMC BIT(13)

u32 dbg_count(bool watch)
{
	u32 n = (u32)FIELD(read_sysreg(id_aa64dfr0_el1), watch ? 23 : 15, watch ? 20 : 12) + 1;
	u32 max = watch ? DBG_WRPS : DBG_BRPS;
	return n < max ? n : max;
}

#define DBG_PAIR(n) \
	case n + 1: \
		write_sysreg(dbgbvr##n##_el1, a->dbg.r[0][n]); \
		write_sysreg(dbgbcr##n##_el1, a->dbg.r[1][n]);
#define DBG_WPAIR(n) \
	case n + 1: \
		write_sysreg(dbgwvr##n##_el1, a->dbg.r[2][n]); \
		write_sysreg(dbgwcr##n##_el1, a->dbg.r[3][n]);

/* Case labels fall through: n breakpoints load n..1. */
void dbg_load(const struct arch_vcpu *a)
{
	switch (dbg_count(false)) {
	DBG_PAIR(5) __attribute__((fallthrough));
	DBG_PAIR(4) __attribute__((fallthrough));
	DBG_PAIR(3) __attribute__((fallthrough));
	DBG_PAIR(2) __attribute__((fallthrough));
	DBG_PAIR(1) __attribute__((fallthrough));
	default:
		DBG_PAIR(0)
	}
	switch (dbg_count(true)) {
	DBG_WPAIR(3) __attribute__((fallthrough));
	DBG_WPAIR(2) __attribute__((fallthrough));
	DBG_WPAIR(1) __attribute__((fallthrough));
	default:
		DBG_WPAIR(0)
	}
	isb();
}
_Static_assert(DBG_BRPS == 6 && DBG_WRPS == 4, "one case per register dbg_load switches");

static void dbg_live(struct arch_vcpu *a)
{
	a->dbg.live = 1;
	dbg_load(a);
}

/* False for a register this VM does not have: UNDEF, as on a core with fewer. */
static bool debug_reg(struct arch_vcpu *a, u32 enc, bool read, u64 *val)
{
	u32 crm = SYSREG_CRM(enc), op2 = SYSREG_OP2(enc);
	if ((enc & ~SYSREG_ENC(0, 0, 0, 15, 7)) == SYSREG_ENC(2, 0, 0, 0, 0) && op2 >= 4) {
		u32 kind = op2 - 4; /* BVR, BCR, WVR, WCR */
		if (crm >= dbg_count(kind >= 2))
			return false;
		u64 *r = &a->dbg.r[kind][crm];
		if (read) {
			*val = *r;
			return true;
		}
		*r = kind & 1 ? (u32)*val & ~DBG_CTRL_HMC : *val;
		if (a->dbg.live || (kind & 1 && (*r & DBG_CTRL_E)))
			dbg_live(a);
		return true;
	}
	if (enc == OSLAR_EL1 && !read)
		a->dbg.oslk = *val & 1;
	else if (enc == MDSCR_EL1 && !read)
		a->dbg.mdscr = *val & MDSCR_GUEST;
	else {
		*val = enc == MDSCR_EL1   ? a->dbg.mdscr
		       : enc == OSLSR_EL1 ? OSLSR_OSLM_IMPLEMENTED | (u64)a->dbg.oslk << 1
					  : 0;
		return true;
	}
	u64 on = a->dbg.oslk ? a->dbg.mdscr & ~(MDSCR_SS | MDSCR_KDE | MDSCR_MDE) : a->dbg.mdscr;
	write_sysreg(mdscr_el1, on);
	if (!a->dbg.live && (on & (MDSCR_SS | MDSCR_KDE | MDSCR_MDE)))
		dbg_live(a);
	return true;
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
		if (!debug_reg(&vcpu->arch, enc, read, &val))
			return false;
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
