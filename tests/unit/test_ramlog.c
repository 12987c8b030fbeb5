/* Dirty-page log tests: every way a hart can write guest RAM (slow and
 * fast-path stores, through the interpreter and the JIT, AMOs, A/D updates)
 * sets the page's bit; a sync clears the bits and re-arms the fast path so
 * the next write is seen again; DMA through ram_written is logged too. */
#include "cpu_fixture.h"
#include "cpu/jit.h"
#include "core/ramlog.h"
#include <sys/mman.h>
#include <unistd.h>

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
	f->h->jit = jit_new(1u << 20);
	assert_non_null(f->h->jit);
	stores_are_logged(f);
	jit_free(f->h->jit);
	f->h->jit = NULL;
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
	tlb_flush_all(f->h);
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
	ram_written(f->vm, NULL, 0, 4096);
	assert_int_equal(ram_dirty_log_start(f->vm), 0);
	ram_written(f->vm, NULL, 0x1ff8, 16);                 /* straddles pages 1 and 2 */
	ram_written(f->vm, NULL, RAM_SIZE - 8, 64);           /* clipped at the end of RAM */
	ram_written(f->vm, NULL, RAM_SIZE + 4096, 8);         /* outside: ignored */
	assert_int_equal(sync_bits(f, bits), 3);
	assert_true(page_bit(bits, RAM_BASE + 0x1000));
	assert_true(page_bit(bits, RAM_BASE + 0x2000));
	assert_true(page_bit(bits, RAM_BASE + RAM_SIZE - 4096));
	ram_dirty_log_stop(f->vm);
	/* Stopped: sync reports nothing. */
	assert_int_equal(sync_bits(f, bits), 0);
}

/* Guest RAM as the board maps it (anonymous, page-aligned), so pages can
 * really be given back; the fixture's calloc'ed RAM is put back after. */
static uint8_t *map_ram(struct fx *f)
{
	uint8_t *old = f->vm->mem.host, *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(ram != MAP_FAILED);
	memcpy(ram, old, RAM_SIZE);
	f->vm->mem.host = ram;
	assert_int_equal(guest_ram_discard_track(&f->vm->mem), 0);
	return old;
}

static void unmap_ram(struct fx *f, uint8_t *old)
{
	munmap(f->vm->mem.host, RAM_SIZE);
	f->vm->mem.host = old;
	free((void *)f->vm->mem.discarded);
	f->vm->mem.discarded = NULL;
}

/* A page the guest gave back reads as zero and is marked; it leaves the
 * write TLB, so the next store, even one that hit the TLB before, takes the
 * slow path and clears the mark. While logging, giving back dirties. */
static void discard_then_write(struct fx *f)
{
	uint8_t *old = map_ram(f);
	uint64_t bits[WORDS], page = (DATA - RAM_BASE) >> 12;
	uint32_t prog[] = { SD(5, 10, 0), INSN_J_SELF };
	uint64_t pc = fx_code(f, prog, 2);
	f->h->x[10] = DATA;
	f->h->x[5] = 0x1234;
	fx_run(f, pc, 5);                       /* the store's page is in the write TLB */
	assert_int_equal(rd64(f, DATA), 0x1234);
	assert_int_equal(ram_dirty_log_start(f->vm), 0);
	sync_bits(f, bits);
	fx_run(f, pc, 5);                       /* and again after the sync */
	sync_bits(f, bits);
	fx_run(f, pc, 5);
	assert_int_equal(ram_discard(f->vm, DATA - RAM_BASE, 4096), 4096);
	assert_true(guest_ram_page_discarded(&f->vm->mem, page));
	assert_int_equal(rd64(f, DATA), 0);
	assert_int_equal(guest_ram_discarded_count(&f->vm->mem), 1);
	/* no sync in between: a sync flushes the write TLBs by itself */
	f->h->x[5] = 0x5678;
	fx_run(f, pc, 5);
	assert_false(guest_ram_page_discarded(&f->vm->mem, page));
	assert_int_equal(rd64(f, DATA), 0x5678);
	assert_int_equal(sync_bits(f, bits), 1);
	assert_true(page_bit(bits, DATA));
	/* given back with no write after: the zero page must travel */
	ram_discard(f->vm, DATA - RAM_BASE, 4096);
	assert_int_equal(sync_bits(f, bits), 1);
	assert_true(page_bit(bits, DATA));
	ram_dirty_log_stop(f->vm);
	/* RAM replaced (reset, restore): nothing is discarded any more. */
	ram_discard(f->vm, 0, 8192);
	guest_ram_discard_forget(&f->vm->mem);
	assert_int_equal(guest_ram_discarded_count(&f->vm->mem), 0);
	unmap_ram(f, old);
}

static void test_discard_interpreter(void **state)
{
	discard_then_write(*state);
}

static void test_discard_jit(void **state)
{
	struct fx *f = *state;
	f->h->jit = jit_new(1u << 20);
	assert_non_null(f->h->jit);
	discard_then_write(f);
	jit_free(f->h->jit);
	f->h->jit = NULL;
}

static void test_discard_bounds(void **state)
{
	struct fx *f = *state;
	/* Without a bitmap (no balloon): the pages still go, nothing is marked. */
	assert_int_equal(ram_discard(f->vm, 0x1800, 0x2000), 4096);   /* [0x2000, 0x3000) */
	assert_false(guest_ram_page_discarded(&f->vm->mem, 2));
	uint8_t *old = map_ram(f);
	memset(f->vm->mem.host, 0x11, 0x4000);
	assert_int_equal(ram_discard(f->vm, 0x1800, 0x2000), 4096);
	assert_int_equal(f->vm->mem.host[0x1fff], 0x11);
	assert_int_equal(f->vm->mem.host[0x2000], 0);
	assert_int_equal(f->vm->mem.host[0x3000], 0x11);
	assert_int_equal(ram_discard(f->vm, 0x100, 0x200), 0);         /* no whole page */
	assert_int_equal(ram_discard(f->vm, RAM_SIZE, 4096), 0);       /* outside */
	assert_int_equal(ram_discard(f->vm, RAM_SIZE - 4096, UINT64_MAX), 4096);
	assert_int_equal(guest_ram_discarded_count(&f->vm->mem), 2);
	unmap_ram(f, old);
}

/* RAM mapped privately from a snapshot file: a given-back page must read
 * as zero, not as the file's bytes again. */
static void test_discard_file_backed(void **state)
{
	struct fx *f = *state;
	uint8_t *old = map_ram(f);
	char path[] = "/tmp/tern-ramlog-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	uint8_t page[4096];
	memset(page, 0x5a, sizeof(page));
	for (uint64_t off = 0; off < RAM_SIZE; off += 4096)
		assert_int_equal(pwrite(fd, page, 4096, (off_t)off), 4096);
	assert_true(mmap(f->vm->mem.host, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) ==
		    f->vm->mem.host);
	close(fd);
	f->vm->mem.file_backed = true;
	assert_int_equal(ram_discard(f->vm, 0x10000, 0x3000), 0x3000);
	assert_int_equal(f->vm->mem.host[0x10000], 0);
	assert_int_equal(f->vm->mem.host[0x12fff], 0);
	assert_int_equal(f->vm->mem.host[0x13000], 0x5a);
	assert_int_equal(f->vm->mem.host[0xffff], 0x5a);
	f->vm->mem.host[0x10000] = 1;                  /* the new mapping is writable */
	f->vm->mem.file_backed = false;
	unmap_ram(f, old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_stores_interpreter),
		FX_TEST(test_stores_jit),
		FX_TEST(test_amo_logged),
		FX_TEST(test_ad_update_logged),
		FX_TEST(test_dma_and_bounds),
		FX_TEST(test_discard_interpreter),
		FX_TEST(test_discard_jit),
		FX_TEST(test_discard_bounds),
		FX_TEST(test_discard_file_backed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
