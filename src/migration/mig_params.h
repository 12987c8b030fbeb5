/* What a migration takes and reports, as plain structs (parameters, status,
 * progress, a notifier) and the names of their values (mig_params.c,
 * mig_devstate.c); ctl/ turns them into QMP. */
#ifndef TERN_MIG_PARAMS_H
#define TERN_MIG_PARAMS_H
#include <stdbool.h>
#include <stdint.h>
#include "state/snapshot.h"

enum mig_mode { MIG_PRECOPY, MIG_STOPCOPY, MIG_POSTCOPY };

/* How a migration runs (set by QMP's migrate-set-parameters and
 * migrate-set-capabilities: ctl/qmp_mig_params.c). */
struct mig_params {
	int64_t downtime_limit_ms;      /* default 300 */
	uint64_t max_bandwidth;         /* bytes/s; 0 = unlimited */
	enum mig_mode mode;             /* default pre-copy */
	bool compress;                  /* zstd on the page stream */
	/* XBZRLE: pages sent again go as deltas (migration/xbzrle.h), from
	 * a cache of at most xbzrle_cache_size bytes (default 64 MiB). On by
	 * default (QEMU: off). */
	bool xbzrle;
	uint64_t xbzrle_cache_size;
	enum snap_dev_method device_state;  /* x-device-state, default save */
	/* Auto-converge: the first throttle step, later steps, the most. */
	int throttle_initial, throttle_increment, throttle_max;
	/* Capabilities tern implements (the others are refused). */
	bool auto_converge;             /* default on (QEMU: off) */
	bool events;                    /* MIGRATION, MIGRATION_PASS; default on */
	bool postcopy_ram;              /* migrate-start-postcopy allowed; default on */
	bool pause_before_switchover;   /* wait in pre-switchover for migrate-continue */
	/* x-postcopy-after-precopy: pre-copy that does not fit the downtime
	 * limit even with the guest slowed switches to post-copy (needs
	 * postcopy-ram); default off, as libvirt's --postcopy-after-precopy. */
	bool postcopy_after_precopy;
};

/* QEMU's names. postcopy-paused: post-copy broke after the switch-over;
 * the source holds the guest, paused, with every page (see
 * mig_postcopy_reclaim). */
enum mig_status { MIG_NONE, MIG_SETUP, MIG_ACTIVE, MIG_PRE_SWITCHOVER, MIG_DEVICE, MIG_POSTCOPY_ACTIVE,
		  MIG_POSTCOPY_PAUSED, MIG_COMPLETED, MIG_FAILED, MIG_CANCELLING, MIG_CANCELLED };

/* What query-migrate reports (a consistent copy, taken under the lock). */
struct mig_info {
	enum mig_status status;
	int64_t total_ms, setup_ms, downtime_ms, expected_downtime_ms;
	/* The downtime, split: final RAM, harts, devices, and the rest
	 * (pausing, disk hand-over, the destination's load and reply). */
	int64_t down_ram_ms, down_cpu_ms, down_dev_ms, down_other_ms;
	int64_t downtime_us;            /* the same downtime, finer */
	bool downtime_known;            /* set at the switch-over */
	/* Post-copy: pages the destination asked for, and pages sent at
	 * its request (the asked-for ones and their neighbours). */
	uint64_t postcopy_requests, postcopy_urgent_pages;
	uint64_t ram_total, transferred, remaining, duplicate, normal, dirty_sync_count;
	double mbps, dirty_pages_rate;
	unsigned rounds, throttle_pct;
	bool postcopy_fallback;         /* pre-copy gave up: post-copy took over */
	/* XBZRLE: the cache's size (0 until it exists), pages sent as deltas
	 * and their bytes, pages sent again that were not cached, deltas too
	 * long to send. */
	uint64_t xbz_cache_size, xbz_pages, xbz_bytes, xbz_cache_miss, xbz_overflow;
	/* Storage migration: bytes of disk chunks to copy (what the disks'
	 * own images held at the start), sent (on the wire) and still dirty;
	 * the switch-over's share of the downtime. */
	bool disk_copy;
	uint64_t disk_total, disk_transferred, disk_remaining;
	int64_t down_disk_ms;
	/* Device state at switch-over, both forms measured (once completed). */
	struct snap_dev_report devstate;
	char error[640];
};

/* What a migration tells its owner as it goes, from the migration thread
 * (ctl/ sends them as QMP's MIGRATION and MIGRATION_PASS events), when the
 * events capability is on: each status it enters, and each dirty-log sync
 * (numbered from 1). Either may be NULL. */
struct mig_notify {
	void (*status)(void *opaque, enum mig_status s);
	void (*pass)(void *opaque, uint64_t pass);
	void *opaque;
};

void mig_params_default(struct mig_params *p);
/* "precopy", "stop-copy", "postcopy"; parse: 0, or -EINVAL for another
 * name (or NULL). */
const char *mig_mode_name(enum mig_mode mode);
int mig_mode_parse(const char *name, enum mig_mode *mode);

/* QEMU's name of a status ("active", "postcopy-active", ...). */
const char *mig_status_name(enum mig_status s);
/* x-device-state (migration/mig_devstate.c): "save" or "log" to a method
 * (0, or -EINVAL for another name or NULL) and back. (query-migrate's
 * replies are ctl/'s: ctl/qmp_migrate_info.c.) */
int mig_devstate_parse(const char *name, enum snap_dev_method *method);
const char *mig_devstate_name(enum snap_dev_method method);

/* query-migrate on the destination: post-copy's progress and faults. */
struct mig_incoming_info {
	bool postcopy;              /* false: no post-copy here (status "none") */
	bool done, failed;
	int64_t total_ms;           /* since the switch-over, until done */
	uint64_t pages, received, faults, requests;
	int64_t wait_median_us, wait_max_us;    /* a fault's wait for its page */
	char error[256];            /* when failed */
};
#endif
