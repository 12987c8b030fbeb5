/* Live migration, source side: a thread that connects, authenticates,
 * sends the configuration, copies RAM in pre-copy rounds while the guest
 * runs (or everything at once for stop-and-copy), then stops the guest,
 * sends what is still dirty, hands the disks over, sends harts and devices
 * and waits for the destination to say it runs. Until that reply, any
 * failure or a cancel leaves the source running as before. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include "migration/migration.h"
#include "migration/mig_src_priv.h"
#include "migration/mig_switch.h"
#include "migration/postcopy_src.h"
#include "migration/rampages.h"
#include "migration/xbzrle.h"
#include "migration/blkmig_src.h"
#include "migration/mig_uri.h"
#include "pki/tls.h"
#include "core/ramlog.h"
#include "core/vm.h"
#include "state/snapshot.h"
#include "state/stream.h"
#include "block/block.h"

#define MAX_ROUNDS 30
/* Below this expected downtime, further rounds are not worth their time. */
#define DOWNTIME_FLOOR_MS 5.0
/* Up to this expected downtime (and within the limit), a guest whose dirty
 * set stopped shrinking switches over at once; above it, it is slowed for
 * one last round first. */
#define SETTLE_MS 20.0

void mig_get_info(struct migration *m, struct mig_info *out)
{
	pthread_mutex_lock(&m->lock);
	*out = m->info;
	if (out->status != MIG_COMPLETED && out->status != MIG_FAILED && out->status != MIG_CANCELLED)
		out->total_ms = (mig_now_us() - m->t0) / 1000;
	pthread_mutex_unlock(&m->lock);
}

bool mig_is_active(struct migration *m)
{
	struct mig_info i;
	mig_get_info(m, &i);
	return i.status == MIG_SETUP || i.status == MIG_ACTIVE || i.status == MIG_PRE_SWITCHOVER ||
	       i.status == MIG_DEVICE ||
	       i.status == MIG_POSTCOPY_ACTIVE || i.status == MIG_CANCELLING;
}

/* XBZRLE: from round 2 on, pages go as deltas against what was sent of
 * them before (the cache fills as they go whole the first time): round 1
 * sends everything once, and caching it would hold a copy of all of RAM.
 * The cache is made during round 1, once the early dirty-rate sample says
 * how many pages the guest rewrites, and that many slots are mapped
 * meanwhile. Without memory for the cache, pages go whole. */
static void make_xbzrle_cache(struct migration *m, uint64_t hot_pages)
{
	if (!m->p.xbzrle || m->xb)
		return;
	m->xb = xbz_cache_new(guest_ram_pages(&m->vm->mem), m->p.xbzrle_cache_size);
	if (m->xb)
		xbz_cache_prefault(m->xb, hot_pages + hot_pages / 4);
	pthread_mutex_lock(&m->lock);
	m->info.xbz_cache_size = m->xb ? xbz_cache_bytes(m->xb) : 0;
	pthread_mutex_unlock(&m->lock);
}

static void start_xbzrle(struct migration *m)
{
	make_xbzrle_cache(m, 0);
	m->xb_active = m->xb != NULL;
}

static void stop_xbzrle(struct migration *m)
{
	m->xb_active = false;
	xbz_cache_free(m->xb);
	m->xb = NULL;
}

/* How far into a round the dirty rate is sampled: early enough that a
 * guest rewriting a hot set has not yet dirtied all of it (the count then
 * stops growing, and says nothing about the rate). */
#define RATE_SAMPLE_US 20000

/* During a pre-copy round: the first time RATE_SAMPLE_US have passed,
 * count the pages the guest dirtied since the round began. In round 1 that
 * count also sizes the XBZRLE cache's early mapping. */
static void sample_dirty_rate(struct migration *m, unsigned round)
{
	if (m->rate_us || !m->logging)
		return;
	int64_t dt = mig_now_us() - m->round_t0;
	if (dt < RATE_SAMPLE_US)
		return;
	m->rate_pages = guest_ram_log_count(&m->vm->mem);
	m->rate_us = dt;
	if (round == 1)
		make_xbzrle_cache(m, m->rate_pages);
}

/* Send every page whose bit is set (clearing the bits). Returns bytes put
 * on the wire, or -1. Batches go through the batch buffer also while the
 * guest is parked in the switch-over: one copy and one write per batch
 * measured 3-4x faster there than a writev of the pages straight from
 * guest RAM (257 iovecs a call; 9-11 ms against 28-47 ms for the 32 MiB
 * hot set of bench/migrate.py's "small" case; docs/MIGRATION.md). */
static int64_t send_pages(struct migration *m, unsigned round)
{
	uint64_t pages[RAM_BATCH_MAX_PAGES];
	uint32_t n = 0;
	uint64_t before = m->w.off;
	for (uint64_t wi = 0; wi < m->words; wi++) {
		uint64_t bits = m->bitmap[wi];
		m->bitmap[wi] = 0;
		while (bits) {
			unsigned b = (unsigned)__builtin_ctzll(bits);
			bits &= bits - 1;
			pages[n++] = wi * 64 + b;
			if (n == RAM_BATCH_MAX_PAGES) {
				if (atomic_load(&m->cancel) || mig_send_batch(m, pages, n, 0))
					return -1;
				n = 0;
				sample_dirty_rate(m, round);
			}
		}
	}
	if (n && mig_send_batch(m, pages, n, 0))
		return -1;
	return (int64_t)(m->w.off - before);
}

/* Round 1: every page the guest may have touched. Pages that were never
 * touched (neither present nor swapped, by /proc/self/pagemap) or that the
 * guest gave back (virtio-balloon) are zero on the destination already and
 * are only counted; a write after the log started sends them again. */
static void mark_all_pages(struct migration *m)
{
	uint64_t npages = guest_ram_pages(&m->vm->mem), skipped = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t buf[512];
	for (uint64_t p = 0; p < npages; p += 512) {
		uint64_t n = npages - p < 512 ? npages - p : 512;
		off_t off = (off_t)(((uintptr_t)m->vm->mem.host >> 12) + p) * 8;
		bool have = fd >= 0 && pread(fd, buf, n * 8, off) == (ssize_t)(n * 8);
		for (uint64_t i = 0; i < n; i++) {
			/* bit 63 present, bit 62 swapped */
			if ((have && !(buf[i] >> 62)) || guest_ram_page_discarded(&m->vm->mem, p + i)) {
				skipped++;
				continue;
			}
			m->bitmap[(p + i) >> 6] |= 1ull << ((p + i) & 63);
		}
	}
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&m->lock);
	m->info.duplicate += skipped;
	m->info.remaining = (npages - skipped) * 4096;
	pthread_mutex_unlock(&m->lock);
}

static int send_dirty(struct migration *m)
{
	return send_pages(m, 0) < 0 ? -1 : 0;
}

static int switch_over(struct migration *m)
{
	struct mig_switch sw;
	if (mig_switch_begin(m, send_dirty, &sw))
		return -1;
	if (vms_writer_finish(&m->w)) {
		snprintf(m->err, sizeof(m->err), "%s", m->w.err);
		return -1;
	}
	if (mig_wait_ack(m))
		return -1;
	mig_switch_done(m, &sw, 0);
	return 0;
}

/* Auto-converge (when on): the first step is cpu-throttle-initial; pct is
 * capped at max-cpu-throttle. */
static void set_throttle(struct migration *m, int pct)
{
	if (!m->p.auto_converge)
		return;
	if (pct > m->p.throttle_max)
		pct = m->p.throttle_max;
	atomic_store(&m->vm->throttle_pct, pct);
	pthread_mutex_lock(&m->lock);
	m->info.throttle_pct = (unsigned)pct;
	pthread_mutex_unlock(&m->lock);
}

/* Pre-copy rounds until the expected downtime fits the limit.
 *
 * The switch-over point comes from the dirty rate: a round that shrinks the
 * dirty set by a third, and after which the rate says the next round will
 * shrink it again (next_round_dirty), is followed by another (Xen's rule:
 * the next one is shorter). Otherwise (the guest dirties pages about as
 * fast as they are sent: no number of rounds converges) comes one last
 * round with the guest slowed to FINAL_THROTTLE, so that what is dirty at
 * the switch-over is only what the slowed guest wrote during that round.
 * Earlier versions throttled 20 points per two stalled rounds and settled
 * with two 40-point rounds: with a guest that writes one byte per page at
 * full speed (bench/migrate.py "-byte" cases) that took 6 to 8 rounds of
 * the whole hot set; see docs/MIGRATION.md "Profile". */
#define FINAL_THROTTLE 95

/* The pages the guest will have dirtied by the end of the next round,
 * which sends the `dirty` pages in about `next_ms`: the dirty rate (the
 * larger of this round's average and the early sample, since a rewritten
 * hot set stops the count growing once all of it is dirty) times that
 * time, at most the `dirty` pages again. A guest that writes a hot set
 * faster than it goes out gives about `dirty` however much this round
 * shrank the set: round 1 of bench/migrate.py's cases "shrank" from the
 * whole RAM to the hot set and took a second full round of it. */
static double next_round_dirty(const struct migration *m, uint64_t dirty, int64_t dt, double next_ms)
{
	double rate = dt > 0 ? (double)dirty / ((double)dt / 1e6) : 0;   /* pages/s */
	if (m->rate_us > 0) {
		double early = (double)m->rate_pages / ((double)m->rate_us / 1e6);
		if (early > rate)
			rate = early;
	}
	double next = rate * next_ms / 1000;
	return next < (double)dirty ? next : (double)dirty;
}

static int precopy(struct migration *m)
{
	uint64_t sent_pages = 0;
	for (uint64_t i = 0; i < m->words; i++)
		sent_pages += (uint64_t)__builtin_popcountll(m->bitmap[i]);
	bool final = false;
	bool trace = getenv("TERN_MIG_TRACE") != NULL;     /* per-round lines on stderr */
	for (unsigned round = 1;; round++) {
		if (round == 2)
			start_xbzrle(m);
		int64_t t = mig_now_us();
		m->round_t0 = t;
		m->rate_us = 0;
		int64_t bytes = send_pages(m, round), disk_bytes = 0;
		if (bytes < 0 || (m->blk && (disk_bytes = blkmig_src_send(m)) < 0))
			return -1;
		int64_t dt = mig_now_us() - t;
		uint64_t dirty = mig_sync_dirty(m);
		/* Chunks the guest wrote this round go at the next (or the
		 * switch-over): they count toward the expected downtime. */
		uint64_t disk_dirty = m->blk ? blkmig_src_harvest(m) : 0;
		double bw = dt > 0 ? (double)(bytes + disk_bytes) / ((double)dt / 1e6) : 1e12;   /* bytes/s */
		if (bw < 1e6)
			bw = 1e6;
		/* Bytes on the wire per dirty page (zero pages are markers). */
		double per_page = sent_pages ? (double)bytes / (double)sent_pages : 4096;
		double expected_ms = ((double)dirty * per_page + (double)disk_dirty * BLK_CHUNK) / bw * 1000;
		double next_dirty = next_round_dirty(m, dirty, dt, expected_ms);
		if (trace)
			fprintf(stderr, "tern: migration round %u: %llu pages, %lld bytes in %lld us, "
				"harvest %lld us, %llu dirty, %.0f expected next, throttle %d%%\n", round,
				(unsigned long long)sent_pages, (long long)bytes, (long long)dt,
				(long long)(mig_now_us() - t - dt), (unsigned long long)dirty, next_dirty,
				atomic_load(&m->vm->throttle_pct));
		pthread_mutex_lock(&m->lock);
		m->info.rounds = round;
		m->info.mbps = bw * 8 / 1e6;
		m->info.dirty_pages_rate = dt > 0 ? (double)dirty / ((double)dt / 1e6) : 0;
		m->info.expected_downtime_ms = (int64_t)expected_ms;
		pthread_mutex_unlock(&m->lock);
		if (atomic_load(&m->cancel))
			return -1;
		if (round >= MAX_ROUNDS || atomic_load(&m->start_postcopy))
			return 0;
		bool fits = expected_ms <= (double)m->p.downtime_limit_ms;
		/* this round shrank the dirty set by a third, and the next
		 * one is expected to */
		bool shrinking = dirty * 3 < sent_pages * 2 && next_dirty * 3 < (double)dirty * 2;
		/* A quick switch-over would send the hot set whole; one more
		 * round, at full speed, fills the XBZRLE cache, and then the hot
		 * set goes as deltas (bench/migrate.py's 256 MiB cases on a warm
		 * host: 14 ms of downtime after round 1, 4-5 ms after round 2). */
		bool settle = !shrinking && expected_ms <= SETTLE_MS;
		bool fill_cache = settle && m->xb && !m->xb_active;
		if (fits && (final || expected_ms <= DOWNTIME_FLOOR_MS || (settle && !fill_cache)))
			return 0;
		if (final && !fits && m->p.postcopy_after_precopy && m->p.postcopy_ram) {
			/* Even slowed, the guest dirties more than the limit
			 * lets through: move it now, the rest follows
			 * (x-postcopy-after-precopy). */
			if (trace)
				fprintf(stderr, "tern: migration: pre-copy does not fit the downtime "
					"limit; switching to post-copy\n");
			pthread_mutex_lock(&m->lock);
			m->info.postcopy_fallback = true;
			pthread_mutex_unlock(&m->lock);
			atomic_store(&m->start_postcopy, 1);
			return 0;
		}
		if (final) {
			/* Still too much for the limit after a slowed round
			 * (a very slow link): slow the guest further. */
			set_throttle(m, atomic_load(&m->vm->throttle_pct) + 20);
		} else if (!shrinking && !fill_cache) {
			set_throttle(m, FINAL_THROTTLE);
			final = true;
		}
		sent_pages = dirty;
	}
}

/* Post-copy broke after the switch-over: the guest may have run on the
 * destination, so it must not silently run here again. It stays paused,
 * with every page, until the user takes it back (mig_postcopy_reclaim). */
static void postcopy_broke(struct migration *m)
{
	pthread_mutex_lock(&m->lock);
	snprintf(m->info.error, sizeof(m->info.error),
		 "post-copy failed after the switch-over: %.300s; the guest is paused here with all of its "
		 "memory as of the switch-over ('cont' runs it here again once the destination is gone)",
		 m->err);
	pthread_mutex_unlock(&m->lock);
	mig_set_status(m, MIG_POSTCOPY_PAUSED);
}

static void *mig_thread(void *arg)
{
	struct migration *m = arg;
	char why[256];
	int ok = -1, switched = 0;
	m->fd = mig_uri_connect(m->uri, 10000, &m->child, why, sizeof(why));
	/* --migrate-tls: the destination's certificate is checked before any
	 * state is sent. */
	if (m->fd >= 0 && m->vm->migrate_tls)
		m->fd = tls_wrap_fd(m->vm->migrate_tls, m->fd, 0, why, sizeof(why));
	if (m->fd < 0 || mig_handshake_source(m->fd, &m->key, why, sizeof(why))) {
		snprintf(m->err, sizeof(m->err), "%s", why);
		goto out;
	}
	if (vms_writer_init(&m->w, m->fd) || snap_write_config(m->vm, &m->w, why, sizeof(why))) {
		snprintf(m->err, sizeof(m->err), "%s", m->w.err[0] ? m->w.err : why);
		goto out;
	}
	pthread_mutex_lock(&m->lock);
	m->info.setup_ms = (mig_now_us() - m->t0) / 1000;
	pthread_mutex_unlock(&m->lock);
	mig_set_status(m, MIG_ACTIVE);
	m->bw_t0 = mig_now_us();
	/* Storage first, while the guest runs: its bulk is usually larger
	 * than RAM, and what the guest writes meanwhile is logged. */
	if (m->copy_storage && (blkmig_src_start(m) || blkmig_src_bulk(m)))
		goto out;
	/* RAM restored from a snapshot whose chunks are still being checked
	 * (state/snap_verify.h): all of it checked before any of it is sent. */
	if (guest_ram_demand(&m->vm->mem, 0, m->vm->mem.size)) {
		snprintf(m->err, sizeof(m->err), "guest RAM is not all in place: %.200s", m->vm->exit_msg);
		goto out;
	}
	if (m->p.mode == MIG_STOPCOPY || m->p.mode == MIG_POSTCOPY) {
		/* Stop-and-copy sends everything now; post-copy switches over at
		 * once and sends everything afterwards. */
		mig_pause_guest(m);
		mark_all_pages(m);
	} else {
		mig_pause_guest(m);
		m->logging = !ram_dirty_log_start(m->vm);
		mark_all_pages(m);
		mig_resume_guest(m);
		if (!m->logging) {
			snprintf(m->err, sizeof(m->err), "out of memory for the dirty-page log");
			goto out;
		}
		if (precopy(m))
			goto out;
	}
	if (atomic_load(&m->cancel))
		goto out;
	if (m->p.mode == MIG_POSTCOPY || atomic_load(&m->start_postcopy)) {
		stop_xbzrle(m);         /* post-copy sends pages whole */
		if (postcopy_switch_over(m))
			goto out;
		switched = 1;
		if (postcopy_push(m))
			goto out;
	} else if (switch_over(m)) {
		goto out;
	}
	ok = 0;
out:
	if (m->logging) {
		mig_pause_guest(m);
		ram_dirty_log_stop(m->vm);
		m->logging = 0;
	}
	atomic_store(&m->vm->throttle_pct, 0);
	stop_xbzrle(m);
	blkmig_src_stop(m);
	if (ok && switched) {
		postcopy_broke(m);
	} else if (ok) {
		if (m->disks_released)
			devreg_reclaim(&m->vm->devreg);
		if (m->fd >= 0)
			shutdown(m->fd, SHUT_RDWR);
		mig_resume_guest(m);       /* the source goes on as if nothing happened */
		pthread_mutex_lock(&m->lock);
		if (atomic_load(&m->cancel))
			snprintf(m->info.error, sizeof(m->info.error), "cancelled");
		else
			snprintf(m->info.error, sizeof(m->info.error), "%s", m->err);
		pthread_mutex_unlock(&m->lock);
		mig_set_status(m, atomic_load(&m->cancel) ? MIG_CANCELLED : MIG_FAILED);
	} else {
		/* The guest runs on the destination now: this one stays paused
		 * (postmigrate) until it is told to quit. */
		mig_set_status(m, MIG_COMPLETED);
	}
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	vms_writer_cleanup(&m->w);
	return NULL;
}

struct migration *mig_start(struct vm *vm, const char *uri, const struct mig_params *p,
			    const char *key_path, char *err, size_t errlen)
{
	return mig_start_storage(vm, uri, p, key_path, false, NULL, err, errlen);
}

struct migration *mig_start_storage(struct vm *vm, const char *uri, const struct mig_params *p,
				    const char *key_path, bool copy_storage,
				    const struct mig_notify *notify, char *err, size_t errlen)
{
	struct migration *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->vm = vm;
	m->copy_storage = copy_storage;
	m->p = *p;
	if (notify)
		m->notify = *notify;
	m->fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	if (mig_uri_check(uri, err, errlen))
		goto fail;
	if (strlen(uri) >= sizeof(m->uri)) {
		snprintf(err, errlen, "migration URI longer than %zu bytes", sizeof(m->uri) - 1);
		goto fail;
	}
	snprintf(m->uri, sizeof(m->uri), "%s", uri);
	if (!key_path) {
		snprintf(err, errlen, "no migration key: start tern run with --migrate-key FILE");
		goto fail;
	}
	if (mig_key_load(key_path, &m->key, err, errlen))
		goto fail;
	m->words = (guest_ram_pages(&vm->mem) + 63) / 64;
	m->bitmap = calloc(m->words, 8);
	m->enc = malloc(RAM_BATCH_ENC_MAX);
	m->scratch = malloc(RAM_BATCH_RAW_MAX);
	if (!m->bitmap || !m->enc || !m->scratch) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	m->t0 = mig_now_us();
	m->info.status = MIG_SETUP;
	m->info.ram_total = vm->mem.size;
	if (m->p.events && m->notify.status)
		m->notify.status(m->notify.opaque, MIG_SETUP);
	if (pthread_create(&m->thread, NULL, mig_thread, m)) {
		snprintf(err, errlen, "cannot start the migration thread");
		goto fail;
	}
	return m;
fail:
	free(m->bitmap);
	free(m->enc);
	free(m->scratch);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return NULL;
}

void mig_cancel(struct migration *m)
{
	if (!mig_is_active(m))
		return;
	struct mig_info i;
	mig_get_info(m, &i);
	if (i.status == MIG_DEVICE || i.status == MIG_POSTCOPY_ACTIVE)
		return;             /* too late: the switch-over is under way or done */
	atomic_store(&m->cancel, 1);
	pthread_mutex_lock(&m->lock);
	m->info.status = MIG_CANCELLING;
	pthread_mutex_unlock(&m->lock);
	if (m->fd >= 0)
		shutdown(m->fd, SHUT_RDWR);
}

int mig_start_postcopy(struct migration *m, char *err, size_t errlen)
{
	struct mig_info i;
	mig_get_info(m, &i);
	if (i.status != MIG_SETUP && i.status != MIG_ACTIVE) {
		snprintf(err, errlen, "no pre-copy migration is running (status: %s)",
			 mig_status_name(i.status));
		return -1;
	}
	if (m->p.mode == MIG_STOPCOPY) {
		snprintf(err, errlen, "a stop-and-copy migration cannot switch to post-copy");
		return -1;
	}
	if (!m->p.postcopy_ram) {
		snprintf(err, errlen, "Enable postcopy with migrate-set-capabilities (postcopy-ram) "
			 "before the start of migration");
		return -1;
	}
	atomic_store(&m->start_postcopy, 1);
	return 0;
}

int mig_continue(struct migration *m, char *err, size_t errlen)
{
	struct mig_info i;
	mig_get_info(m, &i);
	if (i.status != MIG_PRE_SWITCHOVER) {
		snprintf(err, errlen, "Migration not in expected state: %s", mig_status_name(i.status));
		return -1;
	}
	atomic_store(&m->go_on, 1);
	return 0;
}

int mig_postcopy_reclaim(struct migration *m, char *err, size_t errlen)
{
	struct mig_info i;
	mig_get_info(m, &i);
	if (i.status != MIG_POSTCOPY_PAUSED) {
		snprintf(err, errlen, "the guest is not held by a failed post-copy (status: %s)",
			 mig_status_name(i.status));
		return -1;
	}
	pthread_join(m->thread, NULL);      /* it has finished: this only reaps it */
	m->thread_joined = 1;
	if (devreg_reclaim(&m->vm->devreg)) {
		snprintf(err, errlen, "a disk is still locked by another process (is the destination "
			 "still running? stop it first)");
		return -1;
	}
	m->disks_released = 0;
	pthread_mutex_lock(&m->lock);
	snprintf(m->info.error, sizeof(m->info.error),
		 "post-copy failed after the switch-over; the guest was taken back by the source");
	pthread_mutex_unlock(&m->lock);
	mig_set_status(m, MIG_FAILED);
	mig_resume_guest(m);
	return 0;
}

void mig_free(struct migration *m)
{
	if (!m)
		return;
	if (!m->thread_joined)
		pthread_join(m->thread, NULL);
	mig_uri_reap(m->child);
	/* A completed migration keeps its pause: the guest must not run here
	 * again (its disks belong to the destination now). */
	free(m->bitmap);
	free(m->enc);
	free(m->scratch);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
