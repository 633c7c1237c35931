/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The limiter math, shared by the XDP program and the unit tests. Pure
 * functions: time is a parameter, nothing here reads a clock or a map.
 */
#ifndef SLUICE_LIMITER_H
#define SLUICE_LIMITER_H

#include <linux/types.h>

#define SL_FP_SHIFT	16
#define SL_U64_MAX	(~(__u64)0)

/*
 * Nanoseconds per unit of cost as 48.16 fixed point. Rates such as 100mbit
 * (80 ns/byte) divide evenly, 1500 bytes/s does not; the fraction keeps
 * byte costs exact. A packet costs the integer part, so a packet rate runs
 * fast by less than 1 ns per interval: under one part in 10^8 for any rate
 * below 10^7/s. Callers keep period_ns below 2^48 (about 78 hours) and count
 * below 2^40.
 */
static inline __u64 sl_gcra_interval_fp(__u64 period_ns, __u64 count)
{
	__u64 whole = period_ns / count;
	__u64 rem = period_ns % count;

	return (whole << SL_FP_SHIFT) + ((rem << SL_FP_SHIFT) / count);
}

/*
 * Time a cost occupies. A cost is one packet or one frame's bytes, so it fits
 * in 16 bits; with the interval's integer part below 2^48 the product cannot
 * overflow, and the data path needs no 128-bit arithmetic.
 */
#define SL_MAX_COST	0xffffu

static inline __u64 sl_gcra_cost_ns(__u64 interval_fp, __u32 cost)
{
	__u64 whole = interval_fp >> SL_FP_SHIFT;
	__u64 frac = interval_fp & ((1ull << SL_FP_SHIFT) - 1);

	if (cost > SL_MAX_COST)
		cost = SL_MAX_COST;
	return whole * cost + ((frac * cost) >> SL_FP_SHIFT);
}

/*
 * How far ahead of now the TAT may run: the cost of `burst` units charged as
 * the data path charges them (one unit per packet, a whole frame of bytes at
 * once), so an idle key admits exactly `burst`. Saturates; user space only.
 */
static inline __u64 sl_gcra_tolerance_ns(__u64 interval_fp, __u64 burst,
					 int bytes)
{
	__u64 whole = interval_fp >> SL_FP_SHIFT;
	__u64 frac = interval_fp & ((1ull << SL_FP_SHIFT) - 1);
	__u64 extra;

	if (!bytes)
		frac = 0;
	if (burst && whole > SL_U64_MAX / burst)
		return SL_U64_MAX;
	if (burst > (SL_U64_MAX >> SL_FP_SHIFT))
		return SL_U64_MAX;
	extra = (frac * burst) >> SL_FP_SHIFT;
	if (whole * burst > SL_U64_MAX - extra)
		return SL_U64_MAX;
	return whole * burst + extra;
}

/*
 * Generic cell rate algorithm, virtual-scheduling form. The state is the
 * theoretical arrival time (TAT): when the key would be idle again had every
 * admitted unit been spaced exactly one interval apart. A cost conforms if,
 * after adding it, TAT runs at most `tolerance_ns` ahead of now; with
 * tolerance = burst x interval an idle key admits exactly `burst` units at
 * once and then one per interval.
 *
 * Returns 1 and the new TAT if the cost conforms, 0 (state unchanged) if not.
 * A TAT further ahead than the tolerance means the clock stepped backwards or
 * the limit was tightened on a live key; it counts as a full bucket, so a key
 * is never starved for longer than one tolerance and never over-admitted.
 * Every sum is checked, so no input wraps into an admit.
 */
static inline int sl_gcra_conform(__u64 tat, __u64 now, __u64 cost_ns,
				  __u64 tolerance_ns, __u64 *new_tat)
{
	__u64 ahead = tat > now ? tat - now : 0;

	if (ahead > tolerance_ns)
		ahead = tolerance_ns;
	if (cost_ns > tolerance_ns - ahead)
		return 0;
	if (now > SL_U64_MAX - (ahead + cost_ns))
		return 0;
	*new_tat = now + ahead + cost_ns;
	return 1;
}

#endif /* SLUICE_LIMITER_H */
