/* The x-device-state migration parameter: how device state travels at
 * switch-over, "save" or "log" (query-migrate reports both forms' size and
 * encoding time: ctl/qmp_migrate_info.c). */
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
