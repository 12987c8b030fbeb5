/* Read leases on a snapshot file that a restored VM maps (MAP_PRIVATE): a
 * truncation would SIGBUS the VM, an in-place write would change its RAM.
 * The kernel makes that writer wait for the lease break; the break arrives
 * as SIGIO on a signalfd in the I/O loop, where the mapped runs are copied
 * into anonymous memory (vCPU parked) and the lease is released. */
#define _GNU_SOURCE /* F_SETLEASE, mremap */
#include "state/snap_lease.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/vm.h"

#define PAGE 4096u
#define LEASE_SIGNAL SIGIO

struct snap_lease {
	int fd;                 /* the snapshot file (not owned) */
	int sig_fd;             /* signalfd for LEASE_SIGNAL, -1 until armed */
	struct vm *vm;
	struct evloop *loop;    /* where sig_fd is watched (the VM's I/O loop) */
	uint64_t *bitmap;
	uint64_t npages;
	char path[512];
};

static void ignore_signal(int sig)
{
	(void)sig;
}

int snap_lease_prepare(void)
{
	/* A thread that somehow has the signal unblocked must not die of it
	 * (SIGIO's default action ends the process). */
	struct sigaction sa = { .sa_handler = ignore_signal };
	sigemptyset(&sa.sa_mask);
	if (sigaction(LEASE_SIGNAL, &sa, NULL))
		return -errno;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, LEASE_SIGNAL);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

struct snap_lease *snap_lease_take(int fd, const char *path)
{
	struct snap_lease *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	if (fcntl(fd, F_SETLEASE, F_RDLCK)) {
		free(l);
		return NULL;
	}
	l->fd = fd;
	l->sig_fd = -1;
	snprintf(l->path, sizeof(l->path), "%s", path);
	return l;
}

static bool bit(const uint64_t *bm, uint64_t i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

/* Replaces the file-backed pages [i, j) with anonymous copies; the guest
 * addresses stay where they are (TLBs keep pointing at them). */
static int detach_run(struct vm *vm, uint64_t i, uint64_t j)
{
	uint8_t *at = vm->mem.host + i * PAGE;
	size_t len = (j - i) * PAGE;
	void *tmp = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (tmp == MAP_FAILED)
		return -errno;
	memcpy(tmp, at, len);
	if (mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, at) == MAP_FAILED) {
		int e = errno;
		munmap(tmp, len);
		return -e;
	}
	return 0;
}

static void lease_broken(void *opaque, uint32_t events)
{
	struct snap_lease *l = opaque;
	struct signalfd_siginfo si;
	while (read(l->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	/* While a break is pending, F_GETLEASE reports what the lease is
	 * being broken to; an intact lease means the signal was not ours. */
	if (!l->bitmap || fcntl(l->fd, F_GETLEASE) == F_RDLCK)
		return;
	struct vm *vm = l->vm;
	uint64_t copied = 0;
	int r = 0;
	vm_pause(vm);
	pthread_mutex_lock(&vm->lock);
	/* A reset has given the VM fresh anonymous RAM already. */
	if (vm->mem.file_backed) {
		for (uint64_t i = 0, j; !r && i < l->npages; i = j) {
			for (j = i; j < l->npages && bit(l->bitmap, j); j++)
				;
			if (j > i) {
				r = detach_run(vm, i, j);
				copied += j - i;
			} else {
				j = i + 1;
			}
		}
		if (!r)
			vm->mem.file_backed = false;
	}
	pthread_mutex_unlock(&vm->lock);
	fcntl(l->fd, F_SETLEASE, F_UNLCK);
	free(l->bitmap);
	l->bitmap = NULL;
	evloop_del_fd(l->loop, l->sig_fd);
	if (r) {
		/* Out of memory: the writer would pull pages out from under the
		 * guest. Stop it now, with the reason, rather than SIGBUS later. */
		char msg[200];
		snprintf(msg, sizeof(msg), "snapshot file %.100s is being changed and its RAM could not "
			 "be copied out (%s): VM stopped", l->path, strerror(-r));
		vm_request_exit(vm, VM_EXIT_ERROR, msg);
	} else if (copied) {
		fprintf(stderr, "tern: snapshot file %s is being changed: copied %llu MiB of RAM out of "
			"it; the VM no longer depends on it\n", l->path,
			(unsigned long long)(copied * PAGE >> 20));
	}
	vm_resume(vm);
}

int snap_lease_arm(struct snap_lease *l, struct vm *vm, struct evloop *loop, const uint64_t *bitmap,
		   uint64_t npages)
{
	size_t bytes = (npages + 63) / 64 * 8;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, LEASE_SIGNAL);
	if (!loop)
		return -EINVAL;
	l->vm = vm;
	l->loop = loop;
	l->npages = npages;
	l->bitmap = malloc(bytes);
	if (!l->bitmap)
		return -ENOMEM;
	memcpy(l->bitmap, bitmap, bytes);
	l->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (l->sig_fd < 0)
		return -errno;
	return evloop_add_fd(loop, l->sig_fd, EPOLLIN, lease_broken, l);
}

void snap_lease_unwatch(struct snap_lease *l)
{
	if (l && l->bitmap && l->sig_fd >= 0 && l->loop)
		evloop_del_fd(l->loop, l->sig_fd);
}

void snap_lease_free(struct snap_lease *l)
{
	if (!l)
		return;
	fcntl(l->fd, F_SETLEASE, F_UNLCK);
	if (l->sig_fd >= 0)
		close(l->sig_fd);
	free(l->bitmap);
	free(l);
}
