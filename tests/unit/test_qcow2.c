/* Unit tests for the block layer's qcow2 driver: allocation and refcounts
 * (including refcount table growth), backing chains and copy-on-write, the
 * L2 cache under eviction, write-zeroes/discard, and refusal of hostile
 * headers and L1/L2/refcount entries without touching the file. Where
 * qemu-img is installed, images tern wrote must pass `qemu-img check`. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "block/block.h"
#include "block/formats.h"
#include "block/file.h"
#include "block/qcow2.h"
#include "block/qcow2_format.h"

static char dir[64];

static void path_of(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/tern-qcow2-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void create(const char *name, uint64_t size, unsigned cb, unsigned version,
		   const char *backing)
{
	char p[128], err[256];
	struct qcow2_create_opts o = { .size = size, .cluster_bits = cb, .version = version,
				       .backing = backing };
	path_of(p, sizeof(p), name);
	unlink(p);
	if (qcow2_create(p, &o, err, sizeof(err)))
		fail_msg("create %s: %s", name, err);
}

static struct blk_dev *open_img(const char *name, bool ro, unsigned cache, char *err, size_t n)
{
	char p[128];
	struct blk_open_opts o = { .format = "qcow2", .readonly = ro, .l2_cache_tables = cache };
	path_of(p, sizeof(p), name);
	return blk_open(p, &o, err, n);
}

static struct blk_dev *must_open(const char *name, bool ro, unsigned cache)
{
	char err[512];
	struct blk_dev *d = open_img(name, ro, cache, err, sizeof(err));
	if (!d)
		fail_msg("open %s: %s", name, err);
	return d;
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static void wr(struct blk_dev *d, uint64_t off, const void *buf, size_t n)
{
	struct iovec v = { (void *)buf, n };
	assert_int_equal(d->ops->pwritev(d, &v, 1, off), 0);
}

static void rd(struct blk_dev *d, uint64_t off, void *buf, size_t n)
{
	struct iovec v = { buf, n };
	memset(buf, 0xee, n);
	assert_int_equal(d->ops->preadv(d, &v, 1, off), 0);
}

static bool is_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* qemu-img check on the image, when qemu-img exists (skipped otherwise). */
static void qemu_check(const char *name)
{
	char p[128], cmd[256];
	if (system("command -v qemu-img >/dev/null 2>&1"))
		return;
	path_of(p, sizeof(p), name);
	snprintf(cmd, sizeof(cmd), "qemu-img check -q '%s'", p);
	assert_int_equal(system(cmd), 0);
}

static uint8_t *slurp(const char *name, size_t *len)
{
	char p[128];
	path_of(p, sizeof(p), name);
	FILE *f = fopen(p, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(*len + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

static void poke(const char *name, uint64_t off, const void *bytes, size_t n)
{
	char p[128];
	path_of(p, sizeof(p), name);
	int fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void poke64(const char *name, uint64_t off, uint64_t v)
{
	uint8_t b[8];
	qcow2_put64(b, v);
	poke(name, off, b, 8);
}

static void poke32(const char *name, uint64_t off, uint32_t v)
{
	uint8_t b[4];
	qcow2_put32(b, v);
	poke(name, off, b, 4);
}

/* ---- allocation and refcounts ------------------------------------------- */

static void test_fresh_image_reads_zero(void **state)
{
	(void)state;
	create("a.qcow2", 8 << 20, 16, 3, NULL);
	struct blk_dev *d = must_open("a.qcow2", false, 0);
	assert_int_equal(d->size, 8 << 20);
	assert_string_equal(d->ops->format, "qcow2");
	uint8_t buf[4096];
	rd(d, 4 << 20, buf, sizeof(buf));
	assert_true(is_zero(buf, sizeof(buf)));
	/* Zeroing what already reads as zero allocates nothing. */
	assert_int_equal(d->ops->write_zeroes(d, 512, (6 << 20) + 512, false), 0);
	assert_int_equal(d->ops->discard(d, 0, 8 << 20), 0);
	struct qcow2_stats st;
	assert_int_equal(qcow2_get_stats(d, &st), 0);
	assert_int_equal(st.clusters_allocated, 0);
	blk_close(d);
	qemu_check("a.qcow2");
}

static void test_write_read_across_clusters(void **state)
{
	(void)state;
	create("b.qcow2", 8 << 20, 12, 3, NULL);   /* 4 KiB clusters */
	struct blk_dev *d = must_open("b.qcow2", false, 0);
	static uint8_t in[40960], out[40960];
	fill(in, sizeof(in), 1);
	/* Three iovecs, starting mid-cluster. */
	struct iovec v[3] = { { in, 1536 }, { in + 1536, 20480 }, { in + 22016, 18944 } };
	assert_int_equal(d->ops->pwritev(d, v, 3, 4096 * 5 + 512), 0);
	rd(d, 4096 * 5 + 512, out, sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
	/* The bytes before and after stay zero. */
	rd(d, 4096 * 5, out, 512);
	assert_true(is_zero(out, 512));
	struct qcow2_stats st;
	assert_int_equal(qcow2_get_stats(d, &st), 0);
	/* 11 data clusters (5.125 .. 15.125) and one L2 table. */
	assert_int_equal(st.clusters_allocated, 12);
	/* Rewriting allocated clusters allocates nothing. */
	wr(d, 4096 * 6, in, 8192);
	assert_int_equal(qcow2_get_stats(d, &st), 0);
	assert_int_equal(st.clusters_allocated, 12);
	assert_int_equal(d->ops->flush(d), 0);
	blk_close(d);
	qemu_check("b.qcow2");
	d = must_open("b.qcow2", true, 0);
	rd(d, 4096 * 6, out, 8192);
	assert_memory_equal(in, out, 8192);
	blk_close(d);
}

/* 512-byte clusters: one refcount table cluster covers 64 blocks of 256
 * clusters (8 MiB), so writing 12 MiB must grow the refcount table. */
static void test_refcount_table_grows(void **state)
{
	(void)state;
	create("c.qcow2", 32 << 20, 9, 3, NULL);
	struct blk_dev *d = must_open("c.qcow2", false, 0);
	static uint8_t chunk[65536], back[65536];
	for (unsigned i = 0; i < 192; i++) {
		fill(chunk, sizeof(chunk), i);
		wr(d, (uint64_t)i * sizeof(chunk), chunk, sizeof(chunk));
	}
	blk_close(d);
	size_t len;
	uint8_t *img = slurp("c.qcow2", &len);
	assert_true(qcow2_be32(img + QH_RT_CLUSTERS) > 1);
	free(img);
	qemu_check("c.qcow2");
	d = must_open("c.qcow2", true, 0);
	for (unsigned i = 0; i < 192; i += 37) {
		fill(chunk, sizeof(chunk), i);
		rd(d, (uint64_t)i * sizeof(chunk), back, sizeof(back));
		assert_memory_equal(chunk, back, sizeof(back));
	}
	blk_close(d);
}

static void test_version2_image(void **state)
{
	(void)state;
	create("v2.qcow2", 4 << 20, 16, 2, NULL);
	struct blk_dev *d = must_open("v2.qcow2", false, 0);
	uint8_t in[1024], out[1024];
	fill(in, sizeof(in), 9);
	wr(d, 70000 & ~511, in, sizeof(in));
	/* Write-zeroes on version 2 writes zeroes (no zero flag). */
	assert_int_equal(d->ops->write_zeroes(d, 0, 65536 * 2, true), 0);
	rd(d, 70000 & ~511, out, sizeof(out));
	assert_true(is_zero(out, sizeof(out)));
	blk_close(d);
	qemu_check("v2.qcow2");
}

/* Images made by qemu-img with 1-bit and 64-bit refcounts and 512-byte
 * clusters: tern allocates in them and qemu-img check stays clean. */
static void test_qemu_refcount_widths(void **state)
{
	(void)state;
	if (system("command -v qemu-img >/dev/null 2>&1"))
		skip();
	static const unsigned widths[] = { 1, 2, 8, 64 };
	for (unsigned i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		char p[128], cmd[300], name[32];
		snprintf(name, sizeof(name), "rc%u.qcow2", widths[i]);
		path_of(p, sizeof(p), name);
		snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 -o refcount_bits=%u,"
			 "cluster_size=512 '%s' 16M", widths[i], p);
		assert_int_equal(system(cmd), 0);
		struct blk_dev *d = must_open(name, false, 0);
		static uint8_t in[65536], out[65536];
		for (unsigned k = 0; k < 160; k++) {
			fill(in, sizeof(in), k + i);
			wr(d, (uint64_t)k * sizeof(in) / 2, in, sizeof(in));
		}
		fill(in, sizeof(in), 159 + i);
		rd(d, 159ull * sizeof(in) / 2, out, sizeof(out));
		assert_memory_equal(in, out, sizeof(out));
		blk_close(d);
		qemu_check(name);
	}
}

/* ---- backing files -------------------------------------------------------- */

static void make_raw(const char *name, size_t size, unsigned seed)
{
	char p[128];
	uint8_t *b = malloc(size);
	assert_non_null(b);
	fill(b, size, seed);
	path_of(p, sizeof(p), name);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, size, f), size);
	fclose(f);
	free(b);
}

static void test_backing_read_and_cow(void **state)
{
	(void)state;
	make_raw("base.raw", 1 << 20, 3);
	size_t blen;
	uint8_t *before = slurp("base.raw", &blen);
	create("ov.qcow2", 0, 16, 3, "base.raw");
	struct blk_dev *d = must_open("ov.qcow2", false, 0);
	assert_int_equal(d->size, 1 << 20);
	assert_non_null(d->backing);
	assert_string_equal(d->backing->ops->format, "raw");
	static uint8_t out[1 << 20], mine[1024];
	rd(d, 0, out, sizeof(out));
	assert_memory_equal(out, before, sizeof(out));
	/* A sector in the middle of cluster 2: the rest comes from the base. */
	fill(mine, sizeof(mine), 77);
	wr(d, 2 * 65536 + 4096, mine, sizeof(mine));
	rd(d, 0, out, sizeof(out));
	assert_memory_equal(out + 2 * 65536 + 4096, mine, sizeof(mine));
	memcpy(before + 2 * 65536 + 4096, mine, sizeof(mine));
	assert_memory_equal(out, before, sizeof(out));
	blk_close(d);
	free(before);
	/* The base is untouched; the overlay passes qemu-img check. */
	size_t alen;
	uint8_t *after = slurp("base.raw", &alen);
	uint8_t *orig = malloc(blen);
	fill(orig, blen, 3);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, orig, blen);
	free(after);
	free(orig);
	qemu_check("ov.qcow2");
}

/* Version 2 overlay: copy-on-write the same way, write-zeroes writes zeroes
 * (no zero flag) and discard leaves the base data alone. */
static void test_version2_overlay(void **state)
{
	(void)state;
	make_raw("base2.raw", 256 * 1024, 11);
	create("ov2.qcow2", 0, 16, 2, "base2.raw");
	struct blk_dev *d = must_open("ov2.qcow2", false, 0);
	static uint8_t expect[256 * 1024], out[256 * 1024];
	uint8_t mine[512];
	fill(expect, sizeof(expect), 11);
	fill(mine, sizeof(mine), 99);
	wr(d, 65536 + 3072, mine, sizeof(mine));
	memcpy(expect + 65536 + 3072, mine, sizeof(mine));
	assert_int_equal(d->ops->write_zeroes(d, 3 * 65536, 65536, true), 0);
	memset(expect + 3 * 65536, 0, 65536);
	assert_int_equal(d->ops->discard(d, 0, 65536), 0);
	rd(d, 0, out, sizeof(out));
	assert_memory_equal(out, expect, sizeof(out));
	blk_close(d);
	qemu_check("ov2.qcow2");
}

static void test_backing_chain_and_smaller_base(void **state)
{
	(void)state;
	make_raw("small.raw", 100 * 1024, 5);
	create("mid.qcow2", 1 << 20, 16, 3, "small.raw");      /* bigger than its base */
	struct blk_dev *d = must_open("mid.qcow2", false, 0);
	uint8_t a[512];
	fill(a, sizeof(a), 6);
	wr(d, 200 * 1024, a, sizeof(a));
	blk_close(d);
	create("top.qcow2", 0, 16, 3, "mid.qcow2");
	d = must_open("top.qcow2", true, 0);
	assert_non_null(d->backing);
	assert_non_null(d->backing->backing);
	uint8_t out[512], expect[100 * 1024];
	fill(expect, sizeof(expect), 5);
	rd(d, 512, out, sizeof(out));
	assert_memory_equal(out, expect + 512, sizeof(out));
	rd(d, 200 * 1024, out, sizeof(out));
	assert_memory_equal(out, a, sizeof(out));
	/* Past the end of the 100 KiB base: zeroes. */
	rd(d, 600 * 1024, out, sizeof(out));
	assert_true(is_zero(out, sizeof(out)));
	/* Straddling the end of the base. */
	rd(d, 100 * 1024 - 256, out, sizeof(out));
	assert_memory_equal(out, expect + sizeof(expect) - 256, 256);
	assert_true(is_zero(out + 256, 256));
	blk_close(d);
}

static void test_backing_loop_refused(void **state)
{
	(void)state;
	create("l1.qcow2", 1 << 20, 16, 3, NULL);
	create("l2.qcow2", 0, 16, 3, "l1.qcow2");
	/* Point l1 at l2 by hand: a loop. */
	char name[] = "l2.qcow2";
	uint8_t hdr[512];
	size_t len;
	uint8_t *img = slurp("l2.qcow2", &len);
	memcpy(hdr, img, sizeof(hdr));
	free(img);
	uint64_t off = qcow2_be64(hdr + QH_BACKING_OFFSET);
	poke("l1.qcow2", off, name, strlen(name));
	poke64("l1.qcow2", QH_BACKING_OFFSET, off);
	poke32("l1.qcow2", QH_BACKING_SIZE, (uint32_t)strlen(name));
	char err[512];
	assert_null(open_img("l2.qcow2", true, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "backing file loop: "));
	/* Opened for writing, the loop used to end as "locked". */
	assert_null(open_img("l2.qcow2", false, 0, err, sizeof(err)));
	assert_null(strstr(err, "locked"));
	assert_non_null(strstr(err, "l2.qcow2 -> "));
	assert_non_null(strstr(err, "l1.qcow2 -> "));
	/* A self-loop. */
	poke("l1.qcow2", off, "l1.qcow2", 8);
	assert_null(open_img("l1.qcow2", false, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "backing file loop: "));
}

/* ---- L2 cache ---------------------------------------------------------------- */

static void test_l2_cache_eviction(void **state)
{
	(void)state;
	/* 512-byte clusters: one L2 table maps 64 clusters = 32 KiB. */
	create("e.qcow2", 1 << 20, 9, 3, NULL);
	struct blk_dev *d = must_open("e.qcow2", false, 2);
	uint8_t in[512], out[512];
	for (unsigned t = 0; t < 6; t++) {
		fill(in, sizeof(in), t);
		wr(d, (uint64_t)t * 32768 + 1024, in, sizeof(in));
	}
	struct qcow2_stats s0, s1;
	assert_int_equal(qcow2_get_stats(d, &s0), 0);
	for (unsigned round = 0; round < 2; round++)
		for (unsigned t = 0; t < 6; t++) {
			fill(in, sizeof(in), t);
			rd(d, (uint64_t)t * 32768 + 1024, out, sizeof(out));
			assert_memory_equal(in, out, sizeof(out));
		}
	assert_int_equal(qcow2_get_stats(d, &s1), 0);
	/* 6 tables through 2 slots in LRU order: every lookup misses. */
	assert_int_equal(s1.l2_misses - s0.l2_misses, 12);
	/* The same table twice in a row hits. */
	rd(d, 1024, out, sizeof(out));
	rd(d, 2048, out, sizeof(out));
	assert_int_equal(qcow2_get_stats(d, &s0), 0);
	assert_true(s0.l2_hits > s1.l2_hits);
	blk_close(d);
	qemu_check("e.qcow2");
}

/* ---- zeroes and discard --------------------------------------------------------- */

static void test_write_zeroes_and_discard(void **state)
{
	(void)state;
	make_raw("zb.raw", 512 * 1024, 8);
	create("z.qcow2", 0, 16, 3, "zb.raw");
	struct blk_dev *d = must_open("z.qcow2", false, 0);
	static uint8_t in[65536 * 3], out[65536 * 3];
	fill(in, sizeof(in), 4);
	wr(d, 65536, in, sizeof(in));
	/* Whole cluster 1 and part of cluster 2 zeroed; cluster 3 discarded. */
	assert_int_equal(d->ops->write_zeroes(d, 65536, 65536 + 4096, false), 0);
	assert_int_equal(d->ops->discard(d, 3 * 65536, 65536), 0);
	/* Cluster 4 was never written: zeroing it must hide the base. */
	assert_int_equal(d->ops->write_zeroes(d, 4 * 65536, 65536, true), 0);
	rd(d, 65536, out, sizeof(out));
	assert_true(is_zero(out, 65536 + 4096));
	assert_memory_equal(out + 65536 + 4096, in + 65536 + 4096, 65536 - 4096);
	/* A discarded cluster over a backing file reads as zeroes, not base data. */
	assert_true(is_zero(out + 2 * 65536, 65536));
	rd(d, 4 * 65536, out, 65536);
	assert_true(is_zero(out, 65536));
	/* Writing into a zero cluster again works. */
	wr(d, 65536 + 512, in, 512);
	rd(d, 65536, out, 1024);
	assert_true(is_zero(out, 512));
	assert_memory_equal(out + 512, in, 512);
	blk_close(d);
	qemu_check("z.qcow2");
}

/* Without a backing file, discarded clusters are freed (refcount 0, entry
 * cleared) and read as zeroes; rewriting them allocates anew. */
static void test_discard_frees_clusters(void **state)
{
	(void)state;
	create("f.qcow2", 1 << 20, 16, 3, NULL);
	struct blk_dev *d = must_open("f.qcow2", false, 0);
	static uint8_t in[4 * 65536], out[4 * 65536];
	fill(in, sizeof(in), 12);
	wr(d, 0, in, sizeof(in));
	/* Clusters 1 and 2 whole; the partial pieces around them are kept. */
	assert_int_equal(d->ops->discard(d, 65536 - 512, 2 * 65536 + 1024), 0);
	rd(d, 0, out, sizeof(out));
	assert_memory_equal(out, in, 65536);
	assert_true(is_zero(out + 65536, 2 * 65536));
	assert_memory_equal(out + 3 * 65536, in + 3 * 65536, 65536);
	struct qcow2_stats a, b;
	assert_int_equal(qcow2_get_stats(d, &a), 0);
	wr(d, 65536, in, 512);
	assert_int_equal(qcow2_get_stats(d, &b), 0);
	assert_int_equal(b.clusters_allocated, a.clusters_allocated + 1);
	blk_close(d);
	qemu_check("f.qcow2");
}

static void test_readonly_refuses_writes(void **state)
{
	(void)state;
	create("ro.qcow2", 1 << 20, 16, 3, NULL);
	struct blk_dev *d = must_open("ro.qcow2", true, 0);
	uint8_t b[512] = { 1 };
	struct iovec v = { b, sizeof(b) };
	assert_int_equal(d->ops->pwritev(d, &v, 1, 0), -EROFS);
	blk_close(d);
}

/* ---- hostile images ---------------------------------------------------------------- */

/* A 64 KiB-cluster image with one data cluster written: header at 0,
 * refcount table at 64K, refcount block at 128K, L1 at 192K, L2 table at
 * 256K, data at 320K. */
static void make_victim(const char *name)
{
	create(name, 4 << 20, 16, 3, NULL);
	struct blk_dev *d = must_open(name, false, 0);
	uint8_t b[512];
	fill(b, sizeof(b), 1);
	wr(d, 0, b, sizeof(b));
	blk_close(d);
	size_t len;
	uint8_t *img = slurp(name, &len);
	assert_int_equal(qcow2_be64(img + 3 * 65536) & QCOW2_OFFSET_MASK, 4 * 65536);
	assert_int_equal(qcow2_be64(img + 4 * 65536) & QCOW2_OFFSET_MASK, 5 * 65536);
	free(img);
}

/* Open must fail with needle in the message, and leave the file as it was. */
static void expect_refused(const char *name, const char *needle)
{
	size_t l0, l1;
	uint8_t *before = slurp(name, &l0);
	char err[512] = "";
	struct blk_dev *d = open_img(name, false, 0, err, sizeof(err));
	if (d)
		fail_msg("%s: opened, expected '%s'", name, needle);
	if (!strstr(err, needle))
		fail_msg("%s: error '%s' lacks '%s'", name, err, needle);
	uint8_t *after = slurp(name, &l1);
	assert_int_equal(l0, l1);
	assert_memory_equal(before, after, l0);
	free(before);
	free(after);
}

static void test_hostile_header(void **state)
{
	(void)state;
	make_victim("h.qcow2");
	poke("h.qcow2", 0, "QFI\xfa", 4);
	expect_refused("h.qcow2", "no qcow2 magic");

	make_victim("h.qcow2");
	poke32("h.qcow2", QH_VERSION, 4);
	expect_refused("h.qcow2", "version 4");

	make_victim("h.qcow2");
	poke32("h.qcow2", QH_CLUSTER_BITS, 30);
	expect_refused("h.qcow2", "cluster_bits 30");

	make_victim("h.qcow2");
	poke64("h.qcow2", QH_INCOMPAT, 1ull << 40);
	expect_refused("h.qcow2", "unknown incompatible feature bit 40");

	make_victim("h.qcow2");
	poke64("h.qcow2", QH_INCOMPAT, QCOW2_INCOMPAT_DIRTY);
	expect_refused("h.qcow2", "dirty");

	make_victim("h.qcow2");
	poke32("h.qcow2", QH_CRYPT_METHOD, 1);
	expect_refused("h.qcow2", "encrypted");

	make_victim("h.qcow2");
	poke32("h.qcow2", QH_REFCOUNT_ORDER, 7);
	expect_refused("h.qcow2", "refcount_order 7");

	make_victim("h.qcow2");
	poke64("h.qcow2", QH_SIZE, 1ull << 40);    /* L1 of 1 entry cannot map 1 TiB */
	expect_refused("h.qcow2", "cannot map the virtual size");

	make_victim("h.qcow2");
	poke32("h.qcow2", QH_HEADER_LENGTH, 4096 + 3);
	expect_refused("h.qcow2", "header_length");

	make_victim("h.qcow2");
	poke32("h.qcow2", QH_BACKING_SIZE, 5000);
	poke64("h.qcow2", QH_BACKING_OFFSET, 65000);
	expect_refused("h.qcow2", "backing file name");
}

static void test_truncated_image(void **state)
{
	(void)state;
	char p[128];
	make_victim("t.qcow2");
	path_of(p, sizeof(p), "t.qcow2");
	assert_int_equal(truncate(p, 50), 0);
	expect_refused("t.qcow2", "truncated");

	make_victim("t.qcow2");
	assert_int_equal(truncate(p, 3 * 65536 + 100), 0);    /* cuts the L1 table */
	expect_refused("t.qcow2", "truncated");

	make_victim("t.qcow2");
	assert_int_equal(truncate(p, 4 * 65536 + 4096), 0);   /* cuts the L2 table */
	expect_refused("t.qcow2", "truncated");

	make_victim("t.qcow2");
	assert_int_equal(truncate(p, 5 * 65536), 0);          /* drops the data cluster */
	expect_refused("t.qcow2", "truncated");
}

static void test_hostile_l1_entries(void **state)
{
	(void)state;
	make_victim("l.qcow2");
	poke64("l.qcow2", 3 * 65536, QCOW2_COPIED | (1ull << 40));   /* past EOF */
	expect_refused("l.qcow2", "past the end");

	make_victim("l.qcow2");
	poke64("l.qcow2", 3 * 65536, QCOW2_COPIED | (4 * 65536 + 512));  /* unaligned */
	expect_refused("l.qcow2", "not a cluster boundary");

	make_victim("l.qcow2");
	poke64("l.qcow2", 3 * 65536, QCOW2_COPIED | (4 * 65536) | 0x10);  /* reserved bit 4 */
	expect_refused("l.qcow2", "reserved bits");

	make_victim("l.qcow2");
	poke64("l.qcow2", 3 * 65536, QCOW2_COPIED | 65536);   /* the refcount table */
	expect_refused("l.qcow2", "share the cluster");
}

static void test_hostile_l2_entries(void **state)
{
	(void)state;
	make_victim("m.qcow2");
	poke64("m.qcow2", 4 * 65536, QCOW2_COPIED | 3 * 65536);    /* data on the L1 table */
	expect_refused("m.qcow2", "overlaps metadata");

	make_victim("m.qcow2");
	poke64("m.qcow2", 4 * 65536 + 8, QCOW2_COPIED | 65536 * 2);  /* the refcount block */
	expect_refused("m.qcow2", "overlaps metadata");

	make_victim("m.qcow2");
	poke64("m.qcow2", 4 * 65536 + 8, QCOW2_COPIED | (1ull << 45));
	expect_refused("m.qcow2", "past the end");

	make_victim("m.qcow2");
	poke64("m.qcow2", 4 * 65536 + 16, QCOW2_COPIED | (5 * 65536 + 512));
	expect_refused("m.qcow2", "not a cluster boundary");

	make_victim("m.qcow2");
	poke64("m.qcow2", 4 * 65536 + 16, QCOW2_COPIED | (5 * 65536) | 0x4);
	expect_refused("m.qcow2", "reserved bits");

	make_victim("m.qcow2");
	poke64("m.qcow2", 4 * 65536, QCOW2_COMPRESSED | (5 * 65536));
	expect_refused("m.qcow2", "compressed clusters are not supported");
	/* Two guest clusters on one data cluster (qemu-img check flags it). */
	make_victim("m.qcow2");
	poke64("m.qcow2", 4 * 65536 + 8 * 7, QCOW2_COPIED | (5 * 65536));
	expect_refused("m.qcow2", "data cluster 0x50000 is used twice");
}

static void test_hostile_refcount_entries(void **state)
{
	(void)state;
	make_victim("r.qcow2");
	poke64("r.qcow2", 65536, 1ull << 42);                  /* block past EOF */
	expect_refused("r.qcow2", "past the end");

	make_victim("r.qcow2");
	poke64("r.qcow2", 65536, 2 * 65536 + 8);               /* unaligned */
	expect_refused("r.qcow2", "corrupt refcount table");

	make_victim("r.qcow2");
	poke64("r.qcow2", 65536 + 8, 4 * 65536);               /* on the L2 table */
	expect_refused("r.qcow2", "share the cluster");
}

/* ---- the file layer with O_DIRECT ---------------------------------------------------- */

static void test_direct_io_unaligned(void **state)
{
	(void)state;
	char p[128], err[256];
	make_raw("d.raw", 1 << 20, 2);
	path_of(p, sizeof(p), "d.raw");
	struct blk_file f;
	if (blk_file_open(&f, p, false, true, err, sizeof(err))) {
		if (strstr(err, "O_DIRECT"))
			skip();
		fail_msg("%s", err);
	}
	static uint8_t expect[1 << 20];
	fill(expect, sizeof(expect), 2);
	/* Unaligned memory, offset and length: bounced. */
	uint8_t *buf = malloc(10000);
	assert_int_equal(blk_file_pread(&f, buf + 3, 777, 12345), 0);
	assert_memory_equal(buf + 3, expect + 12345, 777);
	memset(buf, 0x5a, 10000);
	assert_int_equal(blk_file_pwrite(&f, buf + 1, 1000, 70001), 0);
	memset(expect + 70001, 0x5a, 1000);
	assert_true(f.bounced >= 2);
	/* Aligned: straight through. */
	uint8_t *al = NULL;
	assert_int_equal(posix_memalign((void **)&al, 4096, 8192), 0);
	unsigned long bounced = f.bounced;
	assert_int_equal(blk_file_pread(&f, al, 8192, 65536), 0);
	assert_memory_equal(al, expect + 65536, 8192);
	assert_int_equal(f.bounced, bounced);
	blk_file_close(&f);
	free(al);
	free(buf);
	size_t len;
	uint8_t *img = slurp("d.raw", &len);
	assert_int_equal(len, sizeof(expect));
	assert_memory_equal(img, expect, len);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_image_reads_zero),
		cmocka_unit_test(test_write_read_across_clusters),
		cmocka_unit_test(test_refcount_table_grows),
		cmocka_unit_test(test_version2_image),
		cmocka_unit_test(test_qemu_refcount_widths),
		cmocka_unit_test(test_backing_read_and_cow),
		cmocka_unit_test(test_version2_overlay),
		cmocka_unit_test(test_backing_chain_and_smaller_base),
		cmocka_unit_test(test_backing_loop_refused),
		cmocka_unit_test(test_l2_cache_eviction),
		cmocka_unit_test(test_write_zeroes_and_discard),
		cmocka_unit_test(test_discard_frees_clusters),
		cmocka_unit_test(test_readonly_refuses_writes),
		cmocka_unit_test(test_hostile_header),
		cmocka_unit_test(test_truncated_image),
		cmocka_unit_test(test_hostile_l1_entries),
		cmocka_unit_test(test_hostile_l2_entries),
		cmocka_unit_test(test_hostile_refcount_entries),
		cmocka_unit_test(test_direct_io_unaligned),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
