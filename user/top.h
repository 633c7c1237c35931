/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluice top: the heaviest keys. The data path counts packets per key only
 * while a top holds its lease (sl_cfg.top_until_ns), in a per-CPU LRU map;
 * this module takes the lease, reads samples of that map, turns two
 * samples into rates, and sorts and prints them. The terminal is
 * cmd_top.c's business.
 */
#ifndef SLUICE_TOP_H
#define SLUICE_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "bans.h"
#include "ruleset.h"

enum sl_top_sort {
	SL_TOP_BY_RATE = 0,	/* packets per second */
	SL_TOP_BY_LIMITED,	/* limited packets per second */
};

enum sl_top_state {
	SL_TOP_OK = 0,		/* nothing limited in the last interval */
	SL_TOP_LIMITED,		/* some of its packets were over a limit */
	SL_TOP_BANNED,		/* its address or prefix is banned */
};

/* What top needs of an active rule to name its keys. */
struct sl_top_rule {
	__u32 uid;
	__u8 key_type, prefix4, prefix6;
	char name[SL_NAME_LEN];
};

/* One key's counts in one sample, summed over the CPUs. */
struct sl_top_count {
	struct sl_key key;
	unsigned long long packets, limited;
};

/* One reading of the map, and of the rules that name its keys. */
struct sl_top_sample {
	unsigned long long at_ns;	/* CLOCK_MONOTONIC */
	unsigned n_rules;
	struct sl_top_rule rules[SL_MAX_RULES];
	size_t n, cap;
	struct sl_top_count *counts;
	/* The ban table as read with the counts: banned keys send nothing
	 * the rules see, so they are rows of their own. */
	size_t n_bans;
	struct sl_ban_entry *bans;
};

/* One line of the view: a key that sent or was limited in the interval. */
struct sl_top_row {
	char rule[SL_NAME_LEN];
	char key[64];			/* "10.0.0.2", "10.1.2.0/24", "dport 53", "global" */
	const char *key_type;		/* "src", "dport", "global" */
	struct sl_key raw;
	unsigned long long packets, limited;	/* in the interval */
	unsigned long long limited_total;	/* since this top began */
	double rate, limited_rate;		/* per second over the interval */
	enum sl_top_state state;
};

/* What one top remembers between samples. */
struct sl_top {
	struct sl_top_sample prev;	/* sorted by key */
	unsigned long long *prev_total;	/* limited_total, parallel to prev.counts */
	bool have_prev;
	size_t n_rows, cap_rows;
	struct sl_top_row *rows;
	double interval_s;		/* of the last view */
	size_t keys_counted;		/* entries in the map at the last sample */
};

void top__init(struct sl_top *t);
void top__free(struct sl_top *t);
void top__sample_free(struct sl_top_sample *s);

/*
 * Extends the lease: the data path counts per key until until_ns (never
 * shortening another top's lease). Rewrites sl_cfg, so the caller holds
 * the pins lock, like every writer of it.
 */
int top__lease(const struct sl_maps *maps, unsigned long long until_ns);

/* Reads the active rules and every key's counts into s, stamped now_ns. */
int top__read(const struct sl_maps *maps, unsigned long long now_ns,
	      struct sl_top_sample *s, struct sl_error *err);

/*
 * Takes sample s (top now owns it) and makes the view of what happened
 * since the previous one in t->rows: every key of an active rule that
 * sent in between. The first sample has no previous one and gives no rows.
 */
int top__update(struct sl_top *t, struct sl_top_sample *s);

void top__sort(struct sl_top_row *rows, size_t n, enum sl_top_sort sort);

/* Formats a key as its rule defines it: address, prefix, port or global. */
void top__format_key(const struct sl_top_rule *rule, const struct sl_key *key,
		     char *buf, size_t len);

const char *top__state_name(enum sl_top_state state);
const char *top__sort_name(enum sl_top_sort sort);

/*
 * The view as a table: the column names, then at most max_rows rows (0:
 * all), lines no wider than width (0: no limit).
 */
void top__print_rows(FILE *f, const struct sl_top *t, size_t max_rows,
		     unsigned width);

void top__print_json(FILE *f, const char *ifname, const struct sl_top *t,
		     enum sl_top_sort sort, size_t max_rows);

#endif /* SLUICE_TOP_H */
