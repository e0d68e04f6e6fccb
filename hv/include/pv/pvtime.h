/* pvtime.h: paravirtualized time for guests (Arm DEN0057A): each vCPU's stolen time, the time
 * it was ready to run but waited for a core, in a 64-byte record the guest finds with the
 * SMCCC call PV_TIME_ST. Linux reads it for its steal-time accounting (`top`: st). */
#ifndef PV_PVTIME_H
#define PV_PVTIME_H

#include <pv/types.h>

struct vcpu;

#define PV_TIME_FEATURES 0xc5000020u
#define PV_TIME_ST 0xc5000021u
/* The records live in the last PVB_PVTIME_SIZE bytes of every VM's RAM, which pvpack reserves
 * in the guest device tree (bundle.h); one record per vCPU, at index vCPU id. */
#define PVTIME_RECORD_SIZE 64u

/* The PV-time SMCCC calls; false if fid is not one of them. */
bool pvtime_call(struct vcpu *vcpu, u32 fid, s64 *ret);
/* Publishes the vCPU's stolen time, if its guest asked for the record. */
void pvtime_update(struct vcpu *vcpu);

#endif
