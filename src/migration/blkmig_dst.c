/* Storage migration, destination side (see blkmig.h): take the source's
 * description of its disks, prepare a target for each (the --disk path,
 * created when missing), check it before any RAM moves (same size, empty,
 * an identical chain of base images) and answer the source; then write the
 * BLOCK_BATCH sections through the target's driver. The stream is hostile:
 * each section is checked whole before anything is written. */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "block/block.h"
#include "block/qcow2.h"
#include "image/sum.h"
#include "machine/virt.h"
#include "migration/blkmig.h"
#include "migration/blkmig_dst.h"
#include "migration/channel.h"
#include "migration/mig_dst_priv.h"

#define FLUSH_EVERY (16u << 20)

struct blkmig_target {
	uint32_t index;
	struct blk_dev *d;
	uint64_t size;
	bool created;               /* we made the file: removed unless kept */
	uint64_t unflushed;         /* bytes written since the last flush */
	char path[4096];
};

struct blkmig_dst {
	struct blkmig_target t[VIRT_MAX_DISKS];
	int n;
	uint8_t *buf;               /* one BLOCK_BATCH payload */
};

/* The source's description of one base image. */
struct base_desc {
	uint64_t size;
	uint8_t sum[IMAGE_SUM_LEN];
	uint8_t format;
	char name[BLKMIG_NAME_MAX + 1];
};

struct disk_desc {
	uint32_t index;
	uint64_t size;
	uint8_t format, cluster_bits, nchain;
	struct base_desc chain[BLK_MAX_CHAIN];
};

struct cursor {
	const uint8_t *p;
	size_t left;
};

static int take(struct cursor *c, void *out, size_t n)
{
	if (c->left < n)
		return -1;
	memcpy(out, c->p, n);
	c->p += n;
	c->left -= n;
	return 0;
}

static int take32(struct cursor *c, uint32_t *v)
{
	if (take(c, v, 4))
		return -1;
	*v = le32toh(*v);
	return 0;
}

static int take64(struct cursor *c, uint64_t *v)
{
	if (take(c, v, 8))
		return -1;
	*v = le64toh(*v);
	return 0;
}

static int parse_disk(struct cursor *c, struct disk_desc *d)
{
	uint8_t b[4];
	if (take32(c, &d->index) || take64(c, &d->size) || take(c, b, 4))
		return -1;
	d->format = b[0];
	d->cluster_bits = b[1];
	d->nchain = b[2];
	if (d->format > 1 || d->nchain >= BLK_MAX_CHAIN || (d->format == 0 && d->nchain))
		return -1;
	for (int i = 0; i < d->nchain; i++) {
		struct base_desc *e = &d->chain[i];
		uint8_t f[4];
		if (take64(c, &e->size) || take(c, e->sum, IMAGE_SUM_LEN) || take(c, f, 4))
			return -1;
		e->format = f[0];
		unsigned nl = f[2] | (unsigned)f[3] << 8;
		if (e->format > 1 || !nl || nl > BLKMIG_NAME_MAX || take(c, e->name, nl))
			return -1;
		e->name[nl] = 0;
		if (memchr(e->name, 0, nl))
			return -1;
	}
	return 0;
}

/* Where the base of a copied disk is here: DIR/NAME with --base-dir, else
 * the source's own path. */
static void base_path(const struct mig_incoming *in, const char *src, char *out, size_t len)
{
	const char *slash = strrchr(src, '/');
	if (in->base_dir)
		snprintf(out, len, "%s/%s", in->base_dir, slash ? slash + 1 : src);
	else
		snprintf(out, len, "%s", src);
}

static void short_hex(const uint8_t *sum, char *out)
{
	char hex[2 * IMAGE_SUM_LEN + 1];
	image_sum_hex(sum, hex);
	snprintf(out, 17, "%.16s", hex);
}

/* A missing target: a qcow2 overlay over the base found here, or a sparse
 * raw file (a disk without a base). */
static int create_target(struct mig_incoming *in, const struct disk_desc *dd, const char *path,
			 const struct virt_disk *vd, char *err, size_t errlen)
{
	bool qcow2 = vd->format && !strcmp(vd->format, "qcow2");
	if (dd->nchain && !qcow2) {
		snprintf(err, errlen, "'%.300s' would be a raw file, but the source's disk is an overlay "
			 "over '%.300s': name a qcow2 target (format=qcow2)", path, dd->chain[0].name);
		return -1;
	}
	if (!qcow2) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, (off_t)dd->size)) {
			snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(path);
			}
			return -1;
		}
		close(fd);
		return 0;
	}
	char base[4200];
	struct qcow2_create_opts o = { .size = dd->size,
				       .cluster_bits = dd->cluster_bits >= 9 && dd->cluster_bits <= 21 ?
						       dd->cluster_bits : 0 };
	if (dd->nchain) {
		base_path(in, dd->chain[0].name, base, sizeof(base));
		if (access(base, R_OK)) {
			char h[17];
			short_hex(dd->chain[0].sum, h);
			snprintf(err, errlen, "base image '%.300s' is missing here (the source's is '%.300s', "
				 "%llu bytes, sha256 %s...)", base, dd->chain[0].name,
				 (unsigned long long)dd->chain[0].size, h);
			return -1;
		}
		o.backing = base;
		o.backing_format = dd->chain[0].format ? "qcow2" : "raw";
	}
	char why[512];
	if (qcow2_create(path, &o, why, sizeof(why))) {
		snprintf(err, errlen, "cannot create '%.300s': %.400s", path, why);
		return -1;
	}
	return 0;
}

/* The target's chain of bases must be the source's: same count, and each
 * level the same size and SHA-256. */
static int check_chain(const struct disk_desc *dd, struct blk_dev *d, char *err, size_t errlen)
{
	int n = 0;
	for (struct blk_dev *b = d->backing; b; b = b->backing)
		n++;
	if (n != dd->nchain) {
		snprintf(err, errlen, "the source's disk lies over %d base image%s%s%.300s%s, '%.300s' here over %d",
			 dd->nchain, dd->nchain == 1 ? "" : "s", dd->nchain ? " from '" : "",
			 dd->nchain ? dd->chain[0].name : "", dd->nchain ? "'" : "", d->path, n);
		return -1;
	}
	int i = 0;
	for (struct blk_dev *b = d->backing; b; b = b->backing, i++) {
		const struct base_desc *e = &dd->chain[i];
		uint8_t sum[IMAGE_SUM_LEN];
		uint64_t size;
		if (image_sha256(b->path, sum, &size, err, errlen))
			return -1;
		if (size != e->size || memcmp(sum, e->sum, IMAGE_SUM_LEN)) {
			char here[17], there[17];
			short_hex(sum, here);
			short_hex(e->sum, there);
			snprintf(err, errlen, "base image '%.300s' differs from the source's '%.300s' (%llu bytes, "
				 "sha256 %s... here; %llu bytes, sha256 %s... there)", b->path, e->name,
				 (unsigned long long)size, here, (unsigned long long)e->size, there);
			return -1;
		}
	}
	return 0;
}

static int setup_one(struct mig_incoming *in, const struct disk_desc *dd, char *err, size_t errlen)
{
	struct blkmig_dst *b = in->blk;
	struct virt_config *cfg = in->cfg;
	char why[1024];
	if (dd->index >= (uint32_t)cfg->ndisks || cfg->disk_sizes[dd->index] != dd->size) {
		snprintf(err, errlen, "disk %u: not in the configuration, or of another size", dd->index);
		return -1;
	}
	for (int i = 0; i < b->n; i++)
		if (b->t[i].index == dd->index) {
			snprintf(err, errlen, "disk %u is described twice", dd->index);
			return -1;
		}
	struct virt_disk *vd = &cfg->disks[dd->index];
	struct blkmig_target *t = &b->t[b->n];
	memset(t, 0, sizeof(*t));
	t->index = dd->index;
	t->size = dd->size;
	snprintf(t->path, sizeof(t->path), "%s", vd->path);
	if (vd->readonly) {
		snprintf(err, errlen, "disk %u: '%s' is read-only here: it cannot take the copy", dd->index,
			 vd->path);
		return -1;
	}
	if (access(vd->path, F_OK)) {
		if ((int)dd->index >= in->user_disks) {
			snprintf(err, errlen, "disk %u: '%.300s' does not exist here: name the copy with --disk "
				 "file=PATH (only a path given here is created)", dd->index, vd->path);
			return -1;
		}
		if (create_target(in, dd, vd->path, vd, why, sizeof(why))) {
			snprintf(err, errlen, "disk %u: %.900s", dd->index, why);
			return -1;
		}
		t->created = true;
	}
	b->n++;                     /* from here close() undoes what we made */
	t->d = virt_open_disk(vd, why, sizeof(why));
	if (!t->d) {
		snprintf(err, errlen, "disk %u: '%.300s': %.400s", dd->index, vd->path, why);
		return -1;
	}
	bool held = true;
	int r = blk_allocated(t->d, 0, t->d->size, &held);
	if (t->d->size != dd->size)
		snprintf(err, errlen, "disk %u: '%s' is %llu bytes, the source's disk %llu", dd->index,
			 vd->path, (unsigned long long)t->d->size, (unsigned long long)dd->size);
	else if (r || held)
		snprintf(err, errlen, "disk %u: '%s' already holds data: the target of a storage migration "
			 "must be new or empty", dd->index, vd->path);
	else if (check_chain(dd, t->d, why, sizeof(why)))
		snprintf(err, errlen, "disk %u: %.900s", dd->index, why);
	else
		return 0;
	return -1;
}

/* The verdict: u32 length and the reason, or 0. */
static int answer(struct mig_incoming *in, const char *why)
{
	size_t n = why ? strlen(why) : 0;
	if (n > BLKMIG_REPLY_MAX)
		n = BLKMIG_REPLY_MAX;
	uint32_t len = htole32((uint32_t)n);
	return mig_write_all(in->img.fd, &len, 4) || (n && mig_write_all(in->img.fd, why, n)) ? -1 : 0;
}

int blkmig_dst_setup(struct mig_incoming *in, const struct vms_section *s, char *err, size_t errlen)
{
	if (in->blk) {
		snprintf(err, errlen, "migration stream: a second disks section");
		return -1;
	}
	if (s->version != 1 || s->len > (1u << 20)) {
		snprintf(err, errlen, "migration stream: disks section version %u, %llu bytes: refused",
			 s->version, (unsigned long long)s->len);
		return -1;
	}
	uint8_t *buf = NULL;
	if (vms_read_payload(&in->img.r, s, &buf)) {
		snprintf(err, errlen, "%s", in->img.r.err);
		return -1;
	}
	struct blkmig_dst *b = calloc(1, sizeof(*b));
	struct disk_desc *dd = malloc(sizeof(*dd));
	in->blk = b;
	int rc = -1;
	if (!b || !dd || !(b->buf = malloc(BLKMIG_ENC_MAX))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	struct cursor c = { buf, s->len };
	uint32_t n;
	if (take32(&c, &n) || n == 0 || n > VIRT_MAX_DISKS) {
		snprintf(err, errlen, "migration stream: bad disks section");
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (parse_disk(&c, dd)) {
			snprintf(err, errlen, "migration stream: bad disks section (disk %u)", i);
			goto out;
		}
		if (setup_one(in, dd, err, errlen)) {
			answer(in, err);
			goto out;
		}
	}
	if (c.left) {
		snprintf(err, errlen, "migration stream: bad disks section (trailing bytes)");
		goto out;
	}
	if (answer(in, NULL)) {
		snprintf(err, errlen, "the source went away");
		goto out;
	}
	rc = 0;
out:
	free(dd);
	free(buf);
	return rc;
}

int blkmig_dst_batch(struct mig_incoming *in, const struct vms_section *s, char *err, size_t errlen)
{
	struct blkmig_dst *b = in->blk;
	if (!b || s->version != 1 || s->len < BLKMIG_HDR + 8 || s->len > BLKMIG_ENC_MAX) {
		snprintf(err, errlen, "migration stream: unexpected or bad block batch (%llu bytes)",
			 (unsigned long long)s->len);
		return -1;
	}
	if (mig_read_section(in, s, b->buf, err, errlen))
		return -1;
	uint32_t disk, n;
	memcpy(&disk, b->buf, 4);
	memcpy(&n, b->buf + 4, 4);
	disk = le32toh(disk);
	n = le32toh(n);
	struct blkmig_target *t = NULL;
	for (int i = 0; i < b->n; i++)
		if (b->t[i].index == disk && b->t[i].d)
			t = &b->t[i];
	if (!t || n == 0 || n > BLKMIG_BATCH_MAX || s->len < BLKMIG_HDR + 8ull * n) {
		snprintf(err, errlen, "migration stream: block batch for disk %u with %u chunks refused", disk, n);
		return -1;
	}
	/* Check every entry and the total length before writing one. */
	uint64_t need = BLKMIG_HDR + 8ull * n, chunks = blk_chunks(t->d);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e;
		memcpy(&e, b->buf + BLKMIG_HDR + 8ull * i, 8);
		e = le64toh(e);
		uint64_t c = e >> 1;
		if (c >= chunks) {
			snprintf(err, errlen, "migration stream: block batch entry %u (chunk %llu) is outside disk %u "
				 "(%llu chunks)", i, (unsigned long long)c, disk, (unsigned long long)chunks);
			return -1;
		}
		uint64_t at = c << BLK_CHUNK_BITS;
		if (!(e & 1))
			need += t->size - at < BLK_CHUNK ? t->size - at : BLK_CHUNK;
	}
	if (need != s->len) {
		snprintf(err, errlen, "migration stream: block batch of %llu bytes should have %llu",
			 (unsigned long long)s->len, (unsigned long long)need);
		return -1;
	}
	const uint8_t *data = b->buf + BLKMIG_HDR + 8ull * n;
	/* Flush as the copy goes: the one at the switch-over (in the guest's
	 * downtime) then only has the last few MiB to write back. */
	if (t->unflushed >= FLUSH_EVERY) {
		t->d->ops->flush(t->d);
		t->unflushed = 0;
	}
	t->unflushed += s->len;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e;
		memcpy(&e, b->buf + BLKMIG_HDR + 8ull * i, 8);
		e = le64toh(e);
		uint64_t at = (e >> 1) << BLK_CHUNK_BITS;
		size_t len = t->size - at < BLK_CHUNK ? (size_t)(t->size - at) : BLK_CHUNK;
		int r;
		if (e & 1) {
			r = t->d->ops->write_zeroes(t->d, at, len, true);
		} else {
			struct iovec v = { (void *)data, len };
			r = t->d->ops->pwritev(t->d, &v, 1, at);
			data += len;
		}
		if (r) {
			snprintf(err, errlen, "disk %u: writing '%s' at %llu failed: %s", disk, t->path,
				 (unsigned long long)at, strerror(-r));
			return -1;
		}
	}
	return 0;
}

int blkmig_dst_close(struct mig_incoming *in)
{
	struct blkmig_dst *b = in->blk;
	int rc = 0;
	for (int i = 0; b && i < b->n; i++) {
		struct blkmig_target *t = &b->t[i];
		if (t->d && t->d->ops->flush(t->d))
			rc = -1;
		blk_close(t->d);
		t->d = NULL;
	}
	return rc;
}

void blkmig_dst_free(struct mig_incoming *in, bool keep)
{
	struct blkmig_dst *b = in->blk;
	if (!b)
		return;
	blkmig_dst_close(in);
	for (int i = 0; i < b->n; i++)
		if (!keep && b->t[i].created && !unlink(b->t[i].path))
			fprintf(stderr, "tern: removed the partial copy '%s'\n", b->t[i].path);
	free(b->buf);
	free(b);
	in->blk = NULL;
}
