/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Cluster mode in the data path: counting what a `scope cluster` rule
 * offered and admitted per key, and the local limits the daemon sets from
 * Redis. Enforcement stays local and exact; only budgets travel.
 */
#ifndef SLUICE_CLUSTER_BPF_H
#define SLUICE_CLUSTER_BPF_H

#include "maps.bpf.h"
#include "sluice_cluster.h"

/*
 * Per CPU, so counting a packet writes no cache line another CPU reads;
 * the daemon sums the CPUs. An evicted key only restarts its counts, which
 * the daemon notices as a count that went down.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, SL_CLUSTER_KEYS);
	__type(key, struct sl_key);
	__type(value, struct sl_clu_count);
} sl_clucnt SEC(".maps");

/*
 * Written only by the daemon, one whole value per update, and only read
 * here: a key without an entry spends the rule's own limits until the
 * daemon's next sync gives it its share.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_CLUSTER_KEYS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_key);
	__type(value, struct sl_clu_limits);
} sl_clulim SEC(".maps");

/* The daemon's view of the cluster, for `sluice status`; never read here. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_cluster_status);
} sl_clustat SEC(".maps");

static __always_inline const struct sl_clu_limits *
cluster_limits(const struct sl_rule *rule, const struct sl_key *key)
{
	if (!(rule->cluster & SL_CLUSTER_ON))
		return NULL;
	return bpf_map_lookup_elem(&sl_clulim, key);
}

/* Limit i of rule as this host spends it. */
static __always_inline const struct sl_limit *
local_limit(const struct sl_rule *rule, const struct sl_clu_limits *local, __u32 i)
{
	if (local && local->limits[i].kind == rule->limits[i].kind)
		return &local->limits[i];
	return &rule->limits[i];
}

/* Offered whatever the verdict, admitted if the rule's limits took it. */
static __always_inline void cluster_count(const struct sl_rule *rule,
					  const struct sl_key *key, __u32 len,
					  int admitted)
{
	static const struct sl_clu_count fresh;
	__u64 cost = rule->cluster & SL_CLUSTER_BYTES ? len : 1;
	struct sl_clu_count *c;

	if (!(rule->cluster & SL_CLUSTER_ON))
		return;
	c = bpf_map_lookup_elem(&sl_clucnt, key);
	if (!c) {
		bpf_map_update_elem(&sl_clucnt, key, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&sl_clucnt, key);
		if (!c)
			return;
	}
	c->offered += cost;
	if (admitted)
		c->admitted += cost;
}

#endif /* SLUICE_CLUSTER_BPF_H */
