/* file.c: a payload file (image, initrd) that can be packed: readable, regular, not empty. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvpack.h"

/* open + fstat rather than stat alone, so an unreadable file fails here, not halfway through
 * writing the bundle. */
int file_open(const struct node_ctx *c, const char *prop, const char *path, uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO must not hang us */
	if (fd < 0) {
		diag_report(c->diag, c->path, "%s: cannot open \"%s\": %s", prop, path,
			    strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		diag_report(c->diag, c->path, "%s: cannot stat \"%s\": %s", prop, path,
			    strerror(errno));
	else if (!S_ISREG(st.st_mode))
		diag_report(c->diag, c->path, "%s: \"%s\" is not a regular file", prop, path);
	else if (st.st_size == 0)
		diag_report(c->diag, c->path, "%s: \"%s\" is empty", prop, path);
	else {
		*size = (uint64_t)st.st_size;
		return fd;
	}
	close(fd);
	return -1;
}

void file_whole(struct piece *p, uint64_t size)
{
	*p = (struct piece){ 0, size, 0 };
}

int file_read(const struct node_ctx *c, const char *prop, const char *path, int fd, void *buf,
	      size_t size, uint64_t offset)
{
	ssize_t n = pread(fd, buf, size, (off_t)offset);
	if (n == (ssize_t)size)
		return 1;
	diag_report(c->diag, c->path, "%s: cannot read \"%s\": %s", prop, path,
		    n < 0 ? strerror(errno) : "it became shorter");
	return 0;
}
