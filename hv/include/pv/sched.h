/* sched.h: which vCPU a core runs next. */
#ifndef PV_SCHED_H
#define PV_SCHED_H

#include <pv/types.h>

struct vcpu;

/* Adds the vCPU to its core's run list (at VM creation). */
void sched_attach(struct vcpu *vcpu);
/* After cur's exit was handled: the vCPU this core runs now (cur itself on the fast path);
 * sleeps until there is one. cur may be NULL (a core's first pick). */
struct vcpu *sched_next(struct vcpu *cur);
/* The vCPU may have become runnable: unblock it and get its core to look. */
void sched_wake(struct vcpu *vcpu);
/* The same for each vCPU of vm in the mask (bit i = vCPU i), as vgic calls return them. */
struct vm;
void sched_wake_mask(struct vm *vm, u32 vcpus);

#endif
