/* fuzz_pvpack.c: pvpack's config checks (tools/pvpack) on a compiled config: the DTB dtc
 * hands pvpack, checked as dts_compile checks it, then config_check and its diagnostics. The
 * images a config names are opened as pvpack would open them, relative to the directory the
 * fuzzer runs in (the repository: the seeds name the guests in build/guests). A config pvpack
 * accepts must pass EL2's own checks of the bundle (hv/core/bundle.c) as well. */
#include <string.h>
#include <pv/bundle_check.h>
#include "fuzz.h"
#include "pvpack.h"

static struct pvpack_config cfg; /* 150 KiB: not on the stack */
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	devnull = fopen("/dev/null", "w");
	return devnull ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *fdt = malloc(size ? size : 1);
	struct diag d = { 0, NULL };
	if (!fdt)
		return 0;
	memcpy(fdt, data, size);
	/* dts_compile refuses what libfdt's full check refuses; only the rest reaches the checks.
	 * dtc writes version 17 trees; libfdt 1.6.1's fdt_check_full reads through a NULL
	 * pointer on some older-format ones (found here; a libfdt bug no dtc output reaches), so
	 * only what dtc can hand pvpack goes in. */
	if (size >= sizeof(struct fdt_header) && fdt_version(fdt) >= 17 &&
	    fdt_check_full(fdt, size) == 0) {
		size_t problems = config_check(fdt, &d, &cfg);
		FUZZ_ASSERT(problems == d.count);
		diag_print(&d, devnull, "fuzz.dts");
		/* What passes is the header pack_write writes: EL2 must not refuse it. */
		if (problems == 0) {
			const struct pvb_header *h = &cfg.header;
			FUZZ_ASSERT(!bundle_check_header((const u8 *)h, h->total_size));
			for (u32 i = 0; i < h->vm_count; i++)
				FUZZ_ASSERT(!bundle_check_vm(h, i));
		}
		diag_free(&d);
	}
	free(fdt);
	return 0;
}
