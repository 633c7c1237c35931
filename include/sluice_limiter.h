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
