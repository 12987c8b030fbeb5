/* Migration endpoints (mig_uri.h): connect, listen, and the exec: child
 * started with posix_spawn (no fork in a threaded process), its signal
 * mask cleared (the VM blocks SIGINT/SIGTERM/SIGHUP for its signalfd). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "migration/channel.h"
#include "migration/mig_uri.h"

extern char **environ;

bool mig_uri_is_stream(const char *uri)
{
	static const char *const forms[] = { "tcp:", "unix:", "exec:", "fd:" };
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		size_t n = strlen(forms[i]);
		if (!strncmp(uri, forms[i], n) && uri[n])
			return true;
	}
	return false;
}

static int parse_fd(const char *uri, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	long n = strtol(uri + 3, &end, 10);
	if (errno || *end || end == uri + 3 || n < 0 || n > 65535) {
		snprintf(err, errlen, "'%s': fd: takes a descriptor number here (QMP's migrate also "
			 "takes a name given with getfd)", uri);
		return -1;
	}
	int type = 0;
	socklen_t tl = sizeof(type);
	if (getsockopt((int)n, SOL_SOCKET, SO_TYPE, &type, &tl) || type != SOCK_STREAM) {
		snprintf(err, errlen, "'%s': descriptor %ld is not a stream socket (tern's migration "
			 "talks both ways)", uri, n);
		return -1;
	}
	return (int)n;
}

static int unix_addr(const char *uri, struct sockaddr_un *sa, char *err, size_t errlen)
{
	const char *path = uri + 5;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		snprintf(err, errlen, "'%s': socket path longer than %zu bytes", uri, sizeof(sa->sun_path) - 1);
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

int mig_uri_check(const char *uri, char *err, size_t errlen)
{
	char host[256], port[16];
	struct sockaddr_un sa;
	if (!strncmp(uri, "tcp:", 4))
		return mig_parse_tcp(uri, host, sizeof(host), port, sizeof(port), err, errlen);
	if (!mig_uri_is_stream(uri)) {
		snprintf(err, errlen, "'%s': migration URIs are tcp:HOST:PORT, unix:PATH, exec:CMD or "
			 "fd:NAME (and file:PATH for a snapshot)", uri);
		return -1;
	}
	if (!strncmp(uri, "unix:", 5))
		return unix_addr(uri, &sa, err, errlen);
	if (!strncmp(uri, "fd:", 3))
		return parse_fd(uri, err, errlen) < 0 ? -1 : 0;
	return 0;
}

/* exec:CMD on one end of a socket pair; our end is returned. */
static int spawn_exec(const char *uri, pid_t *child, char *err, size_t errlen)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	char *argv[] = { "sh", "-c", (char *)(uri + 5), NULL };
	int r = posix_spawn(child, "/bin/sh", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	if (r) {
		close(sv[0]);
		*child = 0;
		snprintf(err, errlen, "cannot run '%s': %s", uri + 5, strerror(r));
		return -1;
	}
	return sv[0];
}

int mig_uri_connect(const char *uri, int timeout_ms, pid_t *child, char *err, size_t errlen)
{
	char host[256], port[16];
	struct sockaddr_un sa;
	*child = 0;
	if (mig_uri_check(uri, err, errlen))
		return -1;
	if (!strncmp(uri, "tcp:", 4)) {
		mig_parse_tcp(uri, host, sizeof(host), port, sizeof(port), err, errlen);
		return mig_connect(host, port, timeout_ms, err, errlen);
	}
	if (!strncmp(uri, "exec:", 5))
		return spawn_exec(uri, child, err, errlen);
	if (!strncmp(uri, "fd:", 3))
		return parse_fd(uri, err, errlen);
	unix_addr(uri, &sa, err, errlen);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen, "cannot connect to %s: %s", uri, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int mig_uri_listen(const char *uri, int *conn, pid_t *child, char *err, size_t errlen)
{
	char host[256], port[16];
	struct sockaddr_un sa;
	struct stat st;
	*conn = -1;
	*child = 0;
	if (mig_uri_check(uri, err, errlen))
		return -1;
	if (!strncmp(uri, "tcp:", 4)) {
		mig_parse_tcp(uri, host, sizeof(host), port, sizeof(port), err, errlen);
		return mig_listen(host, port, err, errlen);
	}
	if (!strncmp(uri, "exec:", 5)) {
		*conn = spawn_exec(uri, child, err, errlen);
		return -1;
	}
	if (!strncmp(uri, "fd:", 3)) {
		int fd = parse_fd(uri, err, errlen), listening = 0;
		socklen_t l = sizeof(listening);
		if (fd >= 0 && !getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) && listening)
			return fd;
		*conn = fd;
		return -1;
	}
	unix_addr(uri, &sa, err, errlen);
	if (!lstat(sa.sun_path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", sa.sun_path);
			return -1;
		}
		unlink(sa.sun_path);    /* a stale socket */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* Only this user may connect (the handshake still proves the key). */
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(sa.sun_path, 0600) ||
	    listen(fd, 1)) {
		snprintf(err, errlen, "cannot listen on %s: %s", uri, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

void mig_uri_done_listening(const char *uri)
{
	if (!strncmp(uri, "unix:", 5))
		unlink(uri + 5);
}

void mig_uri_reap(pid_t child)
{
	if (child <= 0)
		return;
	int st;
	for (int i = 0; i < 50; i++) {          /* up to 0.5 s to end on its own */
		if (waitpid(child, &st, WNOHANG) != 0)
			return;
		usleep(10000);
	}
	kill(child, SIGTERM);
	waitpid(child, &st, 0);
}
