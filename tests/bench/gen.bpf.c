// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bench's traffic generator: run with BPF_PROG_TEST_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES on the client end of a veth pair, it rewrites
 * the source address of the one 60-byte UDP frame it was given and returns
 * XDP_TX, so every repetition is a real frame through the veth to the peer.
 *
 * Live frames initialise a page once and then hand the program whatever it
 * left there, so each run rewrites every field that varies and fixes the IP
 * checksum itself.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Set before load by the bench tool. */
const volatile __u32 n_sources = 1;	/* 0: every frame a new random source */
const volatile __u32 src_base = 0;	/* host byte order */
const volatile __u32 legit_every = 0;	/* every Nth frame is the legit client's */
const volatile __u32 legit_src = 0;
const volatile __u16 legit_dport = 0;
const volatile __u16 flood_dport = 9;
/* Stamp the time of every 64th frame: when the flood really started and
 * ended, on the clock the limiter reads, to within 64 frames. */
const volatile __u8 stamp = 0;

struct gen_span {
	__u64 first_ns;
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gen_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_span);
} gen_span SEC(".maps");

static __always_inline __u16 ip_csum(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		if (i != 5)
			sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

SEC("xdp")
int gen_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *udp = (void *)(iph + 1);
	__u32 zero = 0, src;
	__u16 dport = flood_dport;
	__u64 *seq, n;

	if ((void *)(udp + 1) > data_end)
		return XDP_ABORTED;
	seq = bpf_map_lookup_elem(&gen_seq, &zero);
	if (!seq)
		return XDP_ABORTED;
	n = (*seq)++;
	if (stamp && !(n & 63)) {
		struct gen_span *sp = bpf_map_lookup_elem(&gen_span, &zero);

		if (sp) {
			sp->last_ns = bpf_ktime_get_ns();
			if (!sp->first_ns)
				sp->first_ns = sp->last_ns;
		}
	}

	if (legit_every && n % legit_every == 0) {
		src = legit_src;
		dport = legit_dport;
	} else if (n_sources == 0) {
		src = bpf_get_prandom_u32();
	} else if (n_sources == 1) {
		src = src_base;
	} else {
		src = src_base + (__u32)(n % n_sources);
	}
	iph->saddr = bpf_htonl(src);
	udp->dest = bpf_htons(dport);
	iph->check = ip_csum(iph);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
