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
 * Nanoseconds per unit of cost as 48.16 fixed point, rounded up. The state
 * is whole nanoseconds, so every rounding in this file goes up: a packet
 * limit is never exceeded (a byte limit by less than one byte: the burst's
 * own rounding), and where the interval is not a whole number of
 * nanoseconds (3/s: 333333333.3 ns) the admitted rate is lower by less than
 * 1 ns per interval. Rates whose interval divides evenly (2000/s, 100mbit)
 * are exact. Callers keep period_ns below 2^48 (about 78 hours) and count
 * below 2^40.
 */
static inline __u64 sl_gcra_interval_fp(__u64 period_ns, __u64 count)
{
	__u64 whole = period_ns / count;
	__u64 rem = period_ns % count;

	return (whole << SL_FP_SHIFT) + (((rem << SL_FP_SHIFT) + count - 1) / count);
}

/*
 * Time a cost occupies, rounded up to whole nanoseconds. A cost is one
 * packet or one frame's bytes, so it fits in 16 bits; with the interval's
 * integer part below 2^48 the product cannot overflow, and the data path
 * needs no 128-bit arithmetic.
 */
#define SL_MAX_COST	0xffffu
#define SL_FP_MASK	((1ull << SL_FP_SHIFT) - 1)

static inline __u64 sl_gcra_cost_ns(__u64 interval_fp, __u32 cost)
{
	__u64 whole = interval_fp >> SL_FP_SHIFT;
	__u64 frac = interval_fp & SL_FP_MASK;

	if (cost > SL_MAX_COST)
		cost = SL_MAX_COST;
	return whole * cost + ((frac * cost + SL_FP_MASK) >> SL_FP_SHIFT);
}

/*
 * How far ahead of now the TAT may run: the cost of `burst` units charged as
 * the data path charges them (packets one at a time, bytes a whole frame at
 * once), so an idle key admits exactly `burst` packets, or one frame of
 * `burst` bytes. Saturates; user space only.
 */
static inline __u64 sl_gcra_tolerance_ns(__u64 interval_fp, __u64 burst,
					 int bytes)
{
	__u64 whole = interval_fp >> SL_FP_SHIFT;
	__u64 frac = interval_fp & SL_FP_MASK;
	__u64 extra;

	if (!bytes) {
		whole = sl_gcra_cost_ns(interval_fp, 1);
		frac = 0;
	}
	if (burst && whole > SL_U64_MAX / burst)
		return SL_U64_MAX;
	if (burst > (SL_U64_MAX >> SL_FP_SHIFT))
		return SL_U64_MAX;
	extra = (frac * burst + SL_FP_MASK) >> SL_FP_SHIFT;
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
 * Returns 1 if the cost conforms, 0 if not, and in *new_tat always the
 * state the key holds afterwards. A TAT more than SL_CLAMP_SLACK_NS beyond
 * the tolerance means the limit was tightened on a live key (or the clock
 * stepped back): the packet is refused and the TAT clamped to a full
 * bucket, now + tolerance, so the key resumes at the new rate one
 * tolerance later instead of paying off a debt the new limit would never
 * have let it run up. Closer than that, the TAT is ahead only because this
 * CPU's `now` was read before another CPU spent from the key: clamping then
 * would hand back credit, so the packet is refused and nothing written.
 * Every sum is checked, so no input wraps into an admit.
 */
#define SL_CLAMP_SLACK_NS	1000000ull	/* 1 ms: far beyond any stale read */

static inline int sl_gcra_conform(__u64 tat, __u64 now, __u64 cost_ns,
				  __u64 tolerance_ns, __u64 *new_tat)
{
	__u64 ahead = tat > now ? tat - now : 0;

	*new_tat = tat;
	if (ahead > tolerance_ns) {
		if (ahead - tolerance_ns > SL_CLAMP_SLACK_NS)
			*new_tat = now + tolerance_ns;	/* < tat: no overflow */
		return 0;
	}
	if (cost_ns > tolerance_ns - ahead)
		return 0;
	if (now > SL_U64_MAX - (ahead + cost_ns))
		return 0;
	*new_tat = now + ahead + cost_ns;
	return 1;
}

/*
 * Until when a refused key goes on refusing every packet that costs at
 * least min_cost_ns: refusal is now + (tat - now) + cost > tolerance, so it
 * holds while now < tat + cost - tolerance, whatever other CPUs do
 * meanwhile (they only move the TAT later). 0 when it does not hold even
 * now. Refunds, which move a TAT back, come from a rule's later limits, and
 * only make a remembered refusal last up to one cost too long.
 */
static inline __u64 sl_gcra_refused_until(__u64 tat, __u64 min_cost_ns,
					  __u64 tolerance_ns)
{
	if (tat > SL_U64_MAX - min_cost_ns || tat + min_cost_ns <= tolerance_ns)
		return 0;
	return tat + min_cost_ns - tolerance_ns;
}

/*
 * Warm-up: Guava's SmoothWarmingUp with coldFactor 3, as a function of
 * time instead of stored permits.
 *
 * Guava charges a permit taken at stored-permit level p the interval
 * I(p) = T for p below thresholdPermits, rising linearly to the cold
 * interval 3T at maxPermits, and taking permits costs the integral of I
 * over the levels they span. With thresholdPermits = W / 2T and maxPermits
 * = thresholdPermits + 2W / (T + 3T) = W / T (its doSetRate), the slope is
 * s = 2T / (W / 2T) = 4T^2 / W. A cold limiter holds maxPermits; under
 * saturating demand it never idles, so nothing refills, and draining from
 * maxPermits to level p takes e = integral of I(q) dq over [p, maxPermits].
 * Substituting dI = s dq, e = integral of I dI / s over [I, 3T] =
 * (9T^2 - I^2) / 2s, so
 *
 *	I(e) = sqrt(9T^2 - 2se) = T sqrt(9 - 8e / W),	0 <= e <= W,
 *
 * which is 3T (a third of the rate) at e = 0 and T at e = W, when the
 * trapezoid's area, W, is spent. Over the warm-up a saturating demand gets
 * the integral of de / I(e), (W / 4T)(3 - 1) = W / 2T: half what the full
 * rate would have passed.
 *
 * sluice stretches every rate limit of a warming rule by the factor
 * sqrt(9 - 8e / W) at the packet's arrival: interval and tolerance alike,
 * so the rule behaves as rate / factor with the same burst. The ramp runs
 * on the rule's clock (load, or a breaker closing), not on each key's
 * idleness: Guava's limiter cools down again when idle, but an idle client
 * says nothing about whether the backend behind the rule is warm.
 *
 * Integer only, for the data path: e / W is taken in 1/65536 steps rounded
 * down and the square root rounded up, so the factor never falls below the
 * curve (never admits faster than it) and exceeds it by less than 5 parts
 * in 65536 of the stable interval: 4 from the step (d sqrt(f) / df is at
 * most 1/2 for f >= 1) and 1 from the rounding.
 */
#define SL_WARM_ONE		(1u << SL_FP_SHIFT)	/* factor 1.0, 16.16 */
#define SL_WARM_COLD		(3u << SL_FP_SHIFT)	/* coldFactor 3 */
#define SL_WARM_MAX_NS		(1ull << 48)	/* warm-ups are shorter */
/* What sl_warm_scale() takes: intervals (48.16) and tolerances below it. */
#define SL_WARM_MAX_SCALED	(1ull << 62)

/*
 * ceil(sqrt(x)) for 2^32 <= x <= 9 x 2^32: a warm-up factor squared, in
 * .32 fixed point. Newton's method from the tangent at 4 x 2^32, which
 * lies above the root, so every step stays at or above its floor; three
 * steps bring a relative error of at most 1/4 (at x = 2^32) to 5e-8, under
 * one unit of the result, and two comparisons settle floor or ceiling.
 * Nothing in the steps branches on x: the verifier, which follows both
 * ways of every such branch (and splits on 0/-1 masks too), would
 * otherwise face one path per bit of the root.
 */
static inline __u32 sl_warm_sqrt(__u64 x)
{
	__u64 root = (1ull << 16) + (x >> 18);	/* 65536 (1 + f / 4) */
	int i;

	for (i = 0; i < 3; i++)
		root = (root + x / root) >> 1;
	if (root * root > x)
		root--;
	if (root * root < x)
		root++;
	return (__u32)root;
}

/*
 * sqrt(9 - 8e / W) in 16.16 at `now`, for a warm-up of `warmup` ns (below
 * SL_WARM_MAX_NS) that began at `start`: SL_WARM_COLD at the start,
 * SL_WARM_ONE from the end on, and more than SL_WARM_ONE at every instant
 * before it. A `now` before `start` was read just before a restart of the
 * warm-up stamped it, and counts as its start.
 */
static inline __u32 sl_warm_factor(__u64 now, __u64 start, __u64 warmup)
{
	__u64 elapsed = now > start ? now - start : 0, share;

	if (elapsed >= warmup)
		return SL_WARM_ONE;
	share = (elapsed << 16) / warmup;	/* e / W, 1/65536 steps, < 65536 */
	return sl_warm_sqrt((9ull << 32) - (share << 19));
}

/*
 * x stretched by a factor of at most SL_WARM_COLD, rounded up; x below
 * SL_WARM_MAX_SCALED, so no product overflows and the result stays below
 * 3 x 2^62.
 */
static inline __u64 sl_warm_scale(__u64 x, __u32 factor)
{
	return (x >> SL_FP_SHIFT) * factor +
	       (((x & SL_FP_MASK) * factor + SL_FP_MASK) >> SL_FP_SHIFT);
}

/*
 * Sliding-window counter: the count admitted in the current fixed window
 * plus the previous window's count weighted by the share of it the sliding
 * window still covers. One 64-bit word holds the current window's index
 * (modulo 2^24), the previous count and the current count (20 bits each),
 * so a key's whole state changes with one compare-and-swap.
 */
#define SL_WIN_COUNT_BITS	20
#define SL_WIN_INDEX_BITS	24
#define SL_WIN_MAX		((1ull << SL_WIN_COUNT_BITS) - 1)
#define SL_WIN_INDEX_MASK	((1ull << SL_WIN_INDEX_BITS) - 1)
#define SL_WIN_WEIGHT_SHIFT	10

static inline __u64 sl_window_pack(__u64 index, __u64 prev, __u64 cur)
{
	return ((index & SL_WIN_INDEX_MASK) << (2 * SL_WIN_COUNT_BITS)) |
	       (prev << SL_WIN_COUNT_BITS) | cur;
}

/*
 * Returns 1 if one more packet fits `max` per `period_ns` at `now`, with
 * the word to store in *new_word; 0 (and the word unchanged) if not. The
 * previous window's weight is rounded up, so the estimate never undercounts.
 * A key idle for a whole window forgets its past; one idle for k x 2^24 - 1,
 * k x 2^24 or k x 2^24 + 1 windows would mistake an old window for the next,
 * the current or the previous one (and refuse more than it should for one
 * window), a bound of 194 days for 1 s windows. A `now` one window
 * behind the stored one is a timestamp taken just before another CPU moved
 * the key on: it counts as the start of the stored window, never as a
 * reason to forget it. Callers keep max at most SL_WIN_MAX and period_ns
 * below 2^48.
 */
static inline int sl_window_conform(__u64 word, __u64 now, __u64 period_ns,
				    __u64 max, __u64 *new_word)
{
	__u64 index = now / period_ns;
	__u64 left = period_ns - (now - index * period_ns);
	__u64 stored = word >> (2 * SL_WIN_COUNT_BITS);
	__u64 prev = (word >> SL_WIN_COUNT_BITS) & SL_WIN_MAX;
	__u64 cur = word & SL_WIN_MAX;
	__u64 weight;

	*new_word = word;
	/* word 0 is a fresh key: an admit always leaves cur >= 1. */
	if (word && stored == ((index + 1) & SL_WIN_INDEX_MASK)) {
		index++;
		left = period_ns;
	}
	if (stored != (index & SL_WIN_INDEX_MASK)) {
		prev = stored == ((index - 1) & SL_WIN_INDEX_MASK) ? cur : 0;
		cur = 0;
	}
	weight = ((left << SL_WIN_WEIGHT_SHIFT) + period_ns - 1) / period_ns;
	if (prev * weight + ((cur + 1) << SL_WIN_WEIGHT_SHIFT) >
	    (max << SL_WIN_WEIGHT_SHIFT))
		return 0;
	*new_word = sl_window_pack(index, prev, cur + 1);
	return 1;
}

/*
 * How long a key's ban lasts when it is its n-th remembered offence
 * (n >= 1): base, doubled n - 1 times, never more than max.
 */
static inline __u64 sl_ban_duration(__u64 base, __u64 max, __u32 offences)
{
	__u32 shift = offences > 1 ? offences - 1 : 0;

	if (base >= max || shift >= 64 || base > (max >> shift))
		return max;
	return base << shift;
}

/*
 * Since when a state word has said nothing: from then on it behaves exactly
 * like a fresh key's 0, so the controller may delete the key. A TAT at or
 * before now is a full bucket (sl_gcra_conform reads it as now); a window
 * word stops counting once its window and the next one, which weighs it,
 * have passed. SL_U64_MAX while the word still says something. The sweep
 * calls these; the data path never does.
 */
static inline __u64 sl_gcra_quiet_since(__u64 tat, __u64 now)
{
	return tat <= now ? tat : SL_U64_MAX;
}

static inline __u64 sl_window_quiet_since(__u64 word, __u64 now, __u64 period_ns)
{
	__u64 index = now / period_ns;
	__u64 behind = (index - (word >> (2 * SL_WIN_COUNT_BITS))) & SL_WIN_INDEX_MASK;

	if (!word)
		return 0;
	/* The current window or the previous one count. A word ahead of now
	 * (by one: a CPU whose clock read later moved it on) will count once
	 * its window comes: only the half of the index cycle behind now is
	 * the past. */
	if (behind <= 1 || behind >= (SL_WIN_INDEX_MASK + 1) / 2)
		return SL_U64_MAX;
	if (behind > index)
		return 0;	/* a window before time began: never written */
	return (index - behind + 2) * period_ns;
}

#endif /* SLUICE_LIMITER_H */
