/* The supervisor behind `tern cluster up` and `down`: the project folder,
 * switches, the start loop over priority groups with dependencies and
 * readiness gates (console text, TCP connect, delay), rollback on failure,
 * and the reverse stop. */
#define _GNU_SOURCE
#include "cluster/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cluster/launch.h"
#include "cluster/plan.h"
#include "cluster/project.h"
#include "cluster/gate.h"
#include "cluster/state.h"
#include "ctl/ctl_path.h"

enum mstate { M_WAIT, M_STARTING, M_READY, M_FAILED, M_SKIPPED };

struct up_run {
	const struct project *p;
	const struct supervise_opts *o;
	const char *dir;
	struct state st;
	struct plan pl;
	enum mstate *ms;            /* per project machine */
	bool *ours;                 /* started by this run */
	struct state_machine **sm;  /* per project machine: its state record */
	bool *sw_ours;
	bool status_line;           /* a live line is on the terminal */
	double t0;
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return mkdir(buf, 0755) && errno != EEXIST ? -errno : 0;
}

int supervise_lock(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	state_path(dir, NULL, "lock", path, sizeof(path));
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errlen, "another tern cluster command is working on %s", dir);
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- progress ---- */

static void clear_status(struct up_run *r)
{
	if (r->status_line) {
		fputs("\r\033[K", r->o->out);
		r->status_line = false;
	}
}

__attribute__((format(printf, 2, 3)))
static void say(struct up_run *r, const char *fmt, ...)
{
	clear_status(r);
	va_list ap;
	fprintf(r->o->out, "[%6.1fs] ", state_now() - r->t0);
	va_start(ap, fmt);
	vfprintf(r->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', r->o->out);
	fflush(r->o->out);
}

static void show_status(struct up_run *r)
{
	if (!r->o->tty)
		return;
	char line[160];
	size_t o = (size_t)snprintf(line, sizeof(line), "[%6.1fs] waiting for", state_now() - r->t0);
	int n = 0;
	for (size_t i = 0; i < r->p->nmachines && o < sizeof(line); i++)
		if (r->ms[i] == M_STARTING) {
			o += (size_t)snprintf(line + o, sizeof(line) - o, " %s", r->p->machines[i].name);
			n++;
		}
	if (!n)
		return;
	fprintf(r->o->out, "\r\033[K%s", line);
	fflush(r->o->out);
	r->status_line = true;
}

/* The last lines of a file, indented, for a failure report. */
static void show_tail(FILE *out, const char *path, int lines)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(out, "--- no %s ---\n", path);
		return;
	}
	char buf[8192];
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	long from = size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0;
	fseek(f, from, SEEK_SET);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *start = buf + n;
	for (int k = 0; start > buf && k <= lines; ) {
		start--;
		if (*start == '\n' && start + 1 < buf + n)
			k++;
	}
	if (*start == '\n')
		start++;
	if (!*start) {
		fprintf(out, "--- %s is empty ---\n", path);
		return;
	}
	fprintf(out, "--- last lines of %s ---\n", path);
	for (char *c = start; *c; c++)
		if (*c != '\r')
			fputc(*c, out);
	if (buf[n - 1] != '\n')
		fputc('\n', out);
}

/* ---- gates ---- */

/* 1: the gate passed; 0: not yet. */
static int gate_passed(struct up_run *r, size_t mi)
{
	const struct project_machine *m = &r->p->machines[mi];
	struct state_machine *s = r->sm[mi];
	if (ctl_socket_live(s->qmp) != 1)
		return 0;           /* not even running yet */
	if (r->o->snapshot_dir)
		return 1;           /* restored: it was ready when saved */
	char path[PATH_MAX];
	switch (m->ready.kind) {
	case PROJECT_READY_CONSOLE:
		state_path(r->dir, m->name, "console.log", path, sizeof(path));
		return gate_file_contains(path, m->ready.console);
	case PROJECT_READY_TCP:
		return gate_tcp_accepts(m->ready.tcp_host, m->ready.tcp_port);
	case PROJECT_READY_DELAY:
		return state_now() - s->started_at >= m->ready.delay_s;
	default:
		return 1;
	}
}

/* ---- machines ---- */

static void report_failure(struct up_run *r, size_t mi, const char *why)
{
	const struct project_machine *m = &r->p->machines[mi];
	char path[PATH_MAX];
	say(r, "%s: FAILED: %s", m->name, why);
	struct stat sb;
	state_path(r->dir, m->name, "tern.log", path, sizeof(path));
	if (stat(path, &sb) == 0 && sb.st_size > 0)
		show_tail(r->o->out, path, 10);
	state_path(r->dir, m->name, "console.log", path, sizeof(path));
	show_tail(r->o->out, path, 20);
	fflush(r->o->out);
}

static int start_machine(struct up_run *r, size_t mi, char *err, size_t errlen)
{
	const struct project_machine *m = &r->p->machines[mi];
	struct state_machine *s = r->sm[mi];
	char tern[PATH_MAX], path[PATH_MAX], why[1024];
	if (ctl_socket_live(s->qmp) == 1) {
		snprintf(why, sizeof(why), "a VM named %s.%s is already running outside this project (%s)",
			 r->p->name, m->name, s->qmp);
		report_failure(r, mi, why);
		return -1;
	}
	struct launch_argv a;
	if (launch_self_exe(tern, sizeof(tern)) || launch_prepare_machine(r->p, mi, r->dir, why, sizeof(why)) ||
	    (r->o->snapshot_dir
	     ? (snprintf(path, sizeof(path), "%s/%s.snap", r->o->snapshot_dir, m->name),
		launch_restore_argv(r->p, mi, r->dir, tern, path, &a, why, sizeof(why)))
	     : launch_machine_argv(r->p, mi, r->dir, tern, &a, why, sizeof(why)))) {
		report_failure(r, mi, why);
		return -1;
	}
	/* An old log must not pass the console gate. */
	state_path(r->dir, m->name, "console.log", path, sizeof(path));
	unlink(path);
	state_path(r->dir, m->name, "tern.log", path, sizeof(path));
	pid_t pid = launch_spawn(a.v, path);
	launch_argv_free(&a);
	if (pid < 0) {
		snprintf(why, sizeof(why), "cannot start tern run: %s", strerror((int)-pid));
		report_failure(r, mi, why);
		return -1;
	}
	s->pid = pid;
	s->pid_start = state_pid_start(pid);
	s->started_at = state_now();
	s->ready_at = s->stopped_at = 0;
	s->stopped = false;
	r->ours[mi] = true;
	r->ms[mi] = M_STARTING;
	say(r, "%s: started (pid %d)", m->name, (int)pid);
	return state_save(&r->st, err, errlen);
}

static void check_machine(struct up_run *r, size_t mi)
{
	const struct project_machine *m = &r->p->machines[mi];
	struct state_machine *s = r->sm[mi];
	int status;
	char why[768];
	pid_t w = waitpid(s->pid, &status, WNOHANG);
	if (w == s->pid || !state_pid_alive(s->pid, s->pid_start)) {
		if (w == s->pid && WIFEXITED(status))
			snprintf(why, sizeof(why), "tern run exited with status %d before it was ready",
				 WEXITSTATUS(status));
		else if (w == s->pid && WIFSIGNALED(status))
			snprintf(why, sizeof(why), "tern run was killed by signal %d before it was ready",
				 WTERMSIG(status));
		else
			snprintf(why, sizeof(why), "tern run exited before it was ready");
		r->ms[mi] = M_FAILED;
		report_failure(r, mi, why);
		return;
	}
	if (gate_passed(r, mi)) {
		s->ready_at = state_now();
		r->ms[mi] = M_READY;
		say(r, "%s: ready after %.1f s", m->name, s->ready_at - s->started_at);
		return;
	}
	double timeout = r->o->snapshot_dir ? PROJECT_DEFAULT_TIMEOUT : m->ready.timeout_s;
	if (state_now() - s->started_at > timeout) {
		char gate[256];
		plan_describe_ready(r->p, mi, gate, sizeof(gate));
		snprintf(why, sizeof(why), "not ready within %g s (gate: %s)", timeout, gate);
		r->ms[mi] = M_FAILED;
		report_failure(r, mi, why);
	}
}

/* Stops what this run started, last first, then its switches. */
static void roll_back(struct up_run *r)
{
	char sock[PATH_MAX];
	for (size_t k = r->pl.n; k-- > 0; ) {
		size_t mi = r->pl.order[k];
		struct state_machine *s = r->sm[mi];
		if (!r->ours[mi])
			continue;
		if (state_pid_alive(s->pid, s->pid_start))
			say(r, "%s: stopping", r->p->machines[mi].name);
		state_path(r->dir, r->p->machines[mi].name, "console.sock", sock, sizeof(sock));
		launch_machine_stop(s->pid, s->pid_start, s->qmp, sock, r->o->stop_timeout_s);
		s->stopped = true;
		s->stopped_at = state_now();
	}
	for (size_t si = r->p->nswitches; si-- > 0; ) {
		if (!r->sw_ours[si])
			continue;
		struct state_switch *s = &r->st.switches[si];
		say(r, "switch %s: stopping", s->name);
		launch_kill(s->pid, s->pid_start, 2);
		launch_switch_cleanup(s->sock);
		s->pid = 0;
	}
}

/* ---- the folder and its state ---- */

static int prepare_folder(struct up_run *r, const char *file, char *dir_out, size_t len, char *err, size_t errlen)
{
	char dflt[PATH_MAX];
	const char *dir = r->o->dir;
	if (state_default_dir(r->p->name, dflt, sizeof(dflt)) && !dir) {
		snprintf(err, errlen, "no default project folder (set XDG_DATA_HOME or HOME, or give --dir)");
		return -1;
	}
	if (!dir)
		dir = dflt;
	int e = mkdir_p(dir);
	if (e || !realpath(dir, dir_out) || strlen(dir_out) >= len) {
		snprintf(err, errlen, "cannot create the project folder %s: %s", dir, strerror(e ? -e : errno));
		return -1;
	}
	/* A folder elsewhere is registered by a symlink, for status and list. */
	if (r->o->dir) {
		char reg[PATH_MAX];
		struct stat sb;
		if (!state_registry(reg, sizeof(reg)) && !mkdir_p(reg) && strcmp(dflt, dir_out)) {
			if (lstat(dflt, &sb) == 0 && S_ISLNK(sb.st_mode))
				unlink(dflt);
			if (lstat(dflt, &sb) == 0)
				fprintf(r->o->out, "tern: note: %s exists; 'tern cluster status %s' will show that one\n",
					dflt, r->p->name);
			else if (symlink(dir_out, dflt))
				fprintf(r->o->out, "tern: note: cannot register %s: %s\n", dflt, strerror(errno));
		}
	}
	/* Keep a copy of the project file, as KMLN did. */
	char copy[PATH_MAX];
	state_path(dir_out, NULL, "project.xml", copy, sizeof(copy));
	char *src = realpath(file, NULL);
	if (src && strcmp(src, copy)) {
		FILE *in = fopen(src, "r"), *out = fopen(copy, "w");
		char buf[8192];
		size_t n;
		while (in && out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		if (in)
			fclose(in);
		if (!out || fclose(out)) {
			snprintf(err, errlen, "cannot write %s", copy);
			free(src);
			return -1;
		}
	}
	free(src);
	return 0;
}

/* The new state: one record per switch and machine of p (start order),
 * carrying over what the old state knew about the same names. */
static int build_state(struct up_run *r, char *err, size_t errlen)
{
	struct state old;
	char why[256];
	if (state_load(r->dir, &old, why, sizeof(why)))
		memset(&old, 0, sizeof(old));
	struct state *st = &r->st;
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", r->p->name);
	snprintf(st->dir, sizeof(st->dir), "%s", r->dir);
	snprintf(st->source, sizeof(st->source), "%s", r->p->path);
	if (r->o->source)
		snprintf(st->source, sizeof(st->source), "%s", r->o->source);
	st->machines = calloc(r->p->nmachines + 1, sizeof(*st->machines));
	st->switches = calloc(r->p->nswitches + 1, sizeof(*st->switches));
	if (!st->machines || !st->switches) {
		state_free(&old);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->nmachines = r->p->nmachines;
	st->nswitches = r->p->nswitches;
	for (size_t k = 0; k < r->pl.n; k++) {
		size_t mi = r->pl.order[k];
		const struct project_machine *m = &r->p->machines[mi];
		struct state_machine *s = &st->machines[k], *o = state_machine_find(&old, m->name);
		if (o)
			*s = *o;
		snprintf(s->name, sizeof(s->name), "%s", m->name);
		s->priority = m->priority;
		char name[80];
		snprintf(name, sizeof(name), "%s.%s", r->p->name, m->name);
		if (ctl_default_path(name, 0, s->qmp, sizeof(s->qmp), err, errlen)) {
			state_free(&old);
			return -1;
		}
		r->sm[mi] = s;
	}
	for (size_t si = 0; si < r->p->nswitches; si++) {
		struct state_switch *s = &st->switches[si], *o = state_switch_find(&old, r->p->switches[si].name);
		if (o)
			*s = *o;
		snprintf(s->name, sizeof(s->name), "%s", r->p->switches[si].name);
		if (launch_switch_sock(r->p, si, r->dir, s->sock, sizeof(s->sock))) {
			snprintf(err, errlen, "project folder %s is too long for switch sockets (use a shorter --dir)",
				 r->dir);
			state_free(&old);
			return -1;
		}
	}
	state_free(&old);
	return 0;
}

static int start_switches(struct up_run *r, char *err, size_t errlen)
{
	for (size_t si = 0; si < r->p->nswitches; si++) {
		struct state_switch *s = &r->st.switches[si];
		char ctl[PATH_MAX + 8];
		snprintf(ctl, sizeof(ctl), "%s/ctl", s->sock);
		if (state_pid_alive(s->pid, s->pid_start) && ctl_socket_live(ctl) == 1) {
			say(r, "switch %s: already running (pid %d)", s->name, (int)s->pid);
			continue;
		}
		pid_t pid;
		if (launch_switch_start(r->p, si, r->dir, &pid, err, errlen))
			return -1;
		s->pid = pid;
		s->pid_start = state_pid_start(pid);
		r->sw_ours[si] = true;
		say(r, "switch %s: started (pid %d)", s->name, (int)pid);
		if (state_save(&r->st, err, errlen))
			return -1;
	}
	return 0;
}

static bool deps_state(struct up_run *r, size_t mi, bool *blocked)
{
	const struct project_machine *m = &r->p->machines[mi];
	bool ready = true;
	*blocked = false;
	for (size_t d = 0; d < m->ndepends; d++) {
		enum mstate s = r->ms[m->depends[d]];
		if (s == M_FAILED || s == M_SKIPPED)
			*blocked = true;
		if (s != M_READY)
			ready = false;
	}
	return ready;
}

/* One priority group: start what may start, watch the gates, until every
 * machine of it is ready, failed or skipped. Returns the failures. */
static int run_group(struct up_run *r, const struct plan_group *g, char *err, size_t errlen)
{
	int failures = 0;
	for (;;) {
		bool busy = false;
		for (size_t k = 0; k < g->n; k++) {
			size_t mi = g->machines[k];
			bool blocked;
			if (r->ms[mi] == M_WAIT) {
				bool ready = deps_state(r, mi, &blocked);
				if (blocked) {
					r->ms[mi] = M_SKIPPED;
					say(r, "%s: not started: a machine it depends on failed", r->p->machines[mi].name);
					failures++;
				} else if (ready && start_machine(r, mi, err, errlen)) {
					r->ms[mi] = M_FAILED;
					failures++;
				}
			} else if (r->ms[mi] == M_STARTING) {
				check_machine(r, mi);
				if (r->ms[mi] == M_FAILED)
					failures++;
				else if (r->ms[mi] == M_READY && state_save(&r->st, err, errlen))
					return -1;
			}
			if (r->ms[mi] == M_WAIT || r->ms[mi] == M_STARTING)
				busy = true;
			if (failures && !r->o->keep_going)
				return failures;
		}
		if (!busy)
			return failures;
		show_status(r);
		sleep_ms(50);
	}
}

int supervise_up(const struct project *p, const char *file, const struct supervise_opts *o,
		 char *err, size_t errlen)
{
	struct up_run r = { .p = p, .o = o, .t0 = state_now() };
	char dir[PATH_MAX];
	int rc = -1, lock = -1;
	r.ms = calloc(p->nmachines + 1, sizeof(*r.ms));
	r.ours = calloc(p->nmachines + 1, sizeof(*r.ours));
	r.sm = calloc(p->nmachines + 1, sizeof(*r.sm));
	r.sw_ours = calloc(p->nswitches + 1, sizeof(*r.sw_ours));
	if (!r.ms || !r.ours || !r.sm || !r.sw_ours || plan_build(p, &r.pl)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (prepare_folder(&r, file, dir, sizeof(dir), err, errlen))
		goto out;
	r.dir = dir;
	if ((lock = supervise_lock(dir, err, errlen)) < 0 || build_state(&r, err, errlen) ||
	    state_save(&r.st, err, errlen))
		goto out;
	fprintf(o->out, "project %s in %s: %zu switch%s, %zu machine%s in %zu group%s\n", p->name, dir,
		p->nswitches, p->nswitches == 1 ? "" : "es", p->nmachines, p->nmachines == 1 ? "" : "s",
		r.pl.ngroups, r.pl.ngroups == 1 ? "" : "s");
	if (start_switches(&r, err, errlen)) {
		char why[256];
		roll_back(&r);
		state_save(&r.st, why, sizeof(why));
		goto out;
	}
	/* What still runs from an earlier up counts as ready. */
	for (size_t mi = 0; mi < p->nmachines; mi++) {
		struct state_machine *s = r.sm[mi];
		if (s->pid > 0 && !s->stopped && state_pid_alive(s->pid, s->pid_start) && s->ready_at > 0) {
			r.ms[mi] = M_READY;
			say(&r, "%s: already running (pid %d)", p->machines[mi].name, (int)s->pid);
		} else if (s->pid > 0 && !s->stopped && state_pid_alive(s->pid, s->pid_start)) {
			/* An interrupted up left it before its gate: watch it again. */
			r.ms[mi] = M_STARTING;
			say(&r, "%s: running (pid %d), not ready yet", p->machines[mi].name, (int)s->pid);
		} else if (s->pid > 0 && !s->stopped) {
			say(&r, "%s: crashed earlier (pid %d is gone): starting it again", p->machines[mi].name,
			    (int)s->pid);
		}
	}
	int failures = 0;
	for (size_t g = 0; g < r.pl.ngroups; g++) {
		int f = run_group(&r, &r.pl.groups[g], err, errlen);
		if (f < 0) {
			roll_back(&r);
			goto out;
		}
		failures += f;
		if (failures && !o->keep_going)
			break;
	}
	clear_status(&r);
	if (failures && !o->keep_going) {
		say(&r, "stopping what this run started (use --keep-going to keep it)");
		roll_back(&r);
	}
	if (state_save(&r.st, err, errlen))
		goto out;
	size_t ready = 0;
	for (size_t mi = 0; mi < p->nmachines; mi++)
		ready += r.ms[mi] == M_READY;
	if (failures) {
		fprintf(o->out, "project %s: %d machine%s failed; %zu of %zu ready\n", p->name, failures,
			failures == 1 ? "" : "s", o->keep_going ? ready : 0, p->nmachines);
		rc = 1;
	} else {
		fprintf(o->out, "project %s: all %zu machines ready in %.1f s\n", p->name, p->nmachines,
			state_now() - r.t0);
		rc = 0;
	}
out:
	clear_status(&r);
	fflush(o->out);
	if (lock >= 0)
		close(lock);
	state_free(&r.st);
	plan_free(&r.pl);
	free(r.ms);
	free(r.ours);
	free(r.sm);
	free(r.sw_ours);
	return rc;
}

/* ---- down ---- */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) && errno != ENOENT ? -1 : 0;
}

int supervise_down(const char *dir, double timeout_s, bool purge, FILE *out, char *err, size_t errlen)
{
	struct state st;
	int lock = supervise_lock(dir, err, errlen);
	if (lock < 0)
		return -1;
	if (state_load(dir, &st, err, errlen)) {
		close(lock);
		return -1;
	}
	double t0 = state_now();
	for (size_t k = st.nmachines; k-- > 0; ) {
		struct state_machine *m = &st.machines[k];
		char sock[PATH_MAX];
		state_path(dir, m->name, "console.sock", sock, sizeof(sock));
		bool alive = m->pid > 0 && state_pid_alive(m->pid, m->pid_start);
		if (alive) {
			fprintf(out, "[%6.1fs] %s: stopping (pid %d)\n", state_now() - t0, m->name, (int)m->pid);
			fflush(out);
		}
		launch_machine_stop(alive ? m->pid : 0, m->pid_start, m->qmp, sock, timeout_s);
		if (alive || !m->stopped) {
			m->stopped = true;
			m->stopped_at = state_now();
		}
		if (alive) {
			fprintf(out, "[%6.1fs] %s: stopped\n", state_now() - t0, m->name);
			fflush(out);
		}
		if (state_save(&st, err, errlen))
			goto fail;
	}
	for (size_t k = st.nswitches; k-- > 0; ) {
		struct state_switch *s = &st.switches[k];
		if (s->pid > 0 && state_pid_alive(s->pid, s->pid_start))
			fprintf(out, "[%6.1fs] switch %s: stopping (pid %d)\n", state_now() - t0, s->name, (int)s->pid);
		launch_kill(s->pid, s->pid_start, 2);
		launch_switch_cleanup(s->sock);
		s->pid = 0;
	}
	if (state_save(&st, err, errlen))
		goto fail;
	fprintf(out, "project %s: down\n", st.name);
	if (purge) {
		char reg[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
		if (!state_registry(reg, sizeof(reg)) && !state_path(reg, NULL, st.name, link, sizeof(link))) {
			ssize_t n = readlink(link, target, sizeof(target) - 1);
			if (n > 0) {
				target[n] = 0;
				if (!strcmp(target, dir))
					unlink(link);
			}
		}
		if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS)) {
			snprintf(err, errlen, "cannot remove %s: %s", dir, strerror(errno));
			goto fail;
		}
		fprintf(out, "project %s: purged %s\n", st.name, dir);
	}
	state_free(&st);
	close(lock);
	return 0;
fail:
	state_free(&st);
	close(lock);
	return -1;
}
