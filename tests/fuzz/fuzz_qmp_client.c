/* libFuzzer harness for the QMP client the tern verbs use (tern list walks
 * every socket in a folder, so the server on the other end may be anyone):
 * a fake server sends the input as its greeting and replies, and the client
 * negotiates, runs a command and waits for an event. It must fail with a
 * message, never crash or hang (each wait is bounded). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "ctl/qmp_client.h"

struct server {
	int listen_fd;
	const uint8_t *data;
	size_t size;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	int fd = accept(s->listen_fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	for (size_t off = 0; off < s->size;) {
		ssize_t n = send(fd, s->data + off, s->size - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	char sink[4096];
	while (read(fd, sink, sizeof(sink)) > 0)
		;
	close(fd);
	return NULL;
}

static const char *socket_path(int *listen_fd)
{
	static char path[108];
	static int fd = -1;
	if (fd < 0) {
		snprintf(path, sizeof(path), "/tmp/tern-fuzz-qmp-client-%d.sock", (int)getpid());
		unlink(path);
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		strcpy(sa.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4))
			abort();
	}
	*listen_fd = fd;
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server s = { .data = data, .size = size };
	const char *path = socket_path(&s.listen_fd);
	pthread_t t;
	if (pthread_create(&t, NULL, serve, &s))
		return 0;
	char err[256];
	struct qmp_client_conn *c = qmp_client_open(path, 200, err, sizeof(err));
	if (c) {
		json_decref(qmp_client_execute(c, "query-status", NULL, err, sizeof(err)));
		qmp_client_wait_event(c, "SHUTDOWN", 50);
		qmp_client_close(c);
	}
	pthread_join(t, NULL);
	return 0;
}
