/* entry.S: the arm64 Image header, core entry at EL2, the EL2 vectors and guest enter/exit. */
#include <pv/exit.h>
#include "asm_offsets.h"

/* ESR_EL2 (Arm ARM D13.2.37) of HVC #0 from AArch64: EC 0x16 [31:26], IL [25], ISS = the
 * immediate. And the top half of an SMCCC Arm-architecture call's function ID, shifted as
 * CMP's immediate takes it. */
#define ESR_HVC64_IMM0 0x5a000000
#define SMCCC_ARCH_RANGE 8, lsl #12

/* ICH_LR<n>_EL2 (IHI 0069 12.4): State [63:62] (pending is bit 62), HW [61]. */
#define LR_HW_BIT 61
#define LR_PENDING (1 << 62)
#define LR_STATE_MASK (3 << 62)

.macro adr_l, reg, sym
	adrp	\reg, \sym
	add	\reg, \reg, :lo12:\sym
.endm

/* All the code of this file lives in the vector table (Arm ARM D1.10.2): 16 slots of 0x80 bytes
 * that the hardware enters at their first instruction. Most slots need two or three
 * instructions, so every routine sits in the rest of some slot, and the image carries no second
 * copy of it in .text. `slot` starts the next slot with .org, which fails the build when the
 * code before it has overflowed instead of silently moving the vectors. Where a routine is
 * placed is chosen by the measured paths: see the lower-EL synchronous and IRQ slots. */
.macro slot, n
	.org	vectors + \n * 0x80
.endm

/* x2..x17 into the vCPU: with x0, x1, x18 and x30, what a C call may clobber. */
.macro save_x2_x17
	stp	x2, x3, [sp, #16 * 1]
	stp	x4, x5, [sp, #16 * 2]
	stp	x6, x7, [sp, #16 * 3]
	stp	x8, x9, [sp, #16 * 4]
	stp	x10, x11, [sp, #16 * 5]
	stp	x12, x13, [sp, #16 * 6]
	stp	x14, x15, [sp, #16 * 7]
	stp	x16, x17, [sp, #16 * 8]
.endm

/* ...and back. */
.macro load_x2_x17
	ldp	x2, x3, [sp, #16 * 1]
	ldp	x4, x5, [sp, #16 * 2]
	ldp	x6, x7, [sp, #16 * 3]
	ldp	x8, x9, [sp, #16 * 4]
	ldp	x10, x11, [sp, #16 * 5]
	ldp	x12, x13, [sp, #16 * 6]
	ldp	x14, x15, [sp, #16 * 7]
	ldp	x16, x17, [sp, #16 * 8]
.endm

/* A guest exit that goes the full way, x0 and x1 already saved (while a guest runs, SP_EL2
 * points at its struct vcpu, so this needs no scratch register and no per-core pointer). */
.macro exit_to_c, kind
	stp	x0, x1, [sp, #16 * 0]
	mov	x1, #\kind
	b	exit_save_all
.endm

/* An exception taken at EL2: hv_fault_tail reports it and stops the machine. */
.macro hv_fault, kind
	mov	x0, #\kind
	b	hv_fault_tail
.endm

	.section .head, "ax"
	.global _start
/* The vector table comes first and the arm64 Image header (Linux booting.rst) lives in its
 * first entry, "synchronous exception from EL2 with SP_EL0", which EL2 never takes (it always
 * runs on SP_EL2). A loader places us at RAM base + text_offset, 2 MiB aligned, so the table is
 * 2 KiB aligned as VBAR_EL2 needs, and passes the board DTB in x0. */
_start:
vectors:
	b	primary_entry
	.long	0
	.quad	0x80000			/* text_offset */
	.quad	__image_size		/* image_size, including bss */
	.quad	0x2			/* flags: little-endian, 4 KiB pages */
	.quad	0, 0, 0
	.ascii	"ARM\x64"
	.long	0

/* x0 = core: stack, vectors, and the EL2 MMU (tables built by the primary before CPU_ON). */
core_setup:
	adr_l	x1, stacks
	add	x2, x0, #1
	mov	x3, #STACK_SIZE
	madd	x1, x2, x3, x1
	mov	sp, x1
	adr	x1, vectors
	msr	vbar_el2, x1
	mov	x20, x30
	bl	mmu_enable		/* C, but uses only the stack and registers */
	mov	x30, x20
	ret

/* u64 arch_smc(fid, a1, a2, a3): a call to the board's firmware (QEMU's PSCI). */
	.global arch_smc
arch_smc:
	smc	#0
	ret

	/* Current EL with SP_EL0: never used by the hypervisor. The shared fault tail follows the
	 * first of them. */
	slot 1
	mov	x0, #1
hv_fault_tail:				/* x0 = the kind, as hv_exception takes it */
	stp	x29, x30, [sp, #-16]!
	mov	x1, sp
	bl	hv_exception		/* reports and stops the machine */
	b	.

primary_entry:
	mrs	x21, cntpct_el0		/* first: when the hypervisor started (boot benchmark) */
	mov	x19, x0			/* board DTB */
	mrs	x1, CurrentEL
	cmp	x1, #(2 << 2)
	b.ne	.			/* not at EL2: nothing safe to do, not even print */
	mov	x0, #0
	bl	core_setup		/* touches no .bss, so caches are on when it is cleared */
	adr_l	x0, __bss_start
	adr_l	x1, __bss_end
	sub	x1, x1, x0
	bl	arch_zero
	mov	x0, x19
	mov	x1, x21
	bl	boot_primary		/* does not return */
	b	.

/* Secondary cores, started by the board's PSCI CPU_ON with x0 = core number. */
	.global secondary_entry
secondary_entry:
	mov	x19, x0
	bl	core_setup
	mov	x0, x19
	bl	boot_secondary
	b	.

	slot 2
	hv_fault 2

/* arch_guest_enter(vcpu): load the guest's registers and eret; SP_EL2 stays on the vcpu. */
	.global arch_guest_enter
arch_guest_enter:
guest_enter_x0:
	mov	sp, x0
	ldp	x30, x1, [sp, #VCPU_X0 + 8 * 30]
	ldr	x2, [sp, #VCPU_PSTATE]
	msr	elr_el2, x1
	msr	spsr_el2, x2
	ldp	x0, x1, [sp, #16 * 0]
	load_x2_x17
	ldp	x18, x19, [sp, #16 * 9]
	ldp	x20, x21, [sp, #16 * 10]
	ldp	x22, x23, [sp, #16 * 11]
	ldp	x24, x25, [sp, #16 * 12]
	ldp	x26, x27, [sp, #16 * 13]
	ldp	x28, x29, [sp, #16 * 14]
	eret

	slot 3
	hv_fault 3

/* HVC #0 with a function ID in the SMCCC Arm-architecture range 0x8000_0000..0x8000_ffff
 * (SMCCC_VERSION, SMCCC_ARCH_FEATURES, workaround calls): smccc_call answers these from the
 * vCPU's x0..x3 alone and they change nothing the scheduler or the vGIC looks at, so the guest
 * goes straight back (as KVM's hyp-entry.S answers its workaround calls) with only the
 * registers a C call may clobber saved, and x19, which holds the vCPU across the call (AAPCS64
 * preserves it) so that nothing is pushed on the core's stack. ELR_EL2 already points past the
 * HVC. light_resume follows at once: this is a measured path, and the one routine that
 * light_exit, the other measured path, also needs; light_exit reaches it with a branch. */
smccc_fast:
	save_x2_x17
	stp	x18, x19, [sp, #16 * 9]
	str	x30, [sp, #VCPU_X0 + 8 * 30]
	ldr	x1, [sp, #VCPU_HV_SP]
	mov	x19, sp
	mov	x0, sp
	mov	sp, x1
	bl	smccc_call
	mov	sp, x19
light_resume:
	ldr	x30, [sp, #VCPU_X0 + 8 * 30]
	ldp	x18, x19, [sp, #16 * 9]
	load_x2_x17
	ldp	x0, x1, [sp, #16 * 0]
	eret

	/* Current EL with SP_EL2: a hypervisor fault. EL2 never unmasks interrupts: an idle core
	 * waits in WFI, which wakes on a pending interrupt whatever PSTATE.I says. */
	slot 4
	hv_fault 0

/* exit_light asked for a full exit (x0 = its kind, sp on the vCPU again): x0..x18, x30 and the
 * pc are saved already, and x2..x18 now hold what C left there, so only x20..x29 (still the
 * guest's, as AAPCS64 preserves them; x19 was saved before the call) and PSTATE are left. */
light_full:
	stp	x20, x21, [sp, #16 * 10]
	stp	x22, x23, [sp, #16 * 11]
	stp	x24, x25, [sp, #16 * 12]
	stp	x26, x27, [sp, #16 * 13]
	stp	x28, x29, [sp, #16 * 14]
	mrs	x2, spsr_el2
	str	x2, [sp, #VCPU_PSTATE]
	mov	x1, x0
	b	full_exit

	slot 5
	hv_fault 1
	slot 6
	hv_fault 2
	slot 7
	hv_fault 3

	/* Lower EL, AArch64: guest exits. A synchronous one checks first for the calls that
	 * smccc_fast answers, then tries the light path, which follows in this slot's own room. */
	slot 8
	stp	x0, x1, [sp, #16 * 0]
	mrs	x0, esr_el2
	mov	x1, #ESR_HVC64_IMM0
	cmp	x0, x1
	b.ne	light_exit
	ldr	w0, [sp, #VCPU_X0]
	lsr	w0, w0, #16
	cmp	w0, #SMCCC_ARCH_RANGE
	b.eq	smccc_fast
	mov	x1, #EXIT_SYNC
	b	exit_save_all

/* Any other synchronous exit: exit_light (traps.c) handles what needs neither the scheduler nor
 * the LRs synced, with the same registers saved as smccc_fast and the pc, and says what else to
 * do: 0, resume; else the kind of full exit to take (light_full). */
light_exit:
	save_x2_x17
	mrs	x1, elr_el2
	stp	x18, x19, [sp, #16 * 9]
	stp	x30, x1, [sp, #VCPU_X0 + 8 * 30]	/* the pc follows x30 */
	ldr	x1, [sp, #VCPU_HV_SP]
	mov	x19, sp
	mov	x0, sp
	mov	sp, x1
	bl	exit_light
	mov	sp, x19
	cbnz	x0, light_full		/* not EXIT_RESUME */
	ldr	x1, [sp, #VCPU_PC]
	msr	elr_el2, x1
	b	light_resume

	/* IRQ. The virtual timer's own PPI, when LR0 holds the vGIC's timer slot for it (vINTID
	 * 27, HW=1, no state; vgic.h), is made pending there and the guest goes straight back:
	 * EOImode=1, so the EOI only drops the priority, and the physical PPI stays active until
	 * the guest deactivates its virtual twin. Anything else goes to irq_handle, acknowledged. */
	slot 9
	stp	x0, x1, [sp, #16 * 0]
	mrs	x0, icc_iar1_el1
	cmp	w0, #ENTRY_TIMER_INTID
	b.ne	irq_exit
	mrs	x1, ich_lr0_el2
	cmp	w1, #ENTRY_TIMER_INTID
	b.ne	irq_exit
	tbz	x1, #LR_HW_BIT, irq_exit
	tst	x1, #LR_STATE_MASK
	b.ne	irq_exit
	orr	x1, x1, #LR_PENDING
	msr	ich_lr0_el2, x1
	msr	icc_eoir1_el1, x0
	ldp	x0, x1, [sp, #16 * 0]
	eret
irq_exit:
	str	w0, [sp, #VCPU_EXIT_IRQ]
	dsb	sy			/* as gic_ack: the acknowledgement completes first */
	mov	x1, #EXIT_IRQ
	b	exit_save_all

	/* The shared full-exit save follows the FIQ slot's own two instructions. */
	slot 10
	stp	x0, x1, [sp, #16 * 0]
	mov	x1, #EXIT_FIQ
/* x0 and x1 saved, x1 = the kind: x2..x30, the pc and PSTATE into the vCPU. */
exit_save_all:
	save_x2_x17
	stp	x18, x19, [sp, #16 * 9]
	stp	x20, x21, [sp, #16 * 10]
	stp	x22, x23, [sp, #16 * 11]
	stp	x24, x25, [sp, #16 * 12]
	stp	x26, x27, [sp, #16 * 13]
	stp	x28, x29, [sp, #16 * 14]
	mrs	x2, elr_el2
	mrs	x3, spsr_el2
	stp	x30, x2, [sp, #VCPU_X0 + 8 * 30]
	str	x3, [sp, #VCPU_PSTATE]
/* Every register and PSTATE saved, x1 = the kind: off the vCPU onto the core's stack. */
full_exit:
	mov	x0, sp
	ldr	x2, [x0, #VCPU_HV_SP]
	mov	sp, x2
	bl	vcpu_exit
	b	guest_enter_x0

	slot 11
	exit_to_c EXIT_SERROR
	/* Lower EL, AArch32: not offered to guests (HCR_EL2.RW=1), so reaching here is a fault. */
	slot 12
	exit_to_c EXIT_AARCH32
	slot 13
	exit_to_c EXIT_AARCH32
	slot 14
	exit_to_c EXIT_AARCH32
	slot 15
	exit_to_c EXIT_AARCH32
	slot 16

	.section .noinit, "aw", %nobits
	.balign	16
	.global stacks
stacks:
	.skip	STACK_SIZE * CPU_MAX
