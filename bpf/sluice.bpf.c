// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice XDP ingress: allow/deny sets, rule classification by bitmap
 * intersection, and exact per-key limits shared by all CPUs.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "sluice_limiter.h"
#include "parse.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_cfg);
} sl_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_L4_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} sl_l4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_DPORT_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} sl_dport SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SL_SRC_CAPACITY);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_src4_key);
	__type(value, struct sl_src_val);
} sl_src4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SL_SRC_CAPACITY);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_src6_key);
	__type(value, struct sl_src_val);
} sl_src6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_RULE_ENTRIES);
	__type(key, __u32);
	__type(value, struct sl_rule);
} sl_rules SEC(".maps");

/* Never read by the data path: the rule source, so any controller can list
 * and rebuild the active set from the pins alone. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_RULE_ENTRIES);
	__type(key, __u32);
	__type(value, struct sl_rule_text);
} sl_rtext SEC(".maps");

/* One shared entry per key, not per CPU: the limit is exact across CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_DEFAULT_KEYS);
	__type(key, struct sl_key);
	__type(value, struct sl_key_state);
} sl_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct sl_rule_counter);
} sl_rcnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_CNT_MAX);
	__type(key, __u32);
	__type(value, struct sl_counter);
} sl_cnt SEC(".maps");

/* Frozen at load: the verifier prunes the test clock out of production. */
const volatile __u8 sl_use_test_clock = 0;
__u64 sl_test_now_ns = 0;

static __always_inline __u64 sl_now(void)
{
	return sl_use_test_clock ? sl_test_now_ns : bpf_ktime_get_ns();
}

static __always_inline void count(__u32 index, __u32 len)
{
	struct sl_counter *c = bpf_map_lookup_elem(&sl_cnt, &index);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

struct rule_walk {
	struct sl_pkt *pkt;
	__u64 rules;
	__u64 now;
	__u32 gen;
	__u32 len;
	__u32 dry_run;
	__u32 verdict;
};

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

static __always_inline void build_key(const struct sl_rule *rule,
				      const struct sl_pkt *pkt, struct sl_key *key)
{
	key->rule_uid = rule->uid;
	switch (rule->key_type) {
	case SL_KEY_SRC:
		key->family = pkt->family;
		__builtin_memcpy(key->addr, pkt->saddr, 16);
		if (pkt->family == SL_FAM_IP4)
			mask_prefix(key->addr, 4, rule->prefix4);
		else
			mask_prefix(key->addr, 16, rule->prefix6);
		break;
	case SL_KEY_DPORT:
		key->addr[0] = pkt->dport >> 8;
		key->addr[1] = pkt->dport & 0xff;
		break;
	default:
		break;
	}
}

static __always_inline struct sl_key_state *key_state(const struct sl_key *key)
{
	static const struct sl_key_state fresh;
	struct sl_key_state *st = bpf_map_lookup_elem(&sl_keys, key);

	if (st)
		return st;
	/* Losing the insert race to another CPU is fine: both use its entry. */
	bpf_map_update_elem(&sl_keys, key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sl_keys, key);
}

/*
 * Spends `cost_ns` from one limit of one key. The compare-and-swap on the
 * single TAT word is what makes two CPUs together admit no more than the
 * rate; a key so contended that SL_CAS_TRIES attempts all lose is refused
 * rather than admitted unaccounted. A refusal writes only when the math
 * clamped a stale TAT, so a flood of refused packets does not bounce the
 * key's cache line between CPUs.
 */
static __always_inline int spend(__u64 *tat, __u64 now, __u64 cost_ns,
				 __u64 tolerance_ns, int *exhausted)
{
	int i;

	for (i = 0; i < SL_CAS_TRIES; i++) {
		__u64 old = *(volatile __u64 *)tat;
		__u64 next;
		int ok = sl_gcra_conform(old, now, cost_ns, tolerance_ns, &next);

		if (next == old)
			return ok;
		if (__sync_val_compare_and_swap(tat, old, next) == old)
			return ok;
	}
	*exhausted = 1;
	return 0;
}

/*
 * Gives back what an earlier limit of the rule spent on a packet a later
 * limit refused: a rule that refuses a packet spends none of its budgets.
 * Subtracting commutes with every other CPU's additions, so a lost race is
 * simply tried again.
 */
static __always_inline void refund(__u64 *tat, __u64 cost_ns)
{
	int i;

	for (i = 0; i < SL_CAS_TRIES; i++) {
		__u64 old = *(volatile __u64 *)tat;

		if (old < cost_ns)
			return;
		if (__sync_val_compare_and_swap(tat, old, old - cost_ns) == old)
			return;
	}
}

static __always_inline __u64 limit_cost_ns(const struct sl_limit *lim, __u32 len)
{
	return sl_gcra_cost_ns(lim->interval_fp, lim->unit == SL_UNIT_BYTES ? len : 1);
}

static __always_inline int conforms(const struct sl_rule *rule,
				    struct sl_key_state *st, struct rule_walk *w,
				    int *exhausted)
{
	__u32 i, j;

	for (i = 0; i < SL_MAX_LIMITS; i++) {
		const struct sl_limit *lim = &rule->limits[i];

		if (i >= rule->n_limits)
			break;
		if (spend(&st->tat[i], w->now, limit_cost_ns(lim, w->len),
			  lim->tolerance_ns, exhausted))
			continue;
		for (j = 0; j < SL_MAX_LIMITS && j < i; j++)
			refund(&st->tat[j], limit_cost_ns(&rule->limits[j], w->len));
		return 0;
	}
	return 1;
}

/*
 * One matching rule, in rule-set order. A rule that limits the frame with
 * action drop ends the walk, so later rules are not charged for a frame
 * that never reaches them.
 */
static long apply_rule(__u32 pos, void *ctx)
{
	struct rule_walk *w = ctx;
	struct sl_rule_counter *rc;
	struct sl_key_state *st;
	struct sl_rule *rule;
	struct sl_key key = {};
	int exhausted = 0;
	__u32 index;

	if (!(w->rules >> pos))
		return 1;
	if (!((w->rules >> pos) & 1))
		return 0;

	index = SL_RULE_INDEX(w->gen, pos);
	rule = bpf_map_lookup_elem(&sl_rules, &index);
	if (!rule)
		return 0;
	rc = bpf_map_lookup_elem(&sl_rcnt, &rule->slot);
	if (!rc)
		return 0;
	rc->matched++;
	rc->bytes += w->len;

	build_key(rule, w->pkt, &key);
	st = key_state(&key);
	/*
	 * No state even after an insert: the LRU could not hand out an entry.
	 * Refusing is the only answer that keeps the limit a limit.
	 */
	if (st && conforms(rule, st, w, &exhausted)) {
		rc->passed++;
		return 0;
	}

	rc->limited++;
	count(exhausted ? SL_CNT_CAS_EXHAUSTED : SL_CNT_RATE, w->len);
	if (rule->action == SL_ACT_PASS || w->dry_run) {
		rc->passed++;
		return 0;
	}
	rc->dropped++;
	w->verdict = XDP_DROP;
	return 1;
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

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	const struct sl_src_val *src;
	const struct sl_gen_hdr *hdr;
	struct sl_pkt pkt = {};
	struct rule_walk walk;
	struct sl_cfg *cfg;
	__u32 zero = 0, gen, l4_index, port_index;
	__u64 rules, *bits;
	int res;

	count(SL_CNT_RX, len);
	cfg = bpf_map_lookup_elem(&sl_cfg, &zero);
	if (!cfg)
		return XDP_PASS;

	res = sl_parse(ctx, &pkt);
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

	rules = src->rules & hdr->active;
	if (!rules)
		return finish(XDP_PASS, len);
	l4_index = SL_L4_INDEX(gen, pkt.family, pkt.proto);
	bits = bpf_map_lookup_elem(&sl_l4, &l4_index);
	if (!bits)
		return finish(XDP_PASS, len);
	rules &= *bits;
	if (pkt.has_ports) {
		port_index = SL_DPORT_INDEX(gen, pkt.dport);
		bits = bpf_map_lookup_elem(&sl_dport, &port_index);
		if (!bits)
			return finish(XDP_PASS, len);
		rules &= *bits;
	} else if (!pkt.later_fragment) {
		rules &= hdr->portless;
	}
	if (!pkt.tcp_syn)
		rules &= ~hdr->syn;
	if (!rules)
		return finish(XDP_PASS, len);

	walk.pkt = &pkt;
	walk.rules = rules;
	walk.now = sl_now();
	walk.gen = gen;
	walk.len = len;
	walk.dry_run = cfg->dry_run;
	walk.verdict = XDP_PASS;
	bpf_loop(SL_MAX_RULES, apply_rule, &walk, 0);
	return finish(walk.verdict, len);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
