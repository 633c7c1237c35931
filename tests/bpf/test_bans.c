// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Bans and events through the real program: a rule's ban policy, the ban
 * check before the rules, expiry by the program's own clock, doubling for
 * repeat offenders, manual bans, dry runs, the ban prefix lengths that let
 * the check be skipped, the sweep's ctl operation, and the event ring with
 * its budget.
 *
 * Expected values come from the README (Bans, Events), not from bpf/.
 */
#include "bpf_fixture.h"
#include "bans.h"
#include "sweep.h"

static const struct pkt dns4 = { .family = 4, .proto = P_UDP, .sport = 5353,
				 .dport = 53, .payload = 30 };
static const struct pkt web4 = { .family = 4, .proto = P_TCP, .sport = 40000,
				 .dport = 443, .tcp_flags = TCP_ACK };
static const struct pkt dns6 = { .family = 6, .proto = P_UDP, .sport = 5353,
				 .dport = 53, .payload = 30 };

/* Burst 2, then limited; the third limited packet within 10 s bans. */
#define BAN_RULE "rule b proto udp dport 53 key src rate 1/s burst 2 action drop " \
		 "ban after 3 within 10s for 2s max 5s"

static struct sl_ban_key key_of(const char *cidr)
{
	struct sl_ban_key key;
	struct sl_cidr c;

	if (config_parse_cidr(cidr, &c))
		fail_msg("bad test CIDR %s", cidr);
	bans__key(&c, &key);
	return key;
}

/* The entry for cidr; fails the test if there is none. */
static struct sl_ban ban_of(struct fx *fx, const char *cidr)
{
	struct sl_ban_key key = key_of(cidr);
	struct sl_ban ban;

	if (bpf_map_lookup_elem(fx->maps.bans, &key, &ban))
		fail_msg("no ban entry for %s: %s", cidr, strerror(errno));
	return ban;
}

static bool has_ban(struct fx *fx, const char *cidr)
{
	struct sl_ban_key key = key_of(cidr);
	struct sl_ban ban;

	return !bpf_map_lookup_elem(fx->maps.bans, &key, &ban);
}

static void manual_ban(struct fx *fx, const char *cidr, uint64_t dur, uint64_t now)
{
	struct sl_error err = {};
	struct sl_cidr c;

	if (config_parse_cidr(cidr, &c))
		fail_msg("bad test CIDR %s", cidr);
	if (bans__add(&fx->maps, &c, dur, now, &err))
		fail_msg("bans__add %s: %s", cidr, err.msg);
}

/* Sends p until the source holds a ban that started at now; the rule's
 * threshold is a few packets, so a hundred without one is a failure. */
static void until_banned(struct fx *fx, const struct pkt *p, const char *src,
			 uint64_t now)
{
	unsigned n;

	for (n = 0; n < 100; n++) {
		if (has_ban(fx, src) && ban_of(fx, src).start_ns == now)
			return;
		assert_verdict(send_from(fx, p, src), VERDICT_DROP);
	}
	fail_msg("%s was not banned at %" PRIu64 " after 100 packets", src, now);
}

/* Sends p from src until a packet is dropped; returns how many passed. */
static unsigned pass_until_drop(struct fx *fx, const struct pkt *p, const char *src)
{
	unsigned n;

	for (n = 0; n < 100; n++)
		if (send_from(fx, p, src) == VERDICT_DROP)
			return n;
	fail_msg("%s was never limited", src);
	return n;
}

struct events {
	struct sl_event v[32];
	unsigned n;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct events *e = ctx;

	assert_int_equal(size, sizeof(struct sl_event));
	if (e->n < ARRAY_SIZE(e->v))
		memcpy(&e->v[e->n++], data, sizeof(struct sl_event));
	return 0;
}

/* Everything in the event ring, in order. */
static struct events read_events(struct fx *fx)
{
	struct events e = { .n = 0 };
	struct ring_buffer *rb;

	rb = ring_buffer__new(bpf_map__fd(fx->skel->maps.sl_events), on_event, &e,
			      NULL);
	if (!rb)
		fail_msg("ring_buffer__new: %s", strerror(errno));
	if (ring_buffer__consume(rb) < 0)
		fail_msg("ring_buffer__consume: %s", strerror(errno));
	ring_buffer__free(rb);
	return e;
}

static void assert_addr(const struct sl_event *ev, const char *cidr)
{
	struct sl_ban_key key = key_of(cidr);

	assert_int_equal(ev->family, key.family);
	assert_int_equal(ev->prefixlen, key.prefixlen);
	assert_memory_equal(ev->addr, key.addr, 16);
}

/* ------------------------------------------------------------------------ */
/* A rule's ban                                                              */
/* ------------------------------------------------------------------------ */

static void test_third_limited_packet_bans_source_before_every_rule(void **state)
{
	struct fx *fx = *state;
	struct sl_ban ban;
	struct events e;
	int i;

	configure(fx, BAN_RULE,
		  "rule web proto tcp dport 443 key src rate 1000/s burst 1000 action drop");
	/* Burst 2, then two limited packets: not yet banned. */
	for (i = 0; i < 2; i++)
		assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	for (i = 0; i < 2; i++)
		assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_false(has_ban(fx, "192.0.2.1"));
	assert_verdict(send_pkt(fx, &web4), VERDICT_PASS);

	/* The third limited packet bans the source. */
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	ban = ban_of(fx, "192.0.2.1");
	assert_int_equal(ban.start_ns, NS_PER_S);
	assert_int_equal(ban.expires_ns, 3 * NS_PER_S);
	assert_int_equal(ban.forget_ns, 8 * NS_PER_S);
	assert_int_equal(ban.offences, 1);
	assert_int_equal(ban.rule_uid, active_rule(fx, "b").uid);
	assert_int_equal(ban.flags, 0);
	assert_cnt(fx, SL_CNT_BANS, 1);
	assert_rule(fx, "b", 5, 2, 3, 3);

	/* Now every packet of the source is dropped before any rule. */
	assert_verdict(send_pkt(fx, &web4), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_BAN, 2);
	assert_rule(fx, "b", 5, 2, 3, 3);
	assert_rule(fx, "web", 1, 1, 0, 0);
	/* Another source is not. */
	assert_verdict(send_from(fx, &web4, "192.0.2.2"), VERDICT_PASS);

	e = read_events(fx);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.v[0].type, SL_EV_LIMITED);
	assert_int_equal(e.v[0].rule_uid, ban.rule_uid);
	assert_int_equal(e.v[0].key_type, SL_KEY_SRC);
	assert_int_equal(e.v[0].reason, SL_CNT_RATE);
	assert_int_equal(e.v[0].time_ns, NS_PER_S);
	assert_addr(&e.v[0], "192.0.2.1");
	assert_int_equal(e.v[1].type, SL_EV_BAN_START);
	assert_int_equal(e.v[1].rule_uid, ban.rule_uid);
	assert_int_equal(e.v[1].duration_ns, 2 * NS_PER_S);
	assert_int_equal(e.v[1].offences, 1);
	assert_int_equal(e.v[1].flags, 0);
	assert_addr(&e.v[1], "192.0.2.1");
	assert_cnt(fx, SL_CNT_EVENTS, 2);
	assert_cnt(fx, SL_CNT_EVENTS_SUPPRESSED, 0);
}

static void test_ban_expires_in_kernel_at_its_time(void **state)
{
	struct fx *fx = *state;

	configure(fx, BAN_RULE);
	assert_int_equal(pass_until_drop(fx, &dns4, "192.0.2.1"), 2);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_BANS, 1);

	set_now(fx, 3 * NS_PER_S - 1);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_BAN, 1);
	/* Expired: no controller ran, the entry is still there, the source
	 * passes, with its rate budget earned back meanwhile. */
	set_now(fx, 3 * NS_PER_S);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_BAN, 1);
	assert_true(has_ban(fx, "192.0.2.1"));
}

/* Bans of 2 s, then 4 s, then 5 s (the max); forgotten 5 s after one ends. */
static void test_repeat_offender_ban_doubles_up_to_max_then_is_forgotten(void **state)
{
	static const uint64_t want[] = { 2, 4, 5, 5 };
	struct fx *fx = *state;
	uint64_t now = NS_PER_S;
	struct sl_ban ban;
	unsigned i;

	configure(fx, BAN_RULE);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		set_now(fx, now);
		pass_until_drop(fx, &dns4, "192.0.2.1");
		until_banned(fx, &dns4, "192.0.2.1", now);
		ban = ban_of(fx, "192.0.2.1");
		assert_int_equal(ban.offences, i + 1);
		assert_int_equal(ban.expires_ns - ban.start_ns, want[i] * NS_PER_S);
		assert_int_equal(ban.forget_ns, ban.expires_ns + 5 * NS_PER_S);
		/* Banned to its last nanosecond. */
		set_now(fx, ban.expires_ns - 1);
		assert_verdict(send_pkt(fx, &web4), VERDICT_DROP);
		now = ban.expires_ns;
	}

	/* Offences are remembered until forget_ns, not a nanosecond longer. */
	now = ban.forget_ns;
	set_now(fx, now);
	pass_until_drop(fx, &dns4, "192.0.2.1");
	until_banned(fx, &dns4, "192.0.2.1", now);
	ban = ban_of(fx, "192.0.2.1");
	assert_int_equal(ban.offences, 1);
	assert_int_equal(ban.expires_ns - ban.start_ns, 2 * NS_PER_S);
	assert_cnt(fx, SL_CNT_BANS, 5);
}

/* A drop-only rate rule's refusals would be remembered and never reach the
 * walk again; a rule with a ban must see every one of them. */
static void test_ban_rule_counts_every_refusal_none_remembered(void **state)
{
	struct fx *fx = *state;

	configure(fx, "rule b proto udp dport 53 key src rate 1/h burst 1 action drop "
		      "ban after 3 within 10s for 1m");
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_false(has_ban(fx, "192.0.2.1"));
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_true(has_ban(fx, "192.0.2.1"));
	assert_rule(fx, "b", 4, 1, 3, 3);
}

static void test_prefix_key_bans_the_prefix(void **state)
{
	struct fx *fx = *state;
	struct sl_cfg cfg;

	configure(fx, "rule b proto udp dport 53 key src prefix4 24 rate 1/s burst 1 action drop "
		      "ban after 1 within 1s for 10s");
	cfg = read_cfg(fx);
	assert_int_equal(cfg.ban_nplens[SL_FAM_IP4], 1);
	assert_int_equal(cfg.ban_plens[SL_FAM_IP4][0], 24);
	/* The rule matches IPv6 too, and bans its keys, /128s. */
	assert_int_equal(cfg.ban_nplens[SL_FAM_IP6], 1);
	assert_int_equal(cfg.ban_plens[SL_FAM_IP6][0], 128);

	/* One limited packet from one address bans its /24. */
	assert_verdict(send_from(fx, &dns4, "192.0.2.10"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "192.0.2.11"), VERDICT_DROP);
	assert_true(has_ban(fx, "192.0.2.0/24"));
	assert_verdict(send_from(fx, &web4, "192.0.2.200"), VERDICT_DROP);
	assert_verdict(send_from(fx, &web4, "192.0.3.1"), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_BAN, 1);
}

static void test_ipv6_prefix6_64_ban(void **state)
{
	struct fx *fx = *state;
	struct pkt web6 = web4;

	web6.family = 6;
	configure(fx, "rule b family ip6 proto udp dport 53 key src prefix6 64 rate 1/s burst 1 action drop "
		      "ban after 2 within 1m for 1m");
	assert_int_equal(read_cfg(fx).ban_nplens[SL_FAM_IP4], 0);
	assert_verdict(send_from(fx, &dns6, "2001:db8:0:1::1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns6, "2001:db8:0:1::2"), VERDICT_DROP);
	assert_false(has_ban(fx, "2001:db8:0:1::/64"));
	assert_verdict(send_from(fx, &dns6, "2001:db8:0:1::3"), VERDICT_DROP);
	assert_true(has_ban(fx, "2001:db8:0:1::/64"));
	assert_verdict(send_from(fx, &web6, "2001:db8:0:1:ffff::1"), VERDICT_DROP);
	assert_verdict(send_from(fx, &web6, "2001:db8:0:2::1"), VERDICT_PASS);
	/* IPv4 skips the ban map: no IPv4 ban can exist. */
	assert_verdict(send_pkt(fx, &web4), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_BAN, 1);
}

static void test_global_dry_run_ban_counts_and_passes_and_stays_dry(void **state)
{
	struct fx *fx = *state;
	int i;

	configure(fx, BAN_RULE);
	assert_int_equal(ruleset__set_dry_run(&fx->maps, true), 0);
	for (i = 0; i < 5; i++)
		assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_int_equal(ban_of(fx, "192.0.2.1").flags, SL_BAN_DRY);
	assert_cnt(fx, SL_CNT_BANS, 1);
	assert_verdict(send_pkt(fx, &web4), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_BAN, 1);
	assert_int_equal(read_events(fx).v[1].flags, SL_EV_DRY);

	/* Enforcing again does not turn what a dry run wrote into drops. */
	assert_int_equal(ruleset__set_dry_run(&fx->maps, false), 0);
	assert_verdict(send_pkt(fx, &web4), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_BAN, 2);
	/* Its packets still meet the rules, which limit them. */
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
}

static void test_action_pass_rule_makes_a_dry_ban(void **state)
{
	struct fx *fx = *state;
	int i;

	configure(fx, "rule b proto udp dport 53 key src rate 1/s burst 1 action pass "
		      "ban after 1 within 1s for 1m");
	for (i = 0; i < 3; i++)
		assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_int_equal(ban_of(fx, "192.0.2.1").flags, SL_BAN_DRY);
	assert_verdict(send_pkt(fx, &web4), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_DROPPED, 0);
	assert_cnt(fx, SL_CNT_BAN, 2);
}

/* ------------------------------------------------------------------------ */
/* Manual bans and the ban check                                             */
/* ------------------------------------------------------------------------ */

static void test_manual_prefix_ban_drops_until_it_expires(void **state)
{
	struct fx *fx = *state;
	struct sl_ban ban;

	configure(fx, "rule web proto tcp dport 443 key src rate 1000/s burst 1000 action drop");
	manual_ban(fx, "192.0.2.0/24", 5 * NS_PER_S, NS_PER_S);
	ban = ban_of(fx, "192.0.2.0/24");
	assert_int_equal(ban.flags, SL_BAN_MANUAL);
	assert_int_equal(ban.rule_uid, 0);
	assert_int_equal(ban.offences, 0);
	assert_int_equal(ban.expires_ns, 6 * NS_PER_S);
	assert_verdict(send_from(fx, &web4, "192.0.2.1"), VERDICT_DROP);
	assert_verdict(send_from(fx, &web4, "192.0.2.254"), VERDICT_DROP);
	assert_verdict(send_from(fx, &web4, "192.0.3.1"), VERDICT_PASS);
	set_now(fx, 6 * NS_PER_S);
	assert_verdict(send_from(fx, &web4, "192.0.2.1"), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_BAN, 2);
}

static void test_manual_ban_without_duration_never_expires(void **state)
{
	struct fx *fx = *state;

	configure(fx, "rule web proto tcp dport 443 key src rate 1000/s burst 1000 action drop");
	manual_ban(fx, "192.0.2.1", 0, NS_PER_S);
	assert_int_equal(ban_of(fx, "192.0.2.1").expires_ns, SL_BAN_FOREVER);
	set_now(fx, 400ull * 86400 * NS_PER_S);
	assert_verdict(send_pkt(fx, &web4), VERDICT_DROP);
}

static void test_allow_list_wins_over_a_ban(void **state)
{
	struct fx *fx = *state;

	configure(fx, "allow 192.0.2.1",
		  "rule web proto tcp dport 443 key src rate 1000/s burst 1000 action drop");
	manual_ban(fx, "192.0.2.0/24", 0, NS_PER_S);
	assert_verdict(send_from(fx, &web4, "192.0.2.1"), VERDICT_PASS);
	assert_verdict(send_from(fx, &web4, "192.0.2.2"), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_ALLOW, 1);
	assert_cnt(fx, SL_CNT_BAN, 1);
}

/* The ban check runs only at lengths sl_cfg lists: none, no lookup. */
static void test_ban_check_skipped_without_bans_or_ban_rules(void **state)
{
	struct fx *fx = *state;
	struct sl_ban_key key = key_of("192.0.2.1");
	struct sl_ban ban = { .expires_ns = SL_BAN_FOREVER,
			      .forget_ns = SL_BAN_FOREVER, .flags = SL_BAN_MANUAL };
	struct sl_error err = {};
	struct sl_cfg cfg;

	configure(fx, "rule web proto tcp dport 443 key src rate 1000/s burst 1000 action drop");
	cfg = read_cfg(fx);
	assert_int_equal(cfg.ban_nplens[SL_FAM_IP4], 0);
	assert_int_equal(cfg.ban_nplens[SL_FAM_IP6], 0);
	/* Written behind the controller's back: not looked up. */
	assert_int_equal(bpf_map_update_elem(fx->maps.bans, &key, &ban, BPF_ANY), 0);
	assert_verdict(send_pkt(fx, &web4), VERDICT_PASS);
	assert_cnt(fx, SL_CNT_BAN, 0);
	/* Any controller's next look at the table lists its length. */
	assert_int_equal(bans__refresh(&fx->maps, &err), 0);
	assert_int_equal(read_cfg(fx).ban_nplens[SL_FAM_IP4], 1);
	assert_verdict(send_pkt(fx, &web4), VERDICT_DROP);
	assert_cnt(fx, SL_CNT_BAN, 1);
}

/* A /32 entry kept for its offences must not hide a live /24 ban. */
static void test_ended_longer_ban_does_not_hide_live_shorter_one(void **state)
{
	struct fx *fx = *state;

	configure(fx, BAN_RULE);
	pass_until_drop(fx, &dns4, "192.0.2.1");
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_true(has_ban(fx, "192.0.2.1"));
	set_now(fx, 4 * NS_PER_S);
	manual_ban(fx, "192.0.2.0/24", 60 * NS_PER_S, 4 * NS_PER_S);
	assert_verdict(send_pkt(fx, &web4), VERDICT_DROP);
}

/* Four lengths per family, the rules' and the table's together. */
static void test_fifth_prefix_length_refused_until_one_is_free(void **state)
{
	static const char *const cidrs[] = { "10.0.0.0/8", "10.1.0.0/16",
					     "10.1.2.0/24" };
	struct fx *fx = *state;
	struct sl_error err = {};
	struct sl_cidr c;
	unsigned i;

	configure(fx, BAN_RULE);
	for (i = 0; i < ARRAY_SIZE(cidrs); i++)
		manual_ban(fx, cidrs[i], 0, NS_PER_S);
	assert_int_equal(config_parse_cidr("10.1.2.128/25", &c), 0);
	assert_int_equal(bans__add(&fx->maps, &c, 0, NS_PER_S, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "bans already use 4 IPv4 prefix lengths (/32, /24, /16, /8), the most the data path looks up; ban at one of those lengths");
	/* IPv6 has lengths of its own. */
	manual_ban(fx, "2001:db8::/48", 0, NS_PER_S);
	assert_int_equal(config_parse_cidr("10.1.2.0/24", &c), 0);
	assert_int_equal(bans__del(&fx->maps, &c, &err), 0);
	assert_int_equal(read_cfg(fx).ban_nplens[SL_FAM_IP4], 3);
	manual_ban(fx, "10.1.2.128/25", 0, NS_PER_S);
	assert_int_equal(read_cfg(fx).ban_plens[SL_FAM_IP4][1], 25);
}

/* ------------------------------------------------------------------------ */
/* The sweep's side: ended once, forgotten later                             */
/* ------------------------------------------------------------------------ */

struct ended {
	struct sl_ban_entry last;
	unsigned calls;
};

static void on_ended(const struct sl_ban_entry *e, void *arg)
{
	struct ended *seen = arg;

	seen->last = *e;
	seen->calls++;
}

static struct sl_ban_sweep expire(struct fx *fx, uint64_t now, struct ended *seen)
{
	struct sl_ban_sweep res;
	struct sl_error err = {};

	set_now(fx, now);
	if (bans__expire(&fx->maps, bpf_program__fd(fx->skel->progs.sluice_ctl), now,
			 on_ended, seen, &res, &err))
		fail_msg("bans__expire: %s", err.msg);
	return res;
}

static void test_sweep_sees_each_end_once_and_forgets_after_max(void **state)
{
	struct fx *fx = *state;
	struct ended seen = {};
	struct sl_ban_key want;
	struct sl_ban_sweep res;

	configure(fx, BAN_RULE);
	pass_until_drop(fx, &dns4, "192.0.2.1");
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);

	res = expire(fx, 3 * NS_PER_S - 1, &seen);
	assert_int_equal(res.ended + res.forgotten, 0);
	res = expire(fx, 3 * NS_PER_S, &seen);
	assert_int_equal(res.ended, 1);
	assert_int_equal(res.forgotten, 0);
	assert_int_equal(seen.calls, 1);
	want = key_of("192.0.2.1");
	assert_memory_equal(&seen.last.key, &want, sizeof(want));
	assert_int_equal(seen.last.ban.expires_ns, 3 * NS_PER_S);
	assert_int_equal(seen.last.ban.offences, 1);
	assert_int_equal(ban_of(fx, "192.0.2.1").flags, SL_BAN_ENDED);

	/* Noticed once, whoever looks again. */
	res = expire(fx, 4 * NS_PER_S, &seen);
	assert_int_equal(res.ended + res.forgotten, 0);
	assert_int_equal(seen.calls, 1);

	res = expire(fx, 8 * NS_PER_S, &seen);
	assert_int_equal(res.ended, 0);
	assert_int_equal(res.forgotten, 1);
	assert_false(has_ban(fx, "192.0.2.1"));
	/* The rule can still ban: its length stays listed. */
	assert_int_equal(read_cfg(fx).ban_nplens[SL_FAM_IP4], 1);
}

static void test_sweep_forgets_manual_ban_and_its_prefix_length(void **state)
{
	struct fx *fx = *state;
	struct ended seen = {};
	struct sl_ban_sweep res;

	configure(fx, "rule web proto tcp dport 443 key src rate 1000/s burst 1000 action drop");
	manual_ban(fx, "192.0.2.0/24", 2 * NS_PER_S, NS_PER_S);
	assert_int_equal(read_cfg(fx).ban_nplens[SL_FAM_IP4], 1);
	res = expire(fx, 3 * NS_PER_S, &seen);
	assert_int_equal(res.ended, 1);
	assert_int_equal(res.forgotten, 1);
	assert_int_equal(seen.calls, 1);
	assert_true(seen.last.ban.flags & SL_BAN_MANUAL);
	/* Nothing left to look up: the check is skipped again. */
	assert_int_equal(read_cfg(fx).ban_nplens[SL_FAM_IP4], 0);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

static void test_limited_event_once_per_quiet_minute(void **state)
{
	static const uint64_t at[] = { 1, 2, 30, 61, 121, 122 };
	static const bool sent[] = { true, false, false, false, true, false };
	struct fx *fx = *state;
	unsigned i, n = 0;

	/* A window: its refusals are never served from the refusal memory,
	 * so the walk sees every limited packet. */
	configure(fx, "rule r proto udp dport 53 key src window 1/h action drop");
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	for (i = 0; i < ARRAY_SIZE(at); i++) {
		set_now(fx, at[i] * NS_PER_S);
		assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
		assert_verdict(send_pkt(fx, &dns4), VERDICT_DROP);
		n += sent[i];
		assert_int_equal(read_events(fx).n, sent[i]);
	}
	assert_cnt(fx, SL_CNT_EVENTS, n);
}

static void test_event_budget_sends_burst_then_counts_suppressed(void **state)
{
	struct fx *fx = *state;
	char src[32];
	unsigned i;

	configure(fx, "event-limit 1/s burst 2",
		  "rule r proto udp dport 53 key src rate 1/h burst 1 action drop");
	for (i = 1; i <= 5; i++) {
		snprintf(src, sizeof(src), "192.0.2.%u", i);
		assert_verdict(send_from(fx, &dns4, src), VERDICT_PASS);
		assert_verdict(send_from(fx, &dns4, src), VERDICT_DROP);
	}
	assert_int_equal(read_events(fx).n, 2);
	assert_cnt(fx, SL_CNT_EVENTS, 2);
	assert_cnt(fx, SL_CNT_EVENTS_SUPPRESSED, 3);
	/* One second later, one more. */
	set_now(fx, 2 * NS_PER_S);
	assert_verdict(send_from(fx, &dns4, "192.0.2.9"), VERDICT_PASS);
	assert_verdict(send_from(fx, &dns4, "192.0.2.9"), VERDICT_DROP);
	assert_int_equal(read_events(fx).n, 1);
}

static void test_limited_event_names_dport_key_and_dry_run(void **state)
{
	struct fx *fx = *state;
	struct events e;

	configure(fx, "rule p proto udp dport 53 key dport window 1/m action pass");
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	assert_verdict(send_pkt(fx, &dns4), VERDICT_PASS);
	e = read_events(fx);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.v[0].key_type, SL_KEY_DPORT);
	assert_int_equal(e.v[0].addr[0] << 8 | e.v[0].addr[1], 53);
	assert_int_equal(e.v[0].reason, SL_CNT_WINDOW);
	assert_int_equal(e.v[0].flags, SL_EV_DRY);
}

/* What a rule-set edit reads back keeps the budget: `rule add` must not
 * reset event-limit to its default. */
static void test_event_limit_read_back_with_the_rule_set(void **state)
{
	struct fx *fx = *state;
	struct sl_error err = {};
	struct sl_config conf;
	struct sl_cfg cfg;

	configure(fx, "event-limit 5/s burst 7", BAN_RULE);
	cfg = read_cfg(fx);
	assert_int_equal(cfg.event_limit.kind, SL_LIMIT_RATE);
	assert_int_equal(cfg.event_limit.rate.tolerance_ns, 7 * 200 * NS_PER_MS);
	config_init(&conf);
	assert_int_equal(ruleset__read(&fx->maps, &conf, &err), 0);
	assert_int_equal(conf.event_limit.count, 5);
	assert_int_equal(conf.event_limit.period_ns, NS_PER_S);
	assert_int_equal(conf.event_limit.burst, 7);
	assert_int_equal(conf.n_rules, 1);
	assert_int_equal(conf.rules[0].ban_after, 3);
	assert_int_equal(conf.rules[0].ban_max_ns, 5 * NS_PER_S);
	config_free(&conf);
	/* Without the statement, the default budget: 100/s burst 100. */
	configure(fx, BAN_RULE);
	assert_int_equal(read_cfg(fx).event_limit.rate.tolerance_ns, 100 * 10 * NS_PER_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_third_limited_packet_bans_source_before_every_rule),
		TEST(test_ban_expires_in_kernel_at_its_time),
		TEST(test_repeat_offender_ban_doubles_up_to_max_then_is_forgotten),
		TEST(test_ban_rule_counts_every_refusal_none_remembered),
		TEST(test_prefix_key_bans_the_prefix),
		TEST(test_ipv6_prefix6_64_ban),
		TEST(test_global_dry_run_ban_counts_and_passes_and_stays_dry),
		TEST(test_action_pass_rule_makes_a_dry_ban),
		TEST(test_manual_prefix_ban_drops_until_it_expires),
		TEST(test_manual_ban_without_duration_never_expires),
		TEST(test_allow_list_wins_over_a_ban),
		TEST(test_ban_check_skipped_without_bans_or_ban_rules),
		TEST(test_ended_longer_ban_does_not_hide_live_shorter_one),
		TEST(test_fifth_prefix_length_refused_until_one_is_free),
		TEST(test_sweep_sees_each_end_once_and_forgets_after_max),
		TEST(test_sweep_forgets_manual_ban_and_its_prefix_length),
		TEST(test_limited_event_once_per_quiet_minute),
		TEST(test_event_budget_sends_burst_then_counts_suppressed),
		TEST(test_limited_event_names_dport_key_and_dry_run),
		TEST(test_event_limit_read_back_with_the_rule_set),
	};

	return cmocka_run_group_tests_name("bpf-bans", tests, NULL, NULL);
}
