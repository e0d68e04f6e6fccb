/* vpl011.c: the PL011 each VM sees (Arm DDI 0183), enough for Linux's amba-pl011 and for
 * polling guests: output goes to the console multiplexer a line at a time, input comes from it. */
#include <pv/console.h>
#include <pv/log.h>
#include <pv/sched.h>
#include <pv/vm.h>

#define UARTDR 0x000
#define UARTRSR 0x004
#define UARTFR 0x018
#define UARTIBRD 0x024
#define UARTFBRD 0x028
#define UARTLCR_H 0x02c
#define UARTCR 0x030
#define UARTIFLS 0x034
#define UARTIMSC 0x038
#define UARTRIS 0x03c
#define UARTMIS 0x040
#define UARTICR 0x044
#define UARTDMACR 0x048
#define UARTPERIPHID0 0xfe0

#define FR_RXFE BIT(4)
#define FR_RXFF BIT(6)
#define FR_TXFE BIT(7)
#define INT_RX BIT(4)
#define INT_TX BIT(5)

/* The registers from UARTIBRD to UARTDMACR are plain storage but for RIS, MIS and ICR: u->reg
 * by (offset - UARTIBRD) / 4, and the bits each keeps of a write (0: none, it is read-only or
 * write-to-clear). */
#define REG(off) (((off) - UARTIBRD) / 4) /* wraps below UARTIBRD */
static const u16 reg_mask[] = { [REG(UARTIBRD)] = 0xffff, [REG(UARTFBRD)] = 0x3f,
				[REG(UARTLCR_H)] = 0xff,  [REG(UARTCR)] = 0xffff,
				[REG(UARTIFLS)] = 0x3f,   [REG(UARTIMSC)] = 0x7ff,
				[REG(UARTDMACR)] = 0x7 };
#define IMSC(u) ((u)->reg[REG(UARTIMSC)])
_Static_assert(ARRAY_SIZE(reg_mask) == ARRAY_SIZE(((struct vpl011 *)0)->reg), "one per register");

/* PrimeCell identification, as the AMBA bus code reads it to bind the driver. */
static const u8 periph_id[8] = { 0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

static u32 rx_count(const struct vpl011 *u)
{
	return u->rx_head - u->rx_tail;
}

static u32 ris(const struct vpl011 *u)
{
	return INT_TX | (rx_count(u) ? INT_RX : 0); /* TX never fills: output leaves at once */
}

/* The UART's interrupt line (UARTINTR) is the OR of the masked interrupt status. Called with
 * the UART's lock held, after anything that can change RIS or IMSC. */
static void update_line(struct vm *vm)
{
	struct vpl011 *u = &vm->uart;
	bool level = (ris(u) & IMSC(u)) != 0;
	if (level != u->irq) {
		u->irq = level;
		sched_wake_mask(vm, vgic_set_level(&vm->vgic, 0, VPL011_SPI, level));
	}
}

bool vpl011_receive(struct vm *vm, u8 c)
{
	struct vpl011 *u = &vm->uart;
	bool room;
	spin_lock(&u->lock);
	room = rx_count(u) < VPL011_RX_SIZE;
	if (room)
		u->rx[u->rx_head++ % VPL011_RX_SIZE] = c;
	else if (!u->overrun) /* as a real UART overruns; said once until input fits again */
		log_warn(vm, "console input overrun: it does not read its UART; input dropped");
	u->overrun = !room;
	update_line(vm);
	spin_unlock(&u->lock);
	/* WFI may end for any reason (Arm ARM D1.6.2): waking the VM's first vCPU on input lets a
	 * guest that polls its UART between WFIs, without interrupts, see its keys. */
	sched_wake(&vm->vcpus[0]);
	return room;
}

static void flush(struct vm *vm)
{
	struct vpl011 *u = &vm->uart;
	if (u->line_len)
		console_vm_line(vm, u->line, u->line_len);
	u->line_len = 0;
}

void vpl011_flush(struct vm *vm)
{
	spin_lock(&vm->uart.lock);
	flush(vm);
	spin_unlock(&vm->uart.lock);
}

static void tx(struct vm *vm, u8 c)
{
	struct vpl011 *u = &vm->uart;
	if (c == '\r')
		return;
	if (c == '\n' || u->line_len == sizeof(u->line)) {
		flush(vm);
		if (c == '\n')
			return;
	}
	u->line[u->line_len++] = (char)c;
}

static u32 read_reg(struct vm *vm, u64 off)
{
	struct vpl011 *u = &vm->uart;
	u64 i = REG(off);
	switch (off) {
	case UARTDR:
		return rx_count(u) ? u->rx[u->rx_tail++ % VPL011_RX_SIZE] : 0;
	case UARTFR:
		return FR_TXFE | (rx_count(u) ? 0 : FR_RXFE) |
		       (rx_count(u) == VPL011_RX_SIZE ? FR_RXFF : 0);
	case UARTRIS: return ris(u);
	case UARTMIS: return ris(u) & IMSC(u);
	default:
		if (i < ARRAY_SIZE(u->reg))
			return u->reg[i]; /* UARTICR reads as zero: it is never written */
		if (off >= UARTPERIPHID0 && off < UARTPERIPHID0 + 32 && !(off & 3))
			return periph_id[(off - UARTPERIPHID0) / 4];
		return 0; /* reserved: reads as zero */
	}
}

/* RSR/ICR clear error and interrupt bits we never set; the rest is read-only. */
static void write_reg(struct vm *vm, u64 off, u32 val)
{
	struct vpl011 *u = &vm->uart;
	u64 i = REG(off);
	if (off == UARTDR)
		tx(vm, (u8)val);
	else if (i < ARRAY_SIZE(u->reg) && reg_mask[i])
		u->reg[i] = val & reg_mask[i];
}

/* Registers are 32 bits wide; narrower accesses see the low bytes, as on the hardware. */
void vpl011_access(struct vm *vm, u64 off, u32 size, bool write, u64 *val)
{
	u64 reg = off & ~3ull;
	u32 shift = (u32)(off & 3) * 8;
	if (!write && (reg == UARTDR || reg == UARTFR))
		console_poll(); /* before the lock: input delivery takes it too */
	spin_lock(&vm->uart.lock);
	if (write)
		write_reg(vm, reg, (u32)(*val << shift));
	else
		*val = (read_reg(vm, reg) >> shift) & (size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1);
	update_line(vm);
	spin_unlock(&vm->uart.lock);
}
