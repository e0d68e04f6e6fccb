/* manage.c: the management service (docs/manage.md). vsock.c collects one request per VM from
 * its stream to CID 2; here, outside every lock but the service's own, each is checked in full
 * (the caller's `manages` first, then the VM's state) before anything changes, carried out,
 * and answered. */
#include <pv/arch.h>
#include <pv/console.h>
#include <pv/cpu.h>
#include <pv/log.h>
#include <pv/manage.h>
#include <pv/spinlock.h>
#include <pv/string.h>
#include <pv/virtio.h>
#include <pv/vm.h>
#include <board.h>

u32 manage_todo;
static struct spinlock manage_lock; /* one request at a time, whichever core runs it */

/* Operation n's name at op_names + 9 * n. */
static const char op_names[] = "\0\0\0\0\0\0\0\0\0list\0\0\0\0\0info\0\0\0\0\0start\0\0\0\0"
			       "stop\0\0\0\0\0reset\0\0\0\0pause\0\0\0\0resume\0\0\0set-cpus";

static u32 vm_info(const struct vm *vm, struct pvm_vm *o)
{
	memcpy(o->name, vm->name, PVM_NAME_SIZE);
	o->state = vm->built ? __atomic_load_n(&vm->state, __ATOMIC_ACQUIRE) : PVM_BROKEN;
	o->vcpus = vm->cfg ? vm->vcpu_count : 0;
	o->ram_mib = vm->cfg ? (u32)(vm->cfg->ram_size >> 20) : 0;
	o->cid = vm->cfg ? vm->cfg->cid : 0;
	return sizeof(*o);
}

/* struct vnet's counters are struct pvm_net's, in its order. */
_Static_assert(__builtin_offsetof(struct vnet, drop_full) -
		       __builtin_offsetof(struct vnet, tx) == 16, "vnet counters as pvm_net");

static __attribute__((noinline)) u32 info(const struct vm *vm, u8 *p)
{
	struct pvm_info *o = (struct pvm_info *)p;
	struct pvm_vcpu *pv = (struct pvm_vcpu *)(o + 1);
	u64 now = arch_timer_now();
	memset(o, 0, sizeof(*o));
	vm_info(vm, &o->vm);
	o->freq = arch_timer_freq();
	if (o->vm.state == PVM_RUNNING || o->vm.state == PVM_PAUSED)
		o->uptime_ticks = now - vm->started_at;
	o->starts = vm->starts;
	o->tables_free = arch_s2_free();
	o->c = vm->stat;
	o->c.irqs = vm->vgic.delivered;
	memcpy(&o->net, &vm->net.tx, sizeof(o->net));
	for (u32 i = 0; i < o->vm.vcpus; i++) {
		const struct vcpu *v = &vm->vcpus[i];
		u32 cpu = __atomic_load_n(&v->cpu, __ATOMIC_ACQUIRE);
		o->cpu_mask |= __atomic_load_n(&v->allowed, __ATOMIC_ACQUIRE);
		pv[i] = v->stat;
		if (cpus[cpu].loaded == v)
			pv[i].run_ticks += now - v->run_since; /* its core holds it now */
		pv[i].steal_ticks = v->stolen;
		pv[i].cpu = cpu;
	}
	return (u32)sizeof(*o) + o->vm.vcpus * (u32)sizeof(*pv);
}

/* All 16 bytes compared: a VM's name is 1..15 bytes and NUL-padded, so a name with no NUL, or
 * with anything after its NUL, names none. */
static struct vm *vm_named(const char *n)
{
	for (u32 i = 0; i < vm_count; i++)
		if (!memcmp(vms[i].name, n, PVM_NAME_SIZE))
			return &vms[i];
	return NULL;
}

/* Cores that exist and are online, at least one. */
static bool cores_ok(u32 mask)
{
	if (!mask || mask >> PLAT_CPU_COUNT)
		return false;
	for (u32 c = 0; c < PLAT_CPU_COUNT; c++)
		if ((mask & BIT(c)) && !cpus[c].online)
			return false;
	return true;
}

/* The request's answer after its 16-byte header at out; *len its payload bytes. */
static __attribute__((noinline)) s32 serve(struct vm *caller, const struct pvm_req *q, u8 *out, u32 *len)
{
	if (q->magic != PVM_MAGIC)
		return PVM_E_REQUEST;
	if (q->op == PVM_LIST) {
		for (u32 i = 0; i < vm_count; i++)
			if (caller->cfg->manages & BIT(i))
				*len += vm_info(&vms[i], (struct pvm_vm *)(out + *len));
		return PVM_OK;
	}
	if (q->op == PVM_LOG) {
		struct pvm_log *l = (struct pvm_log *)out;
		*l = (struct pvm_log){ .from = q->arg };
		*len = (u32)sizeof(*l) + console_log_read(l, (char *)(l + 1), PVM_LOG_CHUNK);
		return PVM_OK;
	}
	if (q->op < PVM_INFO || q->op > PVM_SET_CPUS)
		return PVM_E_OP;
	struct vm *vm = vm_named(q->name);
	if (!vm)
		return PVM_E_NO_VM;
	if (!(caller->cfg->manages & BIT(vm->id))) {
		log_guest(caller, "manage: %s %s refused: not allowed", op_names + 9 * q->op, vm->name);
		return PVM_E_DENIED;
	}
	if (q->op == PVM_INFO) {
		*len = info(vm, out);
		return PVM_OK;
	}
	if (q->op == PVM_SET_CPUS && !cores_ok(q->arg))
		return PVM_E_ARG;
	bool done = vm->built;
	switch (q->op) {
	case PVM_START: done = done && vm_start(vm); break;
	case PVM_STOP: done = done && vm_stop(vm, "by management"); break;
	case PVM_RESET: done = done && vm_reset(vm, true); break;
	case PVM_PAUSE: done = done && vm_pause(vm, true); break;
	case PVM_RESUME: done = done && vm_pause(vm, false); break;
	default: if (done) vm_set_cpus(vm, q->arg); break;
	}
	/* In the VM's own name, so its lines tell its story (`pvctl info`). */
	log_info(vm, "%s by %s%s", op_names + 9 * q->op, caller->name, done ? "" : ": wrong state");
	return done ? PVM_OK : PVM_E_STATE;
}

u32 manage_serve(struct vm *caller, const struct pvm_req *req, u8 *out)
{
	struct pvm_resp *r = (struct pvm_resp *)out;
	u32 len = 0;
	s32 status = serve(caller, req, out + sizeof(*r), &len);
	*r = (struct pvm_resp){ .magic = PVM_MAGIC, .op = req->op, .status = status,
				.len = status ? 0 : len };
	return (u32)sizeof(*r) + r->len;
}

/* Never waits for the service's lock: a core that spun here while another stopped its VM would
 * never let that VM's vCPU go. The holder looks again once it lets go, so no request waits for
 * the next exit. Each request waiting in a VM's stream is carried out and answered, into the
 * stream's answer buffer, which nothing reads while a request is pending, and from its request,
 * which nothing changes meanwhile but a new stream (which gen tells apart: its answer is then
 * dropped; the old request came from the same VM and was checked in full all the same). */
__attribute__((noinline)) void manage_run(void)
{
	while (__atomic_load_n(&manage_todo, __ATOMIC_ACQUIRE) && spin_trylock(&manage_lock)) {
		u32 todo = __atomic_exchange_n(&manage_todo, 0u, __ATOMIC_ACQ_REL);
		for (u32 i = 0; todo; i++, todo >>= 1) {
			struct manage_stream *m = &vms[i].mgmt;
			u32 gen = __atomic_load_n(&m->gen, __ATOMIC_ACQUIRE);
			if (!(todo & 1) || !__atomic_load_n(&m->pending, __ATOMIC_ACQUIRE))
				continue;
			u32 n = manage_serve(&vms[i], &m->req, m->reply);
			spin_lock(&virtio_lock);
			vsock_host_answer(&vms[i], gen, n);
			spin_unlock(&virtio_lock);
		}
		spin_unlock(&manage_lock);
	}
}
