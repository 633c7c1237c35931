// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The rule language parser: every statement, every clause, the defaults,
 * the canonical text, and every error message word for word, since users
 * and scripts read them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "config.h"

#define SRC	"rules.conf"
#define LINE	7

#define MS	1000000ull
#define S	(1000 * MS)

static struct sl_error err;

static int parse(struct sl_config *cfg, const char *text)
{
	return config_parse_line(cfg, text, SRC, LINE, &err);
}

/* Parses one rule into a fresh config; the caller frees cfg. */
static const struct sl_rule_spec *rule(struct sl_config *cfg, const char *text)
{
	config_init(cfg);
	if (parse(cfg, text))
		fail_msg("%s: %s", text, err.msg);
	assert_int_equal(cfg->n_rules, 1);
	return &cfg->rules[0];
}

static void assert_empty(const struct sl_config *cfg)
{
	assert_string_equal(cfg->iface, "");
	assert_int_equal(cfg->mode, SL_MODE_UNSET);
	assert_false(cfg->malformed_set);
	assert_int_equal(cfg->keys, 0);
	assert_int_equal(cfg->key_timeout_ns, 0);
	assert_int_equal(cfg->half_open_ns, 0);
	assert_int_equal(cfg->established_ns, 0);
	assert_int_equal(cfg->reject_limit.count, 0);
	assert_int_equal(cfg->reject_limit.burst, 0);
	assert_int_equal(cfg->event_limit.count, 0);
	assert_string_equal(cfg->metrics, "");
	assert_int_equal(cfg->n_rules, 0);
	assert_int_equal(cfg->n_breakers, 0);
	assert_int_equal(cfg->n_allow, 0);
	assert_int_equal(cfg->n_deny, 0);
}

/* A statement on its own line 7 of rules.conf fails with exactly msg. */
static void assert_error(const char *text, const char *msg)
{
	struct sl_config cfg;

	config_init(&cfg);
	memset(&err, 0, sizeof(err));
	assert_int_equal(parse(&cfg, text), -EINVAL);
	assert_string_equal(err.msg, msg);
	assert_empty(&cfg);
	config_free(&cfg);
}

static void assert_cli_error(const char *text, const char *msg)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(config_parse_line(&cfg, text, NULL, 0, &err), -EINVAL);
	assert_string_equal(err.msg, msg);
	assert_empty(&cfg);
	config_free(&cfg);
}

static void assert_cidr(const struct sl_cidr *c, const char *text)
{
	char buf[64];

	config_format_cidr(c, buf, sizeof(buf));
	assert_string_equal(buf, text);
}

static void write_file(char *path, const char *content)
{
	int fd;

	strcpy(path, "/tmp/sluice-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
			 (ssize_t)strlen(content));
	close(fd);
}

/* Statements. */

static void test_blank_and_comment_lines_change_nothing(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(parse(&cfg, ""), 0);
	assert_int_equal(parse(&cfg, "   \t \r\n"), 0);
	assert_int_equal(parse(&cfg, "# interface eth0"), 0);
	assert_int_equal(parse(&cfg, "   # indented comment"), 0);
	assert_empty(&cfg);
	config_free(&cfg);
}

static void test_comment_ends_the_statement_anywhere(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(parse(&cfg, "malformed drop # but count it"), 0);
	assert_int_equal(parse(&cfg, "interface eth0#uplink"), 0);
	assert_string_equal(cfg.iface, "eth0");
	assert_int_equal(cfg.malformed, SL_MALFORMED_DROP);
	config_free(&cfg);
}

static void test_interface_sets_name_and_mode(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(parse(&cfg, "interface eth0"), 0);
	assert_string_equal(cfg.iface, "eth0");
	assert_int_equal(cfg.mode, SL_MODE_UNSET);
	config_free(&cfg);

	assert_int_equal(parse(&cfg, "interface eth0123456789ab mode native"), 0);
	assert_string_equal(cfg.iface, "eth0123456789ab");
	assert_int_equal(cfg.mode, SL_MODE_NATIVE);
	config_free(&cfg);

	assert_int_equal(parse(&cfg, "\tinterface  veth-gw.10   mode generic "), 0);
	assert_string_equal(cfg.iface, "veth-gw.10");
	assert_int_equal(cfg.mode, SL_MODE_GENERIC);
	config_free(&cfg);
}

static void test_interface_errors(void **state)
{
	assert_error("interface",
		     "rules.conf:7:10: expected an interface name after \"interface\", got end of line");
	assert_error("interface eth0123456789abc",
		     "rules.conf:7:11: interface name \"eth0123456789abc\" is longer than 15 characters");
	assert_error("interface a/b",
		     "rules.conf:7:11: expected an interface name after \"interface\", got \"a/b\"");
	assert_error("interface eth0:1",
		     "rules.conf:7:11: expected an interface name after \"interface\", got \"eth0:1\"");
	assert_error("interface ..",
		     "rules.conf:7:11: expected an interface name after \"interface\", got \"..\"");
	assert_error("interface eth0 speed fast",
		     "rules.conf:7:16: expected \"mode\" or end of line, got \"speed\"");
	assert_error("interface eth0 mode",
		     "rules.conf:7:20: expected native or generic after \"mode\", got end of line");
	assert_error("interface eth0 mode turbo",
		     "rules.conf:7:21: expected native or generic after \"mode\", got \"turbo\"");
	assert_error("interface eth0 mode native extra",
		     "rules.conf:7:28: expected end of line, got \"extra\"");
}

static void test_malformed_sets_policy(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(parse(&cfg, "malformed drop"), 0);
	assert_true(cfg.malformed_set);
	assert_int_equal(cfg.malformed, SL_MALFORMED_DROP);
	config_free(&cfg);

	assert_int_equal(parse(&cfg, "malformed pass"), 0);
	assert_true(cfg.malformed_set);
	assert_int_equal(cfg.malformed, SL_MALFORMED_PASS);
	config_free(&cfg);
}

static void test_malformed_errors(void **state)
{
	assert_error("malformed",
		     "rules.conf:7:10: expected pass or drop after \"malformed\", got end of line");
	assert_error("malformed maybe",
		     "rules.conf:7:11: expected pass or drop after \"malformed\", got \"maybe\"");
	assert_error("malformed pass drop",
		     "rules.conf:7:16: expected end of line, got \"drop\"");
}

static void test_keys_accepts_plain_k_and_M(void **state)
{
	static const struct {
		const char *text;
		uint32_t keys;
	} cases[] = {
		{ "keys 1024", 1024 },
		{ "keys 262144", 262144 },
		{ "keys 256k", 262144 },
		{ "keys 1k", 1024 },
		{ "keys 64", 64 },
		{ "keys 16M", 16777216 },
		{ "keys 16777216", 16777216 },
	};
	struct sl_config cfg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_init(&cfg);
		assert_int_equal(parse(&cfg, cases[i].text), 0);
		assert_int_equal(cfg.keys, cases[i].keys);
		config_free(&cfg);
	}
}

static void test_keys_errors(void **state)
{
	assert_error("keys",
		     "rules.conf:7:5: expected a key count like 262144 or 256k after \"keys\", got end of line");
	assert_error("keys lots",
		     "rules.conf:7:6: expected a key count like 262144 or 256k after \"keys\", got \"lots\"");
	assert_error("keys 256K",
		     "rules.conf:7:6: expected a key count like 262144 or 256k after \"keys\", got \"256K\"");
	assert_error("keys 63",
		     "rules.conf:7:6: keys must be 64..16777216, got \"63\"");
	assert_error("keys 17M",
		     "rules.conf:7:6: keys must be 64..16777216, got \"17M\"");
	assert_error("keys 99999999999999999999999k",
		     "rules.conf:7:6: keys must be 64..16777216, got \"99999999999999999999999k\"");
	assert_error("keys 1M 2M",
		     "rules.conf:7:9: expected end of line, got \"2M\"");
}

static void test_refusals_takes_a_power_of_two(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(parse(&cfg, "refusals 64k"), 0);
	assert_int_equal(cfg.refusals, 65536);
	config_free(&cfg);
	config_init(&cfg);
	assert_int_equal(parse(&cfg, "refusals 1024"), 0);
	assert_int_equal(cfg.refusals, 1024);
	config_free(&cfg);

	assert_error("refusals",
		     "rules.conf:7:9: expected a slot count like 16384 or 64k after \"refusals\", got end of line");
	assert_error("refusals 3000",
		     "rules.conf:7:10: refusals must be a power of two 1024..16777216, got \"3000\"");
	assert_error("refusals 512",
		     "rules.conf:7:10: refusals must be a power of two 1024..16777216, got \"512\"");
	assert_error("refusals 32M",
		     "rules.conf:7:10: refusals must be a power of two 1024..16777216, got \"32M\"");
}

static void test_key_timeout_takes_a_duration_1s_to_1d(void **state)
{
	static const struct {
		const char *text;
		uint64_t ns;
	} cases[] = {
		{ "key-timeout 10s", 10 * S },
		{ "key-timeout 1s", S },
		{ "key-timeout 1000ms", S },
		{ "key-timeout 5m", 300 * S },
		{ "key-timeout 24h", 86400 * S },
		{ "key-timeout 1d", 86400 * S },
	};
	struct sl_config cfg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_init(&cfg);
		if (parse(&cfg, cases[i].text))
			fail_msg("%s: %s", cases[i].text, err.msg);
		assert_int_equal(cfg.key_timeout_ns, cases[i].ns);
		config_free(&cfg);
	}
	/* Left out, it reads 0 and the controller applies the default. */
	config_init(&cfg);
	assert_int_equal(parse(&cfg, "rule a rate 1/s"), 0);
	assert_int_equal(cfg.key_timeout_ns, 0);
	config_free(&cfg);
	assert_int_equal(SL_DEFAULT_KEY_TIMEOUT_NS, 10 * S);
}

static void test_key_timeout_errors(void **state)
{
	assert_error("key-timeout",
		     "rules.conf:7:12: expected a duration like 10s or 1m after \"key-timeout\", got end of line");
	assert_error("key-timeout soon",
		     "rules.conf:7:13: expected a duration like 10s or 1m after \"key-timeout\", got \"soon\"");
	assert_error("key-timeout 10",
		     "rules.conf:7:13: expected a duration like 10s or 1m after \"key-timeout\", got \"10\"");
	assert_error("key-timeout 999ms",
		     "rules.conf:7:13: key-timeout must be 1s..1d, got \"999ms\"");
	assert_error("key-timeout 0s",
		     "rules.conf:7:13: key-timeout must be 1s..1d, got \"0s\"");
	assert_error("key-timeout 25h",
		     "rules.conf:7:13: key-timeout must be 1s..1d, got \"25h\"");
	assert_error("key-timeout 99999999999999999999d",
		     "rules.conf:7:13: key-timeout must be 1s..1d, got \"99999999999999999999d\"");
	assert_error("key-timeout 10s 20s",
		     "rules.conf:7:17: expected end of line, got \"20s\"");
}

static void test_conn_timeout_sets_half_open_and_established(void **state)
{
	static const struct {
		const char *text;
		uint64_t half_open_ns, established_ns;
	} cases[] = {
		{ "conn-timeout half-open 30s", 30 * S, 0 },
		{ "conn-timeout established 5m", 0, 300 * S },
		{ "conn-timeout half-open 2s established 30d", 2 * S,
		  30 * 86400 * S },
		{ "conn-timeout established 2h half-open 2500ms", 2500 * MS,
		  7200 * S },
		{ "conn-timeout half-open 90s established 1d", 90 * S,
		  86400 * S },
		{ "conn-timeout established 720h", 0, 30 * 86400 * S },
	};
	struct sl_config cfg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_init(&cfg);
		if (parse(&cfg, cases[i].text))
			fail_msg("%s: %s", cases[i].text, err.msg);
		assert_int_equal(cfg.half_open_ns, cases[i].half_open_ns);
		assert_int_equal(cfg.established_ns, cases[i].established_ns);
		config_free(&cfg);
	}
}

static void test_conn_timeout_and_reject_limit_defaults(void **state)
{
	struct sl_config cfg;

	/* Left out, they read 0 and the controller applies the defaults. */
	config_init(&cfg);
	assert_int_equal(parse(&cfg, "rule a conns 5 action reject"), 0);
	assert_int_equal(cfg.half_open_ns, 0);
	assert_int_equal(cfg.established_ns, 0);
	assert_int_equal(cfg.reject_limit.count, 0);
	config_free(&cfg);
	assert_int_equal(SL_DEFAULT_HALF_OPEN_NS, 10 * S);
	assert_int_equal(SL_DEFAULT_ESTABLISHED_NS, 300 * S);
	assert_int_equal(SL_DEFAULT_REJECT_COUNT, 10000);
	assert_int_equal(SL_DEFAULT_REJECT_PERIOD_NS, S);
	assert_int_equal(SL_DEFAULT_REJECT_BURST, 1000);
	/* The default budget is what "reject-limit 10000/s" spells out. */
	config_init(&cfg);
	assert_int_equal(parse(&cfg, "reject-limit 10000/s"), 0);
	assert_int_equal(cfg.reject_limit.count, SL_DEFAULT_REJECT_COUNT);
	assert_int_equal(cfg.reject_limit.period_ns, SL_DEFAULT_REJECT_PERIOD_NS);
	assert_int_equal(cfg.reject_limit.burst, SL_DEFAULT_REJECT_BURST);
	config_free(&cfg);
}

static void test_conn_timeout_errors(void **state)
{
	assert_error("conn-timeout",
		     "rules.conf:7:13: expected half-open or established after \"conn-timeout\", got end of line");
	assert_error("conn-timeout idle 5s",
		     "rules.conf:7:14: expected half-open or established after \"conn-timeout\", got \"idle\"");
	assert_error("conn-timeout 5s",
		     "rules.conf:7:14: expected half-open or established after \"conn-timeout\", got \"5s\"");
	assert_error("conn-timeout half-open",
		     "rules.conf:7:23: expected a duration like 30s or 5m after \"half-open\", got end of line");
	assert_error("conn-timeout half-open soon",
		     "rules.conf:7:24: expected a duration like 30s or 5m after \"half-open\", got \"soon\"");
	assert_error("conn-timeout half-open 30",
		     "rules.conf:7:24: expected a duration like 30s or 5m after \"half-open\", got \"30\"");
	assert_error("conn-timeout half-open 1.5s",
		     "rules.conf:7:24: expected a duration like 30s or 5m after \"half-open\", got \"1.5s\"");
	assert_error("conn-timeout half-open s",
		     "rules.conf:7:24: expected a duration like 30s or 5m after \"half-open\", got \"s\"");
	assert_error("conn-timeout half-open 10S",
		     "rules.conf:7:24: expected a duration like 30s or 5m after \"half-open\", got \"10S\"");
	assert_error("conn-timeout half-open 10s established",
		     "rules.conf:7:39: expected a duration like 30s or 5m after \"established\", got end of line");
	assert_error("conn-timeout established 5min",
		     "rules.conf:7:26: expected a duration like 30s or 5m after \"established\", got \"5min\"");
	assert_error("conn-timeout half-open 0s",
		     "rules.conf:7:24: half-open timeout must be 2s..30d, got \"0s\"");
	assert_error("conn-timeout half-open 0ms established 5m",
		     "rules.conf:7:24: half-open timeout must be 2s..30d, got \"0ms\"");
	assert_error("conn-timeout half-open 1999ms",
		     "rules.conf:7:24: half-open timeout must be 2s..30d, got \"1999ms\"");
	assert_error("conn-timeout established 31d",
		     "rules.conf:7:26: established timeout must be 2s..30d, got \"31d\"");
	assert_error("conn-timeout established 721h",
		     "rules.conf:7:26: established timeout must be 2s..30d, got \"721h\"");
	assert_error("conn-timeout established 99999999999999999999d",
		     "rules.conf:7:26: established timeout must be 2s..30d, got \"99999999999999999999d\"");
	assert_error("conn-timeout half-open 5s half-open 6s",
		     "rules.conf:7:27: \"half-open\" given twice");
	assert_error("conn-timeout established 5m half-open 5s established 5m",
		     "rules.conf:7:42: \"established\" given twice");
	assert_error("conn-timeout half-open 5s idle",
		     "rules.conf:7:27: expected half-open, established or end of line, got \"idle\"");
	assert_error("conn-timeout half-open 5s 6s",
		     "rules.conf:7:27: expected half-open, established or end of line, got \"6s\"");
}

static void test_reject_limit_sets_a_packet_rate_and_burst(void **state)
{
	static const struct {
		const char *text;
		uint64_t count, period_ns, burst;
	} cases[] = {
		{ "reject-limit 500/s burst 50", 500, S, 50 },
		/* Without a burst, 100 ms of the rate, at least one. */
		{ "reject-limit 2000/s", 2000, S, 200 },
		{ "reject-limit 10/m", 10, 60 * S, 1 },
		{ "reject-limit 5/10s burst 5", 5, 10 * S, 5 },
		{ "reject-limit 1/ms", 1, MS, 100 },
		{ "reject-limit 100/s   # per interface", 100, S, 10 },
	};
	struct sl_config cfg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct sl_limit_spec *l = &cfg.reject_limit;

		config_init(&cfg);
		if (parse(&cfg, cases[i].text))
			fail_msg("%s: %s", cases[i].text, err.msg);
		assert_int_equal(l->kind, SL_LIMIT_RATE);
		assert_int_equal(l->unit, SL_UNIT_PACKETS);
		assert_int_equal(l->count, cases[i].count);
		assert_int_equal(l->period_ns, cases[i].period_ns);
		assert_int_equal(l->burst, cases[i].burst);
		assert_int_equal(cfg.n_rules, 0);
		config_free(&cfg);
	}
}

static void test_reject_limit_errors(void **state)
{
	assert_error("reject-limit",
		     "rules.conf:7:13: expected a packet rate like 10000/s after \"reject-limit\", got end of line");
	assert_error("reject-limit lots",
		     "rules.conf:7:14: expected a packet rate like 10000/s after \"reject-limit\", got \"lots\"");
	assert_error("reject-limit 100",
		     "rules.conf:7:14: expected a packet rate like 10000/s after \"reject-limit\", got \"100\"");
	assert_error("reject-limit 1MB/s",
		     "rules.conf:7:14: reject-limit counts packets, not bytes, got \"1MB/s\"");
	assert_error("reject-limit 100mbit",
		     "rules.conf:7:14: reject-limit counts packets, not bytes, got \"100mbit\"");
	assert_error("reject-limit 0/s",
		     "rules.conf:7:14: rate \"0/s\" must allow 1..1099511627776 units per period");
	assert_error("reject-limit 1/0s",
		     "rules.conf:7:14: rate \"1/0s\" has a zero period");
	assert_error("reject-limit 1/79h",
		     "rules.conf:7:14: rate \"1/79h\" has a period longer than 78h");
	assert_error("reject-limit 100/s bust 5",
		     "rules.conf:7:20: expected \"burst\" or end of line, got \"bust\"");
	assert_error("reject-limit 100/s burst",
		     "rules.conf:7:25: expected a packet count after \"burst\", got end of line");
	assert_error("reject-limit 100/s burst lots",
		     "rules.conf:7:26: expected a packet count after \"burst\", got \"lots\"");
	assert_error("reject-limit 100/s burst 2MB",
		     "rules.conf:7:26: burst for a packet rate is a packet count, got \"2MB\"");
	assert_error("reject-limit 100/s burst 0",
		     "rules.conf:7:26: burst must be 1..1099511627776, got \"0\"");
	assert_error("reject-limit 100/s burst 5 extra",
		     "rules.conf:7:28: expected end of line, got \"extra\"");
	assert_error("reject-limit 1/3d burst 20000",
		     "rules.conf:7:25: burst 20000 at rate \"1/3d\" takes more than 100 years to refill");
}

static void test_metrics_takes_an_address_and_port(void **state)
{
	static const char *const cases[][2] = {
		{ "metrics 127.0.0.1:9477", "127.0.0.1:9477" },
		{ "metrics [::1]:9477", "[::1]:9477" },
		{ "metrics 0.0.0.0:9477", "0.0.0.0:9477" },
		{ "metrics [::]:9477", "[::]:9477" },
		{ "metrics 192.0.2.10:1", "192.0.2.10:1" },
		{ "metrics [2001:db8::10]:65535", "[2001:db8::10]:65535" },
		/* Every spelling of an address and a port reads the same. */
		{ "metrics [2001:DB8:0:0::10]:09477", "[2001:db8::10]:9477" },
		{ "metrics [::ffff:127.0.0.1]:9477", "[::ffff:127.0.0.1]:9477" },
		{ "  metrics\t127.0.0.1:9477   # scraped by prometheus", "127.0.0.1:9477" },
	};
	struct sl_config cfg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_init(&cfg);
		if (parse(&cfg, cases[i][0]))
			fail_msg("%s: %s", cases[i][0], err.msg);
		assert_string_equal(cfg.metrics, cases[i][1]);
		assert_int_equal(cfg.n_rules, 0);
		config_free(&cfg);
	}
}

static void test_metrics_errors(void **state)
{
	assert_error("metrics",
		     "rules.conf:7:8: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got end of line");
	assert_error("metrics localhost:9477",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"localhost:9477\"");
	assert_error("metrics 127.0.0.1",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"127.0.0.1\"");
	assert_error("metrics 127.0.0.1:",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"127.0.0.1:\"");
	assert_error("metrics :9477",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \":9477\"");
	assert_error("metrics 127.1:9477",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"127.1:9477\"");
	assert_error("metrics 256.0.0.1:9477",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"256.0.0.1:9477\"");
	assert_error("metrics 1.2.3.4:5:6",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"1.2.3.4:5:6\"");
	assert_error("metrics [::1]",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"[::1]\"");
	assert_error("metrics [::1]9477",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"[::1]9477\"");
	assert_error("metrics [::1:9477",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"[::1:9477\"");
	assert_error("metrics []:9477",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"[]:9477\"");
	assert_error("metrics [127.0.0.1]:9477",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"[127.0.0.1]:9477\"");
	assert_error("metrics [fe80::1%eth0]:9477",
		     "rules.conf:7:9: expected an address and port like 127.0.0.1:9477 or [::1]:9477 after \"metrics\", got \"[fe80::1%eth0]:9477\"");
	assert_error("metrics ::1:9477",
		     "rules.conf:7:9: an IPv6 address takes brackets, like [::1]:9477, got \"::1:9477\"");
	assert_error("metrics ::1",
		     "rules.conf:7:9: an IPv6 address takes brackets, like [::1]:9477, got \"::1\"");
	assert_error("metrics 127.0.0.1:http",
		     "rules.conf:7:19: expected a port number, got \"http\"");
	assert_error("metrics [::1]:-1",
		     "rules.conf:7:15: expected a port number, got \"-1\"");
	assert_error("metrics 127.0.0.1:9477x",
		     "rules.conf:7:19: expected a port number, got \"9477x\"");
	assert_error("metrics 127.0.0.1:0",
		     "rules.conf:7:19: port must be 1..65535, got \"0\"");
	assert_error("metrics [::]:65536",
		     "rules.conf:7:14: port must be 1..65535, got \"65536\"");
	assert_error("metrics 0.0.0.0:99999999999999999999999",
		     "rules.conf:7:17: port must be 1..65535, got \"99999999999999999999999\"");
	assert_error("metrics 127.0.0.1:9477 127.0.0.1:9478",
		     "rules.conf:7:24: expected end of line, got \"127.0.0.1:9478\"");
	assert_cli_error("metrics 127.0.0.1:0",
			 "argument 2: port must be 1..65535, got \"0\"");
}

static void test_parse_listen_fills_the_socket_address(void **state)
{
	char canon[SL_LISTEN_LEN];
	struct sockaddr_storage ss;
	const struct sockaddr_in6 *in6 = (const void *)&ss;
	const struct sockaddr_in *in4 = (const void *)&ss;
	static const uint8_t loop6[16] = { [15] = 1 };

	assert_int_equal(config_parse_listen("127.0.0.1:9477", &ss, canon,
					     sizeof(canon), &err), 0);
	assert_string_equal(canon, "127.0.0.1:9477");
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(in4->sin_port), 9477);
	assert_int_equal(ntohl(in4->sin_addr.s_addr), 0x7f000001);

	assert_int_equal(config_parse_listen("[0::1]:80", &ss, canon,
					     sizeof(canon), &err), 0);
	assert_string_equal(canon, "[::1]:80");
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 80);
	assert_memory_equal(&in6->sin6_addr, loop6, 16);
	assert_int_equal(in6->sin6_scope_id, 0);

	assert_int_equal(config_parse_listen("0.0.0.0:9477", NULL, canon,
					     sizeof(canon), &err), 0);
	assert_string_equal(canon, "0.0.0.0:9477");
}

/* Without a position: the caller says where, as in "--metrics: ...". */
static void test_parse_listen_errors_leave_the_position_to_the_caller(void **state)
{
	static const char *const cases[][2] = {
		{ "localhost:9477", "expected an address and port like 127.0.0.1:9477 or [::1]:9477, got \"localhost:9477\"" },
		{ "", "expected an address and port like 127.0.0.1:9477 or [::1]:9477, got \"\"" },
		{ "::1:9477", "an IPv6 address takes brackets, like [::1]:9477, got \"::1:9477\"" },
		{ "127.0.0.1:http", "expected a port number, got \"http\"" },
		{ "[::1]:0", "port must be 1..65535, got \"0\"" },
		{ "127.0.0.1:65536", "port must be 1..65535, got \"65536\"" },
	};
	char canon[SL_LISTEN_LEN] = "unchanged";
	struct sockaddr_storage ss = { .ss_family = AF_UNIX };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(config_parse_listen(cases[i][0], &ss, canon,
						     sizeof(canon), &err), -EINVAL);
		assert_string_equal(err.msg, cases[i][1]);
		assert_int_equal(ss.ss_family, AF_UNIX);
		assert_string_equal(canon, "unchanged");
	}
}

static void test_statement_given_twice_is_an_error(void **state)
{
	static const char *const lines[][2] = {
		{ "interface eth0", "interface eth1" },
		{ "malformed pass", "malformed drop" },
		{ "keys 1M", "keys 2M" },
		{ "key-timeout 10s", "key-timeout 1m" },
		{ "conn-timeout half-open 5s", "conn-timeout established 5m" },
		{ "conn-timeout established 1h", "conn-timeout established 1h" },
		{ "reject-limit 100/s", "reject-limit 100/s burst 5" },
		{ "metrics 127.0.0.1:9477", "metrics [::1]:9477" },
	};
	static const char *const msgs[] = {
		"rules.conf:7:1: \"interface\" given twice",
		"rules.conf:7:1: \"malformed\" given twice",
		"rules.conf:7:1: \"keys\" given twice",
		"rules.conf:7:1: \"key-timeout\" given twice",
		"rules.conf:7:1: \"conn-timeout\" given twice",
		"rules.conf:7:1: \"conn-timeout\" given twice",
		"rules.conf:7:1: \"reject-limit\" given twice",
		"rules.conf:7:1: \"metrics\" given twice",
	};
	struct sl_config cfg;
	size_t i;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		config_init(&cfg);
		assert_int_equal(parse(&cfg, lines[i][0]), 0);
		assert_int_equal(parse(&cfg, lines[i][1]), -EINVAL);
		assert_string_equal(err.msg, msgs[i]);
		config_free(&cfg);
	}
}

static void test_allow_and_deny_add_cidrs_ignoring_duplicates(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(parse(&cfg, "allow 10.0.0.0/8 192.168.1.7 2001:db8::/32"), 0);
	assert_int_equal(parse(&cfg, "allow 10.0.0.0/8 10.0.0.0/8"), 0);
	assert_int_equal(parse(&cfg, "deny  203.0.113.0/24 ::1"), 0);
	assert_int_equal(cfg.n_allow, 3);
	assert_cidr(&cfg.allow[0], "10.0.0.0/8");
	assert_cidr(&cfg.allow[1], "192.168.1.7/32");
	assert_cidr(&cfg.allow[2], "2001:db8::/32");
	assert_int_equal(cfg.n_deny, 2);
	assert_cidr(&cfg.deny[0], "203.0.113.0/24");
	assert_cidr(&cfg.deny[1], "::1/128");
	config_free(&cfg);
}

static void test_allow_with_one_bad_cidr_adds_none(void **state)
{
	assert_error("allow 10.0.0.0/8 1.2.3",
		     "rules.conf:7:18: expected an address or CIDR, got \"1.2.3\"");
	assert_error("deny 10.0.0.0/33",
		     "rules.conf:7:6: expected an address or CIDR, got \"10.0.0.0/33\"");
	assert_error("allow",
		     "rules.conf:7:6: expected an address or CIDR after \"allow\", got end of line");
	assert_error("deny",
		     "rules.conf:7:5: expected an address or CIDR after \"deny\", got end of line");
}

static void test_host_bits_set_suggests_the_network(void **state)
{
	assert_error("allow 10.0.0.1/8",
		     "rules.conf:7:7: host bits set in 10.0.0.1/8; did you mean 10.0.0.0/8?");
	assert_error("deny 2001:db8::1/32",
		     "rules.conf:7:6: host bits set in 2001:db8::1/32; did you mean 2001:db8::/32?");
	assert_error("rule x from 10.0.0.0/8,192.168.1.1/24 rate 1/s",
		     "rules.conf:7:24: host bits set in 192.168.1.1/24; did you mean 192.168.1.0/24?");
}

static void test_unknown_statement(void **state)
{
	assert_error("bogus eth0",
		     "rules.conf:7:1: expected a statement (interface, malformed, keys, refusals, key-timeout, allow, deny, rule, breaker, conn-timeout, reject-limit, event-limit, metrics, cluster), got \"bogus\"");
	assert_error("  Rule x rate 1/s",
		     "rules.conf:7:3: expected a statement (interface, malformed, keys, refusals, key-timeout, allow, deny, rule, breaker, conn-timeout, reject-limit, event-limit, metrics, cluster), got \"Rule\"");
	assert_error("conn-timeouts half-open 5s",
		     "rules.conf:7:1: expected a statement (interface, malformed, keys, refusals, key-timeout, allow, deny, rule, breaker, conn-timeout, reject-limit, event-limit, metrics, cluster), got \"conn-timeouts\"");
}

/* Rules: matches. */

static void test_rule_defaults_key_src_full_prefixes_and_drop(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r = rule(&cfg, "rule web rate 100/s");

	assert_string_equal(r->name, "web");
	assert_int_equal(r->families, 0);
	assert_int_equal(r->proto, 0);
	assert_false(r->syn);
	assert_int_equal(r->n_ports, 0);
	assert_int_equal(r->n_from, 0);
	assert_int_equal(r->key_type, SL_KEY_SRC);
	assert_int_equal(r->prefix4, 32);
	assert_int_equal(r->prefix6, 128);
	assert_int_equal(r->n_limits, 1);
	assert_int_equal(r->action, SL_ACT_DROP);
	assert_int_equal(r->mark, 0);
	assert_int_equal(r->line, LINE);
	config_free(&cfg);
}

static void test_rule_names_allow_letters_digits_and_separators(void **state)
{
	struct sl_config cfg;

	rule(&cfg, "rule 0ab_c.d-E rate 1/s");
	assert_string_equal(cfg.rules[0].name, "0ab_c.d-E");
	config_free(&cfg);
	rule(&cfg, "rule a123456789012345678901234567890 rate 1/s");
	assert_int_equal(strlen(cfg.rules[0].name), 31);
	config_free(&cfg);
}

static void test_rule_name_errors(void **state)
{
	assert_error("rule",
		     "rules.conf:7:5: expected a rule name (up to 31 letters, digits, '_', '.' or '-', starting with a letter or digit) after \"rule\", got end of line");
	assert_error("rule -x rate 1/s",
		     "rules.conf:7:6: expected a rule name (up to 31 letters, digits, '_', '.' or '-', starting with a letter or digit) after \"rule\", got \"-x\"");
	assert_error("rule a/b rate 1/s",
		     "rules.conf:7:6: expected a rule name (up to 31 letters, digits, '_', '.' or '-', starting with a letter or digit) after \"rule\", got \"a/b\"");
	assert_error("rule a1234567890123456789012345678901 rate 1/s",
		     "rules.conf:7:6: expected a rule name (up to 31 letters, digits, '_', '.' or '-', starting with a letter or digit) after \"rule\", got \"a1234567890123456789012345678901\"");
}

static void test_rule_family(void **state)
{
	struct sl_config cfg;

	rule(&cfg, "rule a family ip4 rate 1/s");
	assert_int_equal(cfg.rules[0].families, 1 << SL_FAM_IP4);
	config_free(&cfg);
	rule(&cfg, "rule a family ip6 rate 1/s");
	assert_int_equal(cfg.rules[0].families, 1 << SL_FAM_IP6);
	config_free(&cfg);
	assert_error("rule x family",
		     "rules.conf:7:14: expected ip4 or ip6 after \"family\", got end of line");
	assert_error("rule x family ip5 rate 1/s",
		     "rules.conf:7:15: expected ip4 or ip6 after \"family\", got \"ip5\"");
}

static void test_rule_proto_names_and_numbers(void **state)
{
	static const struct {
		const char *text;
		uint8_t proto;
	} cases[] = {
		{ "rule a proto tcp rate 1/s", IPPROTO_TCP },
		{ "rule a proto udp rate 1/s", IPPROTO_UDP },
		{ "rule a proto icmp rate 1/s", 1 },
		{ "rule a proto icmpv6 rate 1/s", 58 },
		{ "rule a proto 47 rate 1/s", 47 },
		{ "rule a proto 255 rate 1/s", 255 },
	};
	struct sl_config cfg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(rule(&cfg, cases[i].text)->proto,
				 cases[i].proto);
		config_free(&cfg);
	}
}

static void test_rule_proto_errors(void **state)
{
	assert_error("rule x proto",
		     "rules.conf:7:13: expected a protocol (tcp, udp, icmp, icmpv6 or 1..255) after \"proto\", got end of line");
	assert_error("rule x proto sctp rate 1/s",
		     "rules.conf:7:14: expected a protocol (tcp, udp, icmp, icmpv6 or 1..255) after \"proto\", got \"sctp\"");
	assert_error("rule x proto 0 rate 1/s",
		     "rules.conf:7:14: expected a protocol (tcp, udp, icmp, icmpv6 or 1..255) after \"proto\", got \"0\"");
	assert_error("rule x proto 256 rate 1/s",
		     "rules.conf:7:14: expected a protocol (tcp, udp, icmp, icmpv6 or 1..255) after \"proto\", got \"256\"");
}

static void test_rule_dport_list_and_ranges(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r;

	r = rule(&cfg, "rule a proto tcp dport 80,443,8000-8080,0,65535 rate 1/s");
	assert_int_equal(r->n_ports, 5);
	assert_int_equal(r->ports[0].lo, 80);
	assert_int_equal(r->ports[0].hi, 80);
	assert_int_equal(r->ports[1].lo, 443);
	assert_int_equal(r->ports[2].lo, 8000);
	assert_int_equal(r->ports[2].hi, 8080);
	assert_int_equal(r->ports[3].lo, 0);
	assert_int_equal(r->ports[4].hi, 65535);
	config_free(&cfg);

	r = rule(&cfg, "rule a proto udp dport 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 rate 1/s");
	assert_int_equal(r->n_ports, SL_MAX_PORT_RANGES);
	config_free(&cfg);
}

static void test_rule_dport_without_proto_leaves_proto_any(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r = rule(&cfg, "rule a dport 53 rate 1/s");

	assert_int_equal(r->proto, 0);
	assert_int_equal(r->n_ports, 1);
	config_free(&cfg);
}

static void test_rule_dport_errors(void **state)
{
	assert_error("rule x dport",
		     "rules.conf:7:13: expected a port list after \"dport\", got end of line");
	assert_error("rule x dport http rate 1/s",
		     "rules.conf:7:14: expected a port or a range like 8000-8080, got \"http\"");
	assert_error("rule x dport 80,http rate 1/s",
		     "rules.conf:7:17: expected a port or a range like 8000-8080, got \"http\"");
	assert_error("rule x dport 80, rate 1/s",
		     "rules.conf:7:17: expected a port or a range like 8000-8080, got \"\"");
	assert_error("rule x dport 80- rate 1/s",
		     "rules.conf:7:14: expected a port or a range like 8000-8080, got \"80-\"");
	assert_error("rule x dport 1-2-3 rate 1/s",
		     "rules.conf:7:14: expected a port or a range like 8000-8080, got \"1-2-3\"");
	assert_error("rule x dport 70000 rate 1/s",
		     "rules.conf:7:14: port 70000 is out of range 0..65535");
	assert_error("rule x dport 22,1-70000 rate 1/s",
		     "rules.conf:7:17: port 1-70000 is out of range 0..65535");
	assert_error("rule x dport 8080-8000 rate 1/s",
		     "rules.conf:7:14: port range 8080-8000 ends before it starts");
	assert_error("rule x dport 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17 rate 1/s",
		     "rules.conf:7:53: more than 16 ports or ranges after \"dport\"");
}

static void test_rule_syn_implies_tcp(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r;

	r = rule(&cfg, "rule a dport 22 syn rate 1/s");
	assert_true(r->syn);
	assert_int_equal(r->proto, IPPROTO_TCP);
	config_free(&cfg);
	r = rule(&cfg, "rule a syn proto tcp rate 1/s");
	assert_true(r->syn);
	assert_int_equal(r->proto, IPPROTO_TCP);
	config_free(&cfg);
}

static void test_rule_from_list(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r;

	r = rule(&cfg, "rule a from 10.0.0.0/8,192.168.1.7,2001:db8::/48 rate 1/s");
	assert_int_equal(r->n_from, 3);
	assert_cidr(&r->from[0], "10.0.0.0/8");
	assert_cidr(&r->from[1], "192.168.1.7/32");
	assert_cidr(&r->from[2], "2001:db8::/48");
	config_free(&cfg);
}

static void test_rule_from_errors(void **state)
{
	assert_error("rule x from",
		     "rules.conf:7:12: expected a CIDR list after \"from\", got end of line");
	assert_error("rule x from 10.0.0.0/8,nope rate 1/s",
		     "rules.conf:7:24: expected an address or CIDR, got \"nope\"");
	assert_error("rule x from ::/129 rate 1/s",
		     "rules.conf:7:13: expected an address or CIDR, got \"::/129\"");
	assert_error("rule x from 1.0.0.0/8,2.0.0.0/8,3.0.0.0/8,4.0.0.0/8,5.0.0.0/8,6.0.0.0/8,7.0.0.0/8,8.0.0.0/8,9.0.0.0/8,10.0.0.0/8,11.0.0.0/8,12.0.0.0/8,13.0.0.0/8,14.0.0.0/8,15.0.0.0/8,16.0.0.0/8,17.0.0.0/8 rate 1/s",
		     "rules.conf:7:180: more than 16 CIDRs after \"from\"");
}

/* Rules: keys. */

static void test_rule_key_src_prefixes(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r;

	r = rule(&cfg, "rule a key src prefix4 24 prefix6 64 rate 1/s");
	assert_int_equal(r->key_type, SL_KEY_SRC);
	assert_int_equal(r->prefix4, 24);
	assert_int_equal(r->prefix6, 64);
	config_free(&cfg);
	r = rule(&cfg, "rule a key src prefix6 0 rate 1/s");
	assert_int_equal(r->prefix4, 32);
	assert_int_equal(r->prefix6, 0);
	config_free(&cfg);
	r = rule(&cfg, "rule a rate 1/s key src");
	assert_int_equal(r->prefix4, 32);
	assert_int_equal(r->prefix6, 128);
	config_free(&cfg);
}

static void test_rule_key_dport_and_global(void **state)
{
	struct sl_config cfg;

	assert_int_equal(rule(&cfg, "rule a proto udp key dport rate 1/s")->key_type,
			 SL_KEY_DPORT);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a key dport rate 1/s")->key_type,
			 SL_KEY_DPORT);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a key global rate 1/s")->key_type,
			 SL_KEY_GLOBAL);
	config_free(&cfg);
}

static void test_rule_key_errors(void **state)
{
	assert_error("rule x key",
		     "rules.conf:7:11: expected src, dport or global after \"key\", got end of line");
	assert_error("rule x key host rate 1/s",
		     "rules.conf:7:12: expected src, dport or global after \"key\", got \"host\"");
	assert_error("rule x key src prefix4 33 rate 1/s",
		     "rules.conf:7:24: expected a prefix length 0..32 after \"prefix4\", got \"33\"");
	assert_error("rule x key src prefix4",
		     "rules.conf:7:23: expected a prefix length 0..32 after \"prefix4\", got end of line");
	assert_error("rule x key src prefix6 129 rate 1/s",
		     "rules.conf:7:24: expected a prefix length 0..128 after \"prefix6\", got \"129\"");
	assert_error("rule x key src prefix4 24 prefix4 16 rate 1/s",
		     "rules.conf:7:27: \"prefix4\" given twice");
	assert_error("rule x key dport prefix4 24 rate 1/s",
		     "rules.conf:7:18: prefix4 must come right after \"key src\"");
	assert_error("rule x key src rate 1/s prefix6 64",
		     "rules.conf:7:25: prefix6 must come right after \"key src\"");
}

/* Rules: rates and bursts. */

static void assert_limit(const struct sl_limit_spec *l, uint8_t unit,
			 uint64_t count, uint64_t period_ns, uint64_t burst)
{
	assert_int_equal(l->kind, SL_LIMIT_RATE);
	assert_int_equal(l->unit, unit);
	assert_int_equal(l->count, count);
	assert_int_equal(l->period_ns, period_ns);
	assert_int_equal(l->burst, burst);
}

static void test_rate_packets_per_period(void **state)
{
	static const struct {
		const char *spec;
		uint64_t count, period_ns;
	} cases[] = {
		{ "100/s", 100, S },
		{ "10/m", 10, 60 * S },
		{ "5/10s", 5, 10 * S },
		{ "1000/d", 1000, 86400 * S },
		{ "2/h", 2, 3600 * S },
		{ "1/ms", 1, MS },
		{ "3/250ms", 3, 250 * MS },
		{ "1/3d", 1, 3 * 86400 * S },
		{ "1/78h", 1, 78 * 3600 * S },
		{ "1099511627776/s", 1ull << 40, S },
	};
	char line[64];
	struct sl_config cfg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct sl_limit_spec *l;

		snprintf(line, sizeof(line), "rule a rate %s burst 1", cases[i].spec);
		l = &rule(&cfg, line)->limits[0];
		assert_limit(l, SL_UNIT_PACKETS, cases[i].count,
			     cases[i].period_ns, 1);
		config_free(&cfg);
	}
}

static void test_rate_sizes_are_1024_based_bytes(void **state)
{
	static const struct {
		const char *spec;
		uint64_t count, period_ns;
	} cases[] = {
		{ "1500B/s", 1500, S },
		{ "64KB/s", 64 * 1024, S },
		{ "2MB/s", 2 * 1024 * 1024, S },
		{ "1GB/m", 1024 * 1024 * 1024, 60 * S },
		{ "10MB/5s", 10 * 1024 * 1024, 5 * S },
	};
	char line[64];
	struct sl_config cfg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "rule a rate %s burst 1", cases[i].spec);
		assert_limit(&rule(&cfg, line)->limits[0], SL_UNIT_BYTES,
			     cases[i].count, cases[i].period_ns, 1);
		config_free(&cfg);
	}
}

static void test_rate_bit_rate_converts_to_bytes_per_second(void **state)
{
	static const struct {
		const char *spec;
		uint64_t count;
	} cases[] = {
		{ "8kbit", 1000 },
		{ "1kbit", 125 },
		{ "100mbit", 12500000 },
		{ "1gbit", 125000000 },
		{ "40gbit", 5000000000ull },
	};
	char line[64];
	struct sl_config cfg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "rule a rate %s burst 1", cases[i].spec);
		assert_limit(&rule(&cfg, line)->limits[0], SL_UNIT_BYTES,
			     cases[i].count, S, 1);
		config_free(&cfg);
	}
}

static void test_rate_syntax_errors(void **state)
{
	static const char *const bad[] = {
		"fast", "100", "100/", "/s", "100/fortnight", "100/1.5s",
		"100MB", "2mb/s", "100Mbit", "100mbit/s", "-1/s", "1/s/s",
	};
	char line[64], msg[160];
	size_t i;

	assert_error("rule x rate",
		     "rules.conf:7:12: expected a rate like 100/s, 2MB/s or 100mbit after \"rate\", got end of line");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "rule x rate %s", bad[i]);
		snprintf(msg, sizeof(msg),
			 "rules.conf:7:13: expected a rate like 100/s, 2MB/s or 100mbit after \"rate\", got \"%s\"",
			 bad[i]);
		assert_error(line, msg);
	}
}

static void test_rate_bounds(void **state)
{
	assert_error("rule x rate 0/s",
		     "rules.conf:7:13: rate \"0/s\" must allow 1..1099511627776 units per period");
	assert_error("rule x rate 1099511627777/s",
		     "rules.conf:7:13: rate \"1099511627777/s\" must allow 1..1099511627776 units per period");
	assert_error("rule x rate 1025GB/s",
		     "rules.conf:7:13: rate \"1025GB/s\" must allow 1..1099511627776 units per period");
	assert_error("rule x rate 99999999999999999999999/s",
		     "rules.conf:7:13: rate \"99999999999999999999999/s\" must allow 1..1099511627776 units per period");
	assert_error("rule x rate 1/0s",
		     "rules.conf:7:13: rate \"1/0s\" has a zero period");
	assert_error("rule x rate 1/7d",
		     "rules.conf:7:13: rate \"1/7d\" has a period longer than 78h");
	assert_error("rule x rate 1/79h",
		     "rules.conf:7:13: rate \"1/79h\" has a period longer than 78h");
	assert_error("rule x rate 1/99999999999999999999d",
		     "rules.conf:7:13: rate \"1/99999999999999999999d\" has a period longer than 78h");
	assert_error("rule x rate 1099511627776/ms",
		     "rules.conf:7:13: rate \"1099511627776/ms\" is faster than the limiter can count");
}

static void test_burst_default_is_100ms_of_the_rate(void **state)
{
	struct sl_config cfg;

	assert_int_equal(rule(&cfg, "rule a rate 2000/s")->limits[0].burst, 200);
	config_free(&cfg);
	/* 15 per second allow 1.5 in 100 ms: rounded down. */
	assert_int_equal(rule(&cfg, "rule a rate 15/s")->limits[0].burst, 1);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a rate 100mbit")->limits[0].burst,
			 1250000);
	config_free(&cfg);
}

/* Found by the config fuzzer: a default above what an explicit burst may be
 * made canonical text that did not parse back. */
static void test_burst_default_caps_at_the_explicit_maximum(void **state)
{
	struct sl_config cfg, again;
	const struct sl_rule_spec *r;
	struct sl_error err;

	r = rule(&cfg, "rule x rate 10995116776/ms");
	assert_int_equal(r->limits[0].burst, 1099511627776ull);
	config_init(&again);
	assert_int_equal(config_parse_line(&again, r->text, NULL, 0, &err), 0);
	assert_int_equal(again.rules[0].limits[0].burst, 1099511627776ull);
	config_free(&again);
	config_free(&cfg);
}

static void test_burst_default_floors_one_packet_and_64KB(void **state)
{
	struct sl_config cfg;

	assert_int_equal(rule(&cfg, "rule a rate 10/m")->limits[0].burst, 1);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a rate 1kbit")->limits[0].burst, 65536);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a rate 100KB/s")->limits[0].burst,
			 65536);
	config_free(&cfg);
}

static void test_burst_explicit_packets_and_sizes(void **state)
{
	struct sl_config cfg;

	assert_int_equal(rule(&cfg, "rule a rate 10/m burst 5")->limits[0].burst, 5);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a rate 100mbit burst 2MB")->limits[0].burst,
			 2 * 1024 * 1024);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a rate 1MB/s burst 64KB")->limits[0].burst,
			 65536);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a rate 1MB/s burst 1500B")->limits[0].burst,
			 1500);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a rate 1MB/s burst 9000")->limits[0].burst,
			 9000);
	config_free(&cfg);
}

static void test_burst_errors(void **state)
{
	assert_error("rule x burst 5 rate 1/s",
		     "rules.conf:7:8: \"burst\" must come right after a rate");
	assert_error("rule x rate 1/s action drop burst 5",
		     "rules.conf:7:29: \"burst\" must come right after a rate");
	assert_error("rule x rate 1/s burst 5 burst 6",
		     "rules.conf:7:25: \"burst\" must come right after a rate");
	assert_error("rule x rate 1/s burst",
		     "rules.conf:7:22: expected a packet count after \"burst\", got end of line");
	assert_error("rule x rate 100/s burst lots",
		     "rules.conf:7:25: expected a packet count after \"burst\", got \"lots\"");
	assert_error("rule x rate 100/s burst 2MB",
		     "rules.conf:7:25: burst for a packet rate is a packet count, got \"2MB\"");
	assert_error("rule x rate 1MB/s burst 1mbit",
		     "rules.conf:7:25: expected a size like 64KB or 65536 after \"burst\", got \"1mbit\"");
	assert_error("rule x rate 100/s burst 0",
		     "rules.conf:7:25: burst must be 1..1099511627776, got \"0\"");
	assert_error("rule x rate 1MB/s burst 1025GB",
		     "rules.conf:7:25: burst must be 1..1099511627776, got \"1025GB\"");
	assert_error("rule x rate 1/3d burst 20000",
		     "rules.conf:7:24: burst 20000 at rate \"1/3d\" takes more than 100 years to refill");
	assert_error("rule x rate 1B/3d",
		     "rules.conf:7:13: burst 65536 at rate \"1B/3d\" takes more than 100 years to refill");
}

static void test_rule_takes_up_to_four_rates(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r;

	r = rule(&cfg, "rule a rate 100/h rate 1000/d burst 50 rate 1MB/s rate 10/s");
	assert_int_equal(r->n_limits, SL_MAX_LIMITS);
	assert_limit(&r->limits[0], SL_UNIT_PACKETS, 100, 3600 * S, 1);
	assert_limit(&r->limits[1], SL_UNIT_PACKETS, 1000, 86400 * S, 50);
	assert_limit(&r->limits[2], SL_UNIT_BYTES, 1024 * 1024, S, 104857);
	assert_limit(&r->limits[3], SL_UNIT_PACKETS, 10, S, 1);
	config_free(&cfg);
	assert_error("rule x rate 1/s rate 2/s rate 3/s rate 4/s rate 5/s",
		     "rules.conf:7:44: more than 4 limits (rate, window, conns) in one rule");
}

/* Rules: windows and connection limits. */

static void assert_window(const struct sl_limit_spec *l, uint64_t count,
			  uint64_t period_ns)
{
	assert_int_equal(l->kind, SL_LIMIT_WINDOW);
	assert_int_equal(l->unit, SL_UNIT_PACKETS);
	assert_int_equal(l->count, count);
	assert_int_equal(l->period_ns, period_ns);
	assert_int_equal(l->burst, 0);
}

static void assert_conns(const struct sl_limit_spec *l, uint64_t count)
{
	assert_int_equal(l->kind, SL_LIMIT_CONNS);
	assert_int_equal(l->unit, SL_UNIT_PACKETS);
	assert_int_equal(l->count, count);
	assert_int_equal(l->period_ns, 0);
	assert_int_equal(l->burst, 0);
}

static void test_window_packets_per_period(void **state)
{
	static const struct {
		const char *spec;
		uint64_t count, period_ns;
	} cases[] = {
		{ "100/h", 100, 3600 * S },
		{ "1000/d", 1000, 86400 * S },
		{ "5/10s", 5, 10 * S },
		{ "1/ms", 1, MS },
		{ "3/250ms", 3, 250 * MS },
		{ "60/m", 60, 60 * S },
		{ "1/3d", 1, 3 * 86400 * S },
		{ "1/78h", 1, 78 * 3600 * S },
		{ "1048575/s", 1048575, S },
	};
	char line[64];
	struct sl_config cfg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct sl_rule_spec *r;

		snprintf(line, sizeof(line), "rule a window %s", cases[i].spec);
		r = rule(&cfg, line);
		assert_int_equal(r->n_limits, 1);
		assert_window(&r->limits[0], cases[i].count, cases[i].period_ns);
		/* A window alone leaves the match alone. */
		assert_int_equal(r->proto, 0);
		config_free(&cfg);
	}
}

static void test_window_syntax_errors(void **state)
{
	static const char *const bad[] = {
		"fast", "100", "100/", "/h", "100/fortnight", "100/1.5s",
		"1.5/h", "-1/h", "1/h/h", "100/H", "100/hour", "100k/h",
	};
	char line[64], msg[160];
	size_t i;

	assert_error("rule x window",
		     "rules.conf:7:14: expected a window like 100/h or 5/10s after \"window\", got end of line");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "rule x window %s", bad[i]);
		snprintf(msg, sizeof(msg),
			 "rules.conf:7:15: expected a window like 100/h or 5/10s after \"window\", got \"%s\"",
			 bad[i]);
		assert_error(line, msg);
	}
}

static void test_window_counts_packets_not_bytes(void **state)
{
	static const char *const bytes[] = {
		"2MB/h", "100B/s", "1KB/10s", "1GB/d", "100mbit", "8kbit",
	};
	char line[64];
	size_t i;

	for (i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		snprintf(line, sizeof(line), "rule x window %s action drop",
			 bytes[i]);
		assert_error(line,
			     "rules.conf:7:15: window limits count packets; use rate for bytes");
	}
}

static void test_window_bounds(void **state)
{
	assert_error("rule x window 0/h",
		     "rules.conf:7:15: window \"0/h\" must allow 1..1048575 packets per period; use rate for more");
	assert_error("rule x window 1048576/h",
		     "rules.conf:7:15: window \"1048576/h\" must allow 1..1048575 packets per period; use rate for more");
	assert_error("rule x window 99999999999999999999999/h",
		     "rules.conf:7:15: window \"99999999999999999999999/h\" must allow 1..1048575 packets per period; use rate for more");
	assert_error("rule x window 1/0s",
		     "rules.conf:7:15: window \"1/0s\" has a zero period");
	assert_error("rule x window 1/0ms",
		     "rules.conf:7:15: window \"1/0ms\" has a zero period");
	assert_error("rule x window 1/79h",
		     "rules.conf:7:15: window \"1/79h\" has a period longer than 78h");
	assert_error("rule x window 100/4d",
		     "rules.conf:7:15: window \"100/4d\" has a period longer than 78h");
	assert_error("rule x window 1/99999999999999999999d",
		     "rules.conf:7:15: window \"1/99999999999999999999d\" has a period longer than 78h");
}

static void test_window_takes_no_burst(void **state)
{
	assert_error("rule x window 5/h burst 3",
		     "rules.conf:7:19: \"burst\" applies to a rate, not a window");
	assert_error("rule x rate 1/s window 5/h burst 3",
		     "rules.conf:7:28: \"burst\" applies to a rate, not a window");
	assert_error("rule x window 5/h rate 1/s burst 2 burst 3",
		     "rules.conf:7:36: \"burst\" must come right after a rate");
	assert_error("rule x conns 5 burst 3",
		     "rules.conf:7:16: \"burst\" must come right after a rate");
}

static void test_conns_counts_tcp_connections(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r;

	/* conns alone is a whole rule, and implies proto tcp. */
	r = rule(&cfg, "rule a conns 100");
	assert_int_equal(r->n_limits, 1);
	assert_conns(&r->limits[0], 100);
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_int_equal(r->action, SL_ACT_DROP);
	config_free(&cfg);
	r = rule(&cfg, "rule a proto tcp dport 443 conns 4294967295");
	assert_conns(&r->limits[0], 4294967295ull);
	assert_int_equal(r->proto, IPPROTO_TCP);
	config_free(&cfg);
	r = rule(&cfg, "rule a conns 1 proto tcp family ip6 key src prefix6 64");
	assert_conns(&r->limits[0], 1);
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_int_equal(r->families, 1 << SL_FAM_IP6);
	config_free(&cfg);
	r = rule(&cfg, "rule a dport 22 syn key global conns 10");
	assert_conns(&r->limits[0], 10);
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_true(r->syn);
	config_free(&cfg);
}

static void test_conns_errors(void **state)
{
	assert_error("rule x conns",
		     "rules.conf:7:13: expected a connection count after \"conns\", got end of line");
	assert_error("rule x conns many",
		     "rules.conf:7:14: expected a connection count after \"conns\", got \"many\"");
	assert_error("rule x conns 10/s",
		     "rules.conf:7:14: expected a connection count after \"conns\", got \"10/s\"");
	assert_error("rule x conns -1",
		     "rules.conf:7:14: expected a connection count after \"conns\", got \"-1\"");
	assert_error("rule x conns 0",
		     "rules.conf:7:14: conns must be 1..4294967295, got \"0\"");
	assert_error("rule x conns 4294967296",
		     "rules.conf:7:14: conns must be 1..4294967295, got \"4294967296\"");
	assert_error("rule x conns 99999999999999999999999",
		     "rules.conf:7:14: conns must be 1..4294967295, got \"99999999999999999999999\"");
	assert_error("rule x conns 1 conns 2",
		     "rules.conf:7:16: \"conns\" given twice");
	assert_error("rule x conns 1 rate 1/s conns 1",
		     "rules.conf:7:25: \"conns\" given twice");
}

static void test_conns_needs_proto_tcp(void **state)
{
	assert_error("rule x proto udp conns 5",
		     "rules.conf:7:18: conns needs proto tcp, not udp");
	assert_error("rule x conns 5 proto icmp",
		     "rules.conf:7:16: conns needs proto tcp, not icmp");
	assert_error("rule x conns 5 proto icmpv6",
		     "rules.conf:7:16: conns needs proto tcp, not icmpv6");
	assert_error("rule x proto 47 conns 5",
		     "rules.conf:7:17: conns needs proto tcp, not 47");
	assert_error("rule x conns 5 proto 6 proto udp",
		     "rules.conf:7:24: \"proto\" given twice");
}

static void test_rule_combines_rates_windows_and_conns(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r;

	r = rule(&cfg, "rule a window 100/h window 1000/d");
	assert_int_equal(r->n_limits, 2);
	assert_window(&r->limits[0], 100, 3600 * S);
	assert_window(&r->limits[1], 1000, 86400 * S);
	config_free(&cfg);
	/* Limits keep the order given; only rates get a burst. */
	r = rule(&cfg, "rule a window 100/h rate 10/s burst 20 conns 5 rate 1MB/s");
	assert_int_equal(r->n_limits, SL_MAX_LIMITS);
	assert_window(&r->limits[0], 100, 3600 * S);
	assert_limit(&r->limits[1], SL_UNIT_PACKETS, 10, S, 20);
	assert_conns(&r->limits[2], 5);
	assert_limit(&r->limits[3], SL_UNIT_BYTES, 1024 * 1024, S, 104857);
	assert_int_equal(r->proto, IPPROTO_TCP);
	config_free(&cfg);
	r = rule(&cfg, "rule a window 1/s window 1/s window 1/s window 1/s");
	assert_int_equal(r->n_limits, SL_MAX_LIMITS);
	config_free(&cfg);
	assert_error("rule x rate 1/s window 2/s rate 3/s conns 4 window 5/h",
		     "rules.conf:7:45: more than 4 limits (rate, window, conns) in one rule");
	assert_error("rule x window 1/s window 2/s window 3/s window 4/s conns 5",
		     "rules.conf:7:52: more than 4 limits (rate, window, conns) in one rule");
	assert_error("rule x conns 1 window 1/s window 2/s window 3/s rate 4/s",
		     "rules.conf:7:49: more than 4 limits (rate, window, conns) in one rule");
}

static void test_rule_without_limit(void **state)
{
	assert_error("rule x",
		     "rules.conf:7:7: rule \"x\" has no limit; expected at least one limit: rate, window or conns");
	assert_error("rule x proto tcp dport 22   # no rate yet",
		     "rules.conf:7:26: rule \"x\" has no limit; expected at least one limit: rate, window or conns");
	assert_error("rule x proto tcp action reject",
		     "rules.conf:7:31: rule \"x\" has no limit; expected at least one limit: rate, window or conns");
}

/* Rules: actions. */

static void test_rule_action_drop_and_pass(void **state)
{
	struct sl_config cfg;

	assert_int_equal(rule(&cfg, "rule a rate 1/s action pass")->action,
			 SL_ACT_PASS);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a action drop rate 1/s")->action,
			 SL_ACT_DROP);
	config_free(&cfg);
	assert_error("rule x rate 1/s action",
		     "rules.conf:7:23: expected drop, pass, reject or mark N after \"action\", got end of line");
	assert_error("rule x rate 1/s action maybe",
		     "rules.conf:7:24: expected drop, pass, reject or mark N after \"action\", got \"maybe\"");
	assert_error("rule x rate 1/s action Reject",
		     "rules.conf:7:24: expected drop, pass, reject or mark N after \"action\", got \"Reject\"");
}

static void test_rule_action_reject_and_mark(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r;

	r = rule(&cfg, "rule a rate 1/s action reject");
	assert_int_equal(r->action, SL_ACT_REJECT);
	assert_int_equal(r->mark, 0);
	config_free(&cfg);
	r = rule(&cfg, "rule a action mark 7 rate 1/s");
	assert_int_equal(r->action, SL_ACT_MARK);
	assert_int_equal(r->mark, 7);
	config_free(&cfg);
	r = rule(&cfg, "rule a rate 1/s action mark 4294967295");
	assert_int_equal(r->action, SL_ACT_MARK);
	assert_int_equal(r->mark, 4294967295u);
	config_free(&cfg);
	r = rule(&cfg, "rule a rate 1/s action mark 1 # steer to fallback");
	assert_int_equal(r->mark, 1);
	config_free(&cfg);
}

static void test_action_mark_errors(void **state)
{
	assert_error("rule x rate 1/s action mark",
		     "rules.conf:7:28: expected a mark (1..4294967295) after \"mark\", got end of line");
	assert_error("rule x rate 1/s action mark seven",
		     "rules.conf:7:29: expected a mark (1..4294967295) after \"mark\", got \"seven\"");
	assert_error("rule x rate 1/s action mark 0x7",
		     "rules.conf:7:29: expected a mark (1..4294967295) after \"mark\", got \"0x7\"");
	assert_error("rule x rate 1/s action mark -1",
		     "rules.conf:7:29: expected a mark (1..4294967295) after \"mark\", got \"-1\"");
	assert_error("rule x action mark rate 1/s",
		     "rules.conf:7:20: expected a mark (1..4294967295) after \"mark\", got \"rate\"");
	assert_error("rule x rate 1/s action mark 0",
		     "rules.conf:7:29: mark must be 1..4294967295, got \"0\"");
	assert_error("rule x rate 1/s action mark 4294967296",
		     "rules.conf:7:29: mark must be 1..4294967295, got \"4294967296\"");
	assert_error("rule x rate 1/s action mark 99999999999999999999999",
		     "rules.conf:7:29: mark must be 1..4294967295, got \"99999999999999999999999\"");
	assert_error("rule x rate 1/s action mark 7 7",
		     "rules.conf:7:31: expected one of family, proto, dport, syn, from, key, rate, burst, window, conns, scope, action, ban, warmup, on-full, got \"7\"");
	assert_error("rule x rate 1/s action mark 7 action reject",
		     "rules.conf:7:31: \"action\" given twice");
}

static void test_rule_warmup_on_rates(void **state)
{
	struct sl_config cfg;
	const struct sl_rule_spec *r;

	r = rule(&cfg, "rule a rate 100/s warmup 30s");
	assert_int_equal(r->warmup_ns, 30 * S);
	assert_string_equal(r->text,
			    "rule a key src prefix4 32 prefix6 128 rate 100/s burst 10 action drop warmup 30s");
	config_free(&cfg);
	/* Before its rate, beside windows and conns, with a byte rate. */
	r = rule(&cfg, "rule a warmup 1500ms window 10/s rate 2MB/s conns 5");
	assert_int_equal(r->warmup_ns, 1500 * MS);
	config_free(&cfg);
	r = rule(&cfg, "rule a rate 100mbit warmup 78h");
	assert_int_equal(r->warmup_ns, 78 * 3600 * S);
	config_free(&cfg);
	/* One unit per 19h is the slowest rate a warm-up can triple. */
	r = rule(&cfg, "rule a rate 1/19h warmup 1ms");
	assert_int_equal(r->warmup_ns, MS);
	config_free(&cfg);
	r = rule(&cfg, "rule a rate 100/s");
	assert_int_equal(r->warmup_ns, 0);
	config_free(&cfg);
}

static void test_rule_warmup_errors(void **state)
{
	assert_error("rule x window 10/s warmup 10s",
		     "rules.conf:7:20: warmup ramps up a rate, but rule \"x\" has no rate limit");
	assert_error("rule x warmup 10s conns 5 action reject",
		     "rules.conf:7:8: warmup ramps up a rate, but rule \"x\" has no rate limit");
	assert_error("rule x rate 1/s warmup",
		     "rules.conf:7:23: expected a duration like 30s or 5m after \"warmup\", got end of line");
	assert_error("rule x rate 1/s warmup soon",
		     "rules.conf:7:24: expected a duration like 30s or 5m after \"warmup\", got \"soon\"");
	assert_error("rule x rate 1/s warmup 10",
		     "rules.conf:7:24: expected a duration like 30s or 5m after \"warmup\", got \"10\"");
	assert_error("rule x rate 1/s warmup 0s",
		     "rules.conf:7:24: warmup must be 1ms..78h, got \"0s\"");
	assert_error("rule x rate 1/s warmup 79h",
		     "rules.conf:7:24: warmup must be 1ms..78h, got \"79h\"");
	assert_error("rule x rate 1/s warmup 99999999999999999999d",
		     "rules.conf:7:24: warmup must be 1ms..78h, got \"99999999999999999999d\"");
	assert_error("rule x rate 1/s warmup 1s warmup 2s",
		     "rules.conf:7:27: \"warmup\" given twice");
	assert_error("rule x rate 10/s rate 1/d warmup 1m",
		     "rules.conf:7:27: warmup needs rates of at least one unit per 19h; rate \"1/d\" is slower");
	assert_cli_error("rule x window 1/s warmup 5s",
			 "argument 5: warmup ramps up a rate, but rule \"x\" has no rate limit");
}

static void test_rule_on_full_drop_is_the_default_pass_is_kept(void **state)
{
	struct sl_config cfg;

	assert_int_equal(rule(&cfg, "rule a rate 1/s")->on_full, SL_ON_FULL_DROP);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a rate 1/s on-full drop")->on_full,
			 SL_ON_FULL_DROP);
	config_free(&cfg);
	assert_int_equal(rule(&cfg, "rule a on-full pass window 5/m action reject")->on_full,
			 SL_ON_FULL_PASS);
	config_free(&cfg);
	/* A conns limit with a ban: the ban's count is key state. */
	assert_int_equal(rule(&cfg, "rule a conns 3 ban after 2 within 10s for 1m on-full pass")->on_full,
			 SL_ON_FULL_PASS);
	config_free(&cfg);
	/* A conns limit beside a rate: the rate keeps state, so it may fill. */
	assert_int_equal(rule(&cfg, "rule a conns 3 rate 1/s on-full pass")->on_full,
			 SL_ON_FULL_PASS);
	config_free(&cfg);
}

static void test_rule_on_full_errors(void **state)
{
	assert_error("rule a rate 1/s on-full",
		     "rules.conf:7:24: expected drop or pass after \"on-full\", got end of line");
	assert_error("rule a rate 1/s on-full evict",
		     "rules.conf:7:25: expected drop or pass after \"on-full\", got \"evict\"");
	assert_error("rule a rate 1/s on-full Pass",
		     "rules.conf:7:25: expected drop or pass after \"on-full\", got \"Pass\"");
	assert_error("rule a rate 1/s on-full pass on-full drop",
		     "rules.conf:7:30: \"on-full\" given twice");
	assert_error("rule a on-full pass conns 5",
		     "rules.conf:7:8: on-full needs a rate, a window or a ban: a rule with only conns and no ban keeps no key state");
	assert_cli_error("rule a conns 5 on-full drop",
			 "argument 5: on-full needs a rate, a window or a ban: a rule with only conns and no ban keeps no key state");
}

static void test_unknown_clause(void **state)
{
	assert_error("rule x colour red rate 1/s",
		     "rules.conf:7:8: expected one of family, proto, dport, syn, from, key, rate, burst, window, conns, scope, action, ban, warmup, on-full, got \"colour\"");
	assert_error("rule x rate 1/s Rate 2/s",
		     "rules.conf:7:17: expected one of family, proto, dport, syn, from, key, rate, burst, window, conns, scope, action, ban, warmup, on-full, got \"Rate\"");
}

static void test_clause_given_twice(void **state)
{
	assert_error("rule x proto tcp proto udp rate 1/s",
		     "rules.conf:7:18: \"proto\" given twice");
	assert_error("rule x family ip4 rate 1/s family ip4",
		     "rules.conf:7:28: \"family\" given twice");
	assert_error("rule x dport 1 dport 2 rate 1/s",
		     "rules.conf:7:16: \"dport\" given twice");
	assert_error("rule x syn syn rate 1/s",
		     "rules.conf:7:12: \"syn\" given twice");
	assert_error("rule x from ::/0 from ::/0 rate 1/s",
		     "rules.conf:7:18: \"from\" given twice");
	assert_error("rule x key src key global rate 1/s",
		     "rules.conf:7:16: \"key\" given twice");
	assert_error("rule x rate 1/s action drop action pass",
		     "rules.conf:7:29: \"action\" given twice");
}

static void test_clause_conflicts(void **state)
{
	assert_error("rule x family ip6 proto icmp rate 1/s",
		     "rules.conf:7:19: proto icmp is IPv4 only but the rule is family ip6");
	assert_error("rule x proto icmpv6 family ip4 rate 1/s",
		     "rules.conf:7:21: proto icmpv6 is IPv6 only but the rule is family ip4");
	assert_error("rule x proto udp syn rate 1/s",
		     "rules.conf:7:18: syn needs proto tcp, not udp");
	assert_error("rule x syn proto 47 rate 1/s",
		     "rules.conf:7:12: syn needs proto tcp, not 47");
	assert_error("rule x dport 53 proto icmp rate 1/s",
		     "rules.conf:7:17: dport needs proto tcp or udp, not icmp");
	assert_error("rule x proto icmpv6 dport 53 rate 1/s",
		     "rules.conf:7:21: dport needs proto tcp or udp, not icmpv6");
	assert_error("rule x proto 47 key dport rate 1/s",
		     "rules.conf:7:17: key dport needs proto tcp or udp, not 47");
	assert_error("rule x family ip4 from 2001:db8::/32 rate 1/s",
		     "rules.conf:7:19: 2001:db8::/32 is IPv6 but the rule is family ip4");
	assert_error("rule x from 10.0.0.0/8 family ip6 rate 1/s",
		     "rules.conf:7:24: 10.0.0.0/8 is IPv4 but the rule is family ip6");
}

static void test_duplicate_rule_name(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(config_parse_line(&cfg, "rule x rate 1/s", SRC, 3, &err), 0);
	assert_int_equal(parse(&cfg, "rule x rate 2/s"), -EINVAL);
	assert_string_equal(err.msg, "rules.conf:7:6: rule \"x\" already defined at line 3");
	/* Rules read back from the kernel have no line. */
	cfg.rules[0].line = 0;
	assert_int_equal(config_parse_line(&cfg, "rule x rate 2/s", NULL, 0, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "argument 2: rule \"x\" already exists");
	assert_int_equal(cfg.n_rules, 1);
	assert_int_equal(cfg.rules[0].limits[0].count, 1);
	config_free(&cfg);
}

static void test_more_than_max_rules(void **state)
{
	struct sl_config cfg;
	char line[64];
	unsigned i;

	config_init(&cfg);
	for (i = 0; i < SL_MAX_RULES; i++) {
		snprintf(line, sizeof(line), "rule r%u rate 1/s", i);
		assert_int_equal(parse(&cfg, line), 0);
	}
	assert_int_equal(parse(&cfg, "rule one-more rate 1/s"), -EINVAL);
	assert_string_equal(err.msg, "rules.conf:7:1: too many rules (at most 64)");
	assert_int_equal(cfg.n_rules, SL_MAX_RULES);
	config_free(&cfg);
}

static void test_rule_error_leaves_cfg_unchanged(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(parse(&cfg, "rule a rate 1/s"), 0);
	assert_int_equal(parse(&cfg, "rule b proto tcp dport 22 rate 1/s action maybe"),
			 -EINVAL);
	assert_int_equal(cfg.n_rules, 1);
	assert_int_equal(config_find_rule(&cfg, "b"), -1);
	config_free(&cfg);
}

/* Canonical text. */

static void assert_spec_equal(const struct sl_rule_spec *a,
			      const struct sl_rule_spec *b)
{
	unsigned i;

	assert_string_equal(a->name, b->name);
	assert_int_equal(a->families, b->families);
	assert_int_equal(a->proto, b->proto);
	assert_int_equal(a->syn, b->syn);
	assert_int_equal(a->n_ports, b->n_ports);
	for (i = 0; i < a->n_ports; i++) {
		assert_int_equal(a->ports[i].lo, b->ports[i].lo);
		assert_int_equal(a->ports[i].hi, b->ports[i].hi);
	}
	assert_int_equal(a->n_from, b->n_from);
	for (i = 0; i < a->n_from; i++) {
		assert_int_equal(a->from[i].family, b->from[i].family);
		assert_int_equal(a->from[i].prefixlen, b->from[i].prefixlen);
		assert_memory_equal(a->from[i].addr, b->from[i].addr, 16);
	}
	assert_int_equal(a->key_type, b->key_type);
	assert_int_equal(a->on_full, b->on_full);
	assert_int_equal(a->prefix4, b->prefix4);
	assert_int_equal(a->prefix6, b->prefix6);
	assert_int_equal(a->n_limits, b->n_limits);
	for (i = 0; i < a->n_limits; i++) {
		assert_int_equal(a->limits[i].kind, b->limits[i].kind);
		assert_int_equal(a->limits[i].unit, b->limits[i].unit);
		assert_int_equal(a->limits[i].count, b->limits[i].count);
		assert_int_equal(a->limits[i].period_ns,
				 b->limits[i].period_ns);
		assert_int_equal(a->limits[i].burst, b->limits[i].burst);
	}
	assert_int_equal(a->action, b->action);
	assert_int_equal(a->mark, b->mark);
	assert_int_equal(a->ban_after, b->ban_after);
	assert_int_equal(a->ban_within_ns, b->ban_within_ns);
	assert_int_equal(a->ban_for_ns, b->ban_for_ns);
	assert_int_equal(a->ban_max_ns, b->ban_max_ns);
	assert_string_equal(a->text, b->text);
}

static void assert_round_trip(const char *text, const char *canonical)
{
	struct sl_config a, b;

	rule(&a, text);
	if (canonical)
		assert_string_equal(a.rules[0].text, canonical);
	rule(&b, a.rules[0].text);
	assert_spec_equal(&a.rules[0], &b.rules[0]);
	config_free(&a);
	config_free(&b);
}

static void test_canonical_text_of_design_example_rules(void **state)
{
	assert_round_trip("rule api-pps   proto tcp dport 80,443          key src            rate 2000/s burst 4000  action drop",
			  "rule api-pps proto tcp dport 80,443 key src prefix4 32 prefix6 128 rate 2000/s burst 4000 action drop");
	assert_round_trip("rule v6-nets   family ip6                      key src prefix6 64 rate 100mbit burst 2MB action drop",
			  "rule v6-nets family ip6 key src prefix4 32 prefix6 64 rate 12500000B/s burst 2097152B action drop");
	assert_round_trip("rule api-conn  proto tcp dport 443             key src            conns 100            action reject",
			  "rule api-conn proto tcp dport 443 key src prefix4 32 prefix6 128 conns 100 action reject");
	assert_round_trip("rule dns       proto udp dport 53              key src            window 100/h window 1000/d action drop",
			  "rule dns proto udp dport 53 key src prefix4 32 prefix6 128 window 100/h window 1000/d action drop");
	assert_round_trip("rule degrade   proto tcp dport 8080            key src prefix4 24 rate 500/s action mark 7",
			  "rule degrade proto tcp dport 8080 key src prefix4 24 prefix6 128 rate 500/s burst 50 action mark 7");
	assert_round_trip("rule ssh-syn   proto tcp dport 22 syn          key src            rate 10/m burst 5    action reject  ban after 20 within 1m for 10m",
			  "rule ssh-syn proto tcp dport 22 syn key src prefix4 32 prefix6 128 rate 10/m burst 5 action reject ban after 20 within 1m for 10m max 1d");
}

static void test_canonical_text_spells_out_defaults(void **state)
{
	assert_round_trip("rule a rate 100/s",
			  "rule a key src prefix4 32 prefix6 128 rate 100/s burst 10 action drop");
	assert_round_trip("rule c syn dport 22 key global rate 2MB/s",
			  "rule c proto tcp dport 22 syn key global rate 2097152B/s burst 209715B action drop");
	assert_round_trip("rule f dport 80-80,1000-2000 key dport rate 3/72h",
			  "rule f dport 80,1000-2000 key dport rate 3/3d burst 1 action drop");
	assert_round_trip("rule g proto icmp rate 10/60s rate 5/1500ms",
			  "rule g proto icmp key src prefix4 32 prefix6 128 rate 10/m burst 1 rate 5/1500ms burst 1 action drop");
	assert_round_trip("rule k conns 5",
			  "rule k proto tcp key src prefix4 32 prefix6 128 conns 5 action drop");
	assert_round_trip("rule l key global window 60/60s window 3/72h window 7/1500ms",
			  "rule l key global window 60/m window 3/3d window 7/1500ms action drop");
	assert_round_trip("rule m action mark 0042 conns 0010 key dport",
			  "rule m proto tcp key dport conns 10 action mark 42");
	assert_round_trip("rule n warmup 120s key global rate 5/s",
			  "rule n key global rate 5/s burst 1 action drop warmup 2m");
	assert_round_trip("rule o rate 1000/s warmup 2500ms",
			  "rule o key src prefix4 32 prefix6 128 rate 1000/s burst 100 action drop warmup 2500ms");
	/* A whole unit is still a number and a unit: found by the fuzzer. */
	assert_round_trip("rule p rate 1/19h warmup 1ms",
			  "rule p key src prefix4 32 prefix6 128 rate 1/19h burst 1 action drop warmup 1ms");
	assert_round_trip("rule q rate 5/s warmup 60s",
			  "rule q key src prefix4 32 prefix6 128 rate 5/s burst 1 action drop warmup 1m");
	assert_round_trip("rule r rate 5/s warmup 24h",
			  "rule r key src prefix4 32 prefix6 128 rate 5/s burst 1 action drop warmup 1d");
	/* on-full is spelled out only when it is not the default, drop. */
	assert_round_trip("rule n rate 1/s on-full drop",
			  "rule n key src prefix4 32 prefix6 128 rate 1/s burst 1 action drop");
	assert_round_trip("rule o on-full pass window 3/s action reject",
			  "rule o key src prefix4 32 prefix6 128 window 3/s action reject on-full pass");
}

static void test_canonical_text_round_trips(void **state)
{
	static const char *const rules[] = {
		"rule b family ip4 proto udp dport 53,5353,10000-10100 from 10.0.0.0/8,192.168.1.7 key src prefix4 24 rate 5/10s burst 3 rate 1000/d action pass",
		"rule d proto icmpv6 family ip6 from 2001:db8::/32,::1 key global rate 1/ms rate 64KB/m burst 1500B",
		"rule e proto 47 rate 1gbit",
		"rule h action pass rate 8kbit burst 9000 key src prefix6 48",
		"rule i from 0.0.0.0/0,::/0 rate 1GB/h burst 1GB",
		"rule j proto udp key dport rate 1099511627776/s",
		"rule k window 5/10s rate 1MB/s window 1000/d conns 7 action reject",
		"rule l family ip6 conns 4294967295 action mark 4294967295",
		"rule m window 1048575/1500ms action pass",
		"rule n dport 22 syn conns 3 window 10/m from 10.0.0.0/8 action mark 1",
		"rule o proto tcp action reject conns 1 rate 8kbit window 1/78h",
		"rule p proto udp from ::/0 window 1/ms rate 2/s burst 2 action reject",
		"rule q ban after 1048575 within 78h for 365d rate 1/s key src prefix4 0 prefix6 0",
		"rule r family ip6 key src prefix6 64 ban after 3 within 1500ms for 90s max 2h rate 1/s action pass",
		"rule s on-full pass key dport proto tcp rate 10/s conns 2 action mark 9",
	};
	size_t i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		assert_round_trip(rules[i], NULL);
}

static void test_canonical_text_too_long_is_an_error(void **state)
{
	char line[1024] = "rule long-one rate 1/s from ";
	unsigned i;

	for (i = 0; i < SL_MAX_FROM; i++)
		sprintf(line + strlen(line), "%s2001:db8:1111:2222:3333:4444:5555:%x/128",
			i ? "," : "", 0x6660 + i);
	assert_error(line,
		     "rules.conf:7:6: rule \"long-one\" is longer than 479 characters when written out in full");
}

/* Breakers. */

#define BRK_API	"breaker api service tcp/8080 errors 100 within 10s open 5m probes 10"

static void test_breaker_design_example(void **state)
{
	const struct sl_breaker_spec *b;
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(parse(&cfg, "breaker api    service tcp/8080 errors 100 within 10s open 5m probes 10"), 0);
	assert_int_equal(cfg.n_breakers, 1);
	b = &cfg.breakers[0];
	assert_string_equal(b->name, "api");
	assert_int_equal(b->port, 8080);
	assert_int_equal(b->errors, 100);
	assert_int_equal(b->within_ns, 10 * S);
	assert_int_equal(b->open_ns, 300 * S);
	assert_int_equal(b->probes, 10);
	assert_int_equal(b->line, LINE);
	assert_string_equal(b->text, BRK_API);
	assert_int_equal(config_find_breaker(&cfg, "api"), 0);
	assert_int_equal(config_find_breaker(&cfg, "web"), -1);
	/* Rules and breakers have names of their own. */
	assert_int_equal(config_find_rule(&cfg, "api"), -1);
	config_free(&cfg);
}

static void test_breaker_clauses_in_any_order_canonical_text(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(parse(&cfg, "breaker db.primary probes 1 open 90s within 1500ms errors 1 service tcp/05432"), 0);
	assert_int_equal(parse(&cfg, "breaker b2 service tcp/1 errors 1000000 within 1d open 60m probes 1000 # max"), 0);
	assert_int_equal(parse(&cfg, "breaker b3 service tcp/65535 errors 7 within 1s open 3600s probes 2"), 0);
	assert_int_equal(cfg.n_breakers, 3);
	assert_string_equal(cfg.breakers[0].text,
			    "breaker db.primary service tcp/5432 errors 1 within 1500ms open 90s probes 1");
	assert_int_equal(cfg.breakers[0].within_ns, 1500 * MS);
	assert_string_equal(cfg.breakers[1].text,
			    "breaker b2 service tcp/1 errors 1000000 within 1d open 1h probes 1000");
	assert_string_equal(cfg.breakers[2].text,
			    "breaker b3 service tcp/65535 errors 7 within 1s open 1h probes 2");
	config_free(&cfg);
}

/* The text is what the controller re-parses from the pins (as a command line). */
static void test_breaker_canonical_text_round_trips(void **state)
{
	struct sl_config cfg, back;
	unsigned i;

	config_init(&cfg);
	config_init(&back);
	assert_int_equal(parse(&cfg, BRK_API), 0);
	assert_int_equal(parse(&cfg, "breaker x open 1500ms service tcp/443 probes 3 within 90s errors 5"), 0);
	for (i = 0; i < cfg.n_breakers; i++) {
		const struct sl_breaker_spec *a = &cfg.breakers[i], *b;

		assert_int_equal(config_parse_line(&back, a->text, NULL, 0, &err), 0);
		b = &back.breakers[i];
		assert_string_equal(a->name, b->name);
		assert_int_equal(a->port, b->port);
		assert_int_equal(a->errors, b->errors);
		assert_int_equal(a->within_ns, b->within_ns);
		assert_int_equal(a->open_ns, b->open_ns);
		assert_int_equal(a->probes, b->probes);
		assert_string_equal(a->text, b->text);
		assert_int_equal(b->line, 0);
	}
	config_free(&cfg);
	config_free(&back);
}

static void test_breaker_errors(void **state)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
		{ "breaker",
		  "rules.conf:7:8: expected a breaker name (up to 31 letters, digits, '_', '.' or '-', starting with a letter or digit) after \"breaker\", got end of line" },
		{ "breaker -api service tcp/80",
		  "rules.conf:7:9: expected a breaker name (up to 31 letters, digits, '_', '.' or '-', starting with a letter or digit) after \"breaker\", got \"-api\"" },
		{ "breaker api service tcp/80 colour red",
		  "rules.conf:7:28: expected one of service, errors, within, open, probes, got \"colour\"" },
		{ "breaker api service tcp/80 service tcp/81",
		  "rules.conf:7:28: \"service\" given twice" },
		{ "breaker api service",
		  "rules.conf:7:20: expected a service like tcp/8080 after \"service\", got end of line" },
		{ "breaker api service 8080",
		  "rules.conf:7:21: expected a service like tcp/8080 after \"service\", got \"8080\"" },
		{ "breaker api service sctp/80",
		  "rules.conf:7:21: expected a service like tcp/8080 after \"service\", got \"sctp/80\"" },
		{ "breaker api service /80",
		  "rules.conf:7:21: expected a service like tcp/8080 after \"service\", got \"/80\"" },
		{ "breaker api service udp/53",
		  "rules.conf:7:21: a breaker watches a TCP service (its resets and HTTP responses), got \"udp/53\"" },
		{ "breaker api service tcp/http",
		  "rules.conf:7:25: expected a port number, got \"http\"" },
		{ "breaker api service tcp/",
		  "rules.conf:7:25: expected a port number, got \"\"" },
		{ "breaker api service tcp/0",
		  "rules.conf:7:25: port must be 1..65535, got \"0\"" },
		{ "breaker api service tcp/65536",
		  "rules.conf:7:25: port must be 1..65535, got \"65536\"" },
		{ "breaker api errors",
		  "rules.conf:7:19: expected an error count after \"errors\", got end of line" },
		{ "breaker api errors many",
		  "rules.conf:7:20: expected an error count after \"errors\", got \"many\"" },
		{ "breaker api errors 0",
		  "rules.conf:7:20: errors must be 1..1000000, got \"0\"" },
		{ "breaker api errors 1000001",
		  "rules.conf:7:20: errors must be 1..1000000, got \"1000001\"" },
		{ "breaker api within 10",
		  "rules.conf:7:20: expected a duration like 10s or 5m after \"within\", got \"10\"" },
		{ "breaker api within 999ms",
		  "rules.conf:7:20: within must be 1s..1d, got \"999ms\"" },
		{ "breaker api within 25h",
		  "rules.conf:7:20: within must be 1s..1d, got \"25h\"" },
		{ "breaker api open soon",
		  "rules.conf:7:18: expected a duration like 10s or 5m after \"open\", got \"soon\"" },
		{ "breaker api open 0s",
		  "rules.conf:7:18: open must be 1s..1d, got \"0s\"" },
		{ "breaker api open 2d",
		  "rules.conf:7:18: open must be 1s..1d, got \"2d\"" },
		{ "breaker api probes few",
		  "rules.conf:7:20: expected a probe count after \"probes\", got \"few\"" },
		{ "breaker api probes 0",
		  "rules.conf:7:20: probes must be 1..1000, got \"0\"" },
		{ "breaker api probes 1001",
		  "rules.conf:7:20: probes must be 1..1000, got \"1001\"" },
		{ "breaker api",
		  "rules.conf:7:12: breaker \"api\" has no service; a breaker needs service, errors, within, open and probes" },
		{ "breaker api service tcp/80 errors 5 within 2s open 2s",
		  "rules.conf:7:54: breaker \"api\" has no probes; a breaker needs service, errors, within, open and probes" },
		{ "breaker api probes 2 open 2s within 2s service tcp/80   # no errors",
		  "rules.conf:7:54: breaker \"api\" has no errors; a breaker needs service, errors, within, open and probes" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_error(cases[i].line, cases[i].msg);
}

static void test_breaker_duplicates_and_limit(void **state)
{
	struct sl_config cfg;
	char line[128];
	unsigned i;

	config_init(&cfg);
	assert_int_equal(parse(&cfg, BRK_API), 0);
	assert_int_equal(parse(&cfg, "breaker api service tcp/81 errors 1 within 1s open 1s probes 1"), -EINVAL);
	assert_string_equal(err.msg, "rules.conf:7:9: breaker \"api\" already defined at line 7");
	assert_int_equal(parse(&cfg, "breaker web service tcp/8080 errors 1 within 1s open 1s probes 1"), -EINVAL);
	assert_string_equal(err.msg, "rules.conf:7:21: service tcp/8080 already has breaker \"api\"");
	assert_int_equal(cfg.n_breakers, 1);
	config_free(&cfg);

	/* Read back from the pins, a breaker has no line. */
	config_init(&cfg);
	assert_int_equal(config_parse_line(&cfg, BRK_API, NULL, 0, &err), 0);
	assert_int_equal(config_parse_line(&cfg, BRK_API, NULL, 0, &err), -EINVAL);
	assert_string_equal(err.msg, "argument 2: breaker \"api\" already exists");
	config_free(&cfg);

	config_init(&cfg);
	for (i = 0; i < SL_MAX_BREAKERS; i++) {
		snprintf(line, sizeof(line),
			 "breaker b%u service tcp/%u errors 1 within 1s open 1s probes 1",
			 i, 1000 + i);
		assert_int_equal(parse(&cfg, line), 0);
	}
	assert_int_equal(parse(&cfg, "breaker one-more service tcp/2000 errors 1 within 1s open 1s probes 1"),
			 -EINVAL);
	assert_string_equal(err.msg, "rules.conf:7:1: too many breakers (at most 32)");
	assert_int_equal(cfg.n_breakers, SL_MAX_BREAKERS);
	config_free(&cfg);
}

static void test_breaker_command_line_errors_name_the_argument(void **state)
{
	assert_cli_error("breaker api service tcp/80 errors 5 within 2s open 2s probes lots",
			 "argument 12: expected a probe count after \"probes\", got \"lots\"");
	assert_cli_error("breaker api service tcp/80",
			 "argument 5: breaker \"api\" has no errors; a breaker needs service, errors, within, open and probes");
}

/* Command lines. */

static void test_command_line_errors_name_the_argument(void **state)
{
	assert_cli_error("rule x rate 1/s colour red",
			 "argument 5: expected one of family, proto, dport, syn, from, key, rate, burst, window, conns, scope, action, ban, warmup, on-full, got \"colour\"");
	assert_cli_error("rule x dport",
			 "argument 4: expected a port list after \"dport\", got end of line");
	assert_cli_error("rule x dport 80,http rate 1/s",
			 "argument 4: expected a port or a range like 8000-8080, got \"http\"");
	assert_cli_error("allow 10.0.0.0/8 10.0.0.1/8",
			 "argument 3: host bits set in 10.0.0.1/8; did you mean 10.0.0.0/8?");
	assert_cli_error("rule x",
			 "argument 3: rule \"x\" has no limit; expected at least one limit: rate, window or conns");
	assert_cli_error("frobnicate",
			 "argument 1: expected a statement (interface, malformed, keys, refusals, key-timeout, allow, deny, rule, breaker, conn-timeout, reject-limit, event-limit, metrics, cluster), got \"frobnicate\"");
	assert_cli_error("rule x window 2MB/h",
			 "argument 4: window limits count packets; use rate for bytes");
	assert_cli_error("rule x proto udp conns 5",
			 "argument 5: conns needs proto tcp, not udp");
	assert_cli_error("rule x conns 5 action mark 0",
			 "argument 7: mark must be 1..4294967295, got \"0\"");
	assert_cli_error("conn-timeout half-open soon",
			 "argument 3: expected a duration like 30s or 5m after \"half-open\", got \"soon\"");
	assert_cli_error("reject-limit 100/s burst 5 extra",
			 "argument 5: expected end of line, got \"extra\"");
}

/* Files. */

static void test_file_parses_every_statement(void **state)
{
	char path[64];
	struct sl_config cfg;

	write_file(path,
		   "# gateway eth0\n"
		   "interface eth0 mode native\n"
		   "malformed drop\r\n"
		   "\n"
		   "keys 256k\n"
		   "key-timeout 30s\n"
		   "allow 10.0.0.0/8 192.168.0.0/16   # office\n"
		   "deny  203.0.113.0/24\n"
		   "conn-timeout half-open 20s established 10m\n"
		   "reject-limit 500/s burst 100   # answers per second\n"
		   "rule api-pps   proto tcp dport 80,443  key src  rate 2000/s burst 4000  action drop\n"
		   "rule v6-nets   family ip6  key src prefix6 64 rate 100mbit burst 2MB action drop\n"
		   "rule api-conn  proto tcp dport 443             key src            conns 100            action reject\n"
		   "rule dns       proto udp dport 53              key src            window 100/h window 1000/d action drop\n"
		   "rule degrade   proto tcp dport 8080            key src prefix4 24 rate 500/s action mark 7\n"
		   "breaker api    service tcp/8080 errors 100 within 10s open 5m probes 10\n"
		   "metrics [::1]:9477\n");
	config_init(&cfg);
	assert_int_equal(config_parse_file(&cfg, path, &err), 0);
	unlink(path);
	assert_string_equal(cfg.iface, "eth0");
	assert_int_equal(cfg.mode, SL_MODE_NATIVE);
	assert_int_equal(cfg.malformed, SL_MALFORMED_DROP);
	assert_int_equal(cfg.keys, 262144);
	assert_int_equal(cfg.key_timeout_ns, 30 * S);
	assert_int_equal(cfg.n_allow, 2);
	assert_int_equal(cfg.n_deny, 1);
	assert_int_equal(cfg.half_open_ns, 20 * S);
	assert_int_equal(cfg.established_ns, 600 * S);
	assert_int_equal(cfg.reject_limit.count, 500);
	assert_int_equal(cfg.reject_limit.burst, 100);
	assert_int_equal(cfg.n_rules, 5);
	assert_int_equal(cfg.rules[0].line, 11);
	assert_int_equal(cfg.rules[1].line, 12);
	assert_int_equal(config_find_rule(&cfg, "v6-nets"), 1);
	assert_int_equal(cfg.rules[2].action, SL_ACT_REJECT);
	assert_int_equal(cfg.rules[3].n_limits, 2);
	assert_int_equal(cfg.rules[4].mark, 7);
	assert_int_equal(cfg.n_breakers, 1);
	assert_int_equal(cfg.breakers[0].line, 16);
	assert_int_equal(cfg.breakers[0].port, 8080);
	assert_string_equal(cfg.metrics, "[::1]:9477");
	config_free(&cfg);
}

static void test_file_error_names_file_line_and_column(void **state)
{
	char path[64], msg[160];
	struct sl_config cfg;

	write_file(path,
		   "interface eth0\n"
		   "\n"
		   "rule\tx proto tcp  dport http rate 1/s\n");
	config_init(&cfg);
	assert_int_equal(config_parse_file(&cfg, path, &err), -EINVAL);
	unlink(path);
	snprintf(msg, sizeof(msg),
		 "%s:3:25: expected a port or a range like 8000-8080, got \"http\"",
		 path);
	assert_string_equal(err.msg, msg);
	config_free(&cfg);
}

static void test_file_with_one_bad_line_leaves_cfg_empty(void **state)
{
	char path[64];
	struct sl_config cfg;

	write_file(path,
		   "interface eth0\n"
		   "malformed drop\n"
		   "keys 1M\n"
		   "key-timeout 1m\n"
		   "allow 10.0.0.0/8\n"
		   "deny 192.0.2.0/24\n"
		   "conn-timeout established 1h\n"
		   "reject-limit 100/s\n"
		   "rule a rate 1/s\n"
		   "rule b rate 1/s burst banana\n");
	config_init(&cfg);
	assert_int_equal(config_parse_file(&cfg, path, &err), -EINVAL);
	unlink(path);
	assert_empty(&cfg);
	assert_null(cfg.allow);
	assert_null(cfg.deny);
	config_free(&cfg);
}

static void test_file_that_cannot_be_read_reports_strerror(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(config_parse_file(&cfg, "/nonexistent/sluice.conf", &err),
			 -ENOENT);
	assert_string_equal(err.msg,
			    "/nonexistent/sluice.conf: No such file or directory");
	assert_int_equal(config_parse_file(&cfg, "/", &err), -EISDIR);
	assert_string_equal(err.msg, "/: Is a directory");
	assert_empty(&cfg);
	config_free(&cfg);
}

/* CIDR helpers. */

static void test_parse_cidr_accepts_addresses_and_prefixes(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "192.168.1.7", "192.168.1.7/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "2001:db8::/32", "2001:db8::/32" },
		{ "2001:DB8::1", "2001:db8::1/128" },
		{ "::/0", "::/0" },
		{ "::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104" },
	};
	struct sl_cidr c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(config_parse_cidr(cases[i].in, &c), 0);
		assert_cidr(&c, cases[i].out);
	}
	assert_int_equal(config_parse_cidr("10.1.3.0/23", &c), -EINVAL);
	assert_int_equal(config_parse_cidr("10.1.2.0/24", &c), 0);
	assert_int_equal(c.family, SL_FAM_IP4);
	assert_int_equal(c.prefixlen, 24);
	assert_memory_equal(c.addr, ((uint8_t[16]){ 10, 1, 2, 0 }), 16);
}

static void test_parse_cidr_rejects_garbage(void **state)
{
	static const char *const bad[] = {
		"", "10.0.0.0/33", "1.2.3", "::/129", "10.0.0.0/", "/8",
		"10.0.0.0/8x", "10.0.0.0/-1", "10.0.0.0/+8", "abc",
		"1.2.3.4.5", "010.0.0.1", "10.0.0.1/8", "2001:db8::1/64",
		"10.0.0.0/0008", "::1::2", "10.0.0.0//8",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa/128",
	};
	struct sl_cidr c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_parse_cidr(bad[i], &c) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_add_and_del_cidr(void **state)
{
	struct sl_config cfg;
	struct sl_cidr c, other;
	unsigned i;

	config_init(&cfg);
	/* Past the first allocation, to exercise growth. */
	for (i = 0; i < 40; i++) {
		c = (struct sl_cidr){ .family = SL_FAM_IP4, .prefixlen = 32,
				      .addr = { 10, 0, 0, i } };
		assert_int_equal(config_add_cidr(&cfg, true, &c), 0);
		assert_int_equal(config_add_cidr(&cfg, true, &c), 0);
	}
	assert_int_equal(cfg.n_deny, 40);
	assert_int_equal(cfg.n_allow, 0);
	assert_int_equal(config_parse_cidr("10.0.0.7", &c), 0);
	assert_int_equal(config_del_cidr(&cfg, true, &c), 0);
	assert_int_equal(config_del_cidr(&cfg, true, &c), -ENOENT);
	assert_int_equal(config_del_cidr(&cfg, false, &c), -ENOENT);
	assert_int_equal(cfg.n_deny, 39);
	assert_cidr(&cfg.deny[7], "10.0.0.8/32");
	assert_cidr(&cfg.deny[38], "10.0.0.39/32");
	/* Same address, different prefix: a different entry. */
	assert_int_equal(config_parse_cidr("10.0.0.8/31", &other), 0);
	assert_int_equal(config_del_cidr(&cfg, true, &other), -ENOENT);
	config_free(&cfg);
	assert_empty(&cfg);
}

static void test_find_rule(void **state)
{
	struct sl_config cfg;

	config_init(&cfg);
	assert_int_equal(config_find_rule(&cfg, "a"), -1);
	assert_int_equal(parse(&cfg, "rule a rate 1/s"), 0);
	assert_int_equal(parse(&cfg, "rule b rate 1/s"), 0);
	assert_int_equal(config_find_rule(&cfg, "b"), 1);
	assert_int_equal(config_find_rule(&cfg, "a"), 0);
	assert_int_equal(config_find_rule(&cfg, "c"), -1);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blank_and_comment_lines_change_nothing),
		cmocka_unit_test(test_comment_ends_the_statement_anywhere),
		cmocka_unit_test(test_interface_sets_name_and_mode),
		cmocka_unit_test(test_interface_errors),
		cmocka_unit_test(test_malformed_sets_policy),
		cmocka_unit_test(test_malformed_errors),
		cmocka_unit_test(test_keys_accepts_plain_k_and_M),
		cmocka_unit_test(test_keys_errors),
		cmocka_unit_test(test_refusals_takes_a_power_of_two),
		cmocka_unit_test(test_key_timeout_takes_a_duration_1s_to_1d),
		cmocka_unit_test(test_key_timeout_errors),
		cmocka_unit_test(test_conn_timeout_sets_half_open_and_established),
		cmocka_unit_test(test_conn_timeout_and_reject_limit_defaults),
		cmocka_unit_test(test_conn_timeout_errors),
		cmocka_unit_test(test_reject_limit_sets_a_packet_rate_and_burst),
		cmocka_unit_test(test_reject_limit_errors),
		cmocka_unit_test(test_metrics_takes_an_address_and_port),
		cmocka_unit_test(test_metrics_errors),
		cmocka_unit_test(test_parse_listen_fills_the_socket_address),
		cmocka_unit_test(test_parse_listen_errors_leave_the_position_to_the_caller),
		cmocka_unit_test(test_statement_given_twice_is_an_error),
		cmocka_unit_test(test_allow_and_deny_add_cidrs_ignoring_duplicates),
		cmocka_unit_test(test_allow_with_one_bad_cidr_adds_none),
		cmocka_unit_test(test_host_bits_set_suggests_the_network),
		cmocka_unit_test(test_unknown_statement),
		cmocka_unit_test(test_rule_defaults_key_src_full_prefixes_and_drop),
		cmocka_unit_test(test_rule_names_allow_letters_digits_and_separators),
		cmocka_unit_test(test_rule_name_errors),
		cmocka_unit_test(test_rule_family),
		cmocka_unit_test(test_rule_proto_names_and_numbers),
		cmocka_unit_test(test_rule_proto_errors),
		cmocka_unit_test(test_rule_dport_list_and_ranges),
		cmocka_unit_test(test_rule_dport_without_proto_leaves_proto_any),
		cmocka_unit_test(test_rule_dport_errors),
		cmocka_unit_test(test_rule_syn_implies_tcp),
		cmocka_unit_test(test_rule_from_list),
		cmocka_unit_test(test_rule_from_errors),
		cmocka_unit_test(test_rule_key_src_prefixes),
		cmocka_unit_test(test_rule_key_dport_and_global),
		cmocka_unit_test(test_rule_key_errors),
		cmocka_unit_test(test_rate_packets_per_period),
		cmocka_unit_test(test_rate_sizes_are_1024_based_bytes),
		cmocka_unit_test(test_rate_bit_rate_converts_to_bytes_per_second),
		cmocka_unit_test(test_rate_syntax_errors),
		cmocka_unit_test(test_rate_bounds),
		cmocka_unit_test(test_burst_default_is_100ms_of_the_rate),
		cmocka_unit_test(test_burst_default_floors_one_packet_and_64KB),
		cmocka_unit_test(test_burst_default_caps_at_the_explicit_maximum),
		cmocka_unit_test(test_burst_explicit_packets_and_sizes),
		cmocka_unit_test(test_burst_errors),
		cmocka_unit_test(test_rule_takes_up_to_four_rates),
		cmocka_unit_test(test_window_packets_per_period),
		cmocka_unit_test(test_window_syntax_errors),
		cmocka_unit_test(test_window_counts_packets_not_bytes),
		cmocka_unit_test(test_window_bounds),
		cmocka_unit_test(test_window_takes_no_burst),
		cmocka_unit_test(test_conns_counts_tcp_connections),
		cmocka_unit_test(test_conns_errors),
		cmocka_unit_test(test_conns_needs_proto_tcp),
		cmocka_unit_test(test_rule_combines_rates_windows_and_conns),
		cmocka_unit_test(test_rule_without_limit),
		cmocka_unit_test(test_rule_action_drop_and_pass),
		cmocka_unit_test(test_rule_action_reject_and_mark),
		cmocka_unit_test(test_action_mark_errors),
		cmocka_unit_test(test_rule_warmup_on_rates),
		cmocka_unit_test(test_rule_warmup_errors),
		cmocka_unit_test(test_rule_on_full_drop_is_the_default_pass_is_kept),
		cmocka_unit_test(test_rule_on_full_errors),
		cmocka_unit_test(test_unknown_clause),
		cmocka_unit_test(test_clause_given_twice),
		cmocka_unit_test(test_clause_conflicts),
		cmocka_unit_test(test_duplicate_rule_name),
		cmocka_unit_test(test_more_than_max_rules),
		cmocka_unit_test(test_rule_error_leaves_cfg_unchanged),
		cmocka_unit_test(test_canonical_text_of_design_example_rules),
		cmocka_unit_test(test_canonical_text_spells_out_defaults),
		cmocka_unit_test(test_canonical_text_round_trips),
		cmocka_unit_test(test_canonical_text_too_long_is_an_error),
		cmocka_unit_test(test_breaker_design_example),
		cmocka_unit_test(test_breaker_clauses_in_any_order_canonical_text),
		cmocka_unit_test(test_breaker_canonical_text_round_trips),
		cmocka_unit_test(test_breaker_errors),
		cmocka_unit_test(test_breaker_duplicates_and_limit),
		cmocka_unit_test(test_breaker_command_line_errors_name_the_argument),
		cmocka_unit_test(test_command_line_errors_name_the_argument),
		cmocka_unit_test(test_file_parses_every_statement),
		cmocka_unit_test(test_file_error_names_file_line_and_column),
		cmocka_unit_test(test_file_with_one_bad_line_leaves_cfg_empty),
		cmocka_unit_test(test_file_that_cannot_be_read_reports_strerror),
		cmocka_unit_test(test_parse_cidr_accepts_addresses_and_prefixes),
		cmocka_unit_test(test_parse_cidr_rejects_garbage),
		cmocka_unit_test(test_add_and_del_cidr),
		cmocka_unit_test(test_find_rule),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
