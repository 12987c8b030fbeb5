/* Snapshot save and restore on top of the section stream. The order of
 * sections is fixed: config, machine, harts, devices, RAM, end. The loader
 * insists on it and on every count, so a file from another board shape is
 * refused before any guest code runs. */
#define _GNU_SOURCE            /* mkostemp, sync_file_range */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mem/guest_ram.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older kernels answer EINVAL */
#endif

#include "core/vm.h"
#include "cpu/dcache.h"
#include "machine/virt.h"
#include "state/devlog.h"
#include "state/hart_state.h"
#include "state/snap_config.h"
#include "state/snap_lease.h"
#include "state/snap_verify.h"
#include "state/snapshot.h"
#include "state/vmbuf.h"
#include "block/block.h"

#define PAGE 4096u
#define MACHINE_VERSION 1
#define RAM_VERSION 1
#define RAM_HDR_LEN 40
#define RAM_CHUNKS_VERSION 1
#define RAM_CHUNKS_HDR_LEN 16

static int put_buf(struct vms_writer *w, uint32_t id, uint16_t inst, uint16_t ver, struct vmbuf *b);

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	for (unsigned i = 0; i < PAGE / 8; i += 8) {
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	}
	return true;
}

static uint64_t bitmap_bytes(uint64_t npages)
{
	return (npages + 63) / 64 * 8;
}

/* RAM_CHUNKS payload, after RAM: {chunk pages, reserved, chunk count}, then
 * a digest per chunk of its stored pages (snap_chunk_digest), so that a
 * restore can check RAM chunk by chunk as the guest reaches it
 * (state/snap_verify.h). The chunks' digests also cover the bitmap: a
 * flipped bit adds or drops a page from its chunk's digest. */
static int save_ram_chunks(struct vm *vm, struct vms_writer *w, const uint64_t *bm, uint64_t npages)
{
	uint64_t nchunks = (npages + SNAP_CHUNK_PAGES - 1) / SNAP_CHUNK_PAGES;
	struct vmbuf b = { 0 };
	vmbuf_put_u32(&b, SNAP_CHUNK_PAGES);
	vmbuf_put_u32(&b, 0);
	vmbuf_put_u64(&b, nchunks);
	for (uint64_t c = 0; c < nchunks && !b.oom; c++) {
		uint8_t d[SNAP_CHUNK_DIGEST_LEN];
		b.oom |= snap_chunk_digest(vm->mem.host, bm, npages, c, d) != 0;
		vmbuf_put_bytes(&b, d, sizeof(d));
	}
	return put_buf(w, VMS_ID_RAM_CHUNKS, 0, RAM_CHUNKS_VERSION, &b);
}

/* RAM payload: header {base, size, page size, reserved, image offset},
 * bitmap of stored pages, zero padding to a page boundary of the stream,
 * then the RAM image with holes where the bitmap says zero. */
static int save_ram(struct vm *vm, struct vms_writer *w, struct snap_stats *st)
{
	uint64_t npages = vm->mem.size / PAGE, bmlen = bitmap_bytes(npages);
	/* RAM restored from a snapshot whose chunks are still being checked
	 * (state/snap_verify.h): all of it checked before any of it is saved. */
	if (guest_ram_demand(&vm->mem, 0, vm->mem.size)) {
		snprintf(w->err, sizeof(w->err), "guest RAM is not all in place: %.200s", vm->exit_msg);
		return -1;
	}
	uint64_t *bm = calloc(1, bmlen);
	if (!bm) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		return -1;
	}
	/* Anonymous RAM the guest never touched is not resident: zero without
	 * looking (reading it would fault every page in). RAM mapped from a
	 * snapshot file has no such shortcut. */
	unsigned char *resident = vm->mem.file_backed ? NULL : malloc(npages);
	if (resident && mincore(vm->mem.host, vm->mem.size, resident)) {
		free(resident);
		resident = NULL;
	}
	for (uint64_t i = 0; i < npages; i++) {
		if ((!resident || (resident[i] & 1)) && !guest_ram_page_discarded(&vm->mem, i) &&
		    !page_is_zero(vm->mem.host + i * PAGE)) {
			bm[i / 64] |= 1ull << (i % 64);
			st->pages_normal++;
		} else {
			st->pages_zero++;
		}
	}
	free(resident);
	uint64_t start = w->off + VMS_SECTION_HDR_LEN + RAM_HDR_LEN + bmlen;
	uint64_t pad = (PAGE - start % PAGE) % PAGE;
	uint64_t image_off = RAM_HDR_LEN + bmlen + pad;
	struct vmbuf h = { 0 };
	vmbuf_put_u64(&h, vm->mem.base);
	vmbuf_put_u64(&h, vm->mem.size);
	vmbuf_put_u32(&h, PAGE);
	vmbuf_put_u32(&h, 0);
	vmbuf_put_u64(&h, image_off);
	vmbuf_put_u64(&h, st->pages_normal);
	static const uint8_t zeros[PAGE];
	int r = h.oom ||
		vms_section_begin(w, VMS_ID_RAM, 0, RAM_VERSION, image_off + vm->mem.size) ||
		vms_section_write(w, h.p, h.len) || vms_section_write(w, bm, bmlen) ||
		vms_section_write(w, zeros, pad);
	vmbuf_free(&h);
	/* Runs of stored pages are written in one go; runs of zero pages
	 * become holes. Each written run's writeback starts at once
	 * (sync_file_range), so the disk works while later runs are copied
	 * and the final fdatasync waits only for the tail: it made the save
	 * time follow the disk's queue less (docs/MIGRATION.md "Profile"). */
	for (uint64_t i = 0; i < npages && !r;) {
		bool present = (bm[i / 64] >> (i % 64)) & 1;
		uint64_t j = i + 1;
		while (j < npages && (((bm[j / 64] >> (j % 64)) & 1) == present) && j - i < 8192)
			j++;
		uint64_t at = w->off;
		r = present ? vms_section_write(w, vm->mem.host + i * PAGE, (j - i) * PAGE)
			    : vms_section_hole(w, (j - i) * PAGE);
		if (!r && present && w->seekable)
			sync_file_range(w->fd, (off_t)at, (off_t)((j - i) * PAGE), SYNC_FILE_RANGE_WRITE);
		i = j;
	}
	r = r || vms_section_end(w) || save_ram_chunks(vm, w, bm, npages);
	free(bm);
	return r ? -1 : 0;
}

static int put_buf(struct vms_writer *w, uint32_t id, uint16_t inst, uint16_t ver, struct vmbuf *b)
{
	if (b->oom) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		vmbuf_free(b);
		return -1;
	}
	int r = vms_put_section(w, id, inst, ver, b->p, b->len);
	vmbuf_free(b);
	return r;
}

int snap_write_config(struct vm *vm, struct vms_writer *w, char *err, size_t errlen)
{
	/* The disks' sizes as the guest sees them, from the open images (the
	 * board attaches them in --disk order). */
	uint64_t sizes[VIRT_MAX_DISKS] = { 0 };
	struct blk_dev *disks[VIRT_MAX_DISKS];
	int n = virt_disks(vm, disks, VIRT_MAX_DISKS);
	for (int i = 0; i < n; i++)
		sizes[i] = disks[i]->size;
	char *cfg = snap_config_encode(virt_board_config(vm), sizes, err, errlen);
	if (!cfg)
		return -1;
	int r = vms_put_section(w, VMS_ID_CONFIG, 0, 1, cfg, strlen(cfg));
	free(cfg);
	if (r)
		snprintf(err, errlen, "%s", w->err);
	return r;
}

static int64_t us_now(void)
{
	return host_mono_ns() / 1000;
}

int snap_write_state(struct vm *vm, struct vms_writer *w)
{
	int64_t cpu, dev;
	return snap_write_state_as(vm, w, SNAP_DEV_SAVE, &cpu, &dev, NULL);
}

/* Each registered device's own save, one buffer per device (name first). */
static int encode_saved(const struct devreg *reg, struct vmbuf *bufs, char *err, size_t errlen)
{
	for (int i = 0; i < reg->n; i++) {
		const struct devreg_entry *e = &reg->e[i];
		vmbuf_put_str(&bufs[i], e->name);
		if (e->save(e->opaque, &bufs[i])) {
			snprintf(err, errlen, "device %s could not save its state", e->name);
			return -1;
		}
	}
	return 0;
}

/* The device sections in the chosen form; with rep, both forms are
 * encoded and measured. VM lock held. */
static int write_devices(struct vm *vm, struct vms_writer *w, enum snap_dev_method method,
			 struct snap_dev_report *rep)
{
	const struct devreg *reg = &vm->devreg;
	struct vmbuf saved[DEVREG_MAX], logged = { 0 };
	struct devlog_stats ls = { 0 };
	memset(saved, 0, sizeof(saved));
	int r = 0, log_r = 0;
	if (rep || method == SNAP_DEV_SAVE) {
		int64_t t0 = us_now();
		r = encode_saved(reg, saved, w->err, sizeof(w->err));
		if (rep) {
			rep->save_us = us_now() - t0;
			for (int i = 0; i < reg->n; i++)
				rep->save_bytes += VMS_SECTION_HDR_LEN + saved[i].len + VMS_DIGEST_LEN;
		}
	}
	if (!r && (rep || method == SNAP_DEV_LOG)) {
		char why[200];
		int64_t t0 = us_now();
		log_r = devlog_encode(vm, &logged, &ls, why, sizeof(why));
		if (rep) {
			rep->log_us = us_now() - t0;
			rep->log_ok = !log_r;
			rep->log_bytes = log_r ? 0 : VMS_SECTION_HDR_LEN + logged.len + VMS_DIGEST_LEN;
			rep->log_entries = ls.entries;
			snprintf(rep->log_err, sizeof(rep->log_err), "%s", log_r ? why : "");
			rep->method = method;
		}
		if (log_r && method == SNAP_DEV_LOG) {
			snprintf(w->err, sizeof(w->err), "device write log: %s", why);
			r = -1;
		}
	}
	for (int i = 0; i < reg->n && !r && method == SNAP_DEV_SAVE; i++)
		r = put_buf(w, VMS_ID_DEVICE, (uint16_t)i, reg->e[i].state_version, &saved[i]);
	if (!r && method == SNAP_DEV_LOG)
		r = put_buf(w, VMS_ID_DEVLOG, 0, DEVLOG_VERSION, &logged);
	for (int i = 0; i < reg->n; i++)
		vmbuf_free(&saved[i]);
	vmbuf_free(&logged);
	return r;
}

int snap_write_state_as(struct vm *vm, struct vms_writer *w, enum snap_dev_method method,
			int64_t *cpu_us, int64_t *dev_us, struct snap_dev_report *rep)
{
	int64_t t0 = us_now();
	struct vmbuf b = { 0 };
	vmbuf_put_u64(&b, vm_guest_time(vm));
	vmbuf_put_u32(&b, (uint32_t)vm->cpus.nharts);
	vmbuf_put_u32(&b, (uint32_t)vm->devreg.n);
	vmbuf_put_u64(&b, vm->mem.size);
	int r = put_buf(w, VMS_ID_MACHINE, 0, MACHINE_VERSION, &b);

	/* Harts and devices under the VM lock: the I/O thread may deliver
	 * input (and raise interrupts) meanwhile. */
	pthread_mutex_lock(&vm->lock);
	for (int i = 0; i < vm->cpus.nharts && !r; i++) {
		hart_state_save(vm->cpus.harts[i], &b);
		r = put_buf(w, VMS_ID_HART, (uint16_t)i, HART_STATE_VERSION, &b);
	}
	int64_t t1 = us_now();
	*cpu_us = t1 - t0;
	if (!r)
		r = write_devices(vm, w, method, rep);
	pthread_mutex_unlock(&vm->lock);
	*dev_us = us_now() - t1;
	return r;
}

int snap_save_fd(struct vm *vm, int fd, struct snap_stats *st, char *err, size_t errlen)
{
	struct vms_writer w;
	memset(st, 0, sizeof(*st));
	st->ram_total = vm->mem.size;
	if (vms_writer_init(&w, fd)) {
		snprintf(err, errlen, "%s", w.err);
		return -1;
	}
	if (snap_write_config(vm, &w, err, errlen)) {
		vms_writer_cleanup(&w);
		return -1;
	}
	int r = snap_write_state(vm, &w) || save_ram(vm, &w, st) || vms_writer_finish(&w);
	st->bytes_written = w.off;
	if (r)
		snprintf(err, errlen, "%s", w.err);
	vms_writer_cleanup(&w);
	return r ? -1 : 0;
}

/* A snapshot replaces only a regular file (or nothing): renaming over a
 * device node, FIFO, socket or symlink would destroy it, not write to it. */
static int check_target(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot write snapshot %s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	snprintf(err, errlen, "cannot write snapshot %s: it is %s, not a regular file; "
		 "a snapshot only replaces a regular file", path,
		 S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode) ? "a directory" :
		 S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket" : "a device node");
	return -1;
}

/* A regular file at path, opened to keep its inode alive; -1 if none. */
static int open_replaced(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void *close_fd_thread(void *arg)
{
	close((int)(intptr_t)arg);
	return NULL;
}

/* Close fd off the caller's path (its last close may free a large file). */
static void release_later(int fd)
{
	if (fd < 0)
		return;
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, close_fd_thread, (void *)(intptr_t)fd))
		close(fd);
	pthread_attr_destroy(&a);
}

int snap_save_file(struct vm *vm, const char *path, struct snap_stats *st, char *err, size_t errlen)
{
	/* The temporary file: a fresh, unique name in PATH's folder (so the
	 * rename stays on one file system), created O_EXCL|O_NOFOLLOW, so
	 * nothing planted there beforehand is followed or reused. */
	char tmp[4200];
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	if (snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp-XXXXXX", dirlen, path,
		     slash ? slash + 1 : path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "snapshot path too long");
		return -1;
	}
	if (check_target(path, err, errlen))
		return -1;
	int fd = mkostemp(tmp, O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a temporary file next to %s: %s", path,
			 strerror(errno));
		return -1;
	}
	char why[256] = "";
	int r = snap_save_fd(vm, fd, st, why, sizeof(why));
	if (!r && fdatasync(fd)) {
		snprintf(why, sizeof(why), "cannot sync: %s", strerror(errno));
		r = -1;
	}
	if (close(fd) && !r) {
		snprintf(why, sizeof(why), "cannot close: %s", strerror(errno));
		r = -1;
	}
	/* Checked again: PATH may have changed while the VM was written. */
	if (!r && check_target(path, why, sizeof(why)))
		r = -1;
	/* A new inode replaces the old one: a VM still mapping the old file
	 * (restored from it) keeps its pages. */
	/* The file being replaced is held open across the rename, so the
	 * rename does not free its blocks and page cache (that took up to
	 * 250 ms on the dev machine); a detached thread closes it. */
	int old = r ? -1 : open_replaced(path);
	if (!r && rename(tmp, path)) {
		snprintf(why, sizeof(why), "cannot rename to %s: %s", path, strerror(errno));
		r = -1;
	}
	release_later(old);
	if (r) {
		unlink(tmp);
		snprintf(err, errlen, "snapshot to %s failed: %s", path, why);
	}
	return r;
}

/* ---- restore ---- */

/* The next section that is not an unknown optional one. */
static int next_known(struct snap_image *img, struct vms_section *s, char *err, size_t errlen)
{
	for (;;) {
		if (vms_next(&img->r, s)) {
			snprintf(err, errlen, "%s", img->r.err);
			return -1;
		}
		if (!(s->id & VMS_ID_OPTIONAL))
			return 0;
		if (vms_skip(&img->r, s)) {
			snprintf(err, errlen, "%s", img->r.err);
			return -1;
		}
	}
}

static int expect(struct snap_image *img, struct vms_section *s, uint32_t id, char *err, size_t errlen)
{
	if (next_known(img, s, err, errlen))
		return -1;
	if (s->id == id)
		return 0;
	snprintf(err, errlen, "%s: found a %s section (id %u) where the %s section belongs",
		 img->path, vms_section_name(s->id), s->id, vms_section_name(id));
	return -1;
}

/* A small section's verified payload. */
static int expect_payload(struct snap_image *img, uint32_t id, struct vms_section *s,
			  uint8_t **buf, char *err, size_t errlen)
{
	if (expect(img, s, id, err, errlen))
		return -1;
	if (vms_read_payload(&img->r, s, buf)) {
		snprintf(err, errlen, "%s", img->r.err);
		return -1;
	}
	return 0;
}

int snap_open(struct snap_image *img, const char *path, struct virt_config *cfg,
	      char *err, size_t errlen)
{
	memset(img, 0, sizeof(*img));
	/* Before the VM's threads exist: they inherit the blocked signal. */
	snap_lease_prepare();
	/* O_NONBLOCK: a FIFO must not hang the open; it is refused below. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open snapshot %s: %s", path, strerror(errno));
		img->fd = -1;
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || fcntl(fd, F_SETFL, 0)) {
		snprintf(err, errlen, "snapshot %s is not a regular file", path);
		close(fd);
		img->fd = -1;
		return -1;
	}
	return snap_open_fd(img, fd, path, cfg, err, errlen);
}

int snap_open_fd(struct snap_image *img, int fd, const char *name, struct virt_config *cfg,
		 char *err, size_t errlen)
{
	memset(img, 0, sizeof(*img));
	snprintf(img->path, sizeof(img->path), "%s", name);
	img->fd = fd;
	const char *path = img->path;
	if (vms_reader_init(&img->r, img->fd, img->path)) {
		snprintf(err, errlen, "%s", img->r.err);
		return -1;
	}
	struct vms_section s;
	uint8_t *p;
	if (expect_payload(img, VMS_ID_CONFIG, &s, &p, err, errlen))
		return -1;
	char why[200];
	int r = s.version != 1 ? -1 :
		snap_config_decode((const char *)p, s.len, cfg, &img->config, why, sizeof(why));
	free(p);
	if (r) {
		snprintf(err, errlen, "%s: %s", path, s.version != 1 ? "unknown configuration version" : why);
		return -1;
	}
	return 0;
}

/* Stored pages become copy-on-write views of the file, one mapping per run
 * (zero pages stay anonymous, so bytes in the file's holes never reach the
 * guest). A very fragmented bitmap would need too many mappings: then the
 * runs are read instead. */
#define MAX_RAM_MAPPINGS 16384

static bool bit(const uint64_t *bm, uint64_t i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

/* The next run of set bits at or after *i: [*i, *end). False at the end. */
static bool next_run(const uint64_t *bm, uint64_t npages, uint64_t *i, uint64_t *end)
{
	while (*i < npages && !bit(bm, *i))
		(*i)++;
	if (*i >= npages)
		return false;
	uint64_t j = *i + 1;
	while (j < npages && bit(bm, j))
		j++;
	*end = j;
	return true;
}

static int map_ram_runs(struct snap_image *img, struct vm *vm, const uint64_t *bm,
			uint64_t npages, uint64_t image_at)
{
	uint64_t runs = 0, i, j;
	for (i = 0; next_run(bm, npages, &i, &j); i = j)
		runs++;
	/* Mapped only under a read lease: without one, another process could
	 * truncate the file (SIGBUS in the VM) or write into its RAM. */
	bool map = runs <= MAX_RAM_MAPPINGS && (img->lease = snap_lease_take(img->fd, img->path));
	for (i = 0; next_run(bm, npages, &i, &j); i = j) {
		uint8_t *at = vm->mem.host + i * PAGE;
		size_t len = (j - i) * PAGE;
		off_t off = (off_t)(image_at + i * PAGE);
		if (map ? mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
			       img->fd, off) == MAP_FAILED
			: pread(img->fd, at, len, off) != (ssize_t)len) {
			snprintf(img->r.err, sizeof(img->r.err), "cannot load RAM from %.150s: %s",
				 img->path, strerror(errno));
			return -1;
		}
	}
	vm->mem.file_backed = map;
	if (map && snap_lease_arm(img->lease, vm, virt_loop(vm), bm, npages)) {
		snprintf(img->r.err, sizeof(img->r.err), "cannot watch %.150s for changes", img->path);
		return -1;
	}
	return 0;
}

/* The next section after RAM: RAM_CHUNKS, or the next one this reader
 * knows (other optional sections are skipped). */
static int next_after_ram(struct snap_image *img, struct vms_section *s, char *err, size_t errlen)
{
	for (;;) {
		if (vms_next(&img->r, s)) {
			snprintf(err, errlen, "%s", img->r.err);
			return -1;
		}
		if (s->id == VMS_ID_RAM_CHUNKS || !(s->id & VMS_ID_OPTIONAL))
			return 0;
		if (vms_skip(&img->r, s)) {
			snprintf(err, errlen, "%s", img->r.err);
			return -1;
		}
	}
}

/* The RAM_CHUNKS section's digests (payload p of len bytes), checked
 * against the machine: NULL if they do not fit it. */
static const uint8_t *chunk_digests(const uint8_t *p, uint64_t len, uint64_t npages)
{
	struct vmrd rd = vmrd_of(p, len < RAM_CHUNKS_HDR_LEN ? 0 : RAM_CHUNKS_HDR_LEN);
	uint32_t chunk_pages = vmrd_u32(&rd), reserved = vmrd_u32(&rd);
	uint64_t nchunks = vmrd_u64(&rd);
	if (len < RAM_CHUNKS_HDR_LEN || chunk_pages != SNAP_CHUNK_PAGES || reserved ||
	    nchunks != (npages + SNAP_CHUNK_PAGES - 1) / SNAP_CHUNK_PAGES ||
	    len != RAM_CHUNKS_HDR_LEN + nchunks * SNAP_CHUNK_DIGEST_LEN)
		return NULL;
	return p + RAM_CHUNKS_HDR_LEN;
}

/* Every stored page checked now, against the RAM section's digest (want):
 * a file without chunk digests, or RAM that was read rather than mapped. */
static int check_ram_now(struct snap_image *img, struct vm *vm, void *md, const struct vms_section *s,
			 const uint64_t *bm, uint64_t npages, const uint8_t *want)
{
	uint64_t i, j;
	/* Mapping the stored pages in one call per run costs a fraction of a
	 * read fault each; they stay the page cache's (copy-on-write), so
	 * clones still share them. Before Linux 5.14 they fault in. */
	for (i = 0; vm->mem.file_backed && next_run(bm, npages, &i, &j); i = j)
		madvise(vm->mem.host + i * PAGE, (j - i) * PAGE, MADV_POPULATE_READ);
	/* One update per run is much cheaper than one per page. */
	for (i = 0; next_run(bm, npages, &i, &j); i = j)
		vms_digest_update(md, vm->mem.host + i * PAGE, (j - i) * PAGE);
	return vms_digest_compare(&img->r, md, s, want);
}

/* RAM, and the RAM_CHUNKS section after it when there is one; *next gets
 * the section after those (its header only). Mapped RAM with chunk
 * digests is checked lazily (state/snap_verify.h); otherwise now. */
static int load_ram(struct snap_image *img, struct vm *vm, struct vms_section *next,
		    char *err, size_t errlen)
{
	struct vms_section s;
	if (expect(img, &s, VMS_ID_RAM, err, errlen))
		return -1;
	if (s.version != RAM_VERSION) {
		snprintf(err, errlen, "%s: RAM section version %u is not supported", img->path, s.version);
		return -1;
	}
	uint8_t h[RAM_HDR_LEN];
	if (s.len < RAM_HDR_LEN || vms_read(&img->r, h, sizeof(h))) {
		snprintf(err, errlen, "%s", s.len < RAM_HDR_LEN ? "RAM section too short" : img->r.err);
		return -1;
	}
	struct vmrd rd = vmrd_of(h, sizeof(h));
	uint64_t base = vmrd_u64(&rd), size = vmrd_u64(&rd);
	uint32_t page = vmrd_u32(&rd), reserved = vmrd_u32(&rd);
	uint64_t image_off = vmrd_u64(&rd), stored = vmrd_u64(&rd);
	uint64_t npages = vm->mem.size / PAGE, bmlen = bitmap_bytes(npages);
	uint64_t image_at = s.payload_off + image_off;
	if (reserved) {
		snprintf(err, errlen, "%s: the RAM section's reserved field is 0x%x, not 0", img->path,
			 reserved);
		return -1;
	}
	if (base != vm->mem.base || size != vm->mem.size || page != PAGE ||
	    image_off < RAM_HDR_LEN + bmlen || image_off - RAM_HDR_LEN - bmlen >= PAGE ||
	    s.len != image_off + size || image_at % PAGE || stored > npages) {
		snprintf(err, errlen, "%s: RAM section does not match the machine", img->path);
		return -1;
	}
	void *md = vms_digest_start(&s);
	uint8_t *rest = malloc(image_off - RAM_HDR_LEN), *chunks = NULL;
	uint8_t want[VMS_DIGEST_LEN];
	if (!md || !rest) {
		vms_digest_abort(md);
		free(rest);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	vms_digest_update(md, h, sizeof(h));
	int r = vms_read(&img->r, rest, image_off - RAM_HDR_LEN);
	const uint64_t *bm = (const uint64_t *)rest;
	if (!r) {
		vms_digest_update(md, rest, image_off - RAM_HDR_LEN);
		if (img->r.seekable) {
			r = map_ram_runs(img, vm, bm, npages, image_at);
			if (!r && lseek(img->fd, (off_t)size, SEEK_CUR) < 0)
				r = -1;
			img->r.off += size;
		} else {
			r = vms_read(&img->r, vm->mem.host, size);
		}
	}
	/* The RAM section's digest, then what follows: RAM_CHUNKS or not. */
	struct vms_section cs = { 0 };
	if (r || vms_read(&img->r, want, sizeof(want))) {
		snprintf(err, errlen, "%s", img->r.err);
		r = -1;
	}
	if (!r && !(r = next_after_ram(img, next, err, errlen)) && next->id == VMS_ID_RAM_CHUNKS) {
		cs = *next;
		if (vms_read_payload(&img->r, &cs, &chunks)) {
			snprintf(err, errlen, "%s", img->r.err);
			r = -1;
		} else if (!(r = next_after_ram(img, next, err, errlen)) && next->id == VMS_ID_RAM_CHUNKS) {
			snprintf(err, errlen, "%s: two RAM_CHUNKS sections", img->path);
			r = -1;
		}
	}
	uint64_t seen = 0, i, j;
	for (i = 0; !r && next_run(bm, npages, &i, &j); i = j)
		seen += j - i;
	const uint8_t *digests = chunks ? chunk_digests(chunks, cs.len, npages) : NULL;
	if (r) {
		vms_digest_abort(md);
	} else if (seen != stored) {
		vms_digest_abort(md);
		snprintf(err, errlen, "%s: RAM bitmap does not match its page count", img->path);
		r = -1;
	} else if (chunks && !digests) {
		vms_digest_abort(md);
		snprintf(err, errlen, "%s: the RAM_CHUNKS section does not match the machine", img->path);
		r = -1;
	} else if (digests && vm->mem.file_backed) {
		vms_digest_abort(md);
		img->verify = snap_verify_start(vm, img->path, bm, npages, digests,
						(npages + SNAP_CHUNK_PAGES - 1) / SNAP_CHUNK_PAGES, err, errlen);
		r = img->verify ? 0 : -1;
	} else if (check_ram_now(img, vm, md, &s, bm, npages, want)) {
		snprintf(err, errlen, "%s", img->r.err);
		r = -1;
	}
	free(rest);
	free(chunks);
	if (!r)
		vm_code_flush(vm);
	return r;
}

static int load_devlog(struct snap_image *img, struct vm *vm, const struct vms_section *s,
		       char *err, size_t errlen)
{
	uint8_t *p;
	char why[300];
	if (vms_read_payload(&img->r, s, &p)) {
		snprintf(err, errlen, "%s", img->r.err);
		return -1;
	}
	int r = devlog_apply(vm, p, s->len, s->version, why, sizeof(why));
	free(p);
	if (r)
		snprintf(err, errlen, "%s: %s", img->path, why);
	img->dev_method = SNAP_DEV_LOG;
	return r;
}

/* Devices in either form: one DEVLOG section, or a DEVICE section per
 * device in board order. */
static int load_devices(struct snap_image *img, struct vm *vm, char *err, size_t errlen)
{
	struct vms_section s;
	uint8_t *p;
	struct vmrd rd;
	if (next_known(img, &s, err, errlen))
		return -1;
	if (s.id == VMS_ID_DEVLOG)
		return load_devlog(img, vm, &s, err, errlen);
	img->dev_method = SNAP_DEV_SAVE;
	if (s.id != VMS_ID_DEVICE) {
		snprintf(err, errlen, "%s: found a %s section (id %u) where the device sections belong",
			 img->path, vms_section_name(s.id), s.id);
		return -1;
	}
	for (int i = 0; i < vm->devreg.n; i++) {
		if (i && expect(img, &s, VMS_ID_DEVICE, err, errlen))
			return -1;
		if (vms_read_payload(&img->r, &s, &p)) {
			snprintf(err, errlen, "%s", img->r.err);
			return -1;
		}
		const struct devreg_entry *e = &vm->devreg.e[i];
		char name[64];
		rd = vmrd_of(p, s.len);
		int r = -1;
		if (s.instance == i && vmrd_str(&rd, name, sizeof(name)) && !strcmp(name, e->name)) {
			struct vmrd dev = vmrd_of(p + rd.off, s.len - rd.off);
			r = s.version > e->state_version ? -1 : e->load(e->opaque, &dev, s.version);
		}
		free(p);
		if (r) {
			snprintf(err, errlen, "%s: state of device %d (%s, section version %u) is invalid "
				 "or of an unknown version", img->path, i, e->name, s.version);
			return -1;
		}
	}
	/* The write logs no longer describe the devices. */
	devlog_invalidate(vm->devlog);
	return 0;
}

int snap_load_state(struct snap_image *img, struct vm *vm, const struct vms_section *machine,
		    uint64_t *ticks_out, char *err, size_t errlen)
{
	struct vms_section s;
	uint8_t *p;
	if (machine) {
		s = *machine;
		if (vms_read_payload(&img->r, &s, &p)) {
			snprintf(err, errlen, "%s", img->r.err);
			return -1;
		}
	} else if (expect_payload(img, VMS_ID_MACHINE, &s, &p, err, errlen)) {
		return -1;
	}
	struct vmrd rd = vmrd_of(p, s.len);
	uint64_t ticks = vmrd_u64(&rd);
	uint32_t nharts = vmrd_u32(&rd), ndevs = vmrd_u32(&rd);
	uint64_t ram = vmrd_u64(&rd);
	bool ok = s.version == MACHINE_VERSION && vmrd_done(&rd) && nharts == (uint32_t)vm->cpus.nharts &&
		  ndevs == (uint32_t)vm->devreg.n && ram == vm->mem.size;
	free(p);
	if (!ok) {
		snprintf(err, errlen, "%s: machine section does not match the configuration", img->path);
		return -1;
	}
	for (int i = 0; i < vm->cpus.nharts; i++) {
		if (expect_payload(img, VMS_ID_HART, &s, &p, err, errlen))
			return -1;
		rd = vmrd_of(p, s.len);
		int r = s.instance != i ? -1 : hart_state_load(vm->cpus.harts[i], vm, i, &rd, s.version);
		free(p);
		if (r) {
			snprintf(err, errlen, "%s: hart %d state is invalid (section version %u)",
				 img->path, i, s.version);
			return -1;
		}
	}
	int64_t t0 = us_now();
	if (load_devices(img, vm, err, errlen))
		return -1;
	img->dev_load_us = us_now() - t0;
	/* Devices drive their outputs again: the PLIC makes each hart's SEIP
	 * agree with it. */
	devreg_post_load(&vm->devreg);
	*ticks_out = ticks;
	return 0;
}

int snap_load(struct snap_image *img, struct vm *vm, char *err, size_t errlen)
{
	struct vms_section s;
	uint8_t *p;
	uint64_t ticks;
	if (snap_load_state(img, vm, NULL, &ticks, err, errlen))
		return -1;
	if (load_ram(img, vm, &s, err, errlen))
		return -1;
	if (s.id != VMS_ID_END) {
		snprintf(err, errlen, "%s: found a %s section (id %u) where the %s section belongs",
			 img->path, vms_section_name(s.id), s.id, vms_section_name(VMS_ID_END));
		return -1;
	}
	if (vms_read_payload(&img->r, &s, &p)) {
		snprintf(err, errlen, "%s", img->r.err);
		return -1;
	}
	free(p);
	vm_set_guest_time(vm, ticks);
	return 0;
}

void snap_unwatch(struct snap_image *img)
{
	snap_lease_unwatch(img->lease);
}

void snap_stop_verify(struct snap_image *img)
{
	snap_verify_stop(img->verify);
}

void snap_close(struct snap_image *img)
{
	snap_verify_free(img->verify);
	img->verify = NULL;
	snap_lease_free(img->lease);
	img->lease = NULL;
	if (img->fd > 0)
		close(img->fd);
	img->fd = -1;
	json_decref(img->config);
	img->config = NULL;
}
