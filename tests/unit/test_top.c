// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice top's view from synthetic samples: rates and totals from two
 * readings (a key evicted and counted afresh, a key new since the last
 * reading), the two orders, key names, and the table and JSON word for
 * word, since scripts read them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "top.h"

#define S	1000000000ull

static const struct sl_top_rule api = {
	.uid = 7, .key_type = SL_KEY_SRC, .prefix4 = 32, .prefix6 = 128,
	.name = "api",
};
static const struct sl_top_rule nets = {
	.uid = 9, .key_type = SL_KEY_SRC, .prefix4 = 24, .prefix6 = 48,
	.name = "nets",
};

static struct sl_key key4(__u32 uid, const char *addr)
{
	struct sl_key k = { .rule_uid = uid, .family = SL_FAM_IP4 };

	assert_int_equal(inet_pton(AF_INET, addr, k.addr), 1);
	return k;
}

/* A sample at `at` holding the rules api and nets and n counts. */
static void make_sample(struct sl_top_sample *s, unsigned long long at,
			const struct sl_top_count *counts, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->at_ns = at;
	s->rules[s->n_rules++] = api;
	s->rules[s->n_rules++] = nets;
	s->counts = calloc(n ? n : 1, sizeof(*counts));
	assert_non_null(s->counts);
	memcpy(s->counts, counts, n * sizeof(*counts));
	s->n = s->cap = n;
	/* top__read hands samples over sorted by key. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j && memcmp(&s->counts[j - 1].key, &s->counts[j].key,
					       sizeof(struct sl_key)) > 0; j--) {
			struct sl_top_count tmp = s->counts[j];

			s->counts[j] = s->counts[j - 1];
			s->counts[j - 1] = tmp;
		}
}

static void feed(struct sl_top *t, unsigned long long at,
		 const struct sl_top_count *counts, size_t n)
{
	struct sl_top_sample s;

	make_sample(&s, at, counts, n);
	assert_int_equal(top__update(t, &s), 0);
	top__sample_free(&s);
}

static const struct sl_top_row *find(const struct sl_top *t, const char *key)
{
	for (size_t i = 0; i < t->n_rows; i++)
		if (!strcmp(t->rows[i].key, key))
			return &t->rows[i];
	fail_msg("no row for %s", key);
	return NULL;
}

static void test_first_reading_is_the_baseline(void **state)
{
	struct sl_top t;
	struct sl_top_count c[] = { { key4(7, "10.0.0.1"), 500, 100 } };

	top__init(&t);
	feed(&t, 10 * S, c, 1);
	assert_int_equal(t.n_rows, 0);
	c[0].packets = 800;
	c[0].limited = 160;
	feed(&t, 12 * S, c, 1);
	assert_int_equal(t.n_rows, 1);
	assert_true(t.rows[0].rate == 150.0);
	assert_true(t.rows[0].limited_rate == 30.0);
	assert_int_equal(t.rows[0].packets, 300);
	assert_int_equal(t.rows[0].limited, 60);
	assert_int_equal(t.rows[0].limited_total, 60);
	assert_true(t.interval_s == 2.0);
	top__free(&t);
}

/*
 * A key whose counts went down was evicted and counted afresh: what it
 * has now all came since. A key new since the last reading: the same.
 * A key that sent nothing is no row, but keeps its total.
 */
static void test_evicted_new_and_quiet_keys(void **state)
{
	struct sl_top t;
	struct sl_top_count a[] = {
		{ key4(7, "10.0.0.1"), 1000, 10 },
		{ key4(7, "10.0.0.2"), 50, 5 },
	};
	struct sl_top_count b[] = {
		{ key4(7, "10.0.0.1"), 30, 3 },		/* evicted, back */
		{ key4(7, "10.0.0.2"), 60, 9 },
		{ key4(7, "10.0.0.3"), 7, 0 },		/* new */
	};
	struct sl_top_count c[] = {
		{ key4(7, "10.0.0.1"), 40, 3 },
		{ key4(7, "10.0.0.2"), 60, 9 },		/* quiet */
		{ key4(7, "10.0.0.3"), 7, 0 },		/* quiet */
	};
	struct sl_top_count d[] = {
		{ key4(7, "10.0.0.2"), 61, 10 },
	};

	top__init(&t);
	feed(&t, S, a, 2);
	feed(&t, 2 * S, b, 3);
	assert_int_equal(t.n_rows, 3);
	assert_int_equal(find(&t, "10.0.0.1")->packets, 30);
	assert_int_equal(find(&t, "10.0.0.1")->limited_total, 3);
	assert_int_equal(find(&t, "10.0.0.2")->packets, 10);
	assert_int_equal(find(&t, "10.0.0.2")->limited_total, 4);
	assert_int_equal(find(&t, "10.0.0.3")->packets, 7);
	feed(&t, 3 * S, c, 3);
	assert_int_equal(t.n_rows, 1);
	assert_int_equal(find(&t, "10.0.0.1")->packets, 10);
	assert_int_equal(find(&t, "10.0.0.1")->state, SL_TOP_OK);
	feed(&t, 4 * S, d, 1);
	assert_int_equal(find(&t, "10.0.0.2")->limited_total, 5);
	assert_int_equal(find(&t, "10.0.0.2")->state, SL_TOP_LIMITED);
	top__free(&t);
}

static struct sl_ban_entry ban4(const char *addr, unsigned prefixlen,
				unsigned long long expires, __u32 rule_uid, __u32 flags)
{
	struct sl_ban_entry b = {
		.key = { .family = SL_FAM_IP4, .prefixlen = prefixlen },
		.ban = { .expires_ns = expires, .rule_uid = rule_uid, .flags = flags },
	};

	assert_int_equal(inet_pton(AF_INET, addr, b.key.addr), 1);
	return b;
}

/*
 * A ban in force marks the rows of the keys it covers, whole address or
 * prefix; one covering no counted key (its packets stop before the rules)
 * is a row of its own. Ended and dry bans change nothing.
 */
static void test_bans_in_force_mark_rows_or_add_their_own(void **state)
{
	struct sl_top t;
	struct sl_top_count a[] = {
		{ key4(7, "10.0.0.1"), 100, 0 },
		{ key4(7, "10.0.0.2"), 100, 0 },
		{ key4(9, "10.0.1.0"), 100, 0 },
	};
	struct sl_top_count b[] = {
		{ key4(7, "10.0.0.1"), 150, 20 },
		{ key4(7, "10.0.0.2"), 190, 0 },
		{ key4(9, "10.0.1.0"), 130, 0 },
	};
	struct sl_ban_entry bans[] = {
		ban4("10.0.0.1", 32, 3 * S, 7, 0),
		ban4("10.0.1.0", 24, 3 * S, 0, SL_BAN_MANUAL),
		ban4("10.0.0.2", 32, 2 * S, 7, 0),		/* ended */
		ban4("10.0.0.0", 30, 3 * S, 7, SL_BAN_DRY),	/* counts only */
		ban4("203.0.113.5", 32, 3 * S, 0, SL_BAN_MANUAL),
	};
	struct sl_top_sample s;

	top__init(&t);
	feed(&t, S, a, 3);
	make_sample(&s, 2 * S, b, 3);
	s.bans = malloc(sizeof(bans));
	assert_non_null(s.bans);
	memcpy(s.bans, bans, sizeof(bans));
	s.n_bans = sizeof(bans) / sizeof(bans[0]);
	assert_int_equal(top__update(&t, &s), 0);
	top__sample_free(&s);

	assert_int_equal(t.n_rows, 4);
	assert_int_equal(find(&t, "10.0.0.1")->state, SL_TOP_BANNED);
	assert_int_equal(find(&t, "10.0.0.2")->state, SL_TOP_OK);
	assert_int_equal(find(&t, "10.0.1.0/24")->state, SL_TOP_BANNED);
	assert_int_equal(find(&t, "203.0.113.5")->state, SL_TOP_BANNED);
	assert_string_equal(find(&t, "203.0.113.5")->rule, "manual");
	assert_int_equal(find(&t, "203.0.113.5")->packets, 0);
	top__free(&t);
}

/* Keys of rules that are not in the sample's rule set are left out. */
static void test_keys_of_unknown_rules_left_out(void **state)
{
	struct sl_top t;
	struct sl_top_count a[] = { { key4(3, "10.0.0.1"), 1, 0 } };
	struct sl_top_count b[] = { { key4(3, "10.0.0.1"), 9, 0 } };

	top__init(&t);
	feed(&t, S, a, 1);
	feed(&t, 2 * S, b, 1);
	assert_int_equal(t.n_rows, 0);
	assert_int_equal(t.keys_counted, 1);
	top__free(&t);
}

static void test_sort_by_rate_or_limited_ties_by_key(void **state)
{
	struct sl_top t;
	struct sl_top_count a[] = {
		{ key4(7, "10.0.0.1"), 0, 0 },
		{ key4(7, "10.0.0.2"), 0, 0 },
		{ key4(7, "10.0.0.3"), 0, 0 },
		{ key4(7, "10.0.0.4"), 0, 0 },
	};
	struct sl_top_count b[] = {
		{ key4(7, "10.0.0.1"), 100, 0 },
		{ key4(7, "10.0.0.2"), 50, 40 },
		{ key4(7, "10.0.0.3"), 50, 45 },
		{ key4(7, "10.0.0.4"), 100, 0 },
	};
	static const char *const by_rate[] = {
		"10.0.0.1", "10.0.0.4", "10.0.0.3", "10.0.0.2",
	};
	static const char *const by_limited[] = {
		"10.0.0.3", "10.0.0.2", "10.0.0.1", "10.0.0.4",
	};

	top__init(&t);
	feed(&t, S, a, 4);
	feed(&t, 2 * S, b, 4);
	top__sort(t.rows, t.n_rows, SL_TOP_BY_RATE);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(t.rows[i].key, by_rate[i]);
	top__sort(t.rows, t.n_rows, SL_TOP_BY_LIMITED);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(t.rows[i].key, by_limited[i]);
	assert_string_equal(top__sort_name(SL_TOP_BY_RATE), "rate");
	assert_string_equal(top__sort_name(SL_TOP_BY_LIMITED), "limited");
	top__free(&t);
}

static void test_key_names(void **state)
{
	struct sl_top_rule port = { .uid = 1, .key_type = SL_KEY_DPORT };
	struct sl_top_rule global = { .uid = 2, .key_type = SL_KEY_GLOBAL };
	struct sl_key k = key4(9, "192.0.2.0");
	char buf[64];

	top__format_key(&nets, &k, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0/24");
	top__format_key(&api, &k, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0");
	k.family = SL_FAM_IP6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:7::", k.addr), 1);
	top__format_key(&nets, &k, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:7::/48");
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", k.addr), 1);
	top__format_key(&api, &k, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1");
	memset(k.addr, 0, sizeof(k.addr));
	k.addr[0] = 0x01;
	k.addr[1] = 0xbb;
	top__format_key(&port, &k, buf, sizeof(buf));
	assert_string_equal(buf, "dport 443");
	top__format_key(&global, &k, buf, sizeof(buf));
	assert_string_equal(buf, "global");
}

/* Two rows of a view, and what they print as. */
static void two_rows(struct sl_top *t)
{
	struct sl_top_count a[] = {
		{ key4(7, "10.200.1.2"), 0, 0 },
		{ key4(9, "10.200.1.0"), 0, 0 },
	};
	struct sl_top_count b[] = {
		{ key4(7, "10.200.1.2"), 3000, 1000 },
		{ key4(9, "10.200.1.0"), 200, 0 },
	};

	top__init(t);
	feed(t, S, a, 2);
	feed(t, 3 * S, b, 2);
	top__sort(t->rows, t->n_rows, SL_TOP_BY_RATE);
}

static char *print_to_string(void (*print)(FILE *f, const struct sl_top *t),
			     const struct sl_top *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	print(f, t);
	fclose(f);
	return buf;
}

static void print_all(FILE *f, const struct sl_top *t)
{
	top__print_rows(f, t, 0, 0);
}

static void print_one_narrow(FILE *f, const struct sl_top *t)
{
	top__print_rows(f, t, 1, 40);
}

static void print_json(FILE *f, const struct sl_top *t)
{
	top__print_json(f, "eth0", t, SL_TOP_BY_RATE, 0);
}

static void test_table_word_for_word(void **state)
{
	struct sl_top t;
	char *out;

	two_rows(&t);
	out = print_to_string(print_all, &t);
	assert_string_equal(out,
		"RULE                 KEY                               PKT/S  LIMITED/S    LIMITED    STATE\n"
		"api                  10.200.1.2                         1500        500       1000  limited\n"
		"nets                 10.200.1.0/24                       100          0          0       ok\n");
	free(out);
	out = print_to_string(print_one_narrow, &t);
	assert_string_equal(out,
		"RULE                 KEY                \n"
		"api                  10.200.1.2         \n");
	free(out);
	top__free(&t);
}

static void test_json_word_for_word(void **state)
{
	struct sl_top t;
	char *out;

	two_rows(&t);
	out = print_to_string(print_json, &t);
	assert_string_equal(out,
		"{\"interface\":\"eth0\",\"interval_s\":2.000,\"sort\":\"rate\","
		"\"keys_counted\":2,\"keys_capacity\":8192,\"keys\":["
		"{\"rule\":\"api\",\"key\":\"10.200.1.2\",\"key_type\":\"src\","
		"\"rate\":1500.0,\"limited_rate\":500.0,\"packets\":3000,"
		"\"limited\":1000,\"limited_total\":1000,\"state\":\"limited\"},"
		"{\"rule\":\"nets\",\"key\":\"10.200.1.0/24\",\"key_type\":\"src\","
		"\"rate\":100.0,\"limited_rate\":0.0,\"packets\":200,"
		"\"limited\":0,\"limited_total\":0,\"state\":\"ok\"}]}\n");
	free(out);
	top__free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_reading_is_the_baseline),
		cmocka_unit_test(test_evicted_new_and_quiet_keys),
		cmocka_unit_test(test_bans_in_force_mark_rows_or_add_their_own),
		cmocka_unit_test(test_keys_of_unknown_rules_left_out),
		cmocka_unit_test(test_sort_by_rate_or_limited_ties_by_key),
		cmocka_unit_test(test_key_names),
		cmocka_unit_test(test_table_word_for_word),
		cmocka_unit_test(test_json_word_for_word),
	};

	return cmocka_run_group_tests_name("top", tests, NULL, NULL);
}
