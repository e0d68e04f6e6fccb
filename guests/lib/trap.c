/* trap.c: the C side of the exception vectors: expected faults are recorded, others are fatal. */
#include "guest.h"

/* One vCPU at a time uses expect mode (the guests that do are single-threaded there). */
static volatile bool expecting;
static volatile bool taken;
static struct trap_info last;

void trap_expect(void)
{
	taken = false;
	expecting = true;
	barrier();
}

bool trap_end(struct trap_info *out)
{
	barrier();
	expecting = false;
	if (taken && out)
		*out = last;
	return taken;
}

static const char *const kind_names[4] = { "sync", "irq", "fiq", "serror" };

void exception_handle(struct exc_frame *f, unsigned kind)
{
	bool sync = (kind & 3u) == 0;

	if (kind == 5) { /* IRQ at EL1 on SP_EL1: the only place our guests unmask them */
		irq_handle();
		return;
	}

	if (sync && expecting) {
		last.esr = f->esr;
		last.far = f->far;
		last.elr = f->elr;
		taken = true;
		expecting = false;
		if ((ESR_EC(f->esr) & ~1u) == EC_SOFTSTEP_LOW) {
			/* A software step: ELR is the next instruction, and stepping ends here
			 * (MDSCR_EL1.SS = 0) or the return would step again at once. */
			uint64_t mdscr;
			__asm__ volatile("mrs %0, mdscr_el1" : "=r"(mdscr));
			__asm__ volatile("msr mdscr_el1, %0\n\tisb" : : "r"(mdscr & ~1ul));
			return;
		}
		f->elr += 4; /* skip the faulting instruction: every A64 instruction is 4 bytes */
		return;
	}
	/* Not expected: say exactly what happened and end the VM so the test fails fast. */
	printf("guest: unexpected %s exception (vector %u) on vcpu %u: esr 0x%lx elr 0x%lx far 0x%lx\n",
	       kind_names[kind & 3u], kind, cpu_id(), f->esr, f->elr, f->far);
	psci_system_off();
	for (;;)
		__asm__ volatile("wfe");
}
