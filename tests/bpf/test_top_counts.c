// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-key counts for sluice top in the real XDP program: nothing is
 * counted without a lease, every packet of every rule it reaches is
 * counted while one holds, repeats refused from memory included, and
 * user/top.c turns two readings into the rows `sluice top` shows: rates,
 * order, key names, states.
 *
 * Run as root: build/tests/test_top_counts
 */
#include "bpf_fixture.h"
#include "top.h"

static const struct pkt dns4 = { .family = 4, .proto = P_UDP, .sport = 5353,
				 .dport = 53, .payload = 20 };
static const struct pkt dns6 = { .family = 6, .proto = P_UDP, .sport = 5353,
				 .dport = 53, .payload = 20 };

#define T0	NS_PER_S	/* the fixture's test clock at the start */

static void lease_until(struct fx *fx, __u64 until)
{
	assert_int_equal(top__lease(&fx->maps, until), 0);
}

static void sample(struct fx *fx, __u64 at, struct sl_top_sample *s)
{
	struct sl_error err = {};

	memset(s, 0, sizeof(*s));
	if (top__read(&fx->maps, at, s, &err))
		fail_msg("top__read: %s", err.msg);
}

static unsigned topk_entries(struct fx *fx)
{
	struct sl_key key, next;
	unsigned n = 0;
	bool first = true;

	while (!bpf_map_get_next_key(fx->maps.topk, first ? NULL : &key, &next)) {
		key = next;
		first = false;
		n++;
	}
	return n;
}

/* The counts of rule name's key for IPv4 source src (NULL: the global key). */
static struct sl_top_count count_of(struct fx *fx, const struct sl_top_sample *s,
				    const char *name, const char *src)
{
	struct sl_top_count none = {};
	struct sl_key key = { .rule_uid = active_rule(fx, name).uid };
	size_t i;

	if (src) {
		key.family = SL_FAM_IP4;
		put_addr(key.addr, 4, src);
	}
	for (i = 0; i < s->n; i++)
		if (!memcmp(&s->counts[i].key, &key, sizeof(key)))
			return s->counts[i];
	return none;
}

static void send_n(struct fx *fx, const char *src, unsigned n)
{
	while (n--)
		send_from(fx, &dns4, src);
}

static void test_no_lease_counts_nothing(void **state)
{
	struct fx *fx = *state;

	configure(fx, "rule r1 proto udp dport 53 key src rate 10/s burst 2 action drop");
	send_n(fx, "192.0.2.1", 5);
	assert_int_equal(topk_entries(fx), 0);
	assert_int_equal(read_cfg(fx).top_until_ns, 0);
}

/*
 * Every rule a packet reaches counts it for its key; a rule that drops
 * ends the walk, so the rule after it counts only what got past.
 */
static void test_lease_counts_each_rule_and_key(void **state)
{
	struct fx *fx = *state;
	struct sl_top_sample s;
	struct sl_top_count c;

	configure(fx, "rule r1 proto udp dport 53 key src rate 10/s burst 2 action drop",
		  "rule r2 proto udp key global rate 1000/s action pass");
	lease_until(fx, T0 + 10 * NS_PER_S);
	send_n(fx, "192.0.2.1", 5);
	send_n(fx, "192.0.2.2", 1);
	sample(fx, T0, &s);
	assert_int_equal(s.n, 3);
	c = count_of(fx, &s, "r1", "192.0.2.1");
	assert_int_equal(c.packets, 5);
	assert_int_equal(c.limited, 3);
	c = count_of(fx, &s, "r1", "192.0.2.2");
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.limited, 0);
	c = count_of(fx, &s, "r2", NULL);
	assert_int_equal(c.packets, 3);
	assert_int_equal(c.limited, 0);
	top__sample_free(&s);
}

/* A lease never shortens another's, and once it runs out counting stops. */
static void test_counting_stops_when_the_lease_runs_out(void **state)
{
	struct fx *fx = *state;
	struct sl_top_sample s;

	configure(fx, "rule r1 proto udp dport 53 key src rate 10/s burst 2 action drop");
	lease_until(fx, T0 + NS_PER_S);
	lease_until(fx, T0 + NS_PER_S / 2);
	assert_int_equal(read_cfg(fx).top_until_ns, T0 + NS_PER_S);
	send_n(fx, "192.0.2.1", 2);
	set_now(fx, T0 + NS_PER_S);
	send_n(fx, "192.0.2.1", 3);
	sample(fx, T0, &s);
	assert_int_equal(count_of(fx, &s, "r1", "192.0.2.1").packets, 2);
	top__sample_free(&s);

	/* A reload keeps the lease: it rewrites sl_cfg from what it read. */
	lease_until(fx, T0 + 5 * NS_PER_S);
	configure(fx, "rule r1 proto udp dport 53 key src rate 10/s burst 2 action drop");
	assert_int_equal(read_cfg(fx).top_until_ns, T0 + 5 * NS_PER_S);
}

static void update(struct sl_top *t, struct fx *fx, __u64 at)
{
	struct sl_top_sample s;

	sample(fx, at, &s);
	assert_int_equal(top__update(t, &s), 0);
	top__sample_free(&s);
}

static const struct sl_top_row *row_of(const struct sl_top *t, const char *rule,
				       const char *key)
{
	size_t i;

	for (i = 0; i < t->n_rows; i++)
		if (!strcmp(t->rows[i].rule, rule) && !strcmp(t->rows[i].key, key))
			return &t->rows[i];
	fail_msg("no row for %s %s", rule, key);
	return NULL;
}

/*
 * Two readings a second apart make rates; only keys that sent in between
 * are rows; limited_total adds up from the first reading on; the order
 * follows the sort; a key of a rule no longer active is left out.
 */
static void test_view_rates_order_and_states(void **state)
{
	struct fx *fx = *state;
	const struct sl_top_row *r;
	struct sl_top t;

	configure(fx, "rule r1 proto udp dport 53 key src rate 10/s burst 2 action drop",
		  "rule r2 proto tcp dport 80 key src rate 10/s");
	lease_until(fx, T0 + 100 * NS_PER_S);
	top__init(&t);
	/* Before the first reading: the baseline, never shown. */
	send_n(fx, "192.0.2.9", 4);
	update(&t, fx, 5 * NS_PER_S);
	assert_int_equal(t.n_rows, 0);

	send_n(fx, "192.0.2.1", 3);	/* 2 pass (burst), 1 limited */
	send_n(fx, "192.0.2.2", 6);	/* 2 pass, 4 limited */
	update(&t, fx, 6 * NS_PER_S);
	assert_int_equal(t.n_rows, 2);
	top__sort(t.rows, t.n_rows, SL_TOP_BY_RATE);
	assert_string_equal(t.rows[0].key, "192.0.2.2");
	assert_string_equal(t.rows[1].key, "192.0.2.1");
	r = row_of(&t, "r1", "192.0.2.2");
	assert_true(r->rate == 6.0);
	assert_true(r->limited_rate == 4.0);
	assert_int_equal(r->limited_total, 4);
	assert_int_equal(r->state, SL_TOP_LIMITED);
	assert_string_equal(r->key_type, "src");

	/* Half a second later: .1 sends more, .2 goes quiet. */
	set_now(fx, T0 + 10 * NS_PER_S);
	send_n(fx, "192.0.2.1", 1);
	send_n(fx, "192.0.2.9", 5);	/* 2 pass, 3 limited */
	update(&t, fx, 6 * NS_PER_S + NS_PER_S / 2);
	assert_int_equal(t.n_rows, 2);
	top__sort(t.rows, t.n_rows, SL_TOP_BY_RATE);
	assert_string_equal(t.rows[0].key, "192.0.2.9");
	r = row_of(&t, "r1", "192.0.2.9");
	assert_true(r->rate == 10.0);
	assert_true(r->limited_rate == 6.0);
	/* The 4 sent before the first reading are not this top's. */
	assert_int_equal(r->limited_total, 3);
	r = row_of(&t, "r1", "192.0.2.1");
	assert_true(r->rate == 2.0);
	assert_int_equal(r->state, SL_TOP_OK);
	assert_int_equal(r->limited_total, 1);
	top__sort(t.rows, t.n_rows, SL_TOP_BY_LIMITED);
	assert_string_equal(t.rows[0].key, "192.0.2.9");

	/* r1 leaves the rule set: its keys leave the view. */
	configure(fx, "rule r2 proto tcp dport 80 key src rate 10/s");
	send_n(fx, "192.0.2.9", 5);
	update(&t, fx, 7 * NS_PER_S);
	assert_int_equal(t.n_rows, 0);
	top__free(&t);
}

/* Keys are named as their rules define them. */
static void test_keys_named_by_their_rules(void **state)
{
	struct fx *fx = *state;
	struct sl_top t;

	configure(fx, "rule net proto udp dport 53 key src prefix4 24 prefix6 64 rate 100/s action pass",
		  "rule port proto udp dport 53 key dport rate 100/s action pass",
		  "rule all proto udp key global rate 100/s action pass");
	lease_until(fx, T0 + 100 * NS_PER_S);
	top__init(&t);
	update(&t, fx, NS_PER_S);
	send_from(fx, &dns4, "192.0.2.77");
	send_from(fx, &dns6, "2001:db8:0:0:abcd::1");
	update(&t, fx, 2 * NS_PER_S);
	assert_int_equal(t.n_rows, 4);
	assert_true(row_of(&t, "net", "192.0.2.0/24")->packets == 1);
	assert_true(row_of(&t, "net", "2001:db8::/64")->packets == 1);
	assert_true(row_of(&t, "port", "dport 53")->packets == 2);
	assert_string_equal(row_of(&t, "port", "dport 53")->key_type, "dport");
	assert_true(row_of(&t, "all", "global")->packets == 2);
	assert_string_equal(row_of(&t, "all", "global")->key_type, "global");
	top__free(&t);
}

/*
 * A repeat refused from memory (no walk, no key map) still counts for its
 * key while top watches. A refusal remembered before the watch began has
 * no key beside it: that packet walks once and is remembered again with
 * its key. The probe that repeats skip the walk: the key's state is
 * deleted, and they are still dropped. Once the lease lapses, the refusal
 * path clears it and counts nothing.
 */
static void test_remembered_refusals_count_for_their_key(void **state)
{
	struct fx *fx = *state;
	struct sl_top_sample s;
	struct sl_top_count c;
	struct sl_key key;

	configure(fx, "rule r1 proto udp dport 53 key src rate 1/m burst 1 action drop");
	assert_verdict(send_from(fx, &dns4, "192.0.2.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "192.0.2.1"), VERDICT_DROP);
	assert_int_equal(topk_entries(fx), 0);

	lease_until(fx, T0 + 10 * NS_PER_S);
	assert_verdict(send_from(fx, &dns4, "192.0.2.1"), VERDICT_DROP);
	assert_int_equal(bpf_map_get_next_key(fx->maps.keys, NULL, &key), 0);
	assert_int_equal(bpf_map_delete_elem(fx->maps.keys, &key), 0);
	send_n(fx, "192.0.2.1", 3);
	assert_int_equal(count_keys(fx), 0);
	sample(fx, T0, &s);
	c = count_of(fx, &s, "r1", "192.0.2.1");
	assert_int_equal(c.packets, 4);
	assert_int_equal(c.limited, 4);
	top__sample_free(&s);
	assert_rule(fx, "r1", 6, 1, 5, 5);

	set_now(fx, T0 + 10 * NS_PER_S);
	assert_verdict(send_from(fx, &dns4, "192.0.2.1"), VERDICT_DROP);
	assert_int_equal(read_cfg(fx).top_until_ns, 0);
	assert_int_equal(count_keys(fx), 0);
	sample(fx, T0, &s);
	assert_int_equal(count_of(fx, &s, "r1", "192.0.2.1").packets, 4);
	top__sample_free(&s);
}

static const struct CMUnitTest tests[] = {
	TEST(test_no_lease_counts_nothing),
	TEST(test_lease_counts_each_rule_and_key),
	TEST(test_counting_stops_when_the_lease_runs_out),
	TEST(test_view_rates_order_and_states),
	TEST(test_keys_named_by_their_rules),
	TEST(test_remembered_refusals_count_for_their_key),
};

int main(void)
{
	return cmocka_run_group_tests_name("top_counts", tests, NULL, NULL);
}
