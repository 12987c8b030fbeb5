/* Network backend core: the bounded receive queue that holds frames while
 * the guest has no buffers (fd backends pause meanwhile, so nothing is
 * lost; slirp cannot pause, its surplus is dropped). Opening by kind is
 * the registry's job (backends.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/evloop.h"
#include "net/net.h"
#include "net/spec.h"

void net_backend_init(struct net_backend *be, const struct net_backend_ops *ops,
		      struct evloop *loop)
{
	be->ops = ops;
	be->loop = loop;
	be->q_head = NULL;
	be->q_tail = &be->q_head;
	atomic_init(&be->rx_ready_queued, false);
}

void net_backend_attach(struct net_backend *be, net_receive_fn receive, void *opaque)
{
	be->receive = receive;
	be->opaque = opaque;
}

static void set_paused(struct net_backend *be, bool paused)
{
	if (be->paused == paused)
		return;
	be->paused = paused;
	if (be->ops->pause)
		be->ops->pause(be, paused);
}

static bool enqueue(struct net_backend *be, const void *frame, size_t len)
{
	if (be->q_frames >= NET_RXQ_MAX_FRAMES || be->q_bytes + len > NET_RXQ_MAX_BYTES)
		return false;
	struct net_queued_frame *f = malloc(sizeof(*f) + len);
	if (!f)
		return false;
	f->next = NULL;
	f->len = len;
	memcpy(f->data, frame, len);
	*be->q_tail = f;
	be->q_tail = &f->next;
	be->q_frames++;
	be->q_bytes += len;
	return true;
}

static void dequeue(struct net_backend *be)
{
	struct net_queued_frame *f = be->q_head;
	be->q_head = f->next;
	if (!be->q_head)
		be->q_tail = &be->q_head;
	be->q_frames--;
	be->q_bytes -= f->len;
	free(f);
}

void net_backend_deliver(struct net_backend *be, const void *frame, size_t len)
{
	/* Frames keep their order: once one waits, later ones wait behind it. */
	if (!be->q_head && be->receive) {
		int r = be->receive(be->opaque, frame, len);
		if (r != 0) {
			if (r < 0)
				be->rx_dropped++;
			return;
		}
	}
	if (!enqueue(be, frame, len))
		be->rx_dropped++;
	set_paused(be, true);
}

/* I/O thread: retry queued frames; resume reading once they are all in. */
static void rx_retry(void *opaque)
{
	struct net_backend *be = opaque;

	atomic_store(&be->rx_ready_queued, false);
	while (be->q_head) {
		int r = be->receive ? be->receive(be->opaque, be->q_head->data, be->q_head->len) : -1;
		if (r == 0)
			return;         /* still no room: the device will call again */
		if (r < 0)
			be->rx_dropped++;
		dequeue(be);
	}
	set_paused(be, false);
}

void net_backend_rx_ready(struct net_backend *be)
{
	if (atomic_exchange(&be->rx_ready_queued, true))
		return;
	if (evloop_call(be->loop, rx_retry, be) < 0)
		atomic_store(&be->rx_ready_queued, false);
}

void net_backend_send(struct net_backend *be, const void *frame, size_t len)
{
	if (be->ops->send(be, frame, len) < 0)
		be->tx_dropped++;
}

void net_backend_flush(struct net_backend *be)
{
	if (be->ops->flush)
		be->ops->flush(be);
}

void net_backend_close(struct net_backend *be)
{
	if (!be)
		return;
	evloop_cancel(be->loop, be);
	while (be->q_head)
		dequeue(be);
	be->ops->close(be);
}
