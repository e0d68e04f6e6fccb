/* exit.h: guest exits: the entry path calls vcpu_exit, which returns the vCPU to run next. */
#ifndef PV_EXIT_H
#define PV_EXIT_H

#include <pv/types.h>

struct vcpu;

enum exit_kind { EXIT_SYNC, EXIT_IRQ, EXIT_FIQ, EXIT_SERROR, EXIT_AARCH32 };

struct vcpu *vcpu_exit(struct vcpu *vcpu, u64 kind);
/* Handles a synchronous exit (trap) of the current vCPU; arch code dispatches by class. */
void trap_sync(struct vcpu *vcpu);
/* Handles physical interrupts taken while cur ran, or while the core idled (cur NULL). */
void irq_handle(struct vcpu *cur);
/* A core's first guest entry. */
_Noreturn void schedule_first(void);

#endif
