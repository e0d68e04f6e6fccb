/* vectors.S: EL1 exception vectors: a short path for probe faults, else save everything and call C. */

#define FRAME_SIZE (36 * 8) /* struct exc_frame in guest.h */

/* Every other vector: save x0/x1, pass the vector number in x1, then the common save path. */
.macro vector kind
	.balign	0x80
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp, #0]
	mov	x1, #\kind
	b	exc_save
.endm

	.text
	.balign	0x800			/* VBAR_EL1[10:0] are RES0 */
	.global	exception_vectors
exception_vectors:
	vector	0			/* current EL, SP_EL0: sync, irq, fiq, serror */
	vector	1
	vector	2
	vector	3

	/* Current EL, SP_ELx, synchronous. A fault on one of the two probe instructions (probe.S)
	 * returns the syndrome in x1 and the address in x2 and resumes after the instruction: the
	 * attacker takes a million of these, so no frame and no C. */
	.balign	0x80
	stp	x16, x17, [sp, #-16]!
	mrs	x16, elr_el1
	adr	x17, probe_ld32_insn
	cmp	x16, x17
	b.eq	1f
	adr	x17, probe_st32_insn
	cmp	x16, x17
	b.ne	2f
1:	mrs	x1, esr_el1
	mrs	x2, far_el1
	add	x16, x16, #4
	msr	elr_el1, x16
	ldp	x16, x17, [sp], #16
	eret
2:	ldp	x16, x17, [sp], #16
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp, #0]
	mov	x1, #4
	b	exc_save

	vector	5			/* current EL, SP_ELx: irq, fiq, serror */
	vector	6
	vector	7
	vector	8			/* lower EL, AArch64 */
	vector	9
	vector	10
	vector	11
	vector	12			/* lower EL, AArch32 */
	vector	13
	vector	14
	vector	15

/* x0, x1 are saved in the frame already; x1 = vector number. */
exc_save:
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x19, [sp, #144]
	stp	x20, x21, [sp, #160]
	stp	x22, x23, [sp, #176]
	stp	x24, x25, [sp, #192]
	stp	x26, x27, [sp, #208]
	stp	x28, x29, [sp, #224]
	str	x30, [sp, #240]
	mrs	x2, elr_el1
	mrs	x3, spsr_el1
	stp	x2, x3, [sp, #248]
	mrs	x2, esr_el1
	mrs	x3, far_el1
	stp	x2, x3, [sp, #264]
	mov	x0, sp
	bl	exception_handle	/* (struct exc_frame *, unsigned kind); may change elr */
	ldp	x2, x3, [sp, #248]
	msr	elr_el1, x2
	msr	spsr_el1, x3
	ldp	x0, x1, [sp, #0]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x19, [sp, #144]
	ldp	x20, x21, [sp, #160]
	ldp	x22, x23, [sp, #176]
	ldp	x24, x25, [sp, #192]
	ldp	x26, x27, [sp, #208]
	ldp	x28, x29, [sp, #224]
	ldr	x30, [sp, #240]
	add	sp, sp, #FRAME_SIZE
	eret
