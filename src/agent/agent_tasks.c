/* The task log: every change requested through the API (who, what, on
 * which target, the result and its output), kept in the store under
 * /tern/tasks/ so that every agent shows the same log, the newest
 * TASKS_MAX only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "agent/agent.h"
#include "store/store.h"

#define REC_TASKS "/tern/tasks/"
#define TASKS_MAX 200
#define OUTPUT_MAX 2000

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* What the request did, from its method and path. */
static void describe(const char *method, const char *path, json_t *body, char *action, size_t alen,
		     char *target, size_t tlen)
{
	char seg[3][128] = { "", "", "" };
	int n = 0;
	for (const char *p = path; *p == '/' && n < 3;) {
		p++;
		size_t k = strcspn(p, "/");
		snprintf(seg[n++], sizeof(seg[0]), "%.*s", (int)(k < 127 ? k : 127), p);
		p += k;
	}
	snprintf(action, alen, "%s %s", method, path);
	target[0] = 0;
	if (!strcmp(seg[0], "vms") || !strcmp(seg[0], "hosts")) {
		snprintf(target, tlen, "%s", seg[1]);
		if (n == 1 && !strcmp(method, "POST")) {
			snprintf(action, alen, "create");
			snprintf(target, tlen, "%s", jstr(body, "name"));
		} else if (n == 2 && !strcmp(method, "DELETE")) {
			snprintf(action, alen, "delete");
		} else if (n == 3 && !strcmp(seg[2], "migration") && !strcmp(method, "DELETE")) {
			snprintf(action, alen, "cancel-migration");
		} else if (n == 3 && !strcmp(seg[2], "qmp")) {
			snprintf(action, alen, "qmp %s", jstr(body, "execute"));
		} else if (n == 3 && !strcmp(seg[2], "migrate")) {
			snprintf(action, alen, "migrate to %s", jstr(body, "to"));
		} else if (n == 3) {
			snprintf(action, alen, "%s", seg[2]);
		}
	} else if (n >= 1) {
		snprintf(target, tlen, "%s", seg[1]);
		snprintf(action, alen, "%s %s", method, seg[0]);
	}
}

static int key_cmp(const void *x, const void *y)
{
	return strcmp(((const struct store_kv *)x)->key, ((const struct store_kv *)y)->key);
}

void agent_task_record(struct agent *a, const char *user, const char *method, const char *path,
		       json_t *body, int status, json_t *reply)
{
	if (!strncmp(path, "/incoming", 9))
		return;     /* agent to agent, part of a migration already logged */
	char action[300], target[128], key[200];
	describe(method, path, body, action, sizeof(action), target, sizeof(target));
	char *out;
	if (status >= 400)
		out = strdup(jstr(reply, "error"));
	else
		out = reply ? json_dumps(reply, JSON_COMPACT) : strdup("");
	if (out && strlen(out) > OUTPUT_MAX)
		strcpy(out + OUTPUT_MAX - 4, "...");
	int64_t now = agent_now_ms();
	unsigned short r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned short)now;
	char id[120];
	snprintf(id, sizeof(id), "%013lld-%s-%04x", (long long)now, a->host, r);
	json_t *t = json_pack("{s:s,s:f,s:s,s:s,s:s,s:s,s:s,s:i,s:s}", "id", id, "time", now / 1000.0,
			      "host", a->host, "user", user, "action", action, "target", target, "result",
			      status < 400 ? "ok" : "error", "status", status, "output", out ? out : "");
	free(out);
	char *text = json_dumps(t, JSON_COMPACT);
	json_decref(t);
	snprintf(key, sizeof(key), REC_TASKS "%s", id);
	if (!text || store_put(a->store, key, text, 0)) {
		fprintf(stderr, "ternd: the task log lost '%s %s': the store did not take it\n", action, target);
		free(text);
		return;
	}
	free(text);
	struct store_kv *kvs;
	size_t n;
	if (store_list(a->store, REC_TASKS, &kvs, &n, NULL))
		return;
	if (n > TASKS_MAX) {
		qsort(kvs, n, sizeof(*kvs), key_cmp);
		for (size_t i = 0; i < n - TASKS_MAX; i++)
			store_del(a->store, kvs[i].key);
	}
	store_kvs_free(kvs, n);
}

int agent_tasks_list(struct agent *a, json_t **out)
{
	struct store_kv *kvs;
	size_t n;
	int rc = store_list(a->store, REC_TASKS, &kvs, &n, NULL);
	if (rc) {
		*out = json_pack("{s:s}", "error", "the store is unreachable: no task log");
		return 503;
	}
	qsort(kvs, n, sizeof(*kvs), key_cmp);
	json_t *arr = json_array();
	for (size_t i = n; i-- > 0;) {
		json_t *t = json_loads(kvs[i].value, 0, NULL);
		if (json_is_object(t))
			json_array_append_new(arr, t);
		else
			json_decref(t);
	}
	store_kvs_free(kvs, n);
	*out = json_pack("{s:o}", "tasks", arr);
	return 200;
}
