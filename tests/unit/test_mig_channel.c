/* Migration channel tests: tcp: address parsing, key files, and the
 * handshake over a socketpair: the same key passes both ways; a wrong key,
 * a peer that is not tern, or a peer that hangs up is refused with a reason. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "migration/channel.h"

static void test_parse_tcp(void **state)
{
	(void)state;
	char h[64], p[16], e[256];
	assert_int_equal(mig_parse_tcp("tcp:127.0.0.1:4444", h, sizeof(h), p, sizeof(p), e, sizeof(e)), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_string_equal(p, "4444");
	assert_int_equal(mig_parse_tcp("tcp::4444", h, sizeof(h), p, sizeof(p), e, sizeof(e)), 0);
	assert_string_equal(h, "");
	assert_int_equal(mig_parse_tcp("tcp:[::1]:80", h, sizeof(h), p, sizeof(p), e, sizeof(e)), 0);
	assert_string_equal(h, "::1");
	assert_int_equal(mig_parse_tcp("tcp:host", h, sizeof(h), p, sizeof(p), e, sizeof(e)), -1);
	assert_non_null(strstr(e, "no port"));
	assert_int_equal(mig_parse_tcp("tcp:host:0", h, sizeof(h), p, sizeof(p), e, sizeof(e)), -1);
	assert_int_equal(mig_parse_tcp("tcp:host:70000", h, sizeof(h), p, sizeof(p), e, sizeof(e)), -1);
	assert_int_equal(mig_parse_tcp("tcp:host:12x", h, sizeof(h), p, sizeof(p), e, sizeof(e)), -1);
	assert_int_equal(mig_parse_tcp("udp:host:1", h, sizeof(h), p, sizeof(p), e, sizeof(e)), -1);
	assert_int_equal(mig_parse_tcp("tcp:[::1:80", h, sizeof(h), p, sizeof(p), e, sizeof(e)), -1);
}

static char *write_tmp(const char *content, size_t n)
{
	static char path[64];
	strcpy(path, "/tmp/tern-key-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, n), (ssize_t)n);
	close(fd);
	return path;
}

static void test_key_files(void **state)
{
	(void)state;
	struct mig_key k;
	char e[256];
	assert_int_equal(mig_key_load("/nonexistent/key", &k, e, sizeof(e)), -1);
	assert_non_null(strstr(e, "cannot open"));
	char *p = write_tmp("short", 5);
	assert_int_equal(mig_key_load(p, &k, e, sizeof(e)), -1);
	assert_non_null(strstr(e, "too short"));
	unlink(p);
	p = write_tmp("0123456789abcdef0123", 20);
	assert_int_equal(mig_key_load(p, &k, e, sizeof(e)), 0);
	assert_int_equal(k.len, 20);
	unlink(p);
}

struct side {
	int fd;
	struct mig_key key;
	int rc;
	char err[256];
};

static void *dest_thread(void *arg)
{
	struct side *s = arg;
	s->rc = mig_handshake_dest(s->fd, &s->key, s->err, sizeof(s->err));
	return NULL;
}

static void run_pair(const char *ksrc, const char *kdst, struct side *src, struct side *dst)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(src, 0, sizeof(*src));
	memset(dst, 0, sizeof(*dst));
	src->fd = sv[0];
	dst->fd = sv[1];
	src->key.len = strlen(ksrc);
	memcpy(src->key.bytes, ksrc, src->key.len);
	dst->key.len = strlen(kdst);
	memcpy(dst->key.bytes, kdst, dst->key.len);
	pthread_t t;
	pthread_create(&t, NULL, dest_thread, dst);
	src->rc = mig_handshake_source(src->fd, &src->key, src->err, sizeof(src->err));
	if (src->rc)
		shutdown(src->fd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
}

static void test_same_key(void **state)
{
	(void)state;
	struct side s, d;
	run_pair("correct horse battery staple", "correct horse battery staple", &s, &d);
	assert_int_equal(s.rc, 0);
	assert_int_equal(d.rc, 0);
}

static void test_wrong_key(void **state)
{
	(void)state;
	struct side s, d;
	run_pair("correct horse battery staple", "correct horse battery stapl3", &s, &d);
	assert_int_equal(s.rc, -1);
	assert_int_equal(d.rc, -1);
	assert_non_null(strstr(s.err, "wrong migration key"));
	assert_non_null(strstr(d.err, "does not hold the migration key"));
}

static void test_not_tern(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char junk[200];
	memset(junk, 'G', sizeof(junk));
	assert_int_equal(write(sv[1], junk, sizeof(junk)), (ssize_t)sizeof(junk));
	struct mig_key k = { .len = 16 };
	char e[256];
	assert_int_equal(mig_handshake_source(sv[0], &k, e, sizeof(e)), -1);
	assert_non_null(strstr(e, "not a tern"));
	close(sv[0]);
	close(sv[1]);
}

static void test_peer_hangs_up(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	struct mig_key k = { .len = 16 };
	char e[256];
	assert_int_equal(mig_handshake_dest(sv[0], &k, e, sizeof(e)), -1);
	assert_non_null(strstr(e, "migration handshake"));
	close(sv[0]);
}

static void test_tcp_loopback(void **state)
{
	(void)state;
	char e[256];
	int l = mig_listen("127.0.0.1", "0", e, sizeof(e));
	assert_true(l >= 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	assert_int_equal(getsockname(l, (struct sockaddr *)&ss, &sl), 0);
	char port[16];
	snprintf(port, sizeof(port), "%u", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	int c = mig_connect("127.0.0.1", port, 2000, e, sizeof(e));
	assert_true(c >= 0);
	int a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(mig_write_all(c, "ping", 4), 0);
	char buf[4];
	assert_int_equal(mig_read_all(a, buf, 4), 0);
	assert_memory_equal(buf, "ping", 4);
	close(a);
	close(c);
	close(l);
	/* Nobody listens on a just-closed port: a clear error. */
	assert_int_equal(mig_connect("127.0.0.1", port, 2000, e, sizeof(e)), -1);
	assert_non_null(strstr(e, "cannot connect"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_tcp),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_same_key),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_not_tern),
		cmocka_unit_test(test_peer_hangs_up),
		cmocka_unit_test(test_tcp_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
