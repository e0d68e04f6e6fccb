/* fdt.h: the board facts EL2 reads from the DTB the loader passed: RAM, the boot bundle, and
 * the virtio-mmio transports its disk and NIC may sit on. */
#ifndef PV_FDT_H
#define PV_FDT_H

#include <pv/types.h>

#define FDT_VIRTIO_MAX 32u

struct board_info {
	u64 ram_base, ram_size;         /* first /memory range */
	u64 initrd_start, initrd_end;   /* /chosen linux,initrd-*: where the loader put the bundle */
	u32 virtio_count;               /* top-level "virtio,mmio" nodes, in tree order */
	u32 virtio_intid[FDT_VIRTIO_MAX]; /* their SPI as an INTID (GIC_SPI n: 32 + n) */
	u64 virtio_base[FDT_VIRTIO_MAX];
};

/* Fills info from the flattened tree at dtb (at most max bytes are read). The virtio-mmio
 * transports are looked for only with `devices`: most device nodes' properties are then read,
 * which a boot whose VMs use no board device need not pay for. The entries of virtio_intid and
 * virtio_base past virtio_count are left as they were. 0 or a negative error. */
int fdt_read_board(const void *dtb, u64 max, struct board_info *info, bool devices);

#endif
