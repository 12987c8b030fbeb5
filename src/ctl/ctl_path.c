/* Control socket naming and liveness: the default directory per user, and a
 * connect() probe telling a running VM's socket from a stale one. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "ctl/ctl_path.h"

int ctl_default_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (geteuid() == 0)
		n = snprintf(buf, len, "/run/tern");
	else if (xdg && *xdg)
		n = snprintf(buf, len, "%s/tern", xdg);
	else
		n = snprintf(buf, len, "/tmp/tern-%u", (unsigned)geteuid());
	return n > 0 && (size_t)n < len ? 0 : -1;
}

int ctl_check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(dir, &st)) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot use control socket directory %s: %s", dir, strerror(errno));
		return -1;
	}
	/* Another user's folder, or one others can write into, would let them
	 * plant or swap sockets that our tools then trust. */
	if (!S_ISDIR(st.st_mode))
		snprintf(err, errlen, "control socket directory %s is not a directory", dir);
	else if (st.st_uid != geteuid())
		snprintf(err, errlen, "control socket directory %s belongs to uid %u, not to you (uid %u); "
			 "refusing to use it", dir, (unsigned)st.st_uid, (unsigned)geteuid());
	else if (st.st_mode & 022)
		snprintf(err, errlen, "control socket directory %s is writable by %s (mode %04o); "
			 "refusing to use it (chmod 700 it)", dir,
			 (st.st_mode & 002) ? "others" : "its group", (unsigned)(st.st_mode & 07777));
	else
		return 0;
	return -1;
}

int ctl_default_path(const char *name, int create, char *buf, size_t len, char *err, size_t errlen)
{
	char dir[200];
	if (ctl_default_dir(dir, sizeof(dir))) {
		snprintf(err, errlen, "no directory for control sockets");
		return -1;
	}
	if (create && mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create control socket directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (ctl_check_dir(dir, err, errlen))
		return -1;
	int n = snprintf(buf, len, "%s/%s.qmp", dir, name);
	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "control socket path for '%s' is too long", name);
		return -1;
	}
	return 0;
}

int ctl_socket_live(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return 0;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN;
	close(fd);
	return live;
}

int ctl_name_check(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);
	bool ok = n >= 1 && n <= CTL_NAME_MAX && isalnum((unsigned char)name[0]);
	for (size_t i = 0; ok && i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		ok = ch < 0x80 && (isalnum(ch) || ch == '-' || ch == '_' || ch == '.');
	}
	if (ok)
		return 0;
	/* Shown escaped: the name may be any bytes (not even UTF-8). */
	char shown[4 * CTL_NAME_MAX + 8];
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < sizeof(shown); i++) {
		unsigned char ch = (unsigned char)name[i];
		o += (size_t)snprintf(shown + o, sizeof(shown) - o, ch >= 0x20 && ch < 0x7f ? "%c" : "\\x%02x",
				      ch);
	}
	shown[o] = 0;
	snprintf(err, errlen, "invalid name '%s'%s: use 1 to %d ASCII letters, digits, '.', '_' or '-', "
		 "starting with a letter or digit", shown, n > CTL_NAME_MAX ? " (too long)" : "",
		 CTL_NAME_MAX);
	return -1;
}
