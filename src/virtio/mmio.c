/* virtio-mmio v2 transport: registers, feature negotiation, queue setup,
 * interrupt status and the config window. Every guest register write goes
 * through mmio_reg_write, the one place a replay log will hook into. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/vm.h"
#include "virtio/mmio.h"
#include "state/devlog.h"
#include "state/vmbuf.h"

#define TRANSPORT_FEATURES ((1ull << VIRTIO_F_VERSION_1) | \
			    (1ull << VIRTIO_F_RING_INDIRECT_DESC) | \
			    (1ull << VIRTIO_F_RING_EVENT_IDX))

/* What the driver has set up for one queue before QueueReady. */
struct mmio_queue {
	uint32_t num;
	uint64_t desc, driver, device;
	struct virtq vq;           /* live once ready */
};

struct virtio_mmio {
	struct vm *vm;
	const struct virtio_dev_ops *ops;
	void *dev;
	struct irq_line irq;
	uint64_t device_features, driver_features;
	uint32_t device_features_sel, driver_features_sel;
	uint32_t queue_sel;
	uint32_t status;
	uint32_t isr;
	uint32_t config_generation;
	int irq_level;             /* last level driven, -1 = unknown */
	const char *broken_why;    /* why NEEDS_RESET was set */
	bool replaying;            /* a write-log replay is writing registers */
	struct mmio_queue q[VIRTIO_MMIO_MAX_QUEUES];
};

static void update_irq(struct virtio_mmio *t)
{
	int level = t->isr != 0;

	if (level != t->irq_level) {
		t->irq_level = level;
		irq_set(&t->irq, level);
	}
}

static void transport_reset(struct virtio_mmio *t)
{
	t->driver_features = 0;
	t->device_features_sel = t->driver_features_sel = 0;
	t->queue_sel = 0;
	t->status = 0;
	t->isr = 0;
	t->broken_why = NULL;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		memset(&t->q[i], 0, sizeof(t->q[i]));
		t->q[i].num = t->ops->queue_max;
	}
	if (t->ops->reset)
		t->ops->reset(t->dev);
	update_irq(t);
}

static void mmio_reset(void *dev)
{
	struct virtio_mmio *t = dev;

	t->irq_level = -1;
	transport_reset(t);
}

static struct mmio_queue *sel_queue(struct virtio_mmio *t)
{
	return t->queue_sel < t->ops->nqueues ? &t->q[t->queue_sel] : NULL;
}

/* Status write: 0 resets; FEATURES_OK only sticks when the driver's choice
 * is acceptable; NEEDS_RESET is the device's to set, never the driver's. */
static void write_status(struct virtio_mmio *t, uint32_t v)
{
	v &= 0xff;
	if (v == 0) {
		transport_reset(t);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(t->status & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t f = t->driver_features;
		if ((f & ~t->device_features) || !(f & (1ull << VIRTIO_F_VERSION_1)))
			v &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK))
		v &= ~VIRTIO_STATUS_DRIVER_OK;  /* out of order: ignore */
	t->status = (v & ~VIRTIO_STATUS_NEEDS_RESET) | (t->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void write_queue_ready(struct virtio_mmio *t, struct mmio_queue *q, uint32_t v)
{
	if (!(v & 1)) {
		virtq_disable(&q->vq);
		return;
	}
	if (virtq_ready(&q->vq))
		return;
	/* A replay writes Status before the queues; a driver that cleared
	 * FEATURES_OK after enabling a queue still had it then. */
	if (!(t->status & VIRTIO_STATUS_FEATURES_OK) && !t->replaying) {
		virtio_mmio_needs_reset(t, "queue enabled before FEATURES_OK");
		return;
	}
	if (q->num > t->ops->queue_max ||
	    virtq_enable(&q->vq, t->vm, q->num, q->desc, q->driver, q->device,
			 t->driver_features))
		virtio_mmio_needs_reset(t, "queue size or ring address invalid");
}

/* Queue setup registers take writes only while the queue is not live. */
static bool queue_writable(struct virtio_mmio *t)
{
	struct mmio_queue *q = sel_queue(t);
	return q && !virtq_ready(&q->vq);
}

static void set_lo(uint64_t *x, uint32_t v) { *x = (*x & ~0xffffffffull) | v; }
static void set_hi(uint64_t *x, uint32_t v) { *x = (*x & 0xffffffffull) | ((uint64_t)v << 32); }

/* The single entry point for guest register writes (below the config
 * window). The write log (state/devlog.h) classifies them at the MMIO
 * dispatch, with the predicates below. */
static void mmio_reg_write(struct virtio_mmio *t, unsigned reg, uint32_t v)
{
	struct mmio_queue *q = sel_queue(t);
	bool q_writable = queue_writable(t);

	switch (reg) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (t->status & VIRTIO_STATUS_FEATURES_OK)
			break;          /* frozen once negotiated */
		if (t->driver_features_sel == 0)
			set_lo(&t->driver_features, v);
		else if (t->driver_features_sel == 1)
			set_hi(&t->driver_features, v);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q_writable)
			q->num = v;     /* checked at QueueReady */
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (q)
			write_queue_ready(t, q, v);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (v < t->ops->nqueues && virtio_mmio_live(t) &&
		    virtq_ready(&t->q[v].vq) && t->ops->notify)
			t->ops->notify(t->dev, t, v);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->isr &= ~v;
		update_irq(t);
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(t, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		if (q_writable) set_lo(&q->desc, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (q_writable) set_hi(&q->desc, v);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
		if (q_writable) set_lo(&q->driver, v);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		if (q_writable) set_hi(&q->driver, v);
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
		if (q_writable) set_lo(&q->device, v);
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		if (q_writable) set_hi(&q->device, v);
		break;
	default:
		break;                  /* read-only or unknown: ignored */
	}
}

static uint32_t mmio_reg_read(struct virtio_mmio *t, unsigned reg)
{
	struct mmio_queue *q = sel_queue(t);

	switch (reg) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel > 1)
			return 0;
		return (uint32_t)(t->device_features >> (32 * t->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? t->ops->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? virtq_ready(&q->vq) : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->isr;
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffff;      /* no shared memory regions */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return t->config_generation;
	default:
		return 0;
	}
}

static int mmio_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	struct virtio_mmio *t = dev;

	*val = 0;
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t c = off - VIRTIO_MMIO_CONFIG;
		uint8_t buf[VIRTIO_MMIO_CONFIG_MAX];
		if (c >= t->ops->config_len || size > t->ops->config_len - c ||
		    !t->ops->get_config)
			return 0;
		t->ops->get_config(t->dev, buf);
		uint64_t v = 0;
		for (unsigned i = 0; i < size; i++)  /* little-endian */
			v |= (uint64_t)buf[c + i] << (8 * i);
		*val = v;
		return 0;
	}
	/* The spec allows only aligned 32-bit register accesses; anything else
	 * reads as 0 rather than faulting the guest. */
	if (size == 4 && !(off & 3))
		*val = mmio_reg_read(t, (unsigned)off);
	return 0;
}

static int mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_mmio *t = dev;

	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t c = off - VIRTIO_MMIO_CONFIG;
		uint8_t buf[8];
		if (c >= t->ops->config_len || size > t->ops->config_len - c ||
		    size > 8 || !t->ops->set_config)
			return 0;
		for (unsigned i = 0; i < size; i++)
			buf[i] = (uint8_t)(val >> (8 * i));
		t->ops->set_config(t->dev, (unsigned)c, buf, size);
		return 0;
	}
	if (size == 4 && !(off & 3))
		mmio_reg_write(t, (unsigned)off, (uint32_t)val);
	return 0;
}

static void mmio_destroy(void *dev)
{
	struct virtio_mmio *t = dev;

	if (!t)
		return;
	if (t->ops->destroy)
		t->ops->destroy(t->dev);
	free(t);
}

/* Transport registers, every queue's addresses and ring indices, then the
 * model's own state. */
static int mmio_save(void *dev, struct vmbuf *b)
{
	struct virtio_mmio *t = dev;
	vmbuf_put_u32(b, t->ops->device_id);
	vmbuf_put_u64(b, t->device_features);
	vmbuf_put_u64(b, t->driver_features);
	vmbuf_put_u32(b, t->device_features_sel);
	vmbuf_put_u32(b, t->driver_features_sel);
	vmbuf_put_u32(b, t->queue_sel);
	vmbuf_put_u32(b, t->status);
	vmbuf_put_u32(b, t->isr);
	vmbuf_put_u32(b, t->config_generation);
	vmbuf_put_u8(b, (uint8_t)(t->irq_level + 1));
	vmbuf_put_u32(b, t->ops->nqueues);
	for (unsigned i = 0; i < t->ops->nqueues; i++) {
		const struct mmio_queue *q = &t->q[i];
		vmbuf_put_u32(b, q->num);
		vmbuf_put_u64(b, q->desc);
		vmbuf_put_u64(b, q->driver);
		vmbuf_put_u64(b, q->device);
		vmbuf_put_u16(b, q->vq.num);
		vmbuf_put_u16(b, q->vq.last_avail);
		vmbuf_put_u16(b, q->vq.used_idx);
		vmbuf_put_u16(b, q->vq.signalled_used);
		vmbuf_put_u8(b, q->vq.signalled_valid);
		vmbuf_put_u8(b, q->vq.pushed);
	}
	return t->ops->save ? t->ops->save(t->dev, b) : 0;
}

static int mmio_load(void *dev, struct vmrd *r, unsigned version)
{
	struct virtio_mmio *t = dev;
	if (version != 1 || vmrd_u32(r) != t->ops->device_id)
		return -1;
	if (vmrd_u64(r) != t->device_features)
		return -1;   /* a different device model or options */
	t->driver_features = vmrd_u64(r);
	t->device_features_sel = vmrd_u32(r);
	t->driver_features_sel = vmrd_u32(r);
	t->queue_sel = vmrd_u32(r);
	t->status = vmrd_u32(r) & 0xff;
	t->isr = vmrd_u32(r) & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	t->config_generation = vmrd_u32(r);
	t->irq_level = (int)vmrd_u8(r) - 1;
	t->broken_why = (t->status & VIRTIO_STATUS_NEEDS_RESET) ? "needs reset (restored)" : NULL;
	if (vmrd_u32(r) != t->ops->nqueues)
		return -1;
	for (unsigned i = 0; i < t->ops->nqueues && !r->bad; i++) {
		struct mmio_queue *q = &t->q[i];
		q->num = vmrd_u32(r);
		q->desc = vmrd_u64(r);
		q->driver = vmrd_u64(r);
		q->device = vmrd_u64(r);
		uint16_t live = vmrd_u16(r);
		uint16_t last_avail = vmrd_u16(r), used_idx = vmrd_u16(r), sig = vmrd_u16(r);
		bool sig_valid = vmrd_u8(r), pushed = vmrd_u8(r);
		virtq_disable(&q->vq);
		if (live) {
			/* Re-derive host pointers with the same checks as QueueReady. */
			if (live != q->num || q->num > t->ops->queue_max ||
			    virtq_enable(&q->vq, t->vm, q->num, q->desc, q->driver, q->device,
					 t->driver_features))
				return -1;
			q->vq.last_avail = last_avail;
			q->vq.used_idx = used_idx;
			q->vq.signalled_used = sig;
			q->vq.signalled_valid = sig_valid;
			q->vq.pushed = pushed;
		}
	}
	if (t->ops->load ? t->ops->load(t->dev, r) : 0)
		return -1;
	return vmrd_done(r) ? 0 : -1;
}

static void mmio_ram_pinned(void *dev, void (*fn)(void *ctx, uint64_t pa, uint64_t len), void *ctx)
{
	struct virtio_mmio *t = dev;
	for (unsigned i = 0; i < t->ops->nqueues; i++) {
		const struct virtq *vq = &t->q[i].vq;
		if (!virtq_ready(vq))
			continue;
		fn(ctx, vq->desc_pa, 16ull * vq->num);
		fn(ctx, vq->avail_pa, 6ull + 2ull * vq->num);
		fn(ctx, vq->used_pa, 6ull + 8ull * vq->num);
	}
}

/* ---- write-log replay ---- */

/* Selector contexts: DriverFeatures lives in DriverFeaturesSel's (0..1),
 * the queue registers in QueueSel's (0..7). */
#define QUEUE_CTX 0, VIRTIO_MMIO_MAX_QUEUES - 1
static const struct devlog_reg mmio_regs[] = {
	{ "DeviceFeaturesSel", VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1, 4, 0, 0, DEVLOG_WRITE_ONLY, 0 },
	{ "DriverFeatures", VIRTIO_MMIO_DRIVER_FEATURES, 1, 4, 0, 1, DEVLOG_WRITE_ONLY, 0 },
	{ "DriverFeaturesSel", VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1, 4, 0, 0, DEVLOG_WRITE_ONLY, 0 },
	{ "QueueSel", VIRTIO_MMIO_QUEUE_SEL, 1, 4, 0, 0, DEVLOG_WRITE_ONLY, 0 },
	{ "QueueNum", VIRTIO_MMIO_QUEUE_NUM, 1, 4, QUEUE_CTX, DEVLOG_WRITE_ONLY, 0 },
	{ "QueueReady", VIRTIO_MMIO_QUEUE_READY, 1, 4, QUEUE_CTX, DEVLOG_READ_WRITE, 0 },
	/* A kick runs the queue: its progress indexes are residue. */
	{ "QueueNotify", VIRTIO_MMIO_QUEUE_NOTIFY, 1, 4, 0, 0, DEVLOG_ACTION, 0 },
	/* Clears InterruptStatus bits, which are residue. */
	{ "InterruptACK", VIRTIO_MMIO_INTERRUPT_ACK, 1, 4, 0, 0, DEVLOG_ACTION, 0 },
	{ "Status", VIRTIO_MMIO_STATUS, 1, 4, 0, 0, DEVLOG_READ_WRITE, 0 },
	/* DescLow..DeviceHigh: 0x80, 0x84, 0x90, 0x94, 0xa0, 0xa4. */
	{ "QueueDesc", VIRTIO_MMIO_QUEUE_DESC_LOW, 2, 4, QUEUE_CTX, DEVLOG_WRITE_ONLY, 0 },
	{ "QueueDriver", VIRTIO_MMIO_QUEUE_DRIVER_LOW, 2, 4, QUEUE_CTX, DEVLOG_WRITE_ONLY, 0 },
	{ "QueueDevice", VIRTIO_MMIO_QUEUE_DEVICE_LOW, 2, 4, QUEUE_CTX, DEVLOG_WRITE_ONLY, 0 },
	/* Everything else reads only; none of the models (blk, net, rng) has
	 * a writable config space. */
};

static bool is_queue_reg(uint32_t off)
{
	return off == VIRTIO_MMIO_QUEUE_NUM || off == VIRTIO_MMIO_QUEUE_READY ||
	       (off >= VIRTIO_MMIO_QUEUE_DESC_LOW && off <= VIRTIO_MMIO_QUEUE_DEVICE_HIGH);
}

static uint32_t mmio_log_context(void *dev, uint32_t off)
{
	const struct virtio_mmio *t = dev;
	if (off == VIRTIO_MMIO_DRIVER_FEATURES)
		return t->driver_features_sel;
	return is_queue_reg(off) ? t->queue_sel : 0;
}

static uint32_t mmio_swap_context(void *dev, uint32_t off, uint32_t ctx)
{
	struct virtio_mmio *t = dev;
	uint32_t old = mmio_log_context(dev, off);
	if (off == VIRTIO_MMIO_DRIVER_FEATURES)
		t->driver_features_sel = ctx;
	else if (is_queue_reg(off))
		t->queue_sel = ctx;
	return old;
}

/* Writes the transport ignores in its state are not logged; Status 0
 * resets the device and with it the log. */
static enum devlog_class mmio_log_refine(void *dev, uint32_t off, uint32_t ctx, uint32_t val,
					 enum devlog_class class)
{
	struct virtio_mmio *t = dev;
	if (off == VIRTIO_MMIO_STATUS && (val & 0xff) == 0)
		return DEVLOG_RESET;
	if (class != DEVLOG_WRITE_ONLY)
		return class;
	if (off == VIRTIO_MMIO_DRIVER_FEATURES && (t->status & VIRTIO_STATUS_FEATURES_OK))
		return DEVLOG_IGNORED;
	if (is_queue_reg(off) && !queue_writable(t))
		return DEVLOG_IGNORED;
	return class;
}

/* Status first (FEATURES_OK must precede QueueReady), then each queue.
 * A Status of 0 is never sent (it is the reset value): written, it would
 * reset the device and undo the selectors and queue sizes the log has
 * just set. */
static void mmio_read_back(void *dev, struct devlog_sink *s)
{
	struct virtio_mmio *t = dev;
	devlog_read_back(s, VIRTIO_MMIO_STATUS, 0);
	for (unsigned q = 0; q < t->ops->nqueues; q++)
		devlog_read_back(s, VIRTIO_MMIO_QUEUE_READY, q);
}

static void mmio_replaying(void *dev, bool on)
{
	((struct virtio_mmio *)dev)->replaying = on;
}

/* The device's identity (checked), what the device sets on its own
 * (InterruptStatus, ConfigGeneration, NEEDS_RESET, the line), each live
 * queue's progress through its rings, and the model's own state. */
static int mmio_residue_save(void *dev, struct vmbuf *b)
{
	struct virtio_mmio *t = dev;
	vmbuf_put_u32(b, t->ops->device_id);
	vmbuf_put_u64(b, t->device_features);
	vmbuf_put_u32(b, t->isr);
	vmbuf_put_u32(b, t->config_generation);
	vmbuf_put_u8(b, (t->status & VIRTIO_STATUS_NEEDS_RESET) != 0);
	vmbuf_put_u8(b, (uint8_t)(t->irq_level + 1));
	vmbuf_put_u32(b, t->ops->nqueues);
	for (unsigned i = 0; i < t->ops->nqueues; i++) {
		const struct virtq *vq = &t->q[i].vq;
		vmbuf_put_u16(b, vq->last_avail);
		vmbuf_put_u16(b, vq->used_idx);
		vmbuf_put_u16(b, vq->signalled_used);
		vmbuf_put_u8(b, vq->signalled_valid);
		vmbuf_put_u8(b, vq->pushed);
	}
	return t->ops->save ? t->ops->save(t->dev, b) : 0;
}

static int mmio_residue_load(void *dev, struct vmrd *r, unsigned version)
{
	struct virtio_mmio *t = dev;
	if (version != 1 || vmrd_u32(r) != t->ops->device_id || vmrd_u64(r) != t->device_features)
		return -1;
	t->isr = vmrd_u32(r) & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	t->config_generation = vmrd_u32(r);
	if (vmrd_u8(r)) {
		t->status |= VIRTIO_STATUS_NEEDS_RESET;
		t->broken_why = "needs reset (restored)";
	} else {
		t->status &= ~VIRTIO_STATUS_NEEDS_RESET;
		t->broken_why = NULL;
	}
	t->irq_level = (int)vmrd_u8(r) - 1;
	if (vmrd_u32(r) != t->ops->nqueues)
		return -1;
	for (unsigned i = 0; i < t->ops->nqueues; i++) {
		struct virtq *vq = &t->q[i].vq;
		uint16_t last_avail = vmrd_u16(r), used_idx = vmrd_u16(r), sig = vmrd_u16(r);
		bool sig_valid = vmrd_u8(r), pushed = vmrd_u8(r);
		if (!virtq_ready(vq))
			continue;   /* a queue that is not live has no progress */
		vq->last_avail = last_avail;
		vq->used_idx = used_idx;
		vq->signalled_used = sig;
		vq->signalled_valid = sig_valid;
		vq->pushed = pushed;
	}
	if (r->bad || (t->ops->load ? t->ops->load(t->dev, r) : 0))
		return -1;
	return vmrd_done(r) ? 0 : -1;
}

static const struct devlog_ops mmio_devlog = {
	.regs = mmio_regs,
	.nregs = sizeof(mmio_regs) / sizeof(mmio_regs[0]),
	.width = 4,
	.sizes = 1u << 4,
	.context = mmio_log_context,
	.swap_context = mmio_swap_context,
	.refine = mmio_log_refine,
	.read_back = mmio_read_back,
	.replaying = mmio_replaying,
	.residue_version = 1,
	.residue_save = mmio_residue_save,
	.residue_load = mmio_residue_load,
};

const struct dev_ops virtio_mmio_ops = {
	.name = "virtio-mmio",
	.devlog = &mmio_devlog,
	.state_version = 1,
	.save = mmio_save,
	.load = mmio_load,
	.reset = mmio_reset,
	.read = mmio_read,
	.write = mmio_write,
	.destroy = mmio_destroy,
	.ram_pinned = mmio_ram_pinned,
};

struct virtio_mmio *virtio_mmio_new(struct vm *vm, const struct virtio_dev_ops *ops,
				    void *dev, uint64_t features, struct irq_line irq)
{
	if (!ops || ops->nqueues > VIRTIO_MMIO_MAX_QUEUES ||
	    ops->config_len > VIRTIO_MMIO_CONFIG_MAX || ops->queue_max == 0 ||
	    ops->queue_max > VIRTQ_MAX_SIZE || (ops->queue_max & (ops->queue_max - 1)))
		return NULL;
	struct virtio_mmio *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->vm = vm;
	t->ops = ops;
	t->dev = dev;
	t->irq = irq;
	t->device_features = features | TRANSPORT_FEATURES;
	mmio_reset(t);
	return t;
}

struct vm *virtio_mmio_vm(const struct virtio_mmio *t)
{
	return t->vm;
}

const struct virtio_dev_ops *virtio_mmio_dev_ops(const struct virtio_mmio *t)
{
	return t->ops;
}

void *virtio_mmio_dev(const struct virtio_mmio *t)
{
	return t->dev;
}

struct virtq *virtio_mmio_queue(struct virtio_mmio *t, unsigned q)
{
	if (q >= t->ops->nqueues || !virtq_ready(&t->q[q].vq))
		return NULL;
	return &t->q[q].vq;
}

uint64_t virtio_mmio_features(const struct virtio_mmio *t)
{
	return t->driver_features;
}

bool virtio_mmio_live(const struct virtio_mmio *t)
{
	return (t->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(t->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

void virtio_mmio_used(struct virtio_mmio *t, unsigned q)
{
	if (q >= t->ops->nqueues || !virtq_need_notify(&t->q[q].vq))
		return;
	t->isr |= VIRTIO_MMIO_INT_VRING;
	update_irq(t);
}

void virtio_mmio_needs_reset(struct virtio_mmio *t, const char *why)
{
	if (t->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	t->status |= VIRTIO_STATUS_NEEDS_RESET;
	t->broken_why = why;
	/* The spec's notice for NEEDS_RESET is a config-change interrupt, which
	 * only makes sense once the driver is running. */
	if (t->status & VIRTIO_STATUS_DRIVER_OK) {
		t->isr |= VIRTIO_MMIO_INT_CONFIG;
		update_irq(t);
	}
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	t->config_generation++;
	if (t->status & VIRTIO_STATUS_DRIVER_OK) {
		t->isr |= VIRTIO_MMIO_INT_CONFIG;
		update_irq(t);
	}
}

uint32_t virtio_mmio_status(const struct virtio_mmio *t)
{
	return t->status;
}

const char *virtio_mmio_error(const struct virtio_mmio *t)
{
	return t->broken_why;
}
