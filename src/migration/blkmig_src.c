/* Storage migration, source side (see blkmig.h): describe the disks and
 * their bases, then copy chunks of each disk the guest writes, re-sending
 * the ones its writes dirty, until the switch-over sends the last ones. The
 * disk is read under the VM lock, which virtio-blk holds for each request,
 * so a chunk is read whole between two guest writes. */
#define _GNU_SOURCE
#include <errno.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "block/block.h"
#include "block/qcow2.h"
#include "core/vm.h"
#include "image/sum.h"
#include "machine/virt.h"
#include "migration/blkmig.h"
#include "migration/blkmig_src.h"
#include "migration/mig_src_priv.h"
#include "migration/rampages.h"

/* Bulk rounds stop once this little is dirty (the rest goes with RAM). */
#define BULK_LEFT_CHUNKS 64
#define BULK_ROUNDS 8
#define REPLY_TIMEOUT_S 600      /* the destination may hash a large base */

struct blkmig_disk {
	struct blk_dev *d;
	uint32_t index;             /* in the configuration's disk list */
	uint64_t chunks;
	uint64_t *todo;             /* chunks to send */
};

struct blkmig_src {
	struct blkmig_disk disk[VIRT_MAX_DISKS];
	int n;
	uint8_t *enc;               /* one BLOCK_BATCH payload */
};

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint8_t fmt_code(const struct blk_dev *d)
{
	return !strcmp(d->ops->format, "qcow2") ? 1 : 0;
}

/* One disk's description: index, size, format, cluster bits, the chain of
 * base images with their sizes and sums. Appends to *buf. -1 with err. */
static int describe(struct blkmig_disk *k, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	struct blk_dev *d = k->d;
	int nchain = 0;
	for (struct blk_dev *b = d->backing; b; b = b->backing)
		nchain++;
	size_t need = *len + 16 + (size_t)nchain * (8 + 32 + 4 + BLKMIG_NAME_MAX);
	uint8_t *p = realloc(*buf, need);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*buf = p;
	p += *len;
	struct qcow2_stats st;
	put32(p, k->index);
	put64(p + 4, d->size);
	p[12] = fmt_code(d);
	p[13] = !qcow2_get_stats(d, &st) ? (uint8_t)__builtin_ctzll(st.cluster_size) : 0;
	p[14] = (uint8_t)nchain;
	p[15] = 0;
	p += 16;
	for (struct blk_dev *b = d->backing; b; b = b->backing) {
		uint8_t sum[IMAGE_SUM_LEN];
		uint64_t size;
		char *abs = realpath(b->path, NULL);
		const char *name = abs ? abs : b->path;
		if (image_sha256(name, sum, &size, err, errlen)) {
			free(abs);
			return -1;
		}
		size_t nl = strlen(name);
		if (nl > BLKMIG_NAME_MAX) {
			snprintf(err, errlen, "base image path '%.200s...' is too long", name);
			free(abs);
			return -1;
		}
		put64(p, size);
		memcpy(p + 8, sum, 32);
		p[40] = fmt_code(b);
		p[41] = 0;
		p[42] = (uint8_t)(nl & 0xff);
		p[43] = (uint8_t)(nl >> 8);
		memcpy(p + 44, name, nl);
		p += 44 + nl;
		free(abs);
	}
	*len = (size_t)(p - *buf);
	return 0;
}

/* The destination's verdict on the disks: u32 length, then that many bytes
 * of reason (0: accepted). */
static int read_verdict(struct migration *m)
{
	struct timeval tv = { REPLY_TIMEOUT_S, 0 }, stall = { MIG_STALL_TIMEOUT_MS / 1000, 0 };
	setsockopt(m->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint32_t len;
	char why[BLKMIG_REPLY_MAX + 1];
	int r = mig_read_all(m->fd, &len, 4);
	len = le32toh(len);
	if (!r && len > BLKMIG_REPLY_MAX)
		r = -1;
	if (!r && len)
		r = mig_read_all(m->fd, why, len);
	setsockopt(m->fd, SOL_SOCKET, SO_RCVTIMEO, &stall, sizeof(stall));
	if (r) {
		snprintf(m->err, sizeof(m->err), "the destination did not accept the disks (closed or "
			 "timed out: does it run a tern with storage migration?)");
		return -1;
	}
	if (len) {
		why[len] = 0;
		snprintf(m->err, sizeof(m->err), "the destination refused the disks: %.590s", why);
		return -1;
	}
	return 0;
}

/* Mark every chunk the disk's own image holds; the rest reads through to a
 * base the destination has too (or is a hole: zeroes on both ends). */
static int mark_allocated(struct migration *m, struct blkmig_disk *k, uint64_t *count)
{
	for (uint64_t c = 0; c < k->chunks; c++) {
		bool held;
		uint64_t off = c << BLK_CHUNK_BITS;
		uint64_t len = k->d->size - off < BLK_CHUNK ? k->d->size - off : BLK_CHUNK;
		if ((c & 1023) == 0)
			pthread_mutex_lock(&m->vm->lock);
		int r = blk_allocated(k->d, off, len, &held);
		if ((c & 1023) == 1023 || c + 1 == k->chunks || r)
			pthread_mutex_unlock(&m->vm->lock);
		if (r) {
			snprintf(m->err, sizeof(m->err), "disk %u: cannot map '%s' (%s)", k->index, k->d->path,
				 strerror(-r));
			return -1;
		}
		if (held) {
			k->todo[c >> 6] |= 1ull << (c & 63);
			(*count)++;
		}
	}
	return 0;
}

int blkmig_src_start(struct migration *m)
{
	struct blkmig_src *b = calloc(1, sizeof(*b));
	uint8_t *desc = NULL;
	size_t dlen = 4;
	char why[256];
	m->blk = b;                 /* blkmig_src_stop frees it, whatever happens */
	if (!b || !(b->enc = malloc(BLKMIG_ENC_MAX)) || !(desc = malloc(4))) {
		snprintf(m->err, sizeof(m->err), "out of memory");
		goto fail;
	}
	/* The board's disks come in the configuration's disk order. */
	struct blk_dev *disks[VIRT_MAX_DISKS];
	int ndisks = virt_disks(m->vm, disks, VIRT_MAX_DISKS);
	uint32_t index = 0;
	for (int i = 0; i < ndisks; i++) {
		struct blk_dev *d = disks[i];
		if (!d->readonly && b->n < VIRT_MAX_DISKS) {
			struct blkmig_disk *k = &b->disk[b->n++];
			k->d = d;
			k->index = index;
			k->chunks = blk_chunks(d);
			if (!(k->todo = calloc((k->chunks + 63) / 64 + 1, 8))) {
				snprintf(m->err, sizeof(m->err), "out of memory");
				goto fail;
			}
			if (describe(k, &desc, &dlen, why, sizeof(why))) {
				snprintf(m->err, sizeof(m->err), "disk %u: %.250s", index, why);
				goto fail;
			}
		}
		index++;
	}
	if (!b->n) {
		snprintf(m->err, sizeof(m->err), "--copy-storage: the VM has no writable disk to copy");
		goto fail;
	}
	put32(desc, (uint32_t)b->n);
	if (vms_put_section(&m->w, VMS_ID_DISKS, 0, 1, desc, dlen)) {
		snprintf(m->err, sizeof(m->err), "%s", m->w.err);
		goto fail;
	}
	free(desc);
	desc = NULL;
	if (read_verdict(m))
		return -1;
	/* The log first, then the map: a write in between is sent twice,
	 * never missed. */
	pthread_mutex_lock(&m->vm->lock);
	int r = 0;
	for (int i = 0; i < b->n; i++)
		r |= blk_dirty_start(b->disk[i].d);
	pthread_mutex_unlock(&m->vm->lock);
	if (r) {
		snprintf(m->err, sizeof(m->err), "out of memory for the disks' dirty logs");
		return -1;
	}
	uint64_t count = 0;
	for (int i = 0; i < b->n; i++)
		if (mark_allocated(m, &b->disk[i], &count))
			return -1;
	pthread_mutex_lock(&m->lock);
	m->info.disk_copy = true;
	m->info.disk_total = count * BLK_CHUNK;
	m->info.disk_remaining = count * BLK_CHUNK;
	pthread_mutex_unlock(&m->lock);
	return 0;
fail:
	free(desc);
	return -1;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 4096 <= n; i += 4096)
		if (!ram_page_is_zero(p + i))
			return false;
	for (; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Send chunks[0..n) of disk k as one BLOCK_BATCH; bytes on the wire. */
static int64_t send_batch(struct migration *m, struct blkmig_disk *k, const uint64_t *chunks, uint32_t n)
{
	uint8_t *e = m->blk->enc;
	size_t off = BLKMIG_HDR + 8ull * n;
	put32(e, k->index);
	put32(e + 4, n);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t at = chunks[i] << BLK_CHUNK_BITS;
		size_t len = k->d->size - at < BLK_CHUNK ? (size_t)(k->d->size - at) : BLK_CHUNK;
		struct iovec v = { e + off, len };
		pthread_mutex_lock(&m->vm->lock);
		int r = k->d->ops->preadv(k->d, &v, 1, at);
		pthread_mutex_unlock(&m->vm->lock);
		if (r) {
			snprintf(m->err, sizeof(m->err), "disk %u: reading '%s' at %llu failed: %s", k->index,
				 k->d->path, (unsigned long long)at, strerror(-r));
			return -1;
		}
		bool zero = all_zero(e + off, len);
		put64(e + BLKMIG_HDR + 8ull * i, chunks[i] << 1 | (zero ? 1 : 0));
		if (!zero)
			off += len;
	}
	if (vms_put_section(&m->w, VMS_ID_BLOCK_BATCH, 0, 1, e, off)) {
		snprintf(m->err, sizeof(m->err), "%s", m->w.err);
		return -1;
	}
	pthread_mutex_lock(&m->lock);
	m->info.disk_transferred += off;
	uint64_t done = (uint64_t)n * BLK_CHUNK;
	m->info.disk_remaining -= m->info.disk_remaining < done ? m->info.disk_remaining : done;
	pthread_mutex_unlock(&m->lock);
	if (!m->paused)
		mig_pace(m, off);
	return (int64_t)off;
}

int64_t blkmig_src_send(struct migration *m)
{
	struct blkmig_src *b = m->blk;
	int64_t total = 0;
	for (int i = 0; i < b->n; i++) {
		struct blkmig_disk *k = &b->disk[i];
		uint64_t chunks[BLKMIG_BATCH_MAX];
		uint32_t n = 0;
		for (uint64_t w = 0; w < (k->chunks + 63) / 64; w++) {
			uint64_t bits = k->todo[w];
			k->todo[w] = 0;
			while (bits) {
				chunks[n++] = w * 64 + (uint64_t)__builtin_ctzll(bits);
				bits &= bits - 1;
				if (n == BLKMIG_BATCH_MAX) {
					int64_t s = atomic_load(&m->cancel) ? -1 : send_batch(m, k, chunks, n);
					if (s < 0)
						return -1;
					total += s;
					n = 0;
				}
			}
		}
		if (n) {
			int64_t s = send_batch(m, k, chunks, n);
			if (s < 0)
				return -1;
			total += s;
		}
	}
	return total;
}

uint64_t blkmig_src_harvest(struct migration *m)
{
	struct blkmig_src *b = m->blk;
	uint64_t pending = 0;
	pthread_mutex_lock(&m->vm->lock);
	for (int i = 0; i < b->n; i++)
		blk_dirty_take(b->disk[i].d, b->disk[i].todo);
	pthread_mutex_unlock(&m->vm->lock);
	for (int i = 0; i < b->n; i++)
		for (uint64_t w = 0; w < (b->disk[i].chunks + 63) / 64; w++)
			pending += (uint64_t)__builtin_popcountll(b->disk[i].todo[w]);
	pthread_mutex_lock(&m->lock);
	m->info.disk_remaining = pending * BLK_CHUNK;
	pthread_mutex_unlock(&m->lock);
	return pending;
}

int blkmig_src_bulk(struct migration *m)
{
	for (int round = 0;; round++) {
		if (blkmig_src_send(m) < 0)
			return -1;
		if (atomic_load(&m->cancel))
			return -1;
		uint64_t left = blkmig_src_harvest(m);
		if (left <= BULK_LEFT_CHUNKS || round + 1 >= BULK_ROUNDS)
			return 0;
	}
}

int blkmig_src_final(struct migration *m)
{
	blkmig_src_harvest(m);
	return blkmig_src_send(m) < 0 ? -1 : 0;
}

void blkmig_src_stop(struct migration *m)
{
	struct blkmig_src *b = m->blk;
	if (!b)
		return;
	pthread_mutex_lock(&m->vm->lock);
	for (int i = 0; i < b->n; i++)
		blk_dirty_stop(b->disk[i].d);
	pthread_mutex_unlock(&m->vm->lock);
	for (int i = 0; i < b->n; i++)
		free(b->disk[i].todo);
	free(b->enc);
	free(b);
	m->blk = NULL;
}
