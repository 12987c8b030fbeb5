/* `tern cluster status`, `list`, `log` and `console`: what a project's
 * state.json says, checked against the live processes and their QMP
 * sockets; a machine's console log and its console socket. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "cli/cli.h"
#include "cli/cluster.h"
#include "cli/vm_info.h"
#include "cluster/project.h"
#include "cluster/state.h"
#include "ctl/ctl_path.h"
#include "ctl/qmp_client.h"

struct live {
	const char *state;          /* running, paused, stopped, crashed */
	bool alive;
	struct vm_info info;
	bool have_info;
};

static void machine_live(const struct state_machine *m, struct live *l)
{
	memset(l, 0, sizeof(*l));
	l->alive = m->pid > 0 && state_pid_alive(m->pid, m->pid_start);
	if (!l->alive) {
		l->state = m->stopped || m->pid <= 0 ? "stopped" : "crashed";
		return;
	}
	l->state = "running";
	char err[256];
	struct qmp_client_conn *c = qmp_client_open(m->qmp, 2000, err, sizeof(err));
	if (c && vm_info_get(c, &l->info, err, sizeof(err)) == 0) {
		l->have_info = true;
		if (strcmp(l->info.status, "running"))
			l->state = "paused";
	}
	qmp_client_close(c);
}

static bool switch_alive(const struct state_switch *s)
{
	return s->pid > 0 && state_pid_alive(s->pid, s->pid_start);
}

static json_t *num_or_null(double v)
{
	return v > 0 ? json_real(v) : json_null();
}

/* The project file kept in the folder, for the switches' ports; quiet. */
static struct project *load_copy(const char *dir, const struct state *st)
{
	FILE *devnull = fopen("/dev/null", "w");
	if (!devnull)
		return NULL;
	struct project *p = state_load_project(dir, st, devnull);
	fclose(devnull);
	return p;
}

static void fmt_time(double t, char *buf, size_t len)
{
	if (t <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	time_t s = (time_t)t;
	struct tm tm;
	localtime_r(&s, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

static int status_usage(FILE *f)
{
	fprintf(f, "usage: tern cluster status NAME [--json] [--etcd URLS]\n\n"
		"Each machine's state (running, paused, stopped, crashed), pid, priority,\n"
		"start and ready times, CPU %% and memory; each switch with its ports.\n"
		"--json prints {\"name\", \"machines\": [...], \"switches\": [...]}, times in\n"
		"seconds since the epoch. With --etcd URLS (or $TERN_ETCD), a project placed\n"
		"on the cluster's hosts: each machine's host, priority, state and ready time.\n");
	return f == stdout ? 0 : 2;
}

int cli_cluster_status(int argc, char **argv)
{
	bool json = false;
	const char *name = NULL, *etcd = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--etcd") && i + 1 < argc)
			etcd = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return status_usage(stdout);
		else if (argv[i][0] == '-' || name)
			return status_usage(stderr);
		else
			name = argv[i];
	}
	if (!name)
		return status_usage(stderr);
	if ((etcd = cli_cluster_etcd(etcd)))
		return cli_cluster_xhost_status(name, etcd, json);
	char dir[PATH_MAX], err[512];
	struct state st;
	if (state_find_dir(name, dir, sizeof(dir), err, sizeof(err)) || state_load(dir, &st, err, sizeof(err))) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	struct project *p = load_copy(dir, &st);
	json_t *ms = json_array(), *ss = json_array();
	if (!json)
		printf("project %s (%s)\n%-12s %-8s %8s %5s %9s %9s %6s %8s %8s\n", st.name, dir, "MACHINE", "STATE",
		       "PID", "PRIO", "STARTED", "READY", "CPU%", "MEMORY", "RSS");
	for (size_t i = 0; i < st.nmachines; i++) {
		const struct state_machine *m = &st.machines[i];
		struct live l;
		machine_live(m, &l);
		json_t *o = json_pack("{s:s,s:s,s:o,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:n}", "name", m->name,
			"state", l.state, "pid", l.alive ? json_integer(m->pid) : json_null(), "priority", m->priority,
			"started_at", num_or_null(m->started_at), "ready_at", num_or_null(m->ready_at),
			"stopped_at", num_or_null(m->stopped_at),
			"cpu_percent", l.have_info ? json_real(l.info.cpu_pct) : json_null(),
			"memory_bytes", l.have_info ? json_integer((json_int_t)l.info.mem_bytes) : json_null(),
			"rss_bytes", l.have_info ? json_integer((json_int_t)l.info.rss_bytes) : json_null(),
			"host");
		json_array_append_new(ms, o);
		if (!json) {
			char started[16], ready[32];
			fmt_time(m->started_at, started, sizeof(started));
			if (m->ready_at > 0 && m->started_at > 0)
				snprintf(ready, sizeof(ready), "+%.1fs", m->ready_at - m->started_at);
			else
				snprintf(ready, sizeof(ready), "-");
			char pid[16] = "-", cpu[16] = "-", mem[16] = "-", rss[16] = "-";
			if (l.alive)
				snprintf(pid, sizeof(pid), "%d", (int)m->pid);
			if (l.have_info) {
				snprintf(cpu, sizeof(cpu), "%.1f", l.info.cpu_pct);
				snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(l.info.mem_bytes >> 20));
				snprintf(rss, sizeof(rss), "%lluM", (unsigned long long)(l.info.rss_bytes >> 20));
			}
			printf("%-12s %-8s %8s %5d %9s %9s %6s %8s %8s\n", m->name, l.state, pid, m->priority, started,
			       ready, cpu, mem, rss);
		}
	}
	if (!json && st.nswitches)
		printf("%-12s %-8s %8s  %s\n", "SWITCH", "STATE", "PID", "PORTS");
	for (size_t i = 0; i < st.nswitches; i++) {
		const struct state_switch *s = &st.switches[i];
		bool alive = switch_alive(s);
		json_t *ports = json_array();
		char line[512] = "";
		size_t o = 0;
		for (size_t mi = 0; p && mi < p->nmachines; mi++)
			for (size_t k = 0; k < p->machines[mi].nnics; k++) {
				const struct project_nic *n = &p->machines[mi].nics[k];
				if (!n->sw || strcmp(n->sw, s->name))
					continue;
				struct state_machine *m = state_machine_find(&st, p->machines[mi].name);
				bool up = alive && m && m->pid > 0 && state_pid_alive(m->pid, m->pid_start);
				char mac[18];
				project_format_mac(n->mac, mac);
				json_array_append_new(ports, json_pack("{s:s,s:s,s:b}", "machine", p->machines[mi].name,
								       "mac", mac, "connected", up));
				if (o < sizeof(line))
					o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s%s", o ? " " : "",
							      p->machines[mi].name, up ? "" : "(down)");
			}
		json_array_append_new(ss, json_pack("{s:s,s:s,s:o,s:s,s:o}", "name", s->name, "state",
			alive ? "running" : "stopped", "pid", alive ? json_integer(s->pid) : json_null(),
			"socket", s->sock, "ports", ports));
		if (!json)
			printf("%-12s %-8s %8d  %s\n", s->name, alive ? "running" : "stopped", alive ? (int)s->pid : 0,
			       line);
	}
	if (json) {
		json_t *root = json_pack("{s:s,s:s,s:o,s:o}", "name", st.name, "dir", dir, "machines", ms,
					 "switches", ss);
		char *text = json_dumps(root, JSON_INDENT(2));
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(root);
	} else {
		json_decref(ms);
		json_decref(ss);
	}
	project_free(p);
	state_free(&st);
	return 0;
}

int cli_cluster_list(int argc, char **argv)
{
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	if (argc > 1 && !json) {
		bool help = !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help");
		fprintf(help ? stdout : stderr, "usage: tern cluster list [--json]\n\n"
			"Every project in the registry ($XDG_DATA_HOME/tern/clusters) with its state:\n"
			"running (all machines), partial, crashed (one crashed) or stopped.\n");
		return help ? 0 : 2;
	}
	char reg[PATH_MAX];
	if (state_registry(reg, sizeof(reg))) {
		fprintf(stderr, "tern: no project registry folder (set XDG_DATA_HOME or HOME)\n");
		return 1;
	}
	struct dirent **ents = NULL;
	int n = scandir(reg, &ents, NULL, alphasort);
	json_t *arr = json_array();
	if (!json)
		printf("%-20s %-9s %9s  %s\n", "PROJECT", "STATE", "MACHINES", "FOLDER");
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX], dir[PATH_MAX], err[256];
		struct state st;
		if (ents[i]->d_name[0] != '.' && !state_path(reg, NULL, ents[i]->d_name, path, sizeof(path)) &&
		    realpath(path, dir) && !state_load(dir, &st, err, sizeof(err))) {
			size_t running = 0, crashed = 0;
			for (size_t k = 0; k < st.nmachines; k++) {
				const struct state_machine *m = &st.machines[k];
				if (m->pid > 0 && state_pid_alive(m->pid, m->pid_start))
					running++;
				else if (m->pid > 0 && !m->stopped)
					crashed++;
			}
			const char *state = crashed ? "crashed" : running == st.nmachines && running ? "running"
					    : running ? "partial" : "stopped";
			char count[32];
			snprintf(count, sizeof(count), "%zu/%zu", running, st.nmachines);
			if (!json)
				printf("%-20s %-9s %9s  %s\n", st.name, state, count, dir);
			json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:i,s:s}", "name", st.name, "state", state,
							     "running", (int)running, "machines", (int)st.nmachines,
							     "dir", dir));
			state_free(&st);
		}
		free(ents[i]);
	}
	free(ents);
	if (json) {
		char *text = json_dumps(arr, JSON_INDENT(2));
		if (text)
			printf("%s\n", text);
		free(text);
	}
	json_decref(arr);
	return 0;
}

/* NAME MACHINE to the machine's file in its folder. */
static int machine_file(const char *name, const char *machine, const char *file, char *buf, size_t len)
{
	char dir[PATH_MAX], err[512];
	struct state st;
	if (state_find_dir(name, dir, sizeof(dir), err, sizeof(err)) || state_load(dir, &st, err, sizeof(err))) {
		fprintf(stderr, "tern: %s\n", err);
		return -1;
	}
	bool known = state_machine_find(&st, machine) != NULL;
	state_free(&st);
	if (!known) {
		fprintf(stderr, "tern: project '%s' has no machine '%s'\n", name, machine);
		return -1;
	}
	if (state_path(dir, machine, file, buf, len)) {
		fprintf(stderr, "tern: path too long\n");
		return -1;
	}
	return 0;
}

int cli_cluster_log(int argc, char **argv)
{
	bool follow = false;
	const char *args[2] = { NULL, NULL };
	int na = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
			follow = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: tern cluster log NAME MACHINE [-f]\n\n"
			       "Print MACHINE's console log (DIR/MACHINE/console.log); -f keeps\n"
			       "printing what the guest writes until interrupted.\n");
			return 0;
		} else if (na < 2 && argv[i][0] != '-') {
			args[na++] = argv[i];
		} else {
			fprintf(stderr, "tern: unexpected '%s' (see 'tern cluster log --help')\n", argv[i]);
			return 2;
		}
	}
	if (na != 2) {
		fprintf(stderr, "tern: cluster log needs NAME and MACHINE (see 'tern cluster log --help')\n");
		return 2;
	}
	char path[PATH_MAX];
	if (machine_file(args[0], args[1], "console.log", path, sizeof(path)))
		return 1;
	FILE *f = fopen(path, "r");
	if (!f && !follow) {
		fprintf(stderr, "tern: no console log yet: %s\n", path);
		return 1;
	}
	char buf[8192];
	for (;;) {
		size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
		if (n) {
			fwrite(buf, 1, n, stdout);
			continue;
		}
		fflush(stdout);
		if (!follow)
			break;
		struct timespec ts = { 0, 200000000 };
		nanosleep(&ts, NULL);
		if (f)
			clearerr(f);
		else
			f = fopen(path, "r");
	}
	if (f)
		fclose(f);
	return 0;
}

int cli_cluster_console(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: tern cluster console NAME MACHINE\n\n"
		       "Attach this terminal to MACHINE's serial console (its unix socket).\n"
		       "Ctrl-] detaches; the machine keeps running. Without a terminal, stdin\n"
		       "is sent and output printed until stdin ends and the guest is quiet.\n");
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "tern: cluster console needs NAME and MACHINE (see 'tern cluster console --help')\n");
		return 2;
	}
	char path[PATH_MAX];
	if (machine_file(argv[1], argv[2], "console.sock", path, sizeof(path)))
		return 1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (strlen(path) >= sizeof(sa.sun_path) || fd < 0 ||
	    (strcpy(sa.sun_path, path), connect(fd, (struct sockaddr *)&sa, sizeof(sa)))) {
		fprintf(stderr, "tern: cannot attach to %s: %s (is the machine running?)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	bool tty = isatty(0);
	struct termios saved, raw;
	if (tty && tcgetattr(0, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
		fprintf(stderr, "tern: attached to %s.%s; Ctrl-] detaches\r\n", argv[1], argv[2]);
	}
	bool in_open = true;
	int rc = 0;
	for (;;) {
		struct pollfd pf[2] = { { .fd = fd, .events = POLLIN }, { .fd = 0, .events = in_open ? POLLIN : 0 } };
		int r = poll(pf, 2, in_open ? -1 : 1500);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;          /* stdin ended and the guest went quiet */
		char buf[4096];
		if (pf[0].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0) {
				fprintf(stderr, "%stern: the console closed (machine stopped?)\n", tty ? "\r\n" : "");
				rc = 1;
				break;
			}
			if (write(1, buf, (size_t)n) < 0)
				break;
		}
		if (pf[1].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false;
				continue;
			}
			char *esc = tty ? memchr(buf, 0x1d, (size_t)n) : NULL;
			size_t len = esc ? (size_t)(esc - buf) : (size_t)n;
			if (len && send(fd, buf, len, MSG_NOSIGNAL) < 0)
				break;
			if (esc)
				break;
		}
	}
	if (tty) {
		tcsetattr(0, TCSANOW, &saved);
		fprintf(stderr, "\ntern: detached\n");
	}
	close(fd);
	return rc;
}
