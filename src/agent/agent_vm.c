/* VM supervision for ternd: each VM is a detached `tern run` (its own
 * session, reparented away from the agent) with its control socket, pid
 * file, console log and migration key in STATE_DIR/vms/NAME, so an agent
 * that dies or restarts takes no VM along and finds them all again. */
#define _GNU_SOURCE   /* pipe2 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "agent/agent.h"
#include "core/procstat.h"
#include "agent/records.h"
#include "ctl/ctl_path.h"
#include "ctl/qmp_client.h"

int64_t agent_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void agent_vm_dir(const struct agent *a, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/vms/%s", a->state_dir, name);
}

/* A VM's files; its control socket goes to --qmp-dir (by default tern's
 * own directory, so that `tern list`, `tern pause` ... see agent VMs). */
static void vm_file(const struct agent *a, const char *name, const char *file, char *buf, size_t len)
{
	if (!strcmp(file, "qmp"))
		snprintf(buf, len, "%s/%.63s.qmp", a->qmp_dir, name);
	else
		snprintf(buf, len, "%s/vms/%.63s/%s", a->state_dir, name, file);
}

struct agent_vm *agent_vm_find(struct agent *a, const char *name)
{
	for (struct agent_vm *v = a->vms; v; v = v->next)
		if (!v->gone && !strcmp(v->name, name))
			return v;
	return NULL;
}

/* Guest RAM in bytes from a --memory value (K, M, G suffix; bare = MiB). */
static uint64_t mem_bytes(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	switch (*end) {
	case 'K': case 'k': return v << 10;
	case 'G': case 'g': return v << 30;
	case 'B': case 'b': return v;
	default: return v << 20;
	}
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int agent_spec_check(json_t *spec, char *err, size_t errlen)
{
	if (!json_is_object(spec)) {
		snprintf(err, errlen, "spec: not a JSON object");
		return -1;
	}
	static const char *const known[] = { "kernel", "initrd", "append", "memory", "cpus", "disks",
					     "nets", NULL };
	const char *k;
	json_t *v;
	json_object_foreach(spec, k, v) {
		int ok = 0;
		for (int i = 0; known[i]; i++)
			ok |= !strcmp(k, known[i]);
		if (!ok) {
			snprintf(err, errlen, "spec: unknown field '%s'", k);
			return -1;
		}
	}
	if (!jstr(spec, "kernel") || access(jstr(spec, "kernel"), R_OK)) {
		snprintf(err, errlen, "spec: 'kernel' must name a readable file");
		return -1;
	}
	if (json_object_get(spec, "initrd") && (!jstr(spec, "initrd") || access(jstr(spec, "initrd"), R_OK))) {
		snprintf(err, errlen, "spec: 'initrd' must name a readable file");
		return -1;
	}
	if (json_object_get(spec, "append") && !jstr(spec, "append")) {
		snprintf(err, errlen, "spec: 'append' must be a string");
		return -1;
	}
	const char *m = jstr(spec, "memory");
	if (json_object_get(spec, "memory")) {
		char *end = NULL;
		if (!m || strtoull(m, &end, 10) == 0 || (*end && strchr("KkMmGgBb", *end) == NULL) ||
		    (*end && end[1])) {
			snprintf(err, errlen, "spec: 'memory' must be a size such as \"256M\"");
			return -1;
		}
	}
	json_t *c = json_object_get(spec, "cpus");
	if (c && (!json_is_integer(c) || json_integer_value(c) < 1 || json_integer_value(c) > 8)) {
		snprintf(err, errlen, "spec: 'cpus' must be 1..8");
		return -1;
	}
	const char *lists[] = { "disks", "nets" };
	for (int i = 0; i < 2; i++) {
		json_t *l = json_object_get(spec, lists[i]);
		size_t j;
		json_t *e;
		if (l && !json_is_array(l)) {
			snprintf(err, errlen, "spec: '%s' must be an array of strings", lists[i]);
			return -1;
		}
		json_array_foreach(l, j, e)
			if (!json_is_string(e)) {
				snprintf(err, errlen, "spec: '%s' must be an array of strings", lists[i]);
				return -1;
			}
	}
	return 0;
}

static int write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	int rc = write(fd, data, n) == (ssize_t)n ? 0 : -EIO;
	close(fd);
	return rc;
}

/* Builds the `tern run` command line; argv strings point into spec or a. */
static int build_argv(const struct agent *a, const char *name, json_t *spec, const char *incoming,
		      const char **argv, int max, char bufs[4][4200])
{
	int n = 0;
	argv[n++] = a->tern_bin;
	argv[n++] = "run";
	argv[n++] = "--name";
	argv[n++] = name;
	vm_file(a, name, "qmp", bufs[0], 4200);
	argv[n++] = "--qmp";
	argv[n++] = bufs[0];
	/* The console: a socket for the dashboard's terminal, and a log. */
	char log[4100], sock[4100];
	vm_file(a, name, "console.log", log, sizeof(log));
	vm_file(a, name, "console.sock", sock, sizeof(sock));
	if (strlen(sock) < sizeof(((struct sockaddr_un *)0)->sun_path))
		snprintf(bufs[1], 4200, "unix:%.107s,log=%.4080s", sock, log);
	else
		snprintf(bufs[1], 4200, "file:%s", log);
	argv[n++] = "--console";
	argv[n++] = bufs[1];
	vm_file(a, name, "migrate.key", bufs[2], 4200);
	argv[n++] = "--migrate-key";
	argv[n++] = bufs[2];
	if (a->tls_dir[0]) {
		argv[n++] = "--migrate-tls";
		argv[n++] = a->tls_dir;
	}
	if (incoming) {
		argv[n++] = "--incoming";
		argv[n++] = incoming;
		if (a->images_dir[0]) {     /* bases of disks copied here */
			argv[n++] = "--base-dir";
			argv[n++] = a->images_dir;
		}
	} else {
		argv[n++] = "--kernel";
		argv[n++] = jstr(spec, "kernel");
		if (jstr(spec, "initrd")) {
			argv[n++] = "--initrd";
			argv[n++] = jstr(spec, "initrd");
		}
		if (jstr(spec, "append")) {
			argv[n++] = "--append";
			argv[n++] = jstr(spec, "append");
		}
		if (jstr(spec, "memory")) {
			argv[n++] = "--memory";
			argv[n++] = jstr(spec, "memory");
		}
		if (json_object_get(spec, "cpus")) {
			snprintf(bufs[3], 4200, "%lld", (long long)json_integer_value(json_object_get(spec, "cpus")));
			argv[n++] = "--cpus";
			argv[n++] = bufs[3];
		}
	}
	/* Disks and NICs: on a migration the destination names its own. */
	const char *lists[] = { "disks", "--disk", "nets", "--net" };
	for (int l = 0; l < 4; l += 2) {
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(spec, lists[l]), i, e) {
			if (n + 3 >= max)
				return -1;
			argv[n++] = lists[l + 1];
			argv[n++] = json_string_value(e);
		}
	}
	argv[n] = NULL;
	return n;
}

int agent_vm_write_key(struct agent *a, const char *name, const unsigned char *key, size_t keylen)
{
	char path[4300];
	vm_file(a, name, "migrate.key", path, sizeof(path));
	return write_file(path, key, keylen, 0600);
}

struct agent_vm *agent_vm_spawn(struct agent *a, const char *name, json_t *spec,
				const char *incoming_uri, const unsigned char *key, size_t keylen,
				char *err, size_t errlen)
{
	char dir[4096], path[4200];
	agent_vm_dir(a, name, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/vms", a->state_dir);
	mkdir(path, 0700);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	vm_file(a, name, "qmp", path, sizeof(path));
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "control socket path %s is too long: use a shorter --state-dir", path);
		return NULL;
	}
	if (ctl_socket_live(path) > 0) {
		snprintf(err, errlen, "a VM named %s already runs here", name);
		return NULL;
	}
	unlink(path);
	/* A key for migrations from here; each migration writes a fresh one. */
	unsigned char rnd[32];
	if (!key) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			return NULL;
		}
		key = rnd;
		keylen = sizeof(rnd);
	}
	vm_file(a, name, "migrate.key", path, sizeof(path));
	if (agent_vm_write_key(a, name, key, keylen)) {
		snprintf(err, errlen, "cannot write %s", path);
		return NULL;
	}
	char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
	vm_file(a, name, "spec.json", path, sizeof(path));
	int rc = text ? write_file(path, text, strlen(text), 0600) : -ENOMEM;
	free(text);
	if (rc) {
		snprintf(err, errlen, "cannot write %s", path);
		return NULL;
	}
	const char *argv[48];
	char bufs[4][4200];
	json_t *run_spec = NULL;     /* switches by name become this host's sockets */
	if (agent_switch_rewrite(a, spec, &run_spec, err, errlen))
		return NULL;
	if (build_argv(a, name, run_spec, incoming_uri, argv, 48, bufs) < 0) {
		json_decref(run_spec);
		snprintf(err, errlen, "too many disks or NICs");
		return NULL;
	}
	char logp[4200];
	vm_file(a, name, "tern.log", logp, sizeof(logp));
	int p[2];
	if (pipe2(p, O_CLOEXEC)) {
		json_decref(run_spec);
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return NULL;
	}
	pid_t mid = fork();
	if (mid < 0) {
		json_decref(run_spec);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	if (mid == 0) {
		/* A session of its own, then fork again: the VM is nobody's
		 * child here, and no signal to the agent's group reaches it. */
		setsid();
		pid_t vm = fork();
		if (vm != 0)
			_exit(vm < 0);
		int null = open("/dev/null", O_RDWR);
		int log = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (null < 0 || log < 0)
			_exit(127);
		dup2(null, 0);
		dup2(log, 1);
		dup2(log, 2);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != p[1])
				close(fd);
		/* The agent blocks SIGTERM and SIGINT in every thread (its main
		 * loop takes them synchronously): a VM gets a clean mask. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		pid_t me = getpid();
		if (write(p[1], &me, sizeof(me)) != sizeof(me))
			_exit(127);
		execv(argv[0], (char **)argv);
		int e = errno;
		if (write(p[1], &e, sizeof(e)) != sizeof(e))
			_exit(127);
		_exit(127);
	}
	close(p[1]);
	json_decref(run_spec);
	waitpid(mid, NULL, 0);
	pid_t pid = -1;
	int eno = 0;
	ssize_t r1 = read(p[0], &pid, sizeof(pid));
	ssize_t r2 = read(p[0], &eno, sizeof(eno));
	close(p[0]);
	if (r1 != sizeof(pid) || r2 > 0) {
		snprintf(err, errlen, "cannot start %s: %s", a->tern_bin, r2 > 0 ? strerror(eno) : "fork failed");
		return NULL;
	}
	char pidtext[32];
	snprintf(pidtext, sizeof(pidtext), "%d\n", (int)pid);
	vm_file(a, name, "pid", path, sizeof(path));
	write_file(path, pidtext, strlen(pidtext), 0600);
	struct agent_vm *v = calloc(1, sizeof(*v));
	if (!v) {
		kill(pid, SIGKILL);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->pid = pid;
	v->incoming = incoming_uri != NULL;
	snprintf(v->status, sizeof(v->status), "%s", incoming_uri ? "inmigrate" : "starting");
	v->spec = json_incref(spec);
	v->mem = jstr(spec, "memory") ? mem_bytes(jstr(spec, "memory")) : 256ull << 20;
	v->started_ms = agent_now_ms();
	v->next = a->vms;
	a->vms = v;
	return v;
}

/* 1 when pid is a tern process with our control socket path on its command line. */
static int is_our_vm(pid_t pid, const char *qmp)
{
	char p[64], cmd[8192];
	snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	for (ssize_t i = 0; i < n; i++)
		if (cmd[i] == 0)
			cmd[i] = '\n';
	cmd[n] = 0;
	char want[4300];
	snprintf(want, sizeof(want), "\n%s\n", qmp);
	return strstr(cmd, want) != NULL;
}


void agent_vm_adopt_all(struct agent *a)
{
	char d[4096];
	snprintf(d, sizeof(d), "%s/vms", a->state_dir);
	DIR *dir = opendir(d);
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		if (!rec_name_ok(e->d_name))
			continue;
		char path[4300], qmp[4300];
		vm_file(a, e->d_name, "pid", path, sizeof(path));
		vm_file(a, e->d_name, "qmp", qmp, sizeof(qmp));
		FILE *f = fopen(path, "r");
		int pid = 0;
		if (!f)
			continue;
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
		if (pid <= 0 || kill(pid, 0) || !is_our_vm(pid, qmp)) {
			unlink(path);   /* it ended while nobody watched */
			continue;
		}
		vm_file(a, e->d_name, "spec.json", path, sizeof(path));
		json_t *spec = json_load_file(path, 0, NULL);
		struct agent_vm *v = calloc(1, sizeof(*v));
		if (!v) {
			json_decref(spec);
			continue;
		}
		snprintf(v->name, sizeof(v->name), "%.63s", e->d_name);
		v->pid = pid;
		v->spec = spec ? spec : json_object();
		v->mem = jstr(v->spec, "memory") ? mem_bytes(jstr(v->spec, "memory")) : 256ull << 20;
		/* No control socket yet: still waiting for a migration. */
		v->incoming = ctl_socket_live(qmp) <= 0;
		snprintf(v->status, sizeof(v->status), "%s", v->incoming ? "inmigrate" : "running");
		v->started_ms = proc_start_wall_ms(pid);
		if (!v->started_ms)
			v->started_ms = agent_now_ms();
		pthread_mutex_lock(&a->lock);
		v->next = a->vms;
		a->vms = v;
		pthread_mutex_unlock(&a->lock);
		fprintf(stderr, "ternd: adopted VM %s (pid %d)\n", v->name, pid);
	}
	if (dir)
		closedir(dir);
}

json_t *agent_vm_qmp(struct agent *a, const char *name, const char *cmd, json_t *args,
		     char *err, size_t errlen)
{
	char qmp[4300];
	vm_file(a, name, "qmp", qmp, sizeof(qmp));
	struct qmp_client_conn *c = qmp_client_open(qmp, 3000, err, errlen);
	if (!c)
		return NULL;
	json_t *r = qmp_client_execute(c, cmd, args, err, errlen);
	qmp_client_close(c);
	return r;
}


static uint64_t proc_rss(pid_t pid)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/statm", (int)pid);
	FILE *f = fopen(p, "r");
	unsigned long long size, rss = 0;
	if (f) {
		if (fscanf(f, "%llu %llu", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

void agent_vm_sample(struct agent *a)
{
	struct probe {
		char name[64];
		pid_t pid;
		int incoming;
	} probes[256];
	int n = 0;
	pthread_mutex_lock(&a->lock);
	for (struct agent_vm *v = a->vms; v && n < 256; v = v->next)
		if (!v->gone) {
			snprintf(probes[n].name, sizeof(probes[n].name), "%s", v->name);
			probes[n].pid = v->pid;
			probes[n++].incoming = v->incoming;
		}
	pthread_mutex_unlock(&a->lock);
	for (int i = 0; i < n; i++) {
		char qmp[4300], st[32] = "", err[256];
		vm_file(a, probes[i].name, "qmp", qmp, sizeof(qmp));
		int alive = kill(probes[i].pid, 0) == 0 && is_our_vm(probes[i].pid, qmp);
		if (alive && ctl_socket_live(qmp) > 0) {
			json_t *r = agent_vm_qmp(a, probes[i].name, "query-status", NULL, err, sizeof(err));
			const char *s = json_string_value(json_object_get(r, "status"));
			snprintf(st, sizeof(st), "%s", s ? s : "");
			json_decref(r);
		}
		double cpu = alive ? proc_cpu_seconds(probes[i].pid) : -1;
		uint64_t rss = alive ? proc_rss(probes[i].pid) : 0;
		int64_t now = agent_now_ms();
		pthread_mutex_lock(&a->lock);
		struct agent_vm *v = agent_vm_find(a, probes[i].name);
		if (v && v->pid == probes[i].pid) {
			if (!alive) {
				v->gone = 1;
				char pidf[4300];
				vm_file(a, v->name, "pid", pidf, sizeof(pidf));
				unlink(pidf);
				fprintf(stderr, "ternd: VM %s (pid %d) ended\n", v->name, (int)v->pid);
			} else {
				if (st[0])
					snprintf(v->status, sizeof(v->status), "%s", st);
				if (v->last_sample_ms && cpu >= v->last_cpu_s && now > v->last_sample_ms)
					v->cpu_pct = 100.0 * (cpu - v->last_cpu_s) * 1000.0 /
						     (double)(now - v->last_sample_ms);
				v->last_cpu_s = cpu;
				v->last_sample_ms = now;
				v->rss = rss;
			}
		}
		pthread_mutex_unlock(&a->lock);
	}
}

int agent_vm_kill(struct agent *a, const char *name)
{
	pthread_mutex_lock(&a->lock);
	struct agent_vm *v = agent_vm_find(a, name);
	pid_t pid = v ? v->pid : -1;
	pthread_mutex_unlock(&a->lock);
	if (pid <= 0)
		return -ENOENT;
	char err[256], qmp[4300];
	vm_file(a, name, "qmp", qmp, sizeof(qmp));
	json_decref(agent_vm_qmp(a, name, "quit", NULL, err, sizeof(err)));
	for (int i = 0; i < 40 && kill(pid, 0) == 0 && is_our_vm(pid, qmp); i++) {
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);
	}
	if (kill(pid, 0) == 0 && is_our_vm(pid, qmp))
		kill(pid, SIGKILL);
	pthread_mutex_lock(&a->lock);
	v = agent_vm_find(a, name);
	if (v && v->pid == pid)
		v->gone = 1;
	pthread_mutex_unlock(&a->lock);
	char pidf[4300];
	vm_file(a, name, "pid", pidf, sizeof(pidf));
	unlink(pidf);
	return 0;
}

json_t *agent_vm_json(const struct agent_vm *v)
{
	return json_pack("{s:s,s:s,s:i,s:f,s:I,s:I,s:f,s:b,s:b}", "name", v->name,
			 "state", v->incoming ? "incoming" : v->status, "pid", (int)v->pid,
			 "cpu_percent", v->cpu_pct, "mem", (json_int_t)v->mem, "rss", (json_int_t)v->rss,
			 "uptime", (double)(agent_now_ms() - v->started_ms) / 1000.0,
			 "migrating", v->migrating, "incoming", v->incoming);
}

json_t *agent_vm_list_json(struct agent *a)
{
	json_t *arr = json_array();
	for (struct agent_vm *v = a->vms; v; v = v->next)
		if (!v->gone && !v->incoming)
			json_array_append_new(arr, agent_vm_json(v));
	return arr;
}

void agent_vm_sweep(struct agent *a)
{
	struct agent_vm **pp = &a->vms;
	while (*pp) {
		struct agent_vm *v = *pp;
		/* A finished migration's report stays readable for a while. */
		if (v->gone && !v->migrating &&
		    (!v->mig.finished_ms || agent_now_ms() - v->mig.finished_ms > 600000)) {
			*pp = v->next;
			json_decref(v->spec);
			json_decref(v->mig.progress);
			free(v);
		} else {
			pp = &v->next;
		}
	}
}
