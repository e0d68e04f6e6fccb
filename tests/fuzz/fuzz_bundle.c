/* fuzz_bundle.c: the boot bundle as EL2 reads it (hv/core/bundle.c), then every VM built from
 * it (vm_create_all), from bytes that claim to be a bundle. */
#include <stdio.h>
#include <string.h>
#include <pv/bundle.h>
#include <pv/bundle_check.h>
#include <pv/vm.h>
#include "fake.h"
#include "fuzz.h"

/* Board RAM for the VMs: room for two of 2 MiB, so a bundle asking for more is refused by
 * the fit check, and zeroing it stays cheap for each input. */
#define POOL_SIZE MiB(4)

static u8 *pool;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	pool = aligned_alloc(MiB(2), POOL_SIZE);
	return pool ? 0 : -1;
}

/* The bundle gets a buffer of exactly its size, so ASan sees any read past what was loaded. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	u8 *b = malloc(size ? size : 1);
	if (!b)
		return 0;
	memcpy(b, data, size);
	fake_reset();
	if (!bundle_check_header(b, size)) {
		const struct pvb_header *h = (const struct pvb_header *)b;
		for (u32 i = 0; i < h->vm_count; i++)
			(void)bundle_check_vm(h, i);
	}
	u32 started = vm_create_all(b, size, (u64)(uintptr_t)pool, (u64)(uintptr_t)pool + POOL_SIZE);
	FUZZ_ASSERT(started <= PVB_MAX_VMS && vm_count <= PVB_MAX_VMS);
	for (u32 i = 0; i < vm_count; i++) {
		const struct vm *vm = &vms[i];
		if (vm->state != VM_RUNNING)
			continue;
		/* A started VM's RAM lies inside the board's, and was checked against the bundle. */
		FUZZ_ASSERT(vm->ram_pa.pa >= (u64)(uintptr_t)pool &&
			    vm->ram_pa.pa - (u64)(uintptr_t)pool + vm->cfg->ram_size <= POOL_SIZE);
		FUZZ_ASSERT(bundle_check_vm((const struct pvb_header *)b, i) == NULL);
	}
	free(b);
	return 0;
}
