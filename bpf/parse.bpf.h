/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing for the XDP program. Every read is bounds-checked against
 * both data_end and the lengths the headers claim, so a frame that lies about
 * itself is reported as malformed instead of being read past its end.
 */
#ifndef SLUICE_PARSE_BPF_H
#define SLUICE_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sluice_abi.h"

#define SL_MAX_VLAN_TAGS	2
/* A chain longer than this is not one a real stack sends; it is malformed. */
#define SL_MAX_EXT_HDRS		8

#define SL_IP_MF		0x2000
#define SL_IP_OFFSET		0x1fff
#define SL_IP6_OFFSET		0xfff8
#define SL_TCP_FLAG_FIN		0x01
#define SL_TCP_FLAG_SYN		0x02
#define SL_TCP_FLAG_RST		0x04
#define SL_TCP_FLAG_ACK		0x10

enum sl_parse_result {
	SL_PARSE_IP = 0,
	SL_PARSE_NON_IP,
	SL_PARSE_MALFORMED,
};

struct sl_pkt {
	__u8 family;		/* enum sl_family */
	__u8 proto;		/* L4 protocol (last IPv6 next header) */
	__u8 has_ports;
	__u8 later_fragment;	/* no L4 header: matched by address and protocol */
	__u8 tcp_syn;		/* SYN without ACK: a new connection */
	__u8 tcp_flags;
	__u8 tcp_doff;		/* TCP header length in bytes */
	__u8 pad[3];
	__u16 dport;		/* host byte order */
	__u16 sport;
	__u16 l3_off;		/* where the IP header starts, after VLAN tags */
	__u16 l4_off;
	__u16 l4_len;		/* L4 header and payload, as the IP header says */
	__u32 tcp_seq;		/* host byte order */
	__u32 tcp_ack;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

/*
 * L4 header at data + off, with `avail` bytes left inside the IP packet.
 * Needs only the fields sluice matches on: ports and TCP flags.
 */
static __always_inline int parse_l4(void *data, void *data_end, __u32 off,
				    __u32 avail, struct sl_pkt *pkt)
{
	__u8 *l4 = data + (off & 0xffff);

	pkt->l4_off = off;
	pkt->l4_len = avail;
	switch (pkt->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		break;
	default:
		return SL_PARSE_IP;
	}
	/* Eight bytes cover the UDP header and the fixed part of ICMP. */
	if (avail < 8 || (void *)(l4 + 8) > data_end)
		return SL_PARSE_MALFORMED;

	if (pkt->proto == IPPROTO_TCP) {
		__u8 doff, flags;

		if (avail < 20 || (void *)(l4 + 20) > data_end)
			return SL_PARSE_MALFORMED;
		doff = (l4[12] >> 4) * 4;
		if (doff < 20 || doff > avail)
			return SL_PARSE_MALFORMED;
		flags = l4[13];
		pkt->tcp_doff = doff;
		pkt->tcp_flags = flags;
		pkt->tcp_syn = (flags & (SL_TCP_FLAG_SYN | SL_TCP_FLAG_ACK)) ==
			       SL_TCP_FLAG_SYN;
		pkt->tcp_seq = bpf_ntohl(*(__be32 *)(l4 + 4));
		pkt->tcp_ack = bpf_ntohl(*(__be32 *)(l4 + 8));
	}
	if (pkt->proto == IPPROTO_TCP || pkt->proto == IPPROTO_UDP) {
		pkt->sport = ((__u16)l4[0] << 8) | l4[1];
		pkt->dport = ((__u16)l4[2] << 8) | l4[3];
		pkt->has_ports = 1;
	}
	return SL_PARSE_IP;
}

static __always_inline int parse_ipv4(void *data, void *data_end, __u32 off,
				      struct sl_pkt *pkt)
{
	struct iphdr *iph = data + (off & 0xff);
	__u32 ihl, tot_len;
	__u16 frag;

	if ((void *)(iph + 1) > data_end)
		return SL_PARSE_MALFORMED;
	if (iph->version != 4)
		return SL_PARSE_MALFORMED;
	ihl = iph->ihl * 4;
	tot_len = bpf_ntohs(iph->tot_len);
	if (ihl < sizeof(*iph) || tot_len < ihl)
		return SL_PARSE_MALFORMED;
	/* Trailing Ethernet padding is fine; a packet longer than the frame is not. */
	if ((void *)iph + tot_len > data_end)
		return SL_PARSE_MALFORMED;

	pkt->family = SL_FAM_IP4;
	pkt->proto = iph->protocol;
	pkt->l3_off = off;
	__builtin_memcpy(pkt->saddr, &iph->saddr, 4);
	__builtin_memcpy(pkt->daddr, &iph->daddr, 4);

	frag = bpf_ntohs(iph->frag_off);
	if (frag & SL_IP_OFFSET) {
		pkt->later_fragment = 1;
		return SL_PARSE_IP;
	}
	return parse_l4(data, data_end, off + ihl, tot_len - ihl, pkt);
}

static __always_inline int parse_ipv6(void *data, void *data_end, __u32 off,
				      struct sl_pkt *pkt)
{
	struct ipv6hdr *ip6h = data + (off & 0xff);
	__u32 avail, hlen;
	__u8 nexthdr;
	int i;

	if ((void *)(ip6h + 1) > data_end)
		return SL_PARSE_MALFORMED;
	if (ip6h->version != 6)
		return SL_PARSE_MALFORMED;
	avail = bpf_ntohs(ip6h->payload_len);
	if ((void *)(ip6h + 1) + avail > data_end)
		return SL_PARSE_MALFORMED;

	pkt->family = SL_FAM_IP6;
	pkt->l3_off = off;
	__builtin_memcpy(pkt->saddr, &ip6h->saddr, 16);
	__builtin_memcpy(pkt->daddr, &ip6h->daddr, 16);
	nexthdr = ip6h->nexthdr;
	off += sizeof(*ip6h);

	/* One turn more than headers: the last may only find the L4 header. */
	for (i = 0; i <= SL_MAX_EXT_HDRS; i++) {
		__u8 *eh = data + (off & 0xffff);

		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
		case IPPROTO_FRAGMENT:
			if (i == SL_MAX_EXT_HDRS)
				return SL_PARSE_MALFORMED;
			break;
		default:
			pkt->proto = nexthdr;
			return parse_l4(data, data_end, off, avail, pkt);
		}
		if (avail < 8 || (void *)(eh + 8) > data_end)
			return SL_PARSE_MALFORMED;
		if (nexthdr == IPPROTO_FRAGMENT) {
			hlen = 8;
			if (((eh[2] << 8) | eh[3]) & SL_IP6_OFFSET) {
				pkt->proto = eh[0];
				pkt->later_fragment = 1;
				return SL_PARSE_IP;
			}
		} else if (nexthdr == IPPROTO_AH) {
			hlen = (eh[1] + 2) * 4;
		} else {
			hlen = (eh[1] + 1) * 8;
		}
		if (hlen > avail)
			return SL_PARSE_MALFORMED;
		nexthdr = eh[0];
		off += hlen;
		avail -= hlen;
	}
	return SL_PARSE_MALFORMED;
}

/* Works on any linear packet: an XDP frame or a TC skb's head. */
static __always_inline int sl_parse(void *data, void *data_end, struct sl_pkt *pkt)
{
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return SL_PARSE_MALFORMED;
	proto = eth->h_proto;

	for (i = 0; i < SL_MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag = data + off;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > data_end)
			return SL_PARSE_MALFORMED;
		proto = tag->proto;
		off += sizeof(*tag);
	}

	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(data, data_end, off, pkt);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(data, data_end, off, pkt);
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return SL_PARSE_MALFORMED;	/* a third tag: deeper than we look */
	return SL_PARSE_NON_IP;
}

#endif /* SLUICE_PARSE_BPF_H */
