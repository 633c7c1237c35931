// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* ban add|del|list: bans by hand, and every ban in force. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bans.h"
#include "cli.h"
#include "events.h"
#include "pins.h"
#include "stats.h"

#define NS_PER_MS	1000000ull
#define NS_PER_S	1000000000ull

/* The data path's clock: bans expire by it. */
static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Words after "sluice": ban(1) add(2) IFACE(3) ADDR(4) for(5) DURATION(6). */
static int parse_addr(const char *path, const char *text, struct sl_cidr *cidr)
{
	if (!config_parse_cidr(text, cidr))
		return SL_EXIT_OK;
	cli_error(path, NULL, "argument 4 (\"%s\"): expected an address or CIDR like 192.0.2.1 or 2001:db8::/64, host bits clear",
		  text);
	return SL_EXIT_USAGE;
}

static int parse_for(const char *path, char **pos, int n_pos, uint64_t *ns)
{
	*ns = 0;
	if (n_pos == 2)
		return SL_EXIT_OK;
	if (strcmp(pos[2], "for")) {
		cli_error(path, NULL, "argument 5 (\"%s\"): expected \"for DURATION\" or nothing",
			  pos[2]);
		return SL_EXIT_USAGE;
	}
	if (n_pos == 3) {
		cli_error(path, NULL, "argument 6: expected a duration like 10m or 1h after \"for\"");
		return SL_EXIT_USAGE;
	}
	if (config_parse_duration(pos[3], ns)) {
		cli_error(path, NULL, "argument 6 (\"%s\"): expected a duration like 10m or 1h",
			  pos[3]);
		return SL_EXIT_USAGE;
	}
	if (*ns < SL_MIN_BAN_NS || *ns > SL_MAX_BAN_NS) {
		cli_error(path, NULL, "argument 6 (\"%s\"): a ban lasts 1s..365d", pos[3]);
		return SL_EXIT_USAGE;
	}
	return SL_EXIT_OK;
}

static int ban_add(const char *path, int argc, char **argv)
{
	struct sl_error err = {};
	struct sl_pins pins;
	struct sl_cidr cidr;
	char *pos[4];
	int n_pos, code, ret;
	uint64_t ns;

	code = cli_parse(path, argc, argv, NULL, 2, 4, pos, &n_pos);
	if (!code)
		code = parse_addr(path, pos[1], &cidr);
	if (!code)
		code = parse_for(path, pos, n_pos, &ns);
	if (code)
		return code;
	ret = pins__open(&pins, pos[0], &err);
	if (ret) {
		cli_pins_error(path, pos[0], ret, &err);
		return cli_pins_exit(pos[0], ret);
	}
	ret = bans__add(&pins.maps, &cidr, ns, monotonic_ns(), &err);
	pins__close(&pins);
	if (ret) {
		cli_error(path, pos[0], "%s", err.msg);
		return ret == -EINVAL ? SL_EXIT_USAGE : SL_EXIT_FAIL;
	}
	return SL_EXIT_OK;
}

static int ban_del(const char *path, int argc, char **argv)
{
	struct sl_error err = {};
	struct sl_pins pins;
	struct sl_cidr cidr;
	char *pos[2];
	int n_pos, code, ret;

	code = cli_parse(path, argc, argv, NULL, 2, 2, pos, &n_pos);
	if (!code)
		code = parse_addr(path, pos[1], &cidr);
	if (code)
		return code;
	ret = pins__open(&pins, pos[0], &err);
	if (ret) {
		cli_pins_error(path, pos[0], ret, &err);
		return cli_pins_exit(pos[0], ret);
	}
	ret = bans__del(&pins.maps, &cidr, &err);
	pins__close(&pins);
	if (ret) {
		cli_error(path, pos[0], "%s", err.msg);
		return ret == -ENOENT ? SL_EXIT_USAGE : SL_EXIT_FAIL;
	}
	return SL_EXIT_OK;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct sl_ban_key *x = &((const struct sl_ban_entry *)a)->key;
	const struct sl_ban_key *y = &((const struct sl_ban_entry *)b)->key;
	int c;

	if (x->family != y->family)
		return x->family - y->family;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	return c ? c : x->prefixlen - y->prefixlen;
}

/* A time span as an operator reads it: 1.5s, 42s, 9m05s, 3h20m, 2d04h. */
static void human(__u64 ns, char *buf, size_t len)
{
	__u64 s = ns / NS_PER_S;

	if (ns < 10 * NS_PER_S)
		snprintf(buf, len, "%.1fs", (double)ns / NS_PER_S);
	else if (s < 60)
		snprintf(buf, len, "%" PRIu64 "s", (uint64_t)s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", (uint64_t)s / 60,
			 (uint64_t)s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", (uint64_t)s / 3600,
			 (uint64_t)s / 60 % 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", (uint64_t)s / 86400,
			 (uint64_t)s / 3600 % 24);
}

/* Milliseconds, or null for a ban that never expires. */
static void json_ms(const char *name, __u64 until, __u64 now)
{
	if (until == SL_BAN_FOREVER)
		printf(",\"%s\":null", name);
	else
		printf(",\"%s\":%" PRIu64, name,
		       (uint64_t)(until > now ? (until - now) / NS_PER_MS : 0));
}

static void print_json(const struct sl_ban_entry *e, const char *rule, __u64 now,
		       bool first)
{
	const struct sl_ban *b = &e->ban;
	bool manual = b->flags & SL_BAN_MANUAL;
	char addr[64];

	bans__format_addr(e->key.family, e->key.prefixlen, e->key.addr, addr,
			  sizeof(addr));
	printf("%s{\"address\":", first ? "" : ",");
	json_string(stdout, addr);
	printf(",\"prefixlen\":%u,\"active\":%s", e->key.prefixlen,
	       now < b->expires_ns ? "true" : "false");
	json_ms("remaining_ms", b->expires_ns, now);
	json_ms("duration_ms", b->expires_ns == SL_BAN_FOREVER ? SL_BAN_FOREVER :
			       b->expires_ns - b->start_ns, 0);
	json_ms("forget_ms", b->forget_ns, now);
	printf(",\"offences\":%u,\"origin\":\"%s\",\"rule\":", b->offences,
	       manual ? "manual" : "rule");
	if (rule)
		json_string(stdout, rule);
	else
		fputs("null", stdout);
	printf(",\"dry_run\":%s}", b->flags & SL_BAN_DRY ? "true" : "false");
}

static void print_row(const struct sl_ban_entry *e, const char *rule, __u64 now)
{
	const struct sl_ban *b = &e->ban;
	char addr[64], left[24], dur[24], origin[SL_NAME_LEN + 32];

	bans__format_addr(e->key.family, e->key.prefixlen, e->key.addr, addr,
			  sizeof(addr));
	if (b->expires_ns == SL_BAN_FOREVER) {
		snprintf(left, sizeof(left), "never");
		snprintf(dur, sizeof(dur), "-");
	} else {
		if (now < b->expires_ns)
			human(b->expires_ns - now, left, sizeof(left));
		else
			snprintf(left, sizeof(left), "ended");
		human(b->expires_ns - b->start_ns, dur, sizeof(dur));
	}
	if (b->flags & SL_BAN_MANUAL)
		snprintf(origin, sizeof(origin), "manual");
	else
		snprintf(origin, sizeof(origin), "rule %s", rule ? rule : "(removed)");
	printf("%-40s %9s %9s %8u  %s%s\n", addr, left, dur, b->offences, origin,
	       b->flags & SL_BAN_DRY ? " (dry run)" : "");
}

static int ban_list(const char *path, int argc, char **argv)
{
	struct cli_opt opts[] = { { "json" }, { "all" }, { NULL } };
	struct sl_rule_names names;
	struct sl_ban_entry *v = NULL;
	struct sl_error err = {};
	struct sl_pins pins;
	bool json, all, first = true;
	size_t n = 0, i;
	char *pos[1];
	int n_pos, ret;
	__u64 now;

	ret = cli_parse(path, argc, argv, opts, 1, 1, pos, &n_pos);
	if (ret)
		return ret;
	json = opts[0].set;
	all = opts[1].set;
	ret = pins__open(&pins, pos[0], &err);
	if (ret) {
		cli_pins_error(path, pos[0], ret, &err);
		return cli_pins_exit(pos[0], ret);
	}
	ret = bans__read(&pins.maps, &v, &n);
	if (!ret)
		ret = events__read_names(&pins.maps, &names);
	pins__close(&pins);
	if (ret) {
		cli_error(path, pos[0], "reading the bans: %s", strerror(-ret));
		free(v);
		return SL_EXIT_FAIL;
	}
	now = monotonic_ns();
	qsort(v, n, sizeof(*v), entry_cmp);
	if (json)
		fputs("{\"bans\":[", stdout);
	for (i = 0; i < n; i++) {
		const char *rule = v[i].ban.flags & SL_BAN_MANUAL ? NULL :
				   events__rule_name(&names, v[i].ban.rule_uid);

		if (!all && now >= v[i].ban.expires_ns)
			continue;
		if (json) {
			print_json(&v[i], rule, now, first);
		} else {
			if (first)
				printf("%-40s %9s %9s %8s  %s\n", "ADDRESS", "REMAINING",
				       "DURATION", "OFFENCES", "ORIGIN");
			print_row(&v[i], rule, now);
		}
		first = false;
	}
	if (json)
		fputs("]}\n", stdout);
	free(v);
	return SL_EXIT_OK;
}

int cmd_ban(const char *path, int argc, char **argv)
{
	static const struct cli_cmd sub[] = {
		{ "add", ban_add, "IFACE ADDR|CIDR [for DURATION]" },
		{ "del", ban_del, "IFACE ADDR|CIDR" },
		{ "list", ban_list, "IFACE [--all] [--json]" },
		{ NULL },
	};

	return cli_dispatch(path, sub, argc, argv);
}
