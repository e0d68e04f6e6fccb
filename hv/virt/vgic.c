/* vgic.c: the GICv3 each VM sees (Arm IHI 0069H.b): distributor and redistributors emulated
 * from one table of registers; pending interrupts go to the guest through the ICH list
 * registers and come back when it exits (flush on entry, sync on exit, as KVM does). */
#include <pv/arch.h>
#include <pv/string.h>
#include <pv/vgic.h>

/* Interrupt state, struct vgic_irq.flags. An interrupt is pending (4.1, the interrupt
 * lifecycle) while its latch is set, or while it is level-sensitive and its line is high. The
 * latch is an edge's pending bit; for a level-sensitive interrupt it is the pending state that
 * GICD_ISPENDR or vgic_raise set, which acknowledging the interrupt clears. A HW-linked
 * interrupt uses the latch alone: the physical GIC holds its level. */
#define F_ENABLED 0x001u
#define F_LATCH 0x002u
#define F_LINE 0x004u
#define F_ACTIVE 0x008u
#define F_GROUP1 0x010u
#define F_EDGE 0x020u   /* Int_config = edge-triggered */
#define F_IN_LR 0x040u  /* in an LR of owner, which may be running the guest right now */
#define F_LR_P 0x080u   /* ...with its pending state there (ICPENDR clears it to drop that) */
#define F_KEEP_A 0x100u /* ...and the guest wrote its active state meanwhile: that wins at sync */

#define NO_VCPU 0xffu

/* ICH_LR<n>_EL2 (12.4, AArch64 virtualization control registers). */
#define LR_ACTIVE BIT(63)
#define LR_PENDING BIT(62)
#define LR_HW BIT(61)
#define LR_GROUP1 BIT(60)
#define LR_PRIORITY_SHIFT 48
#define LR_PINTID_SHIFT 32
#define LR_EOI BIT(41) /* HW=0 only: a maintenance interrupt when the guest deactivates it */

/* Distributor (12.9) and redistributor (12.11) fields. With one Security state (DS=1), the
 * GICD_CTLR layout is EnableGrp0 [0], EnableGrp1 [1], ARE [4], DS [6], RWP [31]. */
#define CTLR_ENABLE_G0 BIT(0)
#define CTLR_ENABLE_G1 BIT(1)
#define CTLR_ARE BIT(4)
#define CTLR_DS BIT(6)
#define TYPER_IDBITS_10 (9u << 19) /* INTIDs have 10 bits; no LPIs, no MBIS, no extended SPIs */
#define IIDR_VALUE 0x5000043bu     /* ProductID 'P', implementer JEP106 0x43b as KVM's */
#define IROUTER_IRM BIT(31)
#define IROUTER_MASK 0xff80ffffffull /* Aff3 [39:32], IRM [31], Aff2..Aff0 [23:0] */
#define RCTLR_DPG (7u << 24)         /* DPG0, DPG1NS, DPG1S: kept, no effect */
#define RTYPER_LAST BIT(4)
#define WAKER_SLEEP BIT(1)           /* ProcessorSleep */
#define WAKER_CHILDREN_ASLEEP BIT(2)
#define SGI1R_IRM BIT(40)
#define SGI1R_NOT_AFF0 0x00fff0ff00ff0000ull /* Aff3 [55:48], RS [47:44], Aff2 [39:32], Aff1 */

/* PIDR4..7, PIDR0..3, CIDR0..3 at 0xffd0: PIDR2.ArchRev = 3 (GICv3), CoreSight component IDs. */
static const u8 id_regs[12] = { 0, 0, 0, 0, 0, 0, 0x3b, 0, 0x0d, 0xf0, 0x05, 0xb1 };

/* ---- interrupt state ---- */

static bool pending(u32 f)
{
	return (f & F_LATCH) || (f & (F_LINE | F_EDGE)) == F_LINE;
}

/* Pending, enabled and its group enabled: the distributor would forward it. */
static bool ready(const struct vgic *g, u32 f)
{
	u32 group = f & F_GROUP1 ? CTLR_ENABLE_G1 : CTLR_ENABLE_G0;
	return (f & F_ENABLED) && pending(f) && (g->ctlr & group);
}

static struct vgic_irq *spi(struct vgic *g, u32 intid)
{
	u32 n = intid - VGIC_PRIVATE_COUNT; /* wraps for INTIDs below 32 */
	return n < VGIC_SPI_COUNT ? &g->spi[n] : NULL;
}

static struct vgic_irq *irq_get(struct vgic *g, u32 vcpu, u32 intid)
{
	if (intid >= VGIC_PRIVATE_COUNT)
		return spi(g, intid);
	return vcpu < g->vcpu_count ? &g->cpu[vcpu].irq[intid] : NULL;
}

/* An SPI goes to the vCPU whose MPIDR GICD_IROUTER names (12.9, GICD_IROUTER<n>); ours have
 * Aff0 = index and Aff1..3 = 0. IRM=1 (1 of N) picks vCPU 0: the spec promises only "some
 * participating PE", and one fixed choice keeps delivery cheap and predictable. */
static u32 spi_route(const struct vgic *g, u32 intid)
{
	u64 r = g->irouter[intid - VGIC_PRIVATE_COUNT];
	if (r & IROUTER_IRM)
		return 0;
	return r <= 0xff ? (u32)r : NO_VCPU;
}

/* The vCPU an interrupt goes to: an SPI in an LR or active stays with that vCPU (an active
 * interrupt is not forwarded elsewhere until deactivated, 4.1). */
static u32 target(const struct vgic *g, u32 intid, const struct vgic_irq *q)
{
	if (intid < VGIC_PRIVATE_COUNT || (q->flags & (F_ACTIVE | F_IN_LR)))
		return q->owner;
	return spi_route(g, intid);
}

static u32 kick_mask(const struct vgic *g, u32 vcpu)
{
	return vcpu < g->vcpu_count ? 1u << vcpu : 0;
}

/* Wants a place in the vCPU's LRs: ready, or active (the guest must be able to deactivate it). */
static bool wanted(const struct vgic *g, u32 vcpu, u32 intid, const struct vgic_irq *q,
		   bool active_too)
{
	if ((q->flags & F_IN_LR) || target(g, intid, q) != vcpu)
		return false;
	return ready(g, q->flags) || (active_too && (q->flags & F_ACTIVE));
}

/* ---- the sets of interrupts that want an LR (struct vgic_cpu.ready, .active) ---- */

/* Puts the interrupt in the sets `wanted` says it belongs to and takes it out of every other:
 * called after each change of its flags or routing. An SPI may have been any vCPU's. */
static void file(struct vgic *g, u32 intid, const struct vgic_irq *q)
{
	u32 f = q->flags, w = intid / 32, bit = 1u << (intid % 32);
	u32 to = f & F_IN_LR ? NO_VCPU : target(g, intid, q);
	u32 v = intid < VGIC_PRIVATE_COUNT ? q->owner : 0;
	u32 end = intid < VGIC_PRIVATE_COUNT ? v + 1 : g->vcpu_count;
	u32 r = ready(g, f) ? bit : 0, a = f & F_ACTIVE ? bit : 0;
	for (; v < end; v++) {
		struct vgic_cpu *c = &g->cpu[v];
		c->ready[w] = (c->ready[w] & ~bit) | (v == to ? r : 0);
		c->active[w] = (c->active[w] & ~bit) | (v == to ? a : 0);
	}
}

/* After GICD_CTLR changed what is ready: every interrupt again. */
static void file_all(struct vgic *g)
{
	for (u32 v = 0; v < g->vcpu_count; v++)
		for (u32 intid = 0; intid < VGIC_PRIVATE_COUNT; intid++)
			file(g, intid, &g->cpu[v].irq[intid]);
	for (u32 n = 0; n < VGIC_SPI_COUNT; n++)
		file(g, VGIC_PRIVATE_COUNT + n, &g->spi[n]);
}

static bool any(const u32 *set)
{
	u32 m = 0;
	for (u32 w = 0; w < VGIC_WORDS; w++)
		m |= __atomic_load_n(&set[w], __ATOMIC_RELAXED);
	return m != 0;
}

bool vgic_audit(struct vgic *g)
{
	spin_lock(&g->lock);
	bool ok = true;
	for (u32 v = 0; v < g->vcpu_count; v++)
		for (u32 intid = 0; intid < VGIC_INTID_COUNT; intid++) {
			const struct vgic_irq *q = irq_get(g, v, intid);
			u32 w = intid / 32, bit = 1u << (intid % 32);
			bool r = wanted(g, v, intid, q, false);
			bool a = wanted(g, v, intid, q, true) && (q->flags & F_ACTIVE);
			ok = ok && r == !!(g->cpu[v].ready[w] & bit) &&
			     a == !!(g->cpu[v].active[w] & bit);
		}
	spin_unlock(&g->lock);
	return ok;
}

/* Commits new flags and says whom to kick: the owner of an LR copy that is now stale, or the
 * target of an interrupt that just became ready. */
static u32 update(struct vgic *g, u32 intid, struct vgic_irq *q, u32 f)
{
	u32 old = q->flags;
	if (f == old)
		return 0;
	if ((f & F_ACTIVE) && !(old & (F_ACTIVE | F_IN_LR)))
		q->owner = (u8)target(g, intid, q);
	q->flags = f;
	file(g, intid, q);
	if (old & F_IN_LR)
		return kick_mask(g, q->owner);
	return ready(g, f) && !ready(g, old) ? kick_mask(g, target(g, intid, q)) : 0;
}

/* ---- registers: decode (no side effects), then act (cannot fail) ---- */

enum kind {
	/* One field of `bits` bits per INTID, INTID 0 at the register block's first byte. */
	K_GROUP, K_SET_ENABLE, K_CLR_ENABLE, K_SET_PEND, K_CLR_PEND, K_SET_ACTIVE, K_CLR_ACTIVE,
	K_PRIORITY, K_CONFIG, K_IRQ_RAZ,
	/* Whole registers of `bits` (32 or 64) bits. */
	K_RAZ, K_CTLR, K_TYPER, K_IIDR, K_ID, K_IROUTER, K_RD_CTLR, K_RD_TYPER, K_WAKER,
};

struct reg {
	u16 off, size; /* the block is bytes [off, off + size) */
	u8 kind, bits;
};

/* A per-interrupt block covers 1024 INTIDs. */
#define IRQ_BLOCK(off, bits, kind) { off, 128 * (bits), kind, bits }

/* The distributor (12.9). With ARE=1 its per-interrupt registers for INTIDs 0..31 are RAZ/WI
 * (they live in the redistributors), and so are ITARGETSR, SGIR and the SGI pending registers.
 * IGRPMODR and NSACR exist only with two Security states. */
static const struct reg dist_regs[] = {
	{ 0x0000, 4, K_CTLR, 32 },
	{ 0x0004, 4, K_TYPER, 32 },
	{ 0x0008, 4, K_IIDR, 32 },
	{ 0x6000, 0x2000, K_IROUTER, 64 },
	{ 0xffd0, 0x30, K_ID, 32 },
#define IRQ_REGS 5 /* from here on: also the whole SGI_base frame of a redistributor (12.11) */
	IRQ_BLOCK(0x080, 1, K_GROUP),
	IRQ_BLOCK(0x100, 1, K_SET_ENABLE),
	IRQ_BLOCK(0x180, 1, K_CLR_ENABLE),
	IRQ_BLOCK(0x200, 1, K_SET_PEND),
	IRQ_BLOCK(0x280, 1, K_CLR_PEND),
	IRQ_BLOCK(0x300, 1, K_SET_ACTIVE),
	IRQ_BLOCK(0x380, 1, K_CLR_ACTIVE),
	IRQ_BLOCK(0x400, 8, K_PRIORITY),
	IRQ_BLOCK(0x800, 8, K_IRQ_RAZ), /* ITARGETSR */
	IRQ_BLOCK(0xc00, 2, K_CONFIG),
	IRQ_BLOCK(0xd00, 1, K_IRQ_RAZ), /* IGRPMODR */
	IRQ_BLOCK(0xe00, 2, K_IRQ_RAZ), /* NSACR */
	{ 0x0f10, 0x20, K_IRQ_RAZ, 8 }, /* CPENDSGIR, SPENDSGIR: byte-accessible */
};

/* A redistributor's RD_base frame (12.11). No LPIs: their registers read as zero. */
static const struct reg rd_regs[] = {
	{ 0x0000, 4, K_RD_CTLR, 32 },
	{ 0x0004, 4, K_IIDR, 32 },
	{ 0x0008, 8, K_RD_TYPER, 64 },
	{ 0x0014, 4, K_WAKER, 32 },
	{ 0x0040, 0x10, K_RAZ, 64 }, /* SETLPIR, CLRLPIR */
	{ 0x0070, 0x10, K_RAZ, 64 }, /* PROPBASER, PENDBASER */
	{ 0x00a0, 0x18, K_RAZ, 64 }, /* INVLPIR, INVALLR */
	{ 0xffd0, 0x30, K_ID, 32 },
};

/* Access sizes (each register's description in 12.9 and 12.11): 32-bit everywhere; also bytes
 * for the byte-per-interrupt registers, and 64-bit or either 32-bit half for 64-bit registers.
 * Anything else, or unaligned, is refused. A reserved address reads as zero. */
static const struct reg *decode(const struct reg *t, u32 n, u64 off, u32 size)
{
	static const struct reg reserved = { 0, 0, K_RAZ, 32 };
	const struct reg *r = &reserved;
	for (u32 i = 0; i < n; i++)
		if (off - t[i].off < t[i].size) {
			r = &t[i];
			break;
		}
	bool ok = r->kind < K_RAZ ? size == 4 || (size == 1 && r->bits == 8)
				  : size == 4 || (size == 8 && r->bits == 64);
	return ok && IS_ALIGNED(off, size) ? r : NULL;
}

static u32 irq_read(const struct vgic_irq *q, u32 kind)
{
	u32 f = q->flags;
	switch (kind) {
	case K_GROUP: return !!(f & F_GROUP1);
	case K_SET_ENABLE: case K_CLR_ENABLE: return !!(f & F_ENABLED);
	case K_SET_PEND: case K_CLR_PEND: return pending(f) || (f & F_LR_P);
	case K_SET_ACTIVE: case K_CLR_ACTIVE: return !!(f & F_ACTIVE);
	case K_PRIORITY: return q->priority;
	case K_CONFIG: return f & F_EDGE ? 2 : 0;
	default: return 0;
	}
}

/* v is the field for this interrupt; set/clear registers act on ones only. */
static u32 irq_write(struct vgic *g, u32 intid, struct vgic_irq *q, u32 kind, u32 v)
{
	u32 f = q->flags, keep = f & F_IN_LR ? F_KEEP_A : 0;
	switch (kind) {
	case K_GROUP: f = v ? f | F_GROUP1 : f & ~F_GROUP1; break;
	case K_SET_ENABLE: f |= v ? F_ENABLED : 0; break;
	case K_CLR_ENABLE: f &= v ? ~F_ENABLED : ~0u; break;
	case K_SET_PEND: f |= v ? F_LATCH : 0; break;
	case K_CLR_PEND: f &= v ? ~(F_LATCH | F_LR_P) : ~0u; break; /* a high line stays pending */
	case K_SET_ACTIVE: f |= v ? F_ACTIVE | keep : 0; break;
	case K_CLR_ACTIVE: f = v ? (f & ~F_ACTIVE) | keep : f; break;
	case K_PRIORITY: q->priority = (u8)v; break;
	case K_CONFIG: /* SGIs are edge-triggered, read-only (GICR_ICFGR0) */
		if (intid >= 16)
			f = v & 2 ? f | F_EDGE : f & ~F_EDGE;
		break;
	default: break;
	}
	return update(g, intid, q, f);
}

/* bank: the redistributor's vCPU (INTIDs 0..31), or NO_VCPU for the distributor (SPIs).
 * INTIDs outside the bank are RAZ/WI. */
static void irq_access(struct vgic *g, const struct reg *r, u32 bank, u32 at, u32 size,
		       bool write, u64 *val, u32 *kick)
{
	u32 first = at * 8 / r->bits, count = size * 8 / r->bits, mask = (1u << r->bits) - 1;
	u64 v = write ? *val : 0;
	/* Which fields to visit: a zero written to a set or clear register does nothing. */
	u32 todo = count == 32 ? ~0u : (1u << count) - 1;
	if (write && r->kind >= K_SET_ENABLE && r->kind <= K_CLR_ACTIVE)
		todo &= (u32)v;
	for (; todo; todo &= todo - 1) {
		u32 i = (u32)__builtin_ctz(todo), intid = first + i, shift = i * r->bits;
		struct vgic_irq *q = bank == NO_VCPU ? spi(g, intid)
			: intid < VGIC_PRIVATE_COUNT ? &g->cpu[bank].irq[intid] : NULL;
		if (!q)
			continue;
		if (write)
			*kick |= irq_write(g, intid, q, r->kind, (u32)(v >> shift) & mask);
		else
			v |= (u64)irq_read(q, r->kind) << shift;
	}
	if (!write)
		*val = v;
}

/* idx: which register of the block (an INTID for IROUTER). */
static u64 reg_read(const struct vgic *g, u32 bank, u32 kind, u32 idx)
{
	switch (kind) {
	case K_CTLR: return g->ctlr | CTLR_ARE | CTLR_DS;
	case K_TYPER: return (VGIC_INTID_COUNT / 32 - 1) | TYPER_IDBITS_10;
	case K_IIDR: return IIDR_VALUE;
	case K_ID: return id_regs[idx];
	case K_IROUTER: return idx - VGIC_PRIVATE_COUNT < VGIC_SPI_COUNT ?
				       g->irouter[idx - VGIC_PRIVATE_COUNT] : 0;
	case K_RD_CTLR: return g->cpu[bank].ctlr;
	case K_RD_TYPER: /* Affinity_Value [63:32] = MPIDR (Aff0 = index), Processor_Number [23:8] */
		return (u64)bank << 32 | bank << 8 | (bank + 1 == g->vcpu_count ? RTYPER_LAST : 0);
	case K_WAKER: return g->cpu[bank].sleep ? WAKER_SLEEP | WAKER_CHILDREN_ASLEEP : 0;
	default: return 0;
	}
}

static u32 reg_write(struct vgic *g, u32 bank, u32 kind, u32 idx, u64 v)
{
	switch (kind) {
	case K_CTLR: { /* ARE and DS are RAO/WI; writes complete at once, so RWP stays 0 */
		u32 kick = 0, ctlr = (u32)(v & (CTLR_ENABLE_G0 | CTLR_ENABLE_G1));
		if (ctlr == g->ctlr)
			return 0;
		g->ctlr = ctlr;
		file_all(g);
		for (u32 i = 0; i < g->vcpu_count; i++)
			kick |= any(g->cpu[i].ready) ? 1u << i : 0;
		return kick;
	}
	case K_IROUTER: {
		struct vgic_irq *q = spi(g, idx);
		if (!q)
			return 0;
		g->irouter[idx - VGIC_PRIVATE_COUNT] = v & IROUTER_MASK;
		file(g, idx, q);
		return ready(g, q->flags) ? kick_mask(g, target(g, idx, q)) : 0;
	}
	case K_RD_CTLR: g->cpu[bank].ctlr = (u32)v & RCTLR_DPG; return 0;
	case K_WAKER: g->cpu[bank].sleep = (v & WAKER_SLEEP) != 0; return 0;
	default: return 0;
	}
}

static u64 size_mask(u32 size)
{
	return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static bool access(struct vgic *g, const struct reg *t, u32 n, u32 bank, u64 off, u32 size,
		   bool write, u64 *val, u32 *kick)
{
	const struct reg *r = decode(t, n, off, size);
	if (!r)
		return false;
	u32 at = (u32)(off - r->off), width = r->bits / 8u;
	spin_lock(&g->lock);
	if (r->kind < K_RAZ) {
		irq_access(g, r, bank, at, size, write, val, kick);
	} else {
		/* A 32-bit half of a 64-bit register reads or merges into its half. */
		u32 shift = at % width * 8, idx = at / width;
		u64 cur = reg_read(g, bank, r->kind, idx), m = size_mask(size) << shift;
		if (write)
			*kick = reg_write(g, bank, r->kind, idx, (cur & ~m) | ((*val << shift) & m));
		else
			*val = (cur & m) >> shift;
	}
	spin_unlock(&g->lock);
	return true;
}

/* The distributor (dist) or the redistributor region, whose frame picks the bank. */
static bool region_access(struct vgic *g, bool dist, u64 off, u32 size, bool write, u64 *val,
			  u32 *kick)
{
	u64 frame = off / VGIC_GICR_STRIDE, at = off % VGIC_GICR_STRIDE;
	*kick = 0;
	if (dist)
		return off < VGIC_GICD_SIZE &&
		       access(g, dist_regs, ARRAY_SIZE(dist_regs), NO_VCPU, off, size, write, val, kick);
	if (frame >= g->vcpu_count)
		return false;
	if (at >= 0x10000)
		return access(g, dist_regs + IRQ_REGS, ARRAY_SIZE(dist_regs) - IRQ_REGS, (u32)frame,
			      at - 0x10000, size, write, val, kick);
	return access(g, rd_regs, ARRAY_SIZE(rd_regs), (u32)frame, at, size, write, val, kick);
}

bool vgic_dist_access(struct vgic *g, u64 off, u32 size, bool write, u64 *val, u32 *kick)
{
	return region_access(g, true, off, size, write, val, kick);
}

bool vgic_redist_access(struct vgic *g, u64 off, u32 size, bool write, u64 *val, u32 *kick)
{
	return region_access(g, false, off, size, write, val, kick);
}

/* Quick reads: 32-bit reads of the whole registers each frame starts with (the tables above),
 * by offset / 4: what Linux polls (GICD_CTLR and GICR_CTLR for RWP, GICR_WAKER) or reads at
 * boot. Each is one field or a constant, so no lock. QUICK_HIGH marks the upper half of a 64-bit
 * register; 0x10 in RD_base is reserved (reads as zero). */
#define QUICK_HIGH 0x80u
static const u8 quick_dist[] = { K_CTLR, K_TYPER, K_IIDR };
static const u8 quick_rd[] = { K_RD_CTLR, K_IIDR, K_RD_TYPER, K_RD_TYPER | QUICK_HIGH, K_RAZ,
			       K_WAKER };

bool vgic_quick_read(struct vgic *g, bool dist, u64 off, u32 size, u64 *val)
{
	u64 bank = dist ? 0 : off / VGIC_GICR_STRIDE, i = (dist ? off : off % VGIC_GICR_STRIDE) / 4;
	if (size != 4 || (off & 3) || i >= (dist ? ARRAY_SIZE(quick_dist) : ARRAY_SIZE(quick_rd)) ||
	    (!dist && bank >= g->vcpu_count))
		return false; /* not one of those: the full path decides */
	u32 k = (dist ? quick_dist : quick_rd)[i];
	*val = (u32)(reg_read(g, (u32)bank, k & ~QUICK_HIGH, 0) >> (k & QUICK_HIGH ? 32 : 0));
	return true;
}

/* ---- injection ---- */

u32 vgic_set_level(struct vgic *g, u32 vcpu, u32 intid, bool level)
{
	u32 kick = 0;
	spin_lock(&g->lock);
	struct vgic_irq *q = irq_get(g, vcpu, intid);
	if (q) {
		u32 f = q->flags;
		if (!level)
			f &= ~F_LINE;
		else if (q->hw)
			f |= F_LATCH; /* the physical GIC holds the level: each firing is one */
		else
			f |= F_LINE | ((f & (F_EDGE | F_LINE)) == F_EDGE ? F_LATCH : 0);
		kick = update(g, intid, q, f);
	}
	spin_unlock(&g->lock);
	return kick;
}

u32 vgic_raise(struct vgic *g, u32 vcpu, u32 intid)
{
	u32 kick = 0;
	spin_lock(&g->lock);
	struct vgic_irq *q = irq_get(g, vcpu, intid);
	if (q)
		kick = update(g, intid, q, q->flags | F_LATCH);
	spin_unlock(&g->lock);
	return kick;
}

/* ICC_SGI1R_EL1 (12.2): TargetList [15:0] names Aff0 values 0..15 (RS [47:44] selects the
 * range) under Aff3.Aff2.Aff1; IRM [40] means every PE but the sender. Our vCPUs' MPIDRs are
 * 0.0.0.index, so a list under any other Aff1..3 or range reaches nobody, and list bits past
 * the last vCPU are ignored. INTID [27:24] is always an SGI. */
u32 vgic_sgi(struct vgic *g, u32 sender, u64 sgi1r)
{
	u32 all = (1u << g->vcpu_count) - 1, intid = (u32)FIELD(sgi1r, 27, 24), targets, kick = 0;
	if (sgi1r & SGI1R_IRM)
		targets = all & ~kick_mask(g, sender);
	else if (sgi1r & SGI1R_NOT_AFF0)
		targets = 0;
	else
		targets = (u32)FIELD(sgi1r, 15, 0) & all;
	spin_lock(&g->lock);
	for (u32 v = 0; v < g->vcpu_count; v++)
		if (targets & (1u << v)) {
			struct vgic_irq *q = &g->cpu[v].irq[intid];
			kick |= update(g, intid, q, q->flags | F_LATCH);
		}
	spin_unlock(&g->lock);
	return kick;
}

bool vgic_link_hw(struct vgic *g, u32 vcpu, u32 intid, u32 pintid)
{
	/* pINTIDs 0..15 (SGIs) and 1020+ (special) cannot be linked (ICH_LR<n>_EL2.pINTID). */
	bool ok = intid >= 16 && (pintid == 0 || (pintid >= 16 && pintid < 1020));
	spin_lock(&g->lock);
	struct vgic_irq *q = ok ? irq_get(g, vcpu, intid) : NULL;
	if (q)
		q->hw = (u16)pintid;
	spin_unlock(&g->lock);
	return q != NULL;
}

void vgic_init(struct vgic *g, u32 vcpu_count)
{
	spin_lock(&g->lock); /* devices may still inject while a VM resets */
	g->vcpu_count = vcpu_count < VGIC_MAX_VCPUS ? vcpu_count : VGIC_MAX_VCPUS;
	g->ctlr = g->delivered = 0;
	memset(g->irouter, 0, sizeof(g->irouter));
	memset(g->cpu, 0, sizeof(g->cpu));
	/* Group 1 from reset, as KVM: guests that never write IGROUPR still get interrupts.
	 * SPIs and PPIs start level-sensitive, SGIs are always edge. */
	for (u32 i = 0; i < VGIC_SPI_COUNT; i++)
		g->spi[i] = (struct vgic_irq){ F_GROUP1, 0, NO_VCPU, 0 };
	for (u32 v = 0; v < VGIC_MAX_VCPUS; v++) {
		g->cpu[v].sleep = 1;
		for (u32 i = 0; i < VGIC_PRIVATE_COUNT; i++) { /* priority and hw: 0 by the memset */
			g->cpu[v].irq[i].flags = F_GROUP1 | (i < 16 ? F_EDGE : 0);
			g->cpu[v].irq[i].owner = (u8)v;
		}
	}
	spin_unlock(&g->lock);
}

/* ---- list registers ---- */

/* The LR for an interrupt going in; its pending state moves there for an edge-like one. */
static u64 lr_make(struct vgic *g, u32 vcpu, u32 intid)
{
	struct vgic_irq *q = irq_get(g, vcpu, intid);
	u32 f = q->flags;
	bool p = ready(g, f), a = f & F_ACTIVE;
	u64 lr = intid | (u64)q->priority << LR_PRIORITY_SHIFT | (f & F_GROUP1 ? LR_GROUP1 : 0);
	if (q->hw) {
		/* Never pending and active with HW=1: the physical GIC keeps that pending state. */
		lr |= LR_HW | (u64)q->hw << LR_PINTID_SHIFT;
		p = p && !a;
	} else if (!(f & F_EDGE)) {
		lr |= LR_EOI; /* to see the guest's EOI, and re-pend if the line is still high */
	}
	if (p) {
		lr |= LR_PENDING;
		f |= F_LR_P;
		g->delivered++;
		if ((f & F_EDGE) || q->hw)
			f &= ~F_LATCH;
	}
	if (a)
		lr |= LR_ACTIVE;
	q->flags = f | F_IN_LR;
	q->owner = (u8)vcpu;
	file(g, intid, q);
	return lr;
}

/* The lock is held. The LR of this vCPU that holds intid (F_IN_LR), or lr_used if none does. */
static u32 lr_of(const struct vgic_cpu *c, u32 intid)
{
	u32 i = c->slot != 0;
	while (i < c->lr_used && c->lr_intid[i] != intid)
		i++;
	return i;
}

bool vgic_sgi_self(struct vgic *g, u32 vcpu, u64 sgi1r, u32 lr_count)
{
	u32 intid = (u32)FIELD(sgi1r, 27, 24);
	if ((sgi1r & (SGI1R_IRM | SGI1R_NOT_AFF0)) || FIELD(sgi1r, 15, 0) != 1u << vcpu ||
	    vcpu >= g->vcpu_count)
		return false;
	struct vgic_cpu *c = &g->cpu[vcpu];
	struct vgic_irq *q = &c->irq[intid];
	bool done = false;
	spin_lock(&g->lock);
	u32 f = q->flags, i = lr_of(c, intid);
	if (f & F_IN_LR) {
		/* Its LR, if the guest has finished with it since: pending again there. */
		u64 lr = i < c->lr_used ? arch_vgic_read_lr(i) : LR_ACTIVE;
		if (!(lr & (LR_PENDING | LR_ACTIVE))) {
			arch_vgic_write_lr(i, lr | LR_PENDING);
			q->flags = f | F_LR_P;
			done = true;
		}
	} else if (!(f & (F_ACTIVE | F_LATCH)) && ready(g, f | F_LATCH) && i < lr_count &&
		   i < VGIC_MAX_LRS) {
		/* Idle, so in no set; the first free LR (there is no underflow with one free). */
		q->flags = f | F_LATCH;
		arch_vgic_write_lr(i, lr_make(g, vcpu, intid));
		c->lr_intid[i] = (u16)intid;
		c->lr_used = i + 1;
		done = true;
	}
	spin_unlock(&g->lock);
	return done;
}

/* The timer slot's LR0 (vgic.h): the HW-linked timer PPI, idle and deliverable, with no state;
 * 0 when it is not so. An interrupt that is idle is in neither set, so flush never also puts it
 * in another LR. */
static u64 slot_lr(const struct vgic *g, u32 vcpu)
{
	const struct vgic_irq *q = &g->cpu[vcpu].irq[VGIC_SLOT_INTID];
	u32 f = __atomic_load_n(&q->flags, __ATOMIC_RELAXED);
	u32 group = f & F_GROUP1 ? CTLR_ENABLE_G1 : CTLR_ENABLE_G0;
	if (q->hw != VGIC_SLOT_INTID || (f & (F_IN_LR | F_ACTIVE)) || pending(f) ||
	    !(f & F_ENABLED) || !(g->ctlr & group))
		return 0;
	return VGIC_SLOT_INTID | LR_HW | (u64)VGIC_SLOT_INTID << LR_PINTID_SHIFT |
	       (u64)q->priority << LR_PRIORITY_SHIFT | (f & F_GROUP1 ? LR_GROUP1 : 0);
}

/* Fills LRs lr_used..lr_count-1: active interrupts first, then pending ones by priority (lower
 * value first), lower INTID first among equals; when more want in than fit, the underflow
 * interrupt is turned on and the result is true. Called with the lock held. */
static bool place(struct vgic *g, u32 vcpu, u32 lr_count)
{
	u16 id[VGIC_MAX_LRS], key[VGIC_MAX_LRS];
	struct vgic_cpu *c = &g->cpu[vcpu];
	u32 n = 0, room = lr_count > c->lr_used ? lr_count - c->lr_used : 0;
	bool more = false;
	for (u32 w = 0; w < VGIC_WORDS; w++)
		for (u32 m = c->ready[w] | c->active[w]; m; m &= m - 1) {
			u32 intid = w * 32 + (u32)__builtin_ctz(m);
			const struct vgic_irq *q = irq_get(g, vcpu, intid);
			u16 k = (u16)((q->flags & F_ACTIVE ? 0 : 0x100) | q->priority);
			if (n == room) {
				more = true;
				if (n == 0 || key[n - 1] <= k)
					continue;
				n--; /* the last one makes room */
			}
			u32 i = n++;
			for (; i > 0 && key[i - 1] > k; i--) {
				key[i] = key[i - 1];
				id[i] = id[i - 1];
			}
			key[i] = k;
			id[i] = (u16)intid;
		}
	for (u32 i = 0; i < n; i++, c->lr_used++) {
		arch_vgic_write_lr(c->lr_used, lr_make(g, vcpu, id[i]));
		c->lr_intid[c->lr_used] = id[i];
	}
	if (more && !c->underflow) {
		c->underflow = 1;
		arch_vgic_underflow(true);
	}
	return more;
}

/* The fast path of every guest entry: nothing wants an LR and the slot is as it was. A change
 * racing with these reads comes with a kick, which brings the vCPU back here. */
bool vgic_flush(struct vgic *g, u32 vcpu, u32 lr_count)
{
	if (vcpu >= g->vcpu_count)
		return false;
	if (lr_count > VGIC_MAX_LRS)
		lr_count = VGIC_MAX_LRS;
	struct vgic_cpu *c = &g->cpu[vcpu];
	if (!any(c->ready) && !any(c->active) && slot_lr(g, vcpu) == c->slot)
		return false;
	if (c->ready[0] & BIT(VGIC_SLOT_INTID))
		vgic_timer_sample(g, vcpu); /* about to be given it: is the line still high? */
	spin_lock(&g->lock);
	u64 slot = lr_count ? slot_lr(g, vcpu) : 0;
	if (slot != c->slot)
		arch_vgic_write_lr(0, slot);
	c->slot = slot;
	c->lr_used = slot != 0;
	bool more = place(g, vcpu, lr_count);
	spin_unlock(&g->lock);
	return more;
}

/* What the guest did while the interrupt sat in the LR: acknowledging moved it from pending to
 * active, deactivating cleared active (4.1). An edge-like interrupt's LR pending state returns
 * to its latch; a level one's acknowledgement consumed its latch, and its line decides, so one
 * whose line is still high is pending again. */
static void fold(struct vgic *g, u32 intid, struct vgic_irq *q, u64 lr)
{
	u32 f = q->flags;
	if ((f & F_EDGE) || q->hw) /* the IRQ vector may have made the slot's INTID pending */
		f |= (lr & LR_PENDING) && ((f & F_LR_P) || (q->hw && intid == VGIC_SLOT_INTID)) ? F_LATCH : 0;
	else if ((f & F_LR_P) && !(lr & LR_PENDING))
		f &= ~F_LATCH;
	if (!(f & F_KEEP_A))
		f = lr & LR_ACTIVE ? f | F_ACTIVE : f & ~F_ACTIVE;
	q->flags = f & ~(F_IN_LR | F_LR_P | F_KEEP_A);
	file(g, intid, q);
}

/* The slot's LR0 gained a state: the timer fired (the IRQ vector made it pending) and the guest
 * may have acknowledged it since. Both become the interrupt's own state; the LR is emptied. */
static void slot_fold(struct vgic *g, u32 vcpu, u64 lr)
{
	struct vgic_irq *q = &g->cpu[vcpu].irq[VGIC_SLOT_INTID];
	q->flags |= (lr & LR_PENDING ? F_LATCH : 0) | (lr & LR_ACTIVE ? F_ACTIVE : 0);
	file(g, VGIC_SLOT_INTID, q);
	arch_vgic_write_lr(0, 0);
	g->cpu[vcpu].slot = 0;
}

/* The virtual timer is a level (Arm ARM D11.2.4): its interrupt is pending while its output
 * (ENABLE, ISTATUS, not IMASK) is high. A firing latched while the guest could not take it
 * (the PPI disabled) must end when the guest turns the timer off, masks it or moves its
 * deadline, none of which traps: with no LR holding it and not active, the latch goes and the
 * physical PPI is deactivated, to fire again if the output rises again. The guest can only see
 * the latch through the vGIC (a pending-register read, or an enable, priority or group change
 * that makes it deliverable) or by being given it on entry, so it is resampled there
 * (vgic_timer_sample from mmio.c, and vgic_flush) and the exit path pays nothing. A latch the
 * guest set itself with GICR_ISPENDR0 goes too: for this HW-linked PPI the latch stands for
 * the line. */
static __attribute__((noinline, cold)) void timer_drop(struct vgic *g, struct vgic_irq *q)
{
	if (q->hw != VGIC_SLOT_INTID || arch_vtimer_line())
		return;
	spin_lock(&g->lock);
	bool drop = (q->flags & (F_LATCH | F_IN_LR | F_ACTIVE)) == F_LATCH;
	if (drop) {
		q->flags &= ~F_LATCH;
		file(g, VGIC_SLOT_INTID, q);
	}
	spin_unlock(&g->lock);
	if (drop)
		arch_vtimer_lower();
}

void vgic_timer_sample(struct vgic *g, u32 vcpu)
{
	struct vgic_irq *q = &g->cpu[vcpu].irq[VGIC_SLOT_INTID];
	if (__atomic_load_n(&q->flags, __ATOMIC_RELAXED) & F_LATCH)
		timer_drop(g, q);
}

/* The slot stays armed across exits while LR0 shows no state: then nothing happened to it. */
void vgic_sync(struct vgic *g, u32 vcpu)
{
	if (vcpu >= g->vcpu_count)
		return;
	struct vgic_cpu *c = &g->cpu[vcpu];
	if (c->underflow) {
		c->underflow = 0;
		arch_vgic_underflow(false);
	}
	u32 first = c->slot != 0;
	u64 lr0 = first ? arch_vgic_read_lr(0) : 0;
	if (c->lr_used == first && !(lr0 & (LR_PENDING | LR_ACTIVE)))
		return; /* only this vCPU's core touches lr_used, slot and underflow */
	spin_lock(&g->lock);
	if (lr0 & (LR_PENDING | LR_ACTIVE))
		slot_fold(g, vcpu, lr0);
	for (u32 i = first; i < c->lr_used; i++) {
		u64 lr = arch_vgic_read_lr(i);
		/* Emptied: the core's next guest starts clean, and an EOI maintenance stops. */
		arch_vgic_write_lr(i, 0);
		fold(g, c->lr_intid[i], irq_get(g, vcpu, c->lr_intid[i]), lr);
	}
	c->lr_used = c->slot != 0;
	spin_unlock(&g->lock);
}

void vgic_put(struct vgic *g, u32 vcpu)
{
	if (vcpu >= g->vcpu_count || !g->cpu[vcpu].slot)
		return;
	arch_vgic_write_lr(0, 0); /* no state: vgic_sync saw to that */
	g->cpu[vcpu].slot = 0;
	g->cpu[vcpu].lr_used = 0;
}

bool vgic_has_pending(struct vgic *g, u32 vcpu)
{
	/* No lock: what makes an interrupt ready also wakes the vCPU (sched_wake), after it. */
	return vcpu < g->vcpu_count && any(g->cpu[vcpu].ready);
}
