/* The block dirty log: one bit per BLK_CHUNK of a disk, set by every write
 * that goes through blk_write, blk_zeroes or blk_discard while the log is on,
 * so that storage migration can send again what the guest changed after a
 * chunk was copied. Callers serialize per disk (see block.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "block/block.h"

int blk_dirty_start(struct blk_dev *d)
{
	if (d->dirty)
		return 0;
	d->dirty = calloc((blk_chunks(d) + 63) / 64 + 1, 8);
	return d->dirty ? 0 : -ENOMEM;
}

void blk_dirty_stop(struct blk_dev *d)
{
	free(d->dirty);
	d->dirty = NULL;
}

uint64_t blk_dirty_take(struct blk_dev *d, uint64_t *out)
{
	uint64_t n = 0, words = (blk_chunks(d) + 63) / 64;
	if (!d->dirty)
		return 0;
	for (uint64_t i = 0; i < words; i++) {
		n += (uint64_t)__builtin_popcountll(d->dirty[i]);
		out[i] |= d->dirty[i];
		d->dirty[i] = 0;
	}
	return n;
}

static void mark(struct blk_dev *d, uint64_t off, uint64_t len)
{
	if (!d->dirty || !len || off >= d->size)
		return;
	uint64_t last = off + len - 1 < d->size ? off + len - 1 : d->size - 1;
	for (uint64_t c = off >> BLK_CHUNK_BITS; c <= last >> BLK_CHUNK_BITS; c++)
		d->dirty[c >> 6] |= 1ull << (c & 63);
}

int blk_write(struct blk_dev *d, const struct iovec *iov, int cnt, uint64_t off)
{
	uint64_t len = 0;
	for (int i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	mark(d, off, len);
	return d->ops->pwritev(d, iov, cnt, off);
}

int blk_zeroes(struct blk_dev *d, uint64_t off, uint64_t len, bool unmap)
{
	mark(d, off, len);
	return d->ops->write_zeroes(d, off, len, unmap);
}

int blk_discard(struct blk_dev *d, uint64_t off, uint64_t len)
{
	mark(d, off, len);
	return d->ops->discard(d, off, len);
}

int blk_allocated(struct blk_dev *d, uint64_t off, uint64_t len, bool *held)
{
	*held = true;
	return d->ops->allocated ? d->ops->allocated(d, off, len, held) : 0;
}
