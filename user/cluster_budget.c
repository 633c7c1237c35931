// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>

#include "cluster_budget.h"
#include "sluice_limiter.h"

/*
 * The limiter math takes intervals whose whole part is below 2^48 ns
 * (sluice_limiter.h): a share so small that the interval would pass that
 * is a share of nothing, and the interval stops there.
 */
#define MAX_INTERVAL_FP	((((1ull << 48) - 1) << SL_FP_SHIFT) | SL_FP_MASK)

double budget_window_estimate(uint64_t prev, uint64_t cur, uint64_t elapsed_ms,
			      uint64_t window_ms)
{
	if (!window_ms)
		return cur;
	if (elapsed_ms > window_ms)
		elapsed_ms = window_ms;
	return (double)prev * (double)(window_ms - elapsed_ms) / (double)window_ms +
	       (double)cur;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Fractions round down: a host is never given more than its part. */
static uint64_t to_share(double alloc, double limit)
{
	double f;

	if (limit <= 0 || alloc <= 0)
		return 0;
	f = alloc / limit;
	if (f >= 1)
		return SL_SHARE_ONE;
	return (uint64_t)(f * (double)SL_SHARE_ONE);
}

uint64_t budget_share(const double *demand, unsigned n, unsigned me,
		      unsigned n_hosts, double limit)
{
	double total = 0, left, level, mine, *sorted;
	unsigned i, rest;

	if (me >= n)
		return 0;
	if (n_hosts < n)
		n_hosts = n;
	for (i = 0; i < n; i++)
		total += demand[i] > 0 ? demand[i] : 0;
	mine = demand[me] > 0 ? demand[me] : 0;
	if (total <= limit)
		return to_share(mine + (limit - total) / n_hosts, limit);

	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return budget_fallback_share(n_hosts);
	for (i = 0; i < n; i++)
		sorted[i] = demand[i] > 0 ? demand[i] : 0;
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	/* Fill from the lightest host up: whoever asks less than an equal
	 * part of what is left gets it all, the rest share the remainder. */
	left = limit;
	level = limit;
	for (i = 0, rest = n; i < n; i++, rest--) {
		if (sorted[i] * rest > left) {
			level = left / rest;
			break;
		}
		left -= sorted[i];
	}
	free(sorted);
	return to_share(mine < level ? mine : level, limit);
}

uint64_t budget_fallback_share(unsigned hosts)
{
	return SL_SHARE_ONE / (hosts ? hosts : 1);
}

void budget_local_rate(const struct sl_limit *global, uint64_t share,
		       struct sl_limit *local)
{
	unsigned __int128 fp;
	__u64 floor_ns;

	*local = *global;
	if (share >= SL_SHARE_ONE)
		return;
	if (!share) {
		local->rate.interval_fp = MAX_INTERVAL_FP;
		return;
	}
	fp = ((unsigned __int128)global->rate.interval_fp * SL_SHARE_ONE + share - 1) /
	     share;
	local->rate.interval_fp = fp > MAX_INTERVAL_FP ? MAX_INTERVAL_FP : (__u64)fp;
	floor_ns = sl_gcra_cost_ns(local->rate.interval_fp,
				   global->unit == SL_UNIT_BYTES ? SL_MAX_COST : 1);
	if (local->rate.tolerance_ns < floor_ns)
		local->rate.tolerance_ns = floor_ns;
}

uint64_t budget_local_conns(uint64_t max, uint64_t others)
{
	return others >= max ? 0 : max - others;
}

uint64_t budget_fallback_conns(uint64_t max, unsigned hosts)
{
	uint64_t n = max / (hosts ? hosts : 1);

	return n ? n : 1;
}
