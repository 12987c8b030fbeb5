/* ternd API client: one libcurl request per call, JSON in and out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "agent/api_client.h"

struct reply {
	char *p;
	size_t n;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
	struct reply *r = ud;
	size_t n = sz * nm;
	if (r->n + n > (16u << 20))
		return 0;
	char *q = realloc(r->p, r->n + n + 1);
	if (!q)
		return 0;
	r->p = q;
	memcpy(r->p + r->n, p, n);
	r->n += n;
	r->p[r->n] = 0;
	return n;
}

int api_call(const char *base_url, const struct api_auth *auth, const char *method, const char *path,
	     json_t *body, json_t **out, int timeout_ms, char *err, size_t errlen)
{
	*out = NULL;
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	char url[1024], hdr[256];
	snprintf(url, sizeof(url), "%s%s", base_url, path);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	if (auth && auth->token) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", auth->token);
		h = curl_slist_append(h, hdr);
	}
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct reply r = { 0 };
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (text)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	else if (!strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	char ca[1100], crt[1100], key[1100];
	if (auth && auth->tls_dir && auth->tls_dir[0]) {
		snprintf(ca, sizeof(ca), "%s/ca.crt", auth->tls_dir);
		snprintf(crt, sizeof(crt), "%s/host.crt", auth->tls_dir);
		snprintf(key, sizeof(key), "%s/host.key", auth->tls_dir);
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(c, CURLOPT_SSLCERT, crt);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	} else if (auth && auth->ca_pem) {
		struct curl_blob b = { .data = (void *)auth->ca_pem, .len = strlen(auth->ca_pem),
				       .flags = CURL_BLOB_COPY };
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	CURLcode cr = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(text);
	if (cr != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", base_url, curl_easy_strerror(cr));
		free(r.p);
		return -ENOTCONN;
	}
	if (r.p && r.n)
		*out = json_loads(r.p, 0, NULL);
	free(r.p);
	if (status >= 400) {
		const char *e = json_string_value(json_object_get(*out, "error"));
		snprintf(err, errlen, "%s", e ? e : "request failed");
	}
	return (int)status;
}
