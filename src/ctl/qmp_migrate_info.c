/* query-migrate replies and migration events from migration/'s structs
 * (ctl/qmp_migrate_info.h): migration reports numbers, ctl turns them into
 * QMP JSON. */
#include <stdio.h>
#include "ctl/qmp_migrate_info.h"
#include "core/vm.h"
#include "migration/migration.h"
#include "state/snapshot.h"

/* x-device-state: both encodings of the devices, measured. */
static json_t *devstate_json(const struct snap_dev_report *r)
{
	json_t *log = r->log_ok ?
		json_pack("{s:I,s:I,s:I}", "bytes", (json_int_t)r->log_bytes,
			  "entries", (json_int_t)r->log_entries, "encode-us", (json_int_t)r->log_us) :
		json_pack("{s:s}", "error", r->log_err);
	return json_pack("{s:s,s:{s:I,s:I},s:o}", "method", mig_devstate_name(r->method),
			 "save", "bytes", (json_int_t)r->save_bytes, "encode-us", (json_int_t)r->save_us,
			 "log", log);
}

json_t *qmp_mig_info_json(const struct mig_info *i)
{
	json_t *j = json_pack("{s:s}", "status", mig_status_name(i->status));
	if (i->status == MIG_NONE)
		return j;
	json_object_set_new(j, "total-time", json_integer(i->total_ms));
	json_object_set_new(j, "setup-time", json_integer(i->setup_ms));
	if (i->downtime_known) {
		json_object_set_new(j, "downtime", json_integer(i->downtime_ms));
		json_object_set_new(j, "x-downtime-us", json_integer(i->downtime_us));
		json_object_set_new(j, "x-downtime-breakdown", json_pack("{s:I,s:I,s:I,s:I}",
			"memory", (json_int_t)i->down_ram_ms, "cpu", (json_int_t)i->down_cpu_ms,
			"devices", (json_int_t)i->down_dev_ms, "other", (json_int_t)i->down_other_ms));
		json_object_set_new(j, "x-device-state", devstate_json(&i->devstate));
		if (i->disk_copy)
			json_object_set_new(json_object_get(j, "x-downtime-breakdown"), "disk",
					    json_integer(i->down_disk_ms));
	} else {
		json_object_set_new(j, "expected-downtime", json_integer(i->expected_downtime_ms));
	}
	json_object_set_new(j, "ram", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f}",
		"transferred", (json_int_t)i->transferred, "remaining", (json_int_t)i->remaining,
		"total", (json_int_t)i->ram_total, "duplicate", (json_int_t)i->duplicate,
		"normal", (json_int_t)i->normal, "normal-bytes", (json_int_t)(i->normal * 4096),
		"dirty-sync-count", (json_int_t)i->dirty_sync_count, "mbps", i->mbps,
		"dirty-pages-rate", i->dirty_pages_rate));
	if (i->xbz_cache_size) {        /* QEMU's names; its rates are per period, these overall */
		uint64_t looked = i->xbz_pages + i->xbz_overflow + i->xbz_cache_miss;
		json_object_set_new(j, "xbzrle-cache", json_pack("{s:I,s:I,s:I,s:I,s:f,s:f,s:I}",
			"cache-size", (json_int_t)i->xbz_cache_size, "bytes", (json_int_t)i->xbz_bytes,
			"pages", (json_int_t)i->xbz_pages, "cache-miss", (json_int_t)i->xbz_cache_miss,
			"cache-miss-rate", looked ? (double)i->xbz_cache_miss / (double)looked : 0.0,
			"encoding-rate", i->xbz_bytes ? (double)i->xbz_pages * 4096 / (double)i->xbz_bytes : 0.0,
			"overflow", (json_int_t)i->xbz_overflow));
	}
	if (i->disk_copy)       /* QEMU's block migration reported the same */
		json_object_set_new(j, "disk", json_pack("{s:I,s:I,s:I}",
			"transferred", (json_int_t)i->disk_transferred,
			"remaining", (json_int_t)i->disk_remaining, "total", (json_int_t)i->disk_total));
	json_object_set_new(j, "x-rounds", json_integer(i->rounds));
	if (i->postcopy_fallback)
		json_object_set_new(j, "x-postcopy-after-precopy", json_true());
	if (i->status == MIG_POSTCOPY_ACTIVE || i->postcopy_requests || i->postcopy_urgent_pages)
		json_object_set_new(j, "x-postcopy", json_pack("{s:I,s:I}",
			"requests", (json_int_t)i->postcopy_requests,
			"urgent-pages", (json_int_t)i->postcopy_urgent_pages));
	json_object_set_new(j, "cpu-throttle-percentage", json_integer(i->throttle_pct));
	if (i->status == MIG_FAILED || i->status == MIG_POSTCOPY_PAUSED)
		json_object_set_new(j, "error-desc", json_string(i->error));
	return j;
}

json_t *qmp_mig_incoming_json(const struct mig_incoming_info *i)
{
	if (!i->postcopy)
		return json_pack("{s:s}", "status", "none");
	json_t *j = json_pack("{s:s,s:I}", "status",
			      i->failed ? "failed" : i->done ? "completed" : "postcopy-active",
			      "total-time", (json_int_t)i->total_ms);
	json_object_set_new(j, "x-postcopy", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
		"pages", (json_int_t)i->pages, "received", (json_int_t)i->received,
		"faults", (json_int_t)i->faults, "requests", (json_int_t)i->requests,
		"fault-wait-median-us", (json_int_t)i->wait_median_us,
		"fault-wait-max-us", (json_int_t)i->wait_max_us));
	if (i->failed)
		json_object_set_new(j, "error-desc", json_string(i->error));
	return j;
}

void qmp_mig_status_event(struct vm *vm, const char *status)
{
	char data[64];
	snprintf(data, sizeof(data), "{\"status\": \"%s\"}", status);
	vm_event(vm, "MIGRATION", data);
}

static void status_event(void *opaque, enum mig_status s)
{
	qmp_mig_status_event(opaque, mig_status_name(s));
}

static void pass_event(void *opaque, uint64_t pass)
{
	char data[64];
	snprintf(data, sizeof(data), "{\"pass\": %llu}", (unsigned long long)pass);
	vm_event(opaque, "MIGRATION_PASS", data);
}

struct mig_notify qmp_mig_notify(struct vm *vm)
{
	return (struct mig_notify){ .status = status_event, .pass = pass_event, .opaque = vm };
}
