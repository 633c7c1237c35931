// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Bans and events without a kernel: the "ban" clause and the event-limit
 * statement (values, defaults, every error word for word), the doubling
 * of ban durations, and the log's sentences and JSON members for every
 * kind of event.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "events.h"
#include "sluice_limiter.h"

#define SRC	"rules.conf"
#define LINE	7

#define MS	1000000ull
#define S	(1000 * MS)
#define H	(3600 * S)
#define D	(24 * H)

static struct sl_error err;

static const struct sl_rule_spec *rule(struct sl_config *cfg, const char *text)
{
	config_init(cfg);
	if (config_parse_line(cfg, text, SRC, LINE, &err))
		fail_msg("%s: %s", text, err.msg);
	assert_int_equal(cfg->n_rules, 1);
	return &cfg->rules[0];
}

/* The statement fails with exactly msg and adds nothing. */
static void assert_error(const char *text, const char *msg)
{
	struct sl_config cfg;

	config_init(&cfg);
	memset(&err, 0, sizeof(err));
	assert_int_equal(config_parse_line(&cfg, text, SRC, LINE, &err), -EINVAL);
	assert_string_equal(err.msg, msg);
	assert_int_equal(cfg.n_rules, 0);
	assert_int_equal(cfg.event_limit.count, 0);
	config_free(&cfg);
}

/* ------------------------------------------------------------------------ */
/* The ban clause                                                            */
/* ------------------------------------------------------------------------ */

static void test_ban_clause_sets_threshold_window_duration_and_max(void **state)
{
	static const struct {
		const char *text;
		uint32_t after;
		uint64_t within, dur, max;
	} cases[] = {
		/* max defaults to a day... */
		{ "rule x rate 1/s ban after 3 within 2s for 2s", 3, 2 * S, 2 * S, D },
		/* ...or to "for" when that is longer. */
		{ "rule x rate 1/s ban after 1 within 1ms for 365d", 1, MS, 365 * D, 365 * D },
		{ "rule x ban after 20 within 1m for 10m max 2h rate 10/m", 20, 60 * S, 600 * S, 2 * H },
		{ "rule x rate 1/s ban after 1048575 within 78h for 1s max 1s", 1048575, 78 * H, S, S },
		{ "rule x rate 1/s ban after 5 within 1500ms for 90s max 365d", 5, 1500 * MS, 90 * S, 365 * D },
	};
	struct sl_config cfg;
	const struct sl_rule_spec *r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = rule(&cfg, cases[i].text);
		assert_int_equal(r->ban_after, cases[i].after);
		assert_int_equal(r->ban_within_ns, cases[i].within);
		assert_int_equal(r->ban_for_ns, cases[i].dur);
		assert_int_equal(r->ban_max_ns, cases[i].max);
		config_free(&cfg);
	}
}

static void test_rule_without_ban_has_none(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r = rule(&cfg, "rule x rate 1/s");

	assert_int_equal(r->ban_after, 0);
	assert_null(strstr(r->text, "ban"));
	config_free(&cfg);
}

static void test_ban_takes_prefix_keys_and_every_action(void **state)
{
	struct sl_config cfg;

	rule(&cfg, "rule x key src prefix4 24 prefix6 64 rate 1/s ban after 3 within 2s for 2s action pass");
	assert_int_equal(cfg.rules[0].prefix4, 24);
	assert_int_equal(cfg.rules[0].action, SL_ACT_PASS);
	config_free(&cfg);
	rule(&cfg, "rule x rate 1/s action mark 5 ban after 3 within 2s for 2s");
	config_free(&cfg);
	rule(&cfg, "rule x conns 5 action reject ban after 3 within 2s for 2s");
	config_free(&cfg);
}

static void test_ban_canonical_text_spells_out_max(void **state)
{
	struct sl_config cfg;

	rule(&cfg, "rule x ban after 3 within 120s for 2s rate 1/s");
	assert_string_equal(cfg.rules[0].text,
			    "rule x key src prefix4 32 prefix6 128 rate 1/s burst 1 action drop ban after 3 within 2m for 2s max 1d");
	config_free(&cfg);
	rule(&cfg, "rule x rate 1/s ban after 3 within 2s for 90000ms max 36h");
	assert_string_equal(cfg.rules[0].text,
			    "rule x key src prefix4 32 prefix6 128 rate 1/s burst 1 action drop ban after 3 within 2s for 90s max 36h");
	config_free(&cfg);
}

static void test_ban_syntax_errors(void **state)
{
	assert_error("rule x rate 1/s ban",
		     "rules.conf:7:20: expected \"after\" (ban after N within DUR for DUR [max DUR]), got end of line");
	assert_error("rule x rate 1/s ban 3 within 2s for 2s",
		     "rules.conf:7:21: expected \"after\" (ban after N within DUR for DUR [max DUR]), got \"3\"");
	assert_error("rule x rate 1/s ban after",
		     "rules.conf:7:26: expected a count of limited packets after \"after\", got end of line");
	assert_error("rule x rate 1/s ban after three within 2s for 2s",
		     "rules.conf:7:27: expected a count of limited packets after \"after\", got \"three\"");
	assert_error("rule x rate 1/s ban after 3 for 2s",
		     "rules.conf:7:29: expected \"within\" (ban after N within DUR for DUR [max DUR]), got \"for\"");
	assert_error("rule x rate 1/s ban after 3 within",
		     "rules.conf:7:35: expected a duration like 10s or 5m after \"within\", got end of line");
	assert_error("rule x rate 1/s ban after 3 within 2 for 2s",
		     "rules.conf:7:36: expected a duration like 10s or 5m after \"within\", got \"2\"");
	assert_error("rule x rate 1/s ban after 3 within 2s",
		     "rules.conf:7:38: expected \"for\" (ban after N within DUR for DUR [max DUR]), got end of line");
	assert_error("rule x rate 1/s ban after 3 within 2s during 2s",
		     "rules.conf:7:39: expected \"for\" (ban after N within DUR for DUR [max DUR]), got \"during\"");
	assert_error("rule x rate 1/s ban after 3 within 2s for",
		     "rules.conf:7:42: expected a duration like 10s or 5m after \"for\", got end of line");
	assert_error("rule x rate 1/s ban after 3 within 2s for ever",
		     "rules.conf:7:43: expected a duration like 10s or 5m after \"for\", got \"ever\"");
	assert_error("rule x rate 1/s ban after 3 within 2s for 2s max",
		     "rules.conf:7:49: expected a duration like 10s or 5m after \"max\", got end of line");
	assert_error("rule x rate 1/s ban after 3 within 2s for 2s max 1y",
		     "rules.conf:7:50: expected a duration like 10s or 5m after \"max\", got \"1y\"");
	/* What follows a complete ban is the next clause. */
	assert_error("rule x rate 1/s ban after 3 within 2s for 2s maximum 4s",
		     "rules.conf:7:46: expected one of family, proto, dport, syn, from, key, rate, burst, window, conns, scope, action, ban, warmup, on-full, got \"maximum\"");
}

static void test_ban_bounds(void **state)
{
	assert_error("rule x rate 1/s ban after 0 within 2s for 2s",
		     "rules.conf:7:27: ban after must be 1..1048575, got \"0\"");
	assert_error("rule x rate 1/s ban after 1048576 within 2s for 2s",
		     "rules.conf:7:27: ban after must be 1..1048575, got \"1048576\"");
	assert_error("rule x rate 1/s ban after 99999999999999999999999 within 2s for 2s",
		     "rules.conf:7:27: ban after must be 1..1048575, got \"99999999999999999999999\"");
	assert_error("rule x rate 1/s ban after 3 within 0s for 2s",
		     "rules.conf:7:36: ban within must be 1ms..78h, got \"0s\"");
	assert_error("rule x rate 1/s ban after 3 within 79h for 2s",
		     "rules.conf:7:36: ban within must be 1ms..78h, got \"79h\"");
	assert_error("rule x rate 1/s ban after 3 within 2s for 999ms",
		     "rules.conf:7:43: ban for must be 1s..365d, got \"999ms\"");
	assert_error("rule x rate 1/s ban after 3 within 2s for 366d",
		     "rules.conf:7:43: ban for must be 1s..365d, got \"366d\"");
	assert_error("rule x rate 1/s ban after 3 within 2s for 2s max 366d",
		     "rules.conf:7:50: ban max must be 1s..365d, got \"366d\"");
	assert_error("rule x rate 1/s ban after 3 within 2s for 10s max 5s",
		     "rules.conf:7:51: ban max must be at least the ban's \"for\", got \"5s\"");
}

static void test_ban_needs_key_src(void **state)
{
	/* Reported at whichever clause makes the conflict. */
	assert_error("rule x proto udp key dport rate 1/s ban after 3 within 2s for 2s",
		     "rules.conf:7:37: ban needs key src, not key dport");
	assert_error("rule x rate 1/s ban after 3 within 2s for 2s key global",
		     "rules.conf:7:46: ban needs key src, not key global");
	assert_error("rule x rate 1/s ban after 3 within 2s for 2s ban after 4 within 2s for 2s",
		     "rules.conf:7:46: \"ban\" given twice");
}

/* The data path looks bans up at 4 prefix lengths per family at most. */
static void test_ban_rules_use_at_most_four_prefix_lengths_per_family(void **state)
{
	struct sl_config cfg;
	char line[160];
	unsigned i;

	config_init(&cfg);
	for (i = 0; i < 4; i++) {
		snprintf(line, sizeof(line),
			 "rule r%u key src prefix4 %u rate 1/s ban after 3 within 2s for 2s",
			 i, 32 - i);
		assert_int_equal(config_parse_line(&cfg, line, SRC, i + 1, &err), 0);
	}
	/* A length already in use is free; a rule without ban is too. */
	assert_int_equal(config_parse_line(&cfg, "rule same key src prefix4 31 rate 1/s ban after 1 within 1s for 1s",
					   SRC, 5, &err), 0);
	assert_int_equal(config_parse_line(&cfg, "rule noban key src prefix4 8 rate 1/s",
					   SRC, 6, &err), 0);
	/* IPv4 only: its prefix6 adds no IPv6 length. */
	assert_int_equal(config_parse_line(&cfg, "rule v4 family ip4 key src prefix4 32 prefix6 48 rate 1/s ban after 1 within 1s for 1s",
					   SRC, 7, &err), 0);
	assert_int_equal(config_parse_line(&cfg, "rule fifth key src prefix4 8 rate 1/s ban after 3 within 2s for 2s",
					   SRC, 8, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "rules.conf:8:39: rules with bans may use at most 4 different prefix4 lengths");
	for (i = 0; i < 3; i++) {
		snprintf(line, sizeof(line),
			 "rule s%u family ip6 key src prefix6 %u rate 1/s ban after 3 within 2s for 2s",
			 i, 64 - i);
		assert_int_equal(config_parse_line(&cfg, line, SRC, 9 + i, &err), 0);
	}
	/* IPv6 has /128 from the rules of both families, and /64, /63, /62. */
	assert_int_equal(config_parse_line(&cfg, "rule s9 family ip6 key src prefix6 48 rate 1/s ban after 3 within 2s for 2s",
					   SRC, 12, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "rules.conf:12:48: rules with bans may use at most 4 different prefix6 lengths");
	assert_int_equal(cfg.n_rules, 10);
	config_free(&cfg);
}

static void test_ban_error_on_the_command_line_names_the_argument(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(config_parse_line(&cfg, "rule x rate 1/s ban after 3 within 2s for 2s max 1s",
					   NULL, 0, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "argument 13: ban max must be at least the ban's \"for\", got \"1s\"");
	config_free(&cfg);
}

/* ------------------------------------------------------------------------ */
/* event-limit                                                               */
/* ------------------------------------------------------------------------ */

static void test_event_limit_sets_an_event_rate_and_burst(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(config_parse_line(&cfg, "event-limit 20/s burst 50", SRC, LINE, &err), 0);
	assert_int_equal(cfg.event_limit.kind, SL_LIMIT_RATE);
	assert_int_equal(cfg.event_limit.unit, SL_UNIT_PACKETS);
	assert_int_equal(cfg.event_limit.count, 20);
	assert_int_equal(cfg.event_limit.period_ns, S);
	assert_int_equal(cfg.event_limit.burst, 50);
	config_free(&cfg);
	/* Without burst: 100 ms worth, at least one. */
	assert_int_equal(config_parse_line(&cfg, "event-limit 10/m", SRC, LINE, &err), 0);
	assert_int_equal(cfg.event_limit.count, 10);
	assert_int_equal(cfg.event_limit.period_ns, 60 * S);
	assert_int_equal(cfg.event_limit.burst, 1);
	config_free(&cfg);
}

static void test_event_limit_errors(void **state)
{
	assert_error("event-limit",
		     "rules.conf:7:12: expected an event rate like 100/s after \"event-limit\", got end of line");
	assert_error("event-limit many",
		     "rules.conf:7:13: expected an event rate like 100/s after \"event-limit\", got \"many\"");
	assert_error("event-limit 1MB/s",
		     "rules.conf:7:13: event-limit counts events, not bytes, got \"1MB/s\"");
	assert_error("event-limit 0/s",
		     "rules.conf:7:13: rate \"0/s\" must allow 1..1099511627776 units per period");
	assert_error("event-limit 100/s burst",
		     "rules.conf:7:24: expected a packet count after \"burst\", got end of line");
	assert_error("event-limit 100/s burst 0",
		     "rules.conf:7:25: burst must be 1..1099511627776, got \"0\"");
	assert_error("event-limit 100/s bursts 5",
		     "rules.conf:7:19: expected \"burst\" or end of line, got \"bursts\"");
	assert_error("event-limit 100/s burst 5 extra",
		     "rules.conf:7:27: expected end of line, got \"extra\"");
}

static void test_event_limit_given_twice(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(config_parse_line(&cfg, "event-limit 100/s", SRC, 1, &err), 0);
	assert_int_equal(config_parse_line(&cfg, "event-limit 5/s", SRC, 2, &err), -EINVAL);
	assert_string_equal(err.msg, "rules.conf:2:1: \"event-limit\" given twice");
	assert_int_equal(cfg.event_limit.count, 100);
	config_free(&cfg);
}

/* ------------------------------------------------------------------------ */
/* Doubling                                                                  */
/* ------------------------------------------------------------------------ */

static void test_ban_duration_doubles_per_offence_up_to_max(void **state)
{
	assert_int_equal(sl_ban_duration(2 * S, 5 * S, 0), 2 * S);
	assert_int_equal(sl_ban_duration(2 * S, 5 * S, 1), 2 * S);
	assert_int_equal(sl_ban_duration(2 * S, 5 * S, 2), 4 * S);
	assert_int_equal(sl_ban_duration(2 * S, 5 * S, 3), 5 * S);
	assert_int_equal(sl_ban_duration(2 * S, 5 * S, 4), 5 * S);
	assert_int_equal(sl_ban_duration(10 * 60 * S, D, 8), 1280 * 60 * S);
	assert_int_equal(sl_ban_duration(10 * 60 * S, D, 9), D);
	/* Exactly max is reached, not passed. */
	assert_int_equal(sl_ban_duration(S, 8 * S, 4), 8 * S);
	/* Shifts that would overflow saturate at max. */
	assert_int_equal(sl_ban_duration(S, 365 * D, 63), 365 * D);
	assert_int_equal(sl_ban_duration(S, 365 * D, 64), 365 * D);
	assert_int_equal(sl_ban_duration(S, 365 * D, 65), 365 * D);
	assert_int_equal(sl_ban_duration(S, 365 * D, 0xffffffffu), 365 * D);
	assert_int_equal(sl_ban_duration(365 * D, 365 * D, 2), 365 * D);
	assert_int_equal(sl_ban_duration(3 * S, 2 * S, 1), 2 * S);
}

/* ------------------------------------------------------------------------ */
/* Events in the log                                                         */
/* ------------------------------------------------------------------------ */

static struct sl_event event(__u32 type, const char *name, const char *addr,
			     __u8 prefixlen)
{
	struct sl_event ev = { .type = type, .key_type = SL_KEY_SRC,
			       .prefixlen = prefixlen };

	snprintf(ev.name, sizeof(ev.name), "%s", name);
	if (strchr(addr, ':')) {
		ev.family = SL_FAM_IP6;
		assert_int_equal(inet_pton(AF_INET6, addr, ev.addr), 1);
	} else {
		ev.family = SL_FAM_IP4;
		assert_int_equal(inet_pton(AF_INET, addr, ev.addr), 1);
	}
	return ev;
}

static void assert_event(const struct sl_event *ev, const char *name,
			 const char *msg, const char *json)
{
	char text[512], *fields = NULL;
	size_t len = 0;
	FILE *f;

	assert_string_equal(events__name(ev), name);
	events__message(ev, text, sizeof(text));
	assert_string_equal(text, msg);
	f = open_memstream(&fields, &len);
	assert_non_null(f);
	events__json_fields(f, ev);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(fields, json);
	free(fields);
}

static void test_limited_event_in_words_and_json(void **state)
{
	struct sl_event ev = event(SL_EV_LIMITED, "api", "192.0.2.1", 32);

	ev.reason = SL_CNT_RATE;
	assert_event(&ev, "limited", "rule api started limiting 192.0.2.1 (rate)",
		     ",\"rule\":\"api\",\"key\":\"192.0.2.1\",\"reason\":\"rate\",\"dry_run\":false");

	ev = event(SL_EV_LIMITED, "v6", "2001:db8::", 64);
	ev.reason = SL_CNT_CONNS;
	ev.flags = SL_EV_DRY;
	assert_event(&ev, "limited",
		     "rule v6 started limiting 2001:db8::/64 (conns) (dry run: counted, nothing dropped)",
		     ",\"rule\":\"v6\",\"key\":\"2001:db8::/64\",\"reason\":\"conns\",\"dry_run\":true");

	ev = (struct sl_event){ .type = SL_EV_LIMITED, .key_type = SL_KEY_DPORT,
				.addr = { 0, 53 }, .reason = SL_CNT_WINDOW };
	strcpy(ev.name, "dns");
	assert_event(&ev, "limited", "rule dns started limiting dport 53 (window)",
		     ",\"rule\":\"dns\",\"key\":\"dport 53\",\"reason\":\"window\",\"dry_run\":false");

	ev = (struct sl_event){ .type = SL_EV_LIMITED, .key_type = SL_KEY_GLOBAL,
				.reason = SL_CNT_CAS_EXHAUSTED };
	assert_event(&ev, "limited", "a rule since removed started limiting global (contention)",
		     ",\"rule\":null,\"key\":\"global\",\"reason\":\"contention\",\"dry_run\":false");
}

static void test_ban_events_in_words_and_json(void **state)
{
	struct sl_event ev = event(SL_EV_BAN_START, "ssh", "198.51.100.7", 32);

	ev.duration_ns = 4 * S;
	ev.offences = 2;
	assert_event(&ev, "ban_start", "banned 198.51.100.7 for 4s (rule ssh, offence 2)",
		     ",\"rule\":\"ssh\",\"origin\":\"rule\",\"address\":\"198.51.100.7\",\"duration_ms\":4000,\"offences\":2,\"dry_run\":false");

	ev.flags = SL_EV_DRY;
	ev.duration_ns = 90 * S + 500 * MS;
	assert_event(&ev, "ban_start",
		     "banned 198.51.100.7 for 90500ms (rule ssh, offence 2) (dry run: counted, nothing dropped)",
		     ",\"rule\":\"ssh\",\"origin\":\"rule\",\"address\":\"198.51.100.7\",\"duration_ms\":90500,\"offences\":2,\"dry_run\":true");

	ev = event(SL_EV_BAN_END, "ssh", "2001:db8::5", 128);
	ev.duration_ns = 10 * 60 * S;
	ev.offences = 1;
	assert_event(&ev, "ban_end", "ban of 2001:db8::5 ended after 10m (rule ssh, offence 1)",
		     ",\"rule\":\"ssh\",\"origin\":\"rule\",\"address\":\"2001:db8::5\",\"duration_ms\":600000,\"offences\":1,\"dry_run\":false");

	ev = event(SL_EV_BAN_END, "", "10.0.0.0", 8);
	ev.flags = SL_EV_MANUAL;
	ev.duration_ns = H;
	assert_event(&ev, "ban_end", "ban of 10.0.0.0/8 ended after 1h (manual)",
		     ",\"rule\":null,\"origin\":\"manual\",\"address\":\"10.0.0.0/8\",\"duration_ms\":3600000,\"offences\":0,\"dry_run\":false");

	ev = event(SL_EV_BAN_END, "", "192.0.2.1", 32);
	ev.duration_ns = 2 * S;
	ev.offences = 3;
	assert_event(&ev, "ban_end", "ban of 192.0.2.1 ended after 2s (a rule since removed, offence 3)",
		     ",\"rule\":null,\"origin\":\"rule\",\"address\":\"192.0.2.1\",\"duration_ms\":2000,\"offences\":3,\"dry_run\":false");
}

/* A name may use every one of its 32 bytes; JSON escapes what it must. */
static void test_event_names_full_length_and_escaped(void **state)
{
	struct sl_event ev = event(SL_EV_BAN_START, "", "192.0.2.1", 32);

	ev.duration_ns = 2 * S;
	ev.offences = 1;
	memset(ev.name, 'n', sizeof(ev.name));
	assert_event(&ev, "ban_start",
		     "banned 192.0.2.1 for 2s (rule nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn, offence 1)",
		     ",\"rule\":\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\",\"origin\":\"rule\",\"address\":\"192.0.2.1\",\"duration_ms\":2000,\"offences\":1,\"dry_run\":false");
	strcpy(ev.name, "a\"b\\c");
	assert_event(&ev, "ban_start", "banned 192.0.2.1 for 2s (rule a\"b\\c, offence 1)",
		     ",\"rule\":\"a\\\"b\\\\c\",\"origin\":\"rule\",\"address\":\"192.0.2.1\",\"duration_ms\":2000,\"offences\":1,\"dry_run\":false");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ban_clause_sets_threshold_window_duration_and_max),
		cmocka_unit_test(test_rule_without_ban_has_none),
		cmocka_unit_test(test_ban_takes_prefix_keys_and_every_action),
		cmocka_unit_test(test_ban_canonical_text_spells_out_max),
		cmocka_unit_test(test_ban_syntax_errors),
		cmocka_unit_test(test_ban_bounds),
		cmocka_unit_test(test_ban_needs_key_src),
		cmocka_unit_test(test_ban_rules_use_at_most_four_prefix_lengths_per_family),
		cmocka_unit_test(test_ban_error_on_the_command_line_names_the_argument),
		cmocka_unit_test(test_event_limit_sets_an_event_rate_and_burst),
		cmocka_unit_test(test_event_limit_errors),
		cmocka_unit_test(test_event_limit_given_twice),
		cmocka_unit_test(test_ban_duration_doubles_per_offence_up_to_max),
		cmocka_unit_test(test_limited_event_in_words_and_json),
		cmocka_unit_test(test_ban_events_in_words_and_json),
		cmocka_unit_test(test_event_names_full_length_and_escaped),
	};

	return cmocka_run_group_tests_name("bans", tests, NULL, NULL);
}
