/* Unit tests for the QMP input splitter (json_stream) and the protocol
 * layer: negotiation, request validation, ids, errors, event messages. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "ctl/json_stream.h"
#include "ctl/qmp_proto.h"

static void test_split_values(void **state)
{
	struct json_stream s;
	assert_int_equal(json_stream_init(&s, 1024), 0);
	const char *in = " {\"a\": \"}{\\\"\"}\n{\"b\":[1,{\"c\":2}]}{\"x\"";
	size_t off = 0, len = strlen(in);
	assert_int_equal(json_stream_feed(&s, in, len, &off), JSON_STREAM_VALUE);
	assert_string_equal(s.buf, "{\"a\": \"}{\\\"\"}");
	json_stream_reset(&s);
	assert_int_equal(json_stream_feed(&s, in, len, &off), JSON_STREAM_VALUE);
	assert_string_equal(s.buf, "{\"b\":[1,{\"c\":2}]}");
	json_stream_reset(&s);
	assert_int_equal(json_stream_feed(&s, in, len, &off), JSON_STREAM_MORE);
	assert_int_equal(off, len);
	/* The rest arrives byte by byte. */
	const char *rest = ":1}";
	size_t o2 = 0;
	assert_int_equal(json_stream_feed(&s, rest, 1, &o2), JSON_STREAM_MORE);
	assert_int_equal(json_stream_feed(&s, rest, 3, &o2), JSON_STREAM_VALUE);
	assert_string_equal(s.buf, "{\"x\":1}");
	json_stream_free(&s);
}

static void test_junk_big_deep(void **state)
{
	struct json_stream s;
	json_stream_init(&s, 16);
	const char *junk = "hello world\n{}";
	size_t off = 0;
	assert_int_equal(json_stream_feed(&s, junk, strlen(junk), &off), JSON_STREAM_JUNK);
	assert_int_equal(json_stream_feed(&s, junk, strlen(junk), &off), JSON_STREAM_VALUE);
	json_stream_reset(&s);
	/* Junk straight before a value is reported before the value. */
	const char *junk2 = "xx{}";
	off = 0;
	assert_int_equal(json_stream_feed(&s, junk2, 4, &off), JSON_STREAM_JUNK);
	assert_int_equal(json_stream_feed(&s, junk2, 4, &off), JSON_STREAM_VALUE);
	json_stream_reset(&s);
	const char *big = "{\"aaaaaaaaaaaaaaaaaaaaaaaa\":1}";
	off = 0;
	assert_int_equal(json_stream_feed(&s, big, strlen(big), &off), JSON_STREAM_TOO_BIG);
	json_stream_free(&s);

	json_stream_init(&s, 4096);
	char deep[200];
	memset(deep, '[', sizeof(deep));
	off = 0;
	assert_int_equal(json_stream_feed(&s, deep, sizeof(deep), &off), JSON_STREAM_TOO_DEEP);
	json_stream_free(&s);
}

static json_t *handle(bool *neg, const char *text)
{
	struct qmp_ctx ctx = { 0 };
	return qmp_handle_text(&ctx, neg, text, strlen(text));
}

static const char *err_class(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"), "class"));
}

static void test_negotiation_and_validation(void **state)
{
	bool neg = false;
	json_t *r = handle(&neg, "{\"execute\":\"query-version\",\"id\":7}");
	assert_string_equal(err_class(r), "CommandNotFound");
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
	assert_false(neg);
	json_decref(r);

	r = handle(&neg, "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}");
	assert_string_equal(err_class(r), "GenericError");
	assert_false(neg);
	json_decref(r);
	r = handle(&neg, "{\"execute\":\"qmp_capabilities\",\"id\":\"a\"}");
	assert_non_null(json_object_get(r, "return"));
	assert_string_equal(json_string_value(json_object_get(r, "id")), "a");
	assert_true(neg);
	json_decref(r);

	r = handle(&neg, "{\"execute\":\"query-version\"}");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(r, "return"),
		"qemu"), "major")), QMP_VERSION_MAJOR);
	json_decref(r);

	static const struct { const char *in, *cls, *desc; } bad[] = {
		{ "{\"execute\":\"nope\"}", "CommandNotFound", "The command nope has not been found" },
		{ "{\"execute\":\"migrate\"}", "GenericError", "Parameter 'uri' is missing" },
		{ "{\"execute\":\"query-version\",\"arguments\":{\"z\":1}}", "GenericError", "Parameter 'z' is unexpected" },
		{ "{\"id\":1}", "GenericError", "QMP input lacks member 'execute'" },
		{ "{\"execute\":1}", "GenericError", "QMP input member 'execute' must be a string" },
		{ "{\"execute\":\"stop\",\"arguments\":3}", "GenericError", "QMP input member 'arguments' must be an object" },
		{ "{\"execute\":\"stop\",\"extra\":3}", "GenericError", "QMP input member 'extra' is unexpected" },
		{ "[]", "GenericError", "QMP input must be a JSON object" },
		{ "{\"a\":1,\"a\":2}", "GenericError", NULL },
		{ "{\"a\":}", "GenericError", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = handle(&neg, bad[i].in);
		assert_string_equal(err_class(r), bad[i].cls);
		const char *d = json_string_value(json_object_get(json_object_get(r, "error"), "desc"));
		if (bad[i].desc)
			assert_string_equal(d, bad[i].desc);
		else
			assert_non_null(strstr(d, "JSON parse error"));
		json_decref(r);
	}
	r = handle(&neg, "{\"execute\":\"qmp_capabilities\"}");
	assert_string_equal(err_class(r), "CommandNotFound");
	json_decref(r);
}

static void test_event_message(void **state)
{
	json_t *m = qmp_event_message("RESET", "{\"guest\": true}");
	assert_string_equal(json_string_value(json_object_get(m, "event")), "RESET");
	assert_true(json_is_true(json_object_get(json_object_get(m, "data"), "guest")));
	assert_true(json_integer_value(json_object_get(json_object_get(m, "timestamp"), "seconds")) > 1000000000);
	size_t len;
	char *line = qmp_dump(m, &len);
	assert_int_equal(strlen(line), len);
	assert_memory_equal(line + len - 2, "\r\n", 2);
	free(line);
	json_decref(m);
	m = qmp_event_message("STOP", NULL);
	assert_null(json_object_get(m, "data"));
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_values),
		cmocka_unit_test(test_junk_big_deep),
		cmocka_unit_test(test_negotiation_and_validation),
		cmocka_unit_test(test_event_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
