/* Unit tests for ctl/qmp_mig_params.c: the exact query-migrate-parameters
 * and -capabilities replies, what each setting does to struct mig_params,
 * and the refusals word for word (scripts and QEMU clients read them). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ctl/qmp_mig_params.h"
#include "migration/migration.h"

static const char default_params[] =
	"{\"downtime-limit\":300,\"max-bandwidth\":0,\"mode\":\"precopy\",\"compress\":\"none\","
	"\"multifd-compression\":\"none\",\"x-device-state\":\"save\","
	"\"cpu-throttle-initial\":20,\"cpu-throttle-increment\":20,\"max-cpu-throttle\":99,"
	"\"xbzrle-cache-size\":67108864,\"x-postcopy-after-precopy\":false,"
	"\"tls-creds\":\"\",\"tls-hostname\":\"\",\"tls-authz\":\"\",\"multifd-channels\":2,"
	"\"multifd-zlib-level\":1,\"multifd-zstd-level\":1,\"announce-initial\":50,"
	"\"announce-max\":550,\"announce-rounds\":5,\"announce-step\":100,"
	"\"cpu-throttle-tailslow\":false,\"avail-switchover-bandwidth\":0,"
	"\"max-postcopy-bandwidth\":0,"
	"\"x-checkpoint-delay\":20000,\"x-vcpu-dirty-limit-period\":1000,\"vcpu-dirty-limit\":1,"
	"\"zero-page-detection\":\"legacy\",\"direct-io\":false}";
static const char default_caps[] =
	"[{\"capability\":\"xbzrle\",\"state\":true},{\"capability\":\"rdma-pin-all\","
	"\"state\":false},{\"capability\":\"auto-converge\",\"state\":true},"
	"{\"capability\":\"zero-blocks\",\"state\":false},{\"capability\":\"events\","
	"\"state\":true},{\"capability\":\"postcopy-ram\",\"state\":true},"
	"{\"capability\":\"x-colo\",\"state\":false},{\"capability\":\"release-ram\","
	"\"state\":false},{\"capability\":\"return-path\",\"state\":true},"
	"{\"capability\":\"pause-before-switchover\",\"state\":false},"
	"{\"capability\":\"multifd\",\"state\":false},{\"capability\":\"dirty-bitmaps\","
	"\"state\":false},{\"capability\":\"postcopy-blocktime\",\"state\":false},"
	"{\"capability\":\"late-block-activate\",\"state\":false},"
	"{\"capability\":\"x-ignore-shared\",\"state\":false},{\"capability\":\"validate-uuid\","
	"\"state\":false},{\"capability\":\"background-snapshot\",\"state\":false},"
	"{\"capability\":\"zero-copy-send\",\"state\":false},"
	"{\"capability\":\"postcopy-preempt\",\"state\":false},"
	"{\"capability\":\"switchover-ack\",\"state\":false},{\"capability\":\"dirty-limit\","
	"\"state\":false},{\"capability\":\"mapped-ram\",\"state\":false}]";

static char *dump(json_t *j)
{
	assert_non_null(j);
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return s;
}

/* Set args (JSON text) on the defaults: the result code, err, and p. */
static int set_params(const char *args, struct mig_params *p, char *err, size_t errlen)
{
	json_t *a = json_loads(args, 0, NULL);
	assert_non_null(a);
	mig_params_default(p);
	err[0] = 0;
	int r = qmp_mig_params_set(p, a, err, errlen);
	json_decref(a);
	return r;
}

static int set_caps(const char *list, struct mig_params *p, char *err, size_t errlen)
{
	json_t *a = json_loads(list, JSON_DECODE_ANY, NULL);
	assert_non_null(a);
	err[0] = 0;
	int r = qmp_mig_caps_set(p, a, err, errlen);
	json_decref(a);
	return r;
}

static void test_defaults(void **state)
{
	(void)state;
	struct mig_params p;
	mig_params_default(&p);
	char *s = dump(qmp_mig_params_json(&p));
	assert_string_equal(s, default_params);
	free(s);
	s = dump(qmp_mig_caps_json(&p));
	assert_string_equal(s, default_caps);
	free(s);
}

static void test_set_params(void **state)
{
	(void)state;
	struct mig_params p;
	char err[512];
	assert_int_equal(set_params("{\"mode\": \"postcopy\", \"downtime-limit\": 5, \"max-cpu-throttle\": 50, "
				    "\"max-bandwidth\": 1000, \"multifd-compression\": \"zstd\", "
				    "\"x-device-state\": \"log\", \"tls-creds\": \"\", "
				    "\"xbzrle-cache-size\": 1048576, \"x-postcopy-after-precopy\": true}",
				    &p, err, sizeof(err)), 0);
	assert_int_equal(p.xbzrle_cache_size, 1048576);
	assert_true(p.postcopy_after_precopy);
	assert_int_equal(p.mode, MIG_POSTCOPY);
	assert_int_equal(p.downtime_limit_ms, 5);
	assert_int_equal(p.throttle_max, 50);
	assert_int_equal(p.max_bandwidth, 1000);
	assert_true(p.compress);
	assert_int_equal(p.device_state, SNAP_DEV_LOG);
	json_t *j = qmp_mig_params_json(&p);
	assert_string_equal(json_string_value(json_object_get(j, "mode")), "postcopy");
	assert_string_equal(json_string_value(json_object_get(j, "x-device-state")), "log");
	json_decref(j);
	assert_int_equal(set_params("{\"mode\": \"normal\"}", &p, err, sizeof(err)), 0);
	assert_int_equal(p.mode, MIG_PRECOPY);
	assert_int_equal(set_params("{\"mode\": \"stop-copy\"}", &p, err, sizeof(err)), 0);
	assert_int_equal(p.mode, MIG_STOPCOPY);
}

static void test_refused_params(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{ "{\"downtime-limit\": 0}",
		  "Parameter 'downtime-limit' expects an integer in the range of 1 to 2000000 milliseconds" },
		{ "{\"cpu-throttle-initial\": 100}",
		  "Parameter 'cpu-throttle-initial' expects an integer in the range of 1 to 99 percent" },
		{ "{\"mode\": \"x\"}", "Parameter 'mode' expects precopy (or normal), stop-copy or postcopy "
		  "(QEMU's cpr-reboot and cpr-transfer are not implemented)" },
		{ "{\"mode\": 1}", "Parameter 'mode' expects precopy (or normal), stop-copy or postcopy "
		  "(QEMU's cpr-reboot and cpr-transfer are not implemented)" },
		{ "{\"compress\": \"zlib\"}",
		  "Parameter 'compress' expects none or zstd (zlib, qpl, uadk and qatzip are not implemented)" },
		{ "{\"x-device-state\": \"y\"}", "Parameter 'x-device-state' expects save or log" },
		{ "{\"x-postcopy-after-precopy\": 1}",
		  "Parameter 'x-postcopy-after-precopy' expects true or false" },
		{ "{\"xbzrle-cache-size\": 4095}", "Parameter 'xbzrle-cache-size' expects an integer in the "
		  "range of 4096 to 9223372036854775807 bytes" },
		{ "{\"multifd-channels\": 3}",
		  "Parameter 'multifd-channels' can only be 2 in tern: multifd is not implemented (one stream)" },
		{ "{\"cpu-throttle-tailslow\": true}",
		  "Parameter 'cpu-throttle-tailslow' can only be false in tern: not implemented" },
		{ "{\"zero-page-detection\": \"none\"}", "Parameter 'zero-page-detection' can only be 'legacy' "
		  "in tern: the source always skips zero pages itself" },
		{ "{\"bogus\": 1}", "Parameter 'bogus' is unexpected" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mig_params p;
		char err[512];
		assert_int_equal(set_params(cases[i][0], &p, err, sizeof(err)), -1);
		assert_string_equal(err, cases[i][1]);
		/* nothing changed */
		char *s = dump(qmp_mig_params_json(&p));
		assert_string_equal(s, default_params);
		free(s);
	}
	struct mig_params p;
	char err[512];
	mig_params_default(&p);
	p.postcopy_ram = false;
	json_t *a = json_loads("{\"mode\": \"postcopy\"}", 0, NULL);
	assert_int_equal(qmp_mig_params_set(&p, a, err, sizeof(err)), -1);
	json_decref(a);
	assert_string_equal(err, "Parameter 'mode' cannot be postcopy while the capability 'postcopy-ram' is off");
}

static void test_caps(void **state)
{
	(void)state;
	struct mig_params p;
	char err[512];
	mig_params_default(&p);
	assert_int_equal(set_caps("[{\"capability\": \"auto-converge\", \"state\": false}, "
				  "{\"capability\": \"xbzrle\", \"state\": false}, "
				  "{\"capability\": \"pause-before-switchover\", \"state\": true}, "
				  "{\"capability\": \"return-path\", \"state\": true}]", &p, err, sizeof(err)), 0);
	assert_false(p.auto_converge);
	assert_false(p.xbzrle);
	assert_true(p.pause_before_switchover);
	static const char *const cases[][2] = {
		{ "{}", "Invalid parameter type for 'capabilities', expected: array" },
		{ "[1]", "capabilities[0] must be {\"capability\": NAME, \"state\": BOOL}" },
		{ "[{\"capability\": \"events\", \"state\": 1}]",
		  "capabilities[0] must be {\"capability\": NAME, \"state\": BOOL}" },
		{ "[{\"capability\": \"multifd\", \"state\": true}]",
		  "Capability 'multifd' can only be off in tern: multifd is not implemented (one stream)" },
		{ "[{\"capability\": \"nope\", \"state\": true}]",
		  "Parameter 'capability' does not accept value 'nope'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mig_params_default(&p);
		assert_int_equal(set_caps(cases[i][0], &p, err, sizeof(err)), -1);
		assert_string_equal(err, cases[i][1]);
		char *s = dump(qmp_mig_caps_json(&p));
		assert_string_equal(s, default_caps);
		free(s);
	}
	mig_params_default(&p);
	p.mode = MIG_POSTCOPY;
	assert_int_equal(set_caps("[{\"capability\": \"postcopy-ram\", \"state\": false}]", &p, err,
				  sizeof(err)), -1);
	assert_string_equal(err, "Capability 'postcopy-ram' cannot be off while the parameter 'mode' is postcopy");
}

static void test_names(void **state)
{
	(void)state;
	enum mig_mode m;
	enum snap_dev_method d;
	assert_int_equal(mig_mode_parse("stop-copy", &m), 0);
	assert_int_equal(m, MIG_STOPCOPY);
	assert_string_equal(mig_mode_name(m), "stop-copy");
	assert_int_not_equal(mig_mode_parse(NULL, &m), 0);
	assert_int_not_equal(mig_mode_parse("normal", &m), 0);
	assert_int_equal(mig_devstate_parse("log", &d), 0);
	assert_string_equal(mig_devstate_name(d), "log");
	assert_int_not_equal(mig_devstate_parse(NULL, &d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_set_params),
		cmocka_unit_test(test_refused_params),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
