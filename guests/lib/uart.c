/* uart.c: polled PL011 console, each register access one 32-bit ldr/str (trap-and-emulate safe). */
#include "guest.h"

#define UARTDR 0x000u
#define UARTFR 0x018u
#define UARTIMSC 0x038u
#define INT_RX (1u << 4)                /* RXIM: receive interrupt while the FIFO holds data */
#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)

/* Inline asm, not a volatile pointer: it pins the exact instruction form (ldr w, no writeback),
 * which is all the hypervisor's MMIO decoder accepts. */
static uint32_t reg_read(uint32_t off)
{
	uint32_t v;
	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(UART_BASE + off) : "memory");
	return v;
}

static void reg_write(uint32_t off, uint32_t v)
{
	__asm__ volatile("str %w0, [%1]" : : "r"(v), "r"(UART_BASE + off) : "memory");
}

static void put_raw(char c)
{
	while (reg_read(UARTFR) & FR_TXFF)
		;
	reg_write(UARTDR, (uint8_t)c);
}

void uart_putc(char c)
{
	if (c == '\n')
		put_raw('\r');
	put_raw(c);
}

int uart_getc(void)
{
	if (reg_read(UARTFR) & FR_RXFE)
		return -1;
	return (int)(reg_read(UARTDR) & 0xffu);
}

void uart_rx_irq_enable(void)
{
	reg_write(UARTIMSC, reg_read(UARTIMSC) | INT_RX);
}
