/* The raw format driver: the image file is the disk, byte for byte. Discard
 * punches a hole; write-zeroes punches (unmap) or zeroes the range. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "block/block.h"
#include "block/file.h"
#include "block/raw.h"

struct raw {
	struct blk_dev dev;
	struct blk_file file;
};

static struct raw *raw_of(struct blk_dev *d)
{
	return (struct raw *)d;
}

static int raw_preadv(struct blk_dev *d, const struct iovec *iov, int cnt, uint64_t off)
{
	return blk_file_preadv(&raw_of(d)->file, iov, cnt, off);
}

static int raw_pwritev(struct blk_dev *d, const struct iovec *iov, int cnt, uint64_t off)
{
	return blk_file_pwritev(&raw_of(d)->file, iov, cnt, off);
}

static int raw_flush(struct blk_dev *d)
{
	return d->readonly ? 0 : blk_file_flush(&raw_of(d)->file);
}

static int raw_discard(struct blk_dev *d, uint64_t off, uint64_t len)
{
	int r = blk_file_punch(&raw_of(d)->file, off, len);
	return r == -EOPNOTSUPP ? 0 : r;    /* a hint the file system may ignore */
}

static int raw_write_zeroes(struct blk_dev *d, uint64_t off, uint64_t len, bool unmap)
{
	if (unmap && !blk_file_punch(&raw_of(d)->file, off, len))
		return 0;
	return blk_file_zero(&raw_of(d)->file, off, len);
}

/* A hole (SEEK_DATA finds no data before the end of the range) is not
 * held; a file system without SEEK_DATA holds everything. */
static int raw_allocated(struct blk_dev *d, uint64_t off, uint64_t len, bool *held)
{
	off_t at = lseek(raw_of(d)->file.fd, (off_t)off, SEEK_DATA);
	if (at < 0)
		*held = errno != ENXIO;
	else
		*held = (uint64_t)at < off + len;
	return 0;
}

static void raw_close(struct blk_dev *d)
{
	struct raw *r = raw_of(d);
	blk_file_close(&r->file);
	blk_dev_fini(d);
	free(r);
}

static const struct blk_ops raw_ops = {
	.format = "raw",
	.preadv = raw_preadv,
	.pwritev = raw_pwritev,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_write_zeroes,
	.allocated = raw_allocated,
	.close = raw_close,
};

static struct blk_dev *raw_new(struct blk_file *f, const char *path, uint64_t size, bool readonly)
{
	struct raw *r = calloc(1, sizeof(*r));
	if (!r || blk_dev_init(&r->dev, &raw_ops, path, size, readonly)) {
		free(r);
		return NULL;
	}
	r->file = *f;
	r->dev.lock_fd = f->fd;
	return &r->dev;
}

struct blk_dev *blk_raw_open(const char *path, const struct blk_open_opts *o, char *err,
			     size_t errlen)
{
	struct blk_file f;
	uint64_t size;

	if (blk_file_open(&f, path, o->readonly, o->direct, err, errlen))
		return NULL;
	if (blk_file_size(&f, &size)) {
		snprintf(err, errlen, "cannot stat '%s'", path);
		blk_file_close(&f);
		return NULL;
	}
	struct blk_dev *d = raw_new(&f, path, size, o->readonly);
	if (!d) {
		snprintf(err, errlen, "out of memory");
		blk_file_close(&f);
	}
	return d;
}

struct blk_dev *blk_raw_from_fd(int fd, uint64_t size, bool readonly)
{
	struct blk_file f;
	blk_file_from_fd(&f, fd);
	return raw_new(&f, "(fd)", size, readonly);
}

void blk_raw_release_fd(struct blk_dev *d)
{
	struct raw *r = raw_of(d);
	r->file.fd = -1;
	raw_close(d);
}
