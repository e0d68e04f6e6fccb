/* smccc.h: SMCCC 1.1 calls from guests (HVC or SMC) and the PSCI 1.1 function IDs. */
#ifndef PV_SMCCC_H
#define PV_SMCCC_H

#include <pv/types.h>

struct vcpu;

#define SMCCC_VERSION 0x80000000u
#define SMCCC_ARCH_FEATURES 0x80000001u
#define SMCCC_VERSION_1_1 0x10001u
#define SMCCC_NOT_SUPPORTED ((u64)-1)

#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_SUSPEND 0x84000001u
#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON 0x84000003u
#define PSCI_AFFINITY_INFO 0x84000004u
#define PSCI_MIGRATE_INFO_TYPE 0x84000006u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u
#define PSCI_FEATURES 0x8400000au
#define PSCI_64 0x40000000u /* SMC64 variant of the same call */
#define PSCI_VERSION_1_1 0x10001u

#define PSCI_SUCCESS 0
#define PSCI_NOT_SUPPORTED (-1)
#define PSCI_INVALID_PARAMETERS (-2)
#define PSCI_DENIED (-3)
#define PSCI_ALREADY_ON (-4)
#define PSCI_ON_PENDING (-5)
#define PSCI_INVALID_ADDRESS (-9)

/* Handles the call in the vCPU's x0..x3 and writes the result to x0. */
void smccc_call(struct vcpu *vcpu);
/* PSCI: returns true when fid is a PSCI function, with the result in *ret. */
bool vpsci_call(struct vcpu *vcpu, u32 fid, s64 *ret);

#endif
