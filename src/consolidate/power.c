/* Host power models: linear between idle and peak, or piecewise linear over
 * the 11 SPECpower points (as in Beloglazov & Buyya 2012, section 6.1). */
#include <errno.h>
#include <math.h>
#include "consolidate/power.h"

double cons_power_watts(const struct cons_power *p, double u)
{
	if (!(u > 0))           /* also catches NaN */
		u = 0;
	if (u > 1)
		u = 1;
	if (p->kind == CONS_POWER_LINEAR)
		return p->idle_w + (p->peak_w - p->idle_w) * u;
	double x = u * 10;
	int i = (int)x;
	if (i >= 10)
		return p->table_w[10];
	return p->table_w[i] + (p->table_w[i + 1] - p->table_w[i]) * (x - i);
}

int cons_power_check(const struct cons_power *p)
{
	if (!isfinite(p->standby_w) || p->standby_w < 0)
		return -EINVAL;
	if (p->kind == CONS_POWER_LINEAR) {
		if (!isfinite(p->idle_w) || !isfinite(p->peak_w) || p->idle_w < 0 ||
		    p->peak_w < p->idle_w)
			return -EINVAL;
	} else if (p->kind == CONS_POWER_TABLE) {
		for (int i = 0; i <= 10; i++)
			if (!isfinite(p->table_w[i]) || p->table_w[i] < 0 ||
			    (i && p->table_w[i] < p->table_w[i - 1]))
				return -EINVAL;
	} else {
		return -EINVAL;
	}
	return p->standby_w <= cons_power_watts(p, 0) ? 0 : -EINVAL;
}
