/* aarch64.h: functions shared inside the AArch64 port only. */
#ifndef ARCH_AARCH64_H
#define ARCH_AARCH64_H

#include <pv/types.h>

void mmu_enable(u64 cpu);
void s2_init_cpu(void);
u64 arch_smc(u64 fid, u64 a1, u64 a2, u64 a3);
void secondary_entry(void);
_Noreturn void hv_exception(u64 kind, u64 *frame);

#endif
