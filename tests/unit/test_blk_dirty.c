/* Unit tests for the block dirty log and allocation status that storage
 * migration builds on (src/block/dirty.c): writes, write-zeroes and
 * discards mark exactly the 64 KiB chunks they touch (also at the end of a
 * disk whose size is not a multiple of a chunk), take() hands the marks
 * over once, a log that is off marks nothing; blk_allocated tells a qcow2
 * overlay's own clusters (data and zero) from those of its base, and a raw
 * file's data from its holes. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "block/block.h"
#include "block/formats.h"
#include "block/qcow2.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/tern-blkdirty-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A sparse raw base of size bytes with data in its first chunk, and a
 * qcow2 overlay over it. */
static struct blk_dev *overlay(uint64_t size)
{
	char base[128], ov[128], err[256];
	snprintf(base, sizeof(base), "%s/base.raw", dir);
	snprintf(ov, sizeof(ov), "%s/ov.qcow2", dir);
	unlink(base);
	unlink(ov);
	int fd = open(base, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0 && ftruncate(fd, (off_t)size) == 0 && pwrite(fd, "base", 4, 0) == 4);
	close(fd);
	struct qcow2_create_opts o = { .size = size, .backing = base, .backing_format = "raw" };
	assert_int_equal(qcow2_create(ov, &o, err, sizeof(err)), 0);
	struct blk_dev *d = blk_open(ov, &(struct blk_open_opts){ .format = "qcow2" }, err, sizeof(err));
	assert_non_null(d);
	return d;
}

static bool held(struct blk_dev *d, uint64_t off, uint64_t len)
{
	bool h = true;
	assert_int_equal(blk_allocated(d, off, len, &h), 0);
	return h;
}

static void test_marks_and_take(void **state)
{
	(void)state;
	uint64_t size = 10 * BLK_CHUNK + 4096;      /* a short last chunk: 10 */
	struct blk_dev *d = overlay(size);
	uint64_t bits[2] = { 0, 0 };
	uint8_t buf[8192];
	memset(buf, 0xab, sizeof(buf));
	struct iovec v = { buf, sizeof(buf) };
	assert_int_equal(blk_chunks(d), 11);
	/* Off: nothing is marked. */
	assert_int_equal(blk_write(d, &v, 1, 0), 0);
	assert_int_equal(blk_dirty_take(d, bits), 0);
	assert_int_equal(blk_dirty_start(d), 0);
	/* A write across the boundary of chunks 1 and 2. */
	assert_int_equal(blk_write(d, &v, 1, 2 * BLK_CHUNK - 4096), 0);
	/* Zeroes in chunk 5, a discard of chunks 7 and 8, a write at the end. */
	assert_int_equal(blk_zeroes(d, 5 * BLK_CHUNK + 512, 512, false), 0);
	assert_int_equal(blk_discard(d, 7 * BLK_CHUNK, 2 * BLK_CHUNK), 0);
	v.iov_len = 4096;
	assert_int_equal(blk_write(d, &v, 1, 10 * BLK_CHUNK), 0);
	assert_int_equal(blk_dirty_take(d, bits), 6);
	assert_int_equal(bits[0], (1u << 1) | (1u << 2) | (1u << 5) | (1u << 7) | (1u << 8) | (1u << 10));
	/* Taken once: the log is empty again, and take() ORs into out. */
	assert_int_equal(blk_dirty_take(d, bits), 0);
	assert_int_equal(blk_write(d, &v, 1, 3 * BLK_CHUNK), 0);
	assert_int_equal(blk_dirty_take(d, bits), 1);
	assert_true(bits[0] & (1u << 3) && bits[0] & (1u << 1));
	blk_dirty_stop(d);
	assert_int_equal(blk_write(d, &v, 1, 4 * BLK_CHUNK), 0);
	assert_int_equal(blk_dirty_take(d, bits), 0);
	blk_close(d);
}

static void test_allocated_qcow2(void **state)
{
	(void)state;
	struct blk_dev *d = overlay(16 * BLK_CHUNK);
	/* The base's data is not the overlay's own. */
	assert_false(held(d, 0, 16 * BLK_CHUNK));
	uint8_t buf[512] = { 1 };
	struct iovec v = { buf, sizeof(buf) };
	assert_int_equal(blk_write(d, &v, 1, 3 * BLK_CHUNK + 100 * 512), 0);
	assert_int_equal(blk_zeroes(d, 9 * BLK_CHUNK, BLK_CHUNK, false), 0);   /* a zero cluster */
	assert_false(held(d, 0, 3 * BLK_CHUNK));
	assert_true(held(d, 3 * BLK_CHUNK, BLK_CHUNK));
	assert_true(held(d, 0, 4 * BLK_CHUNK));
	assert_false(held(d, 4 * BLK_CHUNK, 5 * BLK_CHUNK));
	assert_true(held(d, 9 * BLK_CHUNK, BLK_CHUNK));
	assert_false(held(d, 10 * BLK_CHUNK, 6 * BLK_CHUNK));
	blk_close(d);
}

static void test_allocated_raw(void **state)
{
	(void)state;
	char p[128], err[256];
	snprintf(p, sizeof(p), "%s/sparse.raw", dir);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && ftruncate(fd, 64 * BLK_CHUNK) == 0);
	assert_int_equal(pwrite(fd, "x", 1, 40 * BLK_CHUNK + 7), 1);
	close(fd);
	struct blk_dev *d = blk_open(p, &(struct blk_open_opts){ .format = "raw" }, err, sizeof(err));
	assert_non_null(d);
	/* Holes are not held (a file system without SEEK_DATA holds all). */
	assert_true(held(d, 40 * BLK_CHUNK, BLK_CHUNK));
	assert_true(held(d, 0, 64 * BLK_CHUNK));
	bool h;
	assert_int_equal(blk_allocated(d, 0, 8 * BLK_CHUNK, &h), 0);
	if (h)
		print_message("note: this file system reports no holes (SEEK_DATA)\n");
	blk_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks_and_take),
		cmocka_unit_test(test_allocated_qcow2),
		cmocka_unit_test(test_allocated_raw),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
