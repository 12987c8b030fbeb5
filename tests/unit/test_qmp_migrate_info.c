/* Unit tests for query-migrate's replies (ctl/qmp_migrate_info.c): the
 * exact keys, order and values QMP clients and tern's own tools read. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ctl/qmp_migrate_info.h"
#include "migration/migration.h"
#include "state/snapshot.h"

static void assert_json(json_t *j, const char *want)
{
	assert_non_null(j);
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(s, want);
	free(s);
	json_decref(j);
}

static void test_source(void **state)
{
	(void)state;
	json_t *j;
	struct mig_info i = { .status = MIG_NONE };
	assert_json(qmp_mig_info_json(&i), "{\"status\":\"none\"}");

	i = (struct mig_info){
		.status = MIG_ACTIVE, .total_ms = 10, .setup_ms = 2, .expected_downtime_ms = 30,
		.ram_total = 8192, .transferred = 4096, .remaining = 4096, .duplicate = 1, .normal = 1,
		.dirty_sync_count = 3, .mbps = 1.5, .dirty_pages_rate = 2, .rounds = 3, .throttle_pct = 20,
	};
	assert_json(qmp_mig_info_json(&i),
		    "{\"status\":\"active\",\"total-time\":10,\"setup-time\":2,\"expected-downtime\":30,"
		    "\"ram\":{\"transferred\":4096,\"remaining\":4096,\"total\":8192,\"duplicate\":1,"
		    "\"normal\":1,\"normal-bytes\":4096,\"dirty-sync-count\":3,\"mbps\":1.5,"
		    "\"dirty-pages-rate\":2.0},\"x-rounds\":3,\"cpu-throttle-percentage\":20}");

	i = (struct mig_info){
		.status = MIG_COMPLETED, .total_ms = 100, .setup_ms = 1, .downtime_ms = 9,
		.downtime_us = 9001, .downtime_known = true, .down_ram_ms = 1, .down_cpu_ms = 2,
		.down_dev_ms = 3, .down_other_ms = 4, .disk_copy = true, .down_disk_ms = 5,
		.disk_total = 30, .disk_transferred = 20, .disk_remaining = 10, .rounds = 1,
		.postcopy_requests = 7, .postcopy_urgent_pages = 8,
		.devstate = { .method = SNAP_DEV_LOG, .save_bytes = 11, .save_us = 12, .log_ok = false,
			      .log_err = "no" },
	};
	assert_json(qmp_mig_info_json(&i),
		    "{\"status\":\"completed\",\"total-time\":100,\"setup-time\":1,\"downtime\":9,"
		    "\"x-downtime-us\":9001,\"x-downtime-breakdown\":{\"memory\":1,\"cpu\":2,\"devices\":3,"
		    "\"other\":4,\"disk\":5},\"x-device-state\":{\"method\":\"log\",\"save\":{\"bytes\":11,"
		    "\"encode-us\":12},\"log\":{\"error\":\"no\"}},\"ram\":{\"transferred\":0,\"remaining\":0,"
		    "\"total\":0,\"duplicate\":0,\"normal\":0,\"normal-bytes\":0,\"dirty-sync-count\":0,"
		    "\"mbps\":0.0,\"dirty-pages-rate\":0.0},\"disk\":{\"transferred\":20,\"remaining\":10,"
		    "\"total\":30},\"x-rounds\":1,\"x-postcopy\":{\"requests\":7,\"urgent-pages\":8},"
		    "\"cpu-throttle-percentage\":0}");

	/* XBZRLE: QEMU's xbzrle-cache object once the cache exists, its
	 * rates over the whole migration. */
	i = (struct mig_info){
		.status = MIG_ACTIVE, .xbz_cache_size = 1 << 20, .xbz_pages = 6, .xbz_bytes = 96,
		.xbz_cache_miss = 3, .xbz_overflow = 1,
	};
	j = qmp_mig_info_json(&i);
	assert_json(json_incref(json_object_get(j, "xbzrle-cache")),
		    "{\"cache-size\":1048576,\"bytes\":96,\"pages\":6,\"cache-miss\":3,"
		    "\"cache-miss-rate\":0.29999999999999999,\"encoding-rate\":256.0,\"overflow\":1}");
	json_decref(j);
	i.xbz_cache_size = 0;
	j = qmp_mig_info_json(&i);
	assert_null(json_object_get(j, "xbzrle-cache"));
	json_decref(j);

	i = (struct mig_info){ .status = MIG_FAILED, .error = "peer went away" };
	j = qmp_mig_info_json(&i);
	assert_string_equal(json_string_value(json_object_get(j, "error-desc")), "peer went away");
	json_decref(j);
}

static void test_destination(void **state)
{
	(void)state;
	struct mig_incoming_info in = { .postcopy = false };
	assert_json(qmp_mig_incoming_json(&in), "{\"status\":\"none\"}");
	in = (struct mig_incoming_info){
		.postcopy = true, .total_ms = 50, .pages = 100, .received = 60, .faults = 4,
		.requests = 3, .wait_median_us = 200, .wait_max_us = 900,
	};
	assert_json(qmp_mig_incoming_json(&in),
		    "{\"status\":\"postcopy-active\",\"total-time\":50,\"x-postcopy\":{\"pages\":100,"
		    "\"received\":60,\"faults\":4,\"requests\":3,\"fault-wait-median-us\":200,"
		    "\"fault-wait-max-us\":900}}");
	in.done = true;
	json_t *j = qmp_mig_incoming_json(&in);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "completed");
	json_decref(j);
	in.failed = true;
	strcpy(in.error, "source lost");
	j = qmp_mig_incoming_json(&in);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "failed");
	assert_string_equal(json_string_value(json_object_get(j, "error-desc")), "source lost");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_destination),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
