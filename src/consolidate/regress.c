/* Weighted least squares with tricube weights: the local regression of
 * Cleveland (1979) evaluated at the newest observation. */
#include <errno.h>
#include <math.h>
#include "consolidate/regress.h"

double cons_tricube(double u)
{
	u = fabs(u);
	if (u >= 1)
		return 0;
	double t = 1 - u * u * u;
	return t * t * t;
}

int cons_loess_fit(const double *y, unsigned n, double *a, double *b)
{
	if (n < 3)
		return -EINVAL;
	double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
	double span = (double)(n - 1);
	for (unsigned i = 0; i < n; i++) {
		double x = i + 1;
		double w = cons_tricube((n - x) / span);
		sw += w;
		sx += w * x;
		sy += w * y[i];
		sxx += w * x * x;
		sxy += w * x * y[i];
	}
	double det = sw * sxx - sx * sx;
	if (!(fabs(det) > 1e-12))
		return -EINVAL;
	*b = (sw * sxy - sx * sy) / det;
	*a = (sy - *b * sx) / sw;
	return 0;
}
