/* Pausing the vCPU threads: a nesting pause count, a parking spot between
 * slices, and guest time that stands still while all are parked (as in
 * QEMU, where the guest clock stops with the VM). Also the event hook. */
#include <stdio.h>
#include <time.h>
#include "core/vm.h"

/* Every vCPU thread that still runs is parked (idle_lock held). */
static bool all_parked(const struct vm *vm)
{
	return atomic_load(&vm->parked) >= atomic_load(&vm->vcpu_running);
}

void vm_pause(struct vm *vm)
{
	atomic_fetch_add(&vm->pause_count, 1);
	vm_kick(vm);
	pthread_mutex_lock(&vm->idle_lock);
	while (!all_parked(vm))
		pthread_cond_wait(&vm->park_cond, &vm->idle_lock);
	pthread_mutex_unlock(&vm->idle_lock);
}

void vm_resume(struct vm *vm)
{
	if (atomic_fetch_sub(&vm->pause_count, 1) == 1) {
		if (vm->on_resume)
			vm->on_resume(vm);
		vm_kick(vm);
	}
}

bool vm_is_parked(const struct vm *vm)
{
	return atomic_load(&vm->parked) > 0 && all_parked(vm);
}

uint64_t vm_guest_time(const struct vm *vm)
{
	return vm->time_frozen ? vm->frozen_ticks : vm_time(vm);
}

void vm_set_guest_time(struct vm *vm, uint64_t ticks)
{
	vm->time_base_ns = host_mono_ns();
	vm->time_offset = ticks;
	vm->frozen_ticks = ticks;
}

static bool stay_parked(const struct vm *vm, bool primary)
{
	if (primary)
		return atomic_load(&vm->pause_count) > 0 && atomic_load(&vm->exit_req) == VM_RUNNING &&
		       !atomic_load(&vm->reset_req);
	return !atomic_load(&vm->vcpus_stop) &&
	       (atomic_load(&vm->pause_count) > 0 || atomic_load(&vm->exit_req) != VM_RUNNING ||
		atomic_load(&vm->reset_req) || atomic_load(&vm->resetting));
}

void vm_pause_point(struct vm *vm, bool primary)
{
	pthread_mutex_lock(&vm->idle_lock);
	if (!stay_parked(vm, primary)) {
		pthread_mutex_unlock(&vm->idle_lock);
		return;
	}
	atomic_fetch_add(&vm->parked, 1);
	/* The last thread to park stops guest time: no hart runs now. */
	if (all_parked(vm) && !vm->time_frozen) {
		vm->frozen_ticks = vm_time(vm);
		vm->time_frozen = true;
	}
	pthread_cond_broadcast(&vm->park_cond);
	while (stay_parked(vm, primary))
		pthread_cond_wait(&vm->idle_cond, &vm->idle_lock);
	/* The first to leave restarts guest time where it stopped (a restore
	 * may have set it). */
	if (vm->time_frozen) {
		vm_set_guest_time(vm, vm->frozen_ticks);
		vm->time_frozen = false;
	}
	atomic_fetch_sub(&vm->parked, 1);
	pthread_mutex_unlock(&vm->idle_lock);
}

void vm_park_others(struct vm *vm)
{
	atomic_store(&vm->resetting, 1);
	vm_kick(vm);
	pthread_mutex_lock(&vm->idle_lock);
	while (atomic_load(&vm->parked) < atomic_load(&vm->vcpu_running) - 1)
		pthread_cond_wait(&vm->park_cond, &vm->idle_lock);
	pthread_mutex_unlock(&vm->idle_lock);
}

void vm_event(struct vm *vm, const char *event, const char *data_json)
{
	if (vm->event_fn)
		vm->event_fn(vm->event_opaque, event, data_json);
}
