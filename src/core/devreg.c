/* The device registry (core/devreg.h): a fixed-size list of device hooks
 * that snapshots and migration walk in registration order. */
#include <errno.h>
#include <string.h>
#include "core/devreg.h"

int devreg_add(struct devreg *r, const struct devreg_entry *e)
{
	if (!e->name || !e->save || !e->load)
		return -EINVAL;
	if (r->n >= DEVREG_MAX)
		return -ENOSPC;
	r->e[r->n++] = *e;
	return 0;
}

int devreg_remove(struct devreg *r, const void *opaque)
{
	for (int i = 0; i < r->n; i++)
		if (r->e[i].opaque == opaque) {
			memmove(&r->e[i], &r->e[i + 1], (size_t)(r->n - i - 1) * sizeof(r->e[0]));
			r->n--;
			return 0;
		}
	return -ENOENT;
}

void devreg_post_load(const struct devreg *r)
{
	for (int i = 0; i < r->n; i++)
		if (r->e[i].post_load)
			r->e[i].post_load(r->e[i].opaque);
}

int devreg_flush(const struct devreg *r)
{
	int rc = 0;
	for (int i = 0; i < r->n; i++)
		if (r->e[i].flush && r->e[i].flush(r->e[i].opaque))
			rc = -EIO;
	return rc;
}

int devreg_reclaim(const struct devreg *r)
{
	int rc = 0;
	for (int i = 0; i < r->n; i++)
		if (r->e[i].reclaim && r->e[i].reclaim(r->e[i].opaque))
			rc = -EIO;
	return rc;
}
