/* exit.h: guest exits: the entry path calls vcpu_exit, which returns the vCPU to run next. */
#ifndef PV_EXIT_H
#define PV_EXIT_H

/* Why the guest left, as entry.S passes it (the one definition, shared with the assembly). */
#define EXIT_SYNC 0
#define EXIT_IRQ 1
#define EXIT_FIQ 2
#define EXIT_SERROR 3
#define EXIT_AARCH32 4

#ifndef __ASSEMBLY__
#include <pv/types.h>

struct vcpu;

struct vcpu *vcpu_exit(struct vcpu *vcpu, u64 kind);
/* Handles a synchronous exit (trap) of the current vCPU; arch code dispatches by class. */
void trap_sync(struct vcpu *vcpu);
/* Handles physical interrupts taken while cur ran, or while the core idled (cur NULL). */
void irq_handle(struct vcpu *cur);
/* A core's first guest entry. */
_Noreturn void schedule_first(void);

#endif /* __ASSEMBLY__ */
#endif
