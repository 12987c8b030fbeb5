/* Network backends: the host side of a NIC (slirp, vde, tap). A backend sends
 * frames out and hands received frames to the device model, with a bounded
 * queue and flow control for when the guest has no receive buffers. All
 * backend work runs on the I/O thread. */
#ifndef TERN_NET_H
#define TERN_NET_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evloop;
struct net_spec;
struct net_backend;

/* Largest frame a backend passes either way (Ethernet header included). */
#define NET_MAX_FRAME 65550u
/* Frames held for a guest that has no receive buffers; more are dropped. */
#define NET_RXQ_MAX_FRAMES 256u
#define NET_RXQ_MAX_BYTES (1u << 20)

struct net_backend_ops {
	const char *kind;
	/* Send one frame out. Returns 0, or -errno when it was dropped. */
	int (*send)(struct net_backend *be, const void *frame, size_t len);
	/* Stop (true) or resume (false) reading frames from outside. NULL when
	 * the backend cannot be held back (then the queue bounds it). */
	void (*pause)(struct net_backend *be, bool paused);
	/* After a batch of sends (slirp serves its sockets here). May be NULL. */
	void (*flush)(struct net_backend *be);
	/* Release everything the backend owns (the struct too). */
	void (*close)(struct net_backend *be);
};

/* The device side. Returns 1 when the frame was taken, 0 when the guest has
 * no buffers yet (the device calls net_backend_rx_ready once it has), and
 * -1 when the frame is dropped for good (device not running). */
typedef int (*net_receive_fn)(void *opaque, const uint8_t *frame, size_t len);

struct net_queued_frame {
	struct net_queued_frame *next;
	size_t len;
	uint8_t data[];
};

/* Common part of every backend (first member of each backend's struct). */
struct net_backend {
	const struct net_backend_ops *ops;
	struct evloop *loop;
	net_receive_fn receive;
	void *opaque;
	struct net_queued_frame *q_head, **q_tail;
	unsigned q_frames;
	size_t q_bytes;
	bool paused;
	atomic_bool rx_ready_queued;
	uint64_t rx_dropped, tx_dropped;
};

/* Open the backend a --net spec names, on loop (through the registry,
 * net/backends.c). NULL with a one-line reason in err on failure. */
struct net_backend *net_backend_open(const struct net_spec *spec, struct evloop *loop,
				     char *err, size_t errlen);
/* For backends: initialise the common part. */
void net_backend_init(struct net_backend *be, const struct net_backend_ops *ops,
		      struct evloop *loop);
/* Connect the device that receives frames. */
void net_backend_attach(struct net_backend *be, net_receive_fn receive, void *opaque);
/* For backends (I/O thread): a frame arrived from outside. */
void net_backend_deliver(struct net_backend *be, const void *frame, size_t len);
/* Device side (I/O thread): send one frame out; counts drops. */
void net_backend_send(struct net_backend *be, const void *frame, size_t len);
/* Device side (I/O thread): a batch of sends is done. */
void net_backend_flush(struct net_backend *be);
/* Device side (any thread): the guest added receive buffers; queued frames
 * are retried and reading resumes, on the I/O thread. */
void net_backend_rx_ready(struct net_backend *be);
/* Stop and free (the loop must not be running callbacks for it). */
void net_backend_close(struct net_backend *be);
#endif
