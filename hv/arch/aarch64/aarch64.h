/* aarch64.h: functions shared inside the AArch64 port only. */
#ifndef ARCH_AARCH64_H
#define ARCH_AARCH64_H

#include <pv/types.h>

void mmu_enable(u64 cpu);
void arch_zero(void *p, u64 size);
void s2_init_cpu(void);
u64 arch_smc(u64 fid, u64 a1, u64 a2, u64 a3);
void secondary_entry(void);

struct vcpu;
/* A trapped system-register access with encoding enc (SYSREG_ENC) to or from Xrt that
 * sysreg_trap.c answers (ID, debug, set/way); false if it is none of those. */
bool sysreg_emulate(struct vcpu *vcpu, u32 enc, bool read, u32 rt);
/* Debug registers (sysreg_trap.c): how many breakpoints (watch = false) or watchpoints a
 * guest has, and a debug user's copy and OS lock written to the core. */
struct arch_vcpu;
u32 dbg_count(bool watch);
void dbg_load(const struct arch_vcpu *a);
_Noreturn void hv_exception(u64 kind, u64 *frame);

#endif
