/* Restore set-up for `tern run --incoming`: read the snapshot's config and
 * lay the user's overrides over it. The state itself is loaded by
 * snap_load once the board exists. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cli/run_incoming.h"
#include "core/vm.h"
#include "machine/virt.h"

int64_t run_incoming_clock_ms(void)
{
	return host_mono_ns() / 1000000;
}

/* Lay the user's overrides (user) over the recorded configuration (cfg). */
int run_incoming_overrides(const struct virt_config *user, struct virt_config *cfg,
			   char *err, size_t errlen)
{
	if (user->name)
		cfg->name = user->name;
	if (user->console)
		cfg->console = user->console;
	if (user->ndisks > cfg->ndisks) {
		snprintf(err, errlen, "%d --disk given but the snapshot has %d disk%s", user->ndisks,
			 cfg->ndisks, cfg->ndisks == 1 ? "" : "s");
		return -1;
	}
	/* Another file in a disk's place (a clone's own copy); its size is
	 * checked when the board opens it. */
	for (int i = 0; i < user->ndisks; i++) {
		cfg->disks[i].path = user->disks[i].path;
		if (user->disks[i].format)
			cfg->disks[i].format = user->disks[i].format;
	}
	/* Clones give their NICs their own MACs, ports or switches: the
	 * same number of --net, each replacing the recorded one. */
	if (user->nnets && user->nnets != cfg->nnets) {
		snprintf(err, errlen, "%d --net given but the snapshot has %d NIC%s", user->nnets,
			 cfg->nnets, cfg->nnets == 1 ? "" : "s");
		return -1;
	}
	for (int i = 0; i < user->nnets; i++) {
		cfg->nets[i] = user->nets[i];
		cfg->net_args[i] = user->net_args[i];
	}
	return 0;
}

int run_incoming_config(struct snap_image *img, const char *uri, struct virt_config *cfg,
			char *err, size_t errlen)
{
	if (strncmp(uri, "file:", 5) || !uri[5]) {
		snprintf(err, errlen, "--incoming takes file:PATH, tcp:HOST:PORT, unix:PATH, exec:CMD or fd:N");
		return -1;
	}
	struct virt_config user = *cfg;
	if (snap_open(img, uri + 5, cfg, err, errlen))
		return -1;
	return run_incoming_overrides(&user, cfg, err, errlen);
}
