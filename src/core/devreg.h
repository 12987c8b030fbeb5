/* The device registry: the hooks through which snapshots and migration
 * reach device state (save, load, post-load, flush, reclaim), so state/ and
 * migration/ walk one list instead of knowing the PLIC or virtio-blk. */
#ifndef TERN_DEVREG_H
#define TERN_DEVREG_H
#include <stdint.h>

struct vmbuf;
struct vmrd;

#define DEVREG_MAX 32

/* One device's hooks; only name, save and load are required. */
struct devreg_entry {
	const char *name;           /* written before the state, checked on load */
	uint16_t state_version;     /* the version save writes */
	/* Append the device's state / restore it from a section written with
	 * `version` (refusing unknown versions and wrong lengths). 0 or -1. */
	int (*save)(void *opaque, struct vmbuf *b);
	int (*load)(void *opaque, struct vmrd *r, unsigned version);
	/* After every device is loaded, in either form: drive outputs again
	 * (the PLIC's lines to the harts). */
	void (*post_load)(void *opaque);
	/* Before another host takes the device over (migration switch-over):
	 * write back and release what it holds (a disk's cache and lock). */
	int (*flush)(void *opaque);
	/* After a failed switch-over: take back what flush released. */
	int (*reclaim)(void *opaque);
	void *opaque;
};

/* Devices in registration order. The board registers each device as it
 * puts it on the MMIO bus, so this is the bus order the snapshot format
 * numbers device sections by (docs/SNAPSHOT-FORMAT.md). */
struct devreg {
	struct devreg_entry e[DEVREG_MAX];
	int n;
};

/* Copies *e in. -ENOSPC when full, -EINVAL without name, save or load. */
int devreg_add(struct devreg *r, const struct devreg_entry *e);
/* Drops the entry for opaque (at the device's destruction); later entries
 * move up. -ENOENT if it is not registered. */
int devreg_remove(struct devreg *r, const void *opaque);
/* Every post_load hook, in order. */
void devreg_post_load(const struct devreg *r);
/* Every flush (reclaim) hook, in order, all of them even after a failure.
 * 0, or -EIO if any failed. */
int devreg_flush(const struct devreg *r);
int devreg_reclaim(const struct devreg *r);
#endif
