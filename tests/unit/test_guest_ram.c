/* mem/guest_ram.c on its own, without a VM or harts: the mapping and its
 * bounds, the dirty log, written/discarded marks, dropping pages, renewing
 * RAM on reset. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "mem/guest_ram.h"

#define BASE 0x80000000ull
#define SIZE (256 * 4096ull)     /* four bitmap words */

static void maps_and_refuses(void **state)
{
	struct guest_ram r;
	assert_int_equal(guest_ram_map(&r, BASE, 0), -EINVAL);
	assert_int_equal(guest_ram_map(&r, BASE, 4097), -EINVAL);
	assert_null(r.host);
	guest_ram_unmap(&r);                 /* harmless after a refusal */
	assert_int_equal(guest_ram_map(&r, BASE, SIZE), 0);
	assert_int_equal(guest_ram_pages(&r), 256);
	assert_ptr_equal(guest_ram_ptr(&r, BASE, 8), r.host);
	assert_ptr_equal(guest_ram_ptr(&r, BASE + SIZE - 8, 8), r.host + SIZE - 8);
	assert_null(guest_ram_ptr(&r, BASE + SIZE - 4, 8));          /* runs off the end */
	assert_null(guest_ram_ptr(&r, BASE - 1, 1));                 /* below */
	assert_null(guest_ram_ptr(&r, BASE + SIZE, 0));
	assert_null(guest_ram_ptr(&r, BASE + 8, UINT64_MAX));        /* length wraps */
	guest_ram_unmap(&r);
	assert_null(r.host);
	guest_ram_unmap(&r);                 /* twice is fine */
}

static void dirty_log_and_written(void **state)
{
	struct guest_ram r;
	uint64_t bits[4] = { 0 };
	assert_int_equal(guest_ram_map(&r, BASE, SIZE), 0);
	guest_ram_written(&r, 0, 8);         /* not logging: nothing to see */
	assert_int_equal(guest_ram_log_harvest(&r, bits), 0);
	assert_int_equal(guest_ram_log_start(&r), 0);
	guest_ram_written(&r, 4096 - 4, 8);                  /* straddles pages 0 and 1 */
	guest_ram_written(&r, 200 * 4096, 1);
	guest_ram_written(&r, SIZE - 8, 4096);               /* clipped to the last page */
	guest_ram_written(&r, SIZE, 8);                      /* outside: ignored */
	guest_ram_written(&r, 10 * 4096, 0);                 /* empty: ignored */
	assert_int_equal(guest_ram_log_count(&r), 4);        /* counted, not harvested */
	assert_int_equal(guest_ram_log_count(&r), 4);
	assert_int_equal(guest_ram_log_harvest(&r, bits), 4);
	assert_int_equal(guest_ram_log_count(&r), 0);
	assert_int_equal(bits[0], 3);
	assert_int_equal(bits[3], 1ull << 8 | 1ull << 63);
	assert_int_equal(guest_ram_log_harvest(&r, bits), 0);   /* harvested: clear */
	assert_int_equal(bits[0], 3);                           /* ORed into, not cleared */
	guest_ram_log_stop(&r);
	assert_null(atomic_load(&r.dirty_log));
	guest_ram_unmap(&r);
}

static void rounds_inward(void **state)
{
	struct guest_ram r;
	assert_int_equal(guest_ram_map(&r, BASE, SIZE), 0);
	uint64_t off = 0x1800, len = 0x2000;
	assert_true(guest_ram_pages_within(&r, &off, &len));
	assert_int_equal(off, 0x2000);
	assert_int_equal(len, 0x1000);
	off = 0x100, len = 0x200;
	assert_false(guest_ram_pages_within(&r, &off, &len));  /* no whole page */
	off = SIZE, len = 4096;
	assert_false(guest_ram_pages_within(&r, &off, &len));  /* outside */
	off = SIZE - 4096, len = UINT64_MAX;
	assert_true(guest_ram_pages_within(&r, &off, &len));   /* clipped, no wrap */
	assert_int_equal(len, 4096);
	off = UINT64_MAX - 10, len = 5;
	assert_false(guest_ram_pages_within(&r, &off, &len));  /* rounding up wraps */
	guest_ram_unmap(&r);
}

static void drop_written_renew(void **state)
{
	struct guest_ram r;
	uint64_t bits[4] = { 0 };
	assert_int_equal(guest_ram_map(&r, BASE, SIZE), 0);
	memset(r.host, 0x11, 5 * 4096);
	guest_ram_drop(&r, 4096, 4096);       /* no bitmap yet: the page still goes */
	assert_int_equal(r.host[4096], 0);
	assert_false(guest_ram_page_discarded(&r, 1));
	assert_int_equal(guest_ram_discard_track(&r), 0);
	assert_int_equal(guest_ram_log_start(&r), 0);
	guest_ram_drop(&r, 2 * 4096, 2 * 4096);
	assert_int_equal(r.host[4096 - 1], 0x11);              /* page 0 kept */
	assert_int_equal(r.host[2 * 4096], 0);
	assert_int_equal(r.host[4 * 4096 - 1], 0);
	assert_int_equal(r.host[4 * 4096], 0x11);              /* page 4 kept */
	assert_true(guest_ram_page_discarded(&r, 2));
	assert_true(guest_ram_page_discarded(&r, 3));
	assert_int_equal(guest_ram_discarded_count(&r), 2);
	assert_int_equal(guest_ram_log_harvest(&r, bits), 2);  /* they travel as zero pages */
	assert_int_equal(bits[0], 0xc);
	guest_ram_written(&r, 3 * 4096 + 5, 1);                  /* data again: unmarked */
	assert_false(guest_ram_page_discarded(&r, 3));
	assert_int_equal(guest_ram_discarded_count(&r), 1);
	r.host[0] = 0x22;
	assert_int_equal(guest_ram_renew(&r), 0);
	assert_int_equal(r.host[0], 0);
	assert_int_equal(r.host[5000], 0);
	assert_int_equal(guest_ram_discarded_count(&r), 0);
	guest_ram_unmap(&r);                 /* frees the log and the bitmap too */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(maps_and_refuses),
		cmocka_unit_test(dirty_log_and_written),
		cmocka_unit_test(rounds_inward),
		cmocka_unit_test(drop_written_renew),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
