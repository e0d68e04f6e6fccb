/* hello: the smallest guest. Proves a VM boots at its entry, its UART output reaches the console
 * tagged with its name, and SYSTEM_OFF ends just this VM. */
#include "guest.h"

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	for (int i = 1; i <= 5; i++)
		printf("hello: line %d\n", i);
	printf("hello: done\n");
	psci_system_off();
	return 0;
}
