/* pl011.c: the board UART the hypervisor prints on and reads the user's keys from. */
#include <pv/types.h>
#include <board.h>

void pl011_putc(char c);
int pl011_getc(void);
void pl011_enable_rx_irq(void);

#define UARTDR 0x00
#define UARTFR 0x18
#define UARTIMSC 0x38
#define UARTIMSC_RX (BIT(4) | BIT(6)) /* receive, and receive timeout for a lone byte */
#define UARTFR_TXFF BIT(5)
#define UARTFR_RXFE BIT(4)

static volatile u32 *uart(u64 off)
{
	return (volatile u32 *)(uintptr_t)(PLAT_UART_BASE + off);
}

void pl011_putc(char c)
{
	while (*uart(UARTFR) & UARTFR_TXFF)
		;
	*uart(UARTDR) = (u8)c;
}

/* A byte, or -1 when none is waiting. */
int pl011_getc(void)
{
	if (*uart(UARTFR) & UARTFR_RXFE)
		return -1;
	return (int)(*uart(UARTDR) & 0xff);
}

/* Keys arrive as an interrupt, so a core can sleep while every VM waits for input. */
void pl011_enable_rx_irq(void)
{
	*uart(UARTIMSC) = UARTIMSC_RX;
}
