/* SiFive-compatible PLIC: priorities, pending, per-context enables,
 * thresholds, claim/complete. tern exposes one context per hart: that
 * hart's S-mode external interrupt (context n = hart n). */
#ifndef TERN_PLIC_H
#define TERN_PLIC_H
#include "dev/dev.h"

struct plic;
/* Called when a context's external-interrupt line changes level. */
typedef void (*plic_notify_fn)(void *ctx, unsigned context, int level);

extern const struct dev_ops plic_ops;
/* nsources: highest source id (sources are 1..nsources, max 1023). */
struct plic *plic_new(unsigned nsources, unsigned ncontexts, plic_notify_fn notify, void *ctx);
/* Level-triggered input; use as an irq_line's set function (ctx = plic). */
void plic_set_irq(void *plic, unsigned irq, int level);
/* The level a context's output line is driving (0 or 1). */
int plic_output(const struct plic *p, unsigned context);
/* Sends every context's output level to notify again: after a restore,
 * so the harts' external-interrupt lines agree with the loaded PLIC
 * (a device-registry post_load hook, core/devreg.h). */
void plic_redrive(void *plic);
#endif
