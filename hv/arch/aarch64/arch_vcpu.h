/* arch_vcpu.h: the AArch64 vCPU state kept while a vCPU is not loaded on a core. */
#ifndef ARCH_VCPU_H
#define ARCH_VCPU_H

#include <pv/debug.h>
#include <pv/types.h>

/* EL1 (and EL0) registers switched per vCPU. One table, so switch, reset and snapshot walk the
 * same list (sysregs.c keeps the matching accessors). */
enum el1_reg {
	EL1_SCTLR, EL1_TTBR0, EL1_TTBR1, EL1_TCR, EL1_MAIR, EL1_AMAIR, EL1_VBAR, EL1_CONTEXTIDR,
	EL1_ESR, EL1_FAR, EL1_AFSR0, EL1_AFSR1, EL1_PAR, EL1_ELR, EL1_SPSR, EL1_SP_EL1, EL1_SP_EL0,
	EL1_TPIDR_EL0, EL1_TPIDRRO_EL0, EL1_TPIDR_EL1, EL1_CPACR, EL1_CSSELR, EL1_CNTKCTL,
	EL1_MDSCR, EL1_REG_COUNT
};

struct arch_vcpu {
	u64 el1[EL1_REG_COUNT];
	u64 vmpidr;
	u64 ich_vmcr, ich_ap0r0, ich_ap1r0; /* the virtual CPU interface's own state */
	u64 cntv_ctl, cntv_cval;            /* the virtual timer, off the core while put */
	bool vtimer_active;                 /* its physical PPI was active when put */
	struct vcpu_debug dbg;              /* its debug registers (pv/debug.h) */
	__uint128_t fp_q[32];
	u64 fpsr, fpcr;
};

#endif
