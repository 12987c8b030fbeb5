/* query-qmp-schema: tern's commands and events as QEMU's SchemaInfo, built
 * from the command table so it cannot drift; members have the builtin type
 * "any" (the table records names, not types). */
#include <stdio.h>
#include <string.h>
#include "ctl/qmp_cmds.h"
#include "ctl/qmp_mig_params.h"
#include "migration/migration.h"

/* Every event tern sends, with the members of its "data". */
static const struct {
	const char *name;
	const char *data[3];
} qmp_events[] = {
	{ "SHUTDOWN", { "guest", "reason" } },
	{ "POWERDOWN", { NULL } },
	{ "RESET", { "guest", "reason" } },
	{ "STOP", { NULL } },
	{ "RESUME", { NULL } },
	{ "MIGRATION", { "status" } },
	{ "MIGRATION_PASS", { "pass" } },
};

static void add_member(json_t *members, const char *name, bool optional)
{
	json_t *m = json_pack("{s:s,s:s}", "name", name, "type", "any");
	if (optional)
		json_object_set_new(m, "default", json_null());
	json_array_append_new(members, m);
}

/* migrate-set-parameters checks its own arguments: list what it takes. */
static void add_param_members(json_t *members)
{
	struct mig_params p;
	const char *key;
	json_t *v;
	mig_params_default(&p);
	json_t *all = qmp_mig_params_json(&p);
	json_object_foreach(all, key, v)
		add_member(members, key, true);
	json_decref(all);
}

static json_t *arg_type(const struct qmp_command *c, json_t *schema)
{
	json_t *members = json_array();
	for (const char *const *r = c->required; r && *r; r++)
		add_member(members, *r, false);
	for (const char *const *o = c->optional; o && *o; o++)
		add_member(members, *o, true);
	if (c->open_args)
		add_param_members(members);
	if (!json_array_size(members)) {
		json_decref(members);
		return json_string("0");
	}
	char name[96];
	snprintf(name, sizeof(name), "arg-%s", c->name);
	json_array_append_new(schema, json_pack("{s:s,s:s,s:o}", "name", name, "meta-type", "object",
						"members", members));
	return json_string(name);
}

int qmp_cmd_query_qmp_schema(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	json_t *s = json_array();
	json_array_append_new(s, json_pack("{s:s,s:s,s:s}", "name", "any", "meta-type", "builtin",
					   "json-type", "value"));
	json_array_append_new(s, json_pack("{s:s,s:s,s:[]}", "name", "0", "meta-type", "object",
					   "members"));
	json_array_append_new(s, json_pack("{s:s,s:s,s:s,s:s}", "name", "qmp_capabilities",
					   "meta-type", "command", "arg-type", "0", "ret-type", "0"));
	for (const struct qmp_command *c = qmp_commands; c->name; c++)
		json_array_append_new(s, json_pack("{s:s,s:s,s:o,s:s}", "name", c->name,
						   "meta-type", "command", "arg-type", arg_type(c, s),
						   "ret-type", "any"));
	for (size_t i = 0; i < sizeof(qmp_events) / sizeof(qmp_events[0]); i++) {
		const char *type = "0";
		char name[64];
		if (qmp_events[i].data[0]) {
			json_t *members = json_array();
			for (int k = 0; k < 3 && qmp_events[i].data[k]; k++)
				add_member(members, qmp_events[i].data[k], false);
			snprintf(name, sizeof(name), "data-%s", qmp_events[i].name);
			json_array_append_new(s, json_pack("{s:s,s:s,s:o}", "name", name,
							   "meta-type", "object", "members", members));
			type = name;
		}
		json_array_append_new(s, json_pack("{s:s,s:s,s:s}", "name", qmp_events[i].name,
						   "meta-type", "event", "arg-type", type));
	}
	*ret = s;
	return 0;
}
