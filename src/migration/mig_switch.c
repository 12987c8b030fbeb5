/* The switch-over's common part (mig_switch.h): park the guest, send the
 * last RAM and disk chunks, hand the disks over, send harts and devices,
 * and account for the downtime. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "migration/mig_src_priv.h"
#include "migration/mig_switch.h"
#include "migration/blkmig_src.h"
#include "core/devreg.h"
#include "core/vm.h"
#include "state/snapshot.h"

/* Flush every disk and drop its lock for the destination (all of them are
 * locked again if the migration fails). -1 with m->err. */
static int release_disks(struct migration *m)
{
	m->disks_released = 1;
	if (devreg_flush(&m->vm->devreg)) {
		snprintf(m->err, sizeof(m->err), "cannot flush or release a disk for the destination");
		return -1;
	}
	return 0;
}

int mig_switch_begin(struct migration *m, int (*send_ram)(struct migration *),
		     struct mig_switch *sw)
{
	memset(sw, 0, sizeof(*sw));
	sw->t_down = mig_now_us();
	if (m->p.pause_before_switchover) {
		/* The guest is stopped; wait for migrate-continue (or a cancel),
		 * as QEMU does, e.g. for a management layer to move disks. */
		mig_pause_guest(m);
		mig_set_status(m, MIG_PRE_SWITCHOVER);
		while (!atomic_load(&m->go_on)) {
			if (atomic_load(&m->cancel)) {
				snprintf(m->err, sizeof(m->err), "cancelled in pre-switchover");
				return -1;
			}
			struct timespec ts = { 0, 5000000 };
			nanosleep(&ts, NULL);
		}
	}
	mig_set_status(m, MIG_DEVICE);
	mig_pause_guest(m);
	if (m->logging)
		mig_sync_dirty(m);
	int64_t t_ram0 = mig_now_us();
	if (send_ram(m))
		return -1;
	sw->ram_us = mig_now_us() - t_ram0;
	/* The disks' last dirty chunks, before they are handed over. */
	if (m->blk) {
		int64_t t_disk0 = mig_now_us();
		if (blkmig_src_final(m))
			return -1;
		sw->disk_us = mig_now_us() - t_disk0;
	}
	if (release_disks(m))
		return -1;
	if (snap_write_state_as(m->vm, &m->w, m->p.device_state, &sw->cpu_us, &sw->dev_us,
				&sw->devstate)) {
		snprintf(m->err, sizeof(m->err), "%s", m->w.err);
		return -1;
	}
	return 0;
}

void mig_switch_done(struct migration *m, const struct mig_switch *sw, uint64_t remaining)
{
	int64_t down = mig_now_us() - sw->t_down;
	pthread_mutex_lock(&m->lock);
	m->info.downtime_ms = down / 1000;
	m->info.downtime_us = down;
	m->info.downtime_known = true;
	m->info.down_ram_ms = sw->ram_us / 1000;
	m->info.down_cpu_ms = sw->cpu_us / 1000;
	m->info.down_dev_ms = sw->dev_us / 1000;
	m->info.down_disk_ms = sw->disk_us / 1000;
	m->info.down_other_ms = (down - sw->ram_us - sw->cpu_us - sw->dev_us - sw->disk_us) / 1000;
	m->info.devstate = sw->devstate;
	m->info.transferred = m->w.off;
	m->info.remaining = remaining;
	pthread_mutex_unlock(&m->lock);
}
