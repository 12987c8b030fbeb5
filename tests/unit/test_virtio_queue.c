/* Unit tests for split virtqueues (chains, indirect tables, hostile layouts,
 * used ring and interrupt suppression) and the virtio-mmio transport, driven
 * through virtio-rng as a Linux driver would. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "core/vm.h"
#include "vm_fixture.h"
#include "virtio/mmio.h"
#include "virtio/rng.h"
#include "virtio/virtqueue.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1ull << 20)
#define DESC 0x1000ull          /* ram offsets of the rings */
#define AVAIL 0x2000ull
#define USED 0x3000ull
#define TABLE 0x4000ull         /* an indirect table */
#define BUF 0x10000ull
#define GPA(off) (RAM_BASE + (off))
#define IRQ 3

struct fake_irq {
	int level, calls;
};

static void fake_set(void *ctx, unsigned irq, int level)
{
	struct fake_irq *f = ctx;

	assert_int_equal(irq, IRQ);
	f->level = level;
	f->calls++;
}

/* Write a descriptor into a table at ram offset `tab`. */
static void set_desc(struct vm *vm, uint64_t tab, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = vm->mem.host + tab + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static uint16_t *avail_idx(struct vm *vm) { return (uint16_t *)(vm->mem.host + AVAIL + 2); }
static uint16_t *avail_ring(struct vm *vm, unsigned i) { return (uint16_t *)(vm->mem.host + AVAIL + 4 + 2 * i); }
static uint16_t used_idx(struct vm *vm) { return *(uint16_t *)(vm->mem.host + USED + 2); }
static uint32_t used_id(struct vm *vm, unsigned i) { return *(uint32_t *)(vm->mem.host + USED + 4 + 8 * i); }
static uint32_t used_len(struct vm *vm, unsigned i) { return *(uint32_t *)(vm->mem.host + USED + 8 + 8 * i); }

/* Put head into the avail ring and publish it. */
static void submit(struct vm *vm, unsigned num, uint16_t head)
{
	uint16_t idx = *avail_idx(vm);
	*avail_ring(vm, idx % num) = head;
	*avail_idx(vm) = idx + 1;
}

struct qfix {
	struct vm *vm;
	struct virtq vq;
	struct virtq_chain *c;
};

static int q_setup(void **state)
{
	struct qfix *f = calloc(1, sizeof(*f));
	f->vm = test_vm_new(RAM_SIZE);
	f->c = malloc(sizeof(*f->c));
	uint64_t feat = (1ull << VIRTIO_F_RING_INDIRECT_DESC) | (1ull << VIRTIO_F_VERSION_1);
	assert_int_equal(virtq_enable(&f->vq, f->vm, 8, GPA(DESC), GPA(AVAIL), GPA(USED), feat), 0);
	*state = f;
	return 0;
}

static int q_teardown(void **state)
{
	struct qfix *f = *state;
	vm_free(f->vm);
	free(f->c);
	free(f);
	return 0;
}

static void test_enable_checks(void **state)
{
	struct qfix *f = *state;
	struct virtq vq;

	assert_int_equal(virtq_enable(&vq, f->vm, 6, GPA(DESC), GPA(AVAIL), GPA(USED), 0), -EINVAL);
	assert_int_equal(virtq_enable(&vq, f->vm, 0, GPA(DESC), GPA(AVAIL), GPA(USED), 0), -EINVAL);
	assert_int_equal(virtq_enable(&vq, f->vm, 2048, GPA(DESC), GPA(AVAIL), GPA(USED), 0), -EINVAL);
	assert_int_equal(virtq_enable(&vq, f->vm, 8, GPA(DESC) + 8, GPA(AVAIL), GPA(USED), 0), -EINVAL);
	assert_int_equal(virtq_enable(&vq, f->vm, 8, GPA(DESC), GPA(AVAIL) + 1, GPA(USED), 0), -EINVAL);
	assert_int_equal(virtq_enable(&vq, f->vm, 8, GPA(DESC), GPA(AVAIL), GPA(USED) + 2, 0), -EINVAL);
	/* Rings outside RAM or straddling its end. */
	assert_int_equal(virtq_enable(&vq, f->vm, 8, 0x1000, GPA(AVAIL), GPA(USED), 0), -EINVAL);
	assert_int_equal(virtq_enable(&vq, f->vm, 8, GPA(DESC), GPA(AVAIL),
				      GPA(RAM_SIZE - 64), 0), -EINVAL);
	assert_int_equal(virtq_enable(&vq, f->vm, 8, GPA(RAM_SIZE - 64), GPA(AVAIL),
				      GPA(USED), 0), -EINVAL);
	assert_false(virtq_ready(&vq));
}

static void test_pop_simple_chain(void **state)
{
	struct qfix *f = *state;
	struct vm *vm = f->vm;

	assert_int_equal(virtq_pop(&f->vq, f->c), 0);
	memcpy(vm->mem.host + BUF, "hello world!", 12);
	set_desc(vm, DESC, 3, GPA(BUF), 5, VIRTQ_DESC_F_NEXT, 5);
	set_desc(vm, DESC, 5, GPA(BUF + 5), 7, VIRTQ_DESC_F_NEXT, 1);
	set_desc(vm, DESC, 1, GPA(BUF + 0x100), 0, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	set_desc(vm, DESC, 0, GPA(BUF + 0x200), 64, VIRTQ_DESC_F_WRITE, 0);
	submit(vm, 8, 3);
	assert_int_equal(virtq_pop(&f->vq, f->c), 1);
	assert_int_equal(f->c->head, 3);
	assert_int_equal(f->c->nseg, 3);   /* the zero-length one is dropped */
	assert_int_equal(f->c->nread, 2);
	assert_int_equal(f->c->read_len, 12);
	assert_int_equal(f->c->write_len, 64);
	char buf[16] = { 0 };
	assert_int_equal(virtq_chain_read(f->c, 3, buf, 16), 9);
	assert_memory_equal(buf, "lo world!", 9);
	assert_int_equal(virtq_chain_write(&f->vq, f->c, 60, "abcdefgh", 8), 4);
	assert_memory_equal(vm->mem.host + BUF + 0x200 + 60, "abcd", 4);
	assert_int_equal(virtq_pop(&f->vq, f->c), 0);

	virtq_push(&f->vq, 3, 64);
	assert_int_equal(used_idx(vm), 1);
	assert_int_equal(used_id(vm, 0), 3);
	assert_int_equal(used_len(vm, 0), 64);
	assert_true(virtq_need_notify(&f->vq));
	assert_false(virtq_need_notify(&f->vq));   /* nothing new */
}

static void test_pop_indirect(void **state)
{
	struct qfix *f = *state;
	struct vm *vm = f->vm;

	set_desc(vm, TABLE, 0, GPA(BUF), 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(vm, TABLE, 2, GPA(BUF + 16), 32, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(vm, TABLE, 1, GPA(BUF + 48), 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(vm, DESC, 0, GPA(TABLE), 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	submit(vm, 8, 0);
	assert_int_equal(virtq_pop(&f->vq, f->c), 1);
	assert_int_equal(f->c->nseg, 3);
	assert_int_equal(f->c->nread, 1);
	assert_int_equal(f->c->read_len, 16);
	assert_int_equal(f->c->write_len, 33);
	assert_ptr_equal(f->c->seg[2].ptr, vm->mem.host + BUF + 48);
}

static void expect_hostile(struct qfix *f, uint16_t head)
{
	submit(f->vm, 8, head);
	assert_int_equal(virtq_pop(&f->vq, f->c), -EINVAL);
}

static void test_desc_loop(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, DESC, 0, GPA(BUF), 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f->vm, DESC, 1, GPA(BUF), 8, VIRTQ_DESC_F_NEXT, 0);
	expect_hostile(f, 0);
}

static void test_self_loop(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, DESC, 4, GPA(BUF), 0, VIRTQ_DESC_F_NEXT, 4);
	expect_hostile(f, 4);
}

static void test_chain_longer_than_queue(void **state)
{
	struct qfix *f = *state;
	/* Each of the 8 entries links to the next and the last back to 0: the
	 * walk must stop after 8 steps. Also next >= num is rejected. */
	for (unsigned i = 0; i < 8; i++)
		set_desc(f->vm, DESC, i, GPA(BUF), 8, VIRTQ_DESC_F_NEXT, (i + 1) % 8);
	expect_hostile(f, 0);
}

static void test_next_out_of_table(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, DESC, 0, GPA(BUF), 8, VIRTQ_DESC_F_NEXT, 8);
	expect_hostile(f, 0);
}

static void test_head_out_of_table(void **state)
{
	expect_hostile(*state, 9);
}

static void test_desc_outside_ram(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, DESC, 0, 0x1000, 8, 0, 0);
	expect_hostile(f, 0);
}

static void test_desc_straddles_ram_end(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, DESC, 0, GPA(RAM_SIZE - 4), 8, VIRTQ_DESC_F_WRITE, 0);
	expect_hostile(f, 0);
}

static void test_desc_wraps_address_space(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, DESC, 0, ~0ull - 3, 0xffffffff, 0, 0);
	expect_hostile(f, 0);
}

static void test_read_after_write(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, DESC, 0, GPA(BUF), 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(f->vm, DESC, 1, GPA(BUF), 8, 0, 0);
	expect_hostile(f, 0);
}

static void test_indirect_outside_ram(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, DESC, 0, GPA(RAM_SIZE - 16), 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_hostile(f, 0);
}

static void test_indirect_nested(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, TABLE, 0, GPA(TABLE), 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(f->vm, DESC, 0, GPA(TABLE), 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_hostile(f, 0);
}

static void test_indirect_loop(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, TABLE, 0, GPA(BUF), 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f->vm, TABLE, 1, GPA(BUF), 8, VIRTQ_DESC_F_NEXT, 0);
	set_desc(f->vm, DESC, 0, GPA(TABLE), 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_hostile(f, 0);
}

/* Forget earlier (refused) chains: fresh rings, fresh queue state. */
static void fresh_queue(struct qfix *f)
{
	uint64_t feat = (1ull << VIRTIO_F_RING_INDIRECT_DESC) | (1ull << VIRTIO_F_VERSION_1);
	memset(f->vm->mem.host + AVAIL, 0, 0x2000);
	assert_int_equal(virtq_enable(&f->vq, f->vm, 8, GPA(DESC), GPA(AVAIL), GPA(USED), feat), 0);
}

static void test_indirect_bad_len(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, DESC, 0, GPA(TABLE), 24, VIRTQ_DESC_F_INDIRECT, 0);
	expect_hostile(f, 0);
	fresh_queue(f);
	set_desc(f->vm, DESC, 1, GPA(TABLE), 0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_hostile(f, 1);
	fresh_queue(f);
	/* A huge table (in RAM) exceeds the segment bound. */
	set_desc(f->vm, DESC, 2, GPA(0), 16 * (VIRTQ_MAX_SEGS + 1), VIRTQ_DESC_F_INDIRECT, 0);
	expect_hostile(f, 2);
	fresh_queue(f);
	/* INDIRECT together with NEXT is forbidden. */
	set_desc(f->vm, TABLE, 0, GPA(BUF), 8, 0, 0);
	set_desc(f->vm, DESC, 3, GPA(TABLE), 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 4);
	set_desc(f->vm, DESC, 4, GPA(BUF), 8, VIRTQ_DESC_F_WRITE, 0);
	expect_hostile(f, 3);
}

static void test_indirect_without_feature(void **state)
{
	struct qfix *f = *state;
	assert_int_equal(virtq_enable(&f->vq, f->vm, 8, GPA(DESC), GPA(AVAIL), GPA(USED), 0), 0);
	set_desc(f->vm, TABLE, 0, GPA(BUF), 8, 0, 0);
	set_desc(f->vm, DESC, 0, GPA(TABLE), 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_hostile(f, 0);
}

static void test_avail_idx_jump(void **state)
{
	struct qfix *f = *state;
	set_desc(f->vm, DESC, 0, GPA(BUF), 8, 0, 0);
	*avail_idx(f->vm) = 9;   /* 9 new entries in an 8-entry ring */
	assert_int_equal(virtq_pop(&f->vq, f->c), -EINVAL);
	*avail_idx(f->vm) = 8;   /* exactly full is fine */
	for (int i = 0; i < 8; i++)
		assert_int_equal(virtq_pop(&f->vq, f->c), 1);
	assert_int_equal(virtq_pop(&f->vq, f->c), 0);
}

static void test_no_interrupt_flag(void **state)
{
	struct qfix *f = *state;
	*(uint16_t *)(f->vm->mem.host + AVAIL) = VIRTQ_AVAIL_F_NO_INTERRUPT;
	virtq_push(&f->vq, 0, 0);
	assert_false(virtq_need_notify(&f->vq));
	*(uint16_t *)(f->vm->mem.host + AVAIL) = 0;
	virtq_push(&f->vq, 1, 0);
	assert_true(virtq_need_notify(&f->vq));
	assert_int_equal(used_idx(f->vm), 2);
}

static void test_event_idx(void **state)
{
	struct qfix *f = *state;
	struct vm *vm = f->vm;
	uint64_t feat = (1ull << VIRTIO_F_RING_EVENT_IDX) | (1ull << VIRTIO_F_VERSION_1);
	uint16_t *used_event = (uint16_t *)(vm->mem.host + AVAIL + 4 + 2 * 8);
	uint16_t *avail_event = (uint16_t *)(vm->mem.host + USED + 4 + 8 * 8);

	assert_int_equal(virtq_enable(&f->vq, vm, 8, GPA(DESC), GPA(AVAIL), GPA(USED), feat), 0);
	/* Popping (or finding the ring empty) publishes avail_event. */
	assert_int_equal(virtq_pop(&f->vq, f->c), 0);
	assert_int_equal(*avail_event, 0);
	set_desc(vm, DESC, 0, GPA(BUF), 8, VIRTQ_DESC_F_WRITE, 0);
	submit(vm, 8, 0);
	submit(vm, 8, 0);
	assert_int_equal(virtq_pop(&f->vq, f->c), 1);
	assert_int_equal(*avail_event, 1);
	assert_int_equal(virtq_pop(&f->vq, f->c), 1);
	assert_int_equal(*avail_event, 2);

	*used_event = 0;          /* interrupt once used idx passes 0 */
	virtq_push(&f->vq, 0, 8);
	assert_true(virtq_need_notify(&f->vq));
	virtq_push(&f->vq, 0, 8);
	assert_false(virtq_need_notify(&f->vq));   /* used_event 0 already passed */
	*used_event = 3;
	virtq_push(&f->vq, 0, 8);                   /* idx 3: not yet past 3 */
	assert_false(virtq_need_notify(&f->vq));
	virtq_push(&f->vq, 0, 8);                   /* idx 4 passes 3 */
	assert_true(virtq_need_notify(&f->vq));
}

/* ---- transport, through virtio-rng ---- */

struct tfix {
	struct vm *vm;
	struct virtio_mmio *t;
	struct fake_irq irq;
};

static uint32_t rd(struct virtio_mmio *t, uint64_t off)
{
	uint64_t v = 0xdeadbeefdeadull;
	assert_int_equal(virtio_mmio_ops.read(t, off, 4, &v), 0);
	assert_true(v <= 0xffffffffull);
	return (uint32_t)v;
}

static void wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	assert_int_equal(virtio_mmio_ops.write(t, off, 4, v), 0);
}

static int t_setup(void **state)
{
	struct tfix *f = calloc(1, sizeof(*f));
	f->vm = test_vm_new(RAM_SIZE);
	f->t = virtio_rng_new(f->vm, (struct irq_line){ fake_set, &f->irq, IRQ });
	assert_non_null(f->t);
	*state = f;
	return 0;
}

static int t_teardown(void **state)
{
	struct tfix *f = *state;
	virtio_mmio_ops.destroy(f->t);
	vm_free(f->vm);
	free(f);
	return 0;
}

/* The Linux virtio_mmio probe + virtio core sequence. */
static void drv_init(struct tfix *f, uint64_t want, unsigned num)
{
	struct virtio_mmio *t = f->t;

	wr(t, VIRTIO_MMIO_STATUS, 0);
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t dev = (uint64_t)rd(t, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	dev |= rd(t, VIRTIO_MMIO_DEVICE_FEATURES);
	uint64_t drv = dev & want;
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(drv >> 32));
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)drv);
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	wr(t, VIRTIO_MMIO_STATUS, s);
	assert_int_equal(rd(t, VIRTIO_MMIO_STATUS), s);
	wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX) >= num);
	wr(t, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)GPA(DESC));
	wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(GPA(DESC) >> 32));
	wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)GPA(AVAIL));
	wr(t, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(GPA(AVAIL) >> 32));
	wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)GPA(USED));
	wr(t, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(GPA(USED) >> 32));
	wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(t, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(t, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(t, VIRTIO_MMIO_STATUS), s | VIRTIO_STATUS_DRIVER_OK);
}

static void test_mmio_identity(void **state)
{
	struct tfix *f = *state;
	struct virtio_mmio *t = f->t;

	assert_int_equal(rd(t, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(t, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	assert_int_equal(rd(t, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(t, VIRTIO_MMIO_DEVICE_FEATURES), 1);   /* VERSION_1 */
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(t, VIRTIO_MMIO_DEVICE_FEATURES),
			 (1u << VIRTIO_F_RING_INDIRECT_DESC) | (1u << VIRTIO_F_RING_EVENT_IDX));
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
	assert_int_equal(rd(t, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_RNG_QUEUE_MAX);
	wr(t, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);     /* no such queue */
	wr(t, VIRTIO_MMIO_QUEUE_READY, 1);                         /* ignored */
	assert_int_equal(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(rd(t, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	/* Sub-word register accesses read as 0 and are ignored, not faulted. */
	uint64_t v = 1;
	assert_int_equal(virtio_mmio_ops.read(t, 0, 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(virtio_mmio_ops.write(t, VIRTIO_MMIO_STATUS, 1, 1), 0);
	assert_int_equal(rd(t, VIRTIO_MMIO_STATUS), 0);
	/* rng has no config space: reads are 0. */
	assert_int_equal(virtio_mmio_ops.read(t, VIRTIO_MMIO_CONFIG, 4, &v), 0);
	assert_int_equal(v, 0);
}

static void test_mmio_feature_negotiation(void **state)
{
	struct tfix *f = *state;
	struct virtio_mmio *t = f->t;
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	/* Without VERSION_1 (a legacy driver) FEATURES_OK does not stick. */
	wr(t, VIRTIO_MMIO_STATUS, s);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_F_RING_EVENT_IDX);
	wr(t, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(rd(t, VIRTIO_MMIO_STATUS), s);
	/* A feature the device never offered: refused too. */
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 1 | 2);
	wr(t, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(rd(t, VIRTIO_MMIO_STATUS), s);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(t, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(rd(t, VIRTIO_MMIO_STATUS), s | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(virtio_mmio_features(t),
			 (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX));
	/* Frozen once accepted. */
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_int_equal(virtio_mmio_features(t) >> 32, 1);
	/* Status 0 resets everything. */
	wr(t, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(t, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(virtio_mmio_features(t), 0);
}

static void test_rng_fills_buffers(void **state)
{
	struct tfix *f = *state;
	struct vm *vm = f->vm;

	drv_init(f, ~0ull, 8);
	set_desc(vm, DESC, 2, GPA(BUF), 100, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 6);
	set_desc(vm, DESC, 6, GPA(BUF + 0x1000), 28, VIRTQ_DESC_F_WRITE, 0);
	submit(vm, 8, 2);
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(used_idx(vm), 1);
	assert_int_equal(used_id(vm, 0), 2);
	assert_int_equal(used_len(vm, 0), 128);
	uint8_t zero[100] = { 0 };
	assert_memory_not_equal(vm->mem.host + BUF, zero, 100);
	assert_int_equal(rd(f->t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_int_equal(f->irq.level, 1);
	wr(f->t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(f->t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(f->irq.level, 0);
	/* A kick for a queue that does not exist does nothing. */
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, 5);
	assert_int_equal(used_idx(vm), 1);
}

static void test_hostile_queue_needs_reset(void **state)
{
	struct tfix *f = *state;
	struct vm *vm = f->vm;

	drv_init(f, ~0ull, 8);
	set_desc(vm, DESC, 0, GPA(BUF), 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	submit(vm, 8, 0);
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(rd(f->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_non_null(virtio_mmio_error(f->t));
	assert_int_equal(rd(f->t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(used_idx(vm), 0);
	/* The driver cannot clear NEEDS_RESET by writing status... */
	wr(f->t, VIRTIO_MMIO_STATUS, 0xf);
	assert_true(rd(f->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* ...and further kicks are ignored, even with a good chain. */
	set_desc(vm, DESC, 1, GPA(BUF), 8, VIRTQ_DESC_F_WRITE, 0);
	*avail_ring(vm, 0) = 1;
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(used_idx(vm), 0);
	/* A reset brings it back. */
	wr(f->t, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f->t, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(f->irq.level, 0);
	memset(vm->mem.host + AVAIL, 0, 0x2000);
	drv_init(f, ~0ull, 8);
	submit(vm, 8, 1);
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(used_idx(vm), 1);
	assert_int_equal(used_len(vm, 0), 8);
}

static void test_queue_outside_ram_needs_reset(void **state)
{
	struct tfix *f = *state;
	struct virtio_mmio *t = f->t;
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	wr(t, VIRTIO_MMIO_STATUS, s);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(t, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_FEATURES_OK);
	wr(t, VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);     /* below RAM */
	wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)GPA(AVAIL));
	wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)GPA(USED));
	wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* Before DRIVER_OK there is no interrupt to send. */
	assert_int_equal(rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void test_event_idx_through_transport(void **state)
{
	struct tfix *f = *state;
	struct vm *vm = f->vm;
	uint16_t *used_event = (uint16_t *)(vm->mem.host + AVAIL + 4 + 2 * 8);

	drv_init(f, ~0ull, 8);
	assert_true(virtio_mmio_features(f->t) & (1ull << VIRTIO_F_RING_EVENT_IDX));
	set_desc(vm, DESC, 0, GPA(BUF), 4, VIRTQ_DESC_F_WRITE, 0);
	submit(vm, 8, 0);
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(used_idx(vm), 1);
	/* The first completion always interrupts (nothing signalled yet). */
	assert_int_equal(rd(f->t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(f->t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	*used_event = 2;     /* interrupt once used idx passes 2 */
	submit(vm, 8, 0);
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(used_idx(vm), 2);
	assert_int_equal(rd(f->t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	submit(vm, 8, 0);
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(used_idx(vm), 3);
	assert_int_equal(rd(f->t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	/* The device asked to be kicked at the next avail entry. */
	assert_int_equal(*(uint16_t *)(vm->mem.host + USED + 4 + 8 * 8), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enable_checks, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_pop_simple_chain, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_pop_indirect, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_desc_loop, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_self_loop, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_chain_longer_than_queue, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_next_out_of_table, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_head_out_of_table, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_desc_outside_ram, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_desc_straddles_ram_end, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_desc_wraps_address_space, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_read_after_write, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_indirect_outside_ram, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_indirect_nested, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_indirect_loop, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_indirect_bad_len, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_indirect_without_feature, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_avail_idx_jump, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, q_setup, q_teardown),
		cmocka_unit_test_setup_teardown(test_mmio_identity, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_mmio_feature_negotiation, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_rng_fills_buffers, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_queue_needs_reset, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_queue_outside_ram_needs_reset, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_through_transport, t_setup, t_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
