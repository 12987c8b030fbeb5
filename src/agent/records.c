/* The cluster's records: key names, JSON records with revisions, the host
 * list with each host's state derived from its leased record and its kept
 * config, the API token, and running a power command. */
#define _GNU_SOURCE   /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "agent/records.h"
#include "store/store.h"

int rec_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > REC_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

void rec_key(char *buf, size_t len, const char *prefix, const char *name)
{
	snprintf(buf, len, "%s%s", prefix, name);
}

int rec_get(struct store *s, const char *key, json_t **out, long long *rev)
{
	struct store_kv kv;
	int rc = store_get(s, key, &kv);
	if (rc)
		return rc;
	*out = json_loads(kv.value, 0, NULL);
	if (rev)
		*rev = kv.mod_rev;
	store_kv_clear(&kv);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

int rec_cas(struct store *s, const char *key, long long rev, json_t *obj, long long lease)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	int rc = store_cas(s, key, rev, text, lease);
	free(text);
	return rc;
}

static json_t *host_entry(json_t *hosts, const char *name)
{
	size_t i;
	json_t *h;
	json_array_foreach(hosts, i, h)
		if (!strcmp(json_string_value(json_object_get(h, "name")), name))
			return h;
	h = json_pack("{s:s,s:s,s:s,s:s,s:f,s:I,s:I,s:[],s:b}", "name", name, "address", "",
		      "state", "down", "power", "on", "cpu_percent", 0.0, "mem_used", (json_int_t)0,
		      "mem_total", (json_int_t)0, "vms", "draining", 0);
	json_array_append_new(hosts, h);
	return h;
}

static int by_name(const void *a, const void *b)
{
	json_t *const *x = a, *const *y = b;
	return strcmp(json_string_value(json_object_get(*x, "name")),
		      json_string_value(json_object_get(*y, "name")));
}

int rec_hosts(struct store *s, json_t **out)
{
	struct store_kv *live = NULL, *cfg = NULL, *vms = NULL;
	size_t nlive = 0, ncfg = 0, nvms = 0;
	int rc = store_list(s, REC_HOSTS, &live, &nlive, NULL);
	if (!rc)
		rc = store_list(s, REC_HOSTCFG, &cfg, &ncfg, NULL);
	if (!rc)
		rc = store_list(s, REC_VMS, &vms, &nvms, NULL);
	if (rc) {
		store_kvs_free(live, nlive);
		store_kvs_free(cfg, ncfg);
		return rc;
	}
	json_t *hosts = json_array();
	/* Kept configs first: a host whose agent is gone still shows. */
	for (size_t i = 0; i < ncfg; i++) {
		json_t *c = json_loads(cfg[i].value, 0, NULL);
		const char *name = cfg[i].key + strlen(REC_HOSTCFG);
		if (!json_is_object(c) || !rec_name_ok(name)) {
			json_decref(c);
			continue;
		}
		json_t *h = host_entry(hosts, name);
		const char *addr = json_string_value(json_object_get(c, "address"));
		const char *power = json_string_value(json_object_get(c, "power"));
		json_object_set_new(h, "address", json_string(addr ? addr : ""));
		json_object_set_new(h, "power", json_string(power ? power : "on"));
		json_object_set(h, "draining", json_object_get(c, "draining") ? json_object_get(c, "draining") : json_false());
		if (json_is_integer(json_object_get(c, "woken_at")))
			json_object_set(h, "woken_at", json_object_get(c, "woken_at"));
		json_decref(c);
	}
	/* Live records: the agent is up; its figures and VMs. */
	for (size_t i = 0; i < nlive; i++) {
		json_t *r = json_loads(live[i].value, 0, NULL);
		const char *name = live[i].key + strlen(REC_HOSTS);
		if (!json_is_object(r) || !rec_name_ok(name)) {
			json_decref(r);
			continue;
		}
		json_t *h = host_entry(hosts, name);
		const char *k;
		json_t *v;
		json_object_foreach(r, k, v)
			if (strcmp(k, "name") && strcmp(k, "power") && strcmp(k, "draining") && strcmp(k, "state"))
				json_object_set(h, k, v);
		json_object_set_new(h, "state", json_string("up"));
		json_decref(r);
	}
	/* A host that is down reports nothing: list what it should run. */
	size_t i;
	json_t *h;
	json_array_foreach(hosts, i, h) {
		const char *name = json_string_value(json_object_get(h, "name"));
		const char *state = json_string_value(json_object_get(h, "state"));
		if (!strcmp(state, "down"))
			for (size_t j = 0; j < nvms; j++) {
				json_t *v = json_loads(vms[j].value, 0, NULL);
				const char *vh = json_string_value(json_object_get(v, "host"));
				const char *want = json_string_value(json_object_get(v, "state"));
				if (vh && !strcmp(vh, name) && want && !strcmp(want, "running"))
					json_array_append_new(json_object_get(h, "vms"),
						json_pack("{s:s,s:s,s:f,s:I}", "name",
							  vms[j].key + strlen(REC_VMS), "state", "unknown",
							  "cpu_percent", 0.0, "mem", (json_int_t)0));
				json_decref(v);
			}
		if (!strcmp(json_string_value(json_object_get(h, "power")), "standby"))
			json_object_set_new(h, "state", json_string("standby"));
		else if (!strcmp(state, "up") && json_is_true(json_object_get(h, "draining")))
			json_object_set_new(h, "state", json_string("draining"));
	}
	/* Sorted by name. */
	size_t n = json_array_size(hosts);
	json_t **arr = calloc(n ? n : 1, sizeof(*arr));
	for (i = 0; arr && i < n; i++)
		arr[i] = json_incref(json_array_get(hosts, i));
	if (arr) {
		qsort(arr, n, sizeof(*arr), by_name);
		json_array_clear(hosts);
		for (i = 0; i < n; i++)
			json_array_append_new(hosts, arr[i]);
		free(arr);
	}
	store_kvs_free(live, nlive);
	store_kvs_free(cfg, ncfg);
	store_kvs_free(vms, nvms);
	*out = json_pack("{s:o}", "hosts", hosts);
	return 0;
}

json_t *rec_host_find(json_t *hosts, const char *name)
{
	size_t i;
	json_t *h;
	json_array_foreach(json_object_get(hosts, "hosts"), i, h)
		if (!strcmp(json_string_value(json_object_get(h, "name")), name))
			return json_incref(h);
	return NULL;
}

static void new_token(char *buf, size_t len)
{
	unsigned char r[24];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		for (size_t i = 0; i < sizeof(r); i++)   /* never: getrandom does not fail here */
			r[i] = (unsigned char)rand();
	for (size_t i = 0; i < sizeof(r) && 2 * i + 2 < len; i++)
		snprintf(buf + 2 * i, 3, "%02x", r[i]);
}

static int write_token_file(const char *path, const char *tok, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) || write(fd, tok, strlen(tok)) != (ssize_t)strlen(tok) ||
	    write(fd, "\n", 1) != 1) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int rec_token(struct store *s, const char *state_dir, int is_etcd, char *buf, size_t len,
	      char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/token", state_dir ? state_dir : ".");
	if (is_etcd) {
		for (int tries = 0; tries < 3; tries++) {
			struct store_kv kv;
			int rc = store_get(s, REC_TOKEN, &kv);
			if (rc == 0) {
				snprintf(buf, len, "%s", kv.value);
				store_kv_clear(&kv);
				/* The dashboard's login reads it from the state dir. */
				return state_dir ? write_token_file(path, buf, err, errlen) : 0;
			}
			if (rc != -ENOENT) {
				snprintf(err, errlen, "%s", store_error(s));
				return -1;
			}
			char tok[64];
			new_token(tok, sizeof(tok));
			rc = store_cas(s, REC_TOKEN, 0, tok, 0);
			if (rc && rc != -ECANCELED) {
				snprintf(err, errlen, "%s", store_error(s));
				return -1;
			}
		}
		snprintf(err, errlen, "cannot agree on the cluster token");
		return -1;
	}
	FILE *f = fopen(path, "r");
	if (f) {
		int ok = fgets(buf, (int)len, f) != NULL;
		fclose(f);
		buf[strcspn(buf, "\r\n")] = 0;
		if (ok && strlen(buf) >= 16)
			return 0;
	}
	if (!state_dir) {
		snprintf(err, errlen, "no token file %s", path);
		return -1;
	}
	new_token(buf, len);
	return write_token_file(path, buf, err, errlen);
}

int rec_run_cmd(const char *cmd, int timeout_s, char *err, size_t errlen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(p[1], 1);
		dup2(p[1], 2);
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char out[4096];
	size_t n = 0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = (long)timeout_s * 1000 - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		ssize_t r = read(p[0], out + n, sizeof(out) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == sizeof(out) - 1)
			n = 0;   /* keep the tail only */
	}
	close(p[0]);
	out[n] = 0;
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = 0;
	char *last = strrchr(out, '\n');
	snprintf(err, errlen, "'%s' %s %d%s%s", cmd, WIFEXITED(st) ? "exited with" : "killed by signal",
		 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), n ? ": " : "", last ? last + 1 : out);
	return -1;
}

int rec_default_state_dir(char *buf, size_t len)
{
	const char *env = getenv("TERN_STATE_DIR"), *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;
	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/var/lib/ternd");
	else if (xdg && *xdg)
		n = snprintf(buf, len, "%s/ternd", xdg);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.local/state/ternd", home);
	else
		return -1;
	return n > 0 && (size_t)n < len ? 0 : -1;
}

int rec_host_wake(struct store *s, const char *name, char *err, size_t errlen)
{
	char key[128];
	rec_key(key, sizeof(key), REC_HOSTCFG, name);
	for (int tries = 0; tries < 5; tries++) {
		json_t *cfg;
		long long rev;
		int rc = rec_get(s, key, &cfg, &rev);
		if (rc == -ENOENT) {
			snprintf(err, errlen, "no host %s", name);
			return -1;
		}
		if (rc) {
			snprintf(err, errlen, "%s", store_error(s));
			return -1;
		}
		const char *cmd = json_string_value(json_object_get(cfg, "power_cmd_wake"));
		const char *power = json_string_value(json_object_get(cfg, "power"));
		if (tries == 0 && power && !strcmp(power, "standby") && cmd && *cmd &&
		    rec_run_cmd(cmd, 60, err, errlen)) {
			json_decref(cfg);
			return -1;
		}
		json_object_set_new(cfg, "power", json_string("on"));
		json_object_set_new(cfg, "draining", json_false());
		json_object_set_new(cfg, "woken_at", json_integer((json_int_t)time(NULL)));
		rc = rec_cas(s, key, rev, cfg, 0);
		json_decref(cfg);
		if (rc == 0)
			return 0;
		if (rc != -ECANCELED) {
			snprintf(err, errlen, "%s", store_error(s));
			return -1;
		}
	}
	snprintf(err, errlen, "the config of host %s keeps changing", name);
	return -1;
}

char *rec_ca_pem(struct store *s)
{
	struct store_kv kv = { 0 };
	if (store_get(s, REC_CA, &kv))
		return NULL;
	char *pem = kv.value && strstr(kv.value, "BEGIN CERTIFICATE") ? strdup(kv.value) : NULL;
	store_kv_clear(&kv);
	return pem;
}
