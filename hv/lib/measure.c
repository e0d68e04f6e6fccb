/* measure.c: a VM's measurement (measure.h), shared by EL2 and pvpack. */
#include <pv/measure.h>
#include <pv/string.h>

void measure_vm(const struct pvb_vm *cfg, const u8 *bundle, u8 out[SHA256_SIZE])
{
	struct pvb_vm e;
	const struct pvb_blob *b[3] = { &cfg->image, &cfg->dtb, &cfg->initrd };
	u8 h[3][SHA256_SIZE];
	memcpy(&e, cfg, sizeof(e)); /* every byte, padding too: the bundle has them */
	e.image.offset = e.dtb.offset = e.initrd.offset = 0;
	for (u32 i = 0; i < 3; i++)
		sha256(bundle + b[i]->offset, b[i]->size, h[i]);
	struct sha256 s;
	sha256_init(&s);
	sha256_update(&s, MEASURE_TAG, sizeof(MEASURE_TAG) - 1);
	sha256_update(&s, &e, sizeof(e));
	sha256_update(&s, h, sizeof(h));
	sha256_final(&s, out);
}
