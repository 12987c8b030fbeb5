/* state.json of a project folder (read, written atomically), the folder
 * layout and registry, and the process-identity checks status relies on. */
#define _GNU_SOURCE
#include "cluster/state.h"
#include "core/procstat.h"
#include "cluster/project.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

int state_registry(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	const char *env = getenv("TERN_CLUSTERS_DIR");
	int n;
	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/var/lib/tern/clusters");
	else if (xdg && *xdg)
		n = snprintf(buf, len, "%s/tern/clusters", xdg);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.local/share/tern/clusters", home);
	else
		return -ENOENT;
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int state_default_dir(const char *name, char *buf, size_t len)
{
	char reg[PATH_MAX];
	int r = state_registry(reg, sizeof(reg));
	if (r)
		return r;
	return state_path(reg, NULL, name, buf, len);
}

int state_path(const char *dir, const char *machine, const char *file, char *buf, size_t len)
{
	int n = machine ? snprintf(buf, len, "%s/%s/%s", dir, machine, file)
			: snprintf(buf, len, "%s/%s", dir, file);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

static bool has_state(const char *dir)
{
	char p[PATH_MAX];
	return state_path(dir, NULL, "state.json", p, sizeof(p)) == 0 && access(p, F_OK) == 0;
}

int state_find_dir(const char *what, char *buf, size_t len, char *err, size_t errlen)
{
	char cand[PATH_MAX];
	size_t wl = strlen(what);
	if (wl > 4 && !strcmp(what + wl - 4, ".xml")) {
		/* A project file: its name attribute names the project. */
		FILE *f = fopen(what, "r");
		char text[4096] = "", name[64] = "";
		if (f) {
			size_t n = fread(text, 1, sizeof(text) - 1, f);
			text[n] = 0;
			fclose(f);
		}
		const char *p = strstr(text, "<project");
		p = p ? strstr(p, "name=") : NULL;
		if (!p || (p[5] != '"' && p[5] != '\'') || sscanf(p + 6, "%63[A-Za-z0-9_-]", name) != 1) {
			snprintf(err, errlen, "%s: no <project name=...> found", what);
			return -EINVAL;
		}
		what = strcpy(cand, name);
	}
	if (strchr(what, '/')) {
		if (!realpath(what, buf) || strlen(buf) >= len || !has_state(buf)) {
			snprintf(err, errlen, "%s is not a project folder (no state.json)", what);
			return -ENOENT;
		}
		return 0;
	}
	char dir[PATH_MAX];
	if (state_default_dir(what, dir, sizeof(dir)) || !has_state(dir)) {
		snprintf(err, errlen, "no project '%s' (it was never brought up, or was purged)", what);
		return -ENOENT;
	}
	if (!realpath(dir, buf))
		return -errno;
	return 0;
}

static void copy_str(char *dst, size_t len, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	snprintf(dst, len, "%s", s ? s : "");
}

int state_load(const char *dir, struct state *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	char path[PATH_MAX];
	json_error_t je;
	if (state_path(dir, NULL, "state.json", path, sizeof(path))) {
		snprintf(err, errlen, "project folder path too long");
		return -ENAMETOOLONG;
	}
	json_t *root = json_load_file(path, 0, &je);
	if (!root || !json_is_object(root)) {
		snprintf(err, errlen, "%s:%d: %s", path, je.line, root ? "not a JSON object" : je.text);
		json_decref(root);
		return -EINVAL;
	}
	copy_str(st->name, sizeof(st->name), root, "name");
	copy_str(st->source, sizeof(st->source), root, "source");
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	json_t *ms = json_object_get(root, "machines"), *ss = json_object_get(root, "switches");
	st->nmachines = json_array_size(ms);
	st->nswitches = json_array_size(ss);
	st->machines = calloc(st->nmachines + 1, sizeof(*st->machines));
	st->switches = calloc(st->nswitches + 1, sizeof(*st->switches));
	if (!st->machines || !st->switches) {
		json_decref(root);
		state_free(st);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < st->nmachines; i++) {
		json_t *o = json_array_get(ms, i);
		struct state_machine *m = &st->machines[i];
		copy_str(m->name, sizeof(m->name), o, "name");
		copy_str(m->qmp, sizeof(m->qmp), o, "qmp");
		m->priority = (int)json_integer_value(json_object_get(o, "priority"));
		m->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
		m->pid_start = (unsigned long long)json_integer_value(json_object_get(o, "pid_start"));
		m->started_at = json_number_value(json_object_get(o, "started_at"));
		m->ready_at = json_number_value(json_object_get(o, "ready_at"));
		m->stopped_at = json_number_value(json_object_get(o, "stopped_at"));
		m->stopped = json_is_true(json_object_get(o, "stopped"));
	}
	for (size_t i = 0; i < st->nswitches; i++) {
		json_t *o = json_array_get(ss, i);
		struct state_switch *s = &st->switches[i];
		copy_str(s->name, sizeof(s->name), o, "name");
		copy_str(s->sock, sizeof(s->sock), o, "sock");
		s->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
		s->pid_start = (unsigned long long)json_integer_value(json_object_get(o, "pid_start"));
	}
	json_decref(root);
	return 0;
}

int state_save(const struct state *st, char *err, size_t errlen)
{
	json_t *ms = json_array(), *ss = json_array();
	for (size_t i = 0; i < st->nmachines; i++) {
		const struct state_machine *m = &st->machines[i];
		json_array_append_new(ms, json_pack("{s:s,s:i,s:i,s:I,s:f,s:f,s:f,s:b,s:s}", "name", m->name,
			"priority", m->priority, "pid", (int)m->pid, "pid_start", (json_int_t)m->pid_start,
			"started_at", m->started_at, "ready_at", m->ready_at, "stopped_at", m->stopped_at,
			"stopped", m->stopped, "qmp", m->qmp));
	}
	for (size_t i = 0; i < st->nswitches; i++) {
		const struct state_switch *s = &st->switches[i];
		json_array_append_new(ss, json_pack("{s:s,s:i,s:I,s:s}", "name", s->name, "pid", (int)s->pid,
			"pid_start", (json_int_t)s->pid_start, "sock", s->sock));
	}
	json_t *root = json_pack("{s:i,s:s,s:s,s:s,s:o,s:o}", "version", 1, "name", st->name, "dir", st->dir,
				 "source", st->source, "machines", ms, "switches", ss);
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int r = -ENOMEM;
	if (root && !state_path(st->dir, NULL, "state.json", path, sizeof(path))) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		r = json_dump_file(root, tmp, JSON_INDENT(2)) == 0 && rename(tmp, path) == 0 ? 0 : -errno;
		if (r)
			snprintf(err, errlen, "cannot write %s: %s", path, strerror(-r ? -r : EIO));
	} else {
		snprintf(err, errlen, "cannot build the state file");
	}
	json_decref(root);
	return r;
}

void state_free(struct state *st)
{
	free(st->machines);
	free(st->switches);
	st->machines = NULL;
	st->switches = NULL;
	st->nmachines = st->nswitches = 0;
}

struct state_machine *state_machine_find(struct state *st, const char *name)
{
	for (size_t i = 0; i < st->nmachines; i++)
		if (!strcmp(st->machines[i].name, name))
			return &st->machines[i];
	return NULL;
}

struct state_switch *state_switch_find(struct state *st, const char *name)
{
	for (size_t i = 0; i < st->nswitches; i++)
		if (!strcmp(st->switches[i].name, name))
			return &st->switches[i];
	return NULL;
}

unsigned long long state_pid_start(pid_t pid)
{
	struct proc_stat ps;
	if (proc_stat_read(pid, &ps) || ps.state == 'Z')
		return 0;
	return ps.start_ticks;
}

bool state_pid_alive(pid_t pid, unsigned long long start)
{
	unsigned long long now = state_pid_start(pid);
	return now && (!start || now == start);
}

double state_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct project *state_load_project(const char *dir, const struct state *st, FILE *diag)
{
	char path[PATH_MAX], base[STATE_PATH_MAX];
	if (state_path(dir, NULL, "project.xml", path, sizeof(path)))
		return NULL;
	snprintf(base, sizeof(base), "%s", st->source);
	char *slash = strrchr(base, '/');
	if (!slash)
		return project_load(path, NULL, diag);
	*slash = 0;
	return project_load_at(path, *base ? base : "/", NULL, diag);
}
