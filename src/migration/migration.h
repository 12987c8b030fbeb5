/* Live migration of a running VM over TCP: the source side (a thread that
 * runs pre-copy rounds, or stop-and-copy, and the switch-over) and the
 * destination side (`tern run --incoming tcp:...`). The stream is the
 * snapshot stream (state/stream.h) after an authenticating handshake
 * (migration/channel.h); RAM moves in batches (migration/rampages.h).
 * Protocol and design: docs/MIGRATION.md. */
#ifndef TERN_MIGRATION_H
#define TERN_MIGRATION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <jansson.h>
#include "state/snapshot.h"

struct vm;
struct virt_config;

enum mig_mode { MIG_PRECOPY, MIG_STOPCOPY, MIG_POSTCOPY };

/* How a migration runs (set by QMP's migrate-set-parameters and
 * migrate-set-capabilities: ctl/qmp_mig_params.c). */
struct mig_params {
	int64_t downtime_limit_ms;      /* default 300 */
	uint64_t max_bandwidth;         /* bytes/s; 0 = unlimited */
	enum mig_mode mode;             /* default pre-copy */
	bool compress;                  /* zstd on the page stream */
	enum snap_dev_method device_state;  /* x-device-state, default save */
	/* Auto-converge: the first throttle step, later steps, the most. */
	int throttle_initial, throttle_increment, throttle_max;
	/* Capabilities tern implements (the others are refused). */
	bool auto_converge;             /* default on (QEMU: off) */
	bool events;                    /* MIGRATION, MIGRATION_PASS; default on */
	bool postcopy_ram;              /* migrate-start-postcopy allowed; default on */
	bool pause_before_switchover;   /* wait in pre-switchover for migrate-continue */
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

struct migration;

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

/* Start migrating vm to uri ("tcp:HOST:PORT") with the key in key_path.
 * Returns a handle (the migration runs in its own thread), or NULL with
 * err when it cannot even start. The VM must not be migrating already. */
struct migration *mig_start(struct vm *vm, const char *uri, const struct mig_params *p,
			    const char *key_path, char *err, size_t errlen);
/* The same; with copy_storage the writable disks travel in the stream
 * (migration/blkmig.h); notify (or NULL) hears of its progress. */
struct migration *mig_start_storage(struct vm *vm, const char *uri, const struct mig_params *p,
				    const char *key_path, bool copy_storage,
				    const struct mig_notify *notify, char *err, size_t errlen);
void mig_cancel(struct migration *m);
/* migrate-start-postcopy: switch a pre-copy migration to post-copy at the
 * end of its current round. -1 with err when no pre-copy is running. */
int mig_start_postcopy(struct migration *m, char *err, size_t errlen);
/* migrate-continue: go on from pre-switchover (pause-before-switchover).
 * -1 with err when the migration is not waiting there. */
int mig_continue(struct migration *m, char *err, size_t errlen);
/* After post-copy broke (postcopy-paused): take the disks back and let the
 * guest run here again, from the switch-over. -1 with err when it cannot
 * (a disk is still held: the destination may still run). */
int mig_postcopy_reclaim(struct migration *m, char *err, size_t errlen);
void mig_get_info(struct migration *m, struct mig_info *out);
bool mig_is_active(struct migration *m);
/* Waits for the thread (after completion, failure or cancel) and frees. */
void mig_free(struct migration *m);
const char *mig_status_name(enum mig_status s);
/* x-device-state (migration/mig_devstate.c): "save" or "log" to a method
 * (0, or -EINVAL for another name or NULL) and back. (query-migrate's
 * replies are ctl/'s: ctl/qmp_migrate_info.c.) */
int mig_devstate_parse(const char *name, enum snap_dev_method *method);
const char *mig_devstate_name(enum snap_dev_method method);

/* Destination, in three steps around building the VM:
 * mig_incoming_open listens on uri, authenticates one source and reads the
 * machine's configuration into cfg; mig_incoming_receive_ram takes pre-copy
 * RAM into a buffer of its own until the source switches over (the source
 * has then released its disks, so the VM may be built and open them);
 * mig_incoming_finish moves that RAM into the built VM, loads harts and
 * devices, reads to the END and tells the source that the destination
 * runs. Any -1 (with err) means the VM must not run. */
struct mig_incoming;
struct mig_incoming *mig_incoming_open(const char *uri, const char *key_path,
				       struct virt_config *cfg, char *err, size_t errlen);
/* The same with tls_dir (a `tern pki host` folder, or NULL): the stream is
 * TLS 1.3, the source's certificate verified against tls_dir's CA. */
struct mig_incoming *mig_incoming_open_tls(const char *uri, const char *key_path, const char *tls_dir,
					   struct virt_config *cfg, char *err, size_t errlen);
/* Storage migration: where the bases of copied disks are looked for
 * (DIR/NAME, NAME the file name of the source's base; NULL: the source's
 * own path; dir must outlive in), and how many of the configuration's
 * disks the user named (--disk): only those may be created when missing,
 * never a path the source chose. */
void mig_incoming_set_storage(struct mig_incoming *in, const char *dir, int user_disks);
int mig_incoming_receive_ram(struct mig_incoming *in, char *err, size_t errlen);
int mig_incoming_finish(struct mig_incoming *in, struct vm *vm, char *err, size_t errlen);
/* The configuration's JSON, which the strings in cfg point into: the caller
 * keeps it (json_decref) while the VM runs, past mig_incoming_close. */
json_t *mig_incoming_take_config(struct mig_incoming *in);
/* Ends the incoming side; after a post-copy switch-over this stops the
 * page receiver, so call it only once the VM no longer runs. */
void mig_incoming_close(struct mig_incoming *in);
/* query-migrate on the destination: post-copy's progress and faults. */
struct mig_incoming_info {
	bool postcopy;              /* false: no post-copy here (status "none") */
	bool done, failed;
	int64_t total_ms;           /* since the switch-over, until done */
	uint64_t pages, received, faults, requests;
	int64_t wait_median_us, wait_max_us;    /* a fault's wait for its page */
	char error[256];            /* when failed */
};
void mig_incoming_get_info(struct mig_incoming *in, struct mig_incoming_info *out);
#endif
