/* fdt.h: the two board facts EL2 reads from the DTB the loader passed: RAM and the boot bundle. */
#ifndef PV_FDT_H
#define PV_FDT_H

#include <pv/types.h>

struct board_info {
	u64 ram_base, ram_size;         /* first /memory range */
	u64 initrd_start, initrd_end;   /* /chosen linux,initrd-*: where the loader put the bundle */
};

/* Fills info from the flattened tree at dtb (at most max bytes are read). 0 or a negative error. */
int fdt_read_board(const void *dtb, u64 max, struct board_info *info);

#endif
