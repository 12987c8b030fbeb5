/* VM-wide services: construction, guest time, MMIO dispatch, vCPU kick,
 * exit requests. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <sched.h>
#include "core/vm.h"
#include "cpu/dcache.h"
#include "cpu/jit.h"
#include "cpu/lifecycle.h"

/* The machine's side of the harts' calls out of the CPU (cpu/hart_group.h). */
static int hart_mmio_read(void *vm, uint64_t pa, unsigned size, uint64_t *val)
{
	return vm_mmio_read(vm, pa, size, val);
}

static int hart_mmio_write(void *vm, uint64_t pa, unsigned size, uint64_t val)
{
	return vm_mmio_write(vm, pa, size, val);
}

static uint64_t hart_time(const void *vm)
{
	return vm_time(vm);
}

static void hart_kick_vcpus(void *vm)
{
	vm_kick(vm);
}

static const struct hart_machine_ops vm_hart_ops = {
	.mmio_read = hart_mmio_read,
	.mmio_write = hart_mmio_write,
	.time = hart_time,
	.kick = hart_kick_vcpus,
};

int vm_init(struct vm *vm, const struct vm_opts *o)
{
	memset(vm, 0, sizeof(*vm));
	if (o->nharts < 1 || o->nharts > VM_MAX_HARTS || !o->ram_size || o->ram_size % 4096)
		return -EINVAL;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->idle_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* wfi sleeps to a monotonic deadline */
	pthread_cond_init(&vm->idle_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&vm->park_cond, NULL);
	vm->vcpu_running = 1;
	vm->time_base_ns = host_mono_ns();
	int rc = guest_ram_map(&vm->mem, o->ram_base, o->ram_size);
	if (rc) {
		vm_fini(vm);
		return rc;
	}
	vm->cpus.ram = &vm->mem;
	vm->cpus.ops = &vm_hart_ops;
	vm->cpus.machine = vm;
	vm->cpus.nharts = o->nharts;
	int fail = code_map_init(&vm->cpus.code_map, vm->mem.size);
	for (int i = 0; i < vm->cpus.nharts; i++) {
		struct hart *h = calloc(1, sizeof(struct hart));
		vm->cpus.harts[i] = h;
		if (!h) {
			fail = 1;
			continue;
		}
		hart_reset(h, &vm->cpus, i);
		h->dcache = dcache_new(vm->mem.size);
		if (o->jit_bytes)
			h->jit = jit_new(o->jit_bytes);     /* none to be had: interpret */
		fail |= !h->dcache;
	}
	if (fail) {
		vm_fini(vm);
		return -ENOMEM;
	}
	return 0;
}

void vm_fini(struct vm *vm)
{
	for (int i = 0; i < vm->cpus.nharts; i++)
		hart_destroy(vm->cpus.harts[i]);
	code_map_fini(&vm->cpus.code_map);
	guest_ram_unmap(&vm->mem);
	pthread_cond_destroy(&vm->park_cond);
	pthread_cond_destroy(&vm->idle_cond);
	pthread_mutex_destroy(&vm->idle_lock);
	pthread_mutex_destroy(&vm->lock);
	memset(vm, 0, sizeof(*vm));
}

struct vm *vm_new(const struct vm_opts *o)
{
	struct vm *vm = malloc(sizeof(*vm));
	if (!vm)
		return NULL;
	int rc = vm_init(vm, o);
	if (rc) {
		free(vm);
		errno = -rc;
		return NULL;
	}
	return vm;
}

void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	vm_fini(vm);
	free(vm);
}

int64_t host_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t vm_time(const struct vm *vm)
{
	return (uint64_t)(host_mono_ns() - vm->time_base_ns) / 100 + vm->time_offset;
}

int64_t vm_time_to_host_ns(const struct vm *vm, uint64_t ticks)
{
	if (ticks < vm->time_offset)
		return vm->time_base_ns;
	uint64_t d = ticks - vm->time_offset;
	if (d > (uint64_t)INT64_MAX / 200)
		return INT64_MAX / 2;
	return vm->time_base_ns + (int64_t)d * 100;
}

int vm_add_mmio(struct vm *vm, uint64_t base, uint64_t size, const struct dev_ops *ops, void *dev)
{
	if (vm->nmmio >= VM_MAX_MMIO)
		return -ENOSPC;
	vm->mmio[vm->nmmio++] = (struct mmio_region){ base, size, ops, dev };
	return 0;
}

static struct mmio_region *find_region(struct vm *vm, uint64_t pa, unsigned size)
{
	for (int i = 0; i < vm->nmmio; i++) {
		struct mmio_region *r = &vm->mmio[i];
		if (pa >= r->base && pa - r->base < r->size && size <= r->size - (pa - r->base))
			return r;
	}
	return NULL;
}

int vm_mmio_read(struct vm *vm, uint64_t pa, unsigned size, uint64_t *val)
{
	struct mmio_region *r = find_region(vm, pa, size);
	if (!r || !r->ops->read)
		return -EFAULT;
	pthread_mutex_lock(&vm->lock);
	int ret = r->ops->read(r->dev, pa - r->base, size, val);
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int vm_mmio_write(struct vm *vm, uint64_t pa, unsigned size, uint64_t val)
{
	struct mmio_region *r = find_region(vm, pa, size);
	if (!r || !r->ops->write)
		return -EFAULT;
	pthread_mutex_lock(&vm->lock);
	for (int i = 0; i < vm->nmmio_watch; i++)
		vm->mmio_watch[i].write(vm->mmio_watch[i].ctx, (int)(r - vm->mmio), pa - r->base, size, val);
	int ret = r->ops->write(r->dev, pa - r->base, size, val);
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int vm_mmio_watch(struct vm *vm, const struct mmio_watch *w)
{
	int ret = -ENOSPC;
	pthread_mutex_lock(&vm->lock);
	if (vm->nmmio_watch < VM_MAX_MMIO_WATCHES) {
		vm->mmio_watch[vm->nmmio_watch++] = *w;
		ret = 0;
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int vm_mmio_unwatch(struct vm *vm, const struct mmio_watch *w)
{
	int ret = -ENOENT;
	pthread_mutex_lock(&vm->lock);
	for (int i = 0; i < vm->nmmio_watch; i++)
		if (vm->mmio_watch[i].write == w->write && vm->mmio_watch[i].ctx == w->ctx) {
			vm->mmio_watch[i] = vm->mmio_watch[--vm->nmmio_watch];
			ret = 0;
			break;
		}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

void vm_kick(struct vm *vm)
{
	pthread_mutex_lock(&vm->idle_lock);
	atomic_fetch_add(&vm->kicks, 1);
	pthread_cond_broadcast(&vm->idle_cond);
	pthread_mutex_unlock(&vm->idle_lock);
}

void vm_harts_request(struct vm *vm, uint64_t mask, unsigned req)
{
	for (int i = 0; i < vm->cpus.nharts; i++)
		if (mask & (1ull << i)) {
			atomic_fetch_or(&vm->cpus.harts[i]->req, req);
			hart_kick(vm->cpus.harts[i]);
		}
	vm_kick(vm);
	/* A hart outside hart_run serves its requests before it runs again;
	 * one inside does at its next slice boundary. */
	for (int i = 0; i < vm->cpus.nharts; i++) {
		struct hart *t = vm->cpus.harts[i];
		if (!(mask & (1ull << i)))
			continue;
		while ((atomic_load(&t->req) & req) && atomic_load(&t->in_guest))
			sched_yield();
	}
}

void vm_code_flush(struct vm *vm)
{
	for (int i = 0; i < vm->cpus.nharts; i++) {
		dcache_clear(vm->cpus.harts[i]);
		if (vm->cpus.harts[i]->jit)
			jit_reset(vm->cpus.harts[i]->jit);
	}
}

void vm_request_exit(struct vm *vm, enum vm_exit why, const char *msg)
{
	int expected = VM_RUNNING;
	if (atomic_compare_exchange_strong(&vm->exit_req, &expected, (int)why) && msg)
		snprintf(vm->exit_msg, sizeof(vm->exit_msg), "%s", msg);
	vm_kick(vm);
}
