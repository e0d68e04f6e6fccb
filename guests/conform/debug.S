/* debug.S: code at known addresses for the debug-register checks (guests/conform/main.c). */
	.text
/* A breakpoint target: the handler skips its first instruction, so that is a NOP. */
	.global bp_target
	.balign 4
bp_target:
	nop
	ret

/* One 64-bit store a watchpoint can catch (and the handler skip). */
	.global watch_store
watch_store:
	str	x1, [x0]
	ret

/* Returns x0 + 2, stepping the first ADD: an ERET to itself with SPSR.SS = 1 and debug
 * exceptions unmasked (EL1h, A, I, F masked) runs one instruction, then the step exception
 * comes with ELR at the second ADD (step_second). MDSCR_EL1.SS and KDE are set by the caller. */
	.global step_once, step_second
step_once:
	adr	x2, 1f
	msr	elr_el1, x2
	mov	x3, #0x1c5
	movk	x3, #0x20, lsl #16
	msr	spsr_el1, x3
	isb
	eret
1:	add	x0, x0, #1
step_second:
	add	x0, x0, #1
	ret
