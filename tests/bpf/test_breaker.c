// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Circuit breakers in the real object under BPF_PROG_TEST_RUN: XDP refuses
 * a new connection to an open breaker's service with a RST|ACK, spends the
 * half-open probe budget one SYN at a time; TC egress counts the service's
 * RSTs and HTTP 5xx status lines, whole, cut short or absent, and judges
 * each probe once. Then the controller over the same maps: a reload keeps
 * what it should, and the daemon's decisions (breakers__tick) walk the
 * whole cycle with the test clock: closed, open, half-open, closed; a
 * failed probe and an unanswered one reopen; a restarted daemon carries on.
 *
 * Expected values are written from the README (Circuit breakers).
 *
 * Run as root: build/tests/test_breaker
 */
#include "bpf_fixture.h"
#include "breaker.h"

/* linux/pkt_cls.h's TC_ACT_UNSPEC, what sluice's TC programs return. */
#define TC_UNSPEC	(-1)

#define API	"breaker api service tcp/80 errors 5 within 2s open 2s probes 2"
#define CLIENT_PORT	40001

/* ------------------------------------------------------------------------ */
/* Frames                                                                    */
/* ------------------------------------------------------------------------ */

static struct pkt syn(int family, uint16_t sport, uint16_t dport)
{
	return (struct pkt){ .family = family, .proto = P_TCP, .sport = sport,
			     .dport = dport, .tcp_flags = TCP_SYN };
}

static struct pkt syn4(uint16_t sport)
{
	return syn(4, sport, 80);
}

/* The service's segment toward the client at client_port: what TC egress sees. */
static struct pkt reply(int family, uint16_t service, uint16_t client_port,
			uint8_t flags)
{
	return (struct pkt){ .family = family,
			     .src = family == 4 ? DEFAULT_DST4 : DEFAULT_DST6,
			     .dst = family == 4 ? DEFAULT_SRC4 : DEFAULT_SRC6,
			     .proto = P_TCP, .sport = service, .dport = client_port,
			     .tcp_flags = flags };
}

/* p with text as its payload (no terminating NUL). */
static void build_text(const struct pkt *p, const char *text, struct frame *f)
{
	struct pkt q = *p;

	q.payload = strlen(text);
	build(&q, f);
	memcpy(f->b + f->hdr_end, text, q.payload);
}

static int run_tc_out(struct fx *fx, const void *data, size_t len)
{
	struct __sk_buff ctx = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = data,
		.data_size_in = len,
		.ctx_in = &ctx,
		.ctx_size_in = sizeof(ctx),
		.repeat = 1,
	);
	int err = bpf_prog_test_run_opts(bpf_program__fd(fx->skel->progs.sluice_tc_out),
					 &opts);

	if (err)
		fail_msg("sluice_tc_out: bpf_prog_test_run_opts(%zu bytes): %s", len,
			 strerror(-err));
	return (int)opts.retval;
}

/* The service sends p with text (or nothing) as its payload. */
static void serve(struct fx *fx, struct pkt p, const char *text)
{
	struct frame f;

	if (text)
		build_text(&p, text, &f);
	else
		build(&p, &f);
	assert_int_equal(run_tc_out(fx, f.b, f.len), TC_UNSPEC);
}

/* The verdict on p, whatever the program made of the frame. */
static int xdp_verdict(struct fx *fx, const struct pkt *p)
{
	struct xdp_out o;
	struct frame f;

	build(p, &f);
	run_xdp(fx, f.b, f.len, &o);
	return o.verdict;
}

/* ------------------------------------------------------------------------ */
/* Breaker state                                                             */
/* ------------------------------------------------------------------------ */

static __u32 brk_slot(struct fx *fx, const char *name)
{
	struct sl_breaker b;
	__u32 i;

	for (i = 0; i < SL_MAX_BREAKERS; i++) {
		if (bpf_map_lookup_elem(fx->maps.brk, &i, &b))
			fail_msg("sl_brk[%u]: %s", i, strerror(errno));
		if (b.port && !strncmp(b.name, name, sizeof(b.name)))
			return i;
	}
	fail_msg("no breaker %s in sl_brk", name);
	return 0;
}

static struct sl_breaker brk_get(struct fx *fx, const char *name)
{
	__u32 slot = brk_slot(fx, name);
	struct sl_breaker b;

	if (bpf_map_lookup_elem(fx->maps.brk, &slot, &b))
		fail_msg("sl_brk[%u]: %s", slot, strerror(errno));
	return b;
}

/* Puts a breaker in a state as the controller would, budget included. */
static void brk_force(struct fx *fx, const char *name, __u32 state, __s64 probes)
{
	__u32 slot = brk_slot(fx, name);
	struct sl_breaker b = brk_get(fx, name);

	b.state = state;
	b.probes = probes;
	assert_int_equal(bpf_map_update_elem(fx->maps.brk, &slot, &b, BPF_ANY), 0);
}

static struct sl_breaker_counter brk_count(struct fx *fx, const char *name)
{
	struct sl_breaker_counter v[fx->ncpus], sum = {};
	__u32 slot = brk_slot(fx, name);
	int i;

	if (bpf_map_lookup_elem(fx->maps.brkcnt, &slot, v))
		fail_msg("sl_brkcnt[%u]: %s", slot, strerror(errno));
	for (i = 0; i < fx->ncpus; i++) {
		sum.rsts += v[i].rsts;
		sum.http_5xx += v[i].http_5xx;
		sum.responses += v[i].responses;
		sum.probes_ok += v[i].probes_ok;
		sum.probes_failed += v[i].probes_failed;
		sum.refused += v[i].refused;
	}
	return sum;
}

/* rsts, http_5xx, responses, probes_ok, probes_failed, refused */
#define assert_brk(fx, name, r, h, resp, ok, bad, ref) do {		\
	struct sl_breaker_counter c_ = brk_count((fx), (name));	\
	uint64_t w_[6] = { (r), (h), (resp), (ok), (bad), (ref) };	\
	if (c_.rsts != w_[0] || c_.http_5xx != w_[1] ||		\
	    c_.responses != w_[2] || c_.probes_ok != w_[3] ||		\
	    c_.probes_failed != w_[4] || c_.refused != w_[5])		\
		fail_msg("breaker %s: rsts/http_5xx/responses/probes_ok/probes_failed/refused = " \
			 "%llu/%llu/%llu/%llu/%llu/%llu, expected "	\
			 "%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64, \
			 (name), c_.rsts, c_.http_5xx, c_.responses,	\
			 c_.probes_ok, c_.probes_failed, c_.refused,	\
			 w_[0], w_[1], w_[2], w_[3], w_[4], w_[5]);	\
} while (0)

static struct sl_flow_key probe_key(const struct pkt *p)
{
	struct sl_flow_key k = { .family = p->family == 4 ? SL_FAM_IP4 : SL_FAM_IP6 };

	k.sport = htons(p->sport);
	k.dport = htons(p->dport);
	put_addr(k.saddr, p->family,
		 p->src ? p->src : p->family == 4 ? DEFAULT_SRC4 : DEFAULT_SRC6);
	put_addr(k.daddr, p->family,
		 p->dst ? p->dst : p->family == 4 ? DEFAULT_DST4 : DEFAULT_DST6);
	return k;
}

static bool get_probe(struct fx *fx, const struct pkt *p, struct sl_probe *out)
{
	struct sl_flow_key k = probe_key(p);
	struct sl_probe tmp;

	return !bpf_map_lookup_elem(fx->maps.probes, &k, out ? out : &tmp);
}

static unsigned n_probes(struct fx *fx)
{
	struct sl_flow_key key, next;
	unsigned n = 0;
	bool first = true;

	while (!bpf_map_get_next_key(fx->maps.probes, first ? NULL : &key, &next)) {
		key = next;
		first = false;
		n++;
	}
	return n;
}

static __u32 port_slot(struct fx *fx, __u32 port)
{
	__u32 v;

	if (bpf_map_lookup_elem(fx->maps.brkport, &port, &v))
		fail_msg("sl_brkport[%u]: %s", port, strerror(errno));
	return v;
}

/* ------------------------------------------------------------------------ */
/* XDP                                                                       */
/* ------------------------------------------------------------------------ */

/* The answer to a refused SYN: RST|ACK from the service, ack = seq + 1. */
static void expect_rst_ack(const struct pkt *p, const struct xdp_out *o)
{
	struct frame in;
	const uint8_t *l4;

	build(p, &in);
	assert_verdict(o->verdict, VERDICT_TX);
	/* MACs swapped. */
	assert_memory_equal(o->frame, in.b + 6, 6);
	assert_memory_equal(o->frame + 6, in.b, 6);
	if (p->family == 4) {
		assert_int_equal(o->frame_len, in.l3 + 20 + 20);
		assert_memory_equal(o->frame + in.l3 + 12, in.b + in.l3 + 16, 4);
		assert_memory_equal(o->frame + in.l3 + 16, in.b + in.l3 + 12, 4);
		l4 = o->frame + in.l3 + 20;
	} else {
		assert_int_equal(o->frame_len, in.l3 + 40 + 20);
		assert_memory_equal(o->frame + in.l3 + 8, in.b + in.l3 + 24, 16);
		assert_memory_equal(o->frame + in.l3 + 24, in.b + in.l3 + 8, 16);
		l4 = o->frame + in.l3 + 40;
	}
	assert_int_equal(get16(l4), p->dport);
	assert_int_equal(get16(l4 + 2), p->sport);
	assert_int_equal(get16(l4 + 8) << 16 | get16(l4 + 10), 1000 + 1);
	assert_int_equal(l4[13], TCP_RST | TCP_ACK);
}

static void test_open_breaker_answers_syn_with_rst_ack(void **state)
{
	struct fx *fx = *state;
	struct pkt s4 = syn4(CLIENT_PORT), s6 = syn(6, CLIENT_PORT, 80);
	struct pkt other = syn(4, CLIENT_PORT, 81);
	struct pkt ack = s4;
	struct xdp_out o;
	struct frame f;

	configure(fx, API);
	assert_int_equal(read_cfg(fx).breakers, 1);
	assert_int_equal(brk_get(fx, "api").state, SL_BRK_CLOSED);
	/* Closed: new connections pass. */
	assert_verdict(send_pkt(fx, &s4), VERDICT_PASS);

	brk_force(fx, "api", SL_BRK_OPEN, 0);
	build(&s4, &f);
	run_xdp(fx, f.b, f.len, &o);
	expect_rst_ack(&s4, &o);
	build(&s6, &f);
	run_xdp(fx, f.b, f.len, &o);
	expect_rst_ack(&s6, &o);
	assert_cnt(fx, SL_CNT_BREAKER, 2);
	assert_cnt(fx, SL_CNT_REJECTED, 2);
	assert_brk(fx, "api", 0, 0, 0, 0, 0, 2);

	/* Connections already open go on; other services are not its. */
	ack.tcp_flags = TCP_ACK;
	assert_verdict(send_pkt(fx, &ack), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &other), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_BREAKER, 2);

	brk_force(fx, "api", SL_BRK_CLOSED, 0);
	assert_verdict(send_pkt(fx, &s4), VERDICT_PASS);
	assert_brk(fx, "api", 0, 0, 0, 0, 0, 2);
}

/* The allow-list is checked before anything; deny still drops, unanswered. */
static void test_allow_list_wins_over_an_open_breaker(void **state)
{
	struct fx *fx = *state;
	struct pkt s = syn4(CLIENT_PORT);

	configure(fx, API, "allow 192.0.2.7", "deny 192.0.2.66");
	brk_force(fx, "api", SL_BRK_OPEN, 0);
	assert_verdict(send_from(fx, &s, "192.0.2.7"), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_ALLOW, 1);
	assert_verdict(send_from(fx, &s, "192.0.2.66"), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_DENY, 1);
	assert_cnt(fx, SL_CNT_BREAKER, 0);
	assert_brk(fx, "api", 0, 0, 0, 0, 0, 0);
}

/* A dry run counts what the breaker would refuse and passes it. */
static void test_dry_run_counts_breaker_refusals_and_passes(void **state)
{
	struct fx *fx = *state;
	struct pkt s = syn4(CLIENT_PORT);

	configure(fx, API);
	assert_int_equal(ruleset__set_dry_run(&fx->maps, true), 0);
	brk_force(fx, "api", SL_BRK_OPEN, 0);
	assert_verdict(send_pkt(fx, &s), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_BREAKER, 1);
	assert_cnt(fx, SL_CNT_REJECTED, 0);
	assert_brk(fx, "api", 0, 0, 0, 0, 0, 1);
}

/* Breaker answers spend the interface's reject budget; past it they drop. */
static void test_refusals_past_the_reject_budget_are_dropped(void **state)
{
	struct fx *fx = *state;
	struct pkt s = syn4(CLIENT_PORT);
	struct xdp_out o;
	struct frame f;

	configure(fx, API, "reject-limit 1/h burst 1");
	brk_force(fx, "api", SL_BRK_OPEN, 0);
	build(&s, &f);
	run_xdp(fx, f.b, f.len, &o);
	assert_verdict(o.verdict, VERDICT_TX);
	assert_verdict(send_pkt(fx, &s), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_BREAKER, 2);
	assert_cnt(fx, SL_CNT_REJECTED, 1);
	assert_cnt(fx, SL_CNT_REJECT_LIMITED, 1);
	assert_cnt(fx, SL_CNT_DROPPED, 1);
}

static void test_half_open_lets_k_probes_through_then_refuses(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002), c = syn4(40003);
	struct sl_probe p;
	struct xdp_out o;
	struct frame f;

	configure(fx, API);
	brk_force(fx, "api", SL_BRK_HALF_OPEN, 2);
	set_now(fx, 7 * NS_PER_S);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_true(get_probe(fx, &a, &p));
	assert_int_equal(p.admitted_ns, 7 * NS_PER_S);
	assert_int_equal(p.slot, brk_slot(fx, "api"));
	assert_int_equal(brk_get(fx, "api").probes, 1);
	/* A retransmitted SYN is the same probe. */
	set_now(fx, 8 * NS_PER_S);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_int_equal(brk_get(fx, "api").probes, 1);
	assert_true(get_probe(fx, &a, &p));
	assert_int_equal(p.admitted_ns, 7 * NS_PER_S);

	assert_verdict(send_pkt(fx, &b), VERDICT_PASS);
	assert_int_equal(brk_get(fx, "api").probes, 0);
	build(&c, &f);
	run_xdp(fx, f.b, f.len, &o);
	expect_rst_ack(&c, &o);
	assert_false(get_probe(fx, &c, NULL));
	assert_int_equal(n_probes(fx), 2);
	assert_cnt(fx, SL_CNT_BREAKER, 1);
	assert_brk(fx, "api", 0, 0, 0, 0, 0, 1);
}

/* A probe SYN a rule drops never reaches the service: its place goes back. */
static void test_probe_refused_by_a_rule_gives_its_place_back(void **state)
{
	struct fx *fx = *state;
	struct pkt a1 = syn4(40001), a2 = syn4(40002);

	configure(fx, API,
		  "rule r proto tcp dport 80 syn key src rate 1/m burst 1 action drop");
	brk_force(fx, "api", SL_BRK_HALF_OPEN, 2);
	assert_verdict(send_pkt(fx, &a1), VERDICT_PASS);
	assert_int_equal(brk_get(fx, "api").probes, 1);
	assert_verdict(send_pkt(fx, &a2), VERDICT_DROP);
	assert_int_equal(brk_get(fx, "api").probes, 1);
	assert_false(get_probe(fx, &a2, NULL));
	assert_verdict(send_from(fx, &a2, "192.0.2.2"), VERDICT_PASS);
	assert_int_equal(brk_get(fx, "api").probes, 0);
	assert_int_equal(n_probes(fx), 2);
	assert_cnt(fx, SL_CNT_BREAKER, 0);
	assert_cnt(fx, SL_CNT_RATE, 1);
}

/* ------------------------------------------------------------------------ */
/* TC egress                                                                 */
/* ------------------------------------------------------------------------ */

static void test_tc_out_counts_service_rsts_and_5xx_status_lines(void **state)
{
	struct fx *fx = *state;
	struct pkt data = reply(4, 80, CLIENT_PORT, TCP_ACK | TCP_PSH);
	struct pkt rst = reply(4, 80, CLIENT_PORT, TCP_RST | TCP_ACK);
	struct pkt other = reply(4, 81, CLIENT_PORT, TCP_ACK | TCP_PSH);
	struct pkt data6 = reply(6, 80, CLIENT_PORT, TCP_ACK | TCP_PSH);
	struct pkt vlan = rst;

	configure(fx, API, "breaker other service tcp/82 errors 1 within 1s open 1s probes 1");
	serve(fx, rst, NULL);
	assert_brk(fx, "api", 1, 0, 0, 0, 0, 0);
	serve(fx, data, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
	assert_brk(fx, "api", 1, 1, 1, 0, 0, 0);
	serve(fx, data, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	serve(fx, data, "HTTP/1.0 404 Not Found\r\n\r\n");
	assert_brk(fx, "api", 1, 1, 3, 0, 0, 0);
	serve(fx, data, "HTTP/1.0 500 x");
	/* Exactly the twelve bytes a status code needs. */
	serve(fx, data, "HTTP/1.1 502");
	assert_brk(fx, "api", 1, 3, 5, 0, 0, 0);
	/* Cut short of its code, or not at the start of the payload. */
	serve(fx, data, "HTTP/1.1 50");
	serve(fx, data, "H");
	serve(fx, data, "<html>HTTP/1.1 503</html>");
	serve(fx, data, NULL);
	assert_brk(fx, "api", 1, 3, 5, 0, 0, 0);
	/* Another port's errors are not this service's. */
	serve(fx, other, "HTTP/1.1 503 Service Unavailable\r\n\r\n");
	other.tcp_flags = TCP_RST;
	serve(fx, other, NULL);
	assert_brk(fx, "api", 1, 3, 5, 0, 0, 0);
	assert_brk(fx, "other", 0, 0, 0, 0, 0, 0);
	serve(fx, data6, "HTTP/1.1 504 Gateway Timeout\r\n\r\n");
	assert_brk(fx, "api", 1, 4, 6, 0, 0, 0);
	vlan.n_vlan = 2;
	serve(fx, vlan, NULL);
	assert_brk(fx, "api", 2, 4, 6, 0, 0, 0);
}

/* A reply whose frame is shorter than its headers say is read no further
 * than the frame; a later fragment has no TCP header to read. */
static void test_tc_out_reads_truncated_frames_within_bounds(void **state)
{
	struct fx *fx = *state;
	struct pkt data = reply(4, 80, CLIENT_PORT, TCP_ACK | TCP_PSH);
	struct pkt data6 = reply(6, 80, CLIENT_PORT, TCP_ACK | TCP_PSH);
	struct pkt frag = data;
	struct frame f, f6;
	size_t cut;

	configure(fx, API);
	build_text(&data, "HTTP/1.1 503 Service Unavailable\r\n\r\n", &f);
	/* Every cut of the frame from the end of the IP header on (an skb
	 * shorter than that, BPF_PROG_TEST_RUN refuses): none may count. */
	for (cut = f.l3 + 20; cut < f.hdr_end + SL_HTTP_STATUS_LEN; cut++)
		assert_int_equal(run_tc_out(fx, f.b, cut), TC_UNSPEC);
	build_text(&data6, "HTTP/1.1 503 Service Unavailable\r\n\r\n", &f6);
	for (cut = f6.l3 + 40; cut < f6.hdr_end + SL_HTTP_STATUS_LEN; cut++)
		assert_int_equal(run_tc_out(fx, f6.b, cut), TC_UNSPEC);
	assert_brk(fx, "api", 0, 0, 0, 0, 0, 0);
	assert_int_equal(run_tc_out(fx, f.b, f.hdr_end + SL_HTTP_STATUS_LEN), TC_UNSPEC);
	assert_brk(fx, "api", 0, 1, 1, 0, 0, 0);

	/* A TCP header that claims more than the segment holds. */
	build_text(&data, "HTTP/1.1 503 Service Unavailable\r\n\r\n", &f);
	f.b[f.l4 + 12] = 0xf0;
	assert_int_equal(run_tc_out(fx, f.b, f.hdr_end + 20), TC_UNSPEC);
	assert_brk(fx, "api", 0, 1, 1, 0, 0, 0);

	frag.frag = 100;
	frag.tcp_flags = TCP_RST;
	build_text(&frag, "HTTP/1.1 503 Service Unavailable\r\n\r\n", &f);
	assert_int_equal(run_tc_out(fx, f.b, f.len), TC_UNSPEC);
	assert_brk(fx, "api", 0, 1, 1, 0, 0, 0);
}

/*
 * Each probe is judged once, by the first thing the service sends on it
 * after the handshake: data that is not an HTTP 5xx status line succeeds;
 * a 5xx, a RST or a FIN without data fails.
 */
static void test_tc_out_judges_each_probe_once(void **state)
{
	struct fx *fx = *state;
	struct pkt s[5];
	struct pkt late = reply(4, 80, 50000, TCP_ACK | TCP_PSH);
	unsigned i;

	configure(fx, API);
	brk_force(fx, "api", SL_BRK_HALF_OPEN, 5);
	for (i = 0; i < 5; i++) {
		s[i] = syn4(40001 + i);
		assert_verdict(send_pkt(fx, &s[i]), VERDICT_PASS);
	}
	assert_int_equal(n_probes(fx), 5);

	/* The handshake and pure ACKs decide nothing. */
	serve(fx, (struct pkt){ .family = 4, .src = DEFAULT_DST4, .dst = DEFAULT_SRC4,
				 .proto = P_TCP, .sport = 80, .dport = 40001,
				 .tcp_flags = TCP_SYN | TCP_ACK }, NULL);
	serve(fx, reply(4, 80, 40001, TCP_ACK), NULL);
	assert_int_equal(n_probes(fx), 5);

	serve(fx, reply(4, 80, 40001, TCP_ACK | TCP_PSH), "HTTP/1.1 200 OK\r\n\r\n");
	assert_false(get_probe(fx, &s[0], NULL));
	/* Judged already: a later 503 on it is an error, not a second verdict. */
	serve(fx, reply(4, 80, 40001, TCP_ACK | TCP_PSH), "HTTP/1.1 503 x\r\n\r\n");
	serve(fx, reply(4, 80, 40002, TCP_ACK | TCP_PSH), "HTTP/1.1 503 x\r\n\r\n");
	serve(fx, reply(4, 80, 40003, TCP_RST | TCP_ACK), NULL);
	serve(fx, reply(4, 80, 40004, TCP_FIN | TCP_ACK), NULL);
	serve(fx, reply(4, 80, 40005, TCP_ACK | TCP_PSH), "+OK ready\r\n");
	/* Not a probe: counted as the service's, judged as nothing. */
	serve(fx, late, "HTTP/1.1 200 OK\r\n\r\n");
	assert_int_equal(n_probes(fx), 0);
	assert_brk(fx, "api", 1, 2, 4, 2, 3, 0);

	/* Closed, nothing is judged even if an entry is left over. */
	brk_force(fx, "api", SL_BRK_HALF_OPEN, 1);
	assert_verdict(send_pkt(fx, &s[0]), VERDICT_PASS);
	brk_force(fx, "api", SL_BRK_CLOSED, 0);
	serve(fx, reply(4, 80, 40001, TCP_RST), NULL);
	assert_int_equal(n_probes(fx), 1);
	assert_brk(fx, "api", 2, 2, 4, 2, 3, 0);
}

/* ------------------------------------------------------------------------ */
/* The controller                                                            */
/* ------------------------------------------------------------------------ */

static void test_reload_keeps_breaker_state_by_name_and_service(void **state)
{
	struct fx *fx = *state;
	struct sl_breaker before, after;
	struct sl_config back;
	struct sl_error err;

	configure(fx, API, "breaker web service tcp/443 errors 1 within 1s open 1s probes 1");
	assert_int_equal(port_slot(fx, 80), brk_slot(fx, "api") + 1);
	assert_int_equal(port_slot(fx, 443), brk_slot(fx, "web") + 1);
	brk_force(fx, "api", SL_BRK_OPEN, 0);
	assert_verdict(xdp_verdict(fx, &(struct pkt){ .family = 4, .proto = P_TCP,
					.sport = 1, .dport = 80, .tcp_flags = TCP_SYN }),
		       VERDICT_TX);
	before = brk_get(fx, "api");

	/* The same definition, the rest of the file changed: untouched. */
	configure(fx, API, "breaker web service tcp/443 errors 1 within 1s open 1s probes 1",
		  "rule r proto udp rate 1/s");
	after = brk_get(fx, "api");
	assert_memory_equal(&before, &after, sizeof(before));

	/* New thresholds, same service: state and counters stay. */
	configure(fx, "breaker api service tcp/80 errors 9 within 3s open 4s probes 3",
		  "breaker web service tcp/443 errors 1 within 1s open 1s probes 1");
	after = brk_get(fx, "api");
	assert_int_equal(after.state, SL_BRK_OPEN);
	assert_int_equal(after.since_ns, before.since_ns);
	assert_int_not_equal(after.uid, before.uid);
	assert_int_equal(after.errors, 9);
	assert_int_equal(after.open_ns, 4 * NS_PER_S);
	assert_int_equal(after.probes_max, 3);
	assert_brk(fx, "api", 0, 0, 0, 0, 0, 1);

	/* The list read back from the pins is what was applied. */
	config_init(&back);
	assert_int_equal(ruleset__read(&fx->maps, &back, &err), 0);
	assert_int_equal(back.n_breakers, 2);
	assert_int_not_equal(config_find_breaker(&back, "web"), -1);
	assert_string_equal(back.breakers[config_find_breaker(&back, "api")].text,
			    "breaker api service tcp/80 errors 9 within 3s open 4s probes 3");
	config_free(&back);

	/* Another service is another breaker: closed, counters from zero,
	 * the old port free; web gone entirely. */
	configure(fx, "breaker api service tcp/8080 errors 9 within 3s open 4s probes 3");
	after = brk_get(fx, "api");
	assert_int_equal(after.state, SL_BRK_CLOSED);
	assert_int_equal(after.port, 8080);
	assert_brk(fx, "api", 0, 0, 0, 0, 0, 0);
	assert_int_equal(port_slot(fx, 80), 0);
	assert_int_equal(port_slot(fx, 443), 0);
	assert_int_equal(port_slot(fx, 8080), brk_slot(fx, "api") + 1);
	assert_int_equal(read_cfg(fx).breakers, 1);

	configure(fx, "rule r proto udp rate 1/s");
	assert_int_equal(read_cfg(fx).breakers, 0);
	assert_int_equal(port_slot(fx, 8080), 0);
	assert_verdict(send_pkt(fx, &(struct pkt){ .family = 4, .proto = P_TCP,
					.sport = 1, .dport = 8080, .tcp_flags = TCP_SYN }),
		       VERDICT_PASS);
}

#define MAX_CHANGES	16

static struct {
	unsigned n;
	__u32 from[MAX_CHANGES], to[MAX_CHANGES];
	struct sl_breaker_change c[MAX_CHANGES];
} seen;

static void record(void *arg, const struct sl_breaker_change *c)
{
	if (seen.n == MAX_CHANGES)
		fail_msg("more than %d transitions", MAX_CHANGES);
	seen.from[seen.n] = c->from;
	seen.to[seen.n] = c->b->state;
	seen.c[seen.n++] = *c;
}

/* One round of decisions at t; expects `to` (or no change, for -1). */
static void tick(struct fx *fx, struct sl_breaker_watch *w, __u64 t, int to)
{
	struct sl_error err;
	unsigned before = seen.n;

	assert_int_equal(breakers__tick(w, &fx->maps, t, record, NULL, &err), 0);
	if (to < 0) {
		if (seen.n != before)
			fail_msg("at %.1fs: %u -> %u, expected no change", t / 1e9,
				 seen.from[before], seen.to[before]);
		return;
	}
	if (seen.n != before + 1)
		fail_msg("at %.1fs: %u transitions, expected one to %d", t / 1e9,
			 seen.n - before, to);
	assert_int_equal(seen.to[before], to);
	assert_int_equal(brk_get(fx, "api").state, to);
	assert_int_equal(brk_get(fx, "api").since_ns, t);
}

static void errors_of(struct fx *fx, unsigned n, const char *status)
{
	unsigned i;

	for (i = 0; i < n; i++)
		serve(fx, reply(4, 80, 50000 + i, TCP_ACK | TCP_PSH), status);
}

/* Two probe SYNs at now, answered with text (or nothing). */
static void probe(struct fx *fx, __u64 now, unsigned n, const char *text)
{
	unsigned i;

	set_now(fx, now);
	for (i = 0; i < n; i++) {
		struct pkt s = syn4(41000 + i);

		assert_verdict(send_pkt(fx, &s), VERDICT_PASS);
		if (text)
			serve(fx, reply(4, 80, 41000 + i, TCP_ACK | TCP_PSH), text);
	}
}

#define T(ms)	((__u64)(ms) * NS_PER_MS)

static void test_tick_closed_open_half_open_closed(void **state)
{
	struct fx *fx = *state;
	static struct sl_breaker_watch w;
	struct pkt second;
	struct sl_breaker b;

	memset(&w, 0, sizeof(w));
	seen.n = 0;
	configure(fx, API);
	tick(fx, &w, T(1000), -1);
	/* Four errors: not yet. */
	errors_of(fx, 4, "HTTP/1.1 503 x\r\n\r\n");
	tick(fx, &w, T(1100), -1);
	/* The fifth, a RST, within 2 s: open. */
	serve(fx, reply(4, 80, 50010, TCP_RST), NULL);
	tick(fx, &w, T(1200), SL_BRK_OPEN);
	assert_int_equal(seen.from[0], SL_BRK_CLOSED);
	assert_int_equal(seen.c[0].window_errors, 5);
	assert_verdict(xdp_verdict(fx, &(struct pkt){ .family = 4, .proto = P_TCP,
					.sport = 1, .dport = 80, .tcp_flags = TCP_SYN }),
		       VERDICT_TX);
	/* Open for 2 s, whatever the service says meanwhile. */
	errors_of(fx, 10, "HTTP/1.1 500 x\r\n\r\n");
	tick(fx, &w, T(3100), -1);
	tick(fx, &w, T(3200), SL_BRK_HALF_OPEN);
	b = brk_get(fx, "api");
	assert_int_equal(b.probes, 2);
	/* One probe succeeds: not enough. The second does: closed. */
	probe(fx, T(3250), 1, "HTTP/1.1 200 OK\r\n\r\n");
	tick(fx, &w, T(3300), -1);
	set_now(fx, T(3350));
	second = syn4(41001);
	assert_verdict(send_pkt(fx, &second), VERDICT_PASS);
	serve(fx, reply(4, 80, 41001, TCP_ACK | TCP_PSH), "HTTP/1.1 204 No Content\r\n\r\n");
	tick(fx, &w, T(3400), SL_BRK_CLOSED);
	assert_int_equal(seen.c[2].probes_ok, 2);
	assert_int_equal(brk_get(fx, "api").probes, 0);
	/* Errors from before the close do not count toward opening again. */
	errors_of(fx, 4, "HTTP/1.1 503 x\r\n\r\n");
	tick(fx, &w, T(3500), -1);

	b = brk_get(fx, "api");
	assert_int_equal(b.transitions[SL_BRK_OPEN], 1);
	assert_int_equal(b.transitions[SL_BRK_HALF_OPEN], 1);
	assert_int_equal(b.transitions[SL_BRK_CLOSED], 1);
	assert_int_equal(seen.n, 3);
}

static void test_tick_failed_and_unanswered_probes_reopen(void **state)
{
	struct fx *fx = *state;
	static struct sl_breaker_watch w;
	struct sl_breaker b;

	memset(&w, 0, sizeof(w));
	seen.n = 0;
	configure(fx, API);
	tick(fx, &w, T(1000), -1);
	serve(fx, reply(4, 80, 50000, TCP_RST), NULL);
	errors_of(fx, 4, "HTTP/1.1 502 x\r\n\r\n");
	tick(fx, &w, T(1100), SL_BRK_OPEN);
	tick(fx, &w, T(3100), SL_BRK_HALF_OPEN);

	/* A probe answered with a 503: open again, for another 2 s. */
	probe(fx, T(3150), 1, "HTTP/1.1 503 x\r\n\r\n");
	tick(fx, &w, T(3200), SL_BRK_OPEN);
	assert_int_equal(seen.c[2].probes_failed, 1);
	tick(fx, &w, T(5100), -1);
	tick(fx, &w, T(5200), SL_BRK_HALF_OPEN);

	/* A probe with no answer within 2 s (the breaker's `within`) fails. */
	probe(fx, T(5300), 1, NULL);
	assert_int_equal(n_probes(fx), 1);
	/* Admitted after the daemon read its clock: not late, just new. */
	tick(fx, &w, T(5250), -1);
	tick(fx, &w, T(7200), -1);
	tick(fx, &w, T(7300), SL_BRK_OPEN);
	assert_int_equal(seen.c[4].probes_timed_out, 1);
	assert_int_equal(n_probes(fx), 0);
	b = brk_get(fx, "api");
	assert_int_equal(b.probes_timed_out, 1);
	assert_int_equal(b.transitions[SL_BRK_OPEN], 3);
	assert_int_equal(b.transitions[SL_BRK_HALF_OPEN], 2);
	assert_int_equal(b.transitions[SL_BRK_CLOSED], 0);
	assert_brk(fx, "api", 1, 5, 5, 0, 1, 0);
}

/* Probes left from an earlier half-open are not judged in the next one. */
static void test_tick_clears_probes_of_an_earlier_half_open(void **state)
{
	struct fx *fx = *state;
	static struct sl_breaker_watch w;
	struct pkt waiting;

	memset(&w, 0, sizeof(w));
	seen.n = 0;
	configure(fx, API);
	tick(fx, &w, T(1000), -1);
	errors_of(fx, 5, "HTTP/1.1 503 x\r\n\r\n");
	tick(fx, &w, T(1100), SL_BRK_OPEN);
	tick(fx, &w, T(3100), SL_BRK_HALF_OPEN);
	/* Two probes, one answered 503: the other is still waiting. */
	probe(fx, T(3150), 1, "HTTP/1.1 503 x\r\n\r\n");
	set_now(fx, T(3150));
	waiting = syn4(42000);
	assert_verdict(send_pkt(fx, &waiting), VERDICT_PASS);
	tick(fx, &w, T(3200), SL_BRK_OPEN);
	assert_int_equal(n_probes(fx), 0);
	/* Its answer, late, judges nothing. */
	serve(fx, reply(4, 80, 42000, TCP_ACK | TCP_PSH), "HTTP/1.1 200 OK\r\n\r\n");
	assert_brk(fx, "api", 0, 6, 7, 0, 1, 0);
}

/* The daemon's memory is only its error window: state is in the pins. */
static void test_tick_state_survives_a_new_daemon(void **state)
{
	struct fx *fx = *state;
	static struct sl_breaker_watch first, second;

	memset(&first, 0, sizeof(first));
	memset(&second, 0, sizeof(second));
	seen.n = 0;
	configure(fx, API);
	tick(fx, &first, T(1000), -1);
	errors_of(fx, 5, "HTTP/1.1 503 x\r\n\r\n");
	tick(fx, &first, T(1100), SL_BRK_OPEN);
	/* A new daemon: still open until 2 s after it opened, then half-open. */
	tick(fx, &second, T(2000), -1);
	assert_int_equal(brk_get(fx, "api").state, SL_BRK_OPEN);
	tick(fx, &second, T(3100), SL_BRK_HALF_OPEN);
	probe(fx, T(3150), 2, "HTTP/1.1 200 OK\r\n\r\n");
	tick(fx, &second, T(3200), SL_BRK_CLOSED);
	/* Errors it never saw counted before it started do not count. */
	errors_of(fx, 4, "HTTP/1.1 503 x\r\n\r\n");
	memset(&first, 0, sizeof(first));
	tick(fx, &first, T(3300), -1);
	errors_of(fx, 4, "HTTP/1.1 503 x\r\n\r\n");
	tick(fx, &first, T(3400), -1);
	errors_of(fx, 1, "HTTP/1.1 503 x\r\n\r\n");
	tick(fx, &first, T(3500), SL_BRK_OPEN);
}

/* ------------------------------------------------------------------------ */

static const struct CMUnitTest tests[] = {
	TEST(test_open_breaker_answers_syn_with_rst_ack),
	TEST(test_allow_list_wins_over_an_open_breaker),
	TEST(test_dry_run_counts_breaker_refusals_and_passes),
	TEST(test_refusals_past_the_reject_budget_are_dropped),
	TEST(test_half_open_lets_k_probes_through_then_refuses),
	TEST(test_probe_refused_by_a_rule_gives_its_place_back),
	TEST(test_tc_out_counts_service_rsts_and_5xx_status_lines),
	TEST(test_tc_out_reads_truncated_frames_within_bounds),
	TEST(test_tc_out_judges_each_probe_once),
	TEST(test_reload_keeps_breaker_state_by_name_and_service),
	TEST(test_tick_closed_open_half_open_closed),
	TEST(test_tick_failed_and_unanswered_probes_reopen),
	TEST(test_tick_clears_probes_of_an_earlier_half_open),
	TEST(test_tick_state_survives_a_new_daemon),
};

int main(void)
{
	return cmocka_run_group_tests_name("bpf-breaker", tests, NULL, NULL);
}
