/* Live migration internals shared by the pre-copy/stop-and-copy code
 * (migrate_src.c, migrate_dst.c) and post-copy (postcopy_src.c,
 * postcopy_dst.c). Not for use outside src/migration/. */
#ifndef TERN_MIG_PRIV_H
#define TERN_MIG_PRIV_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include "migration/migration.h"
#include "migration/channel.h"
#include "state/snapshot.h"
#include "state/stream.h"

/* The message a post-copy destination sends once every page is in place
 * (otherwise its messages are page indices it needs: 8 bytes, LE). */
#define MIG_POSTCOPY_DONE UINT64_MAX

struct migration {
	struct vm *vm;
	pthread_t thread;
	pthread_mutex_t lock;
	struct mig_info info;           /* under lock */
	struct mig_params p;
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

/* Post-copy, source side (postcopy_src.c): the switch-over (pinned pages,
 * devices, the bitmap of pages still to come, the destination's ACK), and
 * then serving the destination's requests while pushing the rest. */
int postcopy_switch_over(struct migration *m);
int postcopy_push(struct migration *m);

/* The destination's side of one migration. */
struct mig_incoming {
	int fd;
	pid_t child;                    /* exec: the command */
	struct snap_image img;
	uint8_t *ram;                   /* RAM received before the VM exists */
	uint64_t ram_size;
	struct vms_section machine;     /* the switch-over's first section */
	uint8_t *scratch;               /* decompression */
	uint8_t *batch;                 /* one batch as read, reused */
	struct postcopy_dst *postcopy;  /* after a post-copy switch-over */
	struct virt_config *cfg;        /* the machine, with the user's --disk */
	const char *base_dir;           /* --base-dir: where copied disks' bases are */
	int user_disks;                 /* disks named by --disk (may be created) */
	struct blkmig_dst *blk;         /* storage migration targets */
	bool completed;                 /* the guest runs here: keep the copies */
};

/* Reads section s's s->len bytes into buf and checks its digest: 0, or -1
 * with err. */
int mig_read_section(struct mig_incoming *in, const struct vms_section *s, void *buf, char *err,
		     size_t errlen);
/* Read and apply one RAM batch section (absent: post-copy's bitmap, or
 * NULL). Returns pages written, or -1 with err. */
int mig_apply_batch(struct mig_incoming *in, struct vm *vm, const struct vms_section *s,
		    _Atomic uint64_t *absent, char *err, size_t errlen);

/* Post-copy, destination side (postcopy_dst.c). start takes the
 * POSTCOPY section (the bitmap of pages still on the source), installs the
 * fetch path in vm, acknowledges the switch-over and starts the thread
 * that receives pages. stop ends it (the VM is done) and frees it. */
int postcopy_dst_start(struct mig_incoming *in, struct vm *vm, const struct vms_section *s,
		       char *err, size_t errlen);
void postcopy_dst_stop(struct mig_incoming *in);
void postcopy_dst_info(struct mig_incoming *in, struct mig_incoming_info *out);
#endif
