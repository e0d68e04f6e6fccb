/* elf.c: placing an ELF64 AArch64 executable by its PT_LOAD segments, as one flat payload. */
#include <elf.h>
#include <string.h>

#include "pvpack.h"

int elf_detect(const struct image_file *f)
{
	return f->head_size >= SELFMAG && memcmp(f->head, ELFMAG, SELFMAG) == 0;
}

static int ehdr_ok(const struct node_ctx *c, const struct image_file *f, Elf64_Ehdr *eh)
{
	const char *why = NULL;
	if (f->head_size < sizeof(*eh) || f->head[EI_CLASS] != ELFCLASS64 ||
	    f->head[EI_DATA] != ELFDATA2LSB)
		why = "is an ELF file but not ELF64 little-endian";
	else if (memcpy(eh, f->head, sizeof(*eh)), eh->e_machine != EM_AARCH64)
		why = "is an ELF file for another machine than AArch64";
	else if (eh->e_type != ET_EXEC)
		why = "is an ELF file but not an executable (ET_EXEC)";
	else if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > f->size ||
		 (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > f->size - eh->e_phoff)
		why = "has program headers outside the file";
	if (why)
		diag_report(c->diag, c->path, "image: \"%s\" %s", f->path, why);
	return !why;
}

/* `load` and `entry` would only be a second source of truth next to the ELF headers. */
static int no_overrides(const struct node_ctx *c)
{
	uint64_t v;
	int ok = 1;
	if (node_u64(c, "load", 0, &v) != PROP_ABSENT) {
		diag_report(c->diag, c->path,
			    "load: cannot be set for an ELF image (its program headers place it)");
		ok = 0;
	}
	if (node_u64(c, "entry", 0, &v) != PROP_ABSENT) {
		diag_report(c->diag, c->path,
			    "entry: cannot be set for an ELF image (its e_entry gives it)");
		ok = 0;
	}
	return ok;
}

/* One PT_LOAD header: its bytes come from the file and its memory lies in RAM. */
static int segment_ok(const struct node_ctx *c, const struct image_file *f,
		      const struct pvb_vm *vm, unsigned i, const Elf64_Phdr *ph)
{
	uint64_t ram_end = vm->ram_base + vm->ram_size;
	const char *fmt = NULL;
	if (ph->p_filesz > ph->p_memsz)
		fmt = "image: \"%s\" has segment %u with p_filesz larger than p_memsz";
	else if (ph->p_offset > f->size || ph->p_filesz > f->size - ph->p_offset)
		fmt = "image: \"%s\" has segment %u outside the file";
	if (fmt) {
		diag_report(c->diag, c->path, fmt, f->path, i);
		return 0;
	}
	if (ph->p_paddr < vm->ram_base || ph->p_paddr >= ram_end ||
	    ph->p_memsz > ram_end - ph->p_paddr) {
		diag_report(c->diag, c->path,
			    "image: \"%s\" has segment %u at [0x%llx, +0x%llx) outside RAM [0x%llx, "
			    "0x%llx)", f->path, i, (unsigned long long)ph->p_paddr,
			    (unsigned long long)ph->p_memsz, (unsigned long long)vm->ram_base,
			    (unsigned long long)ram_end);
		return 0;
	}
	return 1;
}

/* The PT_LOAD segments with memory, checked one by one; returns how many, or -1. */
static int read_segments(const struct node_ctx *c, const struct image_file *f,
			 const struct pvb_vm *vm, const Elf64_Ehdr *eh, Elf64_Phdr *seg,
			 unsigned *index)
{
	unsigned count = 0;
	int ok = 1;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t at = eh->e_phoff + i * sizeof(ph);
		if (!file_read(c, "image", f->path, f->fd, &ph, sizeof(ph), at))
			return -1;
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (!segment_ok(c, f, vm, i, &ph)) {
			ok = 0;
			continue;
		}
		if (count == PVPACK_MAX_SEGMENTS) {
			diag_report(c->diag, c->path,
				    "image: \"%s\" has more than %u loadable segments", f->path,
				    PVPACK_MAX_SEGMENTS);
			return -1;
		}
		index[count] = i;
		seg[count++] = ph;
	}
	if (ok && count == 0)
		diag_report(c->diag, c->path, "image: \"%s\" has no loadable segments", f->path);
	return ok && count ? (int)count : -1;
}

static int overlap_free(const struct node_ctx *c, const struct image_file *f,
			const Elf64_Phdr *seg, const unsigned *index, unsigned count)
{
	for (unsigned a = 0; a < count; a++)
		for (unsigned b = a + 1; b < count; b++)
			if (seg[a].p_paddr < seg[b].p_paddr + seg[b].p_memsz &&
			    seg[b].p_paddr < seg[a].p_paddr + seg[a].p_memsz) {
				diag_report(c->diag, c->path,
					    "image: \"%s\" has segments %u and %u overlapping",
					    f->path, index[a], index[b]);
				return 0;
			}
	return 1;
}

/* The payload spans the lowest to the highest segment byte; gaps and each segment's bss are
 * zeros in the bundle, so EL2 still copies one contiguous blob. */
int elf_place(const struct node_ctx *c, const struct image_file *f, struct pvb_vm *vm,
	      struct vm_source *src)
{
	Elf64_Ehdr eh;
	Elf64_Phdr seg[PVPACK_MAX_SEGMENTS];
	unsigned index[PVPACK_MAX_SEGMENTS];
	int overrides_ok = no_overrides(c);
	if (!ehdr_ok(c, f, &eh))
		return 0;
	int count = read_segments(c, f, vm, &eh, seg, index);
	if (count < 0 || !overlap_free(c, f, seg, index, (unsigned)count) || !overrides_ok)
		return 0;

	uint64_t lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < count; i++) {
		lo = seg[i].p_paddr < lo ? seg[i].p_paddr : lo;
		hi = seg[i].p_paddr + seg[i].p_memsz > hi ? seg[i].p_paddr + seg[i].p_memsz : hi;
	}
	if (eh.e_entry < lo || eh.e_entry >= hi) {
		diag_report(c->diag, c->path,
			    "image: \"%s\" has entry 0x%llx outside its segments [0x%llx, 0x%llx)",
			    f->path, (unsigned long long)eh.e_entry, (unsigned long long)lo,
			    (unsigned long long)hi);
		return 0;
	}
	for (int i = 0; i < count; i++)
		src->image_pieces[i] = (struct piece){ seg[i].p_offset, seg[i].p_filesz,
						       seg[i].p_paddr - lo };
	src->image_piece_count = (uint32_t)count;
	src->image_end = hi;
	vm->image.load = lo;
	vm->image.size = hi - lo;
	vm->entry = eh.e_entry;
	return 1;
}
