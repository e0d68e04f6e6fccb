/* vcpu_switch.c: moving a vCPU's EL1 state in and out of a core, and its reset state. */
#include <pv/arch.h>
#include <pv/gic.h>
#include <pv/string.h>
#include <pv/vm.h>
#include "aarch64.h"
#include "asm_offsets.h"
#include "sysreg.h"

_Static_assert(__builtin_offsetof(struct vcpu, regs.x) == VCPU_X0, "entry.S offset");
_Static_assert(__builtin_offsetof(struct vcpu, regs.pc) == VCPU_PC, "entry.S offset");
_Static_assert(__builtin_offsetof(struct vcpu, regs.pstate) == VCPU_PSTATE, "entry.S offset");
_Static_assert(__builtin_offsetof(struct vcpu, hv_sp) == VCPU_HV_SP, "entry.S offset");
_Static_assert(__builtin_offsetof(struct vcpu, exit_irq) == VCPU_EXIT_IRQ, "entry.S offset");
_Static_assert(VGIC_SLOT_INTID == PPI_VTIMER && PPI_VTIMER == ENTRY_TIMER_INTID, "entry.S INTID");

/* The guest's HCR_EL2: stage 2 on; physical interrupts to EL2; WFI/WFE, SMC, set/way cache
 * maintenance, ID registers (sysreg_trap.c), implementation-defined and auxiliary-control
 * registers trapped; TLB and cache
 * maintenance broadcast so a vCPU that moves cores leaves nothing stale behind (FB, BSU). */
#define HCR_GUEST (HCR_VM | HCR_SWIO | HCR_FMO | HCR_IMO | HCR_AMO | HCR_FB | HCR_BSU_IS | \
		   HCR_TWI | HCR_TWE | HCR_TSC | HCR_TID3 | HCR_TIDCP | HCR_TACR | HCR_TSW | HCR_RW)

/* SCTLR_EL1 reset value: MMU and caches off, RES1 bits of ARMv8.0 set. */
#define SCTLR_EL1_RESET 0x30d00800ull

/* In pairs of neighbouring entries, read (or loaded) together so that each pair's two stores
 * (or loads) become one STP (LDP): 24 instructions fewer each way. */
#define SWITCH_EL1(op) \
	op(EL1_SCTLR, sctlr_el1, EL1_TTBR0, ttbr0_el1) op(EL1_TTBR1, ttbr1_el1, EL1_TCR, tcr_el1) \
	op(EL1_MAIR, mair_el1, EL1_AMAIR, amair_el1) \
	op(EL1_VBAR, vbar_el1, EL1_CONTEXTIDR, contextidr_el1) op(EL1_ESR, esr_el1, EL1_FAR, far_el1) \
	op(EL1_AFSR0, afsr0_el1, EL1_AFSR1, afsr1_el1) op(EL1_PAR, par_el1, EL1_ELR, elr_el1) \
	op(EL1_SPSR, spsr_el1, EL1_SP_EL1, sp_el1) op(EL1_SP_EL0, sp_el0, EL1_TPIDR_EL0, tpidr_el0) \
	op(EL1_TPIDRRO_EL0, tpidrro_el0, EL1_TPIDR_EL1, tpidr_el1) \
	op(EL1_CPACR, cpacr_el1, EL1_CSSELR, csselr_el1) op(EL1_CNTKCTL, cntkctl_el1, EL1_MDSCR, mdscr_el1)

#define SAVE(i, r, j, s) \
	{ u64 lo = read_sysreg(r), hi = read_sysreg(s); a->el1[i] = lo; a->el1[j] = hi; }
#define LOAD(i, r, j, s) \
	{ u64 lo = a->el1[i], hi = a->el1[j]; write_sysreg(r, lo); write_sysreg(s, hi); }
_Static_assert(EL1_REG_COUNT == 24, "every EL1 register is in one pair of SWITCH_EL1");

static void fp_save(struct arch_vcpu *a)
{
	__asm__ volatile(".arch_extension fp\n .arch_extension simd\n"
			 "stp q0, q1, [%0, #0]\n stp q2, q3, [%0, #32]\n"
			 "stp q4, q5, [%0, #64]\n stp q6, q7, [%0, #96]\n"
			 "stp q8, q9, [%0, #128]\n stp q10, q11, [%0, #160]\n"
			 "stp q12, q13, [%0, #192]\n stp q14, q15, [%0, #224]\n"
			 "stp q16, q17, [%0, #256]\n stp q18, q19, [%0, #288]\n"
			 "stp q20, q21, [%0, #320]\n stp q22, q23, [%0, #352]\n"
			 "stp q24, q25, [%0, #384]\n stp q26, q27, [%0, #416]\n"
			 "stp q28, q29, [%0, #448]\n stp q30, q31, [%0, #480]"
			 : : "r"(a->fp_q) : "memory");
	a->fpsr = read_sysreg(fpsr);
	a->fpcr = read_sysreg(fpcr);
}

static void fp_load(const struct arch_vcpu *a)
{
	__asm__ volatile(".arch_extension fp\n .arch_extension simd\n"
			 "ldp q0, q1, [%0, #0]\n ldp q2, q3, [%0, #32]\n"
			 "ldp q4, q5, [%0, #64]\n ldp q6, q7, [%0, #96]\n"
			 "ldp q8, q9, [%0, #128]\n ldp q10, q11, [%0, #160]\n"
			 "ldp q12, q13, [%0, #192]\n ldp q14, q15, [%0, #224]\n"
			 "ldp q16, q17, [%0, #256]\n ldp q18, q19, [%0, #288]\n"
			 "ldp q20, q21, [%0, #320]\n ldp q22, q23, [%0, #352]\n"
			 "ldp q24, q25, [%0, #384]\n ldp q26, q27, [%0, #416]\n"
			 "ldp q28, q29, [%0, #448]\n ldp q30, q31, [%0, #480]"
			 : : "r"(a->fp_q) : "memory");
	write_sysreg(fpsr, a->fpsr);
	write_sysreg(fpcr, a->fpcr);
}

_Static_assert(__builtin_offsetof(struct arch_vcpu, fp_q) % 16 == 0, "q registers stored in pairs");

/* The virtual timer leaves with its vCPU: disabled on the core, and its interrupt's physical
 * active state (set while the guest has not yet deactivated it) kept with the vCPU. */
void arch_vcpu_put(struct vcpu *vcpu)
{
	struct arch_vcpu *a = &vcpu->arch;
	SWITCH_EL1(SAVE)
	fp_save(a);
	a->cntv_ctl = read_sysreg(cntv_ctl_el0);
	a->cntv_cval = read_sysreg(cntv_cval_el0);
	write_sysreg(cntv_ctl_el0, 0);
	a->vtimer_active = gic_ppi_take_active(vcpu->cpu, PPI_VTIMER);
	a->ich_vmcr = read_sysreg(ich_vmcr_el2);
	a->ich_ap0r0 = read_sysreg(ich_ap0r0_el2);
	a->ich_ap1r0 = read_sysreg(ich_ap1r0_el2);
	write_sysreg(ich_hcr_el2, 0);
}

/* MDCR_EL2 (D13.2.76): every PMU counter (HPMN = PMCR_EL0.N) for a VM the config lets count;
 * for any other, PMU register accesses trap (TPM, TPMCR) and are answered with UNDEF (its ID
 * registers say it has no PMU), so no VM can observe another's activity. Debug registers
 * always trap (TDA, TDOSA, TDRA): sysreg_trap.c answers them. */
#define MDCR_TPM_TPMCR (BIT(6) | BIT(5))
#define MDCR_DEBUG_TRAPS (BIT(9) | BIT(10) | BIT(11))

static u64 mdcr_guest(const struct vm *vm)
{
	if (vm->cfg->flags & PVB_VM_PMU)
		return FIELD(read_sysreg(pmcr_el0), 15, 11) | MDCR_DEBUG_TRAPS;
	return MDCR_TPM_TPMCR | MDCR_DEBUG_TRAPS;
}

void arch_vcpu_load(struct vcpu *vcpu)
{
	const struct arch_vcpu *a = &vcpu->arch;
	SWITCH_EL1(LOAD)
	fp_load(a);
	write_sysreg(vmpidr_el2, a->vmpidr);
	write_sysreg(vttbr_el2, vcpu->vm->vttbr);
	write_sysreg(hcr_el2, HCR_GUEST);
	write_sysreg(mdcr_el2, mdcr_guest(vcpu->vm));
	write_sysreg(cntvoff_el2, vcpu->vm->cntvoff);
	write_sysreg(ich_vmcr_el2, a->ich_vmcr);
	write_sysreg(ich_ap0r0_el2, a->ich_ap0r0);
	write_sysreg(ich_ap1r0_el2, a->ich_ap1r0);
	write_sysreg(ich_hcr_el2, ICH_HCR_EN);
	if (a->vtimer_active)
		gic_ppi_set_active(vcpu->cpu, PPI_VTIMER);
	write_sysreg(cntv_cval_el0, a->cntv_cval);
	write_sysreg(cntv_ctl_el0, a->cntv_ctl);
	if (a->dbg.live)
		dbg_load(a); /* ends with an ISB */
	isb();
}

void arch_vcpu_reset(struct vcpu *vcpu)
{
	struct arch_vcpu *a = &vcpu->arch;
	memset(a, 0, sizeof(*a));
	a->el1[EL1_SCTLR] = SCTLR_EL1_RESET; /* the rest, ICH_VMCR included, resets to 0 */
	/* MPIDR: bit 31 RES1, U=0 (multiprocessor), Aff0 = vCPU index. */
	a->vmpidr = BIT(31) | vcpu->id;
	a->dbg.oslk = 1; /* the OS lock is locked on a cold core (D2.5.3) */
	vcpu->regs.pstate = PSR_DAIF | PSR_MODE_EL1H;
}
