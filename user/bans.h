/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ban table (SL_MAP_BANS) from the controller's side: manual bans, the
 * list, the counts, the sweep that notices bans ending and forgets old
 * offences, and the prefix lengths the data path looks bans up at.
 *
 * Times are CLOCK_MONOTONIC nanoseconds, the data path's clock, passed in
 * so that tests can use the BPF program's test clock.
 */
#ifndef SLUICE_BANS_H
#define SLUICE_BANS_H

#include "config.h"
#include "ruleset.h"

struct sl_ban_entry {
	struct sl_ban_key key;
	struct sl_ban ban;
};

struct sl_ban_counts {
	unsigned long long active;	/* bans in force now */
	unsigned long long manual;	/* of those, by sluice ban add */
	unsigned long long entries;	/* active, and ended ones kept for their offences */
	unsigned long long capacity;
};

struct sl_ban_sweep {
	unsigned long long ended;	/* bans found ended, not noticed before */
	unsigned long long forgotten;	/* entries deleted: offences forgotten */
};

void bans__key(const struct sl_cidr *cidr, struct sl_ban_key *key);

/* "192.0.2.1" for a whole address, "2001:db8::/64" for a shorter prefix. */
void bans__format_addr(__u8 family, __u8 prefixlen, const __u8 *addr,
		       char *buf, size_t len);

/* Every entry of the table, in *out (malloc'd; free it). 0 or -errno. */
int bans__read(const struct sl_maps *maps, struct sl_ban_entry **out, size_t *n);

int bans__count(const struct sl_maps *maps, __u64 now, struct sl_ban_counts *c);

/*
 * Sets cfg's ban prefix lengths for a rule set about to become active:
 * those of its rules with a ban policy and of every entry in the table,
 * and, room permitting, those of the set it replaces, whose packets still
 * in flight may ban. -EINVAL with err filled if they need more than
 * SL_BAN_PLENS lengths per family.
 */
int bans__plan(const struct sl_maps *maps, const struct sl_rule *rules,
	       unsigned n_rules, struct sl_cfg *cfg, struct sl_error *err);

/* Sets the prefix lengths again from the active rules and the table, and
 * writes sl_cfg if they changed: what ended bans and deletions leave. */
int bans__refresh(const struct sl_maps *maps, struct sl_error *err);

/*
 * Bans cidr for duration_ns from now (0: until deleted), as the operator
 * asks: a manual ban. Offences remembered for it are kept. -EINVAL (with
 * err) if the data path would need a fifth prefix length for the family,
 * -E2BIG if the table is full.
 */
int bans__add(const struct sl_maps *maps, const struct sl_cidr *cidr,
	      __u64 duration_ns, __u64 now, struct sl_error *err);

/* Lifts cidr's ban and forgets its offences; -ENOENT if there is none. */
int bans__del(const struct sl_maps *maps, const struct sl_cidr *cidr,
	      struct sl_error *err);

/*
 * Through the sluice_ctl program (ctl_fd): marks every ban that has
 * expired as ended, calling ended() once for each that no one had marked,
 * and deletes those whose offences are forgotten; then bans__refresh().
 */
int bans__expire(const struct sl_maps *maps, int ctl_fd, __u64 now,
		 void (*ended)(const struct sl_ban_entry *e, void *arg), void *arg,
		 struct sl_ban_sweep *res, struct sl_error *err);

#endif /* SLUICE_BANS_H */
