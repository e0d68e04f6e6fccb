/* image.c: a VM's image: the file can be packed, and it fits where it is loaded. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvpack.h"

/* The file's size, or 0 once the problem is reported. open + fstat rather than stat alone, so
 * an unreadable file fails here, not halfway through writing the bundle. */
static uint64_t probe(const struct node_ctx *c, const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO must not hang us */
	if (fd < 0) {
		diag_report(c->diag, c->path, "image: cannot open \"%s\": %s", path, strerror(errno));
		return 0;
	}
	struct stat st;
	int stat_err = fstat(fd, &st) < 0 ? errno : 0;
	close(fd);
	if (stat_err)
		diag_report(c->diag, c->path, "image: cannot stat \"%s\": %s", path, strerror(stat_err));
	else if (!S_ISREG(st.st_mode))
		diag_report(c->diag, c->path, "image: \"%s\" is not a regular file", path);
	else if (st.st_size == 0)
		diag_report(c->diag, c->path, "image: \"%s\" is empty", path);
	else
		return (uint64_t)st.st_size;
	return 0;
}

/* The image goes at `load` (default: RAM base) and must fit in RAM from there; vCPU 0 starts at
 * `entry` (default: load), which must be inside the image. */
static void check_placement(const struct node_ctx *c, struct pvb_vm *vm, int ram_ok,
			    const char *image)
{
	uint64_t ram_end = vm->ram_base + vm->ram_size;
	vm->image.load = vm->ram_base;
	enum prop_result r = node_u64(c, "load", 0, &vm->image.load);
	int load_ok = ram_ok && r != PROP_BAD;
	if (load_ok && (vm->image.load < vm->ram_base || vm->image.load >= ram_end)) {
		diag_report(c->diag, c->path, "load: 0x%llx is outside RAM [0x%llx, 0x%llx)",
			    (unsigned long long)vm->image.load, (unsigned long long)vm->ram_base,
			    (unsigned long long)ram_end);
		load_ok = 0;
	}
	uint64_t size = vm->image.size;
	if (load_ok && size > ram_end - vm->image.load)
		diag_report(c->diag, c->path,
			    "image: \"%s\" is %llu bytes but RAM from 0x%llx holds only %llu",
			    image, (unsigned long long)size, (unsigned long long)vm->image.load,
			    (unsigned long long)(ram_end - vm->image.load));

	vm->entry = vm->image.load;
	r = node_u64(c, "entry", 0, &vm->entry);
	uint64_t entry_off = vm->entry - vm->image.load; /* wraps when below load: also outside */
	if (r == PROP_OK && load_ok && size && entry_off >= size)
		diag_report(c->diag, c->path, "entry: 0x%llx is outside the image [0x%llx, 0x%llx)",
			    (unsigned long long)vm->entry, (unsigned long long)vm->image.load,
			    (unsigned long long)(vm->image.load + size));
}

const char *image_check(const struct node_ctx *c, struct pvb_vm *vm, int ram_ok)
{
	const char *path;
	if (node_string(c, "image", 1, &path) != PROP_OK)
		path = NULL;
	else
		vm->image.size = probe(c, path);
	check_placement(c, vm, ram_ok, path);
	return vm->image.size ? path : NULL;
}
