/* vsecho: vsbench's partner (tests/configs/vsbench*.dts) on vsock port 5000. A connection's
 * first 4 bytes pick its mode: "ECHO" sends every later byte back, "SINK" reads and discards
 * as fast as it can and sends one byte ('K') each time another SINK_ACK bytes have arrived,
 * so the sender can time a one-way transfer to its end. Anything else is closed. */
#include "guest.h"

#define PORT 5000u
#define SINK_ACK (1024u * 1024u)
#define CHUNK 4096u

enum mode { NONE, HELLO, ECHO, SINK };

static enum mode modes[VSOCK_CONN_COUNT];
static char hello[VSOCK_CONN_COUNT][4];
static uint32_t hello_len[VSOCK_CONN_COUNT], sunk[VSOCK_CONN_COUNT];
static uint8_t chunk[CHUNK];

static void finish(int c)
{
	vsock_close(c);
	modes[c] = NONE;
}

static void greet(int c)
{
	int n = vsock_recv(c, hello[c] + hello_len[c], 4 - hello_len[c]);

	if (n < 0) {
		finish(c);
		return;
	}
	hello_len[c] += (uint32_t)n;
	if (hello_len[c] < 4)
		return;
	const char *h = hello[c];
	if (h[0] == 'E' && h[1] == 'C' && h[2] == 'H' && h[3] == 'O')
		modes[c] = ECHO;
	else if (h[0] == 'S' && h[1] == 'I' && h[2] == 'N' && h[3] == 'K')
		modes[c] = SINK;
	else
		finish(c);
}

/* As the vault does: take in only what can go straight back. */
static void echo(int c)
{
	for (;;) {
		uint32_t room = vsock_send_space(c);
		int n = room ? vsock_recv(c, chunk, room < CHUNK ? room : CHUNK) : 0;
		if (n < 0 || (!room && vsock_send(c, chunk, 0) < 0))
			finish(c);
		if (n <= 0)
			return;
		vsock_send(c, chunk, (uint32_t)n);
	}
}

static void sink(int c)
{
	int n;

	while ((n = vsock_recv(c, chunk, CHUNK)) > 0) {
		sunk[c] += (uint32_t)n;
		if (sunk[c] >= SINK_ACK) {
			sunk[c] -= SINK_ACK;
			vsock_send(c, "K", 1); /* the sender reads it, so credit is there */
		}
	}
	if (n < 0)
		finish(c);
}

int main(uint64_t boot_arg)
{
	int c;

	(void)boot_arg;
	gic_init();
	gic_cpu_init();
	if (!vsock_init() || !vsock_listen(PORT, VSOCK_CONN_COUNT)) {
		printf("vsecho: no vsock device\n");
		return 0;
	}
	printf("vsecho: up on port %u, cid %lu\n", PORT, vsock_cid());
	for (;;) {
		vsock_poll();
		while ((c = vsock_accept(PORT)) >= 0) {
			modes[c] = HELLO;
			hello_len[c] = sunk[c] = 0;
		}
		for (int i = 0; i < (int)VSOCK_CONN_COUNT; i++) {
			if (modes[i] == HELLO)
				greet(i);
			if (modes[i] == ECHO)
				echo(i);
			else if (modes[i] == SINK)
				sink(i);
		}
		WAIT_UNTIL(vsock_pending());
	}
}
