/* The source side of a live migration, shared by pre-copy and
 * stop-and-copy (migrate_src.c, which implements these tools), post-copy
 * (postcopy_src.c) and storage migration (blkmig_src.c). Not for use
 * outside src/migration/. */
#ifndef TERN_MIG_SRC_PRIV_H
#define TERN_MIG_SRC_PRIV_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include "migration/migration.h"
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
	uint8_t *enc, *scratch;
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
void mig_set_status(struct migration *m, enum mig_status s);
/* Encode and send pages[0..n) as one batch, counting it; paced (the
 * bandwidth cap) unless urgent. -1 with m->err. */
int mig_send_batch(struct migration *m, const uint64_t *pages, uint32_t n, int urgent);
/* The destination's one-byte verdict after loading the state. */
int mig_wait_ack(struct migration *m);
/* Every switch-over begins alike: park the guest, harvest the dirty log,
 * send RAM with send_ram (-1 with m->err), hand the disks over, send harts
 * and devices. sw records when and how long each part took. Once the
 * destination has confirmed, mig_switch_done records the downtime (until
 * now) and its parts. */
struct mig_switch {
	int64_t t_down, ram_us, cpu_us, dev_us, disk_us;
	struct snap_dev_report devstate;
};
int mig_switch_begin(struct migration *m, int (*send_ram)(struct migration *),
		     struct mig_switch *sw);
void mig_switch_done(struct migration *m, const struct mig_switch *sw, uint64_t remaining);
#endif
