/* Consolidation planner tests: the power model, the local regression, the
 * overload detectors, MMT selection, PABFD placement (empty hosts, a VM too
 * large for any host, every host overloaded), tern's hysteresis and cap. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "consolidate/planner.h"
#include "consolidate/regress.h"

static const struct cons_power g4 = {
	.kind = CONS_POWER_TABLE,
	.table_w = { 86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117 },
};

static void power_table_interpolates(void **state)
{
	assert_float_equal(cons_power_watts(&g4, 0), 86, 1e-9);
	assert_float_equal(cons_power_watts(&g4, 0.05), 87.7, 1e-9);   /* half-way 86..89.4 */
	assert_float_equal(cons_power_watts(&g4, 0.1), 89.4, 1e-9);
	assert_float_equal(cons_power_watts(&g4, 0.95), 115.5, 1e-9);
	assert_float_equal(cons_power_watts(&g4, 1), 117, 1e-9);
	assert_float_equal(cons_power_watts(&g4, 1.7), 117, 1e-9);     /* clamped */
	assert_float_equal(cons_power_watts(&g4, -0.2), 86, 1e-9);
	assert_float_equal(cons_power_watts(&g4, NAN), 86, 1e-9);
	assert_int_equal(cons_power_check(&g4), 0);
}

static void power_linear_and_checks(void **state)
{
	struct cons_power p = { .kind = CONS_POWER_LINEAR, .idle_w = 100, .peak_w = 200, .standby_w = 5 };
	assert_float_equal(cons_power_watts(&p, 0.25), 125, 1e-9);
	assert_int_equal(cons_power_check(&p), 0);
	p.standby_w = 150;              /* standby above idle */
	assert_int_equal(cons_power_check(&p), -EINVAL);
	p.standby_w = 0;
	p.peak_w = 50;                  /* peak below idle */
	assert_int_equal(cons_power_check(&p), -EINVAL);
	struct cons_power t = g4;
	t.table_w[4] = 90;              /* not monotone */
	assert_int_equal(cons_power_check(&t), -EINVAL);
}

static void tricube_and_exact_line(void **state)
{
	assert_float_equal(cons_tricube(0), 1, 1e-12);
	assert_float_equal(cons_tricube(0.5), 0.669921875, 1e-12);
	assert_float_equal(cons_tricube(-0.5), 0.669921875, 1e-12);
	assert_float_equal(cons_tricube(1), 0, 1e-12);
	double y[10], a, b;
	for (int i = 0; i < 10; i++)
		y[i] = 0.1 + 0.05 * (i + 1);
	assert_int_equal(cons_loess_fit(y, 10, &a, &b), 0);
	assert_float_equal(a, 0.1, 1e-9);
	assert_float_equal(b, 0.05, 1e-9);
	/* The oldest point weighs nothing: changing it leaves the fit alone. */
	y[0] = 0.9;
	assert_int_equal(cons_loess_fit(y, 10, &a, &b), 0);
	assert_float_equal(b, 0.05, 1e-9);
	/* ...but the newest points dominate: a late jump tilts the line up. */
	y[0] = 0.15;
	y[9] = 1.0;
	assert_int_equal(cons_loess_fit(y, 10, &a, &b), 0);
	assert_true(b > 0.05);
	assert_int_equal(cons_loess_fit(y, 2, &a, &b), -EINVAL);
}

/* A cluster of identical linear hosts: 2 cores x 1000 MIPS, 100..200 W. */
static void hosts_init(struct cons_host *h, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		h[i] = (struct cons_host){
			.core_mips = 1000, .cores = 2, .mem_mb = 4096, .bw_mbit = 1000,
			.power = { .kind = CONS_POWER_LINEAR, .idle_w = 100, .peak_w = 200, .standby_w = 5 },
		};
}

static struct cons_vm vm_at(int host, double mips, double mem, const double *u, unsigned n)
{
	return (struct cons_vm){ .mips = mips, .vcpus = 1, .mem_mb = mem, .bw_mbit = 0,
				 .host = host, .util = u, .util_len = n };
}

static void placement_with_no_hosts(void **state)
{
	static const double u[] = { 0.5 };
	struct cons_vm v = vm_at(-1, 500, 100, u, 1);
	struct cons_params p;
	struct cons_plan plan;
	cons_params_default(&p, CONS_POLICY_THR_MMT);
	assert_int_equal(cons_plan_compute(NULL, 0, &v, 1, &p, &plan), 0);
	assert_int_equal(plan.n_mig, 0);
	assert_int_equal(plan.n_unplaced, 1);
	cons_plan_free(&plan);
}

static void vm_larger_than_any_host(void **state)
{
	struct cons_host h[3];
	hosts_init(h, 3);
	static const double u[] = { 1.0 };
	/* 1500 MIPS on one vCPU cannot run on a 1000 MIPS core; 3000 MIPS on two
	 * vCPUs exceeds a whole host. Neither is placed; a small one is. */
	struct cons_vm v[3] = { vm_at(-1, 1500, 100, u, 1), vm_at(-1, 1500, 100, u, 1),
				vm_at(-1, 400, 100, u, 1) };
	v[1].vcpus = 2;
	struct cons_params p;
	struct cons_plan plan;
	cons_params_default(&p, CONS_POLICY_LR_MMT);
	assert_int_equal(cons_plan_compute(h, 3, v, 3, &p, &plan), 0);
	assert_int_equal(plan.n_unplaced, 2);
	assert_int_equal(plan.n_mig, 1);
	assert_int_equal(plan.mig[0].vm, 2);
	assert_int_equal(plan.mig[0].from, -1);
	cons_plan_free(&plan);
}

static void every_host_overloaded(void **state)
{
	struct cons_host h[2];
	hosts_init(h, 2);
	static const double u[] = { 1.0 };
	struct cons_vm v[4] = { vm_at(0, 1000, 100, u, 1), vm_at(0, 1000, 200, u, 1),
				vm_at(1, 1000, 100, u, 1), vm_at(1, 1000, 200, u, 1) };
	for (enum cons_policy pol = CONS_POLICY_TERN; pol <= CONS_POLICY_LR_MMT; pol++) {
		struct cons_params p;
		struct cons_plan plan;
		cons_params_default(&p, pol);
		assert_int_equal(cons_plan_compute(h, 2, v, 4, &p, &plan), 0);
		assert_int_equal(plan.n_overloaded, 2);
		assert_int_equal(plan.n_mig, 0);        /* nowhere to go */
		assert_true(plan.n_unplaced >= 2);
		assert_int_equal(plan.n_standby, 0);
		cons_plan_free(&plan);
	}
}

static void thr_mmt_moves_the_quickest_vm(void **state)
{
	struct cons_host h[3];
	hosts_init(h, 3);
	h[2].state = CONS_HOST_STANDBY;
	static const double hi[] = { 0.9 }, lo[] = { 0.1 };
	/* Host 0 at 0.9 (> 0.8): its smallest-memory VM (vm 1) moves. Host 1
	 * (0.05) takes it: its power rises 45 W like the standby host's would,
	 * and the first best wins; host 0 then keeps only vm 0. */
	struct cons_vm v[3] = { vm_at(0, 1000, 800, hi, 1), vm_at(0, 1000, 300, hi, 1),
				vm_at(1, 1000, 500, lo, 1) };
	struct cons_params p;
	struct cons_plan plan;
	cons_params_default(&p, CONS_POLICY_THR_MMT);
	assert_int_equal(cons_plan_compute(h, 3, v, 3, &p, &plan), 0);
	assert_int_equal(plan.n_overloaded, 1);
	assert_true(plan.n_mig >= 1);
	assert_int_equal(plan.mig[0].vm, 1);
	assert_int_equal(plan.mig[0].from, 0);
	assert_int_equal(plan.mig[0].to, 1);
	assert_float_equal(plan.mig[0].seconds, 300 * 8 / 500.0, 1e-9);
	cons_plan_free(&plan);
}

static void lr_sees_a_rising_trend(void **state)
{
	struct cons_host h[2];
	hosts_init(h, 2);
	/* A steady climb to 0.78: under THR's 0.8, but the regression predicts
	 * 0.84 next, and 1.2 * 0.84 >= 1. */
	double u[10];
	for (int i = 0; i < 10; i++)
		u[i] = 0.24 + 0.06 * i;
	struct cons_vm v[2] = { vm_at(0, 1000, 100, u, 10), vm_at(0, 1000, 200, u, 10) };
	struct cons_params p;
	struct cons_plan plan;
	cons_params_default(&p, CONS_POLICY_THR_MMT);
	assert_int_equal(cons_plan_compute(h, 2, v, 2, &p, &plan), 0);
	assert_int_equal(plan.n_overloaded, 0);
	cons_plan_free(&plan);
	cons_params_default(&p, CONS_POLICY_LR_MMT);
	assert_int_equal(cons_plan_compute(h, 2, v, 2, &p, &plan), 0);
	assert_int_equal(plan.n_overloaded, 1);
	cons_plan_free(&plan);
	/* With fewer than 10 values LR falls back to a 0.7 threshold. */
	v[0].util_len = v[1].util_len = 8;   /* now 0.66: not above 0.7 */
	assert_int_equal(cons_plan_compute(h, 2, v, 2, &p, &plan), 0);
	assert_int_equal(plan.n_overloaded, 0);
	cons_plan_free(&plan);
	v[0].util_len = v[1].util_len = 9;   /* now 0.72: above 0.7 */
	assert_int_equal(cons_plan_compute(h, 2, v, 2, &p, &plan), 0);
	assert_int_equal(plan.n_overloaded, 1);
	cons_plan_free(&plan);
	v[0].util_len = v[1].util_len = 8;
	assert_int_equal(cons_plan_compute(h, 2, v, 2, &p, &plan), 0);
	assert_int_equal(plan.n_overloaded, 0);
	cons_plan_free(&plan);
}

/* Two hosts each lightly loaded: the baselines empty the least loaded one at
 * once; tern waits until it has been below the low watermark for
 * standby_after intervals. */
static void hysteresis_delays_standby(void **state)
{
	struct cons_host h[2];
	hosts_init(h, 2);
	/* Host utilization (1000-MIPS VMs on 2000-MIPS hosts): host 0 .5 .5 .15
	 * .15 .15, host 1 .5 .5 .2 .2 .2; the low watermark is 0.5. */
	static const double u0[] = { 1.0, 1.0, 0.3, 0.3, 0.3 };
	static const double u1[] = { 1.0, 1.0, 0.4, 0.4, 0.4 };
	struct cons_vm v[2] = { vm_at(0, 1000, 100, u0, 5), vm_at(1, 1000, 100, u1, 5) };
	struct cons_params p;
	struct cons_plan plan;

	cons_params_default(&p, CONS_POLICY_TERN);
	p.standby_after = 3;
	v[0].util_len = v[1].util_len = 4;  /* below 0.5 for 2 intervals: kept */
	assert_int_equal(cons_plan_compute(h, 2, v, 2, &p, &plan), 0);
	assert_int_equal(plan.n_mig, 0);
	assert_int_equal(plan.n_standby, 0);
	cons_plan_free(&plan);

	v[0].util_len = v[1].util_len = 5;  /* 3 intervals: host 0 (0.15) goes */
	h[0].just_woken = h[1].just_woken = true;   /* unless just woken */
	assert_int_equal(cons_plan_compute(h, 2, v, 2, &p, &plan), 0);
	assert_int_equal(plan.n_standby, 0);
	cons_plan_free(&plan);
	h[0].just_woken = h[1].just_woken = false;
	assert_int_equal(cons_plan_compute(h, 2, v, 2, &p, &plan), 0);
	assert_int_equal(plan.n_mig, 1);
	assert_int_equal(plan.mig[0].vm, 0);
	assert_int_equal(plan.n_standby, 1);
	assert_int_equal(plan.standby[0], 0);
	cons_plan_free(&plan);

	cons_params_default(&p, CONS_POLICY_THR_MMT);
	v[0].util_len = v[1].util_len = 4;  /* no hysteresis: emptied at once */
	assert_int_equal(cons_plan_compute(h, 2, v, 2, &p, &plan), 0);
	assert_int_equal(plan.n_mig, 1);
	assert_int_equal(plan.n_standby, 1);
	cons_plan_free(&plan);
}

static void wake_and_migration_cap(void **state)
{
	struct cons_host h[3];
	hosts_init(h, 3);
	h[1].state = h[2].state = CONS_HOST_STANDBY;
	static const double u[] = { 0.9, 1.0, 1.0 };
	/* Host 0 (2000 MIPS) runs six 500-MIPS VMs at 100 %: 150 % demanded.
	 * Uncapped, tern moves three (down to 75 %); with a cap of one migration
	 * per host, exactly one, waking a standby host for it. */
	struct cons_vm v[6];
	for (unsigned i = 0; i < 6; i++)
		v[i] = vm_at(0, 500, 100 * (i + 1), u, 3);
	struct cons_params p;
	struct cons_plan plan;
	cons_params_default(&p, CONS_POLICY_TERN);
	p.max_mig_per_host = 1;
	assert_int_equal(cons_plan_compute(h, 3, v, 6, &p, &plan), 0);
	assert_int_equal(plan.n_mig, 1);
	assert_int_equal(plan.mig[0].vm, 0);
	assert_int_equal(plan.n_wake, 1);
	cons_plan_free(&plan);
	p.max_mig_per_host = 0;
	assert_int_equal(cons_plan_compute(h, 3, v, 6, &p, &plan), 0);
	assert_int_equal(plan.n_mig, 3);
	cons_plan_free(&plan);
}

static void rejects_bad_input(void **state)
{
	struct cons_host h[1];
	hosts_init(h, 1);
	static const double bad[] = { 1.5 };
	struct cons_vm v = vm_at(3, 500, 100, bad, 1);
	struct cons_params p;
	struct cons_plan plan;
	cons_params_default(&p, CONS_POLICY_TERN);
	assert_int_equal(cons_plan_compute(h, 1, &v, 1, &p, &plan), -EINVAL);  /* no host 3 */
	v.host = 0;
	assert_int_equal(cons_plan_compute(h, 1, &v, 1, &p, &plan), -EINVAL);  /* 150 % */
	h[0].power.standby_w = 1000;
	v.util_len = 0;
	assert_int_equal(cons_plan_compute(h, 1, &v, 1, &p, &plan), -EINVAL);  /* power model */
	enum cons_policy pol;
	assert_int_equal(cons_policy_parse("lr-mmt", &pol), 0);
	assert_int_equal(pol, CONS_POLICY_LR_MMT);
	assert_int_equal(cons_policy_parse("lr", &pol), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(power_table_interpolates),
		cmocka_unit_test(power_linear_and_checks),
		cmocka_unit_test(tricube_and_exact_line),
		cmocka_unit_test(placement_with_no_hosts),
		cmocka_unit_test(vm_larger_than_any_host),
		cmocka_unit_test(every_host_overloaded),
		cmocka_unit_test(thr_mmt_moves_the_quickest_vm),
		cmocka_unit_test(lr_sees_a_rising_trend),
		cmocka_unit_test(hysteresis_delays_standby),
		cmocka_unit_test(wake_and_migration_cap),
		cmocka_unit_test(rejects_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
