/* debug.h: a vCPU's own debug registers (hv/arch/aarch64/sysreg_trap.c, docs/abi.md), kept in
 * its struct arch_vcpu. Here rather than in the AArch64 header so the fake architecture's vCPU
 * carries them too and the host fuzz build of the trap code (tests/fuzz) drives them. */
#ifndef PV_DEBUG_H
#define PV_DEBUG_H

#include <pv/types.h>

/* The breakpoints and watchpoints a guest may have at most: what every Cortex-A core has. */
#define DBG_BRPS 6u
#define DBG_WRPS 4u

struct vcpu_debug {
	u8 live;             /* a debug user: r goes to the core */
	u8 oslk;             /* OSLSR_EL1.OSLK: its OS lock */
	u64 mdscr;           /* MDSCR_EL1 as it wrote it; the core's lacks SS, KDE, MDE while locked */
	u64 r[4][DBG_BRPS];  /* DBGBVR, DBGBCR, DBGWVR, DBGWCR <n>_EL1 */
};

#endif
