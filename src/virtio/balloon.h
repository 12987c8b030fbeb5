/* virtio-balloon (device id 5): inflate and deflate queues, the statistics
 * queue, deflate on OOM and free page reporting. Pages the guest gives back
 * go to the host (core/ramlog.c: ram_discard) and are skipped by migration
 * and snapshots until the guest writes them again. */
#ifndef TERN_VIRTIO_BALLOON_H
#define TERN_VIRTIO_BALLOON_H
#include <stdbool.h>
#include <stdint.h>
#include "dev/dev.h"

struct vm;
struct virtio_mmio;

#define VIRTIO_ID_BALLOON 5
#define VIRTIO_BALLOON_QUEUE_MAX 128

/* Feature bits (virtio 1.2, 5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON 4
#define VIRTIO_BALLOON_F_REPORTING 5

/* Most PFNs taken from one inflate or deflate buffer (Linux sends 256);
 * the rest of a longer buffer is ignored. */
#define VIRTIO_BALLOON_MAX_PFNS 16384u
/* Statistics tags kept (Linux 6.12 sends 0..15). */
#define VIRTIO_BALLOON_NSTATS 16

/* What the monitor shows. Sizes in bytes. */
struct virtio_balloon_info {
	bool driver_ok;             /* the guest's driver is up */
	bool reporting, deflate_on_oom, stats_vq;   /* negotiated */
	uint64_t ram_size;
	uint64_t target;            /* guest RAM the host asked for (ram - balloon) */
	uint64_t actual;            /* guest RAM minus what the driver holds */
	uint64_t reported_bytes;    /* free page reports given back, in total */
	uint64_t inflated_bytes, deflated_bytes;   /* in total */
	uint64_t ignored_pfns;      /* PFNs outside RAM the guest sent */
	uint32_t stats_valid;       /* bit n: stats[n] came from the guest */
	uint64_t stats[VIRTIO_BALLOON_NSTATS];
	int64_t stats_updated_s;    /* host realtime of the last stats, 0 never */
	uint64_t stats_generation;  /* bumps with every stats buffer */
};

/* reporting: offer VIRTIO_BALLOON_F_REPORTING. NULL on ENOMEM. */
struct virtio_mmio *virtio_balloon_new(struct vm *vm, struct irq_line irq, bool reporting);

/* Monitor side; the caller holds vm->lock. */
/* Ask for guest RAM of `bytes` (clamped to RAM size; QMP balloon). */
void virtio_balloon_set_target(struct virtio_mmio *t, uint64_t bytes);
void virtio_balloon_info(struct virtio_mmio *t, struct virtio_balloon_info *out);
/* Hand the held statistics buffer back so the driver refreshes it; true
 * when one was handed back (a new stats_generation follows). */
bool virtio_balloon_request_stats(struct virtio_mmio *t);
/* QEMU's name for statistics tag n ("stat-free-memory"), or NULL. */
const char *virtio_balloon_stat_name(unsigned tag);
#endif
