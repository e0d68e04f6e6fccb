/* demo: the product demo's stand-in for an OS. It shows a VM owning a console: it echoes each
 * line typed while it has the input focus, and powers its VM off when told `off`. */
#include "guest.h"

#define LINE_MAX 80

/* Nothing typed yet: let a VM that shares this core run. pocketvisor traps WFI (HCR_EL2.TWI)
 * and switches there; WFI may return early, so the caller just polls again. WFE would not do:
 * QEMU 7.2 never traps WFE to EL2. With no EL2 at all (a native run) nothing would ever wake a
 * WFI here, as this guest enables no interrupt, so then the loop only polls. */
static void idle(void)
{
	uint64_t pfr0;

	__asm__ volatile("mrs %0, id_aa64pfr0_el1" : "=r"(pfr0));
	if ((pfr0 >> 8) & 0xfu) /* ID_AA64PFR0_EL1.EL2: EL2 implemented, so we are a VM */
		__asm__ volatile("wfi" ::: "memory");
}

/* Reads one line (CR or LF ends it; nothing is echoed per key, so output stays line-tagged). */
static void read_line(char *buf, size_t size)
{
	size_t n = 0;

	for (;;) {
		int c = uart_getc();
		if (c < 0) {
			idle();
			continue;
		}
		if (c == '\r' || c == '\n') {
			if (n == 0)
				continue; /* the LF of a CRLF, or an empty line */
			break;
		}
		if (c == 0x7f || c == '\b') {
			if (n)
				n--;
		} else if (n + 1 < size && c >= ' ' && c < 0x7f) {
			buf[n++] = (char)c;
		}
	}
	buf[n] = '\0';
}

int main(uint64_t boot_arg)
{
	char line[LINE_MAX];

	(void)boot_arg;
	printf("demo: up, type a line to echo it, 'off' to power off\n");
	for (;;) {
		read_line(line, sizeof(line));
		printf("echo: %s\n", line);
		if (str_eq(line, "off"))
			break;
	}
	printf("demo: powering off\n");
	psci_system_off();
	return 0;
}
