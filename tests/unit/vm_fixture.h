/* A VM for unit tests in one call: vm_new with RAM at 0x80000000 and one
 * hart, as the board would build it minus the devices. */
#ifndef TERN_TEST_VM_FIXTURE_H
#define TERN_TEST_VM_FIXTURE_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "core/vm.h"

static inline struct vm *test_vm_new(uint64_t ram_size)
{
	struct vm_opts o = { .ram_base = 0x80000000ull, .ram_size = ram_size, .nharts = 1 };
	struct vm *vm = vm_new(&o);
	assert_non_null(vm);
	return vm;
}
#endif
