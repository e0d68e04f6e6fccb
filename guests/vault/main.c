/* vault: the trusted-services VM, for now a vsock echo service on port 5000 serving several
 * peers at once (no one peer CID may hold more than half the table), plus the demo's console:
 * each typed line is echoed, `off` powers the VM off. Idle, it sleeps in WFI. */
#include "guest.h"

#define ECHO_PORT 5000u
#define PER_CID_MAX (VSOCK_CONN_COUNT / 2)
#define CHUNK 1024u
#define ANNOUNCE_FIRST 4u      /* connections named one by one; then counts at powers of two */
#define LINE_MAX 80
#define RX_RING 256u           /* typed bytes, filled by the UART interrupt */

static bool serving[VSOCK_CONN_COUNT];
static unsigned accepted, closed;
static uint8_t chunk[CHUNK];

static volatile char typed[RX_RING];
static volatile unsigned typed_head, typed_tail;

/* ---- vsock echo ---- */

static bool power_of_two(unsigned n) { return n && !(n & (n - 1)); }

static void on_accept(int c)
{
	uint64_t cid;
	uint32_t port;

	serving[c] = true;
	accepted++;
	if (accepted <= ANNOUNCE_FIRST && vsock_peer(c, &cid, &port))
		printf("vault: connection from cid %lu port %u\n", cid, port);
	else if (power_of_two(accepted))
		printf("vault: %u connections accepted\n", accepted);
}

static void on_close(int c)
{
	vsock_close(c);
	serving[c] = false;
	closed++;
	if (closed <= ANNOUNCE_FIRST || power_of_two(closed))
		printf("vault: %u connections closed\n", closed);
}

/* Takes in only what can go straight back out, so the vault holds no data of its own and a
 * peer that stops reading stalls only its own stream. */
static void echo(int c)
{
	for (;;) {
		uint32_t room = vsock_send_space(c);
		if (!room) {
			if (vsock_send(c, chunk, 0) < 0) /* the stream can carry nothing any more */
				on_close(c);
			return;
		}
		int n = vsock_recv(c, chunk, room < CHUNK ? room : CHUNK);
		if (n < 0)
			on_close(c);
		if (n <= 0)
			return;
		vsock_send(c, chunk, (uint32_t)n);
	}
}

static void serve(void)
{
	int c;

	vsock_poll();
	while ((c = vsock_accept(ECHO_PORT)) >= 0)
		on_accept(c);
	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
		if (serving[i])
			echo((int)i);
}

/* ---- console ---- */

/* Level-triggered while bytes wait: drain them all, or the interrupt comes straight back. */
static void uart_irq(unsigned intid)
{
	int ch;

	(void)intid;
	while ((ch = uart_getc()) >= 0)
		if (typed_head - typed_tail < RX_RING)
			typed[typed_head++ % RX_RING] = (char)ch;
}

static bool typed_waiting(void) { return typed_head != typed_tail; }

/* One line at a time, as the demo did (CR or LF ends it; nothing is echoed per key). */
static void console(void)
{
	static char line[LINE_MAX];
	static size_t len;

	while (typed_waiting()) {
		char ch = typed[typed_tail++ % RX_RING];
		if (ch == '\r' || ch == '\n') {
			if (!len)
				continue;
			line[len] = '\0';
			len = 0;
			printf("echo: %s\n", line);
			if (str_eq(line, "off")) {
				printf("vault: powering off\n");
				psci_system_off();
			}
		} else if ((ch == 0x7f || ch == '\b') && len) {
			len--;
		} else if (len + 1 < LINE_MAX && ch >= ' ' && ch < 0x7f) {
			line[len++] = ch;
		}
	}
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	gic_init();
	gic_cpu_init();
	irq_set_handler(INTID_UART, uart_irq);
	gic_enable(INTID_UART, IRQ_PRIO_DEFAULT);
	uart_rx_irq_enable();
	irq_enable();
	if (vsock_init() && vsock_listen(ECHO_PORT, PER_CID_MAX))
		printf("vault: vsock echo on port %u, cid %lu\n", ECHO_PORT, vsock_cid());
	else
		printf("vault: no vsock device\n");
	printf("vault: up, type a line to echo it, 'off' to power off\n");
	for (;;) {
		serve();
		console();
		WAIT_UNTIL(vsock_pending() || typed_waiting());
	}
}
