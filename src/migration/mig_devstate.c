/* The x-device-state migration parameter (how device state travels at
 * switch-over: "save" or "log") and its report in query-migrate: the size
 * and encoding time of both forms, measured on the same paused state. */
#include <stdio.h>
#include <string.h>
#include "migration/migration.h"

int mig_devstate_param(json_t *v, enum snap_dev_method *method, char *err, size_t errlen)
{
	const char *s = json_string_value(v);
	if (s && !strcmp(s, "save"))
		*method = SNAP_DEV_SAVE;
	else if (s && !strcmp(s, "log"))
		*method = SNAP_DEV_LOG;
	else {
		snprintf(err, errlen, "Parameter 'x-device-state' expects save or log");
		return -1;
	}
	return 0;
}

const char *mig_devstate_name(enum snap_dev_method method)
{
	return method == SNAP_DEV_LOG ? "log" : "save";
}

json_t *mig_devstate_json(const struct snap_dev_report *r)
{
	json_t *log = r->log_ok ?
		json_pack("{s:I,s:I,s:I}", "bytes", (json_int_t)r->log_bytes,
			  "entries", (json_int_t)r->log_entries, "encode-us", (json_int_t)r->log_us) :
		json_pack("{s:s}", "error", r->log_err);
	return json_pack("{s:s,s:{s:I,s:I},s:o}", "method", mig_devstate_name(r->method),
			 "save", "bytes", (json_int_t)r->save_bytes, "encode-us", (json_int_t)r->save_us,
			 "log", log);
}
