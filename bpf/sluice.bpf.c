// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice: XDP ingress (sets, breakers, classification by bitmap
 * intersection, exact per-key limits, actions), TC ingress (marks), TC
 * egress (the server's FIN and RST, the services' errors), and a syscall
 * program through which the controller changes flows and counts atomically.
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "sluice_limiter.h"
#include "maps.bpf.h"
#include "keyfilter.bpf.h"
#include "parse.bpf.h"
#include "conns.bpf.h"
#include "reject.bpf.h"
#include "cluster.bpf.h"
#include "breaker.bpf.h"
#include "bans.bpf.h"

/*
 * The walk's state is handed to global functions, after which the verifier
 * trusts no pointer stored in it: it holds the packet's fields by value. It
 * is too big for the 512-byte stack beside everything else, so it lives in
 * a per-CPU scratch map; XDP runs to completion on one CPU.
 */
struct rule_walk {
	__u8 family;
	__u8 pad;
	__u16 dport;
	__u8 saddr[16];
	__u64 rules;
	__u64 now;
	__u32 gen;
	__u32 len;
	__u32 dry_run;
	__u32 action;		/* the strongest action a broken rule asked for */
	__u32 mark;
	__u32 limited;		/* a rule was broken */
	__u32 tcp_syn;
	__u32 skip_conns;	/* a retransmitted SYN of a tracked flow */
	__u32 count_keys;	/* sluice top is watching: count per key */
	__u32 conns_action;	/* what to do if the flow cannot be tracked */
	/* The first matching rule refused the packet in a way that lasts
	 * until refused_until: worth remembering (see struct sl_refusal). */
	__u32 remember;
	__u32 refused_slot;
	__u32 refused_reason;
	__u64 refused_until;
	/* How long after refused_until the key's TAT still lies: a refusal
	 * ending that much late costs its key no credit (remember_refusal). */
	__u64 refused_slack;
	/* Its key, kept only while top watches; also the value written to
	 * sl_refkeys, which keeps it off the stack. */
	struct sl_refusal_key refused;
	/* What made room in the key map last: a sweep's pass, a new rule set. */
	__u64 room;
	/* This CPU found the key map full: no insert before this time unless
	 * room has changed since. Never reset by a packet: these carry over
	 * from one to the next. */
	__u64 keys_full_until;
	__u64 keys_full_room;
	__u32 keyfilter_half;	/* sl_cfg.keyfilter_half as the packet began */
	__u32 pad2;
	/* Slots this SYN reserved, in the form the flow entry keeps them. */
	struct sl_flow flow;
	struct ban_note note;	/* set only for a limited packet */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rule_walk);
} sl_walk SEC(".maps");

/* What bpf_loop hands apply_rule: its context must be on the stack. */
struct walk_ref {
	struct rule_walk *w;
};

/* drop beats reject beats mark beats pass. */
static __always_inline __u32 action_rank(__u32 action)
{
	switch (action) {
	case SL_ACT_DROP:
		return 3;
	case SL_ACT_REJECT:
		return 2;
	case SL_ACT_MARK:
		return 1;
	default:
		return 0;
	}
}

/* Position of the lowest set bit of a non-zero word, by binary search. */
static __always_inline __u32 lowest_bit(__u64 word)
{
	__u64 bit = word & -word;
	__u32 pos = 0;

	if (bit >> 32) {
		pos += 32;
		bit >>= 32;
	}
	if (bit >> 16) {
		pos += 16;
		bit >>= 16;
	}
	if (bit >> 8) {
		pos += 8;
		bit >>= 8;
	}
	if (bit >> 4) {
		pos += 4;
		bit >>= 4;
	}
	if (bit >> 2) {
		pos += 2;
		bit >>= 2;
	}
	return pos + (bit >> 1);
}

static __always_inline void build_key(const struct sl_rule *rule,
				      const struct rule_walk *w, struct sl_key *key)
{
	key->rule_uid = rule->uid;
	switch (rule->key_type) {
	case SL_KEY_SRC:
		key->family = w->family;
		__builtin_memcpy(key->addr, w->saddr, 16);
		if (w->family == SL_FAM_IP4)
			mask_prefix(key->addr, 4, rule->prefix4);
		else
			mask_prefix(key->addr, 16, rule->prefix6);
		break;
	case SL_KEY_DPORT:
		key->addr[0] = w->dport >> 8;
		key->addr[1] = w->dport & 0xff;
		break;
	default:
		break;
	}
}

/*
 * A rule whose only limit is conns counts in sl_conns: no state here,
 * unless it bans, whose count of limited packets is key state.
 */
static __always_inline int keeps_state(const struct sl_rule *rule)
{
	return !(rule->n_limits == 1 && rule->conns_limit) || rule->ban_after;
}

/*
 * The key's state, or NULL when the map is full (it never evicts). A
 * failed insert costs a bucket lock and a search of every CPU's free list,
 * and under a spoofed flood every packet would pay it: after one, this
 * CPU takes the map as full for SL_KEYS_FULL_RETRY_NS, or until a sweep
 * finishes a pass or a rule set is applied (either may delete keys), and
 * looks up only keys the filter says may have state.
 */
static __always_inline struct sl_key_state *key_state(const struct sl_key *key,
						      struct rule_walk *w)
{
	static const struct sl_key_state fresh;
	struct sl_key_state *st;
	int full = w->now < w->keys_full_until && w->keys_full_room == w->room;
	long err;

	/* A full map's new keys, a spoofed flood's, are told by the filter. */
	if (full && !keyfilter_may_hold(key, w->keyfilter_half))
		return NULL;
	st = bpf_map_lookup_elem(&sl_keys, key);
	if (st || full)
		return st;
	keyfilter_add(key);
	/* Losing the insert race to another CPU is fine: both use its entry. */
	err = bpf_map_update_elem(&sl_keys, key, &fresh, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		w->keys_full_until = w->now + SL_KEYS_FULL_RETRY_NS;
		w->keys_full_room = w->room;
		return NULL;
	}
	if (!err)
		keyfilter_add(key);
	return bpf_map_lookup_elem(&sl_keys, key);
}

/*
 * Applies one rate or window limit to its state word: 1 conforms, 0 does
 * not, -1 the key was too contended to tell. The compare-and-swap on one
 * word is what makes two CPUs together admit no more than the limit; a key
 * so contended that SL_CAS_TRIES attempts all lose is refused rather than
 * admitted unaccounted. A refusal writes only when the math clamped a stale
 * state, so a flood of refused packets does not bounce the key's cache line
 * between CPUs. A rate is stretched by `warm`, its rule's warm-up factor
 * (SL_WARM_ONE outside a warm-up): interval and tolerance alike, so the
 * rule runs at rate / warm with its burst unchanged. A global function: the
 * verifier checks it once, not once per limit per rule.
 */
__noinline int spend(__u64 *word, const struct sl_limit *lim, __u32 warm,
		     __u64 now, __u32 len)
{
	__u64 interval_fp, tolerance_ns;
	int i;

	if (!word || !lim)
		return 0;
	interval_fp = lim->rate.interval_fp;
	tolerance_ns = lim->rate.tolerance_ns;
	if (warm != SL_WARM_ONE) {
		interval_fp = sl_warm_scale(interval_fp, warm);
		tolerance_ns = sl_warm_scale(tolerance_ns, warm);
	}
	for (i = 0; i < SL_CAS_TRIES; i++) {
		__u64 old = *(volatile __u64 *)word;
		__u64 next;
		int ok;

		if (lim->kind == SL_LIMIT_WINDOW)
			ok = sl_window_conform(old, now, lim->window.period_ns,
					       lim->window.max, &next);
		else
			ok = sl_gcra_conform(old, now,
					     sl_gcra_cost_ns(interval_fp,
							     lim->unit == SL_UNIT_BYTES ?
							     len : 1),
					     tolerance_ns, &next);
		if (next == old)
			return ok;
		if (__sync_val_compare_and_swap(word, old, next) == old)
			return ok;
	}
	return -1;
}

/*
 * Where a rule stands in its warm-up, as the factor spend() stretches its
 * rates by. Global, so the verifier walks the square root once.
 */
__noinline __u32 warm_factor(__u64 now, __u64 start, __u64 warmup)
{
	return sl_warm_factor(now, start, warmup);
}

/*
 * Gives back what spend() took for a packet a later limit of the same rule
 * refused: a rule that refuses a packet spends none of its budgets. A TAT
 * moves back by the cost; a window's current count drops by one if the
 * window is still the same. Both commute with other CPUs' updates.
 */
__noinline int refund(__u64 *word, const struct sl_limit *lim, __u32 warm,
		      __u64 now, __u32 len)
{
	__u64 interval_fp;
	int i;

	if (!word || !lim)
		return 0;
	interval_fp = lim->rate.interval_fp;
	if (warm != SL_WARM_ONE)
		interval_fp = sl_warm_scale(interval_fp, warm);
	for (i = 0; i < SL_CAS_TRIES; i++) {
		__u64 old = *(volatile __u64 *)word, next;

		if (lim->kind == SL_LIMIT_WINDOW) {
			__u64 index = now / lim->window.period_ns;

			if (old >> (2 * SL_WIN_COUNT_BITS) != (index & SL_WIN_INDEX_MASK) ||
			    !(old & SL_WIN_MAX))
				return 0;
			next = old - 1;
		} else {
			__u64 cost = sl_gcra_cost_ns(interval_fp,
						     lim->unit == SL_UNIT_BYTES ? len : 1);

			if (old < cost)
				return 0;
			next = old - cost;
		}
		if (__sync_val_compare_and_swap(word, old, next) == old)
			return 1;
	}
	return 0;
}

/*
 * Takes a slot for a new connection. The reservation is kept only if the
 * SYN is finally let through; the caller gives it back otherwise.
 */
static __always_inline int reserve_conn(const struct sl_limit *lim,
					const struct sl_key *key,
					const struct sl_rule *rule, struct rule_walk *w)
{
	__u32 n = w->flow.n_keys;
	__s64 held;

	if (w->skip_conns || !w->tcp_syn || n >= SL_FLOW_RULES)
		return 1;
	held = conn_reserve(key);
	if (held < 0) {
		count(SL_CNT_FLOWS_FULL, w->len);
		return 0;
	}
	/* Marked over the limit, the connection goes to a fallback, not to
	 * the service this limit protects: it holds no slot here. */
	if (held > (__s64)lim->conns.max && rule->action == SL_ACT_MARK && !w->dry_run) {
		conn_add(key, -1);
		return 0;
	}
	__builtin_memcpy(&w->flow.keys[n & (SL_FLOW_RULES - 1)], key, sizeof(*key));
	if (!n || action_rank(rule->action) > action_rank(w->conns_action))
		w->conns_action = rule->action;
	w->flow.n_keys = n + 1;
	return held <= (__s64)lim->conns.max;
}

/*
 * Until when a key's refusal by a rate holds, the rate stretched as spend()
 * stretched it. A warm-up's stretch only shrinks with time, and a smaller
 * one ends a refusal later, so one timed with this instant's stretch ends
 * no later than the real one.
 */
static __always_inline __u64 refused_until(const struct sl_limit *lim, __u32 warm,
					   __u64 tat)
{
	__u64 interval_fp = lim->rate.interval_fp, tolerance_ns = lim->rate.tolerance_ns;

	if (warm != SL_WARM_ONE) {
		interval_fp = sl_warm_scale(interval_fp, warm);
		tolerance_ns = sl_warm_scale(tolerance_ns, warm);
	}
	return sl_gcra_refused_until(tat, lim->unit == SL_UNIT_BYTES ? 0 :
					  sl_gcra_cost_ns(interval_fp, 1),
				     tolerance_ns);
}

/*
 * Returns the reason counter of the first limit the packet breaks, or 0.
 * Global, like spend(), to keep the verifier's work linear in the rules.
 * local: a scope cluster key's share of the rule's limits, or NULL.
 */
__noinline __u32 check_limits(const struct sl_rule *rule, const struct sl_key *key,
			      struct sl_key_state *st, struct rule_walk *w,
			      const struct sl_clu_limits *local)
{
	__u32 i, j, reason, warm = SL_WARM_ONE;
	int ok;

	if (!rule || !key || !st || !w)
		return SL_CNT_RATE;
	/* Rules without a warm-up pay this one test. */
	if (rule->warmup_ns)
		warm = warm_factor(w->now, rule->warm_start_ns, rule->warmup_ns);
	for (i = 0; i < SL_MAX_LIMITS; i++) {
		const struct sl_limit *lim = local_limit(rule, local, i);

		if (i >= rule->n_limits)
			break;
		if (lim->kind == SL_LIMIT_CONNS) {
			ok = reserve_conn(lim, key, rule, w);
			reason = SL_CNT_CONNS;
		} else {
			ok = spend(&st->word[i], lim, warm, w->now, w->len);
			reason = ok < 0 ? SL_CNT_CAS_EXHAUSTED :
				 lim->kind == SL_LIMIT_WINDOW ? SL_CNT_WINDOW : SL_CNT_RATE;
		}
		if (ok > 0)
			continue;
		if (!ok && lim->kind == SL_LIMIT_RATE) {
			__u64 tat = *(volatile __u64 *)&st->word[i];

			w->refused_until = refused_until(lim, warm, tat);
			/* A rule's other limits have credit that a late
			 * admission could overflow: only a lone limit's TAT
			 * bounds what lateness costs. */
			w->refused_slack = rule->n_limits == 1 && tat > w->refused_until ?
					   tat - w->refused_until : 0;
		}
		/* A conns reservation is settled after the walk, with the verdict. */
		for (j = 0; j < i && j < SL_MAX_LIMITS; j++)
			if (rule->limits[j].kind != SL_LIMIT_CONNS)
				refund(&st->word[j], local_limit(rule, local, j), warm,
				       w->now, w->len);
		return reason;
	}
	return 0;
}

/*
 * The limits of a rule without key state (it keeps none, or its on-full
 * policy let a key the full map had no room for through): only conns,
 * whose counts live in sl_conns.
 */
__noinline __u32 check_conns(const struct sl_rule *rule, const struct sl_key *key,
			     struct rule_walk *w, const struct sl_clu_limits *local)
{
	__u32 i;

	if (!rule || !key || !w)
		return SL_CNT_CONNS;
	for (i = 0; i < SL_MAX_LIMITS; i++) {
		const struct sl_limit *lim = local_limit(rule, local, i);

		if (i >= rule->n_limits)
			break;
		if (lim->kind == SL_LIMIT_CONNS && !reserve_conn(lim, key, rule, w))
			return SL_CNT_CONNS;
	}
	return 0;
}

/*
 * One matching rule, in rule-set order. A rule that drops or rejects ends
 * the walk, so later rules are not charged for a packet that never reaches
 * them; mark and pass let it go on.
 */
static long apply_rule(__u32 iteration, void *ctx)
{
	struct rule_walk *w = ((struct walk_ref *)ctx)->w;
	struct sl_rule_counter *rc;
	struct sl_key_state *st;
	struct sl_rule *rule;
	struct sl_key key = {};
	__u32 index, reason, pos;
	int full;

	/* One turn per matching rule, lowest position first: the walk costs
	 * what matches, not the highest position that does. */
	if (!w->rules)
		return 1;
	pos = lowest_bit(w->rules);
	w->rules &= w->rules - 1;

	index = SL_RULE_INDEX(w->gen, pos);
	rule = bpf_map_lookup_elem(&sl_rules, &index);
	if (!rule)
		return 0;
	rc = bpf_map_lookup_elem(&sl_rcnt, &rule->slot);
	if (!rc)
		return 0;
	rc->matched++;
	rc->bytes += w->len;

	build_key(rule, w, &key);
	st = NULL;
	full = 0;
	if (keeps_state(rule)) {
		st = key_state(&key, w);
		full = !st;
	}
	/* A new key the full map has no room for: refused as over the limit,
	 * or let through its rates and windows, counted either way. */
	if (full && rule->on_full != SL_ON_FULL_PASS) {
		reason = SL_CNT_KEYS_FULL;
	} else {
		const struct sl_clu_limits *local = cluster_limits(rule, &key);

		if (full)
			count(SL_CNT_KEYS_FULL, w->len);
		reason = st ? check_limits(rule, &key, st, w, local) :
			      check_conns(rule, &key, w, local);
	}
	cluster_count(rule, &key, w->len, !reason);
	if (w->count_keys)
		count_key(&key, reason);
	if (!reason) {
		rc->passed++;
		return 0;
	}

	rc->limited++;
	count(reason, w->len);
	w->note.now = w->now;
	w->note.reason = reason;
	w->note.dry = w->dry_run || rule->action == SL_ACT_PASS;
	note_limited(rule, &key, st, &w->note);
	if (w->dry_run || rule->action == SL_ACT_PASS) {
		rc->passed++;
		return 0;
	}
	w->limited = 1;
	if (action_rank(rule->action) > action_rank(w->action)) {
		w->action = rule->action;
		w->mark = rule->mark;
	}
	switch (rule->action) {
	case SL_ACT_MARK:
		rc->marked++;
		rc->passed++;
		return 0;
	case SL_ACT_REJECT:
		rc->rejected++;
		return 1;
	default:
		rc->dropped++;
		if (!iteration && rule->flags & SL_RULE_F_REMEMBER) {
			w->remember = 1;
			w->refused_slot = rule->slot;
			w->refused_reason = reason;
			/* Rules after this one would see the admissions a late
			 * refusal lets through come bunched together. */
			if (w->rules)
				w->refused_slack = 0;
			if (w->count_keys)
				__builtin_memcpy(&w->refused.key, &key, sizeof(key));
		}
		return 1;
	}
}

/* This CPU's set of sl_refusals for the packet's source and port. */
static __always_inline __u32 refusal_set(const struct sl_pkt *pkt)
{
	__u32 h = 0, i;

	for (i = 0; i < 16; i += 4)
		h ^= *(__u32 *)&pkt->saddr[i];
	h = (h ^ pkt->dport) * 0x9e3779b1u;
	return bpf_get_smp_processor_id() << sl_refusal_bits |
	       h >> (32 - sl_refusal_bits);
}

static __always_inline __u8 packet_shape(const struct sl_pkt *pkt)
{
	return (pkt->family == SL_FAM_IP6 ? SL_SHAPE_IP6 : 0) |
	       (pkt->has_ports ? SL_SHAPE_PORTS : 0) |
	       (pkt->tcp_syn ? SL_SHAPE_SYN : 0);
}

static __always_inline int same_packet_shape(const struct sl_refusal *r,
					     const struct sl_pkt *pkt, __u16 gen,
					     __u8 shape)
{
	const __u32 *a = (const __u32 *)r->saddr, *b = (const __u32 *)pkt->saddr;

	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] &&
	       r->gen == gen &&
	       r->dport == pkt->dport && r->proto == pkt->proto && r->shape == shape;
}

/* Whether the clock, in refusal units, is still before until. */
static __always_inline int before_until(__u64 now, __u32 until)
{
	return (__s32)((__u32)(now >> SL_REFUSAL_TIME_SHIFT) - until) < 0;
}

/* Whether the low 32 bits of jiffies are still before deadline (0: none). */
static __always_inline int before_jiffy(__u32 deadline)
{
	return deadline && (__s32)((__u32)bpf_jiffies64() - deadline) < 0;
}

/*
 * Whether sluice top holds its lease. A lapsed lease is cleared, once, so
 * that the refusal path, which reads no clock, can tell from the field
 * alone that nobody watches; the compare-and-swap leaves a renewal alone.
 */
static __always_inline int watched(struct sl_cfg *cfg, __u64 now)
{
	__u64 until = cfg->top_until_ns;

	if (!until)
		return 0;
	if (now < until)
		return 1;
	__sync_val_compare_and_swap(&cfg->top_until_ns, until, 0);
	return 0;
}

/*
 * A repeat refused from memory counts for its key while top watches. A
 * refusal remembered before the watch began has no key to count: the
 * packet goes back to the walk (returns 0), which counts it and remembers
 * the refusal again, with its key.
 */
static __always_inline int count_refused_key(struct sl_cfg *cfg, __u32 index,
					     __u32 way, const struct sl_refusal *r)
{
	__u64 at = (__u64)index << 1 | way;
	struct sl_refusal_key *rk;

	if (!watched(cfg, sl_now()))
		return 1;
	rk = bpf_map_lookup_elem(&sl_refkeys, &at);
	if (!rk || rk->until != r->until)
		return 0;
	count_key(&rk->key, 1);
	return 1;
}

/*
 * A packet shaped like one refused moments ago by a rule whose refusal
 * still holds is refused again, counted as the walk would have counted it.
 */
static __always_inline int refused_again(struct sl_cfg *cfg, const struct sl_pkt *pkt,
					 __u32 index, __u8 shape, __u32 len)
{
	struct sl_rule_counter *rc;
	struct sl_refusal_set *set;
	struct sl_refusal *r;
	__u16 gen = cfg->gen;
	__u32 way, slot;

	set = bpf_map_lookup_elem(&sl_refusals, &index);
	if (!set || cfg->dry_run)
		return 0;
	if (same_packet_shape(&set->way[0], pkt, gen, shape))
		way = 0;
	else if (same_packet_shape(&set->way[1], pkt, gen, shape))
		way = 1;
	else
		return 0;
	r = &set->way[way];
	if (!r->until)
		return 0;
	if (!before_jiffy(r->until_jiffies) && !before_until(sl_now(), r->until)) {
		r->until = 0;
		return 0;
	}
	if (cfg->top_until_ns && !count_refused_key(cfg, index, way, r))
		return 0;
	slot = r->slot;
	rc = bpf_map_lookup_elem(&sl_rcnt, &slot);
	if (rc) {
		rc->matched++;
		rc->bytes += len;
		rc->limited++;
		rc->dropped++;
	}
	count(r->reason, len);
	return 1;
}

/*
 * The way a new refusal takes: the packet's own, else an empty or lapsed
 * one, else the one that would have lapsed first.
 */
static __always_inline __u32 refusal_way(const struct sl_refusal_set *set,
					 const struct sl_pkt *pkt, __u16 gen,
					 __u8 shape, __u64 now)
{
	const struct sl_refusal *r0 = &set->way[0], *r1 = &set->way[1];

	if (same_packet_shape(r0, pkt, gen, shape))
		return 0;
	if (same_packet_shape(r1, pkt, gen, shape))
		return 1;
	if (!r0->until || !before_until(now, r0->until))
		return 0;
	if (!r1->until || !before_until(now, r1->until))
		return 1;
	return (__s32)(r0->until - r1->until) < 0 ? 0 : 1;
}

static __always_inline void remember_refusal(const struct sl_cfg *cfg,
					     const struct sl_pkt *pkt, __u32 index,
					     __u8 shape, struct rule_walk *w)
{
	struct sl_refusal_set *set;
	__u32 way, until;
	struct sl_refusal *r;
	__u64 end, ticks, deadline;

	if (w->refused_until <= w->now)
		return;
	end = w->refused_until;
	if (end - w->now > (__u64)SL_REFUSAL_MAX_HOLD << SL_REFUSAL_TIME_SHIFT)
		end = w->now + ((__u64)SL_REFUSAL_MAX_HOLD << SL_REFUSAL_TIME_SHIFT);
	until = end >> SL_REFUSAL_TIME_SHIFT;
	/* 0 marks a way empty: a refusal ending in unit 0 of the clock's
	 * 32-bit wrap (one in 73 minutes) is left to the walk. */
	if (!until || !before_until(w->now, until))
		return;
	set = bpf_map_lookup_elem(&sl_refusals, &index);
	if (!set)
		return;
	way = refusal_way(set, pkt, cfg->gen, shape, w->now);
	r = &set->way[way];
	__builtin_memcpy(r->saddr, pkt->saddr, 16);
	r->gen = cfg->gen;
	r->dport = pkt->dport;
	r->proto = pkt->proto;
	r->shape = shape;
	r->slot = w->refused_slot;
	r->reason = w->refused_reason;
	r->until = until;
	/*
	 * Jiffies never run ahead of the clock, so a jiffy deadline a whole
	 * tick short of the end is passed only after the end is, and the last
	 * stretch reads the clock at each repeat. With a tick of slack the
	 * deadline is a tick later: passed within a tick either side of the
	 * end, early (the clock decides the rest) or late, so that even a
	 * refusal shorter than a tick is mostly served without the clock. A
	 * packet admitted late but before the TAT moves the TAT by its own
	 * cost, as on time: the key loses no credit.
	 */
	deadline = 0;
	if (cfg->tick_ns && !sl_use_test_clock) {
		ticks = (end - w->now) / cfg->tick_ns;
		if (w->refused_slack >= cfg->tick_ns)
			deadline = ticks + 1;
		else if (ticks > 1)
			deadline = ticks - 1;
	}
	r->until_jiffies = deadline && deadline < (1u << 30) ?
			   (__u32)(bpf_jiffies64() + deadline) : 0;
	if (w->count_keys) {
		__u64 at = (__u64)index << 1 | way;

		w->refused.until = until;
		bpf_map_update_elem(&sl_refkeys, &at, &w->refused, BPF_ANY);
	}
}

static __always_inline const struct sl_src_val *lookup_src(const struct sl_pkt *pkt,
							   __u32 gen)
{
	if (pkt->family == SL_FAM_IP4) {
		struct sl_src4_key key = { .prefixlen = 8 + 32, .gen = gen };

		__builtin_memcpy(key.addr, pkt->saddr, 4);
		return bpf_map_lookup_elem(&sl_src4, &key);
	} else {
		struct sl_src6_key key = { .prefixlen = 8 + 128, .gen = gen };

		__builtin_memcpy(key.addr, pkt->saddr, 16);
		return bpf_map_lookup_elem(&sl_src6, &key);
	}
}

static __always_inline int finish(__u32 verdict, __u32 len)
{
	count(verdict == XDP_DROP ? SL_CNT_DROPPED : SL_CNT_PASSED, len);
	return verdict;
}

/* Action reject: the answer, or a drop once the reject budget is spent. */
static __always_inline int refuse(struct xdp_md *ctx, const struct sl_pkt *pkt,
				  const struct sl_cfg *cfg, __u64 now, __u32 len)
{
	int res = reject(ctx, pkt, cfg, now, len);

	if (res == XDP_TX) {
		count(SL_CNT_REJECTED, len);
		return res;
	}
	return finish(XDP_DROP, len);
}

static __always_inline void unreserve(struct rule_walk *w)
{
	release_keys(&w->flow);
	w->flow.n_keys = 0;
}

/*
 * After the walk, a SYN that passes becomes a tracked flow holding the
 * slots it reserved. No room to track it means no way to give the slots
 * back: the SYN is refused as its conns rules would refuse it. Global,
 * like follow_flow(), for the stack: XDP's frame, the walk's and the ban
 * and reject functions' together must fit in 512 bytes.
 */
__noinline int track_flow(struct rule_walk *w, const struct sl_pkt *pkt)
{
	struct sl_flow_key fk = {};
	__u32 i;
	long err;

	if (!w || !pkt || !w->flow.n_keys)
		return 0;
	if (w->limited && w->action != SL_ACT_MARK) {
		unreserve(w);
		return 0;
	}
	flow_key(pkt, 0, &fk);
	/* Slots past n_keys may hold an earlier packet's keys: never read,
	 * but the entry should not carry them. */
	for (i = 0; i < SL_FLOW_RULES; i++)
		if (i >= w->flow.n_keys)
			__builtin_memset(&w->flow.keys[i], 0, sizeof(w->flow.keys[i]));
	w->flow.last_seen_ns = w->now;
	w->flow.state = SL_FLOW_SYN;
	err = bpf_map_update_elem(&sl_flows, &fk, &w->flow, BPF_NOEXIST);
	if (!err)
		return 0;
	unreserve(w);
	if (err == -EEXIST || w->dry_run)
		return 0;	/* the same SYN, tracked by another CPU first */
	count(SL_CNT_FLOWS_FULL, w->len);
	if (w->conns_action == SL_ACT_PASS || w->conns_action == SL_ACT_MARK)
		return 0;
	w->limited = 1;
	w->action = w->conns_action;
	return 0;
}

/*
 * Every TCP packet of a conns rule's flows: a SYN of a flow already
 * tracked is a retransmit (returns 1), and refreshes it; another packet
 * refreshes its flow, or releases it on FIN or RST. Global, to keep the
 * flow key off the XDP program's stack.
 */
__noinline int follow_flow(const struct sl_pkt *pkt, __u64 now)
{
	struct sl_flow_key fk = {};
	struct sl_flow *flow;

	if (!pkt)
		return 0;
	flow_key(pkt, 0, &fk);
	if (!pkt->tcp_syn && pkt->tcp_flags & (SL_TCP_FLAG_FIN | SL_TCP_FLAG_RST)) {
		flow_release(&fk);
		return 0;
	}
	flow = bpf_map_lookup_elem(&sl_flows, &fk);
	if (!flow)
		return 0;
	flow_touch(flow, now, !pkt->tcp_syn && pkt->tcp_flags & SL_TCP_FLAG_ACK);
	return pkt->tcp_syn;
}

static __always_inline int set_mark(struct xdp_md *ctx, __u32 mark)
{
	struct sl_meta *meta;
	void *data;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		return -1;
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if ((void *)(meta + 1) > data)
		return -1;
	meta->magic = SL_META_MAGIC;
	meta->mark = mark;
	return 0;
}

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	const struct sl_src_val *src;
	const struct sl_gen_hdr *hdr;
	struct sl_pkt pkt = {};
	struct rule_walk *w;
	struct walk_ref ref;
	struct sl_cfg *cfg;
	int conns, retransmit = 0, breaker = SL_BRK_PASS;
	__u64 now = 0;
	__u32 zero = 0, gen, l4_index, port_index, refusal_index;
	__u64 rules, *bits;
	__u8 shape;
	int res;

	count(SL_CNT_RX, len);
	cfg = bpf_map_lookup_elem(&sl_cfg, &zero);
	if (!cfg)
		return XDP_PASS;

	res = sl_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, &pkt);
	if (res == SL_PARSE_NON_IP) {
		count(SL_CNT_NON_IP, len);
		return XDP_PASS;
	}
	if (res == SL_PARSE_MALFORMED) {
		count(SL_CNT_MALFORMED, len);
		if (cfg->malformed == SL_MALFORMED_DROP && !cfg->dry_run)
			return finish(XDP_DROP, len);
		return finish(XDP_PASS, len);
	}

	/* Where this CPU remembers refusals of packets like this one, read
	 * here and written after the walk: worked out once. */
	refusal_index = refusal_set(&pkt);
	shape = packet_shape(&pkt);
	/* A SYN to a service with a breaker walks: an open breaker answers it
	 * with a RST, not a drop. */
	if (!(cfg->breakers && pkt.tcp_syn) &&
	    refused_again(cfg, &pkt, refusal_index, shape, len))
		return finish(XDP_DROP, len);

	gen = cfg->gen & 1;
	hdr = &cfg->hdr[gen];
	src = lookup_src(&pkt, gen);
	if (!src)
		return finish(XDP_PASS, len);
	if (src->flags & SL_SRC_ALLOW) {
		count(SL_CNT_ALLOW, len);
		return finish(XDP_PASS, len);
	}
	if (src->flags & SL_SRC_DENY) {
		count(SL_CNT_DENY, len);
		return finish(cfg->dry_run ? XDP_PASS : XDP_DROP, len);
	}
	/* Skipped unless bans of this family exist or rules can make them. */
	if (cfg->ban_nplens[pkt.family & 1]) {
		now = sl_now();
		res = ban_check(cfg, &pkt, now);
		if (res) {
			count(SL_CNT_BAN, len);
			/* A dry ban only counts: the packet goes on to the rules. */
			if (res == SL_BANNED && !cfg->dry_run)
				return finish(XDP_DROP, len);
		}
	}
	/* A service whose breaker is open fails fast, before any rule
	 * spends a budget on a connection that will not happen. */
	if (cfg->breakers && pkt.tcp_syn) {
		breaker = breaker_syn(&pkt);
		if (breaker == SL_BRK_REFUSE) {
			count(SL_CNT_BREAKER, len);
			if (!cfg->dry_run)
				return refuse(ctx, &pkt, cfg, sl_now(), len);
		}
	}

	rules = src->rules & hdr->active;
	if (!rules)
		return finish(XDP_PASS, len);
	l4_index = SL_L4_INDEX(gen, pkt.family, pkt.proto);
	bits = bpf_map_lookup_elem(&sl_l4, &l4_index);
	if (!bits)
		return finish(XDP_PASS, len);
	rules &= *bits;
	/* Rules with ports match only TCP and UDP (sl_l4), whose packets have
	 * ports unless they are later fragments, which skip the port filter. */
	if (pkt.has_ports) {
		port_index = SL_DPORT_INDEX(gen, pkt.dport);
		bits = bpf_map_lookup_elem(&sl_dport, &port_index);
		if (!bits)
			return finish(XDP_PASS, len);
		rules &= *bits;
	}

	conns = rules & hdr->conns && pkt.proto == IPPROTO_TCP && !pkt.later_fragment;
	if (!pkt.tcp_syn)
		rules &= ~hdr->syn;
	if (!rules && !conns)
		return finish(XDP_PASS, len);

	/* The clock is read once, by the ban check if it ran: ktime is 0 only
	 * at boot, and the test clock never is. */
	if (!now)
		now = sl_now();
	/* Connection bookkeeping sees every packet of a conns rule's flows,
	 * whatever `syn` restricts the limits to. */
	if (conns)
		retransmit = follow_flow(&pkt, now);
	if (!rules)
		return finish(XDP_PASS, len);

	w = bpf_map_lookup_elem(&sl_walk, &zero);
	if (!w)
		return finish(XDP_PASS, len);
	/* Every field the walk reads, set here: clearing the whole scratch
	 * area would cost each packet more than the rest of this setup. */
	w->family = pkt.family;
	w->dport = pkt.dport;
	__builtin_memcpy(w->saddr, pkt.saddr, 16);
	w->tcp_syn = pkt.tcp_syn;
	w->rules = rules;
	w->now = now;
	w->room = cfg->keys_swept_ns ^ cfg->gen;
	w->keyfilter_half = cfg->keyfilter_half;
	w->gen = gen;
	w->len = len;
	w->dry_run = cfg->dry_run;
	w->action = SL_ACT_PASS;
	w->mark = 0;
	w->limited = 0;
	w->skip_conns = retransmit;
	w->count_keys = watched(cfg, now);
	w->conns_action = SL_ACT_PASS;
	w->flow.n_keys = 0;
	w->remember = 0;
	w->refused_until = 0;
	ref.w = w;
	bpf_loop(SL_MAX_RULES, apply_rule, &ref, 0);
	track_flow(w, &pkt);
	if (w->remember && !conns && !w->dry_run)
		remember_refusal(cfg, &pkt, refusal_index, shape, w);

	if (!w->limited)
		return finish(XDP_PASS, len);
	if (breaker == SL_BRK_PROBE && w->action != SL_ACT_MARK)
		breaker_unprobe(&pkt);
	switch (w->action) {
	case SL_ACT_MARK:
		if (!set_mark(ctx, w->mark))
			count(SL_CNT_MARKED, len);
		return finish(XDP_PASS, len);
	case SL_ACT_REJECT:
		return refuse(ctx, &pkt, cfg, w->now, len);
	default:
		return finish(XDP_DROP, len);
	}
}

/* Turns the mark XDP asked for into skb->mark, before routing sees it. */
SEC("tc")
int sluice_tc_in(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct sl_meta *meta = (void *)(long)skb->data_meta;

	if ((void *)(meta + 1) <= data && meta->magic == SL_META_MAGIC)
		skb->mark = meta->mark;
	return TC_ACT_UNSPEC;
}

/*
 * The server's FIN or RST toward a client gives the connection's slots
 * back; a service with a breaker has its errors counted.
 */
SEC("tc")
int sluice_tc_out(struct __sk_buff *skb)
{
	struct sl_flow_key fk = {};
	struct sl_pkt pkt = {};
	struct sl_cfg *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&sl_cfg, &zero);
	if (!cfg)
		return TC_ACT_UNSPEC;
	if (cfg->breakers)
		breaker_watch(skb);
	if (!cfg->hdr[cfg->gen & 1].conns)
		return TC_ACT_UNSPEC;
	if (sl_parse((void *)(long)skb->data, (void *)(long)skb->data_end, &pkt) !=
	    SL_PARSE_IP)
		return TC_ACT_UNSPEC;
	if (pkt.proto != IPPROTO_TCP || pkt.later_fragment ||
	    !(pkt.tcp_flags & (SL_TCP_FLAG_FIN | SL_TCP_FLAG_RST)))
		return TC_ACT_UNSPEC;
	flow_key(&pkt, 1, &fk);
	flow_release(&fk);
	return TC_ACT_UNSPEC;
}

SEC("syscall")
int sluice_ctl(struct sl_ctl *ctl)
{
	struct sl_flow_key fk;
	struct sl_ban_key bk;
	struct sl_key key;
	__s64 *cnt;

	__builtin_memcpy(&fk, &ctl->flow, sizeof(fk));
	__builtin_memcpy(&key, &ctl->conn, sizeof(key));
	switch (ctl->op) {
	case SL_CTL_RELEASE:
		ctl->result = flow_release(&fk);
		break;
	case SL_CTL_ADJUST:
		cnt = bpf_map_lookup_elem(&sl_conns, &key);
		if (!cnt) {
			__s64 zero = 0;

			bpf_map_update_elem(&sl_conns, &key, &zero, BPF_NOEXIST);
			cnt = bpf_map_lookup_elem(&sl_conns, &key);
		}
		ctl->result = cnt ? __sync_fetch_and_add(cnt, (__s64)ctl->delta) +
				    ctl->delta : -1;
		break;
	case SL_CTL_DROP_IF_ZERO:
		cnt = bpf_map_lookup_elem(&sl_conns, &key);
		ctl->result = cnt && !*cnt && !bpf_map_delete_elem(&sl_conns, &key);
		break;
	case SL_CTL_BAN_EXPIRE:
		__builtin_memcpy(&bk, &ctl->ban_key, sizeof(bk));
		ctl->result = ban_expire(&bk, sl_now(), &ctl->ban);
		break;
	case SL_CTL_KEYFILTER_REBUILD: {
		__u32 zero = 0;
		struct sl_cfg *cfg = bpf_map_lookup_elem(&sl_cfg, &zero);

		ctl->result = cfg ? keyfilter_rebuild(cfg) : -1;
		break;
	}
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
