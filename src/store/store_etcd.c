/* The store on etcd v3 through its JSON gateway (the /v3/kv, /v3/lease and
 * /v3/watch endpoints) with libcurl and jansson. Keys and values travel base64, 64-bit
 * numbers as JSON strings. Several URLs: the last that answered goes first. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "store/store.h"

#define ETCD_MAX_URLS 8
#define ETCD_TIMEOUT_MS 3000

struct store_etcd {
	struct store base;
	char *urls[ETCD_MAX_URLS];
	int nurls;
	atomic_int good;            /* index of the URL that answered last */
};

static char *b64(const char *s, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static char *unb64(const char *s)
{
	size_t n = strlen(s);
	unsigned char *out = malloc(3 * (n / 4) + 1);
	if (!out)
		return NULL;
	int m = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (m < 0) {
		free(out);
		return NULL;
	}
	/* DecodeBlock counts the padding as zero bytes. */
	if (n >= 1 && s[n - 1] == '=')
		m--;
	if (n >= 2 && s[n - 2] == '=')
		m--;
	out[m] = 0;
	return (char *)out;
}

/* The end of the range holding every key that starts with prefix. */
static char *prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *e = strdup(prefix);
	if (!e)
		return NULL;
	while (n > 0) {
		if ((unsigned char)e[n - 1] < 0xff) {
			e[n - 1]++;
			e[n] = 0;
			return e;
		}
		n--;
	}
	e[0] = 0;   /* the whole key space: "\0" */
	return e;
}

static int64_t jnum(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

struct buf {
	char *p;
	size_t n;
	/* For a watch: stop reading once an event came. */
	int watch, changed;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
	struct buf *b = ud;
	size_t n = sz * nm;
	char *q = realloc(b->p, b->n + n + 1);
	if (!q)
		return 0;
	b->p = q;
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = 0;
	if (b->watch && (strstr(b->p, "\"events\"") || strstr(b->p, "\"compact_revision\"") ||
			 strstr(b->p, "\"canceled\""))) {
		b->changed = 1;
		return 0;   /* abort the transfer: we have what we waited for */
	}
	return n;
}

/* POSTs body to path on the first URL that answers; the reply's JSON in
 * *out. watch_ms > 0 makes it a watch: 1 when an event came, 0 on timeout. */
static int call(struct store_etcd *e, const char *path, json_t *body, json_t **out, int watch_ms)
{
	char *text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	int start = atomic_load(&e->good), rc = -ENOTCONN;
	for (int t = 0; t < e->nurls; t++) {
		int i = (start + t) % e->nurls;
		char url[512];
		snprintf(url, sizeof(url), "%s%s", e->urls[i], path);
		CURL *c = curl_easy_init();
		if (!c) {
			rc = -ENOMEM;
			break;
		}
		struct buf b = { .watch = watch_ms > 0 };
		struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(watch_ms > 0 ? watch_ms : ETCD_TIMEOUT_MS));
		CURLcode cr = curl_easy_perform(c);
		long status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
		if (watch_ms > 0 && (b.changed || (cr == CURLE_OPERATION_TIMEDOUT && status == 200))) {
			atomic_store(&e->good, i);
			free(b.p);
			free(text);
			return b.changed;
		}
		if (cr != CURLE_OK) {
			snprintf(e->base.err, sizeof(e->base.err), "etcd at %s: %s", e->urls[i],
				 curl_easy_strerror(cr));
			free(b.p);
			continue;
		}
		atomic_store(&e->good, i);
		json_t *j = b.p ? json_loads(b.p, 0, NULL) : NULL;
		if (status != 200 || !j) {
			json_t *m = json_object_get(j, "error");
			if (!m)
				m = json_object_get(j, "message");
			snprintf(e->base.err, sizeof(e->base.err), "etcd at %s: HTTP %ld%s%s", e->urls[i],
				 status, m ? ": " : "", m ? json_string_value(m) : "");
			rc = strstr(e->base.err, "not found") ? -ENOENT : -EIO;
			json_decref(j);
			free(b.p);
			break;
		}
		free(b.p);
		free(text);
		*out = j;
		return 0;
	}
	free(text);
	return rc;
}

static struct store_etcd *E(struct store *s)
{
	return (struct store_etcd *)s;
}

static int kv_from(json_t *o, struct store_kv *kv)
{
	const char *k = json_string_value(json_object_get(o, "key"));
	const char *v = json_string_value(json_object_get(o, "value"));
	memset(kv, 0, sizeof(*kv));
	kv->key = k ? unb64(k) : NULL;
	kv->value = unb64(v ? v : "");
	if (!kv->key || !kv->value) {
		store_kv_clear(kv);
		return -EIO;
	}
	kv->mod_rev = jnum(o, "mod_revision");
	kv->create_rev = jnum(o, "create_revision");
	kv->version = jnum(o, "version");
	kv->lease = jnum(o, "lease");
	return 0;
}

static int range(struct store *s, const char *key, const char *end, struct store_kv **kvs,
		 size_t *n, int64_t *rev)
{
	json_t *body, *r = NULL;
	char *k64 = b64(key, strlen(key)), *e64 = end ? b64(end, strlen(end) ? strlen(end) : 1) : NULL;
	body = json_pack("{s:s}", "key", k64);
	if (e64) {
		json_object_set_new(body, "range_end", json_string(e64));
		json_object_set_new(body, "sort_order", json_string("ASCEND"));
		json_object_set_new(body, "sort_target", json_string("KEY"));
	}
	free(k64);
	free(e64);
	int rc = call(E(s), "/v3/kv/range", body, &r, 0);
	json_decref(body);
	if (rc)
		return rc;
	json_t *arr = json_object_get(r, "kvs");
	size_t cnt = json_array_size(arr);
	*kvs = calloc(cnt ? cnt : 1, sizeof(**kvs));
	*n = 0;
	if (rev)
		*rev = jnum(json_object_get(r, "header"), "revision");
	for (size_t i = 0; *kvs && i < cnt; i++)
		if (kv_from(json_array_get(arr, i), &(*kvs)[*n]) == 0)
			(*n)++;
	json_decref(r);
	return *kvs ? 0 : -ENOMEM;
}

static int etcd_get(struct store *s, const char *key, struct store_kv *kv)
{
	struct store_kv *kvs;
	size_t n;
	int rc = range(s, key, NULL, &kvs, &n, NULL);
	if (rc)
		return rc;
	if (n == 0) {
		free(kvs);
		return -ENOENT;
	}
	*kv = kvs[0];
	for (size_t i = 1; i < n; i++)
		store_kv_clear(&kvs[i]);
	free(kvs);
	return 0;
}

static int etcd_list(struct store *s, const char *prefix, struct store_kv **kvs, size_t *n, int64_t *rev)
{
	char *end = prefix_end(prefix);
	if (!end)
		return -ENOMEM;
	int rc = range(s, prefix, end, kvs, n, rev);
	free(end);
	return rc;
}

static json_t *put_req(const char *key, const char *value, int64_t lease)
{
	char *k = b64(key, strlen(key)), *v = b64(value, strlen(value));
	json_t *o = json_pack("{s:s,s:s}", "key", k, "value", v);
	if (lease) {
		char l[32];
		snprintf(l, sizeof(l), "%lld", (long long)lease);
		json_object_set_new(o, "lease", json_string(l));
	}
	free(k);
	free(v);
	return o;
}

static int etcd_put(struct store *s, const char *key, const char *value, int64_t lease)
{
	json_t *body = put_req(key, value, lease), *r = NULL;
	int rc = call(E(s), "/v3/kv/put", body, &r, 0);
	json_decref(body);
	json_decref(r);
	return rc;
}

static int etcd_del(struct store *s, const char *key)
{
	char *k = b64(key, strlen(key));
	json_t *body = json_pack("{s:s}", "key", k), *r = NULL;
	free(k);
	int rc = call(E(s), "/v3/kv/deleterange", body, &r, 0);
	json_decref(body);
	json_decref(r);
	return rc;
}

static int etcd_cas(struct store *s, const char *key, int64_t expect, const char *value, int64_t lease)
{
	char *k = b64(key, strlen(key)), num[32];
	snprintf(num, sizeof(num), "%lld", (long long)expect);
	/* Absent means version 0; present means this exact mod_revision. */
	json_t *cmp = expect ? json_pack("{s:s,s:s,s:s,s:s}", "key", k, "target", "MOD", "result", "EQUAL",
					 "mod_revision", num)
			     : json_pack("{s:s,s:s,s:s,s:s}", "key", k, "target", "VERSION", "result", "EQUAL",
					 "version", "0");
	json_t *op = value ? json_pack("{s:o}", "request_put", put_req(key, value, lease))
			   : json_pack("{s:{s:s}}", "request_delete_range", "key", k);
	json_t *body = json_pack("{s:[o],s:[o]}", "compare", cmp, "success", op), *r = NULL;
	free(k);
	int rc = call(E(s), "/v3/kv/txn", body, &r, 0);
	json_decref(body);
	if (rc == 0 && !json_is_true(json_object_get(r, "succeeded"))) {
		snprintf(s->err, sizeof(s->err), "%s changed meanwhile", key);
		rc = -ECANCELED;
	}
	json_decref(r);
	return rc;
}

static int etcd_lease_grant(struct store *s, int ttl, int64_t *id)
{
	json_t *body = json_pack("{s:i}", "TTL", ttl), *r = NULL;
	int rc = call(E(s), "/v3/lease/grant", body, &r, 0);
	json_decref(body);
	if (rc == 0) {
		*id = jnum(r, "ID");
		if (!*id)
			rc = -EIO;
	}
	json_decref(r);
	return rc;
}

static int etcd_lease_keepalive(struct store *s, int64_t id)
{
	char l[32];
	snprintf(l, sizeof(l), "%lld", (long long)id);
	json_t *body = json_pack("{s:s}", "ID", l), *r = NULL;
	int rc = call(E(s), "/v3/lease/keepalive", body, &r, 0);
	json_decref(body);
	/* The reply is one stream message: {"result":{"ID":..,"TTL":..}};
	 * a TTL of 0 (or none) means the lease is gone. */
	if (rc == 0) {
		json_t *res = json_object_get(r, "result");
		if (jnum(res, "TTL") <= 0) {
			snprintf(s->err, sizeof(s->err), "lease %lld expired", (long long)id);
			rc = -ENOENT;
		}
	}
	json_decref(r);
	return rc;
}

static int etcd_lease_revoke(struct store *s, int64_t id)
{
	char l[32];
	snprintf(l, sizeof(l), "%lld", (long long)id);
	json_t *body = json_pack("{s:s}", "ID", l), *r = NULL;
	int rc = call(E(s), "/v3/lease/revoke", body, &r, 0);
	json_decref(body);
	json_decref(r);
	return rc;
}

static int etcd_watch(struct store *s, const char *prefix, int64_t after_rev, int timeout_ms)
{
	char *end = prefix_end(prefix), *k = b64(prefix, strlen(prefix));
	char *e = end ? b64(end, strlen(end)) : NULL, rev[32];
	snprintf(rev, sizeof(rev), "%lld", (long long)(after_rev + 1));
	json_t *body = json_pack("{s:{s:s,s:s,s:s}}", "create_request", "key", k, "range_end", e ? e : "",
				 "start_revision", rev), *r = NULL;
	free(end);
	free(k);
	free(e);
	int rc = call(E(s), "/v3/watch", body, &r, timeout_ms > 0 ? timeout_ms : 1);
	json_decref(body);
	json_decref(r);
	return rc;
}

static void etcd_close(struct store *s)
{
	struct store_etcd *e = E(s);
	for (int i = 0; i < e->nurls; i++)
		free(e->urls[i]);
	free(e);
}

static const struct store_ops etcd_ops = {
	.name = "etcd",
	.get = etcd_get,
	.list = etcd_list,
	.put = etcd_put,
	.del = etcd_del,
	.cas = etcd_cas,
	.lease_grant = etcd_lease_grant,
	.lease_keepalive = etcd_lease_keepalive,
	.lease_revoke = etcd_lease_revoke,
	.watch = etcd_watch,
	.close = etcd_close,
};

struct store *store_etcd_open(const char *urls, char *err, size_t errlen)
{
	struct store_etcd *e = calloc(1, sizeof(*e));
	char *copy = strdup(urls), *save = NULL;
	if (!e || !copy) {
		free(e);
		free(copy);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->base.ops = &etcd_ops;
	for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
		if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
			snprintf(err, errlen, "etcd URL '%s' does not start with http:// or https://", u);
			goto fail;
		}
		if (e->nurls == ETCD_MAX_URLS) {
			snprintf(err, errlen, "more than %d etcd URLs", ETCD_MAX_URLS);
			goto fail;
		}
		size_t l = strlen(u);
		while (l > 0 && u[l - 1] == '/')
			u[--l] = 0;
		e->urls[e->nurls++] = strdup(u);
	}
	if (!e->nurls) {
		snprintf(err, errlen, "no etcd URL in '%s'", urls);
		goto fail;
	}
	free(copy);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return &e->base;
fail:
	free(copy);
	etcd_close(&e->base);
	return NULL;
}
