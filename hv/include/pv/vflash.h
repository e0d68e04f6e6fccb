/* vflash.h: a firmware VM's two flash banks (docs/config.md, "Boot modes"), as QEMU virt has
 * them: CFI flash with Intel's command set, a 32-bit bus of two x16 chips side by side. Bank 0
 * holds the VM's image, every block locked; bank 1 is the VM's variables, the first
 * VFLASH_STORE bytes of it backed by memory the hypervisor keeps for the VM (and, with
 * `flash = "partition";`, by that partition of the board's disk), the rest locked and erased. In
 * read-array mode a bank's store is mapped read-only, so reads and instruction fetches cost
 * nothing; a write traps, and the bank reads status, query or ID data through the hypervisor
 * until the guest puts it back in read-array mode and reads it again. */
#ifndef PV_VFLASH_H
#define PV_VFLASH_H

#include <pv/spinlock.h>
#include <pv/types.h>

#define VFLASH_BLOCK 0x40000u   /* an erase block on the bus: 128 KiB in each chip */
#define VFLASH_STORE 0x200000u  /* bank 1's backed part: 8 blocks; 2 MiB, a stage-2 block */
#define VFLASH_MAP_AFTER 64u    /* read-array reads that trap before the store is mapped again */
#define VFLASH_BUF_WORDS 16u    /* a buffered program's bus writes, at most (CFI 0x2A: 32 B) */

struct vm;

struct vflash_bank {
	paddr_t store; /* backs the bank from its offset 0 */
	u32 size;      /* bytes backed, a multiple of 4 KiB: the rest reads erased */
	u8 mode;       /* enum in vflash.c */
	u8 status;     /* the status register, the same in both chips */
	u8 locked;     /* every block is locked: the code bank */
	u8 mapped;     /* its store is mapped read-only */
	u16 reads;     /* read-array reads trapped since it was last written */
	u16 left;      /* buffered program: bus writes still to come */
	u32 lo, hi;    /* what the operation under way changed: [lo, hi) */
};

struct vflash {
	struct spinlock lock;
	struct vflash_bank bank[2];
	u64 part_start, part_sectors; /* its partition (blk_attach), or 0 sectors: memory only */
};

/* At VM creation: bank 0 is the image in the bundle, bank 1 the store at pa, erased. */
void vflash_init(struct vm *vm, paddr_t store);
/* The flash as after a reset of the VM: both banks in read-array mode and mapped. */
void vflash_reset(struct vm *vm);
/* A trapped access to [0, 2 banks): false when the VM has no flash (not a firmware VM). */
bool vflash_access(struct vm *vm, u64 ipa, u32 size, bool write, u64 *val);
/* An instruction abort at ipa: true when it was a bank in read-array mode, mapped again now
 * (the guest retries the fetch). */
bool vflash_fetch(struct vm *vm, u64 ipa);
/* After blk_attach found its partition: the store as the partition holds it. */
void vflash_attach(struct vm *vm);

#endif
