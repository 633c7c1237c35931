/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bans and events. A rule with a ban policy counts each key's limited
 * packets; the one that crosses the threshold writes a ban for the key's
 * address (or prefix) into sl_bans, which the data path checks before any
 * rule. A ban expires here, by its own time, whether or not a controller
 * runs. The rare things worth a log line go out through the event ring,
 * within one interface-wide budget.
 */
#ifndef SLUICE_BANS_BPF_H
#define SLUICE_BANS_BPF_H

#include "maps.bpf.h"
#include "parse.bpf.h"
#include "sluice_limiter.h"

int spend(__u64 *word, const struct sl_limit *lim, __u32 warm, __u64 now,
	  __u32 len);

static __always_inline void mask_prefix(__u8 *addr, __u32 bytes, __u32 bits)
{
	__u32 i;

	for (i = 0; i < 16; i++) {
		if (i >= bytes)
			break;
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		addr[i] &= (__u8)(0xff00 >> bits);
		bits = 0;
	}
}

/* What ban_check() found. */
#define SL_BANNED		1
#define SL_BANNED_DRY		2	/* a dry ban: counted, the packet goes on */

/*
 * Is the packet's source banned? One exact lookup per prefix length that
 * bans of its family use, so an expired entry kept for its offences never
 * hides a live ban of a shorter prefix. Global, so its key takes no room
 * on the stack of the walk's callers.
 */
__noinline int ban_check(const struct sl_cfg *cfg, const struct sl_pkt *pkt,
			 __u64 now)
{
	struct sl_ban_key key = {};
	const struct sl_ban *ban;
	__u32 fam, n, i;

	if (!cfg || !pkt)
		return 0;
	fam = pkt->family & 1;
	n = cfg->ban_nplens[fam];
	key.family = fam;
	for (i = 0; i < SL_BAN_PLENS; i++) {
		if (i >= n)
			break;
		key.prefixlen = cfg->ban_plens[fam][i];
		__builtin_memcpy(key.addr, pkt->saddr, 16);
		mask_prefix(key.addr, fam == SL_FAM_IP4 ? 4 : 16, key.prefixlen);
		ban = bpf_map_lookup_elem(&sl_bans, &key);
		if (ban && now < ban->expires_ns)
			return ban->flags & SL_BAN_DRY ? SL_BANNED_DRY : SL_BANNED;
	}
	return 0;
}

/*
 * A slot in the event ring, if the budget has one: a flood of new keys
 * costs a few events a second, and the rest are only counted.
 */
static __always_inline struct sl_event *event_reserve(__u32 type, __u64 now)
{
	struct sl_event *ev;
	struct sl_cfg *cfg;
	__u32 zero = 0;
	__u64 *tat;

	cfg = bpf_map_lookup_elem(&sl_cfg, &zero);
	tat = bpf_map_lookup_elem(&sl_evbudget, &zero);
	if (!cfg || !tat)
		return NULL;
	if (spend(tat, &cfg->event_limit, SL_WARM_ONE, now, 1) <= 0) {
		count(SL_CNT_EVENTS_SUPPRESSED, 0);
		return NULL;
	}
	ev = bpf_ringbuf_reserve(&sl_events, sizeof(*ev), 0);
	if (!ev) {
		count(SL_CNT_EVENTS_SUPPRESSED, 0);
		return NULL;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->time_ns = now;
	ev->type = type;
	return ev;
}

static __always_inline void event_send(struct sl_event *ev)
{
	bpf_ringbuf_submit(ev, 0);
	count(SL_CNT_EVENTS, 0);
}

/*
 * What note_limited() needs besides the rule and the key, and room for the
 * ban it may write. It lives in the walk's per-CPU scratch: the stack of
 * the walk's callers has no room left for a ban.
 */
struct ban_note {
	__u64 now;
	__u32 reason;		/* the counter of the limit broken */
	__u32 dry;		/* nothing is dropped: dry run or action pass */
	struct sl_ban_key key;
	struct sl_ban ban;
};

static __always_inline __u8 key_prefixlen(const struct sl_rule *rule,
					  const struct sl_key *key)
{
	if (rule->key_type != SL_KEY_SRC)
		return 0;
	return key->family == SL_FAM_IP4 ? rule->prefix4 : rule->prefix6;
}

/*
 * The key crossed its rule's threshold: ban it, for longer if it is
 * remembered from an earlier ban. Two CPUs crossing at once write the same
 * ban; a key already banned (by a dry ban, which lets its packets reach
 * the rules) stays as it is.
 */
static __always_inline int start_ban(const struct sl_rule *rule,
				     const struct sl_key *key,
				     struct sl_key_state *st, struct ban_note *n)
{
	struct sl_ban_key *bk = &n->key;
	struct sl_ban *ban = &n->ban;
	const struct sl_ban *old;
	struct sl_event *ev;
	__u64 dur;

	bk->family = key->family;
	bk->prefixlen = key_prefixlen(rule, key);
	bk->pad[0] = bk->pad[1] = 0;
	__builtin_memcpy(bk->addr, key->addr, 16);
	/* Whatever happens next, the count starts over. */
	st->ban_window = 0;
	old = bpf_map_lookup_elem(&sl_bans, bk);
	if (old && n->now < old->expires_ns)
		return 0;
	ban->offences = old && n->now < old->forget_ns ? old->offences + 1 : 1;
	dur = sl_ban_duration(rule->ban_for_ns, rule->ban_max_ns, ban->offences);
	ban->start_ns = n->now;
	ban->expires_ns = n->now + dur;
	ban->forget_ns = ban->expires_ns + rule->ban_max_ns;
	ban->rule_uid = rule->uid;
	ban->flags = n->dry ? SL_BAN_DRY : 0;
	ban->pad = 0;
	if (bpf_map_update_elem(&sl_bans, bk, ban, BPF_ANY)) {
		count(SL_CNT_BANS_FULL, 0);
		return 0;
	}
	count(SL_CNT_BANS, 0);
	ev = event_reserve(SL_EV_BAN_START, n->now);
	if (!ev)
		return 1;
	ev->rule_uid = rule->uid;
	ev->key_type = SL_KEY_SRC;
	ev->family = bk->family;
	ev->prefixlen = bk->prefixlen;
	__builtin_memcpy(ev->addr, bk->addr, 16);
	ev->duration_ns = dur;
	ev->offences = ban->offences;
	ev->flags = n->dry ? SL_EV_DRY : 0;
	event_send(ev);
	return 1;
}

/*
 * A packet of key broke one of rule's limits. Only limited packets come
 * here, and most leave after one read: the key's last-limited time is
 * written at most once a second, and its ban count only by rules with a
 * ban policy, until the ban stops its packets before the rules. Returns 1
 * if it banned the key. Global, like spend().
 */
__noinline int note_limited(const struct sl_rule *rule, const struct sl_key *key,
			    struct sl_key_state *st, struct ban_note *n)
{
	struct sl_event *ev;
	__u64 last;

	if (!rule || !key || !st || !n)
		return 0;
	last = st->limited_ns;
	if (n->now > last && n->now - last >= SL_LIMITED_REFRESH_NS) {
		st->limited_ns = n->now;
		if (!last || n->now - last >= SL_LIMITED_QUIET_NS) {
			ev = event_reserve(SL_EV_LIMITED, n->now);
			if (ev) {
				ev->rule_uid = rule->uid;
				ev->key_type = rule->key_type;
				ev->family = key->family;
				ev->prefixlen = key_prefixlen(rule, key);
				__builtin_memcpy(ev->addr, key->addr, 16);
				ev->reason = n->reason;
				ev->flags = n->dry ? SL_EV_DRY : 0;
				event_send(ev);
			}
		}
	}
	if (!rule->ban_after || rule->key_type != SL_KEY_SRC)
		return 0;
	if (spend(&st->ban_window, &rule->ban_count, SL_WARM_ONE, n->now, 1))
		return 0;
	return start_ban(rule, key, st, n);
}

/*
 * For the controller's sweep: marks an expired ban as ended, once, so its
 * end is logged once whichever daemon sees it; deletes it when its
 * offences are forgotten too. The flag is set with an atomic operation, so
 * a ban a rule writes anew meanwhile is never overwritten with an old one.
 */
static __always_inline __s64 ban_expire(const struct sl_ban_key *key, __u64 now,
					struct sl_ban *out)
{
	struct sl_ban *ban = bpf_map_lookup_elem(&sl_bans, key);
	__s64 res = 0;

	if (!ban)
		return 0;
	__builtin_memcpy(out, ban, sizeof(*out));
	if (now < ban->expires_ns)
		return 0;
	if (!(__sync_fetch_and_or(&ban->flags, SL_BAN_ENDED) & SL_BAN_ENDED))
		res |= SL_CTL_BAN_ENDED;
	if (now >= ban->forget_ns && !bpf_map_delete_elem(&sl_bans, key))
		res |= SL_CTL_BAN_DELETED;
	return res;
}

#endif /* SLUICE_BANS_BPF_H */
