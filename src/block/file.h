/* An image file opened for the block layer: positioned vector I/O that
 * retries short transfers, reads zeroes past the end of the file, and, with
 * cache=none (O_DIRECT), goes through an aligned bounce buffer only for
 * requests whose offset, length or memory is not aligned. */
#ifndef TERN_BLOCK_FILE_H
#define TERN_BLOCK_FILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct blk_file {
	int fd;
	bool direct;            /* opened with O_DIRECT */
	size_t align;           /* O_DIRECT alignment (1 when buffered) */
	uint8_t *bounce;        /* aligned scratch for unaligned direct I/O */
	size_t bounce_len;
	unsigned long bounced;  /* requests that needed the bounce buffer */
};

/* Open path for reading (and writing unless readonly), O_DIRECT when direct,
 * with a shared (readonly) or exclusive flock. Returns 0, or -1 with a
 * one-line reason in err. */
int blk_file_open(struct blk_file *f, const char *path, bool readonly, bool direct,
		  char *err, size_t errlen);
/* Wrap an already open descriptor (buffered); the file then owns it. */
void blk_file_from_fd(struct blk_file *f, int fd);
void blk_file_close(struct blk_file *f);

/* All return 0 or -errno. */
int blk_file_preadv(struct blk_file *f, const struct iovec *iov, int cnt, uint64_t off);
int blk_file_pwritev(struct blk_file *f, const struct iovec *iov, int cnt, uint64_t off);
int blk_file_pread(struct blk_file *f, void *buf, size_t len, uint64_t off);
int blk_file_pwrite(struct blk_file *f, const void *buf, size_t len, uint64_t off);
int blk_file_flush(struct blk_file *f);
int blk_file_size(struct blk_file *f, uint64_t *size);
/* Deallocate a range (reads give zeroes); -EOPNOTSUPP when the file system
 * cannot. */
int blk_file_punch(struct blk_file *f, uint64_t off, uint64_t len);
/* Make a range read as zeroes, by fallocate or, failing that, by writing. */
int blk_file_zero(struct blk_file *f, uint64_t off, uint64_t len);
#endif
