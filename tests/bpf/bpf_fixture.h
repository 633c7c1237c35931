/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What every BPF test file shares: the fixture that loads the real object
 * with the test clock, configure(), the frame builders, the run helpers and
 * the counter assertions. Static functions, so each test binary compiles its
 * own copy and nothing links between them; inline, so a file that does not
 * use a helper does not trip -Wunused-function.
 */
#ifndef SLUICE_BPF_FIXTURE_H
#define SLUICE_BPF_FIXTURE_H

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "attach.h"
#include "config.h"
#include "ruleset.h"
#include "sluice.skel.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define NS_PER_MS	1000000ull
#define NS_PER_S	1000000000ull

/* BPF_PROG_TEST_RUN for XDP takes at most a page minus head- and tailroom. */
#define FRAME_MAX	2048

/* Verdicts, spelled as the kernel's enum xdp_action. */
#define VERDICT_DROP	1
#define VERDICT_PASS	2
#define VERDICT_TX	3

#define ETH_TYPE_IP	0x0800
#define ETH_TYPE_ARP	0x0806
#define ETH_TYPE_IP6	0x86dd
#define ETH_TYPE_8021Q	0x8100
#define ETH_TYPE_8021AD	0x88a8

#define P_HOPOPTS	0
#define P_ICMP		1
#define P_TCP		6
#define P_UDP		17
#define P_ROUTING	43
#define P_FRAGMENT	44
#define P_AH		51
#define P_ICMPV6	58
#define P_DSTOPTS	60

#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_PSH		0x08
#define TCP_ACK		0x10

#define IP4_MF		0x2000
#define IP6_M		0x0001

/* The addresses build() uses when a struct pkt names none. */
#define DEFAULT_SRC4	"192.0.2.1"
#define DEFAULT_DST4	"198.51.100.1"
#define DEFAULT_SRC6	"2001:db8::1"
#define DEFAULT_DST6	"2001:db8:ffff::1"

/* ------------------------------------------------------------------------ */
/* Frames as data                                                            */
/* ------------------------------------------------------------------------ */

/*
 * What a frame is made of. Zero means "the usual": no VLAN, IHL 5, TCP data
 * offset 5, default addresses, no payload.
 */
struct pkt {
	uint8_t n_vlan;		/* tags before the ethertype, up to 3 */
	uint16_t tpid[3];	/* 0: 802.1Q, or 802.1ad outermost when stacked */
	uint16_t ethertype;	/* 0: from family */
	uint8_t family;		/* 4, 6, or 0 for ARP */
	const char *src, *dst;
	uint8_t ihl;		/* IPv4 header length in words, 0: 5 */
	uint16_t frag;		/* IPv4 frag_off, or IPv6 fragment header offset|M */
	uint8_t n_ext;		/* IPv6 extension headers, in wire order */
	uint8_t ext[12];
	uint8_t proto;
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint8_t doff;		/* TCP header length in words, 0: 5 */
	uint16_t payload;	/* bytes after the last header */
	uint16_t frame_len;	/* nonzero: payload fills the frame to this length */
	uint16_t eth_pad;	/* bytes after the IP packet: Ethernet padding */
};

struct frame {
	uint8_t b[FRAME_MAX];
	size_t len;
	size_t l3;		/* IP header */
	size_t l4;		/* L4 header (or the payload of a later fragment) */
	size_t hdr_end;		/* end of every header the parser must read */
};

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put_addr(uint8_t *p, int family, const char *text)
{
	int ret = inet_pton(family == 4 ? AF_INET : AF_INET6, text, p);

	if (ret != 1)
		fail_msg("bad test address \"%s\"", text);
}

static inline void ip4_checksum(uint8_t *iph)
{
	size_t len = (iph[0] & 0x0f) * 4, i;
	uint32_t sum = 0;

	put16(iph + 10, 0);
	for (i = 0; i + 1 < len; i += 2)
		sum += get16(iph + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(iph + 10, ~sum & 0xffff);
}

/* One IPv6 extension header of the given type at p; returns its length. */
static inline size_t put_ext(uint8_t *p, uint8_t type, uint8_t next, uint16_t frag)
{
	switch (type) {
	case P_HOPOPTS:
		/* 8 bytes: PadN over the 6 option bytes. */
		p[0] = next;
		p[1] = 0;
		p[2] = 1;
		p[3] = 4;
		memset(p + 4, 0, 4);
		return 8;
	case P_ROUTING:
		/* 24 bytes: type 0 with segments left 0 and one address. */
		memset(p, 0, 24);
		p[0] = next;
		p[1] = 2;
		p[2] = 0;
		p[3] = 0;
		p[8] = 0x20;
		p[9] = 0x01;
		p[10] = 0x0d;
		p[11] = 0xb8;
		p[23] = 0x42;
		return 24;
	case P_DSTOPTS:
		/* 16 bytes: PadN over the 14 option bytes. */
		memset(p, 0, 16);
		p[0] = next;
		p[1] = 1;
		p[2] = 1;
		p[3] = 12;
		return 16;
	case P_FRAGMENT:
		p[0] = next;
		p[1] = 0;
		put16(p + 2, frag);
		put32(p + 4, 0x5a5a0001);
		return 8;
	case P_AH:
		/* 24 bytes: payload length 4 means (4 + 2) * 4, a 12-byte ICV. */
		memset(p, 0xa5, 24);
		p[0] = next;
		p[1] = 4;
		put16(p + 2, 0);
		put32(p + 4, 0x1000);	/* SPI */
		put32(p + 8, 1);	/* sequence */
		return 24;
	}
	fail_msg("no builder for extension header %u", type);
	return 0;
}

static inline bool later_fragment(const struct pkt *p)
{
	unsigned i;

	if (p->family == 4)
		return p->frag & 0x1fff;
	for (i = 0; i < p->n_ext; i++)
		if (p->ext[i] == P_FRAGMENT)
			return p->frag & 0xfff8;
	return false;
}

static inline void build(const struct pkt *p, struct frame *f)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x01,
					  0x02, 0, 0, 0, 0, 0x02 };
	uint8_t *b = f->b;
	size_t off, end, i;
	uint16_t type;

	memset(f, 0, sizeof(*f));
	memcpy(b, macs, sizeof(macs));
	off = 12;
	for (i = 0; i < p->n_vlan; i++) {
		uint16_t tpid = p->tpid[i];

		if (!tpid)
			tpid = p->n_vlan > 1 && i == 0 ? ETH_TYPE_8021AD :
							 ETH_TYPE_8021Q;
		put16(b + off, tpid);
		put16(b + off + 2, 100 + i);	/* TCI: VLAN id */
		off += 4;
	}
	type = p->ethertype ? p->ethertype :
	       p->family == 4 ? ETH_TYPE_IP :
	       p->family == 6 ? ETH_TYPE_IP6 : ETH_TYPE_ARP;
	put16(b + off, type);
	off += 2;
	f->l3 = off;

	if (p->family == 0) {
		/* ARP request: Ethernet/IPv4, who-has 192.0.2.2 tell 192.0.2.1. */
		put16(b + off, 1);
		put16(b + off + 2, ETH_TYPE_IP);
		b[off + 4] = 6;
		b[off + 5] = 4;
		put16(b + off + 6, 1);
		memcpy(b + off + 8, macs + 6, 6);
		put_addr(b + off + 14, 4, "192.0.2.1");
		memset(b + off + 18, 0, 6);
		put_addr(b + off + 24, 4, "192.0.2.2");
		f->len = f->l4 = f->hdr_end = off + 28;
		return;
	}

	if (p->family == 4) {
		uint8_t ihl = p->ihl ? p->ihl : 5;

		b[off] = 0x40 | ihl;
		b[off + 1] = 0;
		put16(b + off + 4, 0x1234);
		put16(b + off + 6, p->frag);
		b[off + 8] = 64;
		b[off + 9] = p->proto;
		put_addr(b + off + 12, 4, p->src ? p->src : DEFAULT_SRC4);
		put_addr(b + off + 16, 4, p->dst ? p->dst : DEFAULT_DST4);
		/* Options: NOPs, then end of list. */
		memset(b + off + 20, 1, (ihl - 5) * 4);
		if (ihl > 5)
			b[off + ihl * 4 - 1] = 0;
		off += ihl * 4;
	} else {
		b[off] = 0x60;
		b[off + 6] = p->n_ext ? p->ext[0] : p->proto;
		b[off + 7] = 64;
		put_addr(b + off + 8, 6, p->src ? p->src : DEFAULT_SRC6);
		put_addr(b + off + 24, 6, p->dst ? p->dst : DEFAULT_DST6);
		off += 40;
		for (i = 0; i < p->n_ext; i++) {
			uint8_t next = i + 1 < p->n_ext ? p->ext[i + 1] : p->proto;

			off += put_ext(b + off, p->ext[i], next, p->frag);
		}
	}
	f->l4 = off;

	if (!later_fragment(p)) {
		switch (p->proto) {
		case P_TCP: {
			uint8_t doff = p->doff ? p->doff : 5;

			put16(b + off, p->sport);
			put16(b + off + 2, p->dport);
			put32(b + off + 4, 1000);
			put32(b + off + 8, p->tcp_flags & TCP_ACK ? 2000 : 0);
			b[off + 12] = doff << 4;
			b[off + 13] = p->tcp_flags;
			put16(b + off + 14, 65535);
			memset(b + off + 20, 1, doff > 5 ? (doff - 5) * 4 : 0);
			off += doff * 4;
			break;
		}
		case P_UDP:
			put16(b + off, p->sport);
			put16(b + off + 2, p->dport);
			off += 8;
			break;
		case P_ICMP:
		case P_ICMPV6:
			b[off] = p->proto == P_ICMP ? 8 : 128;	/* echo request */
			put16(b + off + 4, 0x77);
			put16(b + off + 6, 1);
			off += 8;
			break;
		}
	}
	f->hdr_end = off;

	end = p->frame_len ? p->frame_len : off + p->payload;
	if (end < off || end + p->eth_pad > FRAME_MAX)
		fail_msg("frame of %zu bytes does not fit its headers (%zu)", end, off);
	for (i = off; i < end; i++)
		b[i] = (uint8_t)i;
	if (p->family == 4) {
		put16(b + f->l3 + 2, end - f->l3);
		ip4_checksum(b + f->l3);
	} else {
		put16(b + f->l3 + 4, end - f->l3 - 40);
	}
	if (p->proto == P_UDP && !later_fragment(p))
		put16(b + f->l4 + 4, end - f->l4);
	memset(b + end, 0, p->eth_pad);
	f->len = end + p->eth_pad;
}

/*
 * Rewrites the IP length field as if the frame had been cut at len by a
 * sender that knew it: what is left is the only thing that can be wrong.
 */
static inline void fit_ip_length(struct frame *f, bool ip6, size_t len)
{
	if (ip6)
		put16(f->b + f->l3 + 4, len > f->l3 + 40 ? len - f->l3 - 40 : 0);
	else
		put16(f->b + f->l3 + 2, len > f->l3 ? len - f->l3 : 0);
}

/* ------------------------------------------------------------------------ */
/* Fixture                                                                   */
/* ------------------------------------------------------------------------ */

struct fx {
	struct sluice *skel;
	struct sl_maps maps;
	struct sl_config conf;
	int ncpus;
	unsigned line;
	const void *param;	/* the table row of a table-driven test */
	cpu_set_t cpus;		/* the thread's CPUs before the test */
};

/*
 * The object as tests load it: test_clock picks sl_now()'s source, keys
 * sizes the key map (0: the default).
 */
static inline int setup_object(void **state, bool test_clock, __u32 keys)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	cpu_set_t one;
	int err;

	if (!fx)
		return -1;
	/* The refusal memory and the full-map hint are per CPU: a test's
	 * packets are one CPU's traffic, as a flow's are under RSS. */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	if (sched_getaffinity(0, sizeof(fx->cpus), &fx->cpus) ||
	    sched_setaffinity(0, sizeof(one), &one)) {
		fprintf(stderr, "sched_setaffinity: %s\n", strerror(errno));
		free(fx);
		return -1;
	}
	fx->param = *state;
	fx->ncpus = libbpf_num_possible_cpus();
	fx->skel = sluice__open();
	if (!fx->skel) {
		fprintf(stderr, "sluice__open: %s\n", strerror(errno));
		goto fail;
	}
	fx->skel->rodata->sl_use_test_clock = test_clock;
	if (keys && (bpf_map__set_max_entries(fx->skel->maps.sl_keys, keys) ||
		     attach__size_keyfilter(fx->skel, keys)))
		goto fail;
	if (attach__size_refusals(fx->skel, 0))
		goto fail;
	err = sluice__load(fx->skel);
	if (err) {
		fprintf(stderr, "sluice__load: %s (are we root?)\n", strerror(-err));
		goto fail;
	}
	fx->maps = (struct sl_maps){
		.cfg = bpf_map__fd(fx->skel->maps.sl_cfg),
		.l4 = bpf_map__fd(fx->skel->maps.sl_l4),
		.dport = bpf_map__fd(fx->skel->maps.sl_dport),
		.src4 = bpf_map__fd(fx->skel->maps.sl_src4),
		.src6 = bpf_map__fd(fx->skel->maps.sl_src6),
		.rules = bpf_map__fd(fx->skel->maps.sl_rules),
		.rtext = bpf_map__fd(fx->skel->maps.sl_rtext),
		.keys = bpf_map__fd(fx->skel->maps.sl_keys),
		.rcnt = bpf_map__fd(fx->skel->maps.sl_rcnt),
		.cnt = bpf_map__fd(fx->skel->maps.sl_cnt),
		.flows = bpf_map__fd(fx->skel->maps.sl_flows),
		.conns = bpf_map__fd(fx->skel->maps.sl_conns),
		.brkport = bpf_map__fd(fx->skel->maps.sl_brkport),
		.brk = bpf_map__fd(fx->skel->maps.sl_brk),
		.brkcnt = bpf_map__fd(fx->skel->maps.sl_brkcnt),
		.probes = bpf_map__fd(fx->skel->maps.sl_probes),
		.bans = bpf_map__fd(fx->skel->maps.sl_bans),
		.topk = bpf_map__fd(fx->skel->maps.sl_topk),
	};
	config_init(&fx->conf);
	fx->skel->bss->sl_test_now_ns = NS_PER_S;
	*state = fx;
	return 0;
fail:
	sluice__destroy(fx->skel);
	sched_setaffinity(0, sizeof(fx->cpus), &fx->cpus);
	free(fx);
	return -1;
}

static inline int setup(void **state)
{
	return setup_object(state, true, 0);
}

/* With a key map of `keys` entries. */
static inline int setup_keys(void **state, __u32 keys)
{
	return setup_object(state, true, keys);
}

/* For what must hold on bpf_ktime_get_ns() itself, as in production. */
static inline int setup_kernel_clock(void **state)
{
	return setup_object(state, false, 0);
}

static inline int teardown(void **state)
{
	struct fx *fx = *state;

	config_free(&fx->conf);
	sluice__destroy(fx->skel);
	sched_setaffinity(0, sizeof(fx->cpus), &fx->cpus);
	free(fx);
	return 0;
}

/* The kernel clock, bpf_ktime_get_ns()'s. */
static inline uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static inline void set_now(struct fx *fx, uint64_t ns)
{
	fx->skel->bss->sl_test_now_ns = ns;
}

/* Adds statements to the pending config, failing the test on a parse error. */
static inline void conf_lines(struct fx *fx, const char *const *lines)
{
	struct sl_error err = {};

	for (; *lines; lines++) {
		int ret = config_parse_line(&fx->conf, *lines, "test", ++fx->line, &err);

		if (ret)
			fail_msg("config \"%s\": %s", *lines, err.msg);
	}
}

static inline void apply(struct fx *fx)
{
	struct sl_error err = {};
	int ret = ruleset__apply(&fx->maps, &fx->conf, &err);

	if (ret)
		fail_msg("ruleset__apply: %d: %s", ret, err.msg);
}

/* Replaces the rule set with exactly these statements and applies it. */
#define configure(fx, ...) do {						\
	config_free(&(fx)->conf);					\
	conf_lines((fx), (const char *const[]){ __VA_ARGS__, NULL });	\
	apply(fx);							\
} while (0)

/*
 * What one run of sluice_xdp returned: the verdict, the frame from the
 * metadata on (the kernel hands data_out back starting at data_meta), and
 * the metadata's length (ctx_out's data, which counts from data_meta).
 */
struct xdp_out {
	int verdict;
	uint8_t b[FRAME_MAX + 512];
	size_t len;		/* metadata and frame */
	size_t meta_len;
	const uint8_t *frame;	/* b + meta_len */
	size_t frame_len;
};

static inline void run_xdp(struct fx *fx, const void *data, size_t len,
			   struct xdp_out *out)
{
	struct xdp_md ctx_in = { .data = 0, .data_end = len }, ctx_out = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = data,
		.data_size_in = len,
		.data_out = out->b,
		.data_size_out = sizeof(out->b),
		.ctx_in = &ctx_in,
		.ctx_size_in = sizeof(ctx_in),
		.ctx_out = &ctx_out,
		.ctx_size_out = sizeof(ctx_out),
		.repeat = 1,
	);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(fx->skel->progs.sluice_xdp),
				     &opts);
	if (err)
		fail_msg("bpf_prog_test_run_opts(%zu bytes): %s", len, strerror(-err));
	if (ctx_out.data > opts.data_size_out ||
	    ctx_out.data_end != opts.data_size_out)
		fail_msg("xdp_md out: data %u data_end %u, data_out %u bytes",
			 ctx_out.data, ctx_out.data_end, opts.data_size_out);
	out->verdict = opts.retval;
	out->len = opts.data_size_out;
	out->meta_len = ctx_out.data;
	out->frame = out->b + out->meta_len;
	out->frame_len = out->len - out->meta_len;
}

static inline int run_bytes(struct fx *fx, const void *data, size_t len)
{
	uint8_t out[FRAME_MAX + 512];
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = data,
		.data_size_in = len,
		.data_out = out,
		.data_size_out = sizeof(out),
		.repeat = 1,
	);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(fx->skel->progs.sluice_xdp),
				     &opts);
	if (err)
		fail_msg("bpf_prog_test_run_opts(%zu bytes): %s", len, strerror(-err));
	/* sluice never rewrites a frame it passes or drops. */
	assert_int_equal(opts.data_size_out, len);
	assert_memory_equal(out, data, len);
	return opts.retval;
}

static inline int run_frame(struct fx *fx, const struct frame *f)
{
	return run_bytes(fx, f->b, f->len);
}

static inline int send_pkt(struct fx *fx, const struct pkt *p)
{
	struct frame f;

	build(p, &f);
	return run_frame(fx, &f);
}

static inline int send_from(struct fx *fx, const struct pkt *p, const char *src)
{
	struct pkt q = *p;

	q.src = src;
	return send_pkt(fx, &q);
}

static inline uint64_t global_count(struct fx *fx, __u32 index, bool bytes)
{
	struct sl_counter v[fx->ncpus];
	uint64_t sum = 0;
	int i;

	if (bpf_map_lookup_elem(fx->maps.cnt, &index, v))
		fail_msg("sl_cnt[%u]: %s", index, strerror(errno));
	for (i = 0; i < fx->ncpus; i++)
		sum += bytes ? v[i].bytes : v[i].packets;
	return sum;
}

static const char *const counter_names[SL_CNT_MAX] = {
	[SL_CNT_RX] = "rx", [SL_CNT_NON_IP] = "non_ip", [SL_CNT_ALLOW] = "allow",
	[SL_CNT_PASSED] = "passed", [SL_CNT_DROPPED] = "dropped",
	[SL_CNT_DENY] = "deny", [SL_CNT_BAN] = "ban", [SL_CNT_RATE] = "rate",
	[SL_CNT_WINDOW] = "window", [SL_CNT_CONNS] = "conns",
	[SL_CNT_MALFORMED] = "malformed", [SL_CNT_BREAKER] = "breaker",
	[SL_CNT_CAS_EXHAUSTED] = "cas_exhausted", [SL_CNT_REJECTED] = "rejected",
	[SL_CNT_REJECT_LIMITED] = "reject_limited",
	[SL_CNT_FLOWS_FULL] = "flows_full", [SL_CNT_MARKED] = "marked",
	[SL_CNT_KEYS_FULL] = "keys_full",
};

#define assert_global(fx, index, bytes, n) do {				\
	uint64_t got_ = global_count((fx), (index), (bytes));		\
	uint64_t want_ = (n);						\
	if (got_ != want_)						\
		fail_msg("sl_cnt[%s].%s = %" PRIu64 ", expected %" PRIu64,	\
			 counter_names[index], (bytes) ? "bytes" : "packets",	\
			 got_, want_);					\
} while (0)
#define assert_cnt(fx, index, n)	assert_global(fx, index, false, n)
#define assert_cnt_bytes(fx, index, n)	assert_global(fx, index, true, n)

static inline const char *verdict_name(int v)
{
	return v == VERDICT_PASS ? "XDP_PASS" : v == VERDICT_DROP ? "XDP_DROP" :
	       v == VERDICT_TX ? "XDP_TX" : "not a verdict sluice returns";
}

#define assert_verdict(got, want) do {					\
	int got_ = (got), want_ = (want);				\
	if (got_ != want_)						\
		fail_msg("verdict %s (%d), expected %s", verdict_name(got_),	\
			 got_, verdict_name(want_));			\
} while (0)

static inline struct sl_cfg read_cfg(struct fx *fx)
{
	struct sl_cfg cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fx->maps.cfg, &zero, &cfg))
		fail_msg("sl_cfg: %s", strerror(errno));
	return cfg;
}

/* The active rule called name: its position in the generation and its slot. */
static inline __u32 rule_slot(struct fx *fx, const char *name, unsigned *pos_out)
{
	struct sl_cfg cfg = read_cfg(fx);
	__u32 gen = cfg.gen & 1, pos;

	for (pos = 0; pos < cfg.hdr[gen].n_rules; pos++) {
		__u32 index = SL_RULE_INDEX(gen, pos);
		struct sl_rule_text text;
		struct sl_rule rule;

		if (bpf_map_lookup_elem(fx->maps.rtext, &index, &text) ||
		    bpf_map_lookup_elem(fx->maps.rules, &index, &rule))
			fail_msg("sl_rules[%u]: %s", index, strerror(errno));
		if (strncmp(text.name, name, sizeof(text.name)))
			continue;
		if (rule.slot >= SL_MAX_RULES)
			fail_msg("rule %s has slot %u", name, rule.slot);
		if (pos_out)
			*pos_out = pos;
		return rule.slot;
	}
	fail_msg("rule %s is not in the active generation %u", name, gen);
	return 0;
}

/* The active rule called name, as the data path reads it. */
static inline struct sl_rule active_rule(struct fx *fx, const char *name)
{
	struct sl_cfg cfg = read_cfg(fx);
	struct sl_rule r;
	unsigned pos;
	__u32 index;

	rule_slot(fx, name, &pos);
	index = SL_RULE_INDEX(cfg.gen & 1, pos);
	if (bpf_map_lookup_elem(fx->maps.rules, &index, &r))
		fail_msg("sl_rules[%u]: %s", index, strerror(errno));
	return r;
}

static inline struct sl_rule_counter rule_count(struct fx *fx, const char *name)
{
	struct sl_rule_counter v[fx->ncpus], sum = {};
	__u32 slot = rule_slot(fx, name, NULL);
	int i;

	if (bpf_map_lookup_elem(fx->maps.rcnt, &slot, v))
		fail_msg("sl_rcnt[%u]: %s", slot, strerror(errno));
	for (i = 0; i < fx->ncpus; i++) {
		sum.matched += v[i].matched;
		sum.passed += v[i].passed;
		sum.dropped += v[i].dropped;
		sum.rejected += v[i].rejected;
		sum.marked += v[i].marked;
		sum.limited += v[i].limited;
		sum.bytes += v[i].bytes;
	}
	return sum;
}

/* Per-rule packets: matched, passed, dropped, limited; never rejected or marked. */
#define assert_rule(fx, name, m, p, d, l) do {				\
	struct sl_rule_counter c_ = rule_count((fx), (name));		\
	uint64_t w_[4] = { (m), (p), (d), (l) };			\
	if (c_.matched != w_[0] || c_.passed != w_[1] ||		\
	    c_.dropped != w_[2] || c_.limited != w_[3] ||		\
	    c_.rejected || c_.marked)					\
		fail_msg("rule %s: matched/passed/dropped/limited/rejected/marked = "	\
			 "%llu/%llu/%llu/%llu/%llu/%llu, expected "	\
			 "%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/0/0", \
			 (name), c_.matched, c_.passed, c_.dropped,	\
			 c_.limited, c_.rejected, c_.marked,		\
			 w_[0], w_[1], w_[2], w_[3]);			\
} while (0)

/* Forgets every key's state behind the program's back. */
static inline void clear_keys(struct fx *fx)
{
	struct sl_key key;

	while (!bpf_map_get_next_key(fx->maps.keys, NULL, &key))
		assert_int_equal(bpf_map_delete_elem(fx->maps.keys, &key), 0);
}

static inline unsigned count_keys(struct fx *fx)
{
	struct sl_key key, next;
	unsigned n = 0;
	bool first = true;

	while (!bpf_map_get_next_key(fx->maps.keys, first ? NULL : &key, &next)) {
		key = next;
		first = false;
		n++;
	}
	return n;
}

/* Named by behaviour; the "test_" prefix says nothing in a report. */
#define TEST(f) { #f + 5, f, setup, teardown, NULL }

#endif /* SLUICE_BPF_FIXTURE_H */
