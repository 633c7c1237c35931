// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bench's reference receivers: a bare XDP_DROP, an XDP_PASS that only
 * counts, and two floors that keep the least per-source state there is
 * before dropping. The counter has sluice's struct sl_counter layout so one
 * reader serves all of them.
 *
 * The floors bound what a per-source limiter can reach on the machine the
 * bench runs on, as rates over a bare XDP_DROP's:
 *   sink_array: one atomic add to an 8-byte slot of a direct-mapped array
 *               of 1M slots, chosen by a hash of the source; no key stored
 *               or compared, sources share slots. The least any design that
 *               keeps state for each of up to a million sources does per
 *               frame (a count-min sketch that size does several of these).
 *   sink_hash:  one lookup of the exact source in a preallocated hash map
 *               of 1M entries, an insert when it misses, an atomic add when
 *               it hits: the least an exact limiter that reaches its state
 *               through a BPF hash map does, unless a small cache in front
 *               answers (sluice's remembered refusals, for a few sources).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define FLOOR_SLOT_BITS	20

struct sink_counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sink_counter);
} sink_cnt SEC(".maps");

/* As large as the bench's sluice key map (keys 1M): a million sources fit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << FLOOR_SLOT_BITS);
	__type(key, __u32);
	__type(value, __u64);
} sink_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << FLOOR_SLOT_BITS);
	__type(key, __u32);
	__type(value, __u64);
} sink_slot SEC(".maps");

static __always_inline void count(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct sink_counter *c = bpf_map_lookup_elem(&sink_cnt, &zero);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
}

/* 0 and the IPv4 source address, or -1 for a frame that is not IPv4. */
static __always_inline int ipv4_source(struct xdp_md *ctx, __u32 *saddr)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	*saddr = ip->saddr;
	return 0;
}

SEC("xdp")
int sink_drop(struct xdp_md *ctx)
{
	count(ctx);
	return XDP_DROP;
}

SEC("xdp")
int sink_pass(struct xdp_md *ctx)
{
	count(ctx);
	return XDP_PASS;
}

SEC("xdp")
int sink_hash(struct xdp_md *ctx)
{
	__u64 first = 1, *seen;
	__u32 src;

	count(ctx);
	if (ipv4_source(ctx, &src))
		return XDP_DROP;
	seen = bpf_map_lookup_elem(&sink_src, &src);
	if (seen) {
		__sync_fetch_and_add(seen, 1);
		return XDP_DROP;
	}
	/*
	 * A new source is inserted, as a limiter must to know it next time;
	 * once the map is full (a spoofed flood) the insert fails and the
	 * frame still pays for trying, like sluice's key map refusing new keys.
	 */
	bpf_map_update_elem(&sink_src, &src, &first, BPF_NOEXIST);
	return XDP_DROP;
}

SEC("xdp")
int sink_array(struct xdp_md *ctx)
{
	__u64 *slot;
	__u32 src, i;

	count(ctx);
	if (ipv4_source(ctx, &src))
		return XDP_DROP;
	/* Fibonacci hashing: the top bits of the product spread any run of addresses. */
	i = (src * 0x9e3779b1u) >> (32 - FLOOR_SLOT_BITS);
	slot = bpf_map_lookup_elem(&sink_slot, &i);
	if (slot)
		__sync_fetch_and_add(slot, 1);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
