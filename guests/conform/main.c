/* conform: what unmodified software sees of the CPU, checked where it differs easily from the
 * bare core (issue 10): the timers' interrupts are levels, PSCI CPU_ON races answer as KVM
 * does, and the debug registers (breakpoints, watchpoints, OS lock, software step) work. Each
 * part prints "conform: <part> ok" or the first thing that was wrong; the last line is
 * "conform: N failures". Runs on 4 vCPUs (tests/configs/conform.dts). */
#include "guest.h"

#define GICR_FRAME 0x20000ul
#define GICR_ISPENDR0 (0x10000ul + 0x200u)

static unsigned failures;

static void fail(const char *part, const char *what, uint64_t a, uint64_t b)
{
	printf("conform: %s: FAIL %s (0x%lx, 0x%lx)\n", part, what, a, b);
	failures++;
}

/* ---- 1. timer interrupts follow the timer's output ---- */

static volatile unsigned timer_irqs;

static void timer_irq(unsigned intid)
{
	timer_irqs++;
	if (intid == INTID_VTIMER)
		vtimer_stop();
	else
		ptimer_stop();
}

static bool ppi_pending(unsigned intid)
{
	return mmio_read32(GICR_BASE + cpu_id() * GICR_FRAME + GICR_ISPENDR0) >> intid & 1u;
}

/* The timer armed with its deadline already passed (so its output is high), or lowered in one
 * of three ways: ENABLE = 0, IMASK = 1, or a deadline far ahead. */
enum lower { LOWER_DISABLE, LOWER_MASK, LOWER_LATER, LOWER_NONE };

static void timer_set(unsigned intid, uint64_t ctl, uint64_t cval)
{
	if (intid == INTID_VTIMER)
		__asm__ volatile("msr cntv_cval_el0, %0\n\tmsr cntv_ctl_el0, %1\n\tisb"
				 : : "r"(cval), "r"(ctl) : "memory");
	else
		__asm__ volatile("msr cntp_cval_el0, %0\n\tmsr cntp_ctl_el0, %1\n\tisb"
				 : : "r"(cval), "r"(ctl) : "memory");
}

static uint64_t counter(unsigned intid)
{
	uint64_t t;
	if (intid == INTID_VTIMER)
		__asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(t) : : "memory");
	else
		__asm__ volatile("isb\n\tmrs %0, cntpct_el0" : "=r"(t) : : "memory");
	return t;
}

/* Fires the timer while its PPI is disabled, lowers its output (or not), then enables the PPI
 * for 20 ms: the pending bit and the interrupt count must follow the output. */
static void timer_case(const char *part, unsigned intid, enum lower how)
{
	gic_disable(intid);
	timer_irqs = 0;
	timer_set(intid, 1, counter(intid) - 1);
	uint64_t until = timer_now() + timer_us(200000);
	while (!ppi_pending(intid) && timer_now() < until)
		;
	if (!ppi_pending(intid)) { /* the case was not made: say so, it is not a pass */
		fail(part, "the fired timer's PPI never showed pending", intid, how);
		timer_set(intid, 0, 0);
		return;
	}
	if (how == LOWER_DISABLE)
		timer_set(intid, 0, 0);
	else if (how == LOWER_MASK)
		timer_set(intid, 3, counter(intid) - 1);
	else if (how == LOWER_LATER)
		timer_set(intid, 1, counter(intid) + timer_us(10000000));
	bool want = how == LOWER_NONE;
	if (ppi_pending(intid) != want)
		fail(part, "GICR_ISPENDR0 after the output changed", intid, how);
	gic_enable(intid, IRQ_PRIO_DEFAULT);
	delay(2 * DELAY_TICK);
	if (timer_irqs != (want ? 1u : 0u))
		fail(part, "interrupts taken after the PPI was enabled", timer_irqs, how);
	gic_disable(intid);
	timer_set(intid, 0, 0);
}

static void timers(void)
{
	unsigned before = failures;
	irq_set_handler(INTID_VTIMER, timer_irq);
	irq_set_handler(INTID_PTIMER, timer_irq);
	irq_enable();
	for (unsigned how = LOWER_DISABLE; how <= LOWER_NONE; how++) {
		timer_case("vtimer level", INTID_VTIMER, how);
		timer_case("ptimer level", INTID_PTIMER, how);
	}
	irq_disable();
	if (failures == before)
		printf("conform: timer level ok (virtual and physical, 4 cases each)\n");
}

/* ---- 3. debug registers: breakpoints, watchpoints, OS lock, software step ---- */

void bp_target(void);
void watch_store(volatile uint64_t *p, uint64_t v);
uint64_t step_once(uint64_t v);
extern char step_second[];

#define MDSCR_SS 1ul
#define MDSCR_KDE (1ul << 13)
#define MDSCR_MDE (1ul << 15)
#define BCR_EL1_ADDR 0x1e3ul  /* E, PMC = EL1, BAS = all four bytes, address match */
#define WCR_EL1_STORE 0x1ff3ul /* E, PAC = EL1, LSC = store, BAS = all eight bytes */
#define OSLSR_LOCKED 0xaul    /* OSLM = 0b10, OSLK */
#define OSLSR_UNLOCKED 0x8ul

#define RD(reg) ({ uint64_t v_; __asm__ volatile("mrs %0, " #reg : "=r"(v_)); v_; })
#define WR(reg, v) __asm__ volatile("msr " #reg ", %0\n\tisb" : : "r"((uint64_t)(v)) : "memory")

static volatile uint64_t watched;

/* Runs fn-like code under expect mode; returns the exception class taken, or ~0 for none. */
#define CATCH(stmt, info) ({ trap_expect(); stmt; trap_end(info) ? (unsigned)ESR_EC((info)->esr) : ~0u; })

static void debug_check(const char *part, bool ok, const char *what, uint64_t a, uint64_t b)
{
	if (!ok)
		fail(part, what, a, b);
}

static volatile unsigned peer_done;
static volatile uint64_t peer_seen[4];

/* vCPU 1, beside vCPU 0's armed breakpoint: its own registers are its own. */
static void debug_peer(void)
{
	struct trap_info t;
	peer_seen[0] = RD(dbgbvr0_el1);
	peer_seen[1] = RD(dbgbcr0_el1);
	peer_seen[2] = RD(oslsr_el1);
	WR(oslar_el1, 0);
	WR(mdscr_el1, MDSCR_KDE | MDSCR_MDE);
	__asm__ volatile("msr daifclr, #8" ::: "memory");
	unsigned hits = 0;
	for (unsigned i = 0; i < 1000; i++)
		hits += CATCH(bp_target(), &t) != ~0u;
	peer_seen[3] = hits;
	dmb();
	peer_done = 1;
	psci_cpu_off();
}

#define CTX_DEBUG_PEER 0xdeb0000ul

static void debug(void)
{
	const char *part = "debug";
	unsigned before = failures;
	struct trap_info t;
	uint64_t dfr0 = RD(id_aa64dfr0_el1);
	unsigned brps = (unsigned)(dfr0 >> 12 & 0xf) + 1, wrps = (unsigned)(dfr0 >> 20 & 0xf) + 1;
	debug_check(part, brps >= 2 && wrps >= 2, "ID_AA64DFR0_EL1 breakpoints, watchpoints", brps, wrps);
	debug_check(part, RD(oslsr_el1) == OSLSR_LOCKED, "OS lock not locked at reset", RD(oslsr_el1), 0);

	/* Read back, and the register past the last one the ID register gives is UNDEF. */
	WR(dbgbvr1_el1, 0x40001234ul & ~3ul);
	WR(dbgbcr1_el1, 0x1e0ul); /* disabled */
	WR(dbgwvr1_el1, 0x40005678ul & ~7ul);
	debug_check(part, RD(dbgbvr1_el1) == 0x40001234ul && RD(dbgbcr1_el1) == 0x1e0ul &&
		    RD(dbgwvr1_el1) == 0x40005678ul, "breakpoint registers read back", RD(dbgbvr1_el1),
		    RD(dbgbcr1_el1));
	if (brps == 6)
		debug_check(part, CATCH(RD(dbgbvr6_el1), &t) == EC_UNKNOWN, "DBGBVR6 not UNDEF", 0, 0);
	if (wrps == 4)
		debug_check(part, CATCH(RD(dbgwvr4_el1), &t) == EC_UNKNOWN, "DBGWVR4 not UNDEF", 0, 0);

	/* A breakpoint: armed, then locked out by the OS lock, then taken. */
	WR(dbgbvr0_el1, (uint64_t)(uintptr_t)bp_target);
	WR(dbgbcr0_el1, BCR_EL1_ADDR);
	WR(mdscr_el1, MDSCR_KDE | MDSCR_MDE);
	__asm__ volatile("msr daifclr, #8" ::: "memory");
	unsigned ec = CATCH(bp_target(), &t);
	debug_check(part, ec == ~0u, "breakpoint taken with the OS lock locked", ec, 0);
	WR(oslar_el1, 0);
	debug_check(part, RD(oslsr_el1) == OSLSR_UNLOCKED, "OS lock did not unlock", RD(oslsr_el1), 0);
	ec = CATCH(bp_target(), &t);
	debug_check(part, ec == EC_BREAKPOINT_CUR && t.elr == (uint64_t)(uintptr_t)bp_target,
		    "breakpoint", ec, t.elr);

	/* vCPU 1 (pinned to this core, conform.dts) sees none of it. */
	psci_cpu_on(1, (uint64_t)(uintptr_t)secondary_entry, CTX_DEBUG_PEER);
	while (!peer_done)
		dmb();
	while (psci_affinity_info(1) != AFF_OFF)
		;
	debug_check(part, peer_seen[0] == 0 && peer_seen[1] == 0 && peer_seen[2] == OSLSR_LOCKED,
		    "another vCPU saw this one's breakpoint or OS lock", peer_seen[0], peer_seen[2]);
	debug_check(part, peer_seen[3] == 0, "another vCPU hit this one's breakpoint", peer_seen[3], 0);
	ec = CATCH(bp_target(), &t); /* still armed here after sharing the core */
	debug_check(part, ec == EC_BREAKPOINT_CUR, "breakpoint lost after a vCPU switch", ec, 0);
	WR(dbgbcr0_el1, 0);
	ec = CATCH(bp_target(), &t);
	debug_check(part, ec == ~0u, "disabled breakpoint taken", ec, 0);

	/* A watchpoint on stores to one word: the store is caught (and skipped). */
	watched = 1;
	WR(dbgwvr0_el1, (uint64_t)(uintptr_t)&watched);
	WR(dbgwcr0_el1, WCR_EL1_STORE);
	ec = CATCH(watch_store(&watched, 2), &t);
	debug_check(part, ec == EC_WATCHPOINT_CUR && t.far == (uint64_t)(uintptr_t)&watched &&
		    watched == 1, "watchpoint", ec, t.far);
	uint64_t w = watched; /* a load is not watched */
	debug_check(part, w == 1, "watched word", w, 0);
	WR(dbgwcr0_el1, 0);
	watch_store(&watched, 3);
	debug_check(part, watched == 3, "store after the watchpoint was disabled", watched, 0);

	/* Software step of one instruction. D masked first: with MDSCR_EL1.SS set and PSTATE.SS
	 * clear, an unmasked step exception would be taken at once (active-pending, D2.12.5). */
	__asm__ volatile("msr daifset, #8" ::: "memory");
	WR(mdscr_el1, MDSCR_KDE | MDSCR_SS);
	uint64_t r = 0;
	ec = CATCH(r = step_once(40), &t);
	debug_check(part, (ec & ~1u) == EC_SOFTSTEP_LOW && t.elr == (uint64_t)(uintptr_t)step_second &&
		    r == 42, "software step", ec, t.elr);
	WR(mdscr_el1, 0);
	__asm__ volatile("msr daifset, #8" ::: "memory");
	if (failures == before)
		printf("conform: debug ok (%u breakpoints, %u watchpoints: breakpoint, watchpoint, "
		       "OS lock, software step, per vCPU)\n", brps, wrps);
}

/* ---- 2. CPU_ON races ---- */

#define RACERS 3u         /* vCPUs 0..2 race to start vCPU 3 */
#define TARGET 3u
#define ROUNDS 30u
#define CTX_RACER 0x5ace0000ul
#define CTX_TARGET 0x7a60000ul

static volatile unsigned go;                  /* the round the racers may start (vCPU 0) */
static volatile unsigned ready[RACERS];       /* racer i is waiting for this round */
static volatile int64_t result[RACERS];       /* its CPU_ON's answer in the current round */
static volatile unsigned checked[RACERS];     /* it has checked AFFINITY_INFO in this round */
static volatile unsigned bad_affinity[RACERS]; /* AFFINITY_INFO answers out of order */
static volatile unsigned target_round;        /* the target runs (written by vCPU 3) */

static void wait_eq(volatile unsigned *v, unsigned want)
{
	while (*v != want)
		dmb();
}

/* After its CPU_ON: ON_PENDING or ON, never OFF, and ON for good once the target runs. */
static void race_one(unsigned me, unsigned round)
{
	result[me] = psci_cpu_on(TARGET, (uint64_t)(uintptr_t)secondary_entry, CTX_TARGET | round);
	bool on = false;
	for (;;) {
		bool running = target_round == round;
		dmb();
		int64_t a = psci_affinity_info(TARGET);
		if (a == AFF_OFF || (on && a != AFF_ON) || (running && a != AFF_ON))
			bad_affinity[me]++;
		on = on || a == AFF_ON;
		if (running)
			break;
	}
	dmb();
	checked[me] = round;
	dmb();
}

static void racer(unsigned me)
{
	for (unsigned round = 1; round <= ROUNDS; round++) {
		ready[me] = round;
		dmb();
		wait_eq(&go, round);
		race_one(me, round);
	}
}

/* The target says it runs, waits until every racer has checked, and powers itself off. */
static void target(unsigned round)
{
	target_round = round;
	dmb();
	for (unsigned i = 0; i < RACERS; i++)
		wait_eq(&checked[i], round);
	psci_cpu_off();
}

static void psci_race(void)
{
	unsigned before = failures, pending = 0;
	for (unsigned i = 1; i < RACERS; i++)
		if (psci_cpu_on(i, (uint64_t)(uintptr_t)secondary_entry, CTX_RACER | i) != PSCI_SUCCESS)
			fail("cpu_on race", "could not start a racer", i, 0);
	for (unsigned round = 1; round <= ROUNDS; round++) {
		while (psci_affinity_info(TARGET) != AFF_OFF)
			;
		for (unsigned i = 1; i < RACERS; i++)
			wait_eq(&ready[i], round);
		go = round;
		dmb();
		race_one(0, round);
		for (unsigned i = 1; i < RACERS; i++)
			wait_eq(&checked[i], round);
		unsigned wins = 0;
		for (unsigned i = 0; i < RACERS; i++) {
			wins += result[i] == PSCI_SUCCESS;
			pending += result[i] == PSCI_ON_PENDING;
			if (result[i] != PSCI_SUCCESS && result[i] != PSCI_ALREADY_ON)
				fail("cpu_on race", "a racer's CPU_ON answer", round, (uint64_t)result[i]);
		}
		if (wins != 1)
			fail("cpu_on race", "winners in a round", round, wins);
	}
	unsigned bad = 0;
	for (unsigned i = 0; i < RACERS; i++)
		bad += bad_affinity[i];
	if (bad)
		fail("cpu_on race", "AFFINITY_INFO answers out of order", bad, 0);
	if (failures == before)
		printf("conform: cpu_on race ok (%u rounds, %u racers: one SUCCESS each, the rest "
		       "ALREADY_ON, %u ON_PENDING)\n", ROUNDS, RACERS, pending);
}

void secondary_main(uint64_t context)
{
	if (context == CTX_DEBUG_PEER)
		debug_peer();
	else if ((context & ~0xfffful) == CTX_TARGET)
		target((unsigned)(context & 0xffff));
	else
		racer((unsigned)(context & 0xffff));
	for (;;)
		wfi();
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	gic_init();
	gic_cpu_init();
	timers();
	debug();
	psci_race();
	printf("conform: %u failures\n", failures);
	return 0;
}
