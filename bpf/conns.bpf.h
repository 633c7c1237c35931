/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Concurrent-connection bookkeeping. A connection is counted when its SYN is
 * admitted and given back by whoever deletes its flow entry: map deletion
 * succeeds for exactly one caller, so a slot is returned exactly once even
 * when the client's FIN, the server's RST and the sweep race each other.
 */
#ifndef SLUICE_CONNS_BPF_H
#define SLUICE_CONNS_BPF_H

#include "maps.bpf.h"
#include "parse.bpf.h"

/* The flow as the client sees it; `reply` for a packet from the server. */
static __always_inline void flow_key(const struct sl_pkt *pkt, int reply,
				     struct sl_flow_key *k)
{
	k->family = pkt->family;
	if (reply) {
		k->sport = bpf_htons(pkt->dport);
		k->dport = bpf_htons(pkt->sport);
		__builtin_memcpy(k->saddr, pkt->daddr, 16);
		__builtin_memcpy(k->daddr, pkt->saddr, 16);
	} else {
		k->sport = bpf_htons(pkt->sport);
		k->dport = bpf_htons(pkt->dport);
		__builtin_memcpy(k->saddr, pkt->saddr, 16);
		__builtin_memcpy(k->daddr, pkt->daddr, 16);
	}
}

static __always_inline void conn_add(const struct sl_key *key, __s64 delta)
{
	__s64 *cnt = bpf_map_lookup_elem(&sl_conns, key);

	if (cnt)
		__sync_fetch_and_add(cnt, delta);
}

static __always_inline void release_keys(const struct sl_flow *f)
{
	__u32 i;

	for (i = 0; i < SL_FLOW_RULES; i++) {
		if (i >= f->n_keys)
			break;
		conn_add(&f->keys[i], -1);
	}
}

/* Returns 1 if this caller deleted the flow and gave its slots back. */
static __always_inline int flow_release(const struct sl_flow_key *k)
{
	struct sl_flow *f = bpf_map_lookup_elem(&sl_flows, k);
	struct sl_flow copy;

	if (!f)
		return 0;
	/* A deleted preallocated entry may be reused at once: copy first. */
	__builtin_memcpy(&copy, f, sizeof(copy));
	if (bpf_map_delete_elem(&sl_flows, k))
		return 0;
	release_keys(&copy);
	return 1;
}

/*
 * A packet of a tracked flow: the client's ACK completes the handshake, and
 * the idle clock restarts, at most every SL_FLOW_REFRESH_NS.
 */
static __always_inline void flow_touch(struct sl_flow *f, __u64 now, int ack)
{
	if (ack && f->state == SL_FLOW_SYN)
		f->state = SL_FLOW_ESTABLISHED;
	if (now - f->last_seen_ns > SL_FLOW_REFRESH_NS)
		f->last_seen_ns = now;
}

/*
 * Charges one connection to key and returns the count including it. The
 * add comes before the comparison, so two CPUs cannot both take the last
 * slot. -1 if the count cannot be tracked (the map is full).
 */
static __always_inline __s64 conn_reserve(const struct sl_key *key)
{
	static const __s64 zero;
	__s64 *cnt = bpf_map_lookup_elem(&sl_conns, key);

	if (!cnt) {
		bpf_map_update_elem(&sl_conns, key, &zero, BPF_NOEXIST);
		cnt = bpf_map_lookup_elem(&sl_conns, key);
		if (!cnt)
			return -1;
	}
	return __sync_fetch_and_add(cnt, 1) + 1;
}

#endif /* SLUICE_CONNS_BPF_H */
