/* Unit tests for the store: the same cases against the local back end (a
 * temporary directory) and against a real etcd started here on random
 * loopback ports with a temporary data dir (skipped when etcd is missing). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "store/store.h"

struct fixture {
	char dir[256];
	pid_t etcd;
	char url[64];
	struct store *s;
};

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

static void rm_rf(const char *dir)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int setup_local(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	snprintf(f->dir, sizeof(f->dir), "/tmp/tern-store-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->s = store_open(NULL, f->dir, err, sizeof(err));
	assert_non_null(f->s);
	*state = f;
	return 0;
}

static int setup_etcd(void **state)
{
	if (access("/usr/bin/etcd", X_OK)) {
		*state = NULL;
		return 0;
	}
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/tern-etcd-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	int cport = free_port(), pport = free_port();
	char data[300], lc[64], lp[64], ic[128];
	snprintf(data, sizeof(data), "%s/data", f->dir);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", cport);
	snprintf(lc, sizeof(lc), "http://127.0.0.1:%d", cport);
	snprintf(lp, sizeof(lp), "http://127.0.0.1:%d", pport);
	snprintf(ic, sizeof(ic), "default=%s", lp);
	f->etcd = fork();
	if (f->etcd == 0) {
		char log[300];
		snprintf(log, sizeof(log), "%s/etcd.log", f->dir);
		if (!freopen(log, "w", stderr) || !freopen(log, "a", stdout))
			_exit(127);
		execl("/usr/bin/etcd", "etcd", "--data-dir", data, "--listen-client-urls", lc,
		      "--advertise-client-urls", lc, "--listen-peer-urls", lp,
		      "--initial-advertise-peer-urls", lp, "--initial-cluster", ic, (char *)NULL);
		_exit(127);
	}
	char err[256];
	f->s = store_open(f->url, NULL, err, sizeof(err));
	assert_non_null(f->s);
	/* Ready once a read answers (etcd takes about a second). */
	for (int i = 0; i < 100; i++) {
		struct store_kv kv;
		if (store_get(f->s, "/ready", &kv) == -ENOENT)
			break;
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	store_close(f->s);
	if (f->etcd > 0) {
		kill(f->etcd, SIGTERM);
		waitpid(f->etcd, NULL, 0);
	}
	rm_rf(f->dir);
	free(f);
	return 0;
}

#define NEED_STORE(f) do { if (!(f)) { skip(); } } while (0)

static void test_put_get_list(void **state)
{
	struct fixture *f = *state;
	NEED_STORE(f);
	struct store *s = f->s;
	struct store_kv kv;
	assert_int_equal(store_get(s, "/t/a", &kv), -ENOENT);
	assert_int_equal(store_put(s, "/t/a", "{\"x\":1}", 0), 0);
	assert_int_equal(store_put(s, "/t/b/c d%", "two", 0), 0);
	assert_int_equal(store_put(s, "/u/a", "other", 0), 0);
	assert_int_equal(store_get(s, "/t/a", &kv), 0);
	assert_string_equal(kv.value, "{\"x\":1}");
	assert_int_equal(kv.version, 1);
	int64_t first = kv.mod_rev;
	store_kv_clear(&kv);
	assert_int_equal(store_put(s, "/t/a", "", 0), 0);
	assert_int_equal(store_get(s, "/t/a", &kv), 0);
	assert_string_equal(kv.value, "");
	assert_int_equal(kv.version, 2);
	assert_true(kv.mod_rev > first);
	store_kv_clear(&kv);

	struct store_kv *kvs;
	size_t n;
	int64_t rev;
	assert_int_equal(store_list(s, "/t/", &kvs, &n, &rev), 0);
	assert_int_equal(n, 2);
	assert_string_equal(kvs[0].key, "/t/a");
	assert_string_equal(kvs[1].key, "/t/b/c d%");
	assert_string_equal(kvs[1].value, "two");
	assert_true(rev >= kvs[1].mod_rev);
	store_kvs_free(kvs, n);

	assert_int_equal(store_del(s, "/t/a"), 0);
	assert_int_equal(store_get(s, "/t/a", &kv), -ENOENT);
}

static void test_cas(void **state)
{
	struct fixture *f = *state;
	NEED_STORE(f);
	struct store *s = f->s;
	struct store_kv kv;
	/* Create only if absent: the second creator loses. */
	assert_int_equal(store_cas(s, "/lock/vm1", 0, "a", 0), 0);
	assert_int_equal(store_cas(s, "/lock/vm1", 0, "b", 0), -ECANCELED);
	assert_int_equal(store_get(s, "/lock/vm1", &kv), 0);
	assert_string_equal(kv.value, "a");
	/* Update only at the revision read: a stale revision loses. */
	int64_t rev = kv.mod_rev;
	store_kv_clear(&kv);
	assert_int_equal(store_cas(s, "/lock/vm1", rev, "c", 0), 0);
	assert_int_equal(store_cas(s, "/lock/vm1", rev, "d", 0), -ECANCELED);
	assert_int_equal(store_get(s, "/lock/vm1", &kv), 0);
	assert_string_equal(kv.value, "c");
	/* Delete at a revision. */
	assert_int_equal(store_cas(s, "/lock/vm1", kv.mod_rev + 100, NULL, 0), -ECANCELED);
	assert_int_equal(store_cas(s, "/lock/vm1", kv.mod_rev, NULL, 0), 0);
	store_kv_clear(&kv);
	assert_int_equal(store_get(s, "/lock/vm1", &kv), -ENOENT);
}

struct racer {
	struct store *s;
	int won;
};

static void *race(void *p)
{
	struct racer *r = p;
	r->won = store_cas(r->s, "/race/x", 0, "me", 0) == 0;
	return NULL;
}

static void test_cas_race(void **state)
{
	struct fixture *f = *state;
	NEED_STORE(f);
	struct racer r[8];
	pthread_t t[8];
	for (int i = 0; i < 8; i++) {
		r[i] = (struct racer){ .s = f->s };
		pthread_create(&t[i], NULL, race, &r[i]);
	}
	int won = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		won += r[i].won;
	}
	assert_int_equal(won, 1);
}

static void test_lease(void **state)
{
	struct fixture *f = *state;
	NEED_STORE(f);
	struct store *s = f->s;
	struct store_kv kv;
	int64_t id;
	assert_int_equal(store_lease_grant(s, 2, &id), 0);
	assert_int_equal(store_put(s, "/hosts/h1", "up", id), 0);
	assert_int_equal(store_get(s, "/hosts/h1", &kv), 0);
	assert_int_equal(kv.lease, id);
	store_kv_clear(&kv);
	/* Kept alive past its TTL, the key stays. */
	for (int i = 0; i < 3; i++) {
		sleep(1);
		assert_int_equal(store_lease_keepalive(s, id), 0);
	}
	assert_int_equal(store_get(s, "/hosts/h1", &kv), 0);
	store_kv_clear(&kv);
	/* Left alone, it expires and takes the key along (etcd checks
	 * expiry every 500 ms or so; allow a few seconds). */
	int gone = 0;
	for (int i = 0; i < 60 && !gone; i++) {
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
		gone = store_get(s, "/hosts/h1", &kv) == -ENOENT;
		if (!gone)
			store_kv_clear(&kv);
	}
	assert_true(gone);
	assert_int_equal(store_lease_keepalive(s, id), -ENOENT);
	/* Revoke drops the keys at once. */
	assert_int_equal(store_lease_grant(s, 30, &id), 0);
	assert_int_equal(store_put(s, "/hosts/h2", "up", id), 0);
	assert_int_equal(store_lease_revoke(s, id), 0);
	assert_int_equal(store_get(s, "/hosts/h2", &kv), -ENOENT);
}

struct delayed {
	struct store *s;
};

static void *put_later(void *p)
{
	struct delayed *d = p;
	struct timespec ts = { 0, 300000000 };
	nanosleep(&ts, NULL);
	store_put(d->s, "/w/k", "v", 0);
	return NULL;
}

static void test_watch(void **state)
{
	struct fixture *f = *state;
	NEED_STORE(f);
	struct store *s = f->s;
	struct store_kv *kvs;
	size_t n;
	int64_t rev;
	assert_int_equal(store_list(s, "/w/", &kvs, &n, &rev), 0);
	store_kvs_free(kvs, n);
	/* Nothing changes: a timeout. */
	assert_int_equal(store_watch(s, "/w/", rev, 300), 0);
	/* A change while waiting wakes the watcher well before its timeout. */
	struct delayed d = { s };
	pthread_t t;
	pthread_create(&t, NULL, put_later, &d);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(store_watch(s, "/w/", rev, 5000), 1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_join(t, NULL);
	assert_true(b.tv_sec - a.tv_sec < 3);
	/* A change made before the watch began is not missed. */
	assert_int_equal(store_watch(s, "/w/", rev, 2000), 1);
}

static void test_unreachable(void **state)
{
	char err[256];
	struct store *s = store_open("http://127.0.0.1:1", NULL, err, sizeof(err));
	assert_non_null(s);
	struct store_kv kv;
	assert_int_equal(store_get(s, "/x", &kv), -ENOTCONN);
	assert_non_null(strstr(store_error(s), "127.0.0.1:1"));
	assert_int_equal(store_put(s, "/x", "y", 0), -ENOTCONN);
	store_close(s);
	assert_null(store_open("127.0.0.1:2379", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "http://"));
}

int main(void)
{
	const struct CMUnitTest local[] = {
		cmocka_unit_test_setup_teardown(test_put_get_list, setup_local, teardown),
		cmocka_unit_test_setup_teardown(test_cas, setup_local, teardown),
		cmocka_unit_test_setup_teardown(test_cas_race, setup_local, teardown),
		cmocka_unit_test_setup_teardown(test_lease, setup_local, teardown),
		cmocka_unit_test_setup_teardown(test_watch, setup_local, teardown),
	};
	const struct CMUnitTest etcd[] = {
		cmocka_unit_test(test_put_get_list),
		cmocka_unit_test(test_cas),
		cmocka_unit_test(test_cas_race),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_unreachable),
	};
	int rc = cmocka_run_group_tests_name("store_local", local, NULL, NULL);
	return rc | cmocka_run_group_tests_name("store_etcd", etcd, setup_etcd, teardown);
}
