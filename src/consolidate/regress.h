/* Local regression (Loess, degree 1, tricube weights) over a utilization
 * history, as used by the LR overload detector of Beloglazov & Buyya 2012. */
#ifndef TERN_CONSOLIDATE_REGRESS_H
#define TERN_CONSOLIDATE_REGRESS_H

/* Fits y = a + b*x to y[0..n-1] at x = 1..n, the point i weighted by the
 * tricube T((n - x_i) / (n - 1)), so the newest point weighs most and the
 * oldest nothing. Returns 0, or -EINVAL when n < 3 or the fit is singular. */
int cons_loess_fit(const double *y, unsigned n, double *a, double *b);
/* The tricube weight T(u) = (1 - |u|^3)^3 for |u| < 1, else 0. */
double cons_tricube(double u);
#endif
