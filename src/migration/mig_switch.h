/* The switch-over's common part, shared by pre-copy (migrate_src.c) and
 * post-copy (postcopy_src.c); implemented by mig_switch.c. Not for use
 * outside src/migration/. */
#ifndef TERN_MIG_SWITCH_H
#define TERN_MIG_SWITCH_H
#include <stdint.h>
#include "state/snapshot.h"

struct migration;

/* Every switch-over begins alike: park the guest, harvest the dirty log,
 * send RAM with send_ram (-1 with m->err), send the disks' last chunks and
 * hand the disks over, send harts and devices. sw records when and how
 * long each part took. Once the destination has confirmed,
 * mig_switch_done records the downtime (until now) and its parts. */
struct mig_switch {
	int64_t t_down, ram_us, cpu_us, dev_us, disk_us;
	struct snap_dev_report devstate;
};
int mig_switch_begin(struct migration *m, int (*send_ram)(struct migration *),
		     struct mig_switch *sw);
void mig_switch_done(struct migration *m, const struct mig_switch *sw, uint64_t remaining);
#endif
