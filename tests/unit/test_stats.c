// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The stats output formats: the JSON fields scripts rely on, and the table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

static char *render(void (*print)(FILE *, const char *, const struct sl_stats *),
		    const struct sl_stats *st)
{
	char *buf = NULL, *out;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	print(f, "eth0", st);
	fclose(f);
	/* A copy the caller owns outright: the stream's buffer escaped into
	 * the FILE, which compilers cannot see through. */
	out = strdup(buf);
	free(buf);
	return out;
}

static void fill(struct sl_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->generation = 3;
	st->n_rules = 2;
	strcpy(st->rules[0].name, "api");
	st->rules[0].c = (struct sl_rule_counter){
		.matched = 10, .passed = 7, .dropped = 3, .limited = 3, .bytes = 640,
	};
	strcpy(st->rules[1].name, "dns");
	st->cnt[SL_CNT_RX] = (struct sl_counter){ 12, 800 };
	st->cnt[SL_CNT_PASSED] = (struct sl_counter){ 9, 600 };
	st->cnt[SL_CNT_DROPPED] = (struct sl_counter){ 3, 200 };
	st->cnt[SL_CNT_RATE] = (struct sl_counter){ 3, 192 };
	st->cnt[SL_CNT_DENY] = (struct sl_counter){ 1, 64 };
	st->cnt[SL_CNT_MALFORMED] = (struct sl_counter){ 2, 28 };
	st->cnt[SL_CNT_REJECTED] = (struct sl_counter){ 4, 256 };
	st->keys_tracked = 5;
	st->keys_capacity = 262144;
	st->flows_tracked = 7;
	st->flows_capacity = 262144;
	st->cnt[SL_CNT_BANS] = (struct sl_counter){ 6, 0 };
	st->cnt[SL_CNT_BANS_FULL] = (struct sl_counter){ 1, 0 };
	st->cnt[SL_CNT_EVENTS] = (struct sl_counter){ 9, 0 };
	st->cnt[SL_CNT_EVENTS_SUPPRESSED] = (struct sl_counter){ 11, 0 };
	st->bans_active = 4;
	st->bans_manual = 2;
	st->ban_entries = 8;
	st->ban_capacity = 65536;
}

static void test_json_has_every_documented_field(void **state)
{
	struct sl_stats st;
	char *out;

	fill(&st);
	out = render(stats__print_json, &st);
	assert_string_equal(out,
		"{\"interface\":\"eth0\",\"generation\":3,\"dry_run\":false,\"rules\":["
		"{\"name\":\"api\",\"matched\":10,\"passed\":7,\"dropped\":3,\"rejected\":0,"
		"\"marked\":0,\"limited\":3,\"bytes\":640},"
		"{\"name\":\"dns\",\"matched\":0,\"passed\":0,\"dropped\":0,\"rejected\":0,"
		"\"marked\":0,\"limited\":0,\"bytes\":0}],"
		"\"reasons\":{\"deny\":{\"packets\":1,\"bytes\":64},"
		"\"ban\":{\"packets\":0,\"bytes\":0},"
		"\"rate\":{\"packets\":3,\"bytes\":192},"
		"\"window\":{\"packets\":0,\"bytes\":0},"
		"\"conns\":{\"packets\":0,\"bytes\":0},"
		"\"malformed\":{\"packets\":2,\"bytes\":28},"
		"\"breaker\":{\"packets\":0,\"bytes\":0},"
		"\"contention\":{\"packets\":0,\"bytes\":0}},"
		"\"totals\":{\"rx\":{\"packets\":12,\"bytes\":800},"
		"\"passed\":{\"packets\":9,\"bytes\":600},"
		"\"dropped\":{\"packets\":3,\"bytes\":200},"
		"\"allowed\":{\"packets\":0,\"bytes\":0},"
		"\"non_ip\":{\"packets\":0,\"bytes\":0},"
		"\"rejected\":{\"packets\":4,\"bytes\":256},"
		"\"marked\":{\"packets\":0,\"bytes\":0},"
		"\"reject_limited\":{\"packets\":0,\"bytes\":0},"
		"\"flows_full\":{\"packets\":0,\"bytes\":0},"
		"\"keys_full\":{\"packets\":0,\"bytes\":0}},"
		"\"keys_tracked\":5,\"keys_capacity\":262144,"
		"\"flows_tracked\":7,\"flows_capacity\":262144,"
		"\"bans\":{\"active\":4,\"manual\":2,\"entries\":8,\"capacity\":65536,"
		"\"started\":6,\"refused\":1},"
		"\"events\":{\"sent\":9,\"suppressed\":11},\"breakers\":[]}\n");
	free(out);
}

static void test_json_with_no_rules_is_an_empty_list(void **state)
{
	struct sl_stats st;
	char *out;

	fill(&st);
	st.n_rules = 0;
	st.dry_run = true;
	out = render(stats__print_json, &st);
	assert_non_null(strstr(out, "\"dry_run\":true,\"rules\":[],\"reasons\":{"));
	free(out);
}

static void test_json_string_escapes_quotes_backslashes_and_controls(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_string(f, "a\"b\\c\n\x01");
	fclose(f);
	assert_string_equal(buf, "\"a\\\"b\\\\c\\u000a\\u0001\"");
	free(buf);
}

static void test_table_lists_rules_in_order_with_counts(void **state)
{
	struct sl_stats st;
	char *out, *api, *dns;

	fill(&st);
	out = render(stats__print_table, &st);
	assert_non_null(strstr(out, "eth0: generation 3, keys 5/262144, connections 7/262144\n"));
	api = strstr(out, "\napi ");
	dns = strstr(out, "\ndns ");
	assert_non_null(api);
	assert_non_null(dns);
	assert_true(api < dns);
	assert_non_null(strstr(api, " 10 "));
	assert_non_null(strstr(out, "\nmalformed "));
	assert_non_null(strstr(out, "\nbans: 4 active (2 manual), 8 entries of 65536, 6 started by rules, 1 refused (table full)\n"));
	assert_non_null(strstr(out, "\nevents: 9 sent, 11 suppressed\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_has_every_documented_field),
		cmocka_unit_test(test_json_with_no_rules_is_an_empty_list),
		cmocka_unit_test(test_json_string_escapes_quotes_backslashes_and_controls),
		cmocka_unit_test(test_table_lists_rules_in_order_with_counts),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
