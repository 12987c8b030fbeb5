/* qcow2 I/O: requests are split at cluster (and L2 table) boundaries into
 * extents; allocated clusters that are contiguous on the host go to the file
 * in one preadv/pwritev straight from the guest iovecs, zero clusters are
 * filled, unallocated ones come from the backing chain. A write to an
 * unallocated cluster allocates it and copies the rest of the cluster from
 * the backing chain (copy-on-write) in the same pwritev. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "block/iov.h"
#include "block/qcow2_format.h"
#include "block/qcow2_priv.h"

enum extent_kind { EXT_DATA, EXT_ZERO, EXT_UNALLOC };

struct extent {
	enum extent_kind kind;
	uint64_t host;              /* EXT_DATA: host offset of the first byte */
	uint64_t len;               /* bytes from the request offset on */
};

static int classify(struct qcow2 *s, uint64_t e, uint64_t guest, enum extent_kind *kind,
		    uint64_t *host)
{
	*host = e & QCOW2_OFFSET_MASK;
	if (e & QCOW2_COMPRESSED)
		return qcow2_corrupt(s, "compressed cluster at guest offset 0x%llx is not supported",
				     (unsigned long long)guest);
	if (s->version >= 3 && (e & QCOW2_ZERO))
		*kind = EXT_ZERO;
	else if (*host)
		*kind = EXT_DATA;
	else
		*kind = EXT_UNALLOC;
	if (*kind == EXT_DATA && (*host & (s->cluster_size - 1) || *host >= s->end))
		return qcow2_corrupt(s, "qcow2 L2 entry 0x%llx for guest offset 0x%llx is invalid",
				     (unsigned long long)e, (unsigned long long)guest);
	return 0;
}

/* The extent at guest offset off, at most len bytes and within one L2 table:
 * clusters of one kind (data ones contiguous on the host). */
static int map_extent(struct qcow2 *s, uint64_t off, uint64_t len, struct extent *x)
{
	uint64_t cs = s->cluster_size, per = 1ull << s->l2_bits;
	uint32_t l1i = (uint32_t)(off >> (s->l2_bits + s->cluster_bits));
	uint64_t l2i = (off >> s->cluster_bits) & (per - 1), inoff = off & (cs - 1);
	uint64_t avail = (per - l2i) * cs - inoff, *t;
	int r;

	if (avail > len)
		avail = len;
	if ((r = qcow2_l2_get(s, l1i, false, &t)))
		return r;
	if (!t) {
		x->kind = EXT_UNALLOC;
		x->len = avail;
		return 0;
	}
	uint64_t host0, host;
	enum extent_kind k;
	if ((r = classify(s, be64toh(t[l2i]), off, &x->kind, &host0)))
		return r;
	uint64_t n = 1;
	while (n * cs - inoff < avail) {
		if ((r = classify(s, be64toh(t[l2i + n]), off + n * cs - inoff, &k, &host)))
			return r;
		if (k != x->kind || (k == EXT_DATA && host != host0 + n * cs))
			break;
		n++;
	}
	x->len = n * cs - inoff < avail ? n * cs - inoff : avail;
	x->host = host0 + inoff;
	return 0;
}

static int slice(struct qcow2 *s, const struct iovec *iov, int cnt, size_t skip, size_t len)
{
	int n = iov_slice(iov, cnt, skip, len, s->iov, s->iov_max - 2);
	return n < 0 ? -EINVAL : n;
}

static int qcow2_preadv(struct blk_dev *d, const struct iovec *iov, int cnt, uint64_t off)
{
	struct qcow2 *s = qcow2_of(d);
	size_t len = iov_size(iov, cnt), done = 0;

	while (done < len) {
		struct extent x;
		int r = map_extent(s, off + done, len - done, &x);
		if (r)
			return r;
		if (x.kind == EXT_DATA) {
			int n = slice(s, iov, cnt, done, x.len);
			if (n < 0)
				return n;
			r = blk_file_preadv(&s->file, s->iov, n, x.host);
		} else if (x.kind == EXT_UNALLOC && d->backing) {
			int n = slice(s, iov, cnt, done, x.len);
			if (n < 0)
				return n;
			r = blk_read_clipped(d->backing, s->iov, n, off + done, x.len);
		} else {
			iov_zero(iov, cnt, done, x.len);
		}
		if (r)
			return r;
		done += x.len;
	}
	return 0;
}

/* Fill cow[from, to) with what the guest sees there now: zeroes for a zero
 * cluster, else the backing chain's data (or zeroes without one). */
static int cow_fill(struct qcow2 *s, uint64_t cluster_guest, bool zero, uint64_t from, uint64_t to)
{
	if (from >= to)
		return 0;
	if (zero || !s->dev.backing) {
		memset(s->cow + from, 0, to - from);
		return 0;
	}
	struct iovec v = { s->cow + from, to - from };
	return blk_read_clipped(s->dev.backing, &v, 1, cluster_guest + from, to - from);
}

/* A write of len bytes (inside one cluster) at guest offset off to a cluster
 * that is not allocated, or is a zero cluster. */
static int write_new_cluster(struct qcow2 *s, uint64_t *table, uint32_t l1i, uint64_t l2i,
			     uint64_t entry, uint64_t off, const struct iovec *iov, int cnt,
			     size_t skip, size_t len)
{
	uint64_t cs = s->cluster_size, inoff = off & (cs - 1), host = entry & QCOW2_OFFSET_MASK;
	bool zero = s->version >= 3 && (entry & QCOW2_ZERO);
	int r;

	/* A preallocated zero cluster is reused; otherwise a new one. */
	if (!(zero && host && (entry & QCOW2_COPIED))) {
		if ((r = qcow2_alloc_cluster(s, &host)))
			return r;
	}
	uint64_t guest0 = off - inoff;
	if ((r = cow_fill(s, guest0, zero, 0, inoff)) ||
	    (r = cow_fill(s, guest0, zero, inoff + len, cs)))
		return r;
	int n = 0;
	if (inoff)
		s->iov[n++] = (struct iovec){ s->cow, inoff };
	int m = iov_slice(iov, cnt, skip, len, s->iov + n, s->iov_max - 2);
	if (m < 0)
		return -EINVAL;
	n += m;
	if (inoff + len < cs)
		s->iov[n++] = (struct iovec){ s->cow + inoff + len, cs - inoff - len };
	if ((r = blk_file_pwritev(&s->file, s->iov, n, host)))
		return r;
	return qcow2_l2_set(s, table, l1i, (uint32_t)l2i, host | QCOW2_COPIED);
}

static int qcow2_pwritev(struct blk_dev *d, const struct iovec *iov, int cnt, uint64_t off)
{
	struct qcow2 *s = qcow2_of(d);
	size_t len = iov_size(iov, cnt), done = 0;
	uint64_t cs = s->cluster_size;

	if (d->readonly)
		return -EROFS;
	while (done < len) {
		uint64_t at = off + done;
		uint32_t l1i = (uint32_t)(at >> (s->l2_bits + s->cluster_bits));
		uint64_t l2i = (at >> s->cluster_bits) & ((1ull << s->l2_bits) - 1), *t;
		struct extent x;
		int r;

		if ((r = qcow2_l2_get(s, l1i, true, &t)) || (r = map_extent(s, at, len - done, &x)))
			return r;
		uint64_t e = be64toh(t[l2i]);
		if (x.kind == EXT_DATA) {
			/* Every cluster of the extent must be ours alone. */
			uint64_t nclusters = ((at & (cs - 1)) + x.len + cs - 1) / cs;
			for (uint64_t i = 0; i < nclusters; i++)
				if (!(be64toh(t[l2i + i]) & QCOW2_COPIED))
					return qcow2_corrupt(s, "qcow2 cluster for guest offset 0x%llx is "
							     "shared (snapshot?); writing it is not "
							     "supported", (unsigned long long)at);
			int n = slice(s, iov, cnt, done, x.len);
			if (n < 0)
				return n;
			if ((r = blk_file_pwritev(&s->file, s->iov, n, x.host)))
				return r;
			done += x.len;
			continue;
		}
		size_t piece = cs - (at & (cs - 1));
		if (piece > len - done)
			piece = len - done;
		if ((r = write_new_cluster(s, t, l1i, l2i, e, at, iov, cnt, done, piece)))
			return r;
		done += piece;
	}
	return 0;
}

static int qcow2_flush(struct blk_dev *d)
{
	return d->readonly ? 0 : blk_file_flush(&qcow2_of(d)->file);
}

/* Give a whole cluster a new L2 entry; free its old host cluster if asked. */
static int replace_cluster(struct qcow2 *s, uint64_t at, bool alloc_table, bool keep_host,
			   bool want_zero)
{
	uint32_t l1i = (uint32_t)(at >> (s->l2_bits + s->cluster_bits));
	uint64_t l2i = (at >> s->cluster_bits) & ((1ull << s->l2_bits) - 1), *t;
	int r = qcow2_l2_get(s, l1i, alloc_table, &t);

	if (r || !t)
		return r;
	uint64_t e = be64toh(t[l2i]), host = e & QCOW2_OFFSET_MASK;
	if (e & QCOW2_COMPRESSED)
		return qcow2_corrupt(s, "compressed cluster at guest offset 0x%llx is not supported",
				     (unsigned long long)at);
	if (host && !(e & QCOW2_COPIED))
		return qcow2_corrupt(s, "qcow2 cluster for guest offset 0x%llx is shared; not "
				     "supported", (unsigned long long)at);
	uint64_t ne;
	if (want_zero)
		ne = QCOW2_ZERO | (keep_host && host ? host | QCOW2_COPIED : 0);
	else
		ne = 0;
	if (ne == e)
		return 0;
	if ((r = qcow2_l2_set(s, t, l1i, (uint32_t)l2i, ne)))
		return r;
	if (host) {
		int p = blk_file_punch(&s->file, host, s->cluster_size);
		if (p && p != -EOPNOTSUPP)
			return p;
		if (!(ne & QCOW2_OFFSET_MASK))
			return qcow2_set_refcount(s, host, 0);
	}
	return 0;
}

static int zero_by_writing(struct qcow2 *s, uint64_t off, uint64_t len)
{
	struct iovec v = { s->zeros, len };
	return qcow2_pwritev(&s->dev, &v, 1, off);
}

static int qcow2_write_zeroes(struct blk_dev *d, uint64_t off, uint64_t len, bool unmap)
{
	struct qcow2 *s = qcow2_of(d);
	uint64_t cs = s->cluster_size, end = off + len;

	if (d->readonly)
		return -EROFS;
	while (off < end) {
		uint64_t piece = cs - (off & (cs - 1));
		struct extent x;
		int r;
		if (piece > end - off)
			piece = end - off;
		if ((r = map_extent(s, off, piece, &x)))
			return r;
		bool reads_zero = x.kind == EXT_ZERO || (x.kind == EXT_UNALLOC && !d->backing);
		if (reads_zero && (!unmap || x.kind == EXT_UNALLOC)) {
			off += piece;           /* nothing to do, nothing to free */
			continue;
		}
		if (piece == cs && s->version >= 3)
			r = replace_cluster(s, off, true, !unmap, true);
		else
			r = zero_by_writing(s, off, piece);
		if (r)
			return r;
		off += piece;
	}
	return 0;
}

/* Whole clusters only: they are freed (reading as zeroes where a backing file
 * would otherwise show through; left alone in a version 2 overlay). */
static int qcow2_discard(struct blk_dev *d, uint64_t off, uint64_t len)
{
	struct qcow2 *s = qcow2_of(d);
	uint64_t cs = s->cluster_size, end = off + len;

	if (d->readonly)
		return -EROFS;
	off = (off + cs - 1) & ~(cs - 1);
	for (; off < end && end - off >= cs; off += cs) {
		if (d->backing && s->version < 3)
			break;
		int r = replace_cluster(s, off, false, false, d->backing != NULL);
		if (r)
			return r;
	}
	return 0;
}

/* Data and zero clusters are the image's own; unallocated ones are not. */
static int qcow2_allocated(struct blk_dev *d, uint64_t off, uint64_t len, bool *held)
{
	struct qcow2 *s = qcow2_of(d);
	*held = false;
	while (len) {
		struct extent x;
		int r = map_extent(s, off, len, &x);
		if (r)
			return r;
		if (x.kind != EXT_UNALLOC) {
			*held = true;
			return 0;
		}
		off += x.len;
		len -= x.len;
	}
	return 0;
}

void qcow2_free(struct qcow2 *s)
{
	if (!s)
		return;
	for (unsigned i = 0; s->cache && i < s->cache_n; i++)
		free(s->cache[i].table);
	free(s->cache);
	free(s->l1);
	free(s->rt);
	free(s->cow);
	free(s->zeros);
	free(s->iov);
	blk_file_close(&s->file);
	blk_dev_fini(&s->dev);
	free(s);
}

static void qcow2_close(struct blk_dev *d)
{
	qcow2_free(qcow2_of(d));
}

const struct blk_ops qcow2_ops = {
	.format = "qcow2",
	.preadv = qcow2_preadv,
	.pwritev = qcow2_pwritev,
	.flush = qcow2_flush,
	.discard = qcow2_discard,
	.write_zeroes = qcow2_write_zeroes,
	.allocated = qcow2_allocated,
	.close = qcow2_close,
};
