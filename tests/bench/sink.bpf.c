// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bench's reference receivers: a bare XDP_DROP, and an XDP_PASS that
 * only counts. The counter has sluice's struct sl_counter layout so one
 * reader serves both.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

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

static __always_inline void count(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct sink_counter *c = bpf_map_lookup_elem(&sink_cnt, &zero);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
