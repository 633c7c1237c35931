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

/*
 * One packet (or frame of `cost` bytes) offered at `now`; 1 if admitted.
 * sl_gcra_conform always writes the state the key holds afterwards, and the
 * data path stores it whenever it differs (bpf/sluice.bpf.c spend()), so
 * this stores it on every call. A refusal may move the TAT only to clamp a
 * TAT more than one tolerance ahead to a full bucket.
 */
static int offer(__u64 *tat, __u64 now, const struct limit *l, __u32 cost)
{
	__u64 next = SENTINEL;
	int ok = sl_gcra_conform(*tat, now,
				 sl_gcra_cost_ns(l->interval_fp, cost),
				 l->tolerance_ns, &next);

	if (!ok && next != *tat) {
		assert_true(*tat > now && *tat - now > l->tolerance_ns);
		assert_int_equal(next, now + l->tolerance_ns);
	}
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
 * GCRA with the clamp: a TAT more than `tol` ahead counts as a full bucket
 * (now + tol), which is the state kept even on a refusal; a cost conforms if
 * it fits in what is left of the tolerance and the new TAT in 64 bits.
 */
static int ref_conform(__u64 tat, __u64 now, __u64 cost, __u64 tol,
		       __u64 *next)
{
	u128 ahead = tat > now ? (u128)tat - now : 0;
	u128 keep = tat;
	u128 end;

	if (ahead > tol) {
		ahead = tol;
		keep = (u128)now + tol;
	}
	end = (u128)now + ahead + cost;
	if (ahead + cost > tol || end > SL_U64_MAX) {
		*next = (__u64)keep;
		return 0;
	}
	*next = (__u64)end;
	return 1;
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
	static const __u64 tats[] = { 0, 1 * S, 5 * S - 80000, 5 * S };
	static const __u64 nows[] = { 0, 5 * S, 3600 * S, SL_U64_MAX / 2 };

	assert_int_equal(l.tolerance_ns, 80000);
	for (size_t i = 0; i < ARRAY_SIZE(tats); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(nows); j++) {
			__u64 next = SENTINEL, tat = tats[i];
			/* What a refusal leaves: tat, or a full bucket. */
			__u64 keep = tat > nows[j] + l.tolerance_ns ?
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
 * goes through, however far back it goes, and each refusal leaves a full
 * bucket at the new instant (one tolerance ahead of it).
 */
static void test_clock_step_back_never_admits_more_than_burst(void **state UNUSED)
{
	static const __u64 back[] = {
		100 * S - 1, 100 * S - MS, 99 * S + 500 * MS, 99 * S,
		90 * S, 50 * S, 1 * S, 1, 0,
	};
	struct limit l = limit_of(S, 10, 10);	/* 100 ms, tolerance 1 s */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 100 * S, &l, 1, 100), 10);
	assert_int_equal(tat, 101 * S);
	for (size_t i = 0; i < ARRAY_SIZE(back); i++) {
		assert_int_equal(flood(&tat, back[i], &l, 1, 100), 0);
		assert_int_equal(tat, back[i] + S);
	}
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
 * After a step back of 50 s the refusal clamps the key to a full bucket at
 * 50 s (TAT 51 s): one packet every 100 ms from 50.1 s on, not a 51 s wait.
 */
static void test_clock_step_back_resumes_one_interval_later(void **state UNUSED)
{
	struct limit l = limit_of(S, 10, 10);	/* 100 ms, tolerance 1 s */
	__u64 tat = 0;

	assert_int_equal(flood(&tat, 100 * S, &l, 1, 100), 10);
	assert_int_equal(flood(&tat, 50 * S, &l, 1, 100), 0);
	assert_int_equal(tat, 51 * S);
	assert_int_equal(offer(&tat, 50 * S + 100 * MS - 1, &l, 1), 0);
	expect_count("10/s burst 10, clock back 50 s, (50 s, 60 s]",
		     stream(&tat, 50 * S, 60 * S, 1000, &l, 1, NULL), 100);
	assert_int_equal(tat, 61 * S);
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
	 * the refusal leaves a full bucket, now + tolerance.
	 */
	next = SENTINEL;
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, 0, 1, SL_U64_MAX - 1, &next), 0);
	assert_int_equal(next, SL_U64_MAX - 1);
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
 * Tolerance 0: nothing with a cost conforms, and a TAT ahead of now is
 * clamped to now (a full bucket of nothing), so what a refusal leaves is
 * min(tat, now).
 */
static void test_edge_tolerance_zero_admits_nothing(void **state UNUSED)
{
	static const __u64 pts[] = { 0, 1, S, SL_U64_MAX - 1, SL_U64_MAX };

	for (size_t i = 0; i < ARRAY_SIZE(pts); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(pts); j++) {
			__u64 next = SENTINEL;

			assert_int_equal(sl_gcra_conform(pts[i], pts[j], 1, 0,
							 &next), 0);
			assert_int_equal(next, pts[i] < pts[j] ? pts[i] : pts[j]);
		}
	}
	/* limit_of with burst 0 is such a limit. */
	struct limit l = limit_of(S, 10, 0);
	__u64 tat = 0;

	assert_int_equal(l.tolerance_ns, 0);
	assert_int_equal(byte_limit_of(S, 10, 0).tolerance_ns, 0);
	assert_int_equal(stream(&tat, 0, 10 * S, 1000, &l, 1, NULL), 0);
	assert_int_equal(tat, 0);
}

/*
 * Zero cost (a zero interval) always conforms and moves TAT to max(tat, now),
 * or to now + tolerance where TAT was further ahead than that.
 */
static void test_edge_cost_zero_always_conforms(void **state UNUSED)
{
	__u64 next = SENTINEL;

	assert_int_equal(sl_gcra_cost_ns(0, 1500), 0);
	assert_int_equal(sl_gcra_cost_ns(80ull << SL_FP_SHIFT, 0), 0);
	assert_int_equal(sl_gcra_conform(0, 0, 0, 0, &next), 1);
	assert_int_equal(next, 0);
	assert_int_equal(sl_gcra_conform(5 * S, 1 * S, 0, 4 * S, &next), 1);
	assert_int_equal(next, 5 * S);
	assert_int_equal(sl_gcra_conform(5 * S, 1 * S, 0, 3 * S, &next), 1);
	assert_int_equal(next, 4 * S);
	assert_int_equal(sl_gcra_conform(5 * S, 1 * S, 0, 0, &next), 1);
	assert_int_equal(next, 1 * S);
	assert_int_equal(sl_gcra_conform(1 * S, 5 * S, 0, 0, &next), 1);
	assert_int_equal(next, 5 * S);
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, SL_U64_MAX, 0, 0, &next), 1);
	assert_int_equal(next, SL_U64_MAX);
	assert_int_equal(sl_gcra_conform(SL_U64_MAX, 0, 0, 0, &next), 1);
	assert_int_equal(next, 0);
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
 * TATs behind now, within the tolerance and beyond it: admit iff
 * ahead + cost <= tolerance and the new TAT fits in 64 bits, new TAT =
 * now + ahead + cost; on a refusal *new_tat is TAT unchanged, or now +
 * tolerance where TAT was further ahead (ahead clamped to the tolerance in
 * the admit test too). Every kind of outcome must be reached many times.
 */
static void test_edge_conform_matches_int128_reference(void **state UNUSED)
{
	static const __u64 anchors[] = { 0, 1, S, BIT(63), SL_U64_MAX - S,
					 SL_U64_MAX - 1, SL_U64_MAX };
	enum { ADMIT, REFUSE_KEEP, REFUSE_CLAMP, ADMIT_CLAMP, KINDS };
	__u64 seen[KINDS] = { 0 };
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
		if (!r && ahead <= tol)
			assert_int_equal(next, tat);
		if (ahead > tol)
			assert_true(r ? next == now + tol + cost
				      : next == now + tol);
		if (r)
			assert_true(next >= now && next - now <= tol);
		seen[r ? (ahead > tol ? ADMIT_CLAMP : ADMIT)
		       : (ahead > tol ? REFUSE_CLAMP : REFUSE_KEEP)]++;
	}
	for (int k = 0; k < KINDS; k++)
		assert_true(seen[k] > 10000);
}

/* ---- interval ------------------------------------------------------- */

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_key_admits_exactly_burst_at_once),
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
		cmocka_unit_test(test_edge_now_near_u64_max),
		cmocka_unit_test(test_edge_tat_near_u64_max),
		cmocka_unit_test(test_edge_tolerance_zero_admits_nothing),
		cmocka_unit_test(test_edge_cost_zero_always_conforms),
		cmocka_unit_test(test_edge_cost_ns_matches_int128_reference),
		cmocka_unit_test(test_edge_conform_matches_int128_reference),
		cmocka_unit_test(test_interval_fp_matches_int128_reference),
	};

	return cmocka_run_group_tests_name("limiter", tests, NULL, NULL);
}
