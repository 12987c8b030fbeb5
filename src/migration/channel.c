/* Migration channel: sockets, the shared key and the mutual-authentication
 * handshake (see channel.h and docs/MIGRATION.md). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "migration/channel.h"

#define HS_MAGIC "TERNMIG1"
#define HS_VERSION 1u
#define NONCE_LEN 32
#define MAC_LEN 32

int mig_key_load(const char *path, struct mig_key *k, char *err, size_t errlen)
{
	/* O_NONBLOCK: a FIFO planted as the key must not hang the open. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open migration key '%s': %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		/* As ssh does with private keys: a secret others can read is
		 * no longer a secret. */
		if (!S_ISREG(st.st_mode))
			snprintf(err, errlen, "migration key '%s' is not a regular file", path);
		else
			snprintf(err, errlen, "migration key '%s' is accessible by others (mode %04o); "
				 "it must be readable by its owner only (chmod 600 '%s')", path,
				 (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	ssize_t n = read(fd, k->bytes, sizeof(k->bytes));
	char extra;
	ssize_t more = n == (ssize_t)sizeof(k->bytes) ? read(fd, &extra, 1) : 0;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cannot read migration key '%s': %s", path, strerror(errno));
		return -1;
	}
	if (more > 0) {
		snprintf(err, errlen, "migration key '%s' is longer than %d bytes", path, MIG_KEY_MAX);
		return -1;
	}
	if (n < MIG_KEY_MIN) {
		snprintf(err, errlen, "migration key '%s' is too short (%zd bytes; at least %d)",
			 path, n, MIG_KEY_MIN);
		return -1;
	}
	k->len = (size_t)n;
	return 0;
}

int mig_parse_tcp(const char *uri, char *host, size_t hostlen, char *port, size_t portlen,
		  char *err, size_t errlen)
{
	if (strncmp(uri, "tcp:", 4)) {
		snprintf(err, errlen, "'%s' is not a tcp:HOST:PORT address", uri);
		return -1;
	}
	const char *h = uri + 4, *colon;
	size_t hl;
	if (*h == '[') {
		const char *close = strchr(h, ']');
		if (!close || close[1] != ':') {
			snprintf(err, errlen, "'%s': bad [IPv6]:PORT", uri);
			return -1;
		}
		hl = (size_t)(close - h - 1);
		h++;
		colon = close + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon) {
			snprintf(err, errlen, "'%s' has no port (tcp:HOST:PORT)", uri);
			return -1;
		}
		hl = (size_t)(colon - h);
	}
	const char *p = colon + 1;
	char *end;
	long pn = strtol(p, &end, 10);
	if (!*p || *end || pn < 1 || pn > 65535) {
		snprintf(err, errlen, "'%s': port must be 1..65535", uri);
		return -1;
	}
	if (hl >= hostlen || strlen(p) >= portlen) {
		snprintf(err, errlen, "'%s': address too long", uri);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	strcpy(port, p);
	return 0;
}

/* About one RAM batch in flight each way. Larger buffers do not make the
 * stream faster (the receiver's page faults bound it) but hide a backlog:
 * with 8 MiB buffers the source measured its rate into the buffers, switched
 * over too early, and the downtime then included draining tens of MiB
 * (bench/migrate.py small case: 110-150 ms; 23-43 ms with 1 MiB). */
static void stream_buffers(int fd)
{
	int sz = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static struct addrinfo *resolve(const char *host, const char *port, int passive, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = passive ? AI_PASSIVE : 0 }, *res = NULL;
	int r = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (r) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(r));
		return NULL;
	}
	return res;
}

int mig_listen(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo *res = resolve(host, port, 1, err, errlen);
	if (!res)
		return -1;
	int fd = -1, e = 0;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		stream_buffers(fd);     /* inherited by the accepted socket */
		if (!bind(fd, a->ai_addr, a->ai_addrlen) && !listen(fd, 1))
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "cannot listen on %s:%s: %s", *host ? host : "*", port, strerror(e));
	return fd;
}

int mig_connect(const char *host, const char *port, int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo *res = resolve(host, port, 0, err, errlen);
	if (!res)
		return -1;
	int fd = -1, e = ECONNREFUSED;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (!connect(fd, a->ai_addr, a->ai_addrlen) || errno == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			if (poll(&p, 1, timeout_ms) == 1 &&
			    !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) && !soerr) {
				fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
				break;
			}
			e = soerr ? soerr : ETIMEDOUT;
		} else {
			e = errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(e));
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	stream_buffers(fd);
	return fd;
}

int mig_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int mig_read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		ssize_t r = recv(fd, b, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Exactly n bytes before an absolute deadline: a peer that trickles a byte
 * at a time cannot stretch the handshake (a per-read timeout would let it). */
static int read_by(int fd, void *p, size_t n, int64_t deadline)
{
	uint8_t *b = p;
	while (n) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			errno = r ? errno : ETIMEDOUT;
			return -1;
		}
		ssize_t k = recv(fd, b, n, MSG_DONTWAIT);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0) {
			errno = k ? errno : 0;
			return -1;
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* HMAC-SHA256(key, label | a | b) */
static int mac(const struct mig_key *k, const char *label, const uint8_t *a, const uint8_t *b,
	       uint8_t out[MAC_LEN])
{
	uint8_t msg[4 + 2 * NONCE_LEN];
	unsigned len = 0;
	memcpy(msg, label, 4);
	memcpy(msg + 4, a, NONCE_LEN);
	memcpy(msg + 4 + NONCE_LEN, b, NONCE_LEN);
	return HMAC(EVP_sha256(), k->bytes, (int)k->len, msg, sizeof(msg), out, &len) && len == MAC_LEN
	       ? 0 : -1;
}

struct hello {
	char magic[8];
	uint8_t version[4];          /* little-endian */
	uint8_t nonce[NONCE_LEN];
};

static int hello_ok(const struct hello *h, char *err, size_t errlen)
{
	if (memcmp(h->magic, HS_MAGIC, 8)) {
		snprintf(err, errlen, "the peer is not a tern migration endpoint");
		return -1;
	}
	uint32_t v = h->version[0] | h->version[1] << 8 | h->version[2] << 16 | (uint32_t)h->version[3] << 24;
	if (v != HS_VERSION) {
		snprintf(err, errlen, "the peer speaks migration protocol %u, this tern %u", v, HS_VERSION);
		return -1;
	}
	return 0;
}

static int make_hello(struct hello *h)
{
	memcpy(h->magic, HS_MAGIC, 8);
	h->version[0] = HS_VERSION & 0xff;
	h->version[1] = h->version[2] = h->version[3] = 0;
	return RAND_bytes(h->nonce, NONCE_LEN) == 1 ? 0 : -1;
}

static int io_fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "migration handshake: %s: %s", what,
		 errno == EAGAIN || errno == EWOULDBLOCK || errno == ETIMEDOUT ? "timed out" :
		 errno ? strerror(errno) : "connection closed");
	return -1;
}

/* Destination: send hello; read the source's hello and MAC; check it; send
 * a verdict byte and, if accepted, our own MAC. */
int mig_handshake_dest(int fd, const struct mig_key *k, char *err, size_t errlen)
{
	struct hello mine, theirs;
	uint8_t their_mac[MAC_LEN], want[MAC_LEN], reply[1 + MAC_LEN];
	int64_t deadline = now_ms() + MIG_HANDSHAKE_TIMEOUT_MS;
	set_timeouts(fd, MIG_HANDSHAKE_TIMEOUT_MS);
	errno = 0;
	if (make_hello(&mine)) {
		snprintf(err, errlen, "migration handshake: no random nonce available");
		return -1;
	}
	if (mig_write_all(fd, &mine, sizeof(mine)))
		return io_fail(err, errlen, "sending");
	if (read_by(fd, &theirs, sizeof(theirs), deadline) || read_by(fd, their_mac, MAC_LEN, deadline))
		return io_fail(err, errlen, "reading the source's proof");
	if (hello_ok(&theirs, err, errlen))
		return -1;
	if (mac(k, "src:", mine.nonce, theirs.nonce, want) ||
	    CRYPTO_memcmp(want, their_mac, MAC_LEN)) {
		reply[0] = 1;
		mig_write_all(fd, reply, 1);
		snprintf(err, errlen, "migration refused: the source does not hold the migration key");
		return -1;
	}
	reply[0] = 0;
	if (mac(k, "dst:", theirs.nonce, mine.nonce, reply + 1) || mig_write_all(fd, reply, sizeof(reply)))
		return io_fail(err, errlen, "sending the proof");
	/* The stream has no pauses of its own: a peer silent this long is
	 * gone (or stalling on purpose). */
	set_timeouts(fd, MIG_STALL_TIMEOUT_MS);
	return 0;
}

int mig_handshake_source(int fd, const struct mig_key *k, char *err, size_t errlen)
{
	struct hello mine, theirs;
	uint8_t my_mac[MAC_LEN], want[MAC_LEN], reply[1 + MAC_LEN];
	int64_t deadline = now_ms() + MIG_HANDSHAKE_TIMEOUT_MS;
	set_timeouts(fd, MIG_HANDSHAKE_TIMEOUT_MS);
	errno = 0;
	if (read_by(fd, &theirs, sizeof(theirs), deadline))
		return io_fail(err, errlen, "reading the destination's greeting");
	if (hello_ok(&theirs, err, errlen))
		return -1;
	if (make_hello(&mine) || mac(k, "src:", theirs.nonce, mine.nonce, my_mac)) {
		snprintf(err, errlen, "migration handshake: cannot compute the proof");
		return -1;
	}
	if (mig_write_all(fd, &mine, sizeof(mine)) || mig_write_all(fd, my_mac, MAC_LEN))
		return io_fail(err, errlen, "sending the proof");
	if (read_by(fd, reply, 1, deadline))
		return io_fail(err, errlen, "reading the verdict");
	if (reply[0] != 0) {
		snprintf(err, errlen, "migration refused by the destination: wrong migration key");
		return -1;
	}
	if (read_by(fd, reply + 1, MAC_LEN, deadline))
		return io_fail(err, errlen, "reading the destination's proof");
	if (mac(k, "dst:", mine.nonce, theirs.nonce, want) || CRYPTO_memcmp(want, reply + 1, MAC_LEN)) {
		snprintf(err, errlen, "migration refused: the destination does not hold the migration key");
		return -1;
	}
	/* The stream has no pauses of its own: a peer silent this long is
	 * gone (or stalling on purpose). */
	set_timeouts(fd, MIG_STALL_TIMEOUT_MS);
	return 0;
}
