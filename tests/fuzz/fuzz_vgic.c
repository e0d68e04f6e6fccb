/* fuzz_vgic.c: the vGIC's register file (hv/virt/vgic.c): GICD and GICR reads and writes of
 * every width at every offset, interleaved with injections and vCPU runs that play the guest's
 * side of the list registers, on a VM of 1 to 4 vCPUs set up as tests/unit/test_vgic.c does. */
#include <stdio.h>
#include <string.h>
#include <pv/vgic.h>
#include "fake.h"
#include "fuzz.h"

#define LR_P (1ull << 62)
#define LR_A (1ull << 63)
#define LR_STATE(lr) ((lr) >> 62)
#define MAX_OPS 64u /* bounds one input's work: the fuzzer favours short, fast inputs */

static struct vgic g;

/* Widths the spec allows and some it does not (0, 3, 16), so refusals are exercised too. */
static const u32 sizes[8] = { 1, 2, 4, 8, 0, 3, 16, 4 };

/* One access to the distributor (dist) or the redistributors; a quick read, when it answers,
 * must be what the full read says, and a read never returns bits wider than the access. */
static void access(struct fuzz_in *in, u8 op, bool dist, u32 vcpus)
{
	u64 limit = dist ? VGIC_GICD_SIZE : vcpus * VGIC_GICR_STRIDE;
	u64 off = op & 0x80 ? fuzz_u64(in) : fuzz_u32(in) % limit, q = 0, v = 0;
	u32 size = sizes[(op >> 3) & 7], kick = 0;
	bool write = op & 0x40, ok, quick;
	if (write)
		v = fuzz_u64(in);
	quick = !write && vgic_quick_read(&g, dist, off, size, &q);
	ok = dist ? vgic_dist_access(&g, off, size, write, &v, &kick)
		  : vgic_redist_access(&g, off, size, write, &v, &kick);
	FUZZ_ASSERT(!quick || (ok && q == v));
	FUZZ_ASSERT(!ok || write || size >= 8 || v < 1ull << (size * 8));
	FUZZ_ASSERT(kick < 1u << vcpus);
}

/* vCPU `vcpu` runs: flush, the guest acknowledges, deactivates or scribbles on its LRs (and
 * sends itself SGIs, and its timer fires into the slot), then sync, exactly once each. A core
 * has 1 to 16 LRs (ICH_VTR_EL2.ListRegs + 1): never 0, which vgic_flush's shortcut for "nothing
 * changed" does not consider (it would leave the timer slot in an LR the core lacks). */
static void run(struct fuzz_in *in, u32 vcpus)
{
	u8 how = fuzz_u8(in);
	u32 vcpu = how % vcpus, lrs = 1 + fuzz_u8(in) % 16;
	/* What wants an LR is never stale where it is used: checked here, before each flush, and
	 * at the end of the input (after every step, the check took most of the time). */
	FUZZ_ASSERT(vgic_audit(&g));
	vgic_flush(&g, vcpu, lrs);
	u32 used = g.cpu[vcpu].lr_used, first = g.cpu[vcpu].slot != 0;
	FUZZ_ASSERT(used <= lrs && used <= VGIC_MAX_LRS);
	for (u32 i = first; i < used; i++) {
		FUZZ_ASSERT(LR_STATE(fake.lr[i]) != 0);
		switch (fuzz_u8(in) & 3) {
		case 0: fake.lr[i] = fuzz_u64(in); break; /* even nonsense */
		case 1: fake.lr[i] = (fake.lr[i] & ~(LR_P | LR_A)) | LR_A; break; /* acknowledge */
		case 2: fake.lr[i] &= ~LR_A; break; /* deactivate */
		default: break;
		}
	}
	if (first && (how & 0x10))
		fake.lr[0] |= how & 0x20 ? LR_A : LR_P; /* the EL2 IRQ vector, then maybe an ack */
	for (u32 n = (how >> 6) & 3; n; n--)
		vgic_sgi_self(&g, vcpu, (fuzz_u64(in) & ~0xffffull) | (1u << vcpu), lrs);
	vgic_sync(&g, vcpu);
	for (u32 i = 0; i < ARRAY_SIZE(fake.lr); i++)
		FUZZ_ASSERT(LR_STATE(fake.lr[i]) == 0); /* sync empties what it read */
	if (how & 0x08)
		vgic_put(&g, vcpu);
	(void)vgic_has_pending(&g, vcpu);
}

static void step(struct fuzz_in *in, u32 vcpus)
{
	u8 op = fuzz_u8(in);
	u32 who = fuzz_u8(in) % 10, kick = 0; /* 8 and 9: vCPUs the VM does not have */
	switch (op & 7) {
	case 0: case 1: access(in, op, true, vcpus); break;
	case 2: case 3: access(in, op, false, vcpus); break;
	case 4: kick = vgic_set_level(&g, who, fuzz_u8(in), op & 0x80); break;
	case 5: kick = vgic_raise(&g, who, fuzz_u8(in)); break;
	case 6: kick = vgic_sgi(&g, who, fuzz_u64(in)); break;
	default:
		if (op & 0x80)
			(void)vgic_link_hw(&g, who, fuzz_u8(in), fuzz_u16(in) % 1100);
		else
			run(in, vcpus);
		break;
	}
	FUZZ_ASSERT(kick < 1u << vcpus);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	u8 first = fuzz_u8(&in);
	u32 vcpus = 1 + (first & 3);
	fake_reset();
	memset(&g, 0xa5, sizeof(g)); /* vgic_init must not rely on zeroed memory... */
	g.lock.taken = 0;            /* ...except for the lock, which is taken first */
	vgic_init(&g, vcpus);
	for (u32 v = 0; v < vcpus; v++)
		if (first & (0x10u << v))
			vgic_link_hw(&g, v, 27, 27); /* the timer, with its LR0 slot */
	for (u32 n = 0; n < MAX_OPS && in.n; n++)
		step(&in, vcpus);
	FUZZ_ASSERT(vgic_audit(&g));
	return 0;
}
