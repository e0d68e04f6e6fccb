/* image.c: a VM's image: which format the file is, and the raw format's placement. */
#include <unistd.h>

#include "pvpack.h"

static void report_outside_ram(const struct node_ctx *c, const struct pvb_vm *vm)
{
	diag_report(c->diag, c->path, "load: 0x%llx is outside RAM [0x%llx, 0x%llx)",
		    (unsigned long long)vm->image.load, (unsigned long long)vm->ram_base,
		    (unsigned long long)(vm->ram_base + vm->ram_size));
}

/* A raw image goes at `load` (default: RAM base) and must fit in RAM from there; vCPU 0 starts
 * at `entry` (default: load), which must be inside the image. */
static int place_raw(const struct node_ctx *c, const struct image_file *f, struct pvb_vm *vm,
		     struct vm_source *src, int ram_ok)
{
	uint64_t ram_end = vm->ram_base + vm->ram_size;
	vm->image.load = vm->ram_base;
	enum prop_result r = node_u64(c, "load", 0, &vm->image.load);
	int load_ok = ram_ok && r != PROP_BAD;
	if (load_ok && (vm->image.load < vm->ram_base || vm->image.load >= ram_end)) {
		report_outside_ram(c, vm);
		load_ok = 0;
	}
	uint64_t size = f ? f->size : 0;
	int fits = load_ok && f;
	if (fits && size > ram_end - vm->image.load) {
		diag_report(c->diag, c->path,
			    "image: \"%s\" is %llu bytes but RAM from 0x%llx holds only %llu",
			    f->path, (unsigned long long)size, (unsigned long long)vm->image.load,
			    (unsigned long long)(ram_end - vm->image.load));
		fits = 0;
	}

	vm->entry = vm->image.load;
	r = node_u64(c, "entry", 0, &vm->entry);
	uint64_t entry_off = vm->entry - vm->image.load; /* wraps when below load: also outside */
	if (r == PROP_OK && load_ok && size && entry_off >= size)
		diag_report(c->diag, c->path, "entry: 0x%llx is outside the image [0x%llx, 0x%llx)",
			    (unsigned long long)vm->entry, (unsigned long long)vm->image.load,
			    (unsigned long long)(vm->image.load + size));
	if (!fits)
		return 0;
	vm->image.size = size;
	file_whole(&src->image_pieces[0], size);
	src->image_piece_count = 1;
	src->image_end = vm->image.load + size;
	return 1;
}

/* A firmware VM's image is its code flash bank at 0 (load 0), executed in place from vCPU 0's
 * `entry` (default 0): raw, as a flash image is. */
static int place_firmware(const struct node_ctx *c, const struct image_file *f, struct pvb_vm *vm,
			  struct vm_source *src)
{
	if (fdt_getprop(c->fdt, c->offset, "load", NULL))
		diag_report(c->diag, c->path, "load: a firmware VM's image is its flash bank at 0x0 "
			    "(remove load)");
	if (f->size > PVB_FLASH_BANK) {
		diag_report(c->diag, c->path, "image: \"%s\" is %llu bytes but the flash bank holds "
			    "%u", f->path, (unsigned long long)f->size, PVB_FLASH_BANK);
		return 0;
	}
	vm->image.load = vm->entry = 0;
	if (node_u64(c, "entry", 0, &vm->entry) == PROP_OK && vm->entry >= f->size)
		diag_report(c->diag, c->path, "entry: 0x%llx is outside the image [0x0, 0x%llx)",
			    (unsigned long long)vm->entry, (unsigned long long)f->size);
	vm->image.size = f->size;
	file_whole(&src->image_pieces[0], f->size);
	src->image_piece_count = 1;
	src->image_end = 0; /* nothing of it in RAM */
	return 1;
}

static int read_head(const struct node_ctx *c, struct image_file *f, uint8_t *buf)
{
	f->head = buf;
	f->head_size = f->size < IMAGE_HEAD_SIZE ? (size_t)f->size : IMAGE_HEAD_SIZE;
	return file_read(c, "image", f->path, f->fd, buf, f->head_size, 0);
}

/* The format comes from the content, never the file name: Linux Image magic, ELF magic, else
 * raw. Formats that place themselves still need RAM, so without it only raw checks run. */
int image_check(const struct node_ctx *c, struct pvb_vm *vm, struct vm_source *src, int ram_ok)
{
	struct image_file f = { NULL, -1, 0, NULL, 0 };
	uint8_t head[IMAGE_HEAD_SIZE];
	if (node_string(c, "image", 1, &f.path) != PROP_OK)
		return place_raw(c, NULL, vm, src, ram_ok);
	f.fd = file_open(c, "image", f.path, &f.size);
	if (f.fd < 0 || !read_head(c, &f, head)) {
		if (f.fd >= 0)
			close(f.fd);
		return place_raw(c, NULL, vm, src, ram_ok);
	}
	int ok;
	if (vm->flags & PVB_VM_FIRMWARE && (linux_detect(&f) || elf_detect(&f))) {
		diag_report(c->diag, c->path, "image: \"%s\" is %s; a firmware VM's image is a raw "
			    "flash image", f.path, linux_detect(&f) ? "a Linux Image" : "an ELF file");
		ok = 0;
	} else if (vm->flags & PVB_VM_FIRMWARE)
		ok = place_firmware(c, &f, vm, src);
	else if (linux_detect(&f))
		ok = ram_ok && linux_place(c, &f, vm, src);
	else if (elf_detect(&f))
		ok = ram_ok && elf_place(c, &f, vm, src);
	else
		ok = place_raw(c, &f, vm, src, ram_ok);
	close(f.fd);
	if (ok)
		src->image_path = f.path;
	return ok;
}
