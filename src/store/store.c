/* The store front: picks a back end and forwards to its ops table. */
#include <stdio.h>
#include <stdlib.h>
#include "store/store.h"

struct store *store_open(const char *etcd_urls, const char *state_dir, char *err, size_t errlen)
{
	if (etcd_urls && *etcd_urls)
		return store_etcd_open(etcd_urls, err, errlen);
	char dir[4096];
	if (snprintf(dir, sizeof(dir), "%s/store", state_dir) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "state directory path too long");
		return NULL;
	}
	return store_local_open(dir, err, errlen);
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

const char *store_error(const struct store *s)
{
	return s->err;
}

int store_get(struct store *s, const char *key, struct store_kv *kv)
{
	return s->ops->get(s, key, kv);
}

int store_list(struct store *s, const char *prefix, struct store_kv **kvs, size_t *n, int64_t *rev)
{
	return s->ops->list(s, prefix, kvs, n, rev);
}

int store_put(struct store *s, const char *key, const char *value, int64_t lease)
{
	return s->ops->put(s, key, value, lease);
}

int store_del(struct store *s, const char *key)
{
	return s->ops->del(s, key);
}

int store_cas(struct store *s, const char *key, int64_t expect_mod_rev, const char *value,
	      int64_t lease)
{
	return s->ops->cas(s, key, expect_mod_rev, value, lease);
}

int store_lease_grant(struct store *s, int ttl, int64_t *id)
{
	return s->ops->lease_grant(s, ttl, id);
}

int store_lease_keepalive(struct store *s, int64_t id)
{
	return s->ops->lease_keepalive(s, id);
}

int store_lease_revoke(struct store *s, int64_t id)
{
	return s->ops->lease_revoke(s, id);
}

int store_watch(struct store *s, const char *prefix, int64_t after_rev, int timeout_ms)
{
	return s->ops->watch(s, prefix, after_rev, timeout_ms);
}

void store_kv_clear(struct store_kv *kv)
{
	free(kv->key);
	free(kv->value);
	kv->key = kv->value = NULL;
}

void store_kvs_free(struct store_kv *kvs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_kv_clear(&kvs[i]);
	free(kvs);
}
