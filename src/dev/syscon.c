/* SiFive test device (sifive,test1) used as syscon: turns guest writes at
 * offset 0 into power-off, reset and failure-exit requests. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include "dev/syscon.h"
#include "state/devlog.h"
#include "state/vmbuf.h"

#define SYSCON_FINISHER_FAIL 0x3333
#define SYSCON_FINISHER_PASS 0x5555
#define SYSCON_FINISHER_RESET 0x7777

struct syscon {
	syscon_fn fn;
	void *ctx;
};

static void syscon_reset(void *dev)
{
}

static int syscon_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	*val = 0;
	/* Like QEMU's sifive_test: 16- and 32-bit accesses only. */
	if (size != 2 && size != 4)
		return -EFAULT;
	return 0;
}

static int syscon_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct syscon *s = dev;
	uint32_t v = (uint32_t)val;

	if (size != 2 && size != 4)
		return -EFAULT;
	if (off != 0 || !s->fn)
		return 0;
	if (size == 2)
		v &= 0xffff;
	switch (v & 0xffff) {
	case SYSCON_FINISHER_PASS:
		s->fn(s->ctx, SYSCON_POWEROFF, 0);
		break;
	case SYSCON_FINISHER_RESET:
		s->fn(s->ctx, SYSCON_RESET, 0);
		break;
	case SYSCON_FINISHER_FAIL:
		s->fn(s->ctx, SYSCON_FAIL, v >> 16);
		break;
	default:
		break;
	}
	return 0;
}

static void syscon_destroy(void *dev)
{
	free(dev);
}

/* No state: an empty section still marks the device's place. */
static int syscon_save(void *dev, struct vmbuf *b)
{
	return 0;
}

static int syscon_load(void *dev, struct vmrd *r, unsigned version)
{
	return version == 1 && vmrd_done(r) ? 0 : -1;
}

/* Its one register is an action (power off, reset): no log, no residue. */
static const struct devlog_reg syscon_regs[] = {
	{ "FINISHER", 0, 1, 4, 0, 0, DEVLOG_ACTION, 0 },
};

static const struct devlog_ops syscon_devlog = {
	.regs = syscon_regs,
	.nregs = 1,
	.width = 4,
	.sizes = (1u << 2) | (1u << 4),
};

const struct dev_ops syscon_ops = {
	.name = "syscon",
	.devlog = &syscon_devlog,
	.state_version = 1,
	.save = syscon_save,
	.load = syscon_load,
	.reset = syscon_reset,
	.read = syscon_read,
	.write = syscon_write,
	.destroy = syscon_destroy,
};

struct syscon *syscon_new(syscon_fn fn, void *ctx)
{
	struct syscon *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fn = fn;
	s->ctx = ctx;
	syscon_reset(s);
	return s;
}
