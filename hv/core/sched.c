/* sched.c: which vCPU a core runs. Highest priority first, round robin among equals; time slices
 * only while vCPUs compete for the core; WFI blocks; an idle core sleeps with at most one timer
 * armed, and takes a waiting vCPU from a busy core when the vCPU may run on it. */
#include <pv/arch.h>
#include <pv/cpu.h>
#include <pv/exit.h>
#include <pv/gic.h>
#include <pv/manage.h>
#include <pv/pvtime.h>
#include <pv/sched.h>
#include <pv/vgic.h>
#include <pv/vm.h>
#include <pv/vptimer.h>
#include <board.h>

#define SLICE_DIVISOR 200 /* a 5 ms slice */

static struct vcpu *all[PVB_MAX_VMS * PVB_MAX_VCPUS];
static u32 all_count;

void sched_attach(struct vcpu *vcpu)
{
	all[all_count] = vcpu;
	__atomic_store_n(&all_count, all_count + 1, __ATOMIC_RELEASE);
}

static inline __attribute__((always_inline)) u32 load32(const u32 *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Powered on in a running VM (blocked or not). */
static bool alive(const struct vcpu *v)
{
	u32 power = load32(&v->power);
	return load32(&v->vm->state) == VM_RUNNING && (power == VCPU_ON || power == VCPU_ON_PENDING);
}

/* A blocked vCPU wakes for an interrupt it could take, or for its virtual timer's deadline. */
static bool wants_core(struct vcpu *v, u64 now)
{
	if (!alive(v))
		return false;
	if (!load32(&v->blocked))
		return true;
	return arch_vtimer_deadline(v) <= now || vptimer_deadline(v) <= now ||
	       vgic_has_pending(&v->vm->vgic, v->id);
}

/* May core c run v now? Its own vCPUs, and (when idle-stealing) another core's waiting ones. */
static bool eligible(const struct cpu *c, const struct vcpu *v, bool steal)
{
	if (v == c->loaded)
		return load32(&v->allowed) & BIT(c->id); /* set-cpus may have moved it */
	if (load32(&v->running))
		return false;
	return load32(&v->cpu) == c->id || (steal && (v->allowed & BIT(c->id)));
}

/* Highest priority, round robin after the cursor (so the current vCPU comes last). */
static struct vcpu *pick(struct cpu *c, bool steal, u64 now)
{
	u32 n = load32(&all_count), best_idx = 0;
	struct vcpu *best = NULL;
	for (u32 i = 1; i <= n; i++) {
		u32 idx = (c->next + i) % n;
		struct vcpu *v = all[idx];
		if ((!best || v->priority > best->priority) && eligible(c, v, steal) &&
		    wants_core(v, now))
			best = v, best_idx = idx;
	}
	if (best)
		c->next = best_idx;
	return best;
}

/* Other vCPUs that could use this core as much as the chosen one (then the chosen gets a
 * slice): the cores they may run on, 0 if there are none. */
static u32 contended(const struct cpu *c, const struct vcpu *chosen, u64 now)
{
	u32 cores = 0;
	for (u32 i = 0; i < load32(&all_count); i++) {
		struct vcpu *v = all[i];
		if (v != chosen && v->priority >= chosen->priority && load32(&v->cpu) == c->id &&
		    !load32(&v->running) && wants_core(v, now))
			cores |= load32(&v->allowed) | BIT(c->id);
	}
	return cores;
}

static u64 min64(u64 a, u64 b)
{
	return a < b ? a : b;
}

/* The earliest future timer event this core must wake for: its blocked vCPUs' virtual timers
 * and every one of its vCPUs' emulated physical timer. A deadline already passed is not one:
 * it has made its vCPU runnable, and arming it would fire at once, forever. */
static u64 next_wakeup(const struct cpu *c, u64 now)
{
	u64 t = ~0ull;
	for (u32 i = 0; i < load32(&all_count); i++) {
		const struct vcpu *v = all[i];
		if (load32(&v->cpu) != c->id || !alive(v))
			continue;
		u64 p = vptimer_deadline(v);
		u64 d = load32(&v->blocked) ? arch_vtimer_deadline(v) : ~0ull;
		if (p > now)
			t = min64(t, p);
		if (d > now)
			t = min64(t, d);
	}
	return t;
}

/* The core no longer runs its vCPU: save its state, then let waiters (vm_stop) see it parked.
 * One still ready to run starts waiting (stolen time, pvtime.c); one that is not, does not,
 * whatever a racing sched_wake wrote while it ran. */
static void release(struct cpu *c, u64 now)
{
	struct vcpu *v = c->loaded;
	bool ready = !load32(&v->blocked) && load32(&v->power) == VCPU_ON;
	vgic_put(&v->vm->vgic, v->id);
	arch_vcpu_put(v);
	v->stat.run_ticks += now - v->run_since;
	__atomic_store_n(&v->wait_since, ready ? now : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&v->running, 0u, __ATOMIC_RELEASE);
	c->loaded = NULL;
}

/* Idle cores sleep until their own vCPUs need them: when this core has more ready vCPUs than it
 * can run, the idle cores those may run on are told to look for one to take (a VM that stopped,
 * paused or moved left its core idle while another is crowded). */
static __attribute__((noinline)) void wake_idle(const struct cpu *c, u32 cores)
{
	for (u32 i = 0; i < PLAT_CPU_COUNT; i++)
		if (i != c->id && (cores & BIT(i)) && load32(&cpus[i].online) &&
		    !__atomic_load_n(&cpus[i].loaded, __ATOMIC_ACQUIRE))
			arch_kick(i);
}

static bool switch_to(struct cpu *c, struct vcpu *next, u64 now)
{
	if (c->loaded != next) {
		u32 expected = 0;
		if (!__atomic_compare_exchange_n(&next->running, &expected, 1u, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return false; /* another core took it first */
		if (c->loaded)
			release(c, now);
		__atomic_store_n(&next->cpu, c->id, __ATOMIC_RELEASE);
		next->run_since = now;
	}
	u64 since = __atomic_exchange_n(&next->wait_since, 0, __ATOMIC_RELAXED);
	if (since && since < now) {
		next->stolen += now - since;
		pvtime_update(next);
	}
	__atomic_store_n(&next->blocked, 0u, __ATOMIC_RELEASE);
	vptimer_sync(next, arch_timer_now());
	bool fresh = load32(&next->power) == VCPU_ON_PENDING;
	if (fresh) {
		/* Started by CPU_ON or a reset: its entry point was published before ON_PENDING. */
		vcpu_reset(next, next->boot_entry, next->boot_ctx);
		__atomic_store_n(&next->power, (u32)VCPU_ON, __ATOMIC_RELEASE);
	}
	if (c->loaded != next || fresh) {
		arch_vcpu_load(next);
		next->hv_sp = c->stack_top;
		c->loaded = next;
	}
	return true;
}

struct vcpu *sched_next(struct vcpu *cur)
{
	struct cpu *c = this_cpu();
	if (cur && !cur->yield && !load32(&c->resched) && !load32(&cur->blocked) &&
	    load32(&cur->power) == VCPU_ON && load32(&cur->vm->state) == VM_RUNNING)
		return cur; /* the fast path: nothing asked for a decision */
	if (cur) {
		cur->yield = 0;
		arch_vtimer_snapshot(cur); /* wants_core reads its deadline */
	}
	for (;;) {
		__atomic_store_n(&c->resched, 0u, __ATOMIC_RELEASE);
		if (load32(&manage_todo))
			manage_run(); /* management requests: before the choice they may change */
		u64 now = arch_timer_now();
		struct vcpu *next = pick(c, false, now);
		if (!next)
			next = pick(c, true, now);
		if (next && switch_to(c, next, now)) {
			u32 busy = contended(c, next, now);
			c->slice_end = busy ? now + arch_timer_freq() / SLICE_DIVISOR : ~0ull;
			if (busy & ~BIT(c->id))
				wake_idle(c, busy);
			arch_timer_arm(min64(next_wakeup(c, now), c->slice_end));
			return next;
		}
		if (next)
			continue;
		if (c->loaded)
			release(c, now);
		/* pick's own `now`: a deadline after it was not due there, so it is armed here. */
		arch_timer_arm(next_wakeup(c, now));
		if (!load32(&c->resched))
			arch_idle();
		irq_handle(NULL, gic_ack());
	}
}

/* Something may have made the vCPU able to run (an interrupt, CPU_ON, a reset). */
void sched_wake(struct vcpu *vcpu)
{
	u32 cpu = load32(&vcpu->cpu);
	/* Ready from now on: until a core takes it, waiting counts as stolen. */
	u64 none = 0;
	if (__atomic_exchange_n(&vcpu->blocked, 0u, __ATOMIC_ACQ_REL) && !load32(&vcpu->running))
		__atomic_compare_exchange_n(&vcpu->wait_since, &none, arch_timer_now(), false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	if (cpu == this_cpu()->id)
		__atomic_store_n(&this_cpu()->resched, 1u, __ATOMIC_RELEASE);
	else
		arch_kick(cpu);
}

void sched_wake_mask(struct vm *vm, u32 vcpus)
{
	for (u32 i = 0; vcpus; i++, vcpus >>= 1)
		if (vcpus & 1)
			sched_wake(&vm->vcpus[i]);
}
