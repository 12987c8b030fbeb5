/* Project switches that span hosts: a spec's "vde,switch=NAME,..." NIC gets
 * this host's vde_switch for NAME, joined to the switch's hub host (the
 * first to need it, recorded at /tern/switches/NAME) by a VDE cable: two
 * `vde_plug vde://SOCK` whose stdio is one TCP stream between the agents. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "agent/agent.h"
#include "agent/records.h"
#include "cluster/launch.h"
#include "pki/tls.h"
#include "ctl/ctl_path.h"
#include "store/store.h"

#define SW_PREFIX "vde,switch="
/* Paths here are short (a control socket must fit sun_path); civetweb
 * workers, which get here through agent_vm_spawn, have small stacks. */
#define SW_PATH 1200

static void sw_path(const struct agent *a, const char *name, const char *suffix, char *buf, size_t len)
{
	snprintf(buf, len, "%s/sw/%s%s", a->state_dir, name, suffix);
}

static int pid_file_alive(const char *path, const char *exe_word)
{
	FILE *f = fopen(path, "r");
	int pid = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || kill(pid, 0))
		return 0;
	char proc[64], cmd[256] = "";
	snprintf(proc, sizeof(proc), "/proc/%d/cmdline", pid);
	int fd = open(proc, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, cmd, sizeof(cmd) - 1) : -1;
	if (fd >= 0)
		close(fd);
	cmd[n > 0 ? n : 0] = 0;
	return strstr(cmd, exe_word) ? pid : 0;
}

static void kill_pid_file(const char *path, const char *exe_word)
{
	int pid = pid_file_alive(path, exe_word);
	if (pid > 0)
		kill(pid, SIGTERM);
	unlink(path);
}

/* Starts vde_plug vde://sock detached with fd as its stdin and stdout; its
 * pid goes to pidf (may be NULL). */
static int plug_spawn(const struct agent *a, const char *sock, int fd, const char *pidf)
{
	char log[SW_PATH], url[SW_PATH];
	snprintf(log, sizeof(log), "%s/sw/cables.log", a->state_dir);
	snprintf(url, sizeof(url), "vde://%s", sock);
	pid_t mid = fork();
	if (mid < 0)
		return -errno;
	if (mid == 0) {
		setsid();
		pid_t child = fork();
		if (child != 0) {
			if (child > 0 && pidf) {
				FILE *f = fopen(pidf, "w");
				if (f) {
					fprintf(f, "%d\n", (int)child);
					fclose(f);
				}
			}
			_exit(child < 0);
		}
		int l = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || (l >= 0 && dup2(l, 2) < 0))
			_exit(127);
		for (int i = 3; i < 1024; i++)
			close(i);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execl("/usr/bin/vde_plug", "vde_plug", url, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(mid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/* This host's vde_switch for name, started when it does not run. */
static int local_switch(struct agent *a, const char *name, char *err, size_t errlen)
{
	char dir[SW_PATH], sock[SW_PATH], ctl[SW_PATH + 100], log[SW_PATH + 100];
	snprintf(dir, sizeof(dir), "%s/sw", a->state_dir);
	mkdir(dir, 0700);
	sw_path(a, name, "", sock, sizeof(sock));
	snprintf(ctl, sizeof(ctl), "%s/ctl", sock);
	if (ctl_socket_live(ctl) == 1)
		return 0;
	snprintf(log, sizeof(log), "%s/switches.log", dir);
	pid_t pid;
	return launch_vde_switch_at(sock, log, &pid, err, errlen);
}

/* The cable from this host's switch to the hub's, (re)made when it is not
 * up. cable is the hub agent's ADDR:PORT. */
static int cable_up(struct agent *a, const char *name, const char *cable, char *err, size_t errlen)
{
	char pidf[SW_PATH], sock[SW_PATH], host[128];
	sw_path(a, name, ".cable.pid", pidf, sizeof(pidf));
	if (pid_file_alive(pidf, "vde_plug"))
		return 0;
	const char *colon = strrchr(cable, ':');
	if (!colon || colon == cable || (size_t)(colon - cable) >= sizeof(host)) {
		snprintf(err, errlen, "switch %s: bad cable address '%s'", name, cable);
		return -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - cable), cable);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	if (getaddrinfo(host, colon + 1, &hints, &ai)) {
		snprintf(err, errlen, "switch %s: cannot resolve %s", name, cable);
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { 5, 0 };
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	int ok = fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
	freeaddrinfo(ai);
	/* With --tls-dir the cable is TLS both ways (the relay runs here). */
	if (ok && a->tls_dir[0] && (fd = tls_wrap_fd(a->tls_dir, fd, 0, err, errlen)) < 0)
		return -1;
	char line[256], reply[64] = "";
	int n = snprintf(line, sizeof(line), "TERN-CABLE %s %s\n", a->token, name);
	ssize_t got = 0;
	if (ok && write(fd, line, (size_t)n) == n)
		got = read(fd, reply, sizeof(reply) - 1);
	reply[got > 0 ? got : 0] = 0;
	if (!ok || strncmp(reply, "OK\n", 3)) {
		snprintf(err, errlen, "switch %s: the hub at %s %s", name, cable,
			 !ok ? "does not answer" : reply[0] ? "refused the cable" : "closed the cable");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sw_path(a, name, "", sock, sizeof(sock));
	int rc = plug_spawn(a, sock, fd, pidf);
	close(fd);
	if (rc)
		snprintf(err, errlen, "switch %s: cannot start vde_plug", name);
	else
		fprintf(stderr, "ternd: switch %s: cable to the hub at %s\n", name, cable);
	return rc;
}

/* This host's part of switch name: its vde_switch, and a cable to the hub
 * unless this host is the hub (the first to ask becomes it). */
static int switch_join(struct agent *a, const char *name, char *err, size_t errlen)
{
	if (local_switch(a, name, err, errlen))
		return -1;
	char key[160];
	rec_key(key, sizeof(key), REC_SWITCHES, name);
	for (int tries = 0; tries < 3; tries++) {
		json_t *rec = NULL;
		int rc = rec_get(a->store, key, &rec, NULL);
		if (rc == -ENOENT) {
			char cable[200];
			snprintf(cable, sizeof(cable), "%s:%d", a->address, a->cable_port);
			rec = json_pack("{s:s,s:s,s:s}", "name", name, "hub", a->host, "cable", cable);
			rc = rec_cas(a->store, key, 0, rec, 0);
			json_decref(rec);
			if (rc == -ECANCELED)
				continue;   /* another host became the hub meanwhile */
			if (rc == 0)
				fprintf(stderr, "ternd: switch %s: this host is its hub\n", name);
			return 0;   /* without the store, the switch works here alone */
		}
		if (rc)
			return 0;
		const char *hub = json_string_value(json_object_get(rec, "hub"));
		const char *cable = json_string_value(json_object_get(rec, "cable"));
		rc = hub && strcmp(hub, a->host) && cable ? cable_up(a, name, cable, err, errlen) : 0;
		json_decref(rec);
		if (rc)
			fprintf(stderr, "ternd: %s (retrying)\n", err);
		return 0;   /* the VM starts; the cable is retried every few seconds */
	}
	return 0;
}

int agent_switch_rewrite(struct agent *a, json_t *spec, json_t **out, char *err, size_t errlen)
{
	json_t *nets = json_object_get(spec, "nets"), *copy = NULL, *e;
	size_t i;
	json_array_foreach(nets, i, e) {
		const char *s = json_string_value(e);
		if (!s || strncmp(s, SW_PREFIX, strlen(SW_PREFIX)))
			continue;
		char name[REC_NAME_MAX + 2], sock[SW_PATH], net[SW_PATH + 200];
		size_t n = strcspn(s + strlen(SW_PREFIX), ",");
		snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), s + strlen(SW_PREFIX));
		if (n > REC_NAME_MAX || !rec_name_ok(name)) {
			snprintf(err, errlen, "spec: nets: '%s' does not name a switch (1-63 of A-Z a-z 0-9 _ . -)", s);
			json_decref(copy);
			return -1;
		}
		pthread_mutex_lock(&a->sw_lock);
		int rc = switch_join(a, name, err, errlen);
		pthread_mutex_unlock(&a->sw_lock);
		if (rc) {
			json_decref(copy);
			return -1;
		}
		if (!copy)
			copy = json_deep_copy(spec);
		sw_path(a, name, "", sock, sizeof(sock));
		snprintf(net, sizeof(net), "vde,sock=%s%s", sock, s + strlen(SW_PREFIX) + n);
		json_array_set_new(json_object_get(copy, "nets"), i, json_string(net));
	}
	*out = copy ? copy : json_incref(spec);
	return 0;
}

/* One incoming cable: "TERN-CABLE TOKEN SWITCH\n", answered "OK\n" before
 * the connection becomes a vde_plug on that switch. */
static void cable_accept(struct agent *a, int fd)
{
	char terr[512];
	if (a->tls_dir[0] && (fd = tls_wrap_fd(a->tls_dir, fd, 1, terr, sizeof(terr))) < 0) {
		fprintf(stderr, "ternd: a cable was refused: %s\n", terr);
		return;
	}
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char line[256];
	size_t n = 0;
	while (n < sizeof(line) - 1) {
		ssize_t r = read(fd, line + n, 1);
		if (r <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	char tok[130] = "", name[80] = "", err[512];
	int fields = sscanf(line, "TERN-CABLE %129s %79s", tok, name);
	size_t tl = strlen(a->token), diff = strlen(tok) ^ tl;
	for (size_t i = 0; i < tl; i++)
		diff |= (size_t)(unsigned char)(tok[i] ^ a->token[i]);
	if (fields != 2 || diff || !rec_name_ok(name)) {
		fprintf(stderr, "ternd: a cable was refused (%s)\n", fields != 2 ? "not a cable request" :
			diff ? "wrong token" : "bad switch name");
		ssize_t w = write(fd, "REFUSED\n", 8);
		(void)w;
		close(fd);
		return;
	}
	pthread_mutex_lock(&a->sw_lock);
	int rc = local_switch(a, name, err, sizeof(err));
	pthread_mutex_unlock(&a->sw_lock);
	char sock[SW_PATH];
	sw_path(a, name, "", sock, sizeof(sock));
	if (rc || write(fd, "OK\n", 3) != 3) {
		fprintf(stderr, "ternd: cable for %s: %s\n", name, rc ? err : "peer gone");
		close(fd);
		return;
	}
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (plug_spawn(a, sock, fd, NULL) == 0)
		fprintf(stderr, "ternd: switch %s: a cable joined\n", name);
	close(fd);
}

static void *cable_loop(void *arg)
{
	struct agent *a = arg;
	while (!atomic_load(&a->stop)) {
		struct pollfd p = { .fd = a->cable_fd, .events = POLLIN };
		if (poll(&p, 1, 500) <= 0)
			continue;
		int fd = accept4(a->cable_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		cable_accept(a, fd);   /* closes fd */
	}
	return NULL;
}

/* A listening socket on the agent's address and port (0: any free one). */
static int cable_listen(const char *address, int port)
{
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST }, *ai;
	if (getaddrinfo(address, p, &hints, &ai))
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd >= 0 && (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16))) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int agent_cable_start(struct agent *a, char *err, size_t errlen)
{
	int fd;
	if (a->cable_port) {
		fd = cable_listen(a->address, a->cable_port);
	} else {
		/* By default the API's port + 1, else any free port: the switch
		 * records carry the address. */
		const char *colon = strrchr(a->listen, ':');
		int api = colon ? atoi(colon + 1) : 0;
		fd = api && api < 65535 ? cable_listen(a->address, api + 1) : -1;
		if (fd < 0)
			fd = cable_listen(a->address, 0);
	}
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char port[16];
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    getnameinfo((struct sockaddr *)&ss, len, NULL, 0, port, sizeof(port), NI_NUMERICSERV)) {
		snprintf(err, errlen, "cable port %s:%d: %s (give another --cable-port)", a->address, a->cable_port,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	a->cable_port = atoi(port);
	a->cable_fd = fd;
	if (pthread_create(&a->cable_thread, NULL, cable_loop, a)) {
		close(fd);
		a->cable_fd = -1;
		snprintf(err, errlen, "cannot start the cable thread");
		return -1;
	}
	return 0;
}

void agent_cable_stop(struct agent *a)
{
	if (a->cable_fd < 0)
		return;
	pthread_join(a->cable_thread, NULL);
	close(a->cable_fd);
	a->cable_fd = -1;
}

void agent_switch_tick(struct agent *a)
{
	char dir[SW_PATH];
	snprintf(dir, sizeof(dir), "%s/sw", a->state_dir);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".pid") || strstr(e->d_name, ".cable.pid"))
			continue;
		char name[256], key[300], path[SW_PATH + 200], err[512];
		snprintf(name, sizeof(name), "%.*s", (int)(n - 4), e->d_name);
		if (!rec_name_ok(name))
			continue;
		rec_key(key, sizeof(key), REC_SWITCHES, name);
		json_t *rec = NULL;
		int rc = rec_get(a->store, key, &rec, NULL);
		pthread_mutex_lock(&a->sw_lock);
		if (rc == -ENOENT) {
			/* The project is gone: so is this host's part of the switch. */
			sw_path(a, name, ".cable.pid", path, sizeof(path));
			kill_pid_file(path, "vde_plug");
			sw_path(a, name, ".pid", path, sizeof(path));
			kill_pid_file(path, "vde_switch");
			sw_path(a, name, "", path, sizeof(path));
			launch_switch_cleanup(path);
			fprintf(stderr, "ternd: switch %s: removed\n", name);
		} else if (rc == 0) {
			const char *hub = json_string_value(json_object_get(rec, "hub"));
			const char *cable = json_string_value(json_object_get(rec, "cable"));
			sw_path(a, name, ".pid", path, sizeof(path));
			if (pid_file_alive(path, "vde_switch") && hub && cable && strcmp(hub, a->host))
				cable_up(a, name, cable, err, sizeof(err));
		}
		pthread_mutex_unlock(&a->sw_lock);
		json_decref(rec);
	}
	if (d)
		closedir(d);
}
