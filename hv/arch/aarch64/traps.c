/* traps.c: synchronous guest exits, dispatched by ESR_EL2.EC; anything unknown is an UNDEF. */
#include <pv/cpu.h>
#include <pv/exit.h>
#include <pv/log.h>
#include <pv/mmio.h>
#include <pv/vflash.h>
#include <pv/sched.h>
#include <pv/vptimer.h>
#include <pv/arch.h>
#include <pv/smccc.h>
#include <pv/vm.h>
#include "aarch64.h"
#include "sysreg.h"

static void trap_unknown(struct vcpu *vcpu, u64 esr)
{
	log_debug(vcpu->vm, "UNDEF for trap class %#lx at pc %#lx", ESR_EC(esr), vcpu->regs.pc);
	vcpu_inject_undef(vcpu);
}

/* WFI blocks the vCPU until it has an interrupt to take (checked by the scheduler, which also
 * watches its timer); WFE (ISS bit 0) only offers the core to others. */
static void trap_wfx(struct vcpu *vcpu, u64 esr)
{
	vcpu_skip(vcpu);
	if (esr & 1)
		vcpu->yield = 1;
	else if (!vgic_has_pending(&vcpu->vm->vgic, vcpu->id))
		__atomic_store_n(&vcpu->blocked, 1u, __ATOMIC_RELEASE);
}

/* MSR/MRS traps (EC 0x18, ISS in D13.2.37). ICC_SGI1R_EL1 writes trap because HCR_EL2.IMO
 * is set; the EL1 physical timer is emulated; ID, debug and set/way accesses are answered in
 * sysreg_trap.c; anything else that traps here (PMU registers of a VM without the PMU,
 * implementation-defined registers) is UNDEF. */
#define ICC_SGI1R_EL1 SYSREG_ENC(3, 0, 12, 11, 5)
#define CNTP_TVAL_EL0 SYSREG_ENC(3, 3, 14, 2, 0) /* CTL and CVAL follow with op2 = 1, 2 */

/* An ICC_SGI1R_EL1 write from register rt. The other targets are woken; whether the sender
 * targeted itself is the result: it needs no kick, only a flush, which its entry does. */
static bool sgi_write(struct vcpu *vcpu, u32 rt)
{
	u32 self = 1u << vcpu->id, kick = vgic_sgi(&vcpu->vm->vgic, vcpu->id, vcpu_reg(vcpu, rt));
	sched_wake_mask(vcpu->vm, kick & ~self);
	vcpu_skip(vcpu);
	return kick & self;
}

static void trap_sysreg(struct vcpu *vcpu, u64 esr)
{
	u32 iss = (u32)ESR_ISS(esr), rt = (u32)FIELD(iss, 9, 5);
	bool read = iss & 1;
	if ((iss & SYSREG_MASK) == ICC_SGI1R_EL1 && !read) {
		sgi_write(vcpu, rt);
		return;
	}
	u32 enc = iss & SYSREG_MASK, op2 = SYSREG_OP2(enc);
	if ((enc & ~SYSREG_ENC(0, 0, 0, 0, 7)) == CNTP_TVAL_EL0 && op2 <= VPTIMER_CVAL) {
		u64 val = vcpu_reg(vcpu, rt);
		vptimer_access(vcpu, (enum vptimer_reg)op2, !read, &val, arch_timer_now());
		if (read)
			vcpu_set_reg(vcpu, rt, val);
		vcpu_skip(vcpu);
		return;
	}
	if (sysreg_emulate(vcpu, enc, read, rt)) {
		vcpu_skip(vcpu);
		return;
	}
	trap_unknown(vcpu, esr);
}

/* SMCCC uses immediate 0; other immediates are not calls we know. ELR already points past HVC. */
static void trap_hvc(struct vcpu *vcpu, u64 esr)
{
	if (FIELD(esr, 15, 0) != 0)
		vcpu->regs.x[0] = SMCCC_NOT_SUPPORTED;
	else
		smccc_call(vcpu);
}

/* A trapped SMC leaves ELR at the SMC itself (D1.10.4), so step over it first. */
static void trap_smc(struct vcpu *vcpu, u64 esr)
{
	vcpu_skip(vcpu);
	trap_hvc(vcpu, esr);
}

/* An abort the guest cannot have meant: report it to the guest as an external abort, unless it
 * happened inside the guest's own exception vectors, where it would only fault again forever. */
static void guest_abort(struct vcpu *vcpu, bool instr, u64 far, u64 ipa)
{
	u64 vbar = read_sysreg(vbar_el1), pc = vcpu->regs.pc;
	if (pc - vbar < 0x800) {
		vm_fatal(vcpu->vm, "fault inside its exception vectors, pc", pc);
		return;
	}
	if (vcpu->vm->fault_reports < 4)
		log_warn(vcpu->vm, "%s abort at IPA %#lx (pc %#lx): nothing mapped there%s",
			 instr ? "instruction" : "data", ipa, pc,
			 ++vcpu->vm->fault_reports == 4 ? "; further faults not logged" : "");
	vcpu_inject_abort(vcpu, instr, far);
}

/* Inline: the light path's GICD read counts every call. */
static inline __attribute__((always_inline)) u64 fault_ipa(void)
{
	return (FIELD(read_sysreg(hpfar_el2), 39, 4) << 12) | (read_sysreg(far_el2) & 0xfff);
}

static void trap_iabt(struct vcpu *vcpu, u64 esr)
{
	(void)esr;
	if (vflash_fetch(vcpu->vm, fault_ipa()))
		return; /* its flash is readable again: the fetch is retried */
	guest_abort(vcpu, true, read_sysreg(far_el2), fault_ipa());
}

/* Data aborts are MMIO when the syndrome is valid (ISV, D13.2.37) and a device claims the
 * address; an access without syndrome (pair, writeback) cannot be emulated. */
static bool dabt_decode(u64 esr, struct mmio_access *a)
{
	*a = (struct mmio_access){
		.ipa = fault_ipa(),
		.size = 1u << ESR_DABT_SAS(esr),
		.write = (esr & ESR_DABT_WNR) != 0,
		.reg = (u32)ESR_DABT_SRT(esr),
		.sign_extend = (esr & ESR_DABT_SSE) != 0,
		.wide = (esr & ESR_DABT_SF) != 0,
	};
	return (esr & ESR_DABT_ISV) && !(esr & ESR_DABT_S1PTW);
}

static void trap_dabt(struct vcpu *vcpu, u64 esr)
{
	struct mmio_access a;
	if (dabt_decode(esr, &a) && mmio_dispatch(vcpu, &a)) {
		vcpu_skip(vcpu);
		return;
	}
	guest_abort(vcpu, false, read_sysreg(far_el2), a.ipa);
}

void trap_sync(struct vcpu *vcpu)
{
	u64 esr = read_sysreg(esr_el2);
	switch (ESR_EC(esr)) {
	case EC_WFX: trap_wfx(vcpu, esr); break;
	case EC_HVC64:
		if (!ESR_ISS(esr)) { /* HVC #0 comes straight here; exit_light counted the others */
			vcpu->stat.exits[EC_HVC64]++;
			vcpu->stat.last_esr = (u32)esr;
		}
		trap_hvc(vcpu, esr);
		break;
	case EC_SMC64: trap_smc(vcpu, esr); break;
	case EC_SYSREG: trap_sysreg(vcpu, esr); break;
	case EC_IABT_LOW: trap_iabt(vcpu, esr); break;
	case EC_DABT_LOW: trap_dabt(vcpu, esr); break;
	default: trap_unknown(vcpu, esr); break;
	}
}

/* The light path (entry.S) leaves x19..x29 live in the core: a trap that writes one, or reads
 * one, takes the full path. */
static bool light_reg(u32 r)
{
	return r <= 18 || r >= 30;
}

/* Traps that need neither the scheduler nor the LRs synced: reads of the vGIC registers that
 * vgic_quick_read answers (Linux polls GICD_CTLR.RWP after every enable), and SGIs, which a
 * sender targeting itself gets in its LR at once. A load with sign extension, or into a register
 * the light path does not save, takes the full path. With forward propagation, which the rest of
 * the image goes without (Makefile): here it keeps the GICD read the bench measures 2
 * instructions shorter. */
#ifdef __clang__
#define KEEP_FORWPROP /* the fuzz build (tests/fuzz) uses clang, which has no such switch */
#else
#define KEEP_FORWPROP __attribute__((optimize("tree-forwprop")))
#endif
KEEP_FORWPROP u64 exit_light(struct vcpu *vcpu)
{
	u64 esr = read_sysreg(esr_el2);
	u32 iss = (u32)ESR_ISS(esr), rt = (u32)FIELD(iss, 9, 5);
	vcpu->stat.exits[ESR_EC(esr)]++; /* for management: every exit that comes here */
	vcpu->stat.last_esr = (u32)esr;
	const u64 load = ESR_DABT_ISV | ESR_DABT_WNR | ESR_DABT_S1PTW | ESR_DABT_SSE;
	if (ESR_EC(esr) == EC_DABT_LOW) {
		rt = (u32)ESR_DABT_SRT(esr);
		if ((esr & load) == ESR_DABT_ISV && light_reg(rt) &&
		    mmio_quick_read(vcpu, fault_ipa(), 1u << ESR_DABT_SAS(esr), rt)) {
			vcpu_skip(vcpu);
			return EXIT_RESUME;
		}
		/* virtio registers (QueueNotify, InterruptACK, ...) need neither the LRs nor the
		 * scheduler, unless the access made an interrupt of this core's own vCPUs pending. */
		if ((esr & (load & ~ESR_DABT_WNR)) == ESR_DABT_ISV && light_reg(rt) &&
		    mmio_virtio(vcpu, fault_ipa(), 1u << ESR_DABT_SAS(esr), esr & ESR_DABT_WNR, rt)) {
			vcpu_skip(vcpu);
			return __atomic_load_n(&this_cpu()->resched, __ATOMIC_ACQUIRE) ? EXIT_HANDLED
											: EXIT_RESUME;
		}
	} else if (ESR_EC(esr) == EC_SYSREG && (iss & (SYSREG_MASK | 1)) == ICC_SGI1R_EL1 &&
		   light_reg(rt)) {
		struct vgic *g = &vcpu->vm->vgic;
		if (vgic_sgi_self(g, vcpu->id, vcpu_reg(vcpu, rt), arch_vgic_lr_count())) {
			vcpu_skip(vcpu);
			return EXIT_RESUME;
		}
		/* To itself too: the full path's vgic_sync and vgic_flush give it an LR. */
		if (sgi_write(vcpu, rt) || __atomic_load_n(&this_cpu()->resched, __ATOMIC_ACQUIRE))
			return EXIT_HANDLED;
		return EXIT_RESUME;
	}
	return EXIT_SYNC;
}


/* Exceptions into the guest (D1.10): ESR/FAR/ELR/SPSR_EL1 are this core's live registers,
 * because the vCPU being handled is the one loaded here. */
__attribute__((noinline)) void vcpu_inject_sync(struct vcpu *vcpu, u32 ec, u32 iss, u64 far, bool with_far)
{
	u64 mode = vcpu->regs.pstate & PSR_MODE_MASK;
	u64 offset = mode == PSR_MODE_EL1H ? 0x200 : mode == PSR_MODE_EL1T ? 0x0 : 0x400;
	write_sysreg(esr_el1, ((u64)ec << 26) | ESR_IL | iss);
	if (with_far)
		write_sysreg(far_el1, far);
	write_sysreg(elr_el1, vcpu->regs.pc);
	write_sysreg(spsr_el1, vcpu->regs.pstate);
	vcpu->regs.pc = read_sysreg(vbar_el1) + offset;
	vcpu->regs.pstate = PSR_DAIF | PSR_MODE_EL1H;
}

void vcpu_inject_undef(struct vcpu *vcpu)
{
	vcpu_inject_sync(vcpu, EC_UNKNOWN, 0, 0, false);
}

/* A synchronous external abort, of the class for the EL the guest was at. */
void vcpu_inject_abort(struct vcpu *vcpu, bool instr, u64 far)
{
	bool from_el0 = (vcpu->regs.pstate & PSR_MODE_MASK) == PSR_MODE_EL0T;
	u32 ec = instr ? EC_IABT_LOW : EC_DABT_LOW;
	vcpu_inject_sync(vcpu, from_el0 ? ec : ec + 1, FSC_SEA, far, true);
}
