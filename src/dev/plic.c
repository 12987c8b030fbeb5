/* SiFive PLIC model: level-triggered gateways, 3-bit priorities, per-context
 * enables/threshold/claim-complete, and one output line per context. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include "dev/plic.h"
#include "state/devlog.h"
#include "state/vmbuf.h"

#define PLIC_MAX_SOURCES 1023
#define PLIC_PRIO_MASK 7u

#define PLIC_PRIORITY_BASE 0x0
#define PLIC_PENDING_BASE 0x1000
#define PLIC_ENABLE_BASE 0x2000
#define PLIC_ENABLE_STRIDE 0x80
#define PLIC_CONTEXT_BASE 0x200000
#define PLIC_CONTEXT_STRIDE 0x1000
/* Enable blocks must end before the context area. */
#define PLIC_MAX_CONTEXTS ((PLIC_CONTEXT_BASE - PLIC_ENABLE_BASE) / PLIC_ENABLE_STRIDE)

struct plic {
	unsigned nsources, ncontexts, nwords;
	plic_notify_fn notify;
	void *ctx;

	uint8_t *priority;  /* [nsources + 1], index 0 unused */
	uint32_t *pending;  /* [nwords] gateway has forwarded a request */
	uint32_t *claimed;  /* [nwords] claimed, awaiting completion */
	uint32_t *level;    /* [nwords] current input levels */
	uint32_t *enable;   /* [ncontexts * nwords] */
	uint8_t *threshold; /* [ncontexts] */
	uint8_t *out;       /* [ncontexts] last level sent to notify */
};

static bool bit_get(const uint32_t *a, unsigned i)
{
	return (a[i / 32] >> (i % 32)) & 1;
}

static void bit_put(uint32_t *a, unsigned i, bool v)
{
	if (v)
		a[i / 32] |= 1u << (i % 32);
	else
		a[i / 32] &= ~(1u << (i % 32));
}

/* Bits of word w that name real sources (1..nsources). */
static uint32_t word_mask(const struct plic *p, unsigned w)
{
	uint32_t m = ~0u;
	unsigned last = p->nsources; /* highest valid bit overall */

	if (w == 0)
		m &= ~1u;
	if (last / 32 == w && last % 32 != 31)
		m &= (1u << (last % 32 + 1)) - 1;
	else if (last / 32 < w)
		m = 0;
	return m;
}

/* Best claimable source for a context, or 0. */
static unsigned plic_best(const struct plic *p, unsigned c)
{
	const uint32_t *en = p->enable + (size_t)c * p->nwords;
	unsigned best = 0, best_prio = p->threshold[c];

	for (unsigned w = 0; w < p->nwords; w++) {
		uint32_t cand = p->pending[w] & ~p->claimed[w] & en[w];

		while (cand) {
			unsigned bit = (unsigned)__builtin_ctz(cand);
			unsigned src = w * 32 + bit;

			cand &= cand - 1;
			/* Strictly greater: ties keep the lower id. */
			if (p->priority[src] > best_prio) {
				best = src;
				best_prio = p->priority[src];
			}
		}
	}
	return best;
}

static void plic_update(struct plic *p)
{
	for (unsigned c = 0; c < p->ncontexts; c++) {
		uint8_t lvl = plic_best(p, c) != 0;

		if (lvl != p->out[c]) {
			p->out[c] = lvl;
			if (p->notify)
				p->notify(p->ctx, c, lvl);
		}
	}
}

static void plic_reset(void *dev)
{
	struct plic *p = dev;
	size_t nw = p->nwords;

	for (unsigned i = 0; i <= p->nsources; i++)
		p->priority[i] = 0;
	for (size_t w = 0; w < nw; w++) {
		p->pending[w] = 0;
		p->claimed[w] = 0;
		/* Input levels belong to the devices; a level still high
		 * after reset pends again once the guest enables it. */
		if (p->level[w])
			p->pending[w] = p->level[w];
	}
	for (size_t i = 0; i < (size_t)p->ncontexts * nw; i++)
		p->enable[i] = 0;
	for (unsigned c = 0; c < p->ncontexts; c++)
		p->threshold[c] = 0;
	plic_update(p); /* drops any asserted output */
}

static unsigned plic_claim(struct plic *p, unsigned c)
{
	unsigned src = plic_best(p, c);

	if (src) {
		bit_put(p->pending, src, false);
		bit_put(p->claimed, src, true);
	}
	return src;
}

static void plic_complete(struct plic *p, unsigned c, uint32_t src)
{
	/* Ids that are not real sources enabled for this context are
	 * ignored, as the spec says. */
	if (src == 0 || src > p->nsources)
		return;
	if (!bit_get(p->enable + (size_t)c * p->nwords, src))
		return;
	bit_put(p->claimed, src, false);
	if (bit_get(p->level, src))
		bit_put(p->pending, src, true);
}

static int plic_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	struct plic *p = dev;

	*val = 0;
	if (size != 4 || (off & 3))
		return -EFAULT;

	if (off < PLIC_PENDING_BASE) {
		uint64_t src = off / 4;

		if (src >= 1 && src <= p->nsources)
			*val = p->priority[src];
	} else if (off < PLIC_ENABLE_BASE) {
		uint64_t w = (off - PLIC_PENDING_BASE) / 4;

		if (w < p->nwords)
			*val = p->pending[w];
	} else if (off < PLIC_CONTEXT_BASE) {
		uint64_t c = (off - PLIC_ENABLE_BASE) / PLIC_ENABLE_STRIDE;
		uint64_t w = (off - PLIC_ENABLE_BASE) % PLIC_ENABLE_STRIDE / 4;

		if (c < p->ncontexts && w < p->nwords)
			*val = p->enable[c * p->nwords + w];
	} else {
		uint64_t c = (off - PLIC_CONTEXT_BASE) / PLIC_CONTEXT_STRIDE;
		uint64_t reg = (off - PLIC_CONTEXT_BASE) % PLIC_CONTEXT_STRIDE;

		if (c >= p->ncontexts)
			return 0;
		if (reg == 0) {
			*val = p->threshold[c];
		} else if (reg == 4) {
			*val = plic_claim(p, (unsigned)c);
			plic_update(p);
		}
	}
	return 0;
}

static int plic_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct plic *p = dev;
	uint32_t v = (uint32_t)val;

	if (size != 4 || (off & 3))
		return -EFAULT;

	if (off < PLIC_PENDING_BASE) {
		uint64_t src = off / 4;

		if (src >= 1 && src <= p->nsources)
			p->priority[src] = v & PLIC_PRIO_MASK;
	} else if (off < PLIC_ENABLE_BASE) {
		return 0; /* pending bits are read-only */
	} else if (off < PLIC_CONTEXT_BASE) {
		uint64_t c = (off - PLIC_ENABLE_BASE) / PLIC_ENABLE_STRIDE;
		uint64_t w = (off - PLIC_ENABLE_BASE) % PLIC_ENABLE_STRIDE / 4;

		if (c >= p->ncontexts || w >= p->nwords)
			return 0;
		p->enable[c * p->nwords + w] = v & word_mask(p, (unsigned)w);
	} else {
		uint64_t c = (off - PLIC_CONTEXT_BASE) / PLIC_CONTEXT_STRIDE;
		uint64_t reg = (off - PLIC_CONTEXT_BASE) % PLIC_CONTEXT_STRIDE;

		if (c >= p->ncontexts)
			return 0;
		if (reg == 0)
			p->threshold[c] = v & PLIC_PRIO_MASK;
		else if (reg == 4)
			plic_complete(p, (unsigned)c, v);
		else
			return 0;
	}
	plic_update(p);
	return 0;
}

static void plic_destroy(void *dev)
{
	struct plic *p = dev;

	if (!p)
		return;
	free(p->priority);
	free(p->pending);
	free(p->claimed);
	free(p->level);
	free(p->enable);
	free(p->threshold);
	free(p->out);
	free(p);
}

static int plic_save(void *dev, struct vmbuf *b)
{
	struct plic *p = dev;
	size_t ew = (size_t)p->ncontexts * p->nwords;
	vmbuf_put_u32(b, p->nsources);
	vmbuf_put_u32(b, p->ncontexts);
	vmbuf_put_bytes(b, p->priority, p->nsources + 1);
	for (unsigned w = 0; w < p->nwords; w++) {
		vmbuf_put_u32(b, p->pending[w]);
		vmbuf_put_u32(b, p->claimed[w]);
		vmbuf_put_u32(b, p->level[w]);
	}
	for (size_t i = 0; i < ew; i++)
		vmbuf_put_u32(b, p->enable[i]);
	vmbuf_put_bytes(b, p->threshold, p->ncontexts);
	vmbuf_put_bytes(b, p->out, p->ncontexts);
	return 0;
}

static int plic_load(void *dev, struct vmrd *r, unsigned version)
{
	struct plic *p = dev;
	if (version != 1 || vmrd_u32(r) != p->nsources || vmrd_u32(r) != p->ncontexts)
		return -1;
	size_t ew = (size_t)p->ncontexts * p->nwords;
	vmrd_bytes(r, p->priority, p->nsources + 1);
	for (unsigned w = 0; w < p->nwords; w++) {
		p->pending[w] = vmrd_u32(r) & word_mask(p, w);
		p->claimed[w] = vmrd_u32(r) & word_mask(p, w);
		p->level[w] = vmrd_u32(r) & word_mask(p, w);
	}
	for (size_t i = 0; i < ew; i++)
		p->enable[i] = vmrd_u32(r) & word_mask(p, (unsigned)(i % p->nwords));
	vmrd_bytes(r, p->threshold, p->ncontexts);
	vmrd_bytes(r, p->out, p->ncontexts);
	for (unsigned i = 0; i <= p->nsources; i++)
		p->priority[i] &= PLIC_PRIO_MASK;
	for (unsigned c = 0; c < p->ncontexts; c++) {
		p->threshold[c] &= PLIC_PRIO_MASK;
		p->out[c] = p->out[c] != 0;
	}
	return vmrd_done(r) ? 0 : -1;
}

/* ---- write-log replay ---- */

/* Every guest-set register reads back, so nothing is logged: priorities,
 * enables and thresholds are read back, and the rest is residue. */
static const struct devlog_reg plic_regs[] = {
	{ "priority", PLIC_PRIORITY_BASE, PLIC_MAX_SOURCES + 1, 4, 0, 0, DEVLOG_READ_WRITE, 0 },
	{ "pending", PLIC_PENDING_BASE, (PLIC_ENABLE_BASE - PLIC_PENDING_BASE) / 4, 4, 0, 0,
	  DEVLOG_IGNORED, 0 },
	{ "enable", PLIC_ENABLE_BASE, (PLIC_CONTEXT_BASE - PLIC_ENABLE_BASE) / 4, 4, 0, 0,
	  DEVLOG_READ_WRITE, 0 },
	{ "threshold", PLIC_CONTEXT_BASE, PLIC_MAX_CONTEXTS, PLIC_CONTEXT_STRIDE, 0, 0,
	  DEVLOG_READ_WRITE, 0 },
	/* A complete ends a claim (a read): the claimed bits are residue. */
	{ "claim/complete", PLIC_CONTEXT_BASE + 4, PLIC_MAX_CONTEXTS, PLIC_CONTEXT_STRIDE, 0, 0,
	  DEVLOG_ACTION, 0 },
};

static void plic_read_back(void *dev, struct devlog_sink *s)
{
	struct plic *p = dev;
	for (unsigned src = 1; src <= p->nsources; src++)
		devlog_read_back(s, PLIC_PRIORITY_BASE + 4 * src, 0);
	for (unsigned c = 0; c < p->ncontexts; c++) {
		for (unsigned w = 0; w < p->nwords; w++)
			devlog_read_back(s, PLIC_ENABLE_BASE + c * PLIC_ENABLE_STRIDE + 4 * w, 0);
		devlog_read_back(s, PLIC_CONTEXT_BASE + c * PLIC_CONTEXT_STRIDE, 0);
	}
}

/* Gateways and claims (pending, claimed, input levels) and the output
 * lines: state the devices and the guest's claims produce, not writes. */
static int plic_residue_save(void *dev, struct vmbuf *b)
{
	struct plic *p = dev;
	vmbuf_put_u32(b, p->nsources);
	vmbuf_put_u32(b, p->ncontexts);
	for (unsigned w = 0; w < p->nwords; w++) {
		vmbuf_put_u32(b, p->pending[w]);
		vmbuf_put_u32(b, p->claimed[w]);
		vmbuf_put_u32(b, p->level[w]);
	}
	vmbuf_put_bytes(b, p->out, p->ncontexts);
	return 0;
}

static int plic_residue_load(void *dev, struct vmrd *r, unsigned version)
{
	struct plic *p = dev;
	if (version != 1 || vmrd_u32(r) != p->nsources || vmrd_u32(r) != p->ncontexts)
		return -1;
	for (unsigned w = 0; w < p->nwords; w++) {
		p->pending[w] = vmrd_u32(r) & word_mask(p, w);
		p->claimed[w] = vmrd_u32(r) & word_mask(p, w);
		p->level[w] = vmrd_u32(r) & word_mask(p, w);
	}
	vmrd_bytes(r, p->out, p->ncontexts);
	for (unsigned c = 0; c < p->ncontexts; c++)
		p->out[c] = p->out[c] != 0;
	return vmrd_done(r) ? 0 : -1;
}

static const struct devlog_ops plic_devlog = {
	.regs = plic_regs,
	.nregs = sizeof(plic_regs) / sizeof(plic_regs[0]),
	.width = 4,
	.sizes = 1u << 4,
	.read_back = plic_read_back,
	.residue_version = 1,
	.residue_save = plic_residue_save,
	.residue_load = plic_residue_load,
};

const struct dev_ops plic_ops = {
	.name = "plic",
	.devlog = &plic_devlog,
	.state_version = 1,
	.save = plic_save,
	.load = plic_load,
	.reset = plic_reset,
	.read = plic_read,
	.write = plic_write,
	.destroy = plic_destroy,
};

struct plic *plic_new(unsigned nsources, unsigned ncontexts, plic_notify_fn notify, void *ctx)
{
	struct plic *p;

	if (nsources > PLIC_MAX_SOURCES || ncontexts == 0 || ncontexts > PLIC_MAX_CONTEXTS)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->nsources = nsources;
	p->ncontexts = ncontexts;
	p->nwords = nsources / 32 + 1;
	p->notify = notify;
	p->ctx = ctx;
	p->priority = calloc(nsources + 1, sizeof(*p->priority));
	p->pending = calloc(p->nwords, sizeof(uint32_t));
	p->claimed = calloc(p->nwords, sizeof(uint32_t));
	p->level = calloc(p->nwords, sizeof(uint32_t));
	p->enable = calloc((size_t)ncontexts * p->nwords, sizeof(uint32_t));
	p->threshold = calloc(ncontexts, 1);
	p->out = calloc(ncontexts, 1);
	if (!p->priority || !p->pending || !p->claimed || !p->level ||
	    !p->enable || !p->threshold || !p->out) {
		plic_destroy(p);
		return NULL;
	}
	plic_reset(p);
	return p;
}

int plic_output(const struct plic *p, unsigned context)
{
	return context < p->ncontexts ? p->out[context] : 0;
}

void plic_redrive(void *plic)
{
	struct plic *p = plic;
	for (unsigned c = 0; c < p->ncontexts && p->notify; c++)
		p->notify(p->ctx, c, p->out[c]);
}

void plic_set_irq(void *plic, unsigned irq, int level)
{
	struct plic *p = plic;

	if (!p || irq == 0 || irq > p->nsources)
		return;
	bit_put(p->level, irq, level != 0);
	/* The gateway forwards a high level unless a request from this
	 * source is in flight; a level that drops before the claim withdraws
	 * the request, so the guest sees no spurious interrupt. */
	if (!bit_get(p->claimed, irq))
		bit_put(p->pending, irq, level != 0);
	plic_update(p);
}
