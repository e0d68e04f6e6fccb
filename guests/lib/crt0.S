/* crt0.S: guest entry: per-vCPU stack and vectors, .bss on vCPU 0, then main() or secondary_main(). */

#define GUEST_MAX_VCPUS 8 /* matches guest.ld and guest.h */
#define STACK_SHIFT 14    /* 16 KiB per vCPU, matches STACK_SIZE in guest.ld */

	.section .text.boot, "ax"

/* vCPU 0 starts here (the config's entry) with x0 = 0 or a DTB address. */
	.global _start
_start:
	mrs	x20, cntpct_el0		/* first: boot time from reset (bench); kept past .bss */
	mov	x19, x0
	bl	cpu_setup
	cbnz	x0, park		/* only vCPU 0 may run main() and clear .bss */
	ldr	x1, =__bss_start
	ldr	x2, =__bss_end		/* both 16-aligned (guest.ld): plain aligned stores */
1:	cmp	x1, x2
	b.hs	2f
	str	xzr, [x1], #8
	b	1b
2:	ldr	x1, =boot_cntpct
	str	x20, [x1]
	mov	x0, x19
	bl	main
	bl	psci_system_off		/* main returning means the guest is finished */
	b	park

/* vCPUs started with PSCI CPU_ON enter here with x0 = context_id. */
	.global secondary_entry
secondary_entry:
	mov	x19, x0
	bl	cpu_setup
	mov	x0, x19
	bl	secondary_main
	bl	psci_cpu_off
	b	park

/* Leaf: sp = this vCPU's stack (from MPIDR_EL1.Aff0), VBAR_EL1 = our vectors; returns Aff0. */
cpu_setup:
	mrs	x0, mpidr_el1
	and	x0, x0, #0xff
	cmp	x0, #GUEST_MAX_VCPUS
	b.hs	park			/* no stack for it: never touch memory */
	ldr	x1, =__stacks_end
	sub	x1, x1, x0, lsl #STACK_SHIFT
	mov	sp, x1
	ldr	x1, =exception_vectors
	msr	vbar_el1, x1
	isb				/* the new VBAR must be in effect before any exception */
	ret

park:
	wfe
	b	park
