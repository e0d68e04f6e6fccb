/* idle: a VM with nothing to do. vCPU 0 sleeps in WFI and wakes once a second on its virtual
 * timer to print a tick; every other vCPU sits in WFI with no interrupt enabled at all, so only
 * a hypervisor that sleeps its cores (no periodic tick) keeps the host idle. */
#include "guest.h"

void secondary_main(uint64_t context)
{
	(void)context;
	for (;;)
		wfi();
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	gic_init();
	unsigned vcpus = smp_start_all();
	gic_cpu_init();
	printf("idle: %u vcpus waiting\n", vcpus);
	uint64_t start = timer_now(), freq = timer_freq();
	for (unsigned n = 1;; n++) {
		sleep_until(start + n * freq);
		printf("idle: tick %u\n", n);
	}
}
