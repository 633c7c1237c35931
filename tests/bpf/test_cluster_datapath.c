// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Cluster mode in the real object under BPF_PROG_TEST_RUN: what a scope
 * cluster rule counts per key for the daemon (sl_clucnt), how the local
 * limits the daemon writes (sl_clulim) replace the rule's, and that a rule
 * without scope cluster touches neither map.
 *
 * Run as root: build/tests/test_cluster_datapath
 */
#include "bpf_fixture.h"
#include "cluster_budget.h"
#include "sluice_cluster.h"

static struct pkt udp4(const char *src)
{
	return (struct pkt){ .family = 4, .src = src, .proto = P_UDP, .sport = 1000,
			     .dport = 53, .payload = 58 };
}

static struct pkt syn4(uint16_t sport)
{
	return (struct pkt){ .family = 4, .proto = P_TCP, .sport = sport, .dport = 80,
			     .tcp_flags = TCP_SYN };
}

static struct sl_key global_key(struct fx *fx, const char *rule)
{
	return (struct sl_key){ .rule_uid = active_rule(fx, rule).uid };
}

static struct sl_key src_key(struct fx *fx, const char *rule, const char *src)
{
	struct sl_key k = { .rule_uid = active_rule(fx, rule).uid, .family = SL_FAM_IP4 };

	put_addr(k.addr, 4, src);
	return k;
}

/* The key's counts summed over the CPUs; false if it has no entry. */
static bool clu_count(struct fx *fx, const struct sl_key *k, struct sl_clu_count *sum)
{
	struct sl_clu_count v[fx->ncpus];
	int i;

	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.sl_clucnt), k, v))
		return false;
	for (i = 0; i < fx->ncpus; i++) {
		sum->offered += v[i].offered;
		sum->admitted += v[i].admitted;
	}
	return true;
}

#define assert_clu_count(fx, key, o, a) do {				\
	struct sl_clu_count c_;						\
	if (!clu_count((fx), (key), &c_))				\
		fail_msg("no sl_clucnt entry, expected %d offered", (o));	\
	if (c_.offered != (__u64)(o) || c_.admitted != (__u64)(a))	\
		fail_msg("offered/admitted %llu/%llu, expected %d/%d",	\
			 c_.offered, c_.admitted, (o), (a));		\
} while (0)

static void set_local(struct fx *fx, const struct sl_key *k,
		      const struct sl_clu_limits *l)
{
	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.sl_clulim), k, l, BPF_ANY))
		fail_msg("sl_clulim: %s", strerror(errno));
}

static unsigned passes(struct fx *fx, const struct pkt *p, unsigned n)
{
	unsigned i, passed = 0;

	for (i = 0; i < n; i++)
		passed += send_pkt(fx, p) == VERDICT_PASS;
	return passed;
}

#define GLOBAL_10 "rule g proto udp dport 53 key global rate 10/s burst 5 scope cluster action drop"

static void test_cluster_rule_counts_offered_and_admitted_per_key(void **state)
{
	struct fx *fx = *state;
	struct pkt p = udp4(NULL);
	struct sl_key k;

	configure(fx, GLOBAL_10);
	k = global_key(fx, "g");
	assert_int_equal(active_rule(fx, "g").cluster, SL_CLUSTER_ON);
	/* Every refused packet counts as demand: a scope cluster rule's
	 * refusals are never remembered (struct sl_refusal), they walk. */
	assert_int_equal(active_rule(fx, "g").flags & SL_RULE_F_REMEMBER, 0);
	assert_int_equal(passes(fx, &p, 8), 5);
	assert_clu_count(fx, &k, 8, 5);
	/* 100 ms later one more unit of 10/s is due. */
	set_now(fx, NS_PER_S + 100 * NS_PER_MS);
	assert_int_equal(passes(fx, &p, 2), 1);
	assert_clu_count(fx, &k, 10, 6);
	assert_rule(fx, "g", 10, 6, 4, 4);
}

static void test_cluster_key_src_counts_each_source(void **state)
{
	struct fx *fx = *state;
	struct pkt a = udp4("192.0.2.1"), b = udp4("192.0.2.2");
	struct sl_key ka, kb;

	configure(fx, "rule s proto udp key src rate 10/s burst 2 scope cluster action drop");
	ka = src_key(fx, "s", "192.0.2.1");
	kb = src_key(fx, "s", "192.0.2.2");
	assert_int_equal(passes(fx, &a, 3), 2);
	assert_int_equal(passes(fx, &b, 1), 1);
	assert_clu_count(fx, &ka, 3, 2);
	assert_clu_count(fx, &kb, 1, 1);
}

static void test_cluster_byte_rate_counts_bytes(void **state)
{
	struct fx *fx = *state;
	struct pkt p = udp4(NULL);
	struct frame f;
	struct sl_key k;

	configure(fx, "rule b proto udp key global rate 1000B/s burst 64KB scope cluster action drop");
	k = global_key(fx, "b");
	assert_int_equal(active_rule(fx, "b").cluster, SL_CLUSTER_ON | SL_CLUSTER_BYTES);
	build(&p, &f);
	assert_int_equal(passes(fx, &p, 3), 3);
	assert_clu_count(fx, &k, 3 * (int)f.len, 3 * (int)f.len);
}

static void test_local_rate_replaces_the_rules(void **state)
{
	struct fx *fx = *state;
	struct pkt p = udp4(NULL);
	struct sl_clu_limits l = {};
	struct sl_rule r;
	struct sl_key k;

	configure(fx, "rule g proto udp dport 53 key global rate 10/s burst 8 scope cluster action drop");
	r = active_rule(fx, "g");
	k = global_key(fx, "g");
	/* A quarter (exact in 32.32) of 10/s burst 8: 2.5/s burst 2. */
	budget_local_rate(&r.limits[0], SL_SHARE_ONE / 4, &l.limits[0]);
	set_local(fx, &k, &l);
	assert_int_equal(passes(fx, &p, 5), 2);
	/* One local interval, 400 ms, later: one more. */
	set_now(fx, NS_PER_S + 399 * NS_PER_MS);
	assert_int_equal(passes(fx, &p, 1), 0);
	set_now(fx, NS_PER_S + 400 * NS_PER_MS);
	assert_int_equal(passes(fx, &p, 3), 1);
	assert_clu_count(fx, &k, 9, 3);
	/* The whole share back, once the key is idle: the rule's burst. */
	budget_local_rate(&r.limits[0], SL_SHARE_ONE, &l.limits[0]);
	set_local(fx, &k, &l);
	set_now(fx, 2 * NS_PER_S + 500 * NS_PER_MS);
	assert_int_equal(passes(fx, &p, 20), 8);
}

static void test_local_limit_of_another_kind_is_ignored(void **state)
{
	struct fx *fx = *state;
	struct pkt p = udp4(NULL);
	struct sl_clu_limits l = {};
	struct sl_key k;

	configure(fx, GLOBAL_10);
	k = global_key(fx, "g");
	/* Left by an older rule whose first limit was a window. */
	l.limits[0].kind = SL_LIMIT_WINDOW;
	l.limits[0].window.period_ns = NS_PER_S;
	l.limits[0].window.max = 1;
	set_local(fx, &k, &l);
	assert_int_equal(passes(fx, &p, 8), 5);
}

static void test_cluster_conns_local_max_replaces_the_rules(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002);
	struct sl_clu_limits l = {};
	struct sl_rule r;
	struct sl_key k;
	__s64 held;

	configure(fx, "rule c proto tcp dport 80 key global conns 4 scope cluster action drop");
	r = active_rule(fx, "c");
	k = global_key(fx, "c");
	/* The other hosts hold 3 of the 4. */
	l.limits[0] = r.limits[0];
	l.limits[0].conns.max = budget_local_conns(4, 3);
	set_local(fx, &k, &l);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &b), VERDICT_DROP);
	assert_int_equal(bpf_map_lookup_elem(fx->maps.conns, &k, &held), 0);
	assert_int_equal(held, 1);
	assert_cnt(fx, SL_CNT_CONNS, 1);
}

static void test_rule_without_scope_cluster_touches_no_cluster_map(void **state)
{
	struct fx *fx = *state;
	struct pkt p = udp4(NULL);
	struct sl_clu_limits l = {};
	struct sl_clu_count c;
	struct sl_rule r;
	struct sl_key k;

	configure(fx, "rule g proto udp dport 53 key global rate 10/s burst 5 action drop");
	r = active_rule(fx, "g");
	k = global_key(fx, "g");
	assert_int_equal(r.cluster, 0);
	budget_local_rate(&r.limits[0], 0, &l.limits[0]);
	set_local(fx, &k, &l);
	assert_int_equal(passes(fx, &p, 8), 5);
	assert_false(clu_count(fx, &k, &c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_cluster_rule_counts_offered_and_admitted_per_key),
		TEST(test_cluster_key_src_counts_each_source),
		TEST(test_cluster_byte_rate_counts_bytes),
		TEST(test_local_rate_replaces_the_rules),
		TEST(test_local_limit_of_another_kind_is_ignored),
		TEST(test_cluster_conns_local_max_replaces_the_rules),
		TEST(test_rule_without_scope_cluster_touches_no_cluster_map),
	};

	return cmocka_run_group_tests_name("bpf-cluster", tests, NULL, NULL);
}
