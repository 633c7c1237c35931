// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet fuzzing against an independent oracle.
 *
 * Random and mutated frames go through the real XDP object with
 * BPF_PROG_TEST_RUN, and every verdict is checked against a reference
 * classifier (oracle_classify below) written from RFC 791 (IPv4), RFC 8200
 * (IPv6 and its extension headers), RFC 4302 (AH), RFC 793 (TCP), RFC 768
 * (UDP), RFC 792/4443 (ICMP, ICMPv6), IEEE 802.1Q/802.1ad and the rules the
 * README documents ("Header games"):
 *
 *   - up to two VLAN tags (TPID 0x8100 or 0x88a8); a third is malformed;
 *   - IPv4 with options; IPv6 with up to 8 extension headers (hop-by-hop,
 *     routing, fragment, destination options, AH); a ninth is malformed;
 *   - every length a header claims must fit the frame (and the IP packet);
 *   - later fragments carry no ports and are never malformed for that;
 *   - non-IP frames pass, counted as non_ip; malformed frames go through
 *     the `malformed` policy, counted, and never reach the rules.
 *
 * It was written without reading bpf/: where it and the BPF parser disagree,
 * one of them is wrong, and the report says which frame and how.
 *
 * Two instances of the program are loaded side by side with the same
 * generous rule set (a budget nobody can exhaust, since the test clock moves
 * one second per frame), one with `malformed pass`, one with `malformed
 * drop`. Every frame goes through both:
 *
 *   pass instance: the verdict is always XDP_PASS;
 *   drop instance: XDP_DROP exactly when the oracle says malformed;
 *   both: the frame comes back unchanged; over each chunk of frames the
 *     global counters, packets and bytes (rx, non_ip, passed, dropped,
 *     malformed, and every limiting reason at zero) and each rule's
 *     matched/passed/dropped/limited/bytes move exactly as the oracle
 *     predicts: the rules (fuzz_rules[]) match on family, protocol, port
 *     ranges, SYN and source prefixes, so a field the parser misreads shows.
 *     A chunk that does not add up is replayed frame by frame to name the
 *     frame.
 *
 * Where the README leaves a verdict open (listed in amb_names[]), the oracle
 * accepts either, takes the kernel's choice from the drop instance so the
 * counters must still add up exactly, and reports how the kernel decided.
 *
 * Usage: pktfuzz [--frames N] [--seed S] [--max-report N] [--verbose] [--examples]
 *        pktfuzz --hex HEX...     one frame each: both verdicts, explained
 * --verbose adds why frames were malformed and how often each rule matched;
 * --examples prints the first frame of each question the README leaves open.
 * Exit: 0 no disagreement, 1 disagreements (each printed with its frame in
 * hex), 2 usage or setup error. Run as root.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "config.h"
#include "ruleset.h"
#include "sluice.skel.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NS_PER_S	1000000000ull

/*
 * The longest frame BPF_PROG_TEST_RUN hands an XDP program in one piece: a
 * 4 KiB page minus XDP_PACKET_HEADROOM (256) and skb_shared_info (320).
 * Longer input is split into fragments even for a program that is not
 * xdp.frags, and the program then sees only this much of the frame, so it
 * cannot stand for a real (linear) frame.
 */
#define FRAME_MAX	3520
#define FRAME_MIN	14	/* the kernel refuses less than an Ethernet header */
#define CHUNK		512	/* frames between counter checks */

#define XDP_DROP_	1
#define XDP_PASS_	2

#define ETH_P_IP_	0x0800
#define ETH_P_ARP_	0x0806
#define ETH_P_IPV6_	0x86dd
#define ETH_P_8021Q_	0x8100
#define ETH_P_8021AD_	0x88a8
#define ETH_P_LLDP_	0x88cc
#define ETH_P_QINQ1_	0x9100	/* the old pre-802.1ad QinQ TPID: not a VLAN to sluice */

#define P_HOPOPTS	0
#define P_ICMP		1
#define P_TCP		6
#define P_UDP		17
#define P_ROUTING	43
#define P_FRAGMENT	44
#define P_GRE		47
#define P_ESP		50
#define P_AH		51
#define P_ICMPV6	58
#define P_NONE		59
#define P_DSTOPTS	60
#define P_SCTP		132
#define P_MOBILITY	135

#define TH_SYN		0x02
#define TH_ACK		0x10

/* README: "IPv6 with up to 8 extension headers". */
#define MAX_EXT_HDRS	8
#define MAX_VLAN_TAGS	2

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* ======================================================================== */
/* The oracle                                                               */
/* ======================================================================== */

enum frame_class {
	CLS_NON_IP,
	CLS_IP,		/* well-formed IPv4 or IPv6: classified by the rules */
	CLS_MALFORMED,
};

static const char *const class_names[] = {
	[CLS_NON_IP] = "non-IP", [CLS_IP] = "IP", [CLS_MALFORMED] = "malformed",
};

/*
 * Frames whose verdict the README does not settle. For each, the oracle's
 * reading is "well-formed" (the length it must check fits, nothing it needs
 * is missing); the other defensible reading is "malformed". The kernel may
 * choose either; the run reports which it chose.
 */
enum ambiguity {
	/* UDP length < 8 or more than the IP payload holds. README: "every
	 * length a header claims is checked against the frame"; but sluice
	 * needs only the ports, and RFC 768 gives receivers no rule. */
	AMB_UDP_LEN,
	/* ICMP (1) or ICMPv6 (58) with fewer than 8 bytes after the IP
	 * headers (RFC 792/4443: every message has type, code, checksum and
	 * a 4-byte field). The README says the parser "reads" ICMP but no
	 * rule uses anything in it. _LT4: not even type/code/checksum. */
	AMB_ICMP_LT4,
	AMB_ICMP_LT8,
	/* An IPv4 option, TCP option, or IPv6 hop-by-hop/destination option
	 * whose own length byte is < 2 or runs past its header (RFC 791,
	 * 793, 8200 4.2). The header's length is fine; the option's is not. */
	AMB_IP4_OPT,
	AMB_TCP_OPT,
	AMB_IP6_OPT,
	/* A hop-by-hop header anywhere but right after the IPv6 header
	 * (RFC 8200 4.1 forbids it; the README only lists the type). */
	AMB_HBH_NOT_FIRST,
	AMB_MAX,
};

static const char *const amb_names[AMB_MAX] = {
	[AMB_UDP_LEN] = "UDP length field < 8 or beyond the IP payload",
	[AMB_ICMP_LT4] = "ICMP/ICMPv6 with < 4 bytes of header",
	[AMB_ICMP_LT8] = "ICMP/ICMPv6 with 4..7 bytes of header",
	[AMB_IP4_OPT] = "IPv4 option with a bad option length",
	[AMB_TCP_OPT] = "TCP option with a bad option length",
	[AMB_IP6_OPT] = "IPv6 HBH/DST option TLV with a bad length",
	[AMB_HBH_NOT_FIRST] = "IPv6 hop-by-hop header not first",
};

struct verdict {
	enum frame_class cls;
	const char *why;	/* malformed: what could not be read */
	unsigned amb;		/* 1 << AMB_*: the kernel may say malformed too */
	uint8_t vlans;
	uint8_t family;		/* 4 or 6 */
	uint8_t proto;		/* upper-layer protocol (IPv6: after the chain) */
	bool later;		/* a later fragment: no L4 header, no ports */
	bool ports;		/* dport below is read */
	uint16_t dport;
	bool syn;		/* TCP SYN without ACK */
	uint8_t n_ext;
	uint8_t src[16];	/* IPv4 in the first 4 bytes */
	size_t hdr_end;		/* IP: frame offset where the last header read ends */
};

static void malformed(struct verdict *v, const char *why)
{
	v->cls = CLS_MALFORMED;
	v->why = why;
}

#define BAD(v, why)	do { malformed((v), (why)); return; } while (0)

/* RFC 791 3.1 / RFC 793: kind 0 ends the list, kind 1 is one byte, every
 * other option is kind, length (>= 2, counting both), data. */
static bool options_ok(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (p[i] == 0)
			return true;
		if (p[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || p[i + 1] < 2 || i + p[i + 1] > len)
			return false;
		i += p[i + 1];
	}
	return true;
}

/* RFC 8200 4.2: Pad1 (type 0) is one byte, every other option TLV is
 * type, length of data, data; the options fill the header exactly. */
static bool tlv_options_ok(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (p[i] == 0) {
			i++;
			continue;
		}
		if (i + 1 >= len || i + 2 + p[i + 1] > len)
			return false;
		i += 2 + p[i + 1];
	}
	return true;
}

/* The transport header at p, len bytes of IP payload left for it. */
static void l4_classify(const uint8_t *p, size_t len, struct verdict *v)
{
	switch (v->proto) {
	case P_TCP: {
		size_t doff;

		if (len < 20)
			BAD(v, "TCP header cut by the IP length");
		doff = (p[12] >> 4) * 4u;
		if (doff < 20)
			BAD(v, "TCP data offset < 5");
		if (doff > len)
			BAD(v, "TCP data offset beyond the IP payload");
		if (!options_ok(p + 20, doff - 20))
			v->amb |= 1u << AMB_TCP_OPT;
		v->ports = true;
		v->dport = get16(p + 2);
		v->syn = (p[13] & TH_SYN) && !(p[13] & TH_ACK);
		v->hdr_end += doff;
		return;
	}
	case P_UDP: {
		uint16_t ulen;

		if (len < 8)
			BAD(v, "UDP header cut by the IP length");
		ulen = get16(p + 4);
		if (ulen < 8 || ulen > len)
			v->amb |= 1u << AMB_UDP_LEN;
		v->ports = true;
		v->dport = get16(p + 2);
		v->hdr_end += 8;
		return;
	}
	case P_ICMP:
	case P_ICMPV6:
		if (len < 4)
			v->amb |= 1u << AMB_ICMP_LT4;
		else if (len < 8)
			v->amb |= 1u << AMB_ICMP_LT8;
		return;
	}
}

/* RFC 791. p: the IPv4 header, avail: bytes from it to the frame's end. */
static void ip4_classify(const uint8_t *p, size_t avail, struct verdict *v)
{
	size_t hlen, tot;

	v->family = 4;
	if (avail < 20)
		BAD(v, "IPv4 header cut by the frame");
	if (p[0] >> 4 != 4)
		BAD(v, "IPv4 ethertype, version not 4");
	hlen = (p[0] & 0x0f) * 4u;
	if (hlen < 20)
		BAD(v, "IPv4 IHL < 5");
	if (hlen > avail)
		BAD(v, "IPv4 options cut by the frame");
	tot = get16(p + 2);
	if (tot < hlen)
		BAD(v, "IPv4 total length < IHL");
	if (tot > avail)
		BAD(v, "IPv4 total length beyond the frame");
	if (!options_ok(p + 20, hlen - 20))
		v->amb |= 1u << AMB_IP4_OPT;
	v->proto = p[9];
	memcpy(v->src, p + 12, 4);
	v->cls = CLS_IP;
	v->hdr_end = hlen;
	/* Fragment offset != 0: a later fragment, whatever it holds. */
	if (get16(p + 6) & 0x1fff) {
		v->later = true;
		return;
	}
	l4_classify(p + hlen, tot - hlen, v);
}

static bool ip6_ext_type(uint8_t nh)
{
	return nh == P_HOPOPTS || nh == P_ROUTING || nh == P_FRAGMENT ||
	       nh == P_DSTOPTS || nh == P_AH;
}

/* RFC 8200, RFC 4302. p: the IPv6 header, avail: bytes to the frame's end. */
static void ip6_classify(const uint8_t *p, size_t avail, struct verdict *v)
{
	size_t end, off = 40;
	uint8_t nh;

	v->family = 6;
	if (avail < 40)
		BAD(v, "IPv6 header cut by the frame");
	if (p[0] >> 4 != 6)
		BAD(v, "IPv6 ethertype, version not 6");
	end = 40 + (size_t)get16(p + 4);
	if (end > avail)
		BAD(v, "IPv6 payload length beyond the frame");
	memcpy(v->src, p + 8, 16);
	nh = p[6];
	while (ip6_ext_type(nh)) {
		size_t hlen;

		if (v->n_ext == MAX_EXT_HDRS)
			BAD(v, "more than 8 IPv6 extension headers");
		if (nh == P_HOPOPTS && v->n_ext)
			v->amb |= 1u << AMB_HBH_NOT_FIRST;
		v->n_ext++;
		if (off + 2 > end)
			BAD(v, "IPv6 extension header cut by the payload length");
		if (nh == P_FRAGMENT)
			hlen = 8;
		else if (nh == P_AH)
			hlen = (p[off + 1] + 2) * 4u;	/* RFC 4302 2.2: 32-bit words - 2 */
		else
			hlen = (p[off + 1] + 1) * 8u;	/* 8-octet units, not counting the first */
		if (off + hlen > end)
			BAD(v, "IPv6 extension header beyond the payload length");
		if ((nh == P_HOPOPTS || nh == P_DSTOPTS) &&
		    !tlv_options_ok(p + off + 2, hlen - 2))
			v->amb |= 1u << AMB_IP6_OPT;
		if (nh == P_FRAGMENT && get16(p + off + 2) >> 3) {
			/* A later fragment: what follows is the middle of
			 * the original payload, its protocol is the fragment
			 * header's next header, and it has no ports. */
			v->proto = p[off];
			v->later = true;
			v->cls = CLS_IP;
			v->hdr_end = off + 8;
			return;
		}
		nh = p[off];
		off += hlen;
	}
	v->proto = nh;
	v->cls = CLS_IP;
	v->hdr_end = off;
	l4_classify(p + off, end - off, v);
}

static void oracle_classify(const uint8_t *b, size_t len, struct verdict *v)
{
	size_t off = 14;
	uint16_t type;

	memset(v, 0, sizeof(*v));
	if (len < 14)
		BAD(v, "shorter than an Ethernet header");
	type = get16(b + 12);
	while (type == ETH_P_8021Q_ || type == ETH_P_8021AD_) {
		if (v->vlans == MAX_VLAN_TAGS)
			BAD(v, "third VLAN tag");
		if (off + 4 > len)
			BAD(v, "VLAN tag cut by the frame");
		type = get16(b + off + 2);
		off += 4;
		v->vlans++;
	}
	if (type == ETH_P_IP_)
		ip4_classify(b + off, len - off, v);
	else if (type == ETH_P_IPV6_)
		ip6_classify(b + off, len - off, v);
	else
		v->cls = CLS_NON_IP;
	v->hdr_end += off;
	/* A frame malformed for a reason the README settles is malformed
	 * under every reading: nothing is left open. */
	if (v->cls == CLS_MALFORMED)
		v->amb = 0;
}

/* ======================================================================== */
/* The rule set, and which rules the oracle says a frame matches            */
/* ======================================================================== */

/* A budget nobody exhausts: the clock moves 1 s per frame, a frame costs 1 ms. */
#define GENEROUS "key global rate 1000/s burst 1000 action drop"

struct fuzz_rule {
	const char *name;
	const char *clauses;
	bool (*match)(const struct verdict *v);
};

/* The rules' CIDRs, parsed once each: the texts are literals, so their
 * addresses tell them apart. */
static const struct sl_cidr *cidr_of(const char *text)
{
	static struct { const char *text; struct sl_cidr c; } cache[16];
	static unsigned n;
	unsigned i;

	for (i = 0; i < n; i++)
		if (cache[i].text == text)
			return &cache[i].c;
	if (n == ARRAY_SIZE(cache) || config_parse_cidr(text, &cache[n].c)) {
		fprintf(stderr, "pktfuzz: bad or too many CIDRs: %s\n", text);
		exit(2);
	}
	cache[n].text = text;
	return &cache[n++].c;
}

/* The oracle's own prefix match: bytes and a mask, nothing from sluice. */
static bool in_prefix(const uint8_t *addr, const char *text)
{
	const struct sl_cidr *c = cidr_of(text);
	unsigned i, bits;

	for (i = 0, bits = c->prefixlen; bits; i++) {
		unsigned n = bits < 8 ? bits : 8;
		uint8_t mask = (uint8_t)(0xff00 >> n);

		if ((addr[i] & mask) != (c->addr[i] & mask))
			return false;
		bits -= n;
	}
	return true;
}

/* README: a later fragment matches by family, protocol and source, ignoring
 * dport; it never matches a `syn` rule. `dport` without `proto` means TCP
 * and UDP. */
static bool dport_in(const struct verdict *v, uint16_t lo, uint16_t hi)
{
	return v->later || (v->ports && v->dport >= lo && v->dport <= hi);
}

static bool m_all(const struct verdict *v) { return true; }
static bool m_ip4(const struct verdict *v) { return v->family == 4; }
static bool m_ip6(const struct verdict *v) { return v->family == 6; }
static bool m_tcp(const struct verdict *v) { return v->proto == P_TCP; }
static bool m_udp(const struct verdict *v) { return v->proto == P_UDP; }
static bool m_icmp4(const struct verdict *v) { return v->family == 4 && v->proto == P_ICMP; }
static bool m_icmp6(const struct verdict *v) { return v->family == 6 && v->proto == P_ICMPV6; }
static bool m_gre(const struct verdict *v) { return v->proto == P_GRE; }
static bool m_p59(const struct verdict *v) { return v->proto == P_NONE; }
static bool m_ah(const struct verdict *v) { return v->proto == P_AH; }
static bool m_tcp_lo(const struct verdict *v) { return m_tcp(v) && dport_in(v, 0, 1023); }
static bool m_tcp_hi(const struct verdict *v) { return m_tcp(v) && dport_in(v, 1024, 65535); }
static bool m_udp_dns(const struct verdict *v)
{
	return m_udp(v) && (dport_in(v, 53, 53) || dport_in(v, 5353, 5353));
}
static bool m_udp_range(const struct verdict *v)
{
	return m_udp(v) && (dport_in(v, 0, 0) || dport_in(v, 8000, 8999) ||
			    dport_in(v, 65535, 65535));
}
static bool m_web(const struct verdict *v)
{
	return (m_tcp(v) || m_udp(v)) &&
	       (dport_in(v, 80, 80) || dport_in(v, 443, 443));
}
static bool m_syn(const struct verdict *v)
{
	return m_tcp(v) && !v->later && v->syn;
}
static bool m_syn_web(const struct verdict *v)
{
	return m_syn(v) && (v->dport == 80 || v->dport == 443);
}
static bool m_from4(const struct verdict *v)
{
	return v->family == 4 && in_prefix(v->src, "10.0.0.0/8");
}
static bool m_from4b(const struct verdict *v)
{
	return v->family == 4 && (in_prefix(v->src, "192.0.2.128/25") ||
				  in_prefix(v->src, "198.51.100.0/24"));
}
static bool m_from6(const struct verdict *v)
{
	return v->family == 6 && in_prefix(v->src, "2001:db8::/32");
}
static bool m_from6b(const struct verdict *v)
{
	return v->family == 6 && (in_prefix(v->src, "2001:db8:1::/48") ||
				  in_prefix(v->src, "fd00::/8"));
}
static bool m_dns_from(const struct verdict *v)
{
	return m_udp(v) && dport_in(v, 53, 53) &&
	       (m_from4(v) || (v->family == 6 && in_prefix(v->src, "2001:db8:1::/48")));
}

static const struct fuzz_rule fuzz_rules[] = {
	{ "all", "", m_all },
	{ "ip4", "family ip4", m_ip4 },
	{ "ip6", "family ip6", m_ip6 },
	{ "tcp", "proto tcp", m_tcp },
	{ "udp", "proto udp", m_udp },
	{ "icmp4", "family ip4 proto icmp", m_icmp4 },
	{ "icmp6", "family ip6 proto icmpv6", m_icmp6 },
	{ "gre", "proto 47", m_gre },
	{ "nonext", "proto 59", m_p59 },
	{ "ah", "proto 51", m_ah },
	{ "tcp-lo", "proto tcp dport 0-1023", m_tcp_lo },
	{ "tcp-hi", "proto tcp dport 1024-65535", m_tcp_hi },
	{ "udp-dns", "proto udp dport 53,5353", m_udp_dns },
	{ "udp-range", "proto udp dport 0,8000-8999,65535", m_udp_range },
	{ "web", "dport 80,443", m_web },
	{ "syn", "syn", m_syn },
	{ "syn-web", "proto tcp dport 80,443 syn", m_syn_web },
	{ "from4", "from 10.0.0.0/8", m_from4 },
	{ "from4b", "from 192.0.2.128/25,198.51.100.0/24", m_from4b },
	{ "from6", "from 2001:db8::/32", m_from6 },
	{ "from6b", "from 2001:db8:1::/48,fd00::/8", m_from6b },
	{ "dns-from", "proto udp dport 53 from 10.0.0.0/8,2001:db8:1::/48", m_dns_from },
};

#define N_RULES	ARRAY_SIZE(fuzz_rules)

static uint64_t rule_mask(const struct verdict *v)
{
	uint64_t m = 0;
	size_t i;

	for (i = 0; i < N_RULES; i++)
		if (fuzz_rules[i].match(v))
			m |= 1ull << i;
	return m;
}

/* ======================================================================== */
/* The generator                                                            */
/* ======================================================================== */

static uint64_t rng_state[4];

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: fast, seedable, good enough for choosing bytes. */
static uint64_t rnd64(void)
{
	uint64_t *s = rng_state, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

static void rng_seed(uint64_t seed)
{
	unsigned i;

	for (i = 0; i < 4; i++) {	/* splitmix64 */
		uint64_t z = (seed += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		rng_state[i] = z ^ (z >> 31);
	}
}

/* Uniform in [0, n). */
static uint32_t rnd(uint32_t n)
{
	return n ? (uint32_t)((rnd64() >> 32) * n >> 32) : 0;
}

static bool chance(unsigned percent)
{
	return rnd(100) < percent;
}

static uint8_t rnd8(void)
{
	return (uint8_t)rnd64();
}

static void rnd_bytes(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = rnd8();
}

static uint16_t pick16(const uint16_t *v, size_t n)
{
	return v[rnd(n)];
}

#define PICK(a)	pick16((a), ARRAY_SIZE(a))

/* The frame under construction, and where its fields are for mutations. */
struct gframe {
	uint8_t b[FRAME_MAX];
	size_t len;
	size_t eth_type;	/* offset of the (last) ethertype */
	size_t l3;		/* 0: no IP header */
	int family;
	size_t l4;		/* 0: none (later fragment, other protocol) */
	uint8_t l4proto;
	size_t hdr_end;
	size_t ext[12];		/* IPv6 extension header offsets */
	uint8_t ext_type[12];
	unsigned n_ext;
	size_t ip6_frag;	/* offset of the fragment header, 0: none */
};

static void ip4_checksum(uint8_t *iph)
{
	size_t len = (iph[0] & 0x0f) * 4u, i;
	uint32_t sum = 0;

	put16(iph + 10, 0);
	for (i = 0; i + 1 < len; i += 2)
		sum += get16(iph + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(iph + 10, ~sum & 0xffff);
}

/* Sources: mostly inside or just outside the `from` prefixes of the rules. */
static void gen_src(uint8_t *p, int family)
{
	static const uint8_t v4[][4] = {
		{ 10, 0, 0, 0 }, { 192, 0, 2, 128 }, { 192, 0, 2, 0 },
		{ 198, 51, 100, 0 }, { 11, 0, 0, 0 }, { 9, 255, 255, 255 },
	};
	static const uint8_t v6[][4] = {
		{ 0x20, 0x01, 0x0d, 0xb8 }, { 0x20, 0x01, 0x0d, 0xb9 },
		{ 0xfd, 0x00, 0x00, 0x00 }, { 0xfe, 0x80, 0x00, 0x00 },
	};
	size_t n = family == 4 ? 4 : 16;

	rnd_bytes(p, n);
	if (chance(85)) {
		if (family == 4) {
			const uint8_t *pre = v4[rnd(ARRAY_SIZE(v4))];
			unsigned keep = 1 + rnd(3);

			memcpy(p, pre, keep);
		} else {
			memcpy(p, v6[rnd(ARRAY_SIZE(v6))], 4);
			if (chance(50)) {	/* 2001:db8:1::/48 */
				p[4] = 0;
				p[5] = 1;
			}
		}
	}
}

static uint16_t gen_port(void)
{
	static const uint16_t ports[] = { 0, 1, 22, 53, 80, 443, 1023, 1024,
					  5353, 7999, 8000, 8999, 9000, 65535 };

	return chance(60) ? PICK(ports) : (uint16_t)rnd(65536);
}

/* RFC 791 options, mostly well-formed, filling n bytes. */
static void gen_ip4_options(uint8_t *p, size_t n)
{
	size_t i = 0;

	if (chance(10)) {
		rnd_bytes(p, n);
		return;
	}
	while (i < n) {
		size_t left = n - i;
		unsigned k = rnd(5);

		if (k == 0 || left < 4) {
			p[i++] = 1;			/* NOP */
		} else if (k == 1) {
			memset(p + i, 0, left);		/* EOL, then padding */
			return;
		} else if (k == 2) {
			p[i] = 148;			/* router alert */
			p[i + 1] = 4;
			p[i + 2] = p[i + 3] = 0;
			i += 4;
		} else {
			/* record route / timestamp: a length that fits */
			size_t l = 3 + rnd((unsigned)(left - 2));

			p[i] = k == 3 ? 7 : 68;
			p[i + 1] = (uint8_t)l;
			p[i + 2] = 4;
			memset(p + i + 3, 0, l - 3);
			i += l;
		}
	}
}

/* RFC 8200 4.2 options filling n bytes (PadN and Pad1, or a router alert). */
static void gen_tlv_options(uint8_t *p, size_t n)
{
	size_t i = 0;

	if (chance(5)) {
		rnd_bytes(p, n);
		return;
	}
	while (i < n) {
		size_t left = n - i;

		if (left == 1) {
			p[i++] = 0;
		} else if (left >= 4 && chance(30)) {
			p[i] = 5;	/* router alert, 2 bytes of data */
			p[i + 1] = 2;
			p[i + 2] = p[i + 3] = 0;
			i += 4;
		} else {
			size_t l = 2 + rnd((unsigned)(left - 1 < 256 ? left - 1 : 256));

			p[i] = 1;	/* PadN: at most 255 bytes of data */
			p[i + 1] = (uint8_t)(l - 2);
			memset(p + i + 2, 0, l - 2);
			i += l;
		}
	}
}

/*
 * A long extension header only while it ends before this: what follows it
 * (at most 10 short headers of 48 bytes, a TCP header, padding) still fits.
 */
#define LONG_EXT_ROOM	(FRAME_MAX - 700)

/* One extension header at off; returns its length. */
static size_t gen_ext(struct gframe *g, size_t off, uint8_t type, bool *later)
{
	uint8_t *p = g->b + off;
	size_t len;

	switch (type) {
	case P_FRAGMENT: {
		uint16_t fo = 0;

		len = 8;
		if (chance(45))
			fo = (uint16_t)(1 + rnd(8191));
		put16(p + 2, (uint16_t)(fo << 3 | rnd(2) | (chance(5) ? rnd(4) << 1 : 0)));
		put32(p + 4, (uint32_t)rnd64());
		p[1] = chance(5) ? rnd8() : 0;
		*later = fo != 0;
		g->ip6_frag = off;
		break;
	}
	case P_AH: {
		/* Mostly 8-byte multiples ((len + 2) * 4): 16, 24, 32. */
		static const uint16_t ah_len[] = { 2, 4, 6, 4, 4, 0, 1, 3 };
		uint8_t l = (uint8_t)PICK(ah_len);

		len = (l + 2) * 4u;
		p[1] = l;
		rnd_bytes(p + 2, len - 2);
		break;
	}
	case P_ROUTING:
		p[1] = (uint8_t)(chance(4) ? 10 + rnd(246) : rnd(6));
		if (off + (p[1] + 1) * 8u > LONG_EXT_ROOM)
			p[1] = (uint8_t)rnd(6);
		len = (p[1] + 1) * 8u;
		p[2] = chance(70) ? (uint8_t)rnd(5) : rnd8();	/* routing type */
		p[3] = chance(70) ? 0 : (uint8_t)rnd(4);	/* segments left */
		rnd_bytes(p + 4, len - 4);
		break;
	default:	/* hop-by-hop, destination options */
		p[1] = chance(70) ? (uint8_t)rnd(2) : (uint8_t)rnd(5);
		/* Now and then a long one: offsets deep into the frame. */
		if (chance(4)) {
			uint8_t l = (uint8_t)(10 + rnd(246));

			if (off + (l + 1) * 8u <= LONG_EXT_ROOM)
				p[1] = l;
		}
		len = (p[1] + 1) * 8u;
		gen_tlv_options(p + 2, len - 2);
		break;
	}
	return len;
}

static uint8_t gen_other_proto(int family)
{
	static const uint16_t other[] = { P_GRE, P_ESP, P_AH, P_NONE, P_SCTP,
					  P_MOBILITY, 253, 255, 0, 2, 4, 41 };
	uint8_t p = chance(80) ? (uint8_t)PICK(other) : rnd8();

	/* An IPv6 extension header type as the last header is a chain the
	 * generator builds on purpose elsewhere. */
	if (family == 6 && ip6_ext_type(p))
		p = P_NONE;
	return p;
}

static void gen_l4(struct gframe *g, size_t off, uint8_t proto)
{
	uint8_t *p = g->b + off;

	g->l4 = off;
	g->l4proto = proto;
	switch (proto) {
	case P_TCP: {
		static const uint16_t flags[] = { TH_SYN, TH_SYN | TH_ACK, TH_ACK,
						  TH_ACK | 0x08, 0x01 | TH_ACK,
						  0x04, TH_SYN | 0x01 };
		unsigned doff = chance(65) ? 5 : 6 + rnd(10);

		put16(p, gen_port());
		put16(p + 2, gen_port());
		put32(p + 4, (uint32_t)rnd64());
		put32(p + 8, (uint32_t)rnd64());
		p[12] = (uint8_t)(doff << 4 | (chance(5) ? rnd(16) : 0));
		p[13] = chance(80) ? (uint8_t)PICK(flags) : rnd8();
		put16(p + 14, (uint16_t)rnd(65536));
		put32(p + 16, (uint32_t)rnd64());
		gen_ip4_options(p + 20, (doff - 5) * 4);	/* same TLV shape */
		g->hdr_end = off + doff * 4;
		break;
	}
	case P_UDP:
		put16(p, gen_port());
		put16(p + 2, gen_port());
		put32(p + 4, (uint32_t)rnd64());	/* length and checksum: fixed below */
		g->hdr_end = off + 8;
		break;
	case P_ICMP:
	case P_ICMPV6:
		p[0] = chance(50) ? (proto == P_ICMP ? 8 : 128) : rnd8();
		p[1] = chance(80) ? 0 : rnd8();
		rnd_bytes(p + 2, 6);
		g->hdr_end = off + 8;
		break;
	default:
		g->l4 = 0;
		g->hdr_end = off;
		break;
	}
}

static size_t gen_payload_len(void)
{
	unsigned k = rnd(100);

	if (k < 30)
		return 0;
	if (k < 75)
		return rnd(64);
	if (k < 95)
		return rnd(600);
	return rnd(FRAME_MAX);
}

/* A frame as a sender would build it: headers right, lengths right. */
static void gen_valid(struct gframe *g)
{
	static const uint16_t non_ip[] = { ETH_P_ARP_, ETH_P_LLDP_, 0x8035, 0x0842,
					   0x88e5, 0x8847, 0x0060, 0x05dc, 0x9000 };
	uint8_t *b = g->b;
	size_t off = 12, payload, end, i;
	unsigned vlans, k;
	uint8_t proto;
	bool later = false;

	memset(g, 0, sizeof(*g));
	rnd_bytes(b, 12);
	k = rnd(100);
	vlans = k < 55 ? 0 : k < 78 ? 1 : k < 96 ? 2 : k < 99 ? 3 : 4;
	for (i = 0; i < vlans; i++) {
		uint16_t tpid = chance(50) ? ETH_P_8021Q_ : ETH_P_8021AD_;

		if (chance(3))
			tpid = ETH_P_QINQ1_;
		put16(b + off, tpid);
		put16(b + off + 2, (uint16_t)rnd(65536));
		off += 4;
	}
	g->eth_type = off;
	k = rnd(100);
	g->family = k < 45 ? 4 : k < 92 ? 6 : 0;
	put16(b + off, g->family == 4 ? ETH_P_IP_ : g->family == 6 ? ETH_P_IPV6_ :
		       PICK(non_ip));
	off += 2;
	g->l3 = off;

	if (g->family == 0) {
		g->l3 = 0;
		end = off + 28 + gen_payload_len() % 64;
		rnd_bytes(b + off, end - off);
		g->hdr_end = g->len = end;
		return;
	}

	k = rnd(100);
	proto = k < 32 ? P_TCP : k < 64 ? P_UDP : k < 80 ?
		(g->family == 4 ? P_ICMP : P_ICMPV6) : gen_other_proto(g->family);
	if (g->family == 4) {
		unsigned ihl = chance(60) ? 5 : 6 + rnd(10);
		uint16_t frag = 0;

		b[off] = (uint8_t)(0x40 | ihl);
		b[off + 1] = rnd8();
		put16(b + off + 4, (uint16_t)rnd(65536));
		k = rnd(100);
		if (k < 60)
			frag = chance(50) ? 0x4000 : 0;			/* DF or not */
		else if (k < 75)
			frag = 0x2000;					/* first fragment */
		else
			frag = (uint16_t)((rnd(2) << 13) | (1 + rnd(8191)));	/* later */
		if (chance(3))
			frag |= 0x8000;					/* reserved bit */
		put16(b + off + 6, frag);
		b[off + 8] = rnd8();
		b[off + 9] = proto;
		gen_src(b + off + 12, 4);
		rnd_bytes(b + off + 16, 4);
		gen_ip4_options(b + off + 20, (ihl - 5) * 4);
		later = frag & 0x1fff;
		off += ihl * 4;
	} else {
		uint8_t types[12];
		unsigned n;

		k = rnd(100);
		n = k < 45 ? 0 : k < 80 ? 1 + rnd(3) : k < 95 ? 4 + rnd(5) : 9 + rnd(2);
		for (i = 0; i < n; i++) {
			static const uint16_t ext[] = { P_HOPOPTS, P_ROUTING, P_FRAGMENT,
							P_DSTOPTS, P_AH, P_DSTOPTS };

			types[i] = (uint8_t)PICK(ext);
			/* Mostly the RFC 8200 order: hop-by-hop first or not at all. */
			if (types[i] == P_HOPOPTS && i && chance(80))
				types[i] = P_DSTOPTS;
		}
		if (n && chance(40))
			types[0] = P_HOPOPTS;
		b[off] = (uint8_t)(0x60 | rnd(16));
		rnd_bytes(b + off + 1, 3);
		b[off + 6] = n ? types[0] : proto;
		b[off + 7] = rnd8();
		gen_src(b + off + 8, 6);
		rnd_bytes(b + off + 24, 16);
		off += 40;
		for (i = 0; i < n && !later; i++) {
			g->ext[i] = off;
			g->ext_type[i] = types[i];
			g->n_ext++;
			off += gen_ext(g, off, types[i], &later);
			g->b[g->ext[i]] = i + 1 < n ? types[i + 1] : proto;
		}
		/* A later fragment whose next header is an extension header:
		 * the fragmentable part began with one (RFC 8200 4.5). */
		if (later && chance(10))
			g->b[g->ip6_frag] = P_DSTOPTS;
	}

	if (later) {
		g->l4 = 0;
		g->hdr_end = off;
	} else {
		gen_l4(g, off, proto);
		off = g->hdr_end;
	}
	payload = gen_payload_len();
	end = off + payload;
	if (end > FRAME_MAX - 64)
		end = FRAME_MAX - 64;
	rnd_bytes(b + off, end - off);
	if (g->family == 4) {
		put16(b + g->l3 + 2, (uint16_t)(end - g->l3));
		ip4_checksum(b + g->l3);
	} else {
		put16(b + g->l3 + 4, (uint16_t)(end - g->l3 - 40));
	}
	if (g->l4 && g->l4proto == P_UDP)
		put16(b + g->l4 + 4, chance(92) ? (uint16_t)(end - g->l4) :
						  (uint16_t)rnd(65536));
	g->len = end;
	/* Ethernet padding: a short frame padded to 60 bytes, or junk. */
	if (chance(15)) {
		size_t pad = g->len < 60 && chance(50) ? 60 - g->len : 1 + rnd(30);

		if (chance(50))
			memset(b + g->len, 0, pad);
		else
			rnd_bytes(b + g->len, pad);
		g->len += pad;
	}
}

/* Sets the IP length field as if the packet ended at len. */
static void fit_ip_length(struct gframe *g, size_t len)
{
	if (!g->l3)
		return;
	if (g->family == 4) {
		put16(g->b + g->l3 + 2, (uint16_t)(len > g->l3 ? len - g->l3 : 0));
		if (len >= g->l3 + 20)
			ip4_checksum(g->b + g->l3);
	} else if (len >= g->l3 + 6) {
		put16(g->b + g->l3 + 4, (uint16_t)(len > g->l3 + 40 ? len - g->l3 - 40 : 0));
	}
}

/* A length worth trying for a field that should say `right`. */
static uint16_t interesting_len(size_t right, size_t room)
{
	static const uint16_t fixed[] = { 0, 1, 7, 8, 19, 20, 39, 40, 0x7fff, 0xffff };

	switch (rnd(6)) {
	case 0:
		return PICK(fixed);
	case 1:
		return (uint16_t)(right - 1);
	case 2:
		return (uint16_t)(right + 1);
	case 3:
		return (uint16_t)room;
	case 4:
		return (uint16_t)(room + 1 + rnd(4));
	default:
		return (uint16_t)rnd(65536);
	}
}

/* Mutations: what a broken sender, a bit error or an attacker does. */
static void mutate(struct gframe *g)
{
	uint8_t *b = g->b;
	size_t hend = g->hdr_end < g->len ? g->hdr_end : g->len;

	switch (rnd(16)) {
	case 0:		/* cut anywhere, the IP length still claiming it all */
		if (g->len > FRAME_MIN)
			g->len = FRAME_MIN + rnd((unsigned)(g->len - FRAME_MIN));
		break;
	case 1:		/* cut near the end of the headers, as captured */
	case 2:		/* ... and with the IP length fitted to the cut */
		if (hend + 8 > FRAME_MIN) {
			size_t lo = hend > 40 ? hend - 40 : FRAME_MIN;
			size_t cut = lo + rnd((unsigned)(hend + 8 - lo));

			if (cut < FRAME_MIN)
				cut = FRAME_MIN;
			if (cut < g->len)
				g->len = cut;
			if (g->len == cut && rnd(2))
				fit_ip_length(g, cut);
		}
		break;
	case 3: {	/* bit flips in the headers */
		unsigned n = 1 + rnd(3);

		while (n--) {
			size_t at = rnd((unsigned)(hend + 1 < g->len ? hend + 1 : g->len));

			b[at] ^= (uint8_t)(1u << rnd(8));
		}
		break;
	}
	case 4: {	/* one header byte set to a boundary value */
		static const uint16_t vals[] = { 0, 1, 2, 5, 0x0f, 0x40, 0x45, 0x60,
						 0x7f, 0x80, 0xfe, 0xff };
		size_t at = 12 + rnd((unsigned)(hend > 12 ? hend - 12 : 1));

		if (at < g->len)
			b[at] = chance(50) ? (uint8_t)PICK(vals) : rnd8();
		break;
	}
	case 5:		/* IHL */
		if (g->family == 4) {
			b[g->l3] = (uint8_t)((b[g->l3] & 0xf0) | rnd(16));
			if (chance(70) && (b[g->l3] & 0xf) >= 5 &&
			    g->l3 + (b[g->l3] & 0xf) * 4u <= g->len)
				ip4_checksum(b + g->l3);
		}
		break;
	case 6:		/* IPv4 total length, IPv6 payload length */
		if (g->family == 4) {
			put16(b + g->l3 + 2, interesting_len(get16(b + g->l3 + 2),
							     g->len - g->l3));
			ip4_checksum(b + g->l3);
		} else if (g->family == 6) {
			put16(b + g->l3 + 4, interesting_len(get16(b + g->l3 + 4),
							     g->len - g->l3 - 40));
		}
		break;
	case 7:		/* an extension header's length */
		if (g->n_ext) {
			size_t at = g->ext[rnd(g->n_ext)] + 1;
			static const uint16_t vals[] = { 0, 1, 2, 3, 4, 255, 128 };

			b[at] = chance(60) ? (uint8_t)PICK(vals) : rnd8();
		}
		break;
	case 8:		/* a next header: the chain goes somewhere else */
		if (g->family == 6) {
			static const uint16_t nh[] = { P_HOPOPTS, P_ROUTING, P_FRAGMENT,
						       P_DSTOPTS, P_AH, P_TCP, P_UDP,
						       P_ICMPV6, P_NONE, P_ESP, P_ICMP };
			size_t at = g->n_ext && rnd(3) ? g->ext[rnd(g->n_ext)] :
							g->l3 + 6;

			b[at] = chance(85) ? (uint8_t)PICK(nh) : rnd8();
		} else if (g->family == 4) {
			static const uint16_t pr[] = { P_TCP, P_UDP, P_ICMP, P_AH,
						       P_ICMPV6, P_GRE };

			b[g->l3 + 9] = (uint8_t)PICK(pr);
			ip4_checksum(b + g->l3);
		}
		break;
	case 9:		/* TCP data offset */
		if (g->l4 && g->l4proto == P_TCP)
			b[g->l4 + 12] = (uint8_t)(rnd(16) << 4 | (b[g->l4 + 12] & 0x0f));
		break;
	case 10:	/* UDP length */
		if (g->l4 && g->l4proto == P_UDP)
			put16(b + g->l4 + 4, interesting_len(get16(b + g->l4 + 4),
							     g->len - g->l4));
		break;
	case 11:	/* fragment fields */
		if (g->family == 4) {
			put16(b + g->l3 + 6, (uint16_t)rnd(65536) & (chance(50) ? 0xe000 : 0xffff));
			ip4_checksum(b + g->l3);
		} else if (g->ip6_frag) {
			put16(b + g->ip6_frag + 2, (uint16_t)rnd(65536) &
						   (chance(50) ? 0x0007 : 0xffff));
		}
		break;
	case 12:	/* version nibble */
		if (g->l3)
			b[g->l3] = (uint8_t)((rnd(16) << 4) | (b[g->l3] & 0x0f));
		break;
	case 13: {	/* the ethertype says the other family, or a VLAN */
		static const uint16_t types[] = { ETH_P_IP_, ETH_P_IPV6_, ETH_P_8021Q_,
						  ETH_P_8021AD_, ETH_P_ARP_ };

		put16(b + g->eth_type, PICK(types));
		break;
	}
	case 14: {	/* junk after the packet (padding), or a longer cut */
		size_t n = 1 + rnd(64);

		if (g->len + n <= FRAME_MAX) {
			rnd_bytes(b + g->len, n);
			g->len += n;
		}
		break;
	}
	default: {	/* a random byte anywhere */
		size_t at = rnd((unsigned)g->len);

		b[at] = rnd8();
		break;
	}
	}
}

/* Bytes with a plausible ethertype: reaches the IP parsers with garbage. */
static void gen_random(struct gframe *g)
{
	static const uint16_t types[] = { ETH_P_IP_, ETH_P_IPV6_, ETH_P_8021Q_,
					  ETH_P_8021AD_ };
	size_t i;

	memset(g, 0, sizeof(*g));
	g->len = FRAME_MIN + rnd(chance(80) ? 120 : 600);
	rnd_bytes(g->b, g->len);
	if (chance(90))
		put16(g->b + 12, PICK(types));
	/* Nudge the version nibbles after a VLAN tag or two. */
	for (i = 14; i < 26 && i < g->len; i += 4) {
		if (get16(g->b + i - 2) == ETH_P_IP_ && chance(70))
			g->b[i] = (uint8_t)(0x40 | (g->b[i] & 0x0f));
		if (get16(g->b + i - 2) == ETH_P_IPV6_ && chance(70))
			g->b[i] = (uint8_t)(0x60 | (g->b[i] & 0x0f));
		if (get16(g->b + i - 2) != ETH_P_8021Q_ &&
		    get16(g->b + i - 2) != ETH_P_8021AD_)
			break;
	}
	g->hdr_end = g->len;
}

static void gen_frame(struct gframe *g)
{
	unsigned k = rnd(100), n;

	if (k < 5) {
		gen_random(g);
		return;
	}
	gen_valid(g);
	if (k < 40)
		return;			/* as sent */
	n = 1 + (chance(25) ? rnd(3) : 0);
	while (n--)
		mutate(g);
	if (g->len < FRAME_MIN)
		g->len = FRAME_MIN;
}

/* ======================================================================== */
/* The kernel side                                                          */
/* ======================================================================== */

struct inst {
	const char *name;
	struct sluice *skel;
	struct sl_maps maps;
	int prog_fd;
	__u32 slot[N_RULES];	/* counter slot of fuzz_rules[i] */
	bool drop;		/* malformed drop */
};

struct snap {
	uint64_t cnt[SL_CNT_MAX], cnt_bytes[SL_CNT_MAX];
	uint64_t matched[N_RULES], passed[N_RULES], dropped[N_RULES],
		 limited[N_RULES], other[N_RULES], bytes[N_RULES];
};

static int ncpus;

static const char *const counter_names[SL_CNT_MAX] = {
	[SL_CNT_RX] = "rx", [SL_CNT_NON_IP] = "non_ip", [SL_CNT_ALLOW] = "allow",
	[SL_CNT_PASSED] = "passed", [SL_CNT_DROPPED] = "dropped",
	[SL_CNT_DENY] = "deny", [SL_CNT_BAN] = "ban", [SL_CNT_RATE] = "rate",
	[SL_CNT_WINDOW] = "window", [SL_CNT_CONNS] = "conns",
	[SL_CNT_MALFORMED] = "malformed", [SL_CNT_BREAKER] = "breaker",
	[SL_CNT_CAS_EXHAUSTED] = "cas_exhausted",
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "pktfuzz: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void inst_load(struct inst *in, const char *name, bool drop)
{
	struct sl_config conf;
	struct sl_error err = {};
	struct sl_cfg cfg;
	unsigned line = 0, pos;
	size_t i;
	__u32 zero = 0, gen;
	int ret;

	in->name = name;
	in->drop = drop;
	in->skel = sluice__open();
	if (!in->skel)
		die("sluice__open: %s", strerror(errno));
	in->skel->rodata->sl_use_test_clock = 1;
	ret = attach__size_refusals(in->skel, 0);
	if (!ret)
		ret = sluice__load(in->skel);
	if (ret)
		die("sluice__load: %s (run as root)", strerror(-ret));
	in->prog_fd = bpf_program__fd(in->skel->progs.sluice_xdp);
	in->maps = (struct sl_maps){
		.cfg = bpf_map__fd(in->skel->maps.sl_cfg),
		.l4 = bpf_map__fd(in->skel->maps.sl_l4),
		.dport = bpf_map__fd(in->skel->maps.sl_dport),
		.src4 = bpf_map__fd(in->skel->maps.sl_src4),
		.src6 = bpf_map__fd(in->skel->maps.sl_src6),
		.rules = bpf_map__fd(in->skel->maps.sl_rules),
		.rtext = bpf_map__fd(in->skel->maps.sl_rtext),
		.keys = bpf_map__fd(in->skel->maps.sl_keys),
		.rcnt = bpf_map__fd(in->skel->maps.sl_rcnt),
		.cnt = bpf_map__fd(in->skel->maps.sl_cnt),
		.bans = bpf_map__fd(in->skel->maps.sl_bans),
	};
	in->skel->bss->sl_test_now_ns = NS_PER_S;

	config_init(&conf);
	if (config_parse_line(&conf, drop ? "malformed drop" : "malformed pass",
			      "pktfuzz", ++line, &err))
		die("config: %s", err.msg);
	for (i = 0; i < N_RULES; i++) {
		char text[256];

		snprintf(text, sizeof(text), "rule %s %s %s", fuzz_rules[i].name,
			 fuzz_rules[i].clauses, GENEROUS);
		if (config_parse_line(&conf, text, "pktfuzz", ++line, &err))
			die("config \"%s\": %s", text, err.msg);
	}
	ret = ruleset__apply(&in->maps, &conf, &err);
	if (ret)
		die("ruleset__apply: %s", err.msg);
	config_free(&conf);

	if (bpf_map_lookup_elem(in->maps.cfg, &zero, &cfg))
		die("sl_cfg: %s", strerror(errno));
	gen = cfg.gen & 1;
	if (cfg.hdr[gen].n_rules != N_RULES)
		die("%u rules active, expected %zu", cfg.hdr[gen].n_rules, N_RULES);
	for (pos = 0; pos < N_RULES; pos++) {
		__u32 index = SL_RULE_INDEX(gen, pos);
		struct sl_rule_text text;
		struct sl_rule rule;

		if (bpf_map_lookup_elem(in->maps.rtext, &index, &text) ||
		    bpf_map_lookup_elem(in->maps.rules, &index, &rule))
			die("sl_rules[%u]: %s", index, strerror(errno));
		for (i = 0; i < N_RULES; i++)
			if (!strncmp(text.name, fuzz_rules[i].name, sizeof(text.name)))
				in->slot[i] = rule.slot;
	}
}

static void inst_snap(struct inst *in, struct snap *s)
{
	struct sl_counter c[ncpus];
	struct sl_rule_counter r[ncpus];
	__u32 i;
	int cpu;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < SL_CNT_MAX; i++) {
		if (bpf_map_lookup_elem(in->maps.cnt, &i, c))
			die("sl_cnt[%u]: %s", i, strerror(errno));
		for (cpu = 0; cpu < ncpus; cpu++) {
			s->cnt[i] += c[cpu].packets;
			s->cnt_bytes[i] += c[cpu].bytes;
		}
	}
	for (i = 0; i < N_RULES; i++) {
		if (bpf_map_lookup_elem(in->maps.rcnt, &in->slot[i], r))
			die("sl_rcnt[%u]: %s", in->slot[i], strerror(errno));
		for (cpu = 0; cpu < ncpus; cpu++) {
			s->matched[i] += r[cpu].matched;
			s->passed[i] += r[cpu].passed;
			s->dropped[i] += r[cpu].dropped;
			s->limited[i] += r[cpu].limited;
			s->other[i] += r[cpu].rejected + r[cpu].marked;
			s->bytes[i] += r[cpu].bytes;
		}
	}
}

/* Runs one frame; returns the verdict. The frame must come back unchanged. */
static int inst_run(struct inst *in, const uint8_t *data, size_t len, bool *rewritten)
{
	uint8_t out[FRAME_MAX + 512];
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = data,
		.data_size_in = (__u32)len,
		.data_out = out,
		.data_size_out = sizeof(out),
		.repeat = 1,
	);
	int err;

	/* One second per frame: no budget is ever short. */
	in->skel->bss->sl_test_now_ns += NS_PER_S;
	err = bpf_prog_test_run_opts(in->prog_fd, &opts);
	if (err)
		die("%s: bpf_prog_test_run_opts(%zu bytes): %s", in->name, len,
		    strerror(-err));
	*rewritten = opts.data_size_out != len || memcmp(out, data, len);
	return (int)opts.retval;
}

/* ======================================================================== */
/* Checking                                                                 */
/* ======================================================================== */

/* What one frame must do to the counters, once the kernel's choice on an
 * ambiguous frame is known. */
struct expect {
	enum frame_class cls;
	uint64_t rules;
	size_t len;
};

struct frame_rec {
	uint8_t b[FRAME_MAX];
	size_t len;
	struct verdict v;
	struct expect e;
	int verdict_pass, verdict_drop;
	bool flagged;		/* already counted as a disagreement */
};

struct stats {
	uint64_t frames, bytes;
	uint64_t cls[3];		/* by the oracle, ambiguous frames as IP */
	uint64_t strict_malformed;	/* malformed under every reading */
	uint64_t kernel_malformed[2];	/* counter deltas: pass, drop instance */
	uint64_t amb[AMB_MAX], amb_kernel_malformed[AMB_MAX];
	uint64_t amb_only[AMB_MAX], amb_only_malformed[AMB_MAX];	/* one question open */
	uint64_t amb_frames, amb_frames_malformed;
	uint64_t disagreements;
	uint64_t later, vlans[3], ext_max;
	uint64_t rule_hits[N_RULES];	/* frames the oracle says each rule matches */
	uint64_t deep;			/* well-formed with headers past byte 256 */
	size_t deepest;			/* the furthest a well-formed frame's headers end */
	uint64_t why_count[64];
	const char *why[64];
	unsigned n_why;
};

static struct stats st;
static unsigned max_report = 20;
static bool verbose, examples;

static const char *verdict_name(int v)
{
	return v == XDP_PASS_ ? "XDP_PASS" : v == XDP_DROP_ ? "XDP_DROP" :
	       "neither XDP_PASS nor XDP_DROP";
}

static void print_hex(FILE *f, const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		fprintf(f, "%02x", b[i]);
	fputc('\n', f);
}

static void describe(FILE *f, const struct verdict *v)
{
	unsigned i;

	fprintf(f, "%s", class_names[v->cls]);
	if (v->cls == CLS_MALFORMED)
		fprintf(f, " (%s)", v->why);
	if (v->cls == CLS_IP) {
		fprintf(f, " ipv%u proto %u", v->family, v->proto);
		if (v->later)
			fprintf(f, " later-fragment");
		if (v->ports)
			fprintf(f, " dport %u%s", v->dport, v->syn ? " syn" : "");
		if (v->n_ext)
			fprintf(f, " ext-headers %u", v->n_ext);
	}
	if (v->vlans)
		fprintf(f, " vlans %u", v->vlans);
	for (i = 0; i < AMB_MAX; i++)
		if (v->amb & (1u << i))
			fprintf(f, "; open: %s", amb_names[i]);
}

static void describe_rules(FILE *f, uint64_t mask)
{
	size_t i;
	bool any = false;

	for (i = 0; i < N_RULES; i++)
		if (mask & (1ull << i)) {
			fprintf(f, "%s%s", any ? "," : "", fuzz_rules[i].name);
			any = true;
		}
	if (!any)
		fprintf(f, "(none)");
}

/* Reports one disagreement; prints the first max_report in full. */
static void disagree(struct frame_rec *r, const char *fmt, ...)
{
	static unsigned printed;
	va_list ap;

	if (!r->flagged)
		st.disagreements++;
	r->flagged = true;
	if (++printed > max_report) {
		if (printed == max_report + 1)
			fprintf(stderr, "pktfuzz: more disagreements; only counting from now on\n");
		return;
	}
	fprintf(stderr, "DISAGREE frame %" PRIu64 " (%zu bytes): ", st.frames, r->len);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  oracle: ");
	describe(stderr, &r->v);
	fprintf(stderr, "\n  oracle rules: ");
	describe_rules(stderr, rule_mask(&r->v));
	fprintf(stderr, "\n  kernel: malformed pass -> %s, malformed drop -> %s\n  hex: ",
		verdict_name(r->verdict_pass), verdict_name(r->verdict_drop));
	print_hex(stderr, r->b, r->len);
}

/* The counter deltas n frames must cause on an instance. */
static void expected_delta(const struct inst *in, const struct frame_rec *recs,
			   size_t n, struct snap *want)
{
	size_t i, j;

	memset(want, 0, sizeof(*want));
	for (i = 0; i < n; i++) {
		const struct expect *e = &recs[i].e;

		want->cnt[SL_CNT_RX]++;
		want->cnt_bytes[SL_CNT_RX] += e->len;
		switch (e->cls) {
		case CLS_NON_IP:
			want->cnt[SL_CNT_NON_IP]++;
			want->cnt_bytes[SL_CNT_NON_IP] += e->len;
			break;
		case CLS_MALFORMED:
			want->cnt[SL_CNT_MALFORMED]++;
			want->cnt_bytes[SL_CNT_MALFORMED] += e->len;
			want->cnt[in->drop ? SL_CNT_DROPPED : SL_CNT_PASSED]++;
			want->cnt_bytes[in->drop ? SL_CNT_DROPPED : SL_CNT_PASSED] += e->len;
			break;
		case CLS_IP:
			want->cnt[SL_CNT_PASSED]++;
			want->cnt_bytes[SL_CNT_PASSED] += e->len;
			for (j = 0; j < N_RULES; j++)
				if (e->rules & (1ull << j)) {
					want->matched[j]++;
					want->passed[j]++;
					want->bytes[j] += e->len;
				}
			break;
		}
	}
}

/* Compares got (after - before) with want; appends what differs to msg. */
static bool delta_matches(const struct snap *before, const struct snap *after,
			  const struct snap *want, char *msg, size_t size)
{
	size_t i, used = 0;
	bool ok = true;

#define DIFF(what, idx, b, a, w) do {						\
	uint64_t got_ = (a) - (b);						\
	if (got_ != (w)) {							\
		ok = false;							\
		if (used < size)						\
			used += snprintf(msg + used, size - used,		\
					 " %s%s%s +%" PRIu64 " (oracle +%" PRIu64 ")", \
					 what, idx ? "." : "", idx ? idx : "",	\
					 got_, (uint64_t)(w));			\
	}									\
} while (0)
	msg[0] = 0;
	for (i = 0; i < SL_CNT_MAX; i++) {
		DIFF("cnt", counter_names[i], before->cnt[i], after->cnt[i], want->cnt[i]);
		DIFF("bytes", counter_names[i], before->cnt_bytes[i],
		     after->cnt_bytes[i], want->cnt_bytes[i]);
	}
	for (i = 0; i < N_RULES; i++) {
		DIFF("matched", fuzz_rules[i].name, before->matched[i],
		     after->matched[i], want->matched[i]);
		DIFF("passed", fuzz_rules[i].name, before->passed[i],
		     after->passed[i], want->passed[i]);
		DIFF("dropped", fuzz_rules[i].name, before->dropped[i],
		     after->dropped[i], want->dropped[i]);
		DIFF("limited", fuzz_rules[i].name, before->limited[i],
		     after->limited[i], want->limited[i]);
		DIFF("rejected+marked", fuzz_rules[i].name, before->other[i],
		     after->other[i], want->other[i]);
		DIFF("bytes", fuzz_rules[i].name, before->bytes[i],
		     after->bytes[i], want->bytes[i]);
	}
#undef DIFF
	return ok;
}

/* A chunk did not add up: replay it frame by frame to name the frames. */
static void replay(struct inst *in, struct frame_rec *recs, size_t n,
		   uint64_t first_frame)
{
	size_t i;
	unsigned named = 0;
	uint64_t saved = st.frames;

	for (i = 0; i < n; i++) {
		struct snap before, after, want;
		char msg[2048];
		bool rewritten;
		int verdict;

		inst_snap(in, &before);
		verdict = inst_run(in, recs[i].b, recs[i].len, &rewritten);
		inst_snap(in, &after);
		expected_delta(in, &recs[i], 1, &want);
		(void)verdict;
		if (delta_matches(&before, &after, &want, msg, sizeof(msg)))
			continue;
		st.frames = first_frame + i;
		disagree(&recs[i], "%s instance counters:%s", in->name, msg);
		named++;
	}
	st.frames = saved;
	if (!named) {
		st.disagreements++;
		fprintf(stderr, "DISAGREE %s instance: the chunk ending at frame %" PRIu64
			" did not add up, but no frame of it misbehaved alone\n",
			in->name, saved);
	}
}

static void count_why(const char *why)
{
	unsigned i;

	for (i = 0; i < st.n_why; i++)
		if (st.why[i] == why) {
			st.why_count[i]++;
			return;
		}
	if (st.n_why < ARRAY_SIZE(st.why)) {
		st.why[st.n_why] = why;
		st.why_count[st.n_why++] = 1;
	}
}

/* Runs one frame through both instances and checks what needs no counters. */
static void check_frame(struct inst *pass, struct inst *drop, struct frame_rec *r)
{
	bool rw_pass, rw_drop, kernel_malformed;
	unsigned i;

	oracle_classify(r->b, r->len, &r->v);
	r->verdict_pass = inst_run(pass, r->b, r->len, &rw_pass);
	r->verdict_drop = inst_run(drop, r->b, r->len, &rw_drop);

	st.frames++;
	st.bytes += r->len;
	st.cls[r->v.cls]++;
	if (r->v.cls == CLS_MALFORMED) {
		st.strict_malformed++;
		count_why(r->v.why);
	}
	if (r->v.later)
		st.later++;
	st.vlans[r->v.vlans > 2 ? 2 : r->v.vlans]++;
	if (r->v.n_ext > st.ext_max)
		st.ext_max = r->v.n_ext;

	/* The drop instance tells what the kernel called malformed. */
	kernel_malformed = r->verdict_drop == XDP_DROP_;
	r->e.len = r->len;
	r->e.cls = r->v.cls;
	r->e.rules = 0;
	if (r->v.amb) {
		st.amb_frames++;
		st.amb_frames_malformed += kernel_malformed;
		for (i = 0; i < AMB_MAX; i++) {
			if (!(r->v.amb & (1u << i)))
				continue;
			st.amb[i]++;
			st.amb_kernel_malformed[i] += kernel_malformed;
			if (r->v.amb == 1u << i) {
				st.amb_only[i]++;
				st.amb_only_malformed[i] += kernel_malformed;
				if (examples && st.amb_only[i] == 1) {
					printf("open question \"%s\": the kernel says %s:\n  ",
					       amb_names[i], kernel_malformed ?
					       "malformed" : "well-formed");
					print_hex(stdout, r->b, r->len);
				}
			}
		}
		if (kernel_malformed)
			r->e.cls = CLS_MALFORMED;
	}
	if (r->e.cls == CLS_IP) {
		r->e.rules = rule_mask(&r->v);
		for (i = 0; i < N_RULES; i++)
			st.rule_hits[i] += r->e.rules >> i & 1;
		st.deep += r->v.hdr_end > 256;
		if (r->v.hdr_end > st.deepest)
			st.deepest = r->v.hdr_end;
	}

	if (rw_pass || rw_drop)
		disagree(r, "the program changed the frame (%s instance)",
			 rw_pass ? "pass" : "drop");
	if (r->verdict_pass != XDP_PASS_)
		disagree(r, "malformed pass: verdict %d, expected XDP_PASS "
			 "(the rules admit everything)", r->verdict_pass);
	if (r->verdict_drop != (r->e.cls == CLS_MALFORMED ? XDP_DROP_ : XDP_PASS_))
		disagree(r, "malformed drop: verdict %s, oracle says %s",
			 verdict_name(r->verdict_drop), class_names[r->v.cls]);
}

static struct frame_rec recs[CHUNK];

static void run_fuzz(struct inst *pass, struct inst *drop, uint64_t frames)
{
	struct snap p0, p1, d0, d1, want;
	uint64_t done = 0, report_every = frames / 10 ? frames / 10 : 1;
	uint64_t next_report = report_every;
	struct timespec t0, t1;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	inst_snap(pass, &p0);
	inst_snap(drop, &d0);
	while (done < frames) {
		size_t n = frames - done < CHUNK ? (size_t)(frames - done) : CHUNK, i;
		char msg[4096];

		for (i = 0; i < n; i++) {
			struct gframe g;

			gen_frame(&g);
			memcpy(recs[i].b, g.b, g.len);
			recs[i].len = g.len;
			check_frame(pass, drop, &recs[i]);
		}
		done += n;
		inst_snap(pass, &p1);
		inst_snap(drop, &d1);
		st.kernel_malformed[0] += p1.cnt[SL_CNT_MALFORMED] - p0.cnt[SL_CNT_MALFORMED];
		st.kernel_malformed[1] += d1.cnt[SL_CNT_MALFORMED] - d0.cnt[SL_CNT_MALFORMED];
		expected_delta(pass, recs, n, &want);
		if (!delta_matches(&p0, &p1, &want, msg, sizeof(msg))) {
			if (verbose)
				fprintf(stderr, "pktfuzz: pass chunk:%s\n", msg);
			replay(pass, recs, n, done - n);
			inst_snap(pass, &p1);	/* the replay moved the counters again */
		}
		expected_delta(drop, recs, n, &want);
		if (!delta_matches(&d0, &d1, &want, msg, sizeof(msg))) {
			if (verbose)
				fprintf(stderr, "pktfuzz: drop chunk:%s\n", msg);
			replay(drop, recs, n, done - n);
			inst_snap(drop, &d1);
		}
		p0 = p1;
		d0 = d1;
		if (done >= next_report && done < frames) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
			printf("  %" PRIu64 " frames, %.1f s, %" PRIu64 " disagreements\n",
			       done, secs, st.disagreements);
			fflush(stdout);
			next_report += report_every;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("  %" PRIu64 " frames in %.1f s: %.0f frames/s (each through two programs)\n",
	       done, secs, done / secs);
}

static void print_summary(void)
{
	unsigned i;

	printf("oracle: %" PRIu64 " IP, %" PRIu64 " malformed, %" PRIu64
	       " non-IP; %" PRIu64 " later fragments; VLAN tags 0/1/2+: %" PRIu64
	       "/%" PRIu64 "/%" PRIu64 "; up to %" PRIu64 " extension headers\n",
	       st.cls[CLS_IP], st.cls[CLS_MALFORMED], st.cls[CLS_NON_IP], st.later,
	       st.vlans[0], st.vlans[1], st.vlans[2], st.ext_max);
	printf("malformed: oracle %" PRIu64 " + %" PRIu64
	       " open frames the kernel called malformed = %" PRIu64
	       "; kernel counter: malformed-pass +%" PRIu64 ", malformed-drop +%" PRIu64 "\n",
	       st.strict_malformed, st.amb_frames_malformed,
	       st.strict_malformed + st.amb_frames_malformed,
	       st.kernel_malformed[0], st.kernel_malformed[1]);
	if (verbose) {
		printf("frames each rule matches (oracle):");
		for (i = 0; i < N_RULES; i++)
			printf(" %s %" PRIu64, fuzz_rules[i].name, st.rule_hits[i]);
		printf("\nwell-formed frames whose headers end past byte 256: %" PRIu64
		       ", the deepest at byte %zu\n", st.deep, st.deepest);
		printf("why malformed (oracle):\n");
		for (i = 0; i < st.n_why; i++)
			printf("  %10" PRIu64 "  %s\n", st.why_count[i], st.why[i]);
	}
	printf("left open by the README (either verdict accepted); the kernel called malformed:\n");
	for (i = 0; i < AMB_MAX; i++)
		printf("  %-46s %7" PRIu64 " of %7" PRIu64 " (%" PRIu64 " of %" PRIu64
		       " where it is the only open question)\n", amb_names[i],
		       st.amb_kernel_malformed[i], st.amb[i], st.amb_only_malformed[i],
		       st.amb_only[i]);
}

/* ======================================================================== */
/* Main                                                                     */
/* ======================================================================== */

static int hex_frame(struct inst *pass, struct inst *drop, const char *hex)
{
	struct frame_rec r = {};
	struct snap before, after, want;
	size_t n = strlen(hex), i;
	char msg[4096];

	if (n % 2 || n / 2 > FRAME_MAX || n / 2 < FRAME_MIN)
		die("--hex wants %d to %d bytes as an even number of hex digits",
		    FRAME_MIN, FRAME_MAX);
	for (i = 0; i < n / 2; i++) {
		unsigned byte;

		if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
			die("--hex: not a hex digit at %zu", 2 * i);
		r.b[i] = (uint8_t)byte;
	}
	r.len = n / 2;
	inst_snap(pass, &before);
	check_frame(pass, drop, &r);
	inst_snap(pass, &after);
	expected_delta(pass, &r, 1, &want);
	printf("oracle: ");
	describe(stdout, &r.v);
	printf("\noracle rules: ");
	describe_rules(stdout, r.e.cls == CLS_IP ? r.e.rules : 0);
	printf("\nkernel: malformed pass -> %s, malformed drop -> %s; malformed counter +%" PRIu64
	       ", non_ip +%" PRIu64 "\nkernel rules:", verdict_name(r.verdict_pass),
	       verdict_name(r.verdict_drop),
	       after.cnt[SL_CNT_MALFORMED] - before.cnt[SL_CNT_MALFORMED],
	       after.cnt[SL_CNT_NON_IP] - before.cnt[SL_CNT_NON_IP]);
	for (i = 0; i < N_RULES; i++)
		if (after.matched[i] != before.matched[i])
			printf(" %s", fuzz_rules[i].name);
	printf("\n");
	if (!delta_matches(&before, &after, &want, msg, sizeof(msg)))
		printf("counters differ:%s\n", msg);
	return st.disagreements || msg[0] ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pktfuzz [--frames N] [--seed S] [--max-report N] [--verbose] [--examples]\n"
		   "       pktfuzz --hex HEX...\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "max-report", required_argument, NULL, 'm' },
		{ "hex", no_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "examples", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	uint64_t frames = 100000, seed = 0;
	bool hex = false, seeded = false;
	struct inst pass = {}, drop = {};
	struct timespec now;
	char *end;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "n:s:m:xveh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			frames = strtoull(optarg, &end, 0);
			if (errno || *end || !frames)
				die("--frames: expected a positive number, got \"%s\"", optarg);
			break;
		case 's':
			errno = 0;
			seed = strtoull(optarg, &end, 0);
			if (errno || *end)
				die("--seed: expected a number, got \"%s\"", optarg);
			seeded = true;
			break;
		case 'm':
			max_report = (unsigned)strtoul(optarg, &end, 0);
			if (*end)
				die("--max-report: expected a number, got \"%s\"", optarg);
			break;
		case 'x':
			hex = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'e':
			examples = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (hex != (optind < argc)) {
		usage(stderr);
		return 2;
	}
	if (!seeded) {
		clock_gettime(CLOCK_REALTIME, &now);
		seed = (uint64_t)now.tv_sec * 1000003u ^ (uint64_t)now.tv_nsec ^
		       (uint64_t)getpid() << 32;
	}
	rng_seed(seed);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		die("cannot count CPUs: %s", strerror(-ncpus));
	libbpf_set_print(NULL);

	inst_load(&pass, "malformed-pass", false);
	inst_load(&drop, "malformed-drop", true);

	if (hex) {
		for (; optind < argc; optind++)
			rc |= hex_frame(&pass, &drop, argv[optind]);
		goto out;
	}

	printf("pktfuzz: %" PRIu64 " frames, seed %" PRIu64 " (--seed %" PRIu64
	       " repeats this run), %zu rules\n", frames, seed, seed, N_RULES);
	fflush(stdout);
	run_fuzz(&pass, &drop, frames);
	print_summary();
	if (st.kernel_malformed[0] != st.strict_malformed + st.amb_frames_malformed ||
	    st.kernel_malformed[1] != st.strict_malformed + st.amb_frames_malformed) {
		fprintf(stderr, "DISAGREE: kernel malformed counters differ from the oracle\n");
		st.disagreements++;
	}
	if (st.disagreements) {
		printf("FAIL: %" PRIu64 " disagreements between the oracle and the XDP program"
		       " (seed %" PRIu64 ")\n", st.disagreements, seed);
		rc = 1;
	} else {
		printf("PASS: every verdict and counter as the oracle says\n");
	}
out:
	sluice__destroy(pass.skel);
	sluice__destroy(drop.skel);
	return rc;
}
