/* The destination side's shared tools (mig_dst_priv.h): read a section
 * with its digest checked, and apply a RAM batch. */
#include <stdio.h>
#include "migration/mig_dst_priv.h"
#include "migration/rampages.h"
#include "state/stream.h"

int mig_apply_batch(struct mig_incoming *in, const struct ram_dst *dst, const struct vms_section *s,
		    _Atomic uint64_t *absent, char *err, size_t errlen)
{
	if (s->version != 1 && s->version != RAM_BATCH_VERSION) {
		snprintf(err, errlen, "migration stream: RAM batch version %u is unknown", s->version);
		return -1;
	}
	if (s->len > RAM_BATCH_ENC_MAX) {
		snprintf(err, errlen, "migration stream: RAM batch of %llu bytes is too large",
			 (unsigned long long)s->len);
		return -1;
	}
	if (mig_read_section(in, s, in->batch, err, errlen))    /* the reused buffer */
		return -1;
	return ram_batch_apply(dst, in->batch, s->len, s->version, absent, in->scratch, err, errlen);
}

int mig_read_section(struct mig_incoming *in, const struct vms_section *s, void *buf, char *err,
		     size_t errlen)
{
	void *md = vms_digest_start(s);
	if (!md) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (vms_read(&in->img.r, buf, s->len)) {
		vms_digest_abort(md);
		snprintf(err, errlen, "%s", in->img.r.err);
		return -1;
	}
	vms_digest_update(md, buf, s->len);
	if (vms_digest_check(&in->img.r, md, s)) {
		snprintf(err, errlen, "%s", in->img.r.err);
		return -1;
	}
	return 0;
}
