/* Unit tests for the PLIC model: priorities, thresholds, claim/complete,
 * level-triggered gateways, output notifications and hostile accesses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <cmocka.h>
#include "dev/plic.h"

#define NSRC 95
#define NCTX 2

struct fake {
	int level[NCTX];
	int calls[NCTX];
	int bad_context;
};

struct fixture {
	struct fake f;
	struct plic *p;
};

static void fake_notify(void *ctx, unsigned context, int level)
{
	struct fake *f = ctx;

	if (context >= NCTX) {
		f->bad_context++;
		return;
	}
	/* Must only be called on changes. */
	assert_int_not_equal(f->level[context], level);
	f->level[context] = level;
	f->calls[context]++;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	fx->p = plic_new(NSRC, NCTX, fake_notify, &fx->f);
	assert_non_null(fx->p);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(fx->f.bad_context, 0);
	plic_ops.destroy(fx->p);
	free(fx);
	return 0;
}

static uint32_t rd(struct plic *p, uint64_t off)
{
	uint64_t v = 0xdeadbeef;

	assert_int_equal(plic_ops.read(p, off, 4, &v), 0);
	assert_true(v <= 0xffffffffull);
	return (uint32_t)v;
}

static void wr(struct plic *p, uint64_t off, uint32_t v)
{
	assert_int_equal(plic_ops.write(p, off, 4, v), 0);
}

static uint64_t prio(unsigned src) { return 4ull * src; }
static uint64_t enable(unsigned ctx, unsigned src) { return 0x2000 + 0x80ull * ctx + 4 * (src / 32); }
static uint64_t thresh(unsigned ctx) { return 0x200000 + 0x1000ull * ctx; }
static uint64_t claim(unsigned ctx) { return 0x200004 + 0x1000ull * ctx; }

static void enable_src(struct plic *p, unsigned ctx, unsigned src)
{
	uint64_t off = enable(ctx, src);

	wr(p, off, rd(p, off) | 1u << (src % 32));
}

static bool is_pending(struct plic *p, unsigned src)
{
	return (rd(p, 0x1000 + 4 * (src / 32)) >> (src % 32)) & 1;
}

static void test_priority_regs(void **state)
{
	struct fixture *fx = *state;

	wr(fx->p, prio(1), 0xffffffff);
	assert_int_equal(rd(fx->p, prio(1)), 7); /* 3 bits */
	wr(fx->p, prio(NSRC), 5);
	assert_int_equal(rd(fx->p, prio(NSRC)), 5);
	/* Source 0 is reserved, sources past NSRC don't exist. */
	wr(fx->p, prio(0), 7);
	assert_int_equal(rd(fx->p, prio(0)), 0);
	wr(fx->p, prio(NSRC + 1), 7);
	assert_int_equal(rd(fx->p, prio(NSRC + 1)), 0);
	wr(fx->p, prio(1023), 7);
	assert_int_equal(rd(fx->p, prio(1023)), 0);
	wr(fx->p, thresh(0), 0xff);
	assert_int_equal(rd(fx->p, thresh(0)), 7);
}

static void test_enable_regs(void **state)
{
	struct fixture *fx = *state;

	wr(fx->p, enable(0, 0), 0xffffffff);
	assert_int_equal(rd(fx->p, enable(0, 0)), 0xfffffffe); /* bit 0 hardwired */
	wr(fx->p, enable(0, 64), 0xffffffff);
	assert_int_equal(rd(fx->p, enable(0, 64)), 0xffffffff); /* 64..95 */
	wr(fx->p, enable(0, 96), 0xffffffff);
	assert_int_equal(rd(fx->p, enable(0, 96)), 0);
	/* Per context. */
	assert_int_equal(rd(fx->p, enable(1, 0)), 0);
	/* The pending array is read-only. */
	wr(fx->p, 0x1000, 0xffffffff);
	assert_int_equal(rd(fx->p, 0x1000), 0);
}

static void test_enable_mask_partial_word(void **state)
{
	struct plic *p = plic_new(40, 1, NULL, NULL);

	assert_non_null(p);
	wr(p, 0x2004, 0xffffffff);
	assert_int_equal(rd(p, 0x2004), 0x1ff); /* sources 32..40 */
	wr(p, 0x2008, 0xffffffff);
	assert_int_equal(rd(p, 0x2008), 0);
	/* No notify callback at all: must not crash. */
	wr(p, prio(33), 1);
	plic_set_irq(p, 33, 1);
	assert_int_equal(rd(p, claim(0)), 33);
	wr(p, claim(0), 33);
	plic_ops.destroy(p);
}

static void test_claim_order(void **state)
{
	struct fixture *fx = *state;

	wr(fx->p, prio(3), 2);
	wr(fx->p, prio(5), 6);
	wr(fx->p, prio(7), 6);
	wr(fx->p, prio(40), 1);
	enable_src(fx->p, 0, 3);
	enable_src(fx->p, 0, 5);
	enable_src(fx->p, 0, 7);
	enable_src(fx->p, 0, 40);
	plic_set_irq(fx->p, 40, 1);
	plic_set_irq(fx->p, 7, 1);
	plic_set_irq(fx->p, 3, 1);
	plic_set_irq(fx->p, 5, 1);
	assert_int_equal(fx->f.level[0], 1);
	assert_true(is_pending(fx->p, 5));
	/* Highest priority first; equal priority -> lowest id. */
	assert_int_equal(rd(fx->p, claim(0)), 5);
	assert_false(is_pending(fx->p, 5)); /* claim clears pending */
	assert_int_equal(rd(fx->p, claim(0)), 7);
	assert_int_equal(rd(fx->p, claim(0)), 3);
	assert_int_equal(fx->f.level[0], 1);
	assert_int_equal(rd(fx->p, claim(0)), 40);
	assert_int_equal(fx->f.level[0], 0);
	/* Nothing left: claim returns 0. */
	assert_int_equal(rd(fx->p, claim(0)), 0);
	/* Context 1 has nothing enabled and never asserted. */
	assert_int_equal(fx->f.calls[1], 0);
}

static void test_threshold(void **state)
{
	struct fixture *fx = *state;

	wr(fx->p, prio(10), 3);
	enable_src(fx->p, 0, 10);
	wr(fx->p, thresh(0), 3);
	plic_set_irq(fx->p, 10, 1);
	assert_true(is_pending(fx->p, 10));
	assert_int_equal(fx->f.level[0], 0); /* priority must exceed threshold */
	assert_int_equal(rd(fx->p, claim(0)), 0);
	assert_true(is_pending(fx->p, 10)); /* failed claim changed nothing */
	wr(fx->p, thresh(0), 2);
	assert_int_equal(fx->f.level[0], 1);
	wr(fx->p, thresh(0), 7);
	assert_int_equal(fx->f.level[0], 0);
	wr(fx->p, thresh(0), 0);
	assert_int_equal(fx->f.level[0], 1);
	/* Priority 0 never interrupts. */
	wr(fx->p, prio(10), 0);
	assert_int_equal(fx->f.level[0], 0);
	assert_int_equal(rd(fx->p, claim(0)), 0);
}

static void test_disabled_does_not_assert(void **state)
{
	struct fixture *fx = *state;

	wr(fx->p, prio(4), 7);
	plic_set_irq(fx->p, 4, 1);
	assert_true(is_pending(fx->p, 4));
	assert_int_equal(fx->f.level[0], 0);
	assert_int_equal(fx->f.level[1], 0);
	assert_int_equal(rd(fx->p, claim(0)), 0);
	enable_src(fx->p, 1, 4);
	assert_int_equal(fx->f.level[0], 0);
	assert_int_equal(fx->f.level[1], 1);
	/* Claimed by context 1: no longer available to anyone. */
	enable_src(fx->p, 0, 4);
	assert_int_equal(fx->f.level[0], 1);
	assert_int_equal(rd(fx->p, claim(1)), 4);
	assert_int_equal(fx->f.level[0], 0);
	assert_int_equal(fx->f.level[1], 0);
	assert_int_equal(rd(fx->p, claim(0)), 0);
}

static void test_complete_repends_if_level_high(void **state)
{
	struct fixture *fx = *state;

	wr(fx->p, prio(10), 1);
	enable_src(fx->p, 0, 10);
	plic_set_irq(fx->p, 10, 1);
	assert_int_equal(rd(fx->p, claim(0)), 10);
	assert_int_equal(fx->f.level[0], 0);
	/* While claimed, input edges do not re-pend. */
	plic_set_irq(fx->p, 10, 0);
	plic_set_irq(fx->p, 10, 1);
	assert_false(is_pending(fx->p, 10));
	assert_int_equal(fx->f.level[0], 0);
	/* Complete with the level still high: pending again. */
	wr(fx->p, claim(0), 10);
	assert_true(is_pending(fx->p, 10));
	assert_int_equal(fx->f.level[0], 1);
	assert_int_equal(rd(fx->p, claim(0)), 10);
	/* Device deasserts, then complete: stays idle. */
	plic_set_irq(fx->p, 10, 0);
	wr(fx->p, claim(0), 10);
	assert_false(is_pending(fx->p, 10));
	assert_int_equal(fx->f.level[0], 0);
	assert_int_equal(rd(fx->p, claim(0)), 0);
}

static void test_level_drop_before_claim(void **state)
{
	struct fixture *fx = *state;

	wr(fx->p, prio(2), 1);
	enable_src(fx->p, 0, 2);
	plic_set_irq(fx->p, 2, 1);
	assert_int_equal(fx->f.level[0], 1);
	plic_set_irq(fx->p, 2, 0);
	assert_int_equal(fx->f.level[0], 0);
	assert_int_equal(rd(fx->p, claim(0)), 0);
}

static void test_notify_only_on_change(void **state)
{
	struct fixture *fx = *state;

	wr(fx->p, prio(1), 1);
	wr(fx->p, prio(2), 1);
	enable_src(fx->p, 0, 1);
	enable_src(fx->p, 0, 2);
	plic_set_irq(fx->p, 1, 1);
	plic_set_irq(fx->p, 1, 1);
	plic_set_irq(fx->p, 2, 1);
	wr(fx->p, prio(2), 5);
	wr(fx->p, thresh(0), 0);
	assert_int_equal(fx->f.calls[0], 1);
	assert_int_equal(rd(fx->p, claim(0)), 2);
	assert_int_equal(fx->f.calls[0], 1); /* source 1 still asserts */
	assert_int_equal(rd(fx->p, claim(0)), 1);
	assert_int_equal(fx->f.calls[0], 2);
	assert_int_equal(fx->f.level[0], 0);
	/* fake_notify asserts each call really is a change. */
	plic_set_irq(fx->p, 1, 0);
	plic_set_irq(fx->p, 2, 0);
	wr(fx->p, claim(0), 1);
	wr(fx->p, claim(0), 2);
	assert_int_equal(fx->f.calls[0], 2);
}

static void test_invalid_complete_and_irq(void **state)
{
	struct fixture *fx = *state;

	wr(fx->p, prio(6), 1);
	enable_src(fx->p, 0, 6);
	plic_set_irq(fx->p, 6, 1);
	assert_int_equal(rd(fx->p, claim(0)), 6);
	/* Completes with bad ids, or from a context where 6 is disabled. */
	wr(fx->p, claim(0), 0);
	wr(fx->p, claim(0), NSRC + 1);
	wr(fx->p, claim(0), 0xffffffff);
	wr(fx->p, claim(1), 6);
	assert_false(is_pending(fx->p, 6));
	assert_int_equal(fx->f.level[0], 0);
	wr(fx->p, claim(0), 6);
	assert_int_equal(fx->f.level[0], 1);
	/* Invalid input numbers are ignored. */
	plic_set_irq(fx->p, 0, 1);
	plic_set_irq(fx->p, NSRC + 1, 1);
	plic_set_irq(fx->p, 1024, 1);
	plic_set_irq(fx->p, UINT32_MAX, 1);
	assert_int_equal(rd(fx->p, 0x1000), 1u << 6);
	for (uint64_t off = 0x1004; off < 0x1080; off += 4)
		assert_int_equal(rd(fx->p, off), 0);
}

static void test_bad_accesses(void **state)
{
	struct fixture *fx = *state;
	uint64_t v;
	static const unsigned sizes[3] = { 1, 2, 8 };

	for (int i = 0; i < 3; i++) {
		v = 1;
		assert_int_equal(plic_ops.read(fx->p, prio(1), sizes[i], &v), -EFAULT);
		assert_int_equal(plic_ops.write(fx->p, prio(1), sizes[i], 7), -EFAULT);
		assert_int_equal(plic_ops.read(fx->p, claim(0), sizes[i], &v), -EFAULT);
	}
	assert_int_equal(rd(fx->p, prio(1)), 0);
	assert_int_equal(plic_ops.read(fx->p, 2, 4, &v), -EFAULT); /* misaligned */
	/* Out of range offsets: read 0, writes ignored. */
	static const uint64_t offs[] = {
		0x107c, 0x1ffc, 0x2000 + 0x80 * NCTX, 0x1ffffc,
		0x200008, 0x200ffc, 0x200000 + 0x1000 * NCTX, 0x200004 + 0x1000 * NCTX,
		0x3ffffc, 0x5ffffc, 0x600000, 0xfffffffffffffffcull,
	};
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		wr(fx->p, offs[i], 0xffffffff);
		assert_int_equal(rd(fx->p, offs[i]), 0);
	}
	assert_int_equal(fx->f.calls[0] + fx->f.calls[1], 0);
}

static void test_reset(void **state)
{
	struct fixture *fx = *state;

	wr(fx->p, prio(9), 3);
	enable_src(fx->p, 0, 9);
	plic_set_irq(fx->p, 9, 1);
	assert_int_equal(fx->f.level[0], 1);
	plic_ops.reset(fx->p);
	assert_int_equal(fx->f.level[0], 0);
	assert_int_equal(rd(fx->p, prio(9)), 0);
	assert_int_equal(rd(fx->p, enable(0, 9)), 0);
	/* The input is still high: it pends, and fires once enabled. */
	wr(fx->p, prio(9), 3);
	enable_src(fx->p, 0, 9);
	assert_int_equal(fx->f.level[0], 1);
	assert_int_equal(rd(fx->p, claim(0)), 9);
}

static void test_constructor_limits(void **state)
{
	struct plic *p;

	assert_null(plic_new(1024, 1, NULL, NULL));
	assert_null(plic_new(10, 0, NULL, NULL));
	assert_null(plic_new(10, 100000, NULL, NULL));
	p = plic_new(1023, 4, NULL, NULL);
	assert_non_null(p);
	wr(p, prio(1023), 7);
	assert_int_equal(rd(p, prio(1023)), 7);
	wr(p, 0x2000 + 0x80 * 3 + 0x7c, 0xffffffff);
	assert_int_equal(rd(p, 0x2000 + 0x80 * 3 + 0x7c), 0xffffffff);
	plic_set_irq(p, 1023, 1);
	assert_int_equal(rd(p, 0x107c), 0x80000000u);
	assert_int_equal(rd(p, claim(3)), 1023);
	plic_ops.destroy(p);
	p = plic_new(0, 1, NULL, NULL);
	assert_non_null(p);
	plic_set_irq(p, 1, 1);
	assert_int_equal(rd(p, claim(0)), 0);
	plic_ops.destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_priority_regs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enable_regs, setup, teardown),
		cmocka_unit_test(test_enable_mask_partial_word),
		cmocka_unit_test_setup_teardown(test_claim_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled_does_not_assert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_repends_if_level_high, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_drop_before_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_only_on_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_complete_and_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test(test_constructor_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
