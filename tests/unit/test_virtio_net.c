/* Unit tests for virtio-net over a fake backend, driven through the
 * virtio-mmio transport as Linux's driver would, with the real I/O loop:
 * transmit, receive (single and merged buffers), waiting for buffers, the
 * bounded queue, and hostile chains (NEEDS_RESET or a dropped frame). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "core/evloop.h"
#include "core/vm.h"
#include "vm_fixture.h"
#include "cpu/dcache.h"
#include "net/net.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/virtqueue.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1ull << 20)
#define GPA(off) (RAM_BASE + (off))
#define QNUM 16
#define IRQ 7
/* Rings: receive queue 0 and transmit queue 1. */
static const uint64_t DESC[2] = { 0x1000, 0x4000 };
static const uint64_t AVAIL[2] = { 0x2000, 0x5000 };
static const uint64_t USED[2] = { 0x3000, 0x6000 };
#define BUF 0x10000ull

struct fake_be {
	struct net_backend be;
	uint8_t sent[8][2048];
	size_t sent_len[8];
	int nsent, pauses, resumes;
};

struct fix {
	struct vm *vm;
	struct evloop *loop;
	struct virtio_mmio *t;
	struct fake_be *fb;
	int irq_level;
	uint16_t avail_idx[2];
};

static int fake_send(struct net_backend *be, const void *frame, size_t len)
{
	struct fake_be *f = (struct fake_be *)be;
	if (f->nsent < 8 && len <= sizeof(f->sent[0])) {
		memcpy(f->sent[f->nsent], frame, len);
		f->sent_len[f->nsent] = len;
	}
	f->nsent++;
	return 0;
}

static void fake_pause(struct net_backend *be, bool paused)
{
	struct fake_be *f = (struct fake_be *)be;
	if (paused)
		f->pauses++;
	else
		f->resumes++;
}

static void fake_close(struct net_backend *be) { }

static const struct net_backend_ops fake_ops = {
	.kind = "fake", .send = fake_send, .pause = fake_pause, .close = fake_close,
};

static void fake_irq(void *ctx, unsigned irq, int level)
{
	struct fix *f = ctx;
	assert_int_equal(irq, IRQ);
	f->irq_level = level;
}

/* Register access as the vCPU does it: under the VM lock. */
static uint32_t rd(struct fix *f, uint64_t off)
{
	uint64_t v = 0;
	pthread_mutex_lock(&f->vm->lock);
	assert_int_equal(virtio_mmio_ops.read(f->t, off, 4, &v), 0);
	pthread_mutex_unlock(&f->vm->lock);
	return (uint32_t)v;
}

static void wr(struct fix *f, uint64_t off, uint32_t v)
{
	pthread_mutex_lock(&f->vm->lock);
	assert_int_equal(virtio_mmio_ops.write(f->t, off, 4, v), 0);
	pthread_mutex_unlock(&f->vm->lock);
}

static void noop(void *opaque) { }

/* Wait until everything queued on the I/O loop so far has run. */
static void drain(struct fix *f)
{
	for (int i = 0; i < 3; i++)
		assert_int_equal(evloop_call_sync(f->loop, noop, NULL), 0);
}

struct delivery {
	struct fix *f;
	const void *frame;
	size_t len;
};

static void deliver_on_loop(void *opaque)
{
	struct delivery *d = opaque;
	net_backend_deliver(&d->f->fb->be, d->frame, d->len);
}

/* A frame arriving from outside, on the I/O thread as backends do it. */
static void deliver(struct fix *f, const void *frame, size_t len)
{
	struct delivery d = { f, frame, len };
	assert_int_equal(evloop_call_sync(f->loop, deliver_on_loop, &d), 0);
}

static void set_desc(struct fix *f, unsigned q, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = f->vm->mem.host + DESC[q] + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static uint16_t used_idx(struct fix *f, unsigned q)
{
	return *(uint16_t *)(f->vm->mem.host + USED[q] + 2);
}

static uint32_t used_len(struct fix *f, unsigned q, unsigned slot)
{
	return *(uint32_t *)(f->vm->mem.host + USED[q] + 8 + 8 * (slot % QNUM));
}

static uint32_t used_id(struct fix *f, unsigned q, unsigned slot)
{
	return *(uint32_t *)(f->vm->mem.host + USED[q] + 4 + 8 * (slot % QNUM));
}

/* Make chain `head` available on queue q (no kick). */
static void offer(struct fix *f, unsigned q, uint16_t head)
{
	uint8_t *a = f->vm->mem.host + AVAIL[q];
	*(uint16_t *)(a + 4 + 2 * (f->avail_idx[q] % QNUM)) = head;
	f->avail_idx[q]++;
	__atomic_store_n((uint16_t *)(a + 2), f->avail_idx[q], __ATOMIC_RELEASE);
}

static void kick(struct fix *f, unsigned q)
{
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	drain(f);
}

static void drv_init(struct fix *f, bool mrg)
{
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint32_t hi = rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t lo = rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
	if (!mrg)
		lo &= ~(1u << VIRTIO_NET_F_MRG_RXBUF);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, hi);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, lo);
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	wr(f, VIRTIO_MMIO_STATUS, s);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), s);
	for (unsigned q = 0; q < 2; q++) {
		wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(f, VIRTIO_MMIO_QUEUE_NUM, QNUM);
		wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)GPA(DESC[q]));
		wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)GPA(AVAIL[q]));
		wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)GPA(USED[q]));
		wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(f, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), s | VIRTIO_STATUS_DRIVER_OK);
}

static int setup_common(void **state, bool mrg)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
	struct fix *f = calloc(1, sizeof(*f));
	f->vm = test_vm_new(RAM_SIZE);
	f->loop = evloop_new();
	assert_non_null(f->loop);
	f->fb = calloc(1, sizeof(*f->fb));
	net_backend_init(&f->fb->be, &fake_ops, f->loop);
	f->t = virtio_net_new(f->vm, (struct irq_line){ fake_irq, f, IRQ }, &f->fb->be, mac);
	assert_non_null(f->t);
	assert_int_equal(evloop_start(f->loop), 0);
	drv_init(f, mrg);
	*state = f;
	return 0;
}

static int setup_mrg(void **state) { return setup_common(state, true); }
static int setup_plain(void **state) { return setup_common(state, false); }

static int teardown(void **state)
{
	struct fix *f = *state;
	evloop_stop(f->loop);
	virtio_mmio_ops.destroy(f->t);
	evloop_free(f->loop);
	vm_free(f->vm);
	free(f->fb);
	free(f);
	return 0;
}

static bool needs_reset(struct fix *f)
{
	return rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET;
}

static void fill_frame(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* ---- identity and config ---------------------------------------------------------- */

static void test_config(void **state)
{
	struct fix *f = *state;
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t lo = rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(lo & (1u << VIRTIO_NET_F_MAC));
	assert_true(lo & (1u << VIRTIO_NET_F_STATUS));
	assert_true(lo & (1u << VIRTIO_NET_F_MRG_RXBUF));
	assert_true(lo & (1u << VIRTIO_NET_F_CSUM));
	assert_false(lo & (1u << 11));      /* no TSO: segmentation is not offered */
	uint8_t mac[6];
	for (int i = 0; i < 6; i++) {
		uint64_t v;
		assert_int_equal(virtio_mmio_ops.read(f->t, VIRTIO_MMIO_CONFIG + i, 1, &v), 0);
		mac[i] = (uint8_t)v;
	}
	static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
	assert_memory_equal(mac, want, 6);
	uint64_t status;
	assert_int_equal(virtio_mmio_ops.read(f->t, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_STATUS, 2,
					      &status), 0);
	assert_int_equal(status, VIRTIO_NET_S_LINK_UP);
}

/* ---- transmit ---------------------------------------------------------------------- */

static void test_tx_sends_frame(void **state)
{
	struct fix *f = *state;
	uint8_t *hdr = f->vm->mem.host + BUF, *data = f->vm->mem.host + BUF + 0x100;
	memset(hdr, 0, VIRTIO_NET_HDR_LEN);
	fill_frame(data, 600, 3);
	/* Header and frame in two descriptors, the frame split once more. */
	set_desc(f, 1, 0, GPA(BUF), VIRTIO_NET_HDR_LEN, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, 1, GPA(BUF + 0x100), 100, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, 1, 2, GPA(BUF + 0x100 + 100), 500, 0, 0);
	offer(f, 1, 0);
	kick(f, 1);
	assert_int_equal(f->fb->nsent, 1);
	assert_int_equal(f->fb->sent_len[0], 600);
	assert_memory_equal(f->fb->sent[0], data, 600);
	assert_int_equal(used_idx(f, 1), 1);
	assert_int_equal(used_id(f, 1, 0), 0);
	assert_int_equal(used_len(f, 1, 0), 0);
	assert_int_equal(f->irq_level, 1);
	assert_false(needs_reset(f));
}

/* Ones' complement sum of p[0..len) as big-endian 16-bit words. */
static uint16_t ones_sum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i < len; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void test_tx_fills_partial_checksum(void **state)
{
	struct fix *f = *state;
	uint8_t *hdr = f->vm->mem.host + BUF, *data = hdr + VIRTIO_NET_HDR_LEN;
	const uint16_t start = 34, off = 16, len = 333;   /* odd length */
	memset(hdr, 0, VIRTIO_NET_HDR_LEN);
	hdr[VIRTIO_NET_HDR_FLAGS] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	memcpy(hdr + VIRTIO_NET_HDR_CSUM_START, &start, 2);
	memcpy(hdr + VIRTIO_NET_HDR_CSUM_OFFSET, &off, 2);
	fill_frame(data, len, 11);
	data[start + off] = 0x12;            /* the driver's pseudo-header sum */
	data[start + off + 1] = 0x34;
	set_desc(f, 1, 0, GPA(BUF), VIRTIO_NET_HDR_LEN + len, 0, 0);
	offer(f, 1, 0);
	kick(f, 1);
	assert_int_equal(f->fb->nsent, 1);
	const uint8_t *out = f->fb->sent[0];
	/* A correct checksum makes the range plus the pseudo-header sum (which
	 * a receiver adds itself) come to all ones... */
	uint32_t total = ones_sum(out + start, len - start) + 0x1234u;
	total = (total & 0xffff) + (total >> 16);
	assert_int_equal(total, 0xffff);
	/* ...and nothing else changed. */
	assert_memory_equal(out, data, start + off);
	assert_memory_equal(out + start + off + 2, data + start + off + 2, len - start - off - 2);
	/* The pseudo-header part went into the sum: a different one differs. */
	uint16_t got;
	memcpy(&got, out + start + off, 2);
	data[start + off] = 0x00;
	offer(f, 1, 0);
	kick(f, 1);
	uint16_t got2;
	memcpy(&got2, f->fb->sent[1] + start + off, 2);
	assert_int_not_equal(got, got2);
}

static void test_tx_checksum_outside_frame_dropped(void **state)
{
	struct fix *f = *state;
	uint8_t *hdr = f->vm->mem.host + BUF;
	const uint16_t start = 90, off = 16;
	memset(hdr, 0, VIRTIO_NET_HDR_LEN);
	hdr[VIRTIO_NET_HDR_FLAGS] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	memcpy(hdr + VIRTIO_NET_HDR_CSUM_START, &start, 2);
	memcpy(hdr + VIRTIO_NET_HDR_CSUM_OFFSET, &off, 2);
	set_desc(f, 1, 0, GPA(BUF), VIRTIO_NET_HDR_LEN + 100, 0, 0);
	offer(f, 1, 0);
	kick(f, 1);
	assert_int_equal(f->fb->nsent, 0);
	assert_int_equal(used_idx(f, 1), 1);
	assert_false(needs_reset(f));
}

static void test_tx_gso_frame_dropped(void **state)
{
	struct fix *f = *state;
	uint8_t *hdr = f->vm->mem.host + BUF;
	memset(hdr, 0, 200);
	hdr[VIRTIO_NET_HDR_GSO_TYPE] = 1;   /* TCPv4 GSO: never negotiated */
	set_desc(f, 1, 0, GPA(BUF), 200, 0, 0);
	offer(f, 1, 0);
	kick(f, 1);
	assert_int_equal(f->fb->nsent, 0);
	assert_int_equal(used_idx(f, 1), 1);   /* the buffer still comes back */
	assert_false(needs_reset(f));
}

static void test_tx_writable_buffer_needs_reset(void **state)
{
	struct fix *f = *state;
	set_desc(f, 1, 0, GPA(BUF), 200, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 1, 0);
	kick(f, 1);
	assert_int_equal(f->fb->nsent, 0);
	assert_true(needs_reset(f));
	assert_non_null(virtio_mmio_error(f->t));
}

static void test_tx_short_header_needs_reset(void **state)
{
	struct fix *f = *state;
	set_desc(f, 1, 0, GPA(BUF), VIRTIO_NET_HDR_LEN - 2, 0, 0);
	offer(f, 1, 0);
	kick(f, 1);
	assert_int_equal(f->fb->nsent, 0);
	assert_true(needs_reset(f));
}

static void test_tx_address_outside_ram_needs_reset(void **state)
{
	struct fix *f = *state;
	set_desc(f, 1, 0, GPA(RAM_SIZE - 8), 64, 0, 0);
	offer(f, 1, 0);
	kick(f, 1);
	assert_int_equal(f->fb->nsent, 0);
	assert_true(needs_reset(f));
	/* Once broken, further kicks do nothing until the driver resets. */
	set_desc(f, 1, 1, GPA(BUF), 100, 0, 0);
	offer(f, 1, 1);
	kick(f, 1);
	assert_int_equal(f->fb->nsent, 0);
}

static void test_tx_descriptor_loop_needs_reset(void **state)
{
	struct fix *f = *state;
	set_desc(f, 1, 0, GPA(BUF), 64, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, 1, GPA(BUF), 64, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 1, 0);
	kick(f, 1);
	assert_int_equal(f->fb->nsent, 0);
	assert_true(needs_reset(f));
}

/* ---- receive ----------------------------------------------------------------------- */

static void test_rx_single_buffer(void **state)
{
	struct fix *f = *state;
	uint8_t frame[300];
	fill_frame(frame, sizeof(frame), 9);
	set_desc(f, 0, 0, GPA(BUF), 2048, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	kick(f, 0);
	deliver(f, frame, sizeof(frame));
	assert_int_equal(used_idx(f, 0), 1);
	assert_int_equal(used_len(f, 0, 0), VIRTIO_NET_HDR_LEN + sizeof(frame));
	const uint8_t *b = f->vm->mem.host + BUF;
	assert_int_equal(b[VIRTIO_NET_HDR_NUM_BUFFERS], 1);
	assert_int_equal(b[0], 0);          /* flags: nothing claimed */
	assert_memory_equal(b + VIRTIO_NET_HDR_LEN, frame, sizeof(frame));
	assert_int_equal(f->irq_level, 1);
	assert_int_equal(f->fb->be.rx_dropped, 0);
}

static void test_rx_merges_buffers(void **state)
{
	struct fix *f = *state;
	uint8_t frame[1200];
	fill_frame(frame, sizeof(frame), 1);
	for (unsigned i = 0; i < 3; i++) {
		set_desc(f, 0, i, GPA(BUF + 0x1000 * i), 512, VIRTQ_DESC_F_WRITE, 0);
		offer(f, 0, (uint16_t)i);
	}
	deliver(f, frame, sizeof(frame));
	assert_int_equal(used_idx(f, 0), 3);
	assert_int_equal(used_len(f, 0, 0), 512);
	assert_int_equal(used_len(f, 0, 1), 512);
	assert_int_equal(used_len(f, 0, 2), VIRTIO_NET_HDR_LEN + 1200 - 1024);
	const uint8_t *r = f->vm->mem.host;
	assert_int_equal(r[BUF + VIRTIO_NET_HDR_NUM_BUFFERS], 3);
	assert_memory_equal(r + BUF + VIRTIO_NET_HDR_LEN, frame, 500);
	assert_memory_equal(r + BUF + 0x1000, frame + 500, 512);
	assert_memory_equal(r + BUF + 0x2000, frame + 1012, 188);
}

static void test_rx_waits_for_buffers(void **state)
{
	struct fix *f = *state;
	uint8_t a[100], b[200];
	fill_frame(a, sizeof(a), 1);
	fill_frame(b, sizeof(b), 2);
	deliver(f, a, sizeof(a));            /* no buffers: held, backend paused */
	deliver(f, b, sizeof(b));
	assert_int_equal(f->fb->pauses, 1);
	assert_int_equal(f->fb->be.q_frames, 2);
	assert_int_equal(used_idx(f, 0), 0);
	/* The driver adds one buffer and kicks: the first frame goes in. */
	set_desc(f, 0, 0, GPA(BUF), 2048, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	kick(f, 0);
	assert_int_equal(used_idx(f, 0), 1);
	assert_memory_equal(f->vm->mem.host + BUF + VIRTIO_NET_HDR_LEN, a, sizeof(a));
	assert_int_equal(f->fb->be.q_frames, 1);
	assert_int_equal(f->fb->resumes, 0);
	/* A second buffer: the queue drains in order and reading resumes. */
	set_desc(f, 0, 1, GPA(BUF + 0x1000), 2048, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0, 1);
	kick(f, 0);
	assert_int_equal(used_idx(f, 0), 2);
	assert_memory_equal(f->vm->mem.host + BUF + 0x1000 + VIRTIO_NET_HDR_LEN, b, sizeof(b));
	assert_int_equal(f->fb->be.q_frames, 0);
	assert_int_equal(f->fb->resumes, 1);
	assert_int_equal(f->fb->be.rx_dropped, 0);
}

/* A paused VM takes no frame: its RAM must not change under a snapshot or
 * a migration's last copy. The frame waits and goes in on resume. */
static void test_rx_held_while_paused(void **state)
{
	struct fix *f = *state;
	uint8_t frame[300], before[4096];
	fill_frame(frame, sizeof(frame), 5);
	set_desc(f, 0, 0, GPA(BUF), 2048, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	kick(f, 0);
	memcpy(before, f->vm->mem.host + BUF, sizeof(before));
	atomic_store(&f->vm->pause_count, 1);
	deliver(f, frame, sizeof(frame));
	assert_int_equal(used_idx(f, 0), 0);
	assert_memory_equal(f->vm->mem.host + BUF, before, sizeof(before));
	assert_int_equal(f->fb->be.q_frames, 1);
	virtio_net_resume_rx(f->t);          /* still paused: nothing moves */
	drain(f);
	assert_int_equal(used_idx(f, 0), 0);
	atomic_store(&f->vm->pause_count, 0);
	virtio_net_resume_rx(f->t);
	drain(f);
	assert_int_equal(used_idx(f, 0), 1);
	assert_memory_equal(f->vm->mem.host + BUF + VIRTIO_NET_HDR_LEN, frame, sizeof(frame));
	assert_int_equal(f->fb->be.q_frames, 0);
	assert_int_equal(f->fb->be.rx_dropped, 0);
}

static void test_rx_queue_is_bounded(void **state)
{
	struct fix *f = *state;
	uint8_t frame[64] = { 0 };
	for (unsigned i = 0; i < NET_RXQ_MAX_FRAMES + 10; i++)
		deliver(f, frame, sizeof(frame));
	assert_int_equal(f->fb->be.q_frames, NET_RXQ_MAX_FRAMES);
	assert_int_equal(f->fb->be.rx_dropped, 10);
}

static void test_rx_too_small_without_mrg_drops(void **state)
{
	struct fix *f = *state;
	uint8_t big[1000], small[50];
	fill_frame(big, sizeof(big), 4);
	fill_frame(small, sizeof(small), 5);
	set_desc(f, 0, 0, GPA(BUF), 128, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	deliver(f, big, sizeof(big));
	assert_int_equal(used_idx(f, 0), 0);      /* dropped, buffer kept */
	assert_int_equal(f->fb->be.rx_dropped, 1);
	deliver(f, small, sizeof(small));
	assert_int_equal(used_idx(f, 0), 1);
	assert_memory_equal(f->vm->mem.host + BUF + VIRTIO_NET_HDR_LEN, small, sizeof(small));
	assert_false(needs_reset(f));
}

static void test_rx_frame_larger_than_ring_dropped(void **state)
{
	struct fix *f = *state;
	static uint8_t frame[QNUM * 64 + 500];
	for (unsigned i = 0; i < QNUM; i++) {
		set_desc(f, 0, i, GPA(BUF + 0x100 * i), 64, VIRTQ_DESC_F_WRITE, 0);
		offer(f, 0, (uint16_t)i);
	}
	deliver(f, frame, sizeof(frame));
	assert_int_equal(used_idx(f, 0), 0);
	assert_int_equal(f->fb->be.rx_dropped, 1);
	assert_false(needs_reset(f));
	/* The buffers are all still there for a frame that fits. */
	deliver(f, frame, 100);              /* 52 + 48 bytes: two buffers */
	assert_int_equal(used_idx(f, 0), 2);
}

static void test_rx_readable_buffer_needs_reset(void **state)
{
	struct fix *f = *state;
	uint8_t frame[64] = { 0 };
	set_desc(f, 0, 0, GPA(BUF), 2048, 0, 0);
	offer(f, 0, 0);
	deliver(f, frame, sizeof(frame));
	assert_true(needs_reset(f));
	assert_int_equal(used_idx(f, 0), 0);
}

static void test_rx_buffer_shorter_than_header_needs_reset(void **state)
{
	struct fix *f = *state;
	uint8_t frame[64] = { 0 };
	set_desc(f, 0, 0, GPA(BUF), VIRTIO_NET_HDR_LEN - 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	deliver(f, frame, sizeof(frame));
	assert_true(needs_reset(f));
}

static void test_rx_zero_length_buffer_needs_reset(void **state)
{
	struct fix *f = *state;
	uint8_t frame[64] = { 0 };
	set_desc(f, 0, 0, GPA(BUF), 0, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	deliver(f, frame, sizeof(frame));
	assert_true(needs_reset(f));
}

static void test_rx_before_driver_ok_dropped(void **state)
{
	struct fix *f = *state;
	uint8_t frame[64] = { 0 };
	wr(f, VIRTIO_MMIO_STATUS, 0);        /* driver resets the device */
	drain(f);
	deliver(f, frame, sizeof(frame));
	assert_int_equal(f->fb->be.rx_dropped, 1);
	assert_int_equal(f->fb->be.q_frames, 0);
}

/* Random rings, many times over: descriptors with addresses near and across
 * the RAM edges, random lengths, flags and links, random avail indices. The
 * device must never crash; it either serves chains or sets NEEDS_RESET, and
 * whatever it sends out is a whole frame. */
static void test_random_rings(void **state)
{
	struct fix *f = *state;
	uint32_t seed = 12345;
#define RND() (seed = seed * 1103515245u + 12345u, seed >> 8)
	static uint8_t frame[3000];
	for (unsigned round = 0; round < 400; round++) {
		drv_init(f, round & 1);
		f->avail_idx[0] = f->avail_idx[1] = 0;
		for (unsigned q = 0; q < 2; q++) {
			memset(f->vm->mem.host + USED[q], 0, 4 + 8 * QNUM + 2);
			memset(f->vm->mem.host + AVAIL[q], 0, 4 + 2 * QNUM + 2);
			for (unsigned i = 0; i < QNUM; i++) {
				uint64_t addr = RAM_BASE + RND() % (RAM_SIZE + 8192) - 4096;
				uint32_t len = (RND() & 3) == 0 ? RND() : RND() % 3000;
				uint16_t flags = (uint16_t)(RND() & 7);
				set_desc(f, q, i, addr, len, flags, (uint16_t)(RND() % (QNUM + 2)));
			}
			unsigned n = RND() % (QNUM + 3);
			for (unsigned i = 0; i < n; i++)
				offer(f, q, (uint16_t)(RND() % (QNUM + 1)));
		}
		int before = f->fb->nsent;
		kick(f, 1);
		for (unsigned k = 0; k < 3; k++)
			deliver(f, frame, 14 + RND() % (sizeof(frame) - 14));
		kick(f, 0);
		for (int i = before; i < f->fb->nsent && i < 8; i++)
			assert_true(f->fb->sent_len[i] >= 14 && f->fb->sent_len[i] <= NET_MAX_FRAME);
		assert_true(used_idx(f, 0) <= QNUM + 2 && used_idx(f, 1) <= QNUM + 2);
		f->fb->nsent = 0;
	}
#undef RND
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_tx_sends_frame, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_tx_fills_partial_checksum, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_tx_checksum_outside_frame_dropped, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_tx_gso_frame_dropped, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_tx_writable_buffer_needs_reset, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_tx_short_header_needs_reset, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_tx_address_outside_ram_needs_reset, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_tx_descriptor_loop_needs_reset, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_single_buffer, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_merges_buffers, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_held_while_paused, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_waits_for_buffers, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_queue_is_bounded, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_too_small_without_mrg_drops, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_rx_frame_larger_than_ring_dropped, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_readable_buffer_needs_reset, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_buffer_shorter_than_header_needs_reset, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_zero_length_buffer_needs_reset, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_before_driver_ok_dropped, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_random_rings, setup_mrg, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
