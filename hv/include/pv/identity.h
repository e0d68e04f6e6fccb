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
#define PV_COUNTER 0xc6000003u    /* x1 counter (0..7, 8 boot count), x2 0 read / 1 add one -> x1 */
#define PV_COUNTERS 8u            /* a VM's own counters; PV_COUNTER_BOOT is the device's */
#define PV_COUNTER_BOOT 8u
#define PV_COUNTER_VMS 4u         /* VMs with `rollback-counters;`, at most (pvpack checks) */
#define PV_E_DENIED (-3)          /* no role for this (`attester;`, `rollback-counters;`) */
#define PV_E_NO_SECRET (-4)       /* the device has no secret (not provisioned) */
#define PV_E_NO_VM (-5)           /* no VM has that CID */
#define PV_E_NO_STORE (-6)        /* no hv-rpmb partition, or it does not authenticate */
#define PV_E_IO (-7)              /* the counter store's write failed: the value is unchanged */

/* At boot, before any VM runs: reads the device secret (PV_UDS_SIZE bytes at uds, all zero
 * when the device was not provisioned), keeps what it derives, zeroes it. */
void identity_init(u8 *uds);

/* HMAC(device key, label): a key of the hypervisor's own; false if not provisioned. */
bool identity_key(const char *label, u32 len, u8 out[32]);

/* Rollback counters (counters.c): blk_attach finds the hv-rpmb partition (its first sector and
 * size); counters_init reads it and counts this boot (at boot, after blk_attach); counter_call
 * is PV_COUNTER. */
extern u64 rpmb_start, rpmb_sectors;
void counters_init(void);
struct vm;
s64 counter_call(struct vm *vm, u64 *x);

/* The calls above; false if fid is not one of them. */
bool identity_call(struct vcpu *vcpu, u32 fid, s64 *ret);

#endif
