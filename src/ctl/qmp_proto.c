/* QMP protocol rules as QEMU applies them: nothing but qmp_capabilities
 * before negotiation, requests are objects with execute/arguments/id only,
 * arguments are checked against each command's names before it runs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "ctl/qmp_proto.h"

int qmp_fail(struct qmp_error *err, const char *cls, const char *fmt, ...)
{
	va_list ap;
	err->cls = cls;
	va_start(ap, fmt);
	vsnprintf(err->desc, sizeof(err->desc), fmt, ap);
	va_end(ap);
	return -1;
}

json_t *qmp_greeting(void)
{
	return json_pack("{s:{s:{s:{s:i,s:i,s:i},s:s},s:[]}}", "QMP", "version", "qemu",
			 "major", QMP_VERSION_MAJOR, "minor", QMP_VERSION_MINOR,
			 "micro", QMP_VERSION_MICRO, "package", QMP_VERSION_PACKAGE, "capabilities");
}

json_t *qmp_error_reply(const char *cls, const char *desc, json_t *id)
{
	json_t *r = json_pack("{s:{s:s,s:s}}", "error", "class", cls, "desc", desc);
	if (r && id)
		json_object_set(r, "id", id);
	return r;
}

static bool listed(const char *const *names, const char *key)
{
	for (; names && *names; names++)
		if (!strcmp(*names, key))
			return true;
	return false;
}

static const struct qmp_command *find_command(const char *name)
{
	for (const struct qmp_command *c = qmp_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* Checks arguments against the command's names. */
static int check_args(const struct qmp_command *cmd, json_t *args, struct qmp_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(args, key, v) {
		if (!cmd->open_args && !listed(cmd->required, key) && !listed(cmd->optional, key))
			return qmp_fail(err, "GenericError", "Parameter '%s' is unexpected", key);
	}
	for (const char *const *r = cmd->required; r && *r; r++)
		if (!json_object_get(args, *r))
			return qmp_fail(err, "GenericError", "Parameter '%s' is missing", *r);
	return 0;
}

static json_t *handle_request(struct qmp_ctx *ctx, bool *negotiated, json_t *req)
{
	struct qmp_error err = { 0 };
	json_t *id = json_object_get(req, "id");
	const char *key;
	json_t *v;
	json_object_foreach(req, key, v) {
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
			qmp_fail(&err, "GenericError", "QMP input member '%s' is unexpected", key);
			return qmp_error_reply(err.cls, err.desc, id);
		}
	}
	json_t *exe = json_object_get(req, "execute");
	if (!exe)
		return qmp_error_reply("GenericError", "QMP input lacks member 'execute'", id);
	if (!json_is_string(exe))
		return qmp_error_reply("GenericError", "QMP input member 'execute' must be a string", id);
	json_t *args = json_object_get(req, "arguments");
	if (args && !json_is_object(args))
		return qmp_error_reply("GenericError", "QMP input member 'arguments' must be an object", id);
	const char *name = json_string_value(exe);

	if (!strcmp(name, "qmp_capabilities")) {
		if (*negotiated)
			return qmp_error_reply("CommandNotFound",
					       "Capabilities negotiation is already complete, command ignored", id);
		json_t *caps = args ? json_object_get(args, "enable") : NULL;
		if (args && (json_object_size(args) > (caps ? 1u : 0u)))
			return qmp_error_reply("GenericError", "Parameter is unexpected (only 'enable')", id);
		if (caps && (!json_is_array(caps) || json_array_size(caps) > 0))
			return qmp_error_reply("GenericError", "Capability is not supported (tern offers none)", id);
		*negotiated = true;
	} else if (!*negotiated) {
		return qmp_error_reply("CommandNotFound",
				       "Expecting capabilities negotiation with 'qmp_capabilities'", id);
	} else {
		const struct qmp_command *cmd = find_command(name);
		if (!cmd) {
			qmp_fail(&err, "CommandNotFound", "The command %.100s has not been found", name);
			return qmp_error_reply(err.cls, err.desc, id);
		}
		json_t *empty = NULL;
		if (!args)
			args = empty = json_object();
		json_t *ret = NULL;
		int r = check_args(cmd, args, &err);
		if (r == 0)
			r = cmd->fn(ctx, args, &ret, &err);
		json_decref(empty);
		if (r)
			return qmp_error_reply(err.cls ? err.cls : "GenericError", err.desc, id);
		json_t *reply = json_object();
		json_object_set_new(reply, "return", ret ? ret : json_object());
		if (id)
			json_object_set(reply, "id", id);
		return reply;
	}
	json_t *reply = json_pack("{s:{}}", "return");
	if (reply && id)
		json_object_set(reply, "id", id);
	return reply;
}

json_t *qmp_handle_text(struct qmp_ctx *ctx, bool *negotiated, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		char desc[200];
		snprintf(desc, sizeof(desc), "JSON parse error, %.150s", jerr.text);
		return qmp_error_reply("GenericError", desc, NULL);
	}
	json_t *reply;
	if (!json_is_object(req))
		reply = qmp_error_reply("GenericError", "QMP input must be a JSON object", NULL);
	else
		reply = handle_request(ctx, negotiated, req);
	json_decref(req);
	return reply;
}

json_t *qmp_event_message(const char *event, const char *data_json)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	json_t *m = json_pack("{s:s,s:{s:I,s:I}}", "event", event, "timestamp",
			      "seconds", (json_int_t)tv.tv_sec, "microseconds", (json_int_t)tv.tv_usec);
	if (m && data_json) {
		json_t *data = json_loads(data_json, 0, NULL);
		if (data)
			json_object_set_new(m, "data", data);
	}
	return m;
}

char *qmp_dump(const json_t *msg, size_t *len)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *line = realloc(s, n + 3);
	if (!line) {
		free(s);
		return NULL;
	}
	memcpy(line + n, "\r\n", 3);
	*len = n + 2;
	return line;
}
