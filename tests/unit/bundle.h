/* bundle.h: a boot bundle built in memory, for the host tests that create VMs from one
 * (test_core, test_virtio, test_vsock_model, test_storage). */
#ifndef TEST_BUNDLE_H
#define TEST_BUNDLE_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <pv/bundle.h>
#include <pv/types.h>

#define TEST_RAM_BASE 0x40000000ull
#define TEST_RAM_SIZE MiB(2)

struct test_bundle {
	struct pvb_header h;
	u8 payload[4 * 4096]; /* VM i's image: the i-th 4 KiB */
};

/* nvms VMs "vm0", "vm1", ... of one vCPU on core 0, 2 MiB of RAM at TEST_RAM_BASE each, entry at
 * the start of RAM; no devices. Tests add what they exercise. */
static inline void test_bundle_init(struct test_bundle *b, u32 nvms)
{
	memset(b, 0, sizeof(*b));
	b->h = (struct pvb_header){ .magic = PVB_MAGIC, .version = PVB_VERSION,
				    .header_size = sizeof(b->h), .vm_count = nvms,
				    .total_size = sizeof(*b) };
	for (u32 i = 0; i < nvms; i++) {
		struct pvb_vm *vm = &b->h.vms[i];
		snprintf(vm->name, sizeof(vm->name), "vm%u", i);
		vm->ram_base = TEST_RAM_BASE;
		vm->ram_size = TEST_RAM_SIZE;
		vm->entry = TEST_RAM_BASE;
		vm->image = (struct pvb_blob){ offsetof(struct test_bundle, payload) + 4096 * (i % 4),
					       4096, TEST_RAM_BASE };
		vm->vcpu_count = 1;
		vm->cpu_mask = 1;
		memset(vm->vcpu_pin, PVB_NO_PIN, sizeof(vm->vcpu_pin));
	}
}

#endif
