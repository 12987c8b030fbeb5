/* Block layer entry points: format probing, opening a chain, and the
 * fields every driver shares (see block.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "block/block.h"
#include "block/iov.h"
#include "block/qcow2_format.h"

const char *blk_probe(const char *path, char *err, size_t errlen)
{
	uint8_t magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);     /* a FIFO must not hang */
	if (fd < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a regular file", path);
		close(fd);
		return NULL;
	}
	ssize_t n = pread(fd, magic, sizeof(magic), 0);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		return NULL;
	}
	return n == 4 && !memcmp(magic, QCOW2_MAGIC, 4) ? "qcow2" : "raw";
}

struct blk_dev *blk_open_depth(const char *path, const struct blk_open_opts *o, int depth,
			       char *err, size_t errlen)
{
	const char *fmt = o->format;
	if (depth >= BLK_MAX_CHAIN) {
		snprintf(err, errlen, "backing chain longer than %d images (a loop?) at '%s'",
			 BLK_MAX_CHAIN, path);
		return NULL;
	}
	if (!fmt && !(fmt = blk_probe(path, err, errlen)))
		return NULL;
	if (!strcmp(fmt, "raw"))
		return blk_raw_open(path, o, err, errlen);
	if (!strcmp(fmt, "qcow2"))
		return blk_qcow2_open(path, o, depth, err, errlen);
	snprintf(err, errlen, "unknown image format '%s' (raw or qcow2)", fmt);
	return NULL;
}

struct blk_dev *blk_open(const char *path, const struct blk_open_opts *o, char *err, size_t errlen)
{
	return blk_open_depth(path, o, 0, err, errlen);
}

void blk_close(struct blk_dev *d)
{
	if (d)
		d->ops->close(d);
}

int blk_read_clipped(struct blk_dev *d, const struct iovec *iov, int cnt, uint64_t off, size_t len)
{
	size_t inside = off >= d->size ? 0 : (d->size - off < len ? (size_t)(d->size - off) : len);
	if (inside < len)
		iov_zero(iov, cnt, inside, len - inside);
	if (!inside)
		return 0;
	if (inside == len)
		return d->ops->preadv(d, iov, cnt, off);
	struct iovec part[64];
	int n = iov_slice(iov, cnt, 0, inside, part, 64);
	if (n < 0) {
		/* Rare (a request of more than 64 segments straddling the end). */
		struct iovec *big = malloc(sizeof(*big) * (size_t)cnt);
		if (!big)
			return -ENOMEM;
		n = iov_slice(iov, cnt, 0, inside, big, cnt);
		int r = d->ops->preadv(d, big, n, off);
		free(big);
		return r;
	}
	return d->ops->preadv(d, part, n, off);
}

int blk_dev_init(struct blk_dev *d, const struct blk_ops *ops, const char *path, uint64_t size,
		 bool readonly)
{
	d->ops = ops;
	d->size = size;
	d->readonly = readonly;
	d->backing = NULL;
	d->backing_name = NULL;
	d->lock_fd = -1;
	d->dirty = NULL;
	d->path = strdup(path);
	return d->path ? 0 : -ENOMEM;
}

int blk_unlock(struct blk_dev *d)
{
	if (d->lock_fd < 0)
		return 0;
	return flock(d->lock_fd, LOCK_UN) ? -errno : 0;
}

int blk_relock(struct blk_dev *d)
{
	if (d->lock_fd < 0)
		return 0;
	return flock(d->lock_fd, (d->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) ? -errno : 0;
}

void blk_dev_fini(struct blk_dev *d)
{
	blk_close(d->backing);
	d->backing = NULL;
	blk_dirty_stop(d);
	free(d->path);
	free(d->backing_name);
	d->path = d->backing_name = NULL;
}
