/* Pausing the vCPU thread: a nesting pause count, a parking spot between
 * slices, and guest time that stands still while parked (as in QEMU, where
 * the guest clock stops with the VM). Also the event hook. */
#include <stdio.h>
#include <time.h>
#include "core/vm.h"

void vm_pause(struct vm *vm)
{
	atomic_fetch_add(&vm->pause_count, 1);
	vm_kick(vm);
	pthread_mutex_lock(&vm->idle_lock);
	while (!atomic_load(&vm->parked) && atomic_load(&vm->vcpu_running))
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
	return atomic_load(&vm->parked);
}

uint64_t vm_guest_time(const struct vm *vm)
{
	return atomic_load(&vm->parked) ? vm->frozen_ticks : vm_time(vm);
}

void vm_set_guest_time(struct vm *vm, uint64_t ticks)
{
	vm->time_base_ns = host_mono_ns();
	vm->time_offset = ticks;
	vm->frozen_ticks = ticks;
}

void vm_pause_point(struct vm *vm)
{
	if (!atomic_load(&vm->pause_count))
		return;
	pthread_mutex_lock(&vm->idle_lock);
	vm->frozen_ticks = vm_time(vm);
	atomic_store(&vm->parked, 1);
	pthread_cond_broadcast(&vm->park_cond);
	while (atomic_load(&vm->pause_count) > 0 && atomic_load(&vm->exit_req) == VM_RUNNING &&
	       !atomic_load(&vm->reset_req))
		pthread_cond_wait(&vm->idle_cond, &vm->idle_lock);
	/* Guest time resumes where it stopped (a restore may have set it). */
	vm_set_guest_time(vm, vm->frozen_ticks);
	atomic_store(&vm->parked, 0);
	pthread_mutex_unlock(&vm->idle_lock);
}

void vm_event(struct vm *vm, const char *event, const char *data_json)
{
	if (vm->event_fn)
		vm->event_fn(vm->event_opaque, event, data_json);
}
