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
void uart_rx_irq_enable(void);          /* raise INTID_UART while a received byte waits (level) */

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

/* ---- pv.c: pocketvisor's identity calls over HVC (docs/abi.md); errors are negative ---- */
#define PV_SEAL_KEY 0xc6000001u
#define PV_MEASUREMENT 0xc6000002u
#define PV_E_DENIED (-3)
#define PV_E_NO_SECRET (-4)
#define PV_E_NO_VM (-5)
#define PV_COUNTER 0xc6000003u
#define PV_COUNTERS 8u                  /* the VM's own counters 0..7 (`rollback-counters;`) */
#define PV_COUNTER_BOOT 8u              /* read only: how many times the device booted */
#define PV_E_NO_STORE (-6)
#define PV_E_IO (-7)
#define PV_KEY_SIZE 32u
#define PV_NAME_SIZE 16u                /* NUL-padded; a name of 16 characters has no NUL */
/* The caller's sealing key for `label` (up to 32 bytes): 0, or PV_E_NO_SECRET / -2. */
/* Any of them: x1..x6 in from r[1..6], x0..x6 out into r[0..6]; returns x0 (w0 for SMC32 IDs). */
int64_t pv_call(uint32_t fid, uint64_t r[7]);
int64_t pv_seal_key(const char *label, uint8_t key[PV_KEY_SIZE]);
/* The measurement and name of the VM with vsock CID `cid` (0: the caller, 2: the hypervisor);
 * name gets the 16 bytes and a NUL. 0, or PV_E_DENIED / PV_E_NO_VM. */
int64_t pv_measurement(uint64_t cid, uint8_t measurement[PV_KEY_SIZE], char name[PV_NAME_SIZE + 1]);
/* Monotonic counter `index` (docs/abi.md): its value in *value, after adding one if `add`.
 * 0, or -2 (bad index, or add to the boot count), PV_E_DENIED, PV_E_NO_SECRET, PV_E_NO_STORE,
 * PV_E_IO (not written: the value is unchanged). */
int64_t pv_counter(uint32_t index, bool add, uint64_t *value);

/* ---- probe.S: a 32-bit access that may fault (no frame, no C: see vectors.S) ---- */
struct probe {
	uint64_t esr; /* 0 if the access did not fault */
	uint64_t far;
	uint32_t value; /* what a load read */
};
uint64_t probe_ld32(uint64_t addr, struct probe *p);
uint64_t probe_st32(uint64_t addr, uint32_t value, struct probe *p);

/* ---- trap.c: every other exception; "expect" mode catches one and skips the instruction (a
 * software step: it returns to the next one, and stepping ends) ---- */
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
#define EC_BREAKPOINT_CUR 0x31u           /* hardware breakpoint, from EL1 */
#define EC_SOFTSTEP_LOW 0x32u             /* software step, from EL0 (0x33: from EL1) */
#define EC_WATCHPOINT_CUR 0x35u           /* watchpoint, from EL1 */
#define FSC_SEA 0x10u                   /* synchronous external abort, not on a table walk */

/* ---- bootargs.c: /chosen/bootargs of the DTB pvpack gives vCPU 0 in x0 (main's boot_arg) ---- */
const char *bootargs(uint64_t dtb);     /* NULL if there is no DTB or no bootargs */
/* The value of the first word `key=<number>` (decimal or 0x hex); false if none or malformed. */
bool bootarg_u64(const char *args, const char *key, uint64_t *out);

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
void gic_set_edge(unsigned intid);      /* an SPI: edge-triggered (before gic_enable) */
void gic_send_sgi(unsigned intid, unsigned vcpu);
void gic_send_sgi_others(unsigned intid);     /* every vCPU but this one (IRM = 1) */
uint32_t gicd_read(uint32_t off);
void gicd_write(uint32_t off, uint32_t v);

/* ---- irq.c: IRQ dispatch to per-INTID handlers (run with IRQs masked, EOI after return) ---- */
typedef void (*irq_handler_fn)(unsigned intid);
void irq_set_handler(unsigned intid, irq_handler_fn fn); /* SGI/PPI: for this vCPU only */
void irq_handle(void);                  /* the IRQ vector's C side (trap.c) */

#ifdef __aarch64__
static inline void irq_enable(void) { __asm__ volatile("msr daifclr, #2\n\tisb" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("msr daifset, #2" ::: "memory"); }
static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
#else
/* tests/unit builds the portable lib files (virtio.c, vsock.c) on the host: there a fake device
 * runs while the guest code would sleep in WFI, and interrupts are calls from that fake. */
void host_wfi(void);
static inline void irq_enable(void) {}
static inline void irq_disable(void) {}
static inline void wfi(void) { host_wfi(); }
#endif

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
void *memmove(void *d, const void *s, size_t n); /* these for Mbed TLS (guests/vault/libc) */
int memcmp(const void *a, const void *b, size_t n);
int strcmp(const char *a, const char *b);
size_t strlen(const char *s);

/* Cross-vCPU flags: single writer per slot, ordered with full-system barriers. No exclusives:
 * with the MMU off memory is Device, where exclusives and atomics are not reliable. */
#ifdef __aarch64__
static inline void barrier(void) { __asm__ volatile("dsb sy" ::: "memory"); }
/* Orders memory accesses as seen by every observer (another core, the hypervisor's device). */
static inline void dmb(void) { __asm__ volatile("dmb sy" ::: "memory"); }
#else
static inline void barrier(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void dmb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
#endif

/* One 32-bit device register access, always a single `ldr w`/`str w` with no writeback, so a
 * hypervisor trapping it gets a full syndrome (ESR ISV) and can emulate it. */
uint32_t mmio_read32(uint64_t addr);
void mmio_write32(uint64_t addr, uint32_t v);

/* ---- virtio.c: virtio-mmio v2 driver, split virtqueues (virtio 1.2, sections 2.7 and 4.2) ---- */
#define VIRTIO_MMIO_BASE 0x0a000000ul   /* slot n at VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_STRIDE */
#define VIRTIO_MMIO_STRIDE 0x200ul
#define VIRTIO_INTID_BASE 48u           /* slot n raises edge SPI INTID 48 + n */
#define VIRTIO_ID_NET 1u
#define VIRTIO_ID_VSOCK 19u
#define VIRTQ_SIZE 64u                  /* entries per queue at most (QueueNum = min(max, this)) */
#define VIRTIO_MAX_QUEUES 3u

/* The split ring's three parts (2.7.5, 2.7.6, 2.7.8), in memory this driver owns. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};
struct virtq_mem {
	struct virtq_desc desc[VIRTQ_SIZE];
	uint16_t avail_flags, avail_idx, avail_ring[VIRTQ_SIZE], used_event;
	uint16_t used_flags __attribute__((aligned(4))), used_idx;
	struct virtq_used_elem used_ring[VIRTQ_SIZE];
	uint16_t avail_event;
} __attribute__((aligned(4096)));
_Static_assert(offsetof(struct virtq_mem, used_flags) % 4 == 0, "the used ring is 4-aligned");

struct virtio_dev;
struct virtq {
	struct virtio_dev *dev;
	struct virtq_mem *mem;
	unsigned index;
	uint16_t num;                   /* QueueNum */
	uint16_t avail;                 /* entries made available (published by virtq_notify) */
	uint16_t used;                  /* used entries taken */
	uint16_t free_count;
	uint16_t free[VIRTQ_SIZE];      /* descriptors not posted: a stack */
	uint32_t posted[VIRTQ_SIZE];    /* size each posted descriptor has, 0 if not posted */
};
struct virtio_dev {
	uint64_t base;
	unsigned intid;
	unsigned queue_count;
	uint32_t features_lo;           /* feature bits 0-31 negotiated (virtio_probe_features) */
	struct virtq q[VIRTIO_MAX_QUEUES];
};

/* Reset, ACKNOWLEDGE, DRIVER and features (VIRTIO_F_VERSION_1 only) up to FEATURES_OK; false
 * (device left reset) if the slot holds no such device. An absent slot may fault: it is read
 * with probe_ld32 first. Then virtq_init each queue and virtio_start. */
bool virtio_probe(struct virtio_dev *d, unsigned slot, uint32_t device_id);
/* The same, also taking those of feature bits 0-31 in want_lo that the device offers. */
bool virtio_probe_features(struct virtio_dev *d, unsigned slot, uint32_t device_id,
			   uint32_t want_lo);
bool virtio_queue_init(struct virtio_dev *d, unsigned index, struct virtq_mem *mem);
void virtio_start(struct virtio_dev *d);       /* DRIVER_OK, and its interrupt through the GIC
                                                * (after gic_init and gic_cpu_init) */
uint32_t virtio_config_read(struct virtio_dev *d, uint32_t off); /* device config space */
bool virtio_needs_reset(struct virtio_dev *d); /* DEVICE_NEEDS_RESET: it refused something */
int virtq_alloc(struct virtq *q);              /* a free descriptor, or -1 */
void virtq_post(struct virtq *q, unsigned id, void *buf, uint32_t size, bool device_writes);
void virtq_free(struct virtq *q, unsigned id);
void virtq_notify(struct virtq *q);             /* publish what was posted, tell the device */
void virtq_want_interrupts(struct virtq *q, bool want); /* used-buffer interrupts on or off */
/* The next used descriptor, or -1; *len is what the device wrote, never above the posted size. */
int virtq_next_used(struct virtq *q, uint32_t *len);
bool virtq_has_used(const struct virtq *q);

/* ---- vsock.c: stream sockets over the virtio-vsock device in slot 0 (virtio 1.2, 5.10) ---- */
#define VSOCK_CID_HOST 2u
#define VSOCK_CONN_COUNT 16u            /* connections at once */
#define VSOCK_CONN_BUF 32768u           /* receive buffer per connection: the buf_alloc we offer */

bool vsock_init(void);                  /* after gic_init, gic_cpu_init; false: no device */
uint64_t vsock_cid(void);               /* this VM's CID (the device's guest_cid) */
/* Accept connections to `port`, at most per_cid_max at once from any one peer CID; false if the
 * listener table is full. */
bool vsock_listen(uint32_t port, unsigned per_cid_max);
int vsock_accept(uint32_t port);        /* a connection set up since the last call, or -1 */
int vsock_connect(uint64_t cid, uint32_t port); /* blocks; a connection, or -1 on RST */
bool vsock_peer(int c, uint64_t *cid, uint32_t *port); /* who is at the other end */
/* None of these block. send: bytes queued (what the peer's credit and free tx buffers allow),
 * -1 once the stream can carry no more. recv: bytes copied, 0 if none yet, -1 at its end. */
int vsock_send(int c, const void *buf, uint32_t len);
uint32_t vsock_send_space(int c);       /* what vsock_send would take right now */
int vsock_recv(int c, void *buf, uint32_t size);
void vsock_close(int c);                /* SHUTDOWN, then forget it; `c` is free for reuse */
void vsock_poll(void);                  /* handle what the device returned; never blocks */
bool vsock_pending(void);               /* the device returned something: vsock_poll has work */
void vsock_wait(void);                  /* WFI until vsock_pending() */

#endif
