/* The migration channel: parsing tcp:HOST:PORT, listening and connecting,
 * the shared key, and the handshake in which each end proves it holds the
 * key (HMAC-SHA256 over both ends' fresh nonces) before any VM state is
 * sent or read. Protocol: docs/MIGRATION.md. */
#ifndef TERN_MIG_CHANNEL_H
#define TERN_MIG_CHANNEL_H
#include <stddef.h>
#include <stdint.h>

#define MIG_KEY_MIN 16
#define MIG_KEY_MAX 4096
#define MIG_HANDSHAKE_TIMEOUT_MS 10000   /* the whole handshake, not per read */
#define MIG_STALL_TIMEOUT_MS 30000       /* afterwards: longest silence in the stream */
#define MIG_MAX_BAD_PEERS 16             /* a destination gives up after this many */

struct mig_key {
	uint8_t bytes[MIG_KEY_MAX];
	size_t len;
};

/* Reads the whole file as the key (at least MIG_KEY_MIN bytes). */
int mig_key_load(const char *path, struct mig_key *k, char *err, size_t errlen);

/* "tcp:HOST:PORT" or "tcp:[V6ADDR]:PORT"; HOST may be empty (any). */
int mig_parse_tcp(const char *uri, char *host, size_t hostlen, char *port, size_t portlen,
		  char *err, size_t errlen);

/* A listening socket (SO_REUSEADDR), or -1 with err. */
int mig_listen(const char *host, const char *port, char *err, size_t errlen);
/* A connected socket, giving up after timeout_ms, or -1 with err. */
int mig_connect(const char *host, const char *port, int timeout_ms, char *err, size_t errlen);

/* The two halves of the handshake. Both return 0 when the peer proved the
 * key, or -1 with a one-line reason (wrong key, not a tern peer, timeout,
 * closed). The handshake must complete within MIG_HANDSHAKE_TIMEOUT_MS;
 * after it, reads and writes on fd time out after MIG_STALL_TIMEOUT_MS. */
int mig_handshake_source(int fd, const struct mig_key *k, char *err, size_t errlen);
int mig_handshake_dest(int fd, const struct mig_key *k, char *err, size_t errlen);

/* Exact-length I/O on a socket; -1 on error or EOF. */
int mig_write_all(int fd, const void *p, size_t n);
int mig_read_all(int fd, void *p, size_t n);
#endif
