/* irq.c: the C side of the IRQ vector: acknowledge, run the INTID's handler, end the interrupt. */
#include "guest.h"

#define ICC_IAR_INTID(iar) ((unsigned)((iar) & 0xffffffu))
#define INTID_SPECIAL 1020u /* 1020..1023 are not interrupts (1023: nothing pending) */

#define INTID_PRIVATE 32u   /* SGIs and PPIs are banked per vCPU, and so are their handlers */

static irq_handler_fn private_handlers[GUEST_MAX_VCPUS][INTID_PRIVATE];
static irq_handler_fn spi_handlers[IRQ_MAX - INTID_PRIVATE];

static irq_handler_fn *slot(unsigned intid)
{
	if (intid < INTID_PRIVATE)
		return &private_handlers[cpu_id()][intid];
	return intid < IRQ_MAX ? &spi_handlers[intid - INTID_PRIVATE] : NULL;
}

void irq_set_handler(unsigned intid, irq_handler_fn fn)
{
	irq_handler_fn *h = slot(intid);

	if (h)
		*h = fn;
	barrier();
}

/* One interrupt per exception: if another is pending, the eret takes us straight back. */
void irq_handle(void)
{
	uint64_t iar;

	__asm__ volatile("mrs %0, icc_iar1_el1" : "=r"(iar) : : "memory");
	unsigned intid = ICC_IAR_INTID(iar);
	if (intid >= INTID_SPECIAL)
		return;
	irq_handler_fn *h = slot(intid), fn = h ? *h : NULL;
	if (fn) {
		fn(intid);
	} else {
		/* Nobody asked for it: say so once and switch it off rather than storm. */
		printf("guest: unexpected interrupt %u on vcpu %u\n", intid, cpu_id());
		gic_disable(intid);
	}
	/* EOImode 0: this write both drops the priority and deactivates the interrupt. */
	__asm__ volatile("msr icc_eoir1_el1, %0" : : "r"(iar) : "memory");
}
