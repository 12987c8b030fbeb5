/* qcow2 images beyond the block driver interface: creating them, and
 * counters for tests. Opening is blk_open(path, {.format = "qcow2"}). */
#ifndef TERN_BLOCK_QCOW2_H
#define TERN_BLOCK_QCOW2_H
#include <stddef.h>
#include <stdint.h>
#include "block/qcow2_stats.h"

struct blk_dev;

struct qcow2_create_opts {
	uint64_t size;              /* virtual size in bytes (rounded up to 512) */
	unsigned cluster_bits;      /* 0 for 16 (64 KiB) */
	unsigned version;           /* 0 for 3 */
	const char *backing;        /* stored as given; NULL for none */
	const char *backing_format; /* "raw" or "qcow2"; NULL to probe */
};

/* Create a new qcow2 image at path (which must not exist). Returns 0, or -1
 * with a one-line reason in err. */
int qcow2_create(const char *path, const struct qcow2_create_opts *o, char *err, size_t errlen);

/* Counters of an open qcow2 image; 0 on success, -1 if d is not qcow2. */
int qcow2_get_stats(struct blk_dev *d, struct qcow2_stats *st);
#endif
