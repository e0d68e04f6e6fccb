/* pack.c: laying out the bundle's payloads and writing the bundle file atomically. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvpack.h"

/* Saturating, so absurd (sparse) image sizes end in a "bundle too big" error, not a wrap. */
static uint64_t align_up(uint64_t x)
{
	if (x > UINT64_MAX - (PVB_ALIGN - 1))
		return UINT64_MAX;
	return (x + PVB_ALIGN - 1) & ~(uint64_t)(PVB_ALIGN - 1);
}

/* Payloads start on PVB_ALIGN boundaries so EL2 can copy or map them page by page. */
uint64_t pack_place(uint64_t *cursor, uint64_t size)
{
	if (size == 0)
		return 0;
	uint64_t offset = align_up(*cursor);
	*cursor = size > UINT64_MAX - offset ? UINT64_MAX : offset + size;
	return offset;
}

uint64_t pack_end(uint64_t cursor)
{
	return align_up(cursor);
}

static int fail(const char *path, const char *why)
{
	fprintf(stderr, "pvpack: %s: %s\n", path, why);
	return 0;
}

static int write_at(int fd, const void *buf, size_t len, uint64_t offset, const char *out_path)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(out_path, strerror(errno));
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 1;
}

/* Copies exactly the pieces that were validated; a file that shrank since is an error. The gaps
 * between pieces stay zero: the bundle starts as an empty file. */
static int copy_piece(int in, const char *path, int out_fd, const char *out_path,
		      const struct piece *p, uint64_t blob_offset)
{
	static char buf[1 << 16];
	uint64_t done = 0;
	while (done < p->size) {
		uint64_t want = p->size - done < sizeof(buf) ? p->size - done : sizeof(buf);
		ssize_t n = pread(in, buf, (size_t)want, (off_t)(p->file_offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(path, strerror(errno));
		if (n == 0)
			return fail(path, "changed size while packing");
		if (!write_at(out_fd, buf, (size_t)n, blob_offset + p->blob_offset + done, out_path))
			return 0;
		done += (uint64_t)n;
	}
	return 1;
}

static int copy_file(int out_fd, const char *out_path, const char *path,
		     const struct piece *pieces, uint32_t count, const struct pvb_blob *blob)
{
	int in = open(path, O_RDONLY);
	if (in < 0)
		return fail(path, strerror(errno));
	int ok = 1;
	for (uint32_t i = 0; ok && i < count; i++)
		ok = copy_piece(in, path, out_fd, out_path, &pieces[i], blob->offset);
	close(in);
	return ok;
}

static int write_vm(int fd, const struct pvb_vm *vm, const struct vm_source *src,
		    const char *out_path)
{
	struct piece initrd;
	file_whole(&initrd, vm->initrd.size);
	if (!copy_file(fd, out_path, src->image_path, src->image_pieces, src->image_piece_count,
		       &vm->image))
		return 0;
	if (vm->dtb.size && !write_at(fd, src->dtb, (size_t)vm->dtb.size, vm->dtb.offset, out_path))
		return 0;
	return !vm->initrd.size || copy_file(fd, out_path, src->initrd_path, &initrd, 1, &vm->initrd);
}

int pack_contents(int fd, const struct pvpack_config *cfg, const char *out_path)
{
	const struct pvb_header *h = &cfg->header;
	if (!write_at(fd, h, sizeof(*h), 0, out_path))
		return 0;
	for (uint32_t i = 0; i < h->vm_count; i++)
		if (!write_vm(fd, &h->vms[i], &cfg->src[i], out_path))
			return 0;
	/* Zero padding up to total_size; mkstemp's 0600 would make the bundle private. */
	mode_t mask = umask(0);
	umask(mask);
	if (ftruncate(fd, (off_t)h->total_size) < 0 || fchmod(fd, 0666 & ~mask) < 0 ||
	    fsync(fd) < 0)
		return fail(out_path, strerror(errno));
	return 1;
}

/* Temp file + rename: a failed run never leaves a half-written bundle where make, or the
 * loader, would take it for a good one. */
int pack_write(const struct pvpack_config *cfg, const char *out_path)
{
	size_t tmp_size = strlen(out_path) + sizeof(".XXXXXX");
	char *tmp = malloc(tmp_size);
	int fd = -1;
	if (tmp) {
		snprintf(tmp, tmp_size, "%s.XXXXXX", out_path);
		fd = mkstemp(tmp);
	}
	if (fd < 0) {
		fail(out_path, strerror(tmp ? errno : ENOMEM));
		free(tmp);
		return -1;
	}
	int ok = pack_contents(fd, cfg, out_path);
	if (close(fd) < 0 && ok)
		ok = fail(out_path, strerror(errno));
	if (ok && rename(tmp, out_path) < 0)
		ok = fail(out_path, strerror(errno));
	if (!ok)
		unlink(tmp);
	free(tmp);
	return ok ? 0 : -1;
}
