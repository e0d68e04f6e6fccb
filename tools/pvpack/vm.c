/* vm.c: validating one VM node of a config into its bundle record. */
#include <ctype.h>
#include <string.h>

#include "board.h"
#include "pvpack.h"

#define ALL_CORES ((1u << PLAT_CPU_COUNT) - 1)

static const char *const vm_props[] = {
	"name",	  "memory", "vcpus",  "cpus",	  "pin",   "priority", "pmu",
	"attester", "image",  "load",   "entry", "initrd", "bootargs", "disks", "rollback-counters",
	"manages", "autostart", "boot", "flash",
};

static const char *const vm_children[] = { "devices", "vsock", "net" };

#define DEFAULT_BOOTARGS "console=ttyAMA0"

uint32_t vm_index(const void *fdt, int vms, int vm)
{
	uint32_t i = 0;
	int node;
	fdt_for_each_subnode(node, fdt, vms) {
		if (node == vm)
			break;
		i++;
	}
	return i;
}

int vm_named(const void *fdt, int vms, const char *name, size_t len)
{
	int vm;
	fdt_for_each_subnode(vm, fdt, vms) {
		int n;
		const char *s = fdt_getprop(fdt, vm, "name", &n);
		if (s && (size_t)n == len + 1 && memcmp(s, name, len) == 0 && s[len] == '\0')
			return vm;
	}
	return -1;
}

/* Names tag console and log lines, so they stay short and plain. */
static void check_name(const struct node_ctx *c, struct pvb_vm *vm)
{
	const char *name;
	if (node_string(c, "name", 1, &name) != PROP_OK)
		return;
	size_t len = strlen(name);
	int ok = len > 0 && len < PVB_NAME_SIZE;
	if (len == 0)
		diag_report(c->diag, c->path, "name: is empty");
	if (len >= PVB_NAME_SIZE)
		diag_report(c->diag, c->path, "name: is %zu characters, at most %u are allowed", len,
			    PVB_NAME_SIZE - 1);
	if (!node_name_chars(c, "name", name, "_-"))
		ok = 0;
	if (ok)
		memcpy(vm->name, name, len);
}

/* Returns whether RAM is known and usable for checking load and entry against it. */
static int check_memory(const struct node_ctx *c, struct pvb_vm *vm)
{
	uint64_t base, size;
	if (node_range(c, "memory", &base, &size) != PROP_OK)
		return 0;
	/* Stage 2 maps VM RAM with 2 MiB blocks. */
	if (base % PVPACK_2M)
		diag_report(c->diag, c->path, "memory: base 0x%llx is not 2 MiB aligned",
			    (unsigned long long)base);
	if (size == 0)
		diag_report(c->diag, c->path, "memory: size is 0");
	else if (size % PVPACK_2M)
		diag_report(c->diag, c->path, "memory: size 0x%llx is not a multiple of 2 MiB",
			    (unsigned long long)size);
	/* Written so that base + size cannot overflow. */
	if (size > PLAT_GUEST_IPA_LIMIT || base > PLAT_GUEST_IPA_LIMIT - size) {
		diag_report(c->diag, c->path,
			    "memory: base 0x%llx + size 0x%llx is not below the 4 GiB guest-physical limit",
			    (unsigned long long)base, (unsigned long long)size);
		return 0;
	}
	if (size && base < PLAT_GUEST_DEV_END && base + size > PLAT_GUEST_DEV_BASE)
		diag_report(c->diag, c->path,
			    "memory: [0x%llx, 0x%llx) overlaps the guest device window [0x%llx, 0x%llx)",
			    (unsigned long long)base, (unsigned long long)(base + size),
			    PLAT_GUEST_DEV_BASE, PLAT_GUEST_DEV_END);
	vm->ram_base = base;
	vm->ram_size = size;
	return size != 0;
}

static int check_vcpus(const struct node_ctx *c, struct pvb_vm *vm)
{
	if (node_u32(c, "vcpus", 1, &vm->vcpu_count) != PROP_OK)
		return 0;
	if (vm->vcpu_count == 0 || vm->vcpu_count > PVB_MAX_VCPUS) {
		diag_report(c->diag, c->path, "vcpus: %u is not in 1..%u", vm->vcpu_count,
			    PVB_MAX_VCPUS);
		return 0;
	}
	return 1;
}

static int core_exists(const struct node_ctx *c, const char *prop, uint32_t core)
{
	if (core < PLAT_CPU_COUNT)
		return 1;
	diag_report(c->diag, c->path, "%s: core %u does not exist (the board has cores 0..%u)", prop,
		    core, PLAT_CPU_COUNT - 1);
	return 0;
}

/* Returns whether cpu_mask is known, so pins can be checked against it. */
static int check_cpus(const struct node_ctx *c, struct pvb_vm *vm)
{
	const fdt32_t *cells;
	int count;
	vm->cpu_mask = ALL_CORES;
	enum prop_result r = node_cells(c, "cpus", 0, &cells, &count);
	if (r != PROP_OK)
		return r == PROP_ABSENT;
	if (count == 0)
		diag_report(c->diag, c->path, "cpus: is empty");
	vm->cpu_mask = 0;
	for (int i = 0; i < count; i++) {
		uint32_t core = node_cell(cells, i);
		if (core_exists(c, "cpus", core))
			vm->cpu_mask |= 1u << core;
	}
	return 1;
}

static void check_pin(const struct node_ctx *c, struct pvb_vm *vm, int vcpus_ok, int mask_ok)
{
	const fdt32_t *cells;
	int count;
	memset(vm->vcpu_pin, PVB_NO_PIN, sizeof(vm->vcpu_pin));
	if (node_cells(c, "pin", 0, &cells, &count) != PROP_OK)
		return;
	if (vcpus_ok && (uint32_t)count != vm->vcpu_count)
		diag_report(c->diag, c->path, "pin: length %d does not match vcpus %u", count,
			    vm->vcpu_count);
	for (int i = 0; i < count; i++) {
		uint32_t core = node_cell(cells, i);
		if (!core_exists(c, "pin", core))
			continue;
		if (mask_ok && !(vm->cpu_mask & (1u << core)))
			diag_report(c->diag, c->path, "pin: vCPU %d is on core %u, which is not in cpus",
				    i, core);
		if (i < (int)PVB_MAX_VCPUS)
			vm->vcpu_pin[i] = (uint8_t)core;
	}
}

static void check_priority(const struct node_ctx *c, struct pvb_vm *vm)
{
	if (node_u32(c, "priority", 0, &vm->priority) == PROP_OK && vm->priority > 255)
		diag_report(c->diag, c->path, "priority: %u is not in 0..255", vm->priority);
}

/* `pmu;` (the VM may count with the PMU) and `attester;` (it may ask the hypervisor for other
 * VMs' measurements, docs/attestation.md) are flags: a value would suggest it means something. */
static void check_flag(const struct node_ctx *c, struct pvb_vm *vm, const char *name,
		       uint32_t flag)
{
	int len;
	if (!fdt_getprop(c->fdt, c->offset, name, &len))
		return;
	if (len != 0)
		diag_report(c->diag, c->path, "%s: is a flag and takes no value (write \"%s;\")", name,
			    name);
	else
		vm->flags |= flag;
}

/* `rollback-counters;`: counters the hypervisor keeps on the /disk partition DISK_RPMB, for at
 * most PV_COUNTER_VMS VMs (the store's entries); the later VM is the one reported. */
static void check_counters(const struct node_ctx *c, struct pvb_vm *vm)
{
	int vms = fdt_parent_offset(c->fdt, c->offset), other;
	uint32_t earlier = 0;
	check_flag(c, vm, "rollback-counters", PVB_VM_COUNTERS);
	if (!(vm->flags & PVB_VM_COUNTERS))
		return;
	if (!disk_has_part(c->fdt, DISK_RPMB))
		diag_report(c->diag, c->path, "rollback-counters: needs a partition \"" DISK_RPMB
			    "\" in /disk, where the hypervisor keeps them");
	fdt_for_each_subnode(other, c->fdt, vms) {
		if (other == c->offset)
			break;
		earlier += fdt_getprop(c->fdt, other, "rollback-counters", NULL) != NULL;
	}
	if (earlier >= PVPACK_COUNTER_VMS)
		diag_report(c->diag, c->path, "rollback-counters: at most %u VMs may have them",
			    PVPACK_COUNTER_VMS);
}

/* A VM holding the device's secrets' services: `*` leaves it out (docs/manage.md). */
static int trusted(const void *fdt, int vm)
{
	return fdt_getprop(fdt, vm, "attester", NULL) || fdt_getprop(fdt, vm, "rollback-counters", NULL);
}

/* `manages = "work";` or `"*"` (every other VM but the trusted ones), names adding to it. */
static void check_manages(const struct node_ctx *c, struct pvb_vm *vm)
{
	int len, vms = fdt_parent_offset(c->fdt, c->offset), other;
	const char *list = node_strings(c, "manages", &len);
	if (!list || vms < 0)
		return; /* default: it manages nothing */
	for (const char *text = list; text < list + len; text += strlen(text) + 1) {
		int twice = 0;
		for (const char *prev = list; prev < text; prev += strlen(prev) + 1)
			twice |= strcmp(prev, text) == 0;
		if (twice) {
			diag_report(c->diag, c->path, "manages: \"%s\" is listed twice", text);
			continue;
		}
		if (strcmp(text, "*") == 0) {
			fdt_for_each_subnode(other, c->fdt, vms) {
				uint32_t i = vm_index(c->fdt, vms, other);
				if (other != c->offset && !trusted(c->fdt, other) && i < PVB_MAX_VMS)
					vm->manages |= (uint8_t)(1u << i);
			}
			continue;
		}
		other = vm_named(c->fdt, vms, text, strlen(text));
		uint32_t i = other < 0 ? PVB_MAX_VMS : vm_index(c->fdt, vms, other);
		if (other < 0)
			diag_report(c->diag, c->path, "manages: \"%s\" names no VM (a VM's name, or \"*\")",
				    text);
		else if (i < PVB_MAX_VMS) /* past the 8th VM, the VM count is reported */
			vm->manages |= (uint8_t)(1u << i);
	}
}

/* `autostart = <0>;` keeps the VM off until a VM that manages it starts it: one must. */
static void check_autostart(const struct node_ctx *c, struct pvb_vm *vm)
{
	uint32_t on = 1;
	int vms = fdt_parent_offset(c->fdt, c->offset), other, managed = 0;
	if (node_u32(c, "autostart", 0, &on) != PROP_OK || on == 1)
		return;
	if (on != 0) {
		diag_report(c->diag, c->path, "autostart: is %u; write <1> (the default: it starts "
			    "at boot) or <0> (off until started)", on);
		return;
	}
	vm->flags |= PVB_VM_MANUAL;
	const char *name = fdt_getprop(c->fdt, c->offset, "name", NULL);
	fdt_for_each_subnode(other, c->fdt, vms) {
		int len;
		const char *list = fdt_getprop(c->fdt, other, "manages", &len);
		for (const char *t = list; name && t && t < list + len; t += strlen(t) + 1)
			managed |= strcmp(t, name) == 0 ||
				   (strcmp(t, "*") == 0 && other != c->offset && !trusted(c->fdt, c->offset));
	}
	if (!managed)
		diag_report(c->diag, c->path, "autostart: is <0>, but no VM manages this one: it "
			    "could never start (give a VM manages = \"%s\";)", name ? name : "");
}

/* `boot = "linux";` (the default: the Linux boot protocol, images in RAM) or `"firmware"`: QEMU
 * virt's flash layout for boot loaders built for that board (docs/config.md, "Boot modes"). */
static void check_boot(const struct node_ctx *c, struct pvb_vm *vm, int ram_ok)
{
	const char *mode;
	if (node_string(c, "boot", 0, &mode) != PROP_OK || strcmp(mode, "linux") == 0)
		return;
	if (strcmp(mode, "firmware") != 0) {
		diag_report(c->diag, c->path, "boot: \"%s\" is not a boot mode (\"linux\" or "
			    "\"firmware\")", mode);
		return;
	}
	vm->flags |= PVB_VM_FIRMWARE;
	if (ram_ok && vm->ram_base != PLAT_RAM_BASE)
		diag_report(c->diag, c->path, "memory: a firmware VM's RAM starts at 0x%llx, as on "
			    "QEMU virt (this one at 0x%llx)", PLAT_RAM_BASE,
			    (unsigned long long)vm->ram_base);
	if (fdt_getprop(c->fdt, c->offset, "initrd", NULL))
		diag_report(c->diag, c->path, "initrd: a firmware VM loads its own (remove initrd)");
}

static void check_bootargs(const struct node_ctx *c, struct vm_source *src)
{
	src->bootargs = DEFAULT_BOOTARGS;
	if (node_string(c, "bootargs", 0, &src->bootargs) == PROP_OK &&
	    strlen(src->bootargs) > PVPACK_BOOTARGS_MAX)
		diag_report(c->diag, c->path, "bootargs: is %zu characters, at most %u are allowed",
			    strlen(src->bootargs), PVPACK_BOOTARGS_MAX);
}

/* Built only for a VM without problems: everything it describes has been checked. */
static void build_dtb(const struct node_ctx *c, struct pvb_vm *vm, struct vm_source *src)
{
	int size = dtb_build(vm, src, src->dtb, sizeof(src->dtb));
	if (size < 0)
		diag_report(c->diag, c->path, "cannot build the guest DTB: %s", fdt_strerror(size));
	else
		vm->dtb.size = (uint64_t)size;
}

void vm_check(const struct node_ctx *c, struct pvb_vm *vm, struct vm_source *src)
{
	size_t problems = c->diag->count;
	memset(vm, 0, sizeof(*vm));
	memset(src, 0, sizeof(*src));
	node_check_props(c, vm_props, sizeof(vm_props) / sizeof(vm_props[0]));
	node_check_children(c, vm_children, sizeof(vm_children) / sizeof(vm_children[0]));

	check_name(c, vm);
	int ram_ok = check_memory(c, vm);
	int vcpus_ok = check_vcpus(c, vm);
	int mask_ok = check_cpus(c, vm);
	check_pin(c, vm, vcpus_ok, mask_ok);
	check_priority(c, vm);
	check_flag(c, vm, "pmu", PVB_VM_PMU);
	check_flag(c, vm, "attester", PVB_VM_ATTESTER);
	check_counters(c, vm);
	check_manages(c, vm);
	check_autostart(c, vm);
	check_boot(c, vm, ram_ok);
	int image_ok = image_check(c, vm, src, ram_ok);
	layout_check(c, vm, src, ram_ok, image_ok);
	check_bootargs(c, src);
	device_check(c, vm, src, ram_ok);
	vsock_check(c, vm);
	disk_check_vm(c, vm);
	disk_check_flash(c, vm);
	net_check(c, vm);
	if (c->diag->count == problems)
		build_dtb(c, vm, src);
	else
		src->image_path = NULL;
}
