/* Live migration of a running VM over TCP: the source side (a thread that
 * runs pre-copy rounds, or stop-and-copy, and the switch-over) and the
 * destination side (`tern run --incoming tcp:...`). The stream is the
 * snapshot stream (state/stream.h) after an authenticating handshake
 * (migration/channel.h); RAM moves in batches (migration/rampages.h).
 * Protocol and design: docs/MIGRATION.md. The parameters and the progress
 * reports are in migration/mig_params.h. */
#ifndef TERN_MIGRATION_H
#define TERN_MIGRATION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <jansson.h>
#include "migration/mig_params.h"
#include "state/snapshot.h"

struct vm;
struct virt_config;

struct migration;

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
void mig_incoming_get_info(struct mig_incoming *in, struct mig_incoming_info *out);
#endif
