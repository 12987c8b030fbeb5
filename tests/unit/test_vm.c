/* core/vm.c: vm_new / vm_init, the one constructor the board and the tests
 * share (RAM, harts, caches and the wfi clock come up ready; bad options are
 * refused), and the MMIO bus with its write watchers. */
#include <errno.h>
#include "vm_fixture.h"
#include "core/vcpu.h"
#include "cpu/jit.h"

static void builds_ram_and_stopped_harts(void **state)
{
	struct vm_opts o = { .ram_base = 0x80000000ull, .ram_size = 2u << 20, .nharts = 3 };
	struct vm *vm = vm_new(&o);
	assert_non_null(vm);
	assert_int_equal(vm->cpus.nharts, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vm->cpus.harts[i]->id, i);
		assert_ptr_equal(vm->cpus.harts[i]->group, &vm->cpus);
		assert_int_equal(vm->cpus.harts[i]->hsm_state, HSM_STOPPED);
		assert_non_null(vm->cpus.harts[i]->dcache);     /* each its own */
		assert_null(vm->cpus.harts[i]->jit);
	}
	assert_null(vm->cpus.harts[3]);
	assert_ptr_not_equal(vm->cpus.harts[0]->dcache, vm->cpus.harts[1]->dcache);
	uint8_t *p = vm_ram_ptr(vm, 0x80000000ull + (2u << 20) - 8, 8);
	assert_non_null(p);
	assert_int_equal(p[7], 0);
	assert_null(vm_ram_ptr(vm, 0x80000000ull + (2u << 20) - 4, 8));
	assert_true(vm_time(vm) < TIMEBASE_HZ);     /* guest time starts at 0 */
	vm_free(vm);
}

static void jit_on_request(void **state)
{
	struct vm_opts o = { .ram_base = 0x80000000ull, .ram_size = 1u << 20, .nharts = 1,
			     .jit_bytes = 1u << 20 };
	struct vm *vm = vm_new(&o);
	assert_non_null(vm);
	assert_non_null(vm->cpus.harts[0]->jit);
	vm_free(vm);
}

static void refuses_bad_options(void **state)
{
	struct vm_opts o = { .ram_base = 0x80000000ull, .ram_size = 1u << 20, .nharts = 0 };
	errno = 0;
	assert_null(vm_new(&o));
	assert_int_equal(errno, EINVAL);
	o.nharts = VM_MAX_HARTS + 1;
	assert_null(vm_new(&o));
	o.nharts = 1;
	o.ram_size = 4097;
	assert_null(vm_new(&o));
	o.ram_size = 0;
	assert_null(vm_new(&o));
	struct vm vm;
	assert_int_equal(vm_init(&vm, &o), -EINVAL);
	vm_fini(&vm);                   /* harmless after a refusal */
}

/* ---- the MMIO bus: watchers see each guest write before the device ---- */
struct reg { uint64_t val; int writes; };
struct seen { int region; uint64_t off; unsigned size; uint64_t val; int n; struct reg *dev; uint64_t dev_before; };

static int reg_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct reg *r = dev;
	r->val = val;
	r->writes++;
	return 0;
}
static const struct dev_ops reg_ops = { .name = "reg", .write = reg_write };

static void watch_write(void *ctx, int region, uint64_t off, unsigned size, uint64_t val)
{
	struct seen *s = ctx;
	*s = (struct seen){ region, off, size, val, s->n + 1, s->dev, s->dev->val };
}

static void watchers_see_writes_first(void **state)
{
	struct vm *vm = test_vm_new(1u << 20);
	struct reg a = { 0 }, b = { 0 };
	assert_int_equal(vm_add_mmio(vm, 0x1000, 0x100, &reg_ops, &a), 0);
	assert_int_equal(vm_add_mmio(vm, 0x2000, 0x100, &reg_ops, &b), 0);
	struct seen s = { .dev = &b };
	struct mmio_watch w = { watch_write, &s };
	assert_int_equal(vm_mmio_watch(vm, &w), 0);
	b.val = 5;
	assert_int_equal(vm_mmio_write(vm, 0x2010, 4, 77), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.region, 1);
	assert_int_equal(s.off, 0x10);
	assert_int_equal(s.size, 4);
	assert_int_equal(s.val, 77);
	assert_int_equal(s.dev_before, 5);           /* before the device saw it */
	assert_int_equal(b.val, 77);
	/* An unmapped address reaches neither the watcher nor a device. */
	assert_int_equal(vm_mmio_write(vm, 0x3000, 4, 1), -EFAULT);
	assert_int_equal(s.n, 1);
	assert_int_equal(vm_mmio_unwatch(vm, &w), 0);
	assert_int_equal(vm_mmio_unwatch(vm, &w), -ENOENT);
	assert_int_equal(vm_mmio_write(vm, 0x1000, 1, 3), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(a.writes, 1);
	for (int i = 0; i < VM_MAX_MMIO_WATCHES; i++)
		assert_int_equal(vm_mmio_watch(vm, &w), 0);
	assert_int_equal(vm_mmio_watch(vm, &w), -ENOSPC);
	vm_free(vm);
}

/* wfi sleeps to a CLOCK_MONOTONIC deadline: the condition variable must
 * use that clock, or the sleep would end at once (or far too late). */
static void idle_sleeps_until_the_deadline(void **state)
{
	struct vm *vm = test_vm_new(1u << 20);
	struct vcpu v;
	vcpu_init(&v, vm, 0, vm->cpus.nharts, true);
	int64_t t0 = host_mono_ns();
	v.wake_ns = t0 + 50000000;
	vcpu_idle(&v);
	int64_t slept = host_mono_ns() - t0;
	assert_true(slept >= 50000000);
	assert_true(slept < 900000000);
	vm_free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(builds_ram_and_stopped_harts),
		cmocka_unit_test(jit_on_request),
		cmocka_unit_test(refuses_bad_options),
		cmocka_unit_test(idle_sleeps_until_the_deadline),
		cmocka_unit_test(watchers_see_writes_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
