/* qcow2 metadata at run time: the L2 table cache (write-through, LRU),
 * refcounts of any width, and cluster allocation at the end of the file,
 * growing refcount blocks and the refcount table as needed. Metadata is
 * written in the order refcount, then data, then the L2/L1 entry that points
 * at it, so a crash between guest flushes can leak clusters but never leave
 * an entry pointing at a cluster whose refcount is 0. */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "block/qcow2_format.h"
#include "block/qcow2_priv.h"

#define MAX_ALLOC_DEPTH 8

int qcow2_corrupt(struct qcow2 *s, const char *fmt, ...)
{
	if (!s->reported) {
		va_list ap;
		va_start(ap, fmt);
		fprintf(stderr, "tern: disk '%s': ", s->dev.path);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
		s->reported = true;
	}
	return -EIO;
}

static int write_zero_cluster(struct qcow2 *s, uint64_t off)
{
	return blk_file_pwrite(&s->file, s->zeros, s->cluster_size, off);
}

static int write_be64(struct qcow2 *s, uint64_t off, uint64_t v)
{
	uint8_t b[8];
	qcow2_put64(b, v);
	return blk_file_pwrite(&s->file, b, 8, off);
}

/* ---- refcounts ---------------------------------------------------------- */

static int set_refcount_depth(struct qcow2 *s, uint64_t host_off, uint64_t rc, int depth);

/* A bigger refcount table at the end of the file, covering need_rti. */
static int grow_refcount_table(struct qcow2 *s, uint64_t need_rti, int depth)
{
	uint64_t per_cluster = s->cluster_size / 8, entries = s->rt_entries, clusters;
	do {
		entries *= 2;
		clusters = (entries + per_cluster - 1) / per_cluster;
	} while (entries <= need_rti ||
		 (entries << s->rb_bits) <= (s->end >> s->cluster_bits) + clusters + 64);
	if (clusters * s->cluster_size > QCOW2_MAX_RT_BYTES)
		return qcow2_corrupt(s, "qcow2 refcount table would exceed %u MiB; image full",
				     QCOW2_MAX_RT_BYTES >> 20);
	entries = clusters * per_cluster;
	uint64_t *rt = calloc(entries, sizeof(*rt));
	uint8_t *buf = calloc(clusters, s->cluster_size);
	if (!rt || !buf) {
		free(rt);
		free(buf);
		return -ENOMEM;
	}
	memcpy(rt, s->rt, s->rt_entries * sizeof(*rt));
	for (uint64_t i = 0; i < s->rt_entries; i++)
		qcow2_put64(buf + i * 8, s->rt[i]);
	uint64_t at = s->end;
	s->end += clusters * s->cluster_size;
	int r = blk_file_pwrite(&s->file, buf, clusters * s->cluster_size, at);
	free(buf);
	if (r) {
		free(rt);
		return r;
	}
	uint8_t hdr[12];
	qcow2_put64(hdr, at);
	qcow2_put32(hdr + 8, (uint32_t)clusters);
	if ((r = blk_file_pwrite(&s->file, hdr, sizeof(hdr), QH_RT_OFFSET))) {
		free(rt);
		return r;
	}
	uint64_t old_off = s->rt_offset, old_clusters = s->rt_clusters;
	free(s->rt);
	s->rt = rt;
	s->rt_entries = entries;
	s->rt_offset = at;
	s->rt_clusters = (uint32_t)clusters;
	for (uint64_t i = 0; i < clusters && !r; i++)
		r = set_refcount_depth(s, at + i * s->cluster_size, 1, depth + 1);
	for (uint64_t i = 0; i < old_clusters && !r; i++)
		r = set_refcount_depth(s, old_off + i * s->cluster_size, 0, depth + 1);
	return r;
}

/* Make sure refcount block rti exists (allocating it at the end). */
static int ensure_refblock(struct qcow2 *s, uint64_t rti, int depth)
{
	int r;
	if (depth > MAX_ALLOC_DEPTH)
		return qcow2_corrupt(s, "qcow2 refcount allocation does not converge");
	if (rti >= s->rt_entries && (r = grow_refcount_table(s, rti, depth)))
		return r;
	if (s->rt[rti])
		return 0;
	uint64_t b = s->end;
	s->end += s->cluster_size;
	if ((r = write_zero_cluster(s, b)))
		return r;
	if ((r = write_be64(s, s->rt_offset + rti * 8, b)))
		return r;
	s->rt[rti] = b;
	return set_refcount_depth(s, b, 1, depth + 1);
}

/* Where the refcount of host_off lives: byte offset in the file, and the
 * shift/width inside the bytes read there. *at is 0 when no block exists. */
static int refcount_place(struct qcow2 *s, uint64_t host_off, uint64_t *at, unsigned *nbytes,
			  unsigned *shift)
{
	uint64_t ci = host_off >> s->cluster_bits;
	uint64_t rti = ci >> s->rb_bits, idx = ci & ((1ull << s->rb_bits) - 1);
	unsigned bits = 1u << s->refcount_order;

	*at = 0;
	if (rti >= s->rt_entries || !s->rt[rti])
		return 0;
	uint64_t block = s->rt[rti];
	if (block & (s->cluster_size - 1) || block + s->cluster_size > s->end)
		return qcow2_corrupt(s, "qcow2 refcount block offset 0x%llx is invalid",
				     (unsigned long long)block);
	uint64_t bit = idx * bits;
	*at = block + bit / 8;
	*nbytes = bits < 8 ? 1 : bits / 8;
	*shift = bits < 8 ? (unsigned)(bit % 8) : 0;
	return 0;
}

static uint64_t rc_decode(const uint8_t *b, unsigned nbytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < nbytes; i++)
		v = v << 8 | b[i];
	return v;
}

int qcow2_get_refcount(struct qcow2 *s, uint64_t host_off, uint64_t *rc)
{
	uint64_t at;
	unsigned nbytes, shift, bits = 1u << s->refcount_order;
	uint8_t b[8];
	int r = refcount_place(s, host_off, &at, &nbytes, &shift);

	*rc = 0;
	if (r || !at)
		return r;
	if ((r = blk_file_pread(&s->file, b, nbytes, at)))
		return r;
	uint64_t v = rc_decode(b, nbytes);
	*rc = bits < 8 ? (v >> shift) & ((1u << bits) - 1) : v;
	return 0;
}

static int set_refcount_depth(struct qcow2 *s, uint64_t host_off, uint64_t rc, int depth)
{
	unsigned bits = 1u << s->refcount_order, nbytes, shift;
	uint64_t at, ci = host_off >> s->cluster_bits;
	uint8_t b[8];
	int r;

	if (bits < 64 && rc >> bits)
		return -EINVAL;
	if ((r = ensure_refblock(s, ci >> s->rb_bits, depth)))
		return r;
	if ((r = refcount_place(s, host_off, &at, &nbytes, &shift)))
		return r;
	if (bits < 8) {
		if ((r = blk_file_pread(&s->file, b, 1, at)))
			return r;
		unsigned mask = ((1u << bits) - 1) << shift;
		b[0] = (uint8_t)((b[0] & ~mask) | ((unsigned)rc << shift));
	} else {
		for (int i = (int)nbytes - 1; i >= 0; i--, rc >>= 8)
			b[i] = (uint8_t)rc;
	}
	return blk_file_pwrite(&s->file, b, nbytes, at);
}

int qcow2_set_refcount(struct qcow2 *s, uint64_t host_off, uint64_t rc)
{
	return set_refcount_depth(s, host_off, rc, 0);
}

int qcow2_alloc_cluster(struct qcow2 *s, uint64_t *off)
{
	uint64_t at = s->end;
	s->end += s->cluster_size;
	int r = qcow2_set_refcount(s, at, 1);
	if (r)
		return r;
	s->stats.clusters_allocated++;
	*off = at;
	return 0;
}

/* ---- L2 cache ------------------------------------------------------------ */

static struct qcow2_l2_slot *l2_victim(struct qcow2 *s)
{
	struct qcow2_l2_slot *v = &s->cache[0];
	for (unsigned i = 0; i < s->cache_n; i++) {
		if (!s->cache[i].offset)
			return &s->cache[i];
		if (s->cache[i].used < v->used)
			v = &s->cache[i];
	}
	return v;
}

int qcow2_l2_get(struct qcow2 *s, uint32_t l1i, bool alloc, uint64_t **table)
{
	uint64_t e, off;
	int r;

	*table = NULL;
	if (l1i >= s->l1_size)
		return qcow2_corrupt(s, "qcow2 L1 index %u beyond the L1 table", l1i);
	e = s->l1[l1i];
	off = e & QCOW2_OFFSET_MASK;
	if (!off) {
		if (!alloc)
			return 0;
		if ((r = qcow2_alloc_cluster(s, &off)) || (r = write_zero_cluster(s, off)))
			return r;
		if ((r = write_be64(s, s->l1_offset + (uint64_t)l1i * 8, off | QCOW2_COPIED)))
			return r;
		s->l1[l1i] = off | QCOW2_COPIED;
		struct qcow2_l2_slot *v = l2_victim(s);
		memset(v->table, 0, s->cluster_size);
		v->offset = off;
		v->used = ++s->tick;
		s->stats.l2_misses++;
		*table = v->table;
		return 0;
	}
	if (off & (s->cluster_size - 1) || off + s->cluster_size > s->end)
		return qcow2_corrupt(s, "qcow2 L2 table offset 0x%llx is invalid",
				     (unsigned long long)off);
	if (alloc && !(e & QCOW2_COPIED))
		return qcow2_corrupt(s, "qcow2 L2 table at 0x%llx is shared (snapshot?); "
				     "writing it is not supported", (unsigned long long)off);
	for (unsigned i = 0; i < s->cache_n; i++) {
		if (s->cache[i].offset == off) {
			s->cache[i].used = ++s->tick;
			s->stats.l2_hits++;
			*table = s->cache[i].table;
			return 0;
		}
	}
	struct qcow2_l2_slot *v = l2_victim(s);
	v->offset = 0;
	if ((r = blk_file_pread(&s->file, v->table, s->cluster_size, off)))
		return r;
	v->offset = off;
	v->used = ++s->tick;
	s->stats.l2_misses++;
	*table = v->table;
	return 0;
}

int qcow2_l2_set(struct qcow2 *s, uint64_t *table, uint32_t l1i, uint32_t l2i, uint64_t entry)
{
	table[l2i] = htobe64(entry);
	return write_be64(s, (s->l1[l1i] & QCOW2_OFFSET_MASK) + (uint64_t)l2i * 8, entry);
}
