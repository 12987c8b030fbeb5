/* The vCPU loop (see vcpu.h): hart scheduling, interrupt delivery between
 * slices, wfi, auto-converge throttling, and the exits the board handles. */
#include <errno.h>
#include <time.h>
#include "core/vcpu.h"
#include "core/vm.h"
#include "cpu/lifecycle.h"
#include "cpu/trap.h"
#include "cpu/exec.h"

void vcpu_init(struct vcpu *v, struct vm *vm, int first, int count, bool primary)
{
	*v = (struct vcpu){ .vm = vm, .first = first, .count = count, .primary = primary };
}

/* Sleep until deadline_ns unless the VM is paused or told to end first
 * (vm_pause kicks idle_cond). A plain sleep held a migration's pause of
 * the guest, at its switch-over and at each dirty-log harvest, for the
 * rest of the throttle's sleep: up to 6 ms at 95 %. */
static void throttle_sleep(struct vm *vm, int64_t deadline_ns)
{
	struct timespec ts = { deadline_ns / 1000000000, deadline_ns % 1000000000 };
	pthread_mutex_lock(&vm->idle_lock);
	while (!atomic_load(&vm->pause_count) && atomic_load(&vm->exit_req) == VM_RUNNING)
		if (pthread_cond_timedwait(&vm->idle_cond, &vm->idle_lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&vm->idle_lock);
}

/* Auto-converge (live migration): after running for t ns, sleep
 * t * pct / (100 - pct), so the guest gets (100 - pct)% of the time. */
static void throttle(struct vm *vm, int64_t *last)
{
	int pct = atomic_load(&vm->throttle_pct);
	int64_t now = host_mono_ns();
	if (*last && pct > 0 && pct < 100) {
		int64_t ran = now - *last;
		if (ran > 0 && ran < 100000000)
			throttle_sleep(vm, now + ran * pct / (100 - pct));
	}
	*last = host_mono_ns();
}

/* The end of a round in which no hart ran: its harts wait in wfi (until the
 * earliest timer), or are stopped (until a kick starts one). The machine is
 * halted when no hart at all is started. */
static enum vcpu_exit round_idle(struct vcpu *v)
{
	struct vm *vm = v->vm;
	for (int i = v->first; i < v->first + v->count; i++)
		if (vm->cpus.harts[i]->hsm_state == HSM_STARTED) {
			v->wake_ns = v->deadline_ns;
			return VCPU_EXIT_WFI;
		}
	v->wake_ns = INT64_MAX;
	for (int i = 0; i < vm->cpus.nharts; i++)
		if (vm->cpus.harts[i]->hsm_state == HSM_STARTED)
			return VCPU_EXIT_WFI;
	return v->primary ? VCPU_EXIT_HALTED : VCPU_EXIT_WFI;
}

/* One slice of hart h, with the requests of other threads served first. */
static void run_slice(struct hart *h)
{
	atomic_store(&h->in_guest, 1);
	atomic_store_explicit(&h->yield, 0, memory_order_relaxed);
	if (atomic_load(&h->req))
		hart_serve_requests(h);
	hart_check_interrupts(h);
	hart_run(h, VCPU_SLICE_INSNS);
	atomic_store(&h->in_guest, 0);
}

enum vcpu_exit vcpu_run(struct vcpu *v)
{
	struct vm *vm = v->vm;
	if (v->next == 0) {
		/* A round begins: the VMM's requests come first. */
		if (!v->primary) {
			if (atomic_load(&vm->reset_req) || atomic_load(&vm->resetting) ||
			    atomic_load(&vm->exit_req) != VM_RUNNING || atomic_load(&vm->pause_count))
				return VCPU_EXIT_PAUSE;
		} else if (atomic_exchange(&vm->reset_req, 0)) {
			return VCPU_EXIT_RESET;
		} else if (atomic_load(&vm->exit_req) != VM_RUNNING) {
			return VCPU_EXIT_SHUTDOWN;
		} else if (atomic_load(&vm->pause_count)) {
			return VCPU_EXIT_PAUSE;
		}
		v->round_kicks = atomic_load(&vm->kicks);
		v->runnable = 0;
		v->deadline_ns = INT64_MAX;
	}
	while (v->next < v->count) {
		struct hart *h = vm->cpus.harts[v->first + v->next++];
		if (h->hsm_state != HSM_STARTED)
			continue;
		if (h->wfi) {
			if (hart_read_sip(h) & h->sie) {
				h->wfi = false;
			} else {
				int64_t d = vm_time_to_host_ns(vm, h->stimecmp);
				if ((h->sie & MIP_STIP) && d < v->deadline_ns)
					v->deadline_ns = d;
				continue;
			}
		}
		v->runnable++;
		run_slice(h);
		if (h->exit == HART_EXIT_SBI) {
			h->exit = HART_EXIT_NONE;
			v->hart = h;
			return VCPU_EXIT_SBI;
		}
	}
	v->next = 0;
	if (!v->runnable)
		return round_idle(v);
	if (atomic_load(&vm->throttle_pct))
		throttle(vm, &v->throttle_t);
	return VCPU_EXIT_SLICE;
}

void vcpu_idle(struct vcpu *v)
{
	struct vm *vm = v->vm;
	int64_t deadline_ns = v->wake_ns;
	int64_t now_ns = host_mono_ns();
	/* Wake at least once a second, for the board's periodic devices (the
	 * RTC alarm). */
	if (deadline_ns > now_ns + 1000000000)
		deadline_ns = now_ns + 1000000000;
	if (deadline_ns <= now_ns)
		return;
	struct timespec ts = { deadline_ns / 1000000000, deadline_ns % 1000000000 };
	pthread_mutex_lock(&vm->idle_lock);
	while (atomic_load(&vm->kicks) == v->round_kicks) {
		if (pthread_cond_timedwait(&vm->idle_cond, &vm->idle_lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&vm->idle_lock);
}
