// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Circuit breakers, the parts that need no kernel: the status-line reader
 * both sides compile, the daemon's error window against a synthetic clock,
 * the state machine, and how status and stats print a breaker. Expected
 * values come from the README (Circuit breakers), not from user/breaker.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "breaker.h"

#define MS	1000000ull
#define S	(1000 * MS)
#define TICK	(SL_BREAKER_TICK_MS * MS)

/* A payload's first bytes, padded as a segment would carry more after them. */
static __u32 status_of(const char *s)
{
	__u8 b[SL_HTTP_STATUS_LEN + 1] = {};

	memcpy(b, s, strlen(s) < sizeof(b) ? strlen(s) : sizeof(b));
	return sl_http_status(b);
}

static void test_http_status_reads_http_1_0_and_1_1_status_lines(void **state)
{
	assert_int_equal(status_of("HTTP/1.1 503 Service Unavailable\r\n"), 503);
	assert_int_equal(status_of("HTTP/1.0 200 OK\r\n"), 200);
	assert_int_equal(status_of("HTTP/1.1 500 "), 500);
	assert_int_equal(status_of("HTTP/1.1 599"), 599);
	assert_int_equal(status_of("HTTP/1.1 100 Continue"), 100);
	assert_int_equal(status_of("HTTP/1.1 404 Not Found"), 404);
}

static void test_http_status_refuses_what_is_not_a_status_line(void **state)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n",		/* not HTTP/1.x */
		"HTTP/1.2 500 x",
		"http/1.1 500 x",		/* the version is case-sensitive */
		"HTTP/1.1  503 x",		/* one space, exactly */
		"HTTP/1.1 5x3 x",
		"HTTP/1.1 600 x",		/* 1xx..5xx only */
		"HTTP/1.1 099 x",
		"GET / HTTP/1.1\r\n",		/* a request, not a response */
		"<html>HTTP/1.1 503",
		"",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (status_of(bad[i]))
			fail_msg("\"%s\" read as status %u", bad[i], status_of(bad[i]));
}

/* Ticks every 100 ms from t0 with the cumulative error count at each. */
static __u64 count_at(struct sl_error_window *w, __u64 t, __u64 errors)
{
	return sl_error_window_count(w, t, errors);
}

static void test_window_counts_errors_of_the_last_within(void **state)
{
	struct sl_error_window w;
	__u64 t = 10 * S;

	sl_error_window_reset(&w, 2 * S, t, 100);
	/* What happened before the reset is not the window's. */
	assert_int_equal(count_at(&w, t, 100), 0);
	/* One error per tick for a second: all of them inside 2 s. */
	for (int i = 1; i <= 10; i++)
		assert_int_equal(count_at(&w, t + i * TICK, 100 + i), i);
	/* Quiet after that: they stay counted until they are 2 s old... */
	assert_int_equal(count_at(&w, t + 2 * S, 110), 10);
	/* ...and leave one tick at a time once they are older. */
	assert_int_equal(count_at(&w, t + 2 * S + TICK, 110), 9);
	assert_int_equal(count_at(&w, t + 2 * S + 5 * TICK, 110), 5);
	assert_int_equal(count_at(&w, t + 3 * S, 110), 0);
}

/* Five errors spread over more than the window never add up to five. */
static void test_window_never_counts_errors_spread_over_more_than_within(void **state)
{
	struct sl_error_window w;
	__u64 t = 0, errors = 0, max = 0, got;

	sl_error_window_reset(&w, 2 * S, t, errors);
	/* One error every 600 ms: at most four fall within any 2 s. */
	for (int i = 1; i <= 100; i++) {
		t += TICK;
		if (i % 6 == 0)
			errors++;
		got = count_at(&w, t, errors);
		if (got > max)
			max = got;
	}
	assert_int_equal(max, 4);
}

/* A long window samples in steps, so its ring never overflows. */
static void test_window_of_an_hour_keeps_its_first_sample(void **state)
{
	struct sl_error_window w;
	__u64 t = 0;

	sl_error_window_reset(&w, 3600 * S, t, 0);
	/* An error at the start, then ten ticks a second for 59 minutes. */
	assert_int_equal(count_at(&w, t + TICK, 1), 1);
	for (t = 2 * TICK; t < 3540 * S; t += TICK)
		count_at(&w, t, 1);
	assert_int_equal(count_at(&w, t, 3), 3);
	/* An hour and a step after the first error, it is out. */
	assert_int_equal(count_at(&w, 3600 * S + 3600 * S / 60 + TICK, 3), 2);
}

/* A daemon that stalls longer than the window counts nothing stale. */
static void test_window_after_a_stall_starts_from_now(void **state)
{
	struct sl_error_window w;

	sl_error_window_reset(&w, 2 * S, 0, 0);
	assert_int_equal(count_at(&w, TICK, 3), 3);
	assert_int_equal(count_at(&w, 10 * S, 50), 0);
	assert_int_equal(count_at(&w, 10 * S + TICK, 52), 2);
}

static const struct sl_breaker_view closed = {
	.state = SL_BRK_CLOSED, .errors = 5, .probes = 2, .open_ns = 2 * S,
};

static void test_closed_opens_at_n_errors_within_the_window(void **state)
{
	struct sl_breaker_view v = closed;

	v.window_errors = 4;
	assert_int_equal(sl_breaker_next(&v, 5 * S), SL_BRK_CLOSED);
	v.window_errors = 5;
	assert_int_equal(sl_breaker_next(&v, 5 * S), SL_BRK_OPEN);
	v.window_errors = 50;
	assert_int_equal(sl_breaker_next(&v, 5 * S), SL_BRK_OPEN);
}

static void test_open_turns_half_open_after_the_open_time(void **state)
{
	struct sl_breaker_view v = closed;

	v.state = SL_BRK_OPEN;
	v.since_ns = 10 * S;
	/* Errors while open change nothing: the service is left alone. */
	v.window_errors = 100;
	assert_int_equal(sl_breaker_next(&v, 10 * S), SL_BRK_OPEN);
	assert_int_equal(sl_breaker_next(&v, 12 * S - 1), SL_BRK_OPEN);
	assert_int_equal(sl_breaker_next(&v, 12 * S), SL_BRK_HALF_OPEN);
}

static void test_half_open_closes_when_k_probes_succeeded(void **state)
{
	struct sl_breaker_view v = closed;

	v.state = SL_BRK_HALF_OPEN;
	v.since_ns = 10 * S;
	assert_int_equal(sl_breaker_next(&v, 100 * S), SL_BRK_HALF_OPEN);
	v.probes_ok = 1;
	assert_int_equal(sl_breaker_next(&v, 100 * S), SL_BRK_HALF_OPEN);
	/* Errors of connections older than the probes are not theirs. */
	v.window_errors = 100;
	assert_int_equal(sl_breaker_next(&v, 100 * S), SL_BRK_HALF_OPEN);
	v.probes_ok = 2;
	assert_int_equal(sl_breaker_next(&v, 100 * S), SL_BRK_CLOSED);
}

static void test_half_open_reopens_on_a_failed_or_unanswered_probe(void **state)
{
	struct sl_breaker_view v = closed;

	v.state = SL_BRK_HALF_OPEN;
	v.probes_ok = 1;
	v.probes_failed = 1;
	assert_int_equal(sl_breaker_next(&v, 100 * S), SL_BRK_OPEN);
	v.probes_failed = 0;
	v.probes_timed_out = 1;
	assert_int_equal(sl_breaker_next(&v, 100 * S), SL_BRK_OPEN);
	/* A failure weighs more than enough successes in the same round. */
	v.probes_ok = 2;
	assert_int_equal(sl_breaker_next(&v, 100 * S), SL_BRK_OPEN);
}

static char *render(void (*print)(FILE *, const struct sl_breaker_stats *,
				  unsigned, __u64),
		    const struct sl_breaker_stats *b, unsigned n, __u64 now)
{
	char *buf = NULL, *out;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	print(f, b, n, now);
	fclose(f);
	out = strdup(buf);
	free(buf);
	return out;
}

static void fill(struct sl_breaker_stats *b)
{
	memset(b, 0, 2 * sizeof(*b));
	strcpy(b[0].name, "api");
	b[0].port = 8080;
	b[0].state = SL_BRK_OPEN;
	b[0].since_ns = 100 * S;
	b[0].errors = 5;
	b[0].within_ns = 2 * S;
	b[0].open_ns = 3 * S;
	b[0].probes = 2;
	b[0].transitions[SL_BRK_OPEN] = 1;
	b[0].c = (struct sl_breaker_counter){
		.rsts = 1, .http_5xx = 4, .responses = 9, .refused = 7,
	};
	strcpy(b[1].name, "db");
	b[1].port = 5432;
	b[1].state = SL_BRK_HALF_OPEN;
	b[1].since_ns = 100 * S;
	b[1].probes = 3;
	b[1].probes_left = 1;
}

static void test_json_has_state_definition_and_counters(void **state)
{
	struct sl_breaker_stats b[2];
	char *out;

	fill(b);
	out = render(breakers__print_json, b, 1, 101500 * MS);
	assert_string_equal(out,
		"\"breakers\":[{\"name\":\"api\",\"service\":\"tcp/8080\",\"state\":\"open\","
		"\"for_s\":1.500,\"errors\":5,\"within_s\":2.000,\"open_s\":3.000,"
		"\"probes\":2,\"probes_left\":0,\"counters\":{\"rsts\":1,\"http_5xx\":4,"
		"\"responses\":9,\"refused\":7,\"probes_ok\":0,\"probes_failed\":0,"
		"\"probes_timed_out\":0},\"transitions\":{\"closed\":0,\"open\":1,"
		"\"half_open\":0}}]");
	free(out);
	out = render(breakers__print_json, b, 0, 0);
	assert_string_equal(out, "\"breakers\":[]");
	free(out);
}

static void test_text_says_when_open_ends_and_what_probes_are_left(void **state)
{
	struct sl_breaker_stats b[2];
	char *out;

	fill(b);
	out = render(breakers__print_text, b, 2, 101500 * MS);
	assert_string_equal(out,
		"  breaker api (tcp/8080): open for 1.5s, half-open in 1.5s; errors 1 rst + 4 http 5xx, refused 7, opened 1 times\n"
		"  breaker db (tcp/5432): half_open for 1.5s, 1 of 3 probes left; errors 0 rst + 0 http 5xx, refused 0, opened 0 times\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_status_reads_http_1_0_and_1_1_status_lines),
		cmocka_unit_test(test_http_status_refuses_what_is_not_a_status_line),
		cmocka_unit_test(test_window_counts_errors_of_the_last_within),
		cmocka_unit_test(test_window_never_counts_errors_spread_over_more_than_within),
		cmocka_unit_test(test_window_of_an_hour_keeps_its_first_sample),
		cmocka_unit_test(test_window_after_a_stall_starts_from_now),
		cmocka_unit_test(test_closed_opens_at_n_errors_within_the_window),
		cmocka_unit_test(test_open_turns_half_open_after_the_open_time),
		cmocka_unit_test(test_half_open_closes_when_k_probes_succeeded),
		cmocka_unit_test(test_half_open_reopens_on_a_failed_or_unanswered_probe),
		cmocka_unit_test(test_json_has_state_definition_and_counters),
		cmocka_unit_test(test_text_says_when_open_ends_and_what_probes_are_left),
	};

	return cmocka_run_group_tests_name("breaker-logic", tests, NULL, NULL);
}
