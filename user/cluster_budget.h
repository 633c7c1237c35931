/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Cluster mode's arithmetic, apart from any I/O so the unit tests can pin
 * it down: how much of a shared limit one host may spend, given what every
 * host offered and admitted, and how that share becomes the local limit
 * the data path enforces.
 */
#ifndef SLUICE_CLUSTER_BUDGET_H
#define SLUICE_CLUSTER_BUDGET_H

#include <stdint.h>

#include "sluice_abi.h"

/* A share is a fraction of the limit in 32.32 fixed point: 2^32 is all. */
#define SL_SHARE_ONE	(1ull << 32)

/*
 * Units in the sliding window of window_ms ending elapsed_ms into the
 * current fixed window: the current window's count plus the previous
 * window's, weighted by the part of it the sliding window still covers
 * (the double-window counter of the seeds, with the weight of the sliding
 * window counter).
 */
double budget_window_estimate(uint64_t prev, uint64_t cur, uint64_t elapsed_ms,
			      uint64_t window_ms);

/*
 * Host me's share of limit (units per second) among n hosts offering
 * demand[0..n) units per second, as a fraction in 32.32 fixed point.
 *
 * Max-min fair: when the demands fit in the limit, each host gets its
 * demand plus an equal part of what is left, spread over all n_hosts live
 * hosts (a host with no traffic yet keeps a foothold); when they do not, a
 * water level L is found with sum(min(d_i, L)) = limit and each host gets
 * min(d_i, L), so a light host keeps all it asks and the heavy ones split
 * the rest. The shares of one snapshot add up to exactly the limit.
 * n_hosts counts hosts without demand too and is at least n.
 */
uint64_t budget_share(const double *demand, unsigned n, unsigned me,
		      unsigned n_hosts, double limit);

/* The share every host falls back to without Redis: 1 / hosts. */
uint64_t budget_fallback_share(unsigned hosts);

/*
 * A rate limit as this host spends it at share (32.32): the rate scaled by
 * the share, rounded so the local rate is never above its share. The burst
 * scales with it, which in GCRA terms leaves the tolerance in nanoseconds
 * as it was, except that it never drops below one packet (or one largest
 * frame, for byte rates): a host with a sliver of the limit still passes a
 * packet now and then rather than none at all.
 */
void budget_local_rate(const struct sl_limit *global, uint64_t share,
		       struct sl_limit *local);

/* Connections this host may hold: the limit less the other hosts' count. */
uint64_t budget_local_conns(uint64_t max, uint64_t others);

/* Without Redis: the limit divided by the hosts, but never none. */
uint64_t budget_fallback_conns(uint64_t max, unsigned hosts);

#endif /* SLUICE_CLUSTER_BUDGET_H */
