// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer entry point for the rule language (user/config.c), built with
 * ASan and UBSan. An input is a config file. It is parsed three ways, and
 * the ways must agree:
 *
 *   lines  each line through config_parse_line, named like the file, into
 *          one config, carrying on past errors;
 *   file   the same bytes through config_parse_file (a memfd);
 *   cli    each line as a command line (source NULL, line 0, as `rule add`
 *          and the rebuild from the pins call it) into another config.
 *
 * What must hold for any input, besides no crash, leak or undefined
 * behaviour:
 *   - a failed statement returns -EINVAL, leaves the config byte for byte
 *     as it was, and says where and what in one non-empty line: FILE:LINE:COL
 *     with COL on the line, or "argument N" with N at most one past the last
 *     word;
 *   - the file parses if and only if every line did, into the same config;
 *     if one failed, the file fails with the first failing line's message
 *     and leaves the config empty;
 *   - every accepted config is within the documented bounds;
 *   - every breaker is within its bounds, its name and service its own, and
 *     its canonical text parses back to the same breaker;
 *   - every rule's canonical text parses back, into a fresh config, to the
 *     same spec and the same text; every allow and deny CIDR prints and
 *     parses back to itself;
 *   - config_parse_cidr accepts only networks without host bits, prints
 *     them in a form it accepts back, and leaves its output alone on error.
 * A violated invariant prints what and where, then aborts, which libFuzzer
 * saves as a crash input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <netinet/in.h>

#include "config.h"
#include "sluice_limiter.h"

/* Bounds the parser promises (config.c, README: The rule language). */
#define MAX_COUNT	(1ull << 40)
#define MAX_PERIOD_NS	(1ull << 48)
#define MIN_KEYS	64u
#define MAX_KEYS	16777216u
#define NS_PER_S	1000000000ull

static int memfd = -1;
static char path[64];
/* Big (64 rules of 1 KB each): static, so the stack stays small. */
static struct sl_config lines_cfg, file_cfg, cli_cfg, fresh, before, empty;
static struct sl_cidr *before_allow, *before_deny;
static size_t before_cap_allow, before_cap_deny;
static const char *what;	/* the pass or line being checked, for reports */

__attribute__((format(printf, 1, 2), noreturn))
static void broken(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nfuzz_config: invariant broken (%s): ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond))						\
			broken(__VA_ARGS__);				\
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	memfd = memfd_create("fuzz.conf", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("fuzz_config: memfd_create");
		exit(1);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

static void copy_cidrs(struct sl_cidr **dst, size_t *cap, const struct sl_cidr *src,
		       size_t n)
{
	if (n > *cap) {
		free(*dst);
		*dst = malloc(n * sizeof(**dst));
		if (!*dst)
			abort();
		*cap = n;
	}
	if (n)
		memcpy(*dst, src, n * sizeof(**dst));
}

/*
 * The bytes a statement could touch: everything but the unused rule slots
 * past the first free one (64 KB of copying per line would halve the speed).
 */
#define RULES_AT	offsetof(struct sl_config, rules)
#define TAIL_AT		(RULES_AT + sizeof(((struct sl_config *)0)->rules))

static size_t head_len(const struct sl_config *cfg)
{
	unsigned slots = cfg->n_rules < SL_MAX_RULES ? cfg->n_rules + 1 : SL_MAX_RULES;

	return RULES_AT + slots * sizeof(cfg->rules[0]);
}

static void snapshot(const struct sl_config *cfg)
{
	memcpy(&before, cfg, head_len(cfg));
	memcpy((char *)&before + TAIL_AT, (const char *)cfg + TAIL_AT,
	       sizeof(*cfg) - TAIL_AT);
	copy_cidrs(&before_allow, &before_cap_allow, cfg->allow, cfg->n_allow);
	copy_cidrs(&before_deny, &before_cap_deny, cfg->deny, cfg->n_deny);
}

static void check_unchanged(const struct sl_config *cfg)
{
	CHECK(cfg->n_rules == before.n_rules &&
	      !memcmp(cfg, &before, head_len(&before)) &&
	      !memcmp((const char *)cfg + TAIL_AT, (const char *)&before + TAIL_AT,
		      sizeof(*cfg) - TAIL_AT),
	      "a failed statement changed the config");
	CHECK(!cfg->n_allow ||
	      !memcmp(cfg->allow, before_allow, cfg->n_allow * sizeof(*cfg->allow)),
	      "a failed statement changed the allow list");
	CHECK(!cfg->n_deny ||
	      !memcmp(cfg->deny, before_deny, cfg->n_deny * sizeof(*cfg->deny)),
	      "a failed statement changed the deny list");
}

static bool is_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/* Words as config.c splits them: whitespace separates, '#' ends the line. */
static unsigned count_words(const char *text)
{
	unsigned n = 0;
	bool in = false;

	for (; *text && *text != '#'; text++) {
		bool space = strchr(" \t\n\r\v\f", *text) != NULL;

		if (!space && !in)
			n++;
		in = !space;
	}
	return n;
}

/*
 * One non-empty line that starts with where: "SOURCE:LINE:COL: " with COL
 * on the line (one past its end for a missing word), or "argument N: ".
 */
static void check_message(const struct sl_error *err, const char *source,
			  unsigned line, const char *text)
{
	const char *msg = err->msg, *p;
	char prefix[128];
	size_t n;

	CHECK(memchr(msg, '\0', sizeof(err->msg)), "message not terminated");
	CHECK(!strchr(msg, '\n'), "message is more than one line: \"%s\"", msg);
	if (source) {
		n = snprintf(prefix, sizeof(prefix), "%s:%u:", source, line);
		CHECK(!strncmp(msg, prefix, n), "message \"%s\" does not start with \"%s\"",
		      msg, prefix);
		p = msg + n;
		n = strspn(p, "0123456789");
		CHECK(is_digits(p, n) && n < 8 && p[n] == ':' && p[n + 1] == ' ',
		      "message \"%s\" has no column", msg);
		CHECK(atol(p) >= 1 && (size_t)atol(p) <= strlen(text) + 1,
		      "message \"%s\": column outside the %zu-byte line", msg,
		      strlen(text));
	} else {
		CHECK(!strncmp(msg, "argument ", 9), "message \"%s\" names no argument",
		      msg);
		p = msg + 9;
		n = strspn(p, "0123456789");
		CHECK(is_digits(p, n) && n < 8 && p[n] == ':' && p[n + 1] == ' ',
		      "message \"%s\" has no argument number", msg);
		CHECK(atol(p) >= 1 && (unsigned long)atol(p) <= count_words(text) + 1,
		      "message \"%s\": argument beyond the %u words", msg,
		      count_words(text));
	}
	p += n + 2;
	CHECK(strlen(p) > 0 || strlen(msg) == sizeof(err->msg) - 1,
	      "message \"%s\" says where but not what", msg);
}

static void check_cidr(const struct sl_cidr *c, const char *where)
{
	unsigned max = c->family == SL_FAM_IP4 ? 32 : 128, i;

	CHECK(c->family == SL_FAM_IP4 || c->family == SL_FAM_IP6,
	      "%s: family %u", where, c->family);
	CHECK(c->prefixlen <= max, "%s: prefix /%u", where, c->prefixlen);
	for (i = 0; i < sizeof(c->addr); i++) {
		unsigned bits = c->prefixlen > i * 8 ? c->prefixlen - i * 8 : 0;
		uint8_t mask = 0xff00 >> (bits < 8 ? bits : 8);

		CHECK(!(c->addr[i] & ~mask), "%s: host bits set in byte %u", where, i);
	}
}

/* Prints c and parses it back: the same network, or the parser lost it. */
static void check_cidr_round_trip(const struct sl_cidr *c)
{
	struct sl_cidr back;
	char buf[64];

	config_format_cidr(c, buf, sizeof(buf));
	CHECK(!config_parse_cidr(buf, &back), "CIDR printed as \"%s\" does not parse",
	      buf);
	CHECK(!memcmp(&back, c, sizeof(back)),
	      "CIDR printed as \"%s\" parses back to another network", buf);
}

static bool valid_name(const char *s)
{
	size_t n = strnlen(s, SL_NAME_LEN);

	return n >= 1 && n < SL_NAME_LEN &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") >= 1 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static void check_rule(const struct sl_rule_spec *r)
{
	size_t tlen = strnlen(r->text, sizeof(r->text));
	char head[SL_NAME_LEN + 8];
	bool has_rate = false;
	unsigned i;

	CHECK(valid_name(r->name), "rule name \"%.*s\"", SL_NAME_LEN, r->name);
	CHECK(tlen < sizeof(r->text), "rule %s: text not terminated", r->name);
	snprintf(head, sizeof(head), "rule %s ", r->name);
	CHECK(!strncmp(r->text, head, strlen(head)),
	      "rule %s: text \"%s\" does not start with its name", r->name, r->text);
	CHECK(r->families <= 3, "rule %s: families %u", r->name, r->families);
	CHECK(r->on_full <= SL_ON_FULL_PASS, "rule %s: on-full %u", r->name, r->on_full);
	CHECK(r->on_full == SL_ON_FULL_DROP || r->n_limits != 1 ||
	      r->limits[0].kind != SL_LIMIT_CONNS || r->ban_after,
	      "rule %s: on-full pass on a rule with only conns and no ban", r->name);
	CHECK(!r->syn || r->proto == IPPROTO_TCP, "rule %s: syn without proto tcp",
	      r->name);
	CHECK(r->n_ports <= SL_MAX_PORT_RANGES, "rule %s: %u port ranges", r->name,
	      r->n_ports);
	for (i = 0; i < r->n_ports; i++)
		CHECK(r->ports[i].lo <= r->ports[i].hi, "rule %s: port range %u-%u",
		      r->name, r->ports[i].lo, r->ports[i].hi);
	CHECK(r->n_from <= SL_MAX_FROM, "rule %s: %u from CIDRs", r->name, r->n_from);
	for (i = 0; i < r->n_from; i++) {
		check_cidr(&r->from[i], "from");
		check_cidr_round_trip(&r->from[i]);
	}
	CHECK(r->key_type <= SL_KEY_GLOBAL, "rule %s: key type %u", r->name,
	      r->key_type);
	CHECK(r->prefix4 <= 32 && r->prefix6 <= 128, "rule %s: key prefixes /%u /%u",
	      r->name, r->prefix4, r->prefix6);
	CHECK(r->n_limits >= 1 && r->n_limits <= SL_MAX_LIMITS, "rule %s: %u limits",
	      r->name, r->n_limits);
	for (i = 0; i < r->n_limits; i++) {
		const struct sl_limit_spec *l = &r->limits[i];

		if (l->kind != SL_LIMIT_RATE)
			continue;
		CHECK(l->unit == SL_UNIT_PACKETS || l->unit == SL_UNIT_BYTES,
		      "rule %s: rate %u: unit %u", r->name, i, l->unit);
		CHECK(l->count >= 1 && l->count <= MAX_COUNT,
		      "rule %s: rate %u: count %llu", r->name, i,
		      (unsigned long long)l->count);
		CHECK(l->period_ns >= 1 && l->period_ns < MAX_PERIOD_NS,
		      "rule %s: rate %u: period %llu ns", r->name, i,
		      (unsigned long long)l->period_ns);
		/* Given or defaulted, "burst" takes 1..MAX_COUNT: beyond,
		 * the canonical text would not parse back. */
		CHECK(l->burst >= 1 && l->burst <= MAX_COUNT,
		      "rule %s: rate %u: burst %llu is outside 1..%llu (text \"%s\")",
		      r->name, i, (unsigned long long)l->burst, MAX_COUNT, r->text);
		/* What sl_warm_scale() may stretch without overflowing. */
		CHECK(!r->warmup_ns ||
		      sl_gcra_interval_fp(l->period_ns, l->count) < SL_WARM_MAX_SCALED,
		      "rule %s: rate %u too slow to warm up (text \"%s\")", r->name, i,
		      r->text);
		has_rate = true;
	}
	CHECK(!r->warmup_ns || (has_rate && r->warmup_ns < SL_WARM_MAX_NS),
	      "rule %s: warmup %llu ns (text \"%s\")", r->name,
	      (unsigned long long)r->warmup_ns, r->text);
}

static void check_set(const struct sl_cidr *v, size_t n, size_t cap,
		      const char *name)
{
	size_t i, j;

	CHECK(n <= cap, "%s: %zu entries in room for %zu", name, n, cap);
	for (i = 0; i < n; i++) {
		check_cidr(&v[i], name);
		check_cidr_round_trip(&v[i]);
		for (j = 0; j < i; j++)
			CHECK(memcmp(&v[i], &v[j], sizeof(v[i])),
			      "%s: entries %zu and %zu are the same", name, j, i);
	}
}

static void check_breaker(const struct sl_breaker_spec *b)
{
	char head[SL_NAME_LEN + 16];

	CHECK(valid_name(b->name), "breaker name \"%.*s\"", SL_NAME_LEN, b->name);
	CHECK(strnlen(b->text, sizeof(b->text)) < sizeof(b->text),
	      "breaker %s: text not terminated", b->name);
	snprintf(head, sizeof(head), "breaker %s ", b->name);
	CHECK(!strncmp(b->text, head, strlen(head)),
	      "breaker %s: text \"%s\" does not start with its name", b->name, b->text);
	CHECK(b->port >= 1, "breaker %s: port 0", b->name);
	CHECK(b->errors >= 1 && b->errors <= 1000000, "breaker %s: errors %u",
	      b->name, b->errors);
	CHECK(b->within_ns >= NS_PER_S && b->within_ns <= 86400 * NS_PER_S,
	      "breaker %s: within %llu ns", b->name, (unsigned long long)b->within_ns);
	CHECK(b->open_ns >= NS_PER_S && b->open_ns <= 86400 * NS_PER_S,
	      "breaker %s: open %llu ns", b->name, (unsigned long long)b->open_ns);
	CHECK(b->probes >= 1 && b->probes <= SL_MAX_PROBES, "breaker %s: probes %u",
	      b->name, b->probes);
}

static bool breaker_equal(const struct sl_breaker_spec *a,
			  const struct sl_breaker_spec *b, bool with_line)
{
	return !strcmp(a->name, b->name) && a->port == b->port &&
	       a->errors == b->errors && a->within_ns == b->within_ns &&
	       a->open_ns == b->open_ns && a->probes == b->probes &&
	       !strcmp(a->text, b->text) && (!with_line || a->line == b->line);
}

static void check_config(const struct sl_config *cfg)
{
	unsigned i, j;

	CHECK(memchr(cfg->iface, '\0', sizeof(cfg->iface)), "iface not terminated");
	CHECK(cfg->mode <= SL_MODE_GENERIC, "mode %u", cfg->mode);
	CHECK(cfg->malformed <= SL_MALFORMED_DROP, "malformed %u", cfg->malformed);
	CHECK(!cfg->keys || (cfg->keys >= MIN_KEYS && cfg->keys <= MAX_KEYS),
	      "keys %u", cfg->keys);
	CHECK(!cfg->key_timeout_ns || (cfg->key_timeout_ns >= 1000000000ull &&
				       cfg->key_timeout_ns <= 86400ull * 1000000000ull),
	      "key-timeout %llu ns", (unsigned long long)cfg->key_timeout_ns);
	CHECK(cfg->n_rules <= SL_MAX_RULES, "%u rules", cfg->n_rules);
	for (i = 0; i < cfg->n_rules; i++) {
		check_rule(&cfg->rules[i]);
		for (j = 0; j < i; j++)
			CHECK(strcmp(cfg->rules[i].name, cfg->rules[j].name),
			      "two rules named %s", cfg->rules[i].name);
		CHECK(config_find_rule(cfg, cfg->rules[i].name) == (int)i,
		      "config_find_rule(%s) is not %u", cfg->rules[i].name, i);
	}
	check_set(cfg->allow, cfg->n_allow, cfg->cap_allow, "allow");
	check_set(cfg->deny, cfg->n_deny, cfg->cap_deny, "deny");
	CHECK(cfg->n_breakers <= SL_MAX_BREAKERS, "%u breakers", cfg->n_breakers);
	for (i = 0; i < cfg->n_breakers; i++) {
		check_breaker(&cfg->breakers[i]);
		for (j = 0; j < i; j++)
			CHECK(strcmp(cfg->breakers[i].name, cfg->breakers[j].name) &&
			      cfg->breakers[i].port != cfg->breakers[j].port,
			      "breakers %s and %s share a name or a service",
			      cfg->breakers[i].name, cfg->breakers[j].name);
		CHECK(config_find_breaker(cfg, cfg->breakers[i].name) == (int)i,
		      "config_find_breaker(%s) is not %u", cfg->breakers[i].name, i);
	}
}

/* Field by field: padding may differ between two copies of a spec. */
static bool spec_equal(const struct sl_rule_spec *a, const struct sl_rule_spec *b,
		       bool with_line)
{
	unsigned i;

	if (strcmp(a->name, b->name) || a->families != b->families ||
	    a->proto != b->proto || a->syn != b->syn || a->n_ports != b->n_ports ||
	    a->n_from != b->n_from || a->key_type != b->key_type ||
	    a->prefix4 != b->prefix4 || a->prefix6 != b->prefix6 ||
	    a->n_limits != b->n_limits || a->action != b->action ||
	    a->cluster != b->cluster ||
	    a->warmup_ns != b->warmup_ns ||
	    a->on_full != b->on_full ||
	    strcmp(a->text, b->text) || (with_line && a->line != b->line))
		return false;
	for (i = 0; i < a->n_ports; i++)
		if (a->ports[i].lo != b->ports[i].lo || a->ports[i].hi != b->ports[i].hi)
			return false;
	for (i = 0; i < a->n_from; i++)
		if (memcmp(&a->from[i], &b->from[i], sizeof(a->from[i])))
			return false;
	for (i = 0; i < a->n_limits; i++) {
		const struct sl_limit_spec *x = &a->limits[i], *y = &b->limits[i];

		if (x->kind != y->kind || x->unit != y->unit || x->count != y->count ||
		    x->period_ns != y->period_ns || x->burst != y->burst)
			return false;
	}
	return true;
}

static void check_configs_equal(const struct sl_config *a, const struct sl_config *b)
{
	unsigned i;

	CHECK(!strcmp(a->iface, b->iface) && a->mode == b->mode,
	      "interface %s mode %u against %s mode %u", a->iface, a->mode, b->iface,
	      b->mode);
	CHECK(a->malformed == b->malformed && a->malformed_set == b->malformed_set,
	      "malformed %u/%d against %u/%d", a->malformed, a->malformed_set,
	      b->malformed, b->malformed_set);
	CHECK(a->keys == b->keys, "keys %u against %u", a->keys, b->keys);
	CHECK(a->n_rules == b->n_rules, "%u rules against %u", a->n_rules, b->n_rules);
	for (i = 0; i < a->n_rules; i++)
		CHECK(spec_equal(&a->rules[i], &b->rules[i], true),
		      "rule %u: \"%s\" (line %u) against \"%s\" (line %u)", i,
		      a->rules[i].text, a->rules[i].line, b->rules[i].text,
		      b->rules[i].line);
	CHECK(a->n_allow == b->n_allow && (!a->n_allow ||
	      !memcmp(a->allow, b->allow, a->n_allow * sizeof(*a->allow))),
	      "allow lists differ");
	CHECK(a->n_deny == b->n_deny && (!a->n_deny ||
	      !memcmp(a->deny, b->deny, a->n_deny * sizeof(*a->deny))),
	      "deny lists differ");
	CHECK(a->n_breakers == b->n_breakers, "%u breakers against %u",
	      a->n_breakers, b->n_breakers);
	for (i = 0; i < a->n_breakers; i++)
		CHECK(breaker_equal(&a->breakers[i], &b->breakers[i], true),
		      "breaker %u: \"%s\" against \"%s\"", i, a->breakers[i].text,
		      b->breakers[i].text);
}

static void check_breaker_round_trip(const struct sl_breaker_spec *b)
{
	struct sl_error err = {};
	int ret;

	config_init(&fresh);
	ret = config_parse_line(&fresh, b->text, NULL, 0, &err);
	CHECK(!ret, "canonical text \"%s\" does not parse: %s", b->text, err.msg);
	CHECK(fresh.n_breakers == 1 && !fresh.n_rules,
	      "canonical text \"%s\" gave %u breakers", b->text, fresh.n_breakers);
	CHECK(breaker_equal(&fresh.breakers[0], b, false),
	      "canonical text \"%s\" parses back to another breaker (text \"%s\")",
	      b->text, fresh.breakers[0].text);
	config_free(&fresh);
}

/*
 * What `rule list` prints and what the controller re-parses when it rebuilds
 * a set from the pins (as a command line: source NULL, line 0).
 */
static void check_rule_round_trip(const struct sl_rule_spec *r)
{
	struct sl_error err = {};
	int ret;

	config_init(&fresh);
	ret = config_parse_line(&fresh, r->text, NULL, 0, &err);
	CHECK(!ret, "canonical text \"%s\" does not parse: %s", r->text, err.msg);
	CHECK(fresh.n_rules == 1, "canonical text \"%s\" gave %u rules", r->text,
	      fresh.n_rules);
	CHECK(fresh.rules[0].line == 0, "a command line rule has line %u",
	      fresh.rules[0].line);
	CHECK(spec_equal(&fresh.rules[0], r, false),
	      "canonical text \"%s\" parses back to another rule (text \"%s\")",
	      r->text, fresh.rules[0].text);
	config_free(&fresh);
}

/* config_parse_cidr on its own: a word of the input, or a whole line. */
static void check_parse_cidr(const char *text)
{
	struct sl_cidr c;

	memset(&c, 0xa5, sizeof(c));
	if (config_parse_cidr(text, &c)) {
		struct sl_cidr untouched;

		memset(&untouched, 0xa5, sizeof(untouched));
		CHECK(!memcmp(&c, &untouched, sizeof(c)),
		      "config_parse_cidr(\"%s\") failed but wrote its output", text);
		return;
	}
	check_cidr(&c, "config_parse_cidr");
	check_cidr_round_trip(&c);
}

static void check_words_as_cidrs(const char *text)
{
	char word[256];
	size_t at = 0, n;

	check_parse_cidr(text);
	for (;;) {
		at += strspn(text + at, " \t\r\v\f");
		n = strcspn(text + at, " \t\r\v\f");
		if (!n)
			return;
		if (n < sizeof(word)) {
			memcpy(word, text + at, n);
			word[n] = '\0';
			check_parse_cidr(word);
		}
		at += n;
	}
}

static void parse_as_file(const uint8_t *data, size_t size, bool line_failed,
			  const char *first_msg)
{
	struct sl_error err = {};
	int ret;

	what = "file";
	if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size)) {
		perror("fuzz_config: memfd");
		abort();
	}
	config_init(&file_cfg);
	ret = config_parse_file(&file_cfg, path, &err);
	if (line_failed) {
		CHECK(ret == -EINVAL, "a line failed but the file returned %d", ret);
		CHECK(!strcmp(err.msg, first_msg),
		      "the file failed with \"%s\", its first bad line with \"%s\"",
		      err.msg, first_msg);
		CHECK(!memcmp(&file_cfg, &empty, sizeof(file_cfg)),
		      "a failed file left the config not empty");
	} else {
		CHECK(!ret, "every line parsed but the file failed (%d): %s", ret,
		      err.msg);
		check_configs_equal(&lines_cfg, &file_cfg);
	}
	config_free(&file_cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char first_msg[SL_ERR_LEN];
	char *buf, *text, *nl, where[32];
	bool line_failed = false;
	struct sl_error err;
	unsigned line = 0, i;
	int ret;

	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	config_init(&lines_cfg);
	config_init(&cli_cfg);
	what = where;

	/* Lines as config_parse_file's getline() cuts them. */
	for (text = buf; text < buf + size; text = nl + 1) {
		nl = memchr(text, '\n', buf + size - text);
		if (!nl)
			nl = buf + size;
		*nl = '\0';
		line++;

		snprintf(where, sizeof(where), "lines, line %u", line);
		snapshot(&lines_cfg);
		memset(&err, 0, sizeof(err));
		ret = config_parse_line(&lines_cfg, text, path, line, &err);
		if (ret) {
			CHECK(ret == -EINVAL, "returned %d", ret);
			check_message(&err, path, line, text);
			check_unchanged(&lines_cfg);
			if (!line_failed)
				strcpy(first_msg, err.msg);
			line_failed = true;
		} else {
			check_config(&lines_cfg);
		}

		snprintf(where, sizeof(where), "cli, line %u", line);
		snapshot(&cli_cfg);
		memset(&err, 0, sizeof(err));
		ret = config_parse_line(&cli_cfg, text, NULL, 0, &err);
		if (ret) {
			CHECK(ret == -EINVAL, "returned %d", ret);
			check_message(&err, NULL, 0, text);
			check_unchanged(&cli_cfg);
		} else {
			check_config(&cli_cfg);
		}

		snprintf(where, sizeof(where), "cidr, line %u", line);
		check_words_as_cidrs(text);
	}

	for (i = 0; i < lines_cfg.n_rules; i++) {
		snprintf(where, sizeof(where), "round trip, rule %u", i);
		check_rule_round_trip(&lines_cfg.rules[i]);
	}
	for (i = 0; i < cli_cfg.n_rules; i++) {
		snprintf(where, sizeof(where), "round trip, cli rule %u", i);
		check_rule_round_trip(&cli_cfg.rules[i]);
	}

	for (i = 0; i < lines_cfg.n_breakers; i++) {
		snprintf(where, sizeof(where), "round trip, breaker %u", i);
		check_breaker_round_trip(&lines_cfg.breakers[i]);
	}

	parse_as_file(data, size, line_failed, first_msg);

	config_free(&lines_cfg);
	config_free(&cli_cfg);
	free(buf);
	return 0;
}
