/* `tern consolidate simulate`: replays a utilization trace (one file per VM)
 * through the consolidation policies and reports energy and SLA figures. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/cli.h"
#include "cli/consolidate_live.h"
#include "consolidate/sim.h"

static void consolidate_usage(FILE *f)
{
	fprintf(f,
		"usage: tern consolidate simulate --trace DIR [options]\n"
		"\n"
		"Replays a CPU utilization trace through the consolidation planner and\n"
		"reports, per policy, energy, migrations and the SLA metrics of Beloglazov &\n"
		"Buyya (2012). DIR holds one file per VM (one CPU percentage per line, one\n"
		"line per interval), as in the PlanetLab archive; the archive itself\n"
		"(.tar.gz) is accepted too. Scenario: HP ML110 G4/G5 hosts alternating,\n"
		"VM types in quarters in file-name order (docs/CONSOLIDATION.md).\n"
		"\n"
		"options:\n"
		"  --trace DIR           the trace folder or archive (required)\n"
		"  --policy P            tern (default), thr-mmt, lr-mmt, none, or all\n"
		"  --interval SECONDS    the trace's sampling and scheduling interval (300)\n"
		"  --hosts N             hosts in the data centre (800)\n"
		"  --standby-watts W     a host's draw on standby (0, as in the paper)\n"
		"  --memory              VMs reserve their memory (and 100 Mbit/s) on their\n"
		"                        host; by default only CPU limits placement, as in\n"
		"                        the paper's runs (docs/CONSOLIDATION.md)\n"
		"  --set KEY=VALUE       a tern parameter: z, low, after, cap, coeff,\n"
		"                        wake (docs/CONSOLIDATION.md)\n"
		"  --json                print {\"policies\":[...]} instead of a table\n"
		"  -h, --help            show this help\n"
		"\n"
		"The live commands: tern consolidate plan|apply|report --help.\n"
		"Exit status: 0 on success, 1 on an error, 2 on a usage error.\n");
}

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "tern consolidate: %s%s%s (see 'tern consolidate --help')\n", msg,
		arg ? ": " : "", arg ? arg : "");
	return 2;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *e;
	errno = 0;
	double v = strtod(s, &e);
	if (e == s || *e || errno || !(v >= lo) || !(v <= hi))
		return -1;
	*out = v;
	return 0;
}

/* --set KEY=VALUE for the tern policy's parameters. */
static int apply_set(struct cons_params *p, const char *kv)
{
	const char *eq = strchr(kv, '=');
	double v;
	if (!eq || parse_double(eq + 1, 0, 1e6, &v))
		return -1;
	size_t n = (size_t)(eq - kv);
	if (n == 1 && !strncmp(kv, "z", n))
		p->z = v;
	else if (n == 3 && !strncmp(kv, "low", n) && v <= 1)
		p->low_wm = v;
	else if (n == 5 && !strncmp(kv, "after", n) && v >= 1 && v <= p->window)
		p->standby_after = (unsigned)v;
	else if (n == 3 && !strncmp(kv, "cap", n))
		p->max_mig_per_host = (unsigned)v;
	else if (n == 5 && !strncmp(kv, "coeff", n) && v > 0 && v <= 1)
		p->capacity_coeff = v;
	else if (n == 4 && !strncmp(kv, "wake", n) && (v == 0 || v == 1))
		p->wake_cost = v == 1;
	else
		return -1;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_table(const struct cons_sim_result *r, unsigned n, const char *trace,
			const struct cons_scenario *sc, double standby_w)
{
	double lo, hi;
	cons_sim_bounds(sc, &lo, &hi);
	printf("trace %s: %u VMs, %u intervals of %g s; %u hosts, standby %g W, memory %s\n",
	       trace, sc->n_vms, sc->n_steps, sc->interval_s, sc->n_hosts, standby_w,
	       sc->hosts[0].mem_mb < 1e12 ? "reserved" : "not reserved");
	printf("bounds: every host at peak %.1f kWh; every host on standby %.1f kWh\n\n", hi, lo);
	printf("%-8s %11s %10s %9s %8s %10s %9s %9s %11s\n", "policy", "energy_kWh", "migrations",
	       "SLATAH_%", "PDM_%", "SLAV_1e-5", "ESV_1e-3", "shutdowns", "mean_active");
	for (unsigned i = 0; i < n; i++)
		printf("%-8s %11.2f %10lu %9.3f %8.4f %10.4f %9.4f %9lu %11.1f\n",
		       cons_policy_name(r[i].policy), r[i].energy_kwh, r[i].migrations,
		       r[i].slatah * 100, r[i].pdm * 100, r[i].slav * 1e5, r[i].esv * 1e3,
		       r[i].hosts_shutdown, r[i].mean_active_hosts);
	for (unsigned i = 0; i < n; i++)
		if (r[i].unplaced)
			printf("note: %s left %lu VM moves undone (no host fitted)\n",
			       cons_policy_name(r[i].policy), r[i].unplaced);
}

static void print_json(const struct cons_sim_result *r, unsigned n)
{
	printf("{\"policies\":[");
	for (unsigned i = 0; i < n; i++)
		printf("%s{\"policy\":\"%s\",\"energy_kwh\":%.6g,\"migrations\":%lu,\"slatah\":%.6g,"
		       "\"pdm\":%.6g,\"slav\":%.6g,\"esv\":%.6g,\"hosts_shutdown\":%lu,"
		       "\"mean_active_hosts\":%.6g}",
		       i ? "," : "", cons_policy_name(r[i].policy), r[i].energy_kwh, r[i].migrations,
		       r[i].slatah, r[i].pdm, r[i].slav, r[i].esv, r[i].hosts_shutdown,
		       r[i].mean_active_hosts);
	printf("]}\n");
}

static int simulate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "policy", required_argument, NULL, 'p' },
		{ "interval", required_argument, NULL, 'i' },
		{ "hosts", required_argument, NULL, 'n' },
		{ "standby-watts", required_argument, NULL, 's' },
		{ "set", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "memory", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *trace = NULL, *policy = "tern";
	double interval = 300, hosts = 800, standby_w = 0;
	bool json = false, memory = false;
	struct cons_params tern;
	cons_params_default(&tern, CONS_POLICY_TERN);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't': trace = optarg; break;
		case 'p': policy = optarg; break;
		case 'j': json = true; break;
		case 'm': memory = true; break;
		case 'i':
			if (parse_double(optarg, 1, 86400, &interval))
				return usage_error("--interval wants seconds, 1 to 86400", optarg);
			break;
		case 'n':
			if (parse_double(optarg, 1, 1000000, &hosts) || hosts != (unsigned)hosts)
				return usage_error("--hosts wants a whole number, 1 to 1000000", optarg);
			break;
		case 's':
			if (parse_double(optarg, 0, 1000, &standby_w))
				return usage_error("--standby-watts wants watts, 0 to 1000", optarg);
			break;
		case 'S':
			if (apply_set(&tern, optarg))
				return usage_error("--set wants z=, low=, after=, cap=, coeff= or wake= with a valid value", optarg);
			break;
		case 'h': consolidate_usage(stdout); return 0;
		default: return usage_error("bad option", NULL);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (!trace)
		return usage_error("--trace DIR is required", NULL);
	enum cons_policy list[4];
	unsigned n = 0;
	if (!strcmp(policy, "all")) {
		for (unsigned i = 0; i < 4; i++)
			list[n++] = (enum cons_policy)i;
	} else if (cons_policy_parse(policy, &list[0])) {
		return usage_error("--policy wants tern, thr-mmt, lr-mmt, none or all", policy);
	} else {
		n = 1;
	}

	char err[512] = "";
	struct cons_trace t;
	int rc = cons_trace_load(trace, &t, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "tern consolidate: %s\n", err);
		return 1;
	}
	struct cons_scenario sc;
	if ((rc = cons_scenario_planetlab(&t, (unsigned)hosts, interval, standby_w, memory, &sc))) {
		fprintf(stderr, "tern consolidate: %s\n", strerror(-rc));
		cons_trace_free(&t);
		return 1;
	}
	struct cons_sim_result res[4];
	for (unsigned i = 0; i < n && !rc; i++) {
		struct cons_params p;
		if (list[i] == CONS_POLICY_TERN)
			p = tern;
		else
			cons_params_default(&p, list[i]);
		p.interval_s = interval;
		double t0 = now_s();
		fprintf(stderr, "simulating %s over %u VMs, %u intervals...", cons_policy_name(list[i]),
			t.n_vms, t.n_steps);
		rc = cons_sim_run(&sc, &p, &res[i]);
		fprintf(stderr, " %.1f s\n", now_s() - t0);
		if (rc == -ENOSPC)
			fprintf(stderr, "tern consolidate: the %u VMs do not fit on %u hosts at their full size\n",
				t.n_vms, (unsigned)hosts);
		else if (rc)
			fprintf(stderr, "tern consolidate: simulation failed: %s\n", strerror(-rc));
	}
	if (!rc) {
		if (json)
			print_json(res, n);
		else
			print_table(res, n, trace, &sc, standby_w);
	}
	cons_scenario_free(&sc);
	cons_trace_free(&t);
	return rc ? 1 : 0;
}

int cli_consolidate(int argc, char **argv)
{
	if (argc < 2) {
		consolidate_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		consolidate_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "simulate"))
		return simulate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "plan") || !strcmp(argv[1], "apply") || !strcmp(argv[1], "report")) {
		return cli_consolidate_live(argc - 1, argv + 1);
	}
	return usage_error("unknown command", argv[1]);
}
