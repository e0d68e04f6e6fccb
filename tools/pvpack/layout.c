/* layout.c: the top of a VM's RAM (PV-time area, DTB, initrd) and the image kept clear of it. */
#include <unistd.h>

#include "pvpack.h"

struct region {
	const char *what;
	uint64_t start, end;
};

static void check_initrd_file(const struct node_ctx *c, struct vm_source *src, uint64_t *size)
{
	const char *path;
	*size = 0;
	if (node_string(c, "initrd", 0, &path) != PROP_OK)
		return;
	int fd = file_open(c, "initrd", path, size);
	if (fd >= 0) {
		close(fd);
		src->initrd_path = path;
	}
}

/* The initrd goes right below the DTB, page aligned, as high as it can: the image grows up from
 * the RAM base, so this leaves it the most room. */
static int place_initrd(const struct node_ctx *c, struct pvb_vm *vm, struct vm_source *src,
			uint64_t size)
{
	uint64_t room = vm->dtb.load - vm->ram_base;
	if (size > room) {
		diag_report(c->diag, c->path,
			    "initrd: \"%s\" is %llu bytes but RAM below the DTB at 0x%llx holds only %llu",
			    src->initrd_path, (unsigned long long)size,
			    (unsigned long long)vm->dtb.load, (unsigned long long)room);
		return 0;
	}
	vm->initrd.load = (vm->dtb.load - size) & ~(PVPACK_PAGE - 1);
	vm->initrd.size = size;
	return 1;
}

void layout_check(const struct node_ctx *c, struct pvb_vm *vm, struct vm_source *src,
		  int ram_ok, int image_ok)
{
	uint64_t initrd_size;
	check_initrd_file(c, src, &initrd_size);
	if (!ram_ok)
		return;
	uint64_t ram_end = vm->ram_base + vm->ram_size; /* RAM is at least 2 MiB: all this fits */
	struct region top[3] = {
		{ "the hypervisor's PV-time area", ram_end - PVB_PVTIME_SIZE, ram_end },
		{ "the DTB", ram_end - PVB_PVTIME_SIZE - PVPACK_DTB_SIZE,
		  ram_end - PVB_PVTIME_SIZE },
		{ "the initrd", 0, 0 },
	};
	vm->dtb.load = top[1].start;
	if (vm->flags & PVB_VM_FIRMWARE) { /* at the RAM base, where QEMU puts it for firmware */
		vm->dtb.load = vm->ram_base;
		return;
	}
	if (src->initrd_path && place_initrd(c, vm, src, initrd_size)) {
		top[2].start = vm->initrd.load;
		top[2].end = vm->initrd.load + vm->initrd.size;
	}
	if (!image_ok)
		return;
	for (int i = 0; i < 3; i++)
		if (vm->image.load < top[i].end && top[i].start < src->image_end)
			diag_report(c->diag, c->path, "image: [0x%llx, 0x%llx) overlaps %s [0x%llx, "
				    "0x%llx)", (unsigned long long)vm->image.load,
				    (unsigned long long)src->image_end, top[i].what,
				    (unsigned long long)top[i].start, (unsigned long long)top[i].end);
}
