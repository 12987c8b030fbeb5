/* `tern cluster`: verb dispatch, and `validate` (DTD and meaning, then the
 * start plan). The other verbs live in cluster_*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/cluster.h"
#include "cluster/plan.h"
#include "cluster/project.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tern cluster <command> [options]\n"
		"\n"
		"Virtual clusters from one XML project file (docs/CLUSTER.md).\n"
		"\n"
		"commands:\n"
		"  validate FILE                 check FILE; print the start plan\n"
		"  up FILE [--dir DIR] [--keep-going]\n"
		"                                start switches, then machines in order\n"
		"  down NAME|FILE [--timeout S] [--purge]\n"
		"                                stop machines in reverse order, then switches\n"
		"  status NAME [--json]          machines and switches of a project\n"
		"  list                          every project and its state\n"
		"  log NAME MACHINE [-f]         a machine's console log\n"
		"  console NAME MACHINE          attach to a machine's console (Ctrl-] detaches)\n"
		"  snapshot NAME DIR             checkpoint the whole cluster into DIR\n"
		"  restore DIR                   bring a checkpointed cluster back\n"
		"  migrate NAME MACHINE --to HOST [--postcopy] [--copy-storage]\n"
		"                                live-migrate a machine between hosts\n"
		"\n"
		"With --etcd URLS (or $TERN_ETCD), up, down and status work on the cluster of\n"
		"hosts: machines are placed on the hosts' agents (docs/CLUSTER.md).\n"
		"NAME is a project name (its folder under $XDG_DATA_HOME/tern/clusters) or\n"
		"a project folder. Each command takes --help.\n");
}

struct project *cli_cluster_load(const char *file)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *diag = open_memstream(&buf, &len);
	if (!diag) {
		fprintf(stderr, "tern: out of memory\n");
		return NULL;
	}
	struct project *p = project_load(file, NULL, diag);
	fclose(diag);
	if (!p)
		fputs(buf, stderr);
	free(buf);
	return p;
}

static int cmd_validate(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: tern cluster validate FILE\n\n"
		       "Check FILE against tern-cluster.dtd, then its meaning (names, templates,\n"
		       "switches, files, MACs, dependency cycles). Errors read FILE:LINE: message\n"
		       "and the exit status is 1; on success the start plan is printed.\n");
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "tern: cluster validate needs FILE (see 'tern cluster validate --help')\n");
		return 2;
	}
	struct project *p = cli_cluster_load(argv[1]);
	if (!p)
		return 1;
	struct plan pl;
	if (plan_build(p, &pl)) {
		project_free(p);
		fprintf(stderr, "tern: out of memory\n");
		return 1;
	}
	plan_print(p, &pl, stdout);
	plan_free(&pl);
	project_free(p);
	return 0;
}

int cli_cluster(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *verb = argv[1];
	if (!strcmp(verb, "-h") || !strcmp(verb, "--help") || !strcmp(verb, "help")) {
		usage(stdout);
		return 0;
	}
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} verbs[] = {
		{ "validate", cmd_validate },
		{ "up", cli_cluster_up },
		{ "down", cli_cluster_down },
		{ "status", cli_cluster_status },
		{ "list", cli_cluster_list },
		{ "log", cli_cluster_log },
		{ "console", cli_cluster_console },
		{ "snapshot", cli_cluster_snapshot },
		{ "restore", cli_cluster_restore },
		{ "migrate", cli_cluster_migrate },
	};
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verb, verbs[i].name))
			return verbs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "tern: unknown cluster command '%s' (try 'tern cluster --help')\n", verb);
	return 2;
}
