/* ternd's HTTPS: a TLS 1.3 front end on the --listen address (src/pki/tls.h,
 * the host folder given by --tls-dir) relaying each connection in clear to
 * civetweb on a private loopback port. Debian's civetweb 1.15 cannot do TLS
 * itself with OpenSSL 3 (it dlopens libssl with the 1.1 API and crashes). A
 * client certificate is optional (browsers, the CLI) but, when presented,
 * must come from the cluster CA, or the handshake fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/ssl.h>
#include "agent/agent.h"
#include "pki/tls.h"

struct front_conn {
	struct agent *a;
	int fd;
};

static int backend_connect(int port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST }, *ai;
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	if (getaddrinfo("127.0.0.1", p, &hints, &ai))
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static void *conn_run(void *arg)
{
	struct front_conn *c = arg;
	struct agent *a = c->a;
	char err[512];
	struct timeval tv = { 10, 0 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	SSL *ssl = tls_handshake(a->tls_ctx, c->fd, 1, err, sizeof(err));
	if (!ssl) {
		fprintf(stderr, "ternd: https: a client was refused: %s\n", err);
		close(c->fd);
		free(c);
		return NULL;
	}
	tv.tv_sec = 0;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int b = backend_connect(a->http_backend_port);
	if (b < 0 || tls_relay_fd(ssl, c->fd, b, err, sizeof(err))) {
		if (b >= 0)
			close(b);
		SSL_free(ssl);
		close(c->fd);
	}
	free(c);
	return NULL;
}

static void *accept_loop(void *arg)
{
	struct agent *a = arg;
	for (;;) {
		int fd = accept4(a->tls_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			return NULL;    /* shut down */
		}
		struct front_conn *c = malloc(sizeof(*c));
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (c) {
			c->a = a;
			c->fd = fd;
		}
		if (!c || pthread_create(&t, &at, conn_run, c)) {
			close(fd);
			free(c);
		}
		pthread_attr_destroy(&at);
	}
}

int agent_tls_load(struct agent *a, char *err, size_t errlen)
{
	a->tls_ctx = tls_ctx_load(a->tls_dir, 1, err, errlen);
	if (!a->tls_ctx)
		return -1;
	/* Browsers and the CLI have no certificate; a presented one must
	 * verify against the CA. */
	SSL_CTX_set_verify(a->tls_ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

int agent_tls_front_start(struct agent *a, char *err, size_t errlen)
{
	char host[128], port[16];
	const char *colon = strrchr(a->listen, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - a->listen), a->listen);
	snprintf(port, sizeof(port), "%s", colon + 1);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	if (getaddrinfo(host, port, &hints, &ai)) {
		snprintf(err, errlen, "cannot serve on %s: unknown address", a->listen);
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		snprintf(err, errlen, "cannot serve on %s: %s", a->listen, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	a->tls_fd = fd;
	if (pthread_create(&a->tls_thread, NULL, accept_loop, a)) {
		close(fd);
		a->tls_fd = -1;
		snprintf(err, errlen, "cannot start the HTTPS thread");
		return -1;
	}
	return 0;
}

void agent_tls_front_stop(struct agent *a)
{
	if (a->tls_fd < 0)
		return;
	shutdown(a->tls_fd, SHUT_RDWR);
	pthread_join(a->tls_thread, NULL);
	close(a->tls_fd);
	a->tls_fd = -1;
}

int agent_free_loopback_port(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST }, *ai;
	if (getaddrinfo("127.0.0.1", "0", &hints, &ai))
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
	if (fd >= 0 && !bind(fd, ai->ai_addr, ai->ai_addrlen) &&
	    !getsockname(fd, (struct sockaddr *)&ss, &len)) {
		char p[16];
		if (!getnameinfo((struct sockaddr *)&ss, len, NULL, 0, p, sizeof(p), NI_NUMERICSERV))
			port = atoi(p);
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return port;
}
