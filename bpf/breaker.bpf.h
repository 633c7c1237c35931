/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Circuit breakers in the data path. XDP refuses a new connection to a
 * service whose breaker is open, and lets a budget of probe connections
 * through while it is half-open; TC egress, which sees the service's
 * replies leave toward the clients, counts the service's RSTs and HTTP 5xx
 * status lines and judges each probe by the first thing the service sends
 * on it. Every transition is the controller's decision.
 */
#ifndef SLUICE_BREAKER_BPF_H
#define SLUICE_BREAKER_BPF_H

#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sluice_breaker.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "conns.bpf.h"

/* Indexed by TCP port: the breaker's slot + 1, 0 for a port without one.
 * An array, so the per-packet question costs no hashing. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} sl_brkport SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_BREAKERS);
	__type(key, __u32);
	__type(value, struct sl_breaker);
} sl_brk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_BREAKERS);
	__type(key, __u32);
	__type(value, struct sl_breaker_counter);
} sl_brkcnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_BREAKERS * SL_MAX_PROBES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_flow_key);
	__type(value, struct sl_probe);
} sl_probes SEC(".maps");

enum sl_brk_verdict {
	SL_BRK_PASS = 0,	/* no breaker, or closed, or a known probe */
	SL_BRK_REFUSE = 1,
	SL_BRK_PROBE = 2,	/* a new probe: took one from the budget */
};

static __always_inline struct sl_breaker_counter *brk_counter(__u32 slot)
{
	return bpf_map_lookup_elem(&sl_brkcnt, &slot);
}

/*
 * A client's SYN to TCP port pkt->dport. A retransmitted SYN of a probe is
 * the same probe; a SYN that finds the budget spent is refused. The budget
 * may run below zero under refused SYNs: the controller sets it afresh on
 * every transition.
 */
__noinline int breaker_syn(const struct sl_pkt *pkt)
{
	struct sl_probe probe = {};
	struct sl_breaker_counter *c;
	struct sl_flow_key fk = {};
	struct sl_breaker *b;
	__u32 port, *slot;
	long err;

	if (!pkt)
		return SL_BRK_PASS;
	port = pkt->dport;
	slot = bpf_map_lookup_elem(&sl_brkport, &port);
	if (!slot || !*slot)
		return SL_BRK_PASS;
	probe.slot = *slot - 1;
	b = bpf_map_lookup_elem(&sl_brk, &probe.slot);
	if (!b || b->state == SL_BRK_CLOSED)
		return SL_BRK_PASS;
	if (b->state == SL_BRK_HALF_OPEN) {
		flow_key(pkt, 0, &fk);
		if (bpf_map_lookup_elem(&sl_probes, &fk))
			return SL_BRK_PASS;
		if (__sync_fetch_and_add(&b->probes, -1) > 0) {
			probe.admitted_ns = sl_now();
			err = bpf_map_update_elem(&sl_probes, &fk, &probe, BPF_NOEXIST);
			if (!err)
				return SL_BRK_PROBE;
			/* Not a probe after all: the same SYN on another CPU
			 * won the insert, or there is no room to judge it. */
			__sync_fetch_and_add(&b->probes, 1);
			if (err == -EEXIST)
				return SL_BRK_PASS;
		}
	}
	c = brk_counter(probe.slot);
	if (c)
		c->refused++;
	return SL_BRK_REFUSE;
}

/* A probe whose SYN a rule then refused never reaches the service: it is
 * no probe, and its place in the budget is given back. */
__noinline int breaker_unprobe(const struct sl_pkt *pkt)
{
	struct sl_flow_key fk = {};
	struct sl_breaker *b;
	struct sl_probe *p;
	__u32 slot;

	if (!pkt)
		return 0;
	flow_key(pkt, 0, &fk);
	p = bpf_map_lookup_elem(&sl_probes, &fk);
	if (!p)
		return 0;
	slot = p->slot;
	if (bpf_map_delete_elem(&sl_probes, &fk))
		return 0;
	b = bpf_map_lookup_elem(&sl_brk, &slot);
	if (b && b->state == SL_BRK_HALF_OPEN)
		__sync_fetch_and_add(&b->probes, 1);
	return 1;
}

/* What breaker_watch needs of a reply, read with bpf_skb_load_bytes. */
struct brk_reply {
	struct sl_flow_key fk;	/* the connection as its client sees it */
	__u32 tcp_off;
	__u32 l4_len;		/* TCP header and payload */
	__u16 sport;
	__u8 flags;
	__u8 doff;
};

static __always_inline int reply_ip4(struct __sk_buff *skb, __u32 off,
				     struct brk_reply *r)
{
	struct iphdr iph;
	__u32 ihl, len;

	if (bpf_skb_load_bytes(skb, off, &iph, sizeof(iph)))
		return -1;
	ihl = iph.ihl * 4;
	if (iph.version != 4 || ihl < sizeof(iph) || iph.protocol != IPPROTO_TCP ||
	    bpf_ntohs(iph.frag_off) & SL_IP_OFFSET)
		return -1;
	len = bpf_ntohs(iph.tot_len);
	/* BIG TCP leaves tot_len 0 on a GSO packet over 64 KB. */
	if (!len && skb->len > off)
		len = skb->len - off;
	if (len < ihl)
		return -1;
	r->fk.family = SL_FAM_IP4;
	__builtin_memcpy(r->fk.saddr, &iph.daddr, 4);
	__builtin_memcpy(r->fk.daddr, &iph.saddr, 4);
	r->tcp_off = off + ihl;
	r->l4_len = len - ihl;
	return 0;
}

/* A service's reply carries no extension headers in practice; one that
 * does is not inspected. */
static __always_inline int reply_ip6(struct __sk_buff *skb, __u32 off,
				     struct brk_reply *r)
{
	struct ipv6hdr ip6h;

	if (bpf_skb_load_bytes(skb, off, &ip6h, sizeof(ip6h)))
		return -1;
	if (ip6h.version != 6 || ip6h.nexthdr != IPPROTO_TCP)
		return -1;
	r->fk.family = SL_FAM_IP6;
	__builtin_memcpy(r->fk.saddr, &ip6h.daddr, 16);
	__builtin_memcpy(r->fk.daddr, &ip6h.saddr, 16);
	r->tcp_off = off + sizeof(ip6h);
	r->l4_len = bpf_ntohs(ip6h.payload_len);
	if (!r->l4_len && skb->len > r->tcp_off)
		r->l4_len = skb->len - r->tcp_off;
	return 0;
}

/*
 * The TCP segment of an skb leaving toward a client. Read with
 * bpf_skb_load_bytes, not packet pointers: a reply's payload usually sits
 * in page fragments past the linear head, where the status line is.
 */
static __always_inline int parse_reply(struct __sk_buff *skb, struct brk_reply *r)
{
	struct tcphdr tcp;
	struct vlan_tag tag;
	__u32 off = sizeof(struct ethhdr), i;
	__be16 proto;

	if (bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_proto), &proto,
			       sizeof(proto)))
		return -1;
	for (i = 0; i < SL_MAX_VLAN_TAGS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, off, &tag, sizeof(tag)))
			return -1;
		proto = tag.proto;
		off += sizeof(tag);
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		if (reply_ip4(skb, off, r))
			return -1;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (reply_ip6(skb, off, r))
			return -1;
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(skb, r->tcp_off, &tcp, sizeof(tcp)))
		return -1;
	r->doff = tcp.doff * 4;
	if (r->doff < sizeof(tcp) || r->doff > r->l4_len)
		return -1;
	r->flags = ((__u8 *)&tcp)[13];
	r->sport = bpf_ntohs(tcp.source);
	r->fk.sport = tcp.dest;
	r->fk.dport = tcp.source;
	return 0;
}

/*
 * The probe this reply belongs to gets its verdict: failed on the
 * service's RST, on a FIN before any data, or on data that starts with an
 * HTTP 5xx status line; succeeded on any other data. Packets without data,
 * flags aside (the SYN-ACK, pure ACKs), decide nothing.
 */
static __always_inline void judge_probe(const struct brk_reply *r, __u32 payload,
					__u32 status, struct sl_breaker_counter *c)
{
	int failed;

	if (r->flags & SL_TCP_FLAG_RST)
		failed = 1;
	else if (payload)
		failed = status >= 500;
	else if (r->flags & SL_TCP_FLAG_FIN)
		failed = 1;
	else
		return;
	if (bpf_map_delete_elem(&sl_probes, &r->fk))
		return;		/* not a probe, or judged already */
	if (failed)
		c->probes_failed++;
	else
		c->probes_ok++;
}

/*
 * Every segment a service with a breaker sends toward a client: its RSTs
 * and the HTTP/1.x status lines that start a segment's payload are counted
 * per breaker (a status line split across segments, or one past the start
 * of a segment, is not seen). A global function: the verifier checks it
 * once, apart from the conns path.
 */
__noinline int breaker_watch(struct __sk_buff *skb)
{
	__u8 line[SL_HTTP_STATUS_LEN];
	struct sl_breaker_counter *c;
	struct brk_reply r = {};
	struct sl_breaker *b;
	__u32 port, payload, status = 0, slot, *p;

	if (!skb || parse_reply(skb, &r))
		return 0;
	port = r.sport;
	p = bpf_map_lookup_elem(&sl_brkport, &port);
	if (!p || !*p)
		return 0;
	slot = *p - 1;
	b = bpf_map_lookup_elem(&sl_brk, &slot);
	c = brk_counter(slot);
	if (!b || !c)
		return 0;
	payload = r.l4_len - r.doff;
	if (payload >= SL_HTTP_STATUS_LEN &&
	    !bpf_skb_load_bytes(skb, r.tcp_off + r.doff, line, sizeof(line))) {
		status = sl_http_status(line);
		if (status)
			c->responses++;
		if (status >= 500)
			c->http_5xx++;
	}
	if (r.flags & SL_TCP_FLAG_RST)
		c->rsts++;
	if (b->state == SL_BRK_HALF_OPEN)
		judge_probe(&r, payload, status, c);
	return 0;
}

#endif /* SLUICE_BREAKER_BPF_H */
