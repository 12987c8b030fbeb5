/* Rewrites a root file system tree for a tern virtio guest: fstab, inittab,
 * securetty and systemd getty links. Paths resolve inside the tree
 * (openat2 RESOLVE_IN_ROOT), so a hostile symlink cannot reach the host. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "image/fixup.h"

#define MAX_CONF (1u << 20)
#define ROOT_DEV "/dev/vda"
#define MARK "#tern-import# "

/* A growable string. */
struct sbuf { char *s; size_t len, cap; int oom; };

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static char *sb_done(struct sbuf *b)
{
	if (b->oom) {
		free(b->s);
		return NULL;
	}
	if (!b->s)
		return strdup("");
	return b->s;
}

/* A disk of another hypervisor (or of the old machine) by its device name. */
static int foreign_disk(const char *spec)
{
	static const char *const pfx[] = { "/dev/ubd", "/dev/xvd", "/dev/hd", "/dev/sd", "/dev/vd",
					   "/dev/mmcblk", "/dev/nvme" };
	for (size_t i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++)
		if (!strncmp(spec, pfx[i], strlen(pfx[i])))
			return 1;
	return 0;
}

static int is_ext(const char *type)
{
	return !strcmp(type, "ext2") || !strcmp(type, "ext3") || !strcmp(type, "ext4");
}

char *fixup_fstab_text(const char *fstab, struct inventory *log)
{
	struct sbuf out = { 0 };
	int have_root = 0;
	const char *l = fstab ? fstab : "";
	while (*l) {
		size_t n = strcspn(l, "\n");
		char *line = strndup(l, n), *copy = strndup(l, n);
		if (!line || !copy) {
			free(line);
			free(copy);
			free(out.s);
			return NULL;
		}
		char *save, *f[6] = { 0 };
		int k = 0;
		char *body = copy + strspn(copy, " \t");
		if (*body != '#')
			for (char *t = strtok_r(body, " \t\r", &save); t && k < 6;
			     t = strtok_r(NULL, " \t\r", &save))
				f[k++] = t;
		if (k >= 2 && !strcmp(f[1], "/") && !have_root) {
			have_root = 1;
			const char *type = f[2] && is_ext(f[2]) ? f[2] : "ext4";
			if (strcmp(f[0], ROOT_DEV) || !f[2] || strcmp(f[2], type)) {
				char nl[1024];
				snprintf(nl, sizeof(nl), "%s\t/\t%s\t%s\t%s\t%s", ROOT_DEV, type,
					 f[3] ? f[3] : "defaults", f[4] ? f[4] : "0", f[5] ? f[5] : "1");
				sb_str(&out, MARK "was: ");
				sb_str(&out, line);
				sb_str(&out, "\n");
				sb_str(&out, nl);
				inventory_add_change(log, "/etc/fstab: root %s %s -> %s %s", f[0],
						     f[2] ? f[2] : "?", ROOT_DEV, type);
			} else {
				sb_str(&out, line);
			}
		} else if (k >= 2 && (foreign_disk(f[0]) || !strcmp(f[1], "/"))) {
			sb_str(&out, MARK);
			sb_str(&out, line);
			inventory_add_change(log, "/etc/fstab: commented out %s on %s (no such disk here)",
					     f[0], f[1]);
		} else {
			sb_str(&out, line);
		}
		sb_str(&out, "\n");
		free(line);
		free(copy);
		l += n;
		if (*l)
			l++;
	}
	if (!have_root) {
		sb_str(&out, ROOT_DEV "\t/\text4\tdefaults\t0\t1\n");
		inventory_add_change(log, "/etc/fstab: added root %s ext4", ROOT_DEV);
	}
	return sb_done(&out);
}

/* Replaces whole-word console names of other hypervisors by ttyS0. */
static int swap_consoles(char *line, struct sbuf *out)
{
	static const char *const old[] = { "tty0", "hvc0", "xvc0", "ttyUL0" };
	int changed = 0;
	char *p = line;
	while (*p) {
		int hit = -1;
		if (p == line || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '/' || p[-1] == ':')
			for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
				size_t n = strlen(old[i]);
				if (!strncmp(p, old[i], n) && strchr(" \t:", p[n] ? p[n] : ' ')) {
					hit = (int)i;
					break;
				}
			}
		if (hit >= 0) {
			sb_str(out, "ttyS0");
			p += strlen(old[hit]);
			changed = 1;
		} else {
			sb_add(out, p, 1);
			p++;
		}
	}
	return changed;
}

char *fixup_inittab_text(const char *inittab, struct inventory *log)
{
	struct sbuf out = { 0 };
	int serial = 0;
	const char *l = inittab ? inittab : "";
	while (*l) {
		size_t n = strcspn(l, "\n");
		char *line = strndup(l, n);
		if (!line) {
			free(out.s);
			return NULL;
		}
		const char *body = line + strspn(line, " \t");
		if (*body != '#' && strstr(line, "getty")) {
			size_t start = out.len;
			if (swap_consoles(line, &out))
				inventory_add_change(log, "/etc/inittab: getty moved to ttyS0: %s", line);
			if (out.s && strstr(out.s + start, "ttyS0"))
				serial = 1;
		} else {
			sb_str(&out, line);
		}
		sb_str(&out, "\n");
		free(line);
		l += n;
		if (*l)
			l++;
	}
	if (!serial) {
		sb_str(&out, "T0:2345:respawn:/sbin/getty -L ttyS0 115200 vt100\n");
		inventory_add_change(log, "/etc/inittab: added a getty on ttyS0");
	}
	return sb_done(&out);
}

/* Without openat2 (kernels before 5.6, some sandboxes): component by
 * component, following no symlink at all (ELOOP/ENOTDIR on one). */
static int open_nofollow(int rootfd, const char *path, int flags, mode_t mode)
{
	char comp[256];
	int dfd = dup(rootfd);
	while (dfd >= 0) {
		size_t n = strcspn(path, "/");
		if (n >= sizeof(comp)) {
			close(dfd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, path, n);
		comp[n] = 0;
		path += n + strspn(path + n, "/");
		int last = !*path;
		int fd = last ? openat(dfd, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode)
			      : openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(dfd);
		errno = e;
		if (last || fd < 0)
			return fd;
		dfd = fd;
	}
	return -1;
}

/* openat2 with the tree as "/" (symlinks resolve inside it). */
static int open_in(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .mode = mode,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		return open_nofollow(rootfd, path, flags, mode);
	return fd;
}

static int read_fd(int fd, char **out)
{
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_CONF)
		return -EINVAL;
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
		if (r <= 0) {
			free(buf);
			return r < 0 ? -errno : -EIO;
		}
		got += (size_t)r;
	}
	buf[got] = 0;
	*out = buf;
	return 0;
}

static int write_fd(int fd, const char *s)
{
	size_t n = strlen(s), done = 0;
	if (ftruncate(fd, 0))
		return -errno;
	while (done < n) {
		ssize_t r = pwrite(fd, s + done, n - done, (off_t)done);
		if (r < 0)
			return -errno;
		done += (size_t)r;
	}
	return 0;
}

/* Rewrites one text file with fn; create makes it (0644) when missing. */
static int rewrite(int rootfd, const char *path, int create,
		   char *(*fn)(const char *, struct inventory *), struct inventory *log,
		   char *err, size_t errlen)
{
	int fd = open_in(rootfd, path, O_RDWR | O_NOFOLLOW, 0);
	int created = 0;
	if (fd < 0 && errno == ENOENT && create) {
		fd = open_in(rootfd, path, O_RDWR | O_CREAT | O_EXCL, 0644);
		created = 1;
	}
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP || errno == ENOTDIR) {
			inventory_add_change(log, "/%s: behind a symlink; left alone", path);
			return 0;
		}
		snprintf(err, errlen, "/%s: %s", path, strerror(errno));
		return -errno;
	}
	char *text = NULL, *next = NULL;
	int r = read_fd(fd, &text);
	if (r == -EINVAL) {
		inventory_add_change(log, "/%s: not a regular file of sane size; left alone", path);
		close(fd);
		return 0;
	}
	if (!r && !(next = fn(text, log)))
		r = -ENOMEM;
	if (!r && strcmp(text, next))
		r = write_fd(fd, next);
	if (!r && created)
		inventory_add_change(log, "/%s: created (there was none)", path);
	if (r)
		snprintf(err, errlen, "/%s: %s", path, strerror(-r));
	free(text);
	free(next);
	close(fd);
	return r;
}

static char *securetty_text(const char *s, struct inventory *log)
{
	for (const char *p = s; (p = strstr(p, "ttyS0")); p += 5)
		if ((p == s || p[-1] == '\n') && (p[5] == '\n' || !p[5]))
			return strdup(s);
	struct sbuf out = { 0 };
	sb_str(&out, s);
	if (out.len && out.s[out.len - 1] != '\n')
		sb_str(&out, "\n");
	sb_str(&out, "ttyS0\n");
	inventory_add_change(log, "/etc/securetty: added ttyS0");
	return sb_done(&out);
}

/* Getty units of other hypervisors' consoles. */
static int foreign_getty(const char *name)
{
	static const char *const units[] = { "getty@tty0.service", "getty@hvc0.service",
					     "serial-getty@hvc0.service", "getty@xvc0.service",
					     "serial-getty@xvc0.service", "getty@ttyUL0.service" };
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(name, units[i]))
			return 1;
	return 0;
}

static int drop_foreign_gettys(int rootfd, struct inventory *log)
{
	int sfd = open_in(rootfd, "etc/systemd/system", O_RDONLY | O_DIRECTORY, 0);
	if (sfd < 0)
		return 0;
	DIR *d = fdopendir(sfd);
	if (!d) {
		close(sfd);
		return -errno;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 6, ".wants"))
			continue;
		int wfd = openat(sfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (wfd < 0)
			continue;
		DIR *w = fdopendir(wfd);
		if (!w) {
			close(wfd);
			continue;
		}
		struct dirent *u;
		while ((u = readdir(w)))
			if (foreign_getty(u->d_name) && !unlinkat(wfd, u->d_name, 0))
				inventory_add_change(log, "/etc/systemd/system/%s/%s: removed", e->d_name,
						     u->d_name);
		closedir(w);
	}
	closedir(d);
	return 0;
}

/* systemd: a serial getty on ttyS0 (the getty generator adds one for
 * console=ttyS0 too; the link makes it independent of the command line). */
static int add_serial_getty(int rootfd, struct inventory *log)
{
	int fd = open_in(rootfd, "lib/systemd/systemd", O_PATH, 0);
	if (fd < 0)
		fd = open_in(rootfd, "usr/lib/systemd/systemd", O_PATH, 0);
	if (fd < 0)
		return 0;
	close(fd);
	static const char *const dirs[] = { "etc", "etc/systemd", "etc/systemd/system",
					    "etc/systemd/system/getty.target.wants" };
	int dfd = -1;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		const char *leaf = strrchr(dirs[i], '/');
		int parent = i ? open_in(rootfd, dirs[i - 1], O_RDONLY | O_DIRECTORY, 0) : dup(rootfd);
		if (parent < 0)
			return -errno;
		if (mkdirat(parent, leaf ? leaf + 1 : dirs[i], 0755) && errno != EEXIST) {
			close(parent);
			return -errno;
		}
		close(parent);
	}
	dfd = open_in(rootfd, dirs[3], O_RDONLY | O_DIRECTORY, 0);
	if (dfd < 0)
		return -errno;
	const char *unit = "serial-getty@ttyS0.service";
	struct stat st;
	int r = 0;
	if (fstatat(dfd, unit, &st, AT_SYMLINK_NOFOLLOW)) {
		if (!symlinkat("/lib/systemd/system/serial-getty@.service", dfd, unit))
			inventory_add_change(log, "/%s/%s: added", dirs[3], unit);
		else
			r = -errno;
	}
	close(dfd);
	return r;
}

int fixup_rootfs(const char *root, struct inventory *log, char *err, size_t errlen)
{
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		return -errno;
	}
	int r = rewrite(rootfd, "etc/fstab", 1, fixup_fstab_text, log, err, errlen);
	if (!r)
		r = rewrite(rootfd, "etc/inittab", 0, fixup_inittab_text, log, err, errlen);
	if (!r)
		r = rewrite(rootfd, "etc/securetty", 0, securetty_text, log, err, errlen);
	if (!r && (r = drop_foreign_gettys(rootfd, log)))
		snprintf(err, errlen, "%s/etc/systemd/system: %s", root, strerror(-r));
	if (!r && (r = add_serial_getty(rootfd, log)))
		snprintf(err, errlen, "%s/etc/systemd/system/getty.target.wants: %s", root,
			 strerror(-r));
	close(rootfd);
	return r;
}
