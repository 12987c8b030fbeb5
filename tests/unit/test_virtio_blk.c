/* Unit tests for virtio-blk over a temp image, driven through the
 * virtio-mmio transport as Linux's driver would: config, I/O, flush,
 * get-id, discard/write-zeroes, range and read-only errors, hostile chains. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "core/vm.h"
#include "vm_fixture.h"
#include "cpu/lifecycle.h"
#include "cpu/dcache.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "virtio/virtqueue.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1ull << 20)
#define DESC 0x1000ull
#define AVAIL 0x2000ull
#define USED 0x3000ull
#define TABLE 0x4000ull
#define HDR 0x5000ull
#define STATUS 0x5100ull
#define BUF 0x10000ull
#define BUF2 0x20000ull
#define GPA(off) (RAM_BASE + (off))
#define QNUM 16
#define DISK_BYTES (1u << 20)
#define DISK_SECTORS (DISK_BYTES / 512)
#define IRQ 5

struct fake_irq {
	int level, calls;
};

struct fix {
	struct vm *vm;
	struct virtio_mmio *t;
	struct fake_irq irq;
	int fd;
	char path[64];
};

static void fake_set(void *ctx, unsigned irq, int level)
{
	struct fake_irq *f = ctx;

	assert_int_equal(irq, IRQ);
	f->level = level;
	f->calls++;
}

static uint32_t rd(struct virtio_mmio *t, uint64_t off)
{
	uint64_t v = 0;
	assert_int_equal(virtio_mmio_ops.read(t, off, 4, &v), 0);
	return (uint32_t)v;
}

static uint64_t rd_cfg(struct virtio_mmio *t, unsigned off, unsigned size)
{
	uint64_t v = 0xabababababababab;
	assert_int_equal(virtio_mmio_ops.read(t, VIRTIO_MMIO_CONFIG + off, size, &v), 0);
	return v;
}

static void wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	assert_int_equal(virtio_mmio_ops.write(t, off, 4, v), 0);
}

static void set_desc(struct vm *vm, uint64_t tab, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = vm->mem.host + tab + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static uint16_t used_idx(struct vm *vm) { return *(uint16_t *)(vm->mem.host + USED + 2); }
static uint32_t last_used_id(struct vm *vm)
{
	return *(uint32_t *)(vm->mem.host + USED + 4 + 8 * ((used_idx(vm) - 1) % QNUM));
}
static uint32_t last_used_len(struct vm *vm)
{
	return *(uint32_t *)(vm->mem.host + USED + 8 + 8 * ((used_idx(vm) - 1) % QNUM));
}

static void submit_kick(struct fix *f, uint16_t head)
{
	uint16_t *idx = (uint16_t *)(f->vm->mem.host + AVAIL + 2);
	*(uint16_t *)(f->vm->mem.host + AVAIL + 4 + 2 * (*idx % QNUM)) = head;
	(*idx)++;
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static void drv_init(struct fix *f)
{
	struct virtio_mmio *t = f->t;

	wr(t, VIRTIO_MMIO_STATUS, 0);
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint32_t hi = rd(t, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t lo = rd(t, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, hi);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, lo);
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	wr(t, VIRTIO_MMIO_STATUS, s);
	assert_int_equal(rd(t, VIRTIO_MMIO_STATUS), s);
	wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(t, VIRTIO_MMIO_QUEUE_NUM, QNUM);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)GPA(DESC));
	wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)GPA(AVAIL));
	wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)GPA(USED));
	wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(t, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(t, VIRTIO_MMIO_STATUS), s | VIRTIO_STATUS_DRIVER_OK);
}

static int setup_common(void **state, bool readonly)
{
	struct fix *f = calloc(1, sizeof(*f));
	f->vm = test_vm_new(RAM_SIZE);
	strcpy(f->path, "/tmp/tern-blk-XXXXXX");
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	unlink(f->path);
	assert_int_equal(ftruncate(f->fd, DISK_BYTES), 0);
	/* A recognisable pattern: byte i of sector s is (s + i) & 0xff. */
	uint8_t sec[512];
	for (unsigned s = 0; s < DISK_SECTORS; s++) {
		for (unsigned i = 0; i < 512; i++)
			sec[i] = (uint8_t)(s + i);
		assert_int_equal(pwrite(f->fd, sec, 512, (off_t)s * 512), 512);
	}
	char err[128] = "";
	f->t = virtio_blk_new(f->vm, (struct irq_line){ fake_set, &f->irq, IRQ }, f->fd,
			      DISK_BYTES, readonly, "tern-disk-0", err, sizeof(err));
	assert_non_null(f->t);
	drv_init(f);
	*state = f;
	return 0;
}

static int setup_rw(void **state) { return setup_common(state, false); }
static int setup_ro(void **state) { return setup_common(state, true); }

static int teardown(void **state)
{
	struct fix *f = *state;
	virtio_mmio_ops.destroy(f->t);   /* closes fd */
	vm_free(f->vm);
	free(f);
	return 0;
}

static void set_hdr(struct fix *f, uint32_t type, uint64_t sector)
{
	uint8_t *h = f->vm->mem.host + HDR;
	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	f->vm->mem.host[STATUS] = 0xee;
}

/* A three-descriptor request: header, data (in or out), status. Returns the
 * status byte the device wrote. */
static uint8_t request(struct fix *f, uint32_t type, uint64_t sector, uint64_t data,
		       uint32_t len, bool device_writes)
{
	set_hdr(f, type, sector);
	set_desc(f->vm, DESC, 0, GPA(HDR), 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f->vm, DESC, 1, GPA(data), len,
		 VIRTQ_DESC_F_NEXT | (device_writes ? VIRTQ_DESC_F_WRITE : 0), 2);
	set_desc(f->vm, DESC, 2, GPA(STATUS), 1, VIRTQ_DESC_F_WRITE, 0);
	uint16_t before = used_idx(f->vm);
	submit_kick(f, 0);
	assert_int_equal(used_idx(f->vm), (uint16_t)(before + 1));
	assert_int_equal(last_used_id(f->vm), 0);
	return f->vm->mem.host[STATUS];
}

static void expect_pattern(const uint8_t *p, uint64_t sector, unsigned nsec)
{
	for (unsigned s = 0; s < nsec; s++)
		for (unsigned i = 0; i < 512; i++)
			assert_int_equal(p[s * 512 + i], (uint8_t)(sector + s + i));
}

static void test_config(void **state)
{
	struct fix *f = *state;
	struct virtio_mmio *t = f->t;

	assert_int_equal(rd(t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t feat = rd(t, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(feat & (1u << VIRTIO_BLK_F_FLUSH));
	assert_true(feat & (1u << VIRTIO_BLK_F_SEG_MAX));
	assert_true(feat & (1u << VIRTIO_BLK_F_BLK_SIZE));
	assert_true(feat & (1u << VIRTIO_BLK_F_DISCARD));
	assert_true(feat & (1u << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_false(feat & (1u << VIRTIO_BLK_F_RO));
	assert_int_equal(rd_cfg(t, VIRTIO_BLK_CFG_CAPACITY, 8), DISK_SECTORS);
	assert_int_equal(rd_cfg(t, VIRTIO_BLK_CFG_CAPACITY, 4), DISK_SECTORS);
	assert_int_equal(rd_cfg(t, VIRTIO_BLK_CFG_CAPACITY + 4, 4), 0);
	assert_int_equal(rd_cfg(t, VIRTIO_BLK_CFG_CAPACITY + 1, 1), DISK_SECTORS >> 8);
	assert_int_equal(rd_cfg(t, VIRTIO_BLK_CFG_SEG_MAX, 4), VIRTIO_BLK_QUEUE_MAX - 2);
	assert_int_equal(rd_cfg(t, VIRTIO_BLK_CFG_BLK_SIZE, 2), 512);
	assert_int_equal(rd_cfg(t, VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4), VIRTIO_BLK_DISCARD_SEG_MAX);
	assert_int_equal(rd_cfg(t, VIRTIO_BLK_CFG_WZ_MAY_UNMAP, 1), 1);
	/* Past the end, or straddling it: reads as 0. */
	assert_int_equal(rd_cfg(t, VIRTIO_BLK_CFG_LEN, 4), 0);
	assert_int_equal(rd_cfg(t, VIRTIO_BLK_CFG_LEN - 2, 4), 0);
	assert_int_equal(rd_cfg(t, 0xf00 - 0x100, 4), 0);
	/* Config writes are ignored (no writable fields). */
	assert_int_equal(virtio_mmio_ops.write(t, VIRTIO_MMIO_CONFIG, 8, 0), 0);
	assert_int_equal(rd_cfg(t, VIRTIO_BLK_CFG_CAPACITY, 8), DISK_SECTORS);
	assert_int_equal(rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_BLK_QUEUE_MAX);
}

static void test_read(void **state)
{
	struct fix *f = *state;

	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 7, BUF, 3 * 512, true), VIRTIO_BLK_S_OK);
	assert_int_equal(last_used_len(f->vm), 3 * 512 + 1);
	expect_pattern(f->vm->mem.host + BUF, 7, 3);
	assert_int_equal(rd(f->t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_int_equal(f->irq.level, 1);
	wr(f->t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(f->irq.level, 0);
	/* The last sector is readable. */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, BUF, 512, true),
			 VIRTIO_BLK_S_OK);
	expect_pattern(f->vm->mem.host + BUF, DISK_SECTORS - 1, 1);
}

static void test_write(void **state)
{
	struct fix *f = *state;
	uint8_t back[1024];

	memset(f->vm->mem.host + BUF, 0x5a, 1024);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 100, BUF, 1024, false), VIRTIO_BLK_S_OK);
	assert_int_equal(last_used_len(f->vm), 1);
	assert_int_equal(pread(f->fd, back, 1024, 100 * 512), 1024);
	assert_memory_equal(back, f->vm->mem.host + BUF, 1024);
	assert_int_equal(pread(f->fd, back, 512, 102 * 512), 512);
	expect_pattern(back, 102, 1);
	/* And back through the device into another buffer. */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 100, BUF2, 1024, true), VIRTIO_BLK_S_OK);
	assert_memory_equal(f->vm->mem.host + BUF2, f->vm->mem.host + BUF, 1024);
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, BUF, 0, true), VIRTIO_BLK_S_OK);
}

static void test_scattered_indirect_read(void **state)
{
	struct fix *f = *state;

	/* Linux's layout with indirect descriptors: header, many data pieces
	 * (one of odd size and offset), status in the same table. */
	set_hdr(f, VIRTIO_BLK_T_IN, 20);
	set_desc(f->vm, TABLE, 0, GPA(HDR), 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f->vm, TABLE, 1, GPA(BUF + 3), 700, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	set_desc(f->vm, TABLE, 2, GPA(BUF + 703), 324, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	set_desc(f->vm, TABLE, 3, GPA(BUF + 1027), 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(f->vm, DESC, 5, GPA(TABLE), 4 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	f->vm->mem.host[BUF + 1027] = 0xee;
	submit_kick(f, 5);
	assert_int_equal(used_idx(f->vm), 1);
	assert_int_equal(last_used_id(f->vm), 5);
	assert_int_equal(last_used_len(f->vm), 1025);
	assert_int_equal(f->vm->mem.host[BUF + 1027], VIRTIO_BLK_S_OK);
	expect_pattern(f->vm->mem.host + BUF + 3, 20, 2);
}

static void test_get_id(void **state)
{
	struct fix *f = *state;

	memset(f->vm->mem.host + BUF, 0xff, 32);
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, BUF, 20, true), VIRTIO_BLK_S_OK);
	assert_int_equal(last_used_len(f->vm), 21);
	uint8_t want[20] = "tern-disk-0";
	assert_memory_equal(f->vm->mem.host + BUF, want, 20);
	assert_int_equal(f->vm->mem.host[BUF + 20], 0xff);
	/* A short buffer gets what fits. */
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, BUF2, 4, true), VIRTIO_BLK_S_OK);
	assert_memory_equal(f->vm->mem.host + BUF2, "tern", 4);
	assert_int_equal(last_used_len(f->vm), 5);
}

static void put_seg(struct fix *f, uint64_t off, uint64_t sector, uint32_t num, uint32_t flags)
{
	memcpy(f->vm->mem.host + off, &sector, 8);
	memcpy(f->vm->mem.host + off + 8, &num, 4);
	memcpy(f->vm->mem.host + off + 12, &flags, 4);
}

static void test_discard_write_zeroes(void **state)
{
	struct fix *f = *state;
	uint8_t back[4096], zero[4096] = { 0 };

	put_seg(f, BUF, 8, 8, 0);
	put_seg(f, BUF + 16, 64, 16, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, BUF, 32, false), VIRTIO_BLK_S_OK);
	put_seg(f, BUF, 200, 8, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, BUF, 16, false), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(f->fd, back, 4096, 200 * 512), 4096);
	assert_memory_equal(back, zero, 4096);
	assert_int_equal(pread(f->fd, back, 512, 208 * 512), 512);
	expect_pattern(back, 208, 1);
	put_seg(f, BUF, 300, 3, VIRTIO_BLK_WZ_F_UNMAP);   /* unaligned, with unmap */
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, BUF, 16, false), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(f->fd, back, 1536, 300 * 512), 1536);
	assert_memory_equal(back, zero, 1536);
	assert_int_equal(pread(f->fd, back, 512, 299 * 512), 512);
	expect_pattern(back, 299, 1);
	assert_int_equal(pread(f->fd, back, 512, 303 * 512), 512);
	expect_pattern(back, 303, 1);
	/* Unknown flags: UNSUPP; out of range: IOERR; bad segment size: IOERR. */
	put_seg(f, BUF, 8, 8, VIRTIO_BLK_WZ_F_UNMAP);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, BUF, 16, false), VIRTIO_BLK_S_UNSUPP);
	put_seg(f, BUF, DISK_SECTORS - 4, 8, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, BUF, 16, false), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, BUF, 15, false), VIRTIO_BLK_S_IOERR);
}

static void test_out_of_range(void **state)
{
	struct fix *f = *state;

	assert_int_equal(request(f, VIRTIO_BLK_T_IN, DISK_SECTORS, BUF, 512, true), VIRTIO_BLK_S_IOERR);
	assert_int_equal(last_used_len(f->vm), 1);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, BUF, 1024, true),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, DISK_SECTORS, BUF, 512, false),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, ~0ull, BUF, 512, false), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, ~0ull / 512, BUF, 512, true), VIRTIO_BLK_S_IOERR);
	/* Not a whole number of sectors. */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, BUF, 513, true), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, 99, 0, BUF, 512, true), VIRTIO_BLK_S_UNSUPP);
	/* None of that broke the device. */
	assert_false(rd(f->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 1, BUF, 512, true), VIRTIO_BLK_S_OK);
}

static void test_read_only(void **state)
{
	struct fix *f = *state;
	uint8_t back[512];

	wr(f->t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t feat = rd(f->t, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(feat & (1u << VIRTIO_BLK_F_RO));
	assert_false(feat & (1u << VIRTIO_BLK_F_DISCARD));
	memset(f->vm->mem.host + BUF, 0x77, 512);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 5, BUF, 512, false), VIRTIO_BLK_S_IOERR);
	assert_int_equal(pread(f->fd, back, 512, 5 * 512), 512);
	expect_pattern(back, 5, 1);
	put_seg(f, BUF, 5, 1, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, BUF, 16, false), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, BUF, 16, false), VIRTIO_BLK_S_IOERR);
	assert_int_equal(pread(f->fd, back, 512, 5 * 512), 512);
	expect_pattern(back, 5, 1);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 5, BUF, 512, true), VIRTIO_BLK_S_OK);
	expect_pattern(f->vm->mem.host + BUF, 5, 1);
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, BUF, 0, true), VIRTIO_BLK_S_OK);
}

static void test_dma_invalidates_code(void **state)
{
	struct fix *f = *state;

	struct hart *h = f->vm->cpus.harts[0];
	dcache_page(h, BUF2);
	assert_true(dcache_page_is_code(&f->vm->cpus, BUF2));
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, BUF2, 512, true), VIRTIO_BLK_S_OK);
	/* The hart is told, and drops the page when it serves its requests. */
	assert_true(atomic_load(&h->req) & HART_REQ_CODE);
	hart_serve_requests(h);
	assert_false(dcache_page_is_code(&f->vm->cpus, BUF2));
	/* The status byte write goes through the same path. */
	dcache_page(h, STATUS & ~0xfffull);
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, BUF, 0, true), VIRTIO_BLK_S_OK);
	hart_serve_requests(h);
	assert_false(dcache_page_is_code(&f->vm->cpus, STATUS & ~0xfffull));
}

/* Expect the device to flag NEEDS_RESET for chain `head`, complete nothing,
 * interrupt with a config change, and ignore later kicks. */
static void expect_needs_reset(struct fix *f, uint16_t head)
{
	uint16_t before = used_idx(f->vm);

	submit_kick(f, head);
	assert_int_equal(used_idx(f->vm), before);
	assert_true(rd(f->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(rd(f->t, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	set_hdr(f, VIRTIO_BLK_T_IN, 0);
	set_desc(f->vm, DESC, 10, GPA(HDR), 16, VIRTQ_DESC_F_NEXT, 11);
	set_desc(f->vm, DESC, 11, GPA(STATUS), 1, VIRTQ_DESC_F_WRITE, 0);
	submit_kick(f, 10);
	assert_int_equal(used_idx(f->vm), before);
	assert_int_equal(f->vm->mem.host[STATUS], 0xee);
	/* After a reset and fresh setup the device works again. */
	memset(f->vm->mem.host + AVAIL, 0, 0x2000);
	drv_init(f);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 1, BUF, 512, true), VIRTIO_BLK_S_OK);
}

static void test_zero_length_header(void **state)
{
	struct fix *f = *state;
	set_desc(f->vm, DESC, 0, GPA(HDR), 0, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f->vm, DESC, 1, GPA(BUF), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	set_desc(f->vm, DESC, 2, GPA(STATUS), 1, VIRTQ_DESC_F_WRITE, 0);
	expect_needs_reset(f, 0);
}

static void test_short_header(void **state)
{
	struct fix *f = *state;
	set_desc(f->vm, DESC, 0, GPA(HDR), 8, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f->vm, DESC, 2, GPA(STATUS), 1, VIRTQ_DESC_F_WRITE, 0);
	expect_needs_reset(f, 0);
}

static void test_missing_status(void **state)
{
	struct fix *f = *state;
	set_hdr(f, VIRTIO_BLK_T_OUT, 0);
	set_desc(f->vm, DESC, 0, GPA(HDR), 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f->vm, DESC, 1, GPA(BUF), 512, 0, 0);
	expect_needs_reset(f, 0);
}

static void test_wrong_direction(void **state)
{
	struct fix *f = *state;
	/* A read whose data buffer is device-readable. */
	set_hdr(f, VIRTIO_BLK_T_IN, 0);
	set_desc(f->vm, DESC, 0, GPA(HDR), 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f->vm, DESC, 1, GPA(BUF), 512, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f->vm, DESC, 2, GPA(STATUS), 1, VIRTQ_DESC_F_WRITE, 0);
	expect_needs_reset(f, 0);
	/* A write whose data buffer is device-writable. */
	set_hdr(f, VIRTIO_BLK_T_OUT, 0);
	set_desc(f->vm, DESC, 1, GPA(BUF), 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	expect_needs_reset(f, 0);
	/* The header in a device-writable buffer. */
	set_desc(f->vm, DESC, 0, GPA(HDR), 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	expect_needs_reset(f, 0);
}

static void test_queue_too_big(void **state)
{
	struct fix *f = *state;
	struct virtio_mmio *t = f->t;

	wr(t, VIRTIO_MMIO_STATUS, 0);
	wr(t, VIRTIO_MMIO_STATUS, 3);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(t, VIRTIO_MMIO_STATUS, 0xb);
	wr(t, VIRTIO_MMIO_QUEUE_NUM, 2 * VIRTIO_BLK_QUEUE_MAX);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)GPA(DESC));
	wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)GPA(AVAIL));
	wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)GPA(USED));
	wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_hostile_chain(void **state)
{
	struct fix *f = *state;
	set_hdr(f, VIRTIO_BLK_T_IN, 0);
	set_desc(f->vm, DESC, 0, GPA(HDR), 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f->vm, DESC, 1, GPA(RAM_SIZE - 256), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	set_desc(f->vm, DESC, 2, GPA(STATUS), 1, VIRTQ_DESC_F_WRITE, 0);
	expect_needs_reset(f, 0);
	/* A loop. */
	set_desc(f->vm, DESC, 0, GPA(HDR), 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f->vm, DESC, 1, GPA(BUF), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	expect_needs_reset(f, 0);
	/* Avail idx far ahead of what was consumed. */
	*(uint16_t *)(f->vm->mem.host + AVAIL + 2) += QNUM + 1;
	wr(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(rd(f->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_read, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_scattered_indirect_read, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_discard_write_zeroes, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_dma_invalidates_code, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_header, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_short_header, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_missing_status, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_direction, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_queue_too_big, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_chain, setup_rw, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
