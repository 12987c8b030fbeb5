/* Live migration, destination side (`tern run --incoming tcp:...`): accept
 * one source that proves the key, read the configuration, take RAM batches
 * into a buffer while the source runs its rounds, and at switch-over load
 * harts and devices into the VM built from that configuration. The stream
 * is hostile until proven otherwise: every section is checked (lengths,
 * checksums, page indices) and any error ends the process before the guest
 * runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netdb.h>
#include "migration/channel.h"
#include "migration/migration.h"
#include "migration/mig_dst_priv.h"
#include "migration/postcopy_dst.h"
#include "migration/rampages.h"
#include "migration/blkmig_dst.h"
#include "migration/mig_uri.h"
#include "core/vm.h"
#include "cpu/dcache.h"
#include "machine/virt.h"
#include "state/snapshot.h"
#include "state/stream.h"
#include "pki/tls.h"


/* With a TLS folder the source must present a certificate from its CA
 * before anything else is read; the key is proven inside. *fd becomes the
 * relay's plain end (or -1 when TLS failed: the socket is consumed). */
static int peer_handshake(int *fd, const char *tls_dir, const struct mig_key *key, char *err, size_t errlen)
{
	if (tls_dir && (*fd = tls_wrap_fd(tls_dir, *fd, 1, err, errlen)) < 0)
		return -1;
	return mig_handshake_dest(*fd, key, err, errlen);
}

struct mig_incoming *mig_incoming_open(const char *uri, const char *key_path,
				       struct virt_config *cfg, char *err, size_t errlen)
{
	return mig_incoming_open_tls(uri, key_path, NULL, cfg, err, errlen);
}

struct mig_incoming *mig_incoming_open_tls(const char *uri, const char *key_path, const char *tls_dir,
					   struct virt_config *cfg, char *err, size_t errlen)
{
	struct mig_key key;
	if (mig_uri_check(uri, err, errlen))
		return NULL;
	if (!key_path) {
		snprintf(err, errlen, "--incoming %.*s needs --migrate-key FILE (the key the source uses)",
			 (int)(strchr(uri, ':') - uri + 1), uri);
		return NULL;
	}
	if (mig_key_load(key_path, &key, err, errlen))
		return NULL;
	struct mig_incoming *in = calloc(1, sizeof(*in));
	if (!in) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	in->fd = -1;
	in->img.fd = -1;
	in->cfg = cfg;
	int l = mig_uri_listen(uri, &in->fd, &in->child, err, errlen);
	if (l < 0 && in->fd < 0)
		goto fail;
	fprintf(stderr, "tern: waiting for a migration on %s\n", uri);
	if (l >= 0) {
		/* A port scanner, a stray client or a peer without the key must
		 * not end the wait: log each, give up after MIG_MAX_BAD_PEERS. */
		for (int bad = 0;; bad++) {
			if (bad == MIG_MAX_BAD_PEERS) {
				snprintf(err, errlen, "giving up after %d connections that failed the "
					 "migration handshake (each is logged above)", bad);
				close(l);
				mig_uri_done_listening(uri);
				goto fail;
			}
			struct sockaddr_storage peer;
			socklen_t plen = sizeof(peer);
			in->fd = accept4(l, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
			if (in->fd < 0) {
				snprintf(err, errlen, "accepting the migration failed: %s", strerror(errno));
				close(l);
				mig_uri_done_listening(uri);
				goto fail;
			}
			if (!peer_handshake(&in->fd, tls_dir, &key, err, errlen))
				break;
			char who[NI_MAXHOST + NI_MAXSERV + 8] = "a local peer", h[NI_MAXHOST], sv[NI_MAXSERV];
			if (peer.ss_family != AF_UNIX &&
			    !getnameinfo((struct sockaddr *)&peer, plen, h, sizeof(h), sv, sizeof(sv),
					 NI_NUMERICHOST | NI_NUMERICSERV))
				snprintf(who, sizeof(who), "%s port %s", h, sv);
			fprintf(stderr, "tern: rejected a migration connection from %s: %s; still waiting\n",
				who, err);
			if (in->fd >= 0)
				close(in->fd);
			in->fd = -1;
		}
		close(l);
		mig_uri_done_listening(uri);
	} else if (peer_handshake(&in->fd, tls_dir, &key, err, errlen)) {
		goto fail;      /* exec: or fd: hand over one connected stream */
	}
	/* From here the stream is read by the snapshot reader. */
	if (snap_open_fd(&in->img, in->fd, "migration stream", cfg, err, errlen))
		goto fail;
	in->fd = -1;                    /* owned by img now */
	in->ram_size = cfg->mem_size;
	in->ram = mmap(NULL, in->ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	/* Huge pages: a page fault per 2 MiB instead of per 4 KiB while the
	 * batches land (faults dominated the receive path). */
	if (in->ram != MAP_FAILED)
		madvise(in->ram, in->ram_size, MADV_HUGEPAGE);
	in->scratch = malloc(RAM_BATCH_RAW_MAX);
	in->batch = malloc(RAM_BATCH_ENC_MAX);
	if (in->ram == MAP_FAILED || !in->scratch || !in->batch) {
		in->ram = NULL;
		snprintf(err, errlen, "cannot allocate %llu MiB for the incoming RAM",
			 (unsigned long long)(cfg->mem_size >> 20));
		goto fail;
	}
	return in;
fail:
	mig_incoming_close(in);
	return NULL;
}

void mig_incoming_set_storage(struct mig_incoming *in, const char *dir, int user_disks)
{
	in->base_dir = dir;
	in->user_disks = user_disks;
}

int mig_incoming_receive_ram(struct mig_incoming *in, char *err, size_t errlen)
{
	/* No VM exists yet: batches land in our buffer. */
	const struct ram_dst buf = { .ram = in->ram, .size = in->ram_size, .vm = NULL };
	for (;;) {
		struct vms_section s;
		if (vms_next(&in->img.r, &s)) {
			snprintf(err, errlen, "%s", in->img.r.err);
			return -1;
		}
		if (s.id == VMS_ID_RAM_BATCH) {
			if (mig_apply_batch(in, &buf, &s, NULL, err, errlen) < 0)
				return -1;
			continue;
		}
		if (s.id == VMS_ID_DISKS) {
			if (blkmig_dst_setup(in, &s, err, errlen))
				return -1;
			continue;
		}
		if (s.id == VMS_ID_BLOCK_BATCH) {
			if (blkmig_dst_batch(in, &s, err, errlen))
				return -1;
			continue;
		}
		if (s.id == VMS_ID_MACHINE) {
			/* The copied disks are complete: the VM opens them next. */
			if (blkmig_dst_close(in)) {
				snprintf(err, errlen, "flushing the copied disks failed");
				return -1;
			}
			in->machine = s;
			return 0;
		}
		if ((s.id & VMS_ID_OPTIONAL) && !vms_skip(&in->img.r, &s))
			continue;
		snprintf(err, errlen, "migration stream: unexpected %s section (id %u) before the machine state",
			 vms_section_name(s.id), s.id);
		return -1;
	}
}

int mig_incoming_finish(struct mig_incoming *in, struct vm *vm, char *err, size_t errlen)
{
	if (vm->mem.size != in->ram_size) {
		snprintf(err, errlen, "migration stream: RAM size changed");
		return -1;
	}
	/* The received RAM becomes the guest's. */
	munmap(vm->mem.host, vm->mem.size);
	vm->mem.host = in->ram;
	in->ram = NULL;
	/* Nothing decoded can outlive that (batches after this point drop
	 * what they overwrite through ram_written). */
	vm_code_flush(vm);
	const struct ram_dst guest = ram_dst_of_vm(vm);
	uint64_t ticks;
	if (snap_load_state(&in->img, vm, &in->machine, &ticks, err, errlen))
		return -1;
	fprintf(stderr, "tern: device state loaded by %s in %lld us\n",
		mig_devstate_name(in->img.dev_method), (long long)in->img.dev_load_us);
	for (;;) {
		struct vms_section s;
		if (vms_next(&in->img.r, &s)) {
			snprintf(err, errlen, "%s", in->img.r.err);
			return -1;
		}
		if (s.id == VMS_ID_END)
			break;
		if (s.id == VMS_ID_RAM_BATCH) {
			if (mig_apply_batch(in, &guest, &s, NULL, err, errlen) < 0)
				return -1;
			continue;
		}
		if (s.id == VMS_ID_POSTCOPY) {
			/* The guest starts now; the rest of RAM follows. */
			vm_set_guest_time(vm, ticks);
			if (postcopy_dst_start(in, vm, &s, err, errlen))
				return -1;
			in->completed = true;
			return 0;
		}
		snprintf(err, errlen, "migration stream: unexpected %s section (id %u) after the machine state",
			 vms_section_name(s.id), s.id);
		return -1;
	}
	vm_set_guest_time(vm, ticks);
	uint8_t ack = 0;
	if (mig_write_all(in->img.fd, &ack, 1)) {
		snprintf(err, errlen, "the source went away before the switch-over completed");
		return -1;
	}
	in->completed = true;
	return 0;
}

json_t *mig_incoming_take_config(struct mig_incoming *in)
{
	json_t *j = in->img.config;
	in->img.config = NULL;
	return j;
}

void mig_incoming_close(struct mig_incoming *in)
{
	if (!in)
		return;
	postcopy_dst_stop(in);
	blkmig_dst_free(in, in->completed);
	if (in->fd >= 0)
		close(in->fd);
	snap_close(&in->img);
	mig_uri_reap(in->child);
	if (in->ram)
		munmap(in->ram, in->ram_size);
	free(in->scratch);
	free(in->batch);
	free(in);
}

void mig_incoming_get_info(struct mig_incoming *in, struct mig_incoming_info *out)
{
	if (in && in->postcopy)
		postcopy_dst_info(in, out);
	else
		*out = (struct mig_incoming_info){ .postcopy = false };
}
