/* virtio-input power button: config space answers the driver's queries,
 * eventq carries press and release (held while the guest has no buffer or
 * the VM is paused: a paused VM's RAM must not change), statusq is drained. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/vm.h"
#include "state/vmbuf.h"
#include "virtio/input.h"
#include "virtio/mmio.h"
#include "virtio/virtqueue.h"

#define EVENTQ 0
#define STATUSQ 1
#define EVENT_SIZE 8            /* le16 type, le16 code, le32 value */
#define BUS_VIRTUAL 0x06

struct input_event_rec {
	uint16_t type, code;
	uint32_t value;
};

struct virtio_input {
	struct vm *vm;
	uint8_t select, subsel;
	struct virtq_chain chain;
	struct input_event_rec pending[VIRTIO_INPUT_PENDING];
	unsigned npending;
};

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void input_get_config(void *dev, uint8_t *buf)
{
	struct virtio_input *in = dev;
	uint8_t *u = buf + 8;
	unsigned size = 0;

	memset(buf, 0, VIRTIO_INPUT_CONFIG_LEN);
	buf[0] = in->select;
	buf[1] = in->subsel;
	switch (in->select) {
	case VIRTIO_INPUT_CFG_ID_NAME:
		if (in->subsel == 0) {
			size = sizeof(VIRTIO_INPUT_NAME) - 1;
			memcpy(u, VIRTIO_INPUT_NAME, size);
		}
		break;
	case VIRTIO_INPUT_CFG_ID_DEVIDS:
		if (in->subsel == 0) {
			put_le16(u, BUS_VIRTUAL);     /* bustype, vendor, product, version */
			put_le16(u + 2, 0);
			put_le16(u + 4, 1);
			put_le16(u + 6, 1);
			size = 8;
		}
		break;
	case VIRTIO_INPUT_CFG_EV_BITS:
		if (in->subsel == VIRTIO_INPUT_EV_KEY) {
			u[VIRTIO_INPUT_KEY_POWER / 8] = 1u << (VIRTIO_INPUT_KEY_POWER % 8);
			size = VIRTIO_INPUT_KEY_POWER / 8 + 1;
		}
		break;
	default:            /* no serial, properties, other event types or axes */
		break;
	}
	buf[2] = (uint8_t)size;
}

static void input_set_config(void *dev, unsigned off, const uint8_t *buf, unsigned len)
{
	struct virtio_input *in = dev;
	for (unsigned i = 0; i < len; i++) {
		if (off + i == 0)
			in->select = buf[i];
		else if (off + i == 1)
			in->subsel = buf[i];
	}
}

/* Move held events into the guest's buffers, oldest first. */
static void input_deliver(struct virtio_input *in, struct virtio_mmio *t)
{
	struct virtq *vq = virtio_mmio_queue(t, EVENTQ);
	unsigned done = 0;
	int ret = 1;

	if (!vq || !virtio_mmio_live(t) || atomic_load(&in->vm->pause_count))
		return;
	while (done < in->npending && (ret = virtq_pop(vq, &in->chain)) > 0) {
		const struct input_event_rec *e = &in->pending[done];
		uint8_t raw[EVENT_SIZE];
		put_le16(raw, e->type);
		put_le16(raw + 2, e->code);
		put_le16(raw + 4, (uint16_t)e->value);
		put_le16(raw + 6, (uint16_t)(e->value >> 16));
		size_t n = virtq_chain_write(vq, &in->chain, 0, raw, sizeof(raw));
		virtq_push(vq, in->chain.head, (uint32_t)n);
		done++;
	}
	if (done) {
		memmove(in->pending, in->pending + done, (in->npending - done) * sizeof(in->pending[0]));
		in->npending -= done;
		virtio_mmio_used(t, EVENTQ);
	}
	if (ret < 0)
		virtio_mmio_needs_reset(t, "virtio-input: malformed descriptor chain");
}

static void input_notify(void *dev, struct virtio_mmio *t, unsigned q)
{
	struct virtio_input *in = dev;
	if (q == EVENTQ) {          /* new buffers: events may be waiting */
		input_deliver(in, t);
		return;
	}
	struct virtq *vq = virtio_mmio_queue(t, q);
	int ret;
	if (!vq)
		return;
	while ((ret = virtq_pop(vq, &in->chain)) > 0)   /* LED state: nothing to light */
		virtq_push(vq, in->chain.head, 0);
	virtio_mmio_used(t, q);
	if (ret < 0)
		virtio_mmio_needs_reset(t, "virtio-input: malformed descriptor chain");
}

static void input_reset(void *dev)
{
	struct virtio_input *in = dev;
	in->select = in->subsel = 0;
	in->npending = 0;
}

static void input_destroy(void *dev)
{
	free(dev);
}

/* The selector and the events still held (inside the transport's section). */
static int input_save(void *dev, struct vmbuf *b)
{
	struct virtio_input *in = dev;
	vmbuf_put_u8(b, in->select);
	vmbuf_put_u8(b, in->subsel);
	vmbuf_put_u32(b, in->npending);
	for (unsigned i = 0; i < in->npending; i++) {
		vmbuf_put_u16(b, in->pending[i].type);
		vmbuf_put_u16(b, in->pending[i].code);
		vmbuf_put_u32(b, in->pending[i].value);
	}
	return 0;
}

static int input_load(void *dev, struct vmrd *r)
{
	struct virtio_input *in = dev;
	in->select = vmrd_u8(r);
	in->subsel = vmrd_u8(r);
	uint32_t n = vmrd_u32(r);
	if (n > VIRTIO_INPUT_PENDING)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		in->pending[i].type = vmrd_u16(r);
		in->pending[i].code = vmrd_u16(r);
		in->pending[i].value = vmrd_u32(r);
	}
	in->npending = n;
	return r->bad ? -1 : 0;
}

static const struct virtio_dev_ops input_ops = {
	.name = "virtio-input",
	.device_id = VIRTIO_ID_INPUT,
	.nqueues = 2,
	.queue_max = VIRTIO_INPUT_QUEUE_MAX,
	.config_len = VIRTIO_INPUT_CONFIG_LEN,
	.get_config = input_get_config,
	.set_config = input_set_config,
	.notify = input_notify,
	.reset = input_reset,
	.destroy = input_destroy,
	.save = input_save,
	.load = input_load,
};

struct virtio_mmio *virtio_input_power_button_new(struct vm *vm, struct irq_line irq)
{
	struct virtio_input *in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	in->vm = vm;
	struct virtio_mmio *t = virtio_mmio_new(vm, &input_ops, in, 0, irq);
	if (!t)
		free(in);
	return t;
}

static void queue_event(struct virtio_input *in, uint16_t type, uint16_t code, uint32_t value)
{
	if (in->npending < VIRTIO_INPUT_PENDING)
		in->pending[in->npending++] = (struct input_event_rec){ type, code, value };
}

int virtio_input_press_power(struct virtio_mmio *t)
{
	if (!t || virtio_mmio_dev_ops(t) != &input_ops)
		return -EINVAL;
	struct virtio_input *in = virtio_mmio_dev(t);
	if (!virtio_mmio_live(t))
		return -ENODEV;
	/* A press and a release, each closed by SYN_REPORT; a full queue
	 * (the guest takes no events) drops the whole press. */
	if (in->npending + 4 > VIRTIO_INPUT_PENDING)
		return 0;
	queue_event(in, VIRTIO_INPUT_EV_KEY, VIRTIO_INPUT_KEY_POWER, 1);
	queue_event(in, VIRTIO_INPUT_EV_SYN, 0, 0);
	queue_event(in, VIRTIO_INPUT_EV_KEY, VIRTIO_INPUT_KEY_POWER, 0);
	queue_event(in, VIRTIO_INPUT_EV_SYN, 0, 0);
	input_deliver(in, t);
	return 0;
}

void virtio_input_resume(struct virtio_mmio *t)
{
	if (virtio_mmio_dev_ops(t) != &input_ops)
		return;
	struct virtio_input *in = virtio_mmio_dev(t);
	pthread_mutex_lock(&in->vm->lock);
	input_deliver(in, t);
	pthread_mutex_unlock(&in->vm->lock);
}
