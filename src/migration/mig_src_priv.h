/* The source side of a live migration, shared by pre-copy and
 * stop-and-copy (migrate_src.c), the switch-over (mig_switch.c), post-copy
 * (postcopy_src.c) and storage migration (blkmig_src.c): struct migration
 * and the tools mig_src_tools.c implements. Not for use outside
 * src/migration/. */
#ifndef TERN_MIG_SRC_PRIV_H
#define TERN_MIG_SRC_PRIV_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include "migration/mig_params.h"
#include "migration/channel.h"
#include "state/snapshot.h"
#include "state/stream.h"

struct migration {
	struct vm *vm;
	pthread_t thread;
	pthread_mutex_t lock;
	struct mig_info info;           /* under lock */
	struct mig_params p;
	struct mig_notify notify;       /* progress for the owner (QMP events) */
	struct mig_key key;
	char uri[1024];                 /* tcp:, unix:, exec: or fd:N (mig_uri.h) */
	pid_t child;                    /* exec: the command */
	int fd;
	_Atomic int cancel;
	_Atomic int start_postcopy;     /* migrate-start-postcopy during pre-copy */
	_Atomic int go_on;              /* migrate-continue in pre-switchover */
	struct vms_writer w;
	uint64_t *bitmap;               /* pages still to send */
	uint64_t words;
	/* The guest's dirty rate, sampled early in each pre-copy round: pages
	 * logged since the round began, and when (0 until taken). */
	int64_t round_t0;
	uint64_t rate_pages;
	int64_t rate_us;
	uint8_t *enc, *scratch;
	/* XBZRLE (migration/xbzrle.h): what was last sent of the pages that
	 * went again after round 1; NULL in round 1, in post-copy and when
	 * the capability is off. */
	struct xbz_cache *xb;
	bool xb_active;                 /* from round 2 (xb is made in round 1) */
	int64_t t0, bw_t0;
	uint64_t bw_bytes;              /* bytes since bw_t0 (bandwidth cap) */
	int paused;                     /* we hold a vm_pause */
	int logging;                    /* the dirty log runs */
	int disks_released;
	int thread_joined;
	bool copy_storage;              /* --copy-storage: the disks travel too */
	struct blkmig_src *blk;         /* their copy (migration/blkmig.h) */
	char err[640];
};

int64_t mig_now_us(void);
/* The bandwidth cap: sleep until bytes more fit it. */
void mig_pace(struct migration *m, uint64_t bytes);
/* Record the status and tell the owner (struct mig_notify). */
void mig_set_status(struct migration *m, enum mig_status s);
/* Park the guest (once; m->paused) and let it run again. */
void mig_pause_guest(struct migration *m);
void mig_resume_guest(struct migration *m);
/* Encode and send pages[0..n) as one batch, counting it; paced (the
 * bandwidth cap) unless urgent. -1 with m->err. */
int mig_send_batch(struct migration *m, const uint64_t *pages, uint32_t n, int urgent);
/* Harvest the dirty log into m->bitmap (parking the guest for it), as one
 * pass. Returns the pages now marked. */
uint64_t mig_sync_dirty(struct migration *m);
/* The destination's one-byte verdict after loading the state. */
int mig_wait_ack(struct migration *m);
#endif
