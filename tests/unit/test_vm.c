/* vm_new / vm_init (core/vm.c): the one constructor the board and the tests
 * share. RAM, harts, caches and the wfi clock come up ready; bad options
 * are refused. */
#include <errno.h>
#include "vm_fixture.h"
#include "core/vcpu.h"
#include "cpu/jit.h"

static void builds_ram_and_stopped_harts(void **state)
{
	struct vm_opts o = { .ram_base = 0x80000000ull, .ram_size = 2u << 20, .nharts = 3 };
	struct vm *vm = vm_new(&o);
	assert_non_null(vm);
	assert_int_equal(vm->nharts, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vm->harts[i]->id, i);
		assert_ptr_equal(vm->harts[i]->vm, vm);
		assert_int_equal(vm->harts[i]->hsm_state, HSM_STOPPED);
	}
	assert_null(vm->harts[3]);
	assert_non_null(vm->dcache);
	assert_null(vm->jit);
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
	assert_non_null(vm->jit);
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

/* wfi sleeps to a CLOCK_MONOTONIC deadline: the condition variable must
 * use that clock, or the sleep would end at once (or far too late). */
static void idle_sleeps_until_the_deadline(void **state)
{
	struct vm *vm = test_vm_new(1u << 20);
	struct vcpu v;
	vcpu_init(&v, vm);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
