/* vm.c: creating VMs from the bundle, and stopping or resetting one VM alone. */
#include <pv/arch.h>
#include <pv/bundle_check.h>
#include <pv/console.h>
#include <pv/gic.h>
#include <pv/cpu.h>
#include <pv/log.h>
#include <pv/passthru.h>
#include <pv/sched.h>
#include <pv/string.h>
#include <pv/virtio.h>
#include <pv/vm.h>
#include <board.h>

struct vm vms[PVB_MAX_VMS];
u32 vm_count;

bool vm_ipa_to_pa(const struct vm *vm, u64 ipa, u64 size, paddr_t *pa)
{
	if (!range_contains(vm->cfg->ram_base, vm->cfg->ram_size, ipa, size))
		return false;
	*pa = pa_add(vm->ram_pa, ipa - vm->cfg->ram_base);
	return true;
}

bool vm_guest_buffer(const struct vm *vm, u64 ipa, u64 size, paddr_t *pa)
{
	/* Once per buffer of every virtqueue chain: one check, which implies vm_ipa_to_pa's. */
	if (!range_contains(vm->cfg->ram_base, vm->cfg->ram_size - PVB_PVTIME_SIZE, ipa, size))
		return false;
	*pa = pa_add(vm->ram_pa, ipa - vm->cfg->ram_base);
	return true;
}

static void load_blob(struct vm *vm, const struct pvb_blob *b)
{
	paddr_t pa;
	if (b->size && vm_ipa_to_pa(vm, b->load, b->size, &pa))
		arch_copy_to_ram(pa, vm->bundle + b->offset, b->size);
}

/* Images go in as the guest will see them with its MMU off: in memory, no stale instructions
 * anywhere. */
static void load_images(struct vm *vm)
{
	if (vm->cfg->flags & PVB_VM_FIRMWARE)
		vflash_reset(vm); /* its image is its flash */
	else
		load_blob(vm, &vm->cfg->image);
	load_blob(vm, &vm->cfg->dtb);
	load_blob(vm, &vm->cfg->initrd);
	arch_sync_icache();
}

/* The interrupt controller as after a reset; the virtual timer's PPI stays tied to the
 * physical one so the guest's deactivation reaches the hardware. */
static void reset_irqs(struct vm *vm)
{
	vgic_init(&vm->vgic, vm->vcpu_count);
	for (u32 i = 0; i < vm->vcpu_count; i++)
		vgic_link_hw(&vm->vgic, i, PPI_VTIMER, PPI_VTIMER);
	passthru_irqs(vm, true);
}

/* Every vCPU off, whatever a CPU_ON that raced with the stop left, its figures from zero, then
 * vCPU 0 on at the entry point: the VM runs from here. */
static void boot(struct vm *vm)
{
	struct vcpu *v0 = &vm->vcpus[0];
	for (u32 i = 0; i < vm->vcpu_count; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->power = VCPU_OFF;
		v->blocked = v->yield = 0;
		memset(&v->stat, 0, sizeof(v->stat));
	}
	memset(&vm->stat, 0, sizeof(vm->stat));
	vm->starts++;
	vm->cntvoff = vm->started_at = arch_timer_now();
	v0->boot_entry = vm->cfg->entry;
	v0->boot_ctx = vm->cfg->dtb.size ? vm->cfg->dtb.load : 0;
	__atomic_store_n(&v0->power, (u32)VCPU_ON_PENDING, __ATOMIC_RELEASE);
	__atomic_store_n(&vm->state, (u32)VM_RUNNING, __ATOMIC_RELEASE);
}

/* vCPU i runs on its pinned core, else on the i-th online core the config allows. */
static bool place_vcpus(struct vm *vm)
{
	u32 allowed[PLAT_CPU_COUNT], n = 0;
	for (u32 c = 0; c < PLAT_CPU_COUNT; c++)
		if ((vm->cfg->cpu_mask & BIT(c)) && cpus[c].online)
			allowed[n++] = c;
	for (u32 i = 0; i < vm->vcpu_count; i++) {
		u8 pin = vm->cfg->vcpu_pin[i];
		if (pin != PVB_NO_PIN && !cpus[pin].online) {
			log_err(vm, "vCPU %u is pinned to core %u, which is offline", i, pin);
			return false;
		}
		if (pin == PVB_NO_PIN && n == 0) {
			log_err(vm, "none of the cores it may run on (mask %#x) is online",
				vm->cfg->cpu_mask);
			return false;
		}
		vm->vcpus[i].cpu = pin != PVB_NO_PIN ? pin : allowed[i % n];
		vm->vcpus[i].allowed = pin != PVB_NO_PIN ? (u32)BIT(pin) : vm->cfg->cpu_mask;
	}
	return true;
}

static bool vm_create(struct vm *vm, const struct pvb_header *h, u32 id, paddr_t ram)
{
	paddr_t store = pa_add(ram, h->vms[id].ram_size); /* a firmware VM's flash store */
	vm->cfg = &h->vms[id];
	vm->bundle = (const u8 *)h;
	vm->id = id;
	vm->state = VM_OFF; /* vm->name: vm_create_all copied it */
	vm->ram_pa = ram;
	vm->vcpu_count = vm->cfg->vcpu_count;
	vm->measured = 0; /* identity.c measures it when first asked */
	if (!place_vcpus(vm))
		return false;
	/* Fresh RAM never shows a guest what was there before. */
	arch_zero_ram(ram, vm->cfg->ram_size);
	arch_s2_init(vm);
	if (vm->cfg->flags & PVB_VM_FIRMWARE)
		vflash_init(vm, store);
	if (!arch_s2_map(vm, vm->cfg->ram_base, ram, vm->cfg->ram_size) || !passthru_map(vm)) {
		log_err(vm, "cannot map its RAM and devices");
		return false;
	}
	load_images(vm);
	reset_irqs(vm);
	virtio_vm_reset(vm);
	for (u32 i = 0; i < vm->vcpu_count; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->vm = vm;
		v->id = i;
		v->priority = vm->cfg->priority;
		arch_vcpu_reset(v);
		sched_attach(v);
	}
	vm->built = 1;
	if (vm->cfg->flags & PVB_VM_MANUAL) {
		log_info(vm, "%u vCPU, %lu MiB RAM at IPA %#lx (host %#lx), off until started",
			 vm->vcpu_count, vm->cfg->ram_size >> 20, vm->cfg->ram_base, ram.pa);
		return true;
	}
	boot(vm);
	log_info(vm, "%u vCPU, %lu MiB RAM at IPA %#lx (host %#lx), started at counter %lu",
		 vm->vcpu_count, vm->cfg->ram_size >> 20, vm->cfg->ram_base, ram.pa, vm->cntvoff);
	return true;
}

u32 vm_create_all(const u8 *bundle, u64 bundle_size, u64 ram_start, u64 ram_end)
{
	const struct pvb_header *h = (const struct pvb_header *)bundle;
	u64 next = ram_start;
	u32 started = 0;
	const char *why = bundle_check_header(bundle, bundle_size);
	if (why) {
		log_err(NULL, "boot bundle rejected: %s", why);
		return 0;
	}
	for (u32 i = 0; i < h->vm_count; i++) {
		struct vm *vm = &vms[i];
		memcpy(vm->name, h->vms[i].name, PVB_NAME_SIZE - 1);
		why = bundle_check_vm(h, i);
		u64 need = h->vms[i].ram_size + (h->vms[i].flags & PVB_VM_FIRMWARE ? VFLASH_STORE : 0);
		if (!why && ram_end - next < need)
			why = "its RAM does not fit in the board's";
		if (why) {
			log_err(vm, "not started: %s", why);
			continue;
		}
		if (vm_create(vm, h, i, pa_init(next))) {
			next += need;
			started++;
		}
	}
	vm_count = h->vm_count;
	return started;
}

/* The right to change a VM in state `from` (or, with both, running or paused). */
static bool vm_claim(struct vm *vm, u32 from, u32 or_from)
{
	u32 s = __atomic_load_n(&vm->state, __ATOMIC_ACQUIRE);
	return (s == from || s == or_from) &&
	       __atomic_compare_exchange_n(&vm->state, &s, (u32)VM_STOPPING, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* Every vCPU off, and none still executing on another core when this returns; its devices'
 * interrupts off too. The caller may itself be one of the VM's vCPUs (the one this core is
 * handling). */
static void vm_quiesce(struct vm *vm)
{
	struct vcpu *self = this_cpu()->loaded;
	for (u32 i = 0; i < vm->vcpu_count; i++)
		__atomic_store_n(&vm->vcpus[i].power, (u32)VCPU_OFF, __ATOMIC_RELEASE);
	for (u32 i = 0; i < vm->vcpu_count; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v == self) {
			/* It stays loaded until sched_next, with its hardware state: LR0 may hold its
			 * timer slot, which the vGIC reset would forget and leave to the next guest
			 * here, and its timer's physical PPI may be active (a reboot from the guest's
			 * timer handler), which would keep this core's virtual timer silent. vgic_sync,
			 * on its exit, emptied the other LRs. */
			arch_vgic_write_lr(0, 0);
			arch_vtimer_lower();
			continue;
		}
		if (__atomic_load_n(&v->running, __ATOMIC_ACQUIRE))
			arch_kick(v->cpu);
		while (__atomic_load_n(&v->running, __ATOMIC_ACQUIRE))
			;
	}
	passthru_irqs(vm, false);
	vpl011_flush(vm);
	virtio_vm_reset(vm); /* before its RAM changes: no peer writes into it from here on */
}

static bool any_vm_running(void)
{
	for (u32 i = 0; i < vm_count; i++)
		if (__atomic_load_n(&vms[i].state, __ATOMIC_ACQUIRE) != VM_OFF)
			return true;
	return false;
}

bool vm_stop(struct vm *vm, const char *reason)
{
	if (!vm_claim(vm, VM_RUNNING, VM_PAUSED))
		return false; /* off, or someone else is starting, stopping or resetting it */
	vm_quiesce(vm);
	/* Nothing it wrote survives it: not for its next boot, nor for anyone reading the RAM. */
	arch_wipe_ram(vm->ram_pa, vm->cfg->ram_size);
	__atomic_store_n(&vm->state, (u32)VM_OFF, __ATOMIC_RELEASE);
	log_info(vm, "stopped: %s", reason);
	if (!any_vm_running()) {
		log_info(NULL, "every VM is off: powering off");
		arch_system_off();
	}
	return true;
}

void vm_fatal(struct vm *vm, const char *why, u64 detail)
{
	log_err(vm, "%s %#lx: the VM cannot go on", why, detail);
	vm_stop(vm, "fatal guest error");
}

/* A claimed VM, quiesced with its RAM zeroed: its images in again, and it runs. */
static void reboot(struct vm *vm, const char *what)
{
	load_images(vm);
	arch_s2_flush(vm);
	reset_irqs(vm);
	boot(vm);
	log_info(vm, "%s", what);
	sched_wake(&vm->vcpus[0]);
}

bool vm_reset(struct vm *vm, bool wipe)
{
	if (!vm_claim(vm, VM_RUNNING, VM_PAUSED))
		return false;
	vm_quiesce(vm);
	if (wipe)
		arch_wipe_ram(vm->ram_pa, vm->cfg->ram_size);
	reboot(vm, wipe ? "reset clean" : "reset");
	return true;
}

bool vm_start(struct vm *vm)
{
	if (!vm->built || !vm_claim(vm, VM_OFF, VM_OFF))
		return false;
	reboot(vm, "started");
	return true;
}

/* Every core chooses again: one may hold a vCPU of the VM that changed. */
static void kick_cores(void)
{
	for (u32 c = 0; c < PLAT_CPU_COUNT; c++)
		if (c != this_cpu()->id)
			arch_kick(c);
	__atomic_store_n(&this_cpu()->resched, 1u, __ATOMIC_RELEASE);
}

bool vm_pause(struct vm *vm, bool pause)
{
	u32 from = pause ? VM_RUNNING : VM_PAUSED;
	if (!__atomic_compare_exchange_n(&vm->state, &from, pause ? (u32)VM_PAUSED : (u32)VM_RUNNING,
					 false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return false;
	kick_cores();
	return true;
}

/* A vCPU on a core outside the mask moves to the mask's first; a core holding one it may no
 * longer run lets it go at its next choice (sched.c), and idle cores of the mask take waiting
 * vCPUs as usual. */
void vm_set_cpus(struct vm *vm, u32 mask)
{
	for (u32 i = 0; i < vm->vcpu_count; i++) {
		struct vcpu *v = &vm->vcpus[i];
		__atomic_store_n(&v->allowed, mask, __ATOMIC_RELEASE);
		if (!(mask & BIT(__atomic_load_n(&v->cpu, __ATOMIC_ACQUIRE))))
			__atomic_store_n(&v->cpu, (u32)__builtin_ctz(mask), __ATOMIC_RELEASE);
	}
	kick_cores();
}
