/* Guards a VM whose RAM is mapped copy-on-write from its snapshot file: a
 * read lease on the file, and when another process opens it for writing or
 * truncates it, RAM is copied out of the file before that process proceeds. */
#ifndef TERN_SNAP_LEASE_H
#define TERN_SNAP_LEASE_H
#include <stdint.h>

struct vm;
struct evloop;
struct snap_lease;

/* Blocks the lease-break signal in the calling thread (and so in every
 * thread it creates later); call before the VM's threads start. */
int snap_lease_prepare(void);
/* Takes a read lease on fd (open read-only). NULL when the file system or
 * the file's owner does not allow one, or another process has it open for
 * writing: then the caller must read RAM instead of mapping it. */
struct snap_lease *snap_lease_take(int fd, const char *path);
/* Once RAM is mapped: watch for a lease break on loop, the VM's I/O loop
 * (-EINVAL without one). The bitmap (npages bits: 1 = page mapped from the
 * file) is copied. */
int snap_lease_arm(struct snap_lease *l, struct vm *vm, struct evloop *loop, const uint64_t *bitmap,
		   uint64_t npages);
/* Stops watching on the VM's loop, for a caller whose loop outlives the
 * lease (a VM torn down first needs nothing); NULL is fine. */
void snap_lease_unwatch(struct snap_lease *l);
/* Drops the lease (RAM stays as it is); touches neither VM nor loop, which
 * may be gone already. NULL is fine. */
void snap_lease_free(struct snap_lease *l);
#endif
