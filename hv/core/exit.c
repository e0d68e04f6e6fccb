/* exit.c: what happens between a guest exit and the next guest entry on a core. */
#include <pv/exit.h>
#include <pv/gic.h>
#include <pv/sched.h>
#include <pv/vm.h>

struct vcpu *vcpu_exit(struct vcpu *vcpu, u64 kind)
{
	switch (kind) {
	case EXIT_SYNC:
		trap_sync(vcpu);
		break;
	case EXIT_IRQ:
		irq_handle();
		break;
	case EXIT_FIQ:
		break;
	case EXIT_SERROR:
		vm_fatal(vcpu->vm, "SError (asynchronous abort), pc", vcpu->regs.pc);
		break;
	default:
		vm_fatal(vcpu->vm, "exception from AArch32, which it may not use, pc", vcpu->regs.pc);
		break;
	}
	return sched_next(vcpu);
}

/* The only interrupt the hypervisor takes so far is the kick, whose whole job is to bring the
 * core back into sched_next. */
void irq_handle(void)
{
	for (;;) {
		u32 intid = gic_ack();
		if (intid >= GIC_SPURIOUS)
			return;
		gic_eoi(intid);
	}
}
