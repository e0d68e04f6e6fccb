/* gpt.h: the GUID Partition Table (UEFI 2.10 section 5.3), the fields blk_attach reads: the
 * header in sector 1, then its entries. */
#ifndef PV_GPT_H
#define PV_GPT_H

#include <pv/types.h>

#define GPT_SIGNATURE "EFI PART"
#define GPT_NAME_CHARS 36u /* UTF-16LE */

struct gpt_header {
	char sig[8];
	u32 revision, size, crc, reserved;
	u64 self, backup, first, last;
	u8 guid[16];
	u64 entries; /* first sector of the entry array */
	u32 count, entry_size, entries_crc;
};

struct gpt_entry {
	u8 type[16], guid[16]; /* type all zero: an unused entry */
	u64 first, last, attrs;
	u16 name[GPT_NAME_CHARS];
};

_Static_assert(sizeof(struct gpt_entry) == 128, "the entry size blk_attach accepts");

#endif
