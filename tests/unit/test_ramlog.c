/* Dirty-page log tests: every way a hart can write guest RAM (slow and
 * fast-path stores, through the interpreter and the JIT, AMOs, A/D updates)
 * sets the page's bit; a sync clears the bits and re-arms the fast path so
 * the next write is seen again; DMA through ram_written is logged too. */
#include "cpu_fixture.h"
#include "cpu/jit.h"
#include "core/ramlog.h"

#define WORDS ((RAM_SIZE / 4096 + 63) / 64)

static int page_bit(const uint64_t *bits, uint64_t pa)
{
	uint64_t p = (pa - RAM_BASE) >> 12;
	return (int)((bits[p >> 6] >> (p & 63)) & 1);
}

static uint64_t sync_bits(struct fx *f, uint64_t *bits)
{
	memset(bits, 0, WORDS * 8);
	return ram_dirty_log_sync(f->vm, bits);
}

/* Stores to two data pages, run twice: the second run's stores hit the
 * write TLB (fast path) and must still be logged after a sync. */
static void stores_are_logged(struct fx *f)
{
	uint64_t bits[WORDS];
	uint32_t prog[] = { SD(5, 10, 0), SW(5, 11, 8), INSN_J_SELF };
	uint64_t pc = fx_code(f, prog, 3);
	f->h->x[10] = DATA;
	f->h->x[11] = DATA + 0x3000;
	f->h->x[5] = 0x1234;
	assert_int_equal(ram_dirty_log_start(f->vm), 0);

	fx_run(f, pc, 10);
	assert_int_equal(sync_bits(f, bits), 2);
	assert_true(page_bit(bits, DATA));
	assert_true(page_bit(bits, DATA + 0x3000));
	assert_false(page_bit(bits, DATA + 0x1000));

	/* Nothing written since: nothing logged. */
	assert_int_equal(sync_bits(f, bits), 0);

	/* Warm the write TLB, sync, then write through the fast path. */
	fx_run(f, pc, 10);
	assert_int_equal(sync_bits(f, bits), 2);
	fx_run(f, pc, 10);
	assert_int_equal(sync_bits(f, bits), 2);
	assert_true(page_bit(bits, DATA + 0x3000));
	ram_dirty_log_stop(f->vm);
}

static void test_stores_interpreter(void **state)
{
	stores_are_logged(*state);
}

static void test_stores_jit(void **state)
{
	struct fx *f = *state;
	f->vm->jit = jit_new(1u << 20);
	assert_non_null(f->vm->jit);
	stores_are_logged(f);
	jit_free(f->vm->jit);
	f->vm->jit = NULL;
}

static void test_amo_logged(void **state)
{
	struct fx *f = *state;
	uint64_t bits[WORDS];
	uint32_t prog[] = { AMO(0x00, 3, 6, 10, 5), INSN_J_SELF };   /* amoadd.d */
	uint64_t pc = fx_code(f, prog, 2);
	f->h->x[10] = DATA + 0x5008;
	f->h->x[5] = 1;
	assert_int_equal(ram_dirty_log_start(f->vm), 0);
	fx_run(f, pc, 5);
	assert_int_equal(sync_bits(f, bits), 1);
	assert_true(page_bit(bits, DATA + 0x5000));
	ram_dirty_log_stop(f->vm);
}

/* Sv39 with one 1 GiB leaf whose A and D bits are clear: the walk sets
 * them, which is a write to the page-table page. */
static void test_ad_update_logged(void **state)
{
	struct fx *f = *state;
	uint64_t bits[WORDS];
	uint64_t root = DATA + 0x10000;
	/* VA 0x80000000 (index 2) -> PA 0x80000000, RWX, S page, A=D=0 */
	wr64(f, root + 2 * 8, ((RAM_BASE >> 12) << 10) | 0x0f);
	uint32_t prog[] = { SD(5, 10, 0), INSN_J_SELF };
	uint64_t pc = fx_code(f, prog, 2);
	f->h->satp = (8ull << 60) | (root >> 12);
	f->h->vm_levels = 3;
	f->h->pt_root = root;
	hart_tlb_flush(f->h);
	f->h->x[10] = DATA + 0x7000;
	assert_int_equal(ram_dirty_log_start(f->vm), 0);
	fx_run(f, pc, 5);
	assert_int_equal(f->h->scause, SENTINEL);
	assert_int_equal(rd64(f, root + 16) & 0xc0, 0xc0);
	sync_bits(f, bits);
	assert_true(page_bit(bits, root));
	assert_true(page_bit(bits, DATA + 0x7000));
	ram_dirty_log_stop(f->vm);
}

static void test_dma_and_bounds(void **state)
{
	struct fx *f = *state;
	uint64_t bits[WORDS];
	/* Not logging: nothing to record, and no crash. */
	ram_written(f->vm, 0, 4096);
	assert_int_equal(ram_dirty_log_start(f->vm), 0);
	ram_written(f->vm, 0x1ff8, 16);                 /* straddles pages 1 and 2 */
	ram_written(f->vm, RAM_SIZE - 8, 64);           /* clipped at the end of RAM */
	ram_written(f->vm, RAM_SIZE + 4096, 8);         /* outside: ignored */
	assert_int_equal(sync_bits(f, bits), 3);
	assert_true(page_bit(bits, RAM_BASE + 0x1000));
	assert_true(page_bit(bits, RAM_BASE + 0x2000));
	assert_true(page_bit(bits, RAM_BASE + RAM_SIZE - 4096));
	ram_dirty_log_stop(f->vm);
	/* Stopped: sync reports nothing. */
	assert_int_equal(sync_bits(f, bits), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_stores_interpreter),
		FX_TEST(test_stores_jit),
		FX_TEST(test_amo_logged),
		FX_TEST(test_ad_update_logged),
		FX_TEST(test_dma_and_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
