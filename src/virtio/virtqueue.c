/* Split virtqueue engine: the device side of the desc/avail/used rings in
 * guest RAM. Every guest value is read once, then checked before use. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include "core/vm.h"
#include "core/ramlog.h"
#include "virtio/virtqueue.h"

/* Layout offsets (virtio 1.2, 2.7.6 and 2.7.8). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING 4

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static uint16_t ld16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static uint16_t ld16_acq(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

static void st16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static void st32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

/* Read one descriptor exactly once. Ring tables are 16-byte aligned (checked
 * at enable); an indirect table might not be, so fall back to memcpy. */
static void read_desc(const uint8_t *p, struct desc *d)
{
	if (((uintptr_t)p & 7) == 0) {
		d->addr = le64toh(__atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED));
		d->len = le32toh(__atomic_load_n((const uint32_t *)(p + 8), __ATOMIC_RELAXED));
		d->flags = le16toh(__atomic_load_n((const uint16_t *)(p + 12), __ATOMIC_RELAXED));
		d->next = le16toh(__atomic_load_n((const uint16_t *)(p + 14), __ATOMIC_RELAXED));
	} else {
		uint8_t b[16];
		memcpy(b, p, 16);
		memcpy(&d->addr, b, 8);
		memcpy(&d->len, b + 8, 4);
		memcpy(&d->flags, b + 12, 2);
		memcpy(&d->next, b + 14, 2);
		d->addr = le64toh(d->addr);
		d->len = le32toh(d->len);
		d->flags = le16toh(d->flags);
		d->next = le16toh(d->next);
	}
}

/* The three areas' sizes for a queue of num entries (with the event words,
 * whether EVENT_IDX is on or not). */
static uint64_t desc_bytes(unsigned num) { return 16ull * num; }
static uint64_t avail_bytes(unsigned num) { return 6ull + 2ull * num; }
static uint64_t used_bytes(unsigned num) { return 6ull + 8ull * num; }

int virtq_enable(struct virtq *vq, struct vm *vm, unsigned num, uint64_t desc,
		 uint64_t avail, uint64_t used, uint64_t features)
{
	virtq_disable(vq);
	if (num == 0 || num > VIRTQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	if ((desc & 15) || (avail & 1) || (used & 3))
		return -EINVAL;
	/* With or without EVENT_IDX, the trailing event words are in range
	 * either way; checking them always keeps the accessors branch-free. */
	uint8_t *d = vm_ram_ptr(vm, desc, desc_bytes(num));
	uint8_t *a = vm_ram_ptr(vm, avail, avail_bytes(num));
	uint8_t *u = vm_ram_ptr(vm, used, used_bytes(num));
	if (!d || !a || !u)
		return -EINVAL;
	vq->vm = vm;
	vq->num = (uint16_t)num;
	vq->desc_pa = desc;
	vq->avail_pa = avail;
	vq->used_pa = used;
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	vq->event_idx = features & (1ull << VIRTIO_F_RING_EVENT_IDX);
	vq->indirect = features & (1ull << VIRTIO_F_RING_INDIRECT_DESC);
	return 0;
}

void virtq_visit_areas(const struct virtq *vq, void (*fn)(void *ctx, uint64_t pa, uint64_t len),
		       void *ctx)
{
	if (!virtq_ready(vq))
		return;
	fn(ctx, vq->desc_pa, desc_bytes(vq->num));
	fn(ctx, vq->avail_pa, avail_bytes(vq->num));
	fn(ctx, vq->used_pa, used_bytes(vq->num));
}

void virtq_disable(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
}

/* Append descriptor d to the chain after its checks. */
static int add_seg(struct virtq *vq, struct virtq_chain *c, const struct desc *d)
{
	bool w = d->flags & VIRTQ_DESC_F_WRITE;

	if (!w && c->nseg > c->nread)
		return -EINVAL;         /* readable after writable */
	if (d->len == 0)
		return 0;
	uint8_t *p = vm_ram_ptr(vq->vm, d->addr, d->len);
	if (!p || c->nseg >= VIRTQ_MAX_SEGS)
		return -EINVAL;
	c->seg[c->nseg].ptr = p;
	c->seg[c->nseg].len = d->len;
	c->nseg++;
	if (w) {
		c->write_len += d->len;
	} else {
		c->nread++;
		c->read_len += d->len;
	}
	return 0;
}

/* Walk an indirect table; its descriptors index the table itself. */
static int walk_indirect(struct virtq *vq, struct virtq_chain *c, const struct desc *ind)
{
	if (!vq->indirect || (ind->flags & VIRTQ_DESC_F_NEXT) ||
	    ind->len == 0 || (ind->len & 15) || ind->len / 16 > VIRTQ_MAX_SEGS)
		return -EINVAL;
	const uint8_t *tab = vm_ram_ptr(vq->vm, ind->addr, ind->len);
	if (!tab)
		return -EINVAL;
	unsigned n = ind->len / 16, i = 0;
	for (unsigned steps = 0;; steps++) {
		struct desc d;
		if (steps >= n)
			return -EINVAL;  /* loop */
		read_desc(tab + 16u * i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return -EINVAL;  /* nested */
		int r = add_seg(vq, c, &d);
		if (r)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return -EINVAL;
		i = d.next;
	}
}

/* The device wrote n bytes at offset off of the used ring. */
static void used_written(struct virtq *vq, uint32_t off, uint32_t n)
{
	ram_written(vq->vm, NULL, (uint64_t)(vq->used + off - vq->vm->mem.host), n);
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	if (!vq->num)
		return 0;
	uint16_t avail_idx = ld16_acq(vq->avail + AVAIL_IDX);
	if (avail_idx == vq->last_avail) {
		if (!vq->event_idx)
			return 0;
		/* Ask to be kicked at the next buffer, then look once more: the
		 * driver may have added one before it saw avail_event move. */
		st16(vq->used + USED_RING + 8u * vq->num, vq->last_avail);
		used_written(vq, USED_RING + 8u * vq->num, 2);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = ld16_acq(vq->avail + AVAIL_IDX);
		if (avail_idx == vq->last_avail)
			return 0;
	}
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num)
		return -EINVAL;
	uint16_t head = ld16(vq->avail + AVAIL_RING + 2u * (vq->last_avail & (vq->num - 1)));
	if (head >= vq->num)
		return -EINVAL;

	c->head = head;
	c->nseg = c->nread = 0;
	c->read_len = c->write_len = 0;
	unsigned i = head;
	for (unsigned steps = 0;; steps++) {
		struct desc d;
		if (steps >= vq->num)
			return -EINVAL;  /* loop, or longer than the queue */
		read_desc(vq->desc + 16u * i, &d);
		int r = (d.flags & VIRTQ_DESC_F_INDIRECT) ? walk_indirect(vq, c, &d)
							  : add_seg(vq, c, &d);
		if (r)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= vq->num)
			return -EINVAL;
		i = d.next;
	}
	vq->last_avail++;
	if (vq->event_idx) {
		st16(vq->used + USED_RING + 8u * vq->num, vq->last_avail);
		used_written(vq, USED_RING + 8u * vq->num, 2);
	}
	return 1;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	if (!vq->num)
		return;
	uint8_t *e = vq->used + USED_RING + 8u * (vq->used_idx & (vq->num - 1));
	st32(e, head);
	st32(e + 4, len);
	vq->used_idx++;
	vq->pushed = true;
	/* Release: the element (and the data) are visible before the idx. */
	__atomic_store_n((uint16_t *)(vq->used + USED_IDX), htole16(vq->used_idx),
			 __ATOMIC_RELEASE);
	used_written(vq, USED_IDX, 2);
	used_written(vq, (uint32_t)(e - vq->used), 8);
}

void virtq_push_n(struct virtq *vq, const struct virtq_used_elem *e, unsigned n)
{
	if (!vq->num || !n)
		return;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *u = vq->used + USED_RING + 8u * ((uint16_t)(vq->used_idx + i) & (vq->num - 1));
		st32(u, e[i].head);
		st32(u + 4, e[i].len);
		used_written(vq, (uint32_t)(u - vq->used), 8);
	}
	vq->used_idx += (uint16_t)n;
	vq->pushed = true;
	__atomic_store_n((uint16_t *)(vq->used + USED_IDX), htole16(vq->used_idx),
			 __ATOMIC_RELEASE);
	used_written(vq, USED_IDX, 2);
}

bool virtq_unpop(struct virtq *vq, unsigned n)
{
	if (!vq->num)
		return false;
	vq->last_avail -= (uint16_t)n;
	if (!vq->event_idx)
		return false;
	/* Kick me when the ring grows past what is there now. */
	uint16_t seen = ld16_acq(vq->avail + AVAIL_IDX);
	st16(vq->used + USED_RING + 8u * vq->num, seen);
	used_written(vq, USED_RING + 8u * vq->num, 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ld16_acq(vq->avail + AVAIL_IDX) != seen;
}

bool virtq_need_notify(struct virtq *vq)
{
	if (!vq->num || !vq->pushed)
		return false;
	vq->pushed = false;
	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_valid;

	vq->signalled_used = new;
	vq->signalled_valid = true;
	/* Order the used idx store before reading the driver's suppression. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(ld16(vq->avail + AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	uint16_t event = ld16(vq->avail + AVAIL_RING + 2u * vq->num);
	/* vring_need_event: did new pass event since old? */
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

size_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *buf, size_t len)
{
	uint8_t *out = buf;
	size_t done = 0;

	for (unsigned i = 0; i < c->nread && done < len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		size_t n = s->len - off;
		if (n > len - done)
			n = len - done;
		memcpy(out + done, s->ptr + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t virtq_chain_write(struct virtq *vq, const struct virtq_chain *c, uint64_t off,
			 const void *buf, size_t len)
{
	const uint8_t *in = buf;
	size_t done = 0;

	for (unsigned i = c->nread; i < c->nseg && done < len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		size_t n = s->len - off;
		if (n > len - done)
			n = len - done;
		memcpy(s->ptr + off, in + done, n);
		ram_written(vq->vm, NULL, (uint64_t)(s->ptr + off - vq->vm->mem.host), n);
		done += n;
		off = 0;
	}
	return done;
}

void virtq_chain_written(struct virtq *vq, const struct virtq_chain *c, uint64_t len)
{
	for (unsigned i = c->nread; i < c->nseg && len; i++) {
		uint64_t n = c->seg[i].len < len ? c->seg[i].len : len;
		ram_written(vq->vm, NULL, (uint64_t)(c->seg[i].ptr - vq->vm->mem.host), n);
		len -= n;
	}
}
