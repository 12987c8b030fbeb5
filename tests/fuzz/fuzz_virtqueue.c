/* libFuzzer harness for the virtqueue chain parser and the virtio-blk request
 * path: the input becomes guest RAM (rings, tables, headers), then the device
 * side pops, serves and pushes until the ring is empty or refused. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "core/vm.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "virtio/virtqueue.h"

/* A small RAM at a low base, so random 64-bit addresses often land in it
 * (and just below or past it). Rings sit at fixed offsets near the start of
 * the input; every other byte is also the fuzzer's. */
#define RAM_BASE 0x1000ull
#define RAM_SIZE (16u * 1024)
#define DESC 0x000u     /* up to 16 entries */
#define AVAIL 0x100u
#define USED 0x200u

static void wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	virtio_mmio_ops.write(t, off, 4, v);
}

static void fuzz_queue(struct vm *vm, uint64_t features, unsigned num)
{
	struct virtq vq;
	struct virtq_chain *c = malloc(sizeof(*c));
	uint8_t tmp[64];

	if (!c || virtq_enable(&vq, vm, num, RAM_BASE + DESC, RAM_BASE + AVAIL,
			       RAM_BASE + USED, features) == 0) {
		for (int i = 0; c && i < 4 * (int)num; i++) {
			int r = virtq_pop(&vq, c);
			if (r <= 0)
				break;
			virtq_chain_read(c, 3, tmp, sizeof(tmp));
			virtq_chain_write(&vq, c, 5, tmp, sizeof(tmp));
			virtq_push(&vq, c->head, (uint32_t)c->write_len);
			virtq_need_notify(&vq);
		}
	}
	free(c);
}

static void fuzz_blk(struct vm *vm, uint64_t features, unsigned num)
{
	int fd = memfd_create("fuzz-disk", 0);
	char err[128];

	if (fd < 0 || ftruncate(fd, 64 * 1024)) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct virtio_mmio *t = virtio_blk_new(vm, (struct irq_line){ 0 }, fd, 64 * 1024,
					       features & 1, "fuzz", err, sizeof(err));
	if (!t) {
		close(fd);
		return;
	}
	wr(t, VIRTIO_MMIO_STATUS, 3);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features & ~1u);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(t, VIRTIO_MMIO_STATUS, 0xb);
	wr(t, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(RAM_BASE + DESC));
	wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(RAM_BASE + AVAIL));
	wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(RAM_BASE + USED));
	wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(t, VIRTIO_MMIO_STATUS, 0xf);
	wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_mmio_ops.destroy(t);   /* closes fd */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	/* One VM for every input (vm_new maps RAM and the code caches), with
	 * its RAM zeroed again each time. */
	static struct vm *shared;
	if (!shared) {
		struct vm_opts o = { .ram_base = RAM_BASE, .ram_size = RAM_SIZE, .nharts = 1 };
		if (!(shared = vm_new(&o)))
			abort();
	}
	struct vm *vmp = shared;
	memset(vmp->mem.host, 0, RAM_SIZE);
	memcpy(vmp->mem.host, data + 4, size - 4 < RAM_SIZE ? size - 4 : RAM_SIZE);
	/* Byte 0: mode; 1: queue size (log2); 2: features; 3: avail idx and
	 * read-only (overrides the ring's idx so chains get parsed often). */
	unsigned num = 1u << (data[1] % 5);             /* 1..16 */
	uint16_t idx = (uint16_t)((data[3] >> 1) % (2 * num + 2));
	memcpy(vmp->mem.host + AVAIL + 2, &idx, 2);
	uint64_t features = (1ull << VIRTIO_F_VERSION_1);
	if (data[2] & 1)
		features |= 1ull << VIRTIO_F_RING_INDIRECT_DESC;
	if (data[2] & 2)
		features |= 1ull << VIRTIO_F_RING_EVENT_IDX;
	if (data[0] & 1)
		fuzz_blk(vmp, features | (data[3] & 1), num);
	else
		fuzz_queue(vmp, features, num);
	return 0;
}
