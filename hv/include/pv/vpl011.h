/* vpl011.h: the PL011 UART each VM sees at PLAT_GUEST_UART_BASE, trapped and emulated. */
#ifndef PV_VPL011_H
#define PV_VPL011_H

#include <pv/spinlock.h>
#include <pv/types.h>

/* Input waiting for the guest: more than the hardware's 32-byte FIFO, so a pasted line or a
 * typed command reaches a shell that reads in bursts (FR.RXFF still says when it is full). */
#define VPL011_RX_SIZE 256u
#define VPL011_SPI 33u /* its interrupt, as on QEMU virt */

struct vpl011 {
	struct spinlock lock; /* vCPUs of one VM on several cores share it */
	u32 reg[10];          /* UARTIBRD..UARTDMACR as written, by (offset - 0x24) / 4 (vpl011.c) */
	u32 rx_head, rx_tail; /* free-running; rx_head - rx_tail bytes are queued */
	u8 rx[VPL011_RX_SIZE];
	bool irq;      /* the interrupt output, as last told to the vGIC */
	bool overrun;  /* the last input byte was dropped (logged once per run of drops) */
	u32 line_len;
	char line[120]; /* output collected until a newline, then printed with the VM's tag */
};

struct vm;
/* One access of size bytes at offset off; *val is the value written or the value read. */
void vpl011_access(struct vm *vm, u64 off, u32 size, bool write, u64 *val);
/* Queues input for the VM; false when its FIFO is full. */
bool vpl011_receive(struct vm *vm, u8 c);
/* Prints what the VM left without a final newline (when it stops). */
void vpl011_flush(struct vm *vm);

#endif
