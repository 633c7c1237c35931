// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Warm-up in the real XDP program: a rule with `warmup` admits what the
 * ramp of include/sluice_limiter.h allows, verdict by verdict, from a
 * third of its rate to all of it; its warm-up starts when the rule is
 * created and survives reloads; ruleset__restart_warmup() starts it again.
 *
 * The program reads the test clock, set relative to the warm-up start the
 * controller stamped (CLOCK_MONOTONIC) into the rule, so every verdict is
 * exact. One test runs on the kernel clock itself, as production does, to
 * show that the controller's stamp and bpf_ktime_get_ns() are one clock.
 *
 * Run as root: build/tests/test_warmup
 */
#include "bpf_fixture.h"
#include "sluice_limiter.h"

#define WARM_RULE	"rule w proto udp dport 53 key src rate 1000/s burst 10 action drop"

static const struct pkt dns4 = { .family = 4, .proto = P_UDP, .sport = 5353,
				 .dport = 53, .payload = 20 };

/*
 * One key under a warming rate limit, decided with the header's math: what
 * the data path must answer to each packet.
 */
struct model {
	__u64 tat;
	struct sl_limit lim;
	__u64 start, warmup;
};

static struct model model_of(const struct sl_rule *rule)
{
	return (struct model){ .lim = rule->limits[0],
			       .start = rule->warm_start_ns,
			       .warmup = rule->warmup_ns };
}

static int model_offer(struct model *m, __u64 now)
{
	__u32 factor = sl_warm_factor(now, m->start, m->warmup);
	__u64 fp = m->lim.rate.interval_fp, tol = m->lim.rate.tolerance_ns, next;
	int ok;

	if (factor != SL_WARM_ONE) {
		fp = sl_warm_scale(fp, factor);
		tol = sl_warm_scale(tol, factor);
	}
	ok = sl_gcra_conform(m->tat, now, sl_gcra_cost_ns(fp, 1), tol, &next);
	m->tat = next;
	return ok;
}

/*
 * A packet every `step` ns over (from, to], each verdict checked against
 * the model; returns how many passed.
 */
static unsigned offer_range(struct fx *fx, struct model *m, __u64 from,
			    __u64 to, __u64 step)
{
	unsigned passed = 0;
	__u64 now;

	for (now = from + step; now <= to; now += step) {
		int want = model_offer(m, now) ? VERDICT_PASS : VERDICT_DROP;

		set_now(fx, now);
		assert_verdict(send_pkt(fx, &dns4), want);
		passed += want == VERDICT_PASS;
	}
	return passed;
}

/*
 * 1000/s burst 10 warming up over 4 s, offered 4000 packets a second:
 * every verdict is the model's; the first second passes about a third of
 * the rate (the curve's 354, plus the burst), every second passes more
 * than the one before, and from the end of the warm-up on, exactly 1000
 * a second.
 */
static void test_warming_rule_ramps_from_a_third_to_the_full_rate(void **state)
{
	struct fx *fx = *state;
	uint64_t before = monotonic_ns(), after;
	struct sl_rule rule;
	struct model m;
	unsigned second, passed, prev = 0;

	configure(fx, WARM_RULE " warmup 4s");
	after = monotonic_ns();
	rule = active_rule(fx, "w");
	assert_int_equal(rule.warmup_ns, 4 * NS_PER_S);
	/* Stamped at the apply, on the clock the data path reads. */
	assert_true(rule.warm_start_ns >= before && rule.warm_start_ns <= after);

	m = model_of(&rule);
	for (second = 0; second < 6; second++) {
		__u64 from = rule.warm_start_ns + second * NS_PER_S;

		passed = offer_range(fx, &m, from, from + NS_PER_S, 250 * 1000);
		print_message("second %u of the warm-up: %u passed\n", second + 1,
			      passed);
		if (second == 0)
			assert_true(passed >= 354 + 10 - 3 && passed <= 354 + 10);
		else if (second < 4)
			assert_true(passed > prev);
		else
			assert_int_equal(passed, 1000);
		prev = passed;
	}
}

/*
 * Without warmup the same rule passes its full rate from the first second:
 * the burst of 10, then one each millisecond after the first packet.
 */
static void test_rule_without_warmup_is_at_full_rate_at_once(void **state)
{
	struct fx *fx = *state;
	struct sl_rule rule;
	struct model m;

	configure(fx, WARM_RULE);
	rule = active_rule(fx, "w");
	assert_int_equal(rule.warmup_ns, 0);
	m = model_of(&rule);
	assert_int_equal(offer_range(fx, &m, rule.warm_start_ns,
				     rule.warm_start_ns + NS_PER_S, 250 * 1000),
			 10 + 999);
}

/*
 * A reload that keeps the rule keeps its warm-up where it is, whatever
 * else changes; a new name, or a new key (and so fresh budgets), starts
 * it again. Removing warmup keeps the stamp for a later one.
 */
static void test_reload_keeps_warmup_new_name_or_key_restarts_it(void **state)
{
	struct fx *fx = *state;
	struct sl_rule rule;
	uint64_t start;

	configure(fx, WARM_RULE " warmup 4s");
	start = active_rule(fx, "w").warm_start_ns;

	configure(fx, WARM_RULE " warmup 4s");
	assert_int_equal(active_rule(fx, "w").warm_start_ns, start);

	configure(fx, "rule first proto tcp dport 80 rate 5/s",
		  "rule w proto udp dport 53 key src rate 2000/s burst 50 action drop warmup 9s");
	rule = active_rule(fx, "w");
	assert_int_equal(rule.warm_start_ns, start);
	assert_int_equal(rule.warmup_ns, 9 * NS_PER_S);

	configure(fx, "rule w proto udp dport 53 key src rate 2000/s burst 50 action drop");
	rule = active_rule(fx, "w");
	assert_int_equal(rule.warm_start_ns, start);
	assert_int_equal(rule.warmup_ns, 0);

	configure(fx, "rule w proto udp dport 53 key src prefix4 24 rate 2000/s warmup 9s");
	rule = active_rule(fx, "w");
	assert_true(rule.warm_start_ns > start);
	start = rule.warm_start_ns;

	configure(fx, "rule w2 proto udp dport 53 key src prefix4 24 rate 2000/s warmup 9s");
	assert_true(active_rule(fx, "w2").warm_start_ns > start);
}

/*
 * A warm rule runs at its full rate; ruleset__restart_warmup (what the
 * breaker calls when a service's breaker closes) drops it to a third and
 * ramps it again, and a reload afterwards keeps the restarted ramp.
 */
static void test_restart_warmup_drops_a_warm_rule_to_a_third(void **state)
{
	struct fx *fx = *state;
	struct sl_rule rule;
	struct model m;
	__u64 start, restart;
	unsigned passed;

	configure(fx, WARM_RULE " warmup 2s", "rule plain proto tcp dport 80 rate 5/s");
	rule = active_rule(fx, "w");
	start = rule.warm_start_ns;
	m = model_of(&rule);
	assert_int_equal(offer_range(fx, &m, start + 10 * NS_PER_S,
				     start + 11 * NS_PER_S, 250 * 1000), 10 + 999);

	restart = start + 11 * NS_PER_S;
	assert_int_equal(ruleset__restart_warmup(&fx->maps, "w", restart), 1);
	rule = active_rule(fx, "w");
	assert_int_equal(rule.warm_start_ns, restart);
	m.start = restart;
	passed = offer_range(fx, &m, restart, restart + NS_PER_S / 2, 250 * 1000);
	print_message("half a second after the restart: %u passed\n", passed);
	/*
	 * The curve gives 177.1 in the first 500 ms of a 2 s ramp. The key
	 * kept the debt it had at full rate, less than its 10 ms tolerance;
	 * stretched threefold, that tolerance leaves room for at most the
	 * burst more.
	 */
	assert_true(passed >= 177 - 3 && passed <= 177 + 10);

	configure(fx, WARM_RULE " warmup 2s", "rule plain proto tcp dport 80 rate 5/s");
	assert_int_equal(active_rule(fx, "w").warm_start_ns, restart);

	assert_int_equal(ruleset__restart_warmup(&fx->maps, "nosuch", restart),
			 -ENOENT);
	rule = active_rule(fx, "plain");
	assert_int_equal(ruleset__restart_warmup(&fx->maps, "plain", restart), 0);
	assert_int_equal(active_rule(fx, "plain").warm_start_ns, rule.warm_start_ns);
}

/*
 * 1/s burst 2, saturated at its full rate: a refusal is remembered until
 * the key's TAT less one second. Restarting the warm-up triples interval
 * and tolerance, and the key may send again at once; the refusals
 * remembered at the full rate are forgotten (the generation moves on by
 * two), or the next packets would still be dropped.
 */
static void test_restart_warmup_forgets_refusals_remembered_before(void **state)
{
	struct fx *fx = *state;
	struct sl_rule rule;
	struct model m;
	__u64 now, gen;
	unsigned i;

	configure(fx, "rule slow proto udp dport 53 key src rate 1/s burst 2 action drop warmup 2s");
	rule = active_rule(fx, "slow");
	m = model_of(&rule);
	now = rule.warm_start_ns + 10 * NS_PER_S;
	set_now(fx, now);
	for (i = 0; i < 3; i++)
		assert_verdict(send_pkt(fx, &dns4),
			       model_offer(&m, now) ? VERDICT_PASS : VERDICT_DROP);
	gen = read_cfg(fx).gen;

	now += NS_PER_MS;
	assert_int_equal(ruleset__restart_warmup(&fx->maps, "slow", now), 1);
	assert_int_equal(read_cfg(fx).gen, gen + 2);
	m.start = now;
	set_now(fx, now);
	assert_true(model_offer(&m, now));
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
}

/* The TAT the one rate limit of the key of `src` holds. */
static __u64 key_tat(struct fx *fx, const struct sl_rule *rule, const char *src)
{
	struct sl_key key = { .rule_uid = rule->uid, .family = SL_FAM_IP4 };
	struct sl_key_state st;

	put_addr(key.addr, 4, src);
	if (bpf_map_lookup_elem(fx->maps.keys, &key, &st))
		fail_msg("no key state for %s: %s", src, strerror(errno));
	return st.word[0];
}

/* What one packet costs 1000/s (1 ms) at `now` of a warm-up. */
static __u64 warm_cost(__u64 now, __u64 start, __u64 warmup)
{
	__u64 fp = sl_gcra_interval_fp(NS_PER_S, 1000);

	return sl_gcra_cost_ns(sl_warm_scale(fp, sl_warm_factor(now, start, warmup)), 1);
}

/*
 * On bpf_ktime_get_ns(), as in production: the first packet of a fresh key
 * moves its TAT from 0 to now + cost, and the cost says where the data
 * path puts the rule in its warm-up. The rule is placed at the start of
 * an hour-long warm-up (the controller's stamp: a third of the rate, a
 * packet costs 3 ms), at 5/8 of it (2 ms) and past its end (1 ms) by
 * moving the stamp in the map. With `now` somewhere in [before, after]
 * and the cost falling with time, TAT lies in [before + cost(after),
 * after + cost(before)]: exact, however loaded the machine.
 */
static void test_warmup_runs_on_the_kernel_clock(void **state)
{
	static const struct {
		const char *src;
		__u64 back;		/* how long ago the warm-up began */
		__u64 cost;		/* about what a packet costs then */
	} cases[] = {
		{ "192.0.2.1", 0, 3 * NS_PER_MS },
		{ "192.0.2.2", 3600 * NS_PER_S / 8 * 5, 2 * NS_PER_MS },
		{ "192.0.2.3", 2 * 3600 * NS_PER_S, NS_PER_MS },
	};
	struct fx *fx = *state;
	__u64 warmup = 3600 * NS_PER_S;
	struct sl_rule rule;
	unsigned pos = 0;
	__u32 index;
	size_t i;

	configure(fx, "rule w proto udp dport 53 key src rate 1000/s burst 1 action drop warmup 1h");
	rule_slot(fx, "w", &pos);
	index = SL_RULE_INDEX(read_cfg(fx).gen & 1, pos);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		__u64 before, after, tat, start;

		rule = active_rule(fx, "w");
		if (cases[i].back) {
			rule.warm_start_ns = monotonic_ns() - cases[i].back;
			assert_int_equal(bpf_map_update_elem(fx->maps.rules, &index,
							     &rule, BPF_EXIST), 0);
		}
		start = rule.warm_start_ns;
		before = monotonic_ns();
		assert_verdict(send_from(fx, &dns4, cases[i].src), VERDICT_PASS);
		after = monotonic_ns();
		tat = key_tat(fx, &rule, cases[i].src);
		print_message("%s: cost %.4f ms (%.4f .. %.4f)\n", cases[i].src,
			      (tat - before) / 1e6, warm_cost(after, start, warmup) / 1e6,
			      warm_cost(before, start, warmup) / 1e6);
		assert_true(tat >= before + warm_cost(after, start, warmup));
		assert_true(tat <= after + warm_cost(before, start, warmup));
		assert_true(warm_cost(before, start, warmup) <= cases[i].cost);
		assert_true(warm_cost(after, start, warmup) > cases[i].cost * 99 / 100);
	}
}

static const struct CMUnitTest tests[] = {
	TEST(test_warming_rule_ramps_from_a_third_to_the_full_rate),
	TEST(test_rule_without_warmup_is_at_full_rate_at_once),
	TEST(test_reload_keeps_warmup_new_name_or_key_restarts_it),
	TEST(test_restart_warmup_drops_a_warm_rule_to_a_third),
	TEST(test_restart_warmup_forgets_refusals_remembered_before),
	{ "warmup_runs_on_the_kernel_clock", test_warmup_runs_on_the_kernel_clock,
	  setup_kernel_clock, teardown, NULL },
};

int main(void)
{
	return cmocka_run_group_tests_name("warmup", tests, NULL, NULL);
}
