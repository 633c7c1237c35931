/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rule language: one statement per line, the same grammar in a config
 * file and on the command line. Parsing produces a struct sl_config and
 * nothing else; compiling it into map contents is ruleset.c's job.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <sys/socket.h>

#include "sluice_abi.h"
#include "redis_url.h"
#include "sluice_breaker.h"

#define SL_MAX_PORT_RANGES	16
#define SL_MAX_FROM		16
#define SL_ERR_LEN		512
/* "[" + the longest IPv6 text + "]:65535" fits with room to spare. */
#define SL_LISTEN_LEN		64

struct sl_cidr {
	uint8_t family;		/* enum sl_family */
	uint8_t prefixlen;	/* 0..32 or 0..128 */
	uint8_t addr[16];	/* network byte order, host bits cleared */
};

struct sl_port_range {
	uint16_t lo, hi;	/* inclusive */
};

/*
 * One limit of a rule. rate: count units per period_ns, burst units at
 * once. window: count packets per period_ns (unit packets, burst 0).
 * conns: count concurrent TCP connections (unit packets, period_ns and
 * burst 0).
 */
struct sl_limit_spec {
	uint8_t kind;		/* enum sl_limit_kind */
	uint8_t unit;		/* enum sl_unit */
	uint64_t count;
	uint64_t period_ns;
	uint64_t burst;		/* rate: units; 0 until defaulted by the parser */
};

struct sl_rule_spec {
	char name[SL_NAME_LEN];
	uint8_t families;	/* bit (1 << SL_FAM_IP4) | (1 << SL_FAM_IP6); 0 = both */
	uint8_t proto;		/* IPPROTO_*; 0 = any; tcp if conns or syn */
	bool syn;
	unsigned n_ports;	/* 0 = any destination port */
	struct sl_port_range ports[SL_MAX_PORT_RANGES];
	unsigned n_from;	/* 0 = any source */
	struct sl_cidr from[SL_MAX_FROM];
	uint8_t key_type;	/* enum sl_key_type */
	uint8_t prefix4;	/* key src: 32 unless given */
	uint8_t prefix6;	/* key src: 128 unless given */
	unsigned n_limits;
	struct sl_limit_spec limits[SL_MAX_LIMITS];
	uint8_t action;		/* enum sl_action */
	uint32_t mark;		/* action mark: the skb->mark, 1..2^32-1; else 0 */
	bool cluster;		/* scope cluster: one budget across the hosts */
	/* "ban after N within DUR for DUR [max DUR]"; ban_after 0: none.
	 * ban_max_ns is filled in by the parser when not given. */
	uint32_t ban_after;
	uint64_t ban_within_ns, ban_for_ns, ban_max_ns;
	uint64_t warmup_ns;	/* rates ramp up over this long; 0 = no warm-up */
	uint8_t on_full;	/* enum sl_on_full */
	/* The statement in canonical form: what `rule list` prints and what
	 * the controller re-parses when it rebuilds a set from the pins. */
	char text[SL_RULE_TEXT_LEN];
	unsigned line;		/* source line, for messages */
};

/*
 * A circuit breaker on one TCP service: errors (the service's RSTs and
 * HTTP 5xx responses) within within_ns open it for open_ns, then probes
 * connections test it (README: Circuit breakers).
 */
struct sl_breaker_spec {
	char name[SL_NAME_LEN];
	uint16_t port;
	uint32_t errors;
	uint64_t within_ns;
	uint64_t open_ns;
	uint32_t probes;
	char text[SL_BRK_TEXT_LEN];	/* the statement in canonical form */
	unsigned line;			/* source line, for messages */
};

/*
 * Idle times after which the controller's sweep releases a tracked
 * connection, when no conn-timeout statement says otherwise.
 */
#define SL_DEFAULT_HALF_OPEN_NS		(10ull * 1000000000)
/* How long a key's state says nothing before the sweep deletes it. */
#define SL_DEFAULT_KEY_TIMEOUT_NS	(10ull * 1000000000)
#define SL_DEFAULT_ESTABLISHED_NS	(5ull * 60 * 1000000000)

/*
 * The interface's budget of answers `action reject` sends when no
 * reject-limit statement says otherwise: 10000/s burst 1000. Past it,
 * reject drops, so a spoofed flood cannot turn sluice into a reflector.
 */
#define SL_DEFAULT_REJECT_COUNT		10000
#define SL_DEFAULT_REJECT_PERIOD_NS	1000000000ull
#define SL_DEFAULT_REJECT_BURST		1000

/*
 * Cluster mode: how often the daemon syncs with Redis unless told, and
 * how long a host's reports outlive it unless told: at least this, and at
 * least SL_CLUSTER_TTL_SYNCS sync intervals.
 */
#define SL_CLUSTER_DEFAULT_SYNC_NS	100000000ull
#define SL_CLUSTER_DEFAULT_TTL_NS	3000000000ull
#define SL_CLUSTER_TTL_SYNCS		10
#define SL_CLUSTER_NODE_MAX		63

/* The "cluster" statement; only `sluice run` acts on it. */
struct sl_cluster_conf {
	bool set;
	struct sl_redis_url url;
	char node[SL_CLUSTER_NODE_MAX + 1];	/* "": the host name */
	uint64_t sync_ns;		/* filled in by the parser */
	uint64_t ttl_ns;		/* filled in by the parser */
};

/*
 * The longest ban, and how long a key's offences are remembered after its
 * ban ends, unless a rule's "max" says otherwise (or its "for" is longer).
 */
#define SL_DEFAULT_BAN_MAX_NS		(86400ull * 1000000000)

/*
 * Bans last a second at least, the resolution of the daemon's sweep that
 * logs their end, and a year at most, which keeps every "now + duration"
 * and every doubling far from overflow.
 */
#define SL_MIN_BAN_NS			1000000000ull
#define SL_MAX_BAN_NS			(365ull * 86400 * 1000000000)

/*
 * The interface's budget of events the data path sends to the daemon when
 * no event-limit statement says otherwise: 100/s burst 100. Past it,
 * events are only counted, so a flood of new keys cannot flood the log.
 */
#define SL_DEFAULT_EVENT_COUNT		100
#define SL_DEFAULT_EVENT_PERIOD_NS	1000000000ull
#define SL_DEFAULT_EVENT_BURST		100

enum sl_xdp_mode {
	SL_MODE_UNSET = 0,
	SL_MODE_NATIVE,
	SL_MODE_GENERIC,
};

struct sl_config {
	char iface[IF_NAMESIZE];	/* "interface" statement, "" if none */
	uint8_t mode;			/* enum sl_xdp_mode */
	uint8_t malformed;		/* enum sl_malformed_policy */
	bool malformed_set;
	uint32_t keys;			/* "keys N": key map capacity, 0 = default */
	/* "refusals N": refusal memory slots per CPU, 0 = default */
	uint32_t refusals;
	/* "key-timeout": 0 = not given, SL_DEFAULT_KEY_TIMEOUT_NS applies. */
	uint64_t key_timeout_ns;
	/* "conn-timeout": 0 = not given, SL_DEFAULT_HALF_OPEN_NS and
	 * SL_DEFAULT_ESTABLISHED_NS apply. */
	uint64_t half_open_ns, established_ns;
	/* "reject-limit": a packet rate, burst filled in by the parser;
	 * count 0 = not given, the SL_DEFAULT_REJECT_* apply. */
	struct sl_limit_spec reject_limit;
	/* "event-limit": the same for events; count 0: SL_DEFAULT_EVENT_*. */
	struct sl_limit_spec event_limit;
	/* "metrics": where the daemon serves /metrics, in canonical form
	 * ("127.0.0.1:9477", "[::1]:9477"); "" = not given. */
	char metrics[SL_LISTEN_LEN];
	struct sl_cluster_conf cluster;
	unsigned n_rules;
	struct sl_rule_spec rules[SL_MAX_RULES];
	unsigned n_breakers;
	struct sl_breaker_spec breakers[SL_MAX_BREAKERS];
	size_t n_allow, n_deny;		/* allow/deny CIDRs, growable arrays */
	size_t cap_allow, cap_deny;
	struct sl_cidr *allow, *deny;
	/* Private to config.c: hash indexes over allow and deny, so adding
	 * 100,000 entries checks duplicates in constant time each. */
	size_t *allow_slots, *deny_slots;
	size_t n_allow_slots, n_deny_slots;
};

/*
 * Where and what went wrong. The message already names the source: it reads
 * "FILE:LINE:COL: expected ..., got \"...\"" for files, and
 * "argument N: ..." for command lines (source NULL).
 */
struct sl_error {
	char msg[SL_ERR_LEN];
};

void config_init(struct sl_config *cfg);
void config_free(struct sl_config *cfg);

/*
 * Parses one statement into cfg. `source` names the file (NULL for a command
 * line, where columns become argument numbers), `line` is 1-based.
 * Returns 0, or -EINVAL with err filled and cfg unchanged.
 */
int config_parse_line(struct sl_config *cfg, const char *text,
		      const char *source, unsigned line, struct sl_error *err);

/* Parses a whole file; on any error nothing is kept (cfg is left empty). */
int config_parse_file(struct sl_config *cfg, const char *path,
		      struct sl_error *err);

/* Parses one CIDR or address ("10.0.0.0/8", "2001:db8::1"); 0 or -EINVAL. */
int config_parse_cidr(const char *text, struct sl_cidr *out);

/*
 * Parses a listening address: "IPV4:PORT" or "[IPV6]:PORT", literal
 * addresses only, port 1..65535, as the metrics statement takes it. Fills
 * sa (port in network byte order; may be NULL) and canon, the canonical
 * text (SL_LISTEN_LEN bytes suffice). Returns 0, or -EINVAL with a message
 * that says what is wrong but not where: the caller adds that, as in
 * "--metrics: port must be 1..65535, got \"0\"".
 */
int config_parse_listen(const char *text, struct sockaddr_storage *sa,
			char *canon, size_t len, struct sl_error *err);

/* A cluster node name: 1..63 letters, digits, '.', '-' or '_'. */
bool config_valid_node_name(const char *s);

/* Parses a duration like 500ms, 10s or 5m (the unit required); 0 or -EINVAL. */
int config_parse_duration(const char *text, uint64_t *ns);

/* Writes ns (whole milliseconds) as the parser reads it back: "90s", "2h". */
void config_format_duration(uint64_t ns, char *buf, size_t len);

/* Formats a CIDR as the parser accepts it back. */
void config_format_cidr(const struct sl_cidr *cidr, char *buf, size_t len);

/* Index of the rule called name, or -1. */
int config_find_rule(const struct sl_config *cfg, const char *name);

/* Index of the breaker called name, or -1. */
int config_find_breaker(const struct sl_config *cfg, const char *name);

/* Adds a CIDR to the allow or deny list, ignoring exact duplicates. */
int config_add_cidr(struct sl_config *cfg, bool deny, const struct sl_cidr *cidr);

/* Removes an exact CIDR from the allow or deny list; -ENOENT if absent. */
int config_del_cidr(struct sl_config *cfg, bool deny, const struct sl_cidr *cidr);

#endif /* SLUICE_CONFIG_H */
