/* ticker: a VM that keeps running for a while. Proves a VM makes steady progress next to others
 * (no restarts, no lost or reordered lines) and keeps going when its neighbours stop. */
#include "guest.h"

#define TICKS 30

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	for (int i = 1; i <= TICKS; i++) {
		delay(DELAY_TICK);
		printf("tick %d\n", i);
	}
	printf("ticker: done\n");
	psci_system_off();
	return 0;
}
