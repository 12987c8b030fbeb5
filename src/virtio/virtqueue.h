/* Split virtqueues (virtio 1.2, 2.7) living in guest RAM: pop descriptor
 * chains as bounded lists of checked host segments, push used elements and
 * decide whether the driver wants an interrupt. The guest is untrusted. */
#ifndef TERN_VIRTQUEUE_H
#define TERN_VIRTQUEUE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Largest queue size a device may offer (a power of two, per the spec). */
#define VIRTQ_MAX_SIZE 1024
/* Most segments one chain may carry (direct or through an indirect table).
 * Equal to IOV_MAX on Linux, so a chain always fits one preadv/pwritev. */
#define VIRTQ_MAX_SEGS 1024

/* One piece of a chain: host pointer into guest RAM and its length. */
struct virtq_seg {
	uint8_t *ptr;
	uint32_t len;
};

/* A popped chain. seg[0..nread) are device-readable, seg[nread..nseg)
 * device-writable. Zero-length descriptors are dropped. */
struct virtq_chain {
	uint16_t head;
	unsigned nseg, nread;
	uint64_t read_len, write_len;
	struct virtq_seg seg[VIRTQ_MAX_SEGS];
};

struct virtq {
	struct vm *vm;
	uint16_t num;              /* queue size; 0 = not enabled */
	bool event_idx, indirect;  /* negotiated features */
	uint64_t desc_pa, avail_pa, used_pa;
	uint8_t *desc, *avail, *used;   /* host views of the three areas */
	uint16_t last_avail;       /* next avail ring slot to consume */
	uint16_t used_idx;         /* our copy of used->idx */
	uint16_t signalled_used;   /* used_idx when we last decided on an irq */
	bool signalled_valid;
	bool pushed;               /* used elements added since that decision */
};

/* Bind a queue of `num` entries at the driver's addresses; every area must
 * lie inside RAM and be aligned. features are the negotiated ones.
 * Returns 0 or -EINVAL (the device should then set NEEDS_RESET). */
int virtq_enable(struct virtq *vq, struct vm *vm, unsigned num, uint64_t desc,
		 uint64_t avail, uint64_t used, uint64_t features);
void virtq_disable(struct virtq *vq);
static inline bool virtq_ready(const struct virtq *vq) { return vq->num != 0; }

/* Calls fn for each of the three guest-physical areas a ready queue holds
 * host views of (descriptors, avail ring, used ring), sized as
 * virtq_enable checked them. */
void virtq_visit_areas(const struct virtq *vq, void (*fn)(void *ctx, uint64_t pa, uint64_t len),
		       void *ctx);

/* Take the next available chain. Returns 1 with *c filled, 0 when the ring
 * is empty, -EINVAL when the guest broke the rules (descriptor loop, chain
 * too long, address outside RAM, nested indirect, readable after writable,
 * avail idx too far ahead): the device must report NEEDS_RESET. */
int virtq_pop(struct virtq *vq, struct virtq_chain *c);
/* Return a chain to the driver; len = bytes the device wrote into it. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* One used element, for virtq_push_n. */
struct virtq_used_elem {
	uint16_t head;
	uint32_t len;
};
/* Return n chains at once: the driver sees all of them or none (one used
 * idx update), as virtio-net's merged receive buffers need. */
void virtq_push_n(struct virtq *vq, const struct virtq_used_elem *e, unsigned n);
/* Give back the last n popped (not pushed) chains; they are popped again
 * later. With EVENT_IDX it also asks the driver to kick at its next buffer.
 * Returns true when the driver added buffers meanwhile (worth a retry). */
bool virtq_unpop(struct virtq *vq, unsigned n);
/* After one or more pushes: true when the driver wants an interrupt
 * (VIRTIO_F_RING_EVENT_IDX's used_event, else VIRTQ_AVAIL_F_NO_INTERRUPT). */
bool virtq_need_notify(struct virtq *vq);

/* Copy out of the readable part of a chain, starting `off` bytes in.
 * Returns the bytes copied (short when the chain is shorter). */
size_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *buf, size_t len);
/* Copy into the writable part of a chain (off is relative to its start),
 * keeping the decoded-code cache coherent. Returns the bytes copied. */
size_t virtq_chain_write(struct virtq *vq, const struct virtq_chain *c, uint64_t off,
			 const void *buf, size_t len);
/* Tell the CPU side that the first `len` writable bytes of c were written by
 * DMA (dcache invalidation; dirty logging later). */
void virtq_chain_written(struct virtq *vq, const struct virtq_chain *c, uint64_t len);
#endif
