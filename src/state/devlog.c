/* Write-log replay of device state: the compacted per-device logs the MMIO
 * dispatch feeds, their encoding with the read-back registers and the
 * residues, and the checked replay into fresh devices. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/vm.h"
#include "dev/dev.h"
#include "state/devlog.h"
#include "state/vmbuf.h"

/* One device's log: distinct (off, ctx) keys in the order of their last
 * write. The key space is finite (the table's WRITE_ONLY runs times their
 * contexts), so capacity is that size and the log never grows past it. */
struct region_log {
	const struct devlog_ops *dl;
	struct devlog_entry *e;
	unsigned n, cap;
};

struct devlog {
	struct vm *vm;
	bool watching;          /* on vm's MMIO bus (devlog_new) */
	/* Why the logs no longer describe the devices, or NULL. */
	const char *invalid;
	struct region_log r[VM_MAX_MMIO];
};

static const struct devlog_reg *find_reg(const struct devlog_ops *dl, uint32_t off, uint32_t ctx)
{
	for (unsigned i = 0; i < dl->nregs; i++) {
		const struct devlog_reg *g = &dl->regs[i];
		uint32_t stride = g->stride ? g->stride : 1;
		if (off < g->off || (off - g->off) % stride || (off - g->off) / stride >= g->count)
			continue;
		if (ctx >= g->ctx_min && ctx <= g->ctx_max)
			return g;
	}
	return NULL;
}

/* The number of distinct keys a device's WRITE_ONLY registers can take. */
static unsigned key_space(const struct devlog_ops *dl)
{
	unsigned n = 0;
	for (unsigned i = 0; i < dl->nregs; i++) {
		const struct devlog_reg *g = &dl->regs[i];
		if (g->class == DEVLOG_WRITE_ONLY)
			n += g->count * (g->ctx_max - g->ctx_min + 1);
	}
	return n;
}

static void note_write(void *log, int region, uint64_t off, unsigned size, uint64_t val)
{
	devlog_note(log, region, off, size, val);
}

struct devlog *devlog_new(struct vm *vm)
{
	struct devlog *log = calloc(1, sizeof(*log));
	if (!log)
		return NULL;
	log->vm = vm;
	for (int i = 0; i < vm->nmmio; i++) {
		struct region_log *r = &log->r[i];
		r->dl = vm->mmio[i].ops->devlog;
		r->cap = r->dl ? key_space(r->dl) : 0;
		if (r->cap && !(r->e = calloc(r->cap, sizeof(*r->e)))) {
			devlog_free(log);
			return NULL;
		}
	}
	/* The log follows the guest's writes by watching the MMIO bus. */
	if (vm_mmio_watch(vm, &(struct mmio_watch){ note_write, log })) {
		devlog_free(log);
		return NULL;
	}
	log->watching = true;
	return log;
}

void devlog_free(struct devlog *log)
{
	if (!log)
		return;
	if (log->watching)
		vm_mmio_unwatch(log->vm, &(struct mmio_watch){ note_write, log });
	for (int i = 0; i < VM_MAX_MMIO; i++)
		free(log->r[i].e);
	free(log);
}

static uint32_t width_mask(const struct devlog_ops *dl)
{
	return dl->width >= 4 ? 0xffffffffu : (1u << (8 * dl->width)) - 1;
}

/* Keep the last write per key, moved to the end: replaying in this order
 * gives each register its last value. */
static void log_put(struct devlog *log, struct region_log *r, uint32_t off, uint32_t ctx,
		    uint32_t val)
{
	unsigned i;
	for (i = 0; i < r->n; i++)
		if (r->e[i].off == off && r->e[i].ctx == ctx)
			break;
	if (i < r->n) {
		memmove(&r->e[i], &r->e[i + 1], (r->n - i - 1) * sizeof(*r->e));
		r->n--;
	}
	/* Keys come from the table, so the log cannot overflow; if it ever
	 * did, a write would be lost, so the logs stop describing the devices. */
	if (r->n < r->cap)
		r->e[r->n++] = (struct devlog_entry){ off, ctx, val };
	else
		log->invalid = "a device write log overflowed its key space (a bug); use x-device-state=save";
}

void devlog_note(struct devlog *log, int region, uint64_t off, unsigned size, uint64_t val)
{
	struct region_log *r = &log->r[region];
	const struct devlog_ops *dl = r->dl;
	if (!dl || size >= 32 || !(dl->sizes & (1u << size)) || off > UINT32_MAX)
		return;
	void *dev = log->vm->mmio[region].dev;
	uint32_t o = (uint32_t)off, v = (uint32_t)val & width_mask(dl);
	uint32_t ctx = dl->context ? dl->context(dev, o) : 0;
	const struct devlog_reg *g = find_reg(dl, o, ctx);
	enum devlog_class c = g ? g->class : DEVLOG_IGNORED;
	if (dl->refine)
		c = dl->refine(dev, o, ctx, v, c);
	if (c == DEVLOG_WRITE_ONLY)
		log_put(log, r, o, ctx, v);
	else if (c == DEVLOG_RESET)
		r->n = 0;
}

void devlog_reset(struct devlog *log)
{
	if (!log)
		return;
	for (int i = 0; i < VM_MAX_MMIO; i++)
		log->r[i].n = 0;
	log->invalid = NULL;
}

void devlog_invalidate(struct devlog *log)
{
	if (log)
		log->invalid = "the device write logs do not describe the devices (their state was "
			       "restored by save/load); use x-device-state=save";
}

unsigned devlog_count(const struct devlog *log, int region)
{
	return log->r[region].n;
}

unsigned devlog_capacity(const struct devlog *log, int region)
{
	return log->r[region].cap;
}

static void put_entry(struct vmbuf *b, uint32_t off, uint32_t ctx, uint32_t val)
{
	vmbuf_put_u32(b, off);
	vmbuf_put_u32(b, ctx);
	vmbuf_put_u32(b, val);
}

static uint32_t swap_ctx(const struct devlog_ops *dl, void *dev, uint32_t off, uint32_t ctx)
{
	return dl->swap_context ? dl->swap_context(dev, off, ctx) : 0;
}

void devlog_read_back(struct devlog_sink *s, uint32_t off, uint32_t ctx)
{
	const struct devlog_ops *dl = s->ops->devlog;
	const struct devlog_reg *g = find_reg(dl, off, ctx);
	uint64_t v = 0;
	uint32_t old = swap_ctx(dl, s->dev, off, ctx);
	s->ops->read(s->dev, off, dl->width, &v);
	swap_ctx(dl, s->dev, off, old);
	uint32_t val = (uint32_t)v & width_mask(dl);
	/* A fresh device already holds it. */
	if (g && g->class == DEVLOG_READ_WRITE && val == g->reset_value)
		return;
	put_entry(s->b, off, ctx, val);
	s->n++;
}

/* Fill in a u32 written as a placeholder at offset at. */
static void patch_u32(struct vmbuf *b, size_t at, uint32_t v)
{
	if (b->oom)
		return;
	for (int k = 0; k < 4; k++)
		b->p[at + k] = (uint8_t)(v >> (8 * k));
}

/* Per device: name, u32 logged, u32 read back, the entries {u32 off, u32
 * ctx, u32 val} (logged first), u16 residue version, u32 length, residue. */
int devlog_encode(struct vm *vm, struct vmbuf *b, struct devlog_stats *st,
		  char *err, size_t errlen)
{
	struct devlog *log = vm->devlog;
	if (!log || log->invalid) {
		snprintf(err, errlen, "%s", !log ? "this VM keeps no device write log" : log->invalid);
		return -1;
	}
	st->entries = 0;
	vmbuf_put_u32(b, (uint32_t)vm->nmmio);
	for (int i = 0; i < vm->nmmio; i++) {
		const struct dev_ops *ops = vm->mmio[i].ops;
		const struct region_log *r = &log->r[i];
		if (!r->dl) {
			snprintf(err, errlen, "device %s declares no registers for write-log replay", ops->name);
			return -1;
		}
		vmbuf_put_str(b, ops->name);
		vmbuf_put_u32(b, r->n);
		size_t nread_at = b->len;
		vmbuf_put_u32(b, 0);
		for (unsigned k = 0; k < r->n; k++)
			put_entry(b, r->e[k].off, r->e[k].ctx, r->e[k].val);
		struct devlog_sink sink = { ops, vm->mmio[i].dev, b, 0 };
		if (r->dl->read_back)
			r->dl->read_back(vm->mmio[i].dev, &sink);
		patch_u32(b, nread_at, sink.n);
		vmbuf_put_u16(b, r->dl->residue_version);
		size_t len_at = b->len;
		vmbuf_put_u32(b, 0);
		if (r->dl->residue_save && r->dl->residue_save(vm->mmio[i].dev, b)) {
			snprintf(err, errlen, "device %s could not save its residue", ops->name);
			return -1;
		}
		patch_u32(b, len_at, (uint32_t)(b->len - len_at - 4));
		st->entries += r->n + sink.n;
	}
	if (b->oom) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* One device's part of a payload, checked, pointing into it. */
struct parsed_dev {
	uint32_t nlog, nread;
	const uint8_t *entries;
	uint16_t residue_version;
	const uint8_t *residue;
	uint32_t residue_len;
};

static struct devlog_entry entry_at(const uint8_t *p, uint32_t k)
{
	struct vmrd r = vmrd_of(p + 12 * (size_t)k, 12);
	struct devlog_entry e;
	e.off = vmrd_u32(&r);
	e.ctx = vmrd_u32(&r);
	e.val = vmrd_u32(&r);
	return e;
}

static int parse_dev(struct vm *vm, int i, struct vmrd *rd, struct parsed_dev *d,
		     char *err, size_t errlen)
{
	const struct dev_ops *ops = vm->mmio[i].ops;
	const struct devlog_ops *dl = ops->devlog;
	char name[64];
	if (!vmrd_str(rd, name, sizeof(name)) || strcmp(name, ops->name)) {
		snprintf(err, errlen, "device write log %d names %s device, not %s", i,
			 rd->bad ? "an unreadable" : "another", ops->name);
		return -1;
	}
	if (!dl) {
		snprintf(err, errlen, "device %s cannot be restored from a write log", ops->name);
		return -1;
	}
	d->nlog = vmrd_u32(rd);
	d->nread = vmrd_u32(rd);
	if (rd->bad || d->nlog > key_space(dl) || d->nread > DEVLOG_MAX_WIRE_ENTRIES) {
		snprintf(err, errlen, "device write log of %s: %s", ops->name,
			 rd->bad ? "truncated" : "too many entries");
		return -1;
	}
	size_t bytes = 12 * (size_t)(d->nlog + d->nread);
	if (rd->len - rd->off < bytes) {
		snprintf(err, errlen, "device write log of %s: truncated", ops->name);
		return -1;
	}
	d->entries = rd->p + rd->off;
	rd->off += bytes;
	for (uint32_t k = 0; k < d->nlog + d->nread; k++) {
		struct devlog_entry e = entry_at(d->entries, k);
		const struct devlog_reg *g = find_reg(dl, e.off, e.ctx);
		enum devlog_class want = k < d->nlog ? DEVLOG_WRITE_ONLY : DEVLOG_READ_WRITE;
		if (!g || g->class != want || e.val & ~width_mask(dl)) {
			snprintf(err, errlen, "device write log of %s: entry %u (offset 0x%x, context %u, "
				 "value 0x%x) is not a %s register write of this device", ops->name, k,
				 e.off, e.ctx, e.val, want == DEVLOG_WRITE_ONLY ? "logged" : "readable");
			return -1;
		}
	}
	d->residue_version = vmrd_u16(rd);
	d->residue_len = vmrd_u32(rd);
	if (rd->bad || d->residue_len > DEVLOG_MAX_RESIDUE || rd->len - rd->off < d->residue_len ||
	    d->residue_version > dl->residue_version) {
		snprintf(err, errlen, "device write log of %s: residue %s", ops->name,
			 rd->bad ? "truncated" : d->residue_len > DEVLOG_MAX_RESIDUE ? "too long" :
			 rd->len - rd->off < d->residue_len ? "truncated" : "of an unknown version");
		return -1;
	}
	d->residue = rd->p + rd->off;
	rd->off += d->residue_len;
	return 0;
}

static void replay_dev(struct vm *vm, int i, const struct parsed_dev *d)
{
	const struct dev_ops *ops = vm->mmio[i].ops;
	const struct devlog_ops *dl = ops->devlog;
	void *dev = vm->mmio[i].dev;
	if (dl->replaying)
		dl->replaying(dev, true);
	for (uint32_t k = 0; k < d->nlog + d->nread; k++) {
		struct devlog_entry e = entry_at(d->entries, k);
		uint32_t old = swap_ctx(dl, dev, e.off, e.ctx);
		ops->write(dev, e.off, dl->width, e.val);
		swap_ctx(dl, dev, e.off, old);
	}
	if (dl->replaying)
		dl->replaying(dev, false);
}

int devlog_apply(struct vm *vm, const uint8_t *p, size_t len, unsigned version,
		 char *err, size_t errlen)
{
	struct vmrd rd = vmrd_of(p, len);
	struct parsed_dev d[VM_MAX_MMIO];
	if (version != DEVLOG_VERSION) {
		snprintf(err, errlen, "device write log version %u is not supported", version);
		return -1;
	}
	if (vmrd_u32(&rd) != (uint32_t)vm->nmmio || rd.bad) {
		snprintf(err, errlen, "device write log does not match the machine's %d devices", vm->nmmio);
		return -1;
	}
	for (int i = 0; i < vm->nmmio; i++)
		if (parse_dev(vm, i, &rd, &d[i], err, errlen))
			return -1;
	if (!vmrd_done(&rd)) {
		snprintf(err, errlen, "device write log: %zu bytes of trailing garbage", rd.len - rd.off);
		return -1;
	}
	/* All replays first, then all residues: replays drive interrupt lines
	 * into the PLIC, whose residue then sets its inputs as they were. */
	for (int i = 0; i < vm->nmmio; i++)
		replay_dev(vm, i, &d[i]);
	for (int i = 0; i < vm->nmmio; i++) {
		const struct devlog_ops *dl = vm->mmio[i].ops->devlog;
		struct vmrd r = vmrd_of(d[i].residue, d[i].residue_len);
		if (dl->residue_load ? dl->residue_load(vm->mmio[i].dev, &r, d[i].residue_version)
				     : !vmrd_done(&r)) {
			snprintf(err, errlen, "device write log of %s: residue is invalid",
				 vm->mmio[i].ops->name);
			return -1;
		}
	}
	/* The destination's logs continue from the source's. */
	struct devlog *log = vm->devlog;
	if (log) {
		for (int i = 0; i < vm->nmmio; i++) {
			struct region_log *r = &log->r[i];
			r->n = 0;
			for (uint32_t k = 0; k < d[i].nlog; k++) {
				struct devlog_entry e = entry_at(d[i].entries, k);
				log_put(log, r, e.off, e.ctx, e.val);
			}
		}
		log->invalid = NULL;
	}
	return 0;
}
