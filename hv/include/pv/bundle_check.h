/* bundle_check.h: validation of a loaded boot bundle; NULL means fine, else the reason. */
#ifndef PV_BUNDLE_CHECK_H
#define PV_BUNDLE_CHECK_H

#include <pv/bundle.h>
#include <pv/types.h>

const char *bundle_check_header(const u8 *bundle, u64 size);
/* VM record i of a header that passed bundle_check_header. */
const char *bundle_check_vm(const struct pvb_header *h, u32 i);
/* Whether a VM of the bundle has a disk or an uplink, so the board's disk and NIC are looked
 * for; false for a bundle that fails bundle_check_header. */
bool bundle_uses_board(const u8 *bundle, u64 size);

#endif
