/* Readiness probes: a text in a console log, a TCP port that accepts
 * (gate.h). */
#define _GNU_SOURCE
#include "cluster/gate.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

bool gate_file_contains(const char *path, const char *text)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t tl = strlen(text), cap = 1 << 16, have = 0;
	char *buf = malloc(cap);
	bool found = false;
	while (buf && !found) {
		size_t n = fread(buf + have, 1, cap - have, f);
		if (!n)
			break;
		have += n;
		found = memmem(buf, have, text, tl) != NULL;
		/* Keep the tail that may start a match across reads. */
		if (!found && have > tl) {
			memmove(buf, buf + have - tl, tl);
			have = tl;
		}
	}
	free(buf);
	fclose(f);
	return found;
}

bool gate_tcp_accepts(const char *host, int port)
{
	char ps[16];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(host, ps, &hints, &ai))
		return false;
	bool ok = false;
	for (struct addrinfo *a = ai; a && !ok; a = a->ai_next) {
		int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			ok = true;
		} else if (errno == EINPROGRESS) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			int e = 0;
			socklen_t el = sizeof(e);
			ok = poll(&pf, 1, 300) == 1 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) && !e;
		}
		close(fd);
	}
	freeaddrinfo(ai);
	return ok;
}
