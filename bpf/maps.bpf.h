/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map of the sluice object, shared by its programs. */
#ifndef SLUICE_MAPS_BPF_H
#define SLUICE_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"

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

/*
 * One shared entry per key, not per CPU: the limit is exact across CPUs.
 * Not an LRU: a flood of new (spoofed) keys would evict the buckets of
 * clients that keep sending. When it is full an insert fails and the
 * rule's on-full policy decides; the controller's sweep deletes keys
 * whose state has said nothing for key-timeout. Preallocated: bounded
 * memory, and no allocation on the packet path.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_KEYS);
	__type(key, struct sl_key);
	__type(value, struct sl_key_state);
} sl_keys SEC(".maps");

/* Counts per key for sluice top, kept only while it holds its lease. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, SL_TOP_KEYS);
	__type(key, struct sl_key);
	__type(value, struct sl_key_count);
} sl_topk SEC(".maps");

/*
 * Tracked connections and their counts. Neither is an LRU: an eviction
 * would lose a count or a release, and counts must neither leak nor drift.
 * Counts are not preallocated so that a deleted entry a CPU still points at
 * is never handed to another key.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_FLOWS);
	__type(key, struct sl_flow_key);
	__type(value, struct sl_flow);
} sl_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_key);
	__type(value, __s64);
} sl_conns SEC(".maps");

/* The TAT of the interface-wide budget for answers sent by reject. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sl_reject SEC(".maps");

/*
 * Bans, rules' and the operator's. Not an LRU: a churn of new keys must
 * not evict a ban. Not preallocated, so that an entry a CPU still reads
 * is never handed to another key.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_BAN_CAPACITY);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_ban_key);
	__type(value, struct sl_ban);
} sl_bans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SL_EVENTS_BYTES);
} sl_events SEC(".maps");

/* The TAT of the interface-wide event budget. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sl_evbudget SEC(".maps");

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

/*
 * Recent refusals, each CPU's in sets of its own (see struct sl_refusal):
 * nothing shared or locked to read them. Mappable only for the placement:
 * the values then start on a page, so every set is one cache line. Sized
 * at load to the possible CPUs << sl_refusal_bits.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_REFUSAL_DEFAULT_SLOTS / SL_REFUSAL_WAYS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_refusal_set);
} sl_refusals SEC(".maps");

/*
 * The keys of refusals remembered while sluice top watched, by set and way
 * of sl_refusals (index << 1 | way): only top's counts need them, so an
 * LRU of a size fixed whatever the refusal memory's. A key it lost sends
 * its repeat back to the walk, which counts it and remembers it anew.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_TOP_KEYS * 2);
	__type(key, __u64);
	__type(value, struct sl_refusal_key);
} sl_refkeys SEC(".maps");

/* log2 of the refusal sets per CPU, frozen at load with the maps' size. */
const volatile __u32 sl_refusal_bits = 13;

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

/* This CPU's count of one key's packets, for sluice top. */
static __always_inline void count_key(const struct sl_key *key, __u32 limited)
{
	struct sl_key_count *c = bpf_map_lookup_elem(&sl_topk, key);

	if (!c) {
		static const struct sl_key_count fresh;

		/* Another CPU may insert it first: then both use its entry. */
		bpf_map_update_elem(&sl_topk, key, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&sl_topk, key);
		if (!c)
			return;
	}
	c->packets++;
	if (limited)
		c->limited++;
}

#endif /* SLUICE_MAPS_BPF_H */
