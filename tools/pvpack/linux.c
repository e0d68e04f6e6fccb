/* linux.c: placing an arm64 Linux Image by its header (Documentation/arch/arm64/booting.rst). */
#include <string.h>

#include "pvpack.h"

/* The 64-byte header, little-endian (booting.rst, "Call the kernel image"). */
#define LINUX_TEXT_OFFSET 8u
#define LINUX_IMAGE_SIZE 16u
#define LINUX_FLAGS 24u
#define LINUX_MAGIC 56u
#define LINUX_MAGIC_BYTES "ARM\x64"
#define LINUX_FLAG_BE 0x1ull       /* bit 0: kernel endianness, 1 = big-endian */
#define LINUX_FLAG_ANYWHERE 0x8ull /* bit 3: 0 = base as close as possible to the start of RAM */

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int linux_detect(const struct image_file *f)
{
	return f->head_size == IMAGE_HEAD_SIZE &&
	       memcmp(f->head + LINUX_MAGIC, LINUX_MAGIC_BYTES, 4) == 0;
}

/* The header itself, before any address is looked at. */
static int header_ok(const struct node_ctx *c, const struct image_file *f, uint64_t text_offset,
		     uint64_t image_size, uint64_t flags)
{
	const char *why = NULL;
	char buf[128];
	if (flags & LINUX_FLAG_BE) {
		why = "is a big-endian Linux Image (only little-endian ones can boot)";
	} else if (image_size == 0) {
		/* Kernels before v3.17: text_offset's endianness is unknown and image_size, which
		 * counts the bss we must keep free, is missing. */
		why = "is a Linux Image from before v3.17 (image_size is 0), which is not supported";
	} else if (image_size < f->size) {
		snprintf(buf, sizeof(buf), "is a Linux Image whose image_size %llu is smaller than "
			 "the file", (unsigned long long)image_size);
		why = buf;
	} else if (text_offset >= PVPACK_2M) {
		snprintf(buf, sizeof(buf), "is a Linux Image with text_offset 0x%llx, not below 2 MiB",
			 (unsigned long long)text_offset);
		why = buf;
	}
	if (why)
		diag_report(c->diag, c->path, "image: \"%s\" %s", f->path, why);
	return !why;
}

/* `load` is the 2 MiB aligned base (default: RAM base); the kernel starts there + text_offset.
 * Its entry point is its first byte, so `entry` would only be a second source of truth. */
static int base_ok(const struct node_ctx *c, struct pvb_vm *vm, uint64_t flags, uint64_t *base)
{
	uint64_t ram_end = vm->ram_base + vm->ram_size;
	uint64_t entry;
	int ok = 1;
	*base = vm->ram_base;
	if (node_u64(c, "entry", 0, &entry) != PROP_ABSENT) {
		diag_report(c->diag, c->path,
			    "entry: cannot be set for a Linux Image (it starts at its first byte)");
		ok = 0;
	}
	enum prop_result r = node_u64(c, "load", 0, base);
	if (r == PROP_BAD)
		return 0;
	if (*base < vm->ram_base || *base >= ram_end) {
		diag_report(c->diag, c->path, "load: 0x%llx is outside RAM [0x%llx, 0x%llx)",
			    (unsigned long long)*base, (unsigned long long)vm->ram_base,
			    (unsigned long long)ram_end);
		return 0;
	}
	if (*base % PVPACK_2M) {
		diag_report(c->diag, c->path,
			    "load: 0x%llx is not 2 MiB aligned, as a Linux Image's base must be",
			    (unsigned long long)*base);
		return 0;
	}
	/* Flag bit 3 clear: the kernel cannot reach RAM below its base through its linear map. */
	if (*base != vm->ram_base && !(flags & LINUX_FLAG_ANYWHERE)) {
		diag_report(c->diag, c->path,
			    "load: 0x%llx is above the RAM base, but this Linux Image (flags bit 3 "
			    "clear) could not use the RAM below it", (unsigned long long)*base);
		return 0;
	}
	return ok;
}

int linux_place(const struct node_ctx *c, const struct image_file *f, struct pvb_vm *vm,
		struct vm_source *src)
{
	uint64_t text_offset = le64(f->head + LINUX_TEXT_OFFSET);
	uint64_t image_size = le64(f->head + LINUX_IMAGE_SIZE);
	uint64_t flags = le64(f->head + LINUX_FLAGS);
	uint64_t base;
	int header = header_ok(c, f, text_offset, image_size, flags);
	if (!base_ok(c, vm, flags, &base) || !header)
		return 0;

	uint64_t start = base + text_offset; /* both below 4 GiB */
	uint64_t room = vm->ram_base + vm->ram_size - start;
	if (start >= vm->ram_base + vm->ram_size || image_size > room) {
		diag_report(c->diag, c->path,
			    "image: \"%s\" needs %llu bytes (image_size) at 0x%llx but RAM from there "
			    "holds only %llu", f->path, (unsigned long long)image_size,
			    (unsigned long long)start,
			    (unsigned long long)(start >= vm->ram_base + vm->ram_size ? 0 : room));
		return 0;
	}
	/* Only the file is copied: the kernel clears its own bss, which image_size counts. */
	vm->image.load = start;
	vm->image.size = f->size;
	vm->entry = start;
	file_whole(&src->image_pieces[0], f->size);
	src->image_piece_count = 1;
	src->image_end = start + image_size;
	return 1;
}
