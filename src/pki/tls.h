/* tls: mutually authenticated TLS contexts from a host folder made by
 * `tern pki host` (ca.crt, host.crt, host.key). Both ends present their host
 * certificate and verify the peer's against the cluster CA, so a peer with a
 * certificate from another CA is refused in the handshake, before any
 * state moves. */
#ifndef TERN_TLS_H
#define TERN_TLS_H
#include <stddef.h>
#include <openssl/ssl.h>

/* A context for a server (server != 0) or a client end, TLS 1.3 only,
 * loading dir/host.crt, dir/host.key and trusting only dir/ca.crt.
 * Returns NULL with a message in err. */
SSL_CTX *tls_ctx_load(const char *dir, int server, char *err, size_t errlen);

/* Run the handshake on a connected blocking socket (the process must
 * ignore SIGPIPE, as tern and ternd do). Returns the SSL or NULL
 * with the reason (certificate errors spelled out) in err. */
SSL *tls_handshake(SSL_CTX *ctx, int fd, int server, char *err, size_t errlen);

/* The OpenSSL error queue (and verify result, when ssl is given) as one
 * line appended to what; the queue is cleared. */
void tls_error(SSL *ssl, const char *what, char *err, size_t errlen);

/* tls_relay.c: a handshaken connection as a plain socket. The relay thread
 * owns ssl and tls_fd from here; the returned fd (or -1 with err) is the
 * caller's: closing it closes the TLS connection. */
int tls_relay_start(SSL *ssl, int tls_fd, char *err, size_t errlen);
/* The same between ssl and an existing plain_fd (both owned by the relay
 * from here, on success). 0 or -1 with err. */
int tls_relay_fd(SSL *ssl, int tls_fd, int plain_fd, char *err, size_t errlen);
/* Handshakes on connected fd with the host folder dir (server or client
 * end; the peer's certificate must come from dir's CA) and returns the
 * plain socket of a relay, or -1 with err; fd is consumed either way. */
int tls_wrap_fd(const char *dir, int fd, int server, char *err, size_t errlen);

#endif
