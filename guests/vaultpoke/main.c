/* vaultpoke: a hostile client of the vault's attestation service (vsock port 5000, docs/vault.md).
 * First one stream per case: lengths huge, zero and over the limit, bodies that are not CBOR,
 * truncated, indefinite, of the wrong shape, with unknown or duplicate keys, nonces of the wrong
 * type or size, trailing bytes, a request that stops halfway, 32 KiB of a 1 MiB request, more
 * streams than the vault gives one peer, two good requests and a bad one in one write, and one
 * good request, whose token it prints in hex (with the round trip's counter ticks). For each case one line of everything the vault
 * answered, in order, until the stream ended (tests/system/test_attest.py knows what each must
 * be). Then, for ever, a siege: rounds of three stalled requests beside a good one, so the vault
 * is busy with streams that go nowhere while other VMs ask for tokens.
 * With bootargs `vaultpoke.services=1` it pokes the keystore, DRM and wallet (ports 5001-5003)
 * instead: "svc" cases of the same kinds, a forged licence and another VM's key slot, then
 * good requests of its own (a key, a top-up and a payment), then a siege of stalls beside a
 * good request (tests/system/test_vault_services.py). */
#include "guest.h"

#define VAULT_CID 5u
#define ATTEST_PORT 5000u
#define KEYSTORE 5001u
#define DRM 5002u
#define WALLET 5003u
#define CONNECT_TRIES 500u      /* RST while the vault is not up yet: try again 10 ms later */
#define ANSWER_WAIT_US 10000000u /* the vault answers or closes within 5 s of a stall */
#define ANSWER_MAX 512u
#define NONCE_SIZE 32u
#define HEX_CHUNK 32u           /* bytes per token line: 64 hex digits fit a console line */
#define BLAST_CLAIMED (1u << 20)
#define BLAST_SENT (32u * 1024u)
#define FLOOD_STREAMS 6u
#define SIEGE_STALLS 3u

static volatile bool timer_fired;
static uint8_t buf[BLAST_SENT];
static uint8_t answer[ANSWER_MAX];
static char summary[256];
static size_t summary_len;

/* ---- waiting with a deadline: the virtual timer beside the vsock device ---- */

static void timer_irq(unsigned intid)
{
	(void)intid;
	vtimer_stop();
	timer_fired = true;
}

/* Sleeps until the device has news or the deadline passes; false once it has passed. */
static bool wait_for(uint64_t deadline)
{
	if (timer_now() >= deadline)
		return false;
	timer_fired = false;
	vtimer_arm(deadline);
	WAIT_UNTIL(vsock_pending() || timer_fired);
	vtimer_stop();
	vsock_poll();
	return timer_now() < deadline;
}

static void pause_us(uint64_t us)
{
	uint64_t deadline = timer_now() + timer_us(us);
	while (wait_for(deadline))
		;
}

/* ---- streams ---- */

static uint32_t port = ATTEST_PORT;     /* the service the cases go to */

static int open_stream(void)
{
	for (unsigned i = 0; i < CONNECT_TRIES; i++) {
		int c = vsock_connect(VAULT_CID, port);
		if (c >= 0)
			return c;
		pause_us(10000);
	}
	return -1;
}

/* What the vault's credit takes now, up to len; -1 once the stream is gone. */
static int send_some(int c, const void *p, uint32_t len)
{
	vsock_poll();
	return vsock_send(c, p, len);
}

static bool send_all(int c, const void *p, uint32_t len)
{
	uint64_t deadline = timer_now() + timer_us(ANSWER_WAIT_US);

	for (uint32_t sent = 0; sent < len;) {
		int n = send_some(c, (const uint8_t *)p + sent, len - sent);
		if (n < 0)
			return false;
		sent += (uint32_t)n;
		if (sent < len && !wait_for(deadline))
			return false;
	}
	return true;
}

/* 1: len bytes read; 0: the stream ended first; -1: the deadline passed. */
static int recv_all(int c, uint8_t *p, uint32_t len, uint64_t deadline)
{
	for (uint32_t got = 0; got < len;) {
		int n = vsock_recv(c, p + got, len - got);
		if (n < 0)
			return 0;
		got += (uint32_t)n;
		if (!n && !wait_for(deadline))
			return -1;
	}
	return 1;
}

/* ---- answers ---- */

static void note(const char *s)
{
	while (*s && summary_len + 1 < sizeof(summary))
		summary[summary_len++] = *s++;
	summary[summary_len] = '\0';
}

static void note_u(unsigned v)
{
	char d[12];
	unsigned n = 0;
	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	char s[12];
	for (unsigned i = 0; i < n; i++)
		s[i] = d[n - 1 - i];
	s[n] = '\0';
	note(s);
}

enum got { GOT_TOKEN, GOT_ERROR, GOT_ANSWER, GOT_ODD, GOT_END, GOT_NOTHING };

/* One answer, noted in the summary: "token N bytes", "answer N bytes" (a service's map),
 * "refused: TEXT", "ended", "no answer". */
static enum got read_answer(int c, uint32_t *size)
{
	uint8_t len[4];
	uint64_t deadline = timer_now() + timer_us(ANSWER_WAIT_US);
	int r = recv_all(c, len, 4, deadline);

	if (summary_len)
		note("; ");
	if (r <= 0) {
		note(r == 0 ? "ended" : "no answer");
		return r == 0 ? GOT_END : GOT_NOTHING;
	}
	uint32_t n = (uint32_t)len[0] << 24 | (uint32_t)len[1] << 16 | (uint32_t)len[2] << 8 | len[3];
	if (n > ANSWER_MAX) {
		note("answer too long");
		return GOT_ODD;
	}
	if ((r = recv_all(c, answer, n, deadline)) <= 0) {
		note("truncated answer");
		return GOT_ODD;
	}
	*size = n;
	/* {"error": text}: a1, 65 "error", then a text string (a length below 24, or 78 and a byte). */
	static const uint8_t error_head[] = { 0xa1, 0x65, 'e', 'r', 'r', 'o', 'r' };
	if (n > sizeof(error_head) && n < ANSWER_MAX &&
	    memcmp(answer, error_head, sizeof(error_head)) == 0) {
		uint32_t at = sizeof(error_head), tlen = answer[at] & 0x1fu;
		bool text = (answer[at] >> 5) == 3;
		if (text && tlen == 24 && at + 1 < n)
			tlen = answer[++at];
		if (text && tlen <= 0xffu && at + 1 + tlen == n) {
			answer[n] = '\0';
			note("refused: ");
			note((const char *)answer + at + 1);
			return GOT_ERROR;
		}
	}
	if (n && answer[0] == 0xd2) { /* tag 18: a COSE_Sign1 */
		note("token ");
		note_u(n);
		note(" bytes");
		return GOT_TOKEN;
	}
	if (n && answer[0] >= 0xa1 && answer[0] <= 0xb7) { /* a map: a service's answer */
		note("answer ");
		note_u(n);
		note(" bytes");
		return GOT_ANSWER;
	}
	note("something else");
	return GOT_ODD;
}

/* Everything the vault answers until it ends the stream (or stops answering). */
static void read_to_end(int c)
{
	uint32_t size;
	enum got g;

	do
		g = read_answer(c, &size);
	while (g == GOT_TOKEN || g == GOT_ERROR || g == GOT_ANSWER);
}

static void report(const char *name)
{
	printf("vaultpoke: %s: %s\n", name, summary);
	summary_len = 0;
	summary[0] = '\0';
}

static void print_token(uint32_t size)
{
	unsigned line = 1;

	for (uint32_t at = 0; at < size; at += HEX_CHUNK, line++) {
		printf("vaultpoke: token %u ", line);
		for (uint32_t i = at; i < size && i < at + HEX_CHUNK; i++)
			printf("%02x", answer[i]);
		printf("\n");
	}
	printf("vaultpoke: token end %u\n", size);
}

/* ---- requests ---- */

/* A framed request: 4-byte big-endian length, then the body. */
static uint32_t frame(uint8_t *out, const uint8_t *body, uint32_t size)
{
	out[0] = (uint8_t)(size >> 24), out[1] = (uint8_t)(size >> 16);
	out[2] = (uint8_t)(size >> 8), out[3] = (uint8_t)size;
	memcpy(out + 4, body, size);
	return 4 + size;
}

/* {"nonce": h'...'} with n bytes of nonce (n < 256). */
static uint32_t nonce_body(uint8_t *out, uint32_t n, uint8_t fill)
{
	static const uint8_t head[] = { 0xa1, 0x65, 'n', 'o', 'n', 'c', 'e' };
	uint32_t at = sizeof(head);

	memcpy(out, head, sizeof(head));
	if (n < 24) {
		out[at++] = (uint8_t)(0x40 | n);
	} else {
		out[at++] = 0x58;
		out[at++] = (uint8_t)n;
	}
	for (uint32_t i = 0; i < n; i++)
		out[at++] = (uint8_t)(fill + i);
	return at;
}

static void one_case(const char *name, const uint8_t *bytes, uint32_t size)
{
	int c = open_stream();

	if (c < 0) {
		note("connect refused");
	} else {
		if (!send_all(c, bytes, size))
			note("send failed; ");
		read_to_end(c);
		vsock_close(c);
	}
	report(name);
}

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })
#define NONCE_KEY 0x65, 'n', 'o', 'n', 'c', 'e'
#define EIGHT 1, 2, 3, 4, 5, 6, 7, 8

static void framed_cases(void)
{
	const struct {
		const char *name;
		const uint8_t *body;
		uint32_t size;
	} cases[] = {
		{ "not-cbor", BYTES(0xff, 0xff, 0xff) },
		{ "reserved", BYTES(0x1c) },
		{ "cut-head", BYTES(0xa1, NONCE_KEY, 0x58) },
		{ "past-end", BYTES(0xa1, NONCE_KEY, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) },
		{ "indefinite", BYTES(0xbf, NONCE_KEY, 0x48, EIGHT, 0xff) },
		{ "not-a-map", BYTES(0x83, 0x01, 0x02, 0x03) },
		{ "int-key", BYTES(0xa1, 0x01, 0x48, EIGHT) },
		{ "unknown-key", BYTES(0xa1, 0x63, 'f', 'o', 'o', 0x48, EIGHT) },
		{ "duplicate", BYTES(0xa2, NONCE_KEY, 0x48, EIGHT, NONCE_KEY, 0x48, EIGHT) },
		{ "empty-map", BYTES(0xa0) },
		{ "huge-map", BYTES(0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) },
		{ "nonce-text", BYTES(0xa1, NONCE_KEY, 0x68, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h') },
		{ "nonce-short", BYTES(0xa1, NONCE_KEY, 0x47, 1, 2, 3, 4, 5, 6, 7) },
		{ "trailing", BYTES(0xa1, NONCE_KEY, 0x48, EIGHT, 0x00) },
	};
	uint8_t body[128], req[132];

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		one_case(cases[i].name, req, frame(req, cases[i].body, cases[i].size));
	one_case("nonce-long", req, frame(req, body, nonce_body(body, 65, 0)));
}

static void length_cases(void)
{
	one_case("huge-length", BYTES(0xff, 0xff, 0xff, 0xff));
	one_case("over-limit", BYTES(0x00, 0x00, 0x01, 0x01));
	one_case("empty", BYTES(0x00, 0x00, 0x00, 0x00));
	/* 32 bytes announced, 5 sent, then nothing: the vault gives up after its timeout. */
	one_case("stall", BYTES(0x00, 0x00, 0x00, 0x20, 0xa1, NONCE_KEY));
}

/* 1 MiB announced and 32 KiB of it written at once: refused at the length, the rest dropped. */
static void blast(void)
{
	int c = open_stream();

	if (c < 0) {
		note("connect refused");
	} else {
		memset(buf, 0xa5, sizeof(buf));
		buf[0] = (uint8_t)(BLAST_CLAIMED >> 24), buf[1] = (uint8_t)(BLAST_CLAIMED >> 16);
		buf[2] = (uint8_t)(BLAST_CLAIMED >> 8), buf[3] = (uint8_t)BLAST_CLAIMED;
		int n = send_some(c, buf, BLAST_SENT); /* what its credit takes: no waiting */
		note(n > 0 ? "sent" : "not sent");
		read_to_end(c);
		vsock_close(c);
	}
	report("blast");
}

/* More streams at once than the vault gives one peer: the rest are reset at connect. */
static void flood(void)
{
	int c[FLOOD_STREAMS];
	unsigned ok = 0;

	pause_us(200000); /* the streams of the cases before are gone at the vault too */

	for (unsigned i = 0; i < FLOOD_STREAMS; i++)
		ok += (c[i] = vsock_connect(VAULT_CID, ATTEST_PORT)) >= 0;
	for (unsigned i = 0; i < FLOOD_STREAMS; i++)
		if (c[i] >= 0)
			vsock_close(c[i]);
	note_u(ok);
	note(" of ");
	note_u(FLOOD_STREAMS);
	note(" accepted");
	report("flood");
}

/* Two good requests and a bad one in one write, then the good request of the test. */
static void good_cases(void)
{
	uint8_t body[80], req[3 * 84];
	uint32_t size = 0, n = nonce_body(body, NONCE_SIZE, 0x40);

	size += frame(req + size, body, n);
	size += frame(req + size, body, n);
	size += frame(req + size, BYTES(0xa0));
	one_case("pipelined", req, size);

	int c = open_stream();
	uint32_t token = 0;
	uint64_t t0 = timer_now();
	if (c >= 0 && send_all(c, req, frame(req, body, n)) &&
	    read_answer(c, &token) == GOT_TOKEN) {
		/* Under -icount shift=0 on one core, a tick is 16 instructions of every VM and EL2. */
		uint64_t ticks = timer_now() - t0;
		print_token(token);
		printf("vaultpoke: token round trip ticks %lu\n", ticks);
	}
	if (c >= 0) {
		read_to_end(c); /* the vault waits for another request, then gives up */
		vsock_close(c);
	}
	report("good");
}

/* Stalled requests the vault must time out beside a good one it must answer at once. */
static void siege(unsigned round)
{
	int stalls[SIEGE_STALLS];
	uint8_t body[80], req[84];
	uint32_t size;
	unsigned refused = 0, tokens = 0;

	for (unsigned i = 0; i < SIEGE_STALLS; i++)
		if ((stalls[i] = open_stream()) >= 0)
			send_all(stalls[i], BYTES(0x00, 0x00, 0x00, 0x40, 0xa1));
	int c = open_stream();
	if (c >= 0 && send_all(c, req, frame(req, body, nonce_body(body, NONCE_SIZE, (uint8_t)round))))
		tokens += read_answer(c, &size) == GOT_TOKEN;
	if (c >= 0)
		vsock_close(c);
	for (unsigned i = 0; i < SIEGE_STALLS; i++)
		if (stalls[i] >= 0) {
			refused += read_answer(stalls[i], &size) == GOT_ERROR;
			vsock_close(stalls[i]);
		}
	printf("vaultpoke: siege round %u: %u token, %u of %u stalls refused\n", round, tokens,
	       refused, SIEGE_STALLS);
	if (tokens != 1 || refused != SIEGE_STALLS)
		printf("vaultpoke: siege round %u got %s\n", round, summary);
	summary_len = 0;
	summary[0] = '\0';
}

/* ---- the keystore, DRM and wallet services (ports 5001-5003), with bootargs
 * `vaultpoke.services=1`: one stream per case, then good requests, then a siege ---- */

#define OP(s) 0x62, 'o', 'p', s
#define T_CREATE 0x66, 'c', 'r', 'e', 'a', 't', 'e'
#define T_SIGN 0x64, 's', 'i', 'g', 'n'
#define T_PUB 0x63, 'p', 'u', 'b'
#define T_PAY 0x63, 'p', 'a', 'y'
#define K_SLOT 0x64, 's', 'l', 'o', 't'
#define K_MSG 0x63, 'm', 's', 'g'
#define K_ID 0x62, 'i', 'd'
#define K_AMOUNT 0x66, 'a', 'm', 'o', 'u', 'n', 't'
#define K_PAYEE 0x65, 'p', 'a', 'y', 'e', 'e'
#define K_LICENCE 0x67, 'l', 'i', 'c', 'e', 'n', 'c', 'e'
#define SHOP 0x64, 's', 'h', 'o', 'p'

struct svc_case {
	const char *name;
	uint32_t port;
	const uint8_t *body;
	uint32_t size;
};

static void svc_case(const char *name, uint32_t to, const uint8_t *bytes, uint32_t size)
{
	char full[40] = "svc ";
	size_t n = 4;
	for (const char *p = name; *p && n + 1 < sizeof(full); p++)
		full[n++] = *p;
	full[n] = '\0';
	port = to;
	one_case(full, bytes, size);
}

static void svc_framed(const char *name, uint32_t to, const uint8_t *body, uint32_t size)
{
	svc_case(name, to, buf, frame(buf, body, size));
}

/* A licence of the right shape whose signature is zeros: only the signature check stops it. */
static uint32_t forged_licence(uint8_t *b)
{
	static const uint8_t head[] = { 0xa2, OP(0x67), 'i', 'n', 's', 't', 'a', 'l', 'l', K_LICENCE,
					0x59, 0x00, 0x00 };
	static const uint8_t cose[] = { 0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x58 };
	static const uint8_t claims[] = { 0xa5, 0x01, 0x64, 'f', 'i', 'l', 'm', 0x02, 0x03, 0x03,
					  0x69, 'v', 'a', 'u', 'l', 't', 'p', 'o', 'k', 'e', 0x04,
					  0x58, 0x41 };
	uint32_t at = sizeof(head), start;

	memcpy(b, head, sizeof(head));
	start = at;
	memcpy(b + at, cose, sizeof(cose));
	at += sizeof(cose);
	uint32_t payload = sizeof(claims) + 65 + 3 + 32;
	b[at++] = (uint8_t)payload;
	memcpy(b + at, claims, sizeof(claims));
	at += sizeof(claims);
	b[at++] = 0x04; /* the ephemeral key: a point's form, not a point */
	memset(b + at, 0x11, 64);
	at += 64;
	b[at++] = 0x05;
	b[at++] = 0x58;
	b[at++] = 32;
	memset(b + at, 0x22, 32);
	at += 32;
	b[at++] = 0x58;
	b[at++] = 64;
	memset(b + at, 0, 64);
	at += 64;
	b[start - 2] = (uint8_t)((at - start) >> 8);
	b[start - 1] = (uint8_t)(at - start);
	return at;
}

static void service_cases(void)
{
	static uint8_t body[600];
	uint32_t n;

	svc_case("huge-length", KEYSTORE, BYTES(0xff, 0xff, 0xff, 0xff));
	svc_case("empty", DRM, BYTES(0x00, 0x00, 0x00, 0x00));
	svc_case("over-limit", WALLET, BYTES(0x00, 0x00, 0x02, 0x01));
	svc_case("stall", KEYSTORE, BYTES(0x00, 0x00, 0x00, 0x20, 0xa1, OP(0x63)));
	svc_framed("not-cbor", KEYSTORE, BYTES(0xff));
	svc_framed("huge-map", WALLET, BYTES(0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
	svc_framed("indefinite", WALLET, BYTES(0xbf, OP(0x67), 'b', 'a', 'l', 'a', 'n', 'c', 'e', 0xff));
	svc_framed("trailing", WALLET, BYTES(0xa1, OP(0x67), 'b', 'a', 'l', 'a', 'n', 'c', 'e', 0x00));
	svc_framed("no-op", KEYSTORE, BYTES(0xa1, K_SLOT, 0x61, 'a'));
	svc_framed("unknown-op", KEYSTORE, BYTES(0xa1, OP(0x65), 's', 't', 'e', 'a', 'l'));
	svc_framed("duplicate", KEYSTORE, BYTES(0xa3, OP(T_PUB), K_SLOT, 0x61, 'a', K_SLOT, 0x61, 'b'));
	svc_framed("slot-long", KEYSTORE, BYTES(0xa2, OP(T_CREATE), K_SLOT, 0x71, 'a', 'a', 'a', 'a',
						'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'));
	svc_framed("slot-bad", KEYSTORE, BYTES(0xa2, OP(T_CREATE), K_SLOT, 0x63, 'a', ' ', '/'));
	svc_framed("msg-type", KEYSTORE, BYTES(0xa3, OP(T_SIGN), K_SLOT, 0x61, 'a', K_MSG, 0x61, 'x'));
	svc_framed("missing", KEYSTORE, BYTES(0xa2, OP(T_SIGN), K_SLOT, 0x61, 'a'));
	svc_framed("extra", KEYSTORE, BYTES(0xa3, OP(T_PUB), K_SLOT, 0x61, 'a', K_MSG, 0x40));
	n = 0;
	const uint8_t sign_head[] = { 0xa3, OP(T_SIGN), K_SLOT, 0x61, 'a', K_MSG, 0x59, 0x01, 0x01 };
	memcpy(body, sign_head, sizeof(sign_head));
	n = sizeof(sign_head) + 257;
	memset(body + sizeof(sign_head), 0x5a, 257);
	svc_framed("msg-long", KEYSTORE, body, n);
	/* Another VM's slot: open's k1 in tests/configs/vault-services.dts. Not ours: not found. */
	svc_framed("theft", KEYSTORE, BYTES(0xa3, OP(T_SIGN), K_SLOT, 0x62, 'k', '1', K_MSG, 0x41, 'x'));
	svc_framed("licence-garbage", DRM, BYTES(0xa2, OP(0x67), 'i', 'n', 's', 't', 'a', 'l', 'l',
						 K_LICENCE, 0x42, 0x01, 0x02));
	const uint8_t huge_head[] = { 0xa2, OP(0x67), 'i', 'n', 's', 't', 'a', 'l', 'l', K_LICENCE,
				      0x59, 0x01, 0x91 };
	memcpy(body, huge_head, sizeof(huge_head));
	memset(body + sizeof(huge_head), 0xd2, 401);
	svc_framed("licence-huge", DRM, body, (uint32_t)sizeof(huge_head) + 401);
	svc_framed("licence-forged", DRM, body, forged_licence(body));
	svc_framed("id-type", DRM, BYTES(0xa2, OP(0x64), 'i', 'n', 'f', 'o', K_ID, 0x05));
	svc_framed("play-missing", DRM, BYTES(0xa2, OP(0x64), 'p', 'l', 'a', 'y', K_ID, 0x64, 'f', 'i',
					      'l', 'm'));
	svc_framed("amount-zero", WALLET, BYTES(0xa3, OP(T_PAY), K_AMOUNT, 0x00, K_PAYEE, SHOP));
	svc_framed("amount-huge", WALLET, BYTES(0xa3, OP(T_PAY), K_AMOUNT, 0x1b, 0xff, 0xff, 0xff, 0xff,
						0xff, 0xff, 0xff, 0xff, K_PAYEE, SHOP));
	svc_framed("amount-negative", WALLET, BYTES(0xa3, OP(T_PAY), K_AMOUNT, 0x20, K_PAYEE, SHOP));
	svc_framed("receipt-none", WALLET, BYTES(0xa2, OP(0x67), 'r', 'e', 'c', 'e', 'i', 'p', 't',
						 0x63, 's', 'e', 'q', 0x18, 99));
}

static void print_hex_answer(const char *name, uint32_t size)
{
	for (uint32_t at = 0; at < size; at += HEX_CHUNK) {
		printf("vaultpoke: %s hex ", name);
		for (uint32_t i = at; i < size && i < at + HEX_CHUNK; i++)
			printf("%02x", answer[i]);
		printf("\n");
	}
}

/* One request and one answer, then the stream is closed. */
static void svc_good(const char *name, uint32_t to, const uint8_t *body, uint32_t size)
{
	uint32_t got = 0;
	enum got g = GOT_NOTHING;
	int c;

	port = to;
	if ((c = open_stream()) < 0) {
		note("connect refused");
	} else {
		if (send_all(c, buf, frame(buf, body, size)))
			g = read_answer(c, &got);
		else
			note("send failed");
		vsock_close(c);
	}
	printf("vaultpoke: svc good %s: %s\n", name, summary);
	if (g == GOT_ANSWER) /* its bytes, for the test to decode */
		print_hex_answer(name, got);
	summary_len = 0;
	summary[0] = '\0';
}

/* Well-formed requests, each on its own stream: what a VM of this name owns. */
static void service_good(void)
{
	svc_good("create", KEYSTORE, BYTES(0xa2, OP(T_CREATE), K_SLOT, 0x64, 'p', 'o', 'k', 'e'));
	svc_good("sign", KEYSTORE, BYTES(0xa3, OP(T_SIGN), K_SLOT, 0x64, 'p', 'o', 'k', 'e',
						K_MSG, 0x45, 'h', 'e', 'l', 'l', 'o'));
	svc_good("topup", WALLET, BYTES(0xa2, OP(0x65), 't', 'o', 'p', 'u', 'p', K_AMOUNT, 0x18, 100));
	svc_good("pay", WALLET, BYTES(0xa3, OP(T_PAY), K_AMOUNT, 0x07, K_PAYEE, SHOP));
	svc_good("balance", WALLET, BYTES(0xa1, OP(0x67), 'b', 'a', 'l', 'a', 'n', 'c', 'e'));
}

/* A stalled request on each service beside a good one: the stalls time out, the good one is
 * answered at once. */
static void service_siege(unsigned round)
{
	static const uint32_t ports[] = { KEYSTORE, DRM, WALLET };
	int stalls[3];
	uint8_t req[32];
	uint32_t size;
	unsigned refused = 0, answers = 0;

	for (unsigned i = 0; i < 3; i++) {
		port = ports[i];
		if ((stalls[i] = open_stream()) >= 0)
			send_all(stalls[i], BYTES(0x00, 0x00, 0x00, 0x40, 0xa1));
	}
	port = WALLET;
	int c = open_stream();
	if (c >= 0 && send_all(c, req, frame(req, BYTES(0xa1, OP(0x67), 'b', 'a', 'l', 'a', 'n', 'c',
							 'e'))))
		answers += read_answer(c, &size) == GOT_ANSWER;
	if (c >= 0)
		vsock_close(c);
	for (unsigned i = 0; i < 3; i++)
		if (stalls[i] >= 0) {
			refused += read_answer(stalls[i], &size) == GOT_ERROR;
			vsock_close(stalls[i]);
		}
	printf("vaultpoke: svc siege round %u: %u answer, %u of 3 stalls refused\n", round, answers,
	       refused);
	summary_len = 0;
	summary[0] = '\0';
}

static _Noreturn void services(void)
{
	printf("vaultpoke: cid %lu, poking cid %u ports %u-%u\n", vsock_cid(), VAULT_CID, KEYSTORE,
	       WALLET);
	service_cases();
	service_good();
	printf("vaultpoke: svc cases done\n");
	for (unsigned round = 1;; round++)
		service_siege(round);
}

int main(uint64_t boot_arg)
{
	uint64_t svc = 0;

	bootarg_u64(bootargs(boot_arg), "vaultpoke.services", &svc);
	gic_init();
	gic_cpu_init();
	irq_set_handler(INTID_VTIMER, timer_irq);
	gic_enable(INTID_VTIMER, IRQ_PRIO_DEFAULT);
	irq_enable();
	if (!vsock_init()) {
		printf("vaultpoke: no vsock device\n");
		psci_system_off();
	}
	if (svc)
		services();
	printf("vaultpoke: cid %lu, poking cid %u port %u\n", vsock_cid(), VAULT_CID, ATTEST_PORT);
	length_cases();
	framed_cases();
	blast();
	flood();
	good_cases();
	printf("vaultpoke: cases done\n");
	for (unsigned round = 1;; round++)
		siege(round);
}
