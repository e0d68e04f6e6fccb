/* s2.c: stage-2 tables per VM: 32-bit guest-physical space, 4 KiB granule, 2 MiB blocks. */
#include <pv/arch.h>
#include <pv/log.h>
#include <pv/string.h>
#include <pv/vm.h>
#include "aarch64.h"
#include "sysreg.h"

/* VTCR_EL2 (D13.2.151): T0SZ=32 with SL0=1 starts the walk at level 1 with a 4-entry table. */
#define VTCR_RES1 BIT(31)
#define VTCR_T0SZ(n) ((u64)(n))
#define VTCR_SL0_L1 (1ull << 6)
#define VTCR_IRGN0_WB (1ull << 8)
#define VTCR_ORGN0_WB (1ull << 10)
#define VTCR_SH0_INNER (3ull << 12)
#define VTCR_PS_40BIT (2ull << 16)
#define VTCR_VALUE (VTCR_RES1 | VTCR_T0SZ(32) | VTCR_SL0_L1 | VTCR_IRGN0_WB | VTCR_ORGN0_WB | \
		    VTCR_SH0_INNER | VTCR_PS_40BIT)

/* Tables come from one pool: a root per VM plus a level-2 table per gigabyte a VM touches, and
 * level-3 tables only where a mapping is not 2 MiB aligned. */
#define S2_POOL_PAGES 48
typedef u64 table_t[512];
static table_t pool[S2_POOL_PAGES] __attribute__((aligned(4096), section(".noinit.s2")));
static u32 pool_used;

static u64 *table_alloc(void)
{
	if (pool_used == S2_POOL_PAGES)
		return NULL;
	u64 *t = pool[pool_used++];
	arch_zero(t, sizeof(table_t)); /* not cleared at boot */
	return t;
}

void arch_s2_init(struct vm *vm)
{
	u64 *root = table_alloc();
	CHECK(root != NULL); /* the pool has a root for every VM the bundle may hold */
	vm->vttbr = (u64)(uintptr_t)root | ((u64)(vm->id + 1) << 48);
}

u32 arch_s2_free(void)
{
	return S2_POOL_PAGES - pool_used;
}

/* Every core translates every VM's stage 2 the same way. */
void s2_init_cpu(void)
{
	write_sysreg(vtcr_el2, VTCR_VALUE);
}

/* The next-level table behind entry *e, created on first use. */
static u64 *next_table(u64 *e)
{
	if (!(*e & PTE_VALID)) {
		u64 *t = table_alloc();
		if (!t)
			return NULL;
		*e = (u64)(uintptr_t)t | PTE_TABLE;
	}
	return (u64 *)(uintptr_t)(*e & PTE_ADDR_MASK);
}

/* Sets [ipa, ipa+size) to pa onwards with attrs, or clears it (attrs 0): 2 MiB blocks where
 * both addresses are aligned, 4 KiB pages elsewhere. */
static bool s2_set(struct vm *vm, u64 ipa, paddr_t pa, u64 size, u64 attrs)
{
	u64 *root = (u64 *)(uintptr_t)(vm->vttbr & PTE_ADDR_MASK);
	u64 keep = attrs ? ~0ull : 0;

	while (size) {
		u64 *l2 = next_table(&root[FIELD(ipa, 31, 30)]);
		if (!l2)
			return false;
		u64 *e2 = &l2[FIELD(ipa, 29, 21)];
		if (IS_ALIGNED(ipa | pa.pa, MiB(2)) && size >= MiB(2)) {
			*e2 = (pa.pa | PTE_BLOCK | attrs) & keep;
			ipa += MiB(2), pa.pa += MiB(2), size -= MiB(2);
			continue;
		}
		u64 *l3 = next_table(e2);
		if (!l3)
			return false;
		l3[FIELD(ipa, 20, 12)] = (pa.pa | PTE_PAGE | attrs) & keep;
		ipa += KiB(4), pa.pa += KiB(4), size -= KiB(4);
	}
	dsb(ishst);
	return true;
}

bool arch_s2_map(struct vm *vm, u64 ipa, paddr_t pa, u64 size)
{
	return s2_set(vm, ipa, pa, size, PTE_AF | PTE_SH_INNER | S2_AP_RW | S2_MEMATTR_NORMAL);
}

bool arch_s2_map_rom(struct vm *vm, u64 ipa, paddr_t pa, u64 size, bool map)
{
	bool ok = s2_set(vm, ipa, pa, size,
			 map ? PTE_AF | PTE_SH_INNER | S2_AP_RO | S2_MEMATTR_NORMAL : 0);
	if (!map)
		arch_s2_flush(vm);
	return ok;
}

/* Device-nGnRE and never executable, whatever the guest's stage 1 says; page by page, as
 * device regions are small. The caller keeps them out of RAM, which is mapped in blocks. */
bool arch_s2_map_device(struct vm *vm, u64 pa, u64 size)
{
	u64 *root = (u64 *)(uintptr_t)(vm->vttbr & PTE_ADDR_MASK);
	for (; size; pa += KiB(4), size -= KiB(4)) {
		u64 *l2 = next_table(&root[FIELD(pa, 31, 30)]);
		u64 *l3 = l2 ? next_table(&l2[FIELD(pa, 29, 21)]) : NULL;
		if (!l3)
			return false;
		l3[FIELD(pa, 20, 12)] = pa | PTE_PAGE | PTE_AF | S2_AP_RW | S2_MEMATTR_DEVICE | PTE_XN;
	}
	dsb(ishst);
	return true;
}

/* Drops the VM's stage-1 and stage-2 TLB entries everywhere; the VM's VMID must be current. */
void arch_s2_flush(struct vm *vm)
{
	u64 saved = read_sysreg(vttbr_el2);
	write_sysreg(vttbr_el2, vm->vttbr);
	isb();
	__asm__ volatile("tlbi vmalls12e1is\n dsb ish" ::: "memory");
	write_sysreg(vttbr_el2, saved);
	isb();
}
