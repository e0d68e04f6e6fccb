/* exec.S: runs one generated instruction with x0..x7 loaded from, and stored back to, an array. */

	.text
/* void chaos_exec(const uint32_t *code, uint64_t regs[8]): `code` is the instruction, a NOP
 * (where a handler that skips one instruction too many lands) and RET. The instruction may use
 * x0..x7 only; x16/x17 are ours, and nothing it can do reaches them. */
	.global	chaos_exec
chaos_exec:
	stp	x29, x30, [sp, #-32]!
	mov	x29, sp
	str	x1, [sp, #16]
	mov	x16, x0
	mov	x17, x1
	ldp	x0, x1, [x17]
	ldp	x2, x3, [x17, #16]
	ldp	x4, x5, [x17, #32]
	ldp	x6, x7, [x17, #48]
	blr	x16
	ldr	x17, [sp, #16]
	stp	x0, x1, [x17]
	stp	x2, x3, [x17, #16]
	stp	x4, x5, [x17, #32]
	stp	x6, x7, [x17, #48]
	ldp	x29, x30, [sp], #32
	ret
