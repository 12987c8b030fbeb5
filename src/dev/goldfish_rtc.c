/* Goldfish RTC model: guest wall-clock time in ns (host CLOCK_REALTIME plus a
 * guest-set offset), a one-shot alarm and its level interrupt. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include "dev/goldfish_rtc.h"
#include "state/devlog.h"
#include "state/vmbuf.h"

#define RTC_TIME_LOW 0x00        /* read latches TIME_HIGH */
#define RTC_TIME_HIGH 0x04
#define RTC_ALARM_LOW 0x08       /* write arms the alarm */
#define RTC_ALARM_HIGH 0x0c
#define RTC_IRQ_ENABLED 0x10
#define RTC_CLEAR_ALARM 0x14
#define RTC_ALARM_STATUS 0x18
#define RTC_CLEAR_INTERRUPT 0x1c

struct goldfish_rtc {
	struct irq_line irq;
	uint64_t offset;     /* guest time - host time, mod 2^64 */
	uint64_t alarm_next; /* guest time the alarm fires at */
	uint32_t time_high;  /* latched by the last TIME_LOW read */
	bool alarm_running;
	bool irq_pending;
	bool irq_enabled;
	int irq_level; /* last level driven, -1 = unknown */
};

static uint64_t host_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rtc_now(const struct goldfish_rtc *r)
{
	return host_ns() + r->offset;
}

static void rtc_update_irq(struct goldfish_rtc *r)
{
	int level = r->irq_pending && r->irq_enabled;

	if (level != r->irq_level) {
		r->irq_level = level;
		irq_set(&r->irq, level);
	}
}

static void rtc_fire(struct goldfish_rtc *r)
{
	r->alarm_running = false;
	r->irq_pending = true;
}

static void rtc_reset(void *dev)
{
	struct goldfish_rtc *r = dev;

	/* offset is kept: the guest-set wall clock survives a reboot, like a
	 * battery-backed RTC. */
	r->alarm_next = 0;
	r->time_high = 0;
	r->alarm_running = false;
	r->irq_pending = false;
	r->irq_enabled = false;
	r->irq_level = -1;
	rtc_update_irq(r);
}

static int rtc_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	struct goldfish_rtc *r = dev;
	uint64_t now;

	*val = 0;
	if (size != 4 || (off & 3))
		return -EFAULT;
	switch (off) {
	case RTC_TIME_LOW:
		now = rtc_now(r);
		r->time_high = (uint32_t)(now >> 32);
		*val = (uint32_t)now;
		break;
	case RTC_TIME_HIGH:
		*val = r->time_high;
		break;
	case RTC_ALARM_LOW:
		*val = (uint32_t)r->alarm_next;
		break;
	case RTC_ALARM_HIGH:
		*val = (uint32_t)(r->alarm_next >> 32);
		break;
	case RTC_IRQ_ENABLED:
		*val = r->irq_enabled;
		break;
	case RTC_ALARM_STATUS:
		*val = r->alarm_running;
		break;
	default:
		break;
	}
	return 0;
}

/* Replace half of the guest clock: adjust the offset so the new value
 * reads back from now on. */
static void rtc_set_time(struct goldfish_rtc *r, bool high, uint32_t v)
{
	uint64_t host = host_ns();
	uint64_t cur = host + r->offset;
	uint64_t want = high ? (cur & 0xffffffffull) | ((uint64_t)v << 32)
			     : (cur & ~0xffffffffull) | v;

	r->offset = want - host;
}

static int rtc_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct goldfish_rtc *r = dev;
	uint32_t v = (uint32_t)val;

	if (size != 4 || (off & 3))
		return -EFAULT;
	switch (off) {
	case RTC_TIME_LOW:
		rtc_set_time(r, false, v);
		break;
	case RTC_TIME_HIGH:
		rtc_set_time(r, true, v);
		break;
	case RTC_ALARM_LOW:
		r->alarm_next = (r->alarm_next & ~0xffffffffull) | v;
		r->alarm_running = true;
		/* An alarm already in the past fires at once. */
		if (r->alarm_next <= rtc_now(r))
			rtc_fire(r);
		break;
	case RTC_ALARM_HIGH:
		r->alarm_next = (r->alarm_next & 0xffffffffull) | ((uint64_t)v << 32);
		break;
	case RTC_IRQ_ENABLED:
		r->irq_enabled = v & 1;
		break;
	case RTC_CLEAR_ALARM:
		r->alarm_running = false;
		break;
	case RTC_CLEAR_INTERRUPT:
		r->irq_pending = false;
		break;
	default:
		break;
	}
	rtc_update_irq(r);
	return 0;
}

static void rtc_destroy(void *dev)
{
	free(dev);
}

/* The offset is against host CLOCK_REALTIME, so the guest's wall clock
 * keeps following real time across a save and restore. */
static int rtc_save(void *dev, struct vmbuf *b)
{
	struct goldfish_rtc *r = dev;
	vmbuf_put_u64(b, r->offset);
	vmbuf_put_u64(b, r->alarm_next);
	vmbuf_put_u32(b, r->time_high);
	vmbuf_put_u8(b, r->alarm_running);
	vmbuf_put_u8(b, r->irq_pending);
	vmbuf_put_u8(b, r->irq_enabled);
	vmbuf_put_u8(b, (uint8_t)(r->irq_level + 1));
	return 0;
}

static int rtc_load(void *dev, struct vmrd *rd, unsigned version)
{
	struct goldfish_rtc *r = dev;
	if (version != 1)
		return -1;
	r->offset = vmrd_u64(rd);
	r->alarm_next = vmrd_u64(rd);
	r->time_high = vmrd_u32(rd);
	r->alarm_running = vmrd_u8(rd) != 0;
	r->irq_pending = vmrd_u8(rd) != 0;
	r->irq_enabled = vmrd_u8(rd) != 0;
	r->irq_level = (int)vmrd_u8(rd) - 1;
	return vmrd_done(rd) ? 0 : -1;
}

/* ---- write-log replay ---- */

static const struct devlog_reg rtc_regs[] = {
	/* Setting the clock stores an offset to the host clock at that
	 * moment: a later replay would set another one, so the offset is
	 * residue, not a replayed write. */
	{ "TIME_LOW", RTC_TIME_LOW, 1, 4, 0, 0, DEVLOG_ACTION, 0 },
	{ "TIME_HIGH", RTC_TIME_HIGH, 1, 4, 0, 0, DEVLOG_ACTION, 0 },
	{ "ALARM_LOW", RTC_ALARM_LOW, 1, 4, 0, 0, DEVLOG_READ_WRITE, 0 },
	{ "ALARM_HIGH", RTC_ALARM_HIGH, 1, 4, 0, 0, DEVLOG_READ_WRITE, 0 },
	{ "IRQ_ENABLED", RTC_IRQ_ENABLED, 1, 4, 0, 0, DEVLOG_READ_WRITE, 0 },
	{ "CLEAR_ALARM", RTC_CLEAR_ALARM, 1, 4, 0, 0, DEVLOG_ACTION, 0 },
	{ "ALARM_STATUS", RTC_ALARM_STATUS, 1, 4, 0, 0, DEVLOG_IGNORED, 0 },
	{ "CLEAR_INTERRUPT", RTC_CLEAR_INTERRUPT, 1, 4, 0, 0, DEVLOG_ACTION, 0 },
};

/* HIGH first: writing ALARM_LOW arms the alarm (running/pending are
 * residue, set afterwards). */
static void rtc_read_back(void *dev, struct devlog_sink *s)
{
	devlog_read_back(s, RTC_ALARM_HIGH, 0);
	devlog_read_back(s, RTC_ALARM_LOW, 0);
	devlog_read_back(s, RTC_IRQ_ENABLED, 0);
}

/* The clock offset, the latched TIME_HIGH, the alarm's running and
 * pending flags, and the line. */
static int rtc_residue_save(void *dev, struct vmbuf *b)
{
	struct goldfish_rtc *r = dev;
	vmbuf_put_u64(b, r->offset);
	vmbuf_put_u32(b, r->time_high);
	vmbuf_put_u8(b, r->alarm_running);
	vmbuf_put_u8(b, r->irq_pending);
	vmbuf_put_u8(b, (uint8_t)(r->irq_level + 1));
	return 0;
}

static int rtc_residue_load(void *dev, struct vmrd *rd, unsigned version)
{
	struct goldfish_rtc *r = dev;
	if (version != 1)
		return -1;
	r->offset = vmrd_u64(rd);
	r->time_high = vmrd_u32(rd);
	r->alarm_running = vmrd_u8(rd) != 0;
	r->irq_pending = vmrd_u8(rd) != 0;
	r->irq_level = (int)vmrd_u8(rd) - 1;
	return vmrd_done(rd) ? 0 : -1;
}

static const struct devlog_ops rtc_devlog = {
	.regs = rtc_regs,
	.nregs = sizeof(rtc_regs) / sizeof(rtc_regs[0]),
	.width = 4,
	.sizes = 1u << 4,
	.read_back = rtc_read_back,
	.residue_version = 1,
	.residue_save = rtc_residue_save,
	.residue_load = rtc_residue_load,
};

const struct dev_ops goldfish_rtc_ops = {
	.name = "goldfish_rtc",
	.devlog = &rtc_devlog,
	.state_version = 1,
	.save = rtc_save,
	.load = rtc_load,
	.reset = rtc_reset,
	.read = rtc_read,
	.write = rtc_write,
	.destroy = rtc_destroy,
};

struct goldfish_rtc *goldfish_rtc_new(struct irq_line irq)
{
	struct goldfish_rtc *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->irq = irq;
	rtc_reset(r);
	return r;
}

void goldfish_rtc_poll(struct goldfish_rtc *r)
{
	if (r->alarm_running && rtc_now(r) >= r->alarm_next) {
		rtc_fire(r);
		rtc_update_irq(r);
	}
}

int64_t goldfish_rtc_get_offset(const struct goldfish_rtc *r)
{
	return (int64_t)r->offset;
}

void goldfish_rtc_set_offset(struct goldfish_rtc *r, int64_t offset)
{
	r->offset = (uint64_t)offset;
}

int goldfish_rtc_alarm_deadline(const struct goldfish_rtc *r, uint64_t *realtime_ns)
{
	if (!r->alarm_running)
		return -ENOENT;
	*realtime_ns = r->alarm_next - r->offset;
	return 0;
}
