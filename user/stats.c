// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bans.h"
#include "batch.h"
#include "stats.h"

/* Names of the counters in stats --json, and label values in the metrics. */
const struct sl_counter_name sl_reason_names[] = {
	{ SL_CNT_DENY, "deny" },
	{ SL_CNT_BAN, "ban" },
	{ SL_CNT_RATE, "rate" },
	{ SL_CNT_WINDOW, "window" },
	{ SL_CNT_CONNS, "conns" },
	{ SL_CNT_MALFORMED, "malformed" },
	{ SL_CNT_BREAKER, "breaker" },
	{ SL_CNT_CAS_EXHAUSTED, "contention" },
	{ 0, NULL },
};

const struct sl_counter_name sl_total_names[] = {
	{ SL_CNT_RX, "rx" },
	{ SL_CNT_PASSED, "passed" },
	{ SL_CNT_DROPPED, "dropped" },
	{ SL_CNT_ALLOW, "allowed" },
	{ SL_CNT_NON_IP, "non_ip" },
	{ SL_CNT_REJECTED, "rejected" },
	{ SL_CNT_MARKED, "marked" },
	{ SL_CNT_REJECT_LIMITED, "reject_limited" },
	{ SL_CNT_FLOWS_FULL, "flows_full" },
	{ SL_CNT_KEYS_FULL, "keys_full" },
	{ 0, NULL },
};

static int sum_percpu(int fd, __u32 index, void *out, size_t size, int ncpus)
{
	__u64 *vals, *sum = out;
	size_t words = size / sizeof(__u64);
	int cpu, ret = 0;

	vals = calloc(ncpus, size);
	if (!vals)
		return -ENOMEM;
	memset(out, 0, size);
	if (bpf_map_lookup_elem(fd, &index, vals)) {
		ret = -errno;
		goto out;
	}
	for (cpu = 0; cpu < ncpus; cpu++)
		for (size_t w = 0; w < words; w++)
			sum[w] += vals[cpu * words + w];
out:
	free(vals);
	return ret;
}

static int count_one(const void *key, const void *value, void *arg)
{
	++*(unsigned long long *)arg;
	return 0;
}

static int count_entries(int fd, size_t key_size, size_t value_size,
			 unsigned long long *count)
{
	*count = 0;
	return batch__for_each(fd, key_size, value_size, count_one, count);
}

int stats__read_counter(const struct sl_maps *maps, __u32 index,
			struct sl_counter *out)
{
	int ncpus = libbpf_num_possible_cpus();

	if (ncpus < 0)
		return ncpus;
	return sum_percpu(maps->cnt, index, out, sizeof(*out), ncpus);
}

/* Bans in force now, by the data path's clock. */
static int count_bans(const struct sl_maps *maps, struct sl_stats *st)
{
	struct sl_ban_counts c;
	struct timespec ts;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ret = bans__count(maps, (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec, &c);
	if (ret)
		return ret;
	st->bans_active = c.active;
	st->bans_manual = c.manual;
	st->ban_entries = c.entries;
	st->ban_capacity = c.capacity;
	return 0;
}

int stats__read(const struct sl_maps *maps, struct sl_stats *st,
		struct sl_error *err)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0, i;
	int ncpus = libbpf_num_possible_cpus();
	struct timespec ts;
	struct sl_cfg cfg;
	const char *what;
	int ret;

	memset(st, 0, sizeof(*st));
	what = "reading the configuration";
	if (ncpus < 0 || bpf_map_lookup_elem(maps->cfg, &zero, &cfg)) {
		ret = ncpus < 0 ? ncpus : -errno;
		goto fail;
	}
	st->generation = cfg.gen;
	st->dry_run = cfg.dry_run;
	st->n_rules = cfg.hdr[cfg.gen & 1].n_rules;

	what = "reading the rule counters";
	for (i = 0; i < st->n_rules && i < SL_MAX_RULES; i++) {
		__u32 index = SL_RULE_INDEX(cfg.gen & 1, i);
		struct sl_rule_text text;
		struct sl_rule rule;

		if (bpf_map_lookup_elem(maps->rtext, &index, &text) ||
		    bpf_map_lookup_elem(maps->rules, &index, &rule)) {
			ret = -errno;
			goto fail;
		}
		memcpy(st->rules[i].name, text.name, SL_NAME_LEN);
		st->rules[i].name[SL_NAME_LEN - 1] = '\0';
		ret = sum_percpu(maps->rcnt, rule.slot, &st->rules[i].c,
				 sizeof(st->rules[i].c), ncpus);
		if (ret)
			goto fail;
	}

	what = "reading the counters";
	for (i = 0; i < SL_CNT_MAX; i++) {
		ret = sum_percpu(maps->cnt, i, &st->cnt[i], sizeof(st->cnt[i]), ncpus);
		if (ret)
			goto fail;
	}

	what = "counting tracked keys";
	if (bpf_obj_get_info_by_fd(maps->keys, &info, &len)) {
		ret = -errno;
		goto fail;
	}
	st->keys_capacity = info.max_entries;
	ret = count_entries(maps->keys, sizeof(struct sl_key),
			    sizeof(struct sl_key_state), &st->keys_tracked);
	if (ret)
		goto fail;

	what = "counting tracked connections";
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(maps->flows, &info, &len)) {
		ret = -errno;
		goto fail;
	}
	st->flows_capacity = info.max_entries;
	ret = count_entries(maps->flows, sizeof(struct sl_flow_key),
			    sizeof(struct sl_flow), &st->flows_tracked);
	if (ret)
		goto fail;

	what = "counting bans";
	ret = count_bans(maps, st);
	if (ret)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	st->read_ns = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	return breakers__read(maps, &cfg, st->breakers, &st->n_breakers, err);
fail:
	snprintf(err->msg, sizeof(err->msg), "%s: %s", what, strerror(-ret));
	return ret;
}

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_counter(FILE *f, const char *name, const struct sl_counter *c,
			 bool comma)
{
	fprintf(f, "%s\"%s\":{\"packets\":%llu,\"bytes\":%llu}", comma ? "," : "",
		name, (unsigned long long)c->packets, (unsigned long long)c->bytes);
}

void stats__print_json(FILE *f, const char *ifname, const struct sl_stats *st)
{
	unsigned i;

	fputs("{\"interface\":", f);
	json_string(f, ifname);
	fprintf(f, ",\"generation\":%u,\"dry_run\":%s,\"rules\":[", st->generation,
		st->dry_run ? "true" : "false");
	for (i = 0; i < st->n_rules; i++) {
		const struct sl_rule_counter *c = &st->rules[i].c;

		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		json_string(f, st->rules[i].name);
		fprintf(f, ",\"matched\":%llu,\"passed\":%llu,\"dropped\":%llu,"
			"\"rejected\":%llu,\"marked\":%llu,\"limited\":%llu,\"bytes\":%llu}",
			(unsigned long long)c->matched, (unsigned long long)c->passed,
			(unsigned long long)c->dropped, (unsigned long long)c->rejected,
			(unsigned long long)c->marked, (unsigned long long)c->limited,
			(unsigned long long)c->bytes);
	}
	fputs("],\"reasons\":{", f);
	for (i = 0; sl_reason_names[i].name; i++)
		json_counter(f, sl_reason_names[i].name,
			     &st->cnt[sl_reason_names[i].index], i);
	fputs("},\"totals\":{", f);
	for (i = 0; sl_total_names[i].name; i++)
		json_counter(f, sl_total_names[i].name,
			     &st->cnt[sl_total_names[i].index], i);
	fprintf(f, "},\"keys_tracked\":%llu,\"keys_capacity\":%llu,"
		"\"flows_tracked\":%llu,\"flows_capacity\":%llu,",
		st->keys_tracked, st->keys_capacity, st->flows_tracked,
		st->flows_capacity);
	fprintf(f, "\"bans\":{\"active\":%llu,\"manual\":%llu,\"entries\":%llu,"
		"\"capacity\":%llu,\"started\":%llu,\"refused\":%llu},"
		"\"events\":{\"sent\":%llu,\"suppressed\":%llu},",
		st->bans_active, st->bans_manual, st->ban_entries, st->ban_capacity,
		(unsigned long long)st->cnt[SL_CNT_BANS].packets,
		(unsigned long long)st->cnt[SL_CNT_BANS_FULL].packets,
		(unsigned long long)st->cnt[SL_CNT_EVENTS].packets,
		(unsigned long long)st->cnt[SL_CNT_EVENTS_SUPPRESSED].packets);
	breakers__print_json(f, st->breakers, st->n_breakers, st->read_ns);
	fputs("}\n", f);
}

void stats__print_table(FILE *f, const char *ifname, const struct sl_stats *st)
{
	unsigned i;

	fprintf(f, "%s: generation %u%s, keys %llu/%llu, connections %llu/%llu\n",
		ifname, st->generation, st->dry_run ? " (dry run)" : "",
		st->keys_tracked, st->keys_capacity, st->flows_tracked,
		st->flows_capacity);
	fprintf(f, "bans: %llu active (%llu manual), %llu entries of %llu, %llu started by rules, %llu refused (table full)\n",
		st->bans_active, st->bans_manual, st->ban_entries, st->ban_capacity,
		(unsigned long long)st->cnt[SL_CNT_BANS].packets,
		(unsigned long long)st->cnt[SL_CNT_BANS_FULL].packets);
	fprintf(f, "events: %llu sent, %llu suppressed\n",
		(unsigned long long)st->cnt[SL_CNT_EVENTS].packets,
		(unsigned long long)st->cnt[SL_CNT_EVENTS_SUPPRESSED].packets);
	fprintf(f, "\n%-20s %11s %11s %11s %11s %11s %11s %13s\n", "RULE",
		"MATCHED", "PASSED", "LIMITED", "DROPPED", "REJECTED", "MARKED",
		"BYTES");
	for (i = 0; i < st->n_rules; i++) {
		const struct sl_rule_counter *c = &st->rules[i].c;

		fprintf(f, "%-20s %11llu %11llu %11llu %11llu %11llu %11llu %13llu\n",
			st->rules[i].name, (unsigned long long)c->matched,
			(unsigned long long)c->passed, (unsigned long long)c->limited,
			(unsigned long long)c->dropped, (unsigned long long)c->rejected,
			(unsigned long long)c->marked, (unsigned long long)c->bytes);
	}
	fprintf(f, "\n%-20s %12s %14s\n", "COUNTER", "PACKETS", "BYTES");
	for (i = 0; sl_total_names[i].name; i++)
		fprintf(f, "%-20s %12llu %14llu\n", sl_total_names[i].name,
			(unsigned long long)st->cnt[sl_total_names[i].index].packets,
			(unsigned long long)st->cnt[sl_total_names[i].index].bytes);
	for (i = 0; sl_reason_names[i].name; i++)
		fprintf(f, "%-20s %12llu %14llu\n", sl_reason_names[i].name,
			(unsigned long long)st->cnt[sl_reason_names[i].index].packets,
			(unsigned long long)st->cnt[sl_reason_names[i].index].bytes);
	if (st->n_breakers) {
		fputc('\n', f);
		breakers__print_text(f, st->breakers, st->n_breakers, st->read_ns);
	}
}
