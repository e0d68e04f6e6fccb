/* bundle.h: the boot bundle format (v1) that pvpack writes and the EL2 image reads. */
#ifndef PV_BUNDLE_H
#define PV_BUNDLE_H

#include <stdint.h>

/* Every field is little-endian. A bundle is this header followed by the payloads (images, DTBs),
 * each at an offset that is a multiple of PVB_ALIGN from the start of the bundle. The header is
 * the whole "compact config": EL2 never parses DTS. */
#define PVB_MAGIC 0x31425650u /* "PVB1" */
#define PVB_VERSION 1u
#define PVB_ALIGN 4096u
#define PVB_MAX_VMS 8u
#define PVB_MAX_VCPUS 8u
#define PVB_NAME_SIZE 16u /* including the terminating NUL */

/* A payload in the bundle, copied to guest-physical `load` before the VM starts. size 0 = none. */
struct pvb_blob {
	uint64_t offset; /* from the start of the bundle */
	uint64_t size;
	uint64_t load; /* guest-physical */
};

struct pvb_vm {
	char name[PVB_NAME_SIZE];
	uint64_t ram_base; /* guest-physical, 2 MiB aligned */
	uint64_t ram_size; /* bytes, multiple of 2 MiB */
	uint64_t entry;    /* guest-physical PC of vCPU 0 */
	struct pvb_blob image;
	struct pvb_blob dtb;    /* passed in x0 when present */
	struct pvb_blob initrd;
	uint32_t vcpu_count;
	uint32_t cpu_mask; /* physical cores its vCPUs may run on (bit n = core n) */
	uint32_t flags;    /* PVB_VM_* */
	uint32_t priority; /* larger runs first; 0 = default */
	uint8_t vcpu_pin[PVB_MAX_VCPUS]; /* core a vCPU is pinned to, or PVB_NO_PIN */
	uint32_t reserved[6];
};

#define PVB_NO_PIN 0xffu
#define PVB_VM_PMU 0x1u /* flags: the VM may use the PMU (the measurement guest) */

struct pvb_header {
	uint32_t magic;
	uint32_t version;
	uint32_t header_size; /* sizeof(struct pvb_header) */
	uint32_t vm_count;
	uint64_t total_size; /* bytes in the whole bundle */
	uint32_t reserved[2]; /* keeps the fixed part at 32 bytes, as asserted below */
	struct pvb_vm vms[PVB_MAX_VMS];
};

_Static_assert(sizeof(struct pvb_vm) == 160, "pvb_vm layout is part of the bundle ABI");
_Static_assert(sizeof(struct pvb_header) == 32 + 8 * 160, "pvb_header layout is part of the ABI");

#endif
