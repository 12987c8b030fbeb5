/* The cluster store: a small key-value interface with revisions, leases,
 * compare-and-swap and watches, served by etcd v3 (its JSON gateway) or, on
 * a single host with no etcd, by files in the state directory. */
#ifndef TERN_STORE_H
#define TERN_STORE_H
#include <stddef.h>
#include <stdint.h>

struct store;

struct store_kv {
	char *key;
	char *value;                /* NUL-terminated (values are JSON text) */
	int64_t mod_rev, create_rev, version, lease;
};

struct store_ops {
	const char *name;
	int (*get)(struct store *s, const char *key, struct store_kv *kv);
	int (*list)(struct store *s, const char *prefix, struct store_kv **kvs, size_t *n, int64_t *rev);
	int (*put)(struct store *s, const char *key, const char *value, int64_t lease);
	int (*del)(struct store *s, const char *key);
	int (*cas)(struct store *s, const char *key, int64_t expect_mod_rev, const char *value,
		   int64_t lease);
	int (*lease_grant)(struct store *s, int ttl, int64_t *id);
	int (*lease_keepalive)(struct store *s, int64_t id);
	int (*lease_revoke)(struct store *s, int64_t id);
	int (*watch)(struct store *s, const char *prefix, int64_t after_rev, int timeout_ms);
	void (*close)(struct store *s);
};

struct store {
	const struct store_ops *ops;
	char err[256];              /* the last failure, for messages */
};

/* etcd_urls: "http://H:P[,http://H:P...]" for etcd, NULL or "" for the
 * local store in state_dir/store. NULL with a reason in err. */
struct store *store_open(const char *etcd_urls, const char *state_dir, char *err, size_t errlen);
struct store *store_local_open(const char *dir, char *err, size_t errlen);
struct store *store_etcd_open(const char *urls, char *err, size_t errlen);
void store_close(struct store *s);
const char *store_error(const struct store *s);

/* All return 0 or -errno: -ENOENT (no such key or lease), -ECANCELED (a
 * compare failed), -ENOTCONN (the store cannot be reached), -EIO (a reply
 * that makes no sense). Results are the caller's to free (store_kv_free). */
int store_get(struct store *s, const char *key, struct store_kv *kv);
/* Every key starting with prefix, sorted by key; rev is the store's
 * revision at the time (a watch from it misses nothing). */
int store_list(struct store *s, const char *prefix, struct store_kv **kvs, size_t *n, int64_t *rev);
int store_put(struct store *s, const char *key, const char *value, int64_t lease);
int store_del(struct store *s, const char *key);
/* Atomically: if key's mod_revision is expect_mod_rev (0: key absent), put
 * value (NULL: delete the key), else -ECANCELED. */
int store_cas(struct store *s, const char *key, int64_t expect_mod_rev, const char *value,
	      int64_t lease);
int store_lease_grant(struct store *s, int ttl, int64_t *id);
/* -ENOENT once the lease has expired (its keys are gone). */
int store_lease_keepalive(struct store *s, int64_t id);
int store_lease_revoke(struct store *s, int64_t id);
/* Waits up to timeout_ms for a change to a key under prefix after revision
 * after_rev: 1 when one came, 0 on timeout, -errno on failure. */
int store_watch(struct store *s, const char *prefix, int64_t after_rev, int timeout_ms);

void store_kv_clear(struct store_kv *kv);
void store_kvs_free(struct store_kv *kvs, size_t n);
#endif
