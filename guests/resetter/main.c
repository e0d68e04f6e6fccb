/* resetter: proves SYSTEM_RESET is a warm reset of this VM only: the image is reloaded and vCPU 0
 * restarts at the entry, while RAM outside the image (here .noinit) keeps its contents. */
#include "guest.h"

#define BOOT_MAGIC 0x7265736574746572ul /* "resetter" */
#define RESETS 3

/* Not in the image (so not reloaded) and not in .bss (so crt0 does not clear it). */
static struct {
	uint64_t magic;
	uint64_t boots;
} counter __attribute__((section(".noinit")));

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	if (counter.magic != BOOT_MAGIC) { /* first power-on: RAM holds whatever it held */
		counter.magic = BOOT_MAGIC;
		counter.boots = 0;
	}
	counter.boots++;
	barrier();
	printf("resetter: boot %lu\n", counter.boots);
	if (counter.boots < RESETS) {
		psci_system_reset();
		printf("resetter: SYSTEM_RESET returned\n");
		return 1;
	}
	counter.magic = 0; /* a later cold start counts from 1 again */
	printf("resetter: done\n");
	psci_system_off();
	return 0;
}
