/* The block layer's shared part: the fields and I/O helpers every driver
 * uses (see block.h). It knows no format: probing and opening by format
 * are the registry's (formats.c). */
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
