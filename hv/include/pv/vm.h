/* vm.h: a virtual machine: its RAM, stage-2 tables, vCPUs, devices and lifecycle. */
#ifndef PV_VM_H
#define PV_VM_H

#include <pv/blk.h>
#include <pv/bundle.h>
#include <pv/manage.h>
#include <pv/net.h>
#include <pv/spinlock.h>
#include <pv/types.h>
#include <pv/vcpu.h>
#include <pv/vflash.h>
#include <pv/vgic.h>
#include <pv/vpl011.h>
#include <pv/vsock.h>

/* OFF or RUNNING or PAUSED -> STOPPING (one caller won the right to start, stop or reset it)
 * -> OFF or RUNNING again; RUNNING <-> PAUSED (its vCPUs are not scheduled). The values are
 * the management ABI's (enum pvm_state). */
enum vm_state { VM_OFF, VM_RUNNING, VM_STOPPING, VM_PAUSED }; /* zero: also a slot never built */

struct vm {
	char name[PVB_NAME_SIZE];
	u32 id;    /* index; VMID is id + 1 (VMID 0 is never a guest's) */
	u32 state; /* enum vm_state, changed with atomics */
	const struct pvb_vm *cfg; /* in the boot bundle, which stays reserved */
	const u8 *bundle;
	paddr_t ram_pa;
	u64 vttbr;
	u64 cntvoff; /* CNTVOFF_EL2: its virtual counter starts near 0 when it boots */
	u32 vcpu_count;
	u32 fault_reports; /* rate-limits the log when a guest faults in a loop */
	struct vcpu vcpus[PVB_MAX_VCPUS];
	struct vpl011 uart;
	struct vgic vgic;
	struct vsock vsock;
	struct vblk blk[PVB_MAX_DISKS];
	struct vnet net;
	struct vflash flash; /* a firmware VM's flash banks */
	u8 measurement[32]; /* identity.c: computed the first time it is asked for */
	u32 measured;
	u32 built;  /* its RAM, tables and vCPUs exist: it can be started */
	u32 starts; /* boots since the device booted */
	u64 started_at; /* counter value at its last start */
	struct pvm_counters stat; /* since its last start (docs/manage.md) */
	struct manage_stream mgmt;
};

extern struct vm vms[PVB_MAX_VMS];
extern u32 vm_count;

/* Builds every VM from the bundle, carving RAM from [ram_start, ram_end); a VM that cannot be
 * built is logged and left off. Returns how many VMs started. */
u32 vm_create_all(const u8 *bundle, u64 bundle_size, u64 ram_start, u64 ram_end);
/* Guest-physical to host-physical for [ipa, ipa+size) inside the VM's RAM, or false. */
bool vm_ipa_to_pa(const struct vm *vm, u64 ipa, u64 size, paddr_t *pa);
/* The same for a buffer a guest hands a device: inside its RAM and outside the hypervisor's
 * last 64 KiB of it (PVB_PVTIME_SIZE). */
bool vm_guest_buffer(const struct vm *vm, u64 ipa, u64 size, paddr_t *pa);
/* Stops a running or paused VM (every vCPU off, the other cores kicked, its devices reset, its
 * RAM zeroed). reason is logged. False when it was in no such state. */
bool vm_stop(struct vm *vm, const char *reason);
/* Reboot: stop every vCPU, reload the images, start vCPU 0 at the entry point; RAM beyond the
 * images as the guest left it (a warm reset, PSCI SYSTEM_RESET: a crash log there survives),
 * or zeroed first (wipe: management's clean reboot). False when it was neither running nor
 * paused. */
bool vm_reset(struct vm *vm, bool wipe);
/* Boots a VM that is off and built. False otherwise. */
bool vm_start(struct vm *vm);
/* Running <-> paused. False when it was not in the state the call leaves. */
bool vm_pause(struct vm *vm, bool pause);
/* Moves its vCPUs onto the cores in mask (checked by the caller: online cores only). */
void vm_set_cpus(struct vm *vm, u32 mask);
/* For the dispatch path: the VM of a guest whose input is fatal to itself. */
void vm_fatal(struct vm *vm, const char *why, u64 detail);

#endif
