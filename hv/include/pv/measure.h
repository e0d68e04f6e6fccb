/* measure.h: the measurement of a VM (docs/attestation.md), computed the same way by the
 * hypervisor and by `pvpack --measure`. */
#ifndef PV_MEASURE_H
#define PV_MEASURE_H

#include <pv/bundle.h>
#include <pv/crypto.h>

#define MEASURE_TAG "pocketvisor vm v1" /* hashed first, without its NUL */

/* SHA-256 over the tag, the VM's bundle entry with its payloads' offsets zeroed (where pvpack
 * happened to put them is not part of the VM), and the SHA-256 of its image, DTB and initrd.
 * The bundle has been checked (bundle_check_vm): every payload lies inside it. */
void measure_vm(const struct pvb_vm *cfg, const u8 *bundle, u8 out[SHA256_SIZE]);

#endif
