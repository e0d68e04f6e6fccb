/* probe.S: one 32-bit load or store that may fault; the fault is caught by the fast path in vectors.S. */

/* Probe ABI between these two instructions and the vector: on entry to the probe instruction
 * x1 = x2 = 0; a synchronous exception there sets x1 = ESR_EL1, x2 = FAR_EL1 and resumes at the
 * next instruction. Both accesses are single-register, no writeback, so a hypervisor can emulate
 * them if the address is a device. struct probe layout: esr @0, far @8, value @16 (guest.h). */

	.text

/* uint64_t probe_ld32(uint64_t addr, struct probe *p): returns ESR, 0 if the load did not fault. */
	.global	probe_ld32, probe_ld32_insn
probe_ld32:
	mov	x3, x1
	mov	x1, xzr
	mov	x2, xzr
	mov	w4, wzr
probe_ld32_insn:
	ldr	w4, [x0]
	str	w4, [x3, #16]
	stp	x1, x2, [x3]
	mov	x0, x1
	ret

/* uint64_t probe_st32(uint64_t addr, uint32_t value, struct probe *p): returns ESR or 0. */
	.global	probe_st32, probe_st32_insn
probe_st32:
	mov	x3, x2
	mov	w4, w1
	mov	x1, xzr
	mov	x2, xzr
probe_st32_insn:
	str	w4, [x0]
	str	wzr, [x3, #16]
	stp	x1, x2, [x3]
	mov	x0, x1
	ret
