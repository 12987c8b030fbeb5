/* tern: entry point and verb dispatch. Built twice (Makefile):
 * - build/tern (TERN_VMM_ONLY): the VMM and the commands that drive one
 *   VM. It links only what a VM needs (14 shared objects rather than 52),
 *   so it starts in about a third of the time: a restore or an incoming
 *   migration begins with this process start (docs/BENCHMARKS.md).
 * - build/tern-tools: every command. The management commands that need
 *   libcurl, libxml2, libarchive or libext2fs (image, cluster, consolidate,
 *   host) are run by it: tern execs the tern-tools beside its own binary,
 *   as git runs its git-* programs. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "core/procstat.h"

#include "core/version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tern <command> [options]\n"
		"\n"
		"tern is a virtual machine monitor for RISC-V 64-bit guests on a software CPU.\n"
		"\n"
		"commands:\n"
		"  run        boot a virtual machine (see 'tern run --help')\n"
		"  image      create, inspect and convert disk images (see 'tern image --help')\n"
		"  list       list running VMs\n"
		"  migrate NAME tcp:HOST:PORT [--downtime-ms N] [--bandwidth MB/s] [--stop-copy]\n"
		"             move a running VM to 'tern run --incoming tcp:...' (live migration)\n"
		"  snapshot NAME FILE [--leave-running]\n"
		"             save a running VM to FILE; restore with 'tern run --incoming file:FILE'\n"
		"  pki        the cluster CA and host certificates (see 'tern pki --help')\n"
		"  cluster    virtual clusters from an XML project file (see 'tern cluster --help')\n"
		"  balloon NAME [SIZE]\n"
		"             set or show the guest RAM the virtio-balloon leaves (see --help)\n"
		"  status NAME, pause NAME, resume NAME, stop NAME, kill NAME\n"
		"             control a running VM through its control socket (QMP)\n"
		"  consolidate simulate --trace DIR [--policy P] [--json]\n"
		"  consolidate plan|apply|report [--json]  live consolidation (ternd, etcd)\n"
		"             replay a utilization trace through the energy-saving planner\n"
		"  host list|evacuate|standby|wake\n"
		"             the cluster's hosts and their agents (see 'tern host --help')\n"
		"\n"
		"options:\n"
		"  -h, --help     show this help\n"
		"  -V, --version  show the version\n");
}

#ifdef TERN_VMM_ONLY
#define TOOLS(call) run_tools(argv)
#else
#define TOOLS(call) call
#endif

#ifdef TERN_VMM_ONLY
/* The management commands: argv as given, run by tern-tools beside this
 * binary. Returns only on failure. */
static int run_tools(char **argv)
{
	char tools[PATH_MAX];
	int rc = proc_self_path("tern-tools", tools, sizeof(tools));
	if (rc) {
		fprintf(stderr, "tern: cannot find my own binary: %s\n", strerror(-rc));
		return 1;
	}
	argv[0] = tools;
	execv(tools, argv);
	fprintf(stderr, "tern: '%s' is run by %s, which cannot be started: %s\n", argv[1], tools,
		strerror(errno));
	return 1;
}
#endif

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	/* A console reader that goes away must not kill the VM. */
	signal(SIGPIPE, SIG_IGN);
	const char *verb = argv[1];
	if (!strcmp(verb, "-h") || !strcmp(verb, "--help") || !strcmp(verb, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(verb, "-V") || !strcmp(verb, "--version")) {
		printf("tern %s\n", TERN_VERSION);
		return 0;
	}
	if (!strcmp(verb, "run"))
		return cli_run(argc - 1, argv + 1);
	if (!strcmp(verb, "image"))
		return TOOLS(cli_image(argc - 1, argv + 1));
	if (!strcmp(verb, "migrate"))
		return cli_migrate(argc - 1, argv + 1);
	if (!strcmp(verb, "snapshot"))
		return cli_snapshot(argc - 1, argv + 1);
	if (!strcmp(verb, "cluster"))
		return TOOLS(cli_cluster(argc - 1, argv + 1));
	if (!strcmp(verb, "balloon"))
		return cli_balloon(argc - 1, argv + 1);
	if (!strcmp(verb, "list"))
		return cli_list(argc - 1, argv + 1);
	if (!strcmp(verb, "pki"))
		return cli_pki(argc - 1, argv + 1);
	if (!strcmp(verb, "status") || !strcmp(verb, "pause") || !strcmp(verb, "resume") ||
	    !strcmp(verb, "stop") || !strcmp(verb, "kill"))
		return cli_vmctl(argc - 1, argv + 1);
	if (!strcmp(verb, "consolidate"))
		return TOOLS(cli_consolidate(argc - 1, argv + 1));
	if (!strcmp(verb, "host"))
		return TOOLS(cli_host(argc - 1, argv + 1));
	fprintf(stderr, "tern: unknown command '%s' (try 'tern --help')\n", verb);
	return 2;
}
