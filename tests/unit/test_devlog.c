/* Unit tests for write-log replay (state/devlog.c): for every board device
 * model, random guest activity (seeded) into device A; then B1 = fresh +
 * load(save(A)) and B2 = fresh + replay(log(A)) must save byte for byte
 * what A saves. Also: the log stays within its bound under a million random
 * writes, and hostile logs are refused before any device is touched. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>
#include "core/vm.h"
#include "vm_fixture.h"
#include "core/evloop.h"
#include "dev/goldfish_rtc.h"
#include "dev/plic.h"
#include "dev/syscon.h"
#include "dev/uart16550.h"
#include "net/net.h"
#include "state/devlog.h"
#include "state/vmbuf.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/input.h"
#include "virtio/balloon.h"

#define BASE 0x10000000ull
#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1ull << 20)
#define QNUM 16
#define BUF 0x80000ull          /* ram offset of request buffers */
#define PLIC_NSRC 95
#define PLIC_NCTX 2

/* K_BOARD: a PLIC with a UART, a virtio-rng and the power button wired to it. */
enum kind { K_UART, K_PLIC, K_RTC, K_SYSCON, K_RNG, K_BLK, K_NET, K_INPUT, K_BALLOON, K_BOARD, K_COUNT };
static const char *const kind_name[K_COUNT] = { "uart16550", "plic", "goldfish_rtc", "syscon",
						 "virtio-rng", "virtio-blk", "virtio-net",
						 "virtio-input", "virtio-balloon", "board" };

/* ---- a VM with one device, built the way virt_create builds it ---- */

struct fake_be {
	struct net_backend be;
};

static int be_send(struct net_backend *be, const void *f, size_t len) { return 0; }
static void be_pause(struct net_backend *be, bool paused) { }
static void be_close(struct net_backend *be) { }
static const struct net_backend_ops fake_be_ops = {
	.kind = "fake", .send = be_send, .pause = be_pause, .close = be_close,
};

static void irq_sink(void *ctx, unsigned irq, int level) { }
static void notify_sink(void *ctx, unsigned c, int level) { }
static void syscon_sink(void *ctx, enum syscon_action a, unsigned code) { }
static void tx_sink(void *ctx, const unsigned char *buf, size_t len) { }

struct rig {
	struct vm *vm;
	enum kind kind;
	int cur;                /* the region the steps drive */
	enum kind cur_kind;
	struct evloop *loop;
	struct fake_be *be;
	uint16_t avail[2];      /* driver's avail index per queue */
};

static void add_device(struct rig *g, enum kind k, uint64_t base, struct irq_line irq)
{
	struct vm *vm = g->vm;
	const struct dev_ops *ops = &virtio_mmio_ops;
	uint64_t size = VIRTIO_MMIO_SIZE;
	void *dev = NULL;
	char err[128];
	switch (k) {
	case K_UART:
		dev = uart16550_new(irq, tx_sink, NULL, NULL);
		ops = &uart16550_ops;
		size = 0x100;
		break;
	case K_PLIC:
		dev = plic_new(PLIC_NSRC, PLIC_NCTX, notify_sink, NULL);
		ops = &plic_ops;
		size = 0x600000;
		break;
	case K_RTC:
		dev = goldfish_rtc_new(irq);
		ops = &goldfish_rtc_ops;
		break;
	case K_SYSCON:
		dev = syscon_new(syscon_sink, NULL);
		ops = &syscon_ops;
		break;
	case K_RNG:
		dev = virtio_rng_new(vm, irq);
		break;
	case K_INPUT:
		dev = virtio_input_power_button_new(vm, irq);
		break;
	case K_BLK: {
		int fd = memfd_create("devlog-disk", MFD_CLOEXEC);
		assert_true(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
		dev = virtio_blk_new(vm, irq, fd, 1 << 20, false, "devlog", err, sizeof(err));
		break;
	}
	case K_NET: {
		static const uint8_t mac[6] = { 0x52, 0x54, 0, 1, 2, 3 };
		g->loop = evloop_new();     /* never started: nothing runs behind our back */
		g->be = calloc(1, sizeof(*g->be));
		assert_non_null(g->loop);
		assert_non_null(g->be);
		net_backend_init(&g->be->be, &fake_be_ops, g->loop);
		dev = virtio_net_new(vm, irq, &g->be->be, mac);
		break;
	}
	case K_BALLOON:
		dev = virtio_balloon_new(vm, irq, true);
		break;
	default:
		fail();
	}
	assert_non_null(dev);
	assert_int_equal(vm_add_mmio(vm, base, size, ops, dev), 0);
}

static struct rig *rig_new(enum kind k)
{
	struct rig *g = calloc(1, sizeof(*g));
	assert_non_null(g);
	struct vm *vm = g->vm = test_vm_new(RAM_SIZE);
	g->kind = g->cur_kind = k;
	if (k == K_BOARD) {
		add_device(g, K_PLIC, 0x0c000000, (struct irq_line){ 0 });
		void *plic = vm->mmio[0].dev;
		add_device(g, K_UART, BASE, (struct irq_line){ plic_set_irq, plic, 10 });
		add_device(g, K_RNG, BASE + 0x1000, (struct irq_line){ plic_set_irq, plic, 1 });
		add_device(g, K_INPUT, BASE + 0x2000, (struct irq_line){ plic_set_irq, plic, 9 });
	} else {
		add_device(g, k, BASE, (struct irq_line){ irq_sink, NULL, 1 });
	}
	vm->devlog = devlog_new(vm);
	assert_non_null(vm->devlog);
	return g;
}

static void rig_free(struct rig *g)
{
	for (int i = 0; i < g->vm->nmmio; i++)
		g->vm->mmio[i].ops->destroy(g->vm->mmio[i].dev);
	if (g->loop)
		evloop_free(g->loop);
	free(g->be);
	devlog_free(g->vm->devlog);
	vm_free(g->vm);
	free(g);
}

static void wr(struct rig *g, uint64_t off, unsigned size, uint64_t v)
{
	vm_mmio_write(g->vm, g->vm->mmio[g->cur].base + off, size, v);
}

static uint64_t rd(struct rig *g, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	vm_mmio_read(g->vm, g->vm->mmio[g->cur].base + off, size, &v);
	return v;
}

static void *dev_of(struct rig *g)
{
	return g->vm->mmio[g->cur].dev;
}

/* ---- seeded randomness ---- */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static unsigned below(uint64_t *s, unsigned n)
{
	return (unsigned)(rnd(s) % n);
}

/* ---- guest activity per device ---- */

static void uart_step(struct rig *g, uint64_t *s)
{
	uint8_t v = (uint8_t)rnd(s);
	switch (below(s, 11)) {
	case 0: wr(g, 3, 1, v); break;                              /* LCR, maybe DLAB */
	case 1:                                                     /* divisor, DLAB cleared after */
		wr(g, 3, 1, 0x80 | (v & 0x1f));
		wr(g, 0, 1, rnd(s));
		wr(g, 1, 1, rnd(s));
		wr(g, 3, 1, v & 0x1f);
		break;
	case 2: wr(g, 0, below(s, 2) ? 1 : 4, v); break;            /* THR or DLL */
	case 3: wr(g, 1, 1, v); break;                              /* IER or DLM */
	case 4: wr(g, 2, 1, v); break;                              /* FCR */
	case 5: wr(g, 4, 1, v); break;                              /* MCR, maybe loopback */
	case 6: wr(g, 7, 1, v); break;
	case 7: rd(g, below(s, 8), 1); break;                       /* pops, acks, clears */
	case 8: {
		unsigned char in[20];
		for (unsigned i = 0; i < sizeof(in); i++)
			in[i] = (unsigned char)rnd(s);
		pthread_mutex_lock(&g->vm->lock);
		uart16550_receive(dev_of(g), in, 1 + below(s, sizeof(in)));
		pthread_mutex_unlock(&g->vm->lock);
		break;
	}
	case 9: wr(g, below(s, 0x100), 1u << below(s, 4), rnd(s)); break;   /* anything */
	default: rd(g, 2, 1); break;
	}
}

static void plic_step(struct rig *g, uint64_t *s)
{
	unsigned c = below(s, PLIC_NCTX + 1), src = below(s, PLIC_NSRC + 2);
	switch (below(s, 8)) {
	case 0: wr(g, 4 * src, 4, rnd(s) & 0xf); break;
	case 1: wr(g, 0x2000 + 0x80 * c + 4 * below(s, 4), 4, rnd(s)); break;
	case 2: wr(g, 0x200000 + 0x1000 * c, 4, below(s, 8)); break;
	case 3: rd(g, 0x200004 + 0x1000 * c, 4); break;             /* claim */
	case 4: wr(g, 0x200004 + 0x1000 * c, 4, src); break;         /* complete */
	case 5:
		pthread_mutex_lock(&g->vm->lock);
		plic_set_irq(dev_of(g), 1 + below(s, PLIC_NSRC), (int)below(s, 2));
		pthread_mutex_unlock(&g->vm->lock);
		break;
	case 6: wr(g, 0x1000 + 4 * below(s, 4), 4, rnd(s)); break;   /* pending: read-only */
	default: wr(g, 4 * below(s, 0x600000 / 4), 4, rnd(s)); break;
	}
}

static void rtc_step(struct rig *g, uint64_t *s)
{
	uint64_t now = rd(g, 0x00, 4);
	now |= rd(g, 0x04, 4) << 32;
	uint64_t at = now + (below(s, 2) ? 1000000000ull : 0) - below(s, 1000);
	switch (below(s, 8)) {
	case 0:
		wr(g, 0x0c, 4, at >> 32);
		wr(g, 0x08, 4, (uint32_t)at);
		break;
	case 1: wr(g, 0x10, 4, below(s, 2)); break;
	case 2: wr(g, 0x14, 4, 1); break;
	case 3: wr(g, 0x1c, 4, 1); break;
	case 4: wr(g, below(s, 2) ? 0x04 : 0x00, 4, rnd(s) & 0xffff); break;   /* set the clock */
	case 5:
		pthread_mutex_lock(&g->vm->lock);
		goldfish_rtc_poll(dev_of(g));
		pthread_mutex_unlock(&g->vm->lock);
		break;
	case 6: rd(g, 4 * below(s, 8), 4); break;
	default: wr(g, 4 * below(s, 0x400), 4, rnd(s)); break;
	}
}

static void syscon_step(struct rig *g, uint64_t *s)
{
	wr(g, below(s, 2) ? 0 : 4 * below(s, 0x400), below(s, 2) ? 2 : 4, rnd(s));
}

/* virtio: queue q's rings at ram 0x10000·(q+1). */
static uint64_t ring_off(unsigned q)
{
	return 0x10000ull * (q + 1);
}

static void wr32(struct rig *g, uint64_t off, uint32_t v)
{
	wr(g, off, 4, v);
}

static void set_desc(struct rig *g, unsigned q, unsigned i, uint64_t off, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = g->vm->mem.host + ring_off(q) + 16 * i;
	uint64_t addr = RAM_BASE + off;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void configure_queue(struct rig *g, unsigned q, bool ready)
{
	memset(g->vm->mem.host + ring_off(q), 0, 0x3000);
	g->avail[q] = 0;
	uint64_t desc = RAM_BASE + ring_off(q);
	wr32(g, VIRTIO_MMIO_QUEUE_SEL, q);
	wr32(g, VIRTIO_MMIO_QUEUE_NUM, QNUM);
	wr32(g, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr32(g, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr32(g, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(desc + 0x1000));
	wr32(g, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(desc + 0x2000));
	if (ready)
		wr32(g, VIRTIO_MMIO_QUEUE_READY, 1);
}

static unsigned nqueues(struct rig *g)
{
	return g->cur_kind == K_NET || g->cur_kind == K_INPUT || g->cur_kind == K_BALLOON ? 2 : 1;
}

/* A driver's bring-up, with selector games: DeviceFeaturesSel and
 * DriverFeaturesSel left pointing elsewhere, and with two queues, queue 1
 * half set up, then queue 0, then queue 1 again. */
static void virtio_init(struct rig *g, uint64_t *s)
{
	wr32(g, VIRTIO_MMIO_STATUS, 0);
	wr32(g, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr32(g, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr32(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint32_t hi = (uint32_t)rd(g, VIRTIO_MMIO_DEVICE_FEATURES, 4);
	wr32(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t lo = (uint32_t)rd(g, VIRTIO_MMIO_DEVICE_FEATURES, 4);
	if (below(s, 2))
		wr32(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, below(s, 3));
	if (below(s, 2))
		lo &= ~(uint32_t)rnd(s);        /* the driver declines some */
	wr32(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr32(g, VIRTIO_MMIO_DRIVER_FEATURES, lo);
	wr32(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr32(g, VIRTIO_MMIO_DRIVER_FEATURES, hi);
	if (below(s, 2))
		wr32(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, below(s, 3));
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	wr32(g, VIRTIO_MMIO_STATUS, st);
	if (below(s, 2))
		wr32(g, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)rnd(s));   /* frozen: ignored */
	if (nqueues(g) == 2) {
		configure_queue(g, 1, false);
		configure_queue(g, 0, true);
		wr32(g, VIRTIO_MMIO_QUEUE_SEL, 1);
		wr32(g, VIRTIO_MMIO_QUEUE_NUM, QNUM / 2);
		wr32(g, VIRTIO_MMIO_QUEUE_READY, 1);
	} else {
		configure_queue(g, 0, true);
	}
	wr32(g, VIRTIO_MMIO_QUEUE_SEL, below(s, 3));
	wr32(g, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
}

/* Offer a request the model completes (rng: a buffer to fill; blk: a
 * GET_ID), so the queue's progress indexes move. */
static void offer_request(struct rig *g)
{
	uint8_t *avail = g->vm->mem.host + ring_off(0) + 0x1000;
	if (g->cur_kind == K_RNG || g->cur_kind == K_INPUT) {
		set_desc(g, 0, 0, BUF, 64, 2 /* WRITE */, 0);
	} else if (g->cur_kind == K_BLK) {
		uint32_t hdr[4] = { VIRTIO_BLK_T_GET_ID, 0, 0, 0 };
		memcpy(g->vm->mem.host + BUF, hdr, sizeof(hdr));
		set_desc(g, 0, 0, BUF, 16, 1 /* NEXT */, 1);
		set_desc(g, 0, 1, BUF + 0x100, VIRTIO_BLK_ID_BYTES, 3, 2);
		set_desc(g, 0, 2, BUF + 0x200, 1, 2, 0);
	} else if (g->cur_kind == K_BALLOON) {      /* inflate: two pages and a stray PFN */
		uint32_t pfn[3] = { (uint32_t)((RAM_BASE + 0xc0000) >> 12),
				    (uint32_t)((RAM_BASE + 0xc1000) >> 12), 5 };
		memcpy(g->vm->mem.host + BUF, pfn, sizeof(pfn));
		set_desc(g, 0, 0, BUF, sizeof(pfn), 0, 0);
	} else {
		return;
	}
	*(uint16_t *)(avail + 4 + 2 * (g->avail[0] % QNUM)) = 0;
	g->avail[0]++;
	*(uint16_t *)(avail + 2) = g->avail[0];
}

static const uint32_t virtio_regs[] = {
	VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL,
	VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_NOTIFY,
	VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_DESC_LOW,
	VIRTIO_MMIO_QUEUE_DESC_HIGH, VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DEVICE_LOW,
	VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_MAGIC_VALUE,
};

static void virtio_step(struct rig *g, uint64_t *s)
{
	unsigned q = below(s, nqueues(g));
	switch (below(s, 11)) {
	case 0: virtio_init(g, s); break;
	case 9: wr32(g, VIRTIO_MMIO_STATUS, rnd(s) & 0xff); break;     /* any Status, in any order */
	case 1: wr32(g, VIRTIO_MMIO_STATUS, 0); break;              /* reset in the middle */
	case 2: offer_request(g); /* fall through */
	case 3: wr32(g, VIRTIO_MMIO_QUEUE_NOTIFY, q); break;
	case 4: wr32(g, VIRTIO_MMIO_INTERRUPT_ACK, below(s, 4)); break;
	case 5:                                                     /* re-plug a queue */
		wr32(g, VIRTIO_MMIO_QUEUE_SEL, q);
		wr32(g, VIRTIO_MMIO_QUEUE_READY, 0);
		configure_queue(g, q, below(s, 2));
		break;
	case 6: wr32(g, VIRTIO_MMIO_QUEUE_SEL, below(s, 4)); break;
	case 7: {                                                   /* a register, a small value */
		uint32_t off = virtio_regs[below(s, sizeof(virtio_regs) / sizeof(virtio_regs[0]))];
		if (off != VIRTIO_MMIO_QUEUE_READY && off != VIRTIO_MMIO_STATUS)
			wr32(g, off, below(s, 4));
		break;
	}
	case 8: wr(g, below(s, 0x200), 1u << below(s, 4), rnd(s)); break;   /* anything */
	case 10:
		if (g->cur_kind == K_INPUT) {   /* the host presses: events held or delivered */
			virtio_input_press_power(dev_of(g));
			break;
		}
		/* fall through */
	default: rd(g, 4 * below(s, 0x40), 4); break;
	}
}

static void step(struct rig *g, uint64_t *s)
{
	if (g->kind == K_BOARD) {
		static const enum kind board[] = { K_PLIC, K_UART, K_RNG, K_INPUT };
		g->cur = (int)below(s, 4);
		g->cur_kind = board[g->cur];
	}
	switch (g->cur_kind) {
	case K_UART: uart_step(g, s); break;
	case K_PLIC: plic_step(g, s); break;
	case K_RTC: rtc_step(g, s); break;
	case K_SYSCON: syscon_step(g, s); break;
	default: virtio_step(g, s); break;
	}
}

/* ---- the two ways ---- */

/* Every device's own save, one after the other. */
static struct vmbuf save_of(struct rig *g)
{
	struct vmbuf b = { 0 };
	for (int i = 0; i < g->vm->nmmio; i++)
		assert_int_equal(g->vm->mmio[i].ops->save(g->vm->mmio[i].dev, &b), 0);
	assert_false(b.oom);
	return b;
}

static struct vmbuf log_of(struct rig *g)
{
	struct vmbuf b = { 0 };
	struct devlog_stats st;
	char err[256];
	pthread_mutex_lock(&g->vm->lock);
	int r = devlog_encode(g->vm, &b, &st, err, sizeof(err));
	pthread_mutex_unlock(&g->vm->lock);
	if (r)
		fail_msg("encode: %s", err);
	return b;
}

static void assert_same(const struct vmbuf *a, const struct vmbuf *b, const char *what,
			enum kind k, uint64_t seed)
{
	if (a->len != b->len || memcmp(a->p, b->p, a->len)) {
		size_t i = 0;
		while (i < a->len && i < b->len && a->p[i] == b->p[i])
			i++;
		fail_msg("%s, seed %llu: %s state differs from the original at byte %zu of %zu/%zu",
			 kind_name[k], (unsigned long long)seed, what, i, a->len, b->len);
	}
}

static void check_both_ways(struct rig *a, uint64_t seed)
{
	struct vmbuf sa = save_of(a), enc = log_of(a);

	struct rig *b1 = rig_new(a->kind);
	for (int i = 0; i < a->vm->nmmio; i++) {
		const struct dev_ops *ops = a->vm->mmio[i].ops;
		struct vmbuf one = { 0 };
		assert_int_equal(ops->save(a->vm->mmio[i].dev, &one), 0);
		struct vmrd r = vmrd_of(one.p, one.len);
		assert_int_equal(ops->load(b1->vm->mmio[i].dev, &r, ops->state_version), 0);
		vmbuf_free(&one);
	}
	struct vmbuf s1 = save_of(b1);
	assert_same(&sa, &s1, "save/load", a->kind, seed);

	struct rig *b2 = rig_new(a->kind);
	char err[256];
	if (devlog_apply(b2->vm, enc.p, enc.len, DEVLOG_VERSION, err, sizeof(err)))
		fail_msg("%s, seed %llu: replay refused: %s", kind_name[a->kind],
			 (unsigned long long)seed, err);
	struct vmbuf s2 = save_of(b2);
	assert_same(&sa, &s2, "write-log replay", a->kind, seed);
	/* The destination's log carries on from the source's. */
	for (int i = 0; i < a->vm->nmmio; i++)
		assert_int_equal(devlog_count(b2->vm->devlog, i), devlog_count(a->vm->devlog, i));

	vmbuf_free(&sa);
	vmbuf_free(&enc);
	vmbuf_free(&s1);
	vmbuf_free(&s2);
	rig_free(b1);
	rig_free(b2);
}

static void equivalence(enum kind k, unsigned seeds, unsigned max_steps)
{
	for (uint64_t seed = 1; seed <= seeds; seed++) {
		uint64_t s = seed * 0x9e3779b97f4a7c15ull;
		struct rig *a = rig_new(k);
		unsigned n = 1 + below(&s, max_steps);
		if (k >= K_RNG && k != K_BOARD && below(&s, 4))
			virtio_init(a, &s);         /* most runs start from a working driver */
		for (unsigned i = 0; i < n; i++)
			step(a, &s);
		check_both_ways(a, seed);
		rig_free(a);
	}
}

static void test_uart(void **state) { equivalence(K_UART, 400, 300); }
static void test_plic(void **state) { equivalence(K_PLIC, 200, 300); }
static void test_rtc(void **state) { equivalence(K_RTC, 200, 100); }
static void test_syscon(void **state) { equivalence(K_SYSCON, 20, 50); }
static void test_virtio_rng(void **state) { equivalence(K_RNG, 300, 200); }
static void test_virtio_blk(void **state) { equivalence(K_BLK, 200, 200); }
static void test_virtio_net(void **state) { equivalence(K_NET, 300, 200); }
static void test_virtio_input(void **state) { equivalence(K_INPUT, 300, 200); }
static void test_virtio_balloon(void **state) { equivalence(K_BALLOON, 300, 200); }
/* Devices whose lines go into a PLIC: replays drive those lines, and the
 * PLIC's residue, loaded after every replay, must still win. */
static void test_board(void **state) { equivalence(K_BOARD, 200, 400); }

/* The divisor set under DLAB survives DLAB being cleared, and only the log
 * knows it: the latch is write-only for the technique. */
static void test_uart_dlab(void **state)
{
	struct rig *a = rig_new(K_UART);
	wr(a, 3, 1, 0x83);
	wr(a, 0, 1, 0x0c);
	wr(a, 1, 1, 0x01);
	wr(a, 3, 1, 0x03);
	wr(a, 0, 1, 'x');                   /* THR now, not DLL */
	wr(a, 1, 1, 0x05);                  /* IER now, not DLM */
	wr(a, 2, 1, 0xc7);                  /* FCR */
	assert_int_equal(devlog_count(a->vm->devlog, 0), 3);
	check_both_ways(a, 0);
	rig_free(a);
}

/* Status 0 drops everything logged before it. */
static void test_virtio_reset_drops_log(void **state)
{
	uint64_t s = 7;
	struct rig *a = rig_new(K_NET);
	virtio_init(a, &s);
	assert_true(devlog_count(a->vm->devlog, 0) > 0);
	wr32(a, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(devlog_count(a->vm->devlog, 0), 0);
	check_both_ways(a, 0);
	rig_free(a);
}

/* A driver that clears FEATURES_OK after enabling its queues keeps them
 * live; the replay (which writes Status before QueueReady) must too. */
static void test_virtio_features_ok_cleared(void **state)
{
	uint64_t s = 3;
	struct rig *a = rig_new(K_RNG);
	virtio_init(a, &s);
	wr32(a, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr32(a, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(a, VIRTIO_MMIO_QUEUE_READY, 4), 1);
	check_both_ways(a, 0);
	rig_free(a);
}

/* A million random writes anywhere in the device: the log never holds more
 * than its capacity, which is the register table's key space. */
static void bounded(enum kind k, unsigned expect_cap)
{
	struct rig *g = rig_new(k);
	uint64_t s = 12345;
	unsigned cap = devlog_capacity(g->vm->devlog, 0), most = 0;
	assert_int_equal(cap, expect_cap);
	uint64_t span = g->vm->mmio[0].size;
	for (unsigned i = 0; i < 1000000; i++) {
		unsigned size = 1u << below(&s, 3);
		uint64_t off = rnd(&s) % (span < 0x200 ? span : 0x200) & ~(uint64_t)(size - 1);
		/* Small values often, so selectors land inside the table. */
		wr(g, off, size, below(&s, 2) ? below(&s, 4) : rnd(&s));
		unsigned n = devlog_count(g->vm->devlog, 0);
		if (n > most)
			most = n;
	}
	assert_true(most <= cap);
	assert_true(most > 0);
	check_both_ways(g, 0);
	rig_free(g);
}

static void test_bounded_uart(void **state) { bounded(K_UART, 3); }
/* 3 selectors + 2 feature words + 8 queues x 7 setup registers. */
static void test_bounded_virtio(void **state) { bounded(K_NET, 61); }

/* ---- hostile logs ---- */

struct hostile {
	struct rig *src, *dst;
	struct vmbuf enc, fresh;
};

static void hostile_setup(struct hostile *h, enum kind k)
{
	uint64_t s = 99;
	h->src = rig_new(k);
	if (k == K_UART) {
		for (int i = 0; i < 50; i++)
			uart_step(h->src, &s);
		wr(h->src, 3, 1, 0x80);
		wr(h->src, 0, 1, 3);
		wr(h->src, 3, 1, 0);
		wr(h->src, 2, 1, 1);
	} else {
		virtio_init(h->src, &s);
	}
	h->enc = log_of(h->src);
	h->dst = rig_new(k);
	h->fresh = save_of(h->dst);
}

static void hostile_teardown(struct hostile *h)
{
	vmbuf_free(&h->enc);
	vmbuf_free(&h->fresh);
	rig_free(h->src);
	rig_free(h->dst);
}

/* Refused with an error naming why, and the device untouched. */
static void refused(struct hostile *h, const uint8_t *p, size_t len, unsigned version,
		    const char *why)
{
	char err[256] = "";
	assert_int_equal(devlog_apply(h->dst->vm, p, len, version, err, sizeof(err)), -1);
	if (!strstr(err, why))
		fail_msg("error '%s' does not say '%s'", err, why);
	struct vmbuf now = save_of(h->dst);
	assert_same(&h->fresh, &now, "refused replay", h->dst->kind, 0);
	vmbuf_free(&now);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Offset of entry k in a one-device payload (u32 ndev, name, nlog, nread). */
static size_t entry_off(const struct vmbuf *b, unsigned k)
{
	uint32_t namelen;
	memcpy(&namelen, b->p + 4, 4);
	return 4 + 4 + namelen + 8 + 12 * (size_t)k;
}

static void test_hostile(void **state)
{
	struct hostile h;
	hostile_setup(&h, K_UART);
	uint8_t *p = malloc(h.enc.len + 16);
	size_t n = h.enc.len;
#define RESET() memcpy(p, h.enc.p, n)
	RESET();
	refused(&h, p, n, DEVLOG_VERSION + 1, "version");
	put32(p, 2);
	refused(&h, p, n, DEVLOG_VERSION, "devices");
	RESET();
	p[8] = 'X';                                         /* "uart16550" -> "Xart16550" */
	refused(&h, p, n, DEVLOG_VERSION, "not uart16550");
	RESET();
	size_t e = entry_off(&h.enc, 0);
	put32(p + e, 0x50);                                 /* outside the device */
	refused(&h, p, n, DEVLOG_VERSION, "not a logged register");
	RESET();
	put32(p + e + 8, 0x1ff);                            /* wider than the 1-byte register */
	refused(&h, p, n, DEVLOG_VERSION, "value 0x1ff");
	RESET();
	put32(p + e, 3);                                    /* LCR is read back, not logged */
	refused(&h, p, n, DEVLOG_VERSION, "not a logged register");
	RESET();
	put32(p + e + 4, 7);                                /* a context FCR does not have */
	refused(&h, p, n, DEVLOG_VERSION, "context 7");
	RESET();
	put32(p + e - 8, 1000);                             /* more logged entries than keys */
	refused(&h, p, n, DEVLOG_VERSION, "too many entries");
	RESET();
	put32(p + e - 4, 100000);                           /* too many read-back entries */
	refused(&h, p, n, DEVLOG_VERSION, "too many entries");
	RESET();
	for (size_t cut = 0; cut < n; cut += 3)             /* truncated anywhere */
		refused(&h, p, cut, DEVLOG_VERSION, "");
	p[n] = 0;
	refused(&h, p, n + 1, DEVLOG_VERSION, "trailing garbage");
	uint32_t nlog, nread;
	memcpy(&nlog, p + e - 8, 4);
	memcpy(&nread, p + e - 4, 4);
	size_t rlen_at = entry_off(&h.enc, nlog + nread) + 2;
	put32(p + rlen_at, 1u << 20);
	refused(&h, p, n, DEVLOG_VERSION, "residue too long");
	put32(p + rlen_at, 1000);                           /* runs past the end */
	refused(&h, p, n, DEVLOG_VERSION, "residue truncated");
#undef RESET
	free(p);
	hostile_teardown(&h);
}

/* A virtio log may only select queues and feature words that exist. */
static void test_hostile_virtio(void **state)
{
	struct hostile h;
	hostile_setup(&h, K_NET);
	uint8_t *p = malloc(h.enc.len);
	memcpy(p, h.enc.p, h.enc.len);
	size_t e = entry_off(&h.enc, 0);
	put32(p + e, VIRTIO_MMIO_QUEUE_NUM);
	put32(p + e + 4, VIRTIO_MMIO_MAX_QUEUES);
	refused(&h, p, h.enc.len, DEVLOG_VERSION, "not a logged register");
	put32(p + e, VIRTIO_MMIO_QUEUE_NOTIFY);             /* an action is never replayed */
	put32(p + e + 4, 0);
	refused(&h, p, h.enc.len, DEVLOG_VERSION, "not a logged register");
	free(p);
	hostile_teardown(&h);
}

/* A residue from another device model is refused. */
static void test_hostile_residue(void **state)
{
	struct hostile h;
	hostile_setup(&h, K_NET);
	struct rig *rng = rig_new(K_RNG);
	char err[256];
	/* Same transport, another model: the residue's identity check fails. */
	assert_int_equal(devlog_apply(rng->vm, h.enc.p, h.enc.len, DEVLOG_VERSION, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "residue"));
	rig_free(rng);
	hostile_teardown(&h);
}

/* After a load by save/load the log no longer describes the device. */
static void test_invalidated(void **state)
{
	struct rig *g = rig_new(K_UART);
	struct vmbuf b = { 0 };
	struct devlog_stats st;
	char err[256];
	devlog_invalidate(g->vm->devlog);
	assert_int_equal(devlog_encode(g->vm, &b, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "x-device-state=save"));
	devlog_reset(g->vm->devlog);
	assert_int_equal(devlog_encode(g->vm, &b, &st, err, sizeof(err)), 0);
	vmbuf_free(&b);
	rig_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uart),
		cmocka_unit_test(test_plic),
		cmocka_unit_test(test_rtc),
		cmocka_unit_test(test_syscon),
		cmocka_unit_test(test_virtio_rng),
		cmocka_unit_test(test_virtio_blk),
		cmocka_unit_test(test_virtio_net),
		cmocka_unit_test(test_virtio_input),
		cmocka_unit_test(test_virtio_balloon),
		cmocka_unit_test(test_board),
		cmocka_unit_test(test_uart_dlab),
		cmocka_unit_test(test_virtio_reset_drops_log),
		cmocka_unit_test(test_virtio_features_ok_cleared),
		cmocka_unit_test(test_bounded_uart),
		cmocka_unit_test(test_bounded_virtio),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_hostile_virtio),
		cmocka_unit_test(test_hostile_residue),
		cmocka_unit_test(test_invalidated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
