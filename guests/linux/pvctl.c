/* pvctl.c: the Linux side of the hypervisor's management service (pv/manage_abi.h):
 *   pvctl [--json] list                  the VMs this VM manages
 *   pvctl [--json] info NAME             one VM's state and counters, and its last log lines
 *   pvctl [--json] log                   the hypervisor's log, as much as its ring still holds
 *   pvctl [--json] start|stop|reset|pause|resume NAME
 *   pvctl [--json] set-cpus NAME CORES   CORES: a comma list of core numbers 0..31 ("0,1")
 * over one vsock stream to CID 2 port 700, one request after another on it. Plain text by
 * default; --json prints one JSON object instead. Every error is one line on stderr,
 * `pvctl: <what>: <reason>` (with --json also {"error":...} on stdout), and the exit status says
 * whose it was: 1 the hypervisor answered with an error, 2 bad usage, 3 the hypervisor refused
 * the connection (this VM may manage nothing), 4 no answer within 10 s, a broken stream or an
 * answer that breaks the wire format. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include <pv/manage_abi.h>

#include "cli.h"

#define TIMEOUT_S 10u           /* per answer, and for the connect */
#define EXIT_ANSWERED 1         /* the hypervisor said no */
#define EXIT_USAGE 2
#define EXIT_NO_RIGHT 3         /* the connection was refused */
#define EXIT_TRANSPORT 4        /* timeout, broken stream, malformed answer */
#define PAYLOAD_MAX (PVM_RESP_MAX - sizeof(struct pvm_resp))
#define INFO_LOG_LINES 10u
#define CORES 32u               /* bits of PVM_SET_CPUS's mask */

static bool json;
static int fd = -1;
static char what[48];           /* "stop work": the prefix of an error */
static struct timespec deadline;

static const char usage_text[] =
	"usage: pvctl [--json] COMMAND\n"
	"  list                 the VMs this VM manages\n"
	"  info NAME            a VM's state, counters and last log lines\n"
	"  log                  the hypervisor's log\n"
	"  start|stop|reset|pause|resume NAME\n"
	"  set-cpus NAME CORES  the cores its vCPUs may run on, e.g. 0,1\n";

static _Noreturn void usage(void)
{
	fputs(usage_text, stderr);
	exit(EXIT_USAGE);
}

/* ---- output ---- */

/* A JSON string: quotes, backslashes and control bytes escaped; a byte above 0x7e as \u00XX
 * (Latin-1), so any bytes the hypervisor sends make valid JSON. */
static void json_str(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20 || c > 0x7e)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Text for the console as it is, but never a control byte (a hostile name or log line could
 * otherwise move the cursor or clear the screen). */
static void text_out(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		putchar(c == '\n' || c == '\t' || (c >= ' ' && c <= '~') ? c : '?');
	}
}

/* The error line, and its JSON object; status only when the hypervisor answered. */
static _Noreturn void fail_line(int code, bool prefixed, int32_t status, const char *why)
{
	fflush(stdout);
	if (prefixed)
		fprintf(stderr, "pvctl: %s: %s\n", what, why);
	else
		fprintf(stderr, "pvctl: %s\n", why);
	if (json) {
		fputs("{\"error\":", stdout);
		json_str(why, strlen(why));
		if (code == EXIT_ANSWERED)
			printf(",\"status\":%" PRId32, status);
		puts("}");
	}
	exit(code);
}

static _Noreturn void broken(const char *why)
{
	fail_line(EXIT_TRANSPORT, true, 0, why);
}

static _Noreturn void timed_out(void)
{
	char why[64];

	snprintf(why, sizeof(why), "no answer from the hypervisor in %u s", TIMEOUT_S);
	fail_line(EXIT_TRANSPORT, false, 0, why);
}

static const char *status_text(int32_t status)
{
	static char other[24];

	switch (status) {
	case PVM_E_REQUEST: return "malformed request";
	case PVM_E_OP: return "unknown operation";
	case PVM_E_NO_VM: return "no such VM";
	case PVM_E_DENIED: return "not allowed";
	case PVM_E_STATE: return "wrong state";
	case PVM_E_ARG: return "bad core mask";
	default:
		snprintf(other, sizeof(other), "error %" PRId32, status);
		return other;
	}
}

static const char *state_name(uint32_t state)
{
	static const char *const names[] = { [PVM_OFF] = "off", [PVM_RUNNING] = "running",
					     [PVM_STOPPING] = "stopping", [PVM_PAUSED] = "paused",
					     [PVM_BROKEN] = "broken" };
	static char other[24];

	if (state < sizeof(names) / sizeof(names[0]))
		return names[state];
	snprintf(other, sizeof(other), "unknown-%" PRIu32, state);
	return other;
}

/* "0,1" for bits 0 and 1; "none" for 0. */
static const char *cores_text(uint32_t mask)
{
	static char s[CORES * 3 + 1];
	size_t n = 0;

	if (!mask)
		return "none";
	for (unsigned i = 0; i < CORES; i++)
		if (mask & (1u << i))
			n += (size_t)snprintf(s + n, sizeof(s) - n, "%s%u", n ? "," : "", i);
	return s;
}

static void cores_json(uint32_t mask)
{
	bool first = true;

	putchar('[');
	for (unsigned i = 0; i < CORES; i++)
		if (mask & (1u << i)) {
			printf("%s%u", first ? "" : ",", i);
			first = false;
		}
	putchar(']');
}

/* Counter ticks as seconds with three decimals ("?" if the counter has no frequency). */
static const char *seconds(uint64_t ticks, uint64_t freq)
{
	static char s[4][32];
	static unsigned next;
	char *out = s[next++ % 4];

	if (!freq)
		return "?";
	snprintf(out, sizeof(s[0]), "%" PRIu64 ".%03" PRIu64, ticks / freq,
		 ticks % freq * 1000u / freq);
	return out;
}

static void seconds_json(const char *key, uint64_t ticks, uint64_t freq)
{
	printf(",\"%s\":%s", key, freq ? seconds(ticks, freq) : "null");
}

/* A name from the hypervisor: up to its NUL, 16 bytes at most. */
static size_t name_len(const char name[PVM_NAME_SIZE])
{
	return strnlen(name, PVM_NAME_SIZE);
}

/* ---- the stream ---- */

static void deadline_start(void)
{
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += TIMEOUT_S;
}

static int left_ms(void)
{
	return ms_until(&deadline);
}

static void dial(void)
{
	struct sockaddr_vm sa;
	struct timeval tv = { .tv_sec = TIMEOUT_S };

	if ((fd = socket(AF_VSOCK, SOCK_STREAM, 0)) < 0) {
		snprintf(what, sizeof(what), "vsock socket");
		broken(strerror(errno));
	}
	/* The kernel's default is 2 s; the hypervisor answers at once unless its cores are busy. */
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.svm_family = AF_VSOCK;
	sa.svm_cid = PVM_CID;
	sa.svm_port = PVM_PORT;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return;
	if (errno == ECONNRESET || errno == ECONNREFUSED)
		fail_line(EXIT_NO_RIGHT, false, 0,
			  "the hypervisor refused the connection: this VM's config has no manages, "
			  "or another pvctl of this VM holds its one management stream");
	if (errno == ETIMEDOUT)
		timed_out();
	snprintf(what, sizeof(what), "connect to CID %u port %u", PVM_CID, PVM_PORT);
	broken(strerror(errno));
}

static const char *stream_error(int err)
{
	return err == ECONNRESET || err == EPIPE ? "the hypervisor reset the stream" : strerror(err);
}

/* Waits for fd to be ready for `events` before the deadline. */
static void wait_for(short events)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int r = poll(&pfd, 1, left_ms());
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			broken(strerror(errno));
		if (r == 0)
			timed_out();
		return;
	}
}

static void send_all(const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		wait_for(POLLOUT);
		/* MSG_NOSIGNAL: a stream the hypervisor reset is an error here, not a SIGPIPE. */
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			broken(stream_error(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* Exactly n bytes: the stream may split an answer anywhere. */
static void recv_all(void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n) {
		wait_for(POLLIN);
		ssize_t got = read(fd, p, n);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			broken(stream_error(errno));
		if (got == 0)
			broken("the hypervisor ended the stream (reset or closed) before it answered");
		p += got;
		n -= (size_t)got;
	}
}

/* One request and its whole answer; the payload's size is returned. A refusal (status < 0)
 * ends the program with status 1. */
static uint32_t exchange(uint32_t op, const char name[PVM_NAME_SIZE], uint32_t arg,
			 void *payload)
{
	struct pvm_req req = { .magic = PVM_MAGIC, .op = op, .arg = arg };
	struct pvm_resp resp;

	if (name)
		memcpy(req.name, name, PVM_NAME_SIZE);
	deadline_start();
	send_all(&req, sizeof(req));
	recv_all(&resp, sizeof(resp));
	if (resp.magic != PVM_MAGIC || resp.op != op)
		broken("the hypervisor's answer is not one to this request");
	if (resp.status > 0 || (resp.status < 0 && resp.len))
		broken("the hypervisor's answer has a bad status or length");
	if (resp.status < 0)
		fail_line(EXIT_ANSWERED, true, resp.status, status_text(resp.status));
	if (resp.len > PAYLOAD_MAX)
		broken("the hypervisor's answer is too long");
	recv_all(payload, resp.len);
	return resp.len;
}

/* ---- the log ---- */

struct text {
	char *p;
	size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4 * PVM_LOG_RING;
		while (cap < t->len + n + 1)
			cap *= 2;
		if (!(t->p = realloc(t->p, cap))) {
			snprintf(what, sizeof(what), "log");
			broken("out of memory");
		}
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static bool at_line_start(const struct text *t)
{
	return !t->len || t->p[t->len - 1] == '\n';
}

struct log_sink {
	struct text *text;      /* collect here, or print as it comes if NULL */
	bool printed_newline;   /* printing: the last byte out was '\n' (or none was) */
	uint64_t lost;
};

static void sink_lost(struct log_sink *s, uint32_t n)
{
	s->lost += n;
	if (s->text) {
		/* The bytes after the gap begin a new line, whatever came before it. */
		if (!at_line_start(s->text))
			text_add(s->text, "\n", 1);
		return;
	}
	if (!s->printed_newline)
		putchar('\n');
	printf("pvctl: log: %" PRIu32 " bytes lost\n", n);
	s->printed_newline = true;
}

static void sink_bytes(struct log_sink *s, const char *p, size_t n)
{
	if (!n)
		return;
	if (s->text) {
		text_add(s->text, p, n);
		return;
	}
	text_out(p, n);
	s->printed_newline = p[n - 1] == '\n';
}

/* The whole log the ring holds, chunk by chunk, on the open stream. Positions are 32-bit and
 * wrap, so they are only ever compared by difference. It stops at the `next` of its first
 * answer at the latest: lines logged while it reads (its own requests may log) would
 * otherwise keep it chasing. */
static void log_fetch(struct log_sink *s)
{
	static uint8_t payload[PAYLOAD_MAX];
	struct pvm_log l;
	uint32_t pos = 0, end = 0;

	for (bool first_answer = true;; first_answer = false) {
		uint32_t n = exchange(PVM_LOG, NULL, pos, payload);
		if (n < sizeof(l))
			broken("the hypervisor's log answer is too short");
		memcpy(&l, payload, sizeof(l));
		uint32_t bytes = n - (uint32_t)sizeof(l);
		if (first_answer)
			end = l.next;
		uint32_t want_from = (int32_t)(l.first - pos) > 0 ? l.first : pos;
		if (l.from != want_from || bytes > PVM_LOG_CHUNK || bytes > l.next - l.from)
			broken("the hypervisor's log answer does not fit the position asked");
		if (l.from != pos)
			sink_lost(s, l.from - pos);
		sink_bytes(s, (const char *)payload + sizeof(l), bytes);
		pos = l.from + bytes;
		if (pos == l.next || (int32_t)(pos - end) >= 0)
			return;
		if (!bytes)
			broken("the hypervisor's log answer is empty before its end");
	}
}

/* ---- the commands ---- */

static void list(void)
{
	static uint8_t payload[PAYLOAD_MAX];
	struct pvm_vm vm;
	uint32_t n = exchange(PVM_LIST, NULL, 0, payload);
	size_t width = 9; /* "NAME" and its gap */

	if (n % sizeof(vm))
		broken("the hypervisor's list is not a whole number of VMs");
	n /= (uint32_t)sizeof(vm);
	for (uint32_t i = 0; i < n; i++) {
		memcpy(&vm, payload + i * sizeof(vm), sizeof(vm));
		if (name_len(vm.name) + 2 > width)
			width = name_len(vm.name) + 2;
	}
	if (json)
		fputs("{\"vms\":[", stdout);
	else
		printf("%-*s%-9s%-7s%-8sCID\n", (int)width, "NAME", "STATE", "VCPUS", "MEMORY");
	for (uint32_t i = 0; i < n; i++) {
		memcpy(&vm, payload + i * sizeof(vm), sizeof(vm));
		size_t len = name_len(vm.name);
		if (json) {
			fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
			json_str(vm.name, len);
			printf(",\"state\":\"%s\",\"vcpus\":%" PRIu32 ",\"memory_mib\":%" PRIu32
			       ",\"cid\":%" PRIu32 "}", state_name(vm.state), vm.vcpus, vm.ram_mib,
			       vm.cid);
			continue;
		}
		char mem[24], cid[12] = "-", vcpus[12];
		snprintf(mem, sizeof(mem), "%" PRIu32 " MiB", vm.ram_mib);
		snprintf(vcpus, sizeof(vcpus), "%" PRIu32, vm.vcpus);
		if (vm.cid)
			snprintf(cid, sizeof(cid), "%" PRIu32, vm.cid);
		text_out(vm.name, len);
		/* Each column at least one space from the next, even when its text is long. */
		printf("%*s%-8s %-6s %-7s %s\n", (int)(width - len), "", state_name(vm.state), vcpus,
		       mem, cid);
	}
	if (json)
		puts("]}");
}

/* The last INFO_LOG_LINES lines of the log that contain `vm NAME: ` (log.c's prefix). */
static unsigned vm_lines(const struct text *t, const char *name, const char *line[],
			 size_t len[])
{
	char needle[PVM_NAME_SIZE + 8];
	unsigned count = 0;

	snprintf(needle, sizeof(needle), "vm %s: ", name);
	for (size_t at = 0; at < t->len;) {
		const char *start = t->p + at, *nl = memchr(start, '\n', t->len - at);
		size_t n = nl ? (size_t)(nl - start) : t->len - at;
		/* The line as a C string for strstr: the log holds no NUL, or the line ends there. */
		char save = start[n];
		t->p[at + n] = '\0';
		if (strstr(start, needle)) {
			if (count == INFO_LOG_LINES) {
				memmove(line, line + 1, (INFO_LOG_LINES - 1) * sizeof(line[0]));
				memmove(len, len + 1, (INFO_LOG_LINES - 1) * sizeof(len[0]));
				count--;
			}
			line[count] = start;
			len[count++] = strnlen(start, n);
		}
		t->p[at + n] = save;
		at += n + 1;
	}
	return count;
}

/* Exits by kind, from pvm_vcpu's counts by exception class (ESR_EL2.EC, Arm ARM D17.2.37):
 * "irq" is irq_exits, "other" every class not named here. */
#define EXIT_KINDS 8u
#define EC_COUNT (sizeof(((struct pvm_vcpu *)0)->exits) / sizeof(uint32_t))
static const struct {
	const char *name;
	uint32_t ec;
} exit_kinds[EXIT_KINDS - 2] = {
	{ "wfx", 0x01 }, { "hvc", 0x16 }, { "smc", 0x17 }, { "sysreg", 0x18 }, { "mmio", 0x24 },
	{ "iabt", 0x20 },
};

/* irq, wfx, hvc, smc, sysreg, mmio, iabt, other: the counts the text and JSON print. */
static void exit_counts(const struct pvm_vcpu *v, const char *name[EXIT_KINDS],
			uint64_t count[EXIT_KINDS])
{
	uint64_t other = 0;

	name[0] = "irq";
	count[0] = v->irq_exits;
	for (uint32_t ec = 0; ec < EC_COUNT; ec++)
		other += v->exits[ec];
	for (unsigned k = 0; k < EXIT_KINDS - 2; k++) {
		name[k + 1] = exit_kinds[k].name;
		count[k + 1] = v->exits[exit_kinds[k].ec];
		other -= v->exits[exit_kinds[k].ec];
	}
	name[EXIT_KINDS - 1] = "other";
	count[EXIT_KINDS - 1] = other;
}

static uint64_t net_drops(const struct pvm_net *n)
{
	return (uint64_t)n->drop_spoof + n->drop_policy + n->drop_full;
}

static void info_text(const struct pvm_info *in, const struct pvm_vcpu *v, const char *line[],
		      const size_t len[], unsigned lines)
{
	fputs("name: ", stdout);
	text_out(in->vm.name, name_len(in->vm.name));
	printf("\nstate: %s\nvcpus: %" PRIu32 "\nmemory: %" PRIu32 " MiB\n", state_name(in->vm.state),
	       in->vm.vcpus, in->vm.ram_mib);
	if (in->vm.cid)
		printf("cid: %" PRIu32 "\n", in->vm.cid);
	else
		puts("cid: none");
	printf("uptime: %s s\nstarts: %" PRIu32 "\ncores: %s\ninterrupts: %" PRIu32 "\n",
	       seconds(in->uptime_ticks, in->freq), in->starts, cores_text(in->cpu_mask), in->c.irqs);
	printf("vsock: %" PRIu32 " connections, %" PRIu32 " refused\n", in->c.vsock_connects,
	       in->c.vsock_refused);
	printf("disk: %" PRIu32 " reads, %" PRIu32 " writes\n", in->c.disk_reads, in->c.disk_writes);
	printf("net: %" PRIu32 " sent, %" PRIu32 " received, %" PRIu64 " dropped (%" PRIu32
	       " spoofed, %" PRIu32 " by policy, %" PRIu32 " receiver full)\n", in->net.tx,
	       in->net.rx, net_drops(&in->net), in->net.drop_spoof, in->net.drop_policy,
	       in->net.drop_full);
	/* The ABI carries the hypervisor's free table pages only, not the VM's own count. */
	printf("stage-2 tables: %" PRIu32 " free\n", in->tables_free);
	for (uint32_t i = 0; i < in->vm.vcpus; i++) {
		const char *name[EXIT_KINDS];
		uint64_t count[EXIT_KINDS];
		printf("vcpu %" PRIu32 ": core %" PRIu32 ", run %s s, steal %s s, last exit ESR 0x%08"
		       PRIx32 "\n", i, v[i].cpu, seconds(v[i].run_ticks, in->freq),
		       seconds(v[i].steal_ticks, in->freq), v[i].last_esr);
		exit_counts(&v[i], name, count);
		fputs("  exits:", stdout);
		for (unsigned k = 0; k < EXIT_KINDS; k++)
			printf("%s %s %" PRIu64, k ? "," : "", name[k], count[k]);
		putchar('\n');
	}
	puts("log:");
	for (unsigned i = 0; i < lines; i++) {
		fputs("  ", stdout);
		text_out(line[i], len[i]);
		putchar('\n');
	}
}

static void vcpu_json(uint32_t i, const struct pvm_vcpu *v, uint64_t freq)
{
	const char *name[EXIT_KINDS];
	uint64_t count[EXIT_KINDS];
	bool first = true;

	printf("%s{\"vcpu\":%" PRIu32 ",\"core\":%" PRIu32 ",\"run_ticks\":%" PRIu64, i ? "," : "",
	       i, v->cpu, v->run_ticks);
	seconds_json("run_s", v->run_ticks, freq);
	printf(",\"steal_ticks\":%" PRIu64, v->steal_ticks);
	seconds_json("steal_s", v->steal_ticks, freq);
	printf(",\"irq_exits\":%" PRIu32 ",\"last_esr\":%" PRIu32 ",\"exits\":{", v->irq_exits,
	       v->last_esr);
	exit_counts(v, name, count);
	for (unsigned k = 0; k < EXIT_KINDS; k++)
		printf("%s\"%s\":%" PRIu64, k ? "," : "", name[k], count[k]);
	fputs("},\"exits_by_ec\":{", stdout); /* the classes it took at all */
	for (uint32_t ec = 0; ec < EC_COUNT; ec++)
		if (v->exits[ec]) {
			printf("%s\"0x%02" PRIx32 "\":%" PRIu32, first ? "" : ",", ec, v->exits[ec]);
			first = false;
		}
	fputs("}}", stdout);
}

static void info_json(const struct pvm_info *in, const struct pvm_vcpu *v, const char *line[],
		      const size_t len[], unsigned lines)
{
	fputs("{\"name\":", stdout);
	json_str(in->vm.name, name_len(in->vm.name));
	printf(",\"state\":\"%s\",\"memory_mib\":%" PRIu32 ",\"cid\":%" PRIu32 ",\"freq\":%" PRIu64
	       ",\"uptime_ticks\":%" PRIu64, state_name(in->vm.state), in->vm.ram_mib, in->vm.cid,
	       in->freq, in->uptime_ticks);
	seconds_json("uptime_s", in->uptime_ticks, in->freq);
	printf(",\"starts\":%" PRIu32 ",\"cpu_mask\":%" PRIu32 ",\"cores\":", in->starts,
	       in->cpu_mask);
	cores_json(in->cpu_mask);
	printf(",\"irqs\":%" PRIu32 ",\"vsock_connects\":%" PRIu32 ",\"vsock_refused\":%" PRIu32
	       ",\"disk_reads\":%" PRIu32 ",\"disk_writes\":%" PRIu32, in->c.irqs,
	       in->c.vsock_connects, in->c.vsock_refused, in->c.disk_reads, in->c.disk_writes);
	printf(",\"net_tx\":%" PRIu32 ",\"net_rx\":%" PRIu32 ",\"net_drops\":%" PRIu64
	       ",\"net_drop_spoof\":%" PRIu32 ",\"net_drop_policy\":%" PRIu32
	       ",\"net_drop_full\":%" PRIu32 ",\"tables_free\":%" PRIu32 ",\"vcpus\":[",
	       in->net.tx, in->net.rx, net_drops(&in->net), in->net.drop_spoof,
	       in->net.drop_policy, in->net.drop_full, in->tables_free);
	for (uint32_t i = 0; i < in->vm.vcpus; i++)
		vcpu_json(i, &v[i], in->freq);
	fputs("],\"log\":[", stdout);
	for (unsigned i = 0; i < lines; i++) {
		if (i)
			putchar(',');
		json_str(line[i], len[i]);
	}
	puts("]}");
}

static void info(const char name[PVM_NAME_SIZE])
{
	static uint8_t payload[PAYLOAD_MAX];
	static struct pvm_vcpu v[(PAYLOAD_MAX - sizeof(struct pvm_info)) / sizeof(struct pvm_vcpu)];
	struct pvm_info in;
	struct text log = { 0 };
	struct log_sink sink = { .text = &log };
	const char *line[INFO_LOG_LINES];
	size_t len[INFO_LOG_LINES];
	uint32_t n = exchange(PVM_INFO, name, 0, payload);

	if (n < sizeof(in))
		broken("the hypervisor's info answer is too short");
	memcpy(&in, payload, sizeof(in));
	if (in.vm.vcpus > sizeof(v) / sizeof(v[0]) ||
	    n != sizeof(in) + in.vm.vcpus * sizeof(v[0]))
		broken("the hypervisor's info answer does not match its vCPU count");
	memcpy(v, payload + sizeof(in), in.vm.vcpus * sizeof(v[0]));
	snprintf(what, sizeof(what), "info %s: log", name);
	log_fetch(&sink);
	unsigned lines = vm_lines(&log, name, line, len);
	if (json)
		info_json(&in, v, line, len, lines);
	else
		info_text(&in, v, line, len, lines);
	free(log.p);
}

static void show_log(void)
{
	struct text log = { 0 };
	struct log_sink sink = { .text = json ? &log : NULL, .printed_newline = true };

	log_fetch(&sink);
	if (!json) {
		if (!sink.printed_newline)
			putchar('\n');
		return;
	}
	fputs("{\"log\":", stdout);
	json_str(log.p ? log.p : "", log.len);
	printf(",\"lost\":%" PRIu64 "}\n", sink.lost);
	free(log.p);
}

/* CORES ("0,1") as a mask, or usage. */
static uint32_t core_mask(const char *s)
{
	char piece[12];
	uint32_t mask = 0;

	for (;;) {
		size_t n = strcspn(s, ",");
		if (n >= sizeof(piece))
			usage();
		memcpy(piece, s, n);
		piece[n] = '\0';
		mask |= 1u << number(piece, CORES - 1);
		if (!s[n])
			return mask;
		s += n + 1;
	}
}

struct op {
	const char *cmd;
	uint32_t op;
	const char *done;       /* "work: stopped" */
};

static const struct op ops[] = {
	{ "start", PVM_START, "started" },   { "stop", PVM_STOP, "stopped" },
	{ "reset", PVM_RESET, "reset" },     { "pause", PVM_PAUSE, "paused" },
	{ "resume", PVM_RESUME, "resumed" }, { "set-cpus", PVM_SET_CPUS, "cores" },
};

static void act(const struct op *o, const char name[PVM_NAME_SIZE], uint32_t mask)
{
	static uint8_t payload[PAYLOAD_MAX];
	char result[16 + CORES * 3];

	if (exchange(o->op, name, mask, payload))
		broken("the hypervisor's answer has a payload where none belongs");
	if (o->op == PVM_SET_CPUS)
		snprintf(result, sizeof(result), "cores %s", cores_text(mask));
	else
		snprintf(result, sizeof(result), "%s", o->done);
	if (!json) {
		printf("%s: %s\n", name, result);
		return;
	}
	fputs("{\"name\":", stdout);
	json_str(name, strlen(name));
	fputs(",\"result\":", stdout);
	json_str(result, strlen(result));
	if (o->op == PVM_SET_CPUS) {
		fputs(",\"cores\":", stdout);
		cores_json(mask);
	}
	puts("}");
}

/* NAME as the wire carries it (NUL-padded), after the same check the hypervisor makes. */
static void name_arg(const char *s, char name[PVM_NAME_SIZE])
{
	size_t n = strlen(s);

	if (n < 1 || n >= PVM_NAME_SIZE) {
		fprintf(stderr, "pvctl: bad VM name \"%.32s%s\": a name is 1 to %u bytes\n", s,
			n > 32 ? "..." : "", PVM_NAME_SIZE - 1);
		exit(EXIT_USAGE);
	}
	memset(name, 0, PVM_NAME_SIZE);
	memcpy(name, s, n);
}

int main(int argc, char **argv)
{
	char name[PVM_NAME_SIZE];
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_text, stdout);
			return 0;
		} else {
			usage();
		}
	}
	if (i >= argc)
		usage();
	const char *cmd = argv[i];
	int n = argc - i - 1;
	char **args = argv + i + 1;
	snprintf(what, sizeof(what), "%s", cmd);
	if (!strcmp(cmd, "list") || !strcmp(cmd, "log")) {
		if (n != 0)
			usage();
		dial();
		if (!strcmp(cmd, "list"))
			list();
		else
			show_log();
		close(fd);
		return 0;
	}
	if (!strcmp(cmd, "info")) {
		if (n != 1)
			usage();
		name_arg(args[0], name);
		snprintf(what, sizeof(what), "info %s", name);
		dial();
		info(name);
		close(fd);
		return 0;
	}
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		const struct op *o = &ops[k];
		if (strcmp(cmd, o->cmd))
			continue;
		if (n != (o->op == PVM_SET_CPUS ? 2 : 1))
			usage();
		name_arg(args[0], name);
		uint32_t mask = o->op == PVM_SET_CPUS ? core_mask(args[1]) : 0;
		snprintf(what, sizeof(what), "%s %s", cmd, name);
		dial();
		act(o, name, mask);
		close(fd);
		return 0;
	}
	usage();
}
