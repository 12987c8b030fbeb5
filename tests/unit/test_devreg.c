/* Unit tests for the device registry (core/devreg.c): registration order,
 * removal, and the post-load, flush and reclaim walks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>
#include "core/devreg.h"

struct fake {
	char trace[64];     /* one letter per hook call, in call order */
	int fail_flush;
};

struct dev {
	struct fake *f;
	char id;
	int fail;
};

static void note(struct dev *d, char what)
{
	size_t n = strlen(d->f->trace);
	d->f->trace[n] = what;
	d->f->trace[n + 1] = d->id;
}

static int fake_save(void *o, struct vmbuf *b) { (void)o; (void)b; return 0; }
static int fake_load(void *o, struct vmrd *r, unsigned v) { (void)o; (void)r; (void)v; return 0; }
static void fake_post(void *o) { note(o, 'p'); }
static int fake_flush(void *o) { note(o, 'f'); return ((struct dev *)o)->fail ? -1 : 0; }
static int fake_reclaim(void *o) { note(o, 'r'); return 0; }

static struct devreg_entry entry(struct dev *d, int hooks)
{
	return (struct devreg_entry){
		.name = "fake", .state_version = 1, .save = fake_save, .load = fake_load,
		.post_load = hooks ? fake_post : NULL, .flush = hooks ? fake_flush : NULL,
		.reclaim = hooks ? fake_reclaim : NULL, .opaque = d,
	};
}

static void test_order_and_walks(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct dev a = { &f, 'a', 0 }, b = { &f, 'b', 0 }, c = { &f, 'c', 0 };
	struct devreg r = { 0 };
	struct devreg_entry ea = entry(&a, 1), eb = entry(&b, 0), ec = entry(&c, 1);
	assert_int_equal(devreg_add(&r, &ea), 0);
	assert_int_equal(devreg_add(&r, &eb), 0);
	assert_int_equal(devreg_add(&r, &ec), 0);
	assert_int_equal(r.n, 3);
	assert_ptr_equal(r.e[1].opaque, &b);
	devreg_post_load(&r);
	assert_int_equal(devreg_flush(&r), 0);
	assert_int_equal(devreg_reclaim(&r), 0);
	assert_string_equal(f.trace, "papcfafcrarc");

	/* A failed flush does not stop the walk, and is reported. */
	memset(f.trace, 0, sizeof(f.trace));
	a.fail = 1;
	assert_int_equal(devreg_flush(&r), -EIO);
	assert_string_equal(f.trace, "fafc");

	/* Removal keeps the order of the rest. */
	assert_int_equal(devreg_remove(&r, &a), 0);
	assert_int_equal(devreg_remove(&r, &a), -ENOENT);
	assert_int_equal(r.n, 2);
	assert_ptr_equal(r.e[0].opaque, &b);
	assert_ptr_equal(r.e[1].opaque, &c);
}

static void test_refusals(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct dev a = { &f, 'a', 0 };
	struct devreg r = { 0 };
	struct devreg_entry e = entry(&a, 0);
	e.load = NULL;
	assert_int_equal(devreg_add(&r, &e), -EINVAL);
	e = entry(&a, 0);
	e.name = NULL;
	assert_int_equal(devreg_add(&r, &e), -EINVAL);
	e = entry(&a, 0);
	for (int i = 0; i < DEVREG_MAX; i++)
		assert_int_equal(devreg_add(&r, &e), 0);
	assert_int_equal(devreg_add(&r, &e), -ENOSPC);
	assert_int_equal(r.n, DEVREG_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_walks),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
