/* vault.c: the Linux side of the vault's services (docs/vault.md):
 *   vault [-c CID] [-p PORT] [-t SECONDS] [-r] attest NONCE     port 5000
 *   vault ... key create|pub|delete SLOT, key sign SLOT MSG      port 5001 (keystore)
 *   vault ... drm install FILE, drm play ID, drm info ID         port 5002 (DRM licences)
 *   vault ... topup AMOUNT, pay AMOUNT PAYEE [SEQ], balance, receipt N   port 5003 (wallet)
 * sends one request (CBOR, length-prefixed) to the vault (CID 5, 10 s by default) and prints
 * the answer as lines short enough for pocketvisor's 120-character console lines, e.g.
 *   vault: token 1 <64 hex digits>  ...  vault: token end <bytes>
 * (-r adds `vault: rt TICKS ticks`, the round trip from connect to answer, for make bench)
 * or the vault's refusal: `vault: refused: <text>` for attest, `vault: key create: <text>` and
 * the like for the others. Exit status 0 with an answer, 1 otherwise (refused, connection
 * reset, timeout), 2 for bad usage. The vault judges every argument; this tool only checks
 * that numbers are numbers and hex is hex. The CBOR codec is the vault's own (guests/vault/cbor.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
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

#include "cbor.h"
#include "cli.h"

#define DEFAULT_CID 5u
#define ATTEST_PORT 5000u
#define KEYSTORE_PORT 5001u
#define DRM_PORT 5002u
#define WALLET_PORT 5003u
#define REQUEST_MAX 1024u       /* the vault takes 512 at most and judges the rest */
#define LICENCE_FILE_MAX 4096u
#define DEFAULT_TIMEOUT 10u
#define NONCE_MAX 255u          /* {"nonce": bstr} with a one-byte length: the vault takes 64 */
#define ANSWER_MAX 4096u
#define HEX_CHUNK 32u           /* bytes per token line */

static unsigned long cid = DEFAULT_CID, port, timeout_s = DEFAULT_TIMEOUT;
static bool show_rt;            /* -r: the round trip in counter ticks (make bench) */
static const char *what;        /* "key create" and the like: the prefix of a refusal */
static struct timespec deadline;

static _Noreturn void usage(void)
{
	fputs("usage: vault [-c CID] [-p PORT] [-t SECONDS] [-r] COMMAND\n"
	      "  attest NONCE (hex)\n"
	      "  key create|pub|delete SLOT    key sign SLOT MSG\n"
	      "  drm install FILE    drm play ID    drm info ID\n"
	      "  topup AMOUNT    pay AMOUNT PAYEE [SEQ]    balance    receipt N\n", stderr);
	exit(2);
}

/* Every failure names the peer: "vault: CID 5 port 5000: <what went wrong>". */
static _Noreturn void fail(const char *why)
{
	printf("vault: CID %lu port %lu: %s\n", cid, port, why);
	exit(1);
}

static _Noreturn void timed_out(void)
{
	char why[64];

	snprintf(why, sizeof(why), "no answer within %lu s", timeout_s);
	fail(why);
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

static int left_ms(void)
{
	return ms_until(&deadline);
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

/* One request and its answer's body (in `answer`, its size returned). */
static uint32_t exchange(const uint8_t *body, size_t size, uint8_t *answer)
{
	uint8_t len[4] = { (uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
			   (uint8_t)size };
	uint64_t t0 = counter();
	int fd = dial();

	write_all(fd, len, 4);
	write_all(fd, body, size);
	if (!read_all(fd, len, 4))
		fail("the stream ended without an answer");
	uint32_t n = (uint32_t)len[0] << 24 | (uint32_t)len[1] << 16 | (uint32_t)len[2] << 8 | len[3];
	if (n > ANSWER_MAX)
		fail("an answer too long");
	if (!read_all(fd, answer, n))
		fail("the stream ended in the middle of the answer");
	if (show_rt)
		printf("vault: rt %" PRIu64 " ticks\n", counter() - t0);
	close(fd);
	return n;
}

static void print_hex_lines(const char *name, const uint8_t *b, size_t size)
{
	for (size_t from = 0, line = 1; from < size; from += HEX_CHUNK, line++) {
		printf("vault: %s %zu ", name, line);
		for (size_t i = from; i < size && i < from + HEX_CHUNK; i++)
			printf("%02x", b[i]);
		putchar('\n');
	}
	printf("vault: %s end %zu\n", name, size);
}

static int attest(const char *hex)
{
	static uint8_t answer[ANSWER_MAX + 1];
	uint8_t nonce[NONCE_MAX], body[16 + NONCE_MAX];
	struct cbor_out o;
	size_t n = parse_hex(hex, nonce, NONCE_MAX);

	cbor_out_init(&o, body, sizeof(body));
	cbor_head(&o, CBOR_MAP, 1);
	cbor_tstr(&o, "nonce", 5);
	cbor_bstr(&o, nonce, n);
	uint32_t size = exchange(body, o.len, answer);
	const char *why = error_text(answer, size);
	if (why) {
		printf("vault: refused: %s\n", why);
		return 1;
	}
	if (!size || answer[0] != 0xd2) /* tag 18: COSE_Sign1 */
		fail("the answer is neither a token nor a refusal");
	print_hex_lines("token", answer, size);
	return 0;
}

/* ---- the services: a request map of text keys, an answer map of text keys ---- */

struct field {
	const char *key;
	unsigned major;         /* CBOR_UINT, CBOR_BSTR, CBOR_TSTR */
	uint64_t value;
	const uint8_t *bytes;   /* into the answer */
	size_t size;
};

#define FIELDS_MAX 8u
static struct field got[FIELDS_MAX];
static unsigned got_count;

static const struct field *field(const char *key, unsigned major)
{
	for (unsigned i = 0; i < got_count; i++)
		if (!strcmp(got[i].key, key) && got[i].major == major)
			return &got[i];
	printf("vault: %s: the answer has no %s\n", what, key);
	exit(1);
}

/* The answer as fields; a refusal ({"error": text}) is printed and ends the program. */
static void decode(uint8_t *a, uint32_t size)
{
	static char keys[FIELDS_MAX][16];
	struct cbor_in in = { a, size };
	unsigned major;
	uint64_t count, n;

	const char *why = error_text(a, size);
	if (why) {
		printf("vault: %s: %s\n", what, why);
		exit(1);
	}
	if (cbor_read_head(&in, &major, &count) != CBOR_OK || major != CBOR_MAP || count > FIELDS_MAX)
		fail("the answer is not a map");
	for (got_count = 0; got_count < count; got_count++) {
		struct field *f = &got[got_count];
		const uint8_t *k;
		if (cbor_read_head(&in, &major, &n) != CBOR_OK || major != CBOR_TSTR || n >= 16 ||
		    !(k = cbor_read_bytes(&in, n)))
			fail("the answer has a bad key");
		memcpy(keys[got_count], k, n);
		keys[got_count][n] = '\0';
		f->key = keys[got_count];
		if (cbor_read_head(&in, &f->major, &f->value) != CBOR_OK)
			fail("the answer is not CBOR");
		if (f->major == CBOR_BSTR || f->major == CBOR_TSTR) {
			f->size = (size_t)f->value;
			if (!(f->bytes = cbor_read_bytes(&in, f->value)))
				fail("the answer is cut short");
		} else if (f->major != CBOR_UINT) {
			fail("the answer has a value of an unexpected type");
		}
	}
}

static struct cbor_out req;
static uint8_t req_buf[REQUEST_MAX];

static void request(const char *op, unsigned pairs)
{
	cbor_out_init(&req, req_buf, sizeof(req_buf));
	cbor_head(&req, CBOR_MAP, 1 + pairs);
	cbor_tstr(&req, "op", 2);
	cbor_tstr(&req, op, strlen(op));
}

static void text_arg(const char *key, const char *v)
{
	cbor_tstr(&req, key, strlen(key));
	cbor_tstr(&req, v, strlen(v));
}

static void bytes_arg(const char *key, const uint8_t *v, size_t n)
{
	cbor_tstr(&req, key, strlen(key));
	cbor_bstr(&req, v, n);
}

static void uint_arg(const char *key, uint64_t v)
{
	cbor_tstr(&req, key, strlen(key));
	cbor_uint(&req, v);
}

static void send_request(void)
{
	static uint8_t answer[ANSWER_MAX + 1];

	if (req.overflow)
		usage();
	decode(answer, exchange(req_buf, req.len, answer));
}

static void hex_line(const char *prefix, const uint8_t *b, size_t n)
{
	printf("%s", prefix);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	putchar('\n');
}

/* 65 bytes of public key or 64 of signature: two lines, so the console keeps each whole. */
static void halves(const char *slot, const char *name, const struct field *f)
{
	char prefix[64];
	size_t half = (f->size + 1) / 2;

	snprintf(prefix, sizeof(prefix), "vault: key %s %s 1/2 ", slot, name);
	hex_line(prefix, f->bytes, half);
	snprintf(prefix, sizeof(prefix), "vault: key %s %s 2/2 ", slot, name);
	hex_line(prefix, f->bytes + half, f->size - half);
}

static int key(int argc, char **argv)
{
	static char w[32];

	if (argc < 2)
		usage();
	const char *op = argv[0], *slot = argv[1];
	snprintf(w, sizeof(w), "key %s", op);
	what = w;
	if (!strcmp(op, "sign") && argc == 3) {
		request("sign", 2);
		text_arg("slot", slot);
		bytes_arg("msg", (const uint8_t *)argv[2], strlen(argv[2]));
		send_request();
		halves(slot, "sig", field("sig", CBOR_BSTR));
		return 0;
	}
	if (argc != 2 || (strcmp(op, "create") && strcmp(op, "pub") && strcmp(op, "delete")))
		usage();
	request(op, 1);
	text_arg("slot", slot);
	send_request();
	if (!strcmp(op, "delete")) {
		field("deleted", CBOR_TSTR);
		printf("vault: key %s deleted\n", slot);
	} else {
		if (!strcmp(op, "create"))
			printf("vault: key %s created\n", slot);
		halves(slot, "pub", field("pub", CBOR_BSTR));
	}
	return 0;
}

/* A licence file: its bytes, or their hex (as pvlicence --hex writes it, spaces allowed). */
static size_t read_licence(const char *path, uint8_t *out)
{
	static char text[LICENCE_FILE_MAX + 1];
	FILE *f = fopen(path, "rb");

	if (!f) {
		printf("vault: drm install: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	size_t n = fread(text, 1, LICENCE_FILE_MAX, f), h = 0;
	fclose(f);
	bool hex = n > 0;
	for (size_t i = 0; i < n; i++)
		hex = hex && (hex_digit(text[i]) >= 0 || text[i] == ' ' || text[i] == '\n');
	if (!hex) {
		memcpy(out, text, n);
		return n;
	}
	for (size_t i = 0; i < n; i++)
		if (hex_digit(text[i]) >= 0)
			text[h++] = text[i];
	if (h % 2)
		usage();
	for (size_t i = 0; i < h / 2; i++)
		out[i] = (uint8_t)(hex_digit(text[2 * i]) << 4 | hex_digit(text[2 * i + 1]));
	return h / 2;
}

static void licence_line(const char *verb)
{
	const struct field *id = field("id", CBOR_TSTR);
	printf("vault: licence %.*s %s%" PRIu64 " plays left\n", (int)id->size,
	       (const char *)id->bytes, verb, field("plays", CBOR_UINT)->value);
}

static int drm(int argc, char **argv)
{
	static uint8_t licence[LICENCE_FILE_MAX];
	static char w[32];

	if (argc != 2)
		usage();
	const char *op = argv[0];
	snprintf(w, sizeof(w), "drm %s", op);
	what = w;
	if (!strcmp(op, "install")) {
		size_t n = read_licence(argv[1], licence);
		request("install", 1);
		bytes_arg("licence", licence, n);
		send_request();
		licence_line("installed, ");
	} else if (!strcmp(op, "play") || !strcmp(op, "info")) {
		request(op, 1);
		text_arg("id", argv[1]);
		send_request();
		if (!strcmp(op, "play")) {
			const struct field *k = field("key", CBOR_BSTR);
			licence_line("played, ");
			hex_line("vault: content key ", k->bytes, k->size);
		} else {
			licence_line("");
		}
	} else {
		usage();
	}
	return 0;
}

static int wallet(int argc, char **argv)
{
	const char *op = argv[0];

	what = op;
	if (!strcmp(op, "topup") && argc == 2) {
		request("topup", 1);
		uint_arg("amount", number(argv[1], ~0ul));
		send_request();
		printf("vault: balance %" PRIu64 "\n", field("balance", CBOR_UINT)->value);
	} else if (!strcmp(op, "pay") && (argc == 3 || argc == 4)) {
		request("pay", (unsigned)argc - 1);
		uint_arg("amount", number(argv[1], ~0ul));
		text_arg("payee", argv[2]);
		if (argc == 4)
			uint_arg("seq", number(argv[3], ~0ul));
		send_request();
		printf("vault: paid %s to %s: payment %" PRIu64 ", balance %" PRIu64 ", counter %" PRIu64
		       "\n", argv[1], argv[2], field("seq", CBOR_UINT)->value,
		       field("balance", CBOR_UINT)->value, field("counter", CBOR_UINT)->value);
		const struct field *r = field("receipt", CBOR_BSTR);
		print_hex_lines("receipt", r->bytes, r->size);
	} else if (!strcmp(op, "balance") && argc == 1) {
		request("balance", 0);
		send_request();
		printf("vault: balance %" PRIu64 ", %" PRIu64 " payments, counter %" PRIu64 "\n",
		       field("balance", CBOR_UINT)->value, field("payments", CBOR_UINT)->value,
		       field("counter", CBOR_UINT)->value);
	} else if (!strcmp(op, "receipt") && argc == 2) {
		request("receipt", 1);
		uint_arg("seq", number(argv[1], ~0ul));
		send_request();
		const struct field *r = field("receipt", CBOR_BSTR);
		print_hex_lines("receipt", r->bytes, r->size);
	} else {
		usage();
	}
	return 0;
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "c:p:t:r")) != -1) {
		if (opt == 'c')
			cid = number(optarg, 0xffffffffu);
		else if (opt == 'p')
			port = number(optarg, 0xffffffffu);
		else if (opt == 't')
			timeout_s = number(optarg, 3600);
		else if (opt == 'r')
			show_rt = true;
		else
			usage();
	}
	if (argc - optind < 1 || !timeout_s)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)timeout_s;
	const char *cmd = argv[optind];
	int n = argc - optind - 1;
	char **args = argv + optind + 1;
	if (!strcmp(cmd, "attest") && n == 1) {
		port = port ? port : ATTEST_PORT;
		return attest(args[0]);
	}
	if (!strcmp(cmd, "key")) {
		port = port ? port : KEYSTORE_PORT;
		return key(n, args);
	}
	if (!strcmp(cmd, "drm")) {
		port = port ? port : DRM_PORT;
		return drm(n, args);
	}
	port = port ? port : WALLET_PORT;
	return wallet(argc - optind, argv + optind);
}
