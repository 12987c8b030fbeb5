/* The destination side of a live migration, shared by migrate_dst.c,
 * post-copy (postcopy_dst.c) and storage migration (blkmig_dst.c): struct
 * mig_incoming and the tools mig_dst_tools.c implements. Not for use
 * outside src/migration/. */
#ifndef TERN_MIG_DST_PRIV_H
#define TERN_MIG_DST_PRIV_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "migration/mig_params.h"
#include "state/snapshot.h"
#include "state/stream.h"

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
/* Read and apply one RAM batch section to dst (absent: post-copy's bitmap,
 * or NULL). Returns pages written, or -1 with err. */
struct ram_dst;
int mig_apply_batch(struct mig_incoming *in, const struct ram_dst *dst, const struct vms_section *s,
		    _Atomic uint64_t *absent, char *err, size_t errlen);
#endif
