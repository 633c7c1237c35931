/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Events as the daemon logs them: one line each, a sentence in text form,
 * JSON members in JSON form. Whether an event came from the data path's
 * ring (a key starting to be limited, a ban starting) or from the daemon
 * itself (a ban ending), it is a struct sl_event
 * and is written the same way.
 */
#ifndef SLUICE_EVENTS_H
#define SLUICE_EVENTS_H

#include <stdio.h>

#include "config.h"
#include "ruleset.h"

/* The active rules' names by uid: events carry uids, the log says names. */
struct sl_rule_names {
	unsigned n;
	__u32 uid[SL_MAX_RULES];
	char name[SL_MAX_RULES][SL_NAME_LEN];
};

int events__read_names(const struct sl_maps *maps, struct sl_rule_names *names);

/* The name of the rule with uid, or NULL. */
const char *events__rule_name(const struct sl_rule_names *names, __u32 uid);

/* The event's name in the log: limited, ban_start, ban_end. */
const char *events__name(const struct sl_event *ev);

/*
 * The event as a sentence, e.g. "banned 192.0.2.1 for 2s (rule ssh,
 * offence 1)". Rule events name their rule from ev->name; an empty name
 * means the rule is gone.
 */
void events__message(const struct sl_event *ev, char *buf, size_t len);

/* The event's fields as JSON members, each preceded by a comma. */
void events__json_fields(FILE *f, const struct sl_event *ev);

#endif /* SLUICE_EVENTS_H */
