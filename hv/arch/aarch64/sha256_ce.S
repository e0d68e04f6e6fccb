/* sha256_ce.S: the SHA-256 compression function with the Armv8 SHA-2 instructions (Arm ARM
 * C7.2: SHA256H, SHA256H2, SHA256SU0, SHA256SU1), for n > 0 whole blocks. It runs while a
 * guest's FP/SIMD registers are live on the core (a vCPU's hypercall), so it leaves every
 * register it uses as it found it. Callers: arch_sha256_blocks (cpu.c), on cores that have the
 * instructions. */
	.arch	armv8-a+crypto
	.text

/* Four rounds with message words \w (the next four: \w1, then \w2, \w3), advancing the schedule
 * of \w by sixteen words. v0 = ABCD, v1 = EFGH, x3 = the round constants (sha256_k). */
.macro	quad, w, w1, w2, w3
	ld1	{v8.4s}, [x3], #16
	add	v8.4s, v8.4s, \w\().4s
	mov	v9.16b, v0.16b
	sha256h	q0, q1, v8.4s
	sha256h2 q1, q9, v8.4s
	sha256su0 \w\().4s, \w1\().4s
	sha256su1 \w\().4s, \w2\().4s, \w3\().4s
.endm

/* void sha256_ce_blocks(u32 h[8], const u8 *p, u64 n) */
	.global	sha256_ce_blocks
	.type	sha256_ce_blocks, %function
sha256_ce_blocks:
	stp	q0, q1, [sp, #-160]!
	stp	q2, q3, [sp, #32]
	stp	q4, q5, [sp, #64]
	stp	q6, q7, [sp, #96]
	stp	q8, q9, [sp, #128]
	ld1	{v0.4s, v1.4s}, [x0]
1:	ld1	{v4.16b, v5.16b, v6.16b, v7.16b}, [x1], #64
	rev32	v4.16b, v4.16b		/* the message is big-endian words */
	rev32	v5.16b, v5.16b
	rev32	v6.16b, v6.16b
	rev32	v7.16b, v7.16b
	mov	v2.16b, v0.16b
	mov	v3.16b, v1.16b
	adr	x3, sha256_k
	mov	w4, #4
	/* 16 times four rounds; the last four also advance the schedule, which is not used. */
2:	quad	v4, v5, v6, v7
	quad	v5, v6, v7, v4
	quad	v6, v7, v4, v5
	quad	v7, v4, v5, v6
	subs	w4, w4, #1
	b.ne	2b
	add	v0.4s, v0.4s, v2.4s
	add	v1.4s, v1.4s, v3.4s
	subs	x2, x2, #1
	b.ne	1b
	st1	{v0.4s, v1.4s}, [x0]
	ldp	q2, q3, [sp, #32]
	ldp	q4, q5, [sp, #64]
	ldp	q6, q7, [sp, #96]
	ldp	q8, q9, [sp, #128]
	ldp	q0, q1, [sp], #160
	ret
	.size	sha256_ce_blocks, . - sha256_ce_blocks
