/* sched.c: per-core round robin over the vCPUs placed on the core; an idle core sleeps. */
#include <pv/arch.h>
#include <pv/cpu.h>
#include <pv/exit.h>
#include <pv/sched.h>
#include <pv/vm.h>

void sched_attach(struct vcpu *vcpu)
{
	struct cpu *c = &cpus[vcpu->cpu];
	c->vcpus[c->vcpu_count] = vcpu;
	__atomic_store_n(&c->vcpu_count, c->vcpu_count + 1, __ATOMIC_RELEASE);
}

static bool runnable(const struct vcpu *v)
{
	u32 power = __atomic_load_n(&v->power, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&v->vm->state, __ATOMIC_ACQUIRE) == VM_RUNNING &&
	       (power == VCPU_ON || power == VCPU_ON_PENDING);
}

/* The core no longer runs v: save its state, then let waiters (vm_stop) see it is parked. */
static void release(struct cpu *c)
{
	arch_vcpu_put(c->loaded);
	__atomic_store_n(&c->loaded->running, 0u, __ATOMIC_RELEASE);
	c->loaded = NULL;
}

/* Round robin from the vCPU after the cursor; the current one is considered last. */
static struct vcpu *pick(struct cpu *c)
{
	u32 n = __atomic_load_n(&c->vcpu_count, __ATOMIC_ACQUIRE);
	for (u32 i = 1; i <= n; i++) {
		u32 idx = (c->next + i) % n;
		if (runnable(c->vcpus[idx])) {
			c->next = idx;
			return c->vcpus[idx];
		}
	}
	return NULL;
}

static struct vcpu *switch_to(struct cpu *c, struct vcpu *next)
{
	bool fresh = __atomic_load_n(&next->power, __ATOMIC_ACQUIRE) == VCPU_ON_PENDING;
	if (c->loaded && c->loaded != next)
		release(c);
	if (fresh) {
		/* Started by CPU_ON or a reset: its entry point was published before ON_PENDING. */
		vcpu_reset(next, next->boot_entry, next->boot_ctx);
		__atomic_store_n(&next->power, (u32)VCPU_ON, __ATOMIC_RELEASE);
	}
	if (c->loaded != next || fresh) {
		__atomic_store_n(&next->running, 1u, __ATOMIC_RELAXED);
		arch_vcpu_load(next);
		next->hv_sp = c->stack_top;
		c->loaded = next;
	}
	return next;
}

struct vcpu *sched_next(struct vcpu *cur)
{
	struct cpu *c = this_cpu();
	if (cur && !cur->yield && __atomic_load_n(&cur->power, __ATOMIC_RELAXED) == VCPU_ON &&
	    runnable(cur))
		return cur; /* the fast path: no switch */
	if (cur)
		cur->yield = 0;
	for (;;) {
		struct vcpu *next = pick(c);
		if (next)
			return switch_to(c, next);
		if (c->loaded)
			release(c);
		arch_idle();
		irq_handle();
	}
}

void sched_wake(struct vcpu *vcpu)
{
	if (vcpu->cpu != this_cpu()->id)
		arch_kick(vcpu->cpu);
}
