/* The store on one host with no etcd: one file per key under DIR/kv, a
 * revision counter, lease files holding an expiry time, all changed under
 * an flock on DIR/lock, so ternd and tern CLIs on the host can share it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "store/store.h"

struct store_local {
	struct store base;
	char dir[3800];
};

static struct store_local *L(struct store *s)
{
	return (struct store_local *)s;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keys become file names: [A-Za-z0-9._-] stay, the rest is %XX. */
static void key_file(const struct store_local *l, const char *key, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/kv/", l->dir);
	for (const unsigned char *p = (const unsigned char *)key; *p && (size_t)n + 4 < len; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '_' || *p == '-')
			out[n++] = (char)*p;
		else
			n += snprintf(out + n, len - n, "%%%02X", *p);
	}
	out[n] = 0;
}

static char *file_key(const char *name)
{
	char *k = malloc(strlen(name) + 1), *o = k;
	if (!k)
		return NULL;
	for (const char *p = name; *p; p++) {
		unsigned v;
		if (*p == '%' && sscanf(p + 1, "%2x", &v) == 1) {
			*o++ = (char)v;
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
	return k;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	while (b) {
		size_t r = fread(b + n, 1, cap - n - 1, f);
		n += r;
		if (n + 1 < cap)
			break;
		char *q = realloc(b, cap *= 2);
		if (!q)
			free(b);
		b = q;
	}
	fclose(f);
	if (b) {
		b[n] = 0;
		if (len)
			*len = n;
	}
	return b;
}

/* Writes path atomically (a temporary file, then rename). */
static int spit(const char *path, const char *head, const char *body)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fputs(head, f);
	if (body)
		fputs(body, f);
	if (fclose(f) || rename(tmp, path)) {
		int e = -errno;
		unlink(tmp);
		return e;
	}
	return 0;
}

static int lock(struct store_local *l)
{
	char p[4000];
	snprintf(p, sizeof(p), "%s/lock", l->dir);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		snprintf(l->base.err, sizeof(l->base.err), "cannot lock %.200s: %s", p, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	return fd;
}

static void unlock(int fd)
{
	flock(fd, LOCK_UN);
	close(fd);
}

static int64_t read_rev(struct store_local *l)
{
	char p[4000];
	snprintf(p, sizeof(p), "%s/rev", l->dir);
	char *t = slurp(p, NULL);
	int64_t r = t ? strtoll(t, NULL, 10) : 1;
	free(t);
	return r;
}

static int bump_rev(struct store_local *l, int64_t *rev)
{
	char p[4000], v[32];
	snprintf(p, sizeof(p), "%s/rev", l->dir);
	*rev = read_rev(l) + 1;
	snprintf(v, sizeof(v), "%lld\n", (long long)*rev);
	return spit(p, v, NULL);
}

/* 1 when the lease exists and has not expired. */
static int lease_alive(struct store_local *l, int64_t id)
{
	char p[4000];
	snprintf(p, sizeof(p), "%s/leases/%lld", l->dir, (long long)id);
	char *t = slurp(p, NULL);
	long long expiry = 0, ttl = 0;
	int ok = t && sscanf(t, "%lld %lld", &expiry, &ttl) == 2 && expiry > now_ms();
	free(t);
	return ok;
}

/* Reads one key's file; -ENOENT also for a key whose lease expired. */
static int read_kv(struct store_local *l, const char *path, const char *key, struct store_kv *kv)
{
	char *t = slurp(path, NULL);
	if (!t)
		return -ENOENT;
	memset(kv, 0, sizeof(*kv));
	long long m, c, v, le;
	char *nl = strchr(t, '\n');
	if (!nl || sscanf(t, "%lld %lld %lld %lld", &m, &c, &v, &le) != 4) {
		free(t);
		snprintf(l->base.err, sizeof(l->base.err), "%s: not a store record", path);
		return -EIO;
	}
	if (le && !lease_alive(l, le)) {
		free(t);
		return -ENOENT;
	}
	kv->mod_rev = m;
	kv->create_rev = c;
	kv->version = v;
	kv->lease = le;
	kv->key = strdup(key);
	kv->value = strdup(nl + 1);
	free(t);
	if (!kv->key || !kv->value) {
		store_kv_clear(kv);
		return -ENOMEM;
	}
	return 0;
}

static int local_get(struct store *s, const char *key, struct store_kv *kv)
{
	char p[4200];
	key_file(L(s), key, p, sizeof(p));
	return read_kv(L(s), p, key, kv);
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct store_kv *)a)->key, ((const struct store_kv *)b)->key);
}

static int local_list(struct store *s, const char *prefix, struct store_kv **kvs, size_t *n, int64_t *rev)
{
	struct store_local *l = L(s);
	char d[4000];
	snprintf(d, sizeof(d), "%s/kv", l->dir);
	int fd = lock(l);
	if (fd < 0)
		return fd;
	if (rev)
		*rev = read_rev(l);
	DIR *dir = opendir(d);
	size_t cap = 16;
	*n = 0;
	*kvs = malloc(cap * sizeof(**kvs));
	struct dirent *e;
	while (dir && *kvs && (e = readdir(dir))) {
		if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp"))
			continue;
		char *key = file_key(e->d_name);
		if (!key || strncmp(key, prefix, strlen(prefix))) {
			free(key);
			continue;
		}
		if (*n == cap) {
			struct store_kv *q = realloc(*kvs, (cap *= 2) * sizeof(**kvs));
			if (!q) {
				free(key);
				break;
			}
			*kvs = q;
		}
		char p[4400];
		snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
		if (read_kv(l, p, key, &(*kvs)[*n]) == 0)
			(*n)++;
		free(key);
	}
	if (dir)
		closedir(dir);
	unlock(fd);
	if (!*kvs)
		return -ENOMEM;
	qsort(*kvs, *n, sizeof(**kvs), by_key);
	return 0;
}

/* The body of put and cas, with the lock held. */
static int write_locked(struct store_local *l, const char *key, const char *value, int64_t lease)
{
	char p[4200], head[128];
	key_file(l, key, p, sizeof(p));
	struct store_kv old;
	int have = read_kv(l, p, key, &old) == 0;
	if (lease && !lease_alive(l, lease)) {
		if (have)
			store_kv_clear(&old);
		snprintf(l->base.err, sizeof(l->base.err), "lease %lld not found", (long long)lease);
		return -ENOENT;
	}
	int64_t rev;
	int rc = bump_rev(l, &rev);
	if (rc == 0 && !value) {
		rc = unlink(p) && errno != ENOENT ? -errno : 0;
	} else if (rc == 0) {
		snprintf(head, sizeof(head), "%lld %lld %lld %lld\n", (long long)rev,
			 (long long)(have ? old.create_rev : rev), (long long)(have ? old.version + 1 : 1),
			 (long long)lease);
		rc = spit(p, head, value);
	}
	if (have)
		store_kv_clear(&old);
	return rc;
}

static int local_put(struct store *s, const char *key, const char *value, int64_t lease)
{
	int fd = lock(L(s));
	if (fd < 0)
		return fd;
	int rc = write_locked(L(s), key, value, lease);
	unlock(fd);
	return rc;
}

static int local_del(struct store *s, const char *key)
{
	return local_put(s, key, NULL, 0);
}

static int local_cas(struct store *s, const char *key, int64_t expect, const char *value, int64_t lease)
{
	struct store_local *l = L(s);
	int fd = lock(l);
	if (fd < 0)
		return fd;
	struct store_kv cur;
	int64_t have = local_get(s, key, &cur) == 0 ? cur.mod_rev : 0;
	if (have)
		store_kv_clear(&cur);
	int rc;
	if (have != expect) {
		snprintf(s->err, sizeof(s->err), "%s changed meanwhile", key);
		rc = -ECANCELED;
	} else {
		rc = write_locked(l, key, value, lease);
	}
	unlock(fd);
	return rc;
}

static int write_lease(struct store_local *l, int64_t id, int ttl)
{
	char p[4000], v[64];
	snprintf(p, sizeof(p), "%s/leases/%lld", l->dir, (long long)id);
	snprintf(v, sizeof(v), "%lld %d\n", (long long)(now_ms() + ttl * 1000ll), ttl);
	return spit(p, v, NULL);
}

static int local_lease_grant(struct store *s, int ttl, int64_t *id)
{
	struct store_local *l = L(s);
	int fd = lock(l);
	if (fd < 0)
		return fd;
	int64_t rev;
	int rc = bump_rev(l, &rev);
	/* Unique across restarts: the revision, which only grows. */
	*id = rev;
	if (rc == 0)
		rc = write_lease(l, *id, ttl);
	unlock(fd);
	return rc;
}

static int local_lease_keepalive(struct store *s, int64_t id)
{
	struct store_local *l = L(s);
	int fd = lock(l);
	if (fd < 0)
		return fd;
	char p[4000];
	snprintf(p, sizeof(p), "%s/leases/%lld", l->dir, (long long)id);
	char *t = slurp(p, NULL);
	long long expiry = 0, ttl = 0;
	int rc = -ENOENT;
	if (t && sscanf(t, "%lld %lld", &expiry, &ttl) == 2 && expiry > now_ms())
		rc = write_lease(l, id, (int)ttl);
	else
		snprintf(s->err, sizeof(s->err), "lease %lld expired", (long long)id);
	free(t);
	unlock(fd);
	return rc;
}

static int local_lease_revoke(struct store *s, int64_t id)
{
	struct store_local *l = L(s);
	int fd = lock(l);
	if (fd < 0)
		return fd;
	char p[4000];
	snprintf(p, sizeof(p), "%s/leases/%lld", l->dir, (long long)id);
	int rc = unlink(p) ? -errno : 0;
	int64_t rev;
	if (rc == 0)
		bump_rev(l, &rev);   /* its keys vanished: watchers must hear of it */
	unlock(fd);
	return rc;
}

/* Any change bumps the revision; poll it (leases expiring bump nothing:
 * the store on one host has nobody else to tell). */
static int local_watch(struct store *s, const char *prefix, int64_t after_rev, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		if (read_rev(L(s)) > after_rev)
			return 1;
		if (now_ms() >= deadline)
			return 0;
		struct timespec ts = { 0, 100 * 1000000 };
		nanosleep(&ts, NULL);
	}
}

static void local_close(struct store *s)
{
	free(s);
}

static const struct store_ops local_ops = {
	.name = "local",
	.get = local_get,
	.list = local_list,
	.put = local_put,
	.del = local_del,
	.cas = local_cas,
	.lease_grant = local_lease_grant,
	.lease_keepalive = local_lease_keepalive,
	.lease_revoke = local_lease_revoke,
	.watch = local_watch,
	.close = local_close,
};

static int mkdir_p(const char *path)
{
	char tmp[4000];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, 0700) && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	}
	return mkdir(tmp, 0700) && errno != EEXIST ? -errno : 0;
}

struct store *store_local_open(const char *dir, char *err, size_t errlen)
{
	struct store_local *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->base.ops = &local_ops;
	if (strlen(dir) + 64 > sizeof(l->dir)) {
		snprintf(err, errlen, "store directory path too long");
		free(l);
		return NULL;
	}
	snprintf(l->dir, sizeof(l->dir), "%s", dir);
	char kv[4000], le[4000];
	snprintf(kv, sizeof(kv), "%s/kv", dir);
	snprintf(le, sizeof(le), "%s/leases", dir);
	int rc = mkdir_p(kv);
	if (!rc)
		rc = mkdir_p(le);
	if (rc) {
		snprintf(err, errlen, "cannot create the store in %s: %s", dir, strerror(-rc));
		free(l);
		return NULL;
	}
	return &l->base;
}
