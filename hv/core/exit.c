/* exit.c: what happens between a guest exit and the next guest entry on a core. */
#include <pv/arch.h>
#include <pv/console.h>
#include <pv/cpu.h>
#include <pv/exit.h>
#include <pv/gic.h>
#include <pv/passthru.h>
#include <pv/provider.h>
#include <pv/sched.h>
#include <pv/vgic.h>
#include <pv/vm.h>

/* Just before entry: the LRs get the vCPU's deliverable interrupts. */
static struct vcpu *enter(struct vcpu *vcpu)
{
	vgic_flush(&vcpu->vm->vgic, vcpu->id, arch_vgic_lr_count());
	return vcpu;
}

struct vcpu *vcpu_exit(struct vcpu *vcpu, u64 kind)
{
	vgic_sync(&vcpu->vm->vgic, vcpu->id);
	switch (kind) {
	case EXIT_SYNC:
		trap_sync(vcpu);
		break;
	case EXIT_IRQ:
		vcpu->stat.irq_exits++;
		irq_handle(vcpu, vcpu->exit_irq);
		break;
	case EXIT_HANDLED:
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
	return enter(sched_next(vcpu));
}

_Noreturn void schedule_first(void)
{
	arch_guest_enter(enter(sched_next(NULL)));
}

/* Physical interrupts, taken at EL2 while cur ran (or while the core idled, cur NULL). With
 * EOImode=1 each is acknowledged, priority-dropped, then deactivated, except the virtual timer
 * and the SPIs of VMs' devices: they stay active until the guest deactivates their virtual
 * twins (HW bit), so they cannot fire again before the guest has handled them. */
void irq_handle(struct vcpu *cur, u32 intid)
{
	for (; intid < GIC_SPURIOUS; intid = gic_ack()) {
		gic_eoi(intid);
		switch (intid) {
		case PPI_VTIMER:
			if (cur) {
				vgic_raise(&cur->vm->vgic, cur->id, PPI_VTIMER);
				continue;
			}
			break; /* no vCPU loaded: a stale edge of the timer just put away */
		case SPI_UART:
			console_poll();
			break;
		case SGI_KICK:
		case PPI_HYP_TIMER:
			arch_timer_arm(~0ull); /* sched_next arms what it needs next */
			__atomic_store_n(&this_cpu()->resched, 1u, __ATOMIC_RELEASE);
			break;
		default: /* PPI_MAINTENANCE: the LRs drained; the next entry refills them */
			if (passthru_irq(intid))
				continue; /* a VM's device: the guest deactivates it (HW bit) */
			provider_irq(intid); /* the board's disk or NIC */
			break;
		}
		gic_deactivate(intid);
	}
}
