/* Unit tests for virtio-balloon, driven through the virtio-mmio transport as
 * Linux's driver does: inflate gives pages back (they read as zero and are
 * marked discarded), PFNs outside RAM and oversized buffers are ignored,
 * malformed chains set NEEDS_RESET, free page reports are rounded to whole
 * pages, statistics are held and handed back, config and save/load. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>
#include "core/ramlog.h"
#include "core/vm.h"
#include "vm_fixture.h"
#include "cpu/dcache.h"
#include "state/vmbuf.h"
#include "virtio/balloon.h"
#include "virtio/mmio.h"
#include "virtio/virtqueue.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (2ull << 20)
#define QNUM 16
#define RING(q) (0x1000ull * (1 + 3 * (q)))    /* desc, avail, used: 3 pages per queue */
#define PFNS 0x10000ull                        /* PFN arrays and stats buffers */
#define VICTIM 0x100000ull                     /* pages the guest gives back */
#define GPA(off) (RAM_BASE + (off))
#define PFN(off) ((uint32_t)(GPA(off) >> 12))

enum { Q_INFLATE, Q_DEFLATE, Q_STATS, Q_REPORT };

static void no_irq(void *ctx, unsigned irq, int level) { (void)ctx, (void)irq, (void)level; }

struct fix {
	struct vm *vm;
	struct virtio_mmio *t;
	uint16_t avail[4];
};

static uint32_t rd(struct virtio_mmio *t, uint64_t off)
{
	uint64_t v = 0;
	assert_int_equal(virtio_mmio_ops.read(t, off, 4, &v), 0);
	return (uint32_t)v;
}

static void wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	assert_int_equal(virtio_mmio_ops.write(t, off, 4, v), 0);
}

static void set_desc(struct fix *f, unsigned q, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = f->vm->mem.host + RING(q) + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static uint16_t used_idx(struct fix *f, unsigned q)
{
	return *(uint16_t *)(f->vm->mem.host + RING(q) + 0x2000 + 2);
}

static void kick(struct fix *f, unsigned q, uint16_t head)
{
	uint8_t *avail = f->vm->mem.host + RING(q) + 0x1000;
	memcpy(avail + 4 + 2 * (f->avail[q] % QNUM), &head, 2);
	f->avail[q]++;
	memcpy(avail + 2, &f->avail[q], 2);
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

static void drv_init(struct fix *f)
{
	struct virtio_mmio *t = f->t;
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	for (unsigned sel = 0; sel < 2; sel++) {
		wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
		uint32_t v = rd(t, VIRTIO_MMIO_DEVICE_FEATURES);
		wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
		wr(t, VIRTIO_MMIO_DRIVER_FEATURES, v);
	}
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	wr(t, VIRTIO_MMIO_STATUS, s);
	for (unsigned q = 0; q < 4; q++) {
		wr(t, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(t, VIRTIO_MMIO_QUEUE_NUM, QNUM);
		wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)GPA(RING(q)));
		wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)GPA(RING(q) + 0x1000));
		wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)GPA(RING(q) + 0x2000));
		wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(t, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
}

static struct fix *fix_new(void)
{
	struct fix *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->vm = test_vm_new(RAM_SIZE);
	assert_int_equal(guest_ram_discard_track(&f->vm->mem), 0);
	f->t = virtio_balloon_new(f->vm, (struct irq_line){ no_irq, NULL, 1 }, true);
	assert_non_null(f->t);
	drv_init(f);
	return f;
}

static void fix_free(struct fix *f)
{
	virtio_mmio_ops.destroy(f->t);
	vm_free(f->vm);
	free(f);
}

static int setup(void **state) { *state = fix_new(); return 0; }
static int teardown(void **state) { fix_free(*state); return 0; }

static void info(struct fix *f, struct virtio_balloon_info *bi) { virtio_balloon_info(f->t, bi); }

static bool live(struct fix *f)
{
	return !(rd(f->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_inflate_gives_pages_back(void **state)
{
	struct fix *f = *state;
	memset(f->vm->mem.host + VICTIM, 0x77, 3 * 4096);
	uint32_t pfns[] = { PFN(VICTIM), PFN(VICTIM + 0x1000), 0, 0xffffffffu,
			    PFN(RAM_SIZE), (uint32_t)(RAM_BASE >> 12) - 1 };
	memcpy(f->vm->mem.host + PFNS, pfns, sizeof(pfns));
	set_desc(f, Q_INFLATE, 0, GPA(PFNS), sizeof(pfns), 0, 0);
	kick(f, Q_INFLATE, 0);
	assert_int_equal(used_idx(f, Q_INFLATE), 1);
	assert_true(live(f));
	assert_int_equal(f->vm->mem.host[VICTIM], 0);
	assert_int_equal(f->vm->mem.host[VICTIM + 0x1fff], 0);
	assert_int_equal(f->vm->mem.host[VICTIM + 0x2000], 0x77);    /* not in the list */
	assert_true(guest_ram_page_discarded(&f->vm->mem, VICTIM >> 12));
	assert_true(guest_ram_page_discarded(&f->vm->mem, (VICTIM >> 12) + 1));
	assert_false(guest_ram_page_discarded(&f->vm->mem, (VICTIM >> 12) + 2));
	struct virtio_balloon_info bi;
	info(f, &bi);
	assert_int_equal(bi.inflated_bytes, 2 * 4096);
	assert_int_equal(bi.ignored_pfns, 4);
	/* The guest writes a page again: it is ordinary memory once more. */
	ram_written(f->vm, NULL, VICTIM + 8, 8);
	assert_false(guest_ram_page_discarded(&f->vm->mem, VICTIM >> 12));
	assert_true(guest_ram_page_discarded(&f->vm->mem, (VICTIM >> 12) + 1));
	/* Deflate only counts (no MUST_TELL_HOST). */
	set_desc(f, Q_DEFLATE, 0, GPA(PFNS), 8, 0, 0);
	kick(f, Q_DEFLATE, 0);
	info(f, &bi);
	assert_int_equal(bi.deflated_bytes, 2 * 4096);
}

/* A PFN array as long as RAM (mostly PFN 0): cut at the cap, no crash. */
static void test_huge_pfn_buffer_is_cut(void **state)
{
	struct fix *f = *state;
	set_desc(f, Q_INFLATE, 0, GPA(0), (uint32_t)RAM_SIZE, 0, 0);
	kick(f, Q_INFLATE, 0);
	assert_int_equal(used_idx(f, Q_INFLATE), 1);
	struct virtio_balloon_info bi;
	info(f, &bi);
	assert_true(bi.ignored_pfns + bi.inflated_bytes / 4096 <= VIRTIO_BALLOON_MAX_PFNS);
	assert_true(live(f));
}

static void test_bad_descriptors_need_reset(void **state)
{
	struct fix *f = *state;
	set_desc(f, Q_INFLATE, 0, GPA(RAM_SIZE - 8), 64, 0, 0);     /* runs off RAM */
	kick(f, Q_INFLATE, 0);
	assert_false(live(f));
	fix_free(f);
	*state = f = fix_new();
	set_desc(f, Q_REPORT, 0, GPA(VICTIM), 4096, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	kick(f, Q_REPORT, 0);                                      /* a loop */
	assert_false(live(f));
	fix_free(f);
	*state = f = fix_new();
	set_desc(f, Q_STATS, 0, 0x1000, 10, 0, 0);                  /* below RAM */
	kick(f, Q_STATS, 0);
	assert_false(live(f));
	/* A kick on a queue no feature gave the driver is ignored. */
	fix_free(f);
	*state = f = fix_new();
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, 7);
	assert_true(live(f));
}

static void test_free_page_report(void **state)
{
	struct fix *f = *state;
	memset(f->vm->mem.host + VICTIM, 0x55, 0x20000);
	/* one aligned 64 KiB range, one unaligned range that holds one whole page */
	set_desc(f, Q_REPORT, 0, GPA(VICTIM), 0x10000, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, Q_REPORT, 1, GPA(VICTIM + 0x10800), 0x1800, VIRTQ_DESC_F_WRITE, 0);
	kick(f, Q_REPORT, 0);
	assert_int_equal(used_idx(f, Q_REPORT), 1);
	assert_true(live(f));
	struct virtio_balloon_info bi;
	info(f, &bi);
	assert_int_equal(bi.reported_bytes, 0x11000);
	assert_int_equal(f->vm->mem.host[VICTIM + 0xffff], 0);
	assert_int_equal(f->vm->mem.host[VICTIM + 0x10800], 0x55);      /* partial page kept */
	assert_int_equal(f->vm->mem.host[VICTIM + 0x11000], 0);
	assert_int_equal(f->vm->mem.host[VICTIM + 0x12000], 0x55);
	assert_int_equal(guest_ram_discarded_count(&f->vm->mem), 0x11);
}

static void test_stats_held_and_refreshed(void **state)
{
	struct fix *f = *state;
	uint8_t rec[3][10] = { { 4, 0 }, { 6, 0 }, { 99, 0 } };
	uint64_t free_mem = 123456789, avail = 987654321;
	memcpy(rec[0] + 2, &free_mem, 8);
	memcpy(rec[1] + 2, &avail, 8);
	memcpy(f->vm->mem.host + PFNS, rec, sizeof(rec));
	set_desc(f, Q_STATS, 3, GPA(PFNS), sizeof(rec), 0, 0);
	kick(f, Q_STATS, 3);
	assert_int_equal(used_idx(f, Q_STATS), 0);                  /* held */
	struct virtio_balloon_info bi;
	info(f, &bi);
	assert_int_equal(bi.stats_valid, (1u << 4) | (1u << 6));
	assert_int_equal(bi.stats[4], free_mem);
	assert_int_equal(bi.stats[6], avail);
	assert_string_equal(virtio_balloon_stat_name(6), "stat-available-memory");
	assert_null(virtio_balloon_stat_name(VIRTIO_BALLOON_NSTATS));
	assert_true(virtio_balloon_request_stats(f->t));
	assert_int_equal(used_idx(f, Q_STATS), 1);
	assert_false(virtio_balloon_request_stats(f->t));           /* nothing held now */
}

static void test_config_target_and_actual(void **state)
{
	struct fix *f = *state;
	uint32_t gen = rd(f->t, VIRTIO_MMIO_CONFIG_GENERATION);
	virtio_balloon_set_target(f->t, RAM_SIZE / 2);
	assert_int_not_equal(rd(f->t, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_int_equal(rd(f->t, VIRTIO_MMIO_CONFIG), RAM_SIZE / 2 / 4096);
	wr(f->t, VIRTIO_MMIO_CONFIG + 4, 100);                      /* actual */
	wr(f->t, VIRTIO_MMIO_CONFIG, 7);                            /* num_pages: the host's */
	assert_int_equal(rd(f->t, VIRTIO_MMIO_CONFIG + 4), 100);
	assert_int_equal(rd(f->t, VIRTIO_MMIO_CONFIG), RAM_SIZE / 2 / 4096);
	struct virtio_balloon_info bi;
	info(f, &bi);
	assert_int_equal(bi.target, RAM_SIZE / 2);
	assert_int_equal(bi.actual, RAM_SIZE - 100 * 4096);
	assert_true(bi.reporting && bi.deflate_on_oom && bi.stats_vq);
	virtio_balloon_set_target(f->t, 64ull << 30);               /* above RAM: none */
	info(f, &bi);
	assert_int_equal(bi.target, RAM_SIZE);

	/* save and load into a fresh device; a cut payload is refused */
	virtio_balloon_set_target(f->t, RAM_SIZE / 4);
	struct vmbuf b = { 0 };
	assert_int_equal(virtio_mmio_ops.save(f->t, &b), 0);
	struct fix *g = fix_new();
	struct vmrd r = vmrd_of(b.p, b.len);
	assert_int_equal(virtio_mmio_ops.load(g->t, &r, virtio_mmio_ops.state_version), 0);
	info(g, &bi);
	assert_int_equal(bi.target, RAM_SIZE / 4);
	assert_int_equal(bi.actual, RAM_SIZE - 100 * 4096);
	r = vmrd_of(b.p, b.len - 3);
	assert_int_equal(virtio_mmio_ops.load(g->t, &r, virtio_mmio_ops.state_version), -1);
	fix_free(g);
	vmbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inflate_gives_pages_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_pfn_buffer_is_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_descriptors_need_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_page_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_held_and_refreshed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_target_and_actual, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
