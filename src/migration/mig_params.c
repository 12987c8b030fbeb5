/* Migration parameters as migration/ takes them: the defaults, and the
 * names of modes and statuses (migration/mig_params.h). (QMP's
 * migrate-set-parameters and capabilities are ctl/'s: ctl/qmp_mig_params.c.) */
#include <errno.h>
#include <string.h>
#include "migration/mig_params.h"

void mig_params_default(struct mig_params *p)
{
	*p = (struct mig_params){ .downtime_limit_ms = 300, .max_bandwidth = 0,
				  .mode = MIG_PRECOPY, .compress = false,
				  .throttle_initial = 20, .throttle_increment = 20, .throttle_max = 99,
				  .auto_converge = true, .events = true, .postcopy_ram = true,
				  .xbzrle = true, .xbzrle_cache_size = 64ull << 20 };
}

static const char *const mode_names[] = {
	[MIG_PRECOPY] = "precopy", [MIG_STOPCOPY] = "stop-copy", [MIG_POSTCOPY] = "postcopy",
};

const char *mig_mode_name(enum mig_mode mode)
{
	return mode == MIG_STOPCOPY || mode == MIG_POSTCOPY ? mode_names[mode] : mode_names[MIG_PRECOPY];
}

int mig_mode_parse(const char *name, enum mig_mode *mode)
{
	for (size_t i = 0; name && i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(name, mode_names[i])) {
			*mode = (enum mig_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *mig_status_name(enum mig_status s)
{
	static const char *const names[] = {
		[MIG_NONE] = "none", [MIG_SETUP] = "setup", [MIG_ACTIVE] = "active",
		[MIG_PRE_SWITCHOVER] = "pre-switchover", [MIG_DEVICE] = "device", [MIG_POSTCOPY_ACTIVE] = "postcopy-active",
		[MIG_POSTCOPY_PAUSED] = "postcopy-paused",
		[MIG_COMPLETED] = "completed", [MIG_FAILED] = "failed",
		[MIG_CANCELLING] = "cancelling", [MIG_CANCELLED] = "cancelled",
	};
	return names[s];
}
