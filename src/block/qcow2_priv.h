/* Internals shared by the qcow2 driver's files: the open image's state,
 * the L2 table cache, refcounts and cluster allocation (qcow2_meta.c),
 * opening and checking (qcow2_open.c) and the I/O paths (qcow2_io.c). */
#ifndef TERN_BLOCK_QCOW2_PRIV_H
#define TERN_BLOCK_QCOW2_PRIV_H
#include <stdbool.h>
#include <stdint.h>
#include "block/block.h"
#include "block/file.h"
#include "block/qcow2_stats.h"

#define QCOW2_DEFAULT_L2_CACHE 16   /* tables; 16 x 64 KiB maps 8 GiB */

struct qcow2_l2_slot {
	uint64_t offset;                /* host offset of the table; 0 when empty */
	uint64_t used;                  /* LRU tick */
	uint64_t *table;                /* raw (big-endian) entries */
};

struct qcow2 {
	struct blk_dev dev;
	struct blk_file file;
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t cluster_size;
	uint32_t l2_bits;               /* log2 of entries per L2 table */
	uint64_t *l1;                   /* host-endian copy */
	uint32_t l1_size;
	uint64_t l1_offset;
	uint64_t *rt;                   /* refcount table, host-endian */
	uint64_t rt_entries;
	uint64_t rt_offset;
	uint32_t rt_clusters;
	uint32_t refcount_order;        /* refcount width is 1 << order bits */
	uint32_t rb_bits;               /* log2 of refcounts per block */
	uint64_t end;                   /* host offset where the next cluster goes */
	struct qcow2_l2_slot *cache;
	unsigned cache_n;
	uint64_t tick;
	struct qcow2_stats stats;
	uint8_t *cow;                   /* one cluster of scratch for copy-on-write */
	uint8_t *zeros;                 /* one cluster of zeroes, never written */
	struct iovec *iov;              /* scratch for request pieces */
	int iov_max;
	bool reported;                  /* a corruption message was printed */
};

static inline struct qcow2 *qcow2_of(struct blk_dev *d)
{
	return (struct qcow2 *)d;
}

extern const struct blk_ops qcow2_ops;
/* Free an image's state and close its file and backing chain. */
void qcow2_free(struct qcow2 *s);

/* Print one "disk X: qcow2 ..." line to stderr, once per image; returns -EIO. */
int qcow2_corrupt(struct qcow2 *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The cached L2 table for L1 index l1i, read on a miss (evicting the least
 * recently used one). With alloc, a missing table is allocated (zeroed and
 * linked in L1). *table is NULL when the table is absent and !alloc.
 * Returns 0 or -errno. */
int qcow2_l2_get(struct qcow2 *s, uint32_t l1i, bool alloc, uint64_t **table);
/* Store one L2 entry (host-endian value) in the table and on disk. */
int qcow2_l2_set(struct qcow2 *s, uint64_t *table, uint32_t l1i, uint32_t l2i, uint64_t entry);
/* A new cluster at the end of the file with refcount 1 (refcount blocks and
 * table grown as needed). Returns its host offset in *off. */
int qcow2_alloc_cluster(struct qcow2 *s, uint64_t *off);
int qcow2_get_refcount(struct qcow2 *s, uint64_t host_off, uint64_t *rc);
int qcow2_set_refcount(struct qcow2 *s, uint64_t host_off, uint64_t rc);
#endif
