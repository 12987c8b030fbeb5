/* `tern cluster up` and `tern cluster down`: options, then the supervisor
 * (src/cluster/supervise.c). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/cluster.h"
#include "cluster/project.h"
#include "cluster/state.h"
#include "cluster/supervise.h"
#include "cluster/xhost.h"

static void up_usage(FILE *f)
{
	fprintf(f, "usage: tern cluster up FILE [--dir DIR] [--keep-going]\n\n"
		"Validate FILE, then start its switches (vde_switch) and machines (one\n"
		"'tern run' each, named PROJECT.MACHINE) in ascending priority; a group\n"
		"starts when the one before it is ready, a machine when its dependencies\n"
		"are. What already runs is left alone, so 'up' again restarts only what is\n"
		"missing or crashed.\n\n"
		"  --dir DIR       project folder (default $XDG_DATA_HOME/tern/clusters/NAME,\n"
		"                  /var/lib/tern/clusters/NAME for root)\n"
		"  --keep-going    on a failure, keep what started and go on with the rest\n"
		"                  (default: stop what this run started, in reverse)\n"
		"  --stop-timeout S  how long a rolled-back machine may take to stop (default 10)\n"
		"  --etcd URLS     place the machines on the cluster's hosts (default $TERN_ETCD):\n"
		"                  host=\"NAME\" pins a machine, the rest go first-fit decreasing\n"
		"                  by memory; the hosts' agents run them\n"
		"  --capacity C    (with --etcd) fill a host to at most C of its memory (default 0.8)\n\n"
		"Exit status: 0 when every machine is ready, 1 when one failed or FILE is bad.\n");
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (!*s || *end || !(v >= 0) || v > 86400)
		return -1;
	*out = v;
	return 0;
}

int cli_cluster_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "stop-timeout", required_argument, NULL, 't' },
		{ "etcd", required_argument, NULL, 'e' },
		{ "capacity", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *etcd = NULL;
	double coeff = XHOST_DEFAULT_COEFF;
	struct supervise_opts o = { .out = stdout, .tty = isatty(1), .stop_timeout_s = 10 };
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': o.dir = optarg; break;
		case 'k': o.keep_going = true; break;
		case 'e': etcd = optarg; break;
		case 'c': {
			char *end;
			coeff = strtod(optarg, &end);
			if (!*optarg || *end || !(coeff > 0 && coeff <= 1)) {
				fprintf(stderr, "tern: --capacity takes a fraction in (0, 1], not '%s'\n", optarg);
				return 2;
			}
			break;
		}
		case 't':
			if (parse_seconds(optarg, &o.stop_timeout_s)) {
				fprintf(stderr, "tern: --stop-timeout takes 0..86400 seconds, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h': up_usage(stdout); return 0;
		case ':':
			fprintf(stderr, "tern: option '%s' needs a value (see 'tern cluster up --help')\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "tern: unknown option '%s' (see 'tern cluster up --help')\n", argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "tern: cluster up needs FILE (see 'tern cluster up --help')\n");
		return 2;
	}
	const char *file = argv[optind];
	struct project *p = cli_cluster_load(file);
	if (!p)
		return 1;
	char err[512] = "";
	if ((etcd = cli_cluster_etcd(etcd))) {
		int x = cli_cluster_xhost_up(p, etcd, o.dir, coeff);
		project_free(p);
		return x;
	}
	int rc = supervise_up(p, file, &o, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "tern: %s\n", err);
	project_free(p);
	return rc ? 1 : 0;
}

static void down_usage(FILE *f)
{
	fprintf(f, "usage: tern cluster down NAME|FILE [--timeout S] [--purge]\n\n"
		"Stop a project: its machines in descending priority (the reverse of 'up'),\n"
		"each asked to power off and killed after the timeout, then its switches.\n"
		"No process and no socket is left behind.\n\n"
		"  --timeout S   seconds each machine gets to power off (default 30)\n"
		"  --purge       also remove the project folder (overlays, logs, state)\n"
		"  --etcd URLS   a project placed on the cluster's hosts (default $TERN_ETCD)\n");
}

int cli_cluster_down(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "purge", no_argument, NULL, 'p' },
		{ "etcd", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double timeout = 30;
	bool purge = false;
	const char *etcd = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_seconds(optarg, &timeout)) {
				fprintf(stderr, "tern: --timeout takes 0..86400 seconds, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'p': purge = true; break;
		case 'e': etcd = optarg; break;
		case 'h': down_usage(stdout); return 0;
		case ':':
			fprintf(stderr, "tern: option '%s' needs a value (see 'tern cluster down --help')\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "tern: unknown option '%s' (see 'tern cluster down --help')\n", argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "tern: cluster down needs NAME or FILE (see 'tern cluster down --help')\n");
		return 2;
	}
	if ((etcd = cli_cluster_etcd(etcd)))
		return cli_cluster_xhost_down(argv[optind], etcd);
	char dir[PATH_MAX], err[512];
	if (state_find_dir(argv[optind], dir, sizeof(dir), err, sizeof(err)) ||
	    supervise_down(dir, timeout, purge, stdout, err, sizeof(err))) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	return 0;
}
