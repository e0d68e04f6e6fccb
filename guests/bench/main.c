/* bench: the measurement guest of `make bench` (bench/run.py); one `bench: <name> <n>` line per
 * result, n in instructions. Run it with -icount shift=0 -smp 1: QEMU then advances its virtual
 * clock 1 ns per executed instruction, the cycle counter PMCCNTR_EL0 counts at 1 GHz (so one
 * count per instruction) and the generic counter at CNTFRQ (62.5 MHz: one tick per 16). Natively
 * (no hypervisor) it gives the baseline; under pocketvisor (config `pmu;`) PMCCFILTR_EL0.NSH
 * makes the cycle counter include EL2, so every result includes the hypervisor's work. */
#include "guest.h"

#define ITERS 1000u            /* batch loops: mean per operation, empty loop subtracted */
#define SAMPLES 1000u          /* per-event measurements: the median is reported */
#define SGI_BENCH 1u
#define SPI_UNUSED 40u         /* an SPI nothing drives: enabling it changes nothing */
#define SPIN_AHEAD 50u         /* ticks from arming to the deadline while spinning */
#define WFI_AHEAD 6250u        /* 100 us: more than a switch out and back, or the VM sharing
                                * the core never gets to run in between */
#define IAR_POLLS 1000u

#define PMCR_E (1ul << 0)      /* PMCR_EL0 (Arm ARM D17.5.7): enable */
#define PMCR_C (1ul << 2)      /* reset the cycle counter */
#define PMCR_LC (1ul << 6)     /* 64-bit cycle counter */
#define PMCNT_C (1ul << 31)    /* PMCNTENSET_EL0: the cycle counter */
#define PMCCFILTR_NSH (1ul << 27) /* count at EL2 too (EL0/EL1 are counted when P, U are 0) */
#define ICC_IAR_INTID(iar) ((iar) & 0xffffffu)

static uint64_t ipt;           /* instructions per counter tick: 1e9 / CNTFRQ under icount */
static uint32_t samples[SAMPLES], busy[SAMPLES];
static uint64_t pair_cost;     /* two back-to-back cycle counter reads */

/* No ISB around these: under QEMU each read is exact in program order (the registers are I/O
 * to TCG, so icount is precise there), and an ISB would only add an instruction. */
static inline uint64_t cycles(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, pmccntr_el0" : "=r"(v) : : "memory");
	return v;
}

static inline uint64_t counter(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, cntvct_el0" : "=r"(v) : : "memory");
	return v;
}

static void result(const char *name, uint64_t n)
{
	printf("bench: %s %lu\n", name, n);
}

static uint64_t median(uint32_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++) /* insertion sort: the samples are nearly sorted already */
		for (unsigned j = i; j && v[j - 1] > v[j]; j--) {
			uint32_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

static uint32_t clamp(int64_t v)
{
	return v < 0 ? 0 : v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* ---- synchronous operations: a loop of ITERS in one asm block, so its shape is fixed ---- */

/* Loop counter in x19: callee-saved, so even a hypercall that broke SMCCC's x4..x17 rule would
 * not run the loop away. `addr` is an address the body may use as %[a]. */
#define BATCH(body, addr, ...)                                                                    \
	({                                                                                     \
		uint64_t t0_ = cycles();                                                       \
		__asm__ volatile("mov x19, %[n]\n1:\n\t" body "\n\tsubs x19, x19, #1\n\tb.ne 1b" \
				 : : [n] "r"((uint64_t)ITERS), [a] "r"((uint64_t)(addr))       \
				 : "x19", "cc", "memory", ##__VA_ARGS__);                      \
		cycles() - t0_;                                                                \
	})

static uint64_t per_op(uint64_t total, uint64_t empty)
{
	return total > empty ? (total - empty + ITERS / 2) / ITERS : 0;
}

static void bench_sync(void)
{
	uint64_t empty = BATCH("", 0);
	struct trap_info t;

	trap_expect();
	smccc_call(SMCCC_HVC, SMCCC_VERSION, 0, 0, 0);
	if (trap_end(&t)) {
		printf("bench: null_hypercall n/a (hvc is undefined here)\n");
	} else {
		uint64_t c0 = counter();
		uint64_t hvc = BATCH("mov x0, #0x80000000\n\thvc #0", 0, "x0", "x1", "x2", "x3");
		uint64_t ticks = counter() - c0;
		result("null_hypercall", per_op(hvc, empty));
		/* The cycle counter only spans the hypervisor's work if EL2 is counted: then it
		 * agrees with the generic counter, which always runs. */
		uint64_t wall = ticks * ipt;
		result("el2_counted", hvc + hvc / 100 + 2 * ipt >= wall);
	}
	result("gicd_read", per_op(BATCH("ldr w0, [%[a]]", GICD_BASE + GICD_TYPER, "x0"), empty));
	uint64_t w = BATCH("mov w0, #0x100\n\tstr w0, [%[a]]",
			   GICD_BASE + GICD_ISENABLER + 4 * (SPI_UNUSED / 32), "x0");
	gicd_write(GICD_ICENABLER + 4 * (SPI_UNUSED / 32), 1u << (SPI_UNUSED % 32));
	result("gicd_isenabler_write", per_op(w, empty));
}

/* ---- interrupts: one event per sample ---- */

static volatile bool hit;
static volatile uint64_t entry_cycles, deadline;
static volatile uint32_t latency;

static void sgi_irq(unsigned intid)
{
	entry_cycles = cycles();
	(void)intid;
	hit = true;
}

/* Deadline to handler entry, to the instruction. The deadline is a counter tick edge; the
 * handler finds the next edge by spinning on the counter and times that spin with the cycle
 * counter, which needs no EL2 counting (it runs in this handler only). What is left is a
 * constant of a few instructions (where in the 3-instruction spin the edge fell). */
static void vtimer_irq(unsigned intid)
{
	uint64_t p0 = cycles(), c0 = counter(), c1;

	(void)intid;
	do
		c1 = counter();
	while (c1 == c0);
	uint64_t p1 = cycles();
	vtimer_stop();
	latency = clamp((int64_t)((c1 - deadline) * ipt) - (int64_t)(p1 - p0));
	entry_cycles = p0;
	hit = true;
}

static void bench_sgi(void)
{
	uint64_t sgi1r = (uint64_t)SGI_BENCH << 24 | 1ul << cpu_id();

	for (unsigned i = 0; i < SAMPLES; i++) {
		hit = false;
		uint64_t p0 = cycles();
		__asm__ volatile("msr icc_sgi1r_el1, %0\n\tisb" : : "r"(sgi1r) : "memory");
		while (!hit)
			;
		samples[i] = clamp((int64_t)(entry_cycles - p0 - pair_cost));
	}
	result("sgi_self", median(samples, SAMPLES));
}

/* Acknowledged by polling with IRQs masked, so only the EOI itself is between the reads. */
static void bench_eoi(void)
{
	unsigned n = 0;

	irq_disable();
	for (unsigned i = 0; i < SAMPLES; i++) {
		uint64_t iar = 1023;
		gic_send_sgi(SGI_BENCH, cpu_id());
		for (unsigned p = 0; p < IAR_POLLS && ICC_IAR_INTID(iar) >= 1020; p++)
			__asm__ volatile("mrs %0, icc_iar1_el1" : "=r"(iar) : : "memory");
		if (ICC_IAR_INTID(iar) >= 1020)
			continue;
		uint64_t p0 = cycles();
		__asm__ volatile("msr icc_eoir1_el1, %0" : : "r"(iar) : "memory");
		uint64_t p1 = cycles();
		samples[n++] = clamp((int64_t)(p1 - p0 - pair_cost));
	}
	irq_enable();
	if (n)
		result("eoi", median(samples, n));
	else
		printf("bench: eoi n/a (self-SGI never became pending)\n");
}

static void bench_vtimer_spin(void)
{
	for (unsigned i = 0; i < SAMPLES; i++) {
		hit = false;
		deadline = counter() + SPIN_AHEAD;
		vtimer_arm(deadline);
		while (!hit)
			;
		samples[i] = latency;
	}
	result("vtimer", median(samples, SAMPLES));
}

/* Blocked in WFI at each deadline. Under pocketvisor with `pingpong` on the same core (bench.dts)
 * the core is running that VM then, so this is the switch in; switch_busy is this VM's own time
 * from handler entry to its next WFI, which `pingpong` needs to tell the switch out apart. */
static void bench_vtimer_wfi(void)
{
	uint64_t wfi_cycles = 0, prev_entry = 0;

	for (unsigned i = 0; i < SAMPLES; i++) {
		hit = false;
		deadline = counter() + WFI_AHEAD;
		vtimer_arm(deadline);
		irq_disable();
		while (!hit) {
			wfi_cycles = cycles();
			wfi();
			irq_enable();
			irq_disable();
		}
		irq_enable();
		samples[i] = latency;
		if (i)
			busy[i - 1] = clamp((int64_t)(wfi_cycles - prev_entry));
		prev_entry = entry_cycles;
	}
	result("vtimer_wfi", median(samples, SAMPLES));
	result("switch_busy", median(busy, SAMPLES - 1));
}

static void pmu_start(void)
{
	__asm__ volatile("msr pmccfiltr_el0, %0\n\t"
			 "msr pmcr_el0, %1\n\t"
			 "msr pmcntenset_el0, %2\n\t"
			 "isb"
			 : : "r"(PMCCFILTR_NSH), "r"(PMCR_E | PMCR_C | PMCR_LC), "r"(PMCNT_C)
			 : "memory");
	uint64_t a = cycles(), b = cycles();
	pair_cost = b - a;
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	ipt = 1000000000u / timer_freq();
	printf("bench: counter %lu Hz, %lu instructions per tick under -icount shift=0\n",
	       timer_freq(), ipt);
	result("boot", boot_cntpct * ipt);
	pmu_start();
	gic_init();
	gic_cpu_init();
	irq_set_handler(SGI_BENCH, sgi_irq);
	gic_enable(SGI_BENCH, IRQ_PRIO_DEFAULT);
	irq_set_handler(INTID_VTIMER, vtimer_irq);
	gic_enable(INTID_VTIMER, IRQ_PRIO_DEFAULT);
	irq_enable();

	bench_sync();
	bench_sgi();
	bench_eoi();
	bench_vtimer_spin();
	bench_vtimer_wfi(); /* last: from here on a VM sharing the core gets to run */
	printf("bench: done\n");
	return 0;
}
