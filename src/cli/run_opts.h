/* `tern run`'s command line: its options parsed into one struct, and the
 * --help text. */
#ifndef TERN_RUN_OPTS_H
#define TERN_RUN_OPTS_H
#include "cli/run_ctl.h"
#include "machine/virt.h"      /* unguarded below its constants: include once */

#define RUN_GO (-1)             /* run_opts_parse: go on and build the VM */

struct run_opts {
	struct virt_config cfg;     /* the machine, before any --incoming */
	struct run_ctl ctl;         /* --qmp */
	const char *incoming;       /* --incoming URI */
	const char *machine_opt;    /* the last option that shapes the machine */
	const char *migrate_key, *migrate_tls, *base_dir;
	int mem_merge;              /* --mem-merge (a host choice) */
	int vcpu_single;            /* --vcpu-threads single (a host choice) */
};

/* Fill o from argv. Returns RUN_GO, or the exit status to end with (0 after
 * --help, 2 after a usage error, reported on stderr). */
int run_opts_parse(int argc, char **argv, struct run_opts *o);
#endif
