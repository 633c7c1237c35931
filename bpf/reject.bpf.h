/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Answers built in place for action reject and sent back with XDP_TX: a TCP
 * RST for TCP, an ICMP or ICMPv6 "administratively prohibited" for the rest,
 * so a client over its limit fails at once instead of retrying into silence.
 * VLAN tags stay as they came; addresses, ports and MACs are swapped.
 */
#ifndef SLUICE_REJECT_BPF_H
#define SLUICE_REJECT_BPF_H

#include <linux/tcp.h>

#include "maps.bpf.h"
#include "parse.bpf.h"
#include "sluice_limiter.h"

/* linux/icmp.h drags in libc's socket headers, which a BPF target lacks. */
#define SL_ICMP_DEST_UNREACH	3
#define SL_ICMP_PKT_FILTERED	13	/* administratively prohibited */
#define SL_ICMPV6_DEST_UNREACH	1
#define SL_ICMPV6_ADM_PROHIBITED 1

#define SL_REPLY_TTL		64
#define SL_MAX_L2		(14 + 4 * SL_MAX_VLAN_TAGS)
#define SL_ICMP4_ROOM		(sizeof(struct iphdr) + 8)
#define SL_ICMP6_ROOM		(sizeof(struct ipv6hdr) + 8)
/* The quote of an IPv6 packet covers its extension headers up to the first
 * 8 bytes of L4, so the client's stack can find the socket; longer chains
 * are not answered. */
#define SL_MAX_QUOTE6		248

struct pseudo6 {
	__u8 saddr[16];
	__u8 daddr[16];
	__be32 len;
	__u8 zero[3];
	__u8 nexthdr;
};

struct pseudo4 {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

static __always_inline __u16 csum_fold(__s64 csum)
{
	__u32 sum = (__u32)csum;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * Ones' complement sum of len bytes (a multiple of 4, at most 256) of the
 * packet, word by word: each read is bounds-checked on its own, which the
 * verifier can follow where one check of a variable-length span is not.
 * Returns -1 if the span runs past the packet.
 */
static __always_inline __s64 csum_words(void *start, __u32 len, void *data_end,
					__s64 seed)
{
	__u64 sum = (__u32)seed;
	__u32 i;

	for (i = 0; i < 64; i++) {
		__u32 *word = start + i * 4;

		if (i * 4 >= len)
			break;
		if ((void *)(word + 1) > data_end)
			return -1;
		sum += *word;
	}
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return sum;
}

static __always_inline void swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

static __always_inline void ip4_header(struct iphdr *iph, const struct sl_pkt *pkt,
				       __u8 proto, __u16 tot_len)
{
	iph->version = 4;
	iph->ihl = 5;
	iph->tos = 0;
	iph->tot_len = bpf_htons(tot_len);
	iph->id = 0;
	iph->frag_off = 0;
	iph->ttl = SL_REPLY_TTL;
	iph->protocol = proto;
	iph->check = 0;
	__builtin_memcpy(&iph->saddr, pkt->daddr, 4);
	__builtin_memcpy(&iph->daddr, pkt->saddr, 4);
	iph->check = csum_fold(bpf_csum_diff(0, 0, (void *)iph, sizeof(*iph), 0));
}

static __always_inline void ip6_header(struct ipv6hdr *ip6h, const struct sl_pkt *pkt,
				       __u8 nexthdr, __u16 payload_len)
{
	*(__be32 *)ip6h = bpf_htonl(6 << 28);
	ip6h->payload_len = bpf_htons(payload_len);
	ip6h->nexthdr = nexthdr;
	ip6h->hop_limit = SL_REPLY_TTL;
	__builtin_memcpy(&ip6h->saddr, pkt->daddr, 16);
	__builtin_memcpy(&ip6h->daddr, pkt->saddr, 16);
}

/* Checksum seed of the pseudo header the L4 checksum covers. */
static __always_inline __s64 pseudo_sum(const struct sl_pkt *pkt, __u8 proto,
					__u32 len)
{
	if (pkt->family == SL_FAM_IP4) {
		struct pseudo4 ph = { .zero = 0, .proto = proto };

		__builtin_memcpy(&ph.saddr, pkt->daddr, 4);
		__builtin_memcpy(&ph.daddr, pkt->saddr, 4);
		ph.len = bpf_htons(len);
		return bpf_csum_diff(0, 0, (void *)&ph, sizeof(ph), 0);
	} else {
		struct pseudo6 ph = { .nexthdr = proto };

		__builtin_memcpy(ph.saddr, pkt->daddr, 16);
		__builtin_memcpy(ph.daddr, pkt->saddr, 16);
		ph.len = bpf_htonl(len);
		return bpf_csum_diff(0, 0, (void *)&ph, sizeof(ph), 0);
	}
}

/*
 * RST|ACK for a TCP segment: seq is what the peer acknowledged (0 for a
 * SYN), ack covers the segment, so the client's stack accepts it; a SYN
 * answered this way makes connect() fail with ECONNREFUSED.
 */
/* Global functions from here on: the verifier checks each once, not once
 * per path through the parser that leads to it. */
__noinline int reject_tcp(struct xdp_md *ctx, const struct sl_pkt *pkt,
			  __u32 old_len)
{
	void *data, *data_end;
	__u32 l3, ip_len, seg_len;
	struct tcphdr *tcp;
	__s64 sum;
	__u32 ack;
	void *l3h;

	if (!ctx || !pkt)
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	l3 = pkt->l3_off;
	if (l3 > SL_MAX_L2 || data + sizeof(struct ethhdr) > data_end)
		return XDP_DROP;
	ip_len = pkt->family == SL_FAM_IP4 ? sizeof(struct iphdr) :
					     sizeof(struct ipv6hdr);
	seg_len = pkt->l4_len - pkt->tcp_doff;
	ack = pkt->tcp_seq + seg_len +
	      !!(pkt->tcp_flags & SL_TCP_FLAG_SYN) +
	      !!(pkt->tcp_flags & SL_TCP_FLAG_FIN);

	l3h = data + l3;
	tcp = l3h + ip_len;
	if ((void *)(tcp + 1) > data_end)
		return XDP_DROP;
	swap_macs(data);
	if (pkt->family == SL_FAM_IP4) {
		if (l3h + sizeof(struct iphdr) > data_end)
			return XDP_DROP;
		ip4_header(l3h, pkt, IPPROTO_TCP, sizeof(struct iphdr) + sizeof(*tcp));
	} else {
		if (l3h + sizeof(struct ipv6hdr) > data_end)
			return XDP_DROP;
		ip6_header(l3h, pkt, IPPROTO_TCP, sizeof(*tcp));
	}

	__builtin_memset(tcp, 0, sizeof(*tcp));
	tcp->source = bpf_htons(pkt->dport);
	tcp->dest = bpf_htons(pkt->sport);
	tcp->seq = pkt->tcp_flags & SL_TCP_FLAG_ACK ? bpf_htonl(pkt->tcp_ack) : 0;
	tcp->ack_seq = bpf_htonl(ack);
	tcp->doff = sizeof(*tcp) / 4;
	tcp->rst = 1;
	tcp->ack = 1;
	sum = csum_words(tcp, sizeof(*tcp), data_end,
			 pseudo_sum(pkt, IPPROTO_TCP, sizeof(*tcp)));
	if (sum < 0)
		return XDP_DROP;
	tcp->check = csum_fold(sum);

	if (bpf_xdp_adjust_tail(ctx, (int)(l3 + ip_len + sizeof(*tcp)) - (int)old_len))
		return XDP_DROP;
	return XDP_TX;
}

/* Moves the Ethernet header and VLAN tags `room` bytes to the front. */
static __always_inline int move_l2(void *data, void *data_end, __u32 l3, __u32 room)
{
	if (data + room + SL_MAX_L2 > data_end)
		return -1;
	if (l3 == 14)
		__builtin_memcpy(data, data + room, 14);
	else if (l3 == 18)
		__builtin_memcpy(data, data + room, 18);
	else if (l3 == 22)
		__builtin_memcpy(data, data + room, 22);
	else
		return -1;
	swap_macs(data);
	return 0;
}

/*
 * ICMP "administratively prohibited" quoting the offending packet: room for
 * the new IP and ICMP headers is made in front of the original IP header,
 * which then stays where it is and becomes the quote.
 */
__noinline int reject_icmp(struct xdp_md *ctx, const struct sl_pkt *pkt,
			   __u32 old_len)
{
	void *data, *data_end, *l3h;
	__u32 l3, room, quote;
	__u8 *icmp;
	__s64 sum;
	int v4;

	if (!ctx || !pkt)
		return XDP_DROP;
	v4 = pkt->family == SL_FAM_IP4;
	l3 = pkt->l3_off;
	room = v4 ? SL_ICMP4_ROOM : SL_ICMP6_ROOM;
	quote = pkt->l4_off - pkt->l3_off + 8;

	if (l3 > SL_MAX_L2 || quote > SL_MAX_QUOTE6)
		return XDP_DROP;
	if (bpf_xdp_adjust_head(ctx, -(int)room))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (move_l2(data, data_end, l3, room))
		return XDP_DROP;

	/* The quote is the original packet's head, still in place. */
	l3h = data + l3;
	icmp = l3h + (v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr));
	if ((void *)(icmp + 8) > data_end)
		return XDP_DROP;
	if (v4) {
		if (l3h + sizeof(struct iphdr) > data_end)
			return XDP_DROP;
		ip4_header(l3h, pkt, IPPROTO_ICMP, room + quote);
		icmp[0] = SL_ICMP_DEST_UNREACH;
		icmp[1] = SL_ICMP_PKT_FILTERED;
		sum = 0;
	} else {
		if (l3h + sizeof(struct ipv6hdr) > data_end)
			return XDP_DROP;
		ip6_header(l3h, pkt, IPPROTO_ICMPV6, 8 + quote);
		icmp[0] = SL_ICMPV6_DEST_UNREACH;
		icmp[1] = SL_ICMPV6_ADM_PROHIBITED;
		sum = pseudo_sum(pkt, IPPROTO_ICMPV6, 8 + quote);
	}
	*(__u16 *)(icmp + 2) = 0;
	*(__u32 *)(icmp + 4) = 0;
	sum = csum_words(icmp, 8 + quote, data_end, sum);
	if (sum < 0)
		return XDP_DROP;
	*(__u16 *)(icmp + 2) = csum_fold(sum);

	if (bpf_xdp_adjust_tail(ctx, (int)(l3 + quote) - (int)old_len))
		return XDP_DROP;
	return XDP_TX;
}

int spend(__u64 *word, const struct sl_limit *lim, __u32 warm, __u64 now,
	  __u32 len);

/*
 * One interface-wide budget for answers: a spoofed flood must not turn the
 * gateway into a reflector. Past it, reject falls back to drop.
 */
static __always_inline int reject_budget(const struct sl_cfg *cfg, __u64 now)
{
	struct sl_limit lim = {
		.kind = SL_LIMIT_RATE,
		.unit = SL_UNIT_PACKETS,
		.rate.interval_fp = cfg->reject_interval_fp,
		.rate.tolerance_ns = cfg->reject_tolerance_ns,
	};
	__u32 zero = 0;
	__u64 *tat = bpf_map_lookup_elem(&sl_reject, &zero);

	return tat && spend(tat, &lim, SL_WARM_ONE, now, 1) > 0;
}

/*
 * What may be answered: never a RST (RFC 793), never an ICMP error with
 * another (RFC 1122), never a later fragment, a packet without 8 bytes of
 * L4 or one whose headers are too long to quote, which no answer could tie
 * to a socket.
 */
static __always_inline int answerable(const struct sl_pkt *pkt)
{
	if (pkt->later_fragment)
		return 0;
	if (pkt->proto == IPPROTO_TCP)
		return !(pkt->tcp_flags & SL_TCP_FLAG_RST);
	return pkt->proto != IPPROTO_ICMP && pkt->proto != IPPROTO_ICMPV6 &&
	       pkt->l4_len >= 8 &&
	       pkt->l4_off - pkt->l3_off + 8 <= SL_MAX_QUOTE6;
}

/* len: the frame's length as it came, before any change here. */
static __always_inline int reject(struct xdp_md *ctx, const struct sl_pkt *pkt,
				  const struct sl_cfg *cfg, __u64 now, __u32 len)
{
	/* Only an answer spends the budget. */
	if (!answerable(pkt))
		return XDP_DROP;
	if (!reject_budget(cfg, now)) {
		count(SL_CNT_REJECT_LIMITED, 0);
		return XDP_DROP;
	}
	if (pkt->proto == IPPROTO_TCP)
		return reject_tcp(ctx, pkt, len);
	return reject_icmp(ctx, pkt, len);
}

#endif /* SLUICE_REJECT_BPF_H */
