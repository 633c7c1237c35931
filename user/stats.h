/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <stdbool.h>
#include <stdio.h>

#include "breaker.h"
#include "config.h"
#include "ruleset.h"

struct sl_rule_stats {
	char name[SL_NAME_LEN];
	struct sl_rule_counter c;
};

/* A snapshot of one interface's counters, per-CPU values summed. */
struct sl_stats {
	unsigned generation;
	bool dry_run;
	unsigned n_rules;
	struct sl_rule_stats rules[SL_MAX_RULES];
	struct sl_counter cnt[SL_CNT_MAX];
	unsigned long long keys_tracked, keys_capacity;
	unsigned long long flows_tracked, flows_capacity;
	unsigned n_breakers;
	struct sl_breaker_stats breakers[SL_MAX_BREAKERS];
	__u64 read_ns;		/* CLOCK_MONOTONIC when read */
	/* Bans in force (manual ones among them), and the table's entries:
	 * those and ended bans kept for their offences. */
	unsigned long long bans_active, bans_manual, ban_entries, ban_capacity;
};

struct sl_counter_name {
	enum sl_counter_index index;
	const char *name;
};

/* The reason and total counters by name, each list ending with a NULL name. */
extern const struct sl_counter_name sl_reason_names[];
extern const struct sl_counter_name sl_total_names[];

int stats__read(const struct sl_maps *maps, struct sl_stats *st,
		struct sl_error *err);

/* One global counter, per-CPU values summed. 0 or -errno. */
int stats__read_counter(const struct sl_maps *maps, __u32 index,
			struct sl_counter *out);

void stats__print_json(FILE *f, const char *ifname, const struct sl_stats *st);
void stats__print_table(FILE *f, const char *ifname, const struct sl_stats *st);

/* Writes s as a JSON string literal, quotes included. */
void json_string(FILE *f, const char *s);

#endif /* SLUICE_STATS_H */
