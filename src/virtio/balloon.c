/* virtio-balloon device model (see balloon.h). Runs where the transport
 * calls it: queue kicks on the vCPU thread, monitor calls on the I/O
 * thread, both under vm->lock. The guest is untrusted: PFNs outside RAM are
 * counted and ignored, long buffers are cut, malformed chains reset it. */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/ramlog.h"
#include "core/vm.h"
#include "state/vmbuf.h"
#include "virtio/balloon.h"
#include "virtio/mmio.h"
#include "virtio/virtqueue.h"

#define CONFIG_LEN 16       /* num_pages, actual, free_page_hint_cmd_id, poison_val */
#define STAT_LEN 10         /* le16 tag, le64 value */
#define MAX_STATS_READ 64   /* statistics records read from one buffer */
#define MODEL_VERSION 1
#define STATS_QUEUE 2      /* with STATS_VQ it is the first optional queue */

enum queue_role { Q_NONE, Q_INFLATE, Q_DEFLATE, Q_STATS, Q_REPORT };

struct virtio_balloon {
	struct vm *vm;
	struct virtio_mmio *t;
	uint32_t num_pages;          /* the host's wish, in 4 KiB pages */
	uint32_t actual;             /* pages the driver says it holds */
	bool stats_held;             /* the driver's stats buffer is ours */
	uint16_t stats_head;
	uint32_t stats_valid;
	uint64_t stats[VIRTIO_BALLOON_NSTATS];
	int64_t stats_updated_s;
	uint64_t stats_generation;
	uint64_t reported_pages, inflated_pages, deflated_pages, ignored_pfns;
	struct virtq_chain chain;
};

static const char *const stat_names[VIRTIO_BALLOON_NSTATS] = {
	"stat-swap-in", "stat-swap-out", "stat-major-faults", "stat-minor-faults",
	"stat-free-memory", "stat-total-memory", "stat-available-memory", "stat-disk-caches",
	"stat-htlb-pgalloc", "stat-htlb-pgfail", "stat-oom-kills", "stat-alloc-stalls",
	"stat-async-scans", "stat-direct-scans", "stat-async-reclaims", "stat-direct-reclaims",
};

const char *virtio_balloon_stat_name(unsigned tag)
{
	return tag < VIRTIO_BALLOON_NSTATS ? stat_names[tag] : NULL;
}

static bool has(const struct virtio_balloon *b, unsigned bit)
{
	return (virtio_mmio_features(b->t) >> bit) & 1;
}

/* Queues after the first two exist only with their feature, numbered
 * densely in feature order (as Linux's driver and QEMU's device do). */
static enum queue_role role_of(const struct virtio_balloon *b, unsigned q)
{
	if (q < 2)
		return q == 0 ? Q_INFLATE : Q_DEFLATE;
	unsigned next = 2;
	if (has(b, VIRTIO_BALLOON_F_STATS_VQ) && q == next++)
		return Q_STATS;
	if (has(b, VIRTIO_BALLOON_F_REPORTING) && q == next)
		return Q_REPORT;
	return Q_NONE;
}


/* Inflate: give each page back; deflate: the guest takes them again
 * (without MUST_TELL_HOST it may use them before telling, so nothing to
 * do beyond counting). Contiguous PFNs are given back as one range. */
static void do_pfns(struct virtio_balloon *b, const struct virtq_chain *c, bool inflate)
{
	struct vm *vm = b->vm;
	uint64_t n = c->read_len / 4, run_off = 0, run_len = 0;
	if (n > VIRTIO_BALLOON_MAX_PFNS)
		n = VIRTIO_BALLOON_MAX_PFNS;
	uint32_t pfn[256];
	for (uint64_t i = 0; i < n; i += 256) {
		uint64_t k = n - i < 256 ? n - i : 256;
		if (virtq_chain_read(c, i * 4, pfn, k * 4) != k * 4)
			break;
		for (uint64_t j = 0; j < k; j++) {
			uint64_t pa = (uint64_t)le32toh(pfn[j]) << 12;
			if (pa < vm->mem.base || pa - vm->mem.base >= vm->mem.size) {
				b->ignored_pfns++;
				continue;
			}
			if (!inflate) {
				b->deflated_pages++;
				continue;
			}
			b->inflated_pages++;
			uint64_t off = pa - vm->mem.base;
			if (run_len && off == run_off + run_len) {
				run_len += 4096;
				continue;
			}
			if (run_len)
				ram_discard(vm, run_off, run_len);
			run_off = off;
			run_len = 4096;
		}
	}
	if (run_len)
		ram_discard(vm, run_off, run_len);
}

/* Free page reporting: every segment is a free range the guest hands over. */
static void do_report(struct virtio_balloon *b, const struct virtq_chain *c)
{
	for (unsigned i = 0; i < c->nseg; i++) {
		uint64_t off = (uint64_t)(c->seg[i].ptr - b->vm->mem.host);
		b->reported_pages += ram_discard(b->vm, off, c->seg[i].len) >> 12;
	}
}

static void do_stats(struct virtio_balloon *b, struct virtq *vq, const struct virtq_chain *c)
{
	if (b->stats_held)              /* a second buffer: return the first */
		virtq_push(vq, b->stats_head, 0);
	uint8_t rec[STAT_LEN];
	for (unsigned i = 0; i < MAX_STATS_READ; i++) {
		if (virtq_chain_read(c, (uint64_t)i * STAT_LEN, rec, STAT_LEN) != STAT_LEN)
			break;
		unsigned tag = rec[0] | rec[1] << 8;
		uint64_t v = 0;
		for (int k = 7; k >= 0; k--)
			v = v << 8 | rec[2 + k];
		if (tag < VIRTIO_BALLOON_NSTATS) {
			b->stats[tag] = v;
			b->stats_valid |= 1u << tag;
		}
	}
	b->stats_held = true;
	b->stats_head = c->head;
	b->stats_updated_s = (int64_t)time(NULL);
	b->stats_generation++;
}

static void balloon_notify(void *dev, struct virtio_mmio *t, unsigned q)
{
	struct virtio_balloon *b = dev;
	struct virtq *vq = virtio_mmio_queue(t, q);
	enum queue_role role = role_of(b, q);
	int ret;

	if (!vq || role == Q_NONE)
		return;
	while ((ret = virtq_pop(vq, &b->chain)) > 0) {
		switch (role) {
		case Q_INFLATE: do_pfns(b, &b->chain, true); break;
		case Q_DEFLATE: do_pfns(b, &b->chain, false); break;
		case Q_REPORT: do_report(b, &b->chain); break;
		case Q_STATS:
			do_stats(b, vq, &b->chain);
			continue;       /* held until the host wants fresh numbers */
		case Q_NONE: break;
		}
		virtq_push(vq, b->chain.head, 0);
	}
	virtio_mmio_used(t, q);
	if (ret < 0)
		virtio_mmio_needs_reset(t, "virtio-balloon: malformed descriptor chain");
}

static void balloon_get_config(void *dev, uint8_t *buf)
{
	struct virtio_balloon *b = dev;
	uint32_t w[4] = { htole32(b->num_pages), htole32(b->actual), 0, 0 };
	memcpy(buf, w, CONFIG_LEN);
}

/* Only `actual` (bytes 4..7) is the driver's to write. */
static void balloon_set_config(void *dev, unsigned off, const uint8_t *buf, unsigned len)
{
	struct virtio_balloon *b = dev;
	for (unsigned i = 0; i < len; i++) {
		unsigned at = off + i;
		if (at < 4 || at >= 8)
			continue;
		unsigned sh = 8 * (at - 4);
		b->actual = (b->actual & ~(0xffu << sh)) | (uint32_t)buf[i] << sh;
	}
}

static void balloon_reset(void *dev)
{
	struct virtio_balloon *b = dev;
	b->actual = 0;
	b->stats_held = false;
}

static void balloon_destroy(void *dev)
{
	free(dev);
}

static int balloon_save(void *dev, struct vmbuf *v)
{
	struct virtio_balloon *b = dev;
	vmbuf_put_u8(v, MODEL_VERSION);
	vmbuf_put_u32(v, b->num_pages);
	vmbuf_put_u32(v, b->actual);
	vmbuf_put_u8(v, b->stats_held);
	vmbuf_put_u16(v, b->stats_head);
	vmbuf_put_u32(v, b->stats_valid);
	for (unsigned i = 0; i < VIRTIO_BALLOON_NSTATS; i++)
		vmbuf_put_u64(v, b->stats[i]);
	vmbuf_put_u64(v, (uint64_t)b->stats_updated_s);
	vmbuf_put_u64(v, b->reported_pages);
	vmbuf_put_u64(v, b->inflated_pages);
	vmbuf_put_u64(v, b->deflated_pages);
	vmbuf_put_u64(v, b->ignored_pfns);
	return 0;
}

static int balloon_load(void *dev, struct vmrd *r)
{
	struct virtio_balloon *b = dev;
	if (vmrd_u8(r) != MODEL_VERSION)
		return -1;
	uint32_t num_pages = vmrd_u32(r), actual = vmrd_u32(r);
	bool held = vmrd_u8(r);
	uint16_t head = vmrd_u16(r);
	uint64_t ram_pages = b->vm->mem.size >> 12;
	struct virtq *sq = virtio_mmio_queue(b->t, STATS_QUEUE);
	/* a held head must name a descriptor of a live stats queue */
	if (r->bad || num_pages > ram_pages || (held && (!sq || head >= sq->num)))
		return -1;
	b->num_pages = num_pages;
	b->actual = actual;
	b->stats_held = held;
	b->stats_head = head;
	b->stats_valid = vmrd_u32(r);
	for (unsigned i = 0; i < VIRTIO_BALLOON_NSTATS; i++)
		b->stats[i] = vmrd_u64(r);
	b->stats_updated_s = (int64_t)vmrd_u64(r);
	b->reported_pages = vmrd_u64(r);
	b->inflated_pages = vmrd_u64(r);
	b->deflated_pages = vmrd_u64(r);
	b->ignored_pfns = vmrd_u64(r);
	return r->bad ? -1 : 0;
}

static const struct virtio_dev_ops balloon_ops = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.nqueues = 4,               /* inflate, deflate, stats, reporting */
	.queue_max = VIRTIO_BALLOON_QUEUE_MAX,
	.config_len = CONFIG_LEN,
	.get_config = balloon_get_config,
	.set_config = balloon_set_config,
	.notify = balloon_notify,
	.reset = balloon_reset,
	.destroy = balloon_destroy,
	.save = balloon_save,
	.load = balloon_load,
};

struct virtio_mmio *virtio_balloon_new(struct vm *vm, struct irq_line irq, bool reporting)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->vm = vm;
	uint64_t f = 1ull << VIRTIO_BALLOON_F_STATS_VQ | 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (reporting)
		f |= 1ull << VIRTIO_BALLOON_F_REPORTING;
	struct virtio_mmio *t = virtio_mmio_new(vm, &balloon_ops, b, f, irq);
	if (!t) {
		free(b);
		return NULL;
	}
	b->t = t;
	return t;
}

void virtio_balloon_set_target(struct virtio_mmio *t, uint64_t bytes)
{
	struct virtio_balloon *b = virtio_mmio_dev(t);
	uint64_t ram = b->vm->mem.size;
	if (bytes > ram)
		bytes = ram;
	uint32_t pages = (uint32_t)((ram - bytes) >> 12);
	if (pages == b->num_pages)
		return;
	b->num_pages = pages;
	virtio_mmio_config_changed(t);
}

void virtio_balloon_info(struct virtio_mmio *t, struct virtio_balloon_info *out)
{
	struct virtio_balloon *b = virtio_mmio_dev(t);
	uint64_t ram = b->vm->mem.size;
	uint64_t held = (uint64_t)b->actual << 12;
	memset(out, 0, sizeof(*out));
	out->driver_ok = virtio_mmio_live(t);
	if (out->driver_ok) {
		out->reporting = has(b, VIRTIO_BALLOON_F_REPORTING);
		out->deflate_on_oom = has(b, VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
		out->stats_vq = has(b, VIRTIO_BALLOON_F_STATS_VQ);
	}
	out->ram_size = ram;
	out->target = ram - ((uint64_t)b->num_pages << 12);
	out->actual = held < ram ? ram - held : 0;
	out->reported_bytes = b->reported_pages << 12;
	out->inflated_bytes = b->inflated_pages << 12;
	out->deflated_bytes = b->deflated_pages << 12;
	out->ignored_pfns = b->ignored_pfns;
	out->stats_valid = b->stats_valid;
	memcpy(out->stats, b->stats, sizeof(out->stats));
	out->stats_updated_s = b->stats_updated_s;
	out->stats_generation = b->stats_generation;
}

bool virtio_balloon_request_stats(struct virtio_mmio *t)
{
	struct virtio_balloon *b = virtio_mmio_dev(t);
	unsigned q = STATS_QUEUE;
	struct virtq *vq = virtio_mmio_queue(t, q);
	if (!vq || !virtio_mmio_live(t) || !has(b, VIRTIO_BALLOON_F_STATS_VQ))
		return false;
	/* Linux kicks its first buffer during probe, before DRIVER_OK, when
	 * the transport drops kicks: take it now. */
	if (!b->stats_held)
		balloon_notify(b, t, q);
	if (!b->stats_held)
		return false;
	b->stats_held = false;
	virtq_push(vq, b->stats_head, 0);
	virtio_mmio_used(t, q);
	return true;
}
