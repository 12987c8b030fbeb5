/* virtio-rng (device id 4): one queue of device-writable buffers filled
 * from the host's getrandom(2). */
#ifndef TERN_VIRTIO_RNG_H
#define TERN_VIRTIO_RNG_H
#include "dev/dev.h"

struct vm;
struct virtio_mmio;

#define VIRTIO_ID_RNG 4
#define VIRTIO_RNG_QUEUE_MAX 64
/* Most bytes handed out per buffer, so one kick cannot stall the vCPU. */
#define VIRTIO_RNG_MAX_FILL (64u * 1024)

/* A virtio-rng device behind a new virtio-mmio transport, or NULL. */
struct virtio_mmio *virtio_rng_new(struct vm *vm, struct irq_line irq);
#endif
