/* chaos: a seeded random campaign of hostile operations (issue 10): SMCCC calls over HVC and SMC,
 * a sweep of system-register encodings, loads and stores of every form to every device page and
 * to unmapped space, SGI storms, WFI/WFE, timers at extreme values, PPI toggles, CPU_ON/OFF of its
 * second vCPU and SYSTEM_RESET. Its vectors count and skip every exception, so it goes on; the
 * hypervisor must stay up, blame only this VM, keep its log short and leave the victim alone.
 * bootargs: chaos.seed=S chaos.ops=N [chaos.progress=P] [chaos.reset=R: SYSTEM_RESET every R ops]
 * [chaos.cmo=1: exclusives and cache maintenance by VA on devices too] [chaos.only=MASK: only
 * these op families, op_one] [chaos.trace=1: print each op before it runs]
 * [chaos.timers=1|2|3: timer ops on the physical, the virtual or both timers]. */
#include "guest.h"

#define MAGIC 0x63686130735f7631ul /* "cha0s_v1": the campaign state survives SYSTEM_RESET */
#define DEFAULT_OPS 20000u
#define ICC_SRE 7ul               /* SRE, DFB, DIB: gic_cpu_init's value */

void chaos_exec(const uint32_t *code, uint64_t regs[8]);

/* ---- what survives SYSTEM_RESET: .noinit is neither reloaded nor cleared (guest.ld) ---- */
struct campaign {
	uint64_t magic, seed, ops, progress, reset_every;
	uint64_t done;            /* operations finished */
	uint64_t rng;             /* the generator's state after `done` operations */
	uint64_t sweep;           /* next system-register encoding of the sweep */
	uint64_t resets;
	uint64_t exceptions;      /* counted before the last reset(s) */
	uint64_t irqs;
	uint64_t secondary_ops;
	uint64_t cmo;             /* exclusives and DC/IC by VA too (chaos.cmo=1) */
	uint64_t only;            /* op families run, bit n = family n of op_one (chaos.only) */
	uint64_t trace;           /* print each op before it runs (chaos.trace=1) */
	uint64_t timers;          /* which timers the timer ops use: 1 physical, 2 virtual, 3 both */
};
static struct campaign camp __attribute__((section(".noinit")));

/* ---- counted by the vectors, per vCPU ---- */
struct tally {
	uint64_t sync, irq, fiq, serror, other;
	uint64_t by_ec[64];
};
static struct tally tally[GUEST_MAX_VCPUS];
static uint32_t code[GUEST_MAX_VCPUS][4] __attribute__((aligned(16)));
static volatile uint64_t secondary_done; /* operations the secondary vCPU ran */
static unsigned vcpu_count = 1;
/* Rings and buffers for the virtio registers: the only RAM of ours a random queue address may
 * name, so the device never writes over our code or stacks. */
static uint8_t scratch[3 * 4096] __attribute__((aligned(4096)));

/* ---- xorshift64* (Vigna), seeded through splitmix64 ---- */
static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ul;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ul;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebul;
	return x ^ (x >> 31);
}

static uint64_t next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dul;
}

static uint64_t below(uint64_t *s, uint64_t n) { return next(s) % n; }

/* ---- exceptions: count, skip, go on ---- */
static void stop_timers(void)
{
	__asm__ volatile("msr cntv_ctl_el0, xzr\n\tmsr cntp_ctl_el0, xzr\n\tisb");
}

static void ack_irqs(struct tally *t, bool fiq)
{
	for (int n = 0; n < 64; n++) { /* bounded: an interrupt that keeps firing cannot hold us */
		uint64_t iar;
		if (fiq)
			__asm__ volatile("mrs %0, icc_iar0_el1" : "=r"(iar) : : "memory");
		else
			__asm__ volatile("mrs %0, icc_iar1_el1" : "=r"(iar) : : "memory");
		if ((iar & 0xffffffu) >= 1020)
			return;
		if (iar == INTID_VTIMER || iar == INTID_PTIMER)
			stop_timers(); /* level-triggered: quiet it before the EOI */
		if (fiq) {
			t->fiq++;
			__asm__ volatile("msr icc_eoir0_el1, %0" : : "r"(iar) : "memory");
		} else {
			t->irq++;
			__asm__ volatile("msr icc_eoir1_el1, %0" : : "r"(iar) : "memory");
		}
	}
}

void exception_handle(struct exc_frame *f, unsigned kind)
{
	struct tally *t = &tally[cpu_id() & (GUEST_MAX_VCPUS - 1)];

	switch (kind & 3u) {
	case 0:
		t->sync++;
		t->by_ec[ESR_EC(f->esr)]++;
		f->elr += 4; /* past the instruction; the NOP after each generated one absorbs a
		              * second skip when the hypervisor already stepped over it */
		break;
	case 1: ack_irqs(t, false); break;
	case 2: ack_irqs(t, true); break;
	default: t->serror++; break;
	}
	if (kind >= 8)
		t->other++; /* from a lower EL: we never run EL0 */
}

static uint64_t exceptions_now(void)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < GUEST_MAX_VCPUS; i++)
		n += tally[i].sync + tally[i].serror;
	return n;
}

static uint64_t irqs_now(void)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < GUEST_MAX_VCPUS; i++)
		n += tally[i].irq + tally[i].fiq;
	return n;
}

/* Takes whatever is pending, briefly. */
static void window(void)
{
	__asm__ volatile("msr daifclr, #7\n\tisb\n\tnop\n\tnop\n\tmsr daifset, #7\n\tisb" ::: "memory");
}

/* ---- generated instructions ---- */
static void run(uint32_t insn, uint64_t regs[8])
{
	uint32_t *c = code[cpu_id() & (GUEST_MAX_VCPUS - 1)];
	uint64_t a = (uint64_t)(uintptr_t)c;

	c[0] = insn;
	c[1] = 0xd503201fu; /* nop */
	c[2] = 0xd65f03c0u; /* ret */
	/* Arm ARM B2.4.4: clean the new instruction to the point of unification, invalidate it from
	 * the instruction cache, then synchronise the context. */
	__asm__ volatile("dc cvau, %0\n\tdsb ish\n\tic ivau, %0\n\tdsb ish\n\tisb" : : "r"(a) : "memory");
	chaos_exec(c, regs);
}

/* ---- addresses ---- */
#define RAM_LO ((uint64_t)(uintptr_t)__ram_base)
#define RAM_HI ((uint64_t)(uintptr_t)__ram_end)
#define VICTIM_IPA 0x40000000ul /* the victim's RAM in its own space: nothing in ours */
#define GICR_SPAN 0x60000ul     /* our two frames and the one after them */
#define VIRTIO_SPAN 0x4000ul    /* the 32 slots of QEMU virt: ours is slot 0 */
#define NEAR 0x1000ul           /* pair forms and writeback stay this close to the base */

static bool near_ram(uint64_t a)
{
	return a + NEAR >= RAM_LO && a < RAM_HI + NEAR;
}

static const uint64_t edge_addrs[] = {
	0x0, 0x8, 0xffffffffffffffff, 0xfffffffffffffff8, 0x07fffffc, 0x0800fffc, 0x08010000,
	0x0809fffc, 0x080bfffc, 0x080dfffc, 0x08ffffff, 0x09000ffc, 0x09001000, 0x0a0001fc,
	0x0a000200, 0x0a003ffc, 0x0a004000, 0x3ffffffc, 0x40000000, 0x40fffffc, 0x47fff000,
	0x7ffffffc, 0xfffffff8, 0x100000000, 0xfffffff000, 0x10000000000,
};

static uint64_t pick_addr(uint64_t *s, unsigned size)
{
	uint64_t r = below(s, 100), a;

	if (r < 25)
		a = GICD_BASE + below(s, 0x10000);
	else if (r < 40)
		a = GICR_BASE + below(s, GICR_SPAN);
	else if (r < 50)
		a = UART_BASE + below(s, 0x1000);
	else if (r < 62)
		a = VIRTIO_MMIO_BASE + (below(s, 4) ? below(s, 0x200) : below(s, VIRTIO_SPAN));
	else if (r < 72)
		a = VICTIM_IPA + below(s, 0x1000000);
	else if (r < 88)
		a = next(s) & 0xfffffffful;
	else if (r < 94)
		a = next(s) & 0xfffffffffful; /* the 40-bit physical space */
	else
		a = edge_addrs[below(s, sizeof(edge_addrs) / sizeof(edge_addrs[0]))];
	if (below(s, 5))
		a &= ~(uint64_t)(size - 1); /* mostly aligned: what a driver would do */
	if (near_ram(a))
		a = VICTIM_IPA + (a & 0xfffff8ul);
	return a;
}

static uint64_t pick_value(uint64_t *s)
{
	static const uint64_t edges[] = { 0, 1, 0xffffffff, 0xffffffffffffffff, 0x80000000,
					  0x7fffffff, 0x8000000000000000, 0x100 };
	return below(s, 4) ? next(s) : edges[below(s, sizeof(edges) / sizeof(edges[0]))];
}

/* A value stored into our virtio registers must not aim the device at our own RAM (outside
 * the scratch rings): the queue address registers take it as DMA. */
static uint64_t tame_value(uint64_t addr, uint64_t v)
{
	if (addr < VIRTIO_MMIO_BASE || addr >= VIRTIO_MMIO_BASE + VIRTIO_MMIO_STRIDE)
		return v;
	uint64_t lo = v & 0xffffffffu;
	if ((lo >= RAM_LO && lo < RAM_HI) || (v >= RAM_LO && v < RAM_HI))
		return (uint64_t)(uintptr_t)scratch + (v & 0x2000u);
	return v;
}

/* ---- loads and stores (A64 encodings, Arm ARM C4.1.4): base x0, data x1/x2, status x3 ---- */
enum { RN = 0, RT = 1, RT2 = 2, RS = 3, RM = 4 };

static uint32_t ldst_insn(uint64_t *s, unsigned *size, bool *store)
{
	unsigned sz = (unsigned)below(s, 4), kind = (unsigned)below(s, 14);
	uint32_t base = (uint32_t)sz << 30, rnrt = (RN << 5) | RT;
	uint32_t opc = (uint32_t)below(s, 4); /* 0 store, 1 load, 2/3 sign-extending loads */
	uint32_t imm9 = (uint32_t)(below(s, 2) ? below(s, 16) * (1u << sz) : below(s, 512)) & 0x1ffu;

	*size = 1u << sz;
	if (sz == 3 && opc >= 2)
		opc = 1;
	if (sz == 2 && opc == 3)
		opc = 2;
	*store = opc == 0;
	switch (kind) {
	case 0: case 1: case 2: /* unsigned offset, scaled */
		return base | 0x39000000u | opc << 22 | (uint32_t)below(s, 4) << 10 | rnrt;
	case 3: /* unscaled */
		return base | 0x38000000u | opc << 22 | imm9 << 12 | rnrt;
	case 4: /* post-index, writeback */
		return base | 0x38000400u | opc << 22 | imm9 << 12 | rnrt;
	case 5: /* pre-index, writeback */
		return base | 0x38000c00u | opc << 22 | imm9 << 12 | rnrt;
	case 6: /* register offset, LSL (x4 = 0) */
		return base | 0x38206800u | opc << 22 | RM << 16 | rnrt;
	case 7: { /* LDP/STP, 32 or 64 bit: offset, post-index, pre-index */
		static const uint32_t forms[] = { 0x29000000u, 0x28800000u, 0x29800000u };
		uint32_t wide = (uint32_t)below(s, 2), l = (uint32_t)below(s, 2);
		*size = wide ? 16 : 8;
		*store = !l;
		return wide << 31 | forms[below(s, 3)] | l << 22 | (uint32_t)below(s, 4) << 15 |
		       RT2 << 10 | rnrt;
	}
	case 8: /* LDXR / STXR (status in w3) */
		*store = below(s, 2);
		return *store ? base | 0x08007c00u | RS << 16 | rnrt : base | 0x085f7c00u | rnrt;
	case 9: /* LDAR / STLR */
		*store = below(s, 2);
		return *store ? base | 0x089ffc00u | rnrt : base | 0x08dffc00u | rnrt;
	case 10: /* LDXP / STXP, 64-bit */
		*size = 16;
		*store = below(s, 2);
		return *store ? 0xc8200000u | RS << 16 | RT2 << 10 | rnrt
			      : 0xc87f0000u | RT2 << 10 | rnrt;
	case 11: { /* cache maintenance by address: DC ZVA, CIVAC, CVAC, CVAU, IVAC, IC IVAU */
		static const uint32_t ops[] = { 0xd50b7420u, 0xd50b7e20u, 0xd50b7a20u, 0xd50b7b20u,
						0xd5087620u, 0xd50b7520u };
		*size = 64;
		*store = true;
		return ops[below(s, sizeof(ops) / sizeof(ops[0]))] | RN;
	}
	case 12: /* LDADD (no LSE on Cortex-A57: UNDEF), PRFM, LDR d1 (FP: trapped or not) */
		*store = false;
		return (const uint32_t[]){ 0xf8200000u | RS << 16 | rnrt, 0xf9800000u | RN << 5,
					   0xfd400000u | rnrt }[below(s, 3)];
	default: /* plain 32-bit load or store: what the hypervisor emulates */
		*size = 4;
		*store = below(s, 2);
		return 0xb9000000u | (*store ? 0 : 1u << 22) | rnrt;
	}
}

static void op_mem(uint64_t *s)
{
	unsigned size;
	bool store;
	uint32_t insn = ldst_insn(s, &size, &store);
	uint64_t a = pick_addr(s, size > 8 ? 8 : size);
	/* Exclusives and cache maintenance by VA on device or unmapped addresses stall the whole
	 * QEMU run within ~1000 operations (see guests/README.md): only with chaos.cmo=1. */
	if (!camp.cmo && (((insn >> 24) & 0x3f) == 0x08 || (insn & 0xfff80000u) == 0xd5080000u)) {
		insn = 0xb9400000u | (RN << 5) | RT; /* a plain 32-bit load instead */
		store = false;
	}
	uint64_t regs[8] = { a, pick_value(s), pick_value(s), 0, 0 };

	/* Never a byte on our own console (garbage between the test's lines). */
	if (store && a + 16 > UART_BASE && a < UART_BASE + 4)
		regs[0] = a = UART_BASE + 0x100;
	if (store) {
		regs[1] = tame_value(a, regs[1]);
		regs[2] = tame_value(a, regs[2]);
	}
	run(insn, regs);
}

/* ---- system registers: MRS/MSR over op0 = 3, op1 0..7, CRn 0..15, CRm 0..15, op2 0..7 ---- */
#define ENC(op1, crn, crm, op2) ((uint32_t)(op1) << 11 | (uint32_t)(crn) << 7 | (uint32_t)(crm) << 3 | (op2))
#define ENC_COUNT (8u * 16 * 16 * 8)
#define ICC_IAR0 ENC(0, 12, 8, 0)
#define ICC_IAR1 ENC(0, 12, 12, 0)

/* Writes that would end the guest, not test the hypervisor: the MMU and exception state, the
 * stack selection, the interrupt masks, and the GIC CPU interface's own configuration. */
static const uint32_t write_deny[] = {
	ENC(0, 1, 0, 0),   /* SCTLR_EL1 */
	ENC(0, 2, 0, 0),   /* TTBR0_EL1 */
	ENC(0, 2, 0, 1),   /* TTBR1_EL1 */
	ENC(0, 2, 0, 2),   /* TCR_EL1 */
	ENC(0, 10, 2, 0),  /* MAIR_EL1 */
	ENC(0, 10, 3, 0),  /* AMAIR_EL1 */
	ENC(0, 12, 0, 0),  /* VBAR_EL1 */
	ENC(0, 4, 0, 0),   /* SPSR_EL1 */
	ENC(0, 4, 0, 1),   /* ELR_EL1 */
	ENC(0, 4, 1, 0),   /* SP_EL0 */
	ENC(0, 4, 2, 0),   /* SPSel */
	ENC(3, 4, 2, 1),   /* DAIF */
	ENC(0, 12, 12, 4), /* ICC_CTLR_EL1: EOImode would strand our interrupts active */
	ENC(0, 12, 12, 5), /* ICC_SRE_EL1 */
	ENC(0, 5, 2, 0),   /* ESR_EL1, FAR_EL1: the vectors read them */
	ENC(0, 6, 0, 0),
	/* The virtual timer: its writes do not trap (the hypervisor never sees them) and random
	 * ones freeze QEMU 7.2's timer model, the whole machine with it (op_timer); the timer ops
	 * give it sane values only when chaos.timers asks for it. */
	ENC(3, 14, 3, 0), ENC(3, 14, 3, 1), ENC(3, 14, 3, 2),
};

static bool write_denied(uint32_t enc)
{
	for (unsigned i = 0; i < sizeof(write_deny) / sizeof(write_deny[0]); i++)
		if (write_deny[i] == enc)
			return true;
	return false;
}

static void sysreg_access(uint64_t *s, uint32_t enc, bool allow_write)
{
	uint64_t regs[8] = { 0 };

	run(0xd5380000u | enc << 5 | RT, regs); /* MRS x1 */
	/* A read of IAR acknowledges: end it, or that interrupt (and its priority) is lost. */
	if ((enc == ICC_IAR1 || enc == ICC_IAR0) && (regs[RT] & 0xffffffu) < 1020) {
		if (enc == ICC_IAR1)
			__asm__ volatile("msr icc_eoir1_el1, %0" : : "r"(regs[RT]));
		else
			__asm__ volatile("msr icc_eoir0_el1, %0" : : "r"(regs[RT]));
	}
	if (!allow_write || write_denied(enc) || below(s, 2))
		return;
	regs[RT] = below(s, 3) ? pick_value(s) : regs[RT];
	run(0xd5180000u | enc << 5 | RT, regs); /* MSR x1 */
}

static void op_sysreg(uint64_t *s)
{
	uint32_t enc = below(s, 2) ? (uint32_t)(camp.sweep++ % ENC_COUNT) : (uint32_t)below(s, ENC_COUNT);
	sysreg_access(s, enc, true);
}

/* ---- SMCCC calls over HVC and SMC ---- */
static bool fatal_fid(uint64_t x0)
{
	uint32_t f = (uint32_t)x0 & ~(1u << 30); /* the hypervisor looks at w0 only */
	return f == PSCI_CPU_OFF || f == PSCI_SYSTEM_OFF || f == PSCI_SYSTEM_RESET ||
	       f == 0x84000012u; /* SYSTEM_RESET2 */
}

static uint64_t pick_fid(uint64_t *s)
{
	static const uint32_t edges[] = { 0, 0xffffffffu, 0x80000000u, 0x7fffffffu, 0x80008000u,
					  0x80007fffu, 0x80003fffu, 0xbf00ff01u, 0x8400ffffu,
					  0xc5000020u, 0xc5000021u, 0x86000000u, 0xc600ffffu,
					  0xb7000000u, 0xf0000000u, 0x04000000u };
	uint64_t r = below(s, 8), w64 = below(s, 2) ? 1u << 30 : 0;
	switch (r) {
	case 0: case 1: return (0x84000000u | w64) + below(s, 0x20);           /* PSCI */
	case 2: return 0x80000000u + below(s, 0x10);                            /* arch */
	case 3: return (0x86000000u | w64) + below(s, 0x40);                   /* vendor hyp */
	case 4: return (0x85000000u | w64) + below(s, 0x40);                   /* std hyp */
	case 5: return 0x80000000u | w64 | below(s, 64) << 24 | below(s, 0x10000); /* any owner */
	case 6: return next(s);
	default: return edges[below(s, sizeof(edges) / sizeof(edges[0]))];
	}
}

static uint64_t pick_arg(uint64_t *s)
{
	switch (below(s, 6)) {
	case 0: return (uint64_t)(uintptr_t)secondary_entry;
	case 1: return below(s, 4);                 /* small: vCPU numbers, levels */
	case 2: return VICTIM_IPA + below(s, 0x1000000);
	case 3: return RAM_HI - 0x10000 + below(s, 0x10000); /* the hypervisor's pvtime area */
	default: return pick_value(s);
	}
}

static void op_call(uint64_t *s)
{
	uint64_t regs[8];
	bool smc = below(s, 3) == 0;
	uint32_t imm = below(s, 4) ? 0 : (uint32_t)below(s, 0x10000);

	regs[0] = pick_fid(s);
	for (int i = 1; i < 8; i++)
		regs[i] = pick_arg(s);
	if (fatal_fid(regs[0]))
		regs[0] = PSCI_VERSION;
	/* CPU_ON of a vCPU we have must start it where it can run, not at a random byte. */
	uint32_t f = (uint32_t)regs[0] & ~(1u << 30);
	bool w64 = regs[0] & (1u << 30);
	uint64_t target = w64 ? regs[1] : (uint32_t)regs[1], entry = w64 ? regs[2] : (uint32_t)regs[2];
	if (f == (PSCI_CPU_ON & ~(1u << 30)) && target < vcpu_count && entry >= RAM_LO &&
	    entry < RAM_HI)
		regs[2] = (uint64_t)(uintptr_t)secondary_entry;
	run((smc ? 0xd4000003u : 0xd4000002u) | imm << 5, regs);
}

/* ---- interrupts and timers ---- */
#define RD_SGI (GICR_BASE + 0x10000ul) /* vCPU 0's SGI_base frame */

/* Puts back what WFI needs to end (our own GIC and timer state, which the campaign scribbles
 * on): a WFI that never ends would be our bug, not the hypervisor's. */
static void sane_irq_state(void)
{
	uint64_t rd = GICR_BASE + 0x20000ul * cpu_id();
	mmio_write32(GICD_BASE, 0x12);                      /* ARE, EnableGrp1 */
	mmio_write32(rd + 0x14, 0);                         /* GICR_WAKER: awake */
	mmio_write32(rd + 0x10080, ~0u);                    /* IGROUPR0: group 1 */
	mmio_write32(rd + 0x10400 + INTID_VTIMER / 4 * 4, 0xa0a0a0a0u); /* priorities 24..27 */
	mmio_write32(rd + 0x10100, 1u << INTID_VTIMER);     /* ISENABLER0 */
	__asm__ volatile("msr icc_sre_el1, %0\n\tisb\n\tmsr icc_pmr_el1, %1\n\tmsr icc_bpr1_el1, xzr\n\t"
			 "msr icc_ap1r0_el1, xzr\n\tmsr icc_igrpen1_el1, %2\n\tisb"
			 : : "r"(ICC_SRE), "r"(0xfful), "r"(1ul) : "memory");
}

static void op_sgi(uint64_t *s)
{
	for (uint64_t n = 1 + below(s, 16); n--;) {
		uint64_t v = next(s);
		if (below(s, 2))
			v &= 0x0f00ffffull | 1ull << 40; /* a plausible one: INTID, targets, IRM */
		__asm__ volatile("msr icc_sgi1r_el1, %0\n\tnop" : : "r"(v) : "memory");
	}
	__asm__ volatile("isb");
	if (below(s, 2))
		window();
}

static void op_wait(uint64_t *s)
{
	uint64_t n = 1 + below(s, 8);
	if (below(s, 2)) {
		while (n--)
			__asm__ volatile("wfe\n\tnop");
		return;
	}
	sane_irq_state();
	while (n--) {
		__asm__ volatile("msr cntv_cval_el0, %0\n\tmsr cntv_ctl_el0, %1\n\tisb\n\twfi\n\tnop"
				 : : "r"(timer_now() + below(s, timer_us(50))), "r"(1ul) : "memory");
		window();
	}
	stop_timers();
}

static void op_timer(uint64_t *s)
{
	static const uint64_t cvals[] = { 0, ~0ul, 1ul << 63, ~0ul - 1, 1 };
	static const uint64_t tvals[] = { 0, 0xffffffff, 0x7fffffff, 0x80000000, 1, ~0ul };
	uint64_t now = timer_now(), v, ctl = below(s, 4);
	unsigned which = (unsigned)below(s, 3);
	bool phys = below(s, 2);
	if (!(camp.timers >> !phys & 1))
		phys = !phys;

	if (which == 0)
		v = below(s, 3) ? cvals[below(s, 5)] : now + below(s, 3) - 1;
	else if (which == 1)
		v = below(s, 3) ? tvals[below(s, 6)] : next(s);
	else
		v = next(s);
	if (!phys && which != 1) {
		/* Only with chaos.timers=2 or 3. QEMU 7.2 (Debian 12's) freezes, the whole machine
		 * and every VM with it, under a stream of virtual-timer writes (CVAL + CNTVOFF at or
		 * above 2^63 at once; within minutes even with CVALs near the count): its main thread
		 * spins re-running timers with the big lock held (gdb: every vCPU thread waits for
		 * that lock). The guest's virtual-timer writes do not trap, so no hypervisor sees
		 * them; on a real core they are harmless. The same stream on the physical timer,
		 * which the hypervisor emulates (every extreme value), runs clean. */
		uint64_t vct;
		__asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(vct));
		v = vct + (uint64_t)(int64_t)(int32_t)v;
	}
	uint64_t regs[8] = { 0, v };
	/* CNTx_CVAL_EL0 = (3, 3, 14, 2|3, 2), TVAL op2 0, CTL op2 1: then CTL = enable/imask. */
	uint32_t crm = phys ? 2 : 3, op2 = which == 0 ? 2 : which == 1 ? 0 : (uint32_t)below(s, 3);
	if (camp.trace)
		printf("chaos: timer %s which %u op2 %u value 0x%lx ctl %lu\n",
		       phys ? "phys" : "virt", which, op2, v, ctl);
	run(0xd5180000u | ENC(3, 14, crm, op2) << 5 | RT, regs);
	regs[RT] = ctl;
	run(0xd5180000u | ENC(3, 14, crm, 1) << 5 | RT, regs);
	if (below(s, 2))
		window();
	if (below(s, 4))
		stop_timers();
}

static void op_ppi(uint64_t *s)
{
	static const uint32_t regs_off[] = { 0x100, 0x180, 0x200, 0x280, 0x300, 0x380, 0x400,
					     0x404, 0x418, 0x41c, 0xc04 };
	uint64_t rd = GICR_BASE + 0x20000ul * below(s, vcpu_count);
	uint32_t off = regs_off[below(s, sizeof(regs_off) / sizeof(regs_off[0]))];
	uint32_t v = below(s, 2) ? (uint32_t)next(s) : 1u << (16 + below(s, 16));
	mmio_write32(rd + 0x10000 + off, v);
	if (below(s, 2))
		window();
}

/* ---- the second vCPU: started, runs a short random burst, stops itself ---- */
static void op_cpu(uint64_t *s)
{
	uint64_t r = below(s, 8), ctx = next(s);
	if (vcpu_count < 2)
		return;
	if (r < 5) {
		psci_cpu_on(1, (uint64_t)(uintptr_t)secondary_entry, ctx);
	} else if (r == 5) {
		psci_affinity_info(below(s, 4));
	} else { /* refusals: bad target, bad entry, ourselves */
		static const uint64_t targets[] = { 0, 2, 0x100, 0x80000001, ~0ul };
		psci_cpu_on(targets[below(s, 5)],
			    below(s, 2) ? VICTIM_IPA : (uint64_t)(uintptr_t)secondary_entry, ctx);
	}
}

void secondary_main(uint64_t context)
{
	uint64_t s = splitmix(context) | 1, n = 20 + below(&s, 200);

	for (uint64_t i = 0; i < n; i++) {
		switch (below(&s, 6)) {
		case 0: op_mem(&s); break;
		case 1: sysreg_access(&s, (uint32_t)below(&s, ENC_COUNT), false); break;
		case 2: op_sgi(&s); break;
		case 3: op_timer(&s); break;
		case 4: __asm__ volatile("wfe"); break;
		default: op_call(&s); break;
		}
	}
	secondary_done += n;
	barrier();
	/* returning: crt0 calls CPU_OFF */
}

/* ---- the campaign ---- */
/* The families, by the bit chaos.only gives each: call, sysreg, mem, sgi, wait, timer, ppi, cpu,
 * garbage. The draw is made whether or not the family runs, so one seed's ops stay the same. */
static void op_one(uint64_t *s)
{
	static const uint8_t upto[] = { 22, 46, 78, 84, 87, 93, 97, 99, 100 };
	uint64_t r = below(s, 100);
	unsigned f = 0;
	while (r >= upto[f])
		f++;
	if (camp.trace)
		printf("chaos: op %lu family %u\n", camp.done, f);
	if (!(camp.only >> f & 1))
		return;
	switch (f) {
	case 0: op_call(s); break;
	case 1: op_sysreg(s); break;
	case 2: op_mem(s); break;
	case 3: op_sgi(s); break;
	case 4: op_wait(s); break;
	case 5: op_timer(s); break;
	case 6: op_ppi(s); break;
	case 7: op_cpu(s); break;
	default:
		for (unsigned i = 0; i < sizeof(scratch); i += 8) /* new garbage for the rings */
			*(volatile uint64_t *)(uintptr_t)(scratch + i) = next(s);
	}
}

static void start(uint64_t boot_arg)
{
	const char *args = bootargs(boot_arg);
	uint64_t seed = 1, ops = DEFAULT_OPS, progress = 0, reset = 0, cmo = 0, only = 0x1ff, trace = 0, timers = 3;

	bootarg_u64(args, "chaos.seed", &seed);
	bootarg_u64(args, "chaos.ops", &ops);
	bootarg_u64(args, "chaos.progress", &progress);
	bootarg_u64(args, "chaos.reset", &reset);
	bootarg_u64(args, "chaos.cmo", &cmo);
	bootarg_u64(args, "chaos.only", &only);
	bootarg_u64(args, "chaos.trace", &trace);
	bootarg_u64(args, "chaos.timers", &timers);
	if (camp.magic == MAGIC && camp.seed == seed && camp.ops == ops) {
		camp.resets++;
		printf("chaos: resumed after reset %lu at op %lu\n", camp.resets, camp.done);
		return;
	}
	camp = (struct campaign){ .magic = MAGIC, .seed = seed, .ops = ops, .reset_every = reset,
				  .progress = progress ? progress : (ops / 10 ? ops / 10 : 1),
				  .rng = splitmix(seed) | 1, .cmo = cmo, .only = only,
				  .trace = trace, .timers = timers };
	printf("chaos: seed=0x%lx ops=%lu\n", seed, ops);
}

int main(uint64_t boot_arg)
{
	start(boot_arg);
	gic_init();
	gic_cpu_init();
	vcpu_count = psci_affinity_info(1) >= 0 ? 2 : 1; /* chaos.dts gives it 2 */
	while (camp.done < camp.ops) {
		op_one(&camp.rng);
		camp.done++;
		if (camp.done % camp.progress == 0 || camp.done == camp.ops)
			printf("chaos: op %lu exceptions %lu irqs %lu secondary %lu\n", camp.done,
			       camp.exceptions + exceptions_now(), camp.irqs + irqs_now(),
			       camp.secondary_ops + secondary_done);
		if (camp.reset_every && camp.done % camp.reset_every == 0 && camp.done < camp.ops) {
			camp.exceptions += exceptions_now();
			camp.irqs += irqs_now();
			camp.secondary_ops += secondary_done;
			barrier();
			printf("chaos: SYSTEM_RESET at op %lu\n", camp.done);
			psci_system_reset();
			printf("chaos: SYSTEM_RESET returned\n");
			return 1;
		}
	}
	uint64_t exc = camp.exceptions + exceptions_now();
	struct tally sum = { 0 };
	for (unsigned i = 0; i < GUEST_MAX_VCPUS; i++)
		for (unsigned ec = 0; ec < 64; ec++)
			sum.by_ec[ec] += tally[i].by_ec[ec];
	printf("chaos: since the last boot, by class:");
	for (unsigned ec = 0; ec < 64; ec++)
		if (sum.by_ec[ec])
			printf(" %x:%lu", ec, sum.by_ec[ec]);
	printf("\n");
	camp.magic = 0; /* a later cold start begins a new campaign */
	printf("chaos: done ops=%lu exceptions=%lu resets=%lu\n", camp.done, exc, camp.resets);
	return 0;
}
