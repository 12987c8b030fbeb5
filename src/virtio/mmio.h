/* virtio-mmio version 2 transport: the dev_ops device the guest sees. It owns
 * the queues, the interrupt line and a device model plugged in through
 * struct virtio_dev_ops. */
#ifndef TERN_VIRTIO_MMIO_H
#define TERN_VIRTIO_MMIO_H
#include <stdbool.h>
#include <stdint.h>
#include "dev/dev.h"
#include "virtio/virtqueue.h"

struct vm;
struct virtio_mmio;
struct vmbuf;
struct vmrd;

#define VIRTIO_MMIO_SIZE 0x1000
#define VIRTIO_MMIO_MAGIC 0x74726976      /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x6e726574     /* "tern" */
#define VIRTIO_MMIO_MAX_QUEUES 8
#define VIRTIO_MMIO_CONFIG_MAX 256

/* Register offsets (virtio 1.2, 4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_SHM_SEL 0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING 1
#define VIRTIO_MMIO_INT_CONFIG 2

/* A device model behind the transport. dev is the model's own state. */
struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	unsigned nqueues;          /* <= VIRTIO_MMIO_MAX_QUEUES */
	unsigned queue_max;        /* power of two <= VIRTQ_MAX_SIZE */
	unsigned config_len;       /* <= VIRTIO_MMIO_CONFIG_MAX */
	/* Fill buf[0..config_len) with the current config space. */
	void (*get_config)(void *dev, uint8_t *buf);
	/* Optional: the driver wrote buf[0..len) at config offset off. */
	void (*set_config)(void *dev, unsigned off, const uint8_t *buf, unsigned len);
	/* The driver kicked `queue` (ready, DRIVER_OK, not NEEDS_RESET). */
	void (*notify)(void *dev, struct virtio_mmio *t, unsigned queue);
	/* Device reset by the driver (status 0) or the board. */
	void (*reset)(void *dev);
	void (*destroy)(void *dev);
	/* Optional snapshot hooks for the model's own state, inside the
	 * transport's section (blk flushes its image here). Return 0 or -1. */
	int (*save)(void *dev, struct vmbuf *b);
	int (*load)(void *dev, struct vmrd *r);
};

extern const struct dev_ops virtio_mmio_ops;

/* features: the device-specific bits; the transport adds VERSION_1,
 * RING_INDIRECT_DESC and RING_EVENT_IDX. Returns NULL on ENOMEM or a bad
 * ops table. On success the transport owns dev (ops->destroy frees it). */
struct virtio_mmio *virtio_mmio_new(struct vm *vm, const struct virtio_dev_ops *ops,
				    void *dev, uint64_t features, struct irq_line irq);

/* For device models: */
struct vm *virtio_mmio_vm(const struct virtio_mmio *t);
void *virtio_mmio_dev(const struct virtio_mmio *t);
const struct virtio_dev_ops *virtio_mmio_dev_ops(const struct virtio_mmio *t);
/* The queue, or NULL when q is out of range or the queue is not live. */
struct virtq *virtio_mmio_queue(struct virtio_mmio *t, unsigned q);
/* Features the driver accepted (valid once FEATURES_OK). */
uint64_t virtio_mmio_features(const struct virtio_mmio *t);
/* True while the device may process buffers (DRIVER_OK, not NEEDS_RESET). */
bool virtio_mmio_live(const struct virtio_mmio *t);
/* After pushing used elements on q: interrupt the driver if it wants one. */
void virtio_mmio_used(struct virtio_mmio *t, unsigned q);
/* The driver broke the rules: set NEEDS_RESET, stop processing, and send
 * a configuration-change interrupt. */
void virtio_mmio_needs_reset(struct virtio_mmio *t, const char *why);
/* The device changed its config space (bumps ConfigGeneration, interrupts). */
void virtio_mmio_config_changed(struct virtio_mmio *t);
/* Current Status register (tests, monitor). */
uint32_t virtio_mmio_status(const struct virtio_mmio *t);
/* Why NEEDS_RESET was set (NULL when it is not). */
const char *virtio_mmio_error(const struct virtio_mmio *t);
#endif
