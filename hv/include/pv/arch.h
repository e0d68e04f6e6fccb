/* arch.h: what the portable core asks of the architecture (aarch64, or the host fake). */
#ifndef PV_ARCH_H
#define PV_ARCH_H

#include <pv/types.h>

struct vm;
struct vcpu;

/* Stage 2. */
void arch_s2_init(struct vm *vm);
bool arch_s2_map(struct vm *vm, u64 ipa, paddr_t pa, u64 size);
/* Read-only (and executable) normal memory, or (map false) nothing there again, its TLB entries
 * gone when this returns: what a flash bank in read-array mode is (vflash.c). Mapped again with
 * the same arguments as it was mapped. */
bool arch_s2_map_rom(struct vm *vm, u64 ipa, paddr_t pa, u64 size, bool map);
bool arch_s2_map_device(struct vm *vm, u64 pa, u64 size); /* at IPA = PA, 4 KiB aligned */
void arch_s2_flush(struct vm *vm);
/* The stage-2 table pool's free pages (management). */
u32 arch_s2_free(void);

/* Switching which vCPU owns this core's EL1 state. */
void arch_vcpu_load(struct vcpu *vcpu);
void arch_vcpu_put(struct vcpu *vcpu);
void arch_vcpu_reset(struct vcpu *vcpu);
/* Enters the guest; never returns (the next exit starts again in vcpu_exit). */
_Noreturn void arch_guest_enter(struct vcpu *vcpu);

/* VM RAM as a guest with its MMU off reads it: in memory, not only in a cache. Until
 * arch_ram_cached (every VM built), EL2 reaches it uncached: arch_zero_ram (only then) zeroes
 * it with no stale line left in any cache. */
void arch_zero_ram(paddr_t pa, u64 size);
void arch_copy_to_ram(paddr_t pa, const void *src, u64 size);
/* Zeroes a stopped VM's RAM at run time, to the point of coherency; leaves the loaded guest's
 * FP/SIMD registers alone. pa and size are 2 MiB aligned. */
void arch_wipe_ram(paddr_t pa, u64 size);
void arch_ram_cached(void);
void arch_sync_icache(void);
/* The hypervisor's image as loaded, up to the end of its constants (pocketvisor.bin, which has
 * no initialised data): what identity.c measures. */
const u8 *arch_image(u64 *size);

/* Timers: the physical counter, the core's one scheduling event, vCPUs' virtual timers. */
u64 arch_timer_now(void);
u64 arch_timer_freq(void);
void arch_timer_arm(u64 deadline); /* ~0: none */
u64 arch_vtimer_deadline(const struct vcpu *vcpu); /* from its saved copy; ~0: none */
void arch_vtimer_snapshot(struct vcpu *vcpu);       /* refresh the copy of a loaded vCPU */
/* The loaded vCPU's virtual timer output (CNTV_CTL_EL0: ENABLE, ISTATUS and not IMASK), and
 * the end of its physical PPI's active state on this core, once the vGIC has let a firing go. */
bool arch_vtimer_line(void);
void arch_vtimer_lower(void);

/* The virtual CPU interface around a guest entry: LRs, and the underflow interrupt. The
 * interface itself is on while a vCPU is loaded (arch_vcpu_load). */
u32 arch_vgic_lr_count(void);
void arch_vgic_underflow(bool on); /* ICH_HCR_EL2.UIE */

/* Cores. */
void arch_cpu_init(void);          /* this core's EL2 controls */
u64 arch_stack_top(u32 cpu);       /* where the exit path puts the core's stack */
u32 arch_cpu_id(void);
int arch_cpu_start(u32 cpu);       /* the board's PSCI CPU_ON */
void arch_kick(u32 cpu);           /* make the core re-check its vCPUs */
void arch_idle(void);              /* sleep until an interrupt */
_Noreturn void arch_system_off(void);

/* The GIC virtual CPU interface of this core: ICH_LR<i>_EL2, i below arch_vgic_lr_count()
 * (ICH_VTR_EL2.ListRegs + 1). */
u64 arch_vgic_read_lr(u32 i);
void arch_vgic_write_lr(u32 i, u64 v);

#endif
