/* libFuzzer harness for write-log replay: the first part of the input is a
 * run of guest register writes into a small board (PLIC, UART, RTC, syscon,
 * virtio-rng); its device log is encoded and must replay into a fresh board
 * to the very same saved state (checked, a differential oracle). The rest
 * of the input then overwrites bytes of that encoding, and the damaged log
 * must be refused or applied without harm. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/vm.h"
#include "dev/goldfish_rtc.h"
#include "dev/plic.h"
#include "dev/syscon.h"
#include "dev/uart16550.h"
#include "state/devlog.h"
#include "state/vmbuf.h"
#include "virtio/mmio.h"
#include "virtio/rng.h"

#define RAM_BASE 0x1000ull
#define RAM_SIZE (64u * 1024)

static void irq_none(void *ctx, unsigned irq, int level) { }
static void syscon_none(void *ctx, enum syscon_action a, unsigned code) { }

static const uint64_t bases[] = { 0x0c000000, 0x10000000, 0x00101000, 0x00100000, 0x10001000 };
static const uint64_t sizes[] = { 0x600000, 0x100, 0x1000, 0x1000, 0x1000 };

/* Three VMs (source, destination, hostile) made once with vm_new, since
 * that maps RAM and code caches: slow under ASan for every input. Each
 * input gets fresh devices and zeroed RAM. */
static struct vm *board_new(int which)
{
	static struct vm *vms[3];
	if (!vms[which]) {
		struct vm_opts o = { .ram_base = RAM_BASE, .ram_size = RAM_SIZE, .nharts = 1 };
		if (!(vms[which] = vm_new(&o)))
			abort();
	}
	struct vm *vm = vms[which];
	memset(vm->mem.host, 0, RAM_SIZE);
	struct plic *p = plic_new(31, 2, NULL, NULL);
	vm_add_mmio(vm, bases[0], sizes[0], &plic_ops, p);
	vm_add_mmio(vm, bases[1], sizes[1], &uart16550_ops,
		    uart16550_new((struct irq_line){ plic_set_irq, p, 10 }, NULL, NULL, NULL));
	vm_add_mmio(vm, bases[2], sizes[2], &goldfish_rtc_ops,
		    goldfish_rtc_new((struct irq_line){ plic_set_irq, p, 11 }));
	vm_add_mmio(vm, bases[3], sizes[3], &syscon_ops, syscon_new(syscon_none, NULL));
	vm_add_mmio(vm, bases[4], sizes[4], &virtio_mmio_ops,
		    virtio_rng_new(vm, (struct irq_line){ irq_none, NULL, 1 }));
	vm->devlog = devlog_new(vm);
	return vm;
}

static void board_free(struct vm *vm)
{
	for (int i = 0; i < vm->nmmio; i++)
		vm->mmio[i].ops->destroy(vm->mmio[i].dev);
	devlog_free(vm->devlog);
	vm->devlog = NULL;
	vm->nmmio = 0;
}

static struct vmbuf save_all(struct vm *vm)
{
	struct vmbuf b = { 0 };
	for (int i = 0; i < vm->nmmio; i++)
		vm->mmio[i].ops->save(vm->mmio[i].dev, &b);
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* 8 bytes per write: device, size, offset (2), value (4). */
	size_t nwrites = data[0] * (size_t)data[0] / 8;
	size_t at = 1;
	struct vm *src = board_new(0), *dst = board_new(1);
	memcpy(src->mem.host, data, size < RAM_SIZE ? size : RAM_SIZE);  /* rings, for notifies */
	for (size_t i = 0; i < nwrites && at + 8 <= size; i++, at += 8) {
		const uint8_t *w = data + at;
		unsigned d = w[0] % 5, sz = 1u << (w[1] % 4);
		uint64_t off = (uint64_t)(w[2] | w[3] << 8) % sizes[d];
		if (d == 0) {   /* priorities, enables, or a context's threshold/claim */
			static const uint64_t plic_areas[] = { 0, 0x2000, 0x200000, 0x201000 };
			off = plic_areas[(w[1] >> 2) & 3] + (off & 0xff);
		}
		uint32_t val = (uint32_t)w[4] | (uint32_t)w[5] << 8 | (uint32_t)w[6] << 16 |
			       (uint32_t)w[7] << 24;
		vm_mmio_write(src, bases[d] + (off & ~(uint64_t)(sz - 1)), sz, val);
	}
	struct vmbuf enc = { 0 }, before = save_all(src);
	struct devlog_stats st;
	char err[300];
	if (devlog_encode(src, &enc, &st, err, sizeof(err)) ||
	    devlog_apply(dst, enc.p, enc.len, DEVLOG_VERSION, err, sizeof(err)))
		abort();
	struct vmbuf after = save_all(dst);
	if (before.len != after.len || memcmp(before.p, after.p, before.len))
		abort();        /* replay disagrees with save/load */
	/* Damage: (position, byte) pairs from the rest of the input. */
	struct vm *hostile = board_new(2);
	for (; at + 3 <= size; at += 3)
		enc.p[(data[at] | data[at + 1] << 8) % enc.len] = data[at + 2];
	devlog_apply(hostile, enc.p, enc.len, DEVLOG_VERSION, err, sizeof(err));
	board_free(hostile);
	vmbuf_free(&enc);
	vmbuf_free(&before);
	vmbuf_free(&after);
	board_free(src);
	board_free(dst);
	return 0;
}
