/* The source side's shared tools (mig_src_priv.h): clock, status, parking
 * the guest, pacing, sending a RAM batch, the dirty-log harvest and the
 * destination's verdict. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include "migration/mig_src_priv.h"
#include "migration/rampages.h"
#include "core/ramlog.h"
#include "core/vm.h"

#define ACK_TIMEOUT_MS 60000

int64_t mig_now_us(void)
{
	return host_mono_ns() / 1000;
}

void mig_set_status(struct migration *m, enum mig_status s)
{
	pthread_mutex_lock(&m->lock);
	m->info.status = s;
	m->info.total_ms = (mig_now_us() - m->t0) / 1000;
	pthread_mutex_unlock(&m->lock);
	if (m->p.events && m->notify.status)
		m->notify.status(m->notify.opaque, s);
}

void mig_pause_guest(struct migration *m)
{
	if (!m->paused) {
		vm_pause(m->vm);
		m->paused = 1;
	}
}

void mig_resume_guest(struct migration *m)
{
	if (m->paused) {
		vm_resume(m->vm);
		m->paused = 0;
	}
}

/* Apply the bandwidth cap: sleep until the bytes sent so far fit it. */
void mig_pace(struct migration *m, uint64_t bytes)
{
	m->bw_bytes += bytes;
	if (!m->p.max_bandwidth)
		return;
	int64_t due = m->bw_t0 + (int64_t)(m->bw_bytes * 1000000 / m->p.max_bandwidth);
	int64_t now = mig_now_us();
	if (due > now) {
		struct timespec ts = { (due - now) / 1000000, ((due - now) % 1000000) * 1000 };
		nanosleep(&ts, NULL);
	}
}

int mig_send_batch(struct migration *m, const uint64_t *pages, uint32_t n, int urgent)
{
	struct ram_batch_stats st = { 0 };
	size_t len = ram_batch_encode(m->vm, pages, n, m->p.compress ? RAM_CODEC_ZSTD : RAM_CODEC_NONE,
				      m->xb_active ? m->xb : NULL, m->enc, m->scratch, &st);
	if (!len) {
		snprintf(m->err, sizeof(m->err), "page compression failed");
		return -1;
	}
	if (vms_put_section(&m->w, VMS_ID_RAM_BATCH, 0, RAM_BATCH_VERSION, m->enc, len)) {
		snprintf(m->err, sizeof(m->err), "%s", m->w.err);
		return -1;
	}
	pthread_mutex_lock(&m->lock);
	m->info.transferred += len;
	m->info.normal += st.pages_normal;
	m->info.duplicate += st.pages_zero;
	m->info.xbz_pages += st.pages_delta;
	m->info.xbz_bytes += st.delta_bytes;
	m->info.xbz_cache_miss += st.cache_miss;
	m->info.xbz_overflow += st.delta_overflow;
	if (m->info.remaining >= (uint64_t)n * 4096)
		m->info.remaining -= (uint64_t)n * 4096;
	pthread_mutex_unlock(&m->lock);
	if (!urgent)
		mig_pace(m, len);
	return 0;
}

/* Harvest the dirty log into m->bitmap (parking the vCPU for it). Pages. */
uint64_t mig_sync_dirty(struct migration *m)
{
	int was = m->paused;
	mig_pause_guest(m);
	uint64_t n = ram_dirty_log_sync(m->vm, m->bitmap);
	if (!was)
		mig_resume_guest(m);
	pthread_mutex_lock(&m->lock);
	uint64_t pass = ++m->info.dirty_sync_count;
	m->info.remaining = n * 4096;
	pthread_mutex_unlock(&m->lock);
	if (m->p.events && m->notify.pass)  /* as QEMU: one per dirty-bitmap sync */
		m->notify.pass(m->notify.opaque, pass);
	return n;
}

int mig_wait_ack(struct migration *m)
{
	struct timeval tv = { ACK_TIMEOUT_MS / 1000, 0 };
	setsockopt(m->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t ack;
	if (mig_read_all(m->fd, &ack, 1)) {
		snprintf(m->err, sizeof(m->err), "the destination did not confirm that it runs (%s)",
			 errno == EAGAIN ? "timed out" : "connection closed");
		return -1;
	}
	if (ack != 0) {
		snprintf(m->err, sizeof(m->err), "the destination failed to load the state");
		return -1;
	}
	return 0;
}
