/* mmu.c: the hypervisor's own (EL2) translation: 4 GiB identity map, devices below RAM; and
 * how EL2 writes VM RAM through it for a guest that starts with its MMU off. */
#include <pv/arch.h>
#include <pv/string.h>
#include <board.h>
#include "aarch64.h"
#include "sysreg.h"

/* T0SZ=32 starts the walk at level 1 with a 4-entry table (D8.2.6): the first gigabyte holds
 * the board's devices, the rest is RAM. The gigabyte the hypervisor lives in is split into
 * 2 MiB blocks so that the RAM after its reserved part can change attributes on its own. Both
 * tables are written whole before use, so they are not cleared with .bss. */
static u64 el2_l1[4] __attribute__((aligned(64), section(".noinit.mmu")));
static u64 el2_l2[512] __attribute__((aligned(4096), section(".noinit.mmu")));
static bool ram_cached;
static u64 ram_top; /* VM RAM is zeroed below this, from HV_END */

#define TCR_EL2_RES1 (BIT(31) | BIT(23))
#define TCR_T0SZ(n) ((u64)(n))
#define TCR_IRGN0_WB (1ull << 8)
#define TCR_ORGN0_WB (1ull << 10)
#define TCR_SH0_INNER (3ull << 12)
#define TCR_PS_40BIT (2ull << 16)
#define MAIR_DEVICE_NGNRNE 0x00ull
#define MAIR_NORMAL_WB 0xffull
#define MAIR_NORMAL_NC 0x44ull
#define S1_ATTR_NORMAL_NC (2ull << 2) /* MAIR index 2 */
#define SCTLR_EL2_RES1 0x30c50830ull
#define SCTLR_M BIT(0)
#define SCTLR_C BIT(2)
#define SCTLR_SA BIT(3)
#define SCTLR_I BIT(12)

#define RAM_WB (PTE_BLOCK | PTE_AF | PTE_SH_INNER | S1_ATTR_NORMAL)
#define RAM_NC (PTE_BLOCK | PTE_AF | PTE_SH_INNER | S1_ATTR_NORMAL_NC)
#define HV_BLOCKS (PLAT_HV_RESERVED >> 21)
#define HV_END (PLAT_RAM_BASE + PLAT_HV_RESERVED)
#define GIB (1ull << 30)
_Static_assert(PLAT_RAM_BASE == GIB && PLAT_HV_RESERVED <= GIB, "RAM as mmu.c maps it");

/* n (even) entries: desc, desc + step, ... */
static void fill(u64 *e, u64 n, u64 desc, u64 step)
{
	for (u64 *end = e + n; e < end; e += 2, desc += 2 * step)
		e[0] = desc, e[1] = desc + step;
}

/* Up to end (2 MiB aligned), the RAM VMs get, as 2 MiB blocks in the hypervisor's gigabyte and
 * 1 GiB blocks above it; attrs 0: invalid entries. */
static void map_vm_ram(u64 end, u64 attrs)
{
	u64 on = attrs ? ~0ull : 0, top = end < 2 * GIB ? end : 2 * GIB;
	fill(&el2_l2[HV_BLOCKS], (((top - HV_END) >> 21) + 1) & ~1ull,
	     (HV_END & on) | attrs, MiB(2) & on);
	el2_l1[2] = (2 * GIB & on) | attrs;
	el2_l1[3] = (3 * GIB & on) | attrs;
}

/* Runs on each core with its MMU still off; the primary fills the tables first, and the others
 * only start after the primary's PSCI CPU_ON, which orders the stores before them. VM RAM
 * starts non-cacheable (arch_zero_ram). FP/SIMD is not trapped: arch_zero uses it, and guests
 * have it switched eagerly. */
void mmu_enable(u64 cpu)
{
	if (cpu == 0) {
		el2_l1[0] = 0 | PTE_BLOCK | PTE_AF | S1_ATTR_DEVICE | PTE_XN;
		el2_l1[1] = (u64)(uintptr_t)el2_l2 | PTE_TABLE;
			fill(el2_l2, HV_BLOCKS, PLAT_RAM_BASE | RAM_WB, MiB(2));
		map_vm_ram(2 * GIB, RAM_NC);
		dsb(sy);
	}
	write_sysreg(cptr_el2, 0x33ff); /* RES1 bits only */
	write_sysreg(mair_el2, MAIR_DEVICE_NGNRNE | (MAIR_NORMAL_WB << 8) | (MAIR_NORMAL_NC << 16));
	write_sysreg(tcr_el2, TCR_EL2_RES1 | TCR_T0SZ(32) | TCR_IRGN0_WB | TCR_ORGN0_WB |
				      TCR_SH0_INNER | TCR_PS_40BIT);
	write_sysreg(ttbr0_el2, (u64)(uintptr_t)el2_l1);
	isb();
	__asm__ volatile("tlbi alle2\n dsb nsh" ::: "memory");
	write_sysreg(sctlr_el2, SCTLR_EL2_RES1 | SCTLR_M | SCTLR_C | SCTLR_SA | SCTLR_I);
	isb();
}

/* Every VM is built: the RAM they got (up to ram_top) becomes write-back cached for every
 * core; the rest stays uncached, which EL2 never touches. A change of cacheability needs
 * break-before-make (D8.14.1): invalid entries and their TLB entries gone everywhere before the
 * new ones are written. */
void arch_ram_cached(void)
{
	map_vm_ram(ram_top, 0);
	__asm__ volatile("dsb ishst\n tlbi alle2is\n dsb ish" ::: "memory");
	map_vm_ram(ram_top, RAM_WB);
	dsb(ishst);
	isb();
	ram_cached = true;
}

static u64 dcache_line(void)
{
	return 4ull << FIELD(read_sysreg(ctr_el0), 19, 16); /* CTR_EL0.DminLine */
}

/* v16-v19 = 0 for ST1: clobbered only at boot, before any guest owns them. */
static void simd_zero(void)
{
	__asm__ volatile("movi v16.16b, #0\n movi v17.16b, #0\n movi v18.16b, #0\n movi v19.16b, #0"
			 ::: "v16", "v17", "v18", "v19");
}

/* Hypervisor memory at boot (.bss, stage-2 tables), cached: size a multiple of 256 bytes,
 * 64 an ST1. */
void arch_zero(void *p, u64 size)
{
	simd_zero();
	for (u64 a = (u64)(uintptr_t)p, end = a + size; a < end;)
		__asm__ volatile(".rept 4\n st1 {v16.2d-v19.2d}, [%0], #64\n .endr" : "+r"(a) : : "memory");
}

/* VM RAM before arch_ram_cached: EL2 maps it non-cacheable and nothing maps it cacheable
 * anywhere (no guest has run), so stores land in memory, the point of coherency a guest with
 * its MMU off reads, and no cache can take a line of it meanwhile. DC IVAC drops any line a
 * loader or an earlier boot left, which a guest with caches on would read instead of the
 * zeroes; by VA it acts whatever the VA's attributes, and its order against the stores does not
 * matter, as neither sees the other. It comes every 64 bytes, so lines of 64 bytes or more are
 * each dropped (smaller lines: a pass of their own first); one ST1 zeroes 64 bytes and steps
 * the address. pa and size are 2 MiB aligned. */
void arch_zero_ram(paddr_t pa, u64 size)
{
	u64 a = pa.pa, end = pa.pa + size, line = dcache_line();
	for (u64 l = a; line < 64 && l < end; l += line)
		__asm__ volatile("dc ivac, %0" : : "r"(l) : "memory");
	simd_zero();
	while (a < end)
		__asm__ volatile(".rept 32\n dc ivac, %0\n st1 {v16.2d-v19.2d}, [%0], #64\n .endr"
				 : "+r"(a) : : "memory");
	dsb(sy);
	ram_top = end; /* VMs are built in the order of their RAM */
}

/* Through the cache with DC ZVA (which EL2 may always use; DCZID_EL0.BS is the log2 of its
 * block in words), then cleaned to the point of coherency line by line: a guest that boots with
 * its MMU off reads memory, not the cache. Two plain loops: one loop doing both per block
 * measured 20% more instructions (docs/performance.md, "manage: stop"). */
void arch_wipe_ram(paddr_t pa, u64 size)
{
	u64 block = 4ull << (read_sysreg(dczid_el0) & 0xf), line = dcache_line();
	for (u64 a = pa.pa; a < pa.pa + size; a += block)
		__asm__ volatile("dc zva, %0" : : "r"(a) : "memory");
	for (u64 a = pa.pa; a < pa.pa + size; a += line)
		__asm__ volatile("dc cvac, %0" : : "r"(a) : "memory");
	dsb(sy);
}

/* Into RAM that arch_zero_ram prepared: a plain copy, 64 bytes an LD1/ST1 pair. Later (a
 * reset) through the cache, then cleaned to the point of coherency. */
void arch_copy_to_ram(paddr_t pa, const void *src, u64 size)
{
	u8 *d = pa_ptr(pa);
	const u8 *s = src;
	bool cached = ram_cached;
	for (; !cached && size >= 64; size -= 64)
		__asm__ volatile("ld1 {v16.16b-v19.16b}, [%1], #64\n st1 {v16.16b-v19.16b}, [%0], #64"
				 : "+r"(d), "+r"(s) : : "memory", "v16", "v17", "v18", "v19");
	memcpy(d, s, size);
	for (u64 line = dcache_line(), a = pa.pa & ~(line - 1); cached && a < pa.pa + size; a += line)
		__asm__ volatile("dc cvac, %0" : : "r"(a) : "memory");
	dsb(sy);
}
