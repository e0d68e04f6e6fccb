/* test_vgic.c: the virtual GICv3 on the fake architecture: register reset values and access
 * rules, routing, injection and kicks, LR flush/sync with the tests playing the guest, and a
 * fuzz loop over all of it. */
#include <stdlib.h>
#include <pv/vgic.h>
#include "fake.h"
#include "harness.h"

#define GICD_CTLR 0x0000
#define GICD_TYPER 0x0004
#define GICD_IIDR 0x0008
#define GICD_TYPER2 0x000c
#define IGROUPR 0x0080
#define ISENABLER 0x0100
#define ICENABLER 0x0180
#define ISPENDR 0x0200
#define ICPENDR 0x0280
#define ISACTIVER 0x0300
#define ICACTIVER 0x0380
#define IPRIORITYR 0x0400
#define ITARGETSR 0x0800
#define ICFGR 0x0c00
#define IGRPMODR 0x0d00
#define NSACR 0x0e00
#define GICD_SGIR 0x0f00
#define IROUTER(n) (0x6000 + 8 * (n))
#define PIDR2 0xffe8
#define GICR_CTLR 0x0000
#define GICR_IIDR 0x0004
#define GICR_TYPER 0x0008
#define GICR_WAKER 0x0014
#define GICR_PROPBASER 0x0070
#define GICR_PENDBASER 0x0078
#define RD(v, off) ((v) * VGIC_GICR_STRIDE + (off))
#define SGI(v, off) ((v) * VGIC_GICR_STRIDE + 0x10000 + (off))

#define LR_P (1ull << 62)
#define LR_A (1ull << 63)
#define LR_HW (1ull << 61)
#define LR_G1 (1ull << 60)
#define LR_EOI (1ull << 41)
#define LR_STATE(lr) ((lr) >> 62)
#define LR_PRIO(lr) (((lr) >> 48) & 0xff)
#define LR_VINTID(lr) ((lr) & 0xffffffffu)

static struct vgic g;

static void setup(u32 vcpus)
{
	fake_reset();
	memset(&g, 0xa5, sizeof(g)); /* vgic_init must not rely on zeroed memory... */
	g.lock.taken = 0;            /* ...except for the lock, which is taken first */
	vgic_init(&g, vcpus);
}

/* Accesses that must be allowed; a refusal is a test failure. */
static u64 dread(u64 off, u32 size)
{
	u64 v = 0xdeadbeef;
	u32 kick;
	if (!EXPECT(vgic_dist_access(&g, off, size, false, &v, &kick)))
		fprintf(stderr, "  GICD read of %u bytes at %#llx refused\n", size, (unsigned long long)off);
	return v;
}

static u32 dwrite(u64 off, u32 size, u64 v)
{
	u32 kick = 0xdead;
	if (!EXPECT(vgic_dist_access(&g, off, size, true, &v, &kick)))
		fprintf(stderr, "  GICD write of %u bytes at %#llx refused\n", size, (unsigned long long)off);
	return kick;
}

static u64 rread(u64 off, u32 size)
{
	u64 v = 0xdeadbeef;
	u32 kick;
	if (!EXPECT(vgic_redist_access(&g, off, size, false, &v, &kick)))
		fprintf(stderr, "  GICR read of %u bytes at %#llx refused\n", size, (unsigned long long)off);
	return v;
}

static u32 rwrite(u64 off, u32 size, u64 v)
{
	u32 kick = 0xdead;
	if (!EXPECT(vgic_redist_access(&g, off, size, true, &v, &kick)))
		fprintf(stderr, "  GICR write of %u bytes at %#llx refused\n", size, (unsigned long long)off);
	return kick;
}

static bool dist_ok(u64 off, u32 size, bool write)
{
	u64 v = 0;
	u32 kick;
	return vgic_dist_access(&g, off, size, write, &v, &kick);
}

static bool redist_ok(u64 off, u32 size, bool write)
{
	u64 v = 0;
	u32 kick;
	return vgic_redist_access(&g, off, size, write, &v, &kick);
}

/* An SPI or PPI ready to go: enabled, group 1 enabled in the distributor. */
static void enable_spi(u32 intid)
{
	dwrite(ISENABLER + intid / 32 * 4, 4, 1u << (intid % 32));
}

static void enable_private(u32 vcpu, u32 intid)
{
	rwrite(SGI(vcpu, ISENABLER), 4, 1u << intid);
}

static u32 lr_valid_count(void)
{
	u32 n = 0;
	for (u32 i = 0; i < 16; i++)
		n += LR_STATE(fake.lr[i]) != 0;
	return n;
}

/* The guest: acknowledging moves pending to active; deactivating clears active. */
static void guest_ack(u32 i)
{
	fake.lr[i] = (fake.lr[i] & ~(LR_P | LR_A)) | LR_A;
}

static void guest_deactivate(u32 i)
{
	fake.lr[i] &= ~LR_A;
}

/* ---- reset values and read-back ---- */

TEST(gicd_reset_values)
{
	setup(2);
	EXPECT_EQ(dread(GICD_CTLR, 4), 0x50);   /* ARE | DS, groups disabled, RWP 0 */
	EXPECT_EQ(dread(GICD_TYPER, 4), 0x480002); /* IDbits 9, ITLinesNumber 2 (96 INTIDs) */
	EXPECT_EQ(dread(GICD_IIDR, 4), 0x5000043b);
	EXPECT_EQ(dread(GICD_TYPER2, 4), 0);
	EXPECT_EQ(dread(PIDR2, 4), 0x3b);
	EXPECT_EQ(dread(0xfff0, 4), 0x0d);
	EXPECT_EQ(dread(0xfffc, 4), 0xb1);
	EXPECT_EQ(dread(0xffd0, 4), 0);
	EXPECT_EQ(dread(IGROUPR + 4, 4), 0xffffffff); /* SPIs 32..63: group 1 */
	EXPECT_EQ(dread(IGROUPR + 8, 4), 0xffffffff);
	EXPECT_EQ(dread(IGROUPR + 12, 4), 0);         /* beyond the last SPI */
	EXPECT_EQ(dread(ISENABLER + 4, 4), 0);
	EXPECT_EQ(dread(ISPENDR + 4, 4), 0);
	EXPECT_EQ(dread(ISACTIVER + 8, 4), 0);
	EXPECT_EQ(dread(IPRIORITYR + 32, 4), 0);
	EXPECT_EQ(dread(ICFGR + 8, 4), 0);            /* SPIs start level-sensitive */
	EXPECT_EQ(dread(IROUTER(32), 8), 0);
	EXPECT_EQ(dread(0x0010, 4), 0);               /* STATUSR, reserved: RAZ */
	/* INTIDs 0..31 live in the redistributors (ARE=1): RAZ/WI here. */
	EXPECT_EQ(dread(IGROUPR, 4), 0);
	dwrite(ISENABLER, 4, 0xffffffff);
	EXPECT_EQ(dread(ISENABLER, 4), 0);
	EXPECT_EQ(rread(SGI(0, ISENABLER), 4), 0);
	EXPECT_EQ(rread(SGI(1, ISENABLER), 4), 0);
	dwrite(IPRIORITYR, 4, 0xffffffff);
	EXPECT_EQ(rread(SGI(0, IPRIORITYR), 4), 0);
}

TEST(gicd_ctlr_keeps_only_group_enables)
{
	setup(1);
	dwrite(GICD_CTLR, 4, 0xffffffff);
	EXPECT_EQ(dread(GICD_CTLR, 4), 0x53);
	dwrite(GICD_CTLR, 4, 0);
	EXPECT_EQ(dread(GICD_CTLR, 4), 0x50);
	dwrite(GICD_TYPER, 4, 0);
	EXPECT_EQ(dread(GICD_TYPER, 4), 0x480002);
}

TEST(gicr_reset_values)
{
	setup(2);
	EXPECT_EQ(rread(RD(0, GICR_CTLR), 4), 0);
	EXPECT_EQ(rread(RD(1, GICR_IIDR), 4), 0x5000043b);
	EXPECT_EQ(rread(RD(0, GICR_TYPER), 8), 0);
	EXPECT_EQ(rread(RD(1, GICR_TYPER), 8), (1ull << 32) | (1 << 8) | 0x10);
	EXPECT_EQ(rread(RD(1, GICR_WAKER), 4), 6);
	EXPECT_EQ(rread(RD(0, PIDR2), 4), 0x3b);
	EXPECT_EQ(rread(RD(0, GICR_PROPBASER), 8), 0);
	EXPECT_EQ(rread(RD(0, GICR_PENDBASER), 8), 0);
	EXPECT_EQ(rread(SGI(0, IGROUPR), 4), 0xffffffff);
	EXPECT_EQ(rread(SGI(1, ICFGR), 4), 0xaaaaaaaa); /* SGIs: edge */
	EXPECT_EQ(rread(SGI(1, ICFGR + 4), 4), 0);      /* PPIs: level */
	EXPECT_EQ(rread(SGI(0, IPRIORITYR + 28), 4), 0);
	EXPECT_EQ(rread(SGI(0, ISENABLER), 4), 0);
	EXPECT_EQ(rread(SGI(0, IGRPMODR), 4), 0);
	EXPECT_EQ(rread(SGI(0, NSACR), 4), 0);
}

TEST(gicr_ctlr_and_lpi_registers)
{
	setup(1);
	rwrite(RD(0, GICR_CTLR), 4, 0xffffffff); /* EnableLPIs ignored, DPG bits kept */
	EXPECT_EQ(rread(RD(0, GICR_CTLR), 4), 0x07000000);
	rwrite(RD(0, GICR_PROPBASER), 8, ~0ull);
	EXPECT_EQ(rread(RD(0, GICR_PROPBASER), 8), 0);
	rwrite(RD(0, GICR_TYPER), 8, ~0ull);
	EXPECT_EQ(rread(RD(0, GICR_TYPER), 8), 0x10);
}

TEST(priority_group_config_read_back)
{
	setup(2);
	dwrite(IPRIORITYR + 40, 4, 0x44332211);
	EXPECT_EQ(dread(IPRIORITYR + 40, 4), 0x44332211);
	EXPECT_EQ(dread(IPRIORITYR + 42, 1), 0x33);
	dwrite(IPRIORITYR + 43, 1, 0xa0);
	EXPECT_EQ(dread(IPRIORITYR + 40, 4), 0xa0332211);
	dwrite(IPRIORITYR + 95, 1, 0x80); /* the last SPI */
	EXPECT_EQ(dread(IPRIORITYR + 92, 4), 0x80000000);
	dwrite(IPRIORITYR + 96, 4, 0xffffffff); /* past it: RAZ/WI */
	EXPECT_EQ(dread(IPRIORITYR + 96, 4), 0);

	rwrite(SGI(1, IPRIORITYR + 27), 1, 0x60);
	EXPECT_EQ(rread(SGI(1, IPRIORITYR + 24), 4), 0x60000000);
	EXPECT_EQ(rread(SGI(0, IPRIORITYR + 24), 4), 0); /* banked per vCPU */

	dwrite(IGROUPR + 4, 4, 0x0000ffff);
	EXPECT_EQ(dread(IGROUPR + 4, 4), 0x0000ffff);
	rwrite(SGI(0, IGROUPR), 4, 0x1);
	EXPECT_EQ(rread(SGI(0, IGROUPR), 4), 1);

	dwrite(ICFGR + 8, 4, 0xffffffff); /* Int_config bit 0 is RES0 */
	EXPECT_EQ(dread(ICFGR + 8, 4), 0xaaaaaaaa);
	rwrite(SGI(0, ICFGR), 4, 0); /* SGIs stay edge */
	EXPECT_EQ(rread(SGI(0, ICFGR), 4), 0xaaaaaaaa);
	rwrite(SGI(0, ICFGR + 4), 4, 0x00800000); /* PPI 27 edge */
	EXPECT_EQ(rread(SGI(0, ICFGR + 4), 4), 0x00800000);

	dwrite(IGRPMODR + 4, 4, 0xffffffff);
	EXPECT_EQ(dread(IGRPMODR + 4, 4), 0);
	dwrite(NSACR + 8, 4, 0xffffffff);
	EXPECT_EQ(dread(NSACR + 8, 4), 0);
	dwrite(ITARGETSR + 32, 1, 0xff);
	EXPECT_EQ(dread(ITARGETSR + 32, 4), 0);
	dwrite(GICD_SGIR, 4, 0x00010001);
	EXPECT_EQ(dread(GICD_SGIR, 4), 0);
}

TEST(irouter_read_back_and_halves)
{
	setup(2);
	dwrite(IROUTER(40), 8, 0xffffffffffffffffull);
	EXPECT_EQ(dread(IROUTER(40), 8), 0xff80ffffffull); /* Aff3, IRM, Aff2..0 */
	EXPECT_EQ(dread(IROUTER(40) + 4, 4), 0xff);
	EXPECT_EQ(dread(IROUTER(40), 4), 0x80ffffff);
	dwrite(IROUTER(40) + 4, 4, 0);
	EXPECT_EQ(dread(IROUTER(40), 8), 0x80ffffff);
	dwrite(IROUTER(40), 4, 1);
	EXPECT_EQ(dread(IROUTER(40), 8), 1);
	dwrite(IROUTER(95), 8, 1);
	EXPECT_EQ(dread(IROUTER(95), 8), 1);
	dwrite(IROUTER(96), 8, 1); /* no such SPI */
	EXPECT_EQ(dread(IROUTER(96), 8), 0);
	dwrite(IROUTER(31), 8, 1); /* not an SPI */
	EXPECT_EQ(dread(IROUTER(31), 8), 0);
	EXPECT_EQ(dread(IROUTER(1019), 8), 0);
}

TEST(gicr_typer_last_bit)
{
	setup(3);
	EXPECT_EQ(rread(RD(0, GICR_TYPER), 8) & 0x10, 0);
	EXPECT_EQ(rread(RD(1, GICR_TYPER), 8) & 0x10, 0);
	EXPECT_EQ(rread(RD(2, GICR_TYPER), 8), (2ull << 32) | (2 << 8) | 0x10);
	EXPECT_EQ(rread(RD(2, GICR_TYPER), 4), (2 << 8) | 0x10);
	EXPECT_EQ(rread(RD(2, GICR_TYPER + 4), 4), 2);
	setup(1);
	EXPECT_EQ(rread(RD(0, GICR_TYPER), 8), 0x10);
}

TEST(gicr_waker_sleep_and_children)
{
	setup(2);
	EXPECT_EQ(rread(RD(0, GICR_WAKER), 4), 6);
	rwrite(RD(0, GICR_WAKER), 4, 0);
	EXPECT_EQ(rread(RD(0, GICR_WAKER), 4), 0);
	EXPECT_EQ(rread(RD(1, GICR_WAKER), 4), 6); /* per redistributor */
	rwrite(RD(0, GICR_WAKER), 4, 4);           /* ChildrenAsleep is read-only */
	EXPECT_EQ(rread(RD(0, GICR_WAKER), 4), 0);
	rwrite(RD(0, GICR_WAKER), 4, 2);
	EXPECT_EQ(rread(RD(0, GICR_WAKER), 4), 6);
}

/* ---- access rules ---- */

TEST(access_widths)
{
	setup(2);
	EXPECT(dist_ok(IPRIORITYR + 33, 1, true));  /* byte-accessible */
	EXPECT(!dist_ok(IPRIORITYR + 34, 2, false)); /* halfwords never */
	EXPECT(!dist_ok(IPRIORITYR + 32, 8, false));
	EXPECT(dist_ok(ITARGETSR + 33, 1, false));
	EXPECT(!dist_ok(ISENABLER + 4, 1, true));
	EXPECT(!dist_ok(ISENABLER + 4, 2, true));
	EXPECT(!dist_ok(ISENABLER + 4, 8, false));
	EXPECT(!dist_ok(GICD_CTLR, 8, false));
	EXPECT(!dist_ok(GICD_CTLR, 1, false));
	EXPECT(!dist_ok(GICD_CTLR + 2, 2, false));
	EXPECT(!dist_ok(ICFGR + 9, 1, false));
	EXPECT(!dist_ok(ISENABLER + 6, 4, false)); /* unaligned */
	EXPECT(!dist_ok(IPRIORITYR + 34, 4, false));
	EXPECT(dist_ok(IROUTER(32), 8, true));
	EXPECT(dist_ok(IROUTER(32) + 4, 4, true));
	EXPECT(!dist_ok(IROUTER(32) + 4, 8, false));
	EXPECT(!dist_ok(IROUTER(32) + 2, 2, false));
	EXPECT(!dist_ok(IROUTER(32), 1, false));
	EXPECT(!dist_ok(0x0010, 8, false)); /* reserved: 32-bit only */
	EXPECT(!dist_ok(GICD_CTLR, 0, false));
	EXPECT(!dist_ok(GICD_CTLR, 3, false));
	EXPECT(!dist_ok(GICD_CTLR, 16, false));
	EXPECT(redist_ok(RD(1, GICR_TYPER), 8, false));
	EXPECT(redist_ok(RD(1, GICR_TYPER + 4), 4, false));
	EXPECT(!redist_ok(RD(1, GICR_WAKER), 8, false));
	EXPECT(!redist_ok(RD(1, GICR_WAKER), 1, false));
	EXPECT(redist_ok(SGI(1, IPRIORITYR + 5), 1, true));
	EXPECT(!redist_ok(SGI(1, IPRIORITYR + 6), 2, true));
	EXPECT(!redist_ok(SGI(1, ISENABLER + 1), 1, true));
}

/* A refused write changes nothing. */
TEST(refused_writes_have_no_effect)
{
	setup(1);
	u64 v = 0xff;
	u32 kick = 7;
	EXPECT(!vgic_dist_access(&g, ISENABLER + 4, 1, true, &v, &kick));
	EXPECT_EQ(kick, 0);
	v = ~0ull;
	EXPECT(!vgic_dist_access(&g, IPRIORITYR + 32, 2, true, &v, &kick));
	EXPECT(!vgic_dist_access(&g, GICD_CTLR, 8, true, &v, &kick));
	EXPECT(!vgic_redist_access(&g, SGI(0, ISENABLER), 2, true, &v, &kick));
	EXPECT_EQ(dread(ISENABLER + 4, 4), 0);
	EXPECT_EQ(dread(IPRIORITYR + 32, 4), 0);
	EXPECT_EQ(dread(GICD_CTLR, 4), 0x50);
	EXPECT_EQ(rread(SGI(0, ISENABLER), 4), 0);
}

TEST(out_of_range_offsets)
{
	setup(2);
	EXPECT(!dist_ok(VGIC_GICD_SIZE, 4, false));
	EXPECT(!dist_ok(VGIC_GICD_SIZE + 0x100, 4, true));
	EXPECT(!dist_ok(~0ull - 3, 4, false));
	EXPECT(dist_ok(VGIC_GICD_SIZE - 4, 4, false));
	EXPECT(!redist_ok(RD(2, 0), 4, false));
	EXPECT(!redist_ok(RD(2, GICR_TYPER), 8, false));
	EXPECT(!redist_ok(~0ull - 7, 8, false));
	EXPECT(redist_ok(RD(1, 0x1fffc), 4, false)); /* last word of the last frame */
	/* SGI_base has only INTIDs 0..31: the SPI words there are RAZ/WI and touch no SPI. */
	rwrite(SGI(0, ISENABLER + 4), 4, 0xffffffff);
	EXPECT_EQ(rread(SGI(0, ISENABLER + 4), 4), 0);
	EXPECT_EQ(dread(ISENABLER + 4, 4), 0);
	EXPECT_EQ(rread(SGI(0, IROUTER(32)), 4), 0); /* no IROUTER in a redistributor */
}

/* ---- enable, pending, active ---- */

TEST(enable_set_clear_semantics)
{
	setup(1);
	dwrite(ISENABLER + 4, 4, 0x00000005);
	EXPECT_EQ(dread(ISENABLER + 4, 4), 5);
	EXPECT_EQ(dread(ICENABLER + 4, 4), 5);
	dwrite(ISENABLER + 4, 4, 0x00000010); /* zeros leave the others alone */
	EXPECT_EQ(dread(ISENABLER + 4, 4), 0x15);
	dwrite(ICENABLER + 4, 4, 0x00000001);
	EXPECT_EQ(dread(ISENABLER + 4, 4), 0x14);
	dwrite(ICENABLER + 4, 4, 0);
	EXPECT_EQ(dread(ISENABLER + 4, 4), 0x14);
	rwrite(SGI(0, ISENABLER), 4, 0x08000001);
	EXPECT_EQ(rread(SGI(0, ICENABLER), 4), 0x08000001);
	rwrite(SGI(0, ICENABLER), 4, 0xffffffff);
	EXPECT_EQ(rread(SGI(0, ISENABLER), 4), 0);
}

TEST(pending_and_active_set_clear)
{
	setup(1);
	dwrite(ISPENDR + 4, 4, 0x3);
	EXPECT_EQ(dread(ISPENDR + 4, 4), 3);
	EXPECT_EQ(dread(ICPENDR + 4, 4), 3);
	dwrite(ICPENDR + 4, 4, 0x1);
	EXPECT_EQ(dread(ISPENDR + 4, 4), 2);
	/* A level line that is high keeps the interrupt pending through ICPENDR. */
	vgic_set_level(&g, 0, 33, true);
	dwrite(ICPENDR + 4, 4, 0x3);
	EXPECT_EQ(dread(ISPENDR + 4, 4), 2);
	vgic_set_level(&g, 0, 33, false);
	EXPECT_EQ(dread(ISPENDR + 4, 4), 0);
	dwrite(ISACTIVER + 8, 4, 0x80000000);
	EXPECT_EQ(dread(ICACTIVER + 8, 4), 0x80000000);
	dwrite(ICACTIVER + 8, 4, 0x80000000);
	EXPECT_EQ(dread(ISACTIVER + 8, 4), 0);
	rwrite(SGI(0, ISPENDR), 4, 0x80000002);
	EXPECT_EQ(rread(SGI(0, ISPENDR), 4), 0x80000002);
	rwrite(SGI(0, ICPENDR), 4, 0x80000000);
	EXPECT_EQ(rread(SGI(0, ISPENDR), 4), 2);
}

/* ---- routing, injection, kicks ---- */

TEST(irouter_routes_spi_to_its_vcpu_only)
{
	setup(2);
	dwrite(GICD_CTLR, 4, 2);
	enable_spi(40);
	dwrite(IROUTER(40), 8, 1);
	EXPECT_EQ(vgic_raise(&g, 0, 40), 2); /* kick vCPU 1 */
	EXPECT(!vgic_has_pending(&g, 0));
	EXPECT(vgic_has_pending(&g, 1));
	EXPECT(!vgic_flush(&g, 0, 4));
	EXPECT_EQ(lr_valid_count(), 0);
	vgic_sync(&g, 0);
	EXPECT(!vgic_flush(&g, 1, 4));
	EXPECT_EQ(fake.lr[0], LR_P | LR_G1 | LR_EOI | 40); /* SPIs start level-sensitive */
	EXPECT_EQ(lr_valid_count(), 1);
	guest_ack(0);
	guest_deactivate(0);
	vgic_sync(&g, 1);
	EXPECT_EQ(fake.lr[0], 0);
	EXPECT(!vgic_has_pending(&g, 1));
	EXPECT_EQ(dread(ISPENDR + 4, 4), 0);
}

TEST(irouter_irm_and_missing_targets)
{
	setup(2);
	dwrite(GICD_CTLR, 4, 2);
	enable_spi(41);
	dwrite(IROUTER(41), 8, (1ull << 31) | 1); /* IRM: any PE, we pick vCPU 0 */
	EXPECT_EQ(vgic_raise(&g, 1, 41), 1);
	EXPECT(vgic_has_pending(&g, 0));
	EXPECT(!vgic_has_pending(&g, 1));
	dwrite(ICPENDR + 4, 4, 1u << 9);
	dwrite(IROUTER(41), 8, 0x100); /* Aff1 = 1: no such vCPU */
	EXPECT_EQ(vgic_raise(&g, 0, 41), 0);
	EXPECT(!vgic_has_pending(&g, 0) && !vgic_has_pending(&g, 1));
	EXPECT_EQ(dwrite(IROUTER(41), 8, 5), 0); /* Aff0 past the last vCPU */
	EXPECT(!vgic_has_pending(&g, 0) && !vgic_has_pending(&g, 1));
	EXPECT_EQ(dwrite(IROUTER(41), 8, 1), 2); /* routed somewhere real: kick it */
	EXPECT(vgic_has_pending(&g, 1));
}

TEST(kicks_only_when_deliverable)
{
	setup(2);
	EXPECT_EQ(vgic_set_level(&g, 0, 33, true), 0); /* disabled, groups off */
	enable_spi(33);
	EXPECT_EQ(dwrite(GICD_CTLR, 4, 2), 1); /* group 1 on: only vCPU 0 has one to take */
	EXPECT_EQ(dwrite(GICD_CTLR, 4, 2), 0); /* unchanged: vCPU 0 was already told */
	EXPECT_EQ(vgic_set_level(&g, 0, 33, true), 0); /* already pending */
	EXPECT_EQ(vgic_set_level(&g, 0, 33, false), 0);
	EXPECT_EQ(vgic_set_level(&g, 0, 33, true), 1);
	EXPECT_EQ(vgic_raise(&g, 1, 27), 0);      /* PPI 27 disabled on vCPU 1 */
	EXPECT_EQ(rwrite(SGI(1, ISENABLER), 4, 1u << 27), 2);
	EXPECT_EQ(vgic_set_level(&g, 0, 30, true), 0);
	enable_private(0, 30);
	EXPECT(vgic_has_pending(&g, 0));
	dwrite(GICD_CTLR, 4, 1); /* group 1 off, group 0 on: group-1 interrupts wait */
	EXPECT(!vgic_has_pending(&g, 0) && !vgic_has_pending(&g, 1));
	rwrite(SGI(1, IGROUPR), 4, 0); /* make them group 0 */
	EXPECT(vgic_has_pending(&g, 1));
	EXPECT(!vgic_flush(&g, 1, 4));
	EXPECT_EQ(fake.lr[0], LR_P | 27 | LR_EOI); /* group 0: Group bit clear */
	vgic_sync(&g, 1);
}

/* The per-vCPU sets behind flush and has_pending follow every kind of change: an active SPI
 * stays with the vCPU that took it when rerouted, a CTLR change refiles everything, and a
 * flush leaves the sets empty while the LRs hold what they had. */
TEST(deliverable_sets_follow_routing_ctlr_and_lrs)
{
	setup(3);
	enable_spi(60);
	vgic_raise(&g, 0, 60);
	EXPECT(!vgic_has_pending(&g, 0));
	EXPECT_EQ(g.cpu[0].ready[1], 0u);
	EXPECT_EQ(dwrite(GICD_CTLR, 4, 2), 1);
	EXPECT_EQ(g.cpu[0].ready[1], 1u << 28);
	EXPECT_EQ(dwrite(IROUTER(60), 8, 2), 4); /* moves to vCPU 2, which is kicked */
	EXPECT(!vgic_has_pending(&g, 0) && vgic_has_pending(&g, 2));
	EXPECT(vgic_audit(&g));
	EXPECT(!vgic_flush(&g, 2, 4));
	EXPECT(!vgic_has_pending(&g, 2)); /* in an LR: not wanted again */
	EXPECT_EQ(g.cpu[2].ready[1] | g.cpu[2].active[1], 0u);
	guest_ack(0);
	vgic_sync(&g, 2);
	EXPECT_EQ(g.cpu[2].active[1], 1u << 28); /* active, back from the LR */
	dwrite(IROUTER(60), 8, 1);               /* active stays where it is (4.1) */
	EXPECT_EQ(g.cpu[1].active[1] | g.cpu[1].ready[1], 0u);
	EXPECT(vgic_audit(&g));
	EXPECT(!vgic_flush(&g, 2, 4));
	EXPECT_EQ(fake.lr[0], LR_A | LR_G1 | LR_EOI | 60);
	guest_deactivate(0);
	vgic_sync(&g, 2);
	EXPECT(vgic_audit(&g));
	for (u32 v = 0; v < 3; v++)
		EXPECT_EQ(g.cpu[v].ready[0] | g.cpu[v].ready[1] | g.cpu[v].ready[2] |
			  g.cpu[v].active[0] | g.cpu[v].active[1] | g.cpu[v].active[2], 0u);
	EXPECT(!vgic_flush(&g, 1, 4)); /* nothing: the fast path, LRs untouched */
	EXPECT_EQ(lr_valid_count(), 0);
}

TEST(injection_rejects_bad_arguments)
{
	setup(2);
	dwrite(GICD_CTLR, 4, 3);
	EXPECT_EQ(vgic_raise(&g, 2, 27), 0);   /* no vCPU 2 */
	EXPECT_EQ(vgic_raise(&g, 0, 96), 0);   /* past the SPIs */
	EXPECT_EQ(vgic_raise(&g, 0, 1023), 0);
	EXPECT_EQ(vgic_set_level(&g, 9, 30, true), 0);
	EXPECT_EQ(vgic_set_level(&g, 0, 0xffffffff, true), 0);
	EXPECT(!vgic_link_hw(&g, 0, 5, 30));   /* SGIs cannot be HW */
	EXPECT(!vgic_link_hw(&g, 0, 27, 5));
	EXPECT(!vgic_link_hw(&g, 0, 27, 1020));
	EXPECT(!vgic_link_hw(&g, 3, 27, 27));
	EXPECT(!vgic_link_hw(&g, 0, 96, 40));
	EXPECT(vgic_link_hw(&g, 0, 27, 27));
	EXPECT(vgic_link_hw(&g, 0, 27, 0));
	EXPECT(!vgic_flush(&g, 2, 4));
	vgic_sync(&g, 7);
	EXPECT(!vgic_has_pending(&g, 2));
}

/* ---- SGIs ---- */

#define SGI1R(intid, list) (((u64)(intid) << 24) | (list))

TEST(sgi_decode)
{
	setup(4);
	dwrite(GICD_CTLR, 4, 2);
	for (u32 v = 0; v < 4; v++)
		enable_private(v, 3);
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(3, 0x6)), 0x6);
	EXPECT_EQ(rread(SGI(1, ISPENDR), 4), 1 << 3);
	EXPECT_EQ(rread(SGI(2, ISPENDR), 4), 1 << 3);
	EXPECT_EQ(rread(SGI(0, ISPENDR), 4), 0);
	EXPECT_EQ(rread(SGI(3, ISPENDR), 4), 0);
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(3, 0x6)), 0); /* already pending: nothing changes */
	rwrite(SGI(1, ICPENDR), 4, ~0u);
	rwrite(SGI(2, ICPENDR), 4, ~0u);

	/* IRM: all but the sender; the target list is ignored. */
	EXPECT_EQ(vgic_sgi(&g, 1, SGI1R(3, 0x2) | (1ull << 40)), 0xd);
	EXPECT_EQ(rread(SGI(1, ISPENDR), 4), 0);
	for (u32 v = 0; v < 4; v++)
		rwrite(SGI(v, ICPENDR), 4, ~0u);

	/* Targets past the last vCPU are ignored. */
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(3, 0xfff0)), 0);
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(3, 0x8010)), 0);
	EXPECT_EQ(vgic_sgi(&g, 2, SGI1R(3, 0xfff8)), 0x8);
	rwrite(SGI(3, ICPENDR), 4, ~0u);

	/* Aff1, Aff2, Aff3 or RS other than 0 name PEs we do not have. */
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(3, 0x1) | (1ull << 16)), 0);
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(3, 0x1) | (1ull << 32)), 0);
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(3, 0x1) | (1ull << 48)), 0);
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(3, 0x1) | (1ull << 44)), 0);
	for (u32 v = 0; v < 4; v++)
		EXPECT_EQ(rread(SGI(v, ISPENDR), 4), 0);

	/* INTID 15; a disabled SGI becomes pending but needs no kick; to self is allowed. */
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(15, 0x1)), 0);
	EXPECT_EQ(rread(SGI(0, ISPENDR), 4), 1 << 15);
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(3, 0x1)), 0x1);
	/* IRM from a sender that is no vCPU of ours leaves nobody out (0 was already pending). */
	EXPECT_EQ(vgic_sgi(&g, 5, SGI1R(3, 0x2) | (1ull << 40)), 0xe);
}

/* ---- LR flush and sync ---- */

TEST(flush_orders_by_priority_and_asks_for_underflow)
{
	setup(1);
	dwrite(GICD_CTLR, 4, 2);
	static const u8 prio[6] = { 0xa0, 0x20, 0x80, 0x20, 0xf0, 0x40 };
	for (u32 i = 0; i < 6; i++) {
		dwrite(IPRIORITYR + 40 + i, 1, prio[i]);
		enable_spi(40 + i);
		dwrite(ICFGR + 8, 4, 0xaaaaaaaa); /* edge */
		vgic_raise(&g, 0, 40 + i);
	}
	EXPECT(vgic_flush(&g, 0, 4)); /* six want in, four fit */
	EXPECT(fake.uie);
	EXPECT_EQ(LR_VINTID(fake.lr[0]), 41);
	EXPECT_EQ(LR_VINTID(fake.lr[1]), 43); /* same priority: lower INTID first */
	EXPECT_EQ(LR_VINTID(fake.lr[2]), 45);
	EXPECT_EQ(LR_VINTID(fake.lr[3]), 42);
	EXPECT_EQ(LR_PRIO(fake.lr[0]), 0x20);
	EXPECT_EQ(LR_PRIO(fake.lr[3]), 0x80);
	EXPECT_EQ(fake.lr[4], 0);
	for (u32 i = 0; i < 4; i++) {
		EXPECT_EQ(LR_STATE(fake.lr[i]), 1);
		EXPECT(fake.lr[i] & LR_G1);
		EXPECT(!(fake.lr[i] & LR_EOI)); /* edge: no EOI maintenance */
	}
	/* The guest takes and finishes two of them; the other two wait in their LRs. */
	guest_ack(0);
	guest_deactivate(0);
	guest_ack(1);
	vgic_sync(&g, 0);
	EXPECT(!fake.uie); /* a level: with the LRs emptied it would fire forever */
	EXPECT_EQ(lr_valid_count(), 0);
	EXPECT_EQ(dread(ISACTIVER + 4, 4), 1u << 11);
	EXPECT_EQ(dread(ISPENDR + 4, 4), 0x35u << 8); /* 40, 42, 44, 45 */
	EXPECT(!vgic_flush(&g, 0, 8));
	EXPECT(!fake.uie);
	EXPECT_EQ(fake.lr[0], LR_A | LR_G1 | (0x20ull << 48) | 43); /* active first */
	EXPECT_EQ(LR_VINTID(fake.lr[1]), 45);
	EXPECT_EQ(LR_VINTID(fake.lr[2]), 42);
	EXPECT_EQ(LR_VINTID(fake.lr[3]), 40);
	EXPECT_EQ(LR_VINTID(fake.lr[4]), 44);
	EXPECT_EQ(lr_valid_count(), 5);
	vgic_sync(&g, 0);
	EXPECT(vgic_flush(&g, 0, 0)); /* no LRs at all: all of them wait */
	EXPECT(fake.uie);
	EXPECT_EQ(lr_valid_count(), 0);
	vgic_sync(&g, 0);
	EXPECT(!fake.uie);
}

TEST(active_interrupt_outranks_pending_ones)
{
	setup(1);
	dwrite(GICD_CTLR, 4, 2);
	enable_spi(50);
	enable_spi(51);
	dwrite(IPRIORITYR + 50, 1, 0xf0);
	dwrite(IPRIORITYR + 51, 1, 0x10);
	dwrite(ISACTIVER + 4, 4, 1u << 18); /* 50 active, not pending */
	vgic_raise(&g, 0, 51);
	EXPECT(vgic_flush(&g, 0, 1));
	EXPECT_EQ(fake.lr[0], LR_A | LR_G1 | (0xf0ull << 48) | 50 | LR_EOI);
	guest_deactivate(0);
	vgic_sync(&g, 0);
	EXPECT(!vgic_flush(&g, 0, 1));
	EXPECT_EQ(LR_VINTID(fake.lr[0]), 51);
	vgic_sync(&g, 0);
}

TEST(level_interrupt_repends_after_eoi_while_line_high)
{
	setup(1);
	dwrite(GICD_CTLR, 4, 2);
	enable_spi(33);
	dwrite(IPRIORITYR + 33, 1, 0xa0);
	EXPECT_EQ(vgic_set_level(&g, 0, 33, true), 1);
	EXPECT(!vgic_flush(&g, 0, 4));
	EXPECT_EQ(fake.lr[0], LR_P | LR_G1 | LR_EOI | (0xa0ull << 48) | 33);
	/* Acknowledged while the line stays high: active and pending. */
	guest_ack(0);
	vgic_sync(&g, 0);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(LR_STATE(fake.lr[0]), 3);
	/* The guest EOIs without touching the device: the EOI maintenance exit finds the line
	 * still high, so the interrupt is pending again. */
	fake.lr[0] &= ~(LR_P | LR_A);
	vgic_sync(&g, 0);
	EXPECT(vgic_has_pending(&g, 0));
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(fake.lr[0], LR_P | LR_G1 | LR_EOI | (0xa0ull << 48) | 33);
	/* This time the handler quiets the device before EOI: nothing comes back. */
	guest_ack(0);
	vgic_sync(&g, 0);
	EXPECT_EQ(vgic_set_level(&g, 0, 33, false), 0);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(LR_STATE(fake.lr[0]), 2); /* active only */
	guest_deactivate(0);
	vgic_sync(&g, 0);
	EXPECT(!vgic_has_pending(&g, 0));
	EXPECT(!vgic_flush(&g, 0, 4));
	EXPECT_EQ(lr_valid_count(), 0);
	vgic_sync(&g, 0);
}

TEST(level_line_drop_before_ack_withdraws_it)
{
	setup(2);
	dwrite(GICD_CTLR, 4, 2);
	enable_spi(33);
	vgic_set_level(&g, 0, 33, true);
	vgic_flush(&g, 0, 4);
	/* Another core lowers the line while vCPU 0 runs: kick it so the LR is refreshed. */
	EXPECT_EQ(vgic_set_level(&g, 1, 33, false), 1);
	vgic_sync(&g, 0);
	EXPECT(!vgic_flush(&g, 0, 4));
	EXPECT_EQ(lr_valid_count(), 0);
	vgic_sync(&g, 0);
}

TEST(soft_pending_level_is_consumed_by_ack)
{
	setup(1);
	dwrite(GICD_CTLR, 4, 2);
	enable_spi(34);
	dwrite(ISPENDR + 4, 4, 1u << 2); /* level, line low, pending by software */
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(LR_STATE(fake.lr[0]), 1);
	guest_ack(0);
	vgic_sync(&g, 0);
	EXPECT_EQ(dread(ISPENDR + 4, 4), 0);
	EXPECT_EQ(dread(ISACTIVER + 4, 4), 1u << 2);
	vgic_flush(&g, 0, 4);
	guest_deactivate(0);
	vgic_sync(&g, 0);
	EXPECT(!vgic_flush(&g, 0, 4));
	vgic_sync(&g, 0);
}

TEST(edge_reraised_while_active_is_pending_and_active)
{
	setup(2);
	dwrite(GICD_CTLR, 4, 2);
	enable_private(1, 5);
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(5, 0x2)), 2);
	vgic_flush(&g, 1, 4);
	EXPECT_EQ(fake.lr[0], LR_P | LR_G1 | 5);
	EXPECT_EQ(rread(SGI(1, ISPENDR), 4), 1 << 5); /* reads see the LR's pending state */
	guest_ack(0);
	/* A second SGI while vCPU 1 runs with the first one active: kick it. */
	EXPECT_EQ(vgic_sgi(&g, 0, SGI1R(5, 0x2)), 2);
	vgic_sync(&g, 1);
	vgic_flush(&g, 1, 4);
	EXPECT_EQ(LR_STATE(fake.lr[0]), 3);
	fake.lr[0] &= ~(LR_P | LR_A); /* ack and deactivate the second one too */
	vgic_sync(&g, 1);
	EXPECT(!vgic_has_pending(&g, 1));
	EXPECT_EQ(rread(SGI(1, ISPENDR), 4), 0);
	EXPECT_EQ(rread(SGI(1, ISACTIVER), 4), 0);
}

/* Another vCPU changes the state of an interrupt that sits in a running vCPU's LR. */
TEST(writes_to_an_interrupt_in_an_lr)
{
	setup(2);
	dwrite(GICD_CTLR, 4, 2);
	enable_spi(60);
	dwrite(ICFGR + 12, 4, 0xaaaaaaaa);
	dwrite(IROUTER(60), 8, 1);
	vgic_raise(&g, 0, 60);
	vgic_flush(&g, 1, 4);
	EXPECT_EQ(dread(ISPENDR + 4, 4), 1u << 28);
	EXPECT_EQ(dwrite(ICPENDR + 4, 4, 1u << 28), 2); /* kick the owner */
	vgic_sync(&g, 1);                               /* not acknowledged: dropped */
	EXPECT_EQ(dread(ISPENDR + 4, 4), 0);
	EXPECT(!vgic_flush(&g, 1, 4));
	vgic_sync(&g, 1);

	vgic_raise(&g, 0, 60);
	vgic_flush(&g, 1, 4);
	guest_ack(0);
	EXPECT_EQ(dwrite(ICACTIVER + 4, 4, 1u << 28), 2);
	vgic_sync(&g, 1); /* the write wins over the LR's active state */
	EXPECT_EQ(dread(ISACTIVER + 4, 4), 0);
	EXPECT(!vgic_has_pending(&g, 1));

	/* Rerouted while in an LR: it stays with vCPU 1 until vCPU 1 exits. */
	vgic_raise(&g, 0, 60);
	vgic_flush(&g, 1, 4);
	EXPECT_EQ(dwrite(IROUTER(60), 8, 0), 0);
	EXPECT(!vgic_flush(&g, 0, 4));
	vgic_sync(&g, 0);
	vgic_sync(&g, 1); /* not acknowledged: back to pending, now for vCPU 0 */
	EXPECT(vgic_has_pending(&g, 0));
	EXPECT(!vgic_has_pending(&g, 1));

	/* An active SPI stays with the vCPU it is active on, whatever the routing says. */
	vgic_flush(&g, 0, 4);
	guest_ack(0);
	vgic_sync(&g, 0);
	dwrite(IROUTER(60), 8, 1);
	EXPECT(!vgic_flush(&g, 1, 4));
	vgic_sync(&g, 1);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(LR_STATE(fake.lr[0]), 2);
	EXPECT_EQ(dwrite(ICENABLER + 4, 4, 1u << 28), 1); /* in vCPU 0's LR: kick it */
	guest_deactivate(0);
	vgic_sync(&g, 0);
	EXPECT_EQ(dread(ISACTIVER + 4, 4), 0);
}

TEST(hw_linked_interrupt)
{
	setup(1);
	dwrite(GICD_CTLR, 4, 2);
	enable_private(0, 27);
	EXPECT(vgic_link_hw(&g, 0, 27, 27));
	EXPECT_EQ(vgic_set_level(&g, 0, 27, true), 1);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(fake.lr[0], LR_P | LR_HW | LR_G1 | (27ull << 32) | 27); /* no EOI bit */
	guest_ack(0);
	EXPECT_EQ(vgic_set_level(&g, 0, 27, true), 1); /* fires again (a test's liberty) */
	vgic_sync(&g, 0);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(LR_STATE(fake.lr[0]), 2); /* never pending+active with HW=1 */
	guest_deactivate(0);
	vgic_sync(&g, 0);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(LR_STATE(fake.lr[0]), 1);
	fake.lr[0] = 0; /* acked and deactivated */
	vgic_sync(&g, 0);
	EXPECT(!vgic_has_pending(&g, 0)); /* the physical GIC holds the level, not the model */
}

/* The timer slot (vgic.h): LR0 holds the idle HW-linked timer PPI with no state; the IRQ
 * vector (played here by setting its pending bit) makes it pending without an exit. */
#define SLOT_LR (LR_HW | LR_G1 | (0x40ull << 48) | (27ull << 32) | 27)

TEST(timer_slot_armed_while_idle)
{
	setup(1);
	dwrite(GICD_CTLR, 4, 2);
	enable_private(0, 27);
	rwrite(SGI(0, IPRIORITYR + 27), 1, 0x40);
	EXPECT(!vgic_flush(&g, 0, 4));
	EXPECT_EQ(fake.lr[0], 0); /* not HW-linked: no slot */
	EXPECT(vgic_link_hw(&g, 0, 27, 27));
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(fake.lr[0], SLOT_LR);
	EXPECT_EQ(lr_valid_count(), 0);
	vgic_sync(&g, 0); /* nothing happened to it: it stays armed */
	EXPECT_EQ(fake.lr[0], SLOT_LR);

	/* Other interrupts go to the LRs after it. */
	enable_private(0, 3);
	rwrite(SGI(0, IPRIORITYR + 3), 1, 0x80);
	EXPECT_EQ(vgic_raise(&g, 0, 3), 1);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(fake.lr[0], SLOT_LR);
	EXPECT_EQ(LR_VINTID(fake.lr[1]), 3);
	EXPECT_EQ(LR_STATE(fake.lr[1]), 1);

	/* The timer fires: pending in the LR; the next exit makes it the interrupt's state. */
	fake.lr[0] |= LR_P;
	vgic_sync(&g, 0);
	EXPECT_EQ(fake.lr[0], 0);
	EXPECT(vgic_has_pending(&g, 0));
	EXPECT_EQ(rread(SGI(0, ISPENDR), 4), (1u << 27) | (1u << 3));
	EXPECT(vgic_audit(&g));
	vgic_flush(&g, 0, 4); /* pending: an ordinary LR, by priority first */
	EXPECT_EQ(fake.lr[0], SLOT_LR | LR_P);
	guest_ack(0);
	guest_deactivate(0);
	fake.lr[0] |= LR_P; /* fired again into that LR, idle with HW=1 as the slot is */
	vgic_sync(&g, 0);
	EXPECT_EQ(rread(SGI(0, ISPENDR), 4) >> 27 & 1, 1);
	rwrite(SGI(0, ICPENDR), 4, 1u << 27);
	rwrite(SGI(0, ICPENDR), 4, 1u << 3);

	/* Disabled, or its group off: no slot; back when enabled; put away with its vCPU. */
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(fake.lr[0], SLOT_LR);
	vgic_sync(&g, 0);
	rwrite(SGI(0, ICENABLER), 4, 1u << 27);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(fake.lr[0], 0);
	vgic_sync(&g, 0);
	enable_private(0, 27);
	dwrite(GICD_CTLR, 4, 0);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(fake.lr[0], 0);
	vgic_sync(&g, 0);
	dwrite(GICD_CTLR, 4, 2);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(fake.lr[0], SLOT_LR);
	vgic_sync(&g, 0);
	vgic_put(&g, 0);
	EXPECT_EQ(fake.lr[0], 0);
	EXPECT(vgic_audit(&g));
}

/* The virtual timer is a level (issue 10): a firing latched while its PPI was disabled, or
 * while the guest left it pending in an LR, ends at the next exit once the timer's output has
 * dropped, with the physical PPI deactivated; it stays while the output is high. */
TEST(timer_latch_follows_the_timer_output)
{
	setup(1);
	dwrite(GICD_CTLR, 4, 2);
	EXPECT(vgic_link_hw(&g, 0, 27, 27));
	EXPECT_EQ(vgic_raise(&g, 0, 27), 0); /* disabled: latched, no kick */
	vgic_sync(&g, 0);                    /* output high: it stays */
	EXPECT_EQ(rread(SGI(0, ISPENDR), 4), 1u << 27);
	EXPECT_EQ(fake.vtimer_lowers, 0);
	fake.vtimer_line = false;            /* the guest turned the timer off */
	vgic_sync(&g, 0);
	EXPECT_EQ(fake.vtimer_lowers, 0);    /* an exit alone costs nothing */
	vgic_timer_sample(&g, 0);            /* what mmio.c does before a vGIC access */
	EXPECT_EQ(rread(SGI(0, ISPENDR), 4), 0);
	EXPECT_EQ(fake.vtimer_lowers, 1);
	enable_private(0, 27);
	EXPECT(!vgic_has_pending(&g, 0));
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(fake.lr[0], SLOT_LR & ~(0x40ull << 48)); /* idle: only the slot, priority 0 */
	vgic_sync(&g, 0);
	EXPECT_EQ(fake.vtimer_lowers, 1);    /* nothing latched: nothing to lower */

	/* Pending in an LR while the guest has interrupts masked: the exit folds it back, and
	 * the next entry, about to give it again, finds the line dropped and takes it away. */
	fake.vtimer_line = true;
	fake.lr[0] |= LR_P;                  /* fired through the slot */
	vgic_sync(&g, 0);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(LR_STATE(fake.lr[0]), 1);
	EXPECT_EQ(fake.vtimer_lowers, 1);    /* the line was high: kept */
	fake.vtimer_line = false;            /* IMASK set, or CVAL moved on, before it was taken */
	vgic_sync(&g, 0);
	vgic_flush(&g, 0, 4);
	EXPECT_EQ(fake.vtimer_lowers, 2);
	EXPECT_EQ(LR_STATE(fake.lr[0]), 0);
	EXPECT(!vgic_has_pending(&g, 0));

	/* Active (taken, not yet deactivated): the guest's deactivation ends it, not the line. */
	fake.vtimer_line = true;
	fake.lr[0] |= LR_P;
	vgic_sync(&g, 0);
	vgic_flush(&g, 0, 4);
	guest_ack(0);
	fake.vtimer_line = false;
	vgic_sync(&g, 0);
	EXPECT_EQ(rread(SGI(0, ISACTIVER), 4), 1u << 27);
	EXPECT_EQ(fake.vtimer_lowers, 2);
	EXPECT(vgic_audit(&g));

	/* Not HW-linked (no timer behind it): the latch is the guest's and stays. */
	setup(1);
	fake.vtimer_line = false;
	rwrite(SGI(0, ISPENDR), 4, 1u << 27);
	vgic_sync(&g, 0);
	EXPECT_EQ(rread(SGI(0, ISPENDR), 4), 1u << 27);
}

TEST(sgi_to_self_goes_straight_to_its_lr)
{
	setup(2);
	dwrite(GICD_CTLR, 4, 2);
	enable_private(0, 5);
	EXPECT(!vgic_flush(&g, 0, 4));
	EXPECT(vgic_sgi_self(&g, 0, SGI1R(5, 0x1), 4));
	EXPECT_EQ(LR_VINTID(fake.lr[0]), 5);
	EXPECT_EQ(LR_STATE(fake.lr[0]), 1);
	EXPECT_EQ(fake.kicks, 0);
	EXPECT(!vgic_has_pending(&g, 0)); /* it is in the LR, not waiting for one */
	EXPECT(!vgic_sgi_self(&g, 0, SGI1R(5, 0x1), 4)); /* still pending there: general path */
	guest_ack(0);
	EXPECT(!vgic_sgi_self(&g, 0, SGI1R(5, 0x1), 4)); /* active: general path too */
	guest_deactivate(0);
	EXPECT(vgic_sgi_self(&g, 0, SGI1R(5, 0x1), 4)); /* finished with: pending there again */
	EXPECT_EQ(LR_STATE(fake.lr[0]), 1);
	EXPECT_EQ(lr_valid_count(), 1);
	EXPECT(!vgic_sgi_self(&g, 0, SGI1R(5, 0x2), 4));  /* to another vCPU */
	EXPECT(!vgic_sgi_self(&g, 0, SGI1R(5, 0x3), 4));  /* to itself and another */
	EXPECT(!vgic_sgi_self(&g, 0, SGI1R(5, 0x1) | (1ull << 40), 4)); /* IRM */
	EXPECT(!vgic_sgi_self(&g, 0, SGI1R(6, 0x1), 4));  /* disabled */
	EXPECT(!vgic_sgi_self(&g, 2, SGI1R(5, 0x4), 4));  /* no vCPU 2 */
	enable_private(0, 6);
	EXPECT(!vgic_sgi_self(&g, 0, SGI1R(6, 0x1), 1)); /* no free LR */
	EXPECT(vgic_sgi_self(&g, 0, SGI1R(6, 0x1), 4));
	EXPECT_EQ(LR_VINTID(fake.lr[1]), 6);
	vgic_sync(&g, 0); /* back from the LRs: both pending, neither lost */
	EXPECT_EQ(rread(SGI(0, ISPENDR), 4), (1u << 5) | (1u << 6));
	EXPECT(vgic_audit(&g));
	EXPECT_EQ(lr_valid_count(), 0);
}

TEST(quick_reads_are_full_reads)
{
	setup(3);
	dwrite(GICD_CTLR, 4, 3);
	rwrite(RD(1, GICR_WAKER), 4, 0);
	static const u64 dist_offs[] = { GICD_CTLR, GICD_TYPER, GICD_IIDR };
	static const u64 rd_offs[] = { GICR_CTLR, GICR_IIDR, GICR_TYPER, GICR_TYPER + 4, 0x10,
				       GICR_WAKER };
	u64 v;
	for (u32 i = 0; i < ARRAY_SIZE(dist_offs); i++)
		EXPECT(vgic_quick_read(&g, true, dist_offs[i], 4, &v) && v == dread(dist_offs[i], 4));
	for (u32 f = 0; f < 3; f++)
		for (u32 i = 0; i < ARRAY_SIZE(rd_offs); i++)
			EXPECT(vgic_quick_read(&g, false, RD(f, rd_offs[i]), 4, &v) &&
			       v == rread(RD(f, rd_offs[i]), 4));
	/* Anything else takes the full path, which decides. */
	EXPECT(!vgic_quick_read(&g, true, GICD_TYPER2, 4, &v));
	EXPECT(!vgic_quick_read(&g, true, ISPENDR, 4, &v));
	EXPECT(!vgic_quick_read(&g, true, GICD_CTLR, 1, &v));
	EXPECT(!vgic_quick_read(&g, true, GICD_TYPER + 2, 4, &v));
	EXPECT(!vgic_quick_read(&g, false, RD(0, GICR_TYPER), 8, &v));
	EXPECT(!vgic_quick_read(&g, false, RD(0, 0x18), 4, &v));
	EXPECT(!vgic_quick_read(&g, false, SGI(0, ISENABLER), 4, &v));
	EXPECT(!vgic_quick_read(&g, false, RD(3, GICR_CTLR), 4, &v));
}

TEST(init_resets_a_used_gic)
{
	setup(2);
	dwrite(GICD_CTLR, 4, 3);
	enable_spi(40);
	vgic_raise(&g, 0, 40);
	rwrite(RD(1, GICR_WAKER), 4, 0);
	dwrite(IROUTER(40), 8, 1);
	vgic_init(&g, 2);
	EXPECT_EQ(dread(GICD_CTLR, 4), 0x50);
	EXPECT_EQ(dread(ISENABLER + 4, 4), 0);
	EXPECT_EQ(dread(ISPENDR + 4, 4), 0);
	EXPECT_EQ(dread(IROUTER(40), 8), 0);
	EXPECT_EQ(rread(RD(1, GICR_WAKER), 4), 6);
	vgic_init(&g, 100); /* clamped to VGIC_MAX_VCPUS */
	EXPECT(redist_ok(RD(VGIC_MAX_VCPUS - 1, 0), 4, false));
	EXPECT(!redist_ok(RD(VGIC_MAX_VCPUS, 0), 4, false));
}

/* ---- fuzz ---- */

static u64 rng_state = 0x9e3779b97f4a7c15ull;

static u64 rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static u64 fuzz_offset(u64 limit)
{
	switch (rng() % 4) {
	case 0: return rng() % limit;
	case 1: return (rng() % limit) & ~3ull;
	case 2: return limit - 16 + rng() % 32; /* around the end */
	default: return rng();
	}
}

/* Random accesses, injections and guest behaviour, keeping only the call protocol (one sync
 * per flush, LRs changed only while "running"). ASan and UBSan judge; the test checks the
 * invariants it can. */
TEST(fuzz_never_crashes)
{
	static const u32 sizes[] = { 0, 1, 2, 3, 4, 8, 16 };
	for (u32 round = 0; round < 200; round++) {
		u32 vcpus = 1 + (u32)(rng() % VGIC_MAX_VCPUS);
		setup(vcpus);
		for (u32 v = 0; v < vcpus; v++)
			if (rng() & 1)
				vgic_link_hw(&g, v, 27, 27); /* the timer, with its LR0 slot */
		for (u32 step = 0; step < 2000; step++) {
			u64 v = rng(), q = 0, off;
			u32 kick = 0, size = sizes[rng() % ARRAY_SIZE(sizes)], who = (u32)(rng() % 10);
			bool write = rng() & 1, quick;
			switch (rng() % 8) {
			case 0: case 1:
				off = fuzz_offset(VGIC_GICD_SIZE);
				quick = !write && vgic_quick_read(&g, true, off, size, &q);
				if (vgic_dist_access(&g, off, size, write, &v, &kick) && !write && size < 8)
					EXPECT(v < 1ull << (size * 8));
				EXPECT(!quick || q == v); /* a quick read is the full read, when it answers */
				break;
			case 2: case 3:
				off = fuzz_offset(vcpus * VGIC_GICR_STRIDE);
				quick = !write && vgic_quick_read(&g, false, off, size, &q);
				if (vgic_redist_access(&g, off, size, write, &v, &kick) && !write && size < 8)
					EXPECT(v < 1ull << (size * 8));
				EXPECT(!quick || q == v);
				break;
			case 4: kick = vgic_set_level(&g, who, (u32)(rng() % 128), rng() & 1); break;
			case 5: kick = vgic_raise(&g, who, (u32)(rng() % 128)); break;
			case 6: kick = vgic_sgi(&g, who, rng()); break;
			default: {
				/* vCPU `who` runs: flush, the guest fiddles with its LRs (and sends itself
				 * SGIs, and its timer fires into the slot), sync. */
				u32 lrs = (u32)(rng() % 20), vcpu = who % vcpus;
				vgic_flush(&g, vcpu, lrs);
				u32 used = g.cpu[vcpu].lr_used, first = g.cpu[vcpu].slot != 0;
				EXPECT(used <= lrs && used <= VGIC_MAX_LRS);
				EXPECT(!first || (fake.lr[0] == g.cpu[vcpu].slot && !LR_STATE(fake.lr[0])));
				for (u32 i = first; i < used; i++) {
					EXPECT(LR_STATE(fake.lr[i]) != 0);
					if (rng() % 3 == 0)
						fake.lr[i] = rng(); /* even nonsense */
					else if (rng() & 1)
						guest_ack(i);
					else
						guest_deactivate(i);
				}
				if (first && (rng() & 1)) {
					fake.lr[0] |= LR_P; /* the IRQ vector */
					if (rng() & 1)
						guest_ack(0);
				}
				for (u32 n = (u32)(rng() % 3); n; n--)
					vgic_sgi_self(&g, vcpu, (rng() & ~0xffffull) | (1u << vcpu), lrs);
				if (rng() % 4 == 0)
					vgic_link_hw(&g, vcpu, (u32)(rng() % 100), (u32)(rng() % 1100));
				vgic_sync(&g, vcpu);
				EXPECT_EQ(lr_valid_count(), 0);
				if (rng() & 1) {
					vgic_put(&g, vcpu);
					EXPECT_EQ(fake.lr[0], 0);
				}
				(void)vgic_has_pending(&g, vcpu);
				break;
			}
			}
			EXPECT(kick < 1u << vcpus);
			EXPECT(vgic_audit(&g)); /* the sets of what wants an LR are never stale */
		}
	}
}
