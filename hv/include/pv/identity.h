/* identity.h: the device secret, measurements and the keys derived from them (DICE-style,
 * docs/attestation.md), and the pocketvisor SMCCC calls that hand them out (docs/abi.md). */
#ifndef PV_IDENTITY_H
#define PV_IDENTITY_H

#include <pv/types.h>

#define PV_UDS_SIZE 32u /* the device secret, as the board holds it (board.h PLAT_UDS_BASE) */

struct vcpu;

/* Vendor-specific hypervisor service calls (SMCCC owner 6). */
#define PV_CALL_UID 0x8600ff01u   /* the service's UUID in w0..w3 */
#define PV_SEAL_KEY 0xc6000001u   /* x1..x4 label, x5 its length -> x1..x4 the VM's key */
#define PV_MEASUREMENT 0xc6000002u /* x1 CID (0: the caller, 2: the hypervisor) -> x1..x4, name x5..x6 */
#define PV_E_DENIED (-3)          /* another VM's measurement without `attester;` */
#define PV_E_NO_SECRET (-4)       /* the device has no secret (not provisioned) */
#define PV_E_NO_VM (-5)           /* no VM has that CID */

/* At boot, before any VM runs: reads the device secret (PV_UDS_SIZE bytes at uds, all zero
 * when the device was not provisioned), keeps what it derives, zeroes it. */
void identity_init(u8 *uds);

/* The calls above; false if fid is not one of them. */
bool identity_call(struct vcpu *vcpu, u32 fid, s64 *ret);

#endif
