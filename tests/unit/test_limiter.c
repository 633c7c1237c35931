// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The limiter math in include/sluice_limiter.h against a synthetic clock.
 *
 * Every expectation is an exact count derived by hand from the contract:
 * every rounding goes up, so one packet costs c1 = sl_gcra_cost_ns(fp, 1)
 * whole nanoseconds, ceil(period / count) or a little more, and tolerance =
 * burst x c1 for packets. An idle key admits exactly `burst` at once, and
 * the k-th packet after that burst becomes due at exactly k x c1
 * nanoseconds, so a demand that never lets up has had burst + floor(T / c1)
 * packets admitted at time T. That is never more than the ideal
 * burst + floor(count x T / period), and equal to it where the interval is a
 * whole number of nanoseconds (10/s, 2000/s, 100mbit). Nothing here accepts
 * "roughly the rate": a limiter that drifts by one packet is wrong.
 *
 * Sums that could overflow 64 bits are checked against unsigned __int128
 * references.
 *
 * A TAT beyond the tolerance is refused whatever the cost. It is clamped to
 * a full bucket (now + tolerance) only where the excess over the tolerance
 * is more than SL_CLAMP_SLACK_NS (1 ms): a limit tightened on a live key, or
 * a clock stepped back. An excess of 1 ms or less is what a `now` read on
 * one CPU before another CPU's update sees, and is left alone, so a stale
 * timestamp never hands credit back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sluice_limiter.h"

#define UNUSED		__attribute__((unused))
#define NS		1ull
#define MS		1000000ull
#define S		1000000000ull
#define BIT(n)		(1ull << (n))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define SENTINEL	0x5a5a5a5a5a5a5a5aull

typedef unsigned __int128 u128;

/* One configured limit as the data path sees it. */
struct limit {
	__u64 interval_fp;
	__u64 tolerance_ns;
};

/*
 * "count per period, burst N": 10/s burst 5 is limit_of(S, 10, 5). The
 * tolerance is filled exactly as the controller fills sl_limit.tolerance_ns
 * (user/ruleset.c limit_to_abi), so these tests see the state the XDP
 * program sees.
 */
static struct limit limit_of(__u64 period_ns, __u64 count, __u64 burst)
{
	struct limit l;

	l.interval_fp = sl_gcra_interval_fp(period_ns, count);
	l.tolerance_ns = sl_gcra_tolerance_ns(l.interval_fp, burst, 0);
	return l;
}

/* A byte rate: 100mbit burst 2MB is byte_limit_of(S, 12500000, 2000000). */
static struct limit byte_limit_of(__u64 period_ns, __u64 count, __u64 burst)
{
	struct limit l;

	l.interval_fp = sl_gcra_interval_fp(period_ns, count);
	l.tolerance_ns = sl_gcra_tolerance_ns(l.interval_fp, burst, 1);
	return l;
}

/* c1: what one packet costs, whole nanoseconds rounded up. */
static __u64 c1_of(const struct limit *l)
{
	return sl_gcra_cost_ns(l->interval_fp, 1);
}

/* The clamp slack the contract names: 1 ms, pinned here, not read back. */
#define CLAMP_SLACK	(1 * MS)

/*
 * One packet (or frame of `cost` bytes) offered at `now`; 1 if admitted.
 * sl_gcra_conform always writes the state the key holds afterwards, and the
 * data path stores it whenever it differs (bpf/sluice.bpf.c spend()), so
 * this stores it on every call. A TAT beyond the tolerance is always
 * refused; a refusal moves the TAT only to clamp a TAT more than
 * tolerance + 1 ms ahead to a full bucket, and leaves every other TAT
 * exactly as it was.
 */
static int offer(__u64 *tat, __u64 now, const struct limit *l, __u32 cost)
{
	__u64 next = SENTINEL;
	__u64 ahead = *tat > now ? *tat - now : 0;
	int ok = sl_gcra_conform(*tat, now,
				 sl_gcra_cost_ns(l->interval_fp, cost),
				 l->tolerance_ns, &next);

	if (ahead > l->tolerance_ns)
		assert_int_equal(ok, 0);
	if (!ok)
		assert_int_equal(next, ahead > l->tolerance_ns &&
				       ahead - l->tolerance_ns > CLAMP_SLACK ?
				       now + l->tolerance_ns : *tat);
	*tat = next;
	return ok;
}

/* `n` offers at one instant: how many the limiter lets through. */
static __u64 flood(__u64 *tat, __u64 now, const struct limit *l, __u32 cost,
		   __u64 n)
{
	__u64 admitted = 0;

	while (n--)
		admitted += offer(tat, now, l, cost);
	return admitted;
}

/* Offers at one instant until the first refusal: everything that is due. */
static __u64 drain(__u64 *tat, __u64 now, const struct limit *l)
{
	__u64 admitted = 0;

	while (offer(tat, now, l, 1))
		admitted++;
	return admitted;
}

/* floor(count x t / period): units that fall due in t nanoseconds. */
static __u64 due(__u64 period_ns, __u64 count, __u64 t)
{
	return (__u64)((u128)count * t / period_ns);
}

/*
 * The ideal limit a key started idle at t = 0 is held to: at no instant t
 * may more than burst + floor(count x t / period) packets have gone through.
 */
struct ledger {
	__u64 period, count, burst, admitted;
};

static void ledger_admit(struct ledger *lg, __u64 now)
{
	__u64 cap = lg->burst + due(lg->period, lg->count, now);

	if (++lg->admitted <= cap)
		return;
	print_error("%llu per %llu ns burst %llu: %llu admitted by %llu ns, "
		    "ideal limit %llu\n", (unsigned long long)lg->count,
		    (unsigned long long)lg->period,
		    (unsigned long long)lg->burst,
		    (unsigned long long)lg->admitted, (unsigned long long)now,
		    (unsigned long long)cap);
	fail();
}

/*
 * A steady stream: one offer at each of `steps` evenly spread instants in
 * (from, to], the last one at exactly `to`. Instants are rounded down to the
 * nanosecond, so uneven periods (3/s) still end exactly at `to`. Every admit
 * is checked against `lg` when one is given.
 */
static __u64 stream(__u64 *tat, __u64 from, __u64 to, __u64 steps,
		    const struct limit *l, __u32 cost, struct ledger *lg)
{
	__u64 admitted = 0;

	for (__u64 i = 1; i <= steps; i++) {
		__u64 now = from + (__u64)((u128)(to - from) * i / steps);

		if (offer(tat, now, l, cost)) {
			admitted++;
			if (lg)
				ledger_admit(lg, now);
		}
	}
	return admitted;
}

/*
 * How far short of the ideal floor(count x T / period) the contract's
 * floor(T / c1) may fall: floor(a) - floor(b) <= ceil(a - b), and
 * a - b = T x (c1 x count - period) / (period x c1), under one packet per
 * c1 nanoseconds of T (a relative error below 1 / c1).
 */
static __u64 shortfall_bound(__u64 period, __u64 count, __u64 c1, __u64 t)
{
	u128 num = (u128)t * ((u128)c1 * count - period);
	u128 den = (u128)period * c1;

	assert_true((u128)c1 * count >= period);
	return (__u64)((num + den - 1) / den);
}

/* Reports a wrong count; 1 if wrong, so table rows can all be reported. */
static int check_count(const char *what, __u64 got, __u64 want)
{
	if (got == want)
		return 0;
	print_error("%s: admitted %llu, expected %llu (%+lld)\n", what,
		    (unsigned long long)got, (unsigned long long)want,
		    (long long)(got - want));
	return 1;
}

static void expect_count(const char *what, __u64 got, __u64 want)
{
	check_count(what, got, want);
	assert_int_equal(got, want);
}

/* xorshift64*: reproducible inputs for the reference comparisons. */
static __u64 rnd(__u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/*
 * The contract in 128 bits, written from its definition rather than from
 * the header: every rounding up, packets cost c1 each and may run
 * burst x c1 ahead, bytes ceil(fp x burst / 2^16).
 */
static u128 ceil_div(u128 a, u128 b)
{
	return (a + b - 1) / b;
}

static __u64 ref_interval_fp(__u64 period, __u64 count)
{
	return (__u64)ceil_div((u128)period << SL_FP_SHIFT, count);
}

static __u64 ref_cost_ns(__u64 fp, __u32 cost)
{
	if (cost > SL_MAX_COST)
		cost = SL_MAX_COST;
	return (__u64)ceil_div((u128)fp * cost, BIT(SL_FP_SHIFT));
}

static __u64 ref_tolerance_ns(__u64 fp, __u64 burst, int bytes)
{
	u128 tol = bytes ? ceil_div((u128)fp * burst, BIT(SL_FP_SHIFT))
			 : (u128)burst * ref_cost_ns(fp, 1);

	return tol > SL_U64_MAX ? SL_U64_MAX : (__u64)tol;
}

/*
 * GCRA with the clamp: a TAT more than `tol` ahead never conforms, whatever
 * the cost; where it is more than `tol` + `slack` ahead the refusal leaves a
 * full bucket (now + tol), otherwise the TAT as it was. A TAT within the
 * tolerance admits a cost that fits in what is left of it, if the new TAT
 * fits in 64 bits; a refusal then leaves the TAT as it was. The contract's
 * slack is CLAMP_SLACK; slack 0 is the limiter before it had one (clamp
 * every excess), kept to show what the slack is for.
 */
static int ref_conform_slack(__u64 tat, __u64 now, __u64 cost, __u64 tol,
			     __u64 slack, __u64 *next)
{
	u128 ahead = tat > now ? (u128)tat - now : 0;
	u128 end = (u128)now + ahead + cost;

	*next = tat;
	if (ahead > (u128)tol + slack) {
		*next = (__u64)((u128)now + tol);
		return 0;
	}
	if (ahead + cost > tol || end > SL_U64_MAX)
		return 0;
	*next = (__u64)end;
	return 1;
}

static int ref_conform(__u64 tat, __u64 now, __u64 cost, __u64 tol,
		       __u64 *next)
{
	return ref_conform_slack(tat, now, cost, tol, CLAMP_SLACK, next);
}

/* ---- burst ---------------------------------------------------------- */

static void test_idle_key_admits_exactly_burst_at_once(void **state UNUSED)
{
	static const struct {
		__u64 period, count, burst, c1;
	} cases[] = {
		{ S, 10, 5, 100000000 },
		{ S, 1, 1, 1000000000 },
		{ S, 3, 5, 333333334 },		/* 333333333.3 rounded up */
		{ S, 7, 3, 142857143 },		/* 142857142.86 rounded up */
		{ 60 * S, 10, 5, 6000000000 },	/* 10/m */
		{ 3600 * S, 100, 100, 36000000000 }, /* 100/h */
		{ S, 2000, 4000, 500000 },
		{ S, 1000000, 1000, 1000 },
		{ S, 1000000, 100000, 1000 },	/* burst above SL_MAX_COST */
		/*
		 * 333.33 ns per packet costs 334 ns whole, and the tolerance
		 * is 1000 of those (334000 ns), so exactly 1000 fit, not the
		 * 1001 a tolerance carrying the fraction (333333 ns) let in.
		 */
		{ S, 3000000, 1000, 334 },
		{ S, 30000, 100, 33334 },
	};
	int wrong = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct limit l = limit_of(cases[i].period, cases[i].count,
					  cases[i].burst);
		char what[96];
		__u64 tat = 0;

		snprintf(what, sizeof(what), "%llu per %llu ns burst %llu",
			 (unsigned long long)cases[i].count,
			 (unsigned long long)cases[i].period,
			 (unsigned long long)cases[i].burst);
		assert_int_equal(c1_of(&l), cases[i].c1);
		assert_int_equal(l.tolerance_ns, cases[i].burst * cases[i].c1);
		/* At t = 0 (a fresh key: tat 0) and at a later instant. */
		wrong += check_count(what, flood(&tat, 0, &l, 1,
						 cases[i].burst + 10),
				     cases[i].burst);
		assert_int_equal(tat, l.tolerance_ns);
		tat = 0;
		wrong += check_count(what, flood(&tat, 1234 * S, &l, 1,
						 cases[i].burst + 10),
				     cases[i].burst);
		assert_int_equal(tat, 1234 * S + l.tolerance_ns);
		/* Refused means refused: the same instant never admits more. */
		assert_int_equal(offer(&tat, 1234 * S, &l, 1), 0);
		/* And the next one is due exactly c1 later, not a ns before. */
		assert_int_equal(offer(&tat, 1234 * S + cases[i].c1 - 1, &l, 1), 0);
		assert_int_equal(offer(&tat, 1234 * S + cases[i].c1, &l, 1), 1);
		assert_int_equal(offer(&tat, 1234 * S + cases[i].c1, &l, 1), 0);
	}
	assert_int_equal(wrong, 0);
}

/* ---- steady rate ---------------------------------------------------- */

/*
 * Demand at ten times the rate: a flood at t = 0, then one offer every tenth
 * of an interval until `end`. Burst >= 2 keeps TAT ahead of every offer, so
 * the coarse offer grid costs no admits and the count is exactly
 * burst + floor(end / c1): `want` in the tables, worked out by hand, with
 * c1 (the cost of one packet) alongside. Every admit is also checked
 * against the ideal limit, and the total against the bound on how far short
 * of it rounding up may fall.
 */
struct steady_case {
	const char *what;
	__u64 period, count, burst, end, c1, want;
};

static int run_steady(const struct steady_case *c)
{
	struct limit l = limit_of(c->period, c->count, c->burst);
	struct ledger lg = { c->period, c->count, c->burst, 0 };
	__u64 ideal = due(c->period, c->count, c->end);
	__u64 steps = 10 * ideal + 10;
	__u64 tat = 0;

	/* The table is the contract: c1 rounded up, want = floor(end / c1). */
	assert_int_equal(c1_of(&l), c->c1);
	assert_int_equal(c->want, c->end / c->c1);
	assert_true(c->want <= ideal);
	assert_true(ideal - c->want <=
		    shortfall_bound(c->period, c->count, c->c1, c->end));

	lg.admitted = flood(&tat, 0, &l, 1, 2 * c->burst);
	if (check_count(c->what, lg.admitted, c->burst))
		return 1;
	return check_count(c->what, stream(&tat, 0, c->end, steps, &l, 1, &lg),
			   c->want);
}

static void run_steady_cases(const struct steady_case *cases, size_t n)
{
	int wrong = 0;

	for (size_t i = 0; i < n; i++)
		wrong += run_steady(&cases[i]);
	assert_int_equal(wrong, 0);
}

/* Intervals of whole nanoseconds: exactly burst + rate x t, the ideal. */
static void test_steady_rate_admits_burst_plus_rate_times_t(void **state UNUSED)
{
	static const struct steady_case cases[] = {
		{ "10/s for 100 s", S, 10, 5, 100 * S, 100000000, 1000 },
		{ "1/s for 1 h", S, 1, 2, 3600 * S, S, 3600 },
		{ "100/m for 1 d", 60 * S, 100, 10, 86400 * S, 600000000,
		  144000 },
		{ "2000/s for 60 s", S, 2000, 4000, 60 * S, 500000, 120000 },
		{ "1000000/s for 2 s", S, 1000000, 1000, 2 * S, 1000,
		  2000000 },
		/* An end that is not a whole number of intervals. */
		{ "10/s for 7.05 s", S, 10, 5, 7 * S + 50 * MS, 100000000, 70 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(cases[i].want, due(cases[i].period,
						    cases[i].count,
						    cases[i].end));
	run_steady_cases(cases, ARRAY_SIZE(cases));
}

/*
 * 3/s and 7/s do not divide a second: 333333333.3 and 142857142.857 ns,
 * charged as 333333334 and 142857143 (3 x c1 = 1 s + 2 ns, 7 x c1 =
 * 1 s + 1 ns). Over 1e6 s that is 2 ms and 1 ms behind the ideal schedule:
 * one packet fewer than the ideal 3e6 and 7e6, never one more.
 */
static void test_steady_rate_3_and_7_per_s_exact_over_1e6_s(void **state UNUSED)
{
	static const struct steady_case cases[] = {
		{ "3/s for 1e6 s", S, 3, 5, 1000000 * S, 333333334, 2999999 },
		{ "7/s for 1e6 s", S, 7, 3, 1000000 * S, 142857143, 6999999 },
		/* 300000 x c1 = 1e14 + 200000 ns <= 1e14 + 1 ms: all there. */
		{ "3/s for 1e5 s + 1 ms", S, 3, 2, 100000 * S + MS, 333333334,
		  300000 },
	};

	run_steady_cases(cases, ARRAY_SIZE(cases));
}

/*
 * The same streams, stopped 1 ns before the instant the 3e6th / 7e6th
 * packet after the burst falls due under the contract (k x c1: 1e15 + 2 ms
 * and 1e15 + 1 ms), and at that instant. Charging the ideal fraction would
 * make those packets due 2 ms (3/s) and 1 ms (7/s) sooner, rounding the cost
 * down 3 ms and 7 ms sooner: either admits one packet early.
 */
static void test_steady_rate_3_and_7_per_s_no_early_admit_after_1e6_s(void **state UNUSED)
{
	static const struct steady_case cases[] = {
		{ "7/s, 1 ns before packet 7e6", S, 7, 3,
		  1000000 * S + MS - 1, 142857143, 6999999 },
		{ "7/s, packet 7e6 on time", S, 7, 3,
		  1000000 * S + MS, 142857143, 7000000 },
		{ "3/s, 1 ns before packet 3e6", S, 3, 5,
		  1000000 * S + 2 * MS - 1, 333333334, 2999999 },
		{ "3/s, packet 3e6 on time", S, 3, 5,
		  1000000 * S + 2 * MS, 333333334, 3000000 },
	};

	run_steady_cases(cases, ARRAY_SIZE(cases));
}

/*
 * Packet rates that do not divide a second where each interval is short, so
 * the rounding is a large share of it: 30000/s (33333.3 ns, charged 33334)
 * and 3000000/s (333.3 ns, charged 334). 1e11 / 33334 = 2999940.0 and
 * 1e9 / 334 = 2994011.97: 60 and 5989 short of the ideal, under the bound.
 */
static void test_steady_rate_high_rates_not_dividing_1e9_exact(void **state UNUSED)
{
	static const struct steady_case cases[] = {
		{ "30000/s for 100 s", S, 30000, 100, 100 * S, 33334, 2999940 },
		{ "3000000/s for 1 s", S, 3000000, 4, S, 334, 2994011 },
	};

	run_steady_cases(cases, ARRAY_SIZE(cases));
}

/*
 * Never-ending demand over long periods, offered at irregular instants
 * close enough together (at most (burst - 1) x c1 apart) that the key never
 * goes idle: at each one everything due goes through, and the running total
 * is exactly burst + floor(t / c1), within the ideal limit, and short of it
 * by no more than the rounding bound.
 */
static void test_uneven_rates_never_exceed_ideal_over_long_periods(void **state UNUSED)
{
	static const struct {
		__u64 period, count, burst, end, c1;
	} cases[] = {
		{ S, 3, 5, 10000000 * S, 333333334 },	/* 1e7 s */
		{ S, 7, 10, 10000000 * S, 142857143 },
		{ S, 30000, 100, 1000 * S, 33334 },
		{ S, 3000000, 100, 10 * S, 334 },
		{ 60 * S, 7, 10, 100000000 * S, 8571428572 },	/* 7/m */
	};
	__u64 seed = 0x243f6a8885a308d3ull;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct limit l = limit_of(cases[i].period, cases[i].count,
					  cases[i].burst);
		__u64 tat = 0, total, now = 0, instants = 0;
		__u64 gap = (cases[i].burst - 1) * cases[i].c1;

		assert_int_equal(c1_of(&l), cases[i].c1);
		total = drain(&tat, 0, &l);
		assert_int_equal(total, cases[i].burst);
		while (now < cases[i].end) {
			__u64 ideal, want;

			now += 1 + rnd(&seed) % gap;
			if (now > cases[i].end)
				now = cases[i].end;
			total += drain(&tat, now, &l);
			want = cases[i].burst + now / cases[i].c1;
			ideal = cases[i].burst + due(cases[i].period,
						     cases[i].count, now);
			if (total != want || total > ideal ||
			    ideal - total > shortfall_bound(cases[i].period,
							    cases[i].count,
							    cases[i].c1, now))
				print_error("%llu per %llu ns at %llu ns: "
					    "%llu admitted, contract %llu, "
					    "ideal %llu\n",
					    (unsigned long long)cases[i].count,
					    (unsigned long long)cases[i].period,
					    (unsigned long long)now,
					    (unsigned long long)total,
					    (unsigned long long)want,
					    (unsigned long long)ideal);
			assert_int_equal(total, want);
			assert_true(total <= ideal);
			instants++;
		}
		assert_true(instants > 100000);
	}
}

/*
 * Random arrivals, from trickles to floods: the admits in every window
 * [a, t] that ends with an admit at t and starts at one of the last 200
 * admits number at most burst + floor((t - a) / c1), and so at most the
 * ideal burst + floor(count x (t - a) / period).
 */
static void test_random_arrivals_never_exceed_limit_in_any_window(void **state UNUSED)
{
	static const struct {
		__u64 period, count, burst;
	} cases[] = {
		{ S, 3, 5 }, { S, 7, 1 }, { S, 30000, 100 }, { S, 3000000, 4 },
		{ S, 10, 5 }, { 60 * S, 7, 3 },
	};
	enum { RING = 256, BACK = 200 };
	__u64 seed = 0x13198a2e03707344ull;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct limit l = limit_of(cases[i].period, cases[i].count,
					  cases[i].burst);
		__u64 ring[RING], n = 0, tat = 0, now = 1000 * S;
		__u64 c1 = c1_of(&l), iv = cases[i].period / cases[i].count;

		for (int k = 0; k < 200000; k++) {
			/* Mostly bursts of offers, sometimes quiet spells. */
			switch (rnd(&seed) % 8) {
			case 0:
				now += rnd(&seed) % (4 * cases[i].burst * iv + 1);
				break;
			case 1: case 2: case 3:
				now += rnd(&seed) % (iv + 1);
				break;
			default:
				now += rnd(&seed) % (iv / 8 + 1);
				break;
			}
			if (!offer(&tat, now, &l, 1))
				continue;
			ring[n++ % RING] = now;
			for (__u64 j = cases[i].burst; j < BACK && j < n; j++) {
				__u64 a = ring[(n - 1 - j) % RING];

				/* j + 1 admits in [a, now]. */
				if (j + 1 > cases[i].burst + (now - a) / c1 ||
				    j + 1 > cases[i].burst +
					    due(cases[i].period,
						cases[i].count, now - a)) {
					print_error("%llu per %llu ns: %llu admits "
						    "in %llu ns\n",
						    (unsigned long long)cases[i].count,
						    (unsigned long long)cases[i].period,
						    (unsigned long long)(j + 1),
						    (unsigned long long)(now - a));
					fail();
				}
			}
		}
		assert_true(n > 10000);
	}
}

/*
 * Packets arriving exactly on schedule (packet k at ceil(k x period / count))
 * at a rate whose interval is a whole number of nanoseconds all conform for
 * 10^6 packets, and afterwards the key has exactly burst - 1 in hand: no
 * credit and no debt built up along the way.
 */
static void test_packets_at_exact_even_rate_conform_forever(void **state UNUSED)
{
	static const struct {
		__u64 period, count, burst;
	} cases[] = {
		{ S, 1, 1 },
		{ S, 10, 5 },
		{ 60 * S, 100, 3 },
		{ S, 2000, 3 },
		{ S, 1000000, 1 },
		{ S, 12500000, 2 },	/* 80 ns, 100mbit's bytes as packets */
	};
	const __u64 n = 1000000;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct limit l = limit_of(cases[i].period, cases[i].count,
					  cases[i].burst);
		__u64 tat = 0, now = 0, refused = 0;
		char what[96];

		assert_int_equal(c1_of(&l) * cases[i].count, cases[i].period);
		for (__u64 k = 0; k < n; k++) {
			now = (__u64)(((u128)k * cases[i].period +
				       cases[i].count - 1) / cases[i].count);
			refused += !offer(&tat, now, &l, 1);
		}
		snprintf(what, sizeof(what), "%llu per %llu ns burst %llu",
			 (unsigned long long)cases[i].count,
			 (unsigned long long)cases[i].period,
			 (unsigned long long)cases[i].burst);
		expect_count(what, refused, 0);
		expect_count(what, flood(&tat, now, &l, 1, cases[i].burst + 10),
			     cases[i].burst - 1);
	}
}

/*
 * The same sender at a rate whose interval is not whole nanoseconds falls
 * behind the limiter's schedule by c1 - period / count per packet, and is
 * refused exactly as often as that implies. Worked by hand:
 *
 *  3/s burst 1: packets at s, s + 333333334, s + 666666667 each second; the
 *    third comes 1 ns before TAT (s + 2 x c1 = s + 666666668) lets it, and
 *    is refused; the next second starts afresh. One in three: 333333.
 *  3/s burst 4: the 3 spare packets absorb the 2 ns a second; none refused,
 *    but at the end TAT is c1 + 999999 x 2/3 ns = 334000000 ns ahead, so 2
 *    of the 3 spare are left.
 *  7/s burst 1: 7 x c1 = 1 s + 1 ns, so from the second second on the first
 *    packet of each second is 1 ns early and refused: 999999 / 7 = 142857.
 *  7/s burst 2: none refused; TAT ends c1 + 142857 ns ahead, more than the
 *    one spare packet's worth, so none is left.
 *  30000/s and 3000000/s: the spare burst lasts (burst - 1) x c1 / (2/3 ns)
 *    packets, then one in c1 / (2/3 ns) is refused (from the 128-bit model).
 *
 * Every row is also replayed through the 128-bit model of the contract.
 */
static void test_packets_at_exact_uneven_rate_fall_behind_by_rounding(void **state UNUSED)
{
	static const struct {
		__u64 period, count, burst, refused, in_hand;
	} cases[] = {
		{ S, 3, 1, 333333, 0 },
		{ S, 3, 4, 0, 2 },
		{ S, 7, 1, 142857, 0 },
		{ S, 7, 2, 0, 0 },
		{ S, 30000, 2, 19, 0 },
		{ S, 3000000, 4, 1994, 0 },
	};
	const __u64 n = 1000000;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct limit l = limit_of(cases[i].period, cases[i].count,
					  cases[i].burst);
		__u64 c1 = (__u64)ceil_div(ref_interval_fp(cases[i].period,
							   cases[i].count),
					   BIT(SL_FP_SHIFT));
		__u64 tol = cases[i].burst * c1;
		__u64 tat = 0, ref_tat = 0, now = 0;
		__u64 refused = 0, ref_refused = 0, in_hand = 0, ref_in_hand = 0;
		char what[96];

		assert_int_equal(c1_of(&l), c1);
		assert_int_equal(l.tolerance_ns, tol);
		assert_true(c1 * cases[i].count > cases[i].period);
		for (__u64 k = 0; k < n; k++) {
			now = (__u64)(((u128)k * cases[i].period +
				       cases[i].count - 1) / cases[i].count);
			refused += !offer(&tat, now, &l, 1);
			ref_refused += !ref_conform(ref_tat, now, c1, tol,
						    &ref_tat);
			assert_int_equal(tat, ref_tat);
		}
		for (__u64 k = 0; k < cases[i].burst + 10; k++)
			ref_in_hand += ref_conform(ref_tat, now, c1, tol,
						   &ref_tat);
		in_hand = flood(&tat, now, &l, 1, cases[i].burst + 10);
		snprintf(what, sizeof(what), "%llu per %llu ns burst %llu",
			 (unsigned long long)cases[i].count,
			 (unsigned long long)cases[i].period,
			 (unsigned long long)cases[i].burst);
		expect_count(what, ref_refused, cases[i].refused);
		expect_count(what, refused, cases[i].refused);
		expect_count(what, ref_in_hand, cases[i].in_hand);
		expect_count(what, in_hand, cases[i].in_hand);
	}
}

/* ---- rate change on a live key -------------------------------------- */

/*
 * A stream under one limit, then tighter, then looser, without resetting
 * the key. Debt (TAT ahead of now) carries over in nanoseconds and is
 * measured against the new tolerance. Here it always stays within the new
 * tolerance.
 */
static void test_rate_change_mid_stream_carries_debt_in_ns(void **state UNUSED)
{
	struct limit l = limit_of(S, 10, 10);	/* 100 ms, tolerance 1 s */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 0, &l, 1, 20), 10);
	assert_int_equal(stream(&tat, 0, 5 * S, 500, &l, 1, NULL), 50);
	assert_int_equal(tat, 6 * S);	/* one full tolerance ahead */

	/*
	 * Tighten to 2/s burst 4 (500 ms, tolerance 2 s): 1 s of debt leaves
	 * room for two packets at once, then one every 500 ms from 5.5 s.
	 */
	l = limit_of(S, 2, 4);
	assert_int_equal(stream(&tat, 5 * S, 10 * S, 500, &l, 1, NULL), 2 + 10);
	assert_int_equal(tat, 12 * S);

	/*
	 * Loosen to 20/s burst 100 (50 ms, tolerance 5 s): 2 s of debt leaves
	 * 3 s of room, 60 packets, then 20/s for 5 s.
	 */
	l = limit_of(S, 20, 100);
	assert_int_equal(stream(&tat, 10 * S, 15 * S, 1000, &l, 1, NULL),
			 60 + 100);
}

static void test_tighten_within_new_tolerance_keeps_debt(void **state UNUSED)
{
	struct limit l = limit_of(S, 100, 100);	/* 10 ms, tolerance 1 s */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 0, &l, 1, 200), 100);
	/* 1/s burst 5: the 1 s already owed uses one of the five. */
	l = limit_of(S, 1, 5);
	assert_int_equal(flood(&tat, 0, &l, 1, 100), 4);
	assert_int_equal(tat, 5 * S);
	assert_int_equal(stream(&tat, 0, 10 * S, 100, &l, 1, NULL), 10);
}

static void test_loosen_within_new_tolerance_keeps_debt(void **state UNUSED)
{
	struct limit l = limit_of(S, 1, 2);	/* 1 s, tolerance 2 s */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 0, &l, 1, 10), 2);
	/* 10/s burst 50 (tolerance 5 s): 2 s owed leaves room for 30. */
	l = limit_of(S, 10, 50);
	assert_int_equal(flood(&tat, 0, &l, 1, 100), 30);
	assert_int_equal(stream(&tat, 0, 10 * S, 1000, &l, 1, NULL), 100);
}

/*
 * Debt beyond the new tolerance counts as a full bucket: the refusal itself
 * stores the clamped TAT, now + tolerance, so a key is never starved for
 * longer than one tolerance. A full bucket under 1/s burst 2 refuses now
 * and admits again 1 s later.
 */
static void test_tighten_beyond_new_tolerance_counts_as_full_bucket(void **state UNUSED)
{
	struct limit l = limit_of(S, 100, 1000);	/* 10 ms, tolerance 10 s */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 0, &l, 1, 2000), 1000);
	assert_int_equal(tat, 10 * S);
	l = limit_of(S, 1, 2);				/* 1 s, tolerance 2 s */
	assert_int_equal(flood(&tat, 0, &l, 1, 100), 0);
	assert_int_equal(tat, 2 * S);			/* clamped on refusal */
	/* Full bucket at t = 0: due again at 1 s, 2 s, ..., 10 s. */
	assert_int_equal(offer(&tat, 1 * S - 1, &l, 1), 0);
	assert_int_equal(tat, 2 * S);
	expect_count("1/s burst 2 after 10 s of debt, (0, 10 s]",
		     stream(&tat, 0, 10 * S, 100, &l, 1, NULL), 10);
	assert_int_equal(tat, 12 * S);
}

/*
 * Loosening a limit must not keep a key out for longer than the old limit
 * would have: 10 s of debt under 1/s burst 10, loosened to 100/s burst 100
 * (tolerance 1 s), is a full bucket that admits every 10 ms from 10 ms on.
 */
static void test_loosen_beyond_new_tolerance_counts_as_full_bucket(void **state UNUSED)
{
	struct limit l = limit_of(S, 1, 10);		/* 1 s, tolerance 10 s */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 0, &l, 1, 100), 10);
	assert_int_equal(tat, 10 * S);
	l = limit_of(S, 100, 100);			/* 10 ms, tolerance 1 s */
	assert_int_equal(flood(&tat, 0, &l, 1, 100), 0);
	assert_int_equal(tat, 1 * S);			/* clamped on refusal */
	expect_count("100/s burst 100 after 10 s of debt, (0, 10 s]",
		     stream(&tat, 0, 10 * S, 10000, &l, 1, NULL), 1000);
}

/* ---- byte costs ----------------------------------------------------- */

#define MBIT100_BYTES	12500000ull	/* 100mbit in bytes per second */

static void test_bytes_100mbit_interval_is_exactly_80ns_per_byte(void **state UNUSED)
{
	__u64 fp = sl_gcra_interval_fp(S, MBIT100_BYTES);

	assert_int_equal(fp, 80ull << SL_FP_SHIFT);
	assert_int_equal(sl_gcra_cost_ns(fp, 1), 80);
	assert_int_equal(sl_gcra_cost_ns(fp, 64), 5120);
	assert_int_equal(sl_gcra_cost_ns(fp, 1500), 120000);
	assert_int_equal(sl_gcra_cost_ns(fp, 9000), 720000);
	assert_int_equal(sl_gcra_cost_ns(fp, SL_MAX_COST), 80ull * SL_MAX_COST);
	/* burst 2MB: 2,000,000 bytes of 80 ns, far above SL_MAX_COST. */
	assert_int_equal(sl_gcra_tolerance_ns(fp, 2000000, 1), 160000000);
	assert_int_equal(byte_limit_of(S, MBIT100_BYTES, 2000000).tolerance_ns,
			 160000000);
}

static void test_bytes_frame_larger_than_burst_never_conforms(void **state UNUSED)
{
	struct limit l = byte_limit_of(S, MBIT100_BYTES, 1000);	/* 80 us */
	/* The last two are 1 ms and 1 ms + 1 ns beyond the tolerance at 5 s. */
	static const __u64 tats[] = { 0, 1 * S, 5 * S - 80000, 5 * S,
				      5 * S + 80000 + MS, 5 * S + 80000 + MS + 1 };
	static const __u64 nows[] = { 0, 5 * S, 3600 * S, SL_U64_MAX / 2 };

	assert_int_equal(l.tolerance_ns, 80000);
	for (size_t i = 0; i < ARRAY_SIZE(tats); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(nows); j++) {
			__u64 next = SENTINEL, tat = tats[i];
			/*
			 * What a refusal leaves: a full bucket where TAT was
			 * more than 1 ms beyond the tolerance, else TAT.
			 */
			__u64 keep = tat > nows[j] + l.tolerance_ns + MS ?
				     nows[j] + l.tolerance_ns : tat;

			/* 1001 bytes: one byte more than the whole burst. */
			assert_int_equal(sl_gcra_conform(tat, nows[j],
					 sl_gcra_cost_ns(l.interval_fp, 1001),
					 l.tolerance_ns, &next), 0);
			assert_int_equal(next, keep);
			next = SENTINEL;
			assert_int_equal(sl_gcra_conform(tat, nows[j],
					 sl_gcra_cost_ns(l.interval_fp, 1500),
					 l.tolerance_ns, &next), 0);
			assert_int_equal(next, keep);
			assert_int_equal(flood(&tat, nows[j], &l, 1500, 100), 0);
			assert_int_equal(tat, keep);
		}
	}
	/* Exactly the burst fits an idle key, once. */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 10 * S, &l, 1000, 10), 1);
	assert_int_equal(tat, 10 * S + 80000);
}

/*
 * Byte rates whose interval is not whole nanoseconds: the tolerance is
 * ceil(fp x burst / 2^16), what a frame of exactly `burst` bytes costs, so
 * that frame fits an idle key once, and nothing more fits at that instant.
 * A frame one byte larger never fits where a byte takes at least 1 ns.
 */
static void test_bytes_frame_of_exactly_burst_fits_idle_key(void **state UNUSED)
{
	static const struct {
		__u64 period, count, burst, tol;
	} cases[] = {
		/* 3gbit: 2.667 ns per byte, fp 174763 */
		{ S, 375000000, 1500, 4001 },	/* ceil(4000.008) */
		{ S, 375000000, 9000, 24001 },	/* ceil(24000.046) */
		{ S, 375000000, 65535, 174761 },	/* ceil(174760.33) */
		/* 30mbit: 266.667 ns per byte, fp 17476267 */
		{ S, 3750000, 1500, 400001 },	/* ceil(400000.008) */
		/* 7 bytes a second */
		{ S, 7, 64, 9142857143 },	/* ceil(9142857142.86) */
		/* 100mbit, exact */
		{ S, MBIT100_BYTES, 1500, 120000 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct limit l = byte_limit_of(cases[i].period, cases[i].count,
					       cases[i].burst);
		__u64 tat = 0;

		assert_int_equal(l.tolerance_ns, cases[i].tol);
		assert_int_equal(l.tolerance_ns,
				 sl_gcra_cost_ns(l.interval_fp,
						 (__u32)cases[i].burst));
		assert_true(l.interval_fp >= BIT(SL_FP_SHIFT));
		assert_int_equal(flood(&tat, 0, &l, (__u32)cases[i].burst, 10), 1);
		assert_int_equal(tat, cases[i].tol);
		assert_int_equal(offer(&tat, 0, &l, 1), 0);
		if (cases[i].burst < SL_MAX_COST) {
			tat = 0;
			assert_int_equal(flood(&tat, 0, &l,
					       (__u32)cases[i].burst + 1, 10), 0);
			assert_int_equal(tat, 0);
		}
	}
}

/*
 * 100mbit burst 15000 bytes (ten 1500-byte frames): 1500-byte frames offered
 * ten times faster than they drain go through at exactly 12.5e6 / 1500 =
 * 8333.3 per second, 83333 in 10 s.
 */
static void test_bytes_1500_byte_frames_at_rate_over_1500(void **state UNUSED)
{
	struct limit l = byte_limit_of(S, MBIT100_BYTES, 15000);
	__u64 tat = 0;

	assert_int_equal(l.tolerance_ns, 1200000);
	assert_int_equal(flood(&tat, 0, &l, 1500, 100), 10);
	expect_count("1500 B frames at 100mbit, 10 s",
		     stream(&tat, 0, 10 * S, 833340, &l, 1500, NULL),
		     10 * MBIT100_BYTES / 1500);
	/* And 64-byte frames: 195312.5 per second, 1953125 in 10 s. */
	tat = 0;
	assert_int_equal(flood(&tat, 0, &l, 64, 1000), 15000 / 64);
	expect_count("64 B frames at 100mbit, 10 s",
		     stream(&tat, 0, 10 * S, 19531260, &l, 64, NULL),
		     10 * MBIT100_BYTES / 64);
}

/* ---- tolerance ------------------------------------------------------ */

static void test_tolerance_matches_int128_reference_and_saturates(void **state UNUSED)
{
	/* U64_MAX = 3 x 5 x 17 x 257 x 641 x 65537 x 6700417 */
	const __u64 whole = 65537ull * 6700417;		/* < 2^48 */
	const __u64 burst = 3ull * 5 * 17 * 257 * 641;	/* whole x burst = MAX */
	const __u64 fp3 = sl_gcra_interval_fp(S, 3);
	const __u64 fp3m = sl_gcra_interval_fp(S, 3000000);
	__u64 seed = 0xa4093822299f31d0ull;

	/* Packets: burst x c1. Bytes: the burst's fraction rounded up once. */
	assert_int_equal(sl_gcra_tolerance_ns(fp3, 5, 0), 5 * 333333334ull);
	assert_int_equal(sl_gcra_tolerance_ns(fp3, 5, 1), 1666666667);
	assert_int_equal(sl_gcra_tolerance_ns(fp3m, 1000, 0), 334000);
	assert_int_equal(sl_gcra_tolerance_ns(fp3m, 1000, 1), 333334);
	assert_int_equal(sl_gcra_tolerance_ns(fp3m, 0, 0), 0);
	assert_int_equal(sl_gcra_tolerance_ns(fp3m, 0, 1), 0);

	/* Exactly U64_MAX fits; one unit or a fraction more saturates. */
	assert_int_equal(whole * burst, SL_U64_MAX);
	assert_int_equal(sl_gcra_tolerance_ns(whole << SL_FP_SHIFT, burst, 0),
			 SL_U64_MAX);
	assert_int_equal(sl_gcra_tolerance_ns(whole << SL_FP_SHIFT, burst, 1),
			 SL_U64_MAX);
	assert_int_equal(sl_gcra_tolerance_ns(whole << SL_FP_SHIFT, burst - 1, 0),
			 SL_U64_MAX - whole);
	assert_int_equal(sl_gcra_tolerance_ns(whole << SL_FP_SHIFT, burst + 1, 0),
			 SL_U64_MAX);
	assert_int_equal(sl_gcra_tolerance_ns(whole << SL_FP_SHIFT, burst + 1, 1),
			 SL_U64_MAX);
	/* A fraction of 1/2^16: c1 = whole + 1, and bytes round past MAX. */
	assert_int_equal(sl_gcra_tolerance_ns((whole << SL_FP_SHIFT) | 1,
					      burst, 0), SL_U64_MAX);
	assert_int_equal(sl_gcra_tolerance_ns((whole << SL_FP_SHIFT) | 1,
					      burst, 1), SL_U64_MAX);
	assert_int_equal(sl_gcra_tolerance_ns((whole << SL_FP_SHIFT) | 1,
					      burst - 1, 1),
			 SL_U64_MAX - whole + (burst - 1 + 0xffff) / 0x10000);

	/* Huge bursts saturate rather than wrap into a small tolerance. */
	static const __u64 huge[] = {
		BIT(40), BIT(47), BIT(48), BIT(63), SL_U64_MAX / 2, SL_U64_MAX,
	};
	for (size_t i = 0; i < ARRAY_SIZE(huge); i++) {
		/* 1/s, 3/s, 1 per 78 h, the largest fp: all >= 2^24 ns. */
		const __u64 fps[] = {
			sl_gcra_interval_fp(S, 1),
			sl_gcra_interval_fp(S, 3),
			sl_gcra_interval_fp(BIT(48) - 1, 1),
			SL_U64_MAX,
		};

		for (size_t j = 0; j < ARRAY_SIZE(fps); j++) {
			assert_int_equal(sl_gcra_tolerance_ns(fps[j], huge[i], 0),
					 SL_U64_MAX);
			assert_int_equal(sl_gcra_tolerance_ns(fps[j], huge[i], 1),
					 SL_U64_MAX);
		}
	}
	/*
	 * And the 128-bit reference, bursts below 2^48 (the controller
	 * allows at most 2^40): every product, saturated or not.
	 */
	for (int i = 0; i < 1000000; i++) {
		__u64 fp = rnd(&seed) >> (rnd(&seed) & 63);
		__u64 b = rnd(&seed) >> (16 + rnd(&seed) % 48);
		int bytes = (int)(rnd(&seed) & 1);

		assert_int_equal(sl_gcra_tolerance_ns(fp, b, bytes),
				 ref_tolerance_ns(fp, b, bytes));
	}
}

/* ---- cost clamp ----------------------------------------------------- */

static void test_cost_above_max_cost_is_clamped(void **state UNUSED)
{
	static const __u64 fps[] = {
		80ull << SL_FP_SHIFT,
		21845333333334ull,	/* 3/s */
		1,
		SL_U64_MAX,
	};
	static const __u32 costs[] = {
		SL_MAX_COST + 1, 0x10001, 100000, 1u << 31, 0xffffffffu,
	};

	for (size_t i = 0; i < ARRAY_SIZE(fps); i++) {
		__u64 at_max = sl_gcra_cost_ns(fps[i], SL_MAX_COST);

		for (size_t j = 0; j < ARRAY_SIZE(costs); j++)
			assert_int_equal(sl_gcra_cost_ns(fps[i], costs[j]),
					 at_max);
	}
	assert_int_equal(sl_gcra_cost_ns(80ull << SL_FP_SHIFT, 100000),
			 80ull * SL_MAX_COST);
}

/* ---- clock stepping backwards --------------------------------------- */

/*
 * The clock jumps back again and again after a full burst: nothing more
 * goes through, however far back it goes. A refusal that finds the TAT more
 * than 1 ms beyond the tolerance leaves a full bucket at the new instant
 * (one tolerance ahead of it); one that finds it 1 ms beyond or less leaves
 * it where it was.
 */
static void test_clock_step_back_never_admits_more_than_burst(void **state UNUSED)
{
	static const struct {
		__u64 now, tat;		/* the instant, the TAT it leaves */
	} back[] = {
		{ 100 * S - 1, 101 * S },		/* 1 ns beyond: kept */
		{ 100 * S - MS, 101 * S },		/* 1 ms beyond: kept */
		{ 100 * S - MS - 1, 101 * S - MS - 1 },	/* 1 ms + 1: clamped */
		{ 99 * S + 500 * MS, 100 * S + 500 * MS },
		{ 99 * S, 100 * S },
		{ 90 * S, 91 * S },
		{ 50 * S, 51 * S },
		{ 1 * S, 2 * S },
		{ 1, 1 * S + 1 },			/* 1 s - 1 ns beyond */
		{ 0, 1 * S + 1 },			/* 1 ns beyond: kept */
	};
	struct limit l = limit_of(S, 10, 10);	/* 100 ms, tolerance 1 s */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 100 * S, &l, 1, 100), 10);
	assert_int_equal(tat, 101 * S);
	for (size_t i = 0; i < ARRAY_SIZE(back); i++) {
		assert_int_equal(flood(&tat, back[i].now, &l, 1, 100), 0);
		assert_int_equal(tat, back[i].tat);
	}
	/* From 1 s + 1 ns at t = 0: the next packet is due at 100 ms + 1 ns. */
	assert_int_equal(offer(&tat, 100 * MS, &l, 1), 0);
	assert_int_equal(offer(&tat, 100 * MS + 1, &l, 1), 1);
	assert_int_equal(offer(&tat, 100 * MS + 1, &l, 1), 0);
}

/* A step back smaller than the room left: still at most one burst. */
static void test_clock_small_step_back_within_tolerance(void **state UNUSED)
{
	struct limit l = limit_of(S, 10, 10);	/* 100 ms, tolerance 1 s */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 100 * S, &l, 1, 4), 4);	/* TAT 100.4 s */
	/* Back 100 ms: 0.5 s ahead, room for 5 more; 9 in all, not 10. */
	assert_int_equal(flood(&tat, 99 * S + 900 * MS, &l, 1, 100), 5);
	assert_int_equal(tat, 100 * S + 900 * MS);
	/* Time passes: due again at 100.0 s, then every 100 ms to 101.9 s. */
	assert_int_equal(stream(&tat, 99 * S + 900 * MS, 101 * S + 900 * MS,
				200, &l, 1, NULL), 20);
}

/*
 * After a step back of 50 s (an excess of 50 s over the tolerance, far more
 * than the 1 ms slack) the refusal clamps the key to a full bucket at 50 s
 * (TAT 51 s): one packet every 100 ms from 50.1 s on, not a 51 s wait.
 */
static void test_clock_step_back_resumes_one_interval_later(void **state UNUSED)
{
	struct limit l = limit_of(S, 10, 10);	/* 100 ms, tolerance 1 s */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 100 * S, &l, 1, 100), 10);
	assert_int_equal(flood(&tat, 50 * S, &l, 1, 100), 0);
	assert_int_equal(tat, 51 * S);
	/* Clamped once: the refusals after it leave the full bucket alone. */
	assert_int_equal(flood(&tat, 50 * S, &l, 1, 100), 0);
	assert_int_equal(tat, 51 * S);
	assert_int_equal(offer(&tat, 50 * S + 100 * MS - 1, &l, 1), 0);
	expect_count("10/s burst 10, clock back 50 s, (50 s, 60 s]",
		     stream(&tat, 50 * S, 60 * S, 1000, &l, 1, NULL), 100);
	assert_int_equal(tat, 61 * S);
}

/* ---- clamp slack ---------------------------------------------------- */

/*
 * The boundary of the clamp: a TAT exactly SL_CLAMP_SLACK_NS (1 ms) beyond
 * the tolerance is refused and kept; 1 ns further it is refused and clamped
 * to now + tolerance. Anywhere beyond the tolerance nothing is admitted,
 * cost 0 included; exactly at the tolerance cost 0 still is.
 */
static void test_clamp_slack_excess_of_1ms_kept_1ms_plus_1ns_clamped(void **state UNUSED)
{
	static const __u64 tols[] = { 0, 1, 1000, 100 * MS, S, 3600 * S,
				      SL_U64_MAX - 2 * MS };
	static const __u64 nows[] = { 0, 1, S, BIT(63), SL_U64_MAX - 2 * MS };
	static const __u64 costs[] = { 0, 1, 1000, S, SL_U64_MAX };
	__u64 checked = 0;

	assert_int_equal(SL_CLAMP_SLACK_NS, 1000000);
	assert_int_equal(SL_CLAMP_SLACK_NS, CLAMP_SLACK);
	for (size_t i = 0; i < ARRAY_SIZE(tols); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(nows); j++) {
			__u64 tol = tols[i], now = nows[j], next;

			if ((u128)now + tol + MS + 1 > SL_U64_MAX)
				continue;
			checked++;
			/* At the tolerance: cost 0 fits, 1 ns does not. */
			next = SENTINEL;
			assert_int_equal(sl_gcra_conform(now + tol, now, 0, tol,
							 &next), 1);
			assert_int_equal(next, now + tol);
			next = SENTINEL;
			assert_int_equal(sl_gcra_conform(now + tol, now, 1, tol,
							 &next), 0);
			assert_int_equal(next, now + tol);
			for (size_t k = 0; k < ARRAY_SIZE(costs); k++) {
				__u64 cost = costs[k];

				/* 1 ns and 1 ms beyond: refused, kept. */
				next = SENTINEL;
				assert_int_equal(sl_gcra_conform(now + tol + 1,
						 now, cost, tol, &next), 0);
				assert_int_equal(next, now + tol + 1);
				next = SENTINEL;
				assert_int_equal(sl_gcra_conform(now + tol + MS,
						 now, cost, tol, &next), 0);
				assert_int_equal(next, now + tol + MS);
				/* 1 ms + 1 ns beyond: refused, full bucket. */
				next = SENTINEL;
				assert_int_equal(sl_gcra_conform(now + tol + MS + 1,
						 now, cost, tol, &next), 0);
				assert_int_equal(next, now + tol);
			}
		}
	}
	assert_true(checked >= 25);

	/*
	 * Through a limit, with time passing: 10/s burst 10 (100 ms,
	 * tolerance 1 s). Kept 1 ms beyond, the key pays that 1 ms off and
	 * resumes at 101 ms; clamped from 1 ms + 1 ns beyond, it resumes at
	 * 100 ms, a full bucket's next packet.
	 */
	struct limit l = limit_of(S, 10, 10);
	__u64 tat = 50 * S + S + MS;

	assert_int_equal(flood(&tat, 50 * S, &l, 1, 100), 0);
	assert_int_equal(tat, 51 * S + MS);
	assert_int_equal(offer(&tat, 50 * S + 101 * MS - 1, &l, 1), 0);
	assert_int_equal(offer(&tat, 50 * S + 101 * MS, &l, 1), 1);
	assert_int_equal(offer(&tat, 50 * S + 101 * MS, &l, 1), 0);
	assert_int_equal(tat, 51 * S + 101 * MS);
	tat = 50 * S + S + MS + 1;
	assert_int_equal(flood(&tat, 50 * S, &l, 1, 100), 0);
	assert_int_equal(tat, 51 * S);
	assert_int_equal(offer(&tat, 50 * S + 100 * MS - 1, &l, 1), 0);
	assert_int_equal(offer(&tat, 50 * S + 100 * MS, &l, 1), 1);
	assert_int_equal(offer(&tat, 50 * S + 100 * MS, &l, 1), 0);
	assert_int_equal(tat, 51 * S + 100 * MS);
}

/*
 * A limit tightened on a live key by less than the slack keeps the debt:
 * 1000/s burst 100 flooded at t = 0 (TAT 100 ms), then burst 99 (tolerance
 * 99 ms): 1 ms beyond, kept, so the next packet is due at 2 ms and 999 go
 * through in (0, 1 s]. Tightened to burst 98 instead, 2 ms beyond, clamped
 * to 98 ms: due at 1 ms, 1000 in (0, 1 s]. Neither is more than
 * floor(1 s / 1 ms).
 */
static void test_tighten_by_at_most_slack_keeps_debt(void **state UNUSED)
{
	struct limit l = limit_of(S, 1000, 100);	/* 1 ms, tolerance 100 ms */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 0, &l, 1, 200), 100);
	assert_int_equal(tat, 100 * MS);
	l = limit_of(S, 1000, 99);
	assert_int_equal(l.tolerance_ns, 99 * MS);
	assert_int_equal(flood(&tat, 0, &l, 1, 100), 0);
	assert_int_equal(tat, 100 * MS);		/* kept */
	assert_int_equal(offer(&tat, 2 * MS - 1, &l, 1), 0);
	expect_count("1000/s tightened from burst 100 to 99, (0, 1 s]",
		     stream(&tat, 0, S, 10000, &l, 1, NULL), 999);
	assert_int_equal(tat, S + 99 * MS);

	l = limit_of(S, 1000, 100);
	tat = 0;
	assert_int_equal(flood(&tat, 0, &l, 1, 200), 100);
	l = limit_of(S, 1000, 98);
	assert_int_equal(flood(&tat, 0, &l, 1, 100), 0);
	assert_int_equal(tat, 98 * MS);			/* clamped */
	assert_int_equal(offer(&tat, 1 * MS - 1, &l, 1), 0);
	expect_count("1000/s tightened from burst 100 to 98, (0, 1 s]",
		     stream(&tat, 0, S, 10000, &l, 1, NULL), 1000);
	assert_int_equal(tat, S + 98 * MS);
}

/*
 * Two CPUs spend from one key. Each gets 5x the limit (10x in all): its
 * k-th packet arrives at a random instant in [k x gap, (k + 1) x gap) after
 * an idle key's burst at `base`, gap = c / 5, for 10 s. A CPU reads `now`
 * when it starts on a packet (on arrival, or when it is done with the one
 * before) and commits its update (the compare-and-swap) 0 to 4 us later.
 * Updates reach the key in commit order, so one can carry a `now` read
 * before the other CPU's last commit: a TAT up to 4 us beyond the
 * tolerance, from a key that was never beyond it. Whatever the order, TAT
 * only ever moves forward, by the cost, on an admit; and the admits number
 * exactly floor((T + tolerance) / c), which is burst + floor(T / c1) for
 * packets, at T = the latest `now` (the last one a drain): never one more,
 * at no point along the way. The same schedule through the limiter that
 * clamped every excess (the model with no slack) hands credit back and
 * admits more: the scenario this pins. With this seed it admits 1647 more
 * of 500050 at 50000/s (0.33%), 211 of 300024 at 30000/s, 42 of 200004 at
 * 20000/s and 785 of 416676 frames at 500mbit.
 */
struct cpu_sim {
	__u64 slot, arrival, now, commit;
};

static void cpu_next(struct cpu_sim *c, __u64 base, __u64 gap, __u64 lag,
		     __u64 *seed)
{
	c->arrival = base + ++c->slot * gap + rnd(seed) % gap;
	c->now = c->arrival > c->commit ? c->arrival : c->commit;
	c->commit = c->now + rnd(seed) % (lag + 1);
}

static void test_stale_now_from_another_cpu_never_hands_back_credit(void **state UNUSED)
{
	static const struct {
		const char *what;
		__u64 period, count, burst;
		__u32 frame;		/* 0: packets, else bytes per frame */
		__u64 c;		/* what one offer costs */
	} cases[] = {
		{ "50000/s burst 50", S, 50000, 50, 0, 20000 },
		{ "30000/s burst 30", S, 30000, 30, 0, 33334 },	/* 33333.3 */
		{ "20000/s burst 4", S, 20000, 4, 0, 50000 },
		/* 62.5e6 bytes a second, 16 ns each */
		{ "500mbit burst 15000 B, 1500 B frames", S, 62500000,
		  15000, 1500, 24000 },
	};
	const __u64 base = 1000 * S, span = 10 * S, lag = 4000;
	__u64 seed = 0xb7e151628aed2a6bull;
	int wrong = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct limit l = cases[i].frame ?
			byte_limit_of(cases[i].period, cases[i].count,
				      cases[i].burst) :
			limit_of(cases[i].period, cases[i].count,
				 cases[i].burst);
		__u32 unit = cases[i].frame ? cases[i].frame : 1;
		__u64 c = sl_gcra_cost_ns(l.interval_fp, unit);
		__u64 gap = c / 5;	/* per CPU: 5x the rate */
		struct cpu_sim cpu[2] = { { 0, base, base, base },
					  { 0, base, base, base } };
		__u64 tat = 0, ref_tat = 0, old_tat = 0, last;
		__u64 admitted, old_admitted, beyond = 0, offers = 0;
		__u64 latest = base, want;

		assert_int_equal(c, cases[i].c);
		assert_true(l.tolerance_ns >= 2 * c);
		/* An idle key's burst at `base`, the same for all three. */
		admitted = flood(&tat, base, &l, unit, 1000);
		for (__u64 k = 0; k < 1000; k++) {
			ref_conform(ref_tat, base, c, l.tolerance_ns, &ref_tat);
			old_tat = ref_tat;
		}
		assert_int_equal(tat, ref_tat);
		assert_int_equal(admitted, l.tolerance_ns / c);
		old_admitted = admitted;
		cpu_next(&cpu[0], base, gap, lag, &seed);
		cpu_next(&cpu[1], base, gap, lag, &seed);
		for (;;) {
			/* The next update to reach the key: the earlier commit. */
			struct cpu_sim *x = cpu[1].commit < cpu[0].commit ?
					    &cpu[1] : &cpu[0];
			__u64 now = x->now, ref_next;
			int ok, ref_ok;

			if (x->arrival > base + span) {
				/* Past 10 s: retire this CPU; both, and done. */
				if (x->commit == SL_U64_MAX)
					break;
				x->commit = SL_U64_MAX;
				continue;
			}
			if (tat > now && tat - now > l.tolerance_ns) {
				/* Stale: another CPU committed after this read. */
				assert_true(tat - now - l.tolerance_ns <= lag);
				beyond++;
			}
			last = tat;
			ok = offer(&tat, now, &l, unit);
			ref_ok = ref_conform(ref_tat, now, c, l.tolerance_ns,
					     &ref_next);
			assert_int_equal(ok, ref_ok);
			assert_int_equal(tat, ref_next);
			ref_tat = ref_next;
			/* Forward by the cost on an admit, else not at all. */
			assert_int_equal(tat, ok ? last + c : last);
			if (ok)
				assert_true(last >= now);	/* never idle */
			if (now > latest)
				latest = now;
			admitted += ok;
			if (admitted > (latest - base + l.tolerance_ns) / c) {
				print_error("%s: %llu admitted by %llu ns\n",
					    cases[i].what,
					    (unsigned long long)admitted,
					    (unsigned long long)(latest - base));
				fail();
			}
			old_admitted += ref_conform_slack(old_tat, now, c,
							  l.tolerance_ns, 0,
							  &old_tat);
			offers++;
			cpu_next(x, base, gap, lag, &seed);
		}
		/*
		 * A fresh CPU drains whatever is due at the latest instant,
		 * 10 s after `base` or later.
		 */
		if (latest < base + span)
			latest = base + span;
		while (offer(&tat, latest, &l, unit))
			admitted++;
		while (ref_conform_slack(old_tat, latest, c, l.tolerance_ns, 0,
					 &old_tat))
			old_admitted++;
		want = (latest - base + l.tolerance_ns) / c;
		if (!cases[i].frame)
			assert_int_equal(want, cases[i].burst +
					       (latest - base) / c1_of(&l));
		if (admitted != want || old_admitted <= want)
			print_error("%s: %llu offers, %llu stale beyond the "
				    "tolerance; %llu admitted of %llu, "
				    "clamping every excess %llu\n",
				    cases[i].what, (unsigned long long)offers,
				    (unsigned long long)beyond,
				    (unsigned long long)admitted,
				    (unsigned long long)want,
				    (unsigned long long)old_admitted);
		/* Every slot that arrives by base + 10 s: 10x the rate. */
		assert_true(5 * gap <= c && offers >= 2 * (span / gap - 1));
		assert_true(beyond > 1000);
		wrong += check_count(cases[i].what, admitted, want);
		assert_true(admitted <= want);
		/* The limiter that clamped every excess: over the limit. */
		assert_true(old_admitted > want);
	}
	assert_int_equal(wrong, 0);
}

/* ---- 64-bit edges --------------------------------------------------- */

/*
 * *new_tat is always written: on a refusal with TAT within the tolerance it
 * is TAT unchanged, never the sentinel.
 */
static void test_edge_now_near_u64_max(void **state UNUSED)
{
	__u64 next = SENTINEL;

	/* now + cost lands exactly on UINT64_MAX: admitted. */
	assert_int_equal(sl_gcra_conform(0, SL_U64_MAX - 100, 100, 1000, &next), 1);
	assert_int_equal(next, SL_U64_MAX);
	/* One more nanosecond would wrap: refused, never wrapped to an admit. */
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(0, SL_U64_MAX - 100, 101, 1000, &next), 0);
	assert_int_equal(next, 0);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(0, SL_U64_MAX, 1, SL_U64_MAX, &next), 0);
	assert_int_equal(next, 0);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, SL_U64_MAX, 1, SL_U64_MAX,
					 &next), 0);
	assert_int_equal(next, SL_U64_MAX);
	/* A key used just before the end of time: the stream stops there. */
	struct limit l = limit_of(S, 10, 3);	/* 100 ms, tolerance 300 ms */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, SL_U64_MAX - 250 * MS, &l, 1, 10), 2);
	assert_int_equal(tat, SL_U64_MAX - 50 * MS);
	assert_int_equal(flood(&tat, SL_U64_MAX - 1, &l, 1, 10), 0);
	assert_int_equal(tat, SL_U64_MAX - 50 * MS);
	assert_int_equal(flood(&tat, SL_U64_MAX, &l, 1, 10), 0);
	assert_int_equal(tat, SL_U64_MAX - 50 * MS);
}

static void test_edge_tat_near_u64_max(void **state UNUSED)
{
	__u64 next = SENTINEL;

	/* TAT 10 ns before the end, now 1000 ns before it. */
	assert_int_equal(sl_gcra_conform(SL_U64_MAX - 10, SL_U64_MAX - 1000, 10,
					 2000, &next), 1);
	assert_int_equal(next, SL_U64_MAX);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, SL_U64_MAX - 1000, 1, 2000,
					 &next), 0);
	assert_int_equal(next, SL_U64_MAX);
	/*
	 * A TAT at the end of time seen from t = 0: beyond the tolerance, so
	 * refused; 1 ns or 1 ms beyond it is kept, 1 ms + 1 ns beyond it or
	 * more leaves a full bucket, now + tolerance.
	 */
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, 0, 1, SL_U64_MAX - 1, &next), 0);
	assert_int_equal(next, SL_U64_MAX);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, 0, 0, SL_U64_MAX - 1, &next), 0);
	assert_int_equal(next, SL_U64_MAX);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, 0, 1, SL_U64_MAX - MS,
					 &next), 0);
	assert_int_equal(next, SL_U64_MAX);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, 0, 1, SL_U64_MAX - MS - 1,
					 &next), 0);
	assert_int_equal(next, SL_U64_MAX - MS - 1);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, 0, 0, SL_U64_MAX - MS - 1,
					 &next), 0);
	assert_int_equal(next, SL_U64_MAX - MS - 1);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, 0, 1, S, &next), 0);
	assert_int_equal(next, S);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, 5 * S, 1, S, &next), 0);
	assert_int_equal(next, 6 * S);
	/* Within a tolerance of U64_MAX: the last nanosecond still fits. */
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX - 1, 0, 1, SL_U64_MAX, &next), 1);
	assert_int_equal(next, SL_U64_MAX);
}

/*
 * Tolerance 0: nothing with a cost conforms. A TAT more than 1 ms ahead of
 * now is clamped to now (a full bucket of nothing); one ahead by 1 ms or
 * less, or not ahead at all, is left as it was.
 */
static void test_edge_tolerance_zero_admits_nothing(void **state UNUSED)
{
	static const __u64 pts[] = {
		0, 1, MS, MS + 1, S, S + MS, S + MS + 1, SL_U64_MAX - MS - 1,
		SL_U64_MAX - MS, SL_U64_MAX - 1, SL_U64_MAX,
	};

	for (size_t i = 0; i < ARRAY_SIZE(pts); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(pts); j++) {
			__u64 next = SENTINEL;
			__u64 tat = pts[i], now = pts[j];

			assert_int_equal(sl_gcra_conform(tat, now, 1, 0,
							 &next), 0);
			assert_int_equal(next, tat > now && tat - now > MS ?
					       now : tat);
		}
	}
	/* The boundary from both sides, at t = 0 and at the end of time. */
	__u64 next = SENTINEL;

	assert_int_equal(sl_gcra_conform(MS, 0, 1, 0, &next), 0);
	assert_int_equal(next, MS);
	assert_int_equal(sl_gcra_conform(MS + 1, 0, 1, 0, &next), 0);
	assert_int_equal(next, 0);
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, SL_U64_MAX - MS, 1, 0,
					 &next), 0);
	assert_int_equal(next, SL_U64_MAX);
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, SL_U64_MAX - MS - 1, 1, 0,
					 &next), 0);
	assert_int_equal(next, SL_U64_MAX - MS - 1);
	/* limit_of with burst 0 is such a limit. */
	struct limit l = limit_of(S, 10, 0);
	__u64 tat = 0;

	assert_int_equal(l.tolerance_ns, 0);
	assert_int_equal(byte_limit_of(S, 10, 0).tolerance_ns, 0);
	assert_int_equal(stream(&tat, 0, 10 * S, 1000, &l, 1, NULL), 0);
	assert_int_equal(tat, 0);
}

/*
 * Zero cost (a zero interval) conforms wherever TAT is at most the tolerance
 * ahead of now, and moves TAT to max(tat, now). Further ahead than that it
 * is refused like any cost: TAT is clamped to now + tolerance where it was
 * more than 1 ms beyond it, and kept otherwise.
 */
static void test_edge_cost_zero_conforms_only_within_tolerance(void **state UNUSED)
{
	__u64 next = SENTINEL;

	assert_int_equal(sl_gcra_cost_ns(0, 1500), 0);
	assert_int_equal(sl_gcra_cost_ns(80ull << SL_FP_SHIFT, 0), 0);
	assert_int_equal(sl_gcra_conform(0, 0, 0, 0, &next), 1);
	assert_int_equal(next, 0);
	assert_int_equal(sl_gcra_conform(5 * S, 1 * S, 0, 4 * S, &next), 1);
	assert_int_equal(next, 5 * S);
	assert_int_equal(sl_gcra_conform(1 * S, 5 * S, 0, 0, &next), 1);
	assert_int_equal(next, 5 * S);
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, SL_U64_MAX, 0, 0, &next), 1);
	assert_int_equal(next, SL_U64_MAX);
	/* Beyond the tolerance: refused, clamped. */
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(5 * S, 1 * S, 0, 3 * S, &next), 0);
	assert_int_equal(next, 4 * S);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(5 * S, 1 * S, 0, 0, &next), 0);
	assert_int_equal(next, 1 * S);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, 0, 0, 0, &next), 0);
	assert_int_equal(next, 0);
	/* Beyond it by 1 ns and by 1 ms: refused, kept. */
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(4 * S + 1, 1 * S, 0, 3 * S, &next), 0);
	assert_int_equal(next, 4 * S + 1);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(4 * S + MS, 1 * S, 0, 3 * S, &next), 0);
	assert_int_equal(next, 4 * S + MS);
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(4 * S + MS + 1, 1 * S, 0, 3 * S,
					 &next), 0);
	assert_int_equal(next, 4 * S);
}

static void test_edge_cost_ns_matches_int128_reference(void **state UNUSED)
{
	static const __u64 fps[] = {
		0, 1, 0xffff, 0x10000, 0x10001, 80ull << SL_FP_SHIFT,
		(BIT(48) - 1) << SL_FP_SHIFT, SL_U64_MAX, SL_U64_MAX - 1,
		SL_U64_MAX >> 1, 21845333333334ull,
	};
	static const __u32 costs[] = { 0, 1, 2, 64, 1500, 0x8000, 0xfffe, 0xffff };
	__u64 seed = 0x9e3779b97f4a7c15ull;

	/* The largest product there is: no overflow, exact, rounded up. */
	assert_int_equal(sl_gcra_cost_ns(SL_U64_MAX, 0xffff),
			 ref_cost_ns(SL_U64_MAX, 0xffff));
	assert_int_equal(sl_gcra_cost_ns(SL_U64_MAX, 0xffff),
			 SL_U64_MAX - BIT(48) + 1);
	/* Any fraction at all costs a whole nanosecond. */
	assert_int_equal(sl_gcra_cost_ns(1, 1), 1);
	assert_int_equal(sl_gcra_cost_ns(0x10001, 1), 2);
	assert_int_equal(sl_gcra_cost_ns(0x10000, 0xffff), 0xffff);
	assert_int_equal(sl_gcra_cost_ns(0x10001, 0xffff), 0x10000);
	assert_int_equal(sl_gcra_cost_ns(21845333333334ull, 1), 333333334);
	assert_int_equal(sl_gcra_cost_ns(21845333333334ull, 3), 1000000001);
	for (size_t i = 0; i < ARRAY_SIZE(fps); i++)
		for (size_t j = 0; j < ARRAY_SIZE(costs); j++)
			assert_int_equal(sl_gcra_cost_ns(fps[i], costs[j]),
					 ref_cost_ns(fps[i], costs[j]));
	for (int i = 0; i < 1000000; i++) {
		__u64 fp = rnd(&seed) >> (rnd(&seed) & 63);
		__u32 cost = (__u32)(rnd(&seed) >> (rnd(&seed) & 31 ? 48 : 32));

		assert_int_equal(sl_gcra_cost_ns(fp, cost), ref_cost_ns(fp, cost));
	}
}

/*
 * Conformance against the 128-bit model of the contract (ref_conform) for
 * TATs behind now, within the tolerance, beyond it by at most the 1 ms
 * slack (and exactly by it, and by 1 ns more) and far beyond it: admit iff
 * ahead + cost <= tolerance and the new TAT fits in 64 bits, new TAT =
 * now + ahead + cost; on a refusal *new_tat is TAT unchanged, or now +
 * tolerance where TAT was more than tolerance + 1 ms ahead. Nothing beyond
 * the tolerance is admitted, not even at cost 0. Every kind of outcome must
 * be reached many times.
 */
static void test_edge_conform_matches_int128_reference(void **state UNUSED)
{
	static const __u64 anchors[] = { 0, 1, S, BIT(63), SL_U64_MAX - S,
					 SL_U64_MAX - 1, SL_U64_MAX };
	enum { ADMIT, REFUSE_KEEP, REFUSE_SLACK, REFUSE_CLAMP, KINDS };
	__u64 seen[KINDS] = { 0 }, at_slack = 0, past_slack = 0;
	__u64 seed = 0x0123456789abcdefull;

	for (int i = 0; i < 2000000; i++) {
		__u64 now = anchors[rnd(&seed) % ARRAY_SIZE(anchors)];
		__u64 tol, ahead, tat, cost, next = SENTINEL, want_next;
		int r, want;

		now += (rnd(&seed) & 1) ? rnd(&seed) >> (rnd(&seed) & 63) : 0;
		tol = rnd(&seed) >> (rnd(&seed) & 63);
		switch (rnd(&seed) % 4) {
		case 0:		/* behind now */
			tat = now - (now < 0xffff ? now : rnd(&seed) & 0xffff);
			break;
		case 1:		/* within the tolerance */
		case 2:
			ahead = tol ? rnd(&seed) % ((u128)tol + 1) : 0;
			tat = (u128)now + ahead > SL_U64_MAX ? SL_U64_MAX
							     : now + ahead;
			break;
		default:	/* anywhere, mostly far beyond the tolerance */
			tat = (rnd(&seed) & 1) ? rnd(&seed) :
			      (u128)now + tol + 1 > SL_U64_MAX ? SL_U64_MAX
							       : now + tol + 1;
			break;
		}
		if (rnd(&seed) % 4 == 0) {
			/* Just beyond: 1 ns to 2 ms, often 1 ms or 1 ms + 1. */
			u128 over;

			if (rnd(&seed) & 1)
				over = CLAMP_SLACK + (rnd(&seed) & 1);
			else
				over = 1 + rnd(&seed) % (2 * CLAMP_SLACK);
			if ((u128)now + tol + over <= SL_U64_MAX)
				tat = now + tol + over;
		}
		ahead = tat > now ? tat - now : 0;
		switch (rnd(&seed) % 4) {
		case 0:		/* exactly what is left, or 1 ns more */
			cost = ahead <= tol ? tol - ahead + (rnd(&seed) & 1) : 0;
			break;
		case 1:
			cost = 0;
			break;
		default:
			cost = rnd(&seed) >> (rnd(&seed) & 63);
			break;
		}

		want = ref_conform(tat, now, cost, tol, &want_next);
		r = sl_gcra_conform(tat, now, cost, tol, &next);
		if (r != want || next != want_next)
			print_error("tat %llu now %llu cost %llu tol %llu: "
				    "%d/%llu, expected %d/%llu\n",
				    (unsigned long long)tat,
				    (unsigned long long)now,
				    (unsigned long long)cost,
				    (unsigned long long)tol, r,
				    (unsigned long long)next, want,
				    (unsigned long long)want_next);
		assert_int_equal(r, want);
		assert_int_equal(next, want_next);
		/* The contract's words, as well as the model's. */
		if (!r && ahead <= tol + (u128)CLAMP_SLACK)
			assert_int_equal(next, tat);
		if (ahead > tol)
			assert_int_equal(r, 0);
		if (ahead > tol + (u128)CLAMP_SLACK)
			assert_int_equal(next, now + tol);
		if (r)
			assert_true(next >= now && next - now <= tol &&
				    next - (tat > now ? tat : now) == cost);
		at_slack += ahead == tol + (u128)CLAMP_SLACK;
		past_slack += ahead == tol + (u128)CLAMP_SLACK + 1;
		seen[r ? ADMIT : ahead <= tol ? REFUSE_KEEP :
		     ahead <= tol + (u128)CLAMP_SLACK ? REFUSE_SLACK
						      : REFUSE_CLAMP]++;
	}
	for (int k = 0; k < KINDS; k++) {
		if (seen[k] <= 10000)
			print_error("seen[%d] = %llu\n", k,
				    (unsigned long long)seen[k]);
		assert_true(seen[k] > 10000);
	}
	/* The boundary itself, from both sides. */
	assert_true(at_slack > 10000 && past_slack > 10000);
}

/* ---- interval ------------------------------------------------------- */

/*
 * sl_gcra_refused_until is what lets the data path refuse repeats without
 * the limiter: before the time it returns, every cost of at least
 * min_cost is refused by sl_gcra_conform on the same TAT (and on any later
 * one); at that time, a cost of exactly min_cost is admitted when the
 * tolerance can hold it at all, so the remembered refusal costs a steady
 * sender nothing.
 */
static void test_refused_until_is_exactly_when_conform_admits_again(void **state UNUSED)
{
	__u64 seed = 0xfeedfacecafebeefull, tight = 0, held = 0;

	for (int i = 0; i < 1000000; i++) {
		__u64 tol = rnd(&seed) >> (rnd(&seed) & 63);
		__u64 min_cost = (rnd(&seed) & 3) ? rnd(&seed) >> (rnd(&seed) & 63) : 0;
		__u64 tat = rnd(&seed) >> (rnd(&seed) & 7);
		__u64 until = sl_gcra_refused_until(tat, min_cost, tol), now, cost, next;

		if ((u128)tat + min_cost <= tol || (u128)tat + min_cost > SL_U64_MAX) {
			assert_int_equal(until, 0);
			continue;
		}
		assert_true(until == tat + min_cost - tol);
		now = until - 1 - (rnd(&seed) & 1 ? rnd(&seed) % until : 0);
		cost = min_cost + ((rnd(&seed) & 1) ? rnd(&seed) >> (rnd(&seed) & 63) : 0);
		if (cost < min_cost)
			cost = min_cost;
		if (sl_gcra_conform(tat, now, cost, tol, &next))
			fail_msg("tat %llu tol %llu min_cost %llu: cost %llu admitted at %llu < %llu",
				 (unsigned long long)tat, (unsigned long long)tol,
				 (unsigned long long)min_cost, (unsigned long long)cost,
				 (unsigned long long)now, (unsigned long long)until);
		held++;
		if (min_cost && min_cost <= tol && until <= SL_U64_MAX - tol - min_cost) {
			assert_int_equal(sl_gcra_conform(tat, until, min_cost, tol, &next), 1);
			tight++;
		}
	}
	assert_true(held > 100000);
	assert_true(tight > 10000);
}

static void test_interval_fp_matches_int128_reference(void **state UNUSED)
{
	static const struct {
		__u64 period, count;
	} pairs[] = {
		{ BIT(48) - 1, BIT(40) },
		{ BIT(48) - 1, BIT(40) - 1 },
		{ BIT(48) - 1, 1 },
		{ BIT(48) - 1, 3 },
		{ BIT(48) - 1, BIT(48) - 2 },
		{ BIT(47), 3 },
		{ 1, 1 },
		{ 1, BIT(40) },
		{ S, 1 }, { S, 3 }, { S, 7 }, { S, 10 }, { S, 2000 },
		{ S, 30000 }, { S, 1000000 }, { S, 3000000 }, { S, MBIT100_BYTES },
		{ S, 125000000 },	/* 1gbit: 8 ns/byte */
		{ S, 1250000000 },	/* 10gbit: 0.8 ns/byte */
		{ 60 * S, 10 }, { 60 * S, 7 }, { 3600 * S, 100 },
		{ 86400 * S, 1000 }, { 86400 * S, 7 },
	};
	__u64 seed = 0xfeedfacecafebeefull;

	/* Rounded up: 2^16 x 1e9 / 3 = 21845333333333.3. */
	assert_int_equal(sl_gcra_interval_fp(S, 3), 21845333333334ull);
	assert_int_equal(sl_gcra_interval_fp(S, 7), 9362285714286ull);
	assert_int_equal(sl_gcra_interval_fp(S, 1250000000), 52429);
	assert_int_equal(sl_gcra_interval_fp(S, 10), 100000000ull << SL_FP_SHIFT);
	/* Below one 2^-16 ns a unit: still 1, never 0. */
	assert_int_equal(sl_gcra_interval_fp(1, BIT(40)), 1);
	assert_int_equal(sl_gcra_interval_fp(BIT(48) - 1, 1),
			 (BIT(48) - 1) << SL_FP_SHIFT);
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++)
		assert_int_equal(sl_gcra_interval_fp(pairs[i].period,
						     pairs[i].count),
				 ref_interval_fp(pairs[i].period,
						 pairs[i].count));
	for (int i = 0; i < 1000000; i++) {
		__u64 period = rnd(&seed) >> (16 + rnd(&seed) % 48);
		__u64 count = rnd(&seed) >> (24 + rnd(&seed) % 40);

		period += !period;
		count += !count;
		assert_true(period < BIT(48) && count < BIT(40));
		assert_int_equal(sl_gcra_interval_fp(period, count),
				 ref_interval_fp(period, count));
	}
}

/* ---- sliding windows ------------------------------------------------ */

/*
 * sl_window_conform against a synthetic clock. The word is
 * index mod 2^24 | prev (20 bits) | cur (20 bits); windows are
 * [k x period, (k + 1) x period). At `now`, with left = period - (now mod
 * period) nanoseconds of the window still to run (1 .. period), the previous
 * window weighs w = ceil(left x 1024 / period) (1 .. 1024), and a packet is
 * admitted iff prev x w + (cur + 1) x 1024 <= max x 1024, that is
 * cur + 1 <= floor((max x 1024 - prev x w) / 1024) =: allow(now).
 * Below, "allow" always means that bound on the count after the admit, so a
 * flood at one instant leaves cur = max(cur, allow) and admits the
 * difference.
 */
#define WIN_IDX_SHIFT	(2 * SL_WIN_COUNT_BITS)
#define WIN_SPAN	BIT(SL_WIN_INDEX_BITS)	/* 2^24 windows */

static __u64 win_index(__u64 word)
{
	return word >> WIN_IDX_SHIFT;
}

static __u64 win_prev(__u64 word)
{
	return (word >> SL_WIN_COUNT_BITS) & SL_WIN_MAX;
}

static __u64 win_cur(__u64 word)
{
	return word & SL_WIN_MAX;
}

/*
 * One packet offered at `now`; 1 if admitted. A refusal must leave the word
 * bit for bit (and *new_word must be written with it, never left as it
 * was); an admit must store the current window's index (or keep the next
 * one's, for a stale now) and a count within `max`, nothing carried into
 * the next field.
 */
static int win_offer(__u64 *word, __u64 now, __u64 period, __u64 max)
{
	__u64 next = SENTINEL;
	int ok = sl_window_conform(*word, now, period, max, &next);

	if (!ok) {
		assert_int_equal(next, *word);
		return 0;
	}
	assert_int_equal(ok, 1);
	/* The current window's index, or the next one's if another CPU had
	 * already moved the key there (a stale now). */
	assert_true(win_index(next) == ((now / period) & SL_WIN_INDEX_MASK) ||
		    (win_index(*word) == ((now / period + 1) & SL_WIN_INDEX_MASK) &&
		     win_index(next) == win_index(*word)));
	assert_true(win_cur(next) >= 1 && win_cur(next) <= max);
	*word = next;
	return 1;
}

/* `n` packets at one instant: how many are admitted. */
static __u64 win_flood(__u64 *word, __u64 now, __u64 period, __u64 max,
		       __u64 n)
{
	__u64 admitted = 0;

	while (n--)
		admitted += win_offer(word, now, period, max);
	return admitted;
}

/* A flood at `now` on a copy of `word`: what that instant alone admits. */
static __u64 win_flood_copy(__u64 word, __u64 now, __u64 period, __u64 max)
{
	return win_flood(&word, now, period, max, max + 10);
}

/*
 * A flood at the start of a window and one in its middle, on fresh keys
 * (word 0): no previous window, so allow = max and exactly max go through,
 * in one instant, and nothing more for the rest of the window. The offers
 * are also spread one per millisecond over a whole window: the first max
 * are admitted (the last at 99 ms for max 100) and none after.
 */
static void test_window_admits_exactly_max_in_one_window(void **state UNUSED)
{
	__u64 word = 0;

	/* Start of window 10 (1 s windows, 100 per window). */
	assert_int_equal(win_flood(&word, 10 * S, S, 100, 1000), 100);
	assert_int_equal(word, sl_window_pack(10, 0, 100));
	assert_int_equal(win_flood(&word, 10 * S + 1, S, 100, 10), 0);
	assert_int_equal(win_flood(&word, 10 * S + 500 * MS, S, 100, 10), 0);
	assert_int_equal(win_flood(&word, 11 * S - 1, S, 100, 10), 0);
	assert_int_equal(word, sl_window_pack(10, 0, 100));

	/* The middle of window 20. */
	word = 0;
	assert_int_equal(win_flood(&word, 20 * S + 500 * MS, S, 100, 1000), 100);
	assert_int_equal(word, sl_window_pack(20, 0, 100));
	assert_int_equal(win_flood(&word, 21 * S - 1, S, 100, 10), 0);

	/* One offer per ms over window 30: the first 100 (30.000..30.099 s). */
	word = 0;
	for (__u64 ms = 0, n = 0; ms < 1000; ms++) {
		int ok = win_offer(&word, 30 * S + ms * MS, S, 100);

		n += ok;
		assert_int_equal(ok, ms < 100);
		assert_int_equal(n, ms < 100 ? ms + 1 : 100);
	}
	assert_int_equal(word, sl_window_pack(30, 0, 100));

	/* Windows that do not divide anything nicely: 7 per 3 s. */
	word = 0;
	assert_int_equal(win_flood(&word, 9 * S + 1, 3 * S, 7, 100), 7);
	assert_int_equal(word, sl_window_pack(3, 0, 7));
	assert_int_equal(win_flood(&word, 12 * S - 1, 3 * S, 7, 100), 0);

	/* max 1 admits one; max 0 admits nothing, ever. */
	word = 0;
	assert_int_equal(win_flood(&word, 5 * S, S, 1, 100), 1);
	word = 0;
	for (__u64 t = 0; t < 5 * S; t += 100 * MS)
		assert_int_equal(win_flood(&word, t, S, 0, 10), 0);
	assert_int_equal(word, 0);
}

/*
 * A full previous window of 100 (1 s windows), then floods at points of the
 * next one: allow = floor((102400 - 100 x w) / 1024).
 *   elapsed 0:            left 1e9,        w = 1024           allow 0
 *   elapsed 250 ms - 1:   left 750000001,  w = ceil(768.000001024) = 769:
 *                         (102400 - 76900) / 1024 = 24.90    allow 24
 *   elapsed 250 ms (25%): left 750 ms,     w = 768 exactly:
 *                         (102400 - 76800) / 1024 = 25       allow 25
 *   elapsed 333333333:    left 666666667,  w = ceil(682.666667008) = 683:
 *                         34100 / 1024 = 33.30               allow 33
 *   elapsed 500 ms (50%): w = 512: 51200 / 1024 = 50          allow 50
 *   elapsed 990 ms (99%): left 10 ms,      w = ceil(10.24) = 11:
 *                         101300 / 1024 = 98.93              allow 98
 *                         (an unrounded 10.24 would allow 99)
 *   elapsed 1 s - 1 ns:   left 1,          w = ceil(1.024e-6) = 1:
 *                         102300 / 1024 = 99.90              allow 99
 * Each point on a fresh copy admits allow; one key offered at all of them
 * in turn ends the window at 99, admitted 0, 25, +25, +48, +1.
 */
static void test_window_previous_window_weighted_by_share_still_covered(void **state UNUSED)
{
	static const struct {
		__u64 elapsed, weight, allow;
	} pts[] = {
		{ 0, 1024, 0 },
		{ 250 * MS - 1, 769, 24 },
		{ 250 * MS, 768, 25 },
		{ 333333333, 683, 33 },
		{ 500 * MS, 512, 50 },
		{ 990 * MS, 11, 98 },
		{ S - 1, 1, 99 },
	};
	__u64 full = 0, word, total = 0;

	assert_int_equal(win_flood(&full, 10 * S, S, 100, 200), 100);
	assert_int_equal(full, sl_window_pack(10, 0, 100));
	for (size_t i = 0; i < ARRAY_SIZE(pts); i++) {
		__u64 left = S - pts[i].elapsed;

		/* The weight column is ceil(left x 1024 / period). */
		assert_int_equal(pts[i].weight,
				 (__u64)ceil_div((u128)left << 10, S));
		assert_int_equal(pts[i].allow,
				 (102400 - 100 * pts[i].weight) / 1024);
		word = full;
		expect_count("prev 100 of 100, next window",
			     win_flood(&word, 11 * S + pts[i].elapsed, S, 100,
				       200), pts[i].allow);
		if (pts[i].allow)
			assert_int_equal(word, sl_window_pack(11, 100,
							      pts[i].allow));
		else
			assert_int_equal(word, full);
	}

	/* One key through the window: admits only up to each point's allow. */
	word = full;
	total += win_flood(&word, 11 * S, S, 100, 200);
	assert_int_equal(total, 0);
	total += win_flood(&word, 11 * S + 250 * MS, S, 100, 200);
	assert_int_equal(total, 25);
	total += win_flood(&word, 11 * S + 500 * MS, S, 100, 200);
	assert_int_equal(total, 50);
	total += win_flood(&word, 11 * S + 990 * MS, S, 100, 200);
	assert_int_equal(total, 98);
	total += win_flood(&word, 12 * S - 1, S, 100, 200);
	assert_int_equal(total, 99);
	assert_int_equal(word, sl_window_pack(11, 100, 99));

	/* A half-full previous window at 50%: 40 x 512 = 20480, allow 80. */
	word = 0;
	assert_int_equal(win_flood(&word, 10 * S + 700 * MS, S, 100, 40), 40);
	expect_count("prev 40 of 100 at 50%",
		     win_flood_copy(word, 11 * S + 500 * MS, S, 100), 80);

	/*
	 * 10 per 3 s, previous 10, 1 s into the next window: left 2 s,
	 * w = ceil(2048 / 3) = 683, allow floor((10240 - 6830) / 1024) = 3.
	 */
	word = sl_window_pack(4, 0, 10);
	expect_count("prev 10 of 10 per 3 s, 1 s in",
		     win_flood_copy(word, 16 * S, 3 * S, 10), 3);
}

/*
 * A key idle for a whole window forgets its past: 100 at the start of
 * window 10, nothing in window 11, and window 12 admits a full 100 at once,
 * its previous count 0. Not so one nanosecond earlier: at the last
 * nanosecond of window 11 the previous window still weighs w = 1 (rounded
 * up from 1.024e-6), allow floor((102400 - 100) / 1024) = 99. A window in
 * which everything was refused is idle too: the refusals leave the word at
 * window 10, and window 12 still sees 0 admitted in window 11.
 */
static void test_window_idle_for_a_whole_window_forgets_the_past(void **state UNUSED)
{
	__u64 word = 0, full;

	assert_int_equal(win_flood(&word, 10 * S, S, 100, 200), 100);
	full = word;
	expect_count("idle window 11, start of 12",
		     win_flood(&word, 12 * S, S, 100, 200), 100);
	assert_int_equal(word, sl_window_pack(12, 0, 100));
	expect_count("idle window 11, end of 12",
		     win_flood_copy(full, 13 * S - 1, S, 100), 100);
	expect_count("idle 1000 windows",
		     win_flood_copy(full, 1010 * S + 123, S, 100), 100);
	expect_count("last ns of window 11",
		     win_flood_copy(full, 12 * S - 1, S, 100), 99);

	/* Refused all through window 11: still window 10 in the word. */
	word = full;
	for (__u64 t = 11 * S; t < 11 * S + 10 * MS; t += MS)
		assert_int_equal(win_flood(&word, t, S, 100, 10), 0);
	assert_int_equal(word, full);
	expect_count("refused through window 11, start of 12",
		     win_flood(&word, 12 * S, S, 100, 200), 100);
	assert_int_equal(word, sl_window_pack(12, 0, 100));

	/* Admits in window 11 are remembered by 12: 99 at its start. */
	word = full;
	assert_int_equal(win_flood(&word, 12 * S - 1, S, 100, 200), 99);
	expect_count("99 in window 11, start of 12",
		     win_flood_copy(word, 12 * S, S, 100), 1);
	/* And forgotten by 13. */
	expect_count("99 in window 11, start of 13",
		     win_flood_copy(word, 13 * S, S, 100), 100);
}

/*
 * A refusal hands back the word bit for bit, whatever window it holds (the
 * current one, the previous one, an older one) and even when the counts are
 * above max (a limit tightened on a live key): the data path skips the CAS
 * when nothing changed, so a refused flood never writes.
 */
static void test_window_refusal_leaves_word_unchanged(void **state UNUSED)
{
	const struct {
		__u64 word, now, period, max;
	} cases[] = {
		/* Current window full. */
		{ sl_window_pack(10, 0, 100), 10 * S + 500 * MS, S, 100 },
		{ sl_window_pack(10, 77, 100), 11 * S - 1, S, 100 },
		/* Previous window full, start of this one: not rolled over. */
		{ sl_window_pack(10, 0, 100), 11 * S, S, 100 },
		{ sl_window_pack(10, 5, 100), 11 * S + 1, S, 100 },
		/* Older window: forgotten, but max 0 refuses anyway. */
		{ sl_window_pack(5, 3, 3), 100 * S, S, 0 },
		/* Counts above a tightened max: refused, not clamped. */
		{ sl_window_pack(10, 0, 500), 10 * S + 100 * MS, S, 100 },
		{ sl_window_pack(11, 900, 0), 11 * S + 500 * MS, S, 100 },
		/* Every bit set, at the index it names. */
		{ ~0ull, SL_WIN_INDEX_MASK * S, S, SL_WIN_MAX },
		{ ~0ull, (SL_WIN_INDEX_MASK + 1) * S, S, SL_WIN_MAX },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		__u64 next = SENTINEL;

		assert_int_equal(sl_window_conform(cases[i].word, cases[i].now,
						   cases[i].period,
						   cases[i].max, &next), 0);
		assert_int_equal(next, cases[i].word);
		/* And again: nothing a refusal did makes the next one differ. */
		next = SENTINEL;
		assert_int_equal(sl_window_conform(cases[i].word, cases[i].now,
						   cases[i].period,
						   cases[i].max, &next), 0);
		assert_int_equal(next, cases[i].word);
	}
}

/*
 * The index is kept modulo 2^24. Consecutive windows across the wrap are
 * told apart: 100 in window 2^24 - 1 (index field 0xffffff), then window
 * 2^24 (field 0) sees them as its previous window: 50 at 50%.
 *
 * A key idle for exactly 2^24 windows (194 days of 1 s windows) is the
 * aliasing the header documents: its old window has the current window's
 * index mod 2^24, so it is taken for the current window, counts and all:
 * 100 in window 5, then at window 5 + 2^24 (and 5 + 2 x 2^24) nothing at
 * all goes through for the whole window, where a forgetful key would admit
 * 100. The same aliasing one window on (idle 2^24 + 1 windows) takes the
 * old window for the previous one: 0 at the window's start, 50 at 50%
 * (the header names only the first case). Idle 2^24 - 1 or 2^24 + 2
 * windows: forgotten, 100.
 */
static void test_window_index_wraps_modulo_2_24(void **state UNUSED)
{
	__u64 word = 0, old;

	assert_int_equal(WIN_SPAN * S / (86400 * S), 194);	/* 194.18 d */

	/* Across the wrap of the index field. */
	assert_int_equal(win_flood(&word, (WIN_SPAN - 1) * S, S, 100, 200), 100);
	assert_int_equal(word, sl_window_pack(SL_WIN_INDEX_MASK, 0, 100));
	assert_int_equal(win_flood(&word, WIN_SPAN * S, S, 100, 200), 0);
	assert_int_equal(win_flood(&word, WIN_SPAN * S + 500 * MS, S, 100,
				   200), 50);
	assert_int_equal(word, sl_window_pack(0, 100, 50));
	assert_int_equal(word, (100ull << SL_WIN_COUNT_BITS) | 50);
	/* Window 0 of the clock itself: its previous index is 0xffffff. */
	word = sl_window_pack(SL_WIN_INDEX_MASK, 0, 100);
	expect_count("window 0 after 0xffffff",
		     win_flood(&word, 500 * MS, S, 100, 200), 50);
	assert_int_equal(word, sl_window_pack(0, 100, 50));

	/* 100 in window 5, then idle. */
	word = 0;
	assert_int_equal(win_flood(&word, 5 * S, S, 100, 200), 100);
	old = word;
	/* Idle exactly 2^24 windows: taken for the current window. */
	word = old;
	for (__u64 t = (5 + WIN_SPAN) * S; t < (6 + WIN_SPAN) * S;
	     t += 50 * MS)
		assert_int_equal(win_flood(&word, t, S, 100, 10), 0);
	assert_int_equal(win_flood(&word, (6 + WIN_SPAN) * S - 1, S, 100, 10),
			 0);
	assert_int_equal(word, old);
	expect_count("idle 2 x 2^24 windows",
		     win_flood_copy(old, (5 + 2 * WIN_SPAN) * S + 700 * MS, S,
				    100), 0);
	/* Idle 2^24 + 1 windows: taken for the previous window. */
	expect_count("idle 2^24 + 1 windows, start",
		     win_flood_copy(old, (6 + WIN_SPAN) * S, S, 100), 0);
	word = old;
	expect_count("idle 2^24 + 1 windows, 50%",
		     win_flood(&word, (6 + WIN_SPAN) * S + 500 * MS, S, 100,
			       200), 50);
	assert_int_equal(word, sl_window_pack(6 + WIN_SPAN, 100, 50));
	assert_int_equal(word, sl_window_pack(6, 100, 50));
	/* Idle 2^24 - 1 windows: taken for the next window, so a stale
	 * timestamp at the start of the stored one: still full. */
	expect_count("idle 2^24 - 1 windows",
		     win_flood_copy(old, (4 + WIN_SPAN) * S, S, 100), 0);
	/* Beyond the aliasing: forgotten. */
	expect_count("idle 2^24 + 2 windows",
		     win_flood_copy(old, (7 + WIN_SPAN) * S, S, 100), 100);
}

/*
 * max = SL_WIN_MAX = 2^20 - 1 = 1048575, the largest count 20 bits hold.
 * A fresh key admits exactly that many in one window, and the word is
 * index | 0 | 0xfffff: nothing carried into prev or the index. Every
 * product stays far inside 64 bits (prev x w <= 1048575 x 1024 < 2^30).
 * In the next window, previous 1048575:
 *   at 50%: w = 512, allow = floor(1048575 x 512 / 1024) = floor(524287.5)
 *           = 524287;
 *   at its last ns: w = 1, allow = floor((1048575 x 1024 - 1048575) / 1024)
 *           = floor(1072692225 / 1024) = floor(1047551.0009) = 1047551,
 *           523264 more.
 * An idle window later a full 1048575 again.
 */
static void test_window_max_count_fits_20_bits(void **state UNUSED)
{
	__u64 word = 0;

	assert_int_equal(SL_WIN_MAX, 1048575);
	assert_int_equal(sl_window_pack(SL_WIN_INDEX_MASK, SL_WIN_MAX,
					SL_WIN_MAX), ~0ull);
	assert_int_equal(sl_window_pack(1, 0, 0), BIT(40));
	assert_int_equal(sl_window_pack(0, 1, 0), BIT(20));
	assert_int_equal(sl_window_pack(0, 0, 1), 1);
	assert_int_equal(sl_window_pack(WIN_SPAN + 3, 0, 0),
			 sl_window_pack(3, 0, 0));

	expect_count("SL_WIN_MAX in one window",
		     win_flood(&word, 7 * S, S, SL_WIN_MAX, SL_WIN_MAX + 10),
		     SL_WIN_MAX);
	assert_int_equal(word, (7ull << 40) | 0xfffff);
	assert_int_equal(win_index(word), 7);
	assert_int_equal(win_prev(word), 0);
	assert_int_equal(win_cur(word), SL_WIN_MAX);
	assert_int_equal(win_flood(&word, 8 * S - 1, S, SL_WIN_MAX, 10), 0);

	expect_count("prev SL_WIN_MAX, 50%",
		     win_flood(&word, 8 * S + 500 * MS, S, SL_WIN_MAX,
			       SL_WIN_MAX), 524287);
	assert_int_equal(word, sl_window_pack(8, SL_WIN_MAX, 524287));
	expect_count("prev SL_WIN_MAX, last ns",
		     win_flood(&word, 9 * S - 1, S, SL_WIN_MAX, SL_WIN_MAX),
		     523264);
	assert_int_equal(word, sl_window_pack(8, SL_WIN_MAX, 1047551));
	assert_int_equal(win_index(word), 8);

	word = sl_window_pack(8, 12345, SL_WIN_MAX);
	expect_count("idle a window, SL_WIN_MAX again",
		     win_flood(&word, 10 * S, S, SL_WIN_MAX, SL_WIN_MAX + 10),
		     SL_WIN_MAX);
	assert_int_equal(word, sl_window_pack(10, 0, SL_WIN_MAX));

	/* The last one fits exactly, at the top of the index range too. */
	word = sl_window_pack(SL_WIN_INDEX_MASK, 0, SL_WIN_MAX - 1);
	assert_int_equal(win_offer(&word, SL_WIN_INDEX_MASK * S, S,
				   SL_WIN_MAX), 1);
	assert_int_equal(word, ~0ull ^ (SL_WIN_MAX << SL_WIN_COUNT_BITS));
	assert_int_equal(word, sl_window_pack(SL_WIN_INDEX_MASK, 0, SL_WIN_MAX));
	assert_int_equal(win_offer(&word, SL_WIN_INDEX_MASK * S, S,
				   SL_WIN_MAX), 0);
}

/*
 * Two window limits on one rule, as check_limits() applies them
 * (bpf/sluice.bpf.c): each in turn, and when one refuses, the earlier ones
 * get their packet back with refund() (the current count drops by one if
 * the word still holds the current window).
 */
struct win_limit {
	__u64 period, max;
};

static void win_refund(__u64 *word, __u64 now, const struct win_limit *l)
{
	__u64 index = now / l->period;

	if (win_index(*word) != (index & SL_WIN_INDEX_MASK) ||
	    !win_cur(*word))
		return;
	*word -= 1;
}

static int win_rule_offer(__u64 *words, const struct win_limit *lims,
			  size_t n, __u64 now)
{
	for (size_t i = 0; i < n; i++) {
		if (win_offer(&words[i], now, lims[i].period, lims[i].max))
			continue;
		for (size_t j = 0; j < i; j++)
			win_refund(&words[j], now, &lims[j]);
		return 0;
	}
	return 1;
}

/*
 * 20 per 2 s and 30 per 10 s, flooded (64 packets every millisecond) from
 * t = 1004 s to 1014 s: 2-s windows 502..506 (A), 10-s windows 100 and 101
 * (B, fresh in 100). Both words fresh. A packet goes through iff it fits
 * both: the admits in an A window up to t are
 * min(allowA(t), allowB(t) - B's count at the A window's start), each
 * allow non-decreasing within the window.
 *   [1004,1006): A fresh: 20; B 0 + 20 <= 30.                       20
 *   [1006,1008): A prev 20, allowA reaches floor((20480-20)/1024) = 19
 *     at the end; B has 10 left: 10. allowA >= 1 needs
 *     w <= 972: first at 102 ms (left 1898 ms, w = ceil(971.776));
 *     allowA >= 10 needs w <= 512: at 1000 ms, so the last at 1007 s. 10
 *   [1008,1010): B full at 30 in window 100; A's admits refunded, so A
 *     ends the window with cur 0.                                     0
 *   [1010,1012): B window 101, prev 30: allowB = floor((30720 - 30 wB)
 *     / 1024), wB = ceil(left_ms x 0.1024). allowB >= 1 needs wB <= 989:
 *     e >= 342 ms (left 9658, 988.98). allowB >= 5 needs wB <= 853:
 *     e >= 1670 ms (852.992); allowB >= 6 needs wB <= 819: e >= 2002 ms,
 *     next window. A prev 0: 20.                                       5
 *   [1012,1014): A prev 5 (allowA >= 15 throughout); B had 5 at the
 *     start and allowB at e = 3999 ms is floor((30720 - 30 x 615) /
 *     1024) = 11: 6 more, the first at 2002 ms, the last (allowB >= 11:
 *     wB <= 648, e >= 3672 ms, 647.99) at 1013.672 s.                  6
 * 41 in all. Either order of the two limits gives the same.
 */
static void test_window_two_limits_both_hold(void **state UNUSED)
{
	static const struct win_limit ab[2] = { { 2 * S, 20 }, { 10 * S, 30 } };
	static const struct win_limit ba[2] = { { 10 * S, 30 }, { 2 * S, 20 } };
	static const struct {
		__u64 admits, first, last;	/* ms since 1004 s */
	} want[5] = {
		{ 20, 0, 0 },
		{ 10, 2102, 3000 },
		{ 0, 0, 0 },
		{ 5, 6342, 7670 },
		{ 6, 8002, 9672 },
	};

	for (int order = 0; order < 2; order++) {
		const struct win_limit *lims = order ? ba : ab;
		__u64 words[2] = { 0, 0 };
		__u64 got[5] = { 0 }, first[5] = { 0 }, last[5] = { 0 };

		for (__u64 ms = 0; ms < 10000; ms++) {
			__u64 now = 1004 * S + ms * MS;
			size_t win = ms / 2000;

			for (int k = 0; k < 64; k++) {
				if (!win_rule_offer(words, lims, 2, now))
					continue;
				if (!got[win]++)
					first[win] = ms;
				last[win] = ms;
			}
		}
		for (size_t i = 0; i < 5; i++) {
			char what[64];

			snprintf(what, sizeof(what),
				 "20/2s + 30/10s (order %d), [%zu s, %zu s)",
				 order, 1004 + 2 * i, 1006 + 2 * i);
			expect_count(what, got[i], want[i].admits);
			assert_true(got[i] <= 20);
			if (!want[i].admits)
				continue;
			assert_int_equal(first[i], want[i].first);
			assert_int_equal(last[i], want[i].last);
		}
	}
}

/*
 * The estimate is what the README defines, not a count over a true sliding
 * window: 1024 per 1 s, a flood of 1024 at the last nanosecond of window 10
 * and another at the next-to-last nanosecond of window 11 (left 2 ns,
 * w = ceil(2048 / 1e9) = 1, allow floor((1048576 - 1024) / 1024) = 1023)
 * puts 2047 packets inside 999999999 ns. That is the price of two counters
 * per key; it is documented here so a change to it is deliberate.
 */
static void test_window_estimate_assumes_previous_window_even(void **state UNUSED)
{
	__u64 word = 0;

	assert_int_equal(win_flood(&word, 11 * S - 1, S, 1024, 2000), 1024);
	assert_int_equal(win_flood(&word, 12 * S - 2, S, 1024, 2000), 1023);
	assert_int_equal(word, sl_window_pack(11, 1024, 1023));
}

/*
 * The contract in 128 bits, from its definition: the stored window is the
 * current one (counts as they are), the previous one (its count becomes
 * prev) or older (nothing); w is the least integer with
 * w x period >= left x 1024; admit iff prev x w / 1024 + cur + 1 <= max.
 */
static int ref_window_conform(__u64 word, __u64 now, __u64 period, __u64 max,
			      __u64 *next, int *kind)
{
	u128 index = now / period;
	u128 left = period - now % period;
	__u64 stored = word >> 40, prev = (word >> 20) & 0xfffff,
	      cur = word & 0xfffff;
	u128 w;

	/* A word one window ahead: now is a stale timestamp, taken as the
	 * start of the stored window (a fresh key, word 0, never is). */
	if (word && stored == (__u64)((index + 1) % WIN_SPAN)) {
		index++;
		left = period;
	}
	if (stored == (__u64)(index % WIN_SPAN)) {
		*kind = 0;
	} else if (stored == (__u64)((index + WIN_SPAN - 1) % WIN_SPAN)) {
		prev = cur;
		cur = 0;
		*kind = 1;
	} else {
		prev = cur = 0;
		*kind = 2;
	}
	w = ceil_div(left * 1024, period);
	assert_true(w >= 1 && w <= 1024);
	assert_true((w - 1) * period < left * 1024 && left * 1024 <= w * period);
	*next = word;
	if ((u128)prev * w + ((u128)cur + 1) * 1024 > (u128)max * 1024)
		return 0;
	*next = (__u64)((index % WIN_SPAN) << 40 | (u128)prev << 20 |
			(cur + 1));
	return 1;
}

/*
 * Two CPUs at a window boundary: CPU1 (now = 11 s) moves the key into
 * window 11 first; CPU0's timestamp (11 s - 1 ns) was taken just before.
 * CPU0's packet counts as the start of window 11, so the key keeps window
 * 10's 50 as its previous count: window 11 admits 49 at its start in all
 * (100 - 50 x 1024/1024 - 1 already there), not a fresh 100.
 */
static void test_window_stale_timestamp_does_not_reset_a_moved_key(void **state UNUSED)
{
	__u64 word = 0;

	assert_int_equal(win_flood(&word, 10 * S + 500 * MS, S, 100, 50), 50);
	assert_int_equal(win_flood(&word, 11 * S, S, 100, 1), 1);
	assert_int_equal(word, sl_window_pack(11, 50, 1));
	assert_int_equal(win_flood(&word, 11 * S - 1, S, 100, 1), 1);
	assert_int_equal(word, sl_window_pack(11, 50, 2));
	expect_count("window 11 at its start, after a stale timestamp",
		     win_flood(&word, 11 * S + 1, S, 100, 200), 48);
}

static void test_window_conform_matches_int128_reference(void **state UNUSED)
{
	static const __u64 periods[] = {
		1, 2, 3, 1023, 1024, 1025, MS, S, 3 * S, 60 * S, 86400 * S,
		BIT(48) - 1,
	};
	__u64 seen[2][3] = { { 0 } }, exact = 0;
	__u64 seed = 0x5851f42d4c957f2dull;

	/*
	 * Two draws in one expression (x >> y) are unsequenced, and the
	 * order a compiler picks changes with the build (UBSan reverses
	 * some), so each draw is its own statement, left to right: every
	 * build sees the same inputs.
	 */
	for (int i = 0; i < 1000000; i++) {
		__u64 period, now, index, stored, prev, cur, max, word;
		__u64 next = SENTINEL, want_next;
		int r, want, kind;

		if (rnd(&seed) & 3) {
			period = rnd(&seed);
			period >>= 16 + rnd(&seed) % 48;
		} else {
			period = periods[rnd(&seed) % ARRAY_SIZE(periods)];
		}
		period += !period;
		if (rnd(&seed) & 1) {
			now = rnd(&seed);
		} else {
			now = rnd(&seed);
			now >>= rnd(&seed) & 63;
		}
		index = now / period;
		switch (rnd(&seed) % 8) {
		case 0: case 1: case 2:
			stored = index;
			break;
		case 3: case 4: case 5:
			stored = index - 1;
			break;
		case 6:
			stored = index + 1 + (rnd(&seed) % 3) * WIN_SPAN;
			stored -= (rnd(&seed) & 1) * 3;
			break;
		default:
			stored = rnd(&seed);
			break;
		}
		prev = (rnd(&seed) & 1) ? rnd(&seed) & SL_WIN_MAX
					: (rnd(&seed) & 7) << 10;
		cur = rnd(&seed) & SL_WIN_MAX;
		if (rnd(&seed) & 1)
			cur >>= rnd(&seed) % 21;
		switch (rnd(&seed) % 4) {
		case 0:		/* at the edge of what cur leaves */
			max = cur + (rnd(&seed) % 3);
			max = max > SL_WIN_MAX ? SL_WIN_MAX : max;
			break;
		case 1:
			max = SL_WIN_MAX - (rnd(&seed) & 1);
			break;
		default:
			max = rnd(&seed) & SL_WIN_MAX;
			max >>= rnd(&seed) % 21;
			break;
		}
		word = sl_window_pack(stored, prev, cur);

		want = ref_window_conform(word, now, period, max, &want_next,
					  &kind);
		r = sl_window_conform(word, now, period, max, &next);
		if (r != want || next != want_next)
			print_error("word %#llx now %llu period %llu max %llu: "
				    "%d/%#llx, expected %d/%#llx\n",
				    (unsigned long long)word,
				    (unsigned long long)now,
				    (unsigned long long)period,
				    (unsigned long long)max, r,
				    (unsigned long long)next, want,
				    (unsigned long long)want_next);
		assert_int_equal(r, want);
		assert_int_equal(next, want_next);
		if (r) {
			assert_true(win_cur(next) <= max);
			/* Its own window, or the one a stale now ran into. */
			assert_true(win_index(next) == (index & SL_WIN_INDEX_MASK) ||
				    win_index(next) == ((index + 1) & SL_WIN_INDEX_MASK));
			/* Admitted with nothing to spare: the count is max. */
			if (win_cur(next) == max)
				exact++;
		}
		seen[r][kind]++;
	}
	for (int r = 0; r < 2; r++) {
		for (int k = 0; k < 3; k++) {
			if (seen[r][k] <= 5000)
				print_error("seen[%d][%d] = %llu\n", r, k,
					    (unsigned long long)seen[r][k]);
			assert_true(seen[r][k] > 5000);
		}
	}
	assert_true(exact > 10000);
}

/* ---- warm-up -------------------------------------------------------- */

/*
 * floor(sqrt(x)) by binary search in 128 bits: a second way to the root,
 * so sl_warm_sqrt's Newton steps are checked against something they share
 * no code with.
 */
static u128 ref_isqrt(u128 x)
{
	u128 lo = 0, hi = (u128)1 << 64;

	while (hi - lo > 1) {
		u128 mid = lo + (hi - lo) / 2;

		if (mid * mid <= x)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static __u64 ref_isqrt_ceil(u128 x)
{
	u128 r = ref_isqrt(x);

	return (__u64)(r * r == x ? r : r + 1);
}

/*
 * The warm-up factor as the contract states it: e / W in whole 1/65536
 * steps rounded down, then the least 16.16 value whose square is at least
 * 9 - 8 x that share.
 */
static __u64 ref_warm_factor(__u64 now, __u64 start, __u64 warmup)
{
	__u64 elapsed = now > start ? now - start : 0;

	if (elapsed >= warmup)
		return BIT(16);
	return ref_isqrt_ceil(((u128)9 << 32) -
			      ((((u128)elapsed << 16) / warmup) << 19));
}

static __u64 ref_warm_scale(__u64 x, __u64 factor)
{
	return (__u64)ceil_div((u128)x * factor, BIT(16));
}

/*
 * One packet offered at `now` to a rate limit whose rule began warming up
 * at `start` for `warmup` ns, stretched as the data path stretches it
 * (bpf/sluice.bpf.c warm_limit()): interval and tolerance by the same
 * factor. Every step is checked against the contract in 128 bits.
 */
static int warm_offer(__u64 *tat, __u64 now, const struct limit *l,
		      __u64 start, __u64 warmup)
{
	__u32 factor = sl_warm_factor(now, start, warmup);
	__u64 fp = l->interval_fp, tol = l->tolerance_ns, next, want_next;
	int ok, want;

	assert_int_equal(factor, ref_warm_factor(now, start, warmup));
	if (factor != SL_WARM_ONE) {
		fp = sl_warm_scale(fp, factor);
		tol = sl_warm_scale(tol, factor);
		assert_int_equal(fp, ref_warm_scale(l->interval_fp, factor));
		assert_int_equal(tol, ref_warm_scale(l->tolerance_ns, factor));
	}
	ok = sl_gcra_conform(*tat, now, sl_gcra_cost_ns(fp, 1), tol, &next);
	want = ref_conform(*tat, now, ref_cost_ns(fp, 1), tol, &want_next);
	assert_int_equal(ok, want);
	assert_int_equal(next, want_next);
	*tat = next;
	return ok;
}

/* Saturating demand: an offer every `step` ns in (from, to]. */
static __u64 warm_stream(__u64 *tat, __u64 from, __u64 to, __u64 step,
			 const struct limit *l, __u64 start, __u64 warmup)
{
	__u64 admitted = 0, now;

	for (now = from + step; now <= to; now += step)
		admitted += warm_offer(tat, now, l, start, warmup);
	return admitted;
}

/*
 * What SmoothWarmingUp lets through in the first t ns of a warm-up under
 * saturating demand, the integral of de / I(e) from sluice_limiter.h:
 * (3W - sqrt(W (9W - 8t))) x count / (4 x period), the root taken exactly.
 */
static double curve_admits(__u64 t, __u64 warmup, __u64 period, __u64 count)
{
	u128 root;

	if (t > warmup)
		t = warmup;
	root = ref_isqrt((u128)warmup * (9 * (u128)warmup - 8 * (u128)t));
	return (double)(3 * (u128)warmup - root) * count / (4.0 * period);
}

/*
 * The root's whole domain, 2^32 .. 9 x 2^32, at every square and its
 * neighbours, at every value sl_warm_factor() hands it, and at random.
 */
static void test_warm_sqrt_is_the_ceiling_over_its_domain(void **state UNUSED)
{
	__u64 seed = 0x5eed5eedull, lo = BIT(32), hi = 9 * BIT(32), k, x;

	for (k = BIT(16); k <= 3 * BIT(16); k++)
		for (x = k * k - 1; x <= k * k + 1; x++)
			if (x >= lo && x <= hi)
				assert_int_equal(sl_warm_sqrt(x), ref_isqrt_ceil(x));
	for (k = 0; k < BIT(16); k++) {
		x = hi - (k << 19);
		assert_int_equal(sl_warm_sqrt(x), ref_isqrt_ceil(x));
	}
	for (int i = 0; i < 1000000; i++) {
		x = lo + rnd(&seed) % (hi - lo + 1);
		assert_int_equal(sl_warm_sqrt(x), ref_isqrt_ceil(x));
	}
	assert_int_equal(sl_warm_sqrt(lo), BIT(16));
	assert_int_equal(sl_warm_sqrt(hi), 3 * BIT(16));
}

static void test_warm_factor_a_third_at_start_full_from_the_end(void **state UNUSED)
{
	static const __u64 warmups[] = {
		8 * MS, S, 8 * S, 30 * S, 3600 * S, SL_WARM_MAX_NS - 8,
	};

	for (size_t i = 0; i < ARRAY_SIZE(warmups); i++) {
		__u64 w = warmups[i], t0 = 5000 * S;

		assert_int_equal(sl_warm_factor(t0, t0, w), 3 * SL_WARM_ONE);
		assert_int_equal(sl_warm_factor(t0 + w, t0, w), SL_WARM_ONE);
		assert_int_equal(sl_warm_factor(t0 + w + 1, t0, w), SL_WARM_ONE);
		assert_int_equal(sl_warm_factor(SL_U64_MAX, t0, w), SL_WARM_ONE);
		assert_true(sl_warm_factor(t0 + w - 1, t0, w) > SL_WARM_ONE);
		/* 9 - 8 x 5/8 = 4: exactly twice the interval. */
		assert_int_equal(sl_warm_factor(t0 + w / 8 * 5, t0, w),
				 2 * SL_WARM_ONE);
		/* Half way: 65536 x sqrt(5) = 146542.95, up. */
		assert_int_equal(sl_warm_factor(t0 + w / 2, t0, w), 146543);
		/* A now read before the start was stamped: still cold. */
		assert_int_equal(sl_warm_factor(t0 - 1, t0, w), SL_WARM_COLD);
		assert_int_equal(sl_warm_factor(0, t0, w), SL_WARM_COLD);
	}
}

static void test_warm_factor_never_below_curve_within_5_parts_of_65536(void **state UNUSED)
{
	static const __u64 warmups[] = { 1 * MS, 7 * MS, S, 10 * S, 3 * 3600 * S };
	__u64 seed = 0x77aa77aaull;

	for (size_t i = 0; i < ARRAY_SIZE(warmups); i++) {
		__u64 w = warmups[i];

		for (int n = 0; n < 200000; n++) {
			/* The last instants before the end, then anywhere. */
			__u64 e = n < 1000 ? w - 1 - n % w : rnd(&seed) % w;
			u128 f = sl_warm_factor(e, 0, w);
			u128 curve = ((u128)9 * w - 8 * (u128)e) << 32;

			/* f >= 65536 sqrt(9 - 8e/W) > f - 5, squared, times W */
			assert_true(f * f * w >= curve);
			assert_true((f - 5) * (f - 5) * w < curve);
		}
	}
}

static void test_warm_factor_falls_monotonically_through_every_step(void **state UNUSED)
{
	__u64 w = 10 * S, e, prev = SL_WARM_COLD;

	for (e = 0; e < w; e += w / 65536 / 4) {
		__u64 f = sl_warm_factor(e, 0, w);

		assert_true(f <= prev);
		assert_true(f > SL_WARM_ONE);
		prev = f;
	}
	assert_int_equal(sl_warm_factor(w, 0, w), SL_WARM_ONE);
}

static void test_warm_scale_rounds_up_and_never_overflows(void **state UNUSED)
{
	struct limit bytes = byte_limit_of(S, 12500000, 2000000);	/* 100mbit */
	__u64 seed = 0x12345678ull;

	assert_int_equal(sl_warm_scale(1000000, SL_WARM_ONE), 1000000);
	assert_int_equal(sl_warm_scale(1000000, SL_WARM_COLD), 3000000);
	assert_int_equal(sl_warm_scale(1, SL_WARM_ONE + 1), 2);
	assert_int_equal(sl_warm_scale(SL_WARM_MAX_SCALED - 1, SL_WARM_COLD),
			 3 * (SL_WARM_MAX_SCALED - 1));
	/* A byte rate stretches the same way: 80 ns a byte becomes 240. */
	assert_int_equal(sl_gcra_cost_ns(sl_warm_scale(bytes.interval_fp,
						       SL_WARM_COLD), 1500),
			 3 * 80 * 1500);
	assert_int_equal(sl_warm_scale(bytes.tolerance_ns, SL_WARM_COLD),
			 3 * 80 * 2000000ull);
	for (int i = 0; i < 1000000; i++) {
		__u64 x = rnd(&seed) >> (2 + rnd(&seed) % 62);
		__u32 f = SL_WARM_ONE + rnd(&seed) % (2 * SL_WARM_ONE + 1);

		assert_int_equal(sl_warm_scale(x, f), ref_warm_scale(x, f));
	}
}

/*
 * 1000/s burst 2 warming up over 8 s, offered a packet every 10 us from a
 * fresh key. SmoothWarmingUp passes W / 2T = 4000 in the warm-up, plus the
 * burst here: 4002. sluice passes exactly 4000: each packet is charged the
 * interval at its arrival, the high end of the span it covers on a falling
 * curve, which over the whole ramp adds up to about one stable interval
 * (the overcharge per packet, I |dI/de| / 2 = 2T^2 / W, times W / 2T
 * packets), and the factor's rounding up to well under one more. So at
 * every instant the count is at most the curve's and at most 3 below it.
 * After the warm-up: exactly the full rate, 500 per half second.
 */
static void test_warm_saturating_demand_follows_smooth_warming_up(void **state UNUSED)
{
	struct limit l = limit_of(S, 1000, 2);
	__u64 w = 8 * S, half = S / 2, tat = 0, total = 0, prev = 0, t;

	for (t = 0; t < w; t += half) {
		__u64 n = warm_stream(&tat, t, t + half, 10 * 1000, &l, 0, w);
		double curve = 2 + curve_admits(t + half, w, S, 1000);

		total += n;
		print_message("warm-up to %4llu ms: %3llu admitted, %4llu in all, curve %.2f\n",
			      (unsigned long long)((t + half) / MS),
			      (unsigned long long)n, (unsigned long long)total,
			      curve);
		assert_true(total <= curve);
		assert_true(total + 3 >= curve);
		/* The ramp only ever rises. */
		assert_true(n >= prev);
		prev = n;
	}
	expect_count("1000/s burst 2 over an 8 s warm-up", total, 4000);
	for (; t < w + 4 * S; t += half)
		expect_count("1000/s after its warm-up, per half second",
			     warm_stream(&tat, t, t + half, 10 * 1000, &l, 0, w),
			     500);
}

/*
 * The first second of a 1000 s warm-up of 3000/s runs at a third of the
 * rate: the curve gives 1000.22 there. The last second before the end runs
 * at nearly the full rate: the curve gives 2994.02, the interval falling
 * from T sqrt(1.008) to T over that second.
 */
static void test_warm_starts_at_a_third_and_ends_at_the_full_rate(void **state UNUSED)
{
	struct limit l = limit_of(S, 3000, 3);
	__u64 w = 1000 * S, start = 77 * S, tat = 0, n;
	double first = curve_admits(S, w, S, 3000);
	double last = curve_admits(w, w, S, 3000) - curve_admits(w - S, w, S, 3000);

	assert_true(first > 1000.2 && first < 1000.3);
	assert_true(last > 2994.0 && last < 2994.1);
	n = warm_stream(&tat, start, start + S, 10 * 1000, &l, start, w);
	print_message("first second: %llu admitted (burst 3 + %.2f)\n",
		      (unsigned long long)n, first);
	assert_true(n <= 3 + first && n + 2 >= 3 + first);

	/* A key that has kept its bucket full, one second before the end. */
	tat = start + w - S;
	n = warm_stream(&tat, start + w - S, start + w, 10 * 1000, &l, start, w);
	print_message("last second: %llu admitted (%.2f)\n",
		      (unsigned long long)n, last);
	assert_true(n <= 3 + last && n + 2 >= last);
}

/* ------------------------------------------------------------------------ */
/* When state says nothing: what the key sweep may delete                     */
/* ------------------------------------------------------------------------ */

/*
 * A TAT at or before now is a full bucket: quiet since the TAT itself. From
 * then on it answers every packet, at every later time, exactly as a fresh
 * key's 0 does, for any cost and tolerance; a TAT one nanosecond ahead
 * still says something.
 */
static void test_quiet_rate_word_behaves_like_a_fresh_key(void **state UNUSED)
{
	__u64 seed = 0x6b657973ull, i;

	assert_int_equal(sl_gcra_quiet_since(0, 5 * S), 0);
	assert_int_equal(sl_gcra_quiet_since(5 * S, 5 * S), 5 * S);
	assert_int_equal(sl_gcra_quiet_since(5 * S + 1, 5 * S), SL_U64_MAX);
	assert_int_equal(sl_gcra_quiet_since(SL_U64_MAX, 5 * S), SL_U64_MAX);

	for (i = 0; i < 200000; i++) {
		__u64 now = rnd(&seed) >> 4;
		__u64 tat = rnd(&seed) % (now + 1);
		__u64 later = now + rnd(&seed) % (10 * S);
		__u64 cost = 1 + rnd(&seed) % S, tol = rnd(&seed) % (4 * S);
		__u64 a = SENTINEL, b = SENTINEL;
		int ok;

		assert_true(sl_gcra_quiet_since(tat, now) <= now);
		ok = sl_gcra_conform(tat, later, cost, tol, &a);
		assert_int_equal(ok, sl_gcra_conform(0, later, cost, tol, &b));
		/* A refusal leaves either word as it was: still quiet. */
		if (ok)
			assert_int_equal(a, b);
		else
			assert_true(a == tat && b == 0);
	}
}

/*
 * A window word counts while its window or the next one (which weighs it)
 * lasts, and before its window comes (one ahead is a CPU whose clock read
 * later): quiet from the end of the window after it. From then on it
 * answers like a fresh key's 0, across the 2^24 wrap of the stored index.
 */
static void test_quiet_window_word_behaves_like_a_fresh_key(void **state UNUSED)
{
	const __u64 period = 10 * S, max = 5;
	__u64 seed = 0x77696e64ull, i;
	__u64 word = sl_window_pack(100, 3, 4);

	assert_int_equal(sl_window_quiet_since(0, 1000 * S, period), 0);
	assert_int_equal(sl_window_quiet_since(word, 99 * period, period), SL_U64_MAX);
	assert_int_equal(sl_window_quiet_since(word, 100 * period, period), SL_U64_MAX);
	assert_int_equal(sl_window_quiet_since(word, 101 * period + period - 1, period),
			 SL_U64_MAX);
	assert_int_equal(sl_window_quiet_since(word, 102 * period, period), 102 * period);
	assert_int_equal(sl_window_quiet_since(word, 500 * period + 3, period),
			 102 * period);
	assert_int_equal(sl_window_quiet_since(word, 97 * period, period), SL_U64_MAX);
	/* Index 2^24 - 1 stored, now in window 2^24 + 1: two behind, wrapped. */
	word = sl_window_pack(WIN_SPAN - 1, 0, 1);
	assert_int_equal(sl_window_quiet_since(word, WIN_SPAN * period, period), SL_U64_MAX);
	assert_int_equal(sl_window_quiet_since(word, (WIN_SPAN + 1) * period, period),
			 (WIN_SPAN + 1) * period);

	for (i = 0; i < 200000; i++) {
		__u64 index = rnd(&seed) % (3 * WIN_SPAN);
		__u64 now = index * period + rnd(&seed) % period;
		__u64 stored = (index + 2 - rnd(&seed) % 8) & SL_WIN_INDEX_MASK;
		__u64 later = now + rnd(&seed) % (3 * period);
		__u64 a = SENTINEL, b = SENTINEL, since;

		word = sl_window_pack(stored, rnd(&seed) % (max + 1), 1 + rnd(&seed) % max);
		since = sl_window_quiet_since(word, now, period);
		if (since == SL_U64_MAX)
			continue;
		assert_true(since <= now);
		assert_int_equal(sl_window_conform(word, later, period, max, &a),
				 sl_window_conform(0, later, period, max, &b));
		assert_int_equal(a, b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_key_admits_exactly_burst_at_once),
		cmocka_unit_test(test_refused_until_is_exactly_when_conform_admits_again),
		cmocka_unit_test(test_steady_rate_admits_burst_plus_rate_times_t),
		cmocka_unit_test(test_steady_rate_3_and_7_per_s_exact_over_1e6_s),
		cmocka_unit_test(test_steady_rate_3_and_7_per_s_no_early_admit_after_1e6_s),
		cmocka_unit_test(test_steady_rate_high_rates_not_dividing_1e9_exact),
		cmocka_unit_test(test_uneven_rates_never_exceed_ideal_over_long_periods),
		cmocka_unit_test(test_random_arrivals_never_exceed_limit_in_any_window),
		cmocka_unit_test(test_packets_at_exact_even_rate_conform_forever),
		cmocka_unit_test(test_packets_at_exact_uneven_rate_fall_behind_by_rounding),
		cmocka_unit_test(test_rate_change_mid_stream_carries_debt_in_ns),
		cmocka_unit_test(test_tighten_within_new_tolerance_keeps_debt),
		cmocka_unit_test(test_loosen_within_new_tolerance_keeps_debt),
		cmocka_unit_test(test_tighten_beyond_new_tolerance_counts_as_full_bucket),
		cmocka_unit_test(test_loosen_beyond_new_tolerance_counts_as_full_bucket),
		cmocka_unit_test(test_bytes_100mbit_interval_is_exactly_80ns_per_byte),
		cmocka_unit_test(test_bytes_frame_larger_than_burst_never_conforms),
		cmocka_unit_test(test_bytes_frame_of_exactly_burst_fits_idle_key),
		cmocka_unit_test(test_bytes_1500_byte_frames_at_rate_over_1500),
		cmocka_unit_test(test_tolerance_matches_int128_reference_and_saturates),
		cmocka_unit_test(test_cost_above_max_cost_is_clamped),
		cmocka_unit_test(test_clock_step_back_never_admits_more_than_burst),
		cmocka_unit_test(test_clock_small_step_back_within_tolerance),
		cmocka_unit_test(test_clock_step_back_resumes_one_interval_later),
		cmocka_unit_test(test_clamp_slack_excess_of_1ms_kept_1ms_plus_1ns_clamped),
		cmocka_unit_test(test_tighten_by_at_most_slack_keeps_debt),
		cmocka_unit_test(test_stale_now_from_another_cpu_never_hands_back_credit),
		cmocka_unit_test(test_edge_now_near_u64_max),
		cmocka_unit_test(test_edge_tat_near_u64_max),
		cmocka_unit_test(test_edge_tolerance_zero_admits_nothing),
		cmocka_unit_test(test_edge_cost_zero_conforms_only_within_tolerance),
		cmocka_unit_test(test_edge_cost_ns_matches_int128_reference),
		cmocka_unit_test(test_edge_conform_matches_int128_reference),
		cmocka_unit_test(test_interval_fp_matches_int128_reference),
		cmocka_unit_test(test_window_admits_exactly_max_in_one_window),
		cmocka_unit_test(test_window_previous_window_weighted_by_share_still_covered),
		cmocka_unit_test(test_window_idle_for_a_whole_window_forgets_the_past),
		cmocka_unit_test(test_window_refusal_leaves_word_unchanged),
		cmocka_unit_test(test_window_stale_timestamp_does_not_reset_a_moved_key),
		cmocka_unit_test(test_window_index_wraps_modulo_2_24),
		cmocka_unit_test(test_window_max_count_fits_20_bits),
		cmocka_unit_test(test_window_two_limits_both_hold),
		cmocka_unit_test(test_window_estimate_assumes_previous_window_even),
		cmocka_unit_test(test_window_conform_matches_int128_reference),
		cmocka_unit_test(test_warm_sqrt_is_the_ceiling_over_its_domain),
		cmocka_unit_test(test_warm_factor_a_third_at_start_full_from_the_end),
		cmocka_unit_test(test_warm_factor_never_below_curve_within_5_parts_of_65536),
		cmocka_unit_test(test_warm_factor_falls_monotonically_through_every_step),
		cmocka_unit_test(test_warm_scale_rounds_up_and_never_overflows),
		cmocka_unit_test(test_warm_saturating_demand_follows_smooth_warming_up),
		cmocka_unit_test(test_warm_starts_at_a_third_and_ends_at_the_full_rate),
		cmocka_unit_test(test_quiet_rate_word_behaves_like_a_fresh_key),
		cmocka_unit_test(test_quiet_window_word_behaves_like_a_fresh_key),
	};

	return cmocka_run_group_tests_name("limiter", tests, NULL, NULL);
}
