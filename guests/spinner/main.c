/* spinner: a VM gone bad: it masks every interrupt and spins forever, never trapping. Proves
 * the hypervisor still takes the core back for the VM next to it. */
#include "guest.h"

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	printf("spinner: masking interrupts and spinning forever\n");
	__asm__ volatile("msr daifset, #0xf\n\t1: b 1b" ::: "memory");
	return 0;
}
