/* PKI and TLS tests: a CA and host certificates are made with safe modes
 * and the right names; two hosts of one CA complete a mutual TLS handshake
 * and exchange bytes; a host of another CA is refused on both ends, as is a
 * peer without a certificate; nothing is overwritten. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/ssl.h>
#include "pki/pki.h"
#include "pki/tls.h"

struct fixture {
	char root[64];
	char ca_a[128], ca_b[128], h1[128], h2[128], h3[128];
};

static int setup(void **state)
{
	struct fixture *fp = calloc(1, sizeof *fp);
	if (!fp)
		return -1;
	struct fixture f = { 0 };
	char err[512];
	snprintf(f.root, sizeof f.root, "/tmp/tern-test-pki-XXXXXX");
	if (!mkdtemp(f.root))
		return -1;
	snprintf(f.ca_a, sizeof f.ca_a, "%s/ca-a", f.root);
	snprintf(f.ca_b, sizeof f.ca_b, "%s/ca-b", f.root);
	snprintf(f.h1, sizeof f.h1, "%s/h1", f.root);
	snprintf(f.h2, sizeof f.h2, "%s/h2", f.root);
	snprintf(f.h3, sizeof f.h3, "%s/h3", f.root);
	const char *ips[] = { "127.0.0.1", "::1" };
	struct pki_host_opts o1 = { .name = "h1", .ips = ips, .n_ips = 2 };
	struct pki_host_opts o2 = { .name = "h2" };
	struct pki_host_opts o3 = { .name = "h3" };
	if (pki_ca_init(f.ca_a, "CA A", 0, err, sizeof err) ||
	    pki_ca_init(f.ca_b, "CA B", 0, err, sizeof err) ||
	    pki_host_issue(f.ca_a, &o1, f.h1, err, sizeof err) ||
	    pki_host_issue(f.ca_a, &o2, f.h2, err, sizeof err) ||
	    pki_host_issue(f.ca_b, &o3, f.h3, err, sizeof err)) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	*fp = f;
	*state = fp;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
	int rc = system(cmd) == 0 ? 0 : -1;
	free(f);
	return rc;
}

static mode_t mode_of(const char *dir, const char *name)
{
	char p[256];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return stat(p, &st) ? (mode_t)-1 : (st.st_mode & 0777);
}

static void test_files_and_modes(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(mode_of(f->ca_a, PKI_CA_KEY), 0600);
	assert_int_equal(mode_of(f->h1, PKI_HOST_KEY), 0600);
	assert_int_equal(mode_of(f->h1, PKI_HOST_CERT), 0644);
	assert_int_equal(mode_of(f->h1, PKI_CA_CERT), 0644);

	char buf[4096], err[512], crt[256], ca[256];
	snprintf(crt, sizeof crt, "%s/%s", f->h1, PKI_HOST_CERT);
	snprintf(ca, sizeof ca, "%s/%s", f->ca_a, PKI_CA_CERT);
	assert_int_equal(pki_describe(crt, ca, buf, sizeof buf, err, sizeof err), 0);
	assert_non_null(strstr(buf, "CN = h1"));
	assert_non_null(strstr(buf, "DNS:h1"));
	assert_non_null(strstr(buf, "IP Address:127.0.0.1"));
	/* Another CA does not vouch for it. */
	snprintf(ca, sizeof ca, "%s/%s", f->ca_b, PKI_CA_CERT);
	assert_int_not_equal(pki_describe(crt, ca, buf, sizeof buf, err, sizeof err), 0);
	assert_non_null(strstr(err, "not signed by"));
}

static void test_refusals(void **state)
{
	struct fixture *f = *state;
	char err[512];
	/* A CA is never made twice over, a host key never overwritten. */
	assert_int_equal(pki_ca_init(f->ca_a, NULL, 0, err, sizeof err), -EEXIST);
	struct pki_host_opts o1 = { .name = "h1" };
	assert_int_equal(pki_host_issue(f->ca_a, &o1, f->h1, err, sizeof err), -EEXIST);
	/* Names that would change the meaning of the SAN list. */
	const char *bad_ip[] = { "1.2.3.4,DNS:evil" };
	struct pki_host_opts ob = { .name = "x", .ips = bad_ip, .n_ips = 1 };
	char out[256];
	snprintf(out, sizeof out, "%s/bad", f->root);
	assert_int_equal(pki_host_issue(f->ca_a, &ob, out, err, sizeof err), -EINVAL);
	struct pki_host_opts on = { .name = "a,DNS:b" };
	assert_int_equal(pki_host_issue(f->ca_a, &on, out, err, sizeof err), -EINVAL);
	/* A folder that is no CA. */
	assert_int_not_equal(pki_host_issue(f->h1, &o1, out, err, sizeof err), 0);
}

struct server_arg {
	const char *dir;
	int fd;
	int ok;
	char err[512];
	char got[16];
};

static void *server_main(void *p)
{
	struct server_arg *a = p;
	SSL_CTX *ctx = tls_ctx_load(a->dir, 1, a->err, sizeof a->err);
	SSL *ssl = ctx ? tls_handshake(ctx, a->fd, 1, a->err, sizeof a->err) : NULL;
	if (ssl) {
		int n = SSL_read(ssl, a->got, sizeof a->got - 1);
		if (n > 0) {
			a->got[n] = 0;
			a->ok = SSL_write(ssl, "pong", 4) == 4;
		} else {
			tls_error(ssl, "read", a->err, sizeof a->err);
		}
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
	close(a->fd);
	return NULL;
}

/* Handshake between a server with server_dir and a client with client_dir
 * (NULL: a client without a certificate); returns 1 when "ping"/"pong"
 * crossed both ways. */
static int exchange(const char *server_dir, const char *client_dir, char *cerr, size_t cerrlen)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct server_arg a = { .dir = server_dir, .fd = sv[0] };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, server_main, &a), 0);
	int ok = 0;
	SSL_CTX *ctx;
	if (client_dir) {
		ctx = tls_ctx_load(client_dir, 0, cerr, cerrlen);
	} else {
		ctx = SSL_CTX_new(TLS_client_method());
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	assert_non_null(ctx);
	SSL *ssl = tls_handshake(ctx, sv[1], 0, cerr, cerrlen);
	if (ssl) {
		char buf[8] = { 0 };
		/* TLS 1.3: the server judges the client's certificate after the
		 * client's handshake ends, so a refusal shows on the first read. */
		if (SSL_write(ssl, "ping", 4) == 4 && SSL_read(ssl, buf, 4) == 4)
			ok = !strcmp(buf, "pong");
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
	shutdown(sv[1], SHUT_RDWR);
	pthread_join(t, NULL);
	close(sv[1]);
	return ok && a.ok && !strcmp(a.got, "ping");
}

static void test_same_ca_talks(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	assert_true(exchange(f->h1, f->h2, err, sizeof err));
	assert_true(exchange(f->h2, f->h1, err, sizeof err));
}

static void test_other_ca_refused(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	/* A client of CA B refuses a server of CA A, with the reason. */
	assert_false(exchange(f->h1, f->h3, err, sizeof err));
	assert_non_null(strstr(err, "certificate"));
	/* A server of CA B: the CA-A client refuses it in the handshake. */
	err[0] = 0;
	assert_false(exchange(f->h3, f->h1, err, sizeof err));
	assert_non_null(strstr(err, "refused"));
	/* A client with no certificate at all is refused by the server. */
	assert_false(exchange(f->h1, NULL, err, sizeof err));
}

static void test_missing_files(void **state)
{
	struct fixture *f = *state;
	char err[512];
	assert_null(tls_ctx_load(f->ca_a, 1, err, sizeof err));   /* a CA folder has no host.crt */
	assert_non_null(strstr(err, "host certificate"));
	assert_null(tls_ctx_load("/nonexistent", 0, err, sizeof err));
}

int main(void)
{
	/* As in tern and ternd: a peer that hung up is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files_and_modes),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_same_ca_talks),
		cmocka_unit_test(test_other_ca_refused),
		cmocka_unit_test(test_missing_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
