/* vault.c: the Linux side of the vault's attestation service (docs/vault.md):
 *   vault [-c CID] [-p PORT] [-t SECONDS] attest NONCE
 * sends {"nonce": NONCE} (NONCE in hex) to the vault (CID 5, port 5000, 10 s by default) and
 * prints the token as hex lines short enough for pocketvisor's 120-character console lines:
 *   vault: token 1 <64 hex digits>  ...  vault: token end <bytes>
 * or the vault's refusal, `vault: refused: <text>`. Exit status 0 with a token, 1 otherwise
 * (refused, connection reset, timeout), 2 for bad usage. The vault judges the nonce (8 to 64
 * bytes); this tool only checks that it is hex and fits a one-byte CBOR length. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "cli.h"

#define DEFAULT_CID 5u
#define DEFAULT_PORT 5000u
#define DEFAULT_TIMEOUT 10u
#define NONCE_MAX 255u          /* {"nonce": bstr} with a one-byte length: the vault takes 64 */
#define ANSWER_MAX 4096u
#define HEX_CHUNK 32u           /* bytes per token line */

static unsigned long cid = DEFAULT_CID, port = DEFAULT_PORT, timeout_s = DEFAULT_TIMEOUT;
static struct timespec deadline;

static _Noreturn void usage(void)
{
	fputs("usage: vault [-c CID] [-p PORT] [-t SECONDS] attest NONCE (hex)\n", stderr);
	exit(2);
}

/* Every failure names the peer: "vault: CID 5 port 5000: <what went wrong>". */
static _Noreturn void fail(const char *what)
{
	printf("vault: CID %lu port %lu: %s\n", cid, port, what);
	exit(1);
}

static _Noreturn void timed_out(void)
{
	char what[64];

	snprintf(what, sizeof(what), "no answer within %lu s", timeout_s);
	fail(what);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t parse_hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n % 2 || n / 2 > max)
		usage();
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			usage();
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return n / 2;
}

/* Milliseconds left until the deadline (at least 0). */
static int left_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (deadline.tv_sec - now.tv_sec) * 1000LL +
		       (deadline.tv_nsec - now.tv_nsec) / 1000000LL;
	return ms < 0 ? 0 : ms > 1000000 ? 1000000 : (int)ms;
}

static int dial(void)
{
	struct sockaddr_vm sa;
	struct timeval tv = { .tv_sec = (time_t)timeout_s };
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0)
		fail(strerror(errno));
	/* The kernel's default is 2 s; the vault may be busy hashing a caller's images. */
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.svm_family = AF_VSOCK;
	sa.svm_cid = (unsigned int)cid;
	sa.svm_port = (unsigned int)port;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (errno == ECONNRESET)
		fail("connect refused (reset: this VM may not reach it, or nothing listens "
		     "there)");
	if (errno == ETIMEDOUT)
		timed_out();
	fail(strerror(errno));
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			fail(strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* n bytes before the deadline; false if the stream ended first. */
static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, left_ms());
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			timed_out();
		ssize_t got = read(fd, p, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			fail(strerror(errno));
		if (got == 0)
			return 0;
		p += got;
		n -= (size_t)got;
	}
	return 1;
}

/* {"error": text} (the only map the vault answers with); its text, or NULL. */
static const char *error_text(uint8_t *a, size_t n)
{
	static const uint8_t head[] = { 0xa1, 0x65, 'e', 'r', 'r', 'o', 'r' };
	size_t at = sizeof(head), len;

	if (n <= at || memcmp(a, head, at) != 0 || (a[at] >> 5) != 3)
		return NULL;
	len = a[at] & 0x1fu;
	if (len == 24 && at + 1 < n)
		len = a[++at];
	else if (len > 23)
		return NULL;
	if (at + 1 + len != n)
		return NULL;
	for (size_t i = at + 1; i < n; i++)
		if (a[i] < ' ' || a[i] > '~')
			a[i] = '?'; /* the console shows the text as it is, never a control byte */
	memmove(a, a + at + 1, len);
	a[len] = '\0';
	return (const char *)a;
}

static int attest(const char *hex)
{
	static const uint8_t head[] = { 0xa1, 0x65, 'n', 'o', 'n', 'c', 'e' };
	uint8_t req[4 + sizeof(head) + 2 + NONCE_MAX], len[4];
	static uint8_t answer[ANSWER_MAX + 1];
	size_t at = 4 + sizeof(head);

	/* {"nonce": h'...'}: the byte string's length in its head byte below 24, else in one more. */
	memcpy(req + 4, head, sizeof(head));
	size_t n = parse_hex(hex, req + at + 2, NONCE_MAX);
	if (n < 24) {
		req[at++] = (uint8_t)(0x40 | n);
		memmove(req + at, req + at + 1, n);
	} else {
		req[at++] = 0x58;
		req[at++] = (uint8_t)n;
	}
	size_t body = at + n - 4;
	req[0] = 0, req[1] = 0, req[2] = (uint8_t)(body >> 8), req[3] = (uint8_t)body;

	int fd = dial();
	write_all(fd, req, 4 + body);
	if (!read_all(fd, len, 4))
		fail("the stream ended without an answer");
	uint32_t size = (uint32_t)len[0] << 24 | (uint32_t)len[1] << 16 | (uint32_t)len[2] << 8 | len[3];
	if (size > ANSWER_MAX)
		fail("an answer too long for a token");
	if (!read_all(fd, answer, size))
		fail("the stream ended in the middle of the answer");
	close(fd);
	const char *why = error_text(answer, size);
	if (why) {
		printf("vault: refused: %s\n", why);
		return 1;
	}
	if (!size || answer[0] != 0xd2) /* tag 18: COSE_Sign1 */
		fail("the answer is neither a token nor a refusal");
	for (uint32_t from = 0, line = 1; from < size; from += HEX_CHUNK, line++) {
		printf("vault: token %u ", line);
		for (uint32_t i = from; i < size && i < from + HEX_CHUNK; i++)
			printf("%02x", answer[i]);
		putchar('\n');
	}
	printf("vault: token end %u\n", size);
	return 0;
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "c:p:t:")) != -1) {
		if (opt == 'c')
			cid = number(optarg, 0xffffffffu);
		else if (opt == 'p')
			port = number(optarg, 0xffffffffu);
		else if (opt == 't')
			timeout_s = number(optarg, 3600);
		else
			usage();
	}
	if (argc - optind != 2 || strcmp(argv[optind], "attest") != 0 || !timeout_s)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)timeout_s;
	return attest(argv[optind + 1]);
}
