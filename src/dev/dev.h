/* Device model interface: every MMIO device is a const dev_ops table plus an
 * opaque state pointer that hangs off struct vm (no file-scope state). */
#ifndef TERN_DEV_H
#define TERN_DEV_H
#include <stdint.h>

struct dev_ops {
	const char *name;
	void (*reset)(void *dev);
	/* off is relative to the device's base; size is 1, 2, 4 or 8.
	 * Return 0, or -EFAULT to give the guest an access fault. */
	int (*read)(void *dev, uint64_t off, unsigned size, uint64_t *val);
	int (*write)(void *dev, uint64_t off, unsigned size, uint64_t val);
	void (*destroy)(void *dev);
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
