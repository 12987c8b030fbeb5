/* virtio-blk (device id 2) over a block-layer disk (raw or qcow2): read,
 * write, flush, discard, write-zeroes and get-id, served synchronously on
 * notify. */
#ifndef TERN_VIRTIO_BLK_H
#define TERN_VIRTIO_BLK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dev/dev.h"

struct vm;
struct virtio_mmio;
struct blk_dev;

#define VIRTIO_ID_BLOCK 2

/* Feature bits (virtio 1.2, 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_WZ_F_UNMAP 1
#define VIRTIO_BLK_ID_BYTES 20

#define VIRTIO_BLK_QUEUE_MAX 256
#define VIRTIO_BLK_DISCARD_SEG_MAX 32
#define VIRTIO_BLK_DISCARD_SECTORS_MAX (1u << 22)   /* 2 GiB per segment */

/* Config space offsets (struct virtio_blk_config). */
#define VIRTIO_BLK_CFG_CAPACITY 0
#define VIRTIO_BLK_CFG_SEG_MAX 12
#define VIRTIO_BLK_CFG_BLK_SIZE 20
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN 44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS 48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG 52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP 56
#define VIRTIO_BLK_CFG_LEN 60

/* Device-registry hooks (core/devreg.h), t a virtio-blk transport: flush
 * writes the disk back (unless read-only) and drops its lock for another
 * host; reclaim takes the lock again. 0 or -1. */
int virtio_blk_flush(void *t);
int virtio_blk_reclaim(void *t);

/* A virtio-blk device for disk (from blk_open) behind a new virtio-mmio
 * transport; capacity disk->size / 512, read-only if the disk is. On success
 * the device owns disk; on failure NULL with a message in err, disk kept. */
/* The image behind a virtio-blk transport, or NULL for another device. */
struct blk_dev *virtio_blk_disk(struct virtio_mmio *t);
struct virtio_mmio *virtio_blk_new_disk(struct vm *vm, struct irq_line irq, struct blk_dev *disk,
					const char *serial, char *err, size_t errlen);
/* The same over a raw image descriptor. The capacity is
 * size_bytes / 512. serial (may be NULL) is truncated to 20 bytes. On
 * success the device owns fd and closes it when the transport is destroyed;
 * on failure it returns NULL with a message in err, leaving fd open. */
struct virtio_mmio *virtio_blk_new(struct vm *vm, struct irq_line irq, int fd,
				   uint64_t size_bytes, bool readonly, const char *serial,
				   char *err, size_t errlen);
#endif
