/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which keys may have state in sl_keys, for a CPU that found the key map
 * full (see key_state()): a spoofed flood's packets then cost a line of
 * this filter, not a key-map lookup that misses the cache. A key whose bits
 * are not both set has no state; set bits may belong to keys since deleted,
 * which costs a lookup and nothing else.
 *
 * Two halves, each of (1 << sl_keyfilter_bits) words: the data path reads
 * the half sl_cfg.keyfilter_half names and sets a new key's bits in both,
 * before its insert (so a reader that finds them clear also finds no key)
 * and again after (so a rebuild that cleared them meanwhile keeps them). A
 * rebuild, after each sweep pass, clears the other half, sets the bits of
 * every key in the map, and flips to it: deleted keys' bits go. Packets
 * that read the old half finish long before the next rebuild clears it.
 */
#ifndef SLUICE_KEYFILTER_BPF_H
#define SLUICE_KEYFILTER_BPF_H

#include "maps.bpf.h"

/* log2 of the words in one half, frozen at load with the map's size. */
const volatile __u32 sl_keyfilter_bits = SL_KEYFILTER_DEFAULT_BITS;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2u << SL_KEYFILTER_DEFAULT_BITS);
	__type(key, __u32);
	__type(value, __u64);
} sl_keyfilter SEC(".maps");

static __always_inline __u64 key_hash(const struct sl_key *key)
{
	const __u32 *w = (const __u32 *)key;
	__u64 h = 0x9e3779b97f4a7c15ull;
	__u32 i;

	for (i = 0; i < sizeof(*key) / 4; i++)
		h = (h ^ w[i]) * 0xff51afd7ed558ccdull;
	return h ^ h >> 29;
}

/* The key's word in half; its two bits in *bits. */
static __always_inline __u64 *keyfilter_word(const struct sl_key *key, __u32 half,
					     __u64 *bits)
{
	__u64 h = key_hash(key);
	__u32 index = (half & 1) << sl_keyfilter_bits |
		      ((__u32)(h >> 32) & ((1u << sl_keyfilter_bits) - 1));

	*bits = 1ull << (h & 63) | 1ull << (h >> 6 & 63);
	return bpf_map_lookup_elem(&sl_keyfilter, &index);
}

static __always_inline int keyfilter_may_hold(const struct sl_key *key, __u32 half)
{
	__u64 bits, *word = keyfilter_word(key, half, &bits);

	return !word || (*word & bits) == bits;
}

static __always_inline void keyfilter_set(const struct sl_key *key, __u32 half)
{
	__u64 bits, *word = keyfilter_word(key, half, &bits);

	if (word)
		__sync_fetch_and_or(word, bits);
}

static __always_inline void keyfilter_add(const struct sl_key *key)
{
	keyfilter_set(key, 0);
	keyfilter_set(key, 1);
}

static long clear_word(__u32 i, void *half)
{
	__u32 index = *(__u32 *)half << sl_keyfilter_bits | i;
	__u64 *word = bpf_map_lookup_elem(&sl_keyfilter, &index);

	/* Atomic: a concurrent set is either undone (and its key, already
	 * in the map, is set again by the walk) or kept. */
	if (word)
		__sync_fetch_and_and(word, 0);
	return 0;
}

static long set_key(void *map, const struct sl_key *key, void *value, void *half)
{
	keyfilter_set(key, *(__u32 *)half);
	return 0;
}

/* Rebuilds the half not in use from the key map and flips to it. */
static __always_inline __s64 keyfilter_rebuild(struct sl_cfg *cfg)
{
	__u32 half = !(cfg->keyfilter_half & 1);
	long n;

	bpf_loop(1u << sl_keyfilter_bits, clear_word, &half, 0);
	n = bpf_for_each_map_elem(&sl_keys, set_key, &half, 0);
	cfg->keyfilter_half = half;
	return n;
}

#endif /* SLUICE_KEYFILTER_BPF_H */
