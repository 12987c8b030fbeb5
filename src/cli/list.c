/* `tern list`: one row per VM with a live control socket in the default
 * directory (stale sockets of VMs that died are skipped). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/vm_info.h"
#include "ctl/ctl_path.h"
#include "ctl/qmp_client.h"


static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct vm_info *)a)->name, ((const struct vm_info *)b)->name);
}

int cli_list(int argc, char **argv)
{
	if (argc > 1) {
		if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
			printf("usage: tern list\n\n"
			       "List running VMs (those with a live control socket in the default\n"
			       "directory): name, state, pid, uptime, CPU%% of one host core over the\n"
			       "last 0.5 s (as top shows it), guest memory, host RSS, harts.\n");
			return 0;
		}
		fprintf(stderr, "tern: list takes no arguments (see 'tern list --help')\n");
		return 2;
	}
	char dir[200];
	if (ctl_default_dir(dir, sizeof(dir))) {
		fprintf(stderr, "tern: no control socket directory\n");
		return 1;
	}
	char why[300];
	if (ctl_check_dir(dir, why, sizeof(why))) {
		fprintf(stderr, "tern: %s\n", why);
		return 1;
	}
	struct vm_info *rows = NULL;
	size_t n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".qmp"))
			continue;
		char path[512], err[256];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (ctl_socket_live(path) <= 0)
			continue;
		struct qmp_client_conn *c = qmp_client_open(path, 2000, err, sizeof(err));
		if (!c)
			continue;
		struct vm_info info;
		if (vm_info_get(c, &info, err, sizeof(err)) == 0) {
			struct vm_info *r = realloc(rows, (n + 1) * sizeof(*rows));
			if (r) {
				rows = r;
				rows[n++] = info;
			}
		}
		qmp_client_close(c);
	}
	if (d)
		closedir(d);
	vm_info_sample_cpu(rows, n, VM_INFO_CPU_INTERVAL_MS);
	qsort(rows, n, sizeof(*rows), by_name);
	vm_info_print_header();
	for (size_t i = 0; i < n; i++)
		vm_info_print_row(&rows[i]);
	free(rows);
	return 0;
}
