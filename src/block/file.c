/* Image file I/O for the block layer (see file.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "block/file.h"
#include "block/iov.h"

#define MAX_IOV 1024            /* IOV_MAX on Linux */
#define ZERO_CHUNK (256u * 1024)

/* O_DIRECT needs the logical block size of the device under the file: try a
 * 512-byte aligned read, and fall back to 4096 when it is refused. */
static size_t probe_direct_align(int fd)
{
	uint8_t *buf;
	size_t align = 4096;

	if (posix_memalign((void **)&buf, 4096, 8192))
		return align;
	if (pread(fd, buf + 512, 512, 0) >= 0)
		align = 512;
	free(buf);
	return align;
}

int blk_file_open(struct blk_file *f, const char *path, bool readonly, bool direct,
		  char *err, size_t errlen)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	/* O_NONBLOCK: a FIFO named as a (backing) image must not hang the open;
	 * it is refused below as not a regular file. Files ignore the flag. */
	f->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK |
		     (direct ? O_DIRECT : 0));
	if (f->fd < 0) {
		if (direct && errno == EINVAL)
			snprintf(err, errlen, "cache=none: the file system of '%s' does not support "
				 "O_DIRECT", path);
		else
			snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(f->fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a regular file", path);
		close(f->fd);
		f->fd = -1;
		return -1;
	}
	/* One writer or many readers: a second VM on the same overlay, or a
	 * writer on a base that overlays read, is refused. */
	if (flock(f->fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "'%s' is in use by another disk or process (locked)",
				 path);
		else
			snprintf(err, errlen, "cannot lock '%s': %s", path, strerror(errno));
		close(f->fd);
		f->fd = -1;
		return -1;
	}
	f->direct = direct;
	f->align = direct ? probe_direct_align(f->fd) : 1;
	return 0;
}

void blk_file_from_fd(struct blk_file *f, int fd)
{
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->align = 1;
}

void blk_file_close(struct blk_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->bounce);
	f->bounce = NULL;
	f->bounce_len = 0;
}

/* preadv/pwritev until done; a read that meets the end of the file zeroes
 * the rest. iov is consumed (it must be a private copy). */
static int io_loop(int fd, struct iovec *iov, int cnt, uint64_t off, bool write)
{
	bool moved = false;

	while (cnt > 0) {
		ssize_t n = write ? pwritev(fd, iov, cnt > MAX_IOV ? MAX_IOV : cnt, (off_t)off)
				  : preadv(fd, iov, cnt > MAX_IOV ? MAX_IOV : cnt, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* O_DIRECT: a short read ended at an unaligned end of file. */
			if (errno == EINVAL && moved && !write)
				n = 0;
			else
				return -errno;
		}
		if (n == 0) {
			if (write)
				return -EIO;
			for (int i = 0; i < cnt; i++)
				memset(iov[i].iov_base, 0, iov[i].iov_len);
			return 0;
		}
		off += (uint64_t)n;
		moved = true;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static bool is_aligned(const struct blk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	size_t a = f->align;
	if (off % a)
		return false;
	for (int i = 0; i < cnt; i++)
		if ((uintptr_t)iov[i].iov_base % a || iov[i].iov_len % a)
			return false;
	return true;
}

static int grow_bounce(struct blk_file *f, size_t len)
{
	if (f->bounce_len >= len)
		return 0;
	uint8_t *b;
	if (posix_memalign((void **)&b, f->align < 4096 ? 4096 : f->align, len))
		return -ENOMEM;
	free(f->bounce);
	f->bounce = b;
	f->bounce_len = len;
	return 0;
}

/* Direct I/O through the bounce buffer: the request widened to aligned
 * blocks; a write reads the partial first and last blocks first. */
static int bounce_io(struct blk_file *f, const struct iovec *iov, int cnt, uint64_t off,
		     bool write)
{
	size_t len = iov_size(iov, cnt), a = f->align;
	uint64_t start = off / a * a, end = (off + len + a - 1) / a * a;
	size_t span = (size_t)(end - start), head = (size_t)(off - start);
	int r = grow_bounce(f, span);
	struct iovec one;

	if (r)
		return r;
	f->bounced++;
	if (!write) {
		one = (struct iovec){ f->bounce, span };
		r = io_loop(f->fd, &one, 1, start, false);
		if (!r)
			iov_from_buf(iov, cnt, 0, f->bounce + head, len);
		return r;
	}
	if (head) {
		one = (struct iovec){ f->bounce, a };
		if ((r = io_loop(f->fd, &one, 1, start, false)))
			return r;
	}
	if ((off + len) % a && (span > a || !head)) {
		one = (struct iovec){ f->bounce + span - a, a };
		if ((r = io_loop(f->fd, &one, 1, end - a, false)))
			return r;
	}
	iov_to_buf(iov, cnt, 0, f->bounce + head, len);
	one = (struct iovec){ f->bounce, span };
	return io_loop(f->fd, &one, 1, start, true);
}

static int file_io(struct blk_file *f, const struct iovec *iov, int cnt, uint64_t off, bool write)
{
	if (cnt <= 0)
		return 0;
	if (f->direct && !is_aligned(f, iov, cnt, off))
		return bounce_io(f, iov, cnt, off, write);
	struct iovec local[64], *copy = local;
	if (cnt > 64 && !(copy = malloc(sizeof(*copy) * (size_t)cnt)))
		return -ENOMEM;
	memcpy(copy, iov, sizeof(*copy) * (size_t)cnt);
	int r = io_loop(f->fd, copy, cnt, off, write);
	if (copy != local)
		free(copy);
	return r;
}

int blk_file_preadv(struct blk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	return file_io(f, iov, cnt, off, false);
}

int blk_file_pwritev(struct blk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	return file_io(f, iov, cnt, off, true);
}

int blk_file_pread(struct blk_file *f, void *buf, size_t len, uint64_t off)
{
	struct iovec v = { buf, len };
	return file_io(f, &v, 1, off, false);
}

int blk_file_pwrite(struct blk_file *f, const void *buf, size_t len, uint64_t off)
{
	struct iovec v = { (void *)buf, len };
	return file_io(f, &v, 1, off, true);
}

int blk_file_flush(struct blk_file *f)
{
	return fdatasync(f->fd) ? -errno : 0;
}

int blk_file_size(struct blk_file *f, uint64_t *size)
{
	struct stat st;
	if (fstat(f->fd, &st))
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

int blk_file_punch(struct blk_file *f, uint64_t off, uint64_t len)
{
	if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	return errno == ENOSYS || errno == ENODEV ? -EOPNOTSUPP : -errno;
}

int blk_file_zero(struct blk_file *f, uint64_t off, uint64_t len)
{
	if (!fallocate(f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		return 0;
	uint8_t *z;
	int r = 0;
	if (posix_memalign((void **)&z, 4096, ZERO_CHUNK))
		return -ENOMEM;
	memset(z, 0, ZERO_CHUNK);
	while (len && !r) {
		size_t n = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
		r = blk_file_pwrite(f, z, n, off);
		off += n;
		len -= n;
	}
	free(z);
	return r;
}
