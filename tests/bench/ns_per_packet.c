// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ns/packet of the real sluice object through plain BPF_PROG_TEST_RUN: the
 * skeleton loaded as the tests/bpf fixture loads it (but on the real clock),
 * a rule set applied with ruleset__apply, one frame run `repeat` times, the
 * kernel's average per repetition taken, REPS times, interleaved case by
 * case so a noisy neighbour hits every case alike.
 *
 *   ns_per_packet [--repeat N] [--reps R] [--cpu C] [--json FILE] [--only ID]
 *
 * Prints a table; with --json also writes every sample. --only runs one
 * case (and loads only its rule set): the way to hold a case still under
 * `perf record -C CPU`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "config.h"
#include "ruleset.h"
#include "sluice.skel.h"
#include "sink.skel.h"

#define MAX_REPS	32
#define FRAME_MAX	256

struct frame {
	uint8_t b[FRAME_MAX];
	unsigned len;
};

enum frame_kind { F_IP4_UDP, F_IP6_UDP, F_IP6_3EXT_UDP };

struct bench_case {
	const char *id;
	const char *what;
	enum frame_kind frame;
	int ruleset;		/* index into the rule sets below, -1: bare XDP_DROP */
	int expect;		/* XDP verdict after the first few packets */
	double ns[MAX_REPS];
};

/* ---------------------------------------------------------------- frames */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void build_frame(enum frame_kind kind, struct frame *f)
{
	static const uint8_t mac[12] = { 0x02, 0x5e, 0, 0, 0, 0x01,
					 0x02, 0x5e, 0, 0, 0, 0x02 };
	uint8_t *l3 = f->b + 14, *l4;
	unsigned payload = 18, ext = 0;

	memset(f, 0, sizeof(*f));
	memcpy(f->b, mac, sizeof(mac));
	if (kind == F_IP4_UDP) {
		put16(f->b + 12, 0x0800);
		l3[0] = 0x45;
		put16(l3 + 2, 20 + 8 + payload);
		l3[8] = 64;
		l3[9] = 17;
		inet_pton(AF_INET, "10.0.0.1", l3 + 12);
		inet_pton(AF_INET, "198.19.0.1", l3 + 16);
		l4 = l3 + 20;
	} else {
		uint8_t *e = l3 + 40;

		put16(f->b + 12, 0x86dd);
		l3[0] = 0x60;
		l3[7] = 64;
		inet_pton(AF_INET6, "fd00:10::1", l3 + 8);
		inet_pton(AF_INET6, "fd00:19::1", l3 + 24);
		if (kind == F_IP6_3EXT_UDP) {
			/* hop-by-hop (8), routing type 0 with no segments
			 * left (24), destination options (16): a real
			 * stack's chain, each header padded with PadN. */
			l3[6] = 0;
			e[0] = 43; e[1] = 0; e[2] = 1; e[3] = 4;
			e += 8;
			e[0] = 60; e[1] = 2; e[2] = 0; e[3] = 0;
			e[8] = 0x20; e[9] = 0x01; e[10] = 0x0d; e[11] = 0xb8; e[23] = 1;
			e += 24;
			e[0] = 17; e[1] = 1; e[2] = 1; e[3] = 12;
			e += 16;
			ext = 48;
		} else {
			l3[6] = 17;
		}
		put16(l3 + 4, ext + 8 + payload);
		l4 = e;
	}
	put16(l4, 12345);
	put16(l4 + 2, 9);
	put16(l4 + 4, 8 + payload);
	f->len = (l4 + 8 + payload) - f->b;
}

/* ------------------------------------------------------------- rule sets */

/* Fifteen rules this traffic (UDP to port 9 from 10.0.0.1 / fd00:10::1)
 * matches none of: other protocols, other ports, other sources. */
static const char *const other_rules[15] = {
	"rule r01 proto tcp dport 80,443 key src rate 2000/s burst 4000 action drop",
	"rule r02 proto tcp dport 22 syn key src rate 10/m burst 5 action drop",
	"rule r03 proto udp dport 53 key src rate 100/s action drop",
	"rule r04 proto udp dport 123 key src rate 10/s action drop",
	"rule r05 proto icmp key src rate 10/s action drop",
	"rule r06 proto icmpv6 key src rate 10/s action drop",
	"rule r07 proto tcp dport 8000-8080 key src prefix4 24 rate 500/s action drop",
	"rule r08 proto udp dport 443 key src rate 1000/s action drop",
	"rule r09 proto udp from 192.0.2.0/24 key src rate 1/s action drop",
	"rule r10 proto tcp dport 25 key global rate 100/s action drop",
	"rule r11 proto udp dport 5060 key dport rate 50/s action drop",
	"rule r12 proto tcp dport 3306 key src rate 20/s action drop",
	"rule r13 proto 47 key global rate 1000/s action drop",
	"rule r14 proto udp dport 1-8 key src rate 100/s action drop",
	"rule r15 proto udp from 203.0.113.0/24,2001:db8::/32 key src rate 5/s action drop",
};

/* Over its limit from the second packet on: the common case of a flood. */
#define RULE_LIMITED	"rule udp-pps proto udp key src rate 1/m burst 1 action drop"
/* Over its limit too, but its refusals last under a jiffy: a remembered
 * refusal is timed by the clock, not by jiffies. */
#define RULE_LIMITED_FAST "rule udp-fast proto udp key src rate 400/s burst 1 action drop"
/* The same, with a burst whose slack lets a refusal end by jiffies, late. */
#define RULE_LIMITED_SLACK "rule udp-slack proto udp key src rate 400/s burst 100 action drop"
/* Never over its limit at any speed a test run reaches. */
#define RULE_CONFORM(n)	"rule udp-ok" #n " proto udp key src rate 100000000/s burst 100000000 action drop"

enum ruleset_id {
	RS_EMPTY,
	RS_1_LIMITED,
	RS_1_LIMITED_FAST,
	RS_1_LIMITED_SLACK,
	RS_1_CONFORM,
	RS_16_LAST,
	RS_16_FIRST,
	RS_16_ALL,
	RS_10K_DENY,
	RS_10K_DENY_HIT,
	RS_1_LIMITED_TOP,	/* as RS_1_LIMITED, with sluice top watching */
	RS_1_CONFORM_TOP,
	RS_1_LIMITED_WARM,	/* as RS_1_LIMITED, the rule in its warm-up */
	RS_1_CONFORM_WARM,
	RS_COUNT,
};

static void add_line(struct sl_config *c, const char *line)
{
	struct sl_error err = {};

	if (config_parse_line(c, line, "bench", 1, &err)) {
		fprintf(stderr, "ns_per_packet: \"%s\": %s\n", line, err.msg);
		exit(1);
	}
}

/*
 * 10,000 deny prefixes, /16 to /32, spread over unicast IPv4 as a real
 * block list is, none covering 10.0.0.0/8 (the traffic) unless `hit`.
 */
static void add_deny_list(struct sl_config *c, int hit)
{
	uint32_t x = 0x12345678;
	char line[64];
	int n = 0;

	while (n < 10000) {
		uint32_t a, len;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		a = x;
		len = 16 + (x >> 8) % 17;
		if ((a >> 24) == 10 || (a >> 24) == 0 || (a >> 24) >= 224 || (a >> 24) == 127)
			continue;
		a &= len == 32 ? ~0u : ~((1u << (32 - len)) - 1);
		snprintf(line, sizeof(line), "deny %u.%u.%u.%u/%u", a >> 24,
			 (a >> 16) & 255, (a >> 8) & 255, a & 255, len);
		add_line(c, line);
		n++;
	}
	if (hit)
		add_line(c, "deny 10.0.0.0/24");
}

static void build_ruleset(int id, struct sl_config *c)
{
	char line[128];
	int i;

	config_init(c);
	switch (id) {
	case RS_EMPTY:
		break;
	case RS_1_LIMITED:
		add_line(c, RULE_LIMITED);
		break;
	case RS_1_LIMITED_FAST:
		add_line(c, RULE_LIMITED_FAST);
		break;
	case RS_1_LIMITED_SLACK:
		add_line(c, RULE_LIMITED_SLACK);
		break;
	case RS_1_CONFORM:
		add_line(c, RULE_CONFORM(0));
		break;
	case RS_16_LAST:
		for (i = 0; i < 15; i++)
			add_line(c, other_rules[i]);
		add_line(c, RULE_LIMITED);
		break;
	case RS_16_FIRST:
		add_line(c, RULE_LIMITED);
		for (i = 0; i < 15; i++)
			add_line(c, other_rules[i]);
		break;
	case RS_16_ALL:
		for (i = 0; i < 16; i++) {
			snprintf(line, sizeof(line), "rule udp-ok%d proto udp key src "
				 "rate 100000000/s burst 100000000 action drop", i);
			add_line(c, line);
		}
		break;
	case RS_10K_DENY:
		add_line(c, RULE_LIMITED);
		add_deny_list(c, 0);
		break;
	case RS_10K_DENY_HIT:
		add_line(c, RULE_LIMITED);
		add_deny_list(c, 1);
		break;
	case RS_1_LIMITED_TOP:
		add_line(c, RULE_LIMITED);
		break;
	case RS_1_CONFORM_TOP:
		add_line(c, RULE_CONFORM(0));
		break;
	case RS_1_LIMITED_WARM:
		add_line(c, RULE_LIMITED " warmup 78h");
		break;
	case RS_1_CONFORM_WARM:
		add_line(c, RULE_CONFORM(0) " warmup 78h");
		break;
	}
}


static struct bench_case cases[] = {
	{ "xdp_drop", "bare XDP_DROP (test-run floor)", F_IP4_UDP, -1, XDP_DROP },
	{ "parse_only", "parse only: no rules, IPv4 UDP", F_IP4_UDP, RS_EMPTY, XDP_PASS },
	{ "rule1_limited", "1 rule, over its limit (drop)", F_IP4_UDP, RS_1_LIMITED, XDP_DROP },
	{ "rule1_limited_fast", "1 rule 400/s (refusals shorter than a jiffy), over its limit", F_IP4_UDP, RS_1_LIMITED_FAST, XDP_DROP },
	{ "rule1_limited_slack", "1 rule 400/s burst 100 (as above, with slack), over its limit", F_IP4_UDP, RS_1_LIMITED_SLACK, XDP_DROP },
	{ "rule1_conform", "1 rule, within its limit (pass)", F_IP4_UDP, RS_1_CONFORM, XDP_PASS },
	{ "rules16_last", "16 rules, the matching one last (drop)", F_IP4_UDP, RS_16_LAST, XDP_DROP },
	{ "rules16_first", "16 rules, the matching one first (drop)", F_IP4_UDP, RS_16_FIRST, XDP_DROP },
	{ "rules16_all", "16 rules, all matching, all within limits", F_IP4_UDP, RS_16_ALL, XDP_PASS },
	{ "deny10k_miss", "1 rule + 10,000 deny CIDRs, none matching (drop)", F_IP4_UDP, RS_10K_DENY, XDP_DROP },
	{ "deny10k_hit", "1 rule + 10,000 deny CIDRs, source denied", F_IP4_UDP, RS_10K_DENY_HIT, XDP_DROP },
	{ "ip6_parse_only", "IPv6 UDP, no rules", F_IP6_UDP, RS_EMPTY, XDP_PASS },
	{ "ip6_3ext_parse_only", "IPv6 + 3 extension headers, no rules", F_IP6_3EXT_UDP, RS_EMPTY, XDP_PASS },
	{ "ip6_rule1_limited", "IPv6 UDP, 1 rule (drop)", F_IP6_UDP, RS_1_LIMITED, XDP_DROP },
	{ "ip6_3ext_rule1_limited", "IPv6 + 3 extension headers, 1 rule (drop)", F_IP6_3EXT_UDP, RS_1_LIMITED, XDP_DROP },
	{ "rule1_limited_top", "1 rule, over its limit (drop), sluice top watching", F_IP4_UDP, RS_1_LIMITED_TOP, XDP_DROP },
	{ "rule1_conform_top", "1 rule, within its limit (pass), sluice top watching", F_IP4_UDP, RS_1_CONFORM_TOP, XDP_PASS },
	{ "rule1_limited_warm", "1 rule in its warm-up, over its limit (drop)", F_IP4_UDP, RS_1_LIMITED_WARM, XDP_DROP },
	{ "rule1_conform_warm", "1 rule in its warm-up, within its limit (pass)", F_IP4_UDP, RS_1_CONFORM_WARM, XDP_PASS },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

struct loaded {
	struct sluice *skel;
	struct sl_maps maps;
	int prog_fd;
};

/* sluice top's lease, held for the whole run: every packet is counted per key. */
static void watch(struct loaded *l)
{
	struct sl_cfg cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(l->maps.cfg, &zero, &cfg)) {
		fprintf(stderr, "ns_per_packet: sl_cfg: %s\n", strerror(errno));
		exit(1);
	}
	cfg.top_until_ns = ~0ull;
	if (bpf_map_update_elem(l->maps.cfg, &zero, &cfg, BPF_ANY)) {
		fprintf(stderr, "ns_per_packet: sl_cfg: %s\n", strerror(errno));
		exit(1);
	}
}

static void load_ruleset(int id, struct loaded *l)
{
	struct sl_config conf;
	struct sl_error err = {};
	int ret;

	l->skel = sluice__open();
	if (!l->skel) {
		fprintf(stderr, "ns_per_packet: sluice__open: %s\n", strerror(errno));
		exit(1);
	}
	ret = attach__size_refusals(l->skel, 0);
	if (!ret)
		ret = sluice__load(l->skel);
	if (ret) {
		fprintf(stderr, "ns_per_packet: sluice__load: %s (root?)\n", strerror(-ret));
		exit(1);
	}
	l->maps = (struct sl_maps){
		.cfg = bpf_map__fd(l->skel->maps.sl_cfg),
		.l4 = bpf_map__fd(l->skel->maps.sl_l4),
		.dport = bpf_map__fd(l->skel->maps.sl_dport),
		.src4 = bpf_map__fd(l->skel->maps.sl_src4),
		.src6 = bpf_map__fd(l->skel->maps.sl_src6),
		.rules = bpf_map__fd(l->skel->maps.sl_rules),
		.rtext = bpf_map__fd(l->skel->maps.sl_rtext),
		.keys = bpf_map__fd(l->skel->maps.sl_keys),
		.rcnt = bpf_map__fd(l->skel->maps.sl_rcnt),
		.cnt = bpf_map__fd(l->skel->maps.sl_cnt),
		.bans = bpf_map__fd(l->skel->maps.sl_bans),
	};
	build_ruleset(id, &conf);
	ret = ruleset__apply(&l->maps, &conf, &err);
	config_free(&conf);
	if (ret) {
		fprintf(stderr, "ns_per_packet: ruleset__apply: %s\n", err.msg);
		exit(1);
	}
	if (id == RS_1_LIMITED_TOP || id == RS_1_CONFORM_TOP)
		watch(l);
	l->prog_fd = bpf_program__fd(l->skel->progs.sluice_xdp);
}

static double run(int prog_fd, const struct frame *f, int repeat, int expect)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = f->b,
		.data_size_in = f->len,
		.repeat = repeat,
	);
	int err = bpf_prog_test_run_opts(prog_fd, &opts);

	if (err) {
		fprintf(stderr, "ns_per_packet: test run: %s\n", strerror(-err));
		exit(1);
	}
	if ((int)opts.retval != expect) {
		fprintf(stderr, "ns_per_packet: verdict %u, expected %d\n", opts.retval, expect);
		exit(1);
	}
	return opts.duration;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_REPS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double find_median(const char *id, int reps)
{
	size_t i;

	for (i = 0; i < N_CASES; i++)
		if (!strcmp(cases[i].id, id))
			return median(cases[i].ns, reps);
	return 0;
}

int main(int argc, char **argv)
{
	struct loaded sets[RS_COUNT];
	struct sink *sink;
	const char *json = NULL, *only = NULL;
	int repeat = 1000000, reps = 5, cpu = 0, i, r;
	size_t c;
	cpu_set_t cs;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			break;
		if (!strcmp(argv[i], "--repeat"))
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--cpu"))
			cpu = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--json"))
			json = argv[++i];
		else if (!strcmp(argv[i], "--only"))
			only = argv[++i];
	}
	if (reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "ns_per_packet: --reps 1..%d\n", MAX_REPS);
		return 2;
	}
	CPU_ZERO(&cs);
	CPU_SET(cpu, &cs);
	sched_setaffinity(0, sizeof(cs), &cs);

	/* Only the bare XDP_DROP: the floors' maps are tens of MB. */
	sink = sink__open();
	if (sink) {
		struct bpf_program *prog;

		bpf_object__for_each_program(prog, sink->obj)
			bpf_program__set_autoload(prog, prog == sink->progs.sink_drop);
		bpf_map__set_autocreate(sink->maps.sink_src, false);
		bpf_map__set_autocreate(sink->maps.sink_slot, false);
	}
	if (!sink || sink__load(sink)) {
		fprintf(stderr, "ns_per_packet: sink: %s\n", strerror(errno));
		return 1;
	}
	memset(sets, 0, sizeof(sets));
	for (c = 0; c < N_CASES; c++) {
		int id = cases[c].ruleset;

		if (id >= 0 && !sets[id].skel && (!only || !strcmp(only, cases[c].id)))
			load_ruleset(id, &sets[id]);
	}

	for (r = 0; r < reps; r++) {
		for (c = 0; c < N_CASES; c++) {
			struct bench_case *bc = &cases[c];
			struct frame f;
			int fd;

			if (only && strcmp(only, bc->id))
				continue;
			fd = bc->ruleset < 0 ? bpf_program__fd(sink->progs.sink_drop) :
					       sets[bc->ruleset].prog_fd;

			build_frame(bc->frame, &f);
			/* Past the burst (100 at most here), so every timed
			 * packet takes the same path. */
			if (r == 0)
				run(fd, &f, 200, bc->expect);
			bc->ns[r] = run(fd, &f, repeat, bc->expect);
		}
	}

	printf("ns/packet, BPF_PROG_TEST_RUN, repeat %d, median of %d (min..max), CPU %d\n",
	       repeat, reps, cpu);
	for (c = 0; c < N_CASES; c++) {
		struct bench_case *bc = &cases[c];
		double s[MAX_REPS];

		if (only && strcmp(only, bc->id))
			continue;
		memcpy(s, bc->ns, reps * sizeof(double));
		qsort(s, reps, sizeof(double), cmp_double);
		printf("  %-24s %6.1f  (%5.1f..%5.1f)  %s\n", bc->id, median(s, reps), s[0],
		       s[reps - 1], bc->what);
	}
	if (only)
		goto out;
	printf("  16 rules (matching last) / 1 rule      %.2fx\n",
	       find_median("rules16_last", reps) / find_median("rule1_limited", reps));
	printf("  10,000 deny / empty deny list          %.2fx\n",
	       find_median("deny10k_miss", reps) / find_median("rule1_limited", reps));
	printf("  sluice top watching, over the limit    %+.1f ns\n",
	       find_median("rule1_limited_top", reps) - find_median("rule1_limited", reps));
	printf("  sluice top watching, within the limit  %+.1f ns\n",
	       find_median("rule1_conform_top", reps) - find_median("rule1_conform", reps));
	printf("  in warm-up, over the limit             %+.1f ns\n",
	       find_median("rule1_limited_warm", reps) - find_median("rule1_limited", reps));
	printf("  in warm-up, within the limit           %+.1f ns\n",
	       find_median("rule1_conform_warm", reps) - find_median("rule1_conform", reps));

	if (json) {
		FILE *out = fopen(json, "w");

		if (!out) {
			fprintf(stderr, "ns_per_packet: %s: %s\n", json, strerror(errno));
			return 1;
		}
		fprintf(out, "{\"repeat\":%d,\"reps\":%d,\"cases\":[", repeat, reps);
		for (c = 0; c < N_CASES; c++) {
			fprintf(out, "%s{\"id\":\"%s\",\"what\":\"%s\",\"ns\":[", c ? "," : "",
				cases[c].id, cases[c].what);
			for (r = 0; r < reps; r++)
				fprintf(out, "%s%.1f", r ? "," : "", cases[c].ns[r]);
			fprintf(out, "]}");
		}
		fprintf(out, "]}\n");
		fclose(out);
	}
out:
	for (i = 0; i < RS_COUNT; i++)
		sluice__destroy(sets[i].skel);
	sink__destroy(sink);
	return 0;
}
