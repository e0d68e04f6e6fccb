/* counters.c: monotonic counters for VMs with `rollback-counters;` and the device's boot count,
 * kept by the hypervisor on the board disk's hv-rpmb partition the way eMMC RPMB keeps them:
 * every copy carries a write count and an HMAC under a key derived from the device secret, so
 * a copy this device did not write is refused (docs/attestation.md, "Rollback counters").
 *
 * The partition's first two sectors are two copies of one 512-byte store; a write goes to the
 * copy the other one is not (seq % 2) and is flushed before the call returns, so a write cut
 * short leaves the previous copy whole. The current copy is the authentic one with the higher
 * write count. */
#include <pv/crypto.h>
#include <pv/identity.h>
#include <pv/log.h>
#include <pv/provider.h>
#include <pv/smccc.h>
#include <pv/spinlock.h>
#include <pv/string.h>
#include <pv/virtio.h>
#include <pv/vm.h>

#define STORE_MAGIC 0x3130424d50525650ull /* "PVRPMB01" */
#define MAC_AT 480u

struct store {
	u64 magic;
	u64 seq;   /* writes so far; the copy is sector seq % 2 */
	u64 boots; /* PV_COUNTER_BOOT */
	u64 reserved;
	struct {
		char name[PVB_NAME_SIZE]; /* empty: a free entry */
		u64 value[PV_COUNTERS];
	} vm[PV_COUNTER_VMS];
	u8 zero[MAC_AT - 32 - PV_COUNTER_VMS * (PVB_NAME_SIZE + 8 * PV_COUNTERS)];
	u8 mac[SHA256_SIZE]; /* HMAC-SHA256(the store key, bytes 0..479) */
};
_Static_assert(sizeof(struct store) == 512, "one sector");

static struct store st __attribute__((aligned(64)));
static u8 key[SHA256_SIZE];
u64 rpmb_start, rpmb_sectors; /* set by blk_attach (identity.h) */
/* PV_COUNTER's answer while the store is unusable; 0 once it is read and this boot counted.
 * Only a VM with the role asks, and counters_init set it before any VM ran. */
static s32 status;

static __attribute__((noinline)) void seal(struct store *s, u8 mac[SHA256_SIZE])
{
	hmac(key, SHA256_SIZE, s, MAC_AT, NULL, 0, mac);
}

static bool authentic(struct store *s)
{
	u8 mac[SHA256_SIZE], diff = 0;
	seal(s, mac);
	for (u32 i = 0; i < SHA256_SIZE; i++)
		diff |= mac[i] ^ s->mac[i];
	return s->magic == STORE_MAGIC && !diff;
}

/* The next copy, written and flushed; the store is unchanged if that failed. */
static bool commit(void)
{
	st.seq++;
	seal(&st, st.mac);
	if (pblk_sync(PBLK_OUT, rpmb_start + st.seq % 2, &st) && pblk_sync(PBLK_FLUSH, 0, NULL))
		return true;
	st.seq--;
	return false;
}

static u64 *entry(const struct vm *vm)
{
	for (u32 i = 0; i < PV_COUNTER_VMS; i++)
		if (st.vm[i].name[0] && !memcmp(st.vm[i].name, vm->cfg->name, PVB_NAME_SIZE))
			return st.vm[i].value;
	return NULL;
}

void counters_init(void)
{
	static struct store copy[2] __attribute__((aligned(64)));
	const char *why = "missing or unreadable";
	u32 want = 0, c;
	bool ok[2];
	for (u32 i = 0; i < vm_count; i++) /* a VM the bundle check refused has no cfg */
		want |= vms[i].cfg ? vms[i].cfg->flags & PVB_VM_COUNTERS : 0;
	status = PV_E_NO_STORE;
	if (!want)
		return;
	if (!identity_key("pocketvisor rpmb", 16, key)) {
		status = PV_E_NO_SECRET;
		return;
	}
	if (rpmb_sectors < 2 || !pblk_sync(PBLK_IN, rpmb_start, &copy[0]) ||
	    !pblk_sync(PBLK_IN, rpmb_start + 1, &copy[1]))
		goto off;
	/* A copy is this device's or never written (all zero): anything else was altered, and
	 * never is the store started again from zero over it. */
	for (c = 0; c < 2; c++) {
		u64 any = 0;
		for (u32 i = 0; i < sizeof(copy[c]) / 8; i++)
			any |= ((const u64 *)&copy[c])[i];
		ok[c] = authentic(&copy[c]);
		if (any && !ok[c]) {
			why = "a copy does not authenticate (another device's, or altered)";
			goto off;
		}
	}
	c = ok[1] && (!ok[0] || copy[1].seq > copy[0].seq);
	st = copy[c]; /* the newer one; both zero on a new device: every counter starts at 0 */
	st.magic = STORE_MAGIC;
	for (u32 i = 0; i < vm_count; i++) /* a VM new here takes the first free entry */
		for (u32 e = 0; vms[i].cfg && vms[i].cfg->flags & PVB_VM_COUNTERS &&
				!entry(&vms[i]) && e < PV_COUNTER_VMS; e++)
			if (!st.vm[e].name[0])
				memcpy(st.vm[e].name, vms[i].cfg->name, PVB_NAME_SIZE);
	st.boots++;
	why = "cannot be written";
	if (!commit())
		goto off;
	status = 0;
	log_info(NULL, "hv-rpmb: boot %lu", st.boots);
	return;
off:
	log_err(NULL, "hv-rpmb: %s: no rollback counters", why);
}

s64 counter_call(struct vm *vm, u64 *x)
{
	u64 index = x[1], add = x[2];
	s64 ret = 0;
	if (!(vm->cfg->flags & PVB_VM_COUNTERS)) {
		log_guest(vm, "counter %lu: not allowed", index);
		return PV_E_DENIED;
	}
	if (index > PV_COUNTER_BOOT || add > 1 || index + add > PV_COUNTER_BOOT) /* boot: read only */
		return PSCI_INVALID_PARAMETERS;
	if (status)
		return status;
	spin_lock(&virtio_lock); /* the disk's, and the store is one for every VM */
	u64 *v = index == PV_COUNTER_BOOT ? &st.boots : entry(vm);
	if (v && index < PV_COUNTER_BOOT)
		v += index;
	if (!v) {
		ret = PV_E_NO_STORE; /* the store had no room left for it (docs/attestation.md) */
	} else if (add && (++*v, !commit())) {
		--*v;
		log_err(vm, "hv-rpmb: counter %lu: cannot be written", index);
		ret = PV_E_IO;
	}
	if (v)
		x[1] = *v;
	spin_unlock(&virtio_lock);
	return ret;
}
