// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>

#include "bans.h"
#include "events.h"
#include "stats.h"

#define NS_PER_MS	1000000ull

int events__read_names(const struct sl_maps *maps, struct sl_rule_names *names)
{
	struct sl_cfg cfg;
	__u32 zero = 0, gen, i;

	memset(names, 0, sizeof(*names));
	if (bpf_map_lookup_elem(maps->cfg, &zero, &cfg))
		return -errno;
	gen = cfg.gen & 1;
	for (i = 0; i < cfg.hdr[gen].n_rules && i < SL_MAX_RULES; i++) {
		__u32 index = SL_RULE_INDEX(gen, i);
		struct sl_rule_text text;
		struct sl_rule rule;

		if (bpf_map_lookup_elem(maps->rules, &index, &rule) ||
		    bpf_map_lookup_elem(maps->rtext, &index, &text))
			return -errno;
		names->uid[names->n] = rule.uid;
		memcpy(names->name[names->n], text.name, SL_NAME_LEN);
		names->name[names->n][SL_NAME_LEN - 1] = '\0';
		names->n++;
	}
	return 0;
}

const char *events__rule_name(const struct sl_rule_names *names, __u32 uid)
{
	unsigned i;

	for (i = 0; i < names->n; i++)
		if (names->uid[i] == uid)
			return names->name[i];
	return NULL;
}

const char *events__name(const struct sl_event *ev)
{
	switch (ev->type) {
	case SL_EV_LIMITED:
		return "limited";
	case SL_EV_BAN_START:
		return "ban_start";
	case SL_EV_BAN_END:
		return "ban_end";
	default:
		return "unknown";
	}
}

static const char *reason_name(__u32 reason)
{
	unsigned i;

	for (i = 0; sl_reason_names[i].name; i++)
		if (sl_reason_names[i].index == reason)
			return sl_reason_names[i].name;
	return "unknown";
}

/* The key the event is about: an address or prefix, a port, or global. */
static void key_text(const struct sl_event *ev, char *buf, size_t len)
{
	switch (ev->key_type) {
	case SL_KEY_SRC:
		bans__format_addr(ev->family, ev->prefixlen, ev->addr, buf, len);
		break;
	case SL_KEY_DPORT:
		snprintf(buf, len, "dport %u", ev->addr[0] << 8 | ev->addr[1]);
		break;
	default:
		snprintf(buf, len, "global");
		break;
	}
}

/* Who is behind it: "rule NAME, offence N" for a rule's ban. */
static void rule_text(const struct sl_event *ev, char *buf, size_t len)
{
	const char *sep = ev->type == SL_EV_LIMITED ? "" : ", offence ";
	char offence[16] = "";

	if (ev->flags & SL_EV_MANUAL) {
		snprintf(buf, len, "manual");
		return;
	}
	if (*sep)
		snprintf(offence, sizeof(offence), "%u", ev->offences);
	if (ev->name[0])
		snprintf(buf, len, "rule %.*s%s%s", SL_NAME_LEN, ev->name, sep, offence);
	else
		snprintf(buf, len, "a rule since removed%s%s", sep, offence);
}

void events__message(const struct sl_event *ev, char *buf, size_t len)
{
	const char *dry = ev->flags & SL_EV_DRY ?
			  " (dry run: counted, nothing dropped)" : "";
	char key[64], rule[SL_NAME_LEN + 48], dur[24];

	key_text(ev, key, sizeof(key));
	rule_text(ev, rule, sizeof(rule));
	config_format_duration(ev->duration_ns / NS_PER_MS * NS_PER_MS, dur,
			       sizeof(dur));
	switch (ev->type) {
	case SL_EV_LIMITED:
		snprintf(buf, len, "%s started limiting %s (%s)%s", rule, key,
			 reason_name(ev->reason), dry);
		break;
	case SL_EV_BAN_START:
		snprintf(buf, len, "banned %s for %s (%s)%s", key, dur, rule, dry);
		break;
	case SL_EV_BAN_END:
		snprintf(buf, len, "ban of %s ended after %s (%s)%s", key, dur, rule,
			 dry);
		break;
	default:
		snprintf(buf, len, "event of unknown type %u", ev->type);
		break;
	}
}

static void json_name(FILE *f, const char *member, const char *name)
{
	char buf[SL_NAME_LEN + 1];

	fprintf(f, ",\"%s\":", member);
	if (!name[0]) {
		fputs("null", f);
		return;
	}
	snprintf(buf, sizeof(buf), "%.*s", SL_NAME_LEN, name);
	json_string(f, buf);
}

void events__json_fields(FILE *f, const struct sl_event *ev)
{
	char key[64];

	key_text(ev, key, sizeof(key));
	switch (ev->type) {
	case SL_EV_LIMITED:
		json_name(f, "rule", ev->name);
		fputs(",\"key\":", f);
		json_string(f, key);
		fprintf(f, ",\"reason\":\"%s\",\"dry_run\":%s",
			reason_name(ev->reason),
			ev->flags & SL_EV_DRY ? "true" : "false");
		break;
	case SL_EV_BAN_START:
	case SL_EV_BAN_END:
		json_name(f, "rule", ev->flags & SL_EV_MANUAL ? "" : ev->name);
		fprintf(f, ",\"origin\":\"%s\",\"address\":",
			ev->flags & SL_EV_MANUAL ? "manual" : "rule");
		json_string(f, key);
		fprintf(f, ",\"duration_ms\":%" PRIu64 ",\"offences\":%u,\"dry_run\":%s",
			(uint64_t)(ev->duration_ns / NS_PER_MS), ev->offences,
			ev->flags & SL_EV_DRY ? "true" : "false");
		break;
	default:
		break;
	}
}
