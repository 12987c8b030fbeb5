/* libFuzzer harness for the qcow2 driver: the input (after one mode byte) is
 * the image file. It is opened read-only or read-write with a small L2 cache,
 * which runs the header, extension, L1/L2 and refcount checks; an accepted
 * image is then read, written, zeroed and discarded at offsets taken from the
 * input, which runs the cache, allocation and copy-on-write paths. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "block/block.h"
#include "block/formats.h"

#define BUF (64u * 1024)

static uint64_t pick(const uint8_t *data, size_t size, size_t i)
{
	uint64_t v = 0;
	for (size_t k = 0; k < 8; k++)
		v = v << 8 | (size ? data[(i * 8 + k) % size] : 0);
	return v;
}

static void exercise(struct blk_dev *d, const uint8_t *data, size_t size, uint8_t mode)
{
	static uint8_t buf[BUF];
	uint64_t sectors = d->size / 512;
	if (!sectors)
		return;
	for (size_t i = 0; i < 6; i++) {
		uint64_t r = pick(data, size, i);
		uint64_t sector = r % sectors;
		size_t n = 1 + (size_t)((r >> 40) % (BUF / 512));
		if (n > sectors - sector)
			n = (size_t)(sectors - sector);
		/* Two iovecs, split at an arbitrary sector. */
		size_t first = 512 * (1 + (size_t)((r >> 32) % n));
		struct iovec v[2] = { { buf, first }, { buf + first, n * 512 - first } };
		int cnt = v[1].iov_len ? 2 : 1;
		uint64_t off = sector * 512;
		if (d->readonly || !((r >> 56) & 3)) {
			d->ops->preadv(d, v, cnt, off);
		} else {
			switch ((r >> 56) & 3) {
			case 1:
				memset(buf, (int)i, n * 512);
				d->ops->pwritev(d, v, cnt, off);
				break;
			case 2:
				d->ops->write_zeroes(d, off, n * 512, mode & 2);
				break;
			default:
				d->ops->discard(d, off, n * 512);
				break;
			}
		}
	}
	d->ops->flush(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	int fd = memfd_create("fuzz-qcow2", 0);
	if (fd < 0)
		return 0;
	if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
		close(fd);
		return 0;
	}
	char path[64], err[512];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct blk_open_opts o = { .format = "qcow2", .readonly = mode & 1,
				   .l2_cache_tables = 1 + (mode >> 4) % 3 };
	struct blk_dev *d = blk_open(path, &o, err, sizeof(err));
	if (d) {
		exercise(d, data, size, mode);
		blk_close(d);
	}
	close(fd);
	return 0;
}
