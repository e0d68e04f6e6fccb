/* bundle.c: re-checking the boot bundle pvpack made before EL2 relies on any of it. */
#include <pv/bundle.h>
#include <pv/bundle_check.h>
#include <pv/string.h>
#include <board.h>

/* pvpack validated the config, but the bundle crossed a loader and storage to get here: every
 * offset, size and address EL2 uses is checked again, with no arithmetic that can wrap. */
const char *bundle_check_header(const u8 *b, u64 size)
{
	const struct pvb_header *h = (const struct pvb_header *)b;
	if (size < sizeof(*h))
		return "smaller than its header";
	if (h->magic != PVB_MAGIC)
		return "bad magic (not a pocketvisor bundle)";
	if (h->version != PVB_VERSION)
		return "unsupported version";
	if (h->header_size != sizeof(*h))
		return "header size mismatch";
	if (h->total_size > size || h->total_size > PLAT_BUNDLE_MAX_SIZE)
		return "larger than what was loaded";
	if (h->vm_count == 0 || h->vm_count > PVB_MAX_VMS)
		return "VM count out of range";
	return NULL;
}

static bool blob_ok(const struct pvb_header *h, const struct pvb_vm *vm, const struct pvb_blob *b)
{
	if (b->size == 0)
		return true;
	return range_contains(0, h->total_size, b->offset, b->size) &&
	       range_contains(vm->ram_base, vm->ram_size, b->load, b->size);
}

const char *bundle_check_vm(const struct pvb_header *h, u32 i)
{
	const struct pvb_vm *vm = &h->vms[i];
	if (strnlen(vm->name, PVB_NAME_SIZE) - 1 >= PVB_NAME_SIZE - 1) /* empty, or no NUL */
		return "bad name";
	if (!IS_ALIGNED(vm->ram_base | vm->ram_size, MiB(2)) || vm->ram_size == 0 ||
	    !range_contains(0, PLAT_GUEST_IPA_LIMIT, vm->ram_base, vm->ram_size))
		return "RAM not 2 MiB aligned or outside the guest-physical space";
	if (vm->ram_base < PLAT_GUEST_DEV_END && PLAT_GUEST_DEV_BASE < vm->ram_base + vm->ram_size)
		return "RAM overlaps the virtual devices";
	if (vm->vcpu_count == 0 || vm->vcpu_count > PVB_MAX_VCPUS)
		return "vCPU count out of range";
	/* A firmware VM's image is its code flash bank, mapped from the bundle page by page. */
	const struct pvb_blob *img = &vm->image;
	bool fw = vm->flags & PVB_VM_FIRMWARE;
	if (img->size == 0 || !blob_ok(h, vm, &vm->dtb) || !blob_ok(h, vm, &vm->initrd) ||
	    (fw ? !range_contains(0, h->total_size, img->offset, img->size) ||
		  img->offset % PVB_ALIGN || img->load || img->size > PVB_FLASH_BANK ||
		  vm->ram_base < 2 * PVB_FLASH_BANK
		: !blob_ok(h, vm, img)))
		return "a payload lies outside the bundle, its flash bank or the VM's RAM";
	if (fw ? vm->entry >= img->size : !range_contains(vm->ram_base, vm->ram_size, vm->entry, 4))
		return "entry point outside its image or RAM";
	if (vm->cid && (vm->cid < PVB_CID_FIRST_VM || vm->cid == 0xffffffffu))
		return "reserved vsock CID";
	for (u32 j = 0; j < i; j++)
		if (vm->cid && h->vms[j].cid == vm->cid)
			return "vsock CID used twice";
	for (u32 v = 0; v < vm->vcpu_count; v++)
		if (vm->vcpu_pin[v] != PVB_NO_PIN && vm->vcpu_pin[v] >= PLAT_CPU_COUNT)
			return "vCPU pinned to a core the board does not have";
	return NULL;
}

bool bundle_uses_board(const u8 *b, u64 size)
{
	if (bundle_check_header(b, size))
		return false;
	const struct pvb_header *h = (const struct pvb_header *)b;
	for (u32 i = 0; i < h->vm_count; i++) {
		const struct pvb_vm *vm = &h->vms[i];
		if (vm->net_flags & PVB_NET_UPLINK || vm->flags & PVB_VM_COUNTERS)
			return true;
		for (u32 d = 0; d < PVB_MAX_DISKS; d++)
			if (vm->disks[d].part[0])
				return true;
	}
	return false;
}
