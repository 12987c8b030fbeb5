/* Post-copy, destination side. The guest runs before all of its RAM is
 * here: a bitmap marks the pages still on the source, and vm_ram_ptr (the
 * one way to guest RAM besides a TLB hit) calls fetch for any of them.
 * fetch asks the source for the page (once) and sleeps until the receiver
 * thread, which applies every batch the source sends, has put it in
 * place. No userfaultfd: the softmmu is the fault path.
 *
 * If the stream breaks, no missing page will ever come: the VM is told to
 * stop with an error, and a waiting access fails instead of reading a
 * page that is not there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "migration/channel.h"
#include "migration/mig_dst_priv.h"
#include "migration/postcopy.h"
#include "mem/guest_ram.h"
#include "migration/postcopy_dst.h"
#include "migration/rampages.h"
#include "core/ramlog.h"
#include "core/vm.h"

#define WAIT_SAMPLES 65536

struct postcopy_dst {
	struct mig_incoming *in;
	struct vm *vm;
	pthread_t thread;
	pthread_mutex_t lock;           /* guards all below, and requests on the socket */
	pthread_cond_t arrived;
	_Atomic uint64_t *absent;
	uint64_t *requested;            /* pages asked for */
	uint64_t words;
	_Atomic int stopping;
	int failed, done;
	char err[256];
	/* statistics */
	int64_t t_start_us, t_done_us;
	uint64_t pages_total, pages_received, faults, requests;
	int64_t wait_us_max;
	uint32_t *wait_us;              /* the first WAIT_SAMPLES waits */
	uint32_t nwait;
};

static int send_word(struct postcopy_dst *pc, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return mig_write_all(pc->in->img.fd, b, 8);
}

static bool is_absent(struct postcopy_dst *pc, uint64_t page)
{
	return atomic_load_explicit(&pc->absent[page >> 6], memory_order_acquire) &
	       (1ull << (page & 63));
}

/* vm->mem.fetch: any thread (the vCPU, device I/O). */
static int fetch(void *ctx, uint64_t page)
{
	struct postcopy_dst *pc = ctx;
	pthread_mutex_lock(&pc->lock);
	if (!is_absent(pc, page)) {
		pthread_mutex_unlock(&pc->lock);
		return 0;
	}
	int64_t t0 = host_mono_ns() / 1000;
	pc->faults++;
	if (!pc->failed && !(pc->requested[page >> 6] & (1ull << (page & 63)))) {
		pc->requested[page >> 6] |= 1ull << (page & 63);
		pc->requests++;
		if (send_word(pc, page) && !pc->failed) {
			pc->failed = 1;
			snprintf(pc->err, sizeof(pc->err), "cannot ask the source for a page: %s",
				 strerror(errno));
		}
	}
	while (is_absent(pc, page) && !pc->failed)
		pthread_cond_wait(&pc->arrived, &pc->lock);
	int r = is_absent(pc, page) ? -1 : 0;
	int64_t waited = host_mono_ns() / 1000 - t0;
	if (waited > pc->wait_us_max)
		pc->wait_us_max = waited;
	if (pc->nwait < WAIT_SAMPLES)
		pc->wait_us[pc->nwait++] = (uint32_t)(waited > UINT32_MAX ? UINT32_MAX : waited);
	pthread_mutex_unlock(&pc->lock);
	return r;
}

static void fail(struct postcopy_dst *pc, const char *why)
{
	pthread_mutex_lock(&pc->lock);
	pc->failed = 1;
	snprintf(pc->err, sizeof(pc->err), "%s", why);
	pthread_cond_broadcast(&pc->arrived);
	pthread_mutex_unlock(&pc->lock);
	if (atomic_load(&pc->stopping))
		return;             /* the VM ended first: nothing is lost */
	char msg[sizeof(pc->vm->exit_msg)];
	snprintf(msg, sizeof(msg), "post-copy failed: %s; this guest cannot go on without the pages "
		 "still on the source, which holds the guest paused as of the switch-over", why);
	vm_request_exit(pc->vm, VM_EXIT_ERROR, msg);
}

static uint64_t count_absent(struct postcopy_dst *pc)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < pc->words; i++)
		n += (uint64_t)__builtin_popcountll(atomic_load(&pc->absent[i]));
	return n;
}

static void *receiver(void *arg)
{
	struct postcopy_dst *pc = arg;
	struct mig_incoming *in = pc->in;
	const struct ram_dst guest = ram_dst_of_vm(pc->vm);
	char err[256];
	for (;;) {
		struct vms_section s;
		if (vms_next(&in->img.r, &s)) {
			fail(pc, in->img.r.err);
			return NULL;
		}
		if (s.id == VMS_ID_RAM_BATCH) {
			int n = mig_apply_batch(in, &guest, &s, pc->absent, err, sizeof(err));
			if (n < 0) {
				fail(pc, err);
				return NULL;
			}
			pthread_mutex_lock(&pc->lock);
			pc->pages_received += (uint64_t)n;
			pthread_cond_broadcast(&pc->arrived);
			pthread_mutex_unlock(&pc->lock);
			continue;
		}
		if (s.id == VMS_ID_END) {
			uint64_t missing = count_absent(pc);
			if (missing) {
				snprintf(err, sizeof(err), "the source ended the stream with %llu pages "
					 "never sent", (unsigned long long)missing);
				fail(pc, err);
				return NULL;
			}
			/* Every page is here: the fetch path is off for good. */
			atomic_store(&pc->vm->mem.absent, NULL);
			pthread_mutex_lock(&pc->lock);
			pc->done = 1;
			pc->t_done_us = host_mono_ns() / 1000;
			int r = send_word(pc, MIG_POSTCOPY_DONE);
			pthread_mutex_unlock(&pc->lock);
			if (r)
				fprintf(stderr, "tern: post-copy complete, but the source did not hear it\n");
			else
				fprintf(stderr, "tern: post-copy complete: %llu pages in %lld ms, %llu faults\n",
					(unsigned long long)pc->pages_total,
					(long long)(pc->t_done_us - pc->t_start_us) / 1000,
					(unsigned long long)pc->faults);
			return NULL;
		}
		snprintf(err, sizeof(err), "migration stream: unexpected %s section (id %u) during post-copy",
			 vms_section_name(s.id), s.id);
		fail(pc, err);
		return NULL;
	}
}

static void free_pc(struct postcopy_dst *pc)
{
	free((void *)pc->absent);
	free(pc->requested);
	free(pc->wait_us);
	pthread_mutex_destroy(&pc->lock);
	pthread_cond_destroy(&pc->arrived);
	free(pc);
}

int postcopy_dst_start(struct mig_incoming *in, struct vm *vm, const struct vms_section *s,
		       char *err, size_t errlen)
{
	uint64_t pages = guest_ram_pages(&vm->mem), words = (pages + 63) / 64;
	if (s->version != 1 || s->len != words * 8) {
		snprintf(err, errlen, "migration stream: post-copy bitmap of %llu bytes (version %u); "
			 "%llu expected", (unsigned long long)s->len, s->version,
			 (unsigned long long)(words * 8));
		return -1;
	}
	uint8_t *p;
	if (vms_read_payload(&in->img.r, s, &p)) {
		snprintf(err, errlen, "%s", in->img.r.err);
		return -1;
	}
	struct postcopy_dst *pc = calloc(1, sizeof(*pc));
	if (!pc || !(pc->requested = calloc(words, 8)) || !(pc->wait_us = calloc(WAIT_SAMPLES, 4)) ||
	    !(pc->absent = calloc(words, 8))) {
		free(p);
		if (pc) {
			free(pc->requested);
			free(pc->wait_us);
		}
		free(pc);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy((void *)pc->absent, p, words * 8);
	free(p);
	if (pages % 64 && (atomic_load(&pc->absent[words - 1]) >> (pages % 64))) {
		free_pc(pc);
		snprintf(err, errlen, "migration stream: post-copy bitmap names pages beyond guest RAM");
		return -1;
	}
	pthread_mutex_init(&pc->lock, NULL);
	pthread_cond_init(&pc->arrived, NULL);
	pc->in = in;
	pc->vm = vm;
	pc->words = words;
	pc->pages_total = count_absent(pc);
	pc->t_start_us = host_mono_ns() / 1000;
	vm->mem.fetch = fetch;
	vm->mem.fetch_ctx = pc;
	if (pc->pages_total)
		atomic_store(&vm->mem.absent, pc->absent);
	uint8_t ack = 0;
	if (mig_write_all(in->img.fd, &ack, 1)) {
		atomic_store(&vm->mem.absent, NULL);
		free_pc(pc);
		snprintf(err, errlen, "the source went away before the switch-over completed");
		return -1;
	}
	if (pthread_create(&pc->thread, NULL, receiver, pc)) {
		atomic_store(&vm->mem.absent, NULL);
		free_pc(pc);
		snprintf(err, errlen, "cannot start the post-copy receiver");
		return -1;
	}
	in->postcopy = pc;
	vm->incoming = in;
	return 0;
}

void postcopy_dst_stop(struct mig_incoming *in)
{
	struct postcopy_dst *pc = in->postcopy;
	if (!pc)
		return;
	atomic_store(&pc->stopping, 1);
	if (in->img.fd >= 0)
		shutdown(in->img.fd, SHUT_RDWR);
	pthread_join(pc->thread, NULL);
	atomic_store(&pc->vm->mem.absent, NULL);
	pc->vm->mem.fetch = NULL;
	pc->vm->incoming = NULL;
	in->postcopy = NULL;
	free_pc(pc);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void postcopy_dst_info(struct mig_incoming *in, struct mig_incoming_info *out)
{
	struct postcopy_dst *pc = in->postcopy;
	pthread_mutex_lock(&pc->lock);
	uint32_t n = pc->nwait, median = 0;
	if (n) {
		uint32_t *c = malloc(n * sizeof(*c));
		if (c) {
			memcpy(c, pc->wait_us, n * sizeof(*c));
			qsort(c, n, sizeof(*c), cmp_u32);
			median = c[n / 2];
			free(c);
		}
	}
	int64_t end = pc->done ? pc->t_done_us : host_mono_ns() / 1000;
	*out = (struct mig_incoming_info){
		.postcopy = true, .done = pc->done, .failed = pc->failed,
		.total_ms = (end - pc->t_start_us) / 1000,
		.pages = pc->pages_total, .received = pc->pages_received,
		.faults = pc->faults, .requests = pc->requests,
		.wait_median_us = median, .wait_max_us = pc->wait_us_max,
	};
	if (pc->failed)
		snprintf(out->error, sizeof(out->error), "%s", pc->err);
	pthread_mutex_unlock(&pc->lock);
}
