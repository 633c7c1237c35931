// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Actions and stateful limits of the real object under BPF_PROG_TEST_RUN:
 * reject's answers byte by byte, their checksums recomputed here from RFC
 * 1071 and again by scapy; mark's metadata; sliding windows and connection
 * limits through the map path with the test clock; sluice_tc_in,
 * sluice_tc_out, sluice_ctl and the controller's sweep against the same maps.
 *
 * Expected values are written out from the README's contract (Actions,
 * Sliding windows, Connection limits), not read from bpf/.
 *
 * Run as root: build/tests/test_actions
 */
#include <fcntl.h>
#include <sched.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf_fixture.h"
#include "sweep.h"

#define PYTHON		"/usr/bin/python3"

#ifndef SO_RCVMARK
#define SO_RCVMARK	75	/* Linux 5.19: skb->mark as an SO_MARK cmsg */
#endif
/* As in user/attach.c: Debian 12's UAPI headers predate TCX. */
#define TCX_INGRESS	46

/* linux/pkt_cls.h's TC_ACT_UNSPEC: "use the default", what sluice's TC
 * programs always return. */
#define TC_UNSPEC	(-1)

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* ------------------------------------------------------------------------ */
/* Checksums, from RFC 1071                                                 */
/* ------------------------------------------------------------------------ */

/* Section 4.1: 16-bit words in network order, an odd last byte padded with zero. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

/* End-around carries folded back in, then the ones' complement. */
static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* The checksum of len bytes with the 16-bit field at csum_off taken as 0. */
static uint16_t checksum_over(const uint8_t *p, size_t len, size_t csum_off,
			      uint32_t seed)
{
	uint8_t copy[FRAME_MAX];

	memcpy(copy, p, len);
	put16(copy + csum_off, 0);
	return fold(sum16(copy, len, seed));
}

/* RFC 793 / RFC 768 pseudo header. */
static uint32_t pseudo4_sum(const uint8_t *src, const uint8_t *dst, uint8_t proto,
			    uint16_t len)
{
	uint8_t ph[12];

	memcpy(ph, src, 4);
	memcpy(ph + 4, dst, 4);
	ph[8] = 0;
	ph[9] = proto;
	put16(ph + 10, len);
	return sum16(ph, sizeof(ph), 0);
}

/* RFC 8200, section 8.1. */
static uint32_t pseudo6_sum(const uint8_t *src, const uint8_t *dst, uint32_t len,
			    uint8_t next)
{
	uint8_t ph[40] = {};

	memcpy(ph, src, 16);
	memcpy(ph + 16, dst, 16);
	put32(ph + 32, len);
	ph[39] = next;
	return sum16(ph, sizeof(ph), 0);
}

/* ------------------------------------------------------------------------ */
/* The same checksums, by scapy                                              */
/* ------------------------------------------------------------------------ */

/*
 * Reads the frame with Ether(), prints the layers up to an ICMP error's
 * quote, deletes every checksum of those layers, rebuilds the frame and
 * compares each checksum, then the whole frame, with what sluice sent.
 * Exit 0 only if all agree.
 */
static const char scapy_script[] =
	"import sys\n"
	"from scapy.all import Ether\n"
	"from scapy.packet import NoPayload\n"
	"def outer(p):\n"
	"    out = []\n"
	"    while not isinstance(p, NoPayload) and 'error' not in type(p).__name__:\n"
	"        out.append(p)\n"
	"        p = p.payload\n"
	"    return out\n"
	"def sums(layers):\n"
	"    return [(l, f) for l in layers for f in ('chksum', 'cksum') if f in l.fields]\n"
	"raw = open(sys.argv[1], 'rb').read()\n"
	"pkt = Ether(raw)\n"
	"layers = outer(pkt)\n"
	"print('layers: ' + ' '.join(type(l).__name__ for l in layers))\n"
	"fields = sums(layers)\n"
	"got = [getattr(l, f) for l, f in fields]\n"
	"for l, f in fields:\n"
	"    delattr(l, f)\n"
	"fresh = Ether(bytes(pkt))\n"
	"want = [getattr(l, f) for l, f in sums(outer(fresh))]\n"
	"ok = bool(fields) and len(got) == len(want)\n"
	"for (l, f), g, w in zip(fields, got, want):\n"
	"    print('sum: %s.%s 0x%04x, scapy computes 0x%04x' % (type(l).__name__, f, g, w))\n"
	"    ok = ok and g == w\n"
	"if bytes(fresh) != raw:\n"
	"    print('the rebuilt frame differs from the one sluice sent')\n"
	"    ok = False\n"
	"sys.exit(0 if ok else 1)\n";

/* Runs the script on the frame: its exit status, its report in out. */
static int scapy_run(const uint8_t *frame, size_t len, char *out, size_t out_len)
{
	char path[] = "/tmp/sluice-frame-XXXXXX";
	int fd, pipefd[2], status;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	fd = mkstemp(path);
	if (fd < 0)
		fail_msg("mkstemp: %s", strerror(errno));
	if (write(fd, frame, len) != (ssize_t)len)
		fail_msg("writing %s: %s", path, strerror(errno));
	close(fd);
	if (pipe(pipefd))
		fail_msg("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (!pid) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		close(pipefd[1]);
		/* argv[0] absolute: Python finds its prefix from it, and a
		 * "python3" looked up in PATH may be another installation's. */
		execl(PYTHON, PYTHON, "-c", scapy_script, path, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		char sink[256];

		if (n + 1 < out_len)
			r = read(pipefd[0], out + n, out_len - 1 - n);
		else
			r = read(pipefd[0], sink, sizeof(sink));
		if (r <= 0)
			break;
		if (n + 1 < out_len)
			n += r;
	}
	out[n] = '\0';
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	unlink(path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* scapy reads the frame as `layers` and computes the checksums it carries. */
static void scapy_check(const uint8_t *frame, size_t len, const char *layers)
{
	char out[4096], want[256];
	int status = scapy_run(frame, len, out, sizeof(out));

	if (status == 127)
		fail_msg("cannot run %s with scapy:\n%s", PYTHON, out);
	snprintf(want, sizeof(want), "layers: %s\n", layers);
	if (!strstr(out, want))
		fail_msg("scapy does not read the frame as \"%s\":\n%s", layers, out);
	if (status)
		fail_msg("scapy disagrees with the checksums sluice wrote (exit %d):\n%s",
			 status, out);
}

/* ------------------------------------------------------------------------ */
/* Expected answers, built here from the client's frame                      */
/* ------------------------------------------------------------------------ */

static int family_of(const struct frame *f)
{
	return f->b[f->l3] >> 4;
}

/* MACs swapped; VLAN tags and ethertype as they came. */
static void expected_l2(const struct frame *in, uint8_t *w)
{
	memcpy(w, in->b + 6, 6);
	memcpy(w + 6, in->b, 6);
	memcpy(w + 12, in->b + 12, in->l3 - 12);
}

/*
 * A fresh IP header from the server to the client: IPv4 with IHL 5, TOS 0,
 * id 0 and no flags (what reject.bpf.h writes), TTL 64; IPv6 with traffic
 * class and flow label 0, hop limit 64. Returns the L4 checksum's pseudo
 * header sum.
 */
static uint32_t expected_ip(const struct frame *in, uint8_t *ip, uint8_t proto,
			    uint16_t l4_len)
{
	const uint8_t *orig = in->b + in->l3;

	if (family_of(in) == 4) {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		put16(ip + 2, 20 + l4_len);
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, orig + 16, 4);
		memcpy(ip + 16, orig + 12, 4);
		put16(ip + 10, checksum_over(ip, 20, 10, 0));
		return pseudo4_sum(ip + 12, ip + 16, proto, l4_len);
	}
	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, l4_len);
	ip[6] = proto;
	ip[7] = 64;
	memcpy(ip + 8, orig + 24, 16);
	memcpy(ip + 24, orig + 8, 16);
	return pseudo6_sum(ip + 8, ip + 24, l4_len, proto);
}

static size_t ip_len(const struct frame *in)
{
	return family_of(in) == 4 ? 20 : 40;
}

/* RST|ACK with the given seq and ack, ports swapped, doff 5, window 0. */
static size_t expected_rst(const struct frame *in, uint32_t seq, uint32_t ack,
			   uint8_t *w)
{
	uint8_t *tcp = w + in->l3 + ip_len(in);
	uint32_t seed;

	expected_l2(in, w);
	seed = expected_ip(in, w + in->l3, P_TCP, 20);
	memset(tcp, 0, 20);
	memcpy(tcp, in->b + in->l4 + 2, 2);
	memcpy(tcp + 2, in->b + in->l4, 2);
	put32(tcp + 4, seq);
	put32(tcp + 8, ack);
	tcp[12] = 5 << 4;
	tcp[13] = TCP_RST | TCP_ACK;
	put16(tcp + 16, checksum_over(tcp, 20, 16, seed));
	return in->l3 + ip_len(in) + 20;
}

/*
 * Destination unreachable, administratively prohibited: ICMP 3/13 or
 * ICMPv6 1/1, quoting the client's IP header (with IPv6 extension headers)
 * and 8 bytes of L4, byte for byte.
 */
static size_t expected_icmp(const struct frame *in, uint8_t *w)
{
	size_t quote = in->l4 + 8 - in->l3;
	uint8_t *icmp = w + in->l3 + ip_len(in);
	bool v4 = family_of(in) == 4;
	uint32_t seed;

	expected_l2(in, w);
	seed = expected_ip(in, w + in->l3, v4 ? P_ICMP : P_ICMPV6, 8 + quote);
	memset(icmp, 0, 8);
	icmp[0] = v4 ? 3 : 1;
	icmp[1] = v4 ? 13 : 1;
	memcpy(icmp + 8, in->b + in->l3, quote);
	/* ICMPv4's checksum covers the message only (RFC 792). */
	put16(icmp + 2, checksum_over(icmp, 8 + quote, 2, v4 ? 0 : seed));
	return in->l3 + ip_len(in) + 8 + quote;
}

static void expect_bytes(const uint8_t *got, size_t got_len, const uint8_t *want,
			 size_t want_len, const char *what)
{
	size_t i;

	if (got_len != want_len)
		fail_msg("%s: %zu bytes, expected %zu", what, got_len, want_len);
	for (i = 0; i < want_len; i++)
		if (got[i] != want[i])
			fail_msg("%s: byte %zu is 0x%02x, expected 0x%02x", what, i,
				 got[i], want[i]);
}

/* What sluice sent verifies as a whole: each checksum sums to zero. */
static void expect_checksums_verify(const struct frame *in, const uint8_t *got,
				    uint8_t proto, size_t l4_len)
{
	const uint8_t *ip = got + in->l3, *l4 = ip + ip_len(in);
	uint32_t seed = 0;

	if (family_of(in) == 4) {
		if (fold(sum16(ip, 20, 0)))
			fail_msg("IPv4 header checksum 0x%04x does not verify",
				 get16(ip + 10));
		if (proto != P_ICMP)
			seed = pseudo4_sum(ip + 12, ip + 16, proto, l4_len);
	} else {
		seed = pseudo6_sum(ip + 8, ip + 24, l4_len, proto);
	}
	if (fold(sum16(l4, l4_len, seed)))
		fail_msg("protocol %u checksum 0x%04x does not verify", proto,
			 get16(l4 + (proto == P_TCP ? 16 : 2)));
}

/* The RST sluice sent for frame `in` carries seq and ack, and nothing else. */
static void check_rst(const struct frame *in, const struct xdp_out *o,
		      uint32_t seq, uint32_t ack)
{
	uint8_t want[FRAME_MAX];
	size_t len = expected_rst(in, seq, ack, want);
	const uint8_t *tcp = o->frame + in->l3 + ip_len(in);

	assert_verdict(o->verdict, VERDICT_TX);
	assert_int_equal(o->meta_len, 0);
	if (o->frame_len != len)
		fail_msg("RST is %zu bytes, expected %zu", o->frame_len, len);
	if (get32(tcp + 4) != seq || get32(tcp + 8) != ack)
		fail_msg("RST seq %u ack %u, expected seq %u ack %u", get32(tcp + 4),
			 get32(tcp + 8), seq, ack);
	if (tcp[13] != (TCP_RST | TCP_ACK))
		fail_msg("RST flags 0x%02x, expected RST|ACK", tcp[13]);
	expect_checksums_verify(in, o->frame, P_TCP, 20);
	expect_bytes(o->frame, o->frame_len, want, len, "RST");
}

static void check_icmp(const struct frame *in, const struct xdp_out *o)
{
	uint8_t want[FRAME_MAX];
	size_t len = expected_icmp(in, want);
	size_t quote = in->l4 + 8 - in->l3;
	bool v4 = family_of(in) == 4;
	const uint8_t *icmp = o->frame + in->l3 + ip_len(in);

	assert_verdict(o->verdict, VERDICT_TX);
	assert_int_equal(o->meta_len, 0);
	if (o->frame_len != len)
		fail_msg("ICMP error is %zu bytes, expected %zu", o->frame_len, len);
	if (icmp[0] != (v4 ? 3 : 1) || icmp[1] != (v4 ? 13 : 1))
		fail_msg("ICMP type %u code %u, expected %u/%u", icmp[0], icmp[1],
			 v4 ? 3 : 1, v4 ? 13 : 1);
	expect_bytes(icmp + 8, len - (in->l3 + ip_len(in) + 8), in->b + in->l3, quote,
		     "quote");
	expect_checksums_verify(in, o->frame, v4 ? P_ICMP : P_ICMPV6, 8 + quote);
	expect_bytes(o->frame, o->frame_len, want, len, "ICMP error");
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static void set_seq_ack(struct frame *f, uint32_t seq, uint32_t ack)
{
	put32(f->b + f->l4 + 4, seq);
	put32(f->b + f->l4 + 8, ack);
}

/* Every per-rule counter, rejected and marked included. */
#define assert_rule_full(fx, name, m, p, d, r, mk, l) do {		\
	struct sl_rule_counter c_ = rule_count((fx), (name));		\
	uint64_t w_[6] = { (m), (p), (d), (r), (mk), (l) };		\
	if (c_.matched != w_[0] || c_.passed != w_[1] ||		\
	    c_.dropped != w_[2] || c_.rejected != w_[3] ||		\
	    c_.marked != w_[4] || c_.limited != w_[5])			\
		fail_msg("rule %s: matched/passed/dropped/rejected/marked/limited = "	\
			 "%llu/%llu/%llu/%llu/%llu/%llu, expected "	\
			 "%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64, \
			 (name), c_.matched, c_.passed, c_.dropped,	\
			 c_.rejected, c_.marked, c_.limited,		\
			 w_[0], w_[1], w_[2], w_[3], w_[4], w_[5]);	\
} while (0)

static const struct pkt udp4 = { .family = 4, .proto = P_UDP, .sport = 5353,
				 .dport = 53, .payload = 30 };

/* One global budget of one packet a second: after warm_up() every frame
 * at the same instant is over the limit. */
#define REJECT_ALL	"rule rj key global rate 1/s burst 1 action reject"

static void warm_up(struct fx *fx)
{
	assert_verdict(send_pkt(fx, &udp4), VERDICT_PASS);
}

static void run_pkt(struct fx *fx, const struct pkt *p, struct frame *f,
		    struct xdp_out *o)
{
	build(p, f);
	run_xdp(fx, f->b, f->len, o);
}

/* ------------------------------------------------------------------------ */
/* The checkers check                                                       */
/* ------------------------------------------------------------------------ */

/*
 * RFC 1071's own example (section 3) through sum16/fold, and scapy refusing
 * a frame whose checksum is off by one: both checkers can say no.
 */
static void test_rfc1071_example_and_scapy_refuses_a_wrong_checksum(void **state)
{
	static const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	struct fx *fx = *state;
	struct pkt syn = { .family = 4, .proto = P_TCP, .sport = 40000, .dport = 80,
			   .tcp_flags = TCP_SYN };
	struct frame f;
	struct xdp_out o;
	uint8_t bad[FRAME_MAX];
	char out[4096];

	assert_int_equal(fold(sum16(rfc, sizeof(rfc), 0)), (uint16_t)~0xddf2);
	/* An odd length pads the last byte with zero. */
	assert_int_equal(fold(sum16(rfc, 7, 0)), (uint16_t)~(0xddf2 - 0xf7));

	configure(fx, REJECT_ALL);
	warm_up(fx);
	run_pkt(fx, &syn, &f, &o);
	assert_verdict(o.verdict, VERDICT_TX);
	scapy_check(o.frame, o.frame_len, "Ether IP TCP");

	memcpy(bad, o.frame, o.frame_len);
	bad[f.l3 + 20 + 17] ^= 1;		/* TCP checksum */
	assert_int_not_equal(scapy_run(bad, o.frame_len, out, sizeof(out)), 0);
	memcpy(bad, o.frame, o.frame_len);
	bad[f.l3 + 11] ^= 1;			/* IPv4 header checksum */
	assert_int_not_equal(scapy_run(bad, o.frame_len, out, sizeof(out)), 0);
}

/* ------------------------------------------------------------------------ */
/* reject: TCP                                                               */
/* ------------------------------------------------------------------------ */

/* A SYN: seq 0, ack = its seq + 1 (the SYN's one sequence number). */
static void test_reject_ipv4_syn_answered_with_rst_ack_byte_by_byte(void **state)
{
	struct fx *fx = *state;
	struct pkt syn = { .family = 4, .proto = P_TCP, .sport = 40000, .dport = 80,
			   .tcp_flags = TCP_SYN };
	struct frame f;
	struct xdp_out o;

	configure(fx, REJECT_ALL);
	warm_up(fx);
	run_pkt(fx, &syn, &f, &o);
	check_rst(&f, &o, 0, 1000 + 1);
	scapy_check(o.frame, o.frame_len, "Ether IP TCP");

	assert_cnt(fx, SL_CNT_REJECTED, 1);
	assert_cnt_bytes(fx, SL_CNT_REJECTED, f.len);
	assert_cnt(fx, SL_CNT_DROPPED, 0);
	assert_cnt(fx, SL_CNT_PASSED, 1);
	assert_cnt(fx, SL_CNT_REJECT_LIMITED, 0);
	assert_cnt(fx, SL_CNT_RATE, 1);
	assert_rule_full(fx, "rj", 2, 1, 0, 1, 0, 1);
}

struct seg_case {
	const char *what;
	uint8_t flags;
	uint8_t doff;
	uint16_t payload;
	uint32_t seq, ack;		/* the client's */
	uint32_t rst_seq, rst_ack;	/* the answer's */
};

/*
 * RFC 793 (reset generation): a segment with ACK is answered with seq = its
 * ack; without ACK, seq 0. ack = its seq + payload, + 1 for SYN, + 1 for
 * FIN, modulo 2^32. TCP options are header, not payload.
 */
static const struct seg_case seg_cases[] = {
	{ "ACK|PSH, 10 bytes", TCP_ACK | TCP_PSH, 0, 10, 0x11223344, 0xa0b0c0d0,
	  0xa0b0c0d0, 0x1122334e },
	{ "ACK|FIN, 10 bytes", TCP_ACK | TCP_FIN, 0, 10, 0x11223344, 0xa0b0c0d0,
	  0xa0b0c0d0, 0x1122334f },
	{ "ACK|FIN, no data", TCP_ACK | TCP_FIN, 0, 0, 5000, 7000, 7000, 5001 },
	{ "ACK, 10 bytes, seq wraps", TCP_ACK, 0, 10, 0xfffffffa, 42, 42, 4 },
	{ "SYN at seq 2^32-1", TCP_SYN, 0, 0, 0xffffffff, 0, 0, 0 },
	{ "PSH without ACK, 5 bytes", TCP_PSH, 0, 5, 7, 99, 0, 12 },
	{ "ACK, 12 bytes of options, 10 of data", TCP_ACK, 8, 10, 100, 200, 200, 110 },
	{ "SYN|ACK, 0 bytes", TCP_SYN | TCP_ACK, 0, 0, 300, 400, 400, 301 },
};

static void test_reject_tcp_segment_rst_seq_is_its_ack_ack_covers_data_and_fin(void **state)
{
	struct fx *fx = *state;
	size_t i;

	configure(fx, REJECT_ALL);
	warm_up(fx);
	for (i = 0; i < ARRAY_SIZE(seg_cases); i++) {
		const struct seg_case *c = &seg_cases[i];
		struct pkt p = { .family = 4, .proto = P_TCP, .sport = 40000,
				 .dport = 443, .tcp_flags = c->flags, .doff = c->doff,
				 .payload = c->payload };
		struct frame f;
		struct xdp_out o;

		build(&p, &f);
		set_seq_ack(&f, c->seq, c->ack);
		run_xdp(fx, f.b, f.len, &o);
		if (o.verdict != VERDICT_TX)
			fail_msg("%s: verdict %s", c->what, verdict_name(o.verdict));
		check_rst(&f, &o, c->rst_seq, c->rst_ack);
		if (c->doff)
			scapy_check(o.frame, o.frame_len, "Ether IP TCP");
	}
	assert_cnt(fx, SL_CNT_REJECTED, ARRAY_SIZE(seg_cases));
	assert_rule_full(fx, "rj", 1 + ARRAY_SIZE(seg_cases), 1, 0,
			 ARRAY_SIZE(seg_cases), 0, ARRAY_SIZE(seg_cases));
}

/* payload_len 20, hop limit 64, next header TCP: extension headers are not
 * carried into the answer. */
static void test_reject_ipv6_syn_answered_with_rst_ack_byte_by_byte(void **state)
{
	struct fx *fx = *state;
	struct pkt syn = { .family = 6, .proto = P_TCP, .sport = 40000, .dport = 80,
			   .tcp_flags = TCP_SYN };
	struct pkt ext = { .family = 6, .n_ext = 2, .ext = { P_HOPOPTS, P_DSTOPTS },
			   .proto = P_TCP, .sport = 40001, .dport = 80,
			   .tcp_flags = TCP_ACK | TCP_PSH, .payload = 33 };
	struct frame f;
	struct xdp_out o;

	configure(fx, REJECT_ALL);
	warm_up(fx);
	run_pkt(fx, &syn, &f, &o);
	check_rst(&f, &o, 0, 1001);
	assert_int_equal(get16(o.frame + f.l3 + 4), 20);
	assert_int_equal(o.frame[f.l3 + 6], P_TCP);
	assert_int_equal(o.frame[f.l3 + 7], 64);
	scapy_check(o.frame, o.frame_len, "Ether IPv6 TCP");

	/* The builder's ACK segments carry seq 1000, ack 2000. */
	run_pkt(fx, &ext, &f, &o);
	check_rst(&f, &o, 2000, 1000 + 33);
	assert_int_equal(o.frame_len, 14 + 40 + 20);
	scapy_check(o.frame, o.frame_len, "Ether IPv6 TCP");

	assert_cnt(fx, SL_CNT_REJECTED, 2);
	assert_rule_full(fx, "rj", 3, 1, 0, 2, 0, 2);
}

/* The client's IPv4 options are not echoed: the RST has IHL 5, 40 bytes. */
static void test_reject_ipv4_with_options_rst_has_plain_20_byte_header(void **state)
{
	struct fx *fx = *state;
	unsigned ihl;

	configure(fx, REJECT_ALL);
	warm_up(fx);
	for (ihl = 6; ihl <= 15; ihl++) {
		struct pkt p = { .family = 4, .ihl = ihl, .proto = P_TCP, .sport = 40000,
				 .dport = 80, .tcp_flags = TCP_SYN };
		struct frame f;
		struct xdp_out o;

		run_pkt(fx, &p, &f, &o);
		check_rst(&f, &o, 0, 1001);
		assert_int_equal(o.frame[f.l3], 0x45);
		assert_int_equal(get16(o.frame + f.l3 + 2), 40);
		assert_int_equal(o.frame_len, 14 + 20 + 20);
		if (ihl == 6 || ihl == 15)
			scapy_check(o.frame, o.frame_len, "Ether IP TCP");
	}
	assert_cnt(fx, SL_CNT_REJECTED, 10);
}

/* 802.1Q and 802.1ad+802.1Q: every tag byte stays where it was. */
static void test_reject_rst_keeps_vlan_tags_byte_for_byte(void **state)
{
	static const struct {
		struct pkt p;
		const char *layers;
	} cases[] = {
		{ { .n_vlan = 1, .family = 4, .proto = P_TCP, .sport = 40000,
		    .dport = 80, .tcp_flags = TCP_SYN }, "Ether Dot1Q IP TCP" },
		{ { .n_vlan = 2, .family = 4, .proto = P_TCP, .sport = 40000,
		    .dport = 80, .tcp_flags = TCP_SYN }, "Ether Dot1AD Dot1Q IP TCP" },
		{ { .n_vlan = 1, .family = 6, .proto = P_TCP, .sport = 40000,
		    .dport = 80, .tcp_flags = TCP_SYN }, "Ether Dot1Q IPv6 TCP" },
		{ { .n_vlan = 2, .family = 6, .proto = P_TCP, .sport = 40000,
		    .dport = 80, .tcp_flags = TCP_ACK, .payload = 7 },
		  "Ether Dot1AD Dot1Q IPv6 TCP" },
		{ { .n_vlan = 2, .tpid = { ETH_TYPE_8021Q, ETH_TYPE_8021Q },
		    .family = 4, .proto = P_TCP, .sport = 40000, .dport = 80,
		    .tcp_flags = TCP_SYN }, "Ether Dot1Q Dot1Q IP TCP" },
	};
	struct fx *fx = *state;
	size_t i;

	configure(fx, REJECT_ALL);
	warm_up(fx);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct pkt *p = &cases[i].p;
		struct frame f;
		struct xdp_out o;

		run_pkt(fx, p, &f, &o);
		check_rst(&f, &o, p->tcp_flags & TCP_ACK ? 2000 : 0,
			  1000 + p->payload + !!(p->tcp_flags & TCP_SYN));
		expect_bytes(o.frame + 12, 4 * p->n_vlan + 2, f.b + 12,
			     4 * p->n_vlan + 2, "VLAN tags");
		scapy_check(o.frame, o.frame_len, cases[i].layers);
	}
	assert_cnt(fx, SL_CNT_REJECTED, ARRAY_SIZE(cases));
}

/* ------------------------------------------------------------------------ */
/* reject: everything else                                                   */
/* ------------------------------------------------------------------------ */

/* ICMP 3/13 quoting the IP header (options and all) and the 8-byte UDP header. */
static void test_reject_ipv4_udp_answered_with_icmp_admin_prohibited_quoting_header(void **state)
{
	struct fx *fx = *state;
	struct pkt plain = udp4, opts = udp4, padded = udp4;
	struct frame f;
	struct xdp_out o;

	configure(fx, REJECT_ALL);
	warm_up(fx);

	run_pkt(fx, &plain, &f, &o);
	check_icmp(&f, &o);
	assert_int_equal(get16(o.frame + f.l3 + 2), 20 + 8 + 20 + 8);
	assert_int_equal(o.frame[f.l3 + 9], P_ICMP);
	assert_int_equal(o.frame_len, 14 + 20 + 8 + 28);
	scapy_check(o.frame, o.frame_len, "Ether IP ICMP");

	opts.ihl = 7;
	run_pkt(fx, &opts, &f, &o);
	check_icmp(&f, &o);
	assert_int_equal(get16(o.frame + f.l3 + 2), 20 + 8 + 28 + 8);
	scapy_check(o.frame, o.frame_len, "Ether IP ICMP");

	/* A minimal frame with Ethernet padding: the padding is not quoted. */
	padded.payload = 2;
	padded.eth_pad = 16;
	run_pkt(fx, &padded, &f, &o);
	check_icmp(&f, &o);

	assert_cnt(fx, SL_CNT_REJECTED, 3);
	assert_rule_full(fx, "rj", 4, 1, 0, 3, 0, 3);
}

/* ICMPv6 1/1 quoting the IPv6 header, every extension header and 8 bytes of L4. */
static void test_reject_ipv6_udp_answered_with_icmpv6_quoting_ext_headers(void **state)
{
	struct fx *fx = *state;
	struct pkt plain = udp4, ext = udp4;
	struct frame f;
	struct xdp_out o;

	plain.family = 6;
	ext.family = 6;
	ext.n_ext = 3;
	ext.ext[0] = P_HOPOPTS;
	ext.ext[1] = P_ROUTING;
	ext.ext[2] = P_DSTOPTS;
	configure(fx, REJECT_ALL);
	warm_up(fx);

	run_pkt(fx, &plain, &f, &o);
	check_icmp(&f, &o);
	assert_int_equal(get16(o.frame + f.l3 + 4), 8 + 40 + 8);
	assert_int_equal(o.frame[f.l3 + 6], P_ICMPV6);
	assert_int_equal(o.frame[f.l3 + 7], 64);
	scapy_check(o.frame, o.frame_len, "Ether IPv6 ICMPv6DestUnreach");

	run_pkt(fx, &ext, &f, &o);
	check_icmp(&f, &o);
	assert_int_equal(get16(o.frame + f.l3 + 4), 8 + 40 + 8 + 24 + 16 + 8);
	scapy_check(o.frame, o.frame_len, "Ether IPv6 ICMPv6DestUnreach");

	assert_cnt(fx, SL_CNT_REJECTED, 2);
}

static void test_reject_icmp_error_keeps_vlan_tags_byte_for_byte(void **state)
{
	struct fx *fx = *state;
	struct pkt qinq4 = udp4, vlan6 = udp4;
	struct frame f;
	struct xdp_out o;

	qinq4.n_vlan = 2;
	vlan6.n_vlan = 1;
	vlan6.family = 6;
	configure(fx, REJECT_ALL);
	warm_up(fx);

	run_pkt(fx, &qinq4, &f, &o);
	check_icmp(&f, &o);
	expect_bytes(o.frame + 12, 10, f.b + 12, 10, "VLAN tags");
	scapy_check(o.frame, o.frame_len, "Ether Dot1AD Dot1Q IP ICMP");

	run_pkt(fx, &vlan6, &f, &o);
	check_icmp(&f, &o);
	expect_bytes(o.frame + 12, 6, f.b + 12, 6, "VLAN tag");
	scapy_check(o.frame, o.frame_len, "Ether Dot1Q IPv6 ICMPv6DestUnreach");
}

/*
 * Never answered: an ICMP or ICMPv6 packet, a RST, a later fragment. They
 * are dropped; the rule still counts what it asked for.
 */
static void test_reject_never_answers_icmp_rst_or_later_fragment(void **state)
{
	static const struct pkt never[] = {
		{ .family = 4, .proto = P_ICMP, .payload = 56 },
		{ .family = 6, .proto = P_ICMPV6, .payload = 56 },
		{ .family = 4, .proto = P_TCP, .sport = 40000, .dport = 80,
		  .tcp_flags = TCP_RST },
		{ .family = 6, .proto = P_TCP, .sport = 40000, .dport = 80,
		  .tcp_flags = TCP_RST | TCP_ACK },
		{ .family = 4, .frag = 126, .proto = P_UDP, .payload = 100 },
		{ .family = 4, .frag = IP4_MF | 185, .proto = P_TCP, .payload = 64 },
		{ .family = 6, .n_ext = 1, .ext = { P_FRAGMENT }, .frag = 126 << 3,
		  .proto = P_UDP, .payload = 100 },
		{ .family = 6, .n_ext = 1, .ext = { P_FRAGMENT }, .frag = 185 << 3,
		  .proto = P_TCP, .payload = 64 },
	};
	struct fx *fx = *state;
	size_t i;

	configure(fx, REJECT_ALL);
	warm_up(fx);
	for (i = 0; i < ARRAY_SIZE(never); i++) {
		int v = send_pkt(fx, &never[i]);	/* asserts the frame unchanged */

		if (v != VERDICT_DROP)
			fail_msg("frame %zu: verdict %s, expected XDP_DROP", i,
				 verdict_name(v));
	}
	assert_cnt(fx, SL_CNT_REJECTED, 0);
	assert_cnt(fx, SL_CNT_REJECT_LIMITED, 0);
	assert_cnt(fx, SL_CNT_DROPPED, ARRAY_SIZE(never));
	assert_rule_full(fx, "rj", 1 + ARRAY_SIZE(never), 1, 0, ARRAY_SIZE(never), 0,
			 ARRAY_SIZE(never));
}

/*
 * reject-limit 2/s burst 2: two answers at one instant, the third is
 * dropped and counted reject_limited; one more is earned 500 ms later.
 */
static void test_reject_budget_2_per_s_burst_2_third_answer_dropped(void **state)
{
	struct fx *fx = *state;
	struct pkt syn = { .family = 4, .proto = P_TCP, .sport = 40000, .dport = 80,
			   .tcp_flags = TCP_SYN };
	struct frame f;
	struct xdp_out o;
	int i;

	configure(fx, "reject-limit 2/s burst 2", REJECT_ALL);
	assert_int_equal(read_cfg(fx).reject_burst, 2);
	warm_up(fx);
	for (i = 0; i < 2; i++) {
		run_pkt(fx, &syn, &f, &o);
		check_rst(&f, &o, 0, 1001);
	}
	assert_verdict(send_pkt(fx, &syn), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_REJECTED, 2);
	assert_cnt(fx, SL_CNT_REJECT_LIMITED, 1);
	assert_cnt(fx, SL_CNT_DROPPED, 1);
	assert_rule_full(fx, "rj", 4, 1, 0, 3, 0, 3);

	/* The rule's own budget (1/s) is still spent at 1.5 s; the answers'
	 * budget has earned exactly one. */
	set_now(fx, NS_PER_S + 500 * NS_PER_MS - 1);
	assert_verdict(send_pkt(fx, &syn), VERDICT_DROP);
	set_now(fx, NS_PER_S + 500 * NS_PER_MS);
	run_pkt(fx, &syn, &f, &o);
	check_rst(&f, &o, 0, 1001);
	assert_verdict(send_pkt(fx, &syn), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_REJECTED, 3);
	assert_cnt(fx, SL_CNT_REJECT_LIMITED, 3);
	assert_rule_full(fx, "rj", 7, 1, 0, 6, 0, 6);
}

/*
 * The budget is of answers sent (README: "the interface-wide budget of
 * answers `action reject` sends"): packets reject never answers (ICMP, a
 * later fragment) must not spend it, or a flood of them would silence the
 * RSTs real clients are owed.
 */
static void test_reject_unanswered_packets_spend_no_reject_budget(void **state)
{
	struct fx *fx = *state;
	struct pkt echo = { .family = 4, .proto = P_ICMP, .payload = 56 };
	struct pkt frag = { .family = 4, .frag = 126, .proto = P_UDP, .payload = 100 };
	struct pkt syn = { .family = 4, .proto = P_TCP, .sport = 40000, .dport = 80,
			   .tcp_flags = TCP_SYN };
	struct frame f;
	struct xdp_out o;

	configure(fx, "reject-limit 2/s burst 2", REJECT_ALL);
	warm_up(fx);
	assert_verdict(send_pkt(fx, &echo), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &echo), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &frag), VERDICT_DROP);
	run_pkt(fx, &syn, &f, &o);
	if (o.verdict != VERDICT_TX)
		fail_msg("SYN after 3 unanswered packets: %s, reject_limited %" PRIu64
			 "; expected XDP_TX: nothing was answered yet",
			 verdict_name(o.verdict),
			 global_count(fx, SL_CNT_REJECT_LIMITED, false));
	check_rst(&f, &o, 0, 1001);
	run_pkt(fx, &syn, &f, &o);
	check_rst(&f, &o, 0, 1001);
	assert_verdict(send_pkt(fx, &syn), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_REJECTED, 2);
	assert_cnt(fx, SL_CNT_REJECT_LIMITED, 1);
}

/*
 * IPv6 UDP behind a 256-byte hop-by-hop header: the quote (IPv6 header,
 * extension headers, 8 bytes of UDP: 304 bytes) is longer than reject
 * quotes (reject.bpf.h: "longer chains are not answered").
 */
static void build_long_hbh_udp6(struct frame *f)
{
	struct pkt p = udp4;
	uint8_t *hbh;

	p.family = 6;
	p.payload = 0;
	build(&p, f);
	/* Move the UDP header behind a hop-by-hop header of (31 + 1) x 8 bytes:
	 * next header UDP, one PadN option over the other 254 bytes. */
	memmove(f->b + f->l4 + 256, f->b + f->l4, 8);
	hbh = f->b + f->l4;
	memset(hbh, 0, 256);
	hbh[0] = P_UDP;
	hbh[1] = 31;
	hbh[2] = 1;
	hbh[3] = 252;
	f->b[f->l3 + 6] = P_HOPOPTS;
	put16(f->b + f->l3 + 4, 256 + 8);
	f->l4 += 256;
	f->len += 256;
	f->hdr_end = f->len;
}

/* The same for a packet too long to quote: dropped, and the budget kept. */
static void test_reject_ipv6_too_long_to_quote_spends_no_reject_budget(void **state)
{
	struct fx *fx = *state;
	struct pkt syn = { .family = 4, .proto = P_TCP, .sport = 40000, .dport = 80,
			   .tcp_flags = TCP_SYN };
	struct frame f, long6;
	struct xdp_out o;

	configure(fx, "reject-limit 2/s burst 2", REJECT_ALL);
	warm_up(fx);
	build_long_hbh_udp6(&long6);
	assert_verdict(run_frame(fx, &long6), VERDICT_DROP);
	assert_verdict(run_frame(fx, &long6), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_MALFORMED, 0);
	assert_rule_full(fx, "rj", 3, 1, 0, 2, 0, 2);
	run_pkt(fx, &syn, &f, &o);
	if (o.verdict != VERDICT_TX)
		fail_msg("SYN after 2 unquotable IPv6 packets: %s, reject_limited %" PRIu64
			 "; expected XDP_TX: nothing was answered yet",
			 verdict_name(o.verdict),
			 global_count(fx, SL_CNT_REJECT_LIMITED, false));
	check_rst(&f, &o, 0, 1001);
	assert_cnt(fx, SL_CNT_REJECTED, 1);
	assert_cnt(fx, SL_CNT_REJECT_LIMITED, 0);
}

/* ------------------------------------------------------------------------ */
/* mark                                                                     */
/* ------------------------------------------------------------------------ */

#define MARK_RULE "rule m proto udp dport 53 key src rate 10/s burst 2 action mark 7"

static void expect_unmarked(const struct frame *f, const struct xdp_out *o)
{
	assert_verdict(o->verdict, VERDICT_PASS);
	assert_int_equal(o->meta_len, 0);
	expect_bytes(o->frame, o->frame_len, f->b, f->len, "passed frame");
}

static void expect_marked(const struct frame *f, const struct xdp_out *o,
			  uint32_t mark)
{
	struct sl_meta meta;

	assert_verdict(o->verdict, VERDICT_PASS);
	if (o->meta_len != sizeof(meta))
		fail_msg("%zu bytes of metadata, expected %zu", o->meta_len,
			 sizeof(meta));
	memcpy(&meta, o->b, sizeof(meta));
	if (meta.magic != SL_META_MAGIC || meta.mark != mark)
		fail_msg("metadata magic 0x%08x mark %u, expected 0x%08x mark %u",
			 meta.magic, meta.mark, SL_META_MAGIC, mark);
	expect_bytes(o->frame, o->frame_len, f->b, f->len, "marked frame");
}

/*
 * Over the limit of `action mark 7`: XDP_PASS, the frame untouched, 8 bytes
 * of struct sl_meta in front of it. Conforming packets carry none.
 */
static void test_mark_over_limit_passes_with_metadata_conforming_unmarked(void **state)
{
	struct fx *fx = *state;
	struct frame f;
	struct xdp_out o;

	configure(fx, MARK_RULE);
	build(&udp4, &f);
	run_xdp(fx, f.b, f.len, &o);
	expect_unmarked(&f, &o);
	run_xdp(fx, f.b, f.len, &o);
	expect_unmarked(&f, &o);
	run_xdp(fx, f.b, f.len, &o);
	expect_marked(&f, &o, 7);
	run_xdp(fx, f.b, f.len, &o);
	expect_marked(&f, &o, 7);

	assert_cnt(fx, SL_CNT_MARKED, 2);
	assert_cnt_bytes(fx, SL_CNT_MARKED, 2 * f.len);
	assert_cnt(fx, SL_CNT_PASSED, 4);
	assert_cnt(fx, SL_CNT_DROPPED, 0);
	assert_cnt(fx, SL_CNT_RATE, 2);
	assert_rule_full(fx, "m", 4, 4, 0, 0, 2, 2);

	/* 100 ms earn one conforming packet again: unmarked. */
	set_now(fx, NS_PER_S + 100 * NS_PER_MS);
	run_xdp(fx, f.b, f.len, &o);
	expect_unmarked(&f, &o);
	run_xdp(fx, f.b, f.len, &o);
	expect_marked(&f, &o, 7);
	assert_cnt(fx, SL_CNT_MARKED, 3);
}

/* drop beats mark: a packet both rules limit is dropped, carrying nothing. */
static void test_mark_loses_to_another_rules_drop(void **state)
{
	struct fx *fx = *state;
	struct frame f;
	struct xdp_out o;

	configure(fx, MARK_RULE,
		  "rule d proto udp key src rate 10/s burst 3 action drop");
	build(&udp4, &f);
	run_xdp(fx, f.b, f.len, &o);
	expect_unmarked(&f, &o);
	run_xdp(fx, f.b, f.len, &o);
	expect_unmarked(&f, &o);
	run_xdp(fx, f.b, f.len, &o);
	expect_marked(&f, &o, 7);
	run_xdp(fx, f.b, f.len, &o);
	assert_verdict(o.verdict, VERDICT_DROP);
	assert_int_equal(o.meta_len, 0);
	assert_cnt(fx, SL_CNT_MARKED, 1);
	assert_cnt(fx, SL_CNT_DROPPED, 1);
	assert_rule_full(fx, "m", 4, 4, 0, 0, 2, 2);
	assert_rule_full(fx, "d", 4, 3, 1, 0, 0, 1);
}

static int run_tc(struct fx *fx, struct bpf_program *prog, const void *data,
		  size_t len, __u32 *mark)
{
	struct __sk_buff in = { .mark = *mark }, out = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = data,
		.data_size_in = len,
		.ctx_in = &in,
		.ctx_size_in = sizeof(in),
		.ctx_out = &out,
		.ctx_size_out = sizeof(out),
		.repeat = 1,
	);
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	if (err)
		fail_msg("%s: bpf_prog_test_run_opts: %s", bpf_program__name(prog),
			 strerror(-err));
	*mark = out.mark;
	return (int)opts.retval;
}

/*
 * sluice_tc_in sets skb->mark only from sluice's metadata: an skb without
 * it keeps the mark it had. (BPF_PROG_TEST_RUN cannot hand a TC program
 * metadata; the next test does it with a live frame.)
 */
static void test_tc_in_leaves_mark_alone_without_metadata(void **state)
{
	struct fx *fx = *state;
	struct frame f;
	__u32 mark = 0x55;

	configure(fx, MARK_RULE);
	build(&udp4, &f);
	assert_int_equal(run_tc(fx, fx->skel->progs.sluice_tc_in, f.b, f.len, &mark),
			 TC_UNSPEC);
	assert_int_equal(mark, 0x55);
	mark = 0;
	assert_int_equal(run_tc(fx, fx->skel->progs.sluice_tc_in, f.b, f.len, &mark),
			 TC_UNSPEC);
	assert_int_equal(mark, 0);
}

/*
 * The whole chain in a network namespace of a child process: sluice_xdp
 * runs on a live frame (BPF_F_TEST_XDP_LIVE_FRAMES), XDP_PASS hands the
 * frame with its metadata to the stack on lo, sluice_tc_in at TCX ingress
 * turns it into skb->mark, and a UDP socket reads the mark back
 * (SO_RCVMARK). Writes to `report` the mark of each frame received and a
 * message, empty if all went well; never returns.
 */
static void chain_child(struct fx *fx, int report, const struct frame *f, int n)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(5353),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct ifreq ifr = {};
	char msg[256] = "";
	int one = 1, sock = -1, link, i, proc;
	__u32 marks[8] = {};

	if (unshare(CLONE_NEWNET)) {
		snprintf(msg, sizeof(msg), "unshare(CLONE_NEWNET): %s", strerror(errno));
		goto out;
	}
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	strcpy(ifr.ifr_name, "lo");
	if (sock < 0 || ioctl(sock, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(sock, SIOCSIFFLAGS, &ifr))) {
		snprintf(msg, sizeof(msg), "setting lo up: %s", strerror(errno));
		goto out;
	}
	/* A frame that arrives on lo from 127.0.0.2 is a martian unless lo
	 * routes its own network. */
	proc = open("/proc/sys/net/ipv4/conf/lo/route_localnet", O_WRONLY);
	if (proc < 0 || write(proc, "1", 1) != 1) {
		snprintf(msg, sizeof(msg), "route_localnet: %s", strerror(errno));
		goto out;
	}
	close(proc);
	if (bind(sock, (struct sockaddr *)&addr, sizeof(addr)) ||
	    setsockopt(sock, SOL_SOCKET, SO_RCVMARK, &one, sizeof(one))) {
		snprintf(msg, sizeof(msg), "UDP socket: %s", strerror(errno));
		goto out;
	}
	link = bpf_link_create(bpf_program__fd(fx->skel->progs.sluice_tc_in),
			       if_nametoindex("lo"), TCX_INGRESS, NULL);
	if (link < 0) {
		snprintf(msg, sizeof(msg), "TCX ingress on lo: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct xdp_md ctx = { .data_end = f->len,
				      .ingress_ifindex = if_nametoindex("lo") };
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b,
			    .data_size_in = f->len, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
		char buf[256], cbuf[CMSG_SPACE(sizeof(__u32))];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		ssize_t got;

		if (bpf_prog_test_run_opts(bpf_program__fd(fx->skel->progs.sluice_xdp),
					   &opts)) {
			snprintf(msg, sizeof(msg), "live XDP run %d: %s", i,
				 strerror(errno));
			goto out;
		}
		got = recvmsg(sock, &mh, MSG_DONTWAIT);
		if (got != (ssize_t)(f->len - f->l4 - 8)) {
			snprintf(msg, sizeof(msg), "frame %d: recvmsg %zd (%s), expected %zu bytes",
				 i, got, got < 0 ? strerror(errno) : "", f->len - f->l4 - 8);
			goto out;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_MARK)
				memcpy(&marks[i], CMSG_DATA(cm), sizeof(__u32));
	}
out:
	if (write(report, marks, sizeof(marks)) != sizeof(marks) ||
	    write(report, msg, sizeof(msg)) != sizeof(msg))
		_exit(2);
	_exit(0);
}

static void test_mark_metadata_becomes_skb_mark_through_tc_ingress(void **state)
{
	struct fx *fx = *state;
	struct pkt p = { .family = 4, .src = "127.0.0.2", .dst = "127.0.0.1",
			 .proto = P_UDP, .sport = 40000, .dport = 5353, .payload = 30 };
	struct frame f;
	__u32 marks[8];
	char msg[256];
	int pipefd[2], status;
	pid_t pid;

	configure(fx, "rule m proto udp dport 5353 key src rate 10/s burst 1 action mark 7");
	build(&p, &f);
	memset(f.b, 0, 6);		/* to lo's own address: PACKET_HOST */
	if (pipe(pipefd))
		fail_msg("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (!pid) {
		close(pipefd[0]);
		chain_child(fx, pipefd[1], &f, 3);
	}
	close(pipefd[1]);
	if (read(pipefd[0], marks, sizeof(marks)) != sizeof(marks) ||
	    read(pipefd[0], msg, sizeof(msg)) != sizeof(msg))
		fail_msg("the child reported nothing");
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	if (msg[0])
		fail_msg("%s", msg);
	/* One conforming, unmarked; two over the limit, marked 7. */
	if (marks[0] != 0 || marks[1] != 7 || marks[2] != 7)
		fail_msg("skb->mark of the 3 frames: %u %u %u, expected 0 7 7",
			 marks[0], marks[1], marks[2]);
	assert_cnt(fx, SL_CNT_MARKED, 2);
	assert_rule_full(fx, "m", 3, 3, 0, 0, 2, 2);
}

/* ------------------------------------------------------------------------ */
/* window, through the map path                                               */
/* ------------------------------------------------------------------------ */

/*
 * Sends `tries` copies of f at time t; returns how many passed, checking
 * that once one is refused every later one is too (nothing is earned
 * within an instant).
 */
static unsigned admits_at(struct fx *fx, uint64_t t, const struct frame *f,
			  unsigned tries)
{
	unsigned i, passed = 0;

	set_now(fx, t);
	for (i = 0; i < tries; i++) {
		int v = run_frame(fx, f);

		if (v == VERDICT_PASS && passed != i)
			fail_msg("at %" PRIu64 " ns: packet %u passed after a refusal", t, i);
		passed += v == VERDICT_PASS;
	}
	return passed;
}

#define assert_admits(fx, t, f, tries, want) do {			\
	unsigned got_ = admits_at((fx), (t), (f), (tries));		\
	if (got_ != (unsigned)(want))					\
		fail_msg("at %.9f s: %u of %u admitted, expected %u",	\
			 (double)(t) / NS_PER_S, got_, (unsigned)(tries),	\
			 (unsigned)(want));				\
} while (0)

/* The window state of rule's key for src (an IPv4 source): word[limit]. */
static uint64_t window_word(struct fx *fx, const char *rule, const char *src,
			    unsigned limit)
{
	struct sl_key key = { .family = SL_FAM_IP4 };
	struct sl_key_state st;

	key.rule_uid = active_rule(fx, rule).uid;
	put_addr(key.addr, 4, src);
	if (bpf_map_lookup_elem(fx->maps.keys, &key, &st))
		fail_msg("no sl_keys state for rule %s, %s", rule, src);
	return st.word[limit];
}

/* index (24 bits) | previous count (20) | current count (20) */
#define WINDOW_WORD(index, prev, cur) \
	((uint64_t)(index) << 40 | (uint64_t)(prev) << 20 | (cur))

/*
 * window 5/10s. The sliding estimate is prev x (share of the previous
 * window still covered, rounded up) + cur; a packet passes if the estimate
 * plus it is at most 5. The share is rounded up to 1/1024 (the limiter's
 * fixed point), which only the instant 1 ns before a window ends can tell.
 */
static void test_window_5_per_10s_admits_5_then_sliding_estimate(void **state)
{
	struct fx *fx = *state;
	struct frame f;

	configure(fx, "rule w proto udp dport 53 key src window 5/10s action drop");
	build(&udp4, &f);

	/* Window 2 (20 s..30 s): exactly 5. */
	assert_admits(fx, 20 * NS_PER_S, &f, 8, 5);
	assert_int_equal(window_word(fx, "w", DEFAULT_SRC4, 0), WINDOW_WORD(2, 0, 5));
	assert_admits(fx, 29 * NS_PER_S, &f, 3, 0);
	/* 32.5 s: 75% of window 2 still covered, 5 x 0.75 = 3.75: 3.75 + 1 <= 5. */
	assert_admits(fx, 32500 * NS_PER_MS, &f, 4, 1);
	/* 35 s: 2.5 + (1 + 1) <= 5 < 2.5 + 3. */
	assert_admits(fx, 35 * NS_PER_S, &f, 4, 1);
	/* 37.5 s: 1.25 + (2 + 1) <= 5 < 1.25 + 4. */
	assert_admits(fx, 37500 * NS_PER_MS, &f, 4, 1);
	/* 1 ns before window 4: the share 1e-10 rounds up to 1/1024, and
	 * 5/1024 + 4 fits, 5/1024 + 5 does not. */
	assert_admits(fx, 40 * NS_PER_S - 1, &f, 4, 1);
	assert_int_equal(window_word(fx, "w", DEFAULT_SRC4, 0), WINDOW_WORD(3, 5, 4));
	/* 40 s: window 3 (4 packets) is wholly covered: 4 + 1 <= 5. */
	assert_admits(fx, 40 * NS_PER_S, &f, 4, 1);
	/* 45 s: 4 x 0.5 = 2, + 3 <= 5. */
	assert_admits(fx, 45 * NS_PER_S, &f, 4, 2);
	assert_int_equal(window_word(fx, "w", DEFAULT_SRC4, 0), WINDOW_WORD(4, 4, 3));
	/* Idle through window 5: at 60 s the past is forgotten. */
	assert_admits(fx, 60 * NS_PER_S, &f, 7, 5);

	/* 8+3+4+4+4+4+4+4+7 = 42 sent, 5+1+1+1+1+1+2+5 = 17 passed. */
	assert_rule(fx, "w", 42, 17, 25, 25);
	assert_cnt(fx, SL_CNT_WINDOW, 25);
	assert_cnt(fx, SL_CNT_RATE, 0);
	/* Another source has its own window. */
	assert_verdict(send_from(fx, &udp4, "192.0.2.2"), VERDICT_PASS);
}

/* window 3/1s and window 5/10s: whichever is tighter at the moment binds. */
static void test_window_two_windows_on_one_rule_both_hold(void **state)
{
	struct fx *fx = *state;
	struct frame f;

	configure(fx, "rule w2 proto udp dport 53 key src window 3/1s window 5/10s action drop");
	build(&udp4, &f);
	/* 20 s: the 1 s window binds: 3 of 6 (the 10 s window would take 5). */
	assert_admits(fx, 20 * NS_PER_S, &f, 6, 3);
	/* 22 s: a fresh 1 s window, but the 10 s window has 2 left. */
	assert_admits(fx, 22 * NS_PER_S, &f, 5, 2);
	assert_int_equal(window_word(fx, "w2", DEFAULT_SRC4, 1), WINDOW_WORD(2, 0, 5));
	/* What the 10 s window refused, the 1 s window gave back: it holds
	 * the 2 admitted at 22 s, not 3. */
	assert_int_equal(window_word(fx, "w2", DEFAULT_SRC4, 0), WINDOW_WORD(22, 0, 2));
	assert_admits(fx, 23 * NS_PER_S, &f, 3, 0);
	/* 30 s: window 2 of the 10 s limit is wholly covered: 5 + 1 > 5. */
	assert_admits(fx, 30 * NS_PER_S, &f, 3, 0);
	/* 35 s: 5 x 0.5 = 2.5, + 2 <= 5 < 2.5 + 3; the 1 s window allows 3. */
	assert_admits(fx, 35 * NS_PER_S, &f, 5, 2);
	/* 6+5+3+3+5 = 22 sent, 3+2+2 = 7 passed. */
	assert_rule(fx, "w2", 22, 7, 15, 15);
	assert_cnt(fx, SL_CNT_WINDOW, 15);
}

/*
 * window 3/10s then rate 1/s burst 1: a packet the rate refuses spends none
 * of the window, so the window admits one packet a second until it holds 3
 * admitted packets, not 3 that merely reached it.
 */
static void test_window_refused_by_second_limit_spends_none_of_first(void **state)
{
	struct fx *fx = *state;
	struct frame f;

	configure(fx, "rule wr proto udp dport 53 key src window 3/10s rate 1/s burst 1 action drop");
	build(&udp4, &f);
	assert_admits(fx, 20 * NS_PER_S, &f, 4, 1);
	assert_int_equal(window_word(fx, "wr", DEFAULT_SRC4, 0), WINDOW_WORD(2, 0, 1));
	assert_cnt(fx, SL_CNT_RATE, 3);
	assert_cnt(fx, SL_CNT_WINDOW, 0);
	assert_admits(fx, 21 * NS_PER_S, &f, 2, 1);
	assert_admits(fx, 22 * NS_PER_S, &f, 2, 1);
	assert_int_equal(window_word(fx, "wr", DEFAULT_SRC4, 0), WINDOW_WORD(2, 0, 3));
	assert_admits(fx, 23 * NS_PER_S, &f, 1, 0);
	/* Refusals: 3 + 1 by the rate; at 22 s and 23 s by the window. */
	assert_cnt(fx, SL_CNT_RATE, 4);
	assert_cnt(fx, SL_CNT_WINDOW, 2);
	assert_rule(fx, "wr", 9, 3, 6, 6);
}

/* ------------------------------------------------------------------------ */
/* conns, through the map path                                               */
/* ------------------------------------------------------------------------ */

static struct pkt tcp_pkt(int family, const char *src, uint16_t sport, uint8_t flags)
{
	return (struct pkt){ .family = family, .src = src, .proto = P_TCP,
			     .sport = sport, .dport = 80, .tcp_flags = flags };
}

static struct pkt syn4(uint16_t sport)
{
	return tcp_pkt(4, NULL, sport, TCP_SYN);
}

/* The server's segment of the client's flow from sport: what TC egress sees. */
static struct pkt server4(uint16_t client_port, uint8_t flags)
{
	return (struct pkt){ .family = 4, .src = DEFAULT_DST4, .dst = DEFAULT_SRC4,
			     .proto = P_TCP, .sport = 80, .dport = client_port,
			     .tcp_flags = flags };
}

/* The flow key of a client's packet, as the ABI lays it out. */
static struct sl_flow_key flow_key_of(const struct pkt *p)
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

static bool get_flow(struct fx *fx, const struct pkt *p, struct sl_flow *flow)
{
	struct sl_flow_key k = flow_key_of(p);
	struct sl_flow tmp;

	return !bpf_map_lookup_elem(fx->maps.flows, &k, flow ? flow : &tmp);
}

static unsigned map_entries(int fd, size_t key_size)
{
	uint8_t key[64], next[64];
	unsigned n = 0;
	bool first = true;

	while (!bpf_map_get_next_key(fd, first ? NULL : key, next)) {
		memcpy(key, next, key_size);
		first = false;
		n++;
	}
	return n;
}

#define n_flows(fx)	map_entries((fx)->maps.flows, sizeof(struct sl_flow_key))
#define n_counts(fx)	map_entries((fx)->maps.conns, sizeof(struct sl_key))

/* The sl_conns key of a rule with `key src` for an address. */
static struct sl_key conn_key(struct fx *fx, const char *rule, int family,
			      const char *src)
{
	struct sl_key k = { .rule_uid = active_rule(fx, rule).uid,
			    .family = family == 4 ? SL_FAM_IP4 : SL_FAM_IP6 };

	put_addr(k.addr, family, src);
	return k;
}

#define NO_COUNT	(-1000)

static int64_t conn_count(struct fx *fx, const struct sl_key *k)
{
	__s64 v;

	if (bpf_map_lookup_elem(fx->maps.conns, k, &v))
		return NO_COUNT;
	return v;
}

#define assert_conns(fx, key, n) do {					\
	int64_t got_ = conn_count((fx), (key)), want_ = (n);		\
	if (got_ != want_) {						\
		if (got_ == NO_COUNT)					\
			fail_msg("no sl_conns entry, expected count %" PRId64, want_);	\
		fail_msg("sl_conns count %" PRId64 ", expected %" PRId64, got_, want_); \
	}								\
} while (0)

#define assert_flows(fx, n) do {					\
	unsigned got_ = n_flows(fx);					\
	if (got_ != (unsigned)(n))					\
		fail_msg("%u entries in sl_flows, expected %u", got_, (unsigned)(n)); \
} while (0)

#define CONNS2 "rule c proto tcp dport 80 key src conns 2 action drop"

/*
 * conns 2: two SYNs from one client (two source ports) pass, each creates
 * a flow holding the rule's count for the client, the count is 2; the third
 * SYN gets the action and keeps no slot.
 */
static void test_conns_2_two_syns_tracked_third_gets_action(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002), c = syn4(40003);
	struct sl_key key;
	struct sl_flow flow;

	configure(fx, CONNS2);
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_conns(fx, &key, 1);
	assert_verdict(send_pkt(fx, &b), VERDICT_PASS);
	assert_conns(fx, &key, 2);
	assert_flows(fx, 2);

	assert_true(get_flow(fx, &a, &flow));
	assert_int_equal(flow.state, SL_FLOW_SYN);
	assert_int_equal(flow.n_keys, 1);
	assert_int_equal(flow.last_seen_ns, NS_PER_S);
	assert_memory_equal(&flow.keys[0], &key, sizeof(key));
	assert_true(get_flow(fx, &b, NULL));

	assert_verdict(send_pkt(fx, &c), VERDICT_DROP);
	assert_conns(fx, &key, 2);
	assert_flows(fx, 2);
	assert_false(get_flow(fx, &c, NULL));
	assert_cnt(fx, SL_CNT_CONNS, 1);
	assert_cnt(fx, SL_CNT_DROPPED, 1);
	assert_rule(fx, "c", 3, 2, 1, 1);

	/* Another client has its own count. */
	assert_verdict(send_from(fx, &c, "192.0.2.2"), VERDICT_PASS);
	{
		struct sl_key other = conn_key(fx, "c", 4, "192.0.2.2");

		assert_conns(fx, &other, 1);
	}
	assert_conns(fx, &key, 2);
	assert_flows(fx, 3);
	assert_int_equal(n_counts(fx), 2);
}

/* A SYN retransmitted for a tracked flow passes, even at the limit, and is
 * not counted again; it restarts the flow's idle clock. */
static void test_conns_retransmitted_syn_passes_not_counted_twice(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002);
	struct sl_key key;
	struct sl_flow flow;

	configure(fx, "rule c proto tcp dport 80 key src conns 1 action drop");
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	set_now(fx, 4 * NS_PER_S);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_conns(fx, &key, 1);
	assert_flows(fx, 1);
	assert_true(get_flow(fx, &a, &flow));
	assert_int_equal(flow.n_keys, 1);
	assert_int_equal(flow.state, SL_FLOW_SYN);
	assert_int_equal(flow.last_seen_ns, 4 * NS_PER_S);
	/* The one slot is still taken. */
	assert_verdict(send_pkt(fx, &b), VERDICT_DROP);
	assert_conns(fx, &key, 1);
	assert_rule(fx, "c", 4, 3, 1, 1);
}

/*
 * The client's ACK completes the handshake; its FIN releases the flow
 * (count 1, flow gone) exactly once; the server's RST, seen by sluice_tc_out,
 * releases the other one (count 0).
 */
static void test_conns_ack_establishes_fin_releases_server_rst_releases(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002);
	struct pkt a_ack = tcp_pkt(4, NULL, 40001, TCP_ACK);
	struct pkt a_fin = tcp_pkt(4, NULL, 40001, TCP_FIN | TCP_ACK);
	struct pkt b_rst = server4(40002, TCP_RST | TCP_ACK);
	struct frame f;
	struct sl_key key;
	struct sl_flow flow;
	__u32 mark = 0;

	configure(fx, CONNS2);
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &b), VERDICT_PASS);
	assert_conns(fx, &key, 2);

	set_now(fx, NS_PER_S + 1500 * NS_PER_MS);
	assert_verdict(send_pkt(fx, &a_ack), VERDICT_PASS);
	assert_true(get_flow(fx, &a, &flow));
	assert_int_equal(flow.state, SL_FLOW_ESTABLISHED);
	assert_int_equal(flow.last_seen_ns, NS_PER_S + 1500 * NS_PER_MS);
	/* The idle clock is refreshed at most once a second (README). */
	set_now(fx, 2 * NS_PER_S + 1500 * NS_PER_MS);
	assert_verdict(send_pkt(fx, &a_ack), VERDICT_PASS);
	assert_true(get_flow(fx, &a, &flow));
	assert_int_equal(flow.last_seen_ns, NS_PER_S + 1500 * NS_PER_MS);
	set_now(fx, 2 * NS_PER_S + 1500 * NS_PER_MS + 1);
	assert_verdict(send_pkt(fx, &a_ack), VERDICT_PASS);
	assert_true(get_flow(fx, &a, &flow));
	assert_int_equal(flow.last_seen_ns, 2 * NS_PER_S + 1500 * NS_PER_MS + 1);
	assert_true(get_flow(fx, &b, &flow));
	assert_int_equal(flow.state, SL_FLOW_SYN);
	assert_conns(fx, &key, 2);

	assert_verdict(send_pkt(fx, &a_fin), VERDICT_PASS);
	assert_conns(fx, &key, 1);
	assert_false(get_flow(fx, &a, NULL));
	assert_flows(fx, 1);
	/* A retransmitted FIN finds nothing to release. */
	assert_verdict(send_pkt(fx, &a_fin), VERDICT_PASS);
	assert_conns(fx, &key, 1);

	build(&b_rst, &f);
	assert_int_equal(run_tc(fx, fx->skel->progs.sluice_tc_out, f.b, f.len, &mark),
			 TC_UNSPEC);
	assert_conns(fx, &key, 0);
	assert_false(get_flow(fx, &b, NULL));
	assert_flows(fx, 0);
	assert_int_equal(run_tc(fx, fx->skel->progs.sluice_tc_out, f.b, f.len, &mark),
			 TC_UNSPEC);
	assert_conns(fx, &key, 0);

	/* Both slots are free again. */
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &b), VERDICT_PASS);
	assert_conns(fx, &key, 2);
	assert_cnt(fx, SL_CNT_CONNS, 0);
}

/* The client's RST releases; so does the server's FIN; the server's ACK,
 * or a RST for another port, releases nothing. */
static void test_conns_client_rst_and_server_fin_release(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002);
	struct pkt a_rst = tcp_pkt(4, NULL, 40001, TCP_RST);
	struct pkt b_ack = server4(40002, TCP_ACK);
	struct pkt other_rst = server4(40009, TCP_RST | TCP_ACK);
	struct pkt b_fin = server4(40002, TCP_FIN | TCP_ACK);
	struct frame f;
	struct sl_key key;
	__u32 mark = 0;

	configure(fx, CONNS2);
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &b), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &a_rst), VERDICT_PASS);
	assert_conns(fx, &key, 1);
	assert_false(get_flow(fx, &a, NULL));

	build(&b_ack, &f);
	run_tc(fx, fx->skel->progs.sluice_tc_out, f.b, f.len, &mark);
	build(&other_rst, &f);
	run_tc(fx, fx->skel->progs.sluice_tc_out, f.b, f.len, &mark);
	assert_conns(fx, &key, 1);
	assert_true(get_flow(fx, &b, NULL));

	build(&b_fin, &f);
	assert_int_equal(run_tc(fx, fx->skel->progs.sluice_tc_out, f.b, f.len, &mark),
			 TC_UNSPEC);
	assert_conns(fx, &key, 0);
	assert_flows(fx, 0);
}

/* `syn` limits the rule to SYNs, not its bookkeeping: the FIN still releases. */
static void test_conns_rule_with_syn_clause_still_sees_the_fin(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001);
	struct pkt a_fin = tcp_pkt(4, NULL, 40001, TCP_FIN | TCP_ACK);
	struct sl_key key;

	configure(fx, "rule c proto tcp dport 80 syn key src conns 1 action drop");
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_conns(fx, &key, 1);
	assert_verdict(send_pkt(fx, &a_fin), VERDICT_PASS);
	assert_conns(fx, &key, 0);
	assert_flows(fx, 0);
	assert_rule(fx, "c", 1, 1, 0, 0);
}

static void test_conns_ipv6_flows_keyed_by_full_addresses(void **state)
{
	struct fx *fx = *state;
	struct pkt a = tcp_pkt(6, NULL, 40001, TCP_SYN);
	struct pkt b = tcp_pkt(6, NULL, 40002, TCP_SYN);
	struct pkt a_fin = tcp_pkt(6, NULL, 40001, TCP_FIN | TCP_ACK);
	struct sl_key key;
	struct sl_flow flow;

	configure(fx, "rule c proto tcp dport 80 key src conns 1 action drop");
	key = conn_key(fx, "c", 6, DEFAULT_SRC6);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_true(get_flow(fx, &a, &flow));
	assert_memory_equal(&flow.keys[0], &key, sizeof(key));
	assert_verdict(send_pkt(fx, &b), VERDICT_DROP);
	assert_conns(fx, &key, 1);
	assert_verdict(send_pkt(fx, &a_fin), VERDICT_PASS);
	assert_conns(fx, &key, 0);
	assert_verdict(send_pkt(fx, &b), VERDICT_PASS);
	assert_conns(fx, &key, 1);
}

/* The third SYN under `action reject` is answered with a RST and keeps no slot. */
static void test_conns_over_limit_with_reject_answers_rst_keeps_no_slot(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002);
	struct frame f;
	struct xdp_out o;
	struct sl_key key;

	configure(fx, "rule c proto tcp dport 80 key src conns 1 action reject");
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	run_pkt(fx, &b, &f, &o);
	check_rst(&f, &o, 0, 1001);
	assert_conns(fx, &key, 1);
	assert_flows(fx, 1);
	assert_false(get_flow(fx, &b, NULL));
	assert_cnt(fx, SL_CNT_CONNS, 1);
	assert_cnt(fx, SL_CNT_REJECTED, 1);
	assert_rule_full(fx, "c", 2, 1, 0, 1, 0, 1);
}

/*
 * README, Connection limits: "the SYN over the limit gets the rule's action
 * and its slot back". Under `action mark` that action lets the SYN through,
 * marked; it must still hold no slot of the limit it broke, or marked
 * (degraded) connections would eat the budget of unmarked ones: with
 * conns 2, two unmarked connections must fit again once the first two close,
 * however many marked ones are open.
 */
static void test_conns_over_limit_with_mark_passes_marked_and_gives_slot_back(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002), c = syn4(40003);
	struct pkt d = syn4(40004), e = syn4(40005);
	struct pkt a_fin = tcp_pkt(4, NULL, 40001, TCP_FIN | TCP_ACK);
	struct pkt b_fin = tcp_pkt(4, NULL, 40002, TCP_FIN | TCP_ACK);
	struct pkt c_fin = tcp_pkt(4, NULL, 40003, TCP_FIN | TCP_ACK);
	struct frame f;
	struct xdp_out o;
	struct sl_key key;

	configure(fx, "rule c proto tcp dport 80 key src conns 2 action mark 7");
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	run_pkt(fx, &a, &f, &o);
	expect_unmarked(&f, &o);
	run_pkt(fx, &b, &f, &o);
	expect_unmarked(&f, &o);
	run_pkt(fx, &c, &f, &o);
	expect_marked(&f, &o, 7);
	assert_cnt(fx, SL_CNT_CONNS, 1);
	assert_cnt(fx, SL_CNT_MARKED, 1);
	assert_rule_full(fx, "c", 3, 3, 0, 0, 1, 1);
	assert_conns(fx, &key, 2);

	assert_verdict(send_pkt(fx, &a_fin), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &b_fin), VERDICT_PASS);
	assert_conns(fx, &key, 0);
	run_pkt(fx, &d, &f, &o);
	expect_unmarked(&f, &o);
	run_pkt(fx, &e, &f, &o);
	expect_unmarked(&f, &o);
	assert_conns(fx, &key, 2);
	/* The marked connection's end gives back nothing it did not take. */
	assert_verdict(send_pkt(fx, &c_fin), VERDICT_PASS);
	assert_conns(fx, &key, 2);
}

/* conns 5 then rate 1/s burst 1: the SYN the rate refuses gives its slot back. */
static void test_conns_syn_refused_by_later_limit_of_rule_keeps_no_slot(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002);
	struct sl_key key;

	configure(fx, "rule c proto tcp dport 80 key src conns 5 rate 1/s burst 1 action drop");
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &b), VERDICT_DROP);
	assert_conns(fx, &key, 1);
	assert_flows(fx, 1);
	assert_false(get_flow(fx, &b, NULL));
	assert_cnt(fx, SL_CNT_RATE, 1);
	assert_cnt(fx, SL_CNT_CONNS, 0);
}

/* A SYN the conns rule admits but a later rule drops or rejects keeps no slot. */
static void test_conns_syn_refused_by_another_rule_keeps_no_slot(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002), c = syn4(40003);
	struct frame f;
	struct xdp_out o;
	struct sl_key key;

	configure(fx, "rule c proto tcp dport 80 key src conns 5 action drop",
		  "rule r proto tcp dport 80 syn key src rate 1/s burst 1 action drop");
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &b), VERDICT_DROP);
	assert_conns(fx, &key, 1);
	assert_flows(fx, 1);
	assert_rule(fx, "c", 2, 2, 0, 0);
	assert_rule(fx, "r", 2, 1, 1, 1);

	configure(fx, "rule c proto tcp dport 80 key src conns 5 action drop",
		  "rule r proto tcp dport 80 syn key src rate 1/s burst 1 action reject");
	run_pkt(fx, &c, &f, &o);
	check_rst(&f, &o, 0, 1001);
	assert_conns(fx, &key, 1);
	assert_flows(fx, 1);
}

/* Dry run: every SYN passes and is tracked; the limit is only counted. */
static void test_conns_dry_run_tracks_but_never_drops(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002), c = syn4(40003), d = syn4(40004);
	struct sl_key key;

	configure(fx, CONNS2);
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	assert_int_equal(ruleset__set_dry_run(&fx->maps, true), 0);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &b), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &c), VERDICT_PASS);
	assert_conns(fx, &key, 3);
	assert_flows(fx, 3);
	assert_true(get_flow(fx, &c, NULL));
	assert_cnt(fx, SL_CNT_CONNS, 1);
	assert_cnt(fx, SL_CNT_DROPPED, 0);
	assert_rule(fx, "c", 3, 3, 0, 1);

	assert_int_equal(ruleset__set_dry_run(&fx->maps, false), 0);
	assert_verdict(send_pkt(fx, &d), VERDICT_DROP);
	assert_conns(fx, &key, 3);
	assert_flows(fx, 3);
}

/* ------------------------------------------------------------------------ */
/* sluice_ctl and the sweep                                                  */
/* ------------------------------------------------------------------------ */

static struct sl_ctl run_ctl(struct fx *fx, struct sl_ctl ctl)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctl,
		    .ctx_size_in = sizeof(ctl));
	int err = bpf_prog_test_run_opts(bpf_program__fd(fx->skel->progs.sluice_ctl),
					 &opts);

	if (err)
		fail_msg("sluice_ctl op %u: %s", ctl.op, strerror(-err));
	assert_int_equal(opts.retval, 0);
	return ctl;
}

static int64_t ctl_release(struct fx *fx, const struct pkt *p)
{
	struct sl_ctl ctl = { .op = SL_CTL_RELEASE, .flow = flow_key_of(p) };

	return run_ctl(fx, ctl).result;
}

static int64_t ctl_adjust(struct fx *fx, const struct sl_key *k, int32_t delta)
{
	struct sl_ctl ctl = { .op = SL_CTL_ADJUST, .delta = delta, .conn = *k };

	return run_ctl(fx, ctl).result;
}

static int64_t ctl_drop_if_zero(struct fx *fx, const struct sl_key *k)
{
	struct sl_ctl ctl = { .op = SL_CTL_DROP_IF_ZERO, .conn = *k };

	return run_ctl(fx, ctl).result;
}

/*
 * A flow charged to two rules' counts: RELEASE returns 1 and gives each
 * slot back; a second RELEASE returns 0 and gives nothing.
 */
static void test_ctl_release_returns_1_once_and_gives_slots_back_once(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002), never = syn4(40009);
	struct sl_key k1, k2;

	configure(fx, "rule c1 proto tcp dport 80 key src conns 5 action drop",
		  "rule c2 proto tcp dport 80 key global conns 10 action drop");
	k1 = conn_key(fx, "c1", 4, DEFAULT_SRC4);
	k2 = (struct sl_key){ .rule_uid = active_rule(fx, "c2").uid };
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &b), VERDICT_PASS);
	assert_conns(fx, &k1, 2);
	assert_conns(fx, &k2, 2);

	assert_int_equal(ctl_release(fx, &a), 1);
	assert_conns(fx, &k1, 1);
	assert_conns(fx, &k2, 1);
	assert_false(get_flow(fx, &a, NULL));
	assert_int_equal(ctl_release(fx, &a), 0);
	assert_conns(fx, &k1, 1);
	assert_conns(fx, &k2, 1);
	assert_int_equal(ctl_release(fx, &never), 0);
	assert_int_equal(ctl_release(fx, &b), 1);
	assert_conns(fx, &k1, 0);
	assert_conns(fx, &k2, 0);
	assert_flows(fx, 0);
}

static void test_ctl_adjust_adds_delta_and_creates_a_missing_count(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002);
	struct sl_key key, absent;

	configure(fx, CONNS2);
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	absent = conn_key(fx, "c", 4, "192.0.2.99");
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_int_equal(ctl_adjust(fx, &key, 3), 4);
	assert_conns(fx, &key, 4);
	assert_int_equal(ctl_adjust(fx, &key, -4), 0);
	assert_conns(fx, &key, 0);
	assert_int_equal(conn_count(fx, &absent), NO_COUNT);
	assert_int_equal(ctl_adjust(fx, &absent, 2), 2);
	assert_conns(fx, &absent, 2);
	/* The data path sees the adjusted counts: 192.0.2.99 is at its limit. */
	assert_verdict(send_from(fx, &a, "192.0.2.99"), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);		/* retransmit */
	assert_verdict(send_pkt(fx, &b), VERDICT_PASS);
	assert_conns(fx, &key, 1);
}

static void test_ctl_drop_if_zero_deletes_only_a_zero_count(void **state)
{
	struct fx *fx = *state;
	struct sl_key two, zero, absent;

	configure(fx, CONNS2);
	two = conn_key(fx, "c", 4, "192.0.2.2");
	zero = conn_key(fx, "c", 4, "192.0.2.3");
	absent = conn_key(fx, "c", 4, "192.0.2.4");
	assert_int_equal(ctl_adjust(fx, &two, 2), 2);
	assert_int_equal(ctl_adjust(fx, &zero, 0), 0);
	assert_int_equal(n_counts(fx), 2);

	assert_int_equal(ctl_drop_if_zero(fx, &two), 0);
	assert_conns(fx, &two, 2);
	assert_int_equal(ctl_drop_if_zero(fx, &zero), 1);
	assert_int_equal(conn_count(fx, &zero), NO_COUNT);
	assert_int_equal(ctl_drop_if_zero(fx, &zero), 0);
	assert_int_equal(ctl_drop_if_zero(fx, &absent), 0);
	assert_int_equal(n_counts(fx), 1);
}

static struct sl_sweep_result sweep_at(struct fx *fx, uint64_t now)
{
	struct sl_sweep_result res;
	struct sl_error err = {};
	int ret = sweep__run(&fx->maps, bpf_program__fd(fx->skel->progs.sluice_ctl),
			     now, &res, &err);

	if (ret)
		fail_msg("sweep__run at %" PRIu64 ": %d: %s", now, ret, err.msg);
	return res;
}

#define assert_sweep(res, fl, ho, idle, adj, drp) do {			\
	struct sl_sweep_result r_ = (res);				\
	unsigned long long w_[5] = { (fl), (ho), (idle), (adj), (drp) };	\
	if (r_.flows != w_[0] || r_.released_half_open != w_[1] ||	\
	    r_.released_idle != w_[2] || r_.adjusted != w_[3] ||	\
	    r_.dropped != w_[4])					\
		fail_msg("sweep: flows/half_open/idle/adjusted/dropped = "	\
			 "%llu/%llu/%llu/%llu/%llu, expected %llu/%llu/%llu/%llu/%llu", \
			 r_.flows, r_.released_half_open, r_.released_idle,	\
			 r_.adjusted, r_.dropped, w_[0], w_[1], w_[2], w_[3], w_[4]); \
} while (0)

/*
 * conn-timeout half-open 3s established 1m. A SYN at 1 s never answered is
 * released once idle more than 3 s; a flow established at 2.5 s stays until
 * idle more than a minute; its count, then zero, is removed.
 */
static void test_sweep_releases_idle_half_open_keeps_established(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001), b = syn4(40002);
	struct pkt b_ack = tcp_pkt(4, NULL, 40002, TCP_ACK);
	struct sl_key key;
	uint64_t est = NS_PER_S + 1500 * NS_PER_MS;

	configure(fx, "conn-timeout half-open 3s established 1m", CONNS2);
	assert_int_equal(read_cfg(fx).half_open_ns, 3 * NS_PER_S);
	assert_int_equal(read_cfg(fx).established_ns, 60 * NS_PER_S);
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &b), VERDICT_PASS);
	set_now(fx, est);
	assert_verdict(send_pkt(fx, &b_ack), VERDICT_PASS);

	/*
	 * The data path refreshes last-seen at most every SL_FLOW_REFRESH_NS,
	 * so the sweep waits that long beyond the timeout: idle exactly 3 s
	 * + 1 s is not idle longer than that.
	 */
	assert_sweep(sweep_at(fx, 5 * NS_PER_S), 2, 0, 0, 0, 0);
	assert_sweep(sweep_at(fx, 5 * NS_PER_S + 1), 1, 1, 0, 0, 0);
	assert_false(get_flow(fx, &a, NULL));
	assert_true(get_flow(fx, &b, NULL));
	assert_conns(fx, &key, 1);
	/* A sweep is idempotent. */
	assert_sweep(sweep_at(fx, 5 * NS_PER_S + 1), 1, 0, 0, 0, 0);

	/* b, last seen at est, goes once 60 s + 1 s have passed since. */
	assert_sweep(sweep_at(fx, est + 61 * NS_PER_S), 1, 0, 0, 0, 0);
	assert_sweep(sweep_at(fx, est + 61 * NS_PER_S + 1), 0, 0, 1, 0, 1);
	assert_flows(fx, 0);
	assert_int_equal(conn_count(fx, &key), NO_COUNT);
}

/*
 * Reconciling: a count that disagrees with the flows holding it is set to
 * their number (adjusted 1); a count no flow holds goes to 0, then away; a
 * flow whose count vanished gets it back.
 */
static void test_sweep_corrects_a_count_that_disagrees_with_flows(void **state)
{
	struct fx *fx = *state;
	struct pkt a = syn4(40001);
	struct sl_key key, orphan;
	__s64 v;

	configure(fx, CONNS2);
	key = conn_key(fx, "c", 4, DEFAULT_SRC4);
	orphan = conn_key(fx, "c", 4, "192.0.2.77");
	assert_verdict(send_pkt(fx, &a), VERDICT_PASS);

	v = 5;
	assert_int_equal(bpf_map_update_elem(fx->maps.conns, &key, &v, BPF_EXIST), 0);
	assert_sweep(sweep_at(fx, NS_PER_S), 1, 0, 0, 1, 0);
	assert_conns(fx, &key, 1);
	assert_true(get_flow(fx, &a, NULL));
	assert_sweep(sweep_at(fx, NS_PER_S), 1, 0, 0, 0, 0);

	v = 3;
	assert_int_equal(bpf_map_update_elem(fx->maps.conns, &orphan, &v, BPF_NOEXIST), 0);
	assert_sweep(sweep_at(fx, NS_PER_S), 1, 0, 0, 1, 0);
	assert_conns(fx, &orphan, 0);
	assert_sweep(sweep_at(fx, NS_PER_S), 1, 0, 0, 0, 1);
	assert_int_equal(conn_count(fx, &orphan), NO_COUNT);

	assert_int_equal(bpf_map_delete_elem(fx->maps.conns, &key), 0);
	assert_sweep(sweep_at(fx, NS_PER_S), 1, 0, 0, 1, 0);
	assert_conns(fx, &key, 1);
}

/* ------------------------------------------------------------------------ */

static const struct CMUnitTest tests[] = {
	TEST(test_rfc1071_example_and_scapy_refuses_a_wrong_checksum),

	TEST(test_reject_ipv4_syn_answered_with_rst_ack_byte_by_byte),
	TEST(test_reject_tcp_segment_rst_seq_is_its_ack_ack_covers_data_and_fin),
	TEST(test_reject_ipv6_syn_answered_with_rst_ack_byte_by_byte),
	TEST(test_reject_ipv4_with_options_rst_has_plain_20_byte_header),
	TEST(test_reject_rst_keeps_vlan_tags_byte_for_byte),
	TEST(test_reject_ipv4_udp_answered_with_icmp_admin_prohibited_quoting_header),
	TEST(test_reject_ipv6_udp_answered_with_icmpv6_quoting_ext_headers),
	TEST(test_reject_icmp_error_keeps_vlan_tags_byte_for_byte),
	TEST(test_reject_never_answers_icmp_rst_or_later_fragment),
	TEST(test_reject_budget_2_per_s_burst_2_third_answer_dropped),
	TEST(test_reject_unanswered_packets_spend_no_reject_budget),
	TEST(test_reject_ipv6_too_long_to_quote_spends_no_reject_budget),

	TEST(test_mark_over_limit_passes_with_metadata_conforming_unmarked),
	TEST(test_mark_loses_to_another_rules_drop),
	TEST(test_tc_in_leaves_mark_alone_without_metadata),
	TEST(test_mark_metadata_becomes_skb_mark_through_tc_ingress),

	TEST(test_window_5_per_10s_admits_5_then_sliding_estimate),
	TEST(test_window_two_windows_on_one_rule_both_hold),
	TEST(test_window_refused_by_second_limit_spends_none_of_first),

	TEST(test_conns_2_two_syns_tracked_third_gets_action),
	TEST(test_conns_retransmitted_syn_passes_not_counted_twice),
	TEST(test_conns_ack_establishes_fin_releases_server_rst_releases),
	TEST(test_conns_client_rst_and_server_fin_release),
	TEST(test_conns_rule_with_syn_clause_still_sees_the_fin),
	TEST(test_conns_ipv6_flows_keyed_by_full_addresses),
	TEST(test_conns_over_limit_with_reject_answers_rst_keeps_no_slot),
	TEST(test_conns_over_limit_with_mark_passes_marked_and_gives_slot_back),
	TEST(test_conns_syn_refused_by_later_limit_of_rule_keeps_no_slot),
	TEST(test_conns_syn_refused_by_another_rule_keeps_no_slot),
	TEST(test_conns_dry_run_tracks_but_never_drops),

	TEST(test_ctl_release_returns_1_once_and_gives_slots_back_once),
	TEST(test_ctl_adjust_adds_delta_and_creates_a_missing_count),
	TEST(test_ctl_drop_if_zero_deletes_only_a_zero_count),
	TEST(test_sweep_releases_idle_half_open_keeps_established),
	TEST(test_sweep_corrects_a_count_that_disagrees_with_flows),
};

int main(void)
{
	return cmocka_run_group_tests_name("bpf-actions", tests, NULL, NULL);
}
