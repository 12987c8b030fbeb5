/* RAM batch tests: pages round-trip between two VMs with and without zstd,
 * zero pages travel as markers and clear stale data, and hostile batches
 * (bad sizes, indices beyond RAM, corrupt zstd, unknown codec) are refused
 * before any guest page is touched. */
#include "cpu_fixture.h"
#include "migration/rampages.h"

static uint8_t enc[RAM_BATCH_ENC_MAX], scratch[RAM_BATCH_RAW_MAX];

static void fill(struct fx *f, uint64_t page, uint8_t seed)
{
	uint8_t *p = fx_ram(f, RAM_BASE + page * 4096, 4096);
	for (int i = 0; i < 4096; i++)
		p[i] = (uint8_t)(seed + i * 7);
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
	size_t n = ram_batch_encode(a->vm, pages, RAM_BATCH_MAX_PAGES, codec, enc, scratch, &st);
	assert_true(n > 0);
	assert_int_equal(st.pages_zero, RAM_BATCH_MAX_PAGES / 4);
	assert_int_equal(st.pages_normal, RAM_BATCH_MAX_PAGES * 3 / 4);
	if (codec == RAM_CODEC_ZSTD)
		assert_true(st.wire_bytes < st.raw_bytes / 2);    /* the fill pattern compresses */
	char err[256];
	assert_int_equal(ram_batch_apply(b->vm, enc, n, scratch, err, sizeof(err)), RAM_BATCH_MAX_PAGES);
	assert_memory_equal(a->vm->ram, b->vm->ram, RAM_SIZE);
	fx_free(a);
	fx_free(b);
}

static void test_roundtrip_plain(void **state) { (void)state; roundtrip(RAM_CODEC_NONE); }
static void test_roundtrip_zstd(void **state) { (void)state; roundtrip(RAM_CODEC_ZSTD); }

static void expect_refused(struct fx *f, const uint8_t *p, size_t n, const char *why)
{
	char err[256] = "";
	uint8_t *before = malloc(RAM_SIZE);
	memcpy(before, f->vm->ram, RAM_SIZE);
	assert_int_equal(ram_batch_apply(f->vm, p, n, scratch, err, sizeof(err)), -1);
	if (!strstr(err, why))
		fail_msg("error '%s' does not mention '%s'", err, why);
	assert_memory_equal(before, f->vm->ram, RAM_SIZE);
	free(before);
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
	size_t n = ram_batch_encode(a->vm, pages, 4, RAM_CODEC_NONE, enc, scratch, &st);
	uint8_t bad[RAM_BATCH_ENC_MAX];

	expect_refused(b, enc, 8, "shorter than its header");
	expect_refused(b, enc, n - 1, "inconsistent sizes");
	memcpy(bad, enc, n);
	bad[0] = 7;
	expect_refused(b, bad, n, "unknown codec");
	memcpy(bad, enc, n);
	uint64_t e = ((uint64_t)(RAM_SIZE / 4096) << 1);     /* one page past the end */
	memcpy(bad + RAM_BATCH_HDR + 8 * 3, &e, 8);
	expect_refused(b, bad, n, "beyond guest RAM");
	memcpy(bad, enc, n);
	e = (2ull << 1) | 0;                                  /* page 2 claims data it lacks */
	memcpy(bad + RAM_BATCH_HDR + 8 * 1, &e, 8);
	expect_refused(b, bad, n, "data pages");
	memcpy(bad, enc, n);
	bad[4] = 0;                                           /* zero pages */
	bad[5] = bad[6] = bad[7] = 0;
	expect_refused(b, bad, n, "inconsistent sizes");

	size_t z = ram_batch_encode(a->vm, pages, 4, RAM_CODEC_ZSTD, enc, scratch, &st);
	memcpy(bad, enc, z);
	bad[RAM_BATCH_HDR + z / 2] ^= 0x55;
	bad[RAM_BATCH_HDR + 1] ^= 0x55;
	expect_refused(b, bad, z, "zstd");
	fx_free(a);
	fx_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_plain),
		cmocka_unit_test(test_roundtrip_zstd),
		cmocka_unit_test(test_hostile_batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
