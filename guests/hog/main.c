/* hog: a low-priority VM that always wants the CPU: it spins with interrupts enabled, never
 * blocks, and prints its loop count once a second, for RUN_S seconds of counter time. */
#include "guest.h"

#define RUN_S 3u

int main(uint64_t boot_arg)
{
	uint64_t freq = timer_freq(), start = timer_now(), loops = 0;

	(void)boot_arg;
	printf("hog: spinning for %u s\n", RUN_S);
	irq_enable();
	for (unsigned s = 1; s <= RUN_S; s++) {
		while (timer_now() - start < s * freq)
			loops++;
		printf("hog: %lu loops\n", loops);
	}
	printf("hog: done\n");
	return 0;
}
