/* The x-device-state migration parameter: how device state travels at
 * switch-over, "save" or "log" (query-migrate reports both forms' size and
 * encoding time: ctl/qmp_migrate_info.c). */
#include <errno.h>
#include <string.h>
#include "migration/mig_params.h"

int mig_devstate_parse(const char *name, enum snap_dev_method *method)
{
	if (name && !strcmp(name, "save"))
		*method = SNAP_DEV_SAVE;
	else if (name && !strcmp(name, "log"))
		*method = SNAP_DEV_LOG;
	else
		return -EINVAL;
	return 0;
}

const char *mig_devstate_name(enum snap_dev_method method)
{
	return method == SNAP_DEV_LOG ? "log" : "save";
}
