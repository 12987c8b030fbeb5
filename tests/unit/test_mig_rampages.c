/* RAM batch tests: pages round-trip between two VMs with and without zstd,
 * zero pages travel as markers and clear stale data, and hostile batches
 * (bad sizes, indices beyond RAM, corrupt zstd, unknown codec) are refused
 * before any guest page is touched. A batch also lands in a bare buffer
 * (the destination's RAM before its VM exists). Post-copy: a batch fills
 * only pages still absent, and vm_ram_ptr fetches absent pages on demand.
 * XBZRLE: pages sent again travel as deltas that rebuild them exactly
 * (any changed byte, a rewritten page, a page zeroed), malformed deltas
 * are refused, and a version 1 batch (older sources) still loads. */
#include <unistd.h>
#include "cpu_fixture.h"
#include "migration/rampages.h"
#include "migration/xbzrle.h"

static uint8_t enc[RAM_BATCH_ENC_MAX], scratch[RAM_BATCH_RAW_MAX];

static void fill(struct fx *f, uint64_t page, uint8_t seed)
{
	uint8_t *p = fx_ram(f, RAM_BASE + page * 4096, 4096);
	for (int i = 0; i < 4096; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* Apply a batch into vm's RAM, as the destination does once its VM exists. */
static int apply_vm(struct vm *vm, const uint8_t *p, size_t n, _Atomic uint64_t *absent, char *err,
		    size_t errlen)
{
	struct ram_dst d = ram_dst_of_vm(vm);
	return ram_batch_apply(&d, p, n, RAM_BATCH_VERSION, absent, scratch, err, errlen);
}

static void roundtrip(int codec)
{
	struct fx *a = fx_new(), *b = fx_new();
	uint64_t pages[RAM_BATCH_MAX_PAGES];
	for (uint32_t i = 0; i < RAM_BATCH_MAX_PAGES; i++) {
		pages[i] = 100 + i * 3;
		if (i % 4)
			fill(a, pages[i], (uint8_t)i);
		else
			fill(b, pages[i], 0xaa);       /* stale data the zero marker must clear */
	}
	struct ram_batch_stats st = { 0 };
	size_t n = ram_batch_encode(a->vm, pages, RAM_BATCH_MAX_PAGES, codec, NULL, enc, scratch, &st);
	assert_true(n > 0);
	assert_int_equal(st.pages_zero, RAM_BATCH_MAX_PAGES / 4);
	assert_int_equal(st.pages_normal, RAM_BATCH_MAX_PAGES * 3 / 4);
	if (codec == RAM_CODEC_ZSTD)
		assert_true(st.wire_bytes < st.raw_bytes / 2);    /* the fill pattern compresses */
	char err[256];
	assert_int_equal(apply_vm(b->vm, enc, n, NULL, err, sizeof(err)), RAM_BATCH_MAX_PAGES);
	assert_memory_equal(a->vm->mem.host, b->vm->mem.host, RAM_SIZE);
	fx_free(a);
	fx_free(b);
}

/* Before the switch-over the destination has no VM: pages go into a plain
 * buffer, and an index beyond it is refused. */
static void test_into_buffer(void **state)
{
	(void)state;
	struct fx *a = fx_new();
	uint64_t pages[3] = { 1, 2, 40 };
	fill(a, 1, 5);
	fill(a, 40, 9);
	struct ram_batch_stats st = { 0 };
	size_t n = ram_batch_encode(a->vm, pages, 3, RAM_CODEC_ZSTD, NULL, enc, scratch, &st);
	uint8_t *buf = malloc(RAM_SIZE);
	assert_non_null(buf);
	memset(buf, 0x5a, RAM_SIZE);
	struct ram_dst d = { .ram = buf, .size = RAM_SIZE, .vm = NULL };
	char err[256];
	assert_int_equal(ram_batch_apply(&d, enc, n, RAM_BATCH_VERSION, NULL, scratch, err, sizeof(err)), 3);
	assert_memory_equal(buf + 4096, a->vm->mem.host + 4096, 2 * 4096);
	assert_memory_equal(buf + 40 * 4096, a->vm->mem.host + 40 * 4096, 4096);
	assert_int_equal(buf[0], 0x5a);
	d.size = 40 * 4096;             /* page 40 now lies beyond it */
	assert_int_equal(ram_batch_apply(&d, enc, n, RAM_BATCH_VERSION, NULL, scratch, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "beyond guest RAM"));
	free(buf);
	fx_free(a);
}

static void test_roundtrip_plain(void **state) { (void)state; roundtrip(RAM_CODEC_NONE); }
static void test_roundtrip_zstd(void **state) { (void)state; roundtrip(RAM_CODEC_ZSTD); }

static void expect_refused(struct fx *f, const uint8_t *p, size_t n, const char *why)
{
	char err[256] = "";
	uint8_t *before = malloc(RAM_SIZE);
	memcpy(before, f->vm->mem.host, RAM_SIZE);
	assert_int_equal(apply_vm(f->vm, p, n, NULL, err, sizeof(err)), -1);
	if (!strstr(err, why))
		fail_msg("error '%s' does not mention '%s'", err, why);
	assert_memory_equal(before, f->vm->mem.host, RAM_SIZE);
	free(before);
}

/* The zero check looks at the ends first, then in blocks: a single set
 * byte anywhere makes a page non-zero. */
static void test_zero_page_every_byte(void **state)
{
	(void)state;
	static _Alignas(64) uint8_t page[4096];
	memset(page, 0, sizeof(page));
	assert_true(ram_page_is_zero(page));
	for (int i = 0; i < 4096; i++) {
		page[i] = (uint8_t)(1u << (i % 8));
		assert_false(ram_page_is_zero(page));
		page[i] = 0;
	}
	assert_true(ram_page_is_zero(page));
}

static void test_hostile_batches(void **state)
{
	(void)state;
	struct fx *a = fx_new(), *b = fx_new();
	uint64_t pages[4] = { 1, 2, 3, 4 };
	fill(a, 1, 1);
	fill(a, 3, 3);
	fill(b, 2, 9);
	struct ram_batch_stats st = { 0 };
	size_t n = ram_batch_encode(a->vm, pages, 4, RAM_CODEC_NONE, NULL, enc, scratch, &st);
	uint8_t bad[RAM_BATCH_ENC_MAX];

	expect_refused(b, enc, 8, "shorter than its header");
	expect_refused(b, enc, n - 1, "inconsistent sizes");
	memcpy(bad, enc, n);
	bad[0] = 7;
	expect_refused(b, bad, n, "unknown codec");
	memcpy(bad, enc, n);
	uint64_t e = ((uint64_t)(RAM_SIZE / 4096) << 2);     /* one page past the end */
	memcpy(bad + RAM_BATCH_HDR + 8 * 3, &e, 8);
	expect_refused(b, bad, n, "beyond guest RAM");
	memcpy(bad, enc, n);
	e = (2ull << 2) | RAM_PAGE_DATA;                      /* page 2 claims data it lacks */
	memcpy(bad + RAM_BATCH_HDR + 8 * 1, &e, 8);
	expect_refused(b, bad, n, "bytes of pages");
	memcpy(bad, enc, n);
	bad[4] = 0;                                           /* zero pages */
	bad[5] = bad[6] = bad[7] = 0;
	expect_refused(b, bad, n, "inconsistent sizes");

	size_t z = ram_batch_encode(a->vm, pages, 4, RAM_CODEC_ZSTD, NULL, enc, scratch, &st);
	memcpy(bad, enc, z);
	bad[RAM_BATCH_HDR + z / 2] ^= 0x55;
	bad[RAM_BATCH_HDR + 1] ^= 0x55;
	expect_refused(b, bad, z, "zstd");
	fx_free(a);
	fx_free(b);
}

/* Post-copy: a batch must not overwrite a page the guest already has (it
 * arrived earlier, on demand, and may have been written since). */
static void test_postcopy_batch_fills_only_absent(void **state)
{
	(void)state;
	struct fx *a = fx_new(), *b = fx_new();
	uint64_t pages[4] = { 10, 11, 12, 13 };
	for (int i = 0; i < 4; i++) {
		fill(a, pages[i], (uint8_t)(i + 1));
		fill(b, pages[i], 0x77);
	}
	_Atomic uint64_t absent[RAM_SIZE / 4096 / 64] = { 0 };
	absent[0] = (1ull << 10) | (1ull << 12);
	struct ram_batch_stats st = { 0 };
	size_t n = ram_batch_encode(a->vm, pages, 4, RAM_CODEC_NONE, NULL, enc, scratch, &st);
	char err[256];
	assert_int_equal(apply_vm(b->vm, enc, n, absent, err, sizeof(err)), 2);
	assert_int_equal(absent[0], 0);
	assert_memory_equal(a->vm->mem.host + 10 * 4096, b->vm->mem.host + 10 * 4096, 4096);
	assert_memory_equal(a->vm->mem.host + 12 * 4096, b->vm->mem.host + 12 * 4096, 4096);
	for (int pg = 11; pg <= 13; pg += 2)
		for (int i = 0; i < 4096; i++)
			assert_int_equal(b->vm->mem.host[pg * 4096 + i], (uint8_t)(0x77 + i * 7));
	fx_free(a);
	fx_free(b);
}

struct fake_source {
	struct vm *vm;
	uint64_t asked[8];
	int nasked;
	int fail;
};

static int fake_fetch(void *ctx, uint64_t page)
{
	struct fake_source *s = ctx;
	s->asked[s->nasked++ & 7] = page;
	if (s->fail)
		return -1;
	memset(s->vm->mem.host + page * 4096, 0x5a, 4096);
	atomic_fetch_and(&s->vm->mem.absent[page >> 6], ~(1ull << (page & 63)));
	return 0;
}

static void test_postcopy_demand_fetch(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	_Atomic uint64_t absent[RAM_SIZE / 4096 / 64] = { 0 };
	struct fake_source src = { .vm = f->vm };
	absent[0] = 1ull << 5;
	f->vm->mem.fetch = fake_fetch;
	f->vm->mem.fetch_ctx = &src;
	atomic_store(&f->vm->mem.absent, absent);
	/* a range over pages 4..6 fetches page 5, once */
	uint8_t *p = vm_ram_ptr(f->vm, RAM_BASE + 4 * 4096 + 100, 2 * 4096);
	assert_ptr_equal(p, f->vm->mem.host + 4 * 4096 + 100);
	assert_int_equal(src.nasked, 1);
	assert_int_equal(src.asked[0], 5);
	assert_int_equal(f->vm->mem.host[5 * 4096], 0x5a);
	assert_non_null(vm_ram_ptr(f->vm, RAM_BASE + 5 * 4096, 8));
	assert_int_equal(src.nasked, 1);                  /* present now: no second fetch */
	/* a page that never comes: the access fails instead of reading zeros */
	absent[1] = 1ull << 3;
	src.fail = 1;
	assert_null(vm_ram_ptr(f->vm, RAM_BASE + 67 * 4096, 4));
	assert_int_equal(src.asked[1], 67);
	atomic_store(&f->vm->mem.absent, NULL);
	fx_free(f);
}

/* Any single changed byte, and runs at the page's ends, round-trip through
 * a delta; the cache ends up as what was sent. */
static void test_xbzrle_codec_every_byte(void **state)
{
	(void)state;
	static _Alignas(64) uint8_t cur[4096], old[4096], dst[4096], d[XBZ_MAX_DELTA];
	for (int i = 0; i < 4096; i++)
		cur[i] = (uint8_t)(i * 13 + 1);
	memcpy(old, cur, 4096);
	memcpy(dst, cur, 4096);
	assert_int_equal(xbz_encode(cur, old, d), 0);           /* nothing changed */
	for (int i = 0; i < 4096; i++) {
		cur[i] ^= 0x40;
		int n = xbz_encode(cur, old, d);
		assert_true(n > 0 && n <= 5);
		assert_int_equal(xbz_check(d, (size_t)n), 0);
		xbz_apply(dst, d, (size_t)n);
		assert_memory_equal(dst, cur, 4096);
		assert_memory_equal(old, cur, 4096);
	}
	for (int i = 0; i < 24; i++) {                         /* both ends at once */
		cur[i] ^= 0xff;
		cur[4095 - i] ^= 0xff;
	}
	int n = xbz_encode(cur, old, d);
	assert_true(n > 48 && n < 60);
	xbz_apply(dst, d, (size_t)n);
	assert_memory_equal(dst, cur, 4096);
	for (int i = 0; i < 4096; i++)                          /* all of it: too long */
		cur[i] ^= 0x11;
	assert_int_equal(xbz_encode(cur, old, d), -1);
}

/* A cache holds at most its size: it keeps the pages that came first and
 * takes another once one is forgotten. */
static void test_xbzrle_cache_bounds(void **state)
{
	(void)state;
	struct xbz_cache *c = xbz_cache_new(100, 2 * 4096 + 100);
	assert_non_null(c);
	assert_int_equal(xbz_cache_bytes(c), 2 * 4096);
	assert_non_null(xbz_insert(c, 7));
	assert_null(xbz_insert(c, 7));                          /* already there */
	assert_non_null(xbz_insert(c, 9));
	assert_null(xbz_insert(c, 11));                         /* full */
	assert_null(xbz_insert(c, 100));                        /* beyond the guest */
	assert_null(xbz_lookup(c, 100));
	xbz_forget(c, 7);
	assert_null(xbz_lookup(c, 7));
	assert_non_null(xbz_insert(c, 11));
	assert_non_null(xbz_lookup(c, 9));
	assert_non_null(xbz_lookup(c, 11));
	xbz_cache_free(c);
}

/* The thread that maps slots early writes into them: a slot must keep
 * what it was given even while that thread would still be running. */
static void test_xbzrle_prefault_keeps_slots(void **state)
{
	(void)state;
	enum { N = 16384 };
	for (int attempt = 0; attempt < 3; attempt++) {
		struct xbz_cache *c = xbz_cache_new(N, (uint64_t)N * 4096);
		assert_non_null(c);
		xbz_cache_prefault(c, N);
		for (uint64_t p = 0; p < N; p++) {
			uint8_t *s = xbz_insert(c, p);
			assert_non_null(s);
			memset(s, 0xab, 64);
		}
		usleep(20000);
		for (uint64_t p = 0; p < N; p++)
			assert_int_equal(xbz_lookup(c, p)[0], 0xab);
		xbz_cache_free(c);
	}
}

/* Three rounds through a cache: whole pages first, then deltas for pages
 * changed a byte or two words, whole again for a page rewritten, a zero
 * marker for a page cleared; the destination matches the source each time
 * and the second round is a fraction of the first on the wire. */
static void test_xbzrle_rounds(void **state)
{
	(void)state;
	struct fx *a = fx_new(), *b = fx_new();
	struct xbz_cache *xb = xbz_cache_new(RAM_SIZE / 4096, 64 * 4096);
	uint64_t pages[64];
	for (uint32_t i = 0; i < 64; i++) {
		pages[i] = 200 + i;
		fill(a, pages[i], (uint8_t)(i + 3));
	}
	char err[256];
	for (int round = 0; round < 3; round++) {
		if (round) {
			for (uint32_t i = 0; i < 64; i++) {
				uint8_t *p = a->vm->mem.host + pages[i] * 4096;
				if (i == 5)
					memset(p, round, 4096);          /* all of it */
				else if (i == 6)
					memset(p, round == 1 ? 0 : 7, 4096);  /* cleared, then back */
				else if (i % 2)
					p[(i * 61 + round) % 4096]++;   /* one byte */
				else
					p[0] ^= 1, p[4095] ^= 2;        /* two words */
			}
		}
		struct ram_batch_stats st = { 0 };
		size_t n = ram_batch_encode(a->vm, pages, 64, round == 2 ? RAM_CODEC_ZSTD : RAM_CODEC_NONE,
					    xb, enc, scratch, &st);
		assert_true(n > 0);
		assert_int_equal(apply_vm(b->vm, enc, n, NULL, err, sizeof(err)), 64);
		assert_memory_equal(a->vm->mem.host, b->vm->mem.host, RAM_SIZE);
		if (round == 0) {
			assert_int_equal(st.cache_miss, 64);
			assert_int_equal(st.pages_delta, 0);
		} else {
			assert_int_equal(st.pages_delta, 62);    /* all but the rewritten and page 6 */
			assert_int_equal(st.delta_overflow, 1);
			assert_int_equal(st.pages_zero, round == 1);
			/* page 6 was forgotten as zero: back, it is not cached */
			assert_int_equal(st.cache_miss, round == 2);
			assert_true(st.wire_bytes < 64 * 4096 / 8);
		}
	}
	xbz_cache_free(xb);
	fx_free(a);
	fx_free(b);
}

/* A hand-made batch of one delta page at 300 (and page 301 whole). */
static size_t delta_batch(uint8_t *out, const uint8_t *delta, uint16_t dlen, uint64_t kind)
{
	uint8_t *raw = out + RAM_BATCH_HDR;
	uint64_t e0 = 300ull << 2 | kind, e1 = 301ull << 2 | RAM_PAGE_DATA;
	memcpy(raw, &e0, 8);
	memcpy(raw + 8, &e1, 8);
	raw[16] = (uint8_t)dlen;
	raw[17] = (uint8_t)(dlen >> 8);
	memcpy(raw + 18, delta, dlen);
	memset(raw + 18 + dlen, 0x3c, 4096);
	uint32_t len = 16 + 2 + dlen + 4096;
	memset(out, 0, RAM_BATCH_HDR);
	out[4] = 2;
	memcpy(out + 8, &len, 4);
	memcpy(out + 12, &len, 4);
	return RAM_BATCH_HDR + len;
}

static void test_xbzrle_hostile(void **state)
{
	(void)state;
	struct fx *b = fx_new();
	uint8_t *bad = malloc(RAM_BATCH_ENC_MAX);
	char err[256];
	static const struct { uint8_t d[8]; uint16_t len; const char *why; } cases[] = {
		{ { 0x80, 0x20, 0x10, 1, 2 }, 3, "malformed delta" },           /* run past the page end */
		{ { 0x10, 0x00 }, 2, "malformed delta" },                       /* empty changed run */
		{ { 0x81, 0x81, 0x01, 1, 1 }, 5, "malformed delta" },           /* three-byte varint */
		{ { 0x05, 0x04, 1, 2 }, 4, "malformed delta" },                 /* fewer bytes than said */
		{ { 0x05, 0x01, 9, 0x02 }, 4, "malformed delta" },              /* a varint cut short */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = delta_batch(bad, cases[i].d, cases[i].len, RAM_PAGE_DELTA);
		expect_refused(b, bad, n, cases[i].why);
	}
	static const uint8_t good[] = { 0x10, 0x02, 0xaa, 0xbb };
	size_t n = delta_batch(bad, good, sizeof(good), 3);
	expect_refused(b, bad, n, "unknown kind");
	n = delta_batch(bad, good, sizeof(good), RAM_PAGE_DELTA);
	bad[RAM_BATCH_HDR + 16] = (uint8_t)(XBZ_MAX_DELTA + 1);       /* longer than any delta */
	bad[RAM_BATCH_HDR + 17] = (uint8_t)((XBZ_MAX_DELTA + 1) >> 8);
	expect_refused(b, bad, n, "malformed delta");
	n = delta_batch(bad, good, sizeof(good), RAM_PAGE_DELTA);
	fill(b, 300, 9);
	uint8_t want[4096];
	memcpy(want, b->vm->mem.host + 300 * 4096, 4096);
	want[16] = 0xaa;
	want[17] = 0xbb;
	assert_int_equal(apply_vm(b->vm, bad, n, NULL, err, sizeof(err)), 2);
	assert_memory_equal(b->vm->mem.host + 300 * 4096, want, 4096);
	assert_int_equal(b->vm->mem.host[301 * 4096 + 7], 0x3c);
	free(bad);
	fx_free(b);
}

/* A batch from a source before deltas (section version 1: entries
 * index << 1 | zero) still loads; version 3 does not. */
static void test_version1_batch(void **state)
{
	(void)state;
	struct fx *b = fx_new();
	uint8_t *v1 = malloc(RAM_BATCH_ENC_MAX);
	fill(b, 41, 3);
	uint64_t e0 = 40ull << 1, e1 = 41ull << 1 | 1;
	uint32_t len = 16 + 4096;
	memset(v1, 0, RAM_BATCH_HDR);
	v1[4] = 2;
	memcpy(v1 + 8, &len, 4);
	memcpy(v1 + 12, &len, 4);
	memcpy(v1 + RAM_BATCH_HDR, &e0, 8);
	memcpy(v1 + RAM_BATCH_HDR + 8, &e1, 8);
	memset(v1 + RAM_BATCH_HDR + 16, 0x6b, 4096);
	struct ram_dst d = ram_dst_of_vm(b->vm);
	char err[256];
	assert_int_equal(ram_batch_apply(&d, v1, RAM_BATCH_HDR + len, 3, NULL, scratch, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version 3"));
	assert_int_equal(ram_batch_apply(&d, v1, RAM_BATCH_HDR + len, 1, NULL, scratch, err, sizeof(err)), 2);
	assert_int_equal(b->vm->mem.host[40 * 4096 + 4095], 0x6b);
	assert_true(ram_page_is_zero(b->vm->mem.host + 41 * 4096));
	free(v1);
	fx_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_plain),
		cmocka_unit_test(test_into_buffer),
		cmocka_unit_test(test_roundtrip_zstd),
		cmocka_unit_test(test_zero_page_every_byte),
		cmocka_unit_test(test_hostile_batches),
		cmocka_unit_test(test_postcopy_batch_fills_only_absent),
		cmocka_unit_test(test_postcopy_demand_fetch),
		cmocka_unit_test(test_xbzrle_codec_every_byte),
		cmocka_unit_test(test_xbzrle_cache_bounds),
		cmocka_unit_test(test_xbzrle_prefault_keeps_slots),
		cmocka_unit_test(test_xbzrle_rounds),
		cmocka_unit_test(test_xbzrle_hostile),
		cmocka_unit_test(test_version1_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
