/* vault: the trusted-services VM (docs/vault.md). Its device attestation key signs tokens on
 * vsock port 5000 (attest.c); the keystore, DRM licences and wallet serve ports 5001-5003
 * (keystore.c, drm.c, wallet.c) with their records sealed on the vault-data disk (store.c); an
 * echo service runs on port 5100 (echo.c); the demo's console echoes each typed line, `off`
 * powers the VM off. Idle, it sleeps in WFI. */
#include "vault.h"

#define LINE_MAX 80
#define RX_RING 256u           /* typed bytes, filled by the UART interrupt */

static volatile char typed[RX_RING];
static volatile unsigned typed_head, typed_tail;
static volatile bool deadline_due;

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

/* ---- request deadlines: the virtual timer wakes the loop ---- */

static void timer_irq(unsigned intid)
{
	(void)intid;
	vtimer_stop(); /* a level: it stays pending until stopped */
	deadline_due = true;
}

static void arm_deadline(void)
{
	uint64_t d = server_deadline();

	deadline_due = false;
	if (d)
		vtimer_arm(d);
	else
		vtimer_stop();
}

int main(uint64_t boot_arg)
{
	uint8_t seed[32] = { 0 };

	gic_init();
	gic_cpu_init();
	irq_set_handler(INTID_UART, uart_irq);
	gic_enable(INTID_UART, IRQ_PRIO_DEFAULT);
	irq_set_handler(INTID_VTIMER, timer_irq);
	gic_enable(INTID_VTIMER, IRQ_PRIO_DEFAULT);
	uart_rx_irq_enable();
	irq_enable();
	uint64_t bench = 0;
	if (bootarg_u64(bootargs(boot_arg), "vault.bench", &bench) && bench)
		server_bench();
	devkey_init();
	store_init();
	store_secret("pocketvisor services blinding", seed);
	crypto_init(seed);
	if (vsock_init() && echo_start() && attest_start() && keystore_start() &&
	    drm_start(bootargs(boot_arg)) && wallet_start()) {
		printf("vault: attestation on port %u, cid %lu\n", ATTEST_PORT, vsock_cid());
		printf("vault: keystore, drm, wallet on ports %u-%u\n", KEYSTORE_PORT, WALLET_PORT);
		printf("vault: vsock echo on port %u, cid %lu\n", ECHO_PORT, vsock_cid());
	} else {
		printf("vault: no vsock device\n");
	}
	printf("vault: up, type a line to echo it, 'off' to power off\n");
	for (;;) {
		vsock_poll();
		server_serve();
		echo_serve();
		console();
		arm_deadline();
		WAIT_UNTIL(vsock_pending() || typed_waiting() || deadline_due);
	}
}
