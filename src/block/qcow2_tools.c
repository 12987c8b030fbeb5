/* Creating a qcow2 image: header (with the backing format extension when
 * there is a backing file), one refcount table cluster, one refcount block,
 * and a zeroed L1 table, each refcounted once. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "block/block.h"
#include "block/formats.h"
#include "block/qcow2.h"
#include "block/qcow2_priv.h"
#include "block/qcow2_format.h"

/* The backing file as the image will see it: relative to its directory. */
static char *backing_path(const char *image, const char *backing)
{
	const char *slash = strrchr(image, '/');
	char *p = NULL;
	if (backing[0] == '/' || !slash)
		return strdup(backing);
	if (asprintf(&p, "%.*s/%s", (int)(slash - image), image, backing) < 0)
		return NULL;
	return p;
}

/* Check the backing file opens (with its own chain) and learn its format and
 * size. */
static int probe_backing(const char *path, const struct qcow2_create_opts *o, char *fmt,
			 size_t fmtlen, uint64_t *size, char *err, size_t errlen)
{
	char *full = backing_path(path, o->backing), why[400];
	if (!full) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	struct blk_open_opts bo = { .format = o->backing_format, .readonly = true };
	struct blk_dev *b = blk_open(full, &bo, why, sizeof(why));
	if (!b) {
		snprintf(err, errlen, "backing file '%s': %s", o->backing, why);
		free(full);
		return -1;
	}
	snprintf(fmt, fmtlen, "%s", b->ops->format);
	*size = b->size;
	blk_close(b);
	free(full);
	return 0;
}

int qcow2_create(const char *path, const struct qcow2_create_opts *o, char *err, size_t errlen)
{
	unsigned cb = o->cluster_bits ? o->cluster_bits : 16, version = o->version ? o->version : 3;
	uint64_t size = o->size;
	char fmt[16] = "";

	if (cb < QCOW2_MIN_CLUSTER_BITS || cb > QCOW2_MAX_CLUSTER_BITS) {
		snprintf(err, errlen, "cluster size must be 512 bytes to 2 MiB");
		return -1;
	}
	if (version != 2 && version != 3) {
		snprintf(err, errlen, "qcow2 version must be 2 or 3");
		return -1;
	}
	if (o->backing) {
		uint64_t bsize;
		if (strlen(o->backing) > QCOW2_MAX_BACKING_NAME) {
			snprintf(err, errlen, "backing file name is longer than %d bytes",
				 QCOW2_MAX_BACKING_NAME);
			return -1;
		}
		if (probe_backing(path, o, fmt, sizeof(fmt), &bsize, err, errlen))
			return -1;
		if (!size)
			size = bsize;
	}
	size = (size + 511) & ~511ull;
	if (!size || size > QCOW2_MAX_SIZE) {
		snprintf(err, errlen, "virtual size must be 512 bytes to %llu bytes",
			 (unsigned long long)QCOW2_MAX_SIZE);
		return -1;
	}

	uint64_t cs = 1ull << cb, per_l2 = cs * (cs / 8);
	uint64_t l1_size = (size + per_l2 - 1) / per_l2;
	uint64_t l1_clusters = (l1_size * 8 + cs - 1) / cs;
	uint64_t nclusters = 3 + l1_clusters;
	uint64_t per_rb = cs * 8 / 16;
	if (l1_size * 8 > QCOW2_MAX_L1_BYTES || nclusters > per_rb) {
		snprintf(err, errlen, "virtual size too large for %llu-byte clusters",
			 (unsigned long long)cs);
		return -1;
	}
	uint8_t *buf = calloc(nclusters, cs);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	uint8_t *h = buf, *rt = buf + cs, *rb = buf + 2 * cs;
	uint32_t hlen = version == 3 ? QH_V3_LEN : QH_V2_LEN;
	memcpy(h, QCOW2_MAGIC, 4);
	qcow2_put32(h + QH_VERSION, version);
	qcow2_put32(h + QH_CLUSTER_BITS, cb);
	qcow2_put64(h + QH_SIZE, size);
	qcow2_put32(h + QH_L1_SIZE, (uint32_t)l1_size);
	qcow2_put64(h + QH_L1_OFFSET, 3 * cs);
	qcow2_put64(h + QH_RT_OFFSET, cs);
	qcow2_put32(h + QH_RT_CLUSTERS, 1);
	if (version == 3) {
		qcow2_put32(h + QH_REFCOUNT_ORDER, 4);
		qcow2_put32(h + QH_HEADER_LENGTH, hlen);
	}
	uint64_t at = hlen;
	if (o->backing) {
		size_t flen = strlen(fmt), blen = strlen(o->backing);
		uint64_t need = at + 8 + ((flen + 7) & ~7u) + 8 + blen;
		if (need > cs) {
			snprintf(err, errlen, "backing file name does not fit in a %llu-byte header "
				 "cluster", (unsigned long long)cs);
			free(buf);
			return -1;
		}
		qcow2_put32(h + at, QCOW2_EXT_BACKING_FORMAT);
		qcow2_put32(h + at + 4, (uint32_t)flen);
		memcpy(h + at + 8, fmt, flen);
		at += 8 + ((flen + 7) & ~7u);
		at += 8;                        /* end of extensions: type 0, length 0 */
		memcpy(h + at, o->backing, blen);
		qcow2_put64(h + QH_BACKING_OFFSET, at);
		qcow2_put32(h + QH_BACKING_SIZE, (uint32_t)blen);
	}
	qcow2_put64(rt, 2 * cs);
	for (uint64_t i = 0; i < nclusters; i++)
		rb[i * 2 + 1] = 1;          /* 16-bit big-endian refcount 1 */

	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		free(buf);
		return -1;
	}
	size_t total = nclusters * cs, done = 0;
	while (done < total) {
		ssize_t n = pwrite(fd, buf + done, total - done, (off_t)done);
		if (n <= 0) {
			snprintf(err, errlen, "cannot write '%s': %s", path,
				 n < 0 ? strerror(errno) : "short write");
			close(fd);
			unlink(path);
			free(buf);
			return -1;
		}
		done += (size_t)n;
	}
	free(buf);
	if (fsync(fd) || close(fd)) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int qcow2_get_stats(struct blk_dev *d, struct qcow2_stats *st)
{
	if (!d || strcmp(d->ops->format, "qcow2"))
		return -1;
	struct qcow2 *s = qcow2_of(d);
	*st = s->stats;
	st->version = s->version;
	st->cluster_size = s->cluster_size;
	return 0;
}
