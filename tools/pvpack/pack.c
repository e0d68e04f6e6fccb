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

/* Copies exactly the size that was validated; a file that shrank since is an error. */
static int copy_image(int out_fd, const char *out_path, const char *image,
		      const struct pvb_blob *blob)
{
	static char buf[1 << 16];
	int in = open(image, O_RDONLY);
	if (in < 0)
		return fail(image, strerror(errno));
	uint64_t done = 0;
	int ok = 1;
	while (ok && done < blob->size) {
		uint64_t want = blob->size - done < sizeof(buf) ? blob->size - done : sizeof(buf);
		ssize_t n = read(in, buf, (size_t)want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ok = fail(image, strerror(errno));
		else if (n == 0)
			ok = fail(image, "changed size while packing");
		else
			ok = write_at(out_fd, buf, (size_t)n, blob->offset + done, out_path);
		done += n > 0 ? (uint64_t)n : 0;
	}
	close(in);
	return ok;
}

static int write_contents(int fd, const struct pvpack_config *cfg, const char *out_path)
{
	const struct pvb_header *h = &cfg->header;
	if (!write_at(fd, h, sizeof(*h), 0, out_path))
		return 0;
	for (uint32_t i = 0; i < h->vm_count; i++)
		if (!copy_image(fd, out_path, cfg->image_path[i], &h->vms[i].image))
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
	int ok = write_contents(fd, cfg, out_path);
	if (close(fd) < 0 && ok)
		ok = fail(out_path, strerror(errno));
	if (ok && rename(tmp, out_path) < 0)
		ok = fail(out_path, strerror(errno));
	if (!ok)
		unlink(tmp);
	free(tmp);
	return ok ? 0 : -1;
}
