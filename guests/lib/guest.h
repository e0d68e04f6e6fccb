/* guest.h: the whole runtime of our bare-metal test guests (EL1, MMU off), one section per file. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MAX_VCPUS 8 /* stacks in guest.ld and crt0.S */

/* ---- crt0.S: entry points ---- */
int main(uint64_t boot_arg);            /* vCPU 0; returning powers the VM off */
void secondary_main(uint64_t context);  /* vCPUs started by CPU_ON at secondary_entry */
void secondary_entry(void);             /* pass this address as CPU_ON's entry point */
/* Linker symbols (guest.ld): this VM's RAM, and the free part between .noinit and the stacks. */
extern char __ram_base[], __ram_end[], __free_start[], __stacks_start[];
/* CNTPCT_EL0 read by vCPU 0's very first instruction: the boot time that `bench` reports (the
 * physical counter: the virtual one starts near 0 when the hypervisor starts the VM). */
extern uint64_t boot_cntpct;

/* ---- uart.c: PL011 at 0x09000000; every access is one `ldr w`/`str w` so traps can decode it ---- */
#define UART_BASE 0x09000000ul
void uart_putc(char c);                 /* '\n' goes out as "\r\n" */
int uart_getc(void);                    /* a received byte, or -1 if none is waiting */

/* ---- print.c: printf subset: %s %c %d %u %x %ld %lu %lx %%, optional 0 flag and width ---- */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- psci.c: SMCCC 1.1 calls over either conduit, PSCI 1.1 helpers (over HVC) ---- */
enum smccc_conduit { SMCCC_HVC, SMCCC_SMC };

#define SMCCC_VERSION 0x80000000u
#define SMCCC_ARCH_FEATURES 0x80000001u
#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON 0xC4000003u
#define PSCI_AFFINITY_INFO 0xC4000004u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u
#define PSCI_FEATURES 0x8400000Au

#define PSCI_SUCCESS 0
#define PSCI_NOT_SUPPORTED (-1)
#define PSCI_INVALID_PARAMETERS (-2)
#define PSCI_DENIED (-3)
#define PSCI_ALREADY_ON (-4)
#define PSCI_ON_PENDING (-5)

#define AFF_ON 0
#define AFF_OFF 1
#define AFF_ON_PENDING 2

/* Returns x0; for 32-bit function IDs only w0 is defined (SMCCC), so it is sign-extended. */
int64_t smccc_call(enum smccc_conduit conduit, uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3);
int64_t psci_cpu_on(uint64_t mpidr, uint64_t entry, uint64_t context);
int64_t psci_affinity_info(uint64_t mpidr);
void psci_cpu_off(void);
void psci_system_off(void);
void psci_system_reset(void);
/* CPU_ON for vCPUs 1, 2, ... at secondary_entry until one does not exist; returns how many
 * vCPUs the VM has (including this one). */
unsigned smp_start_all(void);

/* ---- probe.S: a 32-bit access that may fault (no frame, no C: see vectors.S) ---- */
struct probe {
	uint64_t esr; /* 0 if the access did not fault */
	uint64_t far;
	uint32_t value; /* what a load read */
};
uint64_t probe_ld32(uint64_t addr, struct probe *p);
uint64_t probe_st32(uint64_t addr, uint32_t value, struct probe *p);

/* ---- trap.c: every other exception; "expect" mode catches one and skips the instruction ---- */
struct exc_frame {
	uint64_t x[31];
	uint64_t elr, spsr, esr, far, pad;
};
_Static_assert(offsetof(struct exc_frame, elr) == 248, "vectors.S frame layout");
_Static_assert(offsetof(struct exc_frame, far) == 272, "vectors.S frame layout");
_Static_assert(sizeof(struct exc_frame) == 36 * 8, "vectors.S FRAME_SIZE");

struct trap_info {
	uint64_t esr, far, elr;
};
void exception_handle(struct exc_frame *f, unsigned kind);
void trap_expect(void);                 /* the next synchronous exception is expected */
bool trap_end(struct trap_info *out);   /* stop expecting; true (and *out) if one was taken */

/* ESR_EL1 fields (Arm ARM D17.2.37). */
#define ESR_EC(esr) (((esr) >> 26) & 0x3fu)
#define ESR_DFSC(esr) ((esr) & 0x3fu)
#define EC_UNKNOWN 0x00u
#define EC_IABT_CUR 0x21u
#define EC_DABT_CUR 0x25u
#define FSC_SEA 0x10u                   /* synchronous external abort, not on a table walk */

/* ---- gic.c: GICv3 at the QEMU virt addresses; group 1 only, ICC system registers ---- */
#define GICD_BASE 0x08000000ul
#define GICR_BASE 0x080a0000ul
#define GICD_TYPER 0x0004u
#define GICD_ISENABLER 0x0100u
#define GICD_ICENABLER 0x0180u
#define INTID_VTIMER 27u                /* PPI: virtual timer (CNTV_*) */
#define INTID_PTIMER 30u                /* PPI: EL1 physical timer (CNTP_*) */
#define INTID_UART 33u                  /* SPI: the PL011 */
#define IRQ_MAX 96u                     /* SGIs, PPIs and 64 SPIs */
#define IRQ_PRIO_DEFAULT 0xa0u          /* any value below the PMR (0xff) is delivered */
void gic_init(void);                    /* distributor; once, by vCPU 0, before CPU_ON */
bool gic_cpu_init(void);                /* this vCPU's redistributor and CPU interface */
void gic_enable(unsigned intid, uint8_t prio); /* SGI/PPI of this vCPU; SPI routed to it */
void gic_disable(unsigned intid);
void gic_send_sgi(unsigned intid, unsigned vcpu);
void gic_send_sgi_others(unsigned intid);     /* every vCPU but this one (IRM = 1) */
uint32_t gicd_read(uint32_t off);
void gicd_write(uint32_t off, uint32_t v);

/* ---- irq.c: IRQ dispatch to per-INTID handlers (run with IRQs masked, EOI after return) ---- */
typedef void (*irq_handler_fn)(unsigned intid);
void irq_set_handler(unsigned intid, irq_handler_fn fn); /* SGI/PPI: for this vCPU only */
void irq_handle(void);                  /* the IRQ vector's C side (trap.c) */

static inline void irq_enable(void) { __asm__ volatile("msr daifclr, #2\n\tisb" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("msr daifset, #2" ::: "memory"); }
static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }

/* Sleeps in WFI until `cond` holds; returns with IRQs enabled. `cond` is tested with IRQs
 * masked, so an interrupt that makes it true cannot land between the test and the WFI (WFI
 * still wakes for a pending masked interrupt, which is then taken at the unmask). */
#define WAIT_UNTIL(cond)                                                                       \
	do {                                                                                   \
		irq_disable();                                                                 \
		while (!(cond)) {                                                              \
			wfi();                                                                 \
			irq_enable();                                                          \
			irq_disable();                                                         \
		}                                                                              \
		irq_enable();                                                                  \
	} while (0)

/* ---- timer.c: generic timer; counter ticks at timer_freq() Hz ---- */
uint64_t timer_freq(void);              /* CNTFRQ_EL0 */
uint64_t timer_now(void);               /* CNTVCT_EL0 */
uint64_t timer_us(uint64_t us);         /* microseconds in counter ticks */
void vtimer_arm(uint64_t deadline);     /* CNTV_CVAL = deadline, enabled */
void vtimer_stop(void);
void ptimer_arm_in(uint64_t ticks);     /* CNTP_TVAL = ticks, enabled */
void ptimer_stop(void);
/* WFI until CNTVCT >= deadline; takes this vCPU's virtual timer and its handler over (after
 * gic_cpu_init); a guest that also uses the timer itself sets its handler again afterwards. */
void sleep_until(uint64_t deadline);

/* ---- util.c ---- */
void delay(uint64_t loops);             /* busy-wait by count: needs no timer or interrupt */
#define DELAY_TICK 10000000ul           /* one tick: ~10 ms of TCG time (2 instructions a loop) */
unsigned cpu_id(void);                  /* MPIDR_EL1.Aff0 = vCPU number */
bool str_eq(const char *a, const char *b);
void *memset(void *d, int c, size_t n); /* the compiler may emit calls to these two */
void *memcpy(void *d, const void *s, size_t n);

/* Cross-vCPU flags: single writer per slot, ordered with full-system barriers. No exclusives:
 * with the MMU off memory is Device, where exclusives and atomics are not reliable. */
static inline void barrier(void) { __asm__ volatile("dsb sy" ::: "memory"); }

#endif
