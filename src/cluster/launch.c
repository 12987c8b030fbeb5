/* Machines and switches as processes: the tern run command line, overlays,
 * spawning detached processes, vde_switch, and stopping them for good. */
#define _GNU_SOURCE
#include "cluster/launch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "block/qcow2.h"
#include "cluster/cidata.h"
#include "cluster/project.h"
#include "cluster/state.h"
#include "core/procstat.h"
#include "ctl/ctl_path.h"
#include "ctl/qmp_client.h"

__attribute__((format(printf, 2, 3)))
static int push(struct launch_argv *a, const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	char **v = realloc(a->v, (a->n + 2) * sizeof(*v));
	if (!v) {
		free(s);
		return -1;
	}
	a->v = v;
	v[a->n++] = s;
	v[a->n] = NULL;
	return 0;
}

void launch_argv_free(struct launch_argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

int launch_disk_path(const struct project *p, size_t mi, size_t k, const char *dir, char *buf, size_t len)
{
	const struct project_disk *d = &p->machines[mi].disks[k];
	if (d->file)
		return snprintf(buf, len, "%s", d->file) < (int)len ? 0 : -ENAMETOOLONG;
	char file[32];
	snprintf(file, sizeof(file), "disk%zu.qcow2", k);
	return state_path(dir, p->machines[mi].name, file, buf, len);
}

int launch_switch_sock(const struct project *p, size_t si, const char *dir, char *buf, size_t len)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "sw/%s", p->switches[si].name);
	int r = state_path(dir, NULL, rel, buf, len);
	/* vde_plug binds its own sockets inside this folder (.NNNNN-NNNNN). */
	if (!r && strlen(buf) + 16 >= sizeof(((struct sockaddr_un *)0)->sun_path))
		r = -ENAMETOOLONG;
	return r;
}

/* The common part: identity, console, disks, NICs. */
static int common_args(const struct project *p, size_t mi, const char *dir, struct launch_argv *a,
		       char *err, size_t errlen)
{
	const struct project_machine *m = &p->machines[mi];
	char sock[PATH_MAX], log[PATH_MAX], path[PATH_MAX];
	if (state_path(dir, m->name, "console.sock", sock, sizeof(sock)) ||
	    strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
	    state_path(dir, m->name, "console.log", log, sizeof(log))) {
		snprintf(err, errlen, "project folder %s is too long for a console socket (use a shorter --dir)", dir);
		return -1;
	}
	int r = push(a, "--name") | push(a, "%s.%s", p->name, m->name) |
		push(a, "--console") | push(a, "unix:%s,log=%s", sock, log);
	for (size_t k = 0; k < m->ndisks; k++) {
		launch_disk_path(p, mi, k, dir, path, sizeof(path));
		const char *fmt = m->disks[k].file ? m->disks[k].format : "qcow2";
		r |= push(a, "--disk") | push(a, "file=%s,format=%s", path, fmt);
	}
	if (project_machine_has_guest_config(m)) {
		state_path(dir, m->name, "seed.img", path, sizeof(path));
		r |= push(a, "--disk") | push(a, "file=%s,format=raw,readonly=on", path);
	}
	for (size_t k = 0; k < m->nnics; k++) {
		const struct project_nic *n = &m->nics[k];
		char mac[18];
		project_format_mac(n->mac, mac);
		r |= push(a, "--net");
		if (n->sw) {
			if (launch_switch_sock(p, (size_t)project_switch_index(p, n->sw), dir, path, sizeof(path))) {
				snprintf(err, errlen, "project folder %s is too long for a switch socket", dir);
				return -1;
			}
			r |= push(a, "vde,sock=%s,mac=%s", path, mac);
		} else if (n->tap) {
			r |= push(a, "tap,ifname=%s,mac=%s", n->tap, mac);
		} else {
			char fwd[1024] = "";
			size_t o = 0;
			char *copy = n->hostfwd ? strdup(n->hostfwd) : NULL, *save = NULL;
			for (char *t = copy ? strtok_r(copy, " ", &save) : NULL; t && o < sizeof(fwd);
			     t = strtok_r(NULL, " ", &save))
				o += (size_t)snprintf(fwd + o, sizeof(fwd) - o, ",hostfwd=%s", t);
			free(copy);
			r |= push(a, "user%s,mac=%s", fwd, mac);
		}
	}
	if (r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int launch_machine_argv(const struct project *p, size_t mi, const char *dir, const char *tern,
			struct launch_argv *out, char *err, size_t errlen)
{
	const struct project_machine *m = &p->machines[mi];
	memset(out, 0, sizeof(*out));
	int r = push(out, "%s", tern) | push(out, "run") | push(out, "--kernel") | push(out, "%s", m->kernel);
	if (m->initrd)
		r |= push(out, "--initrd") | push(out, "%s", m->initrd);
	r |= push(out, "--append") | push(out, "%s", m->append) |
	     push(out, "--memory") | push(out, "%lluK", (unsigned long long)(m->memory >> 10)) |
	     push(out, "--cpus") | push(out, "%d", m->cpus);
	if (r || common_args(p, mi, dir, out, err, errlen)) {
		if (r)
			snprintf(err, errlen, "out of memory");
		launch_argv_free(out);
		return -1;
	}
	return 0;
}

int launch_restore_argv(const struct project *p, size_t mi, const char *dir, const char *tern,
			const char *snapshot, struct launch_argv *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if ((push(out, "%s", tern) | push(out, "run") | push(out, "--incoming") | push(out, "file:%s", snapshot)) ||
	    common_args(p, mi, dir, out, err, errlen)) {
		launch_argv_free(out);
		return -1;
	}
	return 0;
}

int launch_prepare_machine(const struct project *p, size_t mi, const char *dir, char *err, size_t errlen)
{
	const struct project_machine *m = &p->machines[mi];
	char path[PATH_MAX];
	if (state_path(dir, m->name, "", path, sizeof(path)) || (mkdir(path, 0755) && errno != EEXIST)) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	for (size_t k = 0; k < m->ndisks; k++) {
		if (!m->disks[k].base)
			continue;
		launch_disk_path(p, mi, k, dir, path, sizeof(path));
		if (access(path, F_OK) == 0)
			continue;       /* a restart keeps the machine's disk */
		struct qcow2_create_opts o = { .backing = m->disks[k].base, .backing_format = m->disks[k].format };
		if (qcow2_create(path, &o, err, errlen))
			return -1;
	}
	if (project_machine_has_guest_config(m)) {
		state_path(dir, m->name, "seed.img", path, sizeof(path));
		if (cidata_build(p, mi, path, err, errlen))
			return -1;
	}
	return 0;
}

int launch_self_exe(char *buf, size_t len)
{
	/* Run as tern-tools (src/cli/main.c): the VMs get the lean tern beside
	 * it, which starts faster and maps fewer libraries into each VM. */
	int rc = proc_self_path(NULL, buf, len);
	const char *slash = rc ? NULL : strrchr(buf, '/');
	if (slash && !strcmp(slash + 1, "tern-tools") &&
	    (rc = proc_self_path("tern", buf, len)) == 0 && access(buf, X_OK))
		rc = proc_self_path(NULL, buf, len);
	return rc;
}

/* clean_mask: the child starts with no signal blocked (ternd blocks
 * SIGTERM in its threads; a switch it starts must still obey SIGTERM). */
static pid_t spawn(char *const argv[], const char *log, bool clean_mask)
{
	int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(out);
		return -e;
	}
	if (pid == 0) {
		setsid();
		int in = open("/dev/null", O_RDONLY);
		if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(127);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		if (clean_mask) {
			sigset_t none;
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
		}
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		dprintf(2, "tern cluster: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out);
	return pid;
}

pid_t launch_spawn(char *const argv[], const char *log)
{
	return spawn(argv, log, false);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Whether threads of pid other than its leader still exist. A killed
 * multi-threaded process shows its leader as a zombie while the other
 * threads are still exiting, and its files (sockets) stay open until the
 * last one has. */
static bool threads_left(pid_t pid, unsigned long long start)
{
	struct proc_stat ps;
	if (proc_stat_read(pid, &ps) || ps.state != 'Z' || (start && ps.start_ticks != start))
		return false;               /* gone, or another process now */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return false;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n > 1;
}

bool launch_wait_gone(pid_t pid, unsigned long long start, double timeout_s)
{
	double end = state_now() + timeout_s;
	for (;;) {
		pid_t w = waitpid(pid, NULL, WNOHANG);
		if (w == pid)
			return true;                /* our child, reaped: every thread ended */
		if (w < 0 && !state_pid_alive(pid, start) && !threads_left(pid, start))
			return true;                /* not our child (ECHILD) and gone */
		if (state_now() >= end)
			return false;
		sleep_ms(20);
	}
}

int launch_kill(pid_t pid, unsigned long long start, double timeout_s)
{
	if (pid <= 0 || !state_pid_alive(pid, start))
		return 0;
	kill(pid, SIGTERM);
	if (launch_wait_gone(pid, start, timeout_s))
		return 0;
	kill(pid, SIGKILL);
	return launch_wait_gone(pid, start, 5) ? 0 : -ETIMEDOUT;
}

int launch_vde_switch_at(const char *sock, const char *log, pid_t *pid, char *err, size_t errlen)
{
	/* On the heap: the host agent calls this from small-stacked threads. */
	struct { char pidf[PATH_MAX + 8], mgmt[PATH_MAX + 8], ctl[PATH_MAX + 8]; } *b = malloc(sizeof(*b));
	int rc = -1;
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	launch_switch_cleanup(sock);
	snprintf(b->pidf, sizeof(b->pidf), "%s.pid", sock);
	snprintf(b->mgmt, sizeof(b->mgmt), "%s.mgmt", sock);
	snprintf(b->ctl, sizeof(b->ctl), "%s/ctl", sock);
	char *const argv[] = { "/usr/bin/vde_switch", "-d", "-s", (char *)sock, "-p", b->pidf, "-M", b->mgmt, NULL };
	if (access(argv[0], X_OK)) {
		snprintf(err, errlen, "vde_switch not found (install Debian's vde2)");
		goto out;
	}
	pid_t child = spawn(argv, log, true);
	int status = 0;
	if (child < 0 || waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(err, errlen, "vde_switch %s failed to start (see %s)", sock, log);
		goto out;
	}
	/* The daemon writes its pid file after the fork: wait for it. */
	for (int i = 0; i < 250; i++) {
		FILE *f = fopen(b->pidf, "r");
		int v = 0;
		if (f) {
			if (fscanf(f, "%d", &v) != 1)
				v = 0;
			fclose(f);
		}
		if (v > 0 && ctl_socket_live(b->ctl) == 1) {
			*pid = v;
			rc = 0;
			goto out;
		}
		sleep_ms(20);
	}
	snprintf(err, errlen, "vde_switch %s did not come up (see %s)", sock, log);
out:
	free(b);
	return rc;
}

int launch_switch_start(const struct project *p, size_t si, const char *dir, pid_t *pid,
			char *err, size_t errlen)
{
	char sock[PATH_MAX], swdir[PATH_MAX], log[PATH_MAX];
	if (launch_switch_sock(p, si, dir, sock, sizeof(sock))) {
		snprintf(err, errlen, "project folder %s is too long for a switch socket (use a shorter --dir)", dir);
		return -1;
	}
	state_path(dir, NULL, "sw", swdir, sizeof(swdir));
	state_path(dir, NULL, "switches.log", log, sizeof(log));
	if (mkdir(swdir, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", swdir, strerror(errno));
		return -1;
	}
	if (launch_vde_switch_at(sock, log, pid, err, errlen) == 0)
		return 0;
	snprintf(err, errlen, "vde_switch for '%s' failed to start (see %s)", p->switches[si].name, log);
	return -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void launch_switch_cleanup(const char *sock)
{
	size_t n = strlen(sock) + 16;
	char *path = malloc(n);
	if (path) {
		snprintf(path, n, "%s.pid", sock);
		unlink(path);
		snprintf(path, n, "%s.mgmt", sock);
		unlink(path);
		free(path);
	}
	/* The control socket and any port sockets vde_plug left behind. */
	nftw(sock, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

int launch_machine_stop(pid_t pid, unsigned long long start, const char *qmp, const char *console_sock,
			double timeout_s)
{
	int r = 0;
	if (pid > 0 && state_pid_alive(pid, start)) {
		char err[256];
		struct qmp_client_conn *c = qmp && *qmp ? qmp_client_open(qmp, 2000, err, sizeof(err)) : NULL;
		if (c) {
			json_t *res = qmp_client_execute(c, "system_powerdown", NULL, err, sizeof(err));
			if (!res)   /* a VMM without a power button: quit it */
				res = qmp_client_execute(c, "quit", NULL, err, sizeof(err));
			json_decref(res);
			qmp_client_close(c);
		}
		if (!launch_wait_gone(pid, start, timeout_s)) {
			kill(pid, SIGKILL);
			r = launch_wait_gone(pid, start, 5) ? 0 : -ETIMEDOUT;
		}
	}
	if (qmp && *qmp && ctl_socket_live(qmp) == 0)
		unlink(qmp);
	if (console_sock && ctl_socket_live(console_sock) == 0)
		unlink(console_sock);
	return r;
}
