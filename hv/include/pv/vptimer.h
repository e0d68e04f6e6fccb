/* vptimer.h: the EL1 physical timer (CNTP_*), emulated per vCPU on PPI 30. */
#ifndef PV_VPTIMER_H
#define PV_VPTIMER_H

#include <pv/types.h>

struct vcpu;

#define VPTIMER_PPI 30u

enum vptimer_reg { VPTIMER_TVAL, VPTIMER_CTL, VPTIMER_CVAL };

/* A trapped MRS/MSR of one of the registers; *val is written or receives the value. */
void vptimer_access(struct vcpu *vcpu, enum vptimer_reg reg, bool write, u64 *val, u64 now);
/* When the timer fires, in physical counter ticks; ~0 if it cannot. */
u64 vptimer_deadline(const struct vcpu *vcpu);
/* Drives PPI 30's line from the timer's condition at time now. */
void vptimer_sync(struct vcpu *vcpu, u64 now);

#endif
