/* fuzz_fdt.c: the board device tree as boot_primary reads it (hv/lib/fdt.c): RAM and the
 * initrd (the boot bundle), and the virtio-mmio transports, from whatever the loader passed in x0. */
#include <stdio.h>
#include <string.h>
#include <pv/fdt.h>
#include "fuzz.h"

/* The blob gets a buffer of exactly its size, so ASan sees any read past it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	u8 *b = malloc(size ? size : 1);
	struct board_info info;
	if (!b)
		return 0;
	memcpy(b, data, size);
	int r = fdt_read_board(b, size, &info, true);
	/* Success means RAM was found: what boot_primary checks next. */
	FUZZ_ASSERT(r == 0 || r == -1);
	FUZZ_ASSERT(r < 0 || info.ram_size != 0);
	FUZZ_ASSERT(info.virtio_count <= FDT_VIRTIO_MAX);
	/* Without devices the walk reads the same RAM and initrd, or fails the same way. */
	struct board_info plain;
	FUZZ_ASSERT(fdt_read_board(b, size, &plain, false) == r);
	FUZZ_ASSERT(r < 0 || (plain.ram_size == info.ram_size && plain.initrd_end == info.initrd_end));
	free(b);
	return 0;
}
