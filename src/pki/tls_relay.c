/* tls_relay: a TLS connection presented as a plain socket. A thread moves
 * bytes between the TLS socket and one end of a socketpair, so code written
 * for file descriptors (the migration stream, post-copy's page requests, a
 * plaintext HTTP server) runs over TLS unchanged. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "pki/tls.h"

#define RELAY_BUF (64 * 1024)

struct relay {
	SSL *ssl;
	int tls_fd, plain_fd;
	/* tls -> plain and plain -> tls, each a pending slice [off, len). */
	unsigned char in[RELAY_BUF], out[RELAY_BUF];
	size_t in_off, in_len, out_off, out_len;
};

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void *relay_run(void *arg)
{
	struct relay *r = arg;
	int tls_eof = 0, plain_eof = 0, tls_want_write = 0;
	for (;;) {
		/* TLS -> plain: decrypt while there is room (SSL may hold
		 * decrypted bytes that poll cannot see). */
		while (!tls_eof && r->in_len == 0) {
			int n = SSL_read(r->ssl, r->in, sizeof(r->in));
			if (n > 0) {
				r->in_off = 0;
				r->in_len = (size_t)n;
				break;
			}
			int e = SSL_get_error(r->ssl, n);
			if (e == SSL_ERROR_WANT_READ)
				break;
			if (e == SSL_ERROR_WANT_WRITE) {
				tls_want_write = 1;
				break;
			}
			tls_eof = 1;    /* closed, or broken */
		}
		if (r->in_len) {
			ssize_t w = write(r->plain_fd, r->in + r->in_off, r->in_len);
			if (w > 0) {
				r->in_off += (size_t)w;
				r->in_len -= (size_t)w;
				continue;
			}
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				break;  /* our side is gone */
		} else if (tls_eof) {
			shutdown(r->plain_fd, SHUT_WR);
		}
		/* plain -> TLS. */
		if (!plain_eof && r->out_len == 0) {
			ssize_t n = read(r->plain_fd, r->out, sizeof(r->out));
			if (n > 0) {
				r->out_off = 0;
				r->out_len = (size_t)n;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				plain_eof = 1;
				SSL_shutdown(r->ssl);
			}
		}
		if (r->out_len) {
			int n = SSL_write(r->ssl, r->out + r->out_off, (int)r->out_len);
			if (n > 0) {
				r->out_off += (size_t)n;
				r->out_len -= (size_t)n;
				tls_want_write = 0;
				continue;
			}
			int e = SSL_get_error(r->ssl, n);
			if (e == SSL_ERROR_WANT_WRITE)
				tls_want_write = 1;
			else if (e != SSL_ERROR_WANT_READ)
				break;
		}
		if (tls_eof && plain_eof)
			break;
		if (SSL_pending(r->ssl) && !r->in_len)
			continue;
		struct pollfd p[2] = {
			{ .fd = r->tls_fd, .events = (short)((!tls_eof && !r->in_len ? POLLIN : 0) |
							     (r->out_len || tls_want_write ? POLLOUT : 0)) },
			{ .fd = r->plain_fd, .events = (short)((r->in_len ? POLLOUT : 0) |
							       (!plain_eof && !r->out_len ? POLLIN : 0)) },
		};
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		if ((p[1].revents & (POLLHUP | POLLERR)) && !(p[1].revents & POLLIN) && r->in_len)
			break;
	}
	SSL_free(r->ssl);
	close(r->tls_fd);
	close(r->plain_fd);
	free(r);
	return NULL;
}

int tls_relay_fd(SSL *ssl, int tls_fd, int plain_fd, char *err, size_t errlen)
{
	struct relay *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->ssl = ssl;
	r->tls_fd = tls_fd;
	r->plain_fd = plain_fd;
	set_nonblock(tls_fd);
	set_nonblock(plain_fd);
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &at, relay_run, r);
	pthread_attr_destroy(&at);
	if (rc) {
		free(r);
		snprintf(err, errlen, "cannot start the TLS relay thread");
		return -1;
	}
	return 0;
}

int tls_relay_start(SSL *ssl, int tls_fd, char *err, size_t errlen)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		snprintf(err, errlen, "cannot set up the TLS relay: %s", strerror(errno));
		return -1;
	}
	if (tls_relay_fd(ssl, tls_fd, sv[1], err, errlen)) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	return sv[0];
}

int tls_wrap_fd(const char *dir, int fd, int server, char *err, size_t errlen)
{
	SSL_CTX *ctx = tls_ctx_load(dir, server, err, errlen);
	if (!ctx) {
		close(fd);
		return -1;
	}
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	SSL *ssl = tls_handshake(ctx, fd, server, err, errlen);
	SSL_CTX_free(ctx);      /* the SSL keeps its own reference */
	if (!ssl) {
		close(fd);
		return -1;
	}
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int plain = tls_relay_start(ssl, fd, err, errlen);
	if (plain < 0) {
		SSL_free(ssl);
		close(fd);
	}
	return plain;
}
