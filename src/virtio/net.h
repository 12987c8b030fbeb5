/* virtio-net (device id 1): one receive and one transmit queue, a MAC, link
 * status, mergeable receive buffers and transmit checksum offload (computed
 * here, so every backend gets complete frames), in front of a backend. */
#ifndef TERN_VIRTIO_NET_H
#define TERN_VIRTIO_NET_H
#include <stdint.h>
#include "dev/dev.h"

struct vm;
struct virtio_mmio;
struct net_backend;

#define VIRTIO_ID_NET 1

/* Feature bits (virtio 1.2, 5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_QUEUE_MAX 256
/* struct virtio_net_hdr with num_buffers: always 12 bytes under VERSION_1. */
#define VIRTIO_NET_HDR_LEN 12
#define VIRTIO_NET_HDR_FLAGS 0
#define VIRTIO_NET_HDR_GSO_TYPE 1
#define VIRTIO_NET_HDR_CSUM_START 6
#define VIRTIO_NET_HDR_CSUM_OFFSET 8
#define VIRTIO_NET_HDR_NUM_BUFFERS 10
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
/* Config space: mac[6], status (le16). */
#define VIRTIO_NET_CFG_MAC 0
#define VIRTIO_NET_CFG_STATUS 6
#define VIRTIO_NET_CFG_LEN 8

/* A virtio-net device behind a new virtio-mmio transport, or NULL. On
 * success the device owns be (closed when the transport is destroyed).
 * Transmit runs on be's I/O loop; receive is whatever be delivers. */
struct virtio_mmio *virtio_net_new(struct vm *vm, struct irq_line irq,
				   struct net_backend *be, const uint8_t mac[6]);
/* The VM runs again: deliver what arrived while it was paused. Does
 * nothing for a transport that is not a virtio-net. */
void virtio_net_resume_rx(struct virtio_mmio *t);
/* Announce the guest's MAC (a RARP broadcast, on the I/O loop), after a
 * migration. Does nothing for a transport that is not a virtio-net. */
void virtio_net_announce(struct virtio_mmio *t);
#endif
