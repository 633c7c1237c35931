// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The key map when it is full, and the sweep that makes room in it: the
 * real object with a deliberately small sl_keys (8 entries), run with
 * BPF_PROG_TEST_RUN on crafted frames under the test clock.
 *
 * The map never evicts: a key with state keeps it, and its exact limit,
 * however many new keys knock. A new key that finds no room follows its
 * rule's on-full policy (drop: refused as over the limit; pass: let
 * through the rule's rates and windows), counted as keys_full either way.
 * The sweep deletes keys whose state has said nothing for key-timeout and
 * keys of rules that are gone.
 *
 * Run as root: build/tests/test_keys
 */
#include "bpf_fixture.h"
#include "keysweep.h"

#define SMALL_KEYS	8

static int setup_small(void **state)
{
	return setup_keys(state, SMALL_KEYS);
}

#define TEST_SMALL(f) { #f + 5, f, setup_small, teardown, NULL }

static const struct pkt dns4 = {
	.family = 4, .proto = P_UDP, .sport = 40000, .dport = 53, .payload = 20,
};

/* 10.0.0.N: one key per N under `key src`. */
static const char *client(unsigned n)
{
	static char buf[8][16];
	static unsigned next;
	char *s = buf[next++ % 8];

	snprintf(s, 16, "10.0.0.%u", n);
	return s;
}

/* Fills the map: one conforming packet from each of clients 1..SMALL_KEYS. */
static void fill(struct fx *fx)
{
	unsigned i;

	for (i = 1; i <= SMALL_KEYS; i++)
		assert_verdict(send_from(fx, &dns4, client(i)), VERDICT_PASS);
	assert_int_equal(count_keys(fx), SMALL_KEYS);
}

/* Whether rule has state for client n under `key src`. */
static bool has_key(struct fx *fx, const char *rule, unsigned n)
{
	struct sl_key k = { .rule_uid = active_rule(fx, rule).uid, .family = SL_FAM_IP4 };
	struct sl_key_state st;

	put_addr(k.addr, 4, client(n));
	return !bpf_map_lookup_elem(fx->maps.keys, &k, &st);
}

static struct sl_key_sweep_result sweep_keys(struct fx *fx, uint64_t now,
					     struct sl_key_sweep *ks)
{
	struct sl_key_sweep whole = {};
	struct sl_key_sweep_result res;
	struct sl_error err = {};
	int ret = keysweep__run(&fx->maps, bpf_program__fd(fx->skel->progs.sluice_ctl),
				 now, ks ? ks : &whole, &res, &err);

	if (ret)
		fail_msg("keysweep__run at %" PRIu64 ": %d: %s", now, ret, err.msg);
	return res;
}

#define RATE_DROP "rule r proto udp dport 53 key src rate 10/s burst 2 action drop"

/*
 * on-full drop (the default): with the map full, a new client's packets
 * are refused as over the limit (the rule's drop), counted as keys_full
 * and not as rate; no key is evicted, and the clients with state keep
 * their exact limits: burst 2, then one per 100 ms.
 */
static void test_full_map_on_full_drop_refuses_new_keys_keeps_old_ones_exact(void **state)
{
	struct fx *fx = *state;
	unsigned i;

	configure(fx, RATE_DROP);
	fill(fx);
	for (i = 0; i < 3; i++)
		assert_verdict(send_from(fx, &dns4, client(9)), VERDICT_DROP);
	assert_false(has_key(fx, "r", 9));
	assert_cnt(fx, SL_CNT_KEYS_FULL, 3);
	assert_cnt(fx, SL_CNT_RATE, 0);
	assert_rule(fx, "r", SMALL_KEYS + 3, SMALL_KEYS, 3, 3);
	assert_int_equal(count_keys(fx), SMALL_KEYS);

	/* Every old key is still there with its spent packet: one more of the
	 * burst, then refused by rate. */
	for (i = 1; i <= SMALL_KEYS; i++) {
		assert_true(has_key(fx, "r", i));
		assert_verdict(send_from(fx, &dns4, client(i)), VERDICT_PASS);
		assert_verdict(send_from(fx, &dns4, client(i)), VERDICT_DROP);
	}
	assert_cnt(fx, SL_CNT_RATE, SMALL_KEYS);
	assert_cnt(fx, SL_CNT_KEYS_FULL, 3);
	set_now(fx, NS_PER_S + 100 * NS_PER_MS);
	assert_verdict(send_from(fx, &dns4, client(1)), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, client(1)), VERDICT_DROP);
	assert_verdict(send_from(fx, &dns4, client(9)), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_KEYS_FULL, 4);
	assert_cnt_bytes(fx, SL_CNT_KEYS_FULL, 4 * (14 + 20 + 8 + 20));

	/* A refusal for want of room is never remembered: the moment room
	 * is made, the new client's next packet gets a key and its burst. */
	sweep_keys(fx, 100 * NS_PER_S, NULL);
	assert_int_equal(count_keys(fx), 0);
	assert_verdict(send_from(fx, &dns4, client(9)), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, client(9)), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, client(9)), VERDICT_DROP);
	assert_true(has_key(fx, "r", 9));
	assert_cnt(fx, SL_CNT_KEYS_FULL, 4);
}

/*
 * A CPU whose insert failed tries the next only a millisecond later, so a
 * spoofed flood does not pay a failed insert per packet; room made behind
 * its back (here: a delete outside any sweep) is found then.
 */
static void test_full_map_retries_inserts_a_millisecond_later(void **state)
{
	struct fx *fx = *state;

	configure(fx, RATE_DROP);
	set_now(fx, NS_PER_S);
	fill(fx);
	assert_verdict(send_from(fx, &dns4, client(9)), VERDICT_DROP);
	clear_keys(fx);
	set_now(fx, NS_PER_S + SL_KEYS_FULL_RETRY_NS - 1);
	assert_verdict(send_from(fx, &dns4, client(9)), VERDICT_DROP);
	assert_false(has_key(fx, "r", 9));
	assert_cnt(fx, SL_CNT_KEYS_FULL, 2);
	set_now(fx, NS_PER_S + SL_KEYS_FULL_RETRY_NS);
	assert_verdict(send_from(fx, &dns4, client(9)), VERDICT_PASS);
	assert_true(has_key(fx, "r", 9));
	assert_cnt(fx, SL_CNT_KEYS_FULL, 2);
}

/*
 * With the map full, a CPU looks up only the keys the filter says may
 * have state. Sweeps rebuild the filter from the key map, each into the
 * half not in use; after three (both halves rebuilt, one of them twice),
 * every key with state is still found: it spends its burst and is refused
 * by its rate, never as keys_full, while new keys are refused as keys_full.
 */
static void test_full_map_filter_keeps_finding_keys_with_state(void **state)
{
	struct fx *fx = *state;
	unsigned i, pass;

	configure(fx, RATE_DROP);
	set_now(fx, NS_PER_S);
	fill(fx);
	set_now(fx, 100 * NS_PER_S);
	assert_int_equal(sweep_keys(fx, 100 * NS_PER_S, NULL).reclaimed, SMALL_KEYS);
	for (i = 11; i < 11 + SMALL_KEYS; i++)
		assert_verdict(send_from(fx, &dns4, client(i)), VERDICT_PASS);
	for (pass = 0; pass < 2; pass++)
		assert_int_equal(sweep_keys(fx, 100 * NS_PER_S, NULL).reclaimed, 0);
	assert_int_equal(count_keys(fx), SMALL_KEYS);

	assert_verdict(send_from(fx, &dns4, client(9)), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_KEYS_FULL, 1);
	for (i = 11; i < 11 + SMALL_KEYS; i++) {
		assert_verdict(send_from(fx, &dns4, client(i)), VERDICT_PASS);
		assert_verdict(send_from(fx, &dns4, client(i)), VERDICT_DROP);
	}
	assert_cnt(fx, SL_CNT_RATE, SMALL_KEYS);
	assert_verdict(send_from(fx, &dns4, client(10)), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_KEYS_FULL, 2);
}

/*
 * on-full pass: the new client's packets pass, all of them (this rule has
 * no state to limit them with), counted as keys_full; the old keys keep
 * their exact limits.
 */
static void test_full_map_on_full_pass_admits_new_keys_counted(void **state)
{
	struct fx *fx = *state;
	unsigned i;

	configure(fx, RATE_DROP " on-full pass");
	fill(fx);
	for (i = 0; i < 5; i++)
		assert_verdict(send_from(fx, &dns4, client(9)), VERDICT_PASS);
	assert_false(has_key(fx, "r", 9));
	assert_cnt(fx, SL_CNT_KEYS_FULL, 5);
	assert_rule(fx, "r", SMALL_KEYS + 5, SMALL_KEYS + 5, 0, 0);

	assert_verdict(send_from(fx, &dns4, client(3)), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, client(3)), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_RATE, 1);
	assert_cnt(fx, SL_CNT_KEYS_FULL, 5);
	assert_int_equal(count_keys(fx), SMALL_KEYS);
}

/* on-full drop follows the rule's action, and a dry run, like any limit. */
static void test_full_map_on_full_drop_takes_the_rules_action_and_dry_run(void **state)
{
	struct fx *fx = *state;
	struct xdp_out out;
	struct frame f;
	struct pkt p = dns4;

	configure(fx, "rule r proto udp dport 53 key src rate 10/s burst 2 action reject");
	fill(fx);
	p.src = client(9);
	build(&p, &f);
	run_xdp(fx, f.b, f.len, &out);
	assert_verdict(out.verdict, VERDICT_TX);
	assert_cnt(fx, SL_CNT_REJECTED, 1);
	assert_cnt(fx, SL_CNT_KEYS_FULL, 1);

	assert_int_equal(ruleset__set_dry_run(&fx->maps, true), 0);
	assert_verdict(send_from(fx, &dns4, client(10)), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_KEYS_FULL, 2);
	assert_int_equal(rule_count(fx, "r").limited, 2);
}

/*
 * A rule whose only limit is conns keeps no key state, so a full map does
 * not concern it; a rule with a rate beside conns and on-full pass still
 * counts its connections for a key the map had no room for.
 */
static void test_full_map_conns_still_count_without_key_state(void **state)
{
	struct fx *fx = *state;
	struct pkt syn = { .family = 4, .proto = P_TCP, .sport = 40001, .dport = 80,
			   .tcp_flags = TCP_SYN };

	configure(fx, RATE_DROP, "rule c proto tcp dport 80 key src conns 1 action drop");
	fill(fx);
	assert_verdict(send_from(fx, &syn, client(9)), VERDICT_PASS);
	syn.sport = 40002;
	assert_verdict(send_from(fx, &syn, client(9)), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_CONNS, 1);
	assert_cnt(fx, SL_CNT_KEYS_FULL, 0);

	configure(fx, RATE_DROP,
		  "rule c proto tcp dport 80 key src rate 100/s conns 1 action drop on-full pass");
	syn.sport = 40003;
	assert_verdict(send_from(fx, &syn, client(10)), VERDICT_PASS);
	syn.sport = 40004;
	assert_verdict(send_from(fx, &syn, client(10)), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_CONNS, 2);
	assert_cnt(fx, SL_CNT_KEYS_FULL, 2);
}

/*
 * key-timeout 2s. Keys whose bucket has been full for 2 s go; a key that
 * kept sending, and one still refused (its TAT ahead of now), stay. Then
 * the freed room takes new keys, and a reclaimed client comes back with a
 * full bucket: exactly what it would have had with its state kept.
 */
static void test_sweep_reclaims_quiet_keys_keeps_busy_ones(void **state)
{
	struct fx *fx = *state;
	struct sl_key_sweep_result res;
	struct sl_cfg cfg;
	unsigned i;

	configure(fx, "key-timeout 2s", RATE_DROP);
	assert_int_equal(read_cfg(fx).key_timeout_ns, 2 * NS_PER_S);
	assert_int_equal(read_cfg(fx).keys_swept_ns, 0);
	fill(fx);		/* at 1 s: every TAT 1.1 s */
	set_now(fx, 2500 * NS_PER_MS);
	assert_verdict(send_from(fx, &dns4, client(1)), VERDICT_PASS);	/* TAT 2.6 s */
	set_now(fx, 3 * NS_PER_S);
	for (i = 0; i < 2; i++)
		assert_verdict(send_from(fx, &dns4, client(2)), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, client(2)), VERDICT_DROP);	/* TAT 3.2 s */

	/* 2 s after 1.1 s, less one nanosecond: nothing has been quiet long enough. */
	res = sweep_keys(fx, 3100 * NS_PER_MS - 1, NULL);
	assert_int_equal(res.read, SMALL_KEYS);
	assert_int_equal(res.reclaimed, 0);
	assert_true(res.pass_done);
	assert_int_equal(read_cfg(fx).keys_swept_ns, 3100 * NS_PER_MS - 1);

	res = sweep_keys(fx, 3100 * NS_PER_MS, NULL);
	assert_int_equal(res.reclaimed, SMALL_KEYS - 2);
	assert_int_equal(count_keys(fx), 2);
	assert_true(has_key(fx, "r", 1));
	assert_true(has_key(fx, "r", 2));
	cfg = read_cfg(fx);
	assert_int_equal(cfg.keys_swept_ns, 3100 * NS_PER_MS);

	/* Room again: new clients get state, client 3 comes back with a full
	 * bucket (burst 2), and client 2 kept its debt: 100 ms earned one. */
	set_now(fx, 3100 * NS_PER_MS);
	for (i = 9; i < 9 + SMALL_KEYS - 3; i++)
		assert_verdict(send_from(fx, &dns4, client(i)), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, client(3)), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, client(3)), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, client(3)), VERDICT_DROP);
	assert_verdict(send_from(fx, &dns4, client(2)), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, client(2)), VERDICT_DROP);
	assert_int_equal(count_keys(fx), SMALL_KEYS);
	assert_cnt(fx, SL_CNT_KEYS_FULL, 0);
	assert_verdict(send_from(fx, &dns4, client(4)), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_KEYS_FULL, 1);
}

/*
 * A window key counts while its window and the next one last: window
 * 5/1s, a packet at 1.5 s (window 1) is quiet from 3 s, so with
 * key-timeout 1s it goes at 4 s and not before.
 */
static void test_sweep_keeps_window_keys_until_both_windows_lapse(void **state)
{
	struct fx *fx = *state;

	configure(fx, "key-timeout 1s",
		  "rule w proto udp dport 53 key src window 5/1s action drop");
	set_now(fx, 1500 * NS_PER_MS);
	assert_verdict(send_from(fx, &dns4, client(1)), VERDICT_PASS);
	assert_int_equal(sweep_keys(fx, 4 * NS_PER_S - 1, NULL).reclaimed, 0);
	assert_true(has_key(fx, "w", 1));
	assert_int_equal(sweep_keys(fx, 4 * NS_PER_S, NULL).reclaimed, 1);
	assert_false(has_key(fx, "w", 1));
}

/*
 * A ban's count of limited packets is key state: a key whose rate has
 * long been quiet stays while its count toward the ban still counts
 * (within 10s: limited at 11 s, window 1, quiet from 30 s), so the sweep
 * forgives no offence early. key-timeout 1s.
 */
static void test_sweep_keeps_keys_whose_ban_count_still_counts(void **state)
{
	struct fx *fx = *state;

	configure(fx, "key-timeout 1s",
		  "rule b proto udp dport 53 key src rate 10/s burst 1 action drop ban after 3 within 10s for 1m");
	set_now(fx, 11 * NS_PER_S);
	assert_verdict(send_from(fx, &dns4, client(1)), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, client(1)), VERDICT_DROP);
	assert_int_equal(sweep_keys(fx, 16 * NS_PER_S, NULL).reclaimed, 0);
	assert_int_equal(sweep_keys(fx, 31 * NS_PER_S - 1, NULL).reclaimed, 0);
	assert_true(has_key(fx, "b", 1));
	assert_int_equal(sweep_keys(fx, 31 * NS_PER_S, NULL).reclaimed, 1);
	assert_false(has_key(fx, "b", 1));
}

/*
 * A rule whose only limit is conns keeps no key state, unless it bans:
 * its count of limited packets lives in the key state, and the second
 * SYN over the limit bans the source.
 */
static void test_conns_rule_with_a_ban_keeps_key_state_and_bans(void **state)
{
	struct fx *fx = *state;
	struct pkt syn = { .family = 4, .proto = P_TCP, .sport = 40001, .dport = 80,
			   .tcp_flags = TCP_SYN };

	configure(fx, "rule c proto tcp dport 80 key src conns 1 action drop ban after 2 within 10s for 1m");
	assert_verdict(send_from(fx, &syn, client(1)), VERDICT_PASS);
	assert_true(has_key(fx, "c", 1));
	syn.sport = 40002;
	assert_verdict(send_from(fx, &syn, client(1)), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_BANS, 0);
	syn.sport = 40003;
	assert_verdict(send_from(fx, &syn, client(1)), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_CONNS, 2);
	assert_cnt(fx, SL_CNT_BANS, 1);
}

/*
 * Keys of a rule that is gone, or whose key changed (a new uid), go at the
 * next sweep, however recently they spent: nothing will read them again.
 */
static void test_sweep_reclaims_keys_of_deleted_and_rekeyed_rules(void **state)
{
	struct fx *fx = *state;
	unsigned i;

	configure(fx, RATE_DROP, "rule g proto udp dport 53 key src rate 1/m burst 5 action drop");
	for (i = 1; i <= SMALL_KEYS / 2; i++)
		assert_verdict(send_from(fx, &dns4, client(i)), VERDICT_PASS);
	assert_int_equal(count_keys(fx), SMALL_KEYS);
	assert_int_equal(sweep_keys(fx, NS_PER_S, NULL).reclaimed, 0);

	configure(fx, RATE_DROP);
	assert_int_equal(sweep_keys(fx, NS_PER_S, NULL).reclaimed, SMALL_KEYS / 2);
	assert_true(has_key(fx, "r", 1));

	configure(fx, "rule r proto udp dport 53 key src prefix4 24 rate 10/s burst 2 action drop");
	assert_false(has_key(fx, "r", 1));
	assert_int_equal(sweep_keys(fx, NS_PER_S, NULL).reclaimed, SMALL_KEYS / 2);
	assert_int_equal(count_keys(fx), 0);
}

/*
 * The daemon's sweeps read at most a budget of keys each and pick the
 * pass up where the last one stopped. 20000 keys written straight into a
 * map of 32768, every other one quiet: a budget of 4096 needs several
 * calls; the pass reclaims exactly the quiet half, and only the call that
 * ends it records the time.
 */
static void test_sweep_budget_spreads_a_pass_over_calls(void **state)
{
	struct fx *fx = *state;
	enum { N = 20000 };
	struct sl_key *keys = calloc(N, sizeof(*keys));
	struct sl_key_state *vals = calloc(N, sizeof(*vals));
	struct sl_key_sweep ks = { .budget = 4096 };
	struct sl_key_sweep_result res;
	unsigned long long read = 0, reclaimed = 0;
	unsigned calls = 0, i;
	__u32 uid, count = N;
	uint64_t now = 100 * NS_PER_S;

	assert_non_null(keys);
	assert_non_null(vals);
	configure(fx, RATE_DROP);
	assert_verdict(send_from(fx, &dns4, client(1)), VERDICT_PASS);
	uid = active_rule(fx, "r").uid;
	for (i = 0; i < N; i++) {
		keys[i] = (struct sl_key){ .rule_uid = uid, .family = SL_FAM_IP6 };
		memcpy(keys[i].addr, &i, sizeof(i));
		/* Odd keys spent just now: their TAT is ahead. */
		vals[i].word[0] = i % 2 ? now + 50 * NS_PER_MS : 0;
	}
	assert_int_equal(bpf_map_update_batch(fx->maps.keys, keys, vals, &count, NULL), 0);
	assert_int_equal(count_keys(fx), N + 1);

	do {
		res = sweep_keys(fx, now, &ks);
		assert_true(res.read <= ks.budget);
		read += res.read;
		reclaimed += res.reclaimed;
		calls++;
		if (!res.pass_done)
			assert_int_equal(read_cfg(fx).keys_swept_ns, 0);
		assert_true(calls < 100);
	} while (!res.pass_done);
	assert_true(calls > N / 4096);
	assert_int_equal(read, N + 1);
	assert_int_equal(reclaimed, N / 2 + 1);
	assert_int_equal(ks.pass_read, N + 1);
	assert_int_equal(ks.pass_reclaimed, N / 2 + 1);
	assert_false(ks.in_pass);
	assert_int_equal(read_cfg(fx).keys_swept_ns, now);
	assert_int_equal(count_keys(fx), N / 2);
	free(keys);
	free(vals);
}

static int setup_32k(void **state)
{
	return setup_keys(state, 32768);
}

static const struct CMUnitTest tests[] = {
	TEST_SMALL(test_full_map_on_full_drop_refuses_new_keys_keeps_old_ones_exact),
	TEST_SMALL(test_full_map_on_full_pass_admits_new_keys_counted),
	TEST_SMALL(test_full_map_on_full_drop_takes_the_rules_action_and_dry_run),
	TEST_SMALL(test_full_map_conns_still_count_without_key_state),
	TEST_SMALL(test_full_map_retries_inserts_a_millisecond_later),
	TEST_SMALL(test_full_map_filter_keeps_finding_keys_with_state),
	TEST_SMALL(test_sweep_reclaims_quiet_keys_keeps_busy_ones),
	TEST_SMALL(test_sweep_keeps_window_keys_until_both_windows_lapse),
	TEST_SMALL(test_sweep_keeps_keys_whose_ban_count_still_counts),
	TEST_SMALL(test_conns_rule_with_a_ban_keeps_key_state_and_bans),
	TEST_SMALL(test_sweep_reclaims_keys_of_deleted_and_rekeyed_rules),
	{ "sweep_budget_spreads_a_pass_over_calls",
	  test_sweep_budget_spreads_a_pass_over_calls, setup_32k, teardown, NULL },
};

int main(void)
{
	return cmocka_run_group_tests_name("bpf-keys", tests, NULL, NULL);
}
