/* asm_offsets.h: struct offsets used by entry.S; vcpu.c checks each with _Static_assert. */
#ifndef ARCH_ASM_OFFSETS_H
#define ARCH_ASM_OFFSETS_H

#define VCPU_X0 0
#define VCPU_PC 248
#define VCPU_PSTATE 256
#define VCPU_HV_SP 264
#define VCPU_EXIT_IRQ 272
#define ENTRY_TIMER_INTID 27 /* PPI_VTIMER, the vGIC's timer slot */
#define STACK_SIZE 8192
#define CPU_MAX 4


#endif
