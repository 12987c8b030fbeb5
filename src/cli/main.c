/* tern: entry point and verb dispatch. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"

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
		return cli_image(argc - 1, argv + 1);
	if (!strcmp(verb, "migrate"))
		return cli_migrate(argc - 1, argv + 1);
	if (!strcmp(verb, "snapshot"))
		return cli_snapshot(argc - 1, argv + 1);
	if (!strcmp(verb, "cluster"))
		return cli_cluster(argc - 1, argv + 1);
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
		return cli_consolidate(argc - 1, argv + 1);
	if (!strcmp(verb, "host"))
		return cli_host(argc - 1, argv + 1);
	fprintf(stderr, "tern: unknown command '%s' (try 'tern --help')\n", verb);
	return 2;
}
