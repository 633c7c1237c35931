/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract between the XDP program and the controller: map names, key and
 * value layouts, constants. Compiled by both sides, so it holds only
 * fixed-width types and no libc.
 */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#include <linux/types.h>

/*
 * Rules per rule set. Classification intersects one 64-bit bitmap per header
 * field, so the limit is the width of a machine word: one AND per field.
 */
#define SL_MAX_RULES		64
#define SL_MAX_LIMITS		4
#define SL_NAME_LEN		32
#define SL_RULE_TEXT_LEN	480

/*
 * Every rule-set table exists twice, indexed by generation. The controller
 * fills the inactive generation and flips sl_cfg.gen with one map update.
 */
#define SL_GENERATIONS		2

/* Prefix lengths per family that bans may use: one lookup each per packet. */
#define SL_BAN_PLENS		4

/* Pinned map names: the kernel keeps 15 characters of an object's name. */
#define SL_MAP_CFG		"sl_cfg"
#define SL_MAP_L4		"sl_l4"
#define SL_MAP_DPORT		"sl_dport"
#define SL_MAP_SRC4		"sl_src4"
#define SL_MAP_SRC6		"sl_src6"
#define SL_MAP_RULES		"sl_rules"
#define SL_MAP_RTEXT		"sl_rtext"
#define SL_MAP_KEYS		"sl_keys"
#define SL_MAP_RCNT		"sl_rcnt"
#define SL_MAP_CNT		"sl_cnt"
#define SL_MAP_FLOWS		"sl_flows"
#define SL_MAP_CONNS		"sl_conns"
#define SL_MAP_REJECT		"sl_reject"
#define SL_MAP_REFUSALS		"sl_refusals"
#define SL_MAP_BANS		"sl_bans"
#define SL_MAP_EVENTS		"sl_events"
#define SL_MAP_EVBUDGET		"sl_evbudget"
#define SL_MAP_TOPK		"sl_topk"
#define SL_MAP_REFKEYS		"sl_refkeys"
#define SL_PIN_LINK_XDP		"link_xdp"
#define SL_PIN_LINK_TC_IN	"link_tc_in"
#define SL_PIN_LINK_TC_OUT	"link_tc_out"
#define SL_PIN_PROG_CTL		"prog_ctl"
#define SL_PIN_ROOT		"/sys/fs/bpf/sluice"

#define SL_DEFAULT_KEYS		262144
#define SL_DEFAULT_FLOWS	262144
#define SL_SRC_CAPACITY		262144
#define SL_BAN_CAPACITY		65536
/* The event ring: a few thousand events, far beyond the default budget's burst. */
#define SL_EVENTS_BYTES		(256 * 1024)
/* Keys whose packets sluice top counts at once (LRU: the busiest stay). */
#define SL_TOP_KEYS		8192

enum sl_family {
	SL_FAM_IP4 = 0,
	SL_FAM_IP6 = 1,
	SL_FAMILIES,
};

/* Of all the rules a packet breaks, drop beats reject beats mark beats pass. */
enum sl_action {
	SL_ACT_DROP = 0,
	SL_ACT_PASS = 1,	/* dry run: count what would have been limited */
	SL_ACT_REJECT = 2,	/* answer with a TCP RST or an ICMP error */
	SL_ACT_MARK = 3,	/* pass, and let TC ingress set skb->mark */
};

enum sl_key_type {
	SL_KEY_SRC = 0,		/* source address, masked to prefix4/prefix6 */
	SL_KEY_DPORT = 1,
	SL_KEY_GLOBAL = 2,
};

enum sl_limit_kind {
	SL_LIMIT_RATE = 1,
	SL_LIMIT_WINDOW = 2,
	SL_LIMIT_CONNS = 3,
};

enum sl_unit {
	SL_UNIT_PACKETS = 0,
	SL_UNIT_BYTES = 1,	/* cost is the frame length, Ethernet header included */
};

enum sl_malformed_policy {
	SL_MALFORMED_PASS = 0,
	SL_MALFORMED_DROP = 1,
};

/*
 * What a rule does with a packet whose key has no state and the key map
 * no room for it. The map never evicts: keys with state keep it.
 */
enum sl_on_full {
	SL_ON_FULL_DROP = 0,	/* refused: the rule's action, as over a limit */
	SL_ON_FULL_PASS = 1,	/* admitted, unlimited by this rule's rates and windows */
};

/* Global counters, one sl_counter each in the per-CPU SL_MAP_CNT array. */
enum sl_counter_index {
	SL_CNT_RX = 0,		/* every frame the program saw */
	SL_CNT_NON_IP,		/* ARP, LLDP, ...: passed untouched */
	SL_CNT_ALLOW,		/* allow-listed: skipped every limit */
	SL_CNT_PASSED,		/* IP frames passed */
	SL_CNT_DROPPED,		/* IP frames dropped, for any reason */
	/* Reasons a frame was (or, in a dry run, would have been) limited. */
	SL_CNT_DENY,
	SL_CNT_BAN,
	SL_CNT_RATE,
	SL_CNT_WINDOW,
	SL_CNT_CONNS,
	SL_CNT_MALFORMED,
	SL_CNT_BREAKER,
	SL_CNT_CAS_EXHAUSTED,	/* limiter update lost the race SL_CAS_TRIES times */
	SL_CNT_REJECTED,	/* answered with a RST or an ICMP error */
	SL_CNT_REJECT_LIMITED,	/* would have been answered, reject budget spent */
	SL_CNT_FLOWS_FULL,	/* SYN refused: no room to track its connection */
	SL_CNT_MARKED,
	SL_CNT_KEYS_FULL,	/* a rule's key found no room in the key map */
	/* Not frames: packets counts things, bytes stay 0. */
	SL_CNT_BANS,		/* bans rules started */
	SL_CNT_BANS_FULL,	/* bans not started: the ban table was full */
	SL_CNT_EVENTS,		/* events sent to the event ring */
	SL_CNT_EVENTS_SUPPRESSED,	/* over the event budget, or the ring was full */
	SL_CNT_MAX,
};

struct sl_counter {
	__u64 packets;
	__u64 bytes;
};

/* Per-rule counters, indexed by the rule's stable counter slot. */
struct sl_rule_counter {
	__u64 matched;
	__u64 passed;		/* conforming, or limited under action pass */
	__u64 dropped;
	__u64 rejected;
	__u64 marked;
	__u64 limited;		/* non-conforming, whatever the action did */
	__u64 bytes;		/* bytes of matched frames */
};

struct sl_limit {
	__u8 kind;		/* enum sl_limit_kind */
	__u8 unit;		/* enum sl_unit */
	__u8 pad[6];
	union {
		struct {
			__u64 interval_fp;	/* ns per unit, 48.16 fixed point */
			__u64 tolerance_ns;	/* how far ahead TAT may run */
		} rate;
		struct {
			__u64 period_ns;
			__u64 max;		/* packets per period */
		} window;
		struct {
			__u64 max;		/* concurrent connections */
			__u64 pad;
		} conns;
	};
};

/*
 * The rule's refusals may be remembered per CPU (see struct sl_refusal): it
 * drops, and its only limits are rates, whose refusal lasts until a time the
 * refusing packet can compute. Nothing else the rule does (windows, conns,
 * reject answers, marks) would be repeated by a remembered refusal.
 */
#define SL_RULE_F_REMEMBER	(1u << 0)

struct sl_rule {
	__u32 uid;		/* unique per rule ever created: keys its state */
	__u32 slot;		/* counter slot, stable across reloads */
	__u8 action;		/* enum sl_action */
	__u8 key_type;		/* enum sl_key_type */
	__u8 prefix4;
	__u8 prefix6;
	__u8 n_limits;
	__u8 conns_limit;	/* index of the conns limit + 1; 0: none */
	__u8 flags;		/* SL_RULE_F_* */
	__u8 cluster;		/* SL_CLUSTER_* (sluice_cluster.h); 0: this host alone */
	__u32 mark;		/* action mark: the skb->mark TC ingress sets */
	__u8 on_full;		/* enum sl_on_full */
	__u8 pad2[3];
	struct sl_limit limits[SL_MAX_LIMITS];
	/*
	 * Ban policy (key src only): the ban_after-th limited packet of a key
	 * within ban_within_ns bans the key's address or prefix for
	 * ban_for_ns, doubled for each offence still remembered, up to
	 * ban_max_ns. ban_after 0: no ban policy.
	 */
	__u32 ban_after;
	__u8 ban_families;	/* bit (1 << SL_FAM_*): whose addresses it bans */
	__u8 pad3[3];
	__u64 ban_within_ns;
	__u64 ban_for_ns;
	__u64 ban_max_ns;
	/* The count toward a ban as the limiter spends it: a window of
	 * ban_after - 1 per ban_within_ns, so the ban_after-th is refused. */
	struct sl_limit ban_count;
	/*
	 * Warm-up (sluice_limiter.h): the rule's rates ramp from a third to
	 * the full value over warmup_ns (0: none) from warm_start_ns, the
	 * CLOCK_MONOTONIC time the rule was created or its warm-up restarted.
	 */
	__u64 warmup_ns;
	__u64 warm_start_ns;
};

/* Per generation: the bitmaps that do not come from a per-field lookup. */
struct sl_gen_hdr {
	__u64 active;		/* bit i set: rule position i exists */
	__u64 syn;		/* rules restricted to TCP SYN without ACK */
	__u64 conns;		/* rules with a conns limit: they track flows */
	__u32 n_rules;
	__u32 pad;
};

struct sl_cfg {
	__u32 gen;		/* rule sets applied; gen & 1 is the live slot */
	__u32 malformed;	/* enum sl_malformed_policy */
	__u32 dry_run;		/* 1: every limited frame passes, counted */
	__u32 next_uid;		/* controller bookkeeping: next sl_rule.uid */
	/* Flows idle this long are released by the controller's sweep. */
	__u64 half_open_ns;
	__u64 established_ns;
	/* One budget for every answer `reject` sends, so spoofed floods cannot
	 * turn sluice into a reflector: past it, reject drops. */
	__u64 reject_interval_fp;
	__u64 reject_tolerance_ns;
	/* The same budget as written, so a controller can read it back. */
	__u64 reject_count;
	__u64 reject_period_ns;
	__u64 reject_burst;
	/* Nanoseconds per jiffy (clock_getres of CLOCK_MONOTONIC_COARSE), so
	 * a remembered refusal can be timed without reading the clock; 0
	 * turns that off. */
	__u64 tick_ns;
	/* Circuit breakers defined (sluice_breaker.h); with none, neither XDP
	 * nor TC egress spends a lookup on them. */
	__u32 breakers;
	__u32 breakers_pad;
	/* The sweep deletes a key whose state has said nothing (full
	 * buckets, lapsed windows) for this long; never read by the data
	 * path. keys_swept_ns is when a sweep last finished a pass over the
	 * key map (CLOCK_MONOTONIC; 0: never), so status can tell an
	 * operator that nothing reclaims idle keys. */
	__u64 key_timeout_ns;
	__u64 keys_swept_ns;
	struct sl_gen_hdr hdr[SL_GENERATIONS];
	/*
	 * The prefix lengths the data path looks bans up at, per family,
	 * longest first: those of the rules with a ban policy and of every
	 * entry in sl_bans. None for a family: its packets skip the ban map.
	 */
	__u8 ban_nplens[SL_FAMILIES];
	__u8 ban_plens[SL_FAMILIES][SL_BAN_PLENS];
	__u8 pad3[6];
	/* The budget of events the data path may send: a packet rate. */
	struct sl_limit event_limit;
	/* The same budget as written, so a controller can read it back. */
	__u64 event_count;
	__u64 event_period_ns;
	__u64 event_burst;
	/* sluice top's lease (CLOCK_MONOTONIC): until then the data path
	 * counts packets per key in SL_MAP_TOPK; nothing after it. */
	__u64 top_until_ns;
	/* `refusals N` as configured (0: the default), so an attach without
	 * a configuration sizes the refusal memory as the last one did. */
	__u32 refusal_slots;
	/* The half of SL_MAP_KEYFILTER the data path reads (keyfilter.bpf.h). */
	__u32 keyfilter_half;
};

/*
 * Source tries: one LPM lookup yields the allow/deny verdict and the bitmap of
 * rules whose "from" CIDRs cover the address. The generation is the first key
 * byte, so each generation is a disjoint subtree and a bare generation byte
 * (prefixlen 8) is the default entry for addresses no CIDR covers.
 */
#define SL_SRC_OWN_ALLOW	(1u << 0)	/* listed by the operator */
#define SL_SRC_OWN_DENY		(1u << 1)
#define SL_SRC_ALLOW		(1u << 2)	/* effective: this or a covering prefix */
#define SL_SRC_DENY		(1u << 3)

struct sl_src4_key {
	__u32 prefixlen;	/* 8 + address prefix length */
	__u8 gen;
	__u8 addr[4];
} __attribute__((packed));

struct sl_src6_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 addr[16];
} __attribute__((packed));

struct sl_src_val {
	__u64 rules;
	__u32 flags;
	__u32 pad;
};

/* sl_l4 index: generation, family, IP protocol number. */
#define SL_L4_INDEX(gen, fam, proto) \
	(((gen) * SL_FAMILIES + (fam)) * 256 + (proto))
#define SL_L4_ENTRIES		(SL_GENERATIONS * SL_FAMILIES * 256)
#define SL_DPORT_INDEX(gen, port)	((gen) * 65536 + (port))
#define SL_DPORT_ENTRIES	(SL_GENERATIONS * 65536)
#define SL_RULE_INDEX(gen, pos)	((gen) * SL_MAX_RULES + (pos))
#define SL_RULE_ENTRIES		(SL_GENERATIONS * SL_MAX_RULES)

/* What the controller reads back to list and rebuild a rule set. */
struct sl_rule_text {
	char name[SL_NAME_LEN];
	char text[SL_RULE_TEXT_LEN];
};

/* Limiter state per (rule, key). IPv4 addresses sit in addr[0..3]. */
struct sl_key {
	__u32 rule_uid;
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

/*
 * Per (rule, key) and per CPU, while sluice top holds its lease: what the
 * rule matched, and what of that broke it (whatever its action then did).
 * Per CPU, so counting writes no line another CPU reads.
 */
struct sl_key_count {
	__u64 packets;
	__u64 limited;
};

/* One word per limit: a GCRA TAT (rate) or a packed window (window);
 * conns counts live in SL_MAP_CONNS, which nothing evicts. */
struct sl_key_state {
	__u64 word[SL_MAX_LIMITS];
	/* When the key was last limited, refreshed at most once per
	 * SL_LIMITED_REFRESH_NS so a flood does not bounce the line. */
	__u64 limited_ns;
	/* Its limited packets toward the rule's ban, as a sliding window. */
	__u64 ban_window;
};

#define SL_LIMITED_REFRESH_NS	1000000000ull
/* A key limited after this long without being limited sends an event. */
#define SL_LIMITED_QUIET_NS	(60 * 1000000000ull)

/*
 * A ban: every packet from addresses inside the prefix is dropped before
 * any rule, until expires_ns. The entry outlives the ban until forget_ns,
 * so a rule that bans the same key again meanwhile doubles the duration.
 */
struct sl_ban_key {
	__u8 family;
	__u8 prefixlen;		/* host bits of addr are clear */
	__u8 pad[2];
	__u8 addr[16];
};

#define SL_BAN_MANUAL		(1u << 0)	/* sluice ban add, not a rule */
#define SL_BAN_DRY		(1u << 1)	/* dry run or action pass: count, never drop */
#define SL_BAN_ENDED		(1u << 2)	/* its end has been logged */
#define SL_BAN_FOREVER		(~0ull)		/* expires_ns of a ban until deleted */

struct sl_ban {
	__u64 start_ns;
	__u64 expires_ns;	/* banned while now < expires_ns */
	__u64 forget_ns;	/* offences remembered while now < forget_ns */
	__u32 offences;		/* bans by rules, this one included */
	__u32 rule_uid;		/* the rule that banned; 0 for a manual ban */
	__u32 flags;		/* SL_BAN_* */
	__u32 pad;
};

/*
 * Events for the daemon's log. The data path sends the rare ones through
 * the SL_MAP_EVENTS ring, within the sl_cfg event budget; the daemon makes
 * the rest (ban ends) and logs both the same way.
 */
enum sl_event_type {
	SL_EV_LIMITED = 1,	/* a key started being limited */
	SL_EV_BAN_START = 2,
	SL_EV_BAN_END = 3,	/* noticed by the daemon */
};

#define SL_EV_DRY		(1u << 0)	/* nothing dropped: dry run or action pass */
#define SL_EV_MANUAL		(1u << 1)	/* a ban by sluice ban add */

struct sl_event {
	__u64 time_ns;		/* CLOCK_MONOTONIC */
	__u32 type;		/* enum sl_event_type */
	__u32 rule_uid;		/* the rule; 0 if none */
	__u8 key_type;		/* enum sl_key_type of the key below */
	__u8 family;
	__u8 prefixlen;		/* key src: the bits of addr that count */
	__u8 pad;
	__u32 flags;		/* SL_EV_* */
	__u8 addr[16];		/* key src: the address; key dport: the port */
	__u64 duration_ns;	/* ban: how long it lasts, or lasted */
	__u32 offences;		/* ban: the key's bans so far */
	__u32 reason;		/* limited: enum sl_counter_index of the limit */
	char name[SL_NAME_LEN];	/* breaker: its name; rules: filled in by the daemon */
};

/*
 * A TCP connection admitted by a rule with a conns limit, keyed by the
 * client's view (client address and port are src). It holds the count
 * entries it was charged to, so whoever deletes the flow, and only they,
 * gives the slots back: XDP on the client's FIN or RST, TC egress on the
 * server's, the controller's sweep when it went idle.
 */
#define SL_FLOW_RULES		4

struct sl_flow_key {
	__u8 family;
	__u8 pad;
	__be16 sport;
	__be16 dport;
	__u16 pad2;
	__u8 saddr[16];
	__u8 daddr[16];
};

/*
 * The data path refreshes a flow's last_seen_ns at most this often, to keep
 * busy flows' cache lines clean; the sweep allows for it, so a flow is
 * released only after it has been idle for the whole timeout.
 */
#define SL_FLOW_REFRESH_NS	1000000000ull

enum sl_flow_state {
	SL_FLOW_SYN = 0,	/* SYN admitted, handshake not yet seen done */
	SL_FLOW_ESTABLISHED = 1,
};

struct sl_flow {
	__u64 last_seen_ns;
	__u32 state;		/* enum sl_flow_state */
	__u32 n_keys;
	struct sl_key keys[SL_FLOW_RULES];	/* SL_MAP_CONNS entries charged */
};

/*
 * What the controller asks of the syscall program sluice_ctl, which changes
 * flows and counts with the same atomic operations the data path uses.
 */
enum sl_ctl_op {
	SL_CTL_RELEASE = 1,	/* release flow: delete it, give back its slots */
	SL_CTL_ADJUST = 2,	/* add delta to the count of conn */
	SL_CTL_DROP_IF_ZERO = 3,	/* delete the count of conn if it is 0 */
	SL_CTL_BAN_EXPIRE = 4,	/* ban_key: mark ended if expired, delete if forgotten */
	/* rebuild the key filter from the key map; result: keys seen */
	SL_CTL_KEYFILTER_REBUILD = 5,
};

/* SL_CTL_BAN_EXPIRE's result bits. */
#define SL_CTL_BAN_ENDED	1	/* expired, and no one had marked it ended */
#define SL_CTL_BAN_DELETED	2	/* its offences were forgotten: deleted */

struct sl_ctl {
	__u32 op;		/* enum sl_ctl_op */
	__s32 delta;
	struct sl_flow_key flow;
	struct sl_key conn;
	__s64 result;		/* 1 if released / deleted; the new count */
	struct sl_ban_key ban_key;
	struct sl_ban ban;	/* SL_CTL_BAN_EXPIRE: the entry as found */
};

/* XDP metadata that asks TC ingress to set skb->mark. */
#define SL_META_MAGIC		0x534c4d4bu	/* "SLMK" */

struct sl_meta {
	__u32 magic;
	__u32 mark;
};

/*
 * A flood from one source over its limit is refused packet after packet
 * until a time the first refusal can compute (the rate's TAT less its
 * tolerance). Each CPU remembers recent refusals in a table of its own,
 * keyed by everything classification reads (source, family, protocol,
 * port, SYN) and by the rule-set generation, so a repeat is refused
 * without the source trie, the rule walk, the key map or, until the last
 * jiffy, the clock (or mostly not at all, when the key's TAT leaves room
 * for a deadline up to a tick late: README, Refusals that may end late).
 * Only the first rule a packet matches is remembered: no earlier rule
 * would have been charged for it.
 *
 * The table is one array of 64-byte sets, one cache line each, of two
 * 32-byte refusals (two-way set associative: two sources hashed to one set
 * both stay), CPU after CPU: set s of CPU c is entry c << bits | s, so a
 * lookup is one line of memory only its CPU writes. `refusals N` in the
 * configuration sizes it (slots per CPU, a power of two; fixed while
 * attached).
 */
#define SL_REFUSAL_WAYS		2
#define SL_REFUSAL_DEFAULT_SLOTS	16384u
#define SL_REFUSAL_MIN_SLOTS	1024u
#define SL_REFUSAL_MAX_SLOTS	16777216u

/* The shape of a packet, as a refusal remembers it. */
#define SL_SHAPE_IP6		(1u << 0)
#define SL_SHAPE_PORTS		(1u << 1)
#define SL_SHAPE_SYN		(1u << 2)

/*
 * Times are kept as the clock's nanoseconds >> SL_REFUSAL_TIME_SHIFT in 32
 * bits, compared with wrap-around, so a refusal is remembered for at most
 * SL_REFUSAL_MAX_HOLD units (about 18 minutes); a longer one walks again
 * then and is remembered afresh. The generation is its low 16 bits: an
 * entry could be taken for a newer rule set only after 65,536 rule-set
 * changes within that time.
 */
#define SL_REFUSAL_TIME_SHIFT	10
#define SL_REFUSAL_MAX_HOLD	(1u << 30)

struct sl_refusal {
	__u8 saddr[16];
	/* Refused while jiffies (their low 32 bits) are before this, without
	 * reading the clock; 0: ask the clock. */
	__u32 until_jiffies;
	__u32 until;		/* refused while now >> shift is before this */
	__u16 gen;		/* sl_cfg.gen's low bits: any rule change forgets */
	__u16 dport;
	__u8 proto;
	__u8 shape;		/* SL_SHAPE_*; 0 with until 0: empty */
	__u8 slot;		/* the refusing rule's counter slot */
	__u8 reason;		/* enum sl_counter_index */
};

struct sl_refusal_set {
	struct sl_refusal way[SL_REFUSAL_WAYS];
};

/*
 * The key of a refusal remembered while sluice top watched (SL_MAP_REFKEYS,
 * by the set and way it was remembered in), so a repeat refused from
 * memory still counts for its key. until ties it to that refusal: a
 * refusal remembered while nobody watched finds another's (or none) here.
 */
struct sl_refusal_key {
	struct sl_key key;
	__u32 until;
	__u32 pad;
};

/*
 * The filter of keys that may have state (bpf/keyfilter.bpf.h): a half
 * has 16 bits per key-map entry, rounded up to a power of two of 64-bit
 * words; two bits per key, in one word.
 */
#define SL_MAP_KEYFILTER	"sl_keyfilter"
#define SL_KEYFILTER_BITS_PER_KEY	16
#define SL_KEYFILTER_MIN_BITS	6
#define SL_KEYFILTER_DEFAULT_BITS	16	/* for SL_DEFAULT_KEYS */

/* After a failed insert into the full key map, a CPU tries again only
 * after this long (the sweep may have made room meanwhile). */
#define SL_KEYS_FULL_RETRY_NS	1000000ull

/* Compare-and-swap attempts per limiter update before giving up (fail closed). */
#define SL_CAS_TRIES		8

#endif /* SLUICE_ABI_H */
