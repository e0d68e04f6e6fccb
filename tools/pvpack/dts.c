/* dts.c: turn a DTS file into an FDT blob by running dtc, whose own errors reach stderr as-is. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pvpack.h"

/* The shell's "command not found" status: the child could not exec dtc. */
#define DTC_NOT_RUN 127

/* Read a pipe to its end into a malloc'd buffer. */
static int read_all(int fd, char **buf, size_t *len)
{
	size_t cap = 0;
	*buf = NULL;
	*len = 0;
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 16384;
			char *grown = realloc(*buf, cap);
			if (!grown)
				return -1;
			*buf = grown;
		}
		ssize_t n = read(fd, *buf + *len, cap - *len);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			*len += (size_t)n;
	}
}

/* Run dtc with stdout on a pipe; returns its wait status, or -1 if it could not be run. */
static int run_dtc(const char *dts_path, char **out, size_t *out_len)
{
	int fds[2];
	if (pipe(fds) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		int saved_errno = errno;
		close(fds[0]);
		close(fds[1]);
		errno = saved_errno;
		return -1;
	}
	if (pid == 0) {
		/* -q: dtc's warnings are about generic DT bindings (unit addresses without reg, ...)
		 * that do not apply to a pocketvisor config; its errors still show. The two name
		 * checks are Open Firmware leftovers that reject, or silently delete, a `name`
		 * property; ours is a VM name, checked by vm.c. */
		char *argv[] = { "dtc", "-q", "-E", "no-name_is_string", "-E", "no-name_properties",
				 "-I", "dts", "-O", "dtb", "-o", "-", "--", (char *)dts_path, NULL };
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		fprintf(stderr, "pvpack: %s: cannot run dtc: %s\n", dts_path, strerror(errno));
		_exit(DTC_NOT_RUN);
	}
	close(fds[1]);
	int read_failed = read_all(fds[0], out, out_len);
	int saved_errno = errno;
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	errno = saved_errno;
	return read_failed ? -1 : status;
}

int dts_compile(const char *dts_path, void **fdt)
{
	char *blob = NULL;
	size_t len = 0;
	int status = run_dtc(dts_path, &blob, &len);
	*fdt = NULL;
	if (status < 0) {
		fprintf(stderr, "pvpack: %s: cannot run dtc: %s\n", dts_path, strerror(errno));
	} else if (WIFSIGNALED(status)) {
		fprintf(stderr, "pvpack: %s: dtc killed by signal %d\n", dts_path, WTERMSIG(status));
	} else if (WEXITSTATUS(status) == DTC_NOT_RUN) {
		/* the child already said why */
	} else if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "pvpack: %s: dtc failed (exit status %d)\n", dts_path,
			WEXITSTATUS(status));
	} else {
		int err = fdt_check_full(blob, len);
		if (err == 0) {
			*fdt = blob;
			return 0;
		}
		fprintf(stderr, "pvpack: %s: dtc output is not a valid FDT: %s\n", dts_path,
			fdt_strerror(err));
	}
	free(blob);
	return -1;
}
