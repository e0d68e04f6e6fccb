/* vsockt.c: a vsock test tool for the Linux guests: round-trip timing, a connection flood, a
 * sink that never reads and an echo server, each on AF_VSOCK stream sockets.
 *   vsockt rt CID PORT N SIZE   N round trips of SIZE bytes to an echo server; prints
 *                               "vsockt: rt N SIZE ticks T" (T: CNTVCT_EL0 ticks for all N)
 *   vsockt flood CID PORT K     opens up to K connections, fills each until EAGAIN, holds them
 *   vsockt sink PORT            accepts connections forever and never reads
 *   vsockt echo PORT            echoes every byte back, a forked child per connection
 * A failed call prints "vsockt: WHAT: STRERROR" (a refused connect under pocketvisor: "vsockt:
 * connect: Connection reset by peer") and exits 1. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "cli.h"

#define BACKLOG 64
#define ECHO_CHUNK 65536

static _Noreturn void die(const char *what)
{
	printf("vsockt: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A failure with no errno behind it. */
static _Noreturn void fail(const char *what)
{
	printf("vsockt: %s\n", what);
	exit(1);
}

static _Noreturn void usage(void)
{
	fputs("usage: vsockt rt CID PORT N SIZE | flood CID PORT K | sink PORT | echo PORT\n",
	      stderr);
	exit(2);
}

static struct sockaddr_vm address(unsigned long cid, unsigned long port)
{
	struct sockaddr_vm sa;

	memset(&sa, 0, sizeof(sa));
	sa.svm_family = AF_VSOCK;
	sa.svm_cid = (unsigned int)cid;
	sa.svm_port = (unsigned int)port;
	return sa;
}

/* A connected stream socket, or -1 with errno set. */
static int dial(unsigned long cid, unsigned long port)
{
	struct sockaddr_vm sa = address(cid, port);
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int listen_on(unsigned long port)
{
	struct sockaddr_vm sa = address(VMADDR_CID_ANY, port);
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("bind");
	if (listen(fd, BACKLOG) != 0)
		die("listen");
	return fd;
}

static void write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write");
		p += w;
		n -= (size_t)w;
	}
}

static void read_all(int fd, unsigned char *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read");
		if (r == 0)
			fail("read: end of stream"); /* the peer shut down its side early */
		p += r;
		n -= (size_t)r;
	}
}

static int rt(unsigned long cid, unsigned long port, unsigned long n, unsigned long size)
{
	unsigned char *out = malloc(size ? size : 1), *in = malloc(size ? size : 1);
	int fd;
	uint64_t t0, t1;

	if (!out || !in)
		die("malloc");
	fd = dial(cid, port);
	if (fd < 0)
		die("connect");
	t0 = counter();
	for (unsigned long i = 0; i < n; i++) {
		/* A different pattern each round, so a stale or misrouted reply cannot pass. */
		memset(out, (int)(i & 0xff), size);
		write_all(fd, out, size);
		read_all(fd, in, size);
		if (memcmp(in, out, size) != 0)
			fail("rt: the echo differs from what was sent");
	}
	t1 = counter();
	printf("vsockt: rt %lu %lu ticks %" PRIu64 "\n", n, size, t1 - t0);
	close(fd);
	return 0;
}

/* Writes to fd, non-blocking, until the peer's credit is used up (EAGAIN); returns the bytes
 * written, or -1 with errno set if the stream failed otherwise. */
static long long fill(int fd)
{
	static unsigned char chunk[ECHO_CHUNK];
	long long total = 0;

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		return -1;
	for (;;) {
		ssize_t w = write(fd, chunk, sizeof(chunk));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN ? total : -1;
		total += w;
	}
}

static int flood(unsigned long cid, unsigned long port, unsigned long k)
{
	int *fds = calloc(k ? k : 1, sizeof(*fds));
	unsigned long opened = 0;

	if (!fds)
		die("calloc");
	while (opened < k) {
		int fd = dial(cid, port);
		if (fd < 0)
			break;
		fds[opened++] = fd;
	}
	if (opened < k)
		printf("vsockt: flood opened %lu of %lu, then connect: %s (errno %d)\n", opened, k,
		       strerror(errno), errno);
	else
		printf("vsockt: flood opened %lu of %lu\n", opened, k);
	for (unsigned long i = 0; i < opened; i++) {
		long long n = fill(fds[i]);
		if (n < 0)
			printf("vsockt: flood %lu: write: %s\n", i, strerror(errno));
		else
			printf("vsockt: flood %lu wrote %lld\n", i, n);
	}
	puts("vsockt: flood holding");
	fflush(stdout);
	for (;;)
		pause();
}

static int sink(unsigned long port)
{
	int fd = listen_on(port);
	unsigned long accepted = 0;

	for (;;) {
		/* Accepted and kept: never read, never closed. */
		if (accept(fd, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		printf("vsockt: sink accepted %lu\n", ++accepted);
		fflush(stdout);
	}
}

static _Noreturn void echo_stream(int fd)
{
	static unsigned char buf[ECHO_CHUNK];

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(r < 0);
		write_all(fd, buf, (size_t)r);
	}
}

static int echo(unsigned long port)
{
	int fd = listen_on(port);

	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(fd);
			echo_stream(c);
		}
		if (pid < 0)
			die("fork");
		close(c);
	}
}

int main(int argc, char **argv)
{
	const unsigned long u32 = 0xffffffffUL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && strcmp(argv[1], "rt") == 0)
		return rt(number(argv[2], u32), number(argv[3], u32), number(argv[4], ~0UL),
			  number(argv[5], 1UL << 30));
	if (argc == 5 && strcmp(argv[1], "flood") == 0)
		return flood(number(argv[2], u32), number(argv[3], u32), number(argv[4], 1UL << 20));
	if (argc == 3 && strcmp(argv[1], "sink") == 0)
		return sink(number(argv[2], u32));
	if (argc == 3 && strcmp(argv[1], "echo") == 0)
		return echo(number(argv[2], u32));
	usage();
}
