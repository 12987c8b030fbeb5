/* Device model interface: every MMIO device is a const dev_ops table plus an
 * opaque state pointer that hangs off struct vm (no file-scope state). */
#ifndef TERN_DEV_H
#define TERN_DEV_H
#include <stdint.h>

struct vmbuf;
struct vmrd;
struct devlog_ops;

struct dev_ops {
	const char *name;
	void (*reset)(void *dev);
	/* off is relative to the device's base; size is 1, 2, 4 or 8.
	 * Return 0, or -EFAULT to give the guest an access fault. */
	int (*read)(void *dev, uint64_t off, unsigned size, uint64_t *val);
	int (*write)(void *dev, uint64_t off, unsigned size, uint64_t val);
	void (*destroy)(void *dev);
	/* Snapshots (state/): save appends the device's state; load restores it
	 * from a section written with state_version `version`, refusing any
	 * version it does not know or a payload of the wrong length (the
	 * reader goes bad). Neither drives interrupt lines: the PLIC and the
	 * harts restore their own view. Return 0 or -1. */
	uint16_t state_version;
	int (*save)(void *dev, struct vmbuf *b);
	int (*load)(void *dev, struct vmrd *r, unsigned version);
	/* Guest RAM the device holds host pointers into (virtqueue rings), one
	 * fn call per range. A post-copy migration sends these pages before
	 * the device runs on the destination, since reads through such a
	 * pointer cannot wait for a page. May be NULL. */
	void (*ram_pinned)(void *dev, void (*fn)(void *ctx, uint64_t pa, uint64_t len), void *ctx);
	/* Write-log replay (state/devlog.h): the device's register table,
	 * residue and hooks. */
	const struct devlog_ops *devlog;
};

/* A wire from a device to an interrupt controller input. */
struct irq_line {
	void (*set)(void *ctx, unsigned irq, int level);
	void *ctx;
	unsigned irq;
};

static inline void irq_set(const struct irq_line *l, int level)
{
	if (l && l->set)
		l->set(l->ctx, l->irq, level);
}
#endif
