// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The XDP program, loaded for real and run with BPF_PROG_TEST_RUN on crafted
 * frames, in the shape of the kernel's selftests/bpf/prog_tests: packets as
 * data, one bpf_prog_test_run_opts call per frame, assertions on the verdict,
 * the output bytes and the counters.
 *
 * Every test loads its own skeleton (nothing pinned), so counters and
 * limiter state start at zero and expected values are absolute. The program
 * reads a synthetic clock (sl_use_test_clock), so rate tests are exact.
 *
 * Run as root: build/tests/test_xdp
 */
#include "bpf_fixture.h"

/* ------------------------------------------------------------------------ */
/* Header paths                                                              */
/* ------------------------------------------------------------------------ */

struct path_case {
	const char *name;	/* the test's name */
	const char *rule;	/* named r1; the frame must match it */
	struct pkt pkt;
};

#define RATE_OK	"key src rate 10/s burst 5 action drop"

static const struct path_case path_cases[] = {
	{ "ipv4_tcp_passes_and_matches_dport_rule",
	  "rule r1 proto tcp dport 80 " RATE_OK,
	  { .family = 4, .proto = P_TCP, .sport = 40000, .dport = 80,
	    .tcp_flags = TCP_ACK, .payload = 10 } },
	{ "ipv4_udp_passes_and_matches_dport_rule",
	  "rule r1 proto udp dport 53 " RATE_OK,
	  { .family = 4, .proto = P_UDP, .sport = 40000, .dport = 53, .payload = 30 } },
	{ "ipv4_icmp_passes_and_matches_proto_rule",
	  "rule r1 proto icmp " RATE_OK,
	  { .family = 4, .proto = P_ICMP, .payload = 56 } },
	{ "ipv4_udp_with_ethernet_padding_passes_and_matches",
	  "rule r1 proto udp dport 53 " RATE_OK,	/* 60-byte frame, padded */
	  { .family = 4, .proto = P_UDP, .sport = 40000, .dport = 53, .payload = 4,
	    .eth_pad = 14 } },
	{ "ipv6_tcp_with_options_passes_and_matches_dport_rule",
	  "rule r1 proto tcp dport 443 " RATE_OK,
	  { .family = 6, .proto = P_TCP, .sport = 40000, .dport = 443,
	    .tcp_flags = TCP_ACK, .doff = 8, .payload = 10 } },
	{ "ipv6_udp_passes_and_matches_dport_rule",
	  "rule r1 proto udp dport 53 " RATE_OK,
	  { .family = 6, .proto = P_UDP, .sport = 40000, .dport = 53, .payload = 30 } },
	{ "ipv6_icmpv6_passes_and_matches_proto_rule",
	  "rule r1 proto icmpv6 " RATE_OK,
	  { .family = 6, .proto = P_ICMPV6, .payload = 56 } },
	{ "vlan_8021q_ipv4_udp_passes_and_matches",
	  "rule r1 proto udp dport 53 " RATE_OK,
	  { .n_vlan = 1, .family = 4, .proto = P_UDP, .sport = 40000, .dport = 53,
	    .payload = 30 } },
	{ "vlan_8021q_ipv6_tcp_passes_and_matches",
	  "rule r1 proto tcp dport 22 " RATE_OK,
	  { .n_vlan = 1, .family = 6, .proto = P_TCP, .sport = 40000, .dport = 22,
	    .tcp_flags = TCP_SYN } },
	{ "qinq_8021ad_8021q_ipv4_udp_passes_and_matches",
	  "rule r1 proto udp dport 53 " RATE_OK,
	  { .n_vlan = 2, .family = 4, .proto = P_UDP, .sport = 40000, .dport = 53,
	    .payload = 30 } },
	{ "qinq_8021ad_8021q_ipv6_udp_passes_and_matches",
	  "rule r1 proto udp dport 53 " RATE_OK,
	  { .n_vlan = 2, .family = 6, .proto = P_UDP, .sport = 40000, .dport = 53,
	    .payload = 30 } },
	{ "two_8021q_tags_ipv4_tcp_passes_and_matches",
	  "rule r1 proto tcp dport 80 " RATE_OK,	/* two 802.1Q tags */
	  { .n_vlan = 2, .tpid = { ETH_TYPE_8021Q, ETH_TYPE_8021Q }, .family = 4,
	    .proto = P_TCP, .sport = 40000, .dport = 80, .tcp_flags = TCP_ACK } },
	{ "ipv6_hopopts_routing_dstopts_udp_matches_dport_rule",
	  "rule r1 proto udp dport 53 " RATE_OK,
	  { .family = 6, .n_ext = 3, .ext = { P_HOPOPTS, P_ROUTING, P_DSTOPTS },
	    .proto = P_UDP, .sport = 40000, .dport = 53, .payload = 30 } },
	{ "qinq_ipv6_three_ext_headers_tcp_matches_dport_rule",
	  "rule r1 proto tcp dport 80 " RATE_OK,
	  { .n_vlan = 2, .family = 6, .n_ext = 3,
	    .ext = { P_HOPOPTS, P_ROUTING, P_DSTOPTS }, .proto = P_TCP,
	    .sport = 40000, .dport = 80, .tcp_flags = TCP_ACK, .payload = 10 } },
	{ "ipv6_ah_udp_matches_dport_rule",
	  "rule r1 proto udp dport 4500 " RATE_OK,
	  { .family = 6, .n_ext = 1, .ext = { P_AH }, .proto = P_UDP,
	    .sport = 4500, .dport = 4500, .payload = 30 } },
	{ "ipv6_hopopts_ah_tcp_matches_dport_rule",
	  "rule r1 proto tcp dport 80 " RATE_OK,
	  { .family = 6, .n_ext = 2, .ext = { P_HOPOPTS, P_AH }, .proto = P_TCP,
	    .sport = 40000, .dport = 80, .tcp_flags = TCP_ACK, .payload = 10 } },
	{ "ipv4_ah_matches_proto_51_rule",
	  "rule r1 proto 51 " RATE_OK,		/* IPv4 AH: no ports */
	  { .family = 4, .proto = P_AH, .payload = 40 } },
};

static bool has_ports(const struct pkt *p)
{
	return p->proto == P_TCP || p->proto == P_UDP;
}

/*
 * The frame passes and matches exactly its rule; the same frame to another
 * port (or, without ports, another protocol) does not: the parser read the
 * right bytes, not just something.
 */
static void test_header_path_passes_and_matches_rule(void **state)
{
	struct fx *fx = *state;
	const struct path_case *c = fx->param;
	struct pkt miss = c->pkt;
	struct frame f, g;

	configure(fx, c->rule);
	build(&c->pkt, &f);
	assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	assert_rule(fx, "r1", 1, 1, 0, 0);
	assert_int_equal(rule_count(fx, "r1").bytes, f.len);

	if (has_ports(&miss)) {
		miss.dport++;
	} else {
		miss.proto = P_UDP;
		miss.dport = 53;
	}
	build(&miss, &g);
	assert_verdict(run_frame(fx, &g), VERDICT_PASS);
	assert_rule(fx, "r1", 1, 1, 0, 0);

	assert_cnt(fx, SL_CNT_RX, 2);
	assert_cnt(fx, SL_CNT_PASSED, 2);
	assert_cnt(fx, SL_CNT_MALFORMED, 0);
	assert_cnt(fx, SL_CNT_NON_IP, 0);
	assert_cnt(fx, SL_CNT_DROPPED, 0);
	assert_cnt_bytes(fx, SL_CNT_RX, f.len + g.len);
	assert_cnt_bytes(fx, SL_CNT_PASSED, f.len + g.len);
}

/* IHL 6..15: the options are skipped and the ports behind them read. */
static void test_ipv4_options_ihl_6_to_15_ports_read(void **state)
{
	struct fx *fx = *state;
	unsigned ihl, n = 0;

	configure(fx, "rule tcp80 proto tcp dport 80 key src rate 1000/s burst 100 action drop",
		  "rule udp53 proto udp dport 53 key src rate 1000/s burst 100 action drop");
	for (ihl = 6; ihl <= 15; ihl++) {
		struct pkt tcp = { .family = 4, .ihl = ihl, .proto = P_TCP,
				   .sport = 1234, .dport = 80, .tcp_flags = TCP_ACK,
				   .payload = 20 };
		struct pkt udp = { .family = 4, .ihl = ihl, .proto = P_UDP,
				   .sport = 1234, .dport = 53, .payload = 20 };
		struct pkt udp_miss = udp;

		/* Port 53 sits where a misparse at IHL 5 would read an option. */
		udp_miss.dport = 54;
		assert_verdict(send_pkt(fx, &tcp), VERDICT_PASS);
		assert_verdict(send_pkt(fx, &udp), VERDICT_PASS);
		assert_verdict(send_pkt(fx, &udp_miss), VERDICT_PASS);
		n++;
		if (rule_count(fx, "tcp80").matched != n ||
		    rule_count(fx, "udp53").matched != n)
			fail_msg("IHL %u: tcp80 matched %" PRIu64 ", udp53 %" PRIu64
				 ", expected %u each", ihl,
				 (uint64_t)rule_count(fx, "tcp80").matched,
				 (uint64_t)rule_count(fx, "udp53").matched, n);
	}
	assert_rule(fx, "tcp80", 10, 10, 0, 0);
	assert_rule(fx, "udp53", 10, 10, 0, 0);
	assert_cnt(fx, SL_CNT_MALFORMED, 0);
	assert_cnt(fx, SL_CNT_PASSED, 30);
}

/* ------------------------------------------------------------------------ */
/* Fragments                                                                 */
/* ------------------------------------------------------------------------ */

#define DNS_RULE "rule dns proto udp dport 53 key src rate 10/s burst 3 action drop"
#define SSH_SYN_RULE "rule ssh proto tcp dport 22 syn key src rate 10/s burst 3 action drop"

static void test_ipv4_first_fragment_carries_ports_and_matches_dport_rule(void **state)
{
	struct fx *fx = *state;
	struct pkt first = { .family = 4, .frag = IP4_MF, .proto = P_UDP,
			     .sport = 5353, .dport = 53, .payload = 1000 };
	struct pkt other = first;

	configure(fx, DNS_RULE);
	other.dport = 54;
	assert_verdict(send_pkt(fx, &first), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &other), VERDICT_PASS);
	assert_rule(fx, "dns", 1, 1, 0, 0);
	assert_cnt(fx, SL_CNT_MALFORMED, 0);
	assert_cnt(fx, SL_CNT_PASSED, 2);
}

static void test_ipv6_first_fragment_carries_ports_and_matches_dport_rule(void **state)
{
	struct fx *fx = *state;
	struct pkt first = { .family = 6, .n_ext = 2, .ext = { P_HOPOPTS, P_FRAGMENT },
			     .frag = IP6_M, .proto = P_UDP, .sport = 5353,
			     .dport = 53, .payload = 1000 };
	struct pkt other = first;

	configure(fx, DNS_RULE);
	other.dport = 54;
	assert_verdict(send_pkt(fx, &first), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &other), VERDICT_PASS);
	assert_rule(fx, "dns", 1, 1, 0, 0);
	assert_cnt(fx, SL_CNT_MALFORMED, 0);
}

/*
 * A later fragment has no L4 header: bpf/sluice.bpf.c skips the port filter
 * for it, so it matches every rule of its protocol whatever the ports, and
 * spends the source's budget like the first fragment did. Even a fragment
 * too short to have held a header is not malformed. It never matches a
 * SYN-only rule: there are no flags to see.
 */
static void later_fragments_match_by_protocol(struct fx *fx, int family)
{
	struct pkt first, later, tiny, tcp_later;

	if (family == 4) {
		first = (struct pkt){ .family = 4, .frag = IP4_MF, .proto = P_UDP,
				      .sport = 5353, .dport = 53, .payload = 1000 };
		later = (struct pkt){ .family = 4, .frag = IP4_MF | 126,
				      .proto = P_UDP, .payload = 1000 };
		tiny = (struct pkt){ .family = 4, .frag = 252, .proto = P_UDP,
				     .payload = 3 };
		tcp_later = (struct pkt){ .family = 4, .frag = 185, .proto = P_TCP,
					  .payload = 0 };
	} else {
		first = (struct pkt){ .family = 6, .n_ext = 1, .ext = { P_FRAGMENT },
				      .frag = IP6_M, .proto = P_UDP, .sport = 5353,
				      .dport = 53, .payload = 1000 };
		later = (struct pkt){ .family = 6, .n_ext = 2,
				      .ext = { P_HOPOPTS, P_FRAGMENT },
				      .frag = (126 << 3) | IP6_M, .proto = P_UDP,
				      .payload = 1000 };
		tiny = (struct pkt){ .family = 6, .n_ext = 1, .ext = { P_FRAGMENT },
				     .frag = 252 << 3, .proto = P_UDP, .payload = 3 };
		tcp_later = (struct pkt){ .family = 6, .n_ext = 1,
					  .ext = { P_FRAGMENT }, .frag = 185 << 3,
					  .proto = P_TCP, .payload = 0 };
	}

	configure(fx, DNS_RULE, SSH_SYN_RULE);
	assert_verdict(send_pkt(fx, &first), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &later), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &tiny), VERDICT_PASS);
	assert_rule(fx, "dns", 3, 3, 0, 0);
	/* The burst of 3 is spent: the next later fragment is limited. */
	assert_verdict(send_pkt(fx, &later), VERDICT_DROP);
	assert_rule(fx, "dns", 4, 3, 1, 1);
	/* Another source has its own budget. */
	assert_int_equal(send_from(fx, &later, family == 4 ? "192.0.2.99" :
							      "2001:db8::99"),
			 VERDICT_PASS);
	assert_rule(fx, "dns", 5, 4, 1, 1);

	assert_verdict(send_pkt(fx, &tcp_later), VERDICT_PASS);
	assert_rule(fx, "ssh", 0, 0, 0, 0);

	assert_cnt(fx, SL_CNT_MALFORMED, 0);
	assert_cnt(fx, SL_CNT_RATE, 1);
	assert_cnt(fx, SL_CNT_PASSED, 5);
	assert_cnt(fx, SL_CNT_DROPPED, 1);
}

static void test_ipv4_later_fragments_match_by_protocol_never_malformed(void **state)
{
	later_fragments_match_by_protocol(*state, 4);
}

static void test_ipv6_later_fragments_match_by_protocol_never_malformed(void **state)
{
	later_fragments_match_by_protocol(*state, 6);
}

/* ------------------------------------------------------------------------ */
/* Truncated frames                                                          */
/* ------------------------------------------------------------------------ */

static const struct pkt truncation_frames[] = {
	/* IPv4 TCP, IHL 8, data offset 8, payload: headers end at 78. */
	{ .family = 4, .ihl = 8, .proto = P_TCP, .sport = 40000, .dport = 80,
	  .tcp_flags = TCP_ACK, .doff = 8, .payload = 24 },
	/* IPv6, hop-by-hop + routing + destination options, UDP: 110. */
	{ .family = 6, .n_ext = 3, .ext = { P_HOPOPTS, P_ROUTING, P_DSTOPTS },
	  .proto = P_UDP, .sport = 40000, .dport = 53, .payload = 24 },
	/* QinQ IPv4 UDP: 50. */
	{ .n_vlan = 2, .family = 4, .proto = P_UDP, .sport = 40000, .dport = 53,
	  .payload = 24 },
};

/*
 * Cuts each frame at every length from an Ethernet header to the whole
 * frame, twice: as captured (the IP length still claims the whole packet,
 * so every cut is malformed) and with the IP length rewritten to the cut
 * (only a cut inside the headers is malformed). Checks each run's verdict
 * and that the malformed counter moved exactly when expected.
 */
static void run_truncations(struct fx *fx, bool drop)
{
	uint64_t malformed = 0, matched = 0, passed = 0, dropped = 0;
	size_t i, len;
	int fit;

	for (i = 0; i < ARRAY_SIZE(truncation_frames); i++) {
		const struct pkt *p = &truncation_frames[i];
		struct frame full;

		build(p, &full);
		for (fit = 0; fit <= 1; fit++) {
			for (len = 14; len <= full.len; len++) {
				struct frame f = full;
				bool bad;
				int verdict;
				uint64_t got;

				if (fit)
					fit_ip_length(&f, p->family == 6, len);
				bad = fit ? len < f.hdr_end : len < full.len;
				verdict = run_bytes(fx, f.b, len);
				malformed += bad;
				matched += !bad;
				if (bad && drop)
					dropped++;
				else
					passed++;
				if (verdict != (bad && drop ? VERDICT_DROP : VERDICT_PASS))
					fail_msg("frame %zu (%s) cut at %zu of %zu: verdict %d, expected %s",
						 i, fit ? "length fitted" : "as captured",
						 len, full.len, verdict,
						 bad && drop ? "drop" : "pass");
				got = global_count(fx, SL_CNT_MALFORMED, false);
				if (got != malformed)
					fail_msg("frame %zu (%s) cut at %zu of %zu (headers end at %zu): malformed count %" PRIu64 ", expected %" PRIu64,
						 i, fit ? "length fitted" : "as captured",
						 len, full.len, full.hdr_end, got, malformed);
			}
		}
	}
	assert_rule(fx, "all", matched, matched, 0, 0);
	assert_cnt(fx, SL_CNT_PASSED, passed);
	assert_cnt(fx, SL_CNT_DROPPED, dropped);
	assert_cnt(fx, SL_CNT_RX, passed + dropped);
	assert_cnt(fx, SL_CNT_NON_IP, 0);
}

#define ALL_RULE "rule all key global rate 100000/s burst 100000 action drop"

static void test_truncated_frames_pass_and_count_malformed_exactly(void **state)
{
	struct fx *fx = *state;

	configure(fx, ALL_RULE);
	run_truncations(fx, false);
}

static void test_truncated_frames_dropped_under_malformed_drop(void **state)
{
	struct fx *fx = *state;

	configure(fx, "malformed drop", ALL_RULE);
	run_truncations(fx, true);
}

/* ------------------------------------------------------------------------ */
/* Malformed header fields                                                   */
/* ------------------------------------------------------------------------ */

struct malformed_case {
	const char *name;
	struct pkt pkt;
	void (*mutate)(struct frame *f);
};

static void ihl_4(struct frame *f)
{
	f->b[f->l3] = 0x44;
}

static void ihl_0(struct frame *f)
{
	f->b[f->l3] = 0x40;
}

static void tot_len_19(struct frame *f)
{
	put16(f->b + f->l3 + 2, 19);
}

static void tot_len_below_options(struct frame *f)
{
	put16(f->b + f->l3 + 2, 20);	/* IHL 6: 24 bytes of header */
}

static void tot_len_beyond_frame(struct frame *f)
{
	put16(f->b + f->l3 + 2, f->len - f->l3 + 1);
}

static void version_6_in_ipv4(struct frame *f)
{
	f->b[f->l3] = 0x65;
}

static void version_4_in_ipv6(struct frame *f)
{
	f->b[f->l3] = 0x40;
}

static void payload_len_beyond_frame(struct frame *f)
{
	put16(f->b + f->l3 + 4, f->len - f->l3 - 40 + 1);
}

static void tcp_doff_4(struct frame *f)
{
	f->b[f->l4 + 12] = 4 << 4;
}

static void tcp_doff_0(struct frame *f)
{
	f->b[f->l4 + 12] = 0;
}

static void tcp_doff_beyond_packet(struct frame *f)
{
	f->b[f->l4 + 12] = 15 << 4;	/* 60 bytes; the packet has 30 */
}

/* The IP packet ends inside the UDP header; the rest looks like padding. */
static void udp_beyond_tot_len(struct frame *f)
{
	put16(f->b + f->l3 + 2, 20 + 4);
}

static void ext_len_beyond_payload(struct frame *f)
{
	f->b[f->l3 + 40 + 1] = 200;	/* hop-by-hop: 1608 bytes */
}

static void ipv4_frame_in_ipv6_ethertype(struct frame *f)
{
	put16(f->b + 12, ETH_TYPE_IP6);
}

static const struct malformed_case malformed_cases[] = {
	{ "malformed_ipv4_ihl_4",
	  { .family = 4, .proto = P_UDP, .dport = 53, .payload = 20 }, ihl_4 },
	{ "malformed_ipv4_ihl_0",
	  { .family = 4, .proto = P_UDP, .dport = 53, .payload = 20 }, ihl_0 },
	{ "malformed_ipv4_tot_len_below_ihl",
	  { .family = 4, .proto = P_UDP, .dport = 53, .payload = 20 }, tot_len_19 },
	{ "malformed_ipv4_tot_len_below_ihl_with_options",
	  { .family = 4, .ihl = 6, .proto = P_UDP, .dport = 53, .payload = 20 },
	  tot_len_below_options },
	{ "malformed_ipv4_tot_len_beyond_frame",
	  { .family = 4, .proto = P_UDP, .dport = 53, .payload = 20 },
	  tot_len_beyond_frame },
	{ "malformed_ipv4_version_6",
	  { .family = 4, .proto = P_UDP, .dport = 53, .payload = 20 },
	  version_6_in_ipv4 },
	{ "malformed_ipv6_version_4",
	  { .family = 6, .proto = P_UDP, .dport = 53, .payload = 20 },
	  version_4_in_ipv6 },
	{ "malformed_ipv4_packet_behind_ipv6_ethertype",
	  { .family = 4, .proto = P_UDP, .dport = 53, .payload = 60 },
	  ipv4_frame_in_ipv6_ethertype },
	{ "malformed_ipv6_payload_len_beyond_frame",
	  { .family = 6, .proto = P_UDP, .dport = 53, .payload = 20 },
	  payload_len_beyond_frame },
	{ "malformed_ipv6_payload_len_beyond_frame_with_ext_headers",
	  { .family = 6, .n_ext = 2, .ext = { P_HOPOPTS, P_DSTOPTS }, .proto = P_UDP,
	    .dport = 53, .payload = 20 }, payload_len_beyond_frame },
	{ "malformed_ipv6_ext_header_longer_than_payload",
	  { .family = 6, .n_ext = 1, .ext = { P_HOPOPTS }, .proto = P_UDP,
	    .dport = 53, .payload = 20 }, ext_len_beyond_payload },
	{ "malformed_ipv4_tcp_doff_4",
	  { .family = 4, .proto = P_TCP, .dport = 80, .tcp_flags = TCP_SYN,
	    .payload = 10 }, tcp_doff_4 },
	{ "malformed_ipv4_tcp_doff_0",
	  { .family = 4, .proto = P_TCP, .dport = 80, .tcp_flags = TCP_SYN,
	    .payload = 10 }, tcp_doff_0 },
	{ "malformed_ipv6_tcp_doff_4",
	  { .family = 6, .proto = P_TCP, .dport = 80, .tcp_flags = TCP_SYN,
	    .payload = 10 }, tcp_doff_4 },
	{ "malformed_tcp_doff_beyond_packet",
	  { .family = 4, .proto = P_TCP, .dport = 80, .tcp_flags = TCP_SYN,
	    .payload = 10 }, tcp_doff_beyond_packet },
	{ "malformed_udp_header_beyond_ipv4_tot_len",
	  { .family = 4, .proto = P_UDP, .dport = 53, .payload = 20 },
	  udp_beyond_tot_len },
	{ "malformed_third_vlan_tag_ipv4",
	  { .n_vlan = 3, .family = 4, .proto = P_UDP, .dport = 53, .payload = 20 } },
	{ "malformed_third_vlan_tag_ipv6",
	  { .n_vlan = 3, .tpid = { ETH_TYPE_8021Q, ETH_TYPE_8021Q, ETH_TYPE_8021Q },
	    .family = 6, .proto = P_UDP, .dport = 53, .payload = 20 } },
	/* Nine extension headers: longer than any chain a real stack sends. */
	{ "malformed_ipv6_chain_of_9_ext_headers",
	  { .family = 6, .n_ext = 9,
	    .ext = { P_HOPOPTS, P_DSTOPTS, P_DSTOPTS, P_DSTOPTS, P_DSTOPTS,
		     P_DSTOPTS, P_DSTOPTS, P_DSTOPTS, P_DSTOPTS },
	    .proto = P_UDP, .dport = 53, .payload = 20 } },
	{ "malformed_ipv6_chain_of_10_ext_headers",
	  { .family = 6, .n_ext = 10,
	    .ext = { P_HOPOPTS, P_ROUTING, P_AH, P_DSTOPTS, P_DSTOPTS, P_DSTOPTS,
		     P_DSTOPTS, P_DSTOPTS, P_DSTOPTS, P_DSTOPTS },
	    .proto = P_TCP, .dport = 80, .tcp_flags = TCP_SYN } },
};

/*
 * Counted malformed, passed under the default policy, dropped under
 * `malformed drop`; never classified, so the catch-all rule never sees it.
 */
static void test_malformed_field_counted_passed_then_dropped(void **state)
{
	struct fx *fx = *state;
	const struct malformed_case *c = fx->param;
	struct frame f;

	build(&c->pkt, &f);
	if (c->mutate)
		c->mutate(&f);

	configure(fx, ALL_RULE);
	assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_MALFORMED, 1);
	assert_cnt_bytes(fx, SL_CNT_MALFORMED, f.len);
	assert_cnt(fx, SL_CNT_PASSED, 1);
	assert_cnt(fx, SL_CNT_NON_IP, 0);

	configure(fx, "malformed drop", ALL_RULE);
	assert_verdict(run_frame(fx, &f), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_MALFORMED, 2);
	assert_cnt(fx, SL_CNT_DROPPED, 1);
	assert_rule(fx, "all", 0, 0, 0, 0);
}

/*
 * parse.bpf.h: "A chain longer than this [SL_MAX_EXT_HDRS = 8] is ... malformed",
 * so 7 and 8 extension headers are chains the parser must finish.
 */
static void test_ipv6_chain_of_8_ext_headers_parses_and_matches(void **state)
{
	struct fx *fx = *state;
	struct pkt p = { .family = 6, .n_ext = 7,
			 .ext = { P_HOPOPTS, P_DSTOPTS, P_ROUTING, P_AH, P_DSTOPTS,
				  P_DSTOPTS, P_DSTOPTS, P_DSTOPTS },
			 .proto = P_UDP, .sport = 1, .dport = 53, .payload = 20 };

	configure(fx, DNS_RULE);
	assert_verdict(send_pkt(fx, &p), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_MALFORMED, 0);
	assert_rule(fx, "dns", 1, 1, 0, 0);

	p.n_ext = 8;
	assert_verdict(send_pkt(fx, &p), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_MALFORMED, 0);
	assert_rule(fx, "dns", 2, 2, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* Non-IP                                                                    */
/* ------------------------------------------------------------------------ */

static void test_arp_passes_untouched_and_counts_non_ip(void **state)
{
	struct fx *fx = *state;
	struct pkt arp = { .family = 0 };
	struct pkt vlan_arp = { .n_vlan = 1, .family = 0 };
	struct frame f;
	int i;

	/* Nothing that limits IP may touch ARP: a catch-all rule with no
	 * budget, a deny of everything, malformed drop. */
	configure(fx, "malformed drop", "deny 0.0.0.0/0", "deny ::/0",
		  "rule all key global rate 1/s burst 1 action drop");
	build(&arp, &f);
	for (i = 0; i < 3; i++)
		assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &vlan_arp), VERDICT_PASS);

	assert_cnt(fx, SL_CNT_NON_IP, 4);
	assert_cnt(fx, SL_CNT_RX, 4);
	assert_cnt_bytes(fx, SL_CNT_NON_IP, 3 * f.len + f.len + 4);
	/* PASSED and DROPPED count IP frames only. */
	assert_cnt(fx, SL_CNT_PASSED, 0);
	assert_cnt(fx, SL_CNT_DROPPED, 0);
	assert_cnt(fx, SL_CNT_DENY, 0);
	assert_cnt(fx, SL_CNT_MALFORMED, 0);
	assert_rule(fx, "all", 0, 0, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* Limits                                                                    */
/* ------------------------------------------------------------------------ */

static const struct pkt dns4 = { .family = 4, .proto = P_UDP, .sport = 5353,
				 .dport = 53, .payload = 30 };

static void test_rate_10_per_s_burst_5_admits_5_then_one_per_100ms(void **state)
{
	struct fx *fx = *state;
	struct frame f;
	int i;

	configure(fx, "rule r1 proto udp dport 53 key src rate 10/s burst 5 action drop");
	build(&dns4, &f);
	set_now(fx, 1 * NS_PER_S);
	for (i = 0; i < 5; i++)
		assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	for (i = 0; i < 3; i++)
		assert_verdict(run_frame(fx, &f), VERDICT_DROP);
	assert_rule(fx, "r1", 8, 5, 3, 3);

	/* 100 ms later exactly one more interval has been earned. */
	set_now(fx, 1 * NS_PER_S + 100 * NS_PER_MS);
	assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	assert_verdict(run_frame(fx, &f), VERDICT_DROP);
	assert_rule(fx, "r1", 10, 6, 4, 4);
	assert_int_equal(rule_count(fx, "r1").bytes, 10 * f.len);

	/* One nanosecond short of the next interval is still too early. */
	set_now(fx, 1 * NS_PER_S + 200 * NS_PER_MS - 1);
	assert_verdict(run_frame(fx, &f), VERDICT_DROP);
	set_now(fx, 1 * NS_PER_S + 200 * NS_PER_MS);
	assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	assert_rule(fx, "r1", 12, 7, 5, 5);

	assert_cnt(fx, SL_CNT_PASSED, 7);
	assert_cnt(fx, SL_CNT_DROPPED, 5);
	assert_cnt(fx, SL_CNT_RATE, 5);
	assert_cnt_bytes(fx, SL_CNT_DROPPED, 5 * f.len);
	assert_cnt(fx, SL_CNT_CAS_EXHAUSTED, 0);
	assert_int_equal(count_keys(fx), 1);
}

static void test_byte_rate_10000B_per_s_burst_3000_admits_three_1000_byte_frames(void **state)
{
	struct fx *fx = *state;
	struct pkt p = dns4;
	struct frame f;
	int i;

	/* 100 us per byte exactly: costs add up with no rounding. */
	configure(fx, "rule bytes proto udp dport 53 key src rate 10000B/s burst 3000 action drop");
	p.frame_len = 1000;
	build(&p, &f);
	assert_int_equal(f.len, 1000);
	for (i = 0; i < 3; i++)
		assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	assert_verdict(run_frame(fx, &f), VERDICT_DROP);
	assert_rule(fx, "bytes", 4, 3, 1, 1);
	assert_int_equal(rule_count(fx, "bytes").bytes, 4000);

	/* 1000 bytes at 10000 B/s take exactly 100 ms to earn back. */
	set_now(fx, NS_PER_S + 100 * NS_PER_MS - 1);
	assert_verdict(run_frame(fx, &f), VERDICT_DROP);
	set_now(fx, NS_PER_S + 100 * NS_PER_MS);
	assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	assert_verdict(run_frame(fx, &f), VERDICT_DROP);
	assert_rule(fx, "bytes", 7, 4, 3, 3);

	/* A small frame fits a budget a large one does not. */
	p.frame_len = 0;
	p.payload = 0;
	set_now(fx, NS_PER_S + 105 * NS_PER_MS);
	assert_verdict(send_pkt(fx, &p), VERDICT_PASS);
	assert_verdict(run_frame(fx, &f), VERDICT_DROP);
}

/*
 * 12000 B/s is 83333.3 ns per byte: each frame's cost is rounded up to the
 * next nanosecond, so a limit is never exceeded. A 1000-byte frame costs
 * 83333334 ns, the burst of 3000 bytes 250000001 ns: three frames at one
 * instant are 1 ns too many, and the third goes through 1 ns later.
 */
static void test_byte_rate_uneven_interval_rounds_each_frame_up(void **state)
{
	struct fx *fx = *state;
	struct pkt p = dns4;
	struct frame f;

	configure(fx, "rule bytes proto udp dport 53 key src rate 12000B/s burst 3000 action drop");
	p.frame_len = 1000;
	build(&p, &f);
	assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	assert_verdict(run_frame(fx, &f), VERDICT_DROP);
	set_now(fx, NS_PER_S + 1);
	assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	assert_verdict(run_frame(fx, &f), VERDICT_DROP);
	assert_rule(fx, "bytes", 5, 3, 2, 2);
}

static void test_action_pass_rule_never_drops_counts_limited(void **state)
{
	struct fx *fx = *state;
	int i;

	configure(fx, "rule dry proto udp dport 53 key src rate 10/s burst 5 action pass");
	for (i = 0; i < 10; i++)
		assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_rule(fx, "dry", 10, 10, 0, 5);
	assert_cnt(fx, SL_CNT_RATE, 5);
	assert_cnt(fx, SL_CNT_PASSED, 10);
	assert_cnt(fx, SL_CNT_DROPPED, 0);
}

static void test_global_dry_run_drops_nothing_counts_everything(void **state)
{
	struct fx *fx = *state;
	struct pkt denied = dns4, bad = dns4;
	struct frame f;
	int i;

	configure(fx, "malformed drop", "deny 203.0.113.0/24",
		  "rule r1 proto udp dport 53 key src rate 10/s burst 5 action drop");
	assert_int_equal(ruleset__set_dry_run(&fx->maps, true), 0);
	assert_int_equal(read_cfg(fx).dry_run, 1);

	for (i = 0; i < 10; i++)
		assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_rule(fx, "r1", 10, 10, 0, 5);
	assert_cnt(fx, SL_CNT_RATE, 5);

	denied.src = "203.0.113.9";
	assert_verdict(send_pkt(fx, &denied), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_DENY, 1);

	bad.n_vlan = 3;
	build(&bad, &f);
	assert_verdict(run_frame(fx, &f), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_MALFORMED, 1);

	assert_cnt(fx, SL_CNT_DROPPED, 0);
	assert_cnt(fx, SL_CNT_PASSED, 12);

	/* A reload keeps the operator's dry run on. */
	apply(fx);
	assert_int_equal(read_cfg(fx).dry_run, 1);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);

	/* And turning it off enforces again, on the same budget. */
	assert_int_equal(ruleset__set_dry_run(&fx->maps, false), 0);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &denied), VERDICT_DROP);
	assert_verdict(run_frame(fx, &f), VERDICT_DROP);
	assert_rule(fx, "r1", 12, 11, 1, 7);
	assert_cnt(fx, SL_CNT_DROPPED, 3);
}

/*
 * Several rates on one rule must all hold, and a packet that one of them
 * refuses is dropped: it was not admitted, so it must not spend the others
 * (sluice_limiter.h: "0 (state unchanged) if not"). Limit A is 1/s burst 10,
 * limit B 10/s burst 2. At t=1s two packets pass and eight more are refused
 * by B. At t=1.2s B has earned its burst back, and A, having admitted only
 * two packets, has room for eight more: the next packet must pass.
 */
static void test_rule_with_two_rates_refused_packet_spends_neither(void **state)
{
	struct fx *fx = *state;
	int i;

	configure(fx, "rule two proto udp dport 53 key src rate 1/s burst 10 rate 10/s burst 2 action drop");
	for (i = 0; i < 10; i++)
		assert_verdict(send_pkt(fx, &dns4), i < 2 ? VERDICT_PASS : VERDICT_DROP);
	assert_rule(fx, "two", 10, 2, 8, 8);

	set_now(fx, NS_PER_S + 200 * NS_PER_MS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_rule(fx, "two", 13, 4, 9, 9);
}

/*
 * Rules are walked in rule-set order; a limited rule with action drop ends
 * the walk. Loose first: both see every packet, the tight one decides.
 */
static void test_two_matching_rules_pass_only_if_both_conform(void **state)
{
	struct fx *fx = *state;
	int i;

	configure(fx, "rule loose proto udp dport 53 key src rate 100/s burst 10 action drop",
		  "rule tight proto udp key src rate 10/s burst 2 action drop");
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	for (i = 0; i < 3; i++)
		assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_rule(fx, "loose", 5, 5, 0, 0);
	assert_rule(fx, "tight", 5, 2, 3, 3);
	assert_cnt(fx, SL_CNT_RATE, 3);
	assert_cnt(fx, SL_CNT_DROPPED, 3);
}

/* The other order: the tight rule drops first and the loose one is not charged. */
static void test_rule_that_drops_ends_walk_later_rules_not_charged(void **state)
{
	struct fx *fx = *state;
	int i;

	configure(fx, "rule tight proto udp key src rate 10/s burst 2 action drop",
		  "rule loose proto udp dport 53 key src rate 100/s burst 10 action drop");
	for (i = 0; i < 5; i++)
		assert_verdict(send_pkt(fx, &dns4), i < 2 ? VERDICT_PASS : VERDICT_DROP);
	assert_rule(fx, "tight", 5, 2, 3, 3);
	assert_rule(fx, "loose", 2, 2, 0, 0);
}

static void test_syn_rule_sees_only_syn_without_ack(void **state)
{
	struct fx *fx = *state;
	struct pkt syn = { .family = 4, .proto = P_TCP, .sport = 40000, .dport = 22,
			   .tcp_flags = TCP_SYN };
	struct pkt ack = syn, synack = syn, syn6 = syn;
	int i;

	ack.tcp_flags = TCP_ACK;
	synack.tcp_flags = TCP_SYN | TCP_ACK;
	syn6.family = 6;
	configure(fx, "rule ssh proto tcp dport 22 syn key src rate 10/s burst 1 action drop");
	assert_verdict(send_pkt(fx, &syn), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &syn), VERDICT_DROP);
	/* The budget is spent, yet the rule does not see ACKs at all. */
	for (i = 0; i < 3; i++) {
		assert_verdict(send_pkt(fx, &ack), VERDICT_PASS);
		assert_verdict(send_pkt(fx, &synack), VERDICT_PASS);
	}
	assert_rule(fx, "ssh", 2, 1, 1, 1);
	assert_verdict(send_pkt(fx, &syn6), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &syn6), VERDICT_DROP);
	assert_rule(fx, "ssh", 4, 2, 2, 2);
}

static void test_key_src_prefix4_24_shares_budget_within_slash_24(void **state)
{
	struct fx *fx = *state;

	configure(fx, "rule r1 proto udp dport 53 key src prefix4 24 rate 10/s burst 2 action drop");
	assert_verdict(send_from(fx, &dns4, "10.0.0.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.0.0.200"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.0.0.2"), VERDICT_DROP);
	assert_verdict(send_from(fx, &dns4, "10.0.0.255"), VERDICT_DROP);
	assert_verdict(send_from(fx, &dns4, "10.0.1.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.0.1.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.0.1.77"), VERDICT_DROP);
	assert_rule(fx, "r1", 7, 4, 3, 3);
	assert_int_equal(count_keys(fx), 2);
}

/* A prefix that ends inside a byte: 10.0.0.0/20 is 10.0.0.0 .. 10.0.15.255. */
static void test_key_src_prefix4_20_masks_inside_a_byte(void **state)
{
	struct fx *fx = *state;

	configure(fx, "rule r1 proto udp dport 53 key src prefix4 20 rate 10/s burst 2 action drop");
	assert_verdict(send_from(fx, &dns4, "10.0.0.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.0.15.255"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.0.8.8"), VERDICT_DROP);
	assert_verdict(send_from(fx, &dns4, "10.0.16.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.0.31.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.0.16.0"), VERDICT_DROP);
	assert_rule(fx, "r1", 6, 4, 2, 2);
	assert_int_equal(count_keys(fx), 2);
}

static void test_key_src_prefix6_64_shares_budget_within_slash_64(void **state)
{
	struct fx *fx = *state;
	struct pkt p = dns4;

	p.family = 6;
	configure(fx, "rule r1 proto udp dport 53 key src prefix6 64 rate 10/s burst 2 action drop");
	assert_verdict(send_from(fx, &p, "2001:db8:1:2::1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &p, "2001:db8:1:2:a:b:c:d"), VERDICT_PASS);
	assert_int_equal(send_from(fx, &p, "2001:db8:1:2:ffff:ffff:ffff:ffff"),
			 VERDICT_DROP);
	assert_verdict(send_from(fx, &p, "2001:db8:1:3::1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &p, "2001:db8:1:3::2"), VERDICT_PASS);
	assert_verdict(send_from(fx, &p, "2001:db8:1:3::3"), VERDICT_DROP);
	/* IPv4 sources keep their full /32 under a prefix6-only aggregate. */
	assert_verdict(send_from(fx, &dns4, "10.0.0.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.0.0.2"), VERDICT_PASS);
	assert_rule(fx, "r1", 8, 6, 2, 2);
	assert_int_equal(count_keys(fx), 4);
}

static void test_key_global_one_budget_for_every_source(void **state)
{
	struct fx *fx = *state;
	struct pkt v6 = dns4;

	v6.family = 6;
	configure(fx, "rule g proto udp dport 53 key global rate 10/s burst 3 action drop");
	assert_verdict(send_from(fx, &dns4, "192.0.2.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "198.51.100.7"), VERDICT_PASS);
	assert_verdict(send_from(fx, &v6, "2001:db8::5"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "203.0.113.200"), VERDICT_DROP);
	assert_verdict(send_from(fx, &v6, "2001:db8::6"), VERDICT_DROP);
	assert_rule(fx, "g", 5, 3, 2, 2);
	assert_int_equal(count_keys(fx), 1);
}

static void test_key_dport_one_budget_per_destination_port(void **state)
{
	struct fx *fx = *state;
	struct pkt p53 = dns4, p54 = dns4;

	p54.dport = 54;
	configure(fx, "rule d proto udp dport 53,54 key dport rate 10/s burst 2 action drop");
	assert_verdict(send_from(fx, &p53, "192.0.2.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &p53, "192.0.2.2"), VERDICT_PASS);
	assert_verdict(send_from(fx, &p53, "192.0.2.3"), VERDICT_DROP);
	assert_verdict(send_from(fx, &p54, "192.0.2.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &p54, "192.0.2.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &p54, "192.0.2.4"), VERDICT_DROP);
	assert_rule(fx, "d", 6, 4, 2, 2);
	assert_int_equal(count_keys(fx), 2);
}

/* ------------------------------------------------------------------------ */
/* Allow and deny sets                                                       */
/* ------------------------------------------------------------------------ */

#define TIGHT_DNS "rule r1 proto udp dport 53 key src rate 10/s burst 1 action drop"

static void test_allow_listed_source_skips_rules_counted_allow(void **state)
{
	struct fx *fx = *state;
	int i;

	configure(fx, "allow 192.0.2.0/28", TIGHT_DNS);
	for (i = 0; i < 3; i++)
		assert_verdict(send_from(fx, &dns4, "192.0.2.15"), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_ALLOW, 3);
	assert_rule(fx, "r1", 0, 0, 0, 0);
	assert_int_equal(count_keys(fx), 0);
	/* Just outside the /28 the rule applies. */
	assert_verdict(send_from(fx, &dns4, "192.0.2.16"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "192.0.2.16"), VERDICT_DROP);
	assert_rule(fx, "r1", 2, 1, 1, 1);
	assert_cnt(fx, SL_CNT_ALLOW, 3);
	assert_cnt(fx, SL_CNT_PASSED, 4);
}

static void test_deny_listed_source_dropped_counted_deny(void **state)
{
	struct fx *fx = *state;

	configure(fx, "deny 203.0.113.0/24", TIGHT_DNS);
	assert_verdict(send_from(fx, &dns4, "203.0.113.1"), VERDICT_DROP);
	assert_verdict(send_from(fx, &dns4, "203.0.113.255"), VERDICT_DROP);
	assert_verdict(send_from(fx, &dns4, "203.0.114.1"), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_DENY, 2);
	assert_cnt(fx, SL_CNT_DROPPED, 2);
	assert_cnt(fx, SL_CNT_PASSED, 1);
	assert_rule(fx, "r1", 1, 1, 0, 0);
}

static void test_allow_wins_over_more_specific_deny_inside_it(void **state)
{
	struct fx *fx = *state;

	configure(fx, "allow 10.0.0.0/8", "deny 10.1.0.0/16", TIGHT_DNS);
	assert_verdict(send_from(fx, &dns4, "10.1.2.3"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.1.2.3"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.2.0.1"), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_ALLOW, 3);
	assert_cnt(fx, SL_CNT_DENY, 0);
	assert_rule(fx, "r1", 0, 0, 0, 0);
}

static void test_more_specific_allow_inside_deny_passes(void **state)
{
	struct fx *fx = *state;

	configure(fx, "deny 10.0.0.0/8", "allow 10.1.0.0/16", TIGHT_DNS);
	assert_verdict(send_from(fx, &dns4, "10.1.2.3"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.1.2.3"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "10.2.0.1"), VERDICT_DROP);
	assert_verdict(send_from(fx, &dns4, "10.255.255.255"), VERDICT_DROP);
	assert_verdict(send_from(fx, &dns4, "11.0.0.1"), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_ALLOW, 2);
	assert_cnt(fx, SL_CNT_DENY, 2);
	assert_rule(fx, "r1", 1, 1, 0, 0);
}

static void test_ipv6_allow_and_deny_sets(void **state)
{
	struct fx *fx = *state;
	struct pkt p = dns4;

	p.family = 6;
	configure(fx, "allow 2001:db8:a::/48", "deny 2001:db8:d::/48",
		  "deny 2001:db8:e::/48", "allow 2001:db8:e:1::/64",
		  "allow 2001:db8:f::/48", "deny 2001:db8:f:1::/64",
		  "deny 10.0.0.0/8", TIGHT_DNS);
	/* Allowed: passes a rule with a budget of one, twice. */
	assert_verdict(send_from(fx, &p, "2001:db8:a::1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &p, "2001:db8:a:ffff::1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &p, "2001:db8:d::1"), VERDICT_DROP);
	/* Allow inside deny; deny inside allow. */
	assert_verdict(send_from(fx, &p, "2001:db8:e:1::9"), VERDICT_PASS);
	assert_verdict(send_from(fx, &p, "2001:db8:e:2::9"), VERDICT_DROP);
	assert_verdict(send_from(fx, &p, "2001:db8:f:1::9"), VERDICT_PASS);
	/* An IPv4 deny says nothing about IPv6. */
	assert_verdict(send_from(fx, &p, "::ffff:10.0.0.1"), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_ALLOW, 4);
	assert_cnt(fx, SL_CNT_DENY, 2);
	assert_rule(fx, "r1", 1, 1, 0, 0);
}

static void test_rule_from_cidr_applies_only_to_those_sources(void **state)
{
	struct fx *fx = *state;
	struct pkt v6 = dns4;

	v6.family = 6;
	configure(fx, "rule r1 proto udp dport 53 from 192.0.2.0/24 key src rate 10/s burst 1 action drop",
		  "deny 192.0.2.128/25");
	assert_verdict(send_from(fx, &dns4, "192.0.2.7"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "192.0.2.7"), VERDICT_DROP);
	assert_verdict(send_from(fx, &dns4, "192.0.2.8"), VERDICT_PASS);
	/* The deny inside the "from" CIDR still denies. */
	assert_verdict(send_from(fx, &dns4, "192.0.2.200"), VERDICT_DROP);
	assert_rule(fx, "r1", 3, 2, 1, 1);
	assert_cnt(fx, SL_CNT_DENY, 1);
	/* Outside the CIDR, either family, the rule is not there. */
	assert_verdict(send_from(fx, &dns4, "198.51.100.7"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "198.51.100.7"), VERDICT_PASS);
	assert_verdict(send_from(fx, &v6, "2001:db8::7"), VERDICT_PASS);
	assert_verdict(send_from(fx, &v6, "2001:db8::7"), VERDICT_PASS);
	assert_rule(fx, "r1", 3, 2, 1, 1);
}

/*
 * A refusal that will hold for a while is remembered per CPU, and repeats
 * are refused without the rule walk. The probe: forget the key's state
 * behind the program's back. A walk would find a fresh key and admit; the
 * remembered refusal drops, counted as the walk counts, and ends by the
 * time the limit would have let the next packet in.
 */
static void test_remembered_refusal_repeats_until_the_rate_allows(void **state)
{
	struct fx *fx = *state;
	struct pkt other_port = dns4, other_src = dns4;
	struct sl_key key, next;

	configure(fx, "rule r1 proto udp dport 53 key src rate 10/s burst 1 action drop");
	set_now(fx, NS_PER_S);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_int_equal(bpf_map_get_next_key(fx->maps.keys, NULL, &next), 0);
	key = next;
	assert_int_equal(bpf_map_delete_elem(fx->maps.keys, &key), 0);

	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_int_equal(count_keys(fx), 0);
	assert_rule(fx, "r1", 3, 1, 2, 2);
	assert_cnt(fx, SL_CNT_RATE, 2);
	assert_cnt(fx, SL_CNT_DROPPED, 2);

	/* Only the same shape of packet: another port or source walks. */
	other_port.dport = 54;
	assert_verdict(send_pkt(fx, &other_port), VERDICT_PASS);
	other_src.src = "192.0.2.77";
	assert_verdict(send_pkt(fx, &other_src), VERDICT_PASS);

	/* Remembered in units of 2^SL_REFUSAL_TIME_SHIFT ns, rounded down:
	 * it may end up to one unit early (the walk then decides), never
	 * late. */
	set_now(fx, NS_PER_S + 100 * NS_PER_MS - (1 << SL_REFUSAL_TIME_SHIFT) - 1);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	set_now(fx, NS_PER_S + 100 * NS_PER_MS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
}

/* The set refusal_set() picks for an IPv4 source and a port. */
static __u32 refusal_set_of(struct fx *fx, const char *src, __u16 dport)
{
	__u32 words[4] = {}, h = 0, bits = fx->skel->rodata->sl_refusal_bits;
	int i;

	assert_int_equal(inet_pton(AF_INET, src, words), 1);
	for (i = 0; i < 4; i++)
		h ^= words[i];
	h = (h ^ dport) * 0x9e3779b1u;
	return h >> (32 - bits);
}

/*
 * Two sources whose refusals fall in one set are both remembered (a set
 * has two ways): the probe, forgetting their keys, finds both refused
 * from memory. A third takes the way that lapses first.
 */
static void test_remembered_refusals_share_a_set(void **state)
{
	struct fx *fx = *state;
	struct pkt a = dns4, b = dns4, c = dns4;
	char names[3][INET_ADDRSTRLEN];
	__u32 want, n, found = 0;

	want = refusal_set_of(fx, DEFAULT_SRC4, dns4.dport);
	for (n = 2; n < 65536 && found < 2; n++) {
		snprintf(names[found + 1], sizeof(names[0]), "198.18.%u.%u", n >> 8, n & 255);
		if (refusal_set_of(fx, names[found + 1], dns4.dport) == want)
			found++;
	}
	assert_int_equal(found, 2);
	b.src = names[1];
	c.src = names[2];

	configure(fx, "rule r1 proto udp dport 53 key src rate 1/m burst 1 action drop");
	set_now(fx, NS_PER_S);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &a), VERDICT_DROP);
	set_now(fx, 2 * NS_PER_S);
	assert_verdict(send_pkt(fx, &b), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &b), VERDICT_DROP);
	clear_keys(fx);
	assert_verdict(send_pkt(fx, &a), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &b), VERDICT_DROP);
	assert_int_equal(count_keys(fx), 0);

	/* c evicts a, whose refusal ends a second before b's. */
	assert_verdict(send_pkt(fx, &c), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &c), VERDICT_DROP);
	clear_keys(fx);
	assert_verdict(send_pkt(fx, &b), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &c), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
}

/* This CPU's remembered refusal of src, port 53: its end on the kernel
 * clock (rounded down, as the entry keeps it) and its jiffy deadline. */
static void read_refusal(struct fx *fx, const char *src, __u64 *end, __u32 *until_jiffies)
{
	__u32 bits = fx->skel->rodata->sl_refusal_bits, index, way, now_units;
	struct sl_refusal_set set;
	__u8 saddr[16] = {};
	__u64 now = monotonic_ns();

	index = (__u32)sched_getcpu() << bits | refusal_set_of(fx, src, 53);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.sl_refusals),
					     &index, &set), 0);
	assert_int_equal(inet_pton(AF_INET, src, saddr), 1);
	for (way = 0; way < SL_REFUSAL_WAYS; way++)
		if (!memcmp(set.way[way].saddr, saddr, sizeof(saddr)) && set.way[way].until)
			break;
	assert_in_range(way, 0, SL_REFUSAL_WAYS - 1);
	now_units = now >> SL_REFUSAL_TIME_SHIFT;
	*end = now + ((__s64)(__s32)(set.way[way].until - now_units) << SL_REFUSAL_TIME_SHIFT) -
	       (now & ((1u << SL_REFUSAL_TIME_SHIFT) - 1));
	*until_jiffies = set.way[way].until_jiffies;
}

/*
 * Sends the refused packet again and again, the key forgotten so that
 * the first walk admits, until one passes: when the last one dropped was
 * sent, on the kernel clock.
 */
static __u64 last_refused_repeat(struct fx *fx, __u64 give_up)
{
	__u64 sent, last_drop = 0;
	int verdict;

	clear_keys(fx);
	for (;;) {
		sent = monotonic_ns();
		assert_true(sent < give_up);
		verdict = send_pkt(fx, &dns4);
		if (verdict == VERDICT_PASS)
			return last_drop;
		assert_verdict(verdict, VERDICT_DROP);
		last_drop = sent;
	}
}

/* The kernel's tick, as the controller records it when it applies a rule set. */
static __u64 kernel_tick(struct fx *fx)
{
	__u64 tick;

	configure(fx, "rule r1 proto udp dport 53 key src rate 1/s action drop");
	tick = read_cfg(fx).tick_ns;
	assert_true(tick > 0);
	return tick;
}

/* A rule whose tokens come four to a tick (cfg.tick_ns). */
static const char *quarter_tick_rule(char rule[128], __u64 tick, int burst)
{
	snprintf(rule, 128, "rule r1 proto udp dport 53 key src rate %llu/s burst %d action drop",
		 (unsigned long long)(4 * NS_PER_S / tick), burst);
	return rule;
}

/*
 * On the kernel clock: a refusal whose key has a tick of slack (burst
 * beyond the packet it refused) ends by a jiffy deadline, within a tick
 * either side of its end, so that most repeats read no clock; the key
 * loses no credit by it. Without the slack, a refusal shorter than a tick
 * asks the clock at every repeat and ends on time. The token here is due
 * a quarter tick after the refusal, so a deadline passes after the end
 * unless the refusal came in the last quarter of a tick; a trial after
 * the first starts just after one has passed.
 */
static void test_refusal_with_slack_ends_by_jiffies(void **state)
{
	struct fx *fx = *state;
	__u64 tick, end, last_drop;
	int trial, late = 0;
	__u32 until_jiffies;
	char rule[128];

	tick = kernel_tick(fx);
	configure(fx, quarter_tick_rule(rule, tick, 100));
	for (trial = 0; trial < 4; trial++) {
		while (send_pkt(fx, &dns4) == VERDICT_PASS)
			;
		read_refusal(fx, DEFAULT_SRC4, &end, &until_jiffies);
		last_drop = last_refused_repeat(fx, end + 20 * tick);
		print_message("burst 100: refused until %.3f ms, last repeat refused at %.3f ms\n",
			      end / 1e6, last_drop / 1e6);
		assert_int_not_equal(until_jiffies, 0);
		assert_true(last_drop < end + tick);
		late += last_drop > end;
	}
	assert_true(late > 0);

	configure(fx, quarter_tick_rule(rule, tick, 1));
	while (send_pkt(fx, &dns4) == VERDICT_PASS)
		;
	read_refusal(fx, DEFAULT_SRC4, &end, &until_jiffies);
	last_drop = last_refused_repeat(fx, end + 20 * tick);
	assert_int_equal(until_jiffies, 0);
	assert_true(last_drop < end);
}

/*
 * A flood of 50 ticks against refusals that end late, with a burst whose
 * slack is just the tick they may be late by: by its last admission the
 * key was admitted its burst and every token due by then (those a late
 * refusal held back pass together when it ends), and never more than
 * burst + rate x T.
 */
static void test_late_refusals_cost_the_key_no_credit(void **state)
{
	struct fx *fx = *state;
	__u64 tick, first, last, last_admitted = 0, rate, admitted = 0;
	char rule[128];

	tick = kernel_tick(fx);
	rate = 4 * NS_PER_S / tick;
	configure(fx, quarter_tick_rule(rule, tick, 5));
	first = monotonic_ns();
	do {
		last = monotonic_ns();
		if (send_pkt(fx, &dns4) == VERDICT_PASS) {
			admitted++;
			last_admitted = last;
		}
	} while (last < first + 50 * tick);
	print_message("admitted %llu: due by the last admission %llu, by the end %llu\n",
		      (unsigned long long)admitted,
		      (unsigned long long)(5 + rate * (last_admitted - first) / NS_PER_S),
		      (unsigned long long)(5 + rate * (last - first) / NS_PER_S));
	assert_true(admitted + 1 >= 5 + rate * (last_admitted - first) / NS_PER_S);
	assert_true(admitted <= 5 + rate * (last - first) / NS_PER_S + 1);
}

/* A new rule set, a new set entry or a dry run is obeyed at once. */
static void test_remembered_refusal_forgotten_on_reload_and_dry_run(void **state)
{
	struct fx *fx = *state;

	configure(fx, "rule r1 proto udp dport 53 key src rate 1/m burst 1 action drop");
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);

	assert_int_equal(ruleset__set_dry_run(&fx->maps, true), 0);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_int_equal(ruleset__set_dry_run(&fx->maps, false), 0);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);

	configure(fx, "rule r1 proto udp dport 53 key src rate 1/m burst 1 action drop",
		  "allow " DEFAULT_SRC4 "/32");
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_ALLOW, 1);
}

/* Rules whose refusal is more than a rate's drop are never remembered. */
static void test_refusals_of_windows_and_rejects_always_walk(void **state)
{
	static const char *const rules[] = {
		"rule w1 proto udp dport 53 key src window 1/m action drop",
		"rule r1 proto udp dport 53 key src rate 1/m burst 1 action reject",
	};
	struct fx *fx = *state;
	struct xdp_out out;
	struct sl_key key;
	struct frame f;
	size_t i;

	build(&dns4, &f);
	for (i = 0; i < ARRAY_SIZE(rules); i++) {
		configure(fx, rules[i]);
		assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
		run_xdp(fx, f.b, f.len, &out);
		assert_int_not_equal(out.verdict, VERDICT_PASS);
		/* Every key: the previous rule's is still there, and which one
		 * comes first depends on the map's random hash seed. */
		assert_int_equal(bpf_map_get_next_key(fx->maps.keys, NULL, &key), 0);
		do
			assert_int_equal(bpf_map_delete_elem(fx->maps.keys, &key), 0);
		while (!bpf_map_get_next_key(fx->maps.keys, NULL, &key));
		assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	}
}

/* ------------------------------------------------------------------------ */
/* Reloads and generations                                                   */
/* ------------------------------------------------------------------------ */

#define R1_DNS "rule r1 proto udp dport 53 key src rate 10/s burst 2 action drop"

static void test_reload_keeps_budgets_and_counters(void **state)
{
	struct fx *fx = *state;
	struct sl_config back;
	struct sl_error err = {};
	struct sl_rule_counter before, after;
	unsigned pos;
	__u32 slot;
	size_t i;

	configure(fx, R1_DNS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_rule(fx, "r1", 3, 2, 1, 1);
	before = rule_count(fx, "r1");
	slot = rule_slot(fx, "r1", &pos);
	assert_int_equal(pos, 0);

	/* Set B: a new rule in front, r1 unchanged, sets and a policy. */
	configure(fx, "rule r0 proto tcp dport 80 key src rate 10/s burst 5 action drop",
		  R1_DNS, "allow 10.9.0.0/16", "deny 203.0.113.0/24",
		  "allow 2001:db8:a::/48", "malformed drop");
	assert_int_equal(rule_slot(fx, "r1", &pos), slot);
	assert_int_equal(pos, 1);
	assert_true(rule_slot(fx, "r0", NULL) != slot);
	after = rule_count(fx, "r1");
	assert_memory_equal(&before, &after, sizeof(before));
	assert_rule(fx, "r0", 0, 0, 0, 0);

	/* Same instant: the budget spent before the reload is still spent. */
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_rule(fx, "r1", 4, 2, 2, 2);
	set_now(fx, NS_PER_S + 100 * NS_PER_MS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);

	config_init(&back);
	if (ruleset__read(&fx->maps, &back, &err))
		fail_msg("ruleset__read: %s", err.msg);
	assert_int_equal(back.n_rules, 2);
	for (i = 0; i < 2; i++) {
		assert_string_equal(back.rules[i].name, fx->conf.rules[i].name);
		assert_string_equal(back.rules[i].text, fx->conf.rules[i].text);
	}
	assert_int_equal(back.malformed, SL_MALFORMED_DROP);
	assert_int_equal(back.n_allow, 2);
	assert_int_equal(back.n_deny, 1);
	for (i = 0; i < back.n_allow; i++) {
		const struct sl_cidr *c = &back.allow[i];
		char text[64];

		config_format_cidr(c, text, sizeof(text));
		if (strcmp(text, "10.9.0.0/16") && strcmp(text, "2001:db8:a::/48"))
			fail_msg("ruleset__read: unexpected allow %s", text);
	}
	{
		char text[64];

		config_format_cidr(&back.deny[0], text, sizeof(text));
		assert_string_equal(text, "203.0.113.0/24");
	}
	config_free(&back);
}

/* A new key means new state: the budget starts full, the counters go on. */
static void test_reload_with_changed_key_starts_fresh_budget(void **state)
{
	struct fx *fx = *state;

	configure(fx, R1_DNS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	configure(fx, "rule r1 proto udp dport 53 key global rate 10/s burst 2 action drop");
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_rule(fx, "r1", 4, 3, 1, 1);
}

/* A slot freed by a deleted rule is handed to the next new rule zeroed. */
static void test_reload_new_rule_in_freed_slot_starts_at_zero(void **state)
{
	struct fx *fx = *state;
	__u32 old_slot;

	configure(fx, R1_DNS,
		  "rule r2 proto tcp dport 80 key src rate 10/s burst 2 action drop");
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	old_slot = rule_slot(fx, "r1", NULL);

	configure(fx, "rule r2 proto tcp dport 80 key src rate 10/s burst 2 action drop");
	configure(fx, "rule r2 proto tcp dport 80 key src rate 10/s burst 2 action drop",
		  "rule r3 proto udp dport 53 key src rate 10/s burst 2 action drop");
	assert_int_equal(rule_slot(fx, "r3", NULL), old_slot);
	assert_rule(fx, "r3", 0, 0, 0, 0);
	/* And r3 is a new rule: r1's spent budget is not its budget. */
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_rule(fx, "r3", 1, 1, 0, 0);
}

static void test_each_apply_flips_generation(void **state)
{
	struct fx *fx = *state;
	struct sl_cfg cfg;
	unsigned i;

	/* sl_cfg.gen counts the rule sets applied; gen & 1 is the live slot. */
	assert_int_equal(read_cfg(fx).gen, 0);
	for (i = 1; i <= 5; i++) {
		char line[128];

		snprintf(line, sizeof(line),
			 "rule r%u proto udp dport %u key src rate 10/s burst 1 action drop",
			 i, 1000 + i);
		conf_lines(fx, (const char *const[]){ line, NULL });
		apply(fx);
		cfg = read_cfg(fx);
		assert_int_equal(cfg.gen, i);
		assert_int_equal(cfg.gen & 1, i & 1);
		assert_int_equal(cfg.hdr[i & 1].n_rules, i);
		assert_int_equal(cfg.hdr[i & 1].active, (1ull << i) - 1);
		/* The slot left behind still holds the previous set, untouched. */
		assert_int_equal(cfg.hdr[!(i & 1)].n_rules, i - 1);
		/* The generation now live is the one the data path reads. */
		{
			struct pkt p = dns4;

			p.dport = 1000 + i;
			assert_verdict(send_pkt(fx, &p), VERDICT_PASS);
			assert_verdict(send_pkt(fx, &p), VERDICT_DROP);
		}
	}
}

/* Entries of a set applied two flips ago must not come back with its generation. */
static void test_reload_clears_stale_set_entries_of_reused_generation(void **state)
{
	struct fx *fx = *state;

	configure(fx, "deny 10.0.0.0/8", "deny 2001:db8:d::/48");
	assert_verdict(send_from(fx, &dns4, "10.1.2.3"), VERDICT_DROP);
	configure(fx, "malformed pass");
	configure(fx, "allow 192.0.2.0/24");
	/* Three applies: the live slot is the one the deny set was written to. */
	assert_int_equal(read_cfg(fx).gen, 3);
	assert_verdict(send_from(fx, &dns4, "10.1.2.3"), VERDICT_PASS);
	{
		struct pkt p = dns4;

		p.family = 6;
		assert_verdict(send_from(fx, &p, "2001:db8:d::1"), VERDICT_PASS);
	}
	assert_cnt(fx, SL_CNT_DENY, 1);
}

/* ------------------------------------------------------------------------ */

static const struct CMUnitTest parse_tests[] = {
	TEST(test_ipv4_options_ihl_6_to_15_ports_read),
	TEST(test_ipv4_first_fragment_carries_ports_and_matches_dport_rule),
	TEST(test_ipv6_first_fragment_carries_ports_and_matches_dport_rule),
	TEST(test_ipv4_later_fragments_match_by_protocol_never_malformed),
	TEST(test_ipv6_later_fragments_match_by_protocol_never_malformed),
	TEST(test_truncated_frames_pass_and_count_malformed_exactly),
	TEST(test_truncated_frames_dropped_under_malformed_drop),
};

static const struct CMUnitTest policy_tests[] = {
	TEST(test_ipv6_chain_of_8_ext_headers_parses_and_matches),
	TEST(test_arp_passes_untouched_and_counts_non_ip),

	TEST(test_rate_10_per_s_burst_5_admits_5_then_one_per_100ms),
	TEST(test_byte_rate_10000B_per_s_burst_3000_admits_three_1000_byte_frames),
	TEST(test_byte_rate_uneven_interval_rounds_each_frame_up),
	TEST(test_action_pass_rule_never_drops_counts_limited),
	TEST(test_global_dry_run_drops_nothing_counts_everything),
	TEST(test_rule_with_two_rates_refused_packet_spends_neither),
	TEST(test_two_matching_rules_pass_only_if_both_conform),
	TEST(test_rule_that_drops_ends_walk_later_rules_not_charged),
	TEST(test_syn_rule_sees_only_syn_without_ack),
	TEST(test_key_src_prefix4_24_shares_budget_within_slash_24),
	TEST(test_key_src_prefix4_20_masks_inside_a_byte),
	TEST(test_key_src_prefix6_64_shares_budget_within_slash_64),
	TEST(test_key_global_one_budget_for_every_source),
	TEST(test_key_dport_one_budget_per_destination_port),

	TEST(test_allow_listed_source_skips_rules_counted_allow),
	TEST(test_deny_listed_source_dropped_counted_deny),
	TEST(test_allow_wins_over_more_specific_deny_inside_it),
	TEST(test_more_specific_allow_inside_deny_passes),
	TEST(test_ipv6_allow_and_deny_sets),
	TEST(test_rule_from_cidr_applies_only_to_those_sources),

	TEST(test_remembered_refusal_repeats_until_the_rate_allows),
	TEST(test_remembered_refusal_forgotten_on_reload_and_dry_run),
	TEST(test_remembered_refusals_share_a_set),
	{ "refusal_with_slack_ends_by_jiffies", test_refusal_with_slack_ends_by_jiffies,
	  setup_kernel_clock, teardown, NULL },
	{ "late_refusals_cost_the_key_no_credit", test_late_refusals_cost_the_key_no_credit,
	  setup_kernel_clock, teardown, NULL },
	TEST(test_refusals_of_windows_and_rejects_always_walk),
	TEST(test_reload_keeps_budgets_and_counters),
	TEST(test_reload_with_changed_key_starts_fresh_budget),
	TEST(test_reload_new_rule_in_freed_slot_starts_at_zero),
	TEST(test_each_apply_flips_generation),
	TEST(test_reload_clears_stale_set_entries_of_reused_generation),
};

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(path_cases) + ARRAY_SIZE(parse_tests) +
				ARRAY_SIZE(malformed_cases) + ARRAY_SIZE(policy_tests)];
	size_t n = 0, i;

	/* Table rows become tests of their own, named by the row. */
	for (i = 0; i < ARRAY_SIZE(path_cases); i++)
		tests[n++] = (struct CMUnitTest){ path_cases[i].name,
			test_header_path_passes_and_matches_rule, setup, teardown,
			(void *)&path_cases[i] };
	for (i = 0; i < ARRAY_SIZE(parse_tests); i++)
		tests[n++] = parse_tests[i];
	for (i = 0; i < ARRAY_SIZE(malformed_cases); i++)
		tests[n++] = (struct CMUnitTest){ malformed_cases[i].name,
			test_malformed_field_counted_passed_then_dropped, setup,
			teardown, (void *)&malformed_cases[i] };
	for (i = 0; i < ARRAY_SIZE(policy_tests); i++)
		tests[n++] = policy_tests[i];

	return cmocka_run_group_tests_name("bpf", tests, NULL, NULL);
}
