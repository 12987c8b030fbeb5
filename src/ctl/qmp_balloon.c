/* QMP `balloon` and `query-balloon` (QEMU's shapes: sizes in bytes of guest
 * RAM, not of the balloon), plus tern's extra fields in query-balloon:
 * target, the negotiated features, bytes given back and the guest's
 * statistics (QEMU's guest-stats names). */
#include <time.h>
#include "mem/guest_ram.h"
#include "core/vm.h"
#include "ctl/qmp_cmds.h"
#include "machine/virt.h"
#include "virtio/balloon.h"

/* How long query-balloon waits for the driver to refresh its statistics
 * (it answers on the I/O thread, so briefly; Linux refills in a few ms). */
#define STATS_WAIT_MS 100

static int no_balloon(struct qmp_error *err)
{
	return qmp_fail(err, "DeviceNotActive", "No balloon device has been activated "
			"(start the VM with 'tern run --balloon on')");
}

int qmp_cmd_balloon(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	struct vm *vm = ctx->vm;
	json_t *v = json_object_get(args, "value");
	if (!virt_balloon(vm))
		return no_balloon(err);
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return qmp_fail(err, "GenericError", "Parameter 'value' expects a size in bytes above 0");
	pthread_mutex_lock(&vm->lock);
	virtio_balloon_set_target(virt_balloon(vm), (uint64_t)json_integer_value(v));
	pthread_mutex_unlock(&vm->lock);
	*ret = json_object();
	return 0;
}

/* Hand the stats buffer back and give a running driver a moment to fill
 * it, so the numbers are current rather than from the previous query. */
static void refresh_stats(struct vm *vm, struct virtio_balloon_info *bi)
{
	pthread_mutex_lock(&vm->lock);
	bool asked = virtio_balloon_request_stats(virt_balloon(vm));
	virtio_balloon_info(virt_balloon(vm), bi);
	pthread_mutex_unlock(&vm->lock);
	uint64_t gen = bi->stats_generation;
	for (int ms = 0; asked && !vm_is_parked(vm) && ms < STATS_WAIT_MS; ms += 10) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&vm->lock);
		virtio_balloon_info(virt_balloon(vm), bi);
		pthread_mutex_unlock(&vm->lock);
		if (bi->stats_generation != gen)
			break;
	}
}

int qmp_cmd_query_balloon(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	struct vm *vm = ctx->vm;
	struct virtio_balloon_info bi;
	if (!virt_balloon(vm))
		return no_balloon(err);
	refresh_stats(vm, &bi);
	json_t *stats = json_object();
	for (unsigned i = 0; i < VIRTIO_BALLOON_NSTATS; i++)
		if (bi.stats_valid & (1u << i))
			json_object_set_new(stats, virtio_balloon_stat_name(i), json_integer((json_int_t)bi.stats[i]));
	*ret = json_pack("{s:I,s:I,s:I,s:b,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:o,s:I}",
		"actual", (json_int_t)bi.actual, "target", (json_int_t)bi.target,
		"ram-size", (json_int_t)bi.ram_size, "driver", bi.driver_ok,
		"free-page-reporting", bi.reporting, "deflate-on-oom", bi.deflate_on_oom,
		"reported-bytes", (json_int_t)bi.reported_bytes,
		"inflated-bytes", (json_int_t)bi.inflated_bytes,
		"deflated-bytes", (json_int_t)bi.deflated_bytes,
		"discarded-bytes", (json_int_t)(guest_ram_discarded_count(&vm->mem) << 12),
		"ignored-pfns", (json_int_t)bi.ignored_pfns,
		"stats", stats, "stats-last-update", (json_int_t)bi.stats_updated_s);
	return 0;
}
