/* Unit tests for the cluster records on the local store: names, the host
 * list with each host's state (up, down, draining, standby) derived from its
 * leased record and kept config, wake, the token file, power commands. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "agent/records.h"
#include "store/store.h"

struct fx {
	char dir[128];
	struct store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	snprintf(f->dir, sizeof(f->dir), "/tmp/tern-rec-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->s = store_open(NULL, f->dir, err, sizeof(err));
	assert_non_null(f->s);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[200];
	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_names(void **state)
{
	assert_true(rec_name_ok("h1"));
	assert_true(rec_name_ok("web-01.prod_a"));
	assert_false(rec_name_ok(""));
	assert_false(rec_name_ok(".hidden"));
	assert_false(rec_name_ok("-x"));
	assert_false(rec_name_ok("a/b"));
	assert_false(rec_name_ok("a b"));
	char big[80];
	memset(big, 'a', sizeof(big) - 1);
	big[79] = 0;
	assert_false(rec_name_ok(big));
}

static void assert_state(json_t *hosts, const char *name, const char *want)
{
	json_t *h = rec_host_find(hosts, name);
	assert_non_null(h);
	assert_string_equal(json_string_value(json_object_get(h, "state")), want);
	json_decref(h);
}

static void put(struct store *s, const char *prefix, const char *name, const char *json, int64_t lease)
{
	char key[128];
	rec_key(key, sizeof(key), prefix, name);
	assert_int_equal(store_put(s, key, json, lease), 0);
}

static void test_host_states(void **state)
{
	struct fx *f = *state;
	int64_t lease;
	assert_int_equal(store_lease_grant(f->s, 30, &lease), 0);
	put(f->s, REC_HOSTCFG, "up1", "{\"power\":\"on\",\"draining\":false,\"address\":\"10.0.0.1\"}", 0);
	put(f->s, REC_HOSTS, "up1", "{\"name\":\"up1\",\"address\":\"10.0.0.1\",\"cpu_percent\":12.5,"
	    "\"mem_used\":100,\"mem_total\":1000,\"vms\":[{\"name\":\"v1\"}]}", lease);
	put(f->s, REC_HOSTCFG, "dr", "{\"power\":\"on\",\"draining\":true}", 0);
	put(f->s, REC_HOSTS, "dr", "{\"name\":\"dr\",\"vms\":[]}", lease);
	put(f->s, REC_HOSTCFG, "sb", "{\"power\":\"standby\",\"draining\":true}", 0);
	put(f->s, REC_HOSTCFG, "gone", "{\"power\":\"on\"}", 0);
	put(f->s, REC_VMS, "lost", "{\"name\":\"lost\",\"host\":\"gone\",\"state\":\"running\"}", 0);
	put(f->s, REC_VMS, "off", "{\"name\":\"off\",\"host\":\"gone\",\"state\":\"stopped\"}", 0);
	json_t *hosts;
	assert_int_equal(rec_hosts(f->s, &hosts), 0);
	json_t *arr = json_object_get(hosts, "hosts");
	assert_int_equal(json_array_size(arr), 4);
	/* Sorted by name. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "name")), "dr");
	assert_state(hosts, "up1", "up");
	assert_state(hosts, "dr", "draining");
	assert_state(hosts, "sb", "standby");
	assert_state(hosts, "gone", "down");
	json_t *up = rec_host_find(hosts, "up1");
	const char *keys[] = { "name", "address", "state", "power", "cpu_percent", "mem_used", "mem_total", "vms" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(json_object_get(up, keys[i]));
	assert_int_equal(json_integer_value(json_object_get(up, "mem_total")), 1000);
	json_decref(up);
	/* A down host lists the VMs that should run there. */
	json_t *g = rec_host_find(hosts, "gone");
	json_t *vms = json_object_get(g, "vms");
	assert_int_equal(json_array_size(vms), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(vms, 0), "name")), "lost");
	json_decref(g);
	json_decref(hosts);
	/* The lease goes: up1 and dr are down. */
	assert_int_equal(store_lease_revoke(f->s, lease), 0);
	assert_int_equal(rec_hosts(f->s, &hosts), 0);
	assert_state(hosts, "up1", "down");
	assert_state(hosts, "dr", "down");
	json_decref(hosts);
	/* Wake: runs the command, records on and not draining. */
	char flag[200], cfg[400], err[256];
	snprintf(flag, sizeof(flag), "%s/woke", f->dir);
	snprintf(cfg, sizeof(cfg), "{\"power\":\"standby\",\"draining\":true,\"power_cmd_wake\":\"touch %s\"}", flag);
	put(f->s, REC_HOSTCFG, "sb", cfg, 0);
	assert_int_equal(rec_host_wake(f->s, "sb", err, sizeof(err)), 0);
	assert_int_equal(access(flag, F_OK), 0);
	assert_int_equal(rec_hosts(f->s, &hosts), 0);
	assert_state(hosts, "sb", "down");   /* on, but no agent */
	json_decref(hosts);
	assert_int_equal(rec_host_wake(f->s, "nosuch", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nosuch"));
	/* A failing wake command leaves the host on standby, saying why. */
	put(f->s, REC_HOSTCFG, "sb", "{\"power\":\"standby\",\"power_cmd_wake\":\"echo no route; exit 3\"}", 0);
	assert_int_equal(rec_host_wake(f->s, "sb", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exited with 3"));
	assert_non_null(strstr(err, "no route"));
	assert_int_equal(rec_hosts(f->s, &hosts), 0);
	assert_state(hosts, "sb", "standby");
	json_decref(hosts);
}

static void test_token(void **state)
{
	struct fx *f = *state;
	char tok[128], again[128], err[256], path[200];
	assert_int_equal(rec_token(f->s, f->dir, 0, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_true(strlen(tok) >= 32);
	snprintf(path, sizeof(path), "%s/token", f->dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(rec_token(f->s, f->dir, 0, again, sizeof(again), err, sizeof(err)), 0);
	assert_string_equal(tok, again);
	/* The cluster's token (as with etcd): one for everybody. */
	assert_int_equal(rec_token(f->s, f->dir, 1, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_int_equal(rec_token(f->s, NULL, 1, again, sizeof(again), err, sizeof(err)), 0);
	assert_string_equal(tok, again);
}

static void test_run_cmd(void **state)
{
	char err[256];
	assert_int_equal(rec_run_cmd("true", 5, err, sizeof(err)), 0);
	assert_int_equal(rec_run_cmd("echo boom >&2; exit 7", 5, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exited with 7"));
	assert_non_null(strstr(err, "boom"));
	assert_int_equal(rec_run_cmd("sleep 10", 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "signal 9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_host_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token, setup, teardown),
		cmocka_unit_test(test_run_cmd),
	};
	return cmocka_run_group_tests_name("agent_records", tests, NULL, NULL);
}
