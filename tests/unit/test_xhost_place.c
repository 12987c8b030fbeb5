/* Unit tests for placing a project's machines on the hosts of a cluster:
 * host= pins, first-fit decreasing by memory under the capacity coefficient,
 * hosts that are down or full skipped, and clear errors naming FILE:LINE. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include "cluster/project.h"
#include "cluster/xhost.h"
#include "project_fixture.h"

static int setup(void **state)
{
	static const char *const files[] = { "Image" };
	return project_fixture_setup(state, files, 1);
}

static struct project *load(struct fixture *f, const char *body)
{
	struct project *p = project_fixture_load(f, body, stderr);
	assert_non_null(p);
	return p;
}

/* Three hosts of 1 GiB, none used; h2 as given. */
static json_t *hosts(const char *h2_state, long long h2_used)
{
	json_t *h = json_pack("{s:[{s:s,s:s,s:I,s:I},{s:s,s:s,s:I,s:I},{s:s,s:s,s:I,s:I}]}", "hosts",
			      "name", "h3", "state", "up", "mem_total", (json_int_t)1 << 30, "mem_used", (json_int_t)0,
			      "name", "h1", "state", "up", "mem_total", (json_int_t)1 << 30, "mem_used", (json_int_t)0,
			      "name", "h2", "state", h2_state, "mem_total", (json_int_t)1 << 30, "mem_used",
			      (json_int_t)h2_used);
	assert_non_null(h);
	return h;
}

#define M(name, mem, extra) "<machine name=\"" name "\" memory=\"" mem "\" " extra "><kernel path=\"Image\"/></machine>\n"

static void test_ffd(void **state)
{
	/* 819M of room each: 500M goes to h1 (319M left), 400M to h2 (419M
	 * left), 350M to h2 as well, 320M to h3 (h1 has 319M), 100M
	 * back to h1. */
	struct project *p = load(*state, M("a", "320M", "") M("b", "500M", "") M("c", "350M", "") M("d", "400M", "")
				 M("e", "100M", ""));
	json_t *h = hosts("up", 0);
	char where[5][64], err[256];
	assert_int_equal(xhost_place(p, h, 0.8, where, err, sizeof(err)), 0);
	assert_string_equal(where[1], "h1");
	assert_string_equal(where[3], "h2");
	assert_string_equal(where[2], "h2");
	assert_string_equal(where[0], "h3");
	assert_string_equal(where[4], "h1");
	json_decref(h);
	project_free(p);
}

static void test_pins_and_down(void **state)
{
	/* A pin takes its room first; h2 down is skipped by the rest. */
	struct project *p = load(*state, M("a", "700M", "host=\"h1\"") M("b", "200M", "") M("c", "100M", ""));
	json_t *h = hosts("down", 0);
	char where[3][64], err[256];
	assert_int_equal(xhost_place(p, h, 0.8, where, err, sizeof(err)), 0);
	assert_string_equal(where[0], "h1");
	assert_string_equal(where[1], "h3");
	assert_string_equal(where[2], "h1");
	json_decref(h);
	project_free(p);
}

static void test_errors(void **state)
{
	char where[2][64], err[256];
	struct project *p = load(*state, M("a", "100M", "host=\"h9\""));
	json_t *h = hosts("up", 0);
	assert_int_equal(xhost_place(p, h, 0.8, where, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "p.xml:4: machine 'a': no host 'h9'"));
	project_free(p);
	p = load(*state, M("a", "100M", "host=\"h2\""));
	json_decref(h);
	h = hosts("standby", 0);
	assert_int_equal(xhost_place(p, h, 0.8, where, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "host 'h2' is standby"));
	project_free(p);
	/* 900M fits nowhere under 0.8; it would under 0.9. */
	p = load(*state, M("a", "900M", ""));
	assert_int_equal(xhost_place(p, h, 0.8, where, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "p.xml:4: machine 'a' (900 MiB) fits on no host"));
	assert_int_equal(xhost_place(p, h, 0.9, where, err, sizeof(err)), 0);
	assert_string_equal(where[0], "h1");
	json_decref(h);
	project_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ffd),
		cmocka_unit_test(test_pins_and_down),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, project_fixture_teardown);
}
