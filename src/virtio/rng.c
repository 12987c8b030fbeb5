/* virtio-rng device model: each available chain's writable segments are
 * filled in place from getrandom(2), up to VIRTIO_RNG_MAX_FILL bytes. */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include "virtio/mmio.h"
#include "virtio/rng.h"
#include "virtio/virtqueue.h"

struct virtio_rng {
	struct virtq_chain chain;
};

/* Fill up to max bytes of the chain's writable part; returns bytes filled. */
static uint32_t rng_fill(struct virtq *vq, const struct virtq_chain *c, uint32_t max)
{
	uint32_t done = 0;

	for (unsigned i = c->nread; i < c->nseg && done < max; i++) {
		uint32_t want = c->seg[i].len < max - done ? c->seg[i].len : max - done;
		uint32_t got = 0;
		while (got < want) {
			ssize_t n = getrandom(c->seg[i].ptr + got, want - got, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (uint32_t)n;
		}
		done += got;
		if (got < want)
			break;
	}
	virtq_chain_written(vq, c, done);
	return done;
}

static void rng_notify(void *dev, struct virtio_mmio *t, unsigned q)
{
	struct virtio_rng *r = dev;
	struct virtq *vq = virtio_mmio_queue(t, q);
	int ret;

	if (!vq)
		return;
	while ((ret = virtq_pop(vq, &r->chain)) > 0)
		virtq_push(vq, r->chain.head, rng_fill(vq, &r->chain, VIRTIO_RNG_MAX_FILL));
	virtio_mmio_used(t, q);
	if (ret < 0)
		virtio_mmio_needs_reset(t, "virtio-rng: malformed descriptor chain");
}

static void rng_destroy(void *dev)
{
	free(dev);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nqueues = 1,
	.queue_max = VIRTIO_RNG_QUEUE_MAX,
	.config_len = 0,
	.notify = rng_notify,
	.destroy = rng_destroy,
};

struct virtio_mmio *virtio_rng_new(struct vm *vm, struct irq_line irq)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	struct virtio_mmio *t = virtio_mmio_new(vm, &rng_ops, r, 0, irq);
	if (!t)
		free(r);
	return t;
}
