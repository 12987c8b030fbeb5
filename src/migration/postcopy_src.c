/* Post-copy, source side. The switch-over sends only what the destination
 * cannot run without: the pages devices hold pointers into (virtqueue
 * rings), the harts and devices, and a bitmap of the pages still here.
 * Once the destination confirms it runs, this thread serves its page
 * requests first (each with a few following pages, for locality) and
 * pushes every other page in the background, in small batches so that a
 * request never waits behind much. Each page is sent exactly once; the
 * source stays paused throughout, so none changes. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "migration/mig_src_priv.h"
#include "migration/mig_switch.h"
#include "migration/postcopy.h"
#include "migration/postcopy_src.h"
#include "migration/rampages.h"
#include "mem/guest_ram.h"
#include "core/vm.h"

/* Pages sent with a requested one (the requested page first). */
#define URGENT_PAGES 16
/* Background batches stay small: a request waits for at most one. */
#define PUSH_PAGES 32
/* The socket's send buffer while pushing: what a request may queue behind. */
#define PUSH_SNDBUF (256 * 1024)
#define DONE_TIMEOUT_MS 60000

static bool unsent(const struct migration *m, uint64_t p)
{
	return m->bitmap[p >> 6] & (1ull << (p & 63));
}

static void take(struct migration *m, uint64_t p)
{
	m->bitmap[p >> 6] &= ~(1ull << (p & 63));
}

/* The pages device models point into. */
struct pinned {
	struct migration *m;
	uint64_t pages[RAM_BATCH_MAX_PAGES];
	uint32_t n;
};

static void pin_range(void *ctx, uint64_t pa, uint64_t len)
{
	struct pinned *pn = ctx;
	struct vm *vm = pn->m->vm;
	if (!len || pa < vm->mem.base || pa - vm->mem.base >= vm->mem.size)
		return;
	uint64_t first = (pa - vm->mem.base) >> 12, last = (pa - vm->mem.base + len - 1) >> 12;
	for (uint64_t p = first; p <= last && p < guest_ram_pages(&vm->mem); p++)
		if (unsent(pn->m, p) && pn->n < RAM_BATCH_MAX_PAGES) {
			take(pn->m, p);
			pn->pages[pn->n++] = p;
		}
}

static int send_pinned(struct migration *m)
{
	struct pinned pn = { .m = m };
	for (int i = 0; i < m->vm->nmmio; i++)
		if (m->vm->mmio[i].ops->ram_pinned)
			m->vm->mmio[i].ops->ram_pinned(m->vm->mmio[i].dev, pin_range, &pn);
	return pn.n ? mig_send_batch(m, pn.pages, pn.n, 1) : 0;
}

static uint64_t count_unsent(const struct migration *m)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < m->words; i++)
		n += (uint64_t)__builtin_popcountll(m->bitmap[i]);
	return n;
}

int postcopy_switch_over(struct migration *m)
{
	struct mig_switch sw;
	if (mig_switch_begin(m, send_pinned, &sw))
		return -1;
	/* The pages the destination must fetch or wait for. */
	int64_t t_map = mig_now_us();
	if (vms_put_section(&m->w, VMS_ID_POSTCOPY, 0, 1, m->bitmap, m->words * 8)) {
		snprintf(m->err, sizeof(m->err), "%s", m->w.err);
		return -1;
	}
	sw.ram_us += mig_now_us() - t_map;
	if (mig_wait_ack(m))
		return -1;
	mig_switch_done(m, &sw, count_unsent(m) * 4096);
	return 0;
}

/* Reads whatever requests have arrived, without blocking; sends each
 * requested page still here with its unsent successors. Returns 1 when
 * the destination said it has everything, 0, or -1 with m->err. */
static int serve_requests(struct migration *m, uint8_t *buf, size_t *have, uint64_t *cursor,
			  int wait_ms)
{
	uint64_t npages = guest_ram_pages(&m->vm->mem);
	struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
	int r = poll(&pfd, 1, wait_ms);
	if (r < 0 && errno != EINTR) {
		snprintf(m->err, sizeof(m->err), "poll: %s", strerror(errno));
		return -1;
	}
	if (r <= 0)
		return 0;
	ssize_t k = recv(m->fd, buf + *have, 8 * 64 - *have, MSG_DONTWAIT);
	if (k == 0) {
		snprintf(m->err, sizeof(m->err), "the destination closed the connection");
		return -1;
	}
	if (k < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		snprintf(m->err, sizeof(m->err), "reading the destination's requests: %s", strerror(errno));
		return -1;
	}
	*have += (size_t)k;
	size_t used = 0;
	for (; used + 8 <= *have; used += 8) {
		uint64_t page = 0;
		for (int b = 7; b >= 0; b--)
			page = (page << 8) | buf[used + b];
		if (page == MIG_POSTCOPY_DONE) {
			if (count_unsent(m)) {
				snprintf(m->err, sizeof(m->err), "the destination claims every page too early");
				return -1;
			}
			return 1;
		}
		if (page >= npages) {
			snprintf(m->err, sizeof(m->err), "the destination asked for page %llu of %llu",
				 (unsigned long long)page, (unsigned long long)npages);
			return -1;
		}
		pthread_mutex_lock(&m->lock);
		m->info.postcopy_requests++;
		pthread_mutex_unlock(&m->lock);
		if (!unsent(m, page))
			continue;           /* already on its way */
		uint64_t pages[URGENT_PAGES];
		uint32_t n = 0;
		for (uint64_t p = page; p < npages && n < URGENT_PAGES; p++)
			if (unsent(m, p)) {
				take(m, p);
				pages[n++] = p;
			}
		if (mig_send_batch(m, pages, n, 1))
			return -1;
		pthread_mutex_lock(&m->lock);
		m->info.postcopy_urgent_pages += n;
		pthread_mutex_unlock(&m->lock);
		/* the guest works around here: push on from there */
		*cursor = pages[n - 1] + 1 < npages ? pages[n - 1] + 1 : 0;
	}
	memmove(buf, buf + used, *have - used);
	*have -= used;
	return 0;
}

/* The next batch of unsent pages from *cursor on, wrapping. */
static uint32_t next_push(struct migration *m, uint64_t *cursor, uint64_t *pages)
{
	uint64_t npages = guest_ram_pages(&m->vm->mem);
	uint32_t n = 0;
	for (uint64_t scanned = 0; scanned < npages && n < PUSH_PAGES; scanned++) {
		uint64_t p = *cursor;
		*cursor = p + 1 == npages ? 0 : p + 1;
		if (!unsent(m, p)) {
			/* skip a clear word at once */
			if (!(p & 63) && !m->bitmap[p >> 6] && npages - p >= 64) {
				*cursor = p + 64 == npages ? 0 : p + 64;
				scanned += 63;
			}
			continue;
		}
		take(m, p);
		pages[n++] = p;
	}
	return n;
}

int postcopy_push(struct migration *m)
{
	mig_set_status(m, MIG_POSTCOPY_ACTIVE);
	int sndbuf = PUSH_SNDBUF;
	setsockopt(m->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	uint8_t buf[8 * 64];
	size_t have = 0;
	uint64_t cursor = 0, pages[PUSH_PAGES];
	for (;;) {
		int r = serve_requests(m, buf, &have, &cursor, 0);
		if (r)
			return r < 0 ? -1 : 0;
		uint32_t n = next_push(m, &cursor, pages);
		if (!n)
			break;
		if (mig_send_batch(m, pages, n, 0))
			return -1;
	}
	if (vms_writer_finish(&m->w)) {
		snprintf(m->err, sizeof(m->err), "%s", m->w.err);
		return -1;
	}
	pthread_mutex_lock(&m->lock);
	m->info.remaining = 0;
	pthread_mutex_unlock(&m->lock);
	/* Late requests name pages already sent; wait for the final word. */
	int64_t deadline = mig_now_us() + DONE_TIMEOUT_MS * 1000ll;
	while (mig_now_us() < deadline) {
		int r = serve_requests(m, buf, &have, &cursor, 100);
		if (r)
			return r < 0 ? -1 : 0;
	}
	snprintf(m->err, sizeof(m->err), "the destination never confirmed that it has every page");
	return -1;
}
