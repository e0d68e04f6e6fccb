/* measure.c: `pvpack --measure`: what the hypervisor will report as each VM's measurement
 * (and its own, given its image), computed by the same code (hv/lib/measure.c) from the same
 * bundle bytes, so a verifier knows the values before the device boots. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pv/measure.h>

#include "pvpack.h"

/* The host has no SHA-2 instructions to offer: the portable compression function runs. */
bool arch_sha256_blocks(u32 h[8], const u8 *p, u64 n)
{
	(void)h, (void)p, (void)n;
	return false;
}

static int fail(const char *path, const char *why)
{
	fprintf(stderr, "pvpack: %s: %s\n", path, why);
	return -1;
}

/* The whole file, or NULL with the reason printed. */
static u8 *read_all(int fd, const char *path, size_t *size)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		fail(path, strerror(errno));
		return NULL;
	}
	u8 *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		fail(path, "out of memory");
		return NULL;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
		if (n <= 0) {
			fail(path, n < 0 ? strerror(errno) : "file shrank while read");
			free(buf);
			return NULL;
		}
		got += (size_t)n;
	}
	*size = got;
	return buf;
}

static void print(FILE *out, const char *what, const char *name, const u8 m[SHA256_SIZE])
{
	fprintf(out, "%s%s%s ", what, name[0] ? " " : "", name);
	for (u32 i = 0; i < SHA256_SIZE; i++)
		fprintf(out, "%02x", m[i]);
	fputc('\n', out);
}

static int measure_hv(const char *path, FILE *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return fail(path, strerror(errno));
	size_t size;
	u8 *img = read_all(fileno(f), path, &size), m[SHA256_SIZE];
	fclose(f);
	if (!img)
		return -1;
	sha256(img, size, m); /* pocketvisor.bin is exactly what EL2 measures */
	free(img);
	print(out, "hypervisor", "", m);
	return 0;
}

int measure_print(const struct pvpack_config *cfg, const char *hv_path, FILE *out)
{
	if (hv_path && measure_hv(hv_path, out) < 0)
		return -1;
	/* The bundle as pvpack would write it, in an unlinked temporary file. */
	const char *dir = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/pvpack-measure.XXXXXX", dir && dir[0] ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		return fail(path, strerror(errno));
	unlink(path);
	size_t size = 0;
	u8 *bundle = pack_contents(fd, cfg, path) ? read_all(fd, path, &size) : NULL;
	close(fd);
	if (!bundle)
		return -1;
	const struct pvb_header *h = (const struct pvb_header *)bundle;
	for (u32 i = 0; i < h->vm_count; i++) {
		u8 m[SHA256_SIZE];
		measure_vm(&h->vms[i], bundle, m);
		print(out, "vm", h->vms[i].name, m);
	}
	free(bundle);
	return 0;
}
