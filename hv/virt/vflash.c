/* vflash.c: CFI flash banks for firmware VMs (vflash.h): the Intel/Sharp command set (CFI
 * command set 0x0001) that U-Boot's and EDK2's drivers for QEMU virt use: read array, read
 * status, clear status, read ID, CFI query, word program, buffered program, block erase and
 * block lock setup. Two x16 chips share the 32-bit bus, so a command is the low byte of a write
 * and a status, ID or query value is the 16-bit answer of one chip in each half of a read. Every
 * operation completes at once. Programming only clears bits, as on a real part; an operation on a
 * locked block, or outside the backed part, sets the error bits it would on a locked block. */
#include <pv/arch.h>
#include <pv/log.h>
#include <pv/provider.h>
#include <pv/string.h>
#include <pv/vflash.h>
#include <pv/virtio.h>
#include <pv/vm.h>

enum { ARRAY, STATUS, QUERY, ID, PROGRAM, ERASE, LOCK, BUF_COUNT, BUF_DATA, BUF_CONFIRM };

#define SR_READY 0x80u
#define SR_ERASE_ERR 0x20u
#define SR_PROGRAM_ERR 0x10u
#define SR_SEQUENCE_ERR (SR_ERASE_ERR | SR_PROGRAM_ERR)
#define SR_LOCKED 0x02u

/* The CFI query table (JESD68) from offset 0x10, per chip; zero elsewhere. */
static const u8 cfi[] = {
	'Q', 'R', 'Y', 0x01, 0x00, 0x31, 0x00, 0, 0, 0, 0, /* Intel command set, table at 0x31 */
	0x45, 0x55, 0, 0,             /* Vcc 4.5-5.5 V, no Vpp */
	7, 7, 10, 0, 4, 4, 4, 0,      /* typical and maximum times: word, buffer, block, chip */
	25, 0x01, 0x00, 5, 0,         /* 32 MiB per chip, x16, 32-byte write buffer */
	1, 0xff, 0x00, 0x00, 0x02,    /* one region: 256 blocks of 128 KiB */
	'P', 'R', 'I', '1', '0',      /* the primary extended table: no optional features */
};

static bool has_flash(const struct vm *vm)
{
	return (vm->cfg->flags & PVB_VM_FIRMWARE) != 0;
}

static void map(struct vm *vm, u32 n, bool on)
{
	struct vflash_bank *b = &vm->flash.bank[n];
	if (b->mapped != on)
		arch_s2_map_rom(vm, n * PVB_FLASH_BANK, b->store, b->size, on);
	b->mapped = on;
}

void vflash_init(struct vm *vm, paddr_t store)
{
	const struct pvb_blob *img = &vm->cfg->image;
	struct vflash_bank *b = vm->flash.bank;
	b[0] = (struct vflash_bank){ pa_init((u64)(uintptr_t)(vm->bundle + img->offset)),
				     (u32)ALIGN_UP(img->size, KiB(4)), ARRAY, SR_READY, 1, 0, 0, 0,
				     ~0u, 0 };
	b[1] = (struct vflash_bank){ store, VFLASH_STORE, ARRAY, SR_READY, 0, 0, 0, 0, ~0u, 0 };
	memset(pa_ptr(store), 0xff, VFLASH_STORE);
}

void vflash_reset(struct vm *vm)
{
	for (u32 n = 0; n < 2; n++) {
		vm->flash.bank[n].mode = ARRAY;
		vm->flash.bank[n].status = SR_READY;
		map(vm, n, true);
	}
}

/* What the current operation changed, [lo, hi) of bank 1's store, written to its partition. */
static void flush(struct vm *vm, struct vflash_bank *b)
{
	struct vflash *f = &vm->flash;
	u8 *p = pa_ptr(b->store);
	spin_lock(&virtio_lock);
	for (u32 s = b->lo / 512; s < (b->hi + 511) / 512 && s < f->part_sectors; s++)
		if (!pblk_sync(PBLK_OUT, f->part_start + s, p + s * 512)) {
			log_guest(vm, "flash: cannot write sector %u of its partition", s);
			break;
		}
	spin_unlock(&virtio_lock);
	b->lo = ~0u, b->hi = 0;
}

/* Whether [off, off+len) may change; if not, the error bits a locked block sets. */
static bool writable(struct vm *vm, struct vflash_bank *b, u32 off, u32 len, u8 err)
{
	if (!b->locked && len <= b->size && off <= b->size - len) {
		b->lo = off < b->lo ? off : b->lo;
		b->hi = off + len > b->hi ? off + len : b->hi;
		return true;
	}
	b->status |= err | SR_LOCKED;
	log_guest(vm, "flash: %s at %#lx refused: the block is locked",
		  err == SR_ERASE_ERR ? "erase" : "program",
		  (u64)(b - vm->flash.bank) * (u64)PVB_FLASH_BANK + off);
	return false;
}

/* Programming clears the bits that are 0 in val, and only those. */
static void program(struct vm *vm, struct vflash_bank *b, u32 off, u32 size, u64 val)
{
	u8 now[8];
	const u8 *p = pa_ptr(b->store);
	if (!writable(vm, b, off, size, SR_PROGRAM_ERR))
		return;
	for (u32 i = 0; i < size; i++)
		now[i] = (u8)(val >> (8 * i)) & p[off + i];
	arch_copy_to_ram(pa_add(b->store, off), now, size);
}

static void erase(struct vm *vm, struct vflash_bank *b, u32 off)
{
	static const u8 ones[64] = { [0 ... 63] = 0xff };
	off &= ~(VFLASH_BLOCK - 1);
	if (writable(vm, b, off, VFLASH_BLOCK, SR_ERASE_ERR))
		for (u32 i = 0; i < VFLASH_BLOCK; i += sizeof(ones))
			arch_copy_to_ram(pa_add(b->store, off + i), ones, sizeof(ones));
}

/* A write in a mode that waits for no data: a command. */
static void command(struct vflash_bank *b, u8 cmd)
{
	switch (cmd) {
	case 0x70: b->mode = STATUS; break;
	case 0x90: b->mode = ID; break;
	case 0x98: b->mode = QUERY; break;
	case 0x50: b->status = SR_READY; break; /* clear status: the read mode stays */
	case 0x10:
	case 0x40: b->mode = PROGRAM; break;
	case 0x20: b->mode = ERASE; break;
	case 0x60: b->mode = LOCK; break;
	case 0xe8: b->mode = BUF_COUNT; break;
	case 0xd0:
	case 0x01: b->status |= SR_SEQUENCE_ERR, b->mode = STATUS; break; /* a lone confirm */
	default: b->mode = ARRAY; break; /* 0xff, and AMD's 0xf0 probes: read array */
	}
}

static void write(struct vm *vm, struct vflash_bank *b, u32 off, u32 size, u64 val)
{
	u8 cmd = (u8)val;
	b->reads = 0;
	switch (b->mode) {
	case PROGRAM:
		program(vm, b, off, size, val);
		b->mode = STATUS;
		break; /* word, buffer, block: each is written to the partition when done */
	case ERASE:
		if (cmd == 0xd0)
			erase(vm, b, off);
		else
			b->status |= SR_SEQUENCE_ERR;
		b->mode = STATUS;
		break;
	case LOCK: /* lock, unlock, lock-down: the locks are fixed, as with WP# held low */
		if (cmd != 0x01 && cmd != 0xd0 && cmd != 0x2f)
			b->status |= SR_SEQUENCE_ERR;
		b->mode = STATUS;
		break;
	case BUF_COUNT:
		b->left = (u16)((val & 0xffff) + 1);
		b->mode = BUF_DATA;
		if (b->left > VFLASH_BUF_WORDS)
			b->status |= SR_SEQUENCE_ERR, b->mode = STATUS;
		break;
	case BUF_DATA:
		program(vm, b, off, size, val);
		if (--b->left == 0)
			b->mode = BUF_CONFIRM;
		break;
	case BUF_CONFIRM:
		if (cmd != 0xd0)
			b->status |= SR_SEQUENCE_ERR;
		b->mode = STATUS;
		break;
	default: command(b, cmd); break;
	}
	if (b->mode == STATUS && b->hi && vm->flash.part_sectors)
		flush(vm, b);
}

static u64 read(struct vm *vm, u32 n, u32 off, u32 size)
{
	struct vflash_bank *b = &vm->flash.bank[n];
	const u8 *p = pa_ptr(b->store);
	u64 v = 0, one = 0;
	u32 i = off / 4;
	if (b->mode == ARRAY) {
		for (u32 k = size; k--;)
			v = v << 8 | (off + k < b->size ? p[off + k] : 0xff);
		if (++b->reads >= VFLASH_MAP_AFTER)
			map(vm, n, true);
		return v;
	}
	if (b->mode == QUERY)
		one = i >= 0x10 && i - 0x10 < sizeof(cfi) ? cfi[i - 0x10] : 0;
	else if (b->mode == ID)
		one = (i % (VFLASH_BLOCK / 4) == 0) ? 0x89 : (i % (VFLASH_BLOCK / 4) == 1) ? 0x18 :
		      (i % (VFLASH_BLOCK / 4) == 2) ? b->locked : 0;
	else
		one = b->status;
	for (u32 k = 0; k < size; k += 2)
		v |= one << (8 * k);
	return v;
}

bool vflash_access(struct vm *vm, u64 ipa, u32 size, bool write_, u64 *val)
{
	if (!has_flash(vm))
		return false;
	u32 n = (u32)(ipa / PVB_FLASH_BANK), off = (u32)(ipa % PVB_FLASH_BANK);
	spin_lock(&vm->flash.lock);
	if (write_) {
		map(vm, n, false);
		write(vm, &vm->flash.bank[n], off, size, *val);
	} else {
		*val = read(vm, n, off, size);
	}
	spin_unlock(&vm->flash.lock);
	return true;
}

bool vflash_fetch(struct vm *vm, u64 ipa)
{
	u32 n = (u32)(ipa / PVB_FLASH_BANK);
	struct vflash_bank *b = &vm->flash.bank[n % 2];
	bool ok = has_flash(vm) && n < 2 && b->mode == ARRAY && !b->mapped &&
		  ipa % PVB_FLASH_BANK < b->size;
	if (ok) {
		spin_lock(&vm->flash.lock);
		map(vm, n, true);
		spin_unlock(&vm->flash.lock);
	}
	return ok;
}

void vflash_attach(struct vm *vm)
{
	struct vflash *f = &vm->flash;
	u8 *p = pa_ptr(f->bank[1].store);
	if (f->part_sectors > VFLASH_STORE / 512)
		f->part_sectors = VFLASH_STORE / 512;
	/* Blocks the partition cannot hold are locked, so nothing written is lost at power off. */
	map(vm, 1, false);
	f->bank[1].size = (u32)(f->part_sectors * 512) & ~(VFLASH_BLOCK - 1);
	map(vm, 1, true);
	for (u32 s = 0; s < f->part_sectors; s++)
		if (!pblk_sync(PBLK_IN, f->part_start + s, p + s * 512)) {
			log_warn(vm, "flash: cannot read sector %u of its partition", s);
			break;
		}
}
