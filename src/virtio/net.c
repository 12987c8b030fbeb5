/* virtio-net device model. Transmit: a guest kick queues one pass on the I/O
 * thread, which copies frames out under the VM lock and sends them with the
 * lock dropped (a backend may answer at once, e.g. slirp's ARP). Receive:
 * backends deliver on the I/O thread; frames go into guest buffers under
 * the VM lock, merged over several buffers when the driver allows it. */
#include <endian.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "core/evloop.h"
#include "core/vm.h"
#include "net/net.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/virtqueue.h"

/* Frames sent per pass before the loop gets a turn for other work. */
#define TX_BUDGET 128
/* Retries when the driver keeps adding buffers while a frame is placed. */
#define RX_RACE_RETRIES 8

struct virtio_net {
	struct vm *vm;
	struct virtio_mmio *t;
	struct net_backend *be;
	uint8_t mac[6];
	bool rx_waiting;            /* a frame waits for buffers (VM lock) */
	atomic_bool tx_queued;      /* a transmit pass is queued on the loop */
	/* Scratch, touched only under the VM lock on the I/O thread. */
	struct virtq_chain tx_chain, rx_first, rx_more;
	struct virtq_used_elem rx_used[VIRTIO_NET_QUEUE_MAX];
	uint8_t tx_buf[NET_MAX_FRAME];
};

static void net_get_config(void *dev, uint8_t *buf)
{
	struct virtio_net *n = dev;
	uint16_t status = htole16(VIRTIO_NET_S_LINK_UP);

	memset(buf, 0, VIRTIO_NET_CFG_LEN);
	memcpy(buf + VIRTIO_NET_CFG_MAC, n->mac, 6);
	memcpy(buf + VIRTIO_NET_CFG_STATUS, &status, 2);
}

/* ---- transmit ------------------------------------------------------------- */

/* VIRTIO_NET_F_CSUM: the driver left the checksum of [start, len) to us,
 * with the pseudo-header sum already in the field at start + off. */
static bool tx_fill_checksum(uint8_t *frame, size_t len, const uint8_t *hdr)
{
	uint16_t start, off;
	memcpy(&start, hdr + VIRTIO_NET_HDR_CSUM_START, 2);
	memcpy(&off, hdr + VIRTIO_NET_HDR_CSUM_OFFSET, 2);
	start = le16toh(start);
	off = le16toh(off);
	if ((size_t)start + off + 2 > len)
		return false;
	uint64_t sum = 0;
	size_t i = start;
	for (; i + 1 < len; i += 2)
		sum += (uint32_t)frame[i] << 8 | frame[i + 1];
	if (i < len)
		sum += (uint32_t)frame[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	if (c == 0)
		c = 0xffff;             /* UDP: 0 would mean "no checksum" */
	frame[start + off] = (uint8_t)(c >> 8);
	frame[start + off + 1] = (uint8_t)c;
	return true;
}

/* Check a popped chain and copy its frame into tx_buf. Returns the frame
 * length, 0 to drop it, or -1 when the driver broke the rules. */
static long tx_take(struct virtio_net *n, const struct virtq_chain *c)
{
	uint8_t hdr[VIRTIO_NET_HDR_LEN];

	if (c->nseg > c->nread) {
		virtio_mmio_needs_reset(n->t, "virtio-net: transmit buffer is device-writable");
		return -1;
	}
	if (c->read_len < VIRTIO_NET_HDR_LEN) {
		virtio_mmio_needs_reset(n->t, "virtio-net: transmit buffer shorter than its header");
		return -1;
	}
	uint64_t len = c->read_len - VIRTIO_NET_HDR_LEN;
	virtq_chain_read(c, 0, hdr, sizeof(hdr));
	/* No segmentation offload was offered: a GSO frame is refused. */
	if (hdr[VIRTIO_NET_HDR_GSO_TYPE] != 0 || len < 14 || len > NET_MAX_FRAME)
		return 0;
	virtq_chain_read(c, VIRTIO_NET_HDR_LEN, n->tx_buf, len);
	if ((hdr[VIRTIO_NET_HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    !tx_fill_checksum(n->tx_buf, len, hdr))
		return 0;               /* checksum field outside the frame */
	return (long)len;
}

static void tx_pass(void *opaque);

static void tx_schedule(struct virtio_net *n)
{
	if (atomic_exchange(&n->tx_queued, true))
		return;
	if (evloop_call(n->be->loop, tx_pass, n) < 0)
		atomic_store(&n->tx_queued, false);
}

static void tx_pass(void *opaque)
{
	struct virtio_net *n = opaque;
	struct vm *vm = n->vm;
	unsigned sent = 0;
	bool more = false;

	/* Cleared first: a kick from now on queues another pass. */
	atomic_store(&n->tx_queued, false);
	for (;;) {
		pthread_mutex_lock(&vm->lock);
		struct virtq *vq = virtio_mmio_live(n->t) ? virtio_mmio_queue(n->t, VIRTIO_NET_TXQ) : NULL;
		if (!vq || sent == TX_BUDGET) {
			more = vq != NULL;
			pthread_mutex_unlock(&vm->lock);
			break;
		}
		int r = virtq_pop(vq, &n->tx_chain);
		long len = r > 0 ? tx_take(n, &n->tx_chain) : 0;
		if (r < 0)
			virtio_mmio_needs_reset(n->t, "virtio-net: malformed transmit descriptor chain");
		if (r <= 0 || len < 0) {
			pthread_mutex_unlock(&vm->lock);
			break;
		}
		virtq_push(vq, n->tx_chain.head, 0);
		virtio_mmio_used(n->t, VIRTIO_NET_TXQ);
		pthread_mutex_unlock(&vm->lock);
		if (len > 0)
			net_backend_send(n->be, n->tx_buf, (size_t)len);
		else
			n->be->tx_dropped++;
		sent++;
	}
	if (sent)
		net_backend_flush(n->be);
	if (more)
		tx_schedule(n);
}

/* ---- receive ---------------------------------------------------------------- */

/* One attempt to place a frame. Returns 1 placed, 0 wait for buffers, -1
 * dropped, 2 when buffers arrived meanwhile (try again). VM lock held. */
static int rx_place(struct virtio_net *n, struct virtq *vq, bool mrg,
		    const uint8_t *frame, size_t len)
{
	uint8_t hdr[VIRTIO_NET_HDR_LEN] = { 0 };
	size_t done = 0;            /* frame bytes placed so far */
	unsigned nbuf = 0;

	for (;;) {
		struct virtq_chain *c = nbuf ? &n->rx_more : &n->rx_first;
		int r = virtq_pop(vq, c);
		if (r < 0) {
			virtio_mmio_needs_reset(n->t, "virtio-net: malformed receive descriptor chain");
			return -1;
		}
		if (r == 0) {
			if (nbuf && virtq_unpop(vq, nbuf))
				return 2;
			n->rx_waiting = true;
			return 0;
		}
		if (c->nread || c->write_len < VIRTIO_NET_HDR_LEN) {
			virtio_mmio_needs_reset(n->t, c->nread ? "virtio-net: receive buffer is device-readable"
						: "virtio-net: receive buffer shorter than the header");
			return -1;
		}
		if (!mrg && c->write_len < VIRTIO_NET_HDR_LEN + len) {
			virtq_unpop(vq, 1);    /* keep the buffer for a smaller frame */
			return -1;
		}
		size_t skip = nbuf ? 0 : VIRTIO_NET_HDR_LEN;
		size_t take = c->write_len - skip < len - done ? c->write_len - skip : len - done;
		virtq_chain_write(vq, c, skip, frame + done, take);
		done += take;
		n->rx_used[nbuf].head = c->head;
		n->rx_used[nbuf].len = (uint32_t)(skip + take);
		nbuf++;
		if (done == len)
			break;
		if (nbuf >= vq->num || nbuf >= VIRTIO_NET_QUEUE_MAX) {
			virtq_unpop(vq, nbuf);  /* the whole ring cannot hold it */
			return -1;
		}
	}
	uint16_t nb = htole16((uint16_t)nbuf);
	memcpy(hdr + VIRTIO_NET_HDR_NUM_BUFFERS, &nb, 2);
	virtq_chain_write(vq, &n->rx_first, 0, hdr, sizeof(hdr));
	virtq_push_n(vq, n->rx_used, nbuf);
	virtio_mmio_used(n->t, VIRTIO_NET_RXQ);
	return 1;
}

static int net_receive(void *opaque, const uint8_t *frame, size_t len)
{
	struct virtio_net *n = opaque;
	int r = -1;

	pthread_mutex_lock(&n->vm->lock);
	/* A paused guest receives nothing (as in QEMU, where a stopped VM
	 * takes no packets): a snapshot or a migration's last copy of RAM
	 * and device state must not change under it. The frame waits; the
	 * resume hook calls for it again. */
	if (atomic_load(&n->vm->pause_count)) {
		n->rx_waiting = true;
		pthread_mutex_unlock(&n->vm->lock);
		return 0;
	}
	struct virtq *vq = virtio_mmio_live(n->t) ? virtio_mmio_queue(n->t, VIRTIO_NET_RXQ) : NULL;
	if (vq && len <= NET_MAX_FRAME) {
		bool mrg = virtio_mmio_features(n->t) & (1ull << VIRTIO_NET_F_MRG_RXBUF);
		for (int i = 0; i < RX_RACE_RETRIES; i++) {
			r = rx_place(n, vq, mrg, frame, len);
			if (r != 2)
				break;
			r = -1;
		}
	}
	pthread_mutex_unlock(&n->vm->lock);
	return r;
}

/* ---- transport hooks -------------------------------------------------------- */

/* vCPU thread, VM lock held: only schedule work, never do backend I/O here. */
static void net_notify(void *dev, struct virtio_mmio *t, unsigned q)
{
	struct virtio_net *n = dev;

	if (q == VIRTIO_NET_TXQ) {
		tx_schedule(n);
	} else if (q == VIRTIO_NET_RXQ && n->rx_waiting) {
		n->rx_waiting = false;
		net_backend_rx_ready(n->be);
	}
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	/* Frames held for the old driver are dropped, and reading resumes. */
	n->rx_waiting = false;
	net_backend_rx_ready(n->be);
}

static void net_destroy(void *dev)
{
	struct virtio_net *n = dev;

	evloop_cancel(n->be->loop, n);
	net_backend_close(n->be);
	free(n);
}

static const struct virtio_dev_ops net_ops;

void virtio_net_resume_rx(struct virtio_mmio *t)
{
	if (virtio_mmio_dev_ops(t) != &net_ops)
		return;
	struct virtio_net *n = virtio_mmio_dev(t);
	pthread_mutex_lock(&n->vm->lock);
	bool waiting = n->rx_waiting;
	n->rx_waiting = false;
	pthread_mutex_unlock(&n->vm->lock);
	if (waiting)
		net_backend_rx_ready(n->be);
}

/* A RARP broadcast from the guest's MAC, as QEMU's announce sends after a
 * migration: switches and bridges learn the guest's new port at once. */
static void announce_pass(void *opaque)
{
	struct virtio_net *n = opaque;
	static const uint8_t rarp[10] = { 0x80, 0x35, 0, 1, 0x08, 0x00, 6, 4, 0, 3 };
	uint8_t f[60] = { 0 };
	memset(f, 0xff, 6);
	memcpy(f + 6, n->mac, 6);
	memcpy(f + 12, rarp, sizeof(rarp));     /* ethertype, htype, ptype, hlen, plen, op */
	memcpy(f + 22, n->mac, 6);              /* sender MAC; sender IP 0 */
	memcpy(f + 32, n->mac, 6);              /* target MAC; target IP 0 */
	net_backend_send(n->be, f, sizeof(f));
	net_backend_flush(n->be);
}

void virtio_net_announce(struct virtio_mmio *t)
{
	if (virtio_mmio_dev_ops(t) != &net_ops)
		return;
	struct virtio_net *n = virtio_mmio_dev(t);
	evloop_call(n->be->loop, announce_pass, n);
}

static const struct virtio_dev_ops net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.nqueues = 2,
	.queue_max = VIRTIO_NET_QUEUE_MAX,
	.config_len = VIRTIO_NET_CFG_LEN,
	.get_config = net_get_config,
	.notify = net_notify,
	.reset = net_reset,
	.destroy = net_destroy,
};

struct virtio_mmio *virtio_net_new(struct vm *vm, struct irq_line irq,
				   struct net_backend *be, const uint8_t mac[6])
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->vm = vm;
	n->be = be;
	memcpy(n->mac, mac, 6);
	atomic_init(&n->tx_queued, false);
	uint64_t features = (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_MAC) |
			    (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_NET_F_STATUS);
	struct virtio_mmio *t = virtio_mmio_new(vm, &net_ops, n, features, irq);
	if (!t) {
		free(n);
		return NULL;
	}
	n->t = t;
	net_backend_attach(be, net_receive, n);
	return t;
}
