/* vgic.h: the GICv3 each VM sees: distributor and redistributors emulated by trap, interrupts
 * delivered through the ICH list registers (LRs). */
#ifndef PV_VGIC_H
#define PV_VGIC_H

#include <pv/bundle.h>
#include <pv/spinlock.h>
#include <pv/types.h>

#define VGIC_SPI_COUNT 64u     /* INTIDs 32..95; a multiple of 32 (GICD_TYPER.ITLinesNumber) */
#define VGIC_PRIVATE_COUNT 32u /* SGIs 0..15 and PPIs 16..31, one bank per vCPU */
#define VGIC_INTID_COUNT (VGIC_PRIVATE_COUNT + VGIC_SPI_COUNT)
#define VGIC_MAX_VCPUS PVB_MAX_VCPUS
#define VGIC_MAX_LRS 8u        /* of the up to 16 a core may have (ICH_VTR_EL2.ListRegs); GICs
				* commonly have 4, and more waiting take the underflow path */
#define VGIC_WORDS (VGIC_INTID_COUNT / 32) /* a bitmap over every INTID */

/* Guest-physical layout (QEMU virt): the distributor's 64 KiB, then from the redistributor base
 * one 128 KiB frame pair per vCPU: RD_base, and SGI_base at +64 KiB. */
#define VGIC_GICD_SIZE 0x10000ull
#define VGIC_GICR_STRIDE 0x20000ull

/* One interrupt. `owner` is the vCPU whose LR holds it or on which it is active (always the bank
 * for INTIDs 0..31); `hw` is the physical INTID of a HW-linked interrupt, 0 when none. */
struct vgic_irq {
	u32 flags;
	u8 priority;
	u8 owner;
	u16 hw;
};

/* ready and active: the interrupts that want one of this vCPU's LRs (bit n = INTID n), kept
 * up to date under the lock by every change, so flush and has_pending need not look at the
 * others. An interrupt is in ready when it is pending, enabled and its group enabled, and in
 * active when it is active; in either only while it is not in an LR and targets this vCPU. */
struct vgic_cpu {
	struct vgic_irq irq[VGIC_PRIVATE_COUNT];
	u32 ready[VGIC_WORDS];
	u32 active[VGIC_WORDS];
	u32 ctlr;     /* GICR_CTLR: only the DPG bits are kept */
	u32 sleep;    /* GICR_WAKER.ProcessorSleep */
	u32 lr_used;  /* LRs 0..lr_used-1 are taken: LR0 by the slot when armed, the rest hold
		       * lr_intid[], written by vgic_flush */
	u32 underflow; /* vgic_flush turned the underflow interrupt on; vgic_sync turns it off */
	u64 slot;     /* what LR0 holds for the timer slot (below) while armed; 0 when not */
	u16 lr_intid[VGIC_MAX_LRS];
};

/* The timer slot: while the vCPU's HW-linked virtual timer PPI is idle (neither pending nor
 * active) and deliverable, vgic_flush keeps it in LR0 with no state, which the GIC ignores, and
 * the EL2 IRQ vector (entry.S) makes it pending there when the physical timer fires: the timer
 * reaches the guest without an exit. Any LR0 holding this INTID with HW=1 and no state is taken
 * for the slot, so vgic_sync counts a pending state in an HW LR as a new firing. */
#define VGIC_SLOT_INTID 27u

/* Everything of one VM's GIC, behind one lock (several cores run its vCPUs and devices). The
 * lock is a leaf: vgic functions take nothing else while holding it, so callers may hold theirs
 * (the vPL011 calls in with its own lock held). */
struct vgic {
	struct spinlock lock;
	u32 vcpu_count;
	u32 ctlr; /* GICD_CTLR.EnableGrp0/EnableGrp1 */
	u32 delivered; /* interrupts put pending into an LR since vgic_init, for management */
	struct vgic_irq spi[VGIC_SPI_COUNT];
	u64 irouter[VGIC_SPI_COUNT];
	struct vgic_cpu cpu[VGIC_MAX_VCPUS];
};

/* Puts the GIC in its reset state for vcpu_count vCPUs (at VM creation and VM reset, with every
 * vCPU stopped and synced); HW links are cleared too. */
void vgic_init(struct vgic *g, u32 vcpu_count);

/* A trapped access of size bytes at offset off into the distributor (off < VGIC_GICD_SIZE) or
 * the redistributor region (off < vcpu_count * VGIC_GICR_STRIDE). *val is the value written or
 * receives the value read (zero-extended). Returns false, with no side effect, for an access the
 * spec does not allow (bad width or alignment, offset outside the region): the caller injects
 * an abort. *kick receives the vCPUs (bit i = vCPU i) to kick (sched_wake_mask): those that now
 * have an interrupt to take, and running ones whose LRs hold a copy the access made stale. */
bool vgic_dist_access(struct vgic *g, u64 off, u32 size, bool write, u64 *val, u32 *kick);
bool vgic_redist_access(struct vgic *g, u64 off, u32 size, bool write, u64 *val, u32 *kick);
/* A read handled without a full exit (the guest's LRs are live): as above, for the distributor
 * (dist) or the redistributors, but false, with no side effect, also for the pending and active
 * registers, whose state the LRs may hold; the caller then takes the full path. */
bool vgic_quick_read(struct vgic *g, bool dist, u64 off, u32 size, u64 *val);

/* Injection by devices and the hypervisor. vcpu picks the bank for INTIDs 0..31 and is ignored
 * for SPIs (routed by GICD_IROUTER). Each returns the vCPUs to kick, as above; a disabled
 * interrupt latches without a kick. Invalid arguments change nothing and return 0.
 *   vgic_set_level: the input line of a level-sensitive interrupt (an edge-triggered one latches
 *                   on a rising edge).
 *   vgic_raise:     one edge: the interrupt becomes pending.
 *   vgic_sgi:       the sender vCPU wrote ICC_SGI1R_EL1 = sgi1r (trapped). */
u32 vgic_set_level(struct vgic *g, u32 vcpu, u32 intid, bool level);
u32 vgic_raise(struct vgic *g, u32 vcpu, u32 intid);
u32 vgic_sgi(struct vgic *g, u32 sender, u64 sgi1r);
/* The running vCPU's SGI to itself alone, with its LRs live (no vgic_sync since its entry, and
 * lr_count of them): straight into its LR when that is free or finished with, as a target on
 * the same core should get it. False, with nothing changed, when it needs vgic_sgi and then
 * vgic_sync and vgic_flush. */
bool vgic_sgi_self(struct vgic *g, u32 vcpu, u64 sgi1r, u32 lr_count);

/* Links a PPI or SPI to physical INTID pintid (16..1019; 0 unlinks): the guest's deactivation
 * then deactivates the physical interrupt, which the hypervisor acknowledged with EOImode=1 and
 * forwards with vgic_raise each time it fires. False for invalid arguments. */
bool vgic_link_hw(struct vgic *g, u32 vcpu, u32 intid, u32 pintid);

/* The list registers of the core running vCPU vcpu, which has lr_count of them
 * (ICH_VTR_EL2.ListRegs + 1). Call vgic_flush just before entering the guest and vgic_sync
 * first thing after every exit, exactly once each. When more interrupts wait than fit,
 * vgic_flush turns on the underflow interrupt (arch_vgic_underflow) so that the guest exits when
 * the LRs drain, and returns true; vgic_sync turns it off (it is a level, and would fire again
 * at once with the LRs emptied) and empties the LRs it reads. */
bool vgic_flush(struct vgic *g, u32 vcpu, u32 lr_count);
void vgic_sync(struct vgic *g, u32 vcpu);
/* The loaded vCPU's timer PPI, latched while the guest could not take it, ends if the timer's
 * output has gone low since (vgic.c): before the vCPU's own vGIC register accesses. */
void vgic_timer_sample(struct vgic *g, u32 vcpu);
/* The vCPU leaves its core (after vgic_sync): LR0 no longer holds its timer slot. */
void vgic_put(struct vgic *g, u32 vcpu);

/* Whether a stopped (synced) vCPU has an interrupt it could take: a WFI ends when this is true. */
bool vgic_has_pending(struct vgic *g, u32 vcpu);

/* For tests: whether every vCPU's ready and active sets are what a scan of all interrupts
 * finds. */
bool vgic_audit(struct vgic *g);

#endif
