/* Opening a qcow2 image: the header and its extensions are checked field by
 * field, then every table the image points at (L1, refcount table and
 * blocks, L2 tables and their entries) is checked against the file before
 * anything is written. A refused image is never modified. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "block/qcow2_driver.h"
#include "block/qcow2_format.h"
#include "block/qcow2_priv.h"

#define MAX_IOV 1026            /* IOV_MAX pieces plus a copy-on-write head and tail */

struct open_ctx {
	struct qcow2 *s;
	const char *path;
	char *err;
	size_t errlen;
	uint64_t file_size;
	uint8_t *hdr;               /* the header cluster (or what the file has of it) */
	uint64_t hdr_len;
	uint64_t incompat, autoclear;
	uint64_t backing_off;
	uint32_t backing_len;
	uint32_t nb_snapshots;
	uint64_t size;
	char backing_fmt[16];
	uint64_t *meta;             /* metadata cluster indices, sorted */
	size_t nmeta, meta_cap;
};

static int fail(struct open_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct open_ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->errlen, "qcow2 image '%s': ", c->path);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool aligned(const struct qcow2 *s, uint64_t off)
{
	return !(off & (s->cluster_size - 1));
}

/* A table of len bytes at off must be cluster aligned and inside the file. */
static int check_table(struct open_ctx *c, const char *what, uint64_t off, uint64_t len)
{
	if (!off || !aligned(c->s, off))
		return fail(c, "%s offset 0x%llx is not a cluster boundary (corrupt header or table)",
			    what, (unsigned long long)off);
	if (off > c->file_size || len > c->file_size - off)
		return fail(c, "%s at 0x%llx (%llu bytes) lies past the end of the file (%llu bytes): "
			    "truncated image", what, (unsigned long long)off,
			    (unsigned long long)len, (unsigned long long)c->file_size);
	return 0;
}

static int add_meta(struct open_ctx *c, uint64_t off, uint64_t len)
{
	uint64_t cs = c->s->cluster_size;
	for (uint64_t i = off / cs; i < (off + len + cs - 1) / cs; i++) {
		if (c->nmeta == c->meta_cap) {
			size_t cap = c->meta_cap ? c->meta_cap * 2 : 256;
			uint64_t *m = realloc(c->meta, cap * sizeof(*m));
			if (!m)
				return fail(c, "out of memory");
			c->meta = m;
			c->meta_cap = cap;
		}
		c->meta[c->nmeta++] = i;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool is_meta(const struct open_ctx *c, uint64_t cluster)
{
	return bsearch(&cluster, c->meta, c->nmeta, sizeof(cluster), cmp_u64) != NULL;
}

/* The name of an incompatible feature bit from the feature name table. */
static const char *feature_name(const struct open_ctx *c, unsigned bit, char *buf, size_t len)
{
	uint64_t off = c->s->version >= 3 ? qcow2_be32(c->hdr + QH_HEADER_LENGTH) : QH_V2_LEN;
	while (off + 8 <= c->hdr_len) {
		uint32_t type = qcow2_be32(c->hdr + off), l = qcow2_be32(c->hdr + off + 4);
		if (type == QCOW2_EXT_END || l > c->hdr_len - off - 8)
			break;
		if (type == QCOW2_EXT_FEATURE_NAMES)
			for (uint32_t i = 0; i + 48 <= l; i += 48) {
				const uint8_t *e = c->hdr + off + 8 + i;
				if (e[0] == 0 && e[1] == bit) {
					snprintf(buf, len, " (%.46s)", (const char *)e + 2);
					return buf;
				}
			}
		off += 8 + ((l + 7) & ~7u);
	}
	return "";
}

static int check_features(struct open_ctx *c)
{
	static const struct { uint64_t bit; const char *why; } known[] = {
		{ QCOW2_INCOMPAT_DIRTY, "is marked dirty (lazy refcounts, not closed cleanly); "
		  "repair it with 'qemu-img check -r all'" },
		{ QCOW2_INCOMPAT_CORRUPT, "is marked corrupt; repair it with 'qemu-img check -r all'" },
		{ QCOW2_INCOMPAT_DATA_FILE, "uses an external data file, which tern does not support" },
		{ QCOW2_INCOMPAT_COMPRESSION, "uses a compression type other than zlib, which tern "
		  "does not support" },
		{ QCOW2_INCOMPAT_EXTL2, "uses extended L2 entries (subclusters), which tern does "
		  "not support" },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (c->incompat & known[i].bit)
			return fail(c, "image %s", known[i].why);
	for (unsigned bit = 0; bit < 64; bit++)
		if (c->incompat >> bit & 1) {
			char name[64];
			return fail(c, "unknown incompatible feature bit %u%s: not supported", bit,
				    feature_name(c, bit, name, sizeof(name)));
		}
	return 0;
}

/* Header extensions: the backing format is used; data files are refused;
 * the rest is skipped. */
static int parse_extensions(struct open_ctx *c, uint64_t start)
{
	uint64_t off = start;
	for (;;) {
		if (off + 8 > c->hdr_len)
			return fail(c, "header extensions run past the header cluster (corrupt header)");
		uint32_t type = qcow2_be32(c->hdr + off), len = qcow2_be32(c->hdr + off + 4);
		if (type == QCOW2_EXT_END)
			return 0;
		if (len > c->hdr_len - off - 8)
			return fail(c, "header extension 0x%08x of %u bytes runs past the header "
				    "cluster (corrupt header)", type, len);
		const uint8_t *data = c->hdr + off + 8;
		if (type == QCOW2_EXT_BACKING_FORMAT) {
			if (len == 0 || len >= sizeof(c->backing_fmt))
				return fail(c, "backing format extension of %u bytes is invalid", len);
			memcpy(c->backing_fmt, data, len);
			c->backing_fmt[len] = 0;
		} else if (type == QCOW2_EXT_DATA_FILE) {
			return fail(c, "image uses an external data file, which tern does not support");
		}
		off += 8 + ((len + 7ull) & ~7ull);
	}
}

static int parse_header(struct open_ctx *c)
{
	struct qcow2 *s = c->s;
	uint8_t *h = c->hdr;

	if (c->file_size < QH_V2_LEN)
		return fail(c, "file has %llu bytes, less than a qcow2 header: truncated image",
			    (unsigned long long)c->file_size);
	if (memcmp(h, QCOW2_MAGIC, 4))
		return fail(c, "no qcow2 magic (corrupt header, or not a qcow2 image)");
	s->version = qcow2_be32(h + QH_VERSION);
	if (s->version != 2 && s->version != 3)
		return fail(c, "qcow2 version %u is not supported (2 or 3)", s->version);
	s->cluster_bits = qcow2_be32(h + QH_CLUSTER_BITS);
	if (s->cluster_bits < QCOW2_MIN_CLUSTER_BITS || s->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return fail(c, "cluster_bits %u is out of range (%d..%d): corrupt header",
			    s->cluster_bits, QCOW2_MIN_CLUSTER_BITS, QCOW2_MAX_CLUSTER_BITS);
	s->cluster_size = 1ull << s->cluster_bits;
	s->l2_bits = s->cluster_bits - 3;
	uint32_t header_length = QH_V2_LEN;
	s->refcount_order = 4;
	if (s->version == 3) {
		if (c->file_size < QH_V3_LEN)
			return fail(c, "file has %llu bytes, less than a version 3 header: truncated "
				    "image", (unsigned long long)c->file_size);
		c->incompat = qcow2_be64(h + QH_INCOMPAT);
		c->autoclear = qcow2_be64(h + QH_AUTOCLEAR);
		s->refcount_order = qcow2_be32(h + QH_REFCOUNT_ORDER);
		header_length = qcow2_be32(h + QH_HEADER_LENGTH);
		if (header_length < QH_V3_LEN || header_length % 8 || header_length > s->cluster_size)
			return fail(c, "header_length %u is invalid (corrupt header)", header_length);
		if (s->refcount_order > 6)
			return fail(c, "refcount_order %u is out of range (0..6): corrupt header",
				    s->refcount_order);
	}
	if (c->hdr_len < header_length)
		return fail(c, "file ends inside the header: truncated image");
	if (check_features(c))
		return -1;
	if (qcow2_be32(h + QH_CRYPT_METHOD))
		return fail(c, "encrypted images are not supported");
	s->rb_bits = s->cluster_bits + 3 - s->refcount_order;
	c->size = qcow2_be64(h + QH_SIZE);
	if (c->size > QCOW2_MAX_SIZE)
		return fail(c, "virtual size %llu is too large (corrupt header)",
			    (unsigned long long)c->size);
	c->nb_snapshots = qcow2_be32(h + QH_NB_SNAPSHOTS);

	/* Backing file name: in the header cluster. */
	c->backing_off = qcow2_be64(h + QH_BACKING_OFFSET);
	c->backing_len = qcow2_be32(h + QH_BACKING_SIZE);
	if (c->backing_off) {
		if (c->backing_len == 0 || c->backing_len > QCOW2_MAX_BACKING_NAME ||
		    c->backing_off >= c->hdr_len || c->backing_len > c->hdr_len - c->backing_off)
			return fail(c, "backing file name (offset %llu, %u bytes) is outside the header "
				    "cluster (corrupt header or truncated image)",
				    (unsigned long long)c->backing_off, c->backing_len);
		if (memchr(c->hdr + c->backing_off, 0, c->backing_len))
			return fail(c, "backing file name contains a NUL byte (corrupt header)");
	}
	return parse_extensions(c, header_length);
}

static int load_l1_and_refcounts(struct open_ctx *c)
{
	struct qcow2 *s = c->s;
	uint8_t *h = c->hdr;
	uint64_t per_l2 = s->cluster_size * (s->cluster_size / 8);

	s->l1_size = qcow2_be32(h + QH_L1_SIZE);
	s->l1_offset = qcow2_be64(h + QH_L1_OFFSET);
	uint64_t need = (c->size + per_l2 - 1) / per_l2;
	if ((uint64_t)s->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		return fail(c, "L1 table of %u entries is too large (corrupt header)", s->l1_size);
	if (s->l1_size < need)
		return fail(c, "L1 table of %u entries cannot map the virtual size %llu (needs %llu): "
			    "corrupt header", s->l1_size, (unsigned long long)c->size,
			    (unsigned long long)need);
	if (s->l1_size && check_table(c, "L1 table", s->l1_offset, (uint64_t)s->l1_size * 8))
		return -1;
	s->rt_offset = qcow2_be64(h + QH_RT_OFFSET);
	s->rt_clusters = qcow2_be32(h + QH_RT_CLUSTERS);
	if (!s->rt_clusters || (uint64_t)s->rt_clusters * s->cluster_size > QCOW2_MAX_RT_BYTES)
		return fail(c, "refcount table of %u clusters is invalid (corrupt header)",
			    s->rt_clusters);
	if (check_table(c, "refcount table", s->rt_offset,
			(uint64_t)s->rt_clusters * s->cluster_size))
		return -1;
	if (c->nb_snapshots) {
		uint64_t so = qcow2_be64(h + QH_SNAPSHOTS_OFFSET);
		if (!so || !aligned(s, so) || so >= c->file_size)
			return fail(c, "snapshot table offset 0x%llx is invalid",
				    (unsigned long long)so);
	}

	s->l1 = calloc(s->l1_size ? s->l1_size : 1, sizeof(*s->l1));
	s->rt_entries = (uint64_t)s->rt_clusters * s->cluster_size / 8;
	s->rt = calloc(s->rt_entries, sizeof(*s->rt));
	uint8_t *buf = malloc(s->rt_entries * 8 > (uint64_t)s->l1_size * 8 ? s->rt_entries * 8
									 : (uint64_t)s->l1_size * 8);
	if (!s->l1 || !s->rt || !buf) {
		free(buf);
		return fail(c, "out of memory for the L1 and refcount tables");
	}
	if (s->l1_size && blk_file_pread(&s->file, buf, (size_t)s->l1_size * 8, s->l1_offset)) {
		free(buf);
		return fail(c, "cannot read the L1 table");
	}
	for (uint32_t i = 0; i < s->l1_size; i++)
		s->l1[i] = qcow2_be64(buf + (uint64_t)i * 8);
	if (blk_file_pread(&s->file, buf, s->rt_entries * 8, s->rt_offset)) {
		free(buf);
		return fail(c, "cannot read the refcount table");
	}
	for (uint64_t i = 0; i < s->rt_entries; i++)
		s->rt[i] = qcow2_be64(buf + i * 8);
	free(buf);
	return 0;
}

/* Every table pointer: aligned, inside the file, no two in one cluster; then
 * every L2 entry: no compressed clusters, no reserved bits, data inside the
 * file and never on top of metadata. */
static int check_tables(struct open_ctx *c)
{
	struct qcow2 *s = c->s;
	uint64_t cs = s->cluster_size;

	if (add_meta(c, 0, cs) || add_meta(c, s->l1_offset, (uint64_t)s->l1_size * 8) ||
	    add_meta(c, s->rt_offset, (uint64_t)s->rt_clusters * cs))
		return -1;
	for (uint64_t i = 0; i < s->rt_entries; i++) {
		uint64_t e = s->rt[i];
		if (!e)
			continue;
		if (e & QCOW2_RT_RESERVED)
			return fail(c, "refcount table entry %llu (0x%llx) is not a cluster boundary: "
				    "corrupt refcount table", (unsigned long long)i,
				    (unsigned long long)e);
		if (check_table(c, "refcount block", e, cs) || add_meta(c, e, cs))
			return -1;
	}
	for (uint32_t i = 0; i < s->l1_size; i++) {
		uint64_t e = s->l1[i];
		if (!e)
			continue;
		if (e & QCOW2_L1_RESERVED)
			return fail(c, "L1 entry %u (0x%llx) has reserved bits set: corrupt L1 table", i,
				    (unsigned long long)e);
		if (check_table(c, "L2 table", e & QCOW2_OFFSET_MASK, cs) ||
		    add_meta(c, e & QCOW2_OFFSET_MASK, cs))
			return -1;
	}
	qsort(c->meta, c->nmeta, sizeof(*c->meta), cmp_u64);
	for (size_t i = 1; i < c->nmeta; i++)
		if (c->meta[i] == c->meta[i - 1])
			return fail(c, "two metadata structures share the cluster at 0x%llx: corrupt "
				    "image", (unsigned long long)(c->meta[i] * cs));

	/* One bit per cluster of the file: a data cluster two L2 entries point
	 * at would make a guest write to one offset show up at the other. */
	uint64_t nclusters = c->file_size / cs + 1;
	uint8_t *l2 = malloc(cs), *used = calloc(nclusters / 8 + 1, 1);
	if (!l2 || !used) {
		free(l2);
		free(used);
		return fail(c, "out of memory");
	}
	int r = 0;
	for (uint32_t i = 0; i < s->l1_size && !r; i++) {
		uint64_t t = s->l1[i] & QCOW2_OFFSET_MASK;
		if (!t)
			continue;
		if (blk_file_pread(&s->file, l2, cs, t)) {
			r = fail(c, "cannot read the L2 table at 0x%llx", (unsigned long long)t);
			break;
		}
		for (uint64_t j = 0; j < cs / 8; j++) {
			uint64_t e = qcow2_be64(l2 + j * 8), host = e & QCOW2_OFFSET_MASK;
			uint64_t guest = ((uint64_t)i << (s->l2_bits + s->cluster_bits)) +
					 (j << s->cluster_bits);
			if (e & QCOW2_COMPRESSED) {
				r = fail(c, "compressed clusters are not supported (guest offset 0x%llx); "
					 "convert the image with 'qemu-img convert -O qcow2'",
					 (unsigned long long)guest);
				break;
			}
			if ((e & QCOW2_L2_RESERVED) || (s->version < 3 && (e & QCOW2_ZERO))) {
				r = fail(c, "L2 entry for guest offset 0x%llx (0x%llx) has reserved bits "
					 "set: corrupt L2 table", (unsigned long long)guest,
					 (unsigned long long)e);
				break;
			}
			if (!host)
				continue;
			if (!aligned(s, host)) {
				r = fail(c, "data cluster offset 0x%llx for guest offset 0x%llx is not a "
					 "cluster boundary: corrupt L2 table", (unsigned long long)host,
					 (unsigned long long)guest);
				break;
			}
			if (host >= c->file_size) {
				r = fail(c, "data cluster 0x%llx for guest offset 0x%llx lies past the end "
					 "of the file (%llu bytes): truncated image",
					 (unsigned long long)host, (unsigned long long)guest,
					 (unsigned long long)c->file_size);
				break;
			}
			if (is_meta(c, host >> s->cluster_bits)) {
				r = fail(c, "data cluster 0x%llx for guest offset 0x%llx overlaps metadata: "
					 "corrupt L2 table", (unsigned long long)host,
					 (unsigned long long)guest);
				break;
			}
			uint64_t k = host >> s->cluster_bits;
			if (used[k / 8] & (1u << (k % 8))) {
				r = fail(c, "data cluster 0x%llx is used twice (again for guest offset "
					 "0x%llx): corrupt L2 table", (unsigned long long)host,
					 (unsigned long long)guest);
				break;
			}
			used[k / 8] |= (uint8_t)(1u << (k % 8));
		}
	}
	free(l2);
	free(used);
	return r;
}

/* The backing file, relative to the image's directory unless absolute. */
static int open_backing(struct open_ctx *c, const struct blk_open_opts *o, int depth,
			const struct blk_chain *me)
{
	struct qcow2 *s = c->s;
	char *name = strndup((const char *)c->hdr + c->backing_off, c->backing_len);
	char *full = NULL;
	const char *slash = strrchr(c->path, '/');

	if (!name)
		return fail(c, "out of memory");
	s->dev.backing_name = name;
	if (name[0] == '/' || !slash)
		full = strdup(name);
	else if (asprintf(&full, "%.*s/%s", (int)(slash - c->path), c->path, name) < 0)
		full = NULL;
	if (!full)
		return fail(c, "out of memory");
	/* A loop would otherwise end as "locked" (the top image is opened
	 * exclusively) or as a chain too long: name it. */
	struct stat bst;
	if (!stat(full, &bst)) {
		for (const struct blk_chain *l = me; l; l = l->up) {
			if (l->dev != bst.st_dev || l->ino != bst.st_ino)
				continue;
			const struct blk_chain *order[BLK_MAX_CHAIN + 1];
			int n = 0;
			for (const struct blk_chain *k = me; k && n < BLK_MAX_CHAIN; k = k->up)
				order[n++] = k;
			char loop[600] = "";
			size_t used = 0;
			while (n-- > 0 && used < sizeof(loop))
				used += (size_t)snprintf(loop + used, sizeof(loop) - used, "%s -> ",
							 order[n]->path);
			fail(c, "backing file loop: %s%s", loop, full);
			free(full);
			return -1;
		}
	}
	if (!o->open_backing) {
		free(full);
		return fail(c, "it has a backing file and was not opened through blk_open");
	}
	struct blk_open_opts bo = { .format = c->backing_fmt[0] ? c->backing_fmt : NULL,
				    .readonly = true, .direct = o->direct,
				    .l2_cache_tables = o->l2_cache_tables, .chain = me };
	char why[400];
	s->dev.backing = o->open_backing(full, &bo, depth + 1, why, sizeof(why));
	free(full);
	if (!s->dev.backing) {
		/* Deeper images name themselves: only the top one adds a prefix. */
		if (depth)
			snprintf(c->err, c->errlen, "%s", why);
		else
			fail(c, "backing file '%s': %s", name, why);
		return -1;
	}
	return 0;
}

static int alloc_buffers(struct open_ctx *c, const struct blk_open_opts *o)
{
	struct qcow2 *s = c->s;
	s->cache_n = o->l2_cache_tables ? o->l2_cache_tables : QCOW2_DEFAULT_L2_CACHE;
	s->cache = calloc(s->cache_n, sizeof(*s->cache));
	s->iov_max = MAX_IOV;
	s->iov = calloc(MAX_IOV, sizeof(*s->iov));
	if (!s->cache || !s->iov || posix_memalign((void **)&s->cow, 4096, s->cluster_size) ||
	    posix_memalign((void **)&s->zeros, 4096, s->cluster_size))
		return fail(c, "out of memory");
	memset(s->zeros, 0, s->cluster_size);
	for (unsigned i = 0; i < s->cache_n; i++)
		if (posix_memalign((void **)&s->cache[i].table, 4096, s->cluster_size))
			return fail(c, "out of memory for the L2 cache");
	return 0;
}

bool blk_qcow2_probe(const uint8_t *head, size_t n)
{
	return n >= 4 && !memcmp(head, QCOW2_MAGIC, 4);
}

struct blk_dev *blk_qcow2_open(const char *path, const struct blk_open_opts *o, int depth,
			       char *err, size_t errlen)
{
	struct qcow2 *s = calloc(1, sizeof(*s));
	struct open_ctx c = { .s = s, .path = path, .err = err, .errlen = errlen };
	int r = -1;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->file.fd = -1;
	if (blk_file_open(&s->file, path, o->readonly, o->direct, err, errlen)) {
		free(s);
		return NULL;
	}
	if (blk_dev_init(&s->dev, &qcow2_ops, path, 0, o->readonly)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	s->dev.lock_fd = s->file.fd;
	if (blk_file_size(&s->file, &c.file_size)) {
		fail(&c, "cannot stat the file");
		goto out;
	}
	/* The header cluster, as far as the file has it (the cluster size is
	 * not known yet: take the largest). */
	c.hdr_len = c.file_size < (1ull << QCOW2_MAX_CLUSTER_BITS) ? c.file_size
								  : 1ull << QCOW2_MAX_CLUSTER_BITS;
	size_t hdr_buf = c.hdr_len < 4096 ? 4096 : (size_t)c.hdr_len;
	if (posix_memalign((void **)&c.hdr, 4096, hdr_buf)) {
		fail(&c, "out of memory");
		goto out;
	}
	memset(c.hdr, 0, hdr_buf);
	if (blk_file_pread(&s->file, c.hdr, c.hdr_len, 0)) {
		fail(&c, "cannot read the header");
		goto out;
	}
	if (parse_header(&c))
		goto out;
	if (c.hdr_len > s->cluster_size)
		c.hdr_len = s->cluster_size;
	if (c.nb_snapshots && !o->readonly) {
		fail(&c, "image has %u internal snapshots; tern can open it only read-only",
		     c.nb_snapshots);
		goto out;
	}
	if (load_l1_and_refcounts(&c) || check_tables(&c))
		goto out;
	s->end = (c.file_size + s->cluster_size - 1) & ~(s->cluster_size - 1);
	s->dev.size = c.size;
	struct stat st;
	struct blk_chain me = { .path = path, .up = o->chain };
	if (!fstat(s->file.fd, &st)) {
		me.dev = st.st_dev;
		me.ino = st.st_ino;
	}
	if (c.backing_off && o->no_backing) {
		fail(&c, "it has a backing file ('%.*s') and backing=off was given", (int)c.backing_len,
		     (const char *)c.hdr + c.backing_off);
		goto out;
	}
	if (c.backing_off && open_backing(&c, o, depth, &me))
		goto out;
	if (alloc_buffers(&c, o))
		goto out;
	/* A writer that does not know the autoclear features must clear them. */
	if (!o->readonly && c.autoclear) {
		uint8_t z[8] = { 0 };
		if (blk_file_pwrite(&s->file, z, 8, QH_AUTOCLEAR)) {
			fail(&c, "cannot clear the autoclear feature bits");
			goto out;
		}
	}
	r = 0;
out:
	free(c.hdr);
	free(c.meta);
	if (r) {
		qcow2_free(s);
		return NULL;
	}
	return &s->dev;
}
