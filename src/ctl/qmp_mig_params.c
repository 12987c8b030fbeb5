/* QMP's migration parameters and capabilities (QEMU's names, tern's own as
 * aliases) to and from struct mig_params. What tern lacks has a fixed value;
 * any other value is refused with the reason, never silently taken. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "ctl/qmp_mig_params.h"
#include "migration/migration.h"

/* ---- parameters tern has no use for: fixed values ---- */

enum fixed_kind { FIXED_INT, FIXED_BOOL, FIXED_STR };

struct fixed_param {
	const char *name;
	enum fixed_kind kind;
	json_int_t ival;
	const char *sval;
	const char *why;
};

static const char no_tls[] = "TLS is set when the VM starts: tern run --migrate-tls DIR (certificates "
			     "from tern pki); QMP TLS credential objects are not supported (docs/MIGRATION.md)";
static const char fixed_announce[] = "tern announces at QEMU's defaults (5 RARP rounds after a migration, "
				     "50 ms, then 100 ms apart); they cannot be changed";
static const char no_multifd[] = "multifd is not implemented (one stream)";

static const struct fixed_param fixed_params[] = {
	{ "tls-creds", FIXED_STR, 0, "", no_tls },
	{ "tls-hostname", FIXED_STR, 0, "", no_tls },
	{ "tls-authz", FIXED_STR, 0, "", no_tls },
	{ "multifd-channels", FIXED_INT, 2, NULL, no_multifd },
	{ "multifd-zlib-level", FIXED_INT, 1, NULL, no_multifd },
	{ "multifd-zstd-level", FIXED_INT, 1, NULL, no_multifd },
	{ "announce-initial", FIXED_INT, 50, NULL, fixed_announce },
	{ "announce-max", FIXED_INT, 550, NULL, fixed_announce },
	{ "announce-rounds", FIXED_INT, 5, NULL, fixed_announce },
	{ "announce-step", FIXED_INT, 100, NULL, fixed_announce },
	{ "cpu-throttle-tailslow", FIXED_BOOL, 0, NULL, "not implemented" },
	{ "avail-switchover-bandwidth", FIXED_INT, 0, NULL,
	  "not implemented: tern measures the bandwidth of each round" },
	{ "max-postcopy-bandwidth", FIXED_INT, 0, NULL,
	  "not implemented: post-copy pushes pages at max-bandwidth" },
	{ "x-checkpoint-delay", FIXED_INT, 20000, NULL, "COLO is not implemented" },
	{ "x-vcpu-dirty-limit-period", FIXED_INT, 1000, NULL, "dirty-limit is not implemented" },
	{ "vcpu-dirty-limit", FIXED_INT, 1, NULL, "dirty-limit is not implemented" },
	{ "zero-page-detection", FIXED_STR, 0, "legacy", "the source always skips zero pages itself" },
	{ "direct-io", FIXED_BOOL, 0, NULL, "not implemented" },
};

static json_t *fixed_value(const struct fixed_param *f)
{
	switch (f->kind) {
	case FIXED_INT: return json_integer(f->ival);
	case FIXED_BOOL: return json_boolean(f->ival);
	default: return json_string(f->sval);
	}
}

static int set_fixed(const struct fixed_param *f, json_t *v, char *err, size_t errlen)
{
	json_t *want = fixed_value(f);
	int same = json_equal(want, v);
	json_decref(want);
	if (same)
		return 0;
	if (f->kind == FIXED_STR)
		snprintf(err, errlen, "Parameter '%s' can only be '%s' in tern: %s", f->name, f->sval, f->why);
	else if (f->kind == FIXED_BOOL)
		snprintf(err, errlen, "Parameter '%s' can only be %s in tern: %s", f->name,
			 f->ival ? "true" : "false", f->why);
	else
		snprintf(err, errlen, "Parameter '%s' can only be %lld in tern: %s", f->name,
			 (long long)f->ival, f->why);
	return -1;
}

static const struct fixed_param *find_fixed(const char *name)
{
	for (size_t i = 0; i < sizeof(fixed_params) / sizeof(fixed_params[0]); i++)
		if (!strcmp(fixed_params[i].name, name))
			return &fixed_params[i];
	return NULL;
}

/* An integer in [lo, hi] into *out, or -1 with err. */
static int int_param(const char *key, json_t *v, json_int_t lo, json_int_t hi, const char *unit,
		     int64_t *out, char *err, size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(err, errlen, "Parameter '%s' expects an integer in the range of %lld to %lld%s",
			 key, (long long)lo, (long long)hi, unit);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int set_one(struct mig_params *n, const char *key, json_t *v, char *err, size_t errlen)
{
	int64_t i;
	if (!strcmp(key, "downtime-limit"))
		return int_param(key, v, 1, 2000000, " milliseconds", &n->downtime_limit_ms, err, errlen);
	if (!strcmp(key, "max-bandwidth")) {
		if (int_param(key, v, 0, INT64_MAX, " bytes per second", &i, err, errlen))
			return -1;
		n->max_bandwidth = (uint64_t)i;
		return 0;
	}
	if (!strcmp(key, "cpu-throttle-initial") || !strcmp(key, "cpu-throttle-increment") ||
	    !strcmp(key, "max-cpu-throttle")) {
		if (int_param(key, v, 1, 99, " percent", &i, err, errlen))
			return -1;
		int *dst = !strcmp(key, "max-cpu-throttle") ? &n->throttle_max :
			   !strcmp(key, "cpu-throttle-initial") ? &n->throttle_initial : &n->throttle_increment;
		*dst = (int)i;
		return 0;
	}
	if (!strcmp(key, "mode")) {
		/* tern's: precopy, stop-copy, postcopy; QEMU's "normal" is precopy. */
		const char *m = json_string_value(v);
		if (m && !strcmp(m, "normal"))
			n->mode = MIG_PRECOPY;
		else if (mig_mode_parse(m, &n->mode)) {
			snprintf(err, errlen, "Parameter 'mode' expects precopy (or normal), stop-copy or "
				 "postcopy (QEMU's cpr-reboot and cpr-transfer are not implemented)");
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "compress") || !strcmp(key, "multifd-compression")) {
		/* tern compresses its one stream; QEMU's multifd-compression
		 * names the same choice. */
		const char *c = json_string_value(v);
		if (c && !strcmp(c, "zstd"))
			n->compress = true;
		else if (c && !strcmp(c, "none"))
			n->compress = false;
		else {
			snprintf(err, errlen, "Parameter '%s' expects none or zstd (zlib, qpl, uadk and "
				 "qatzip are not implemented)", key);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "x-postcopy-after-precopy")) {
		if (!json_is_boolean(v)) {
			snprintf(err, errlen, "Parameter '%s' expects true or false", key);
			return -1;
		}
		n->postcopy_after_precopy = json_is_true(v);
		return 0;
	}
	if (!strcmp(key, "xbzrle-cache-size")) {
		/* QEMU's bounds: at least a page, at most what fits a size_t */
		if (int_param(key, v, 4096, INT64_MAX, " bytes", &i, err, errlen))
			return -1;
		n->xbzrle_cache_size = (uint64_t)i;
		return 0;
	}
	if (!strcmp(key, "x-device-state")) {
		if (mig_devstate_parse(json_string_value(v), &n->device_state)) {
			snprintf(err, errlen, "Parameter 'x-device-state' expects save or log");
			return -1;
		}
		return 0;
	}
	const struct fixed_param *f = find_fixed(key);
	if (f)
		return set_fixed(f, v, err, errlen);
	if (!strcmp(key, "throttle-trigger-threshold")) {
		snprintf(err, errlen, "Parameter '%s' is not implemented: tern's auto-converge slows the "
			 "guest after two rounds that shrink the dirty set by less than a tenth", key);
		return -1;
	}
	snprintf(err, errlen, "Parameter '%s' is unexpected", key);
	return -1;
}

int qmp_mig_params_set(struct mig_params *p, json_t *args, char *err, size_t errlen)
{
	struct mig_params n = *p;
	const char *key;
	json_t *v;
	json_object_foreach(args, key, v) {
		if (set_one(&n, key, v, err, errlen))
			return -1;
	}
	if (n.mode == MIG_POSTCOPY && !n.postcopy_ram) {
		snprintf(err, errlen, "Parameter 'mode' cannot be postcopy while the capability "
			 "'postcopy-ram' is off");
		return -1;
	}
	*p = n;
	return 0;
}

json_t *qmp_mig_params_json(const struct mig_params *p)
{
	const char *comp = p->compress ? "zstd" : "none";
	json_t *j = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:I,s:b}",
			      "downtime-limit", (json_int_t)p->downtime_limit_ms,
			      "max-bandwidth", (json_int_t)p->max_bandwidth,
			      "mode", mig_mode_name(p->mode),
			      "compress", comp, "multifd-compression", comp,
			      "x-device-state", mig_devstate_name(p->device_state),
			      "cpu-throttle-initial", p->throttle_initial,
			      "cpu-throttle-increment", p->throttle_increment,
			      "max-cpu-throttle", p->throttle_max,
			      "xbzrle-cache-size", (json_int_t)p->xbzrle_cache_size,
			      "x-postcopy-after-precopy", p->postcopy_after_precopy);
	for (size_t i = 0; j && i < sizeof(fixed_params) / sizeof(fixed_params[0]); i++)
		json_object_set_new(j, fixed_params[i].name, fixed_value(&fixed_params[i]));
	return j;
}

/* ---- capabilities ---- */

struct mig_cap {
	const char *name;
	size_t field;               /* offsetof a bool in mig_params, or NONE */
	bool fixed;                 /* the state tern always has (field == NONE) */
	const char *why;
};

#define NONE ((size_t)-1)
#define FIELD(f) offsetof(struct mig_params, f)

static const struct mig_cap caps[] = {
	{ "xbzrle", FIELD(xbzrle), false, NULL },
	{ "rdma-pin-all", NONE, false, "RDMA is not supported" },
	{ "auto-converge", FIELD(auto_converge), false, NULL },
	{ "zero-blocks", NONE, false, "storage migration (migrate blk) always sends zero disk "
				      "chunks as markers, and zero RAM pages are always skipped" },
	{ "events", FIELD(events), false, NULL },
	{ "postcopy-ram", FIELD(postcopy_ram), false, NULL },
	{ "x-colo", NONE, false, "COLO is not implemented" },
	{ "release-ram", NONE, false, "not implemented" },
	{ "return-path", NONE, true, "tern's migration always has a return path (the destination "
				     "confirms the switch-over)" },
	{ "pause-before-switchover", FIELD(pause_before_switchover), false, NULL },
	{ "multifd", NONE, false, "multifd is not implemented (one stream)" },
	{ "dirty-bitmaps", NONE, false, "tern has no block dirty bitmaps" },
	{ "postcopy-blocktime", NONE, false, "not implemented" },
	{ "late-block-activate", NONE, false, "not implemented (the destination opens its disks "
					      "at the switch-over)" },
	{ "x-ignore-shared", NONE, false, "not implemented" },
	{ "validate-uuid", NONE, false, "not implemented" },
	{ "background-snapshot", NONE, false, "not implemented (tern snapshot pauses the guest)" },
	{ "zero-copy-send", NONE, false, "not implemented" },
	{ "postcopy-preempt", NONE, false, "not implemented (post-copy requests share the one "
					   "stream, sent ahead of the background pages)" },
	{ "switchover-ack", NONE, false, "not implemented" },
	{ "dirty-limit", NONE, false, "not implemented" },
	{ "mapped-ram", NONE, false, "not implemented" },
};

static bool cap_state(const struct mig_params *p, const struct mig_cap *c)
{
	return c->field == NONE ? c->fixed : *(const bool *)((const char *)p + c->field);
}

int qmp_mig_caps_set(struct mig_params *p, json_t *list, char *err, size_t errlen)
{
	struct mig_params n = *p;
	size_t i;
	json_t *item;
	if (!json_is_array(list)) {
		snprintf(err, errlen, "Invalid parameter type for 'capabilities', expected: array");
		return -1;
	}
	json_array_foreach(list, i, item) {
		const char *name = json_string_value(json_object_get(item, "capability"));
		json_t *st = json_object_get(item, "state");
		if (!json_is_object(item) || !name || !json_is_boolean(st) || json_object_size(item) != 2) {
			snprintf(err, errlen, "capabilities[%zu] must be {\"capability\": NAME, \"state\": BOOL}", i);
			return -1;
		}
		const struct mig_cap *c = NULL;
		for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++)
			if (!strcmp(caps[k].name, name))
				c = &caps[k];
		if (!c) {
			snprintf(err, errlen, "Parameter 'capability' does not accept value '%s'", name);
			return -1;
		}
		bool on = json_is_true(st);
		if (c->field != NONE) {
			*(bool *)((char *)&n + c->field) = on;
		} else if (on != c->fixed) {
			snprintf(err, errlen, "Capability '%s' can only be %s in tern: %s", name,
				 c->fixed ? "on" : "off", c->why);
			return -1;
		}
	}
	if (n.mode == MIG_POSTCOPY && !n.postcopy_ram) {
		snprintf(err, errlen, "Capability 'postcopy-ram' cannot be off while the parameter "
			 "'mode' is postcopy");
		return -1;
	}
	*p = n;
	return 0;
}

json_t *qmp_mig_caps_json(const struct mig_params *p)
{
	json_t *a = json_array();
	for (size_t k = 0; a && k < sizeof(caps) / sizeof(caps[0]); k++)
		json_array_append_new(a, json_pack("{s:s,s:b}", "capability", caps[k].name,
						   "state", cap_state(p, &caps[k])));
	return a;
}
