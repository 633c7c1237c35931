// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Cluster mode without a network: Redis URLs, the cluster statement and
 * scope cluster in the rule language, and the budget math that turns the
 * hosts' figures into this host's share and local limits.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster_budget.h"
#include "config.h"
#include "redis_url.h"
#include "sluice_limiter.h"

#define MS	1000000ull
#define S	(1000 * MS)

/* ------------------------------------------------------------------ URLs */

static struct sl_redis_url url_ok(const char *text)
{
	struct sl_redis_url u;
	char why[256];
	size_t col;

	if (redis_url_parse(text, &u, why, sizeof(why), &col))
		fail_msg("%s: at %zu: %s", text, col, why);
	return u;
}

static void assert_url_error(const char *text, size_t want_col, const char *want)
{
	struct sl_redis_url u;
	char why[256] = "";
	size_t col = 999;

	assert_int_equal(redis_url_parse(text, &u, why, sizeof(why), &col), -EINVAL);
	assert_string_equal(why, want);
	if (col != want_col)
		fail_msg("%s: error at column %zu, expected %zu (%s)", text, col,
			 want_col, why);
}

static void assert_url_format(const char *text, const char *want)
{
	struct sl_redis_url u = url_ok(text);
	char buf[512];

	redis_url_format(&u, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_url_tcp_forms_and_defaults(void **state)
{
	struct sl_redis_url u;

	u = url_ok("redis://127.0.0.1:6379");
	assert_int_equal(u.transport, SL_REDIS_TCP);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 0);
	assert_string_equal(u.user, "");
	assert_string_equal(u.password, "");

	u = url_ok("redis://redis.example.net");
	assert_string_equal(u.host, "redis.example.net");
	assert_int_equal(u.port, SL_REDIS_DEFAULT_PORT);

	u = url_ok("redis://:secret@10.0.0.5:7000/3");
	assert_string_equal(u.user, "");
	assert_string_equal(u.password, "secret");
	assert_string_equal(u.host, "10.0.0.5");
	assert_int_equal(u.port, 7000);
	assert_int_equal(u.db, 3);

	u = url_ok("redis://gw:p%40ss%2Fw%3a@[::1]:6380/");
	assert_string_equal(u.user, "gw");
	assert_string_equal(u.password, "p@ss/w:");
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 6380);
	assert_int_equal(u.db, 0);

	u = url_ok("redis://h/2147483647");
	assert_int_equal(u.db, 2147483647u);
}

static void test_url_unix_forms(void **state)
{
	struct sl_redis_url u;

	u = url_ok("unix:///run/redis/redis.sock");
	assert_int_equal(u.transport, SL_REDIS_UNIX);
	assert_string_equal(u.path, "/run/redis/redis.sock");
	assert_int_equal(u.db, 0);

	u = url_ok("unix://app:pw@/tmp/r.sock?db=5");
	assert_string_equal(u.user, "app");
	assert_string_equal(u.password, "pw");
	assert_string_equal(u.path, "/tmp/r.sock");
	assert_int_equal(u.db, 5);
}

static void test_url_errors_say_what_and_where(void **state)
{
	char longpath[200] = "unix:///";

	assert_url_error("http://127.0.0.1:6379", 0,
			 "expected a Redis URL like redis://127.0.0.1:6379 or unix:///run/redis/redis.sock, got \"http://127.0.0.1:6379\"");
	assert_url_error("rediss://h:6379", 0,
			 "TLS (rediss://) is not supported; reach Redis on loopback, a unix socket or through a TLS tunnel");
	assert_url_error("redis://", 8,
			 "expected a host name or address after \"redis://\", got \"\"");
	assert_url_error("redis://h:0", 10, "expected a port 1..65535, got \"0\"");
	assert_url_error("redis://h:65536/1", 10, "expected a port 1..65535, got \"65536\"");
	assert_url_error("redis://h:http", 10, "expected a port 1..65535, got \"http\"");
	assert_url_error("redis://h:6379/db1", 15,
			 "expected a database number after \"/\", got \"db1\"");
	assert_url_error("redis://h/2147483648", 10,
			 "expected a database number after \"/\", got \"2147483648\"");
	assert_url_error("redis://h:6379?db=1", 14,
			 "redis:// takes no options; the database goes in the path, like redis://host:6379/2");
	assert_url_error("redis://h!", 9,
			 "expected \":PORT\", \"/DB\" or the end of the URL, got \"!\"");
	assert_url_error("redis://::1:6379", 8,
			 "an IPv6 address takes brackets, like redis://[::1]:6379");
	assert_url_error("redis://fe80::1", 8,
			 "an IPv6 address takes brackets, like redis://[::1]:6379");
	assert_url_error("redis://[::1:6379", 8,
			 "expected an IPv6 address in brackets like [::1], got \"[::1:6379\"");
	assert_url_error("redis://[10.0.0.1]:6379", 9,
			 "expected an IPv6 address, got \"10.0.0.1\"");
	assert_url_error("redis://admin@h", 8,
			 "expected USER:PASSWORD@ or :PASSWORD@ before the host, got \"admin@\"");
	assert_url_error("redis://admin:@h", 14, "the password before \"@\" is empty");
	assert_url_error("redis://:pa%zzss@h", 11,
			 "expected %XX, two hex digits, in the password, got \"%zz\"");
	assert_url_error("redis://:pass%4@h", 13,
			 "expected %XX, two hex digits, in the password, got \"%4\"");
	assert_url_error("redis://:a%00b@h", 10, "the password must not contain %00");
	assert_url_error("unix://run/redis.sock", 7,
			 "expected an absolute socket path after \"unix://\", like unix:///run/redis/redis.sock, got \"run/redis.sock\"");
	assert_url_error("unix:///r.sock?database=1", 15,
			 "expected \"db=N\" after \"?\", got \"database=1\"");
	assert_url_error("unix:///r.sock?db=x", 18,
			 "expected a database number after \"db=\", got \"x\"");
	memset(longpath + 8, 'a', 120);
	assert_url_error(longpath, 7, "the socket path is longer than 107 bytes");
}

static void test_url_format_masks_the_password(void **state)
{
	assert_url_format("redis://127.0.0.1", "redis://127.0.0.1:6379/0");
	assert_url_format("redis://:secret@h:7000/2", "redis://:***@h:7000/2");
	assert_url_format("redis://gw:secret@[::1]", "redis://gw:***@[::1]:6379/0");
	assert_url_format("unix:///run/r.sock", "unix:///run/r.sock?db=0");
	assert_url_format("unix://:pw@/run/r.sock?db=4", "unix://:***@/run/r.sock?db=4");
}

/* ------------------------------------------------------- rule language */

static struct sl_error err;

static void parse_ok(struct sl_config *cfg, const char *text)
{
	if (config_parse_line(cfg, text, "c.conf", 3, &err))
		fail_msg("%s: %s", text, err.msg);
}

static void assert_parse_error(const char *text, const char *msg)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(config_parse_line(&cfg, text, "c.conf", 3, &err), -EINVAL);
	assert_string_equal(err.msg, msg);
	assert_false(cfg.cluster.set);
	assert_int_equal(cfg.n_rules, 0);
	config_free(&cfg);
}

static void test_cluster_statement_defaults(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	parse_ok(&cfg, "cluster redis://127.0.0.1:6379");
	assert_true(cfg.cluster.set);
	assert_string_equal(cfg.cluster.url.host, "127.0.0.1");
	assert_string_equal(cfg.cluster.node, "");
	assert_int_equal(cfg.cluster.sync_ns, 100 * MS);
	assert_int_equal(cfg.cluster.ttl_ns, 3 * S);
	config_free(&cfg);

	/* A slow sync stretches the default TTL to ten intervals. */
	config_init(&cfg);
	parse_ok(&cfg, "cluster unix:///run/r.sock sync 2s");
	assert_int_equal(cfg.cluster.sync_ns, 2 * S);
	assert_int_equal(cfg.cluster.ttl_ns, 20 * S);
	config_free(&cfg);
}

static void test_cluster_statement_options(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	parse_ok(&cfg, "cluster redis://:pw@10.1.2.3:7000/1 ttl 1s node gw-a.1 sync 50ms");
	assert_string_equal(cfg.cluster.node, "gw-a.1");
	assert_int_equal(cfg.cluster.sync_ns, 50 * MS);
	assert_int_equal(cfg.cluster.ttl_ns, 1 * S);
	assert_string_equal(cfg.cluster.url.password, "pw");
	assert_int_equal(cfg.cluster.url.db, 1);
	config_free(&cfg);
}

static void test_cluster_statement_errors(void **state)
{
	struct sl_config cfg;

	assert_parse_error("cluster",
			   "c.conf:3:8: expected a Redis URL like redis://127.0.0.1:6379 or unix:///run/redis/redis.sock after \"cluster\", got end of line");
	assert_parse_error("cluster redis://h:99999",
			   "c.conf:3:19: expected a port 1..65535, got \"99999\"");
	assert_parse_error("cluster redis://h nodes a",
			   "c.conf:3:19: expected node, sync, ttl or end of line, got \"nodes\"");
	assert_parse_error("cluster redis://h node",
			   "c.conf:3:23: expected a node name (1..63 letters, digits, '.', '-' or '_') after \"node\", got end of line");
	assert_parse_error("cluster redis://h node gw:a",
			   "c.conf:3:24: expected a node name (1..63 letters, digits, '.', '-' or '_') after \"node\", got \"gw:a\"");
	assert_parse_error("cluster redis://h node a node b", "c.conf:3:26: \"node\" given twice");
	assert_parse_error("cluster redis://h sync fast",
			   "c.conf:3:24: expected a duration like 100ms or 5s after \"sync\", got \"fast\"");
	assert_parse_error("cluster redis://h sync 5ms", "c.conf:3:24: sync must be 10ms..10s, got \"5ms\"");
	assert_parse_error("cluster redis://h sync 11s", "c.conf:3:24: sync must be 10ms..10s, got \"11s\"");
	assert_parse_error("cluster redis://h ttl 2h", "c.conf:3:23: ttl must be at most 1h, got \"2h\"");
	assert_parse_error("cluster redis://h sync 500ms ttl 1s",
			   "c.conf:3:34: ttl must be at least 3 sync intervals (1500ms), got \"1s\"");

	config_init(&cfg);
	parse_ok(&cfg, "cluster redis://h");
	assert_int_equal(config_parse_line(&cfg, "cluster redis://other", "c.conf", 4, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "c.conf:4:1: \"cluster\" given twice");
	assert_string_equal(cfg.cluster.url.host, "h");
	config_free(&cfg);
}

static void test_scope_cluster_in_rules(void **state)
{
	struct sl_config cfg, back;

	config_init(&cfg);
	parse_ok(&cfg, "rule api proto tcp dport 443 syn key global rate 10000/s scope cluster action reject");
	assert_true(cfg.rules[0].cluster);
	assert_string_equal(cfg.rules[0].text,
			    "rule api proto tcp dport 443 syn key global rate 10000/s burst 1000 scope cluster action reject");
	/* The canonical text, as the controller re-reads it from the pins. */
	config_init(&back);
	assert_int_equal(config_parse_line(&back, cfg.rules[0].text, NULL, 0, &err), 0);
	assert_true(back.rules[0].cluster);
	assert_string_equal(back.rules[0].text, cfg.rules[0].text);
	config_free(&back);

	parse_ok(&cfg, "rule c proto tcp key src conns 10 scope local");
	assert_false(cfg.rules[1].cluster);
	assert_string_equal(cfg.rules[1].text,
			    "rule c proto tcp key src prefix4 32 prefix6 128 conns 10 action drop");
	config_free(&cfg);
}

static void test_scope_errors(void **state)
{
	assert_parse_error("rule x rate 1/s scope",
			   "c.conf:3:22: expected cluster or local after \"scope\", got end of line");
	assert_parse_error("rule x rate 1/s scope global",
			   "c.conf:3:23: expected cluster or local after \"scope\", got \"global\"");
	assert_parse_error("rule x rate 1/s scope cluster scope cluster",
			   "c.conf:3:31: \"scope\" given twice");
	assert_parse_error("rule x window 100/h scope cluster",
			   "c.conf:3:21: scope cluster shares rate and conns limits; a window quota stays per host");
	assert_parse_error("rule x scope cluster rate 1/s window 100/h",
			   "c.conf:3:31: scope cluster shares rate and conns limits; a window quota stays per host");
}

/* -------------------------------------------------------------- budgets */

static double frac(uint64_t share)
{
	return (double)share / SL_SHARE_ONE;
}

/* Shares are rounded down, by less than 2^-32. */
static void assert_share(uint64_t share, double want)
{
	if (frac(share) > want + 1e-12 || frac(share) < want - 1e-9)
		fail_msg("share %.12f, expected %.12f", frac(share), want);
}

static void test_window_estimate_weighs_the_previous_window(void **state)
{
	/* 250 ms into a 1 s window: 3/4 of the previous one still counts. */
	assert_true(fabs(budget_window_estimate(100, 50, 250, 1000) - 125) < 1e-9);
	assert_true(fabs(budget_window_estimate(100, 50, 0, 1000) - 150) < 1e-9);
	assert_true(fabs(budget_window_estimate(100, 50, 1000, 1000) - 50) < 1e-9);
	/* A late reply cannot give the previous window a negative weight. */
	assert_true(fabs(budget_window_estimate(100, 50, 1500, 1000) - 50) < 1e-9);
}

static void test_share_below_the_limit_adds_an_equal_part_of_the_rest(void **state)
{
	double d[] = { 60, 30 };

	/* 110/s spare, split over both live hosts. */
	assert_share(budget_share(d, 2, 0, 2, 200), (60 + 55) / 200.0);
	assert_share(budget_share(d, 2, 1, 2, 200), (30 + 55) / 200.0);
	/* A third live host with no traffic keeps a foothold. */
	assert_share(budget_share(d, 2, 0, 3, 200), (60 + 110 / 3.0) / 200.0);
	/* Alone, a host may spend the whole limit. */
	assert_share(budget_share((double[]){ 0 }, 1, 0, 1, 200), 1.0);
}

static void test_share_over_the_limit_is_max_min_fair(void **state)
{
	double two[] = { 300, 60 }, three[] = { 10, 100, 300 }, idle[] = { 0, 500 };

	/* The light host gets all it asks, the heavy one the rest. */
	assert_share(budget_share(two, 2, 0, 2, 200), 140 / 200.0);
	assert_share(budget_share(two, 2, 1, 2, 200), 60 / 200.0);
	/* 10 fits; 190 left over two hosts asking more than 95 each. */
	assert_share(budget_share(three, 3, 0, 3, 200), 10 / 200.0);
	assert_share(budget_share(three, 3, 1, 3, 200), 95 / 200.0);
	assert_share(budget_share(three, 3, 2, 3, 200), 95 / 200.0);
	/* No traffic, no share while the others ask for more than all. */
	assert_share(budget_share(idle, 2, 0, 2, 200), 0);
	assert_share(budget_share(idle, 2, 1, 2, 200), 1.0);
	/* Equal demands, equal shares. */
	assert_share(budget_share((double[]){ 500, 500 }, 2, 1, 2, 200), 0.5);
}

static void test_shares_of_one_snapshot_never_add_up_to_more_than_the_limit(void **state)
{
	unsigned round, n, i;
	uint64_t sum;

	srand(7);
	for (round = 0; round < 20000; round++) {
		double d[8], limit = 1 + rand() % 5000;
		unsigned hosts;

		n = 1 + rand() % 8;
		hosts = n + rand() % 3;
		for (i = 0; i < n; i++)
			d[i] = rand() % 4 ? (double)(rand() % 4000) : 0;
		sum = 0;
		for (i = 0; i < n; i++)
			sum += budget_share(d, n, i, hosts, limit);
		if (sum > SL_SHARE_ONE)
			fail_msg("round %u: %u hosts, shares add up to %.12f", round, n,
				 frac(sum));
	}
}

static void test_fallback_share_is_the_limit_over_the_hosts(void **state)
{
	assert_share(budget_fallback_share(1), 1.0);
	assert_share(budget_fallback_share(2), 0.5);
	assert_share(budget_fallback_share(3), 1 / 3.0);
	/* Never a division by nothing. */
	assert_share(budget_fallback_share(0), 1.0);
}

static struct sl_limit packet_rate(uint64_t count, uint64_t period_ns, uint64_t burst)
{
	struct sl_limit l = { .kind = SL_LIMIT_RATE, .unit = SL_UNIT_PACKETS };

	l.rate.interval_fp = sl_gcra_interval_fp(period_ns, count);
	l.rate.tolerance_ns = sl_gcra_tolerance_ns(l.rate.interval_fp, burst, 0);
	return l;
}

static void test_local_rate_scales_the_interval_and_keeps_the_tolerance(void **state)
{
	struct sl_limit g = packet_rate(100, S, 20), l;

	budget_local_rate(&g, SL_SHARE_ONE, &l);
	assert_memory_equal(&l, &g, sizeof(l));

	budget_local_rate(&g, SL_SHARE_ONE / 2, &l);
	assert_int_equal(l.kind, SL_LIMIT_RATE);
	assert_int_equal(l.rate.interval_fp, 2 * g.rate.interval_fp);
	assert_int_equal(l.rate.tolerance_ns, g.rate.tolerance_ns);

	/* A third, rounded down to 32 bits, and the interval rounded up: never
	 * shorter than 3 intervals, longer by one part in 10^9 at most. */
	budget_local_rate(&g, SL_SHARE_ONE / 3, &l);
	assert_true(l.rate.interval_fp >= 3 * g.rate.interval_fp);
	assert_true(l.rate.interval_fp <= 3 * g.rate.interval_fp +
				      3 * g.rate.interval_fp / 1000000000 + 1);
}

static void test_local_rate_passes_one_packet_at_any_share(void **state)
{
	struct sl_limit g = packet_rate(100, S, 2), l;
	struct sl_limit b = { .kind = SL_LIMIT_RATE, .unit = SL_UNIT_BYTES };

	/* 1/100 of burst 2 is less than a packet: the tolerance grows to one. */
	budget_local_rate(&g, SL_SHARE_ONE / 100, &l);
	assert_int_equal(l.rate.tolerance_ns, sl_gcra_cost_ns(l.rate.interval_fp, 1));
	/* Byte rates: one frame of the largest size. */
	b.rate.interval_fp = sl_gcra_interval_fp(S, 1 << 20);
	b.rate.tolerance_ns = sl_gcra_tolerance_ns(b.rate.interval_fp, 65536, 1);
	budget_local_rate(&b, SL_SHARE_ONE / 64, &l);
	assert_int_equal(l.rate.tolerance_ns, sl_gcra_cost_ns(l.rate.interval_fp, SL_MAX_COST));
	/* A share of nothing: the longest interval the limiter takes. */
	budget_local_rate(&g, 0, &l);
	assert_int_equal(l.rate.interval_fp >> SL_FP_SHIFT, (1ull << 48) - 1);
	assert_int_equal(l.rate.tolerance_ns, g.rate.tolerance_ns);
}

/* A flood against the local limit, with the data path's own math. */
static unsigned flood(const struct sl_limit *l, uint64_t secs, uint64_t step_ns)
{
	__u64 tat = 0, now, next;
	unsigned admitted = 0;

	for (now = S; now < S + secs * S; now += step_ns) {
		if (sl_gcra_conform(tat, now, sl_gcra_cost_ns(l->rate.interval_fp, 1),
				    l->rate.tolerance_ns, &next))
			admitted++;
		tat = next;
	}
	return admitted;
}

static void test_local_rate_admits_its_share_of_a_flood(void **state)
{
	struct sl_limit g = packet_rate(200, S, 20), l;
	unsigned got;

	/* 0.7 of 200/s for 10 s: 1400, plus 0.7 of the burst of 20. */
	budget_local_rate(&g, (uint64_t)(0.7 * SL_SHARE_ONE), &l);
	got = flood(&l, 10, 100000);
	if (got > 1400 + 14 || got < 1400 + 13)
		fail_msg("admitted %u at share 0.7, expected 1413 or 1414", got);
	/* Two hosts at shares that add up to one admit the limit together. */
	budget_local_rate(&g, SL_SHARE_ONE - (uint64_t)(0.7 * SL_SHARE_ONE), &l);
	got += flood(&l, 10, 100000);
	if (got > 2000 + 20)
		fail_msg("two hosts admitted %u, more than R*T + B = 2020", got);
}

static void test_conns_budgets(void **state)
{
	assert_int_equal(budget_local_conns(4, 3), 1);
	assert_int_equal(budget_local_conns(4, 0), 4);
	assert_int_equal(budget_local_conns(4, 4), 0);
	/* The others may be over: a count caught between syncs. */
	assert_int_equal(budget_local_conns(4, 9), 0);
	assert_int_equal(budget_fallback_conns(100, 3), 33);
	assert_int_equal(budget_fallback_conns(100, 1), 100);
	/* Never none: a host must keep serving with Redis away. */
	assert_int_equal(budget_fallback_conns(1, 2), 1);
	assert_int_equal(budget_fallback_conns(5, 0), 5);
}

#define TEST(f) cmocka_unit_test(f)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_url_tcp_forms_and_defaults),
		TEST(test_url_unix_forms),
		TEST(test_url_errors_say_what_and_where),
		TEST(test_url_format_masks_the_password),
		TEST(test_cluster_statement_defaults),
		TEST(test_cluster_statement_options),
		TEST(test_cluster_statement_errors),
		TEST(test_scope_cluster_in_rules),
		TEST(test_scope_errors),
		TEST(test_window_estimate_weighs_the_previous_window),
		TEST(test_share_below_the_limit_adds_an_equal_part_of_the_rest),
		TEST(test_share_over_the_limit_is_max_min_fair),
		TEST(test_shares_of_one_snapshot_never_add_up_to_more_than_the_limit),
		TEST(test_fallback_share_is_the_limit_over_the_hosts),
		TEST(test_local_rate_scales_the_interval_and_keeps_the_tolerance),
		TEST(test_local_rate_passes_one_packet_at_any_share),
		TEST(test_local_rate_admits_its_share_of_a_flood),
		TEST(test_conns_budgets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
