/* echo.c: the vault's vsock echo service on port 5100, serving several peers at once (no one
 * peer CID may hold more than half the table). */
#include "vault.h"

#define PER_CID_MAX (VSOCK_CONN_COUNT / 2)
#define CHUNK 1024u
#define ANNOUNCE_FIRST 4u      /* connections named one by one; then counts at powers of two */

static bool serving[VSOCK_CONN_COUNT];
static unsigned accepted, closed;
static uint8_t chunk[CHUNK];

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

bool echo_start(void)
{
	return vsock_listen(ECHO_PORT, PER_CID_MAX);
}

void echo_serve(void)
{
	int c;

	while ((c = vsock_accept(ECHO_PORT)) >= 0)
		on_accept(c);
	for (unsigned i = 0; i < VSOCK_CONN_COUNT; i++)
		if (serving[i])
			echo((int)i);
}
