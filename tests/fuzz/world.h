/* world.h: VMs built once from a small bundle, and put back exactly as built before each input,
 * for the targets that drive a running VM (fuzz_trap.c, fuzz_virtio.c). Include it from one
 * file per target. Building anew for every input would zero 2 MiB of RAM per VM each time;
 * copying the VM table back and dropping the RAM's pages (they read as zero again, as after
 * vm_create_all) costs only what the input touched. */
#ifndef FUZZ_WORLD_H
#define FUZZ_WORLD_H

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <pv/bundle.h>
#include <pv/cpu.h>
#include <pv/vm.h>
#include "fake.h"

#define WORLD_RAM_BASE 0x40000000ull
#define WORLD_RAM_SIZE MiB(2)
#define WORLD_MAX_VMS 2u

struct world_bundle {
	struct pvb_header h;
	u8 image[4096]; /* every VM's image: zeros, so RAM after the build is all zero */
};

static struct world_bundle world_tb;
static u8 *world_ram;
static size_t world_ram_size;
static struct vm world_vms[PVB_MAX_VMS];
static struct cpu world_cpus[4];
static struct fake_state world_fake;
static u32 world_vm_count;

/* nvms VMs of vcpus vCPUs each, CIDs 3, 4, ... each allowed to reach every port of the others. */
static void world_bundle_init(u32 nvms, u32 vcpus)
{
	struct pvb_header *h = &world_tb.h;
	*h = (struct pvb_header){ .magic = PVB_MAGIC, .version = PVB_VERSION,
				  .header_size = sizeof(*h), .vm_count = nvms,
				  .total_size = sizeof(world_tb) };
	for (u32 i = 0; i < nvms; i++) {
		struct pvb_vm *vm = &h->vms[i];
		snprintf(vm->name, sizeof(vm->name), "fuzz%u", i);
		vm->ram_base = WORLD_RAM_BASE;
		vm->ram_size = WORLD_RAM_SIZE;
		vm->entry = WORLD_RAM_BASE;
		vm->image = (struct pvb_blob){ offsetof(struct world_bundle, image), 4096, WORLD_RAM_BASE };
		vm->vcpu_count = vcpus;
		vm->cpu_mask = 1;
		memset(vm->vcpu_pin, PVB_NO_PIN, sizeof(vm->vcpu_pin));
		vm->cid = 3 + i;
		vm->manages = i == 0 ? 0x2 : 0; /* the first manages the second (CID 2, docs/manage.md) */
		for (u32 j = 0; j < nvms; j++)
			if (j != i)
				vm->connect[vm->rule_count++] = (struct pvb_vsock_rule){ 3 + j, PVB_PORT_ANY };
	}
}

/* Builds the VMs and keeps the state to return to; false if they cannot be built. */
static bool world_build(u32 nvms, u32 vcpus)
{
	world_ram_size = nvms * WORLD_RAM_SIZE;
	world_ram = mmap(NULL, world_ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (world_ram == MAP_FAILED)
		return false;
	world_bundle_init(nvms, vcpus);
	fake_reset();
	if (vm_create_all((const u8 *)&world_tb, sizeof(world_tb), (u64)(uintptr_t)world_ram,
			  (u64)(uintptr_t)world_ram + world_ram_size) != nvms)
		return false;
	memcpy(world_vms, vms, sizeof(vms));
	memcpy(world_cpus, cpus, sizeof(world_cpus));
	world_fake = fake;
	world_vm_count = vm_count;
	return true;
}

static void world_restore(void)
{
	madvise(world_ram, world_ram_size, MADV_DONTNEED);
	memcpy(vms, world_vms, sizeof(vms));
	memcpy(cpus, world_cpus, sizeof(world_cpus));
	fake = world_fake;
	vm_count = world_vm_count;
}

/* Guest-physical ipa of VM i as the hypervisor reaches it. */
static inline u8 *world_gpa(u32 i, u64 ipa)
{
	return (u8 *)(uintptr_t)vms[i].ram_pa.pa + (ipa - WORLD_RAM_BASE);
}

#endif
