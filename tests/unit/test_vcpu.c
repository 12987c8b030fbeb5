/* The vCPU loop (core/vcpu.c): the exits it returns, as KVM_RUN's. An SBI
 * call leaves the CPU untouched for the board to answer; wfi, pauses,
 * resets and exit requests come back as their own exits. */
#include "cpu_fixture.h"
#include "core/vcpu.h"

#define WFI   0x10500073u
#define ECALL 0x00000073u

static uint64_t start(struct fx *f, const uint32_t *w, unsigned n, struct vcpu *v)
{
	uint64_t pc = fx_code(f, w, n);
	f->h->pc = pc;
	f->h->hsm_state = HSM_STARTED;
	vcpu_init(v, f->vm, 0, f->vm->cpus.nharts, true);
	return pc;
}

static void sbi_call_exits_untouched(void **state)
{
	struct fx *f = *state;
	struct vcpu v;
	const uint32_t code[] = { ECALL, INSN_J_SELF };
	uint64_t pc = start(f, code, 2, &v);
	f->h->x[10] = 0x1234;
	f->h->x[17] = 0x10;              /* BASE: the CPU must not answer it */
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_SBI);
	assert_ptr_equal(v.hart, f->h);
	assert_int_equal(f->h->pc, pc + 4);
	assert_int_equal(f->h->x[10], 0x1234);
	assert_int_equal(f->h->exit, HART_EXIT_NONE);
	assert_int_equal(f->h->n_sbi_calls, 0);
	/* Resumed, the hart spins on "j .": slices, no more exits. */
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_SLICE);
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_SLICE);
	assert_int_equal(f->h->pc, pc + 4);
}

static void user_ecall_is_a_trap_not_an_exit(void **state)
{
	struct fx *f = *state;
	struct vcpu v;
	const uint32_t code[] = { ECALL };
	start(f, code, 1, &v);
	f->h->priv = PRV_U;
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_SLICE);
	assert_int_equal(f->h->scause, EXC_ECALL_U);
	assert_int_equal(f->h->pc, TRAP_VEC);
}

static void wfi_idles_until_the_timer(void **state)
{
	struct fx *f = *state;
	struct vcpu v;
	const uint32_t code[] = { WFI, INSN_J_SELF };
	start(f, code, 2, &v);
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_SLICE);   /* ran up to the wfi */
	assert_true(f->h->wfi);
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_WFI);
	assert_int_equal(v.wake_ns, INT64_MAX);            /* no timer enabled */
	f->h->sie = MIP_STIP;
	f->h->stimecmp = vm_time(f->vm) + TIMEBASE_HZ * 100;   /* in 100 s */
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_WFI);
	assert_int_equal(v.wake_ns, vm_time_to_host_ns(f->vm, f->h->stimecmp));
	/* A kick ends the sleep at once. */
	v.wake_ns = host_mono_ns() + 5000000000ll;
	vm_kick(f->vm);
	int64_t t0 = host_mono_ns();
	vcpu_idle(&v);
	assert_true(host_mono_ns() - t0 < 1000000000ll);
	/* A pending, enabled interrupt wakes the hart: it runs again. */
	f->h->sie |= MIP_SSIP;
	hart_set_pending(f->h, MIP_SSIP, 1);
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_SLICE);
	assert_false(f->h->wfi);
}

static void requests_exit_between_rounds(void **state)
{
	struct fx *f = *state;
	struct vcpu v;
	const uint32_t code[] = { INSN_J_SELF };
	start(f, code, 1, &v);
	struct vm *vm = f->vm;
	atomic_store(&vm->pause_count, 1);
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_PAUSE);
	atomic_store(&vm->reset_req, 1);
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_RESET);
	assert_int_equal(atomic_load(&vm->reset_req), 0);
	atomic_store(&vm->exit_req, VM_EXIT_POWEROFF);
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_SHUTDOWN);
	atomic_store(&vm->exit_req, VM_RUNNING);
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_PAUSE);
	atomic_store(&vm->pause_count, 0);
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_SLICE);
	f->h->hsm_state = HSM_STOPPED;
	assert_int_equal(vcpu_run(&v), VCPU_EXIT_HALTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(sbi_call_exits_untouched),
		FX_TEST(user_ecall_is_a_trap_not_an_exit),
		FX_TEST(wfi_idles_until_the_timer),
		FX_TEST(requests_exit_between_rounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
