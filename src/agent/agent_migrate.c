/* Live migration between agents. The source agent takes the VM's lock in
 * the store (a transaction, under its lease), asks the destination agent to
 * start `tern run --incoming` with a fresh key, migrates over QMP while it
 * records the progress, and flips the VM's record to the destination only
 * after the switch-over succeeded. A failure anywhere before that leaves the
 * VM running here and the record as it was. With copy_storage the disks
 * travel in the stream: the destination agent names a new file for each
 * writable disk in the VM's folder there, the record's spec takes those
 * paths with the host, and the source's files are deleted once the VM runs
 * there. Also evacuation. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <glob.h>
#include <time.h>
#include <unistd.h>
#include "agent/agent.h"
#include "agent/api_client.h"
#include "agent/records.h"
#include "store/store.h"

#define MIG_MAX_MS (30 * 60 * 1000)

struct mig_job {
	struct agent *a;
	char name[64], to[64], to_api[256];
	struct agent_mig_opts o;
	long long lock_rev;
};

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static void mig_set(struct agent *a, const char *name, const char *status, const char *error, json_t *progress)
{
	pthread_mutex_lock(&a->lock);
	for (struct agent_vm *v = a->vms; v; v = v->next) {
		if (strcmp(v->name, name) || !v->migrating)
			continue;
		if (status)
			snprintf(v->mig.status, sizeof(v->mig.status), "%s", status);
		if (error)
			snprintf(v->mig.error, sizeof(v->mig.error), "%s", error);
		if (progress) {
			json_decref(v->mig.progress);
			v->mig.progress = json_incref(progress);
		}
		if (status && (!strcmp(status, "completed") || !strcmp(status, "failed"))) {
			v->mig.finished_ms = agent_now_ms();
			v->migrating = 0;
		}
	}
	pthread_mutex_unlock(&a->lock);
}

static void unlock_vm(struct agent *a, const char *name, long long rev)
{
	char key[128];
	rec_key(key, sizeof(key), REC_LOCKS, name);
	/* The store may be away for a while; the lease frees it otherwise. */
	for (int i = 0; i < 20; i++) {
		int rc = store_cas(a->store, key, rev, NULL, 0);
		if (rc == 0 || rc == -ECANCELED)
			return;
		sleep_ms(500);
	}
}

/* The value of key= in a --disk string ("file=PATH,format=qcow2"), or "". */
static void disk_opt(const char *disk, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	out[0] = 0;
	for (const char *p = disk; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *v = p + kl + 1, *end = strchr(v, ',');
			size_t n = end ? (size_t)(end - v) : strlen(v);
			snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), v);
			return;
		}
	}
}

static int disk_readonly(const char *disk)
{
	char ro[8];
	disk_opt(disk, "readonly", ro, sizeof(ro));
	return !strcmp(ro, "on");
}

/* After a storage migration: the source's copies of the writable disks. */
static void delete_source_disks(json_t *spec)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(spec, "disks"), i, e) {
		const char *d = json_string_value(e);
		char path[4096];
		if (!d || disk_readonly(d))
			continue;
		disk_opt(d, "file", path, sizeof(path));
		if (path[0] && !unlink(path))
			fprintf(stderr, "ternd: released %s (the disk moved with the VM)\n", path);
		else if (path[0])
			fprintf(stderr, "ternd: cannot delete %s: %s\n", path, strerror(errno));
	}
}

/* Moves the VM's record to the destination, if it still names us; with
 * spec (a storage migration), its disks are the destination's now. */
static int flip_record(struct agent *a, const char *name, const char *to, json_t *spec,
		       char *err, size_t errlen)
{
	char key[128];
	rec_key(key, sizeof(key), REC_VMS, name);
	for (int i = 0; i < 120; i++) {
		json_t *rec;
		long long rev;
		int rc = rec_get(a->store, key, &rec, &rev);
		if (rc == 0) {
			if (strcmp(jstr(rec, "host"), a->host)) {
				snprintf(err, errlen, "the record of %s names host %s meanwhile", name, jstr(rec, "host"));
				json_decref(rec);
				return -1;
			}
			json_object_set_new(rec, "host", json_string(to));
			if (spec)
				json_object_set(rec, "spec", spec);
			rc = rec_cas(a->store, key, rev, rec, 0);
			json_decref(rec);
			if (rc == 0)
				return 0;
		}
		if (rc == -ENOENT) {
			snprintf(err, errlen, "the record of %s was deleted meanwhile", name);
			return -1;
		}
		if (rc != -ECANCELED)
			sleep_ms(500);     /* the store is away: wait for it */
	}
	snprintf(err, errlen, "cannot update the record of %s: %s", name, store_error(a->store));
	return -1;
}

static void *mig_thread(void *p)
{
	struct mig_job *j = p;
	struct agent *a = j->a;
	char err[512] = "", path[200];
	struct api_auth auth = { .token = a->token, .tls_dir = a->tls_dir };
	unsigned char key[32];
	char hex[65];
	json_t *reply = NULL, *m = NULL, *old_spec = NULL, *new_spec = NULL;
	int dest_started = 0;
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key) ||
	    agent_vm_write_key(a, j->name, key, sizeof(key))) {
		snprintf(err, sizeof(err), "cannot write a fresh migration key");
		goto failed;
	}
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	pthread_mutex_lock(&a->lock);
	struct agent_vm *v = agent_vm_find(a, j->name);
	json_t *spec = v ? json_incref(v->spec) : json_object();
	pthread_mutex_unlock(&a->lock);
	old_spec = json_incref(spec);
	json_t *body = json_pack("{s:s,s:s,s:o,s:s,s:b}", "name", j->name, "key", hex, "spec", spec, "from", a->host,
				 "copy_storage", j->o.copy_storage);
	int st = api_call(j->to_api, &auth, "POST", "/api/v1/incoming", body, &reply, 30000, err, sizeof(err));
	json_decref(body);
	if (st != 201) {
		char why[600];
		snprintf(why, sizeof(why), "destination %s refused: %.400s", j->to, st < 0 ? err : jstr(reply, "error"));
		snprintf(err, sizeof(err), "%.500s", why);
		goto failed;
	}
	dest_started = 1;
	char uri[256];
	snprintf(uri, sizeof(uri), "%s", jstr(reply, "uri"));
	if (j->o.copy_storage && json_is_object(json_object_get(reply, "spec")))
		new_spec = json_incref(json_object_get(reply, "spec"));
	if (j->o.copy_storage && !new_spec) {
		snprintf(err, sizeof(err), "destination %s did not name its disk copies (an older ternd?)", j->to);
		json_decref(reply);
		reply = NULL;
		goto failed;
	}
	json_decref(reply);
	reply = NULL;
	fprintf(stderr, "ternd: migrating %s to %s at %s%s%s\n", j->name, j->to, uri, j->o.postcopy ? " (post-copy)" : "",
		j->o.copy_storage ? " with its storage" : "");
	json_t *params = json_pack("{s:s,s:I}", "mode", j->o.postcopy ? "postcopy" : "precopy", "max-bandwidth",
				   (json_int_t)(j->o.bandwidth_mbs * 1000000));
	if (j->o.downtime_ms > 0)
		json_object_set_new(params, "downtime-limit", json_integer(j->o.downtime_ms));
	json_t *r = agent_vm_qmp(a, j->name, "migrate-set-parameters", params, err, sizeof(err));
	json_decref(params);
	if (!r)
		goto failed;
	json_decref(r);
	json_t *args = json_pack("{s:s,s:b}", "uri", uri, "blk", j->o.copy_storage);
	r = agent_vm_qmp(a, j->name, "migrate", args, err, sizeof(err));
	json_decref(args);
	if (!r)
		goto failed;
	json_decref(r);
	mig_set(a, j->name, "active", NULL, NULL);
	int64_t t0 = agent_now_ms(), last_check = t0;
	for (;;) {
		json_decref(m);
		m = agent_vm_qmp(a, j->name, "query-migrate", NULL, err, sizeof(err));
		if (!m)
			goto failed;
		const char *s = jstr(m, "status");
		mig_set(a, j->name, NULL, NULL, m);
		if (!strcmp(s, "completed"))
			break;
		if (!strcmp(s, "failed") || !strcmp(s, "cancelled") || !strcmp(s, "postcopy-paused")) {
			snprintf(err, sizeof(err), "migration %s: %s", s, jstr(m, "error-desc"));
			goto failed;
		}
		/* A destination agent that went away cannot take the VM over:
		 * give up while the source still has it. */
		if (agent_now_ms() - last_check >= 1000 && strcmp(s, "postcopy-active")) {
			json_t *hr = NULL;
			char e2[256];
			int hs = api_call(j->to_api, &auth, "GET", "/api/v1/host", NULL, &hr, 3000, e2, sizeof(e2));
			json_decref(hr);
			last_check = agent_now_ms();
			if (hs != 200) {
				json_decref(agent_vm_qmp(a, j->name, "migrate_cancel", NULL, e2, sizeof(e2)));
				snprintf(err, sizeof(err), "the agent of %s stopped answering: cancelled", j->to);
				goto failed;
			}
		}
		if (agent_now_ms() - t0 > MIG_MAX_MS) {
			json_decref(agent_vm_qmp(a, j->name, "migrate_cancel", NULL, err, sizeof(err)));
			snprintf(err, sizeof(err), "migration took longer than %d s: cancelled", MIG_MAX_MS / 1000);
			goto failed;
		}
		sleep_ms(200);
	}
	/* Switched over: the guest runs at the destination. Only now the record. */
	if (flip_record(a, j->name, j->to, new_spec, err, sizeof(err))) {
		/* The record still names us: the destination's copy must go and
		 * this one (paused since the switch-over) runs on. */
		fprintf(stderr, "ternd: %s: %s; resuming here\n", j->name, err);
		snprintf(path, sizeof(path), "/api/v1/incoming/%s", j->name);
		char e2[256];
		api_call(j->to_api, &auth, "DELETE", path, NULL, &reply, 10000, e2, sizeof(e2));
		json_decref(reply);
		reply = NULL;
		json_decref(agent_vm_qmp(a, j->name, "cont", NULL, e2, sizeof(e2)));
		dest_started = 0;
		goto failed;
	}
	fprintf(stderr, "ternd: %s now runs on %s (%lld ms, downtime %lld ms)\n", j->name, j->to,
		(long long)json_integer_value(json_object_get(m, "total-time")),
		(long long)json_integer_value(json_object_get(m, "downtime")));
	/* Completed once the source is gone (and its disks, after a storage
	 * migration): whoever waits for it sees the host without the VM. */
	agent_vm_kill(a, j->name);
	if (new_spec)
		delete_source_disks(old_spec);
	mig_set(a, j->name, "completed", NULL, m);
	agent_host_publish(a);
	unlock_vm(a, j->name, j->lock_rev);
	json_decref(m);
	json_decref(old_spec);
	json_decref(new_spec);
	free(j);
	return NULL;
failed:
	fprintf(stderr, "ternd: migration of %s to %s failed: %s; it keeps running here\n", j->name, j->to, err);
	if (dest_started) {
		char e2[256];
		snprintf(path, sizeof(path), "/api/v1/incoming/%s", j->name);
		api_call(j->to_api, &auth, "DELETE", path, NULL, &reply, 10000, e2, sizeof(e2));
	}
	json_decref(reply);
	mig_set(a, j->name, "failed", err, m);
	json_decref(m);
	json_decref(old_spec);
	json_decref(new_spec);
	unlock_vm(a, j->name, j->lock_rev);
	free(j);
	return NULL;
}

int agent_migrate_start(struct agent *a, const char *name, const char *to,
			const struct agent_mig_opts *o, char *err, size_t errlen)
{
	if (!strcmp(to, a->host)) {
		snprintf(err, errlen, "%s already runs on %s", name, to);
		return -EINVAL;
	}
	pthread_mutex_lock(&a->lock);
	struct agent_vm *v = agent_vm_find(a, name);
	int ok = v && !v->incoming, busy = v && v->migrating;
	uint64_t mem = v ? v->mem : 0;
	pthread_mutex_unlock(&a->lock);
	if (!ok) {
		snprintf(err, errlen, "%s does not run on %s", name, a->host);
		return -EINVAL;
	}
	if (busy) {
		snprintf(err, errlen, "%s is already being migrated", name);
		return -EBUSY;
	}
	json_t *hosts = NULL, *h = NULL;
	int rc = rec_hosts(a->store, &hosts);
	if (rc) {
		snprintf(err, errlen, "%s", store_error(a->store));
		return -ENOTCONN;
	}
	h = rec_host_find(hosts, to);
	json_decref(hosts);
	if (!h || strcmp(jstr(h, "state"), "up")) {
		snprintf(err, errlen, "host %s is %s", to, h ? jstr(h, "state") : "unknown");
		json_decref(h);
		return -EINVAL;
	}
	uint64_t free_mem = (uint64_t)json_integer_value(json_object_get(h, "mem_free"));
	if (free_mem < mem) {
		snprintf(err, errlen, "host %s has %llu MiB free, %s needs %llu MiB", to,
			 (unsigned long long)(free_mem >> 20), name, (unsigned long long)(mem >> 20));
		json_decref(h);
		return -EINVAL;
	}
	struct mig_job *j = calloc(1, sizeof(*j));
	if (!j) {
		json_decref(h);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	j->a = a;
	j->o = *o;
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->to, sizeof(j->to), "%s", to);
	snprintf(j->to_api, sizeof(j->to_api), "%s", jstr(h, "api"));
	json_decref(h);
	/* The lock: whoever creates it first migrates; it lives under our
	 * lease, so an agent that dies mid-way frees it. */
	char key[128];
	rec_key(key, sizeof(key), REC_LOCKS, name);
	json_t *lock = json_pack("{s:s,s:s,s:s,s:I}", "op", "migrate", "from", a->host, "to", to,
				 "since_ms", (json_int_t)agent_now_ms());
	rc = rec_cas(a->store, key, 0, lock, a->lease);
	json_decref(lock);
	if (rc == -ECANCELED) {
		json_t *held = NULL;
		rec_get(a->store, key, &held, NULL);
		snprintf(err, errlen, "%s is already being migrated (%s to %s)", name, jstr(held, "from"), jstr(held, "to"));
		json_decref(held);
		free(j);
		return -EBUSY;
	}
	if (rc) {
		snprintf(err, errlen, "%s", store_error(a->store));
		free(j);
		return -ENOTCONN;
	}
	struct store_kv kv;
	if (store_get(a->store, key, &kv) == 0) {
		j->lock_rev = kv.mod_rev;
		store_kv_clear(&kv);
	}
	json_t *rec = NULL;
	if (agent_vm_record(a, name, &rec, NULL) || strcmp(jstr(rec, "host"), a->host)) {
		snprintf(err, errlen, "the record of %s does not name host %s", name, a->host);
		json_decref(rec);
		unlock_vm(a, name, j->lock_rev);
		free(j);
		return -EINVAL;
	}
	json_decref(rec);
	pthread_mutex_lock(&a->lock);
	v = agent_vm_find(a, name);
	if (!v || v->migrating) {
		pthread_mutex_unlock(&a->lock);
		snprintf(err, errlen, "%s is already being migrated", name);
		unlock_vm(a, name, j->lock_rev);
		free(j);
		return -EBUSY;
	}
	v->migrating = 1;
	json_decref(v->mig.progress);
	memset(&v->mig, 0, sizeof(v->mig));
	snprintf(v->mig.to, sizeof(v->mig.to), "%s", to);
	snprintf(v->mig.status, sizeof(v->mig.status), "setup");
	v->mig.started_ms = agent_now_ms();
	pthread_mutex_unlock(&a->lock);
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, mig_thread, j)) {
		pthread_attr_destroy(&at);
		mig_set(a, name, "failed", "cannot start a thread", NULL);
		unlock_vm(a, name, j->lock_rev);
		free(j);
		snprintf(err, errlen, "cannot start a thread");
		return -ENOMEM;
	}
	pthread_attr_destroy(&at);
	return 0;
}

/* A port on our address nobody listens on now. */
static int free_port(const char *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof(sa);
	int port = -1;
	if (fd >= 0 && inet_pton(AF_INET, addr, &sa.sin_addr) == 1 &&
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && getsockname(fd, (struct sockaddr *)&sa, &l) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* 1 once a socket listens on port (this network namespace's /proc/net/tcp). */
static int listening(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	int found = 0;
	while (f && !found && fgets(line, sizeof(line), f)) {
		unsigned a, p, st;
		if (sscanf(line, " %*d: %x:%x %*x:%*x %x", &a, &p, &st) == 3 && (int)p == port && st == 0x0A)
			found = 1;
	}
	if (f)
		fclose(f);
	return found;
}

int agent_incoming_start(struct agent *a, const char *name, json_t *spec, const char *key_hex,
			 char *uri, size_t urilen, char *err, size_t errlen)
{
	return agent_incoming_start_storage(a, name, spec, key_hex, 0, NULL, uri, urilen, err, errlen);
}

void agent_incoming_drop_copies(struct agent *a, const char *name)
{
	char dir[4096], pat[4200];
	glob_t g;
	agent_vm_dir(a, name, dir, sizeof(dir));
	snprintf(pat, sizeof(pat), "%s/disk[0-9].*", dir);
	if (glob(pat, 0, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc; i++)
		if (!unlink(g.gl_pathv[i]))
			fprintf(stderr, "ternd: removed the partial copy %s\n", g.gl_pathv[i]);
	globfree(&g);
}

/* spec with each writable disk's file= moved to DIR/disk<N>.<format>. */
static json_t *copies_spec(struct agent *a, const char *name, json_t *spec)
{
	char dir[4096];
	agent_vm_dir(a, name, dir, sizeof(dir));
	json_t *out = json_deep_copy(spec), *disks = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(spec, "disks"), i, e) {
		const char *d = json_string_value(e);
		if (!d || disk_readonly(d)) {
			json_array_append(disks, e);
			continue;
		}
		char fmt[16], rest[2048] = "", line[8192];
		disk_opt(d, "format", fmt, sizeof(fmt));
		/* Every option but file=, in order. */
		for (const char *p = d; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
			const char *end = strchr(p, ',');
			size_t n = end ? (size_t)(end - p) : strlen(p);
			if (strncmp(p, "file=", 5) && strlen(rest) + n + 2 < sizeof(rest))
				snprintf(rest + strlen(rest), sizeof(rest) - strlen(rest), ",%.*s", (int)n, p);
		}
		snprintf(line, sizeof(line), "file=%s/disk%zu.%s%s", dir, i, !strcmp(fmt, "qcow2") ? "qcow2" : "raw", rest);
		json_array_append_new(disks, json_string(line));
	}
	json_object_set_new(out, "disks", disks);
	return out;
}

int agent_incoming_start_storage(struct agent *a, const char *name, json_t *spec, const char *key_hex,
				 int copy_storage, json_t **run_spec, char *uri, size_t urilen,
				 char *err, size_t errlen)
{
	char why[256];
	if (!agent_host_accepts(a, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		return -EBUSY;
	}
	unsigned char key[64];
	size_t klen = strlen(key_hex) / 2;
	if (klen > sizeof(key) || strlen(key_hex) % 2) {
		snprintf(err, errlen, "key: not hex");
		return -EINVAL;
	}
	for (size_t i = 0; i < klen; i++) {
		unsigned b;
		if (sscanf(key_hex + 2 * i, "%2x", &b) != 1) {
			snprintf(err, errlen, "key: not hex");
			return -EINVAL;
		}
		key[i] = (unsigned char)b;
	}
	if (!json_is_object(spec))
		spec = json_object();
	else if (copy_storage)
		spec = copies_spec(a, name, spec);
	else
		json_incref(spec);
	int port = free_port(a->address);
	if (port < 0) {
		json_decref(spec);
		snprintf(err, errlen, "no free port on %s", a->address);
		return -EADDRINUSE;
	}
	snprintf(uri, urilen, "tcp:%s:%d", a->address, port);
	pthread_mutex_lock(&a->lock);
	if (agent_vm_find(a, name)) {
		pthread_mutex_unlock(&a->lock);
		json_decref(spec);
		snprintf(err, errlen, "a VM named %s is already on host %s", name, a->host);
		return -EBUSY;
	}
	if (copy_storage)
		agent_incoming_drop_copies(a, name);    /* leftovers of an attempt that died */
	struct agent_vm *v = agent_vm_spawn(a, name, spec, uri, key, klen, err, errlen);
	pid_t pid = v ? v->pid : -1;
	pthread_mutex_unlock(&a->lock);
	if (run_spec)
		*run_spec = json_incref(spec);
	json_decref(spec);
	if (!v) {
		if (run_spec) {
			json_decref(*run_spec);
			*run_spec = NULL;
		}
		return -EIO;
	}
	for (int i = 0; i < 100; i++) {
		if (listening(port))
			return 0;
		if (kill(pid, 0)) {
			snprintf(err, errlen, "tern run --incoming ended at once (see %s/vms/%s/tern.log)",
				 a->state_dir, name);
			return -EIO;
		}
		sleep_ms(50);
	}
	agent_vm_kill(a, name);
	snprintf(err, errlen, "tern run --incoming did not listen on %s within 5 s", uri);
	return -ETIMEDOUT;
}

int agent_incoming_abort(struct agent *a, const char *name)
{
	pthread_mutex_lock(&a->lock);
	struct agent_vm *v = agent_vm_find(a, name);
	int ok = v && v->incoming, ours = v && !v->incoming;
	pthread_mutex_unlock(&a->lock);
	/* The incoming VM may have died already (its partial copies stay
	 * then); a VM of that name that runs here keeps its disks. */
	int rc = -ENOENT;
	if (ok) {
		fprintf(stderr, "ternd: incoming migration of %s aborted\n", name);
		rc = agent_vm_kill(a, name);
	}
	if (!ours)
		agent_incoming_drop_copies(a, name);
	return rc;
}

/* Evacuation: first-fit decreasing by memory over the hosts that are up,
 * each filled to at most 80 % of its memory, one migration at a time. */
static void evac_set(struct agent *a, json_t *ev)
{
	pthread_mutex_lock(&a->lock);
	json_decref(a->evacuation);
	a->evacuation = json_deep_copy(ev);
	pthread_mutex_unlock(&a->lock);
	agent_host_publish(a);
}

static int set_draining(struct agent *a, int on)
{
	char key[128];
	rec_key(key, sizeof(key), REC_HOSTCFG, a->host);
	for (int tries = 0; tries < 5; tries++) {
		long long rev;
		json_t *cfg = agent_host_cfg(a, &rev);
		if (!cfg)
			return -ENOENT;
		json_object_set_new(cfg, "draining", json_boolean(on));
		int rc = rec_cas(a->store, key, rev, cfg, 0);
		json_decref(cfg);
		if (rc != -ECANCELED)
			return rc;
	}
	return -ECANCELED;
}

static int by_mem_desc(const void *x, const void *y)
{
	const struct agent_vm *const *a = x, *const *b = y;
	return (*a)->mem < (*b)->mem ? 1 : (*a)->mem > (*b)->mem ? -1 : strcmp((*a)->name, (*b)->name);
}

static void *evac_thread(void *p)
{
	struct agent *a = p;
	char names[64][64];
	uint64_t mems[64];
	int n = 0;
	pthread_mutex_lock(&a->lock);
	struct agent_vm *list[64];
	for (struct agent_vm *v = a->vms; v && n < 64; v = v->next)
		if (!v->gone && !v->incoming)
			list[n++] = v;
	qsort(list, n, sizeof(list[0]), by_mem_desc);
	for (int i = 0; i < n; i++) {
		snprintf(names[i], 64, "%s", list[i]->name);
		mems[i] = list[i]->mem;
	}
	pthread_mutex_unlock(&a->lock);
	json_t *ev = json_pack("{s:s,s:i,s:i,s:[],s:s}", "status", "running", "total", n, "done", 0,
			       "failed", "current", "");
	evac_set(a, ev);
	json_t *hosts = NULL;
	rec_hosts(a->store, &hosts);
	for (int i = 0; i < n; i++) {
		/* The first host (by name) with room for it. */
		char to[64] = "", err[512] = "";
		size_t k;
		json_t *h;
		json_array_foreach(json_object_get(hosts, "hosts"), k, h) {
			if (!strcmp(jstr(h, "name"), a->host) || strcmp(jstr(h, "state"), "up"))
				continue;
			json_int_t used = json_integer_value(json_object_get(h, "mem_used"));
			json_int_t total = json_integer_value(json_object_get(h, "mem_total"));
			if ((double)(used + (json_int_t)mems[i]) <= 0.8 * (double)total) {
				snprintf(to, sizeof(to), "%s", jstr(h, "name"));
				json_object_set_new(h, "mem_used", json_integer(used + (json_int_t)mems[i]));
				break;
			}
		}
		json_object_set_new(ev, "current", json_string(names[i]));
		evac_set(a, ev);
		int ok = 0;
		int64_t since = agent_now_ms();
		if (!to[0])
			snprintf(err, sizeof(err), "no host has room for %.63s", names[i]);
		else if (agent_migrate_start(a, names[i], to, &(struct agent_mig_opts){
				.copy_storage = a->evac_copy_storage }, err, sizeof(err)) == 0) {
			for (;;) {
				sleep_ms(300);
				pthread_mutex_lock(&a->lock);
				int done = 0;
				for (struct agent_vm *v = a->vms; v; v = v->next)
					if (!strcmp(v->name, names[i]) && !v->migrating && v->mig.started_ms >= since &&
					    (!strcmp(v->mig.status, "completed") || !strcmp(v->mig.status, "failed"))) {
						done = 1;
						ok = !strcmp(v->mig.status, "completed");
						snprintf(err, sizeof(err), "%.400s", v->mig.error);
					}
				pthread_mutex_unlock(&a->lock);
				if (done)
					break;
			}
		}
		if (ok) {
			json_object_set_new(ev, "done", json_integer(json_integer_value(json_object_get(ev, "done")) + 1));
		} else {
			json_array_append_new(json_object_get(ev, "failed"),
					      json_pack("{s:s,s:s}", "name", names[i], "error", err));
			fprintf(stderr, "ternd: evacuate: %s stays: %s\n", names[i], err);
		}
	}
	json_decref(hosts);
	json_object_set_new(ev, "current", json_string(""));
	json_object_set_new(ev, "status", json_string(json_array_size(json_object_get(ev, "failed")) ? "failed" : "done"));
	evac_set(a, ev);
	json_decref(ev);
	return NULL;
}

int agent_evacuate_start(struct agent *a, char *err, size_t errlen)
{
	return agent_evacuate_start_storage(a, 0, err, errlen);
}

int agent_evacuate_start_storage(struct agent *a, int copy_storage, char *err, size_t errlen)
{
	pthread_mutex_lock(&a->lock);
	int running = a->evacuation && !strcmp(jstr(a->evacuation, "status"), "running");
	pthread_mutex_unlock(&a->lock);
	if (running) {
		snprintf(err, errlen, "host %s is already being evacuated", a->host);
		return -EBUSY;
	}
	a->evac_copy_storage = copy_storage;
	int rc = set_draining(a, 1);
	if (rc) {
		snprintf(err, errlen, "cannot mark host %s draining: %s", a->host, store_error(a->store));
		return rc;
	}
	json_t *ev = json_pack("{s:s,s:i,s:i,s:[],s:s}", "status", "running", "total", 0, "done", 0,
			       "failed", "current", "");
	evac_set(a, ev);
	json_decref(ev);
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &at, evac_thread, a);
	pthread_attr_destroy(&at);
	if (rc) {
		snprintf(err, errlen, "cannot start a thread");
		return -ENOMEM;
	}
	return 0;
}
