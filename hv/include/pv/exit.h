/* exit.h: guest exits: the entry path calls vcpu_exit, which returns the vCPU to run next. */
#ifndef PV_EXIT_H
#define PV_EXIT_H

/* Why the guest left, as entry.S passes it (the one definition, shared with the assembly). */
#define EXIT_RESUME 0 /* exit_light: done, back to the guest */
#define EXIT_SYNC 1
#define EXIT_IRQ 2
#define EXIT_FIQ 3
#define EXIT_SERROR 4
#define EXIT_AARCH32 5
#define EXIT_HANDLED 6 /* a trap exit_light handled, which still needs the full exit path */

#ifndef __ASSEMBLY__
#include <pv/types.h>

struct vcpu;

struct vcpu *vcpu_exit(struct vcpu *vcpu, u64 kind);
/* Handles a synchronous exit (trap) of the current vCPU; arch code dispatches by class. */
void trap_sync(struct vcpu *vcpu);
/* Handles a trap from the guest's live state, with only x0..x18, x30 and pc saved: EXIT_RESUME
 * when it is done and the guest resumes at once, else the kind of full exit to take (EXIT_SYNC: not handled
 * here; EXIT_HANDLED: handled, but the scheduler or the vGIC must run). */
u64 exit_light(struct vcpu *vcpu);
/* Handles physical interrupts taken while cur ran, or while the core idled (cur NULL), from
 * intid, already acknowledged (GIC_SPURIOUS: none), until none is pending. */
void irq_handle(struct vcpu *cur, u32 intid);
/* A core's first guest entry. */
_Noreturn void schedule_first(void);

#endif /* __ASSEMBLY__ */
#endif
