/* vcpu.h: a virtual CPU: its registers, its PSCI power state, the core it runs on. */
#ifndef PV_VCPU_H
#define PV_VCPU_H

#include <arch_vcpu.h>
#include <pv/manage_abi.h>
#include <pv/types.h>

struct vm;

/* PSCI's view (AFFINITY_INFO): OFF=1, ON=0, BOOTING and ON_PENDING both report ON_PENDING=2.
 * BOOTING is the short window in which the CPU_ON that won the race fills in the entry point. */
enum vcpu_power { VCPU_OFF, VCPU_BOOTING, VCPU_ON_PENDING, VCPU_ON };

/* General registers, PC and PSTATE, stored by the exit path in this order (see entry.S). */
struct vcpu_regs {
	u64 x[31];
	u64 pc;
	u64 pstate;
};

struct vcpu {
	struct vcpu_regs regs; /* first: the exit path stores straight into it */
	u64 hv_sp;             /* the hypervisor stack the exit path moves to */
	u32 exit_irq;          /* the INTID the IRQ vector acknowledged, for irq_handle */
	struct arch_vcpu arch;
	struct vm *vm;
	u32 id;    /* index in its VM = MPIDR.Aff0 */
	u32 power; /* enum vcpu_power, changed with atomics */
	u32 cpu;   /* physical core it runs on */
	u32 running; /* a core claimed it: executing it or handling its exit */
	u32 yield;   /* let another vCPU of the same priority run first */
	u32 blocked; /* in WFI: runs again when it has an interrupt to take */
	u32 priority;
	u32 allowed; /* cores it may run on (bit n = core n) */
	u64 boot_entry, boot_ctx; /* set by CPU_ON before power becomes ON_PENDING */
	u64 ptimer_ctl, ptimer_cval; /* the emulated EL1 physical timer */
	u64 wait_since; /* counter value when it became ready to run without a core; 0: not */
	u64 stolen;     /* counter ticks it spent so (pvtime.c reports them) */
	u64 pvtime_ipa; /* its stolen-time record, once the guest asked for it; 0: not */
	bool ptimer_line;
	/* For management, as `pvctl info` gets them (its run_ticks, irq_exits, last_esr and
	 * exits; the rest filled in then); run_since: when its core took it. */
	struct pvm_vcpu stat;
	u64 run_since;
};

/* Puts the vCPU in its architectural reset state: EL1h, interrupts masked, MMU off, at pc
 * with x0 = arg. */
void vcpu_reset(struct vcpu *vcpu, u64 pc, u64 arg);
/* Makes the guest take a synchronous exception of class ec at its EL1 vector. */
void vcpu_inject_sync(struct vcpu *vcpu, u32 ec, u32 iss, u64 far, bool with_far);
void vcpu_inject_undef(struct vcpu *vcpu);
void vcpu_inject_abort(struct vcpu *vcpu, bool instr, u64 far);
/* Past an instruction the hypervisor emulated. PSTATE.SS (bit 21) cleared: a software step
 * of the guest's then completed it, and the step exception comes next, as on the bare core. */
static inline __attribute__((always_inline)) void vcpu_skip(struct vcpu *vcpu)
{
	vcpu->regs.pc += 4;
	vcpu->regs.pstate &= ~BIT(21);
}
static inline u64 vcpu_reg(const struct vcpu *vcpu, u32 r) { return r == 31 ? 0 : vcpu->regs.x[r]; }
static inline void vcpu_set_reg(struct vcpu *vcpu, u32 r, u64 v) { if (r != 31) vcpu->regs.x[r] = v; }

#endif
