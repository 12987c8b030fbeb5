/* Consolidation simulator tests: trace loading and its errors, the
 * accounting on a hand-checked two-host trace, and the shipped PlanetLab
 * day (energy within the standby-all and all-at-peak bounds). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "consolidate/sim.h"

static void make_dir(char *dir)
{
	strcpy(dir, "/tmp/tern-consol-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void remove_dir(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void parse_accepts_and_rejects(void **state)
{
	char err[256];
	double *v;
	unsigned n;
	const char *t = "12\r\n 7 \n100\n\n\n";
	assert_int_equal(cons_trace_parse("f", t, strlen(t), &v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_float_equal(v[0], 0.12, 1e-12);
	assert_float_equal(v[2], 1.0, 1e-12);
	free(v);
	t = "1\n\n2\n";
	assert_int_equal(cons_trace_parse("f", t, strlen(t), &v, &n, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "f:2: empty line");
	t = "1\n2\nx3\n";
	assert_int_equal(cons_trace_parse("f", t, strlen(t), &v, &n, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "f:3: not a number: 'x3'");
	t = "1\n101\n";
	assert_int_equal(cons_trace_parse("f", t, strlen(t), &v, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "f:2: 101 is outside 0..100"));
	assert_int_equal(cons_trace_parse("f", "", 0, &v, &n, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "f: no values");
}

static void bad_trace_folders(void **state)
{
	char dir[64], err[512], want[256];
	struct cons_trace t;
	assert_int_equal(cons_trace_load("/nonexistent/trace", &t, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/trace: No such file or directory");

	make_dir(dir);
	assert_int_equal(cons_trace_load(dir, &t, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: no trace files (one file per VM expected)", dir);
	assert_string_equal(err, want);

	put(dir, "a", "1\n2\n3\n");
	put(dir, "b", "1\n2\n");
	assert_int_equal(cons_trace_load(dir, &t, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/b: 2 values, but %s/a has 3", dir, dir);
	assert_non_null(strstr(err, want));

	put(dir, "b", "1\n2\nthree\n");
	assert_int_equal(cons_trace_load(dir, &t, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/b:3: not a number: 'three'", dir);
	assert_string_equal(err, want);

	put(dir, "b", "4\n5\n6\n");
	assert_int_equal(cons_trace_load(dir, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n_vms, 2);
	assert_int_equal(t.n_steps, 3);
	assert_float_equal(t.util[3 + 2], 0.06, 1e-12);   /* b, last value */
	cons_trace_free(&t);
	remove_dir(dir);
}

/* Two hosts, one core of 1000 MIPS each, 100 W idle and 200 W at peak,
 * 10 W on standby, 1000 Mbit/s. Two 500-MIPS VMs: a (625 MB: a migration
 * takes 625 * 8 / 500 = 10 s) and b (1250 MB: 20 s), both at 20 %, 90 %,
 * 10 % over three intervals of 300 s.
 *
 * Start: best fit at full size puts a and b on host 0 (1000 of 1000 MIPS);
 * host 1 is on standby.
 * THR-MMT (0.8):
 *  k=0  host 0 at 0.2: not overloaded. Emptying it fails (host 1 is on
 *       standby, not a target). Energy: host 0 ramps 0.2 -> 0.9,
 *       300 * (100 + 100 * 0.55) = 46500 J; host 1 300 * 10 = 3000 J.
 *  k=1  host 0 at 0.9 > 0.8: MMT takes a (10 s < 20 s), leaving 0.45. a
 *       goes to host 1 (woken; +45 W). Migration 1. Load ramps 0.9 -> 0.1;
 *       both hosts active all interval: 2 * 300 * 100 + 100 * 300 * (0.25 +
 *       0.25) = 75000 J. a degrades by 0.1 * 500 * (0.9 * 10 - 0.8 * 10^2
 *       / 600) = 443.33 MIPS s.
 *  k=2  both hosts at 0.05; host 0 (first of the two least loaded) empties:
 *       b to host 1 (0.1 <= 0.8). Migration 2; host 0 to standby
 *       (shutdown 1) once b's 20 s copy ends. Host 0: 20 s * 105 W + 280 s
 *       * 10 W = 4900 J; host 1: 20 * 105 + 280 * 110 = 32900 J. b degrades
 *       by 0.1 * 500 * 0.1 * 20 = 100 MIPS s.
 *  Energy 49500 + 75000 + 37800 = 162300 J = 0.0450833 kWh.
 *  Demand per VM: 500 * 300 * (0.55 + 0.5 + 0.1) = 172500 MIPS s, so
 *  PDM = (443.33 + 100) / 172500 / 2 = 0.00157488. No host reaches 100 %:
 *  SLATAH = 0. Active host time: host 0 300 + 300 + 20, host 1 300 + 300,
 *  mean active hosts 1220 / 900 = 1.35556.
 * LR-MMT: fewer than 10 values, so the 0.7 fallback: the same two moves.
 * none: no moves, both hosts on: host 0 46500 + 300 * 150 + 300 * 110 =
 *  124500 J, host 1 900 * 100 = 90000 J: 214500 J = 0.0595833 kWh. */
static void hand_checked_trace(void **state)
{
	char dir[64], err[256];
	make_dir(dir);
	put(dir, "a", "20\n90\n10\n");
	put(dir, "b", "20\n90\n10\n");
	struct cons_trace t;
	assert_int_equal(cons_trace_load(dir, &t, err, sizeof(err)), 0);
	remove_dir(dir);

	struct cons_host hosts[2];
	for (int i = 0; i < 2; i++)
		hosts[i] = (struct cons_host){
			.core_mips = 1000, .cores = 1, .mem_mb = 1e9, .bw_mbit = 1000,
			.power = { .kind = CONS_POWER_LINEAR, .idle_w = 100, .peak_w = 200, .standby_w = 10 },
		};
	struct cons_vm vms[2] = {
		{ .mips = 500, .vcpus = 1, .mem_mb = 625 },
		{ .mips = 500, .vcpus = 1, .mem_mb = 1250 },
	};
	struct cons_scenario sc = { .hosts = hosts, .n_hosts = 2, .vms = vms, .n_vms = 2,
				    .util = t.util, .n_steps = t.n_steps, .interval_s = 300 };
	struct cons_params p;
	struct cons_sim_result r;

	cons_params_default(&p, CONS_POLICY_THR_MMT);
	assert_int_equal(cons_sim_run(&sc, &p, &r), 0);
	assert_int_equal(r.migrations, 2);
	assert_int_equal(r.hosts_shutdown, 1);
	assert_float_equal(r.energy_kwh, 162300 / 3.6e6, 1e-9);
	assert_float_equal(r.pdm, (443.333333333 + 100) / 172500 / 2, 1e-9);
	assert_float_equal(r.slatah, 0, 1e-12);
	assert_float_equal(r.esv, 0, 1e-12);
	assert_float_equal(r.mean_active_hosts, 1220 / 900.0, 1e-9);

	cons_params_default(&p, CONS_POLICY_LR_MMT);
	assert_int_equal(cons_sim_run(&sc, &p, &r), 0);
	assert_int_equal(r.migrations, 2);
	assert_float_equal(r.energy_kwh, 162300 / 3.6e6, 1e-9);

	cons_params_default(&p, CONS_POLICY_NONE);
	assert_int_equal(cons_sim_run(&sc, &p, &r), 0);
	assert_int_equal(r.migrations, 0);
	assert_int_equal(r.hosts_shutdown, 0);
	assert_float_equal(r.energy_kwh, 214500 / 3.6e6, 1e-9);
	assert_float_equal(r.mean_active_hosts, 2, 1e-9);

	/* Saturation: at 100 % from the second sample on, host 0 spends 600 of
	 * its 900 active seconds at 100 % and host 1 none: SLATAH 1/3. */
	t.util[1] = t.util[2] = t.util[4] = t.util[5] = 1.0;
	assert_int_equal(cons_sim_run(&sc, &p, &r), 0);
	assert_float_equal(r.slatah, (600 / 900.0 + 0) / 2, 1e-9);
	cons_trace_free(&t);
}

/* The shipped day, read straight from the archive. */
static void shipped_trace_bounds(void **state)
{
	const char *path = getenv("TERN_PLANETLAB");
	if (!path)
		path = "../shared/data/planetlab-20110303.tar.gz";
	if (access(path, R_OK)) {
		print_message("skipped: %s not found (set TERN_PLANETLAB)\n", path);
		skip();
	}
	char err[512];
	struct cons_trace t;
	assert_int_equal(cons_trace_load(path, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n_vms, 1052);
	assert_int_equal(t.n_steps, 288);
	struct cons_scenario sc;
	assert_int_equal(cons_scenario_planetlab(&t, 800, 300, 4, false, &sc), 0);
	double lo, hi;
	cons_sim_bounds(&sc, &lo, &hi);
	assert_float_equal(hi, 800 / 2 * (117 + 135) * 24 / 1000.0, 1e-6);
	assert_float_equal(lo, 800 * 4 * 24 / 1000.0, 1e-6);
	struct cons_sim_result r[4];
	for (int i = 0; i < 4; i++) {
		struct cons_params p;
		cons_params_default(&p, (enum cons_policy)i);
		assert_int_equal(cons_sim_run(&sc, &p, &r[i]), 0);
		assert_true(r[i].energy_kwh > lo && r[i].energy_kwh < hi);
		assert_true(r[i].mean_active_hosts > 0 && r[i].mean_active_hosts <= 800);
	}
	assert_int_equal(r[CONS_POLICY_NONE].migrations, 0);
	assert_float_equal(r[CONS_POLICY_NONE].mean_active_hosts, 800, 1e-9);
	/* The headline claim: tern beats both baselines on ESV, at no more
	 * energy than LR-MMT. */
	assert_true(r[CONS_POLICY_TERN].esv < r[CONS_POLICY_THR_MMT].esv);
	assert_true(r[CONS_POLICY_TERN].esv < r[CONS_POLICY_LR_MMT].esv);
	assert_true(r[CONS_POLICY_TERN].energy_kwh <= r[CONS_POLICY_LR_MMT].energy_kwh);
	cons_scenario_free(&sc);
	cons_trace_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_accepts_and_rejects),
		cmocka_unit_test(bad_trace_folders),
		cmocka_unit_test(hand_checked_trace),
		cmocka_unit_test(shipped_trace_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
