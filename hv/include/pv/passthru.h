/* passthru.h: physical devices the config gives a VM: MMIO mapped 1:1, SPIs forwarded (HW bit). */
#ifndef PV_PASSTHRU_H
#define PV_PASSTHRU_H

#include <pv/types.h>

struct vm;

/* Maps the VM's device regions into its stage 2 (at VM creation); false if they do not fit. */
bool passthru_map(struct vm *vm);
/* on: links the VM's SPIs to its vGIC (just reset) and enables them at the board GIC. off (its
 * vCPUs stopped): disables and deactivates them, so its device can neither interrupt the
 * hypervisor nor stay active once the guest that would have deactivated it is gone. */
void passthru_irqs(struct vm *vm, bool on);
/* A physical SPI taken at EL2 (acknowledged, priority dropped): true if it was forwarded to the
 * running VM that owns it, which then deactivates it through the HW bit; false if the caller
 * must deactivate it. */
bool passthru_irq(u32 intid);

#endif
