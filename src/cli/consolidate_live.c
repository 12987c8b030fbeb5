/* `tern consolidate plan|apply|report`: the live consolidation commands. They
 * read the cluster's history from its store (etcd, or this host's local
 * store) and act through the agents (cons_live.c does the work). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "agent/cons_live.h"
#include "agent/records.h"
#include "cli/consolidate_live.h"
#include "store/store.h"

static void live_usage(FILE *f)
{
	fprintf(f,
		"usage: tern consolidate plan [--policy P] [--json]\n"
		"       tern consolidate apply [--policy P] [--max-parallel N] [--json]\n"
		"       tern consolidate report [--window SECONDS] [--json]\n"
		"\n"
		"plan: the migrations, hosts to put on standby and to wake, and the expected\n"
		"saving, from the cluster's utilization history; changes nothing.\n"
		"apply: carries the plan out (live migrations, at most N at once, then\n"
		"standby), logging every action. report: energy against all hosts on,\n"
		"migrations, downtime, bytes moved, SLATAH and PDM over the window (86400).\n"
		"\n"
		"  --policy P        tern (default: the cluster settings'), thr-mmt, lr-mmt\n"
		"  --max-parallel N  migrations at once (the settings' max_parallel)\n"
		"  --window S        the report's window in seconds\n"
		"  --etcd URLS       the cluster's etcd (default $TERN_ETCD)\n"
		"  --state-dir DIR   that ternd's --state-dir, without etcd\n"
		"  --json            JSON instead of text (docs/CONSOLIDATION.md)\n"
		"  -h, --help        this help\n");
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static double jnum(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static void print_json(json_t *j)
{
	char *t = json_dumps(j, JSON_COMPACT);
	printf("%s\n", t ? t : "{}");
	free(t);
}

static void print_plan(json_t *p)
{
	size_t i;
	json_t *m, *h;
	printf("policy %s: %d hosts, %d VMs\n", jstr(p, "policy"), (int)jnum(p, "hosts"), (int)jnum(p, "vms"));
	json_array_foreach(json_object_get(p, "migrations"), i, m)
		printf("  migrate %-20s %s -> %s (about %.1f s)\n", jstr(m, "vm"), jstr(m, "from"), jstr(m, "to"),
		       jnum(m, "seconds"));
	json_array_foreach(json_object_get(p, "wake"), i, h)
		printf("  wake    %s\n", json_string_value(h));
	json_array_foreach(json_object_get(p, "standby"), i, h)
		printf("  standby %s\n", json_string_value(h));
	if (!json_array_size(json_object_get(p, "migrations")) && !json_array_size(json_object_get(p, "standby")) &&
	    !json_array_size(json_object_get(p, "wake")))
		printf("  nothing to do\n");
	if (jnum(p, "unplaced") > 0)
		printf("  %d VMs to move fit nowhere\n", (int)jnum(p, "unplaced"));
	printf("power %.1f W now, %.1f W after: saving %.2f kWh per day\n", jnum(p, "power_now_w"),
	       jnum(p, "power_after_w"), jnum(p, "saving_kwh_per_day"));
}

static void print_report(json_t *r)
{
	double e = jnum(r, "energy_kwh"), b = jnum(r, "baseline_kwh");
	printf("window             %.0f s\n", jnum(r, "window_s"));
	printf("energy             %.4f kWh\n", e);
	printf("all hosts on       %.4f kWh\n", b);
	printf("saved              %.1f %%\n", b > 0 ? 100 * (1 - e / b) : 0.0);
	printf("migrations         %lld (%lld failed)\n", (long long)jnum(r, "migrations"),
	       (long long)jnum(r, "failed_migrations"));
	printf("total downtime     %lld ms\n", (long long)jnum(r, "downtime_ms"));
	printf("bytes moved        %lld\n", (long long)jnum(r, "bytes_moved"));
	printf("standby / wake     %lld / %lld\n", (long long)jnum(r, "standby"), (long long)jnum(r, "wake"));
	printf("SLATAH             %.4f\n", jnum(r, "slatah"));
	printf("PDM                %.6f\n", jnum(r, "pdm"));
}

int cli_consolidate_live(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "max-parallel", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "etcd", required_argument, NULL, 'e' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = argv[0], *policy = NULL, *etcd = getenv("TERN_ETCD");
	char state_dir[1024] = "", err[512], *e;
	int json = 0, c, max_par = 0;
	double window = 86400;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy = optarg; break;
		case 'n':
			max_par = (int)strtol(optarg, &e, 10);
			if (*e || e == optarg || max_par < 1 || max_par > 64) {
				fprintf(stderr, "tern consolidate: --max-parallel: 1..64, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'w':
			window = strtod(optarg, &e);
			if (*e || e == optarg || !(window > 0)) {
				fprintf(stderr, "tern consolidate: --window: seconds, more than 0, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'e': etcd = optarg; break;
		case 's': snprintf(state_dir, sizeof(state_dir), "%s", optarg); break;
		case 'j': json = 1; break;
		case 'h': live_usage(stdout); return 0;
		case ':':
			fprintf(stderr, "tern consolidate: option '%s' needs a value\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "tern consolidate %s: unknown option '%s' (see 'tern consolidate %s --help')\n",
				verb, argv[optind - 1], verb);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tern consolidate %s: unexpected argument '%s'\n", verb, argv[optind]);
		return 2;
	}
	if ((policy && strcmp(verb, "plan") && strcmp(verb, "apply")) || (max_par && strcmp(verb, "apply"))) {
		fprintf(stderr, "tern consolidate %s: --policy goes with plan and apply, --max-parallel with apply\n",
			verb);
		return 2;
	}
	int is_etcd = etcd && *etcd;
	if (!state_dir[0] && rec_default_state_dir(state_dir, sizeof(state_dir))) {
		fprintf(stderr, "tern consolidate: no state directory: give --state-dir DIR\n");
		return 2;
	}
	if (!is_etcd && access(state_dir, F_OK)) {
		fprintf(stderr, "tern consolidate: no cluster: give --etcd URLS (or set TERN_ETCD), or start "
			"ternd here (no local store in %s)\n", state_dir);
		return 1;
	}
	struct store *s = store_open(is_etcd ? etcd : NULL, state_dir, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "tern consolidate: %s\n", err);
		return 2;
	}
	json_t *plan = NULL, *out = NULL, *set = NULL;
	int rc = 1;
	if (!strcmp(verb, "report")) {
		if (cons_live_report(s, window, &out, err, sizeof(err)) == 0) {
			json ? print_json(out) : print_report(out);
			rc = 0;
		}
	} else if (cons_live_plan(s, policy, &plan, err, sizeof(err)) == 0) {
		if (!strcmp(verb, "plan")) {
			json ? print_json(plan) : print_plan(plan);
			rc = 0;
		} else {
			char token[128];
			if (!max_par && cons_settings_get(s, &set) == 0)
				max_par = (int)json_integer_value(
					json_object_get(json_object_get(set, "consolidate"), "max_parallel"));
			if (!json)
				print_plan(plan);
			if (rec_token(s, is_etcd ? NULL : state_dir, is_etcd, token, sizeof(token), err, sizeof(err)) == 0 &&
			    cons_live_apply(s, token, plan, max_par, stderr, &out, err, sizeof(err)) == 0) {
				if (json)
					print_json(out);
				else
					printf("applied: %zu migrations, %d failed\n",
					       json_array_size(json_object_get(out, "migrations")),
					       (int)jnum(out, "failed"));
				rc = jnum(out, "failed") > 0;
			}
		}
	}
	if (rc && !out && !(plan && !strcmp(verb, "plan")))
		fprintf(stderr, "tern consolidate %s: %s\n", verb, err);
	json_decref(plan);
	json_decref(out);
	json_decref(set);
	store_close(s);
	return rc;
}
