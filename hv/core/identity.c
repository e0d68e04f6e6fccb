/* identity.c: the device secret, the hypervisor's and each VM's measurement, and the keys
 * derived from them (docs/attestation.md), handed out by pocketvisor's SMCCC calls
 * (docs/abi.md). EL2 only hashes and derives; everything asymmetric is the vault's.
 *
 * Measurements are taken the first time something asks for one, not at boot: what they cover
 * (the hypervisor's code and constants, the bundle) is read-only to every VM and to EL2 itself
 * after boot, so the value is the one boot would have computed, and a boot does not wait for
 * the tens of MiB a Linux VM's images are. */
#include <pv/arch.h>
#include <pv/crypto.h>
#include <pv/identity.h>
#include <pv/log.h>
#include <pv/measure.h>
#include <pv/smccc.h>
#include <pv/string.h>
#include <pv/vcpu.h>
#include <pv/vm.h>
#include <pv/vsock.h>

#define SEAL_LABEL_MAX 32u

static u8 device_key[SHA256_SIZE]; /* HMAC(UDS, "pocketvisor device"); the UDS itself is gone */
static u32 provisioned;
static u8 hv_measurement[SHA256_SIZE];
static u32 hv_measured;

void identity_init(u8 *uds)
{
	u8 any = 0;
	for (u32 i = 0; i < PV_UDS_SIZE; i++)
		any |= uds[i];
	provisioned = any != 0; /* if not, no keys: each call that needs one says so */
	if (!any)
		return;
	hmac(uds, PV_UDS_SIZE, "pocketvisor device", 18, NULL, 0, device_key);
	secure_zero(uds, PV_UDS_SIZE);
}

bool identity_key(const char *label, u32 len, u8 out[SHA256_SIZE])
{
	if (provisioned)
		hmac(device_key, SHA256_SIZE, label, len, NULL, 0, out);
	return provisioned;
}

/* Several cores may compute one at once: they write the same bytes. */
static const u8 *take(u8 m[SHA256_SIZE], u32 *done, const struct vm *vm)
{
	u64 size = 0;
	if (__atomic_load_n(done, __ATOMIC_ACQUIRE))
		return m;
	if (vm)
		measure_vm(vm->cfg, vm->bundle, m);
	else
		sha256(arch_image(&size), size, m);
	__atomic_store_n(done, 1u, __ATOMIC_RELEASE);
	return m;
}

/* CDI_vm = HMAC(CDI_hv, M_vm || name), CDI_hv = HMAC(device key, M_hv). */
static void vm_cdi(struct vm *vm, u8 cdi[SHA256_SIZE])
{
	u8 hv_cdi[SHA256_SIZE];
	hmac(device_key, SHA256_SIZE, take(hv_measurement, &hv_measured, NULL), SHA256_SIZE, NULL, 0,
	     hv_cdi);
	hmac(hv_cdi, SHA256_SIZE, take(vm->measurement, &vm->measured, vm), SHA256_SIZE,
	     vm->cfg->name, PVB_NAME_SIZE, cdi);
	secure_zero(hv_cdi, sizeof(hv_cdi));
}

/* The key for a label the VM chose: HKDF-Expand(CDI_vm, "pocketvisor seal" || label, 32). */
static s64 seal_key(struct vm *vm, u64 *x)
{
	u8 cdi[SHA256_SIZE], info[16 + SEAL_LABEL_MAX];
	u64 len = x[5];
	if (len > SEAL_LABEL_MAX)
		return PSCI_INVALID_PARAMETERS;
	if (!provisioned)
		return PV_E_NO_SECRET; /* not the VM's doing: nothing to log */
	memcpy(info, "pocketvisor seal", 16);
	memcpy(info + 16, &x[1], len);
	vm_cdi(vm, cdi);
	hkdf_expand32(cdi, info, 16 + (u32)len, (u8 *)&x[1]);
	secure_zero(cdi, sizeof(cdi));
	return 0;
}

/* A measurement and its owner's name: the caller's own (CID 0), the hypervisor's (CID 2), or
 * another VM's, for an attester. */
static s64 measurement(struct vm *vm, u64 *x)
{
	const u8 *m;
	const char *name = "pocketvisor";
	if (x[1] == PVB_CID_HOST) {
		m = take(hv_measurement, &hv_measured, NULL);
	} else {
		struct vm *t = x[1] ? vm_by_cid(x[1]) : vm;
		if (!t)
			return PV_E_NO_VM;
		if (t != vm && !(vm->cfg->flags & PVB_VM_ATTESTER)) {
			log_guest(vm, "asked for vm %s's measurement: not an attester", t->name);
			return PV_E_DENIED;
		}
		m = take(t->measurement, &t->measured, t);
		name = t->cfg->name;
	}
	memcpy(&x[1], m, SHA256_SIZE);
	x[5] = x[6] = 0;
	memcpy(&x[5], name, strnlen(name, PVB_NAME_SIZE - 1));
	return 0;
}

bool identity_call(struct vcpu *vcpu, u32 fid, s64 *ret)
{
	u64 *x = vcpu->regs.x;
	if (fid == PV_SEAL_KEY)
		*ret = seal_key(vcpu->vm, x);
	else if (fid == PV_MEASUREMENT)
		*ret = measurement(vcpu->vm, x);
	else if (fid == PV_COUNTER)
		*ret = counter_call(vcpu->vm, x);
	else if (fid == PV_CALL_UID) /* 7a3f5c1e-9b2d-4e6a-8c41-5d0f2b9e6a73, bytes 0-3 in w0 */
		*ret = 0x1e5c3f7a, x[1] = 0x6a4e2d9b, x[2] = 0x0f5d418c, x[3] = 0x736a9e2b;
	else
		return false;
	return true;
}
