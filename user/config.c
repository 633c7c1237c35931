// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The rule language. A statement is split into a private copy of its text,
 * parsed into locals and only then copied into the config, so a rejected
 * statement never leaves half of itself behind.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "config.h"
#include "sluice_limiter.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define NS_PER_MS	1000000ull
#define NS_PER_S	1000000000ull

/* What sluice_limiter.h asks of callers, so its 48.16 math cannot overflow. */
#define MAX_COUNT	(1ull << 40)
#define MAX_PERIOD_NS	(1ull << 48)

/*
 * The controller turns burst into a tolerance in nanoseconds; bounding it
 * well below 2^63 keeps that product and every "now + tolerance" in range.
 */
#define MAX_TOLERANCE_NS	(100ull * 365 * 86400 * NS_PER_S)

/* Small maps exist for tests that fill them; real ones are far larger. */
#define MIN_KEYS	64u
#define MAX_KEYS	16777216u

/*
 * Connection idle timeouts. The data path refreshes a flow's last-seen time
 * at most once a second, so a shorter timeout could release a busy flow. A
 * tracked flow idle for a month is gone; the bound also keeps every
 * "last seen + timeout" far from overflow.
 */
#define MIN_TIMEOUT_NS	(2 * NS_PER_S)
#define MAX_TIMEOUT_NS	(30ull * 86400 * NS_PER_S)

/*
 * How long a key's state must have said nothing before the sweep may
 * delete it. At least a second, so a client that sends at least once a
 * second keeps its entry; at most a day, a bound far from overflow.
 */
#define MIN_KEY_TIMEOUT_NS	NS_PER_S
#define MAX_KEY_TIMEOUT_NS	(86400 * NS_PER_S)

/* A mark becomes skb->mark, 32 bits; conns counts share the bound. */
#define MAX_U32		4294967295ull

/* Packets and bytes a rate may pass at once unless told: 100 ms worth. */
#define BURST_WINDOW_NS		(100 * NS_PER_MS)
/* A byte budget below one maximal frame would never pass that frame. */
#define MIN_BYTE_BURST		65536

struct word {
	const char *name;
	uint64_t value;
};

static const struct word durations[] = {
	{ "d", 86400 * NS_PER_S },
	{ "h", 3600 * NS_PER_S },
	{ "m", 60 * NS_PER_S },
	{ "s", NS_PER_S },
	{ "ms", NS_PER_MS },
};

static const struct word sizes[] = {
	{ "B", 1 },
	{ "KB", 1ull << 10 },
	{ "MB", 1ull << 20 },
	{ "GB", 1ull << 30 },
};

/* Bits per second, as bytes per second: 1000 bits are always 125 bytes. */
static const struct word bit_rates[] = {
	{ "kbit", 125 },
	{ "mbit", 125000 },
	{ "gbit", 125000000 },
};

static const struct word protocols[] = {
	{ "tcp", IPPROTO_TCP },
	{ "udp", IPPROTO_UDP },
	{ "icmp", IPPROTO_ICMP },
	{ "icmpv6", IPPROTO_ICMPV6 },
};

struct tok {
	char *s;
	size_t col;		/* 1-based byte column in the line */
};

struct parser {
	const char *source;	/* NULL: a command line */
	unsigned line;
	struct sl_error *err;
	struct tok *tok;
	unsigned n;		/* tokens on the line */
	unsigned i;		/* the next token to read */
	size_t eol_col;		/* where a missing token is reported */
};

static const char *tok_at(const struct parser *p, unsigned t)
{
	return t < p->n ? p->tok[t].s : NULL;
}

/*
 * Every message starts with where: the byte column in a file, the argument
 * number on a command line, so the user can find the word either way.
 */
__attribute__((format(printf, 4, 5)))
static int fail_at(struct parser *p, unsigned t, size_t off,
		   const char *fmt, ...)
{
	size_t size = sizeof(p->err->msg);
	size_t col = t < p->n ? p->tok[t].col + off : p->eol_col;
	va_list ap;
	int n;

	if (p->source)
		n = snprintf(p->err->msg, size, "%s:%u:%zu: ", p->source,
			     p->line, col);
	else
		n = snprintf(p->err->msg, size, "argument %u: ", t + 1);
	if (n < 0 || (size_t)n >= size)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(p->err->msg + n, size - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* "expected WHAT, got ..." about part of a token, such as one list item. */
static int bad_item(struct parser *p, unsigned t, size_t off, size_t len,
		    const char *what)
{
	return fail_at(p, t, off, "expected %s, got \"%.*s\"", what, (int)len,
		       p->tok[t].s + off);
}

static int bad_token(struct parser *p, unsigned t, const char *what)
{
	return bad_item(p, t, 0, strlen(p->tok[t].s), what);
}

/* "expected WHAT after "KEYWORD", got ..." about the token after a keyword. */
static int bad_value(struct parser *p, unsigned t, const char *what)
{
	const char *kw = p->tok[t - 1].s;

	if (t >= p->n)
		return fail_at(p, t, 0, "expected %s after \"%s\", got end of line",
			       what, kw);
	return fail_at(p, t, 0, "expected %s after \"%s\", got \"%s\"", what, kw,
		       p->tok[t].s);
}

static int end_of_line(struct parser *p)
{
	if (p->i < p->n)
		return bad_token(p, p->i, "end of line");
	return 0;
}

static int given_twice(struct parser *p, unsigned t)
{
	return fail_at(p, t, 0, "\"%s\" given twice", p->tok[t].s);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Splits text at whitespace, up to a '#' anywhere: the rest is a comment. */
static int tokenize(struct parser *p, const char *text)
{
	size_t len = strlen(text), at = 0;
	/* A token and its separator take two bytes, so this many always fit. */
	size_t max = len / 2 + 1;
	char *s;

	p->tok = malloc(max * sizeof(*p->tok) + len + 1);
	if (!p->tok)
		return -ENOMEM;
	s = (char *)(p->tok + max);
	memcpy(s, text, len + 1);
	p->n = 0;
	p->i = 0;
	p->eol_col = 1;
	while (s[at] && s[at] != '#') {
		if (is_space(s[at])) {
			at++;
			continue;
		}
		p->tok[p->n].s = s + at;
		p->tok[p->n].col = at + 1;
		p->n++;
		while (s[at] && s[at] != '#' && !is_space(s[at]))
			at++;
		p->eol_col = at + 1;
		if (s[at] == '#') {
			s[at] = '\0';
			break;
		}
		if (s[at])
			s[at++] = '\0';
	}
	return 0;
}

/*
 * Decimal digits at s. Saturates rather than wraps, so a range check sees
 * a huge number as huge. Returns how many digits there were.
 */
static size_t scan_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = s[i] - '0';

		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*out = v;
	return i;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* A whole token that is a plain decimal number. */
static bool parse_u64(const char *s, uint64_t *out)
{
	size_t len = s ? scan_u64(s, out) : 0;

	return len && !s[len];
}

/* The entry of tab whose name s starts with, followed directly by `end`. */
static const struct word *suffix_at(const struct word *tab, size_t n,
				    const char *s, char end)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = strlen(tab[i].name);
		if (!strncmp(s, tab[i].name, len) && s[len] == end)
			return &tab[i];
	}
	return NULL;
}

/*
 * N, or N followed by one of B KB MB GB. *has_unit tells a packet burst
 * apart from a size given by mistake.
 */
static bool parse_size(const char *s, uint64_t *out, bool *has_unit)
{
	const struct word *u;
	uint64_t n;
	size_t len;

	len = s ? scan_u64(s, &n) : 0;
	if (!len)
		return false;
	*has_unit = s[len] != '\0';
	if (!*has_unit) {
		*out = n;
		return true;
	}
	u = suffix_at(sizes, ARRAY_SIZE(sizes), s + len, '\0');
	if (!u)
		return false;
	*out = mul_sat(n, u->value);
	return true;
}

/* N followed by one of ms s m h d, the unit required. */
static bool parse_duration(const char *s, uint64_t *out)
{
	const struct word *d;
	uint64_t n;
	size_t len;

	len = s ? scan_u64(s, &n) : 0;
	if (!len)
		return false;
	d = suffix_at(durations, ARRAY_SIZE(durations), s + len, '\0');
	if (!d)
		return false;
	*out = mul_sat(n, d->value);
	return true;
}

int config_parse_duration(const char *text, uint64_t *ns)
{
	return parse_duration(text, ns) ? 0 : -EINVAL;
}

/* Whole milliseconds in the largest unit that divides them: "90s", "2h". */
void config_format_duration(uint64_t ns, char *buf, size_t len)
{
	unsigned i = 0;

	while (i + 1 < ARRAY_SIZE(durations) && ns % durations[i].value)
		i++;
	snprintf(buf, len, "%" PRIu64 "%s", ns / durations[i].value,
		 durations[i].name);
}

/*
 * The period after the slash of a rate or a window: [M]UNIT, M defaulting
 * to 1. *mult is returned apart so that a zero period can be named.
 */
static bool parse_period(const char *s, uint64_t *mult, uint64_t *ns)
{
	const struct word *d;
	size_t len;

	len = scan_u64(s, mult);
	if (!len)
		*mult = 1;
	d = suffix_at(durations, ARRAY_SIZE(durations), s + len, '\0');
	if (!d)
		return false;
	*ns = mul_sat(*mult, d->value);
	return true;
}

static bool cidr_equal(const struct sl_cidr *a, const struct sl_cidr *b)
{
	return a->family == b->family && a->prefixlen == b->prefixlen &&
	       !memcmp(a->addr, b->addr, a->family == SL_FAM_IP4 ? 4 : 16);
}

/*
 * Returns 0, -EINVAL for anything that is not an address with an optional
 * prefix length, or 1 when host bits are set (out then holds the network,
 * for the "did you mean" hint).
 */
static int cidr_parse(const char *text, size_t len, struct sl_cidr *out)
{
	const char *slash = memchr(text, '/', len);
	size_t alen = slash ? (size_t)(slash - text) : len;
	char addr[INET6_ADDRSTRLEN];
	struct sl_cidr c = { 0 };
	unsigned max, plen, i;
	bool host = false;
	int af;

	if (alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	if (memchr(addr, ':', alen)) {
		af = AF_INET6;
		c.family = SL_FAM_IP6;
		max = 128;
	} else {
		af = AF_INET;
		c.family = SL_FAM_IP4;
		max = 32;
	}
	if (inet_pton(af, addr, c.addr) != 1)
		return -EINVAL;
	plen = max;
	if (slash) {
		const char *d = slash + 1;
		size_t dlen = text + len - d;

		/* Three digits cover /128; more would only be leading zeros. */
		if (dlen < 1 || dlen > 3)
			return -EINVAL;
		plen = 0;
		for (i = 0; i < dlen; i++) {
			if (d[i] < '0' || d[i] > '9')
				return -EINVAL;
			plen = plen * 10 + (d[i] - '0');
		}
		if (plen > max)
			return -EINVAL;
	}
	c.prefixlen = plen;
	for (i = 0; i < sizeof(c.addr); i++) {
		unsigned bits = plen > i * 8 ? plen - i * 8 : 0;
		/* The low byte of 0xff00 >> bits is `bits` leading ones. */
		uint8_t mask = 0xff00 >> (bits < 8 ? bits : 8);

		if (c.addr[i] & ~mask)
			host = true;
		c.addr[i] &= mask;
	}
	*out = c;
	return host;
}

int config_parse_cidr(const char *text, struct sl_cidr *out)
{
	struct sl_cidr c;

	if (cidr_parse(text, strlen(text), &c))
		return -EINVAL;
	*out = c;
	return 0;
}

void config_format_cidr(const struct sl_cidr *cidr, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	inet_ntop(cidr->family == SL_FAM_IP4 ? AF_INET : AF_INET6, cidr->addr,
		  addr, sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, cidr->prefixlen);
}

/* One item of a comma list, or a whole token: errors point into the token. */
static int parse_cidr_at(struct parser *p, unsigned t, size_t off, size_t len,
			 struct sl_cidr *out)
{
	const char *s = p->tok[t].s + off;
	char hint[INET6_ADDRSTRLEN + 4];
	int ret = cidr_parse(s, len, out);

	if (ret < 0)
		return bad_item(p, t, off, len, "an address or CIDR");
	if (ret) {
		config_format_cidr(out, hint, sizeof(hint));
		return fail_at(p, t, off,
			       "host bits set in %.*s; did you mean %s?",
			       (int)len, s, hint);
	}
	return 0;
}

static void cidr_list(struct sl_config *cfg, bool deny, struct sl_cidr ***v,
		      size_t **n, size_t **cap)
{
	*v = deny ? &cfg->deny : &cfg->allow;
	*n = deny ? &cfg->n_deny : &cfg->n_allow;
	*cap = deny ? &cfg->cap_deny : &cfg->cap_allow;
}

static int cidr_reserve(struct sl_config *cfg, bool deny, size_t extra)
{
	struct sl_cidr **v, *nv;
	size_t *n, *cap, want, ncap;

	cidr_list(cfg, deny, &v, &n, &cap);
	want = *n + extra;
	if (want <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < want)
		ncap *= 2;
	nv = realloc(*v, ncap * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* FNV-1a over what makes two CIDRs equal. */
static size_t cidr_hash(const struct sl_cidr *c)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	h = (h ^ c->family) * 0x100000001b3ull;
	h = (h ^ c->prefixlen) * 0x100000001b3ull;
	for (i = 0; i < sizeof(c->addr); i++)
		h = (h ^ c->addr[i]) * 0x100000001b3ull;
	return h;
}

static void cidr_slots(struct sl_config *cfg, bool deny, size_t ***slots,
		       size_t **n_slots)
{
	*slots = deny ? &cfg->deny_slots : &cfg->allow_slots;
	*n_slots = deny ? &cfg->n_deny_slots : &cfg->n_allow_slots;
}

/*
 * Open addressing over list positions + 1 (0 is empty), at most half full.
 * Returns the slot holding cidr, or the empty slot where it would go.
 */
static size_t *slot_for(size_t *slots, size_t n_slots, const struct sl_cidr *v,
			const struct sl_cidr *cidr)
{
	size_t i = cidr_hash(cidr) & (n_slots - 1);

	while (slots[i] && !cidr_equal(&v[slots[i] - 1], cidr))
		i = (i + 1) & (n_slots - 1);
	return &slots[i];
}

static int index_rebuild(struct sl_config *cfg, bool deny, size_t want)
{
	size_t **slots, *n_slots, *ns, n = 64, i;
	struct sl_cidr **v;
	size_t *len, *cap;

	cidr_list(cfg, deny, &v, &len, &cap);
	cidr_slots(cfg, deny, &slots, &n_slots);
	while (n < 2 * want)
		n *= 2;
	ns = calloc(n, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (i = 0; i < *len; i++)
		*slot_for(ns, n, *v, &(*v)[i]) = i + 1;
	free(*slots);
	*slots = ns;
	*n_slots = n;
	return 0;
}

int config_add_cidr(struct sl_config *cfg, bool deny,
		    const struct sl_cidr *cidr)
{
	size_t **slots, *n_slots, *n, *cap, *slot;
	struct sl_cidr **v;
	int ret;

	cidr_list(cfg, deny, &v, &n, &cap);
	cidr_slots(cfg, deny, &slots, &n_slots);
	if (2 * (*n + 1) > *n_slots) {
		ret = index_rebuild(cfg, deny, *n + 1);
		if (ret)
			return ret;
	}
	slot = slot_for(*slots, *n_slots, *v, cidr);
	if (*slot)
		return 0;
	ret = cidr_reserve(cfg, deny, 1);
	if (ret)
		return ret;
	(*v)[*n] = *cidr;
	*slot = ++*n;
	return 0;
}

int config_del_cidr(struct sl_config *cfg, bool deny,
		    const struct sl_cidr *cidr)
{
	size_t **slots, *n_slots, *n, *cap, i;
	struct sl_cidr **v;

	cidr_list(cfg, deny, &v, &n, &cap);
	cidr_slots(cfg, deny, &slots, &n_slots);
	if (!*n_slots || !*slot_for(*slots, *n_slots, *v, cidr))
		return -ENOENT;
	i = *slot_for(*slots, *n_slots, *v, cidr) - 1;
	memmove(&(*v)[i], &(*v)[i + 1], (*n - i - 1) * sizeof(**v));
	(*n)--;
	/* Positions after i moved: index them anew. */
	return index_rebuild(cfg, deny, *n);
}

void config_init(struct sl_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
}

void config_free(struct sl_config *cfg)
{
	free(cfg->allow);
	free(cfg->deny);
	free(cfg->allow_slots);
	free(cfg->deny_slots);
	config_init(cfg);
}

int config_find_rule(const struct sl_config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->n_rules; i++)
		if (!strcmp(cfg->rules[i].name, name))
			return i;
	return -1;
}

/* The kernel's dev_valid_name(), less what a token cannot hold anyway. */
static bool valid_ifname(const char *s)
{
	return strcmp(s, ".") && strcmp(s, "..") && !strpbrk(s, "/:");
}

static int parse_interface(struct parser *p, struct sl_config *cfg)
{
	unsigned t = p->i++;
	const char *name = tok_at(p, t), *s;
	uint8_t mode = SL_MODE_UNSET;

	if (cfg->iface[0])
		return given_twice(p, 0);
	if (!name || !valid_ifname(name))
		return bad_value(p, t, "an interface name");
	if (strlen(name) >= IF_NAMESIZE)
		return fail_at(p, t, 0,
			       "interface name \"%s\" is longer than %d characters",
			       name, IF_NAMESIZE - 1);
	if (p->i < p->n) {
		if (strcmp(p->tok[p->i].s, "mode"))
			return bad_token(p, p->i, "\"mode\" or end of line");
		p->i++;
		t = p->i++;
		s = tok_at(p, t);
		if (s && !strcmp(s, "native"))
			mode = SL_MODE_NATIVE;
		else if (s && !strcmp(s, "generic"))
			mode = SL_MODE_GENERIC;
		else
			return bad_value(p, t, "native or generic");
	}
	if (end_of_line(p))
		return -EINVAL;
	strcpy(cfg->iface, name);
	cfg->mode = mode;
	return 0;
}

static int parse_malformed(struct parser *p, struct sl_config *cfg)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);
	uint8_t policy;

	if (cfg->malformed_set)
		return given_twice(p, 0);
	if (s && !strcmp(s, "pass"))
		policy = SL_MALFORMED_PASS;
	else if (s && !strcmp(s, "drop"))
		policy = SL_MALFORMED_DROP;
	else
		return bad_value(p, t, "pass or drop");
	if (end_of_line(p))
		return -EINVAL;
	cfg->malformed = policy;
	cfg->malformed_set = true;
	return 0;
}

/* A count at token t, plain or with a k or M suffix (1024-based). */
static int scan_count(struct parser *p, unsigned t, const char *what, uint64_t *n)
{
	const char *s = tok_at(p, t);
	size_t len = s ? scan_u64(s, n) : 0;

	if (!len || (s[len] && strcmp(s + len, "k") && strcmp(s + len, "M")))
		return bad_value(p, t, what);
	if (s[len])
		*n = mul_sat(*n, s[len] == 'k' ? 1024 : 1048576);
	return 0;
}

static int parse_keys(struct parser *p, struct sl_config *cfg)
{
	unsigned t = p->i++;
	uint64_t n;
	int ret;

	if (cfg->keys)
		return given_twice(p, 0);
	ret = scan_count(p, t, "a key count like 262144 or 256k", &n);
	if (ret)
		return ret;
	if (n < MIN_KEYS || n > MAX_KEYS)
		return fail_at(p, t, 0, "keys must be %u..%u, got \"%s\"",
			       MIN_KEYS, MAX_KEYS, tok_at(p, t));
	if (end_of_line(p))
		return -EINVAL;
	cfg->keys = n;
	return 0;
}

static int parse_refusals(struct parser *p, struct sl_config *cfg)
{
	unsigned t = p->i++;
	uint64_t n;
	int ret;

	if (cfg->refusals)
		return given_twice(p, 0);
	ret = scan_count(p, t, "a slot count like 16384 or 64k", &n);
	if (ret)
		return ret;
	if (n < SL_REFUSAL_MIN_SLOTS || n > SL_REFUSAL_MAX_SLOTS || (n & (n - 1)))
		return fail_at(p, t, 0, "refusals must be a power of two %u..%u, got \"%s\"",
			       SL_REFUSAL_MIN_SLOTS, SL_REFUSAL_MAX_SLOTS, tok_at(p, t));
	if (end_of_line(p))
		return -EINVAL;
	cfg->refusals = n;
	return 0;
}

/* Checks every address first, so a bad one adds none of the line's. */
static int parse_set(struct parser *p, struct sl_config *cfg, bool deny)
{
	unsigned first = p->i, t;
	struct sl_cidr c;
	int ret;

	if (first >= p->n)
		return bad_value(p, first, "an address or CIDR");
	for (t = first; t < p->n; t++) {
		ret = parse_cidr_at(p, t, 0, strlen(p->tok[t].s), &c);
		if (ret)
			return ret;
	}
	if (cidr_reserve(cfg, deny, p->n - first)) {
		fail_at(p, first, 0, "out of memory");
		return -ENOMEM;
	}
	for (t = first; t < p->n; t++) {
		cidr_parse(p->tok[t].s, strlen(p->tok[t].s), &c);
		config_add_cidr(cfg, deny, &c);
	}
	return 0;
}

static int parse_allow(struct parser *p, struct sl_config *cfg)
{
	return parse_set(p, cfg, false);
}

static int parse_deny(struct parser *p, struct sl_config *cfg)
{
	return parse_set(p, cfg, true);
}

enum {
	CL_FAMILY	= 1 << 0,
	CL_PROTO	= 1 << 1,
	CL_DPORT	= 1 << 2,
	CL_SYN		= 1 << 3,
	CL_FROM		= 1 << 4,
	CL_KEY		= 1 << 5,
	CL_RATE		= 1 << 6,
	CL_BURST	= 1 << 7,
	CL_ACTION	= 1 << 8,
	CL_PREFIX4	= 1 << 9,
	CL_PREFIX6	= 1 << 10,
	CL_WINDOW	= 1 << 11,
	CL_CONNS	= 1 << 12,
	CL_SCOPE	= 1 << 13,
	CL_BAN		= 1 << 14,
	CL_WARMUP	= 1 << 15,
	CL_ON_FULL	= 1 << 16,
};

struct rule_ctx {
	struct sl_rule_spec r;
	unsigned given;		/* CL_* of the clauses seen so far */
	unsigned prev;		/* CL_* of the clause just before */
	/* Each limit's value and burst (its value's if none), for messages. */
	unsigned rate_tok[SL_MAX_LIMITS];
	unsigned burst_tok[SL_MAX_LIMITS];
	unsigned ban_tok;	/* the "ban" keyword */
	unsigned warmup_tok;
	unsigned on_full_tok;
};

#define FAM_BIT(f)	(1u << (f))

static const char *family_name(unsigned families)
{
	return families == FAM_BIT(SL_FAM_IP4) ? "ip4" : "ip6";
}

static const char *proto_name(uint8_t proto, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(protocols); i++)
		if (protocols[i].value == proto)
			return protocols[i].name;
	snprintf(buf, len, "%u", proto);
	return buf;
}

static int clause_family(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);

	if (s && !strcmp(s, "ip4"))
		c->r.families = FAM_BIT(SL_FAM_IP4);
	else if (s && !strcmp(s, "ip6"))
		c->r.families = FAM_BIT(SL_FAM_IP6);
	else
		return bad_value(p, t, "ip4 or ip6");
	return 0;
}

/* Protocol 0 is not a transport; "any protocol" is leaving proto out. */
static int clause_proto(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);
	uint64_t n;
	size_t i;

	for (i = 0; s && i < ARRAY_SIZE(protocols); i++) {
		if (!strcmp(s, protocols[i].name)) {
			c->r.proto = protocols[i].value;
			return 0;
		}
	}
	if (!parse_u64(s, &n) || n < 1 || n > 255)
		return bad_value(p, t,
				 "a protocol (tcp, udp, icmp, icmpv6 or 1..255)");
	c->r.proto = n;
	return 0;
}

static int clause_dport(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);
	size_t off = 0, len, d;
	uint64_t lo, hi;

	if (!s)
		return bad_value(p, t, "a port list");
	for (;;) {
		len = strcspn(s + off, ",");
		d = scan_u64(s + off, &lo);
		hi = lo;
		if (d && s[off + d] == '-') {
			size_t d2 = scan_u64(s + off + d + 1, &hi);

			d = d2 ? d + 1 + d2 : 0;
		}
		if (!d || d != len)
			return bad_item(p, t, off, len,
					"a port or a range like 8000-8080");
		if (lo > 65535 || hi > 65535)
			return fail_at(p, t, off,
				       "port %.*s is out of range 0..65535",
				       (int)len, s + off);
		if (lo > hi)
			return fail_at(p, t, off,
				       "port range %.*s ends before it starts",
				       (int)len, s + off);
		if (c->r.n_ports == SL_MAX_PORT_RANGES)
			return fail_at(p, t, off,
				       "more than %d ports or ranges after \"dport\"",
				       SL_MAX_PORT_RANGES);
		c->r.ports[c->r.n_ports].lo = lo;
		c->r.ports[c->r.n_ports].hi = hi;
		c->r.n_ports++;
		if (!s[off + len])
			return 0;
		off += len + 1;
	}
}

static int clause_syn(struct parser *p, struct rule_ctx *c)
{
	c->r.syn = true;
	return 0;
}

static int clause_from(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);
	size_t off = 0, len;
	int ret;

	if (!s)
		return bad_value(p, t, "a CIDR list");
	for (;;) {
		len = strcspn(s + off, ",");
		if (c->r.n_from == SL_MAX_FROM)
			return fail_at(p, t, off,
				       "more than %d CIDRs after \"from\"",
				       SL_MAX_FROM);
		ret = parse_cidr_at(p, t, off, len, &c->r.from[c->r.n_from]);
		if (ret)
			return ret;
		c->r.n_from++;
		if (!s[off + len])
			return 0;
		off += len + 1;
	}
}

static int key_prefix(struct parser *p, struct rule_ctx *c, unsigned bit,
		      unsigned max, uint8_t *out)
{
	unsigned t = p->i++;
	uint64_t n;

	if (c->given & bit)
		return given_twice(p, t);
	c->given |= bit;
	t = p->i++;
	if (!parse_u64(tok_at(p, t), &n) || n > max)
		return bad_value(p, t, max == 32 ? "a prefix length 0..32" :
						   "a prefix length 0..128");
	*out = n;
	return 0;
}

static int clause_key(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);
	int ret;

	if (s && !strcmp(s, "dport")) {
		c->r.key_type = SL_KEY_DPORT;
		return 0;
	}
	if (s && !strcmp(s, "global")) {
		c->r.key_type = SL_KEY_GLOBAL;
		return 0;
	}
	if (!s || strcmp(s, "src"))
		return bad_value(p, t, "src, dport or global");
	c->r.key_type = SL_KEY_SRC;
	while ((s = tok_at(p, p->i))) {
		if (!strcmp(s, "prefix4"))
			ret = key_prefix(p, c, CL_PREFIX4, 32, &c->r.prefix4);
		else if (!strcmp(s, "prefix6"))
			ret = key_prefix(p, c, CL_PREFIX6, 128, &c->r.prefix6);
		else
			return 0;
		if (ret)
			return ret;
	}
	return 0;
}

static int too_many_limits(struct parser *p, unsigned t)
{
	return fail_at(p, t, 0,
		       "more than %d limits (rate, window, conns) in one rule",
		       SL_MAX_LIMITS);
}

/*
 * N/[M]UNIT counts packets, SIZE/[M]UNIT bytes, and a bit rate bytes per
 * second. The bounds are those of the fixed-point math in sluice_limiter.h.
 * `syntax` is what a malformed token was expected to look like.
 */
static int parse_rate(struct parser *p, unsigned t, const char *syntax,
		      struct sl_limit_spec *out)
{
	const char *s = tok_at(p, t), *q;
	struct sl_limit_spec lim = { .kind = SL_LIMIT_RATE };
	const struct word *u;
	uint64_t n, per;
	size_t len;

	len = s ? scan_u64(s, &n) : 0;
	if (!len)
		return bad_value(p, t, syntax);
	q = s + len;
	if (*q == '/') {
		lim.unit = SL_UNIT_PACKETS;
		q++;
	} else if ((u = suffix_at(sizes, ARRAY_SIZE(sizes), q, '/'))) {
		lim.unit = SL_UNIT_BYTES;
		n = mul_sat(n, u->value);
		q += strlen(u->name) + 1;
	} else if ((u = suffix_at(bit_rates, ARRAY_SIZE(bit_rates), q, '\0'))) {
		lim.unit = SL_UNIT_BYTES;
		n = mul_sat(n, u->value);
		/* Bit rates are per second, the period the table reads here. */
		q = "s";
	} else {
		return bad_value(p, t, syntax);
	}
	if (!parse_period(q, &per, &lim.period_ns))
		return bad_value(p, t, syntax);
	lim.count = n;
	if (!n || n > MAX_COUNT)
		return fail_at(p, t, 0,
			       "rate \"%s\" must allow 1..%llu units per period",
			       s, MAX_COUNT);
	if (!per)
		return fail_at(p, t, 0, "rate \"%s\" has a zero period", s);
	if (lim.period_ns >= MAX_PERIOD_NS)
		return fail_at(p, t, 0,
			       "rate \"%s\" has a period longer than 78h", s);
	/*
	 * The interval is 48.16 fixed point, rounded up: below 1/65536 ns
	 * per unit it would enforce a far slower rate than the one asked.
	 * period_ns < 2^48, so the shift cannot overflow.
	 */
	if ((lim.period_ns << SL_FP_SHIFT) < lim.count)
		return fail_at(p, t, 0,
			       "rate \"%s\" is faster than the limiter can count",
			       s);
	*out = lim;
	return 0;
}

/* What follows "burst": packets for a packet rate, a size for a byte rate. */
static int parse_burst(struct parser *p, unsigned t, uint8_t unit,
		       uint64_t *out)
{
	const char *s = tok_at(p, t);
	bool has_unit = false;
	uint64_t n;

	if (unit == SL_UNIT_PACKETS) {
		if (parse_size(s, &n, &has_unit) && has_unit)
			return fail_at(p, t, 0,
				       "burst for a packet rate is a packet count, got \"%s\"",
				       s);
		if (!parse_u64(s, &n))
			return bad_value(p, t, "a packet count");
	} else if (!parse_size(s, &n, &has_unit)) {
		return bad_value(p, t, "a size like 64KB or 65536");
	}
	if (!n || n > MAX_COUNT)
		return fail_at(p, t, 0, "burst must be 1..%llu, got \"%s\"",
			       MAX_COUNT, s);
	*out = n;
	return 0;
}

/*
 * Fills in a rate's burst if none was given. Returns -EINVAL, reported at
 * the burst (or the rate, rate_t, if the burst was defaulted), when the
 * burst takes too long to refill for the controller's tolerance math.
 */
static int finish_rate(struct parser *p, struct sl_limit_spec *l,
		       unsigned rate_t, unsigned burst_t)
{
	uint64_t floor = l->unit == SL_UNIT_BYTES ? MIN_BYTE_BURST : 1;
	unsigned __int128 tol;

	if (!l->burst) {
		l->burst = (unsigned __int128)l->count * BURST_WINDOW_NS /
			   l->period_ns;
		if (l->burst < floor)
			l->burst = floor;
		/* What an explicit burst may be, so the canonical text, which
		 * spells the default out, parses back. */
		if (l->burst > MAX_COUNT)
			l->burst = MAX_COUNT;
	}
	tol = (unsigned __int128)l->burst * l->period_ns / l->count;
	if (tol > MAX_TOLERANCE_NS)
		return fail_at(p, burst_t, 0,
			       "burst %" PRIu64 " at rate \"%s\" takes more than 100 years to refill",
			       l->burst, p->tok[rate_t].s);
	return 0;
}

static void add_limit(struct rule_ctx *c, const struct sl_limit_spec *lim,
		      unsigned t)
{
	c->rate_tok[c->r.n_limits] = t;
	c->burst_tok[c->r.n_limits] = t;
	c->r.limits[c->r.n_limits++] = *lim;
}

static int clause_rate(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	struct sl_limit_spec lim;
	int ret;

	if (c->r.n_limits == SL_MAX_LIMITS)
		return too_many_limits(p, t - 1);
	ret = parse_rate(p, t, "a rate like 100/s, 2MB/s or 100mbit", &lim);
	if (ret)
		return ret;
	add_limit(c, &lim, t);
	return 0;
}

static int clause_burst(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	struct sl_limit_spec *lim;
	int ret;

	if (c->prev == CL_WINDOW)
		return fail_at(p, t - 1, 0,
			       "\"burst\" applies to a rate, not a window");
	if (c->prev != CL_RATE)
		return fail_at(p, t - 1, 0, "\"burst\" must come right after a rate");
	lim = &c->r.limits[c->r.n_limits - 1];
	ret = parse_burst(p, t, lim->unit, &lim->burst);
	if (ret)
		return ret;
	c->burst_tok[c->r.n_limits - 1] = t;
	return 0;
}

/*
 * N/[M]UNIT packets, held as two fixed windows of 20-bit counts in one
 * word (sluice_limiter.h): larger counts, and bytes, are a rate's job.
 */
static int clause_window(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t), *q;
	struct sl_limit_spec lim = { .kind = SL_LIMIT_WINDOW,
				     .unit = SL_UNIT_PACKETS };
	uint64_t per;
	size_t len;

	if (c->r.n_limits == SL_MAX_LIMITS)
		return too_many_limits(p, t - 1);
	len = s ? scan_u64(s, &lim.count) : 0;
	if (!len)
		goto syntax;
	q = s + len;
	if (suffix_at(sizes, ARRAY_SIZE(sizes), q, '/') ||
	    suffix_at(bit_rates, ARRAY_SIZE(bit_rates), q, '\0'))
		return fail_at(p, t, 0,
			       "window limits count packets; use rate for bytes");
	if (*q != '/' || !parse_period(q + 1, &per, &lim.period_ns))
		goto syntax;
	if (!lim.count || lim.count > SL_WIN_MAX)
		return fail_at(p, t, 0,
			       "window \"%s\" must allow 1..%llu packets per period; use rate for more",
			       s, SL_WIN_MAX);
	if (!per)
		return fail_at(p, t, 0, "window \"%s\" has a zero period", s);
	if (lim.period_ns >= MAX_PERIOD_NS)
		return fail_at(p, t, 0,
			       "window \"%s\" has a period longer than 78h", s);
	add_limit(c, &lim, t);
	return 0;
syntax:
	return bad_value(p, t, "a window like 100/h or 5/10s");
}

/* Concurrent TCP connections per key: counted from SYN to FIN or RST. */
static int clause_conns(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);
	struct sl_limit_spec lim = { .kind = SL_LIMIT_CONNS,
				     .unit = SL_UNIT_PACKETS };

	if (c->r.n_limits == SL_MAX_LIMITS)
		return too_many_limits(p, t - 1);
	if (!parse_u64(s, &lim.count))
		return bad_value(p, t, "a connection count");
	if (!lim.count || lim.count > MAX_U32)
		return fail_at(p, t, 0, "conns must be 1..%llu, got \"%s\"",
			       MAX_U32, s);
	add_limit(c, &lim, t);
	return 0;
}

/* scope cluster: the rule's budget is shared by every host of the cluster. */
static int clause_scope(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);

	if (s && !strcmp(s, "cluster"))
		c->r.cluster = true;
	else if (s && !strcmp(s, "local"))
		c->r.cluster = false;
	else
		return bad_value(p, t, "cluster or local");
	return 0;
}

static int clause_action(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);
	uint64_t n;

	if (s && !strcmp(s, "drop")) {
		c->r.action = SL_ACT_DROP;
	} else if (s && !strcmp(s, "pass")) {
		c->r.action = SL_ACT_PASS;
	} else if (s && !strcmp(s, "reject")) {
		c->r.action = SL_ACT_REJECT;
	} else if (s && !strcmp(s, "mark")) {
		t = p->i++;
		s = tok_at(p, t);
		if (!parse_u64(s, &n))
			return bad_value(p, t, "a mark (1..4294967295)");
		/* skb->mark 0 is "no mark": nothing could steer on it. */
		if (!n || n > MAX_U32)
			return fail_at(p, t, 0, "mark must be 1..%llu, got \"%s\"",
				       MAX_U32, s);
		c->r.action = SL_ACT_MARK;
		c->r.mark = n;
	} else {
		return bad_value(p, t, "drop, pass, reject or mark N");
	}
	return 0;
}

#define BAN_SYNTAX	"ban after N within DUR for DUR [max DUR]"

/* The fixed words of a ban clause: "after", "within", "for". */
static int ban_word(struct parser *p, const char *word)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);

	if (s && !strcmp(s, word))
		return 0;
	if (!s)
		return fail_at(p, t, 0,
			       "expected \"%s\" (" BAN_SYNTAX "), got end of line",
			       word);
	return fail_at(p, t, 0, "expected \"%s\" (" BAN_SYNTAX "), got \"%s\"",
		       word, s);
}

/* A duration after one of the ban clause's words, within [min, max]. */
static int ban_duration(struct parser *p, const char *what, uint64_t min,
			uint64_t max, const char *range, uint64_t *out)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);

	if (!parse_duration(s, out))
		return bad_value(p, t, "a duration like 10s or 5m");
	if (*out < min || *out > max)
		return fail_at(p, t, 0, "ban %s must be %s, got \"%s\"", what,
			       range, s);
	return 0;
}

/*
 * ban after N within DUR for DUR [max DUR]: the N-th limited packet of a
 * key within DUR bans it. The count is a sliding window, so N has the
 * window's bound.
 */
static int clause_ban(struct parser *p, struct rule_ctx *c)
{
	struct sl_rule_spec *r = &c->r;
	uint64_t n;
	unsigned t;
	int ret;

	c->ban_tok = p->i - 1;
	ret = ban_word(p, "after");
	if (ret)
		return ret;
	t = p->i++;
	if (!parse_u64(tok_at(p, t), &n))
		return bad_value(p, t, "a count of limited packets");
	if (!n || n > SL_WIN_MAX)
		return fail_at(p, t, 0, "ban after must be 1..%llu, got \"%s\"",
			       SL_WIN_MAX, p->tok[t].s);
	r->ban_after = n;
	ret = ban_word(p, "within");
	if (!ret)
		ret = ban_duration(p, "within", 1, MAX_PERIOD_NS - 1, "1ms..78h",
				   &r->ban_within_ns);
	if (!ret)
		ret = ban_word(p, "for");
	if (!ret)
		ret = ban_duration(p, "for", SL_MIN_BAN_NS, SL_MAX_BAN_NS, "1s..365d",
				   &r->ban_for_ns);
	if (ret)
		return ret;
	r->ban_max_ns = 0;
	if (!tok_at(p, p->i) || strcmp(p->tok[p->i].s, "max"))
		return 0;
	p->i++;
	t = p->i;
	ret = ban_duration(p, "max", SL_MIN_BAN_NS, SL_MAX_BAN_NS, "1s..365d",
			   &r->ban_max_ns);
	if (ret)
		return ret;
	if (r->ban_max_ns < r->ban_for_ns)
		return fail_at(p, t, 0,
			       "ban max must be at least the ban's \"for\", got \"%s\"",
			       p->tok[t].s);
	return 0;
}

/*
 * How long the rule's rates take to ramp from a third to their full value
 * (sluice_limiter.h); that they exist is checked once the rule is whole.
 */
static int clause_warmup(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);

	if (!parse_duration(s, &c->r.warmup_ns))
		return bad_value(p, t, "a duration like 30s or 5m");
	if (!c->r.warmup_ns || c->r.warmup_ns >= SL_WARM_MAX_NS)
		return fail_at(p, t, 0, "warmup must be 1ms..78h, got \"%s\"", s);
	c->warmup_tok = t - 1;
	return 0;
}

static int clause_on_full(struct parser *p, struct rule_ctx *c)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);

	if (s && !strcmp(s, "drop"))
		c->r.on_full = SL_ON_FULL_DROP;
	else if (s && !strcmp(s, "pass"))
		c->r.on_full = SL_ON_FULL_PASS;
	else
		return bad_value(p, t, "drop or pass");
	c->on_full_tok = t - 1;
	return 0;
}

static const struct clause {
	const char *name;
	unsigned bit;
	bool repeats;
	int (*parse)(struct parser *p, struct rule_ctx *c);
} clauses[] = {
	{ "family", CL_FAMILY, false, clause_family },
	{ "proto", CL_PROTO, false, clause_proto },
	{ "dport", CL_DPORT, false, clause_dport },
	{ "syn", CL_SYN, false, clause_syn },
	{ "from", CL_FROM, false, clause_from },
	{ "key", CL_KEY, false, clause_key },
	{ "rate", CL_RATE, true, clause_rate },
	{ "burst", CL_BURST, true, clause_burst },
	{ "window", CL_WINDOW, true, clause_window },
	/* One count per key: two would only mean the smaller. */
	{ "conns", CL_CONNS, false, clause_conns },
	{ "scope", CL_SCOPE, false, clause_scope },
	{ "action", CL_ACTION, false, clause_action },
	{ "ban", CL_BAN, false, clause_ban },
	{ "warmup", CL_WARMUP, false, clause_warmup },
	{ "on-full", CL_ON_FULL, false, clause_on_full },
};

static const struct clause *find_clause(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(clauses); i++)
		if (!strcmp(name, clauses[i].name))
			return &clauses[i];
	return NULL;
}

/*
 * Run after each clause. The rule was consistent before it, so a conflict
 * is this clause's doing and is reported at its keyword.
 */
static int check_clause(struct parser *p, const struct rule_ctx *c,
			unsigned t)
{
	const struct sl_rule_spec *r = &c->r;
	bool l4_ports = !r->proto || r->proto == IPPROTO_TCP ||
		     r->proto == IPPROTO_UDP;
	char num[4], cidr[INET6_ADDRSTRLEN + 4];
	const char *proto = proto_name(r->proto, num, sizeof(num));
	unsigned i;

	if ((r->families == FAM_BIT(SL_FAM_IP6) && r->proto == IPPROTO_ICMP) ||
	    (r->families == FAM_BIT(SL_FAM_IP4) && r->proto == IPPROTO_ICMPV6))
		return fail_at(p, t, 0,
			       "proto %s is %s only but the rule is family %s",
			       proto, r->proto == IPPROTO_ICMP ? "IPv4" : "IPv6",
			       family_name(r->families));
	if (r->syn && r->proto && r->proto != IPPROTO_TCP)
		return fail_at(p, t, 0, "syn needs proto tcp, not %s", proto);
	if ((c->given & CL_CONNS) && r->proto && r->proto != IPPROTO_TCP)
		return fail_at(p, t, 0, "conns needs proto tcp, not %s", proto);
	if (r->n_ports && !l4_ports)
		return fail_at(p, t, 0, "dport needs proto tcp or udp, not %s",
			       proto);
	if (r->key_type == SL_KEY_DPORT && !l4_ports)
		return fail_at(p, t, 0,
			       "key dport needs proto tcp or udp, not %s", proto);
	/* Hosts share a rate by splitting it; a window's count is history
	 * each host keeps alone, which a split cannot bound. */
	if (r->cluster && (c->given & CL_WINDOW))
		return fail_at(p, t, 0,
			       "scope cluster shares rate and conns limits; a window quota stays per host");
	/* A ban stops an address; a port or everyone is not one. */
	if ((c->given & CL_BAN) && r->key_type != SL_KEY_SRC)
		return fail_at(p, t, 0, "ban needs key src, not key %s",
			       r->key_type == SL_KEY_DPORT ? "dport" : "global");
	for (i = 0; r->families && i < r->n_from; i++) {
		if (FAM_BIT(r->from[i].family) == r->families)
			continue;
		config_format_cidr(&r->from[i], cidr, sizeof(cidr));
		return fail_at(p, t, 0, "%s is %s but the rule is family %s",
			       cidr, r->from[i].family == SL_FAM_IP4 ?
			       "IPv4" : "IPv6", family_name(r->families));
	}
	return 0;
}

static const char *period_text(uint64_t ns, char *buf, size_t len)
{
	unsigned i = 0;

	/* Every period is whole milliseconds, the last unit tried. */
	while (ns % durations[i].value)
		i++;
	if (ns == durations[i].value)
		return durations[i].name;
	snprintf(buf, len, "%" PRIu64 "%s", ns / durations[i].value,
		 durations[i].name);
	return buf;
}

/* A duration on its own, as the parser takes it back: "1s", not "s". */
static const char *duration_text(uint64_t ns, char *buf, size_t len)
{
	unsigned i = 0;

	while (ns % durations[i].value)
		i++;
	snprintf(buf, len, "%" PRIu64 "%s", ns / durations[i].value,
		 durations[i].name);
	return buf;
}

struct text {
	char *s;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
static void put(struct text *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len = n < 0 || (size_t)n >= b->cap - b->len ? b->cap : b->len + n;
}

/*
 * The statement `rule list` prints and a rebuild re-parses: every default
 * spelled out, so the text alone reproduces the spec field for field.
 */
static bool canonical_text(struct sl_rule_spec *r)
{
	struct text b = { r->text, 0, sizeof(r->text) };
	char num[4], buf[INET6_ADDRSTRLEN + 4];
	unsigned i;

	put(&b, "rule %s", r->name);
	if (r->families)
		put(&b, " family %s", family_name(r->families));
	if (r->proto)
		put(&b, " proto %s", proto_name(r->proto, num, sizeof(num)));
	for (i = 0; i < r->n_ports; i++) {
		put(&b, "%s%u", i ? "," : " dport ", r->ports[i].lo);
		if (r->ports[i].hi != r->ports[i].lo)
			put(&b, "-%u", r->ports[i].hi);
	}
	if (r->syn)
		put(&b, " syn");
	for (i = 0; i < r->n_from; i++) {
		config_format_cidr(&r->from[i], buf, sizeof(buf));
		put(&b, "%s%s", i ? "," : " from ", buf);
	}
	if (r->key_type == SL_KEY_SRC)
		put(&b, " key src prefix4 %u prefix6 %u", r->prefix4,
		    r->prefix6);
	else
		put(&b, " key %s", r->key_type == SL_KEY_DPORT ? "dport" :
							       "global");
	for (i = 0; i < r->n_limits; i++) {
		const struct sl_limit_spec *l = &r->limits[i];
		const char *b_unit = l->unit == SL_UNIT_BYTES ? "B" : "";

		if (l->kind == SL_LIMIT_CONNS)
			put(&b, " conns %" PRIu64, l->count);
		else if (l->kind == SL_LIMIT_WINDOW)
			put(&b, " window %" PRIu64 "/%s", l->count,
			    period_text(l->period_ns, buf, sizeof(buf)));
		else
			put(&b, " rate %" PRIu64 "%s/%s burst %" PRIu64 "%s",
			    l->count, b_unit,
			    period_text(l->period_ns, buf, sizeof(buf)),
			    l->burst, b_unit);
	}
	if (r->cluster)
		put(&b, " scope cluster");
	if (r->action == SL_ACT_MARK)
		put(&b, " action mark %" PRIu32, r->mark);
	else
		put(&b, " action %s", r->action == SL_ACT_PASS ? "pass" :
				      r->action == SL_ACT_REJECT ? "reject" :
								   "drop");
	if (r->ban_after) {
		char within[24], dur[24], max[24];

		config_format_duration(r->ban_within_ns, within, sizeof(within));
		config_format_duration(r->ban_for_ns, dur, sizeof(dur));
		config_format_duration(r->ban_max_ns, max, sizeof(max));
		put(&b, " ban after %" PRIu32 " within %s for %s max %s",
		    r->ban_after, within, dur, max);
	}
	if (r->warmup_ns)
		put(&b, " warmup %s", duration_text(r->warmup_ns, buf, sizeof(buf)));
	/* The one default left implicit: spelling it out would change the
	 * text of every rule pinned before on-full existed. */
	if (r->on_full == SL_ON_FULL_PASS)
		put(&b, " on-full pass");
	return b.len < b.cap;
}

static bool valid_rule_name(const char *s)
{
	static const char extra[] = "_.-";
	size_t i;

	for (i = 0; s[i]; i++) {
		bool alnum = (s[i] >= 'a' && s[i] <= 'z') ||
			     (s[i] >= 'A' && s[i] <= 'Z') ||
			     (s[i] >= '0' && s[i] <= '9');

		if (!alnum && (!i || !strchr(extra, s[i])))
			return false;
	}
	return i >= 1 && i < SL_NAME_LEN;
}

/*
 * A warm-up stretches the rule's rates, so it needs one, and each rate's
 * interval must leave sl_warm_scale() room to triple it (tolerances stay
 * below MAX_TOLERANCE_NS, far below SL_WARM_MAX_SCALED, anyway).
 */
static int finish_warmup(struct parser *p, const struct rule_ctx *c)
{
	const struct sl_rule_spec *r = &c->r;
	bool has_rate = false;
	unsigned i;

	if (!r->warmup_ns)
		return 0;
	for (i = 0; i < r->n_limits; i++) {
		const struct sl_limit_spec *l = &r->limits[i];

		if (l->kind != SL_LIMIT_RATE)
			continue;
		has_rate = true;
		if (sl_gcra_interval_fp(l->period_ns, l->count) >= SL_WARM_MAX_SCALED)
			return fail_at(p, c->warmup_tok, 0,
				       "warmup needs rates of at least one unit per 19h; rate \"%s\" is slower",
				       p->tok[c->rate_tok[i]].s);
	}
	if (!has_rate)
		return fail_at(p, c->warmup_tok, 0,
			       "warmup ramps up a rate, but rule \"%s\" has no rate limit",
			       r->name);
	return 0;
}

static int finish_rule(struct parser *p, struct rule_ctx *c)
{
	struct sl_rule_spec *r = &c->r;
	unsigned i;
	int ret;

	if (!r->n_limits)
		return fail_at(p, p->n, 0,
			       "rule \"%s\" has no limit; expected at least one limit: rate, window or conns",
			       r->name);
	/* A ban policy keeps its count of limited packets in the key state. */
	if ((c->given & CL_ON_FULL) && r->n_limits == 1 &&
	    r->limits[0].kind == SL_LIMIT_CONNS && !r->ban_after)
		return fail_at(p, c->on_full_tok, 0,
			       "on-full needs a rate, a window or a ban: a rule with only conns and no ban keeps no key state");
	/* Only TCP has connections; check_clause refused any other proto. */
	if ((r->syn || (c->given & CL_CONNS)) && !r->proto)
		r->proto = IPPROTO_TCP;
	for (i = 0; i < r->n_limits; i++) {
		if (r->limits[i].kind != SL_LIMIT_RATE)
			continue;
		ret = finish_rate(p, &r->limits[i], c->rate_tok[i],
				  c->burst_tok[i]);
		if (ret)
			return ret;
	}
	if (r->ban_after && !r->ban_max_ns)
		r->ban_max_ns = r->ban_for_ns > SL_DEFAULT_BAN_MAX_NS ?
				r->ban_for_ns : SL_DEFAULT_BAN_MAX_NS;
	ret = finish_warmup(p, c);
	if (ret)
		return ret;
	if (!canonical_text(r))
		return fail_at(p, 1, 0,
			       "rule \"%s\" is longer than %d characters when written out in full",
			       r->name, SL_RULE_TEXT_LEN - 1);
	return 0;
}

/*
 * The data path looks bans up once per prefix length in use, at most
 * SL_BAN_PLENS per family: the rules' bans may not need more.
 */
static int check_ban_prefixes(struct parser *p, const struct sl_config *cfg,
			      const struct rule_ctx *c)
{
	static const char *const names[SL_FAMILIES] = { "prefix4", "prefix6" };
	unsigned fam, i, j, n;
	uint8_t lens[SL_BAN_PLENS + 1];

	for (fam = 0; fam < SL_FAMILIES; fam++) {
		if (c->r.families && !(c->r.families & FAM_BIT(fam)))
			continue;
		n = 0;
		for (i = 0; i <= cfg->n_rules && n <= SL_BAN_PLENS; i++) {
			const struct sl_rule_spec *r = i < cfg->n_rules ?
						       &cfg->rules[i] : &c->r;
			uint8_t len = fam == SL_FAM_IP4 ? r->prefix4 : r->prefix6;

			if (!r->ban_after || (r->families && !(r->families & FAM_BIT(fam))))
				continue;
			for (j = 0; j < n && lens[j] != len; j++)
				;
			if (j == n)
				lens[n++] = len;
		}
		if (n > SL_BAN_PLENS)
			return fail_at(p, c->ban_tok, 0,
				       "rules with bans may use at most %d different %s lengths",
				       SL_BAN_PLENS, names[fam]);
	}
	return 0;
}

static int parse_rule(struct parser *p, struct sl_config *cfg)
{
	struct rule_ctx c = { .r = { .prefix4 = 32, .prefix6 = 128 } };
	unsigned t = p->i++;
	const char *name = tok_at(p, t);
	const struct clause *cl;
	int idx, ret;

	if (cfg->n_rules == SL_MAX_RULES)
		return fail_at(p, 0, 0, "too many rules (at most %d)",
			       SL_MAX_RULES);
	if (!name || !valid_rule_name(name))
		return bad_value(p, t,
				 "a rule name (up to 31 letters, digits, '_', '.' or '-', starting with a letter or digit)");
	idx = config_find_rule(cfg, name);
	if (idx >= 0 && cfg->rules[idx].line)
		return fail_at(p, t, 0, "rule \"%s\" already defined at line %u",
			       name, cfg->rules[idx].line);
	if (idx >= 0)
		return fail_at(p, t, 0, "rule \"%s\" already exists", name);
	strcpy(c.r.name, name);
	while (p->i < p->n) {
		t = p->i++;
		name = p->tok[t].s;
		cl = find_clause(name);
		if (!cl && (!strcmp(name, "prefix4") || !strcmp(name, "prefix6")))
			return fail_at(p, t, 0,
				       "%s must come right after \"key src\"",
				       name);
		if (!cl)
			return bad_token(p, t,
					 "one of family, proto, dport, syn, from, key, rate, burst, window, conns, scope, action, ban, warmup, on-full");
		if (!cl->repeats && (c.given & cl->bit))
			return given_twice(p, t);
		c.given |= cl->bit;
		ret = cl->parse(p, &c);
		if (!ret)
			ret = check_clause(p, &c, t);
		if (ret)
			return ret;
		c.prev = cl->bit;
	}
	ret = finish_rule(p, &c);
	if (!ret && c.r.ban_after)
		ret = check_ban_prefixes(p, cfg, &c);
	if (ret)
		return ret;
	c.r.line = p->line;
	cfg->rules[cfg->n_rules++] = c.r;
	return 0;
}

/*
 * How long a tracked connection may stay idle before the controller's
 * sweep gives its slot back: half-open until the handshake completes,
 * established after.
 */
static int parse_conn_timeout(struct parser *p, struct sl_config *cfg)
{
	static const char *const names[] = { "half-open", "established" };
	uint64_t ns[2] = { 0, 0 };
	unsigned t, k;
	const char *s;

	if (cfg->half_open_ns || cfg->established_ns)
		return given_twice(p, 0);
	if (p->i >= p->n)
		return bad_value(p, p->i, "half-open or established");
	while (p->i < p->n) {
		t = p->i++;
		for (k = 0; k < ARRAY_SIZE(names); k++)
			if (!strcmp(p->tok[t].s, names[k]))
				break;
		if (k == ARRAY_SIZE(names) && t == 1)
			return bad_value(p, t, "half-open or established");
		if (k == ARRAY_SIZE(names))
			return bad_token(p, t,
					 "half-open, established or end of line");
		if (ns[k])
			return given_twice(p, t);
		t = p->i++;
		s = tok_at(p, t);
		if (!parse_duration(s, &ns[k]))
			return bad_value(p, t, "a duration like 30s or 5m");
		if (ns[k] < MIN_TIMEOUT_NS || ns[k] > MAX_TIMEOUT_NS)
			return fail_at(p, t, 0,
				       "%s timeout must be 2s..30d, got \"%s\"",
				       names[k], s);
	}
	cfg->half_open_ns = ns[0];
	cfg->established_ns = ns[1];
	return 0;
}

/*
 * An interface-wide budget that counts things, not bytes: answers `reject`
 * sends, each one frame whatever its size, or events.
 */
static int parse_budget(struct parser *p, struct sl_limit_spec *out,
			const char *example, const char *things)
{
	unsigned t = p->i++, burst_t = t;
	struct sl_limit_spec lim;
	int ret;

	if (out->count)
		return given_twice(p, 0);
	ret = parse_rate(p, t, example, &lim);
	if (ret)
		return ret;
	if (lim.unit != SL_UNIT_PACKETS)
		return fail_at(p, t, 0, "%s counts %s, not bytes, got \"%s\"",
			       p->tok[0].s, things, p->tok[t].s);
	if (p->i < p->n) {
		if (strcmp(p->tok[p->i].s, "burst"))
			return bad_token(p, p->i, "\"burst\" or end of line");
		p->i++;
		burst_t = p->i++;
		ret = parse_burst(p, burst_t, lim.unit, &lim.burst);
		if (ret)
			return ret;
	}
	if (end_of_line(p))
		return -EINVAL;
	ret = finish_rate(p, &lim, t, burst_t);
	if (ret)
		return ret;
	*out = lim;
	return 0;
}

static int parse_reject_limit(struct parser *p, struct sl_config *cfg)
{
	return parse_budget(p, &cfg->reject_limit, "a packet rate like 10000/s",
			    "packets");
}

/* How many events a second the data path may send the daemon's log. */
static int parse_event_limit(struct parser *p, struct sl_config *cfg)
{
	return parse_budget(p, &cfg->event_limit, "an event rate like 100/s",
			    "events");
}

/*
 * Where the daemon listens. Literal addresses only: a host name would be
 * resolved once, at start, to whatever it meant then, and a name that
 * resolves to several addresses cannot say which one to bind. IPv6 takes
 * brackets, since "::1:9477" is itself a valid address.
 */
enum listen_error {
	LISTEN_OK,
	LISTEN_SYNTAX,		/* not ADDR:PORT */
	LISTEN_BRACKETS,	/* IPv6 without brackets */
	LISTEN_PORT_SYNTAX,	/* the port is not a number */
	LISTEN_PORT_RANGE,	/* the port is not 1..65535 */
};

#define LISTEN_EXAMPLE	"an address and port like 127.0.0.1:9477 or [::1]:9477"
#define LISTEN_BRACKETS_MSG "an IPv6 address takes brackets, like [::1]:9477"

static bool looks_ip6(const char *s, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (len >= sizeof(addr))
		return false;
	memcpy(addr, s, len);
	addr[len] = '\0';
	return inet_pton(AF_INET6, addr, &a) == 1;
}

static enum listen_error listen_parse(const char *s, struct sockaddr_storage *sa,
				      char *canon, size_t len, size_t *port_off)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	bool v6 = s[0] == '[';
	char addr[INET6_ADDRSTRLEN];
	const char *host, *port;
	size_t hlen, plen;
	uint64_t n;

	if (v6) {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return LISTEN_SYNTAX;
		host = s + 1;
		hlen = close - host;
		port = close + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon)
			return LISTEN_SYNTAX;
		host = s;
		hlen = colon - s;
		port = colon + 1;
		if (memchr(host, ':', hlen))
			return looks_ip6(host, hlen) || looks_ip6(s, strlen(s)) ?
			       LISTEN_BRACKETS : LISTEN_SYNTAX;
	}
	if (!hlen || hlen >= sizeof(addr) || !*port)
		return LISTEN_SYNTAX;
	memcpy(addr, host, hlen);
	addr[hlen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr,
		      v6 ? (void *)&in6->sin6_addr : (void *)&in4->sin_addr) != 1)
		return LISTEN_SYNTAX;
	*port_off = port - s;
	plen = scan_u64(port, &n);
	if (!plen || port[plen])
		return LISTEN_PORT_SYNTAX;
	if (n < 1 || n > 65535)
		return LISTEN_PORT_RANGE;
	if (v6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(n);
	} else {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(n);
	}
	/* inet_ntop, so every spelling of one address reads the same. */
	inet_ntop(v6 ? AF_INET6 : AF_INET,
		  v6 ? (void *)&in6->sin6_addr : (void *)&in4->sin_addr, addr,
		  sizeof(addr));
	snprintf(canon, len, v6 ? "[%s]:%" PRIu64 : "%s:%" PRIu64, addr, n);
	if (sa)
		*sa = ss;
	return LISTEN_OK;
}

int config_parse_listen(const char *text, struct sockaddr_storage *sa,
			char *canon, size_t len, struct sl_error *err)
{
	size_t size = sizeof(err->msg), off = 0;

	switch (listen_parse(text, sa, canon, len, &off)) {
	case LISTEN_OK:
		return 0;
	case LISTEN_SYNTAX:
		snprintf(err->msg, size, "expected " LISTEN_EXAMPLE ", got \"%s\"",
			 text);
		break;
	case LISTEN_BRACKETS:
		snprintf(err->msg, size, LISTEN_BRACKETS_MSG ", got \"%s\"", text);
		break;
	case LISTEN_PORT_SYNTAX:
		snprintf(err->msg, size, "expected a port number, got \"%s\"",
			 text + off);
		break;
	case LISTEN_PORT_RANGE:
		snprintf(err->msg, size, "port must be 1..65535, got \"%s\"",
			 text + off);
		break;
	}
	return -EINVAL;
}

static int parse_metrics(struct parser *p, struct sl_config *cfg)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);
	char canon[SL_LISTEN_LEN];
	size_t off = 0;

	if (cfg->metrics[0])
		return given_twice(p, 0);
	if (!s)
		return bad_value(p, t, LISTEN_EXAMPLE);
	switch (listen_parse(s, NULL, canon, sizeof(canon), &off)) {
	case LISTEN_OK:
		break;
	case LISTEN_SYNTAX:
		return bad_value(p, t, LISTEN_EXAMPLE);
	case LISTEN_BRACKETS:
		return fail_at(p, t, 0, LISTEN_BRACKETS_MSG ", got \"%s\"", s);
	case LISTEN_PORT_SYNTAX:
		return bad_item(p, t, off, strlen(s + off), "a port number");
	case LISTEN_PORT_RANGE:
		return fail_at(p, t, off, "port must be 1..65535, got \"%s\"",
			       s + off);
	}
	if (end_of_line(p))
		return -EINVAL;
	strcpy(cfg->metrics, canon);
	return 0;
}

bool config_valid_node_name(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i])))
			return false;
	return i >= 1 && i <= SL_CLUSTER_NODE_MAX;
}

/*
 * cluster URL [node NAME] [sync DUR] [ttl DUR]: where the daemon shares
 * scope cluster budgets. The sync interval bounds how stale a host's view
 * of the others is; the TTL how long a silent host's reports (and its
 * connections) still count.
 */
static int parse_cluster(struct parser *p, struct sl_config *cfg)
{
	enum { NODE, SYNC, TTL };
	static const char *const names[] = { "node", "sync", "ttl" };
	struct sl_cluster_conf c = { .set = true };
	unsigned t = p->i++, at[3] = {}, k;
	const char *s = tok_at(p, t);
	char why[SL_ERR_LEN / 2], buf[32];
	uint64_t ns;
	size_t col;

	if (cfg->cluster.set)
		return given_twice(p, 0);
	if (!s)
		return bad_value(p, t, "a Redis URL like redis://127.0.0.1:6379 or unix:///run/redis/redis.sock");
	if (redis_url_parse(s, &c.url, why, sizeof(why), &col))
		return fail_at(p, t, col, "%s", why);
	while (p->i < p->n) {
		t = p->i++;
		for (k = 0; k < ARRAY_SIZE(names); k++)
			if (!strcmp(p->tok[t].s, names[k]))
				break;
		if (k == ARRAY_SIZE(names))
			return bad_token(p, t, "node, sync, ttl or end of line");
		if (at[k])
			return given_twice(p, t);
		at[k] = t = p->i++;
		s = tok_at(p, t);
		if (k == NODE) {
			if (!s || !config_valid_node_name(s))
				return bad_value(p, t,
						 "a node name (1..63 letters, digits, '.', '-' or '_')");
			strcpy(c.node, s);
			continue;
		}
		if (!parse_duration(s, &ns))
			return bad_value(p, t, "a duration like 100ms or 5s");
		if (k == SYNC && (ns < 10 * NS_PER_MS || ns > 10 * NS_PER_S))
			return fail_at(p, t, 0, "sync must be 10ms..10s, got \"%s\"", s);
		if (k == TTL && ns > 3600 * NS_PER_S)
			return fail_at(p, t, 0, "ttl must be at most 1h, got \"%s\"", s);
		*(k == SYNC ? &c.sync_ns : &c.ttl_ns) = ns;
	}
	if (!c.sync_ns)
		c.sync_ns = SL_CLUSTER_DEFAULT_SYNC_NS;
	if (!c.ttl_ns) {
		c.ttl_ns = SL_CLUSTER_TTL_SYNCS * c.sync_ns;
		if (c.ttl_ns < SL_CLUSTER_DEFAULT_TTL_NS)
			c.ttl_ns = SL_CLUSTER_DEFAULT_TTL_NS;
	} else if (c.ttl_ns < 3 * c.sync_ns) {
		/* A host that misses a sync or two must not vanish. */
		return fail_at(p, at[TTL], 0,
			       "ttl must be at least 3 sync intervals (%s), got \"%s\"",
			       period_text(3 * c.sync_ns, buf, sizeof(buf)),
			       p->tok[at[TTL]].s);
	}
	cfg->cluster = c;
	return 0;
}

/*
 * Breaker bounds. The controller decides every 100 ms, so a window or an
 * open time under a second would be mostly rounding; a day is longer than
 * anyone waits on a broken service. Probes are judged one by one in a map
 * sized for SL_MAX_PROBES per breaker.
 */
#define MIN_BREAKER_NS		NS_PER_S
#define MAX_BREAKER_NS		(86400 * NS_PER_S)
#define MAX_BREAKER_ERRORS	1000000u

enum {
	BK_SERVICE	= 1 << 0,
	BK_ERRORS	= 1 << 1,
	BK_WITHIN	= 1 << 2,
	BK_OPEN		= 1 << 3,
	BK_PROBES	= 1 << 4,
};

static const struct {
	const char *name;
	unsigned bit;
} breaker_clauses[] = {
	{ "service", BK_SERVICE },
	{ "errors", BK_ERRORS },
	{ "within", BK_WITHIN },
	{ "open", BK_OPEN },
	{ "probes", BK_PROBES },
};

int config_find_breaker(const struct sl_config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->n_breakers; i++)
		if (!strcmp(cfg->breakers[i].name, name))
			return i;
	return -1;
}

/* "tcp/PORT": breakers judge a service by its TCP resets and HTTP replies. */
static int breaker_service(struct parser *p, const struct sl_config *cfg,
			   unsigned t, struct sl_breaker_spec *b)
{
	const char *s = tok_at(p, t), *slash;
	uint64_t port;
	size_t i;
	int idx;

	slash = s ? strchr(s, '/') : NULL;
	if (!slash)
		return bad_value(p, t, "a service like tcp/8080");
	for (i = 0; i < ARRAY_SIZE(protocols); i++)
		if (!strncmp(s, protocols[i].name, slash - s) &&
		    !protocols[i].name[slash - s])
			break;
	if (i < ARRAY_SIZE(protocols) && protocols[i].value != IPPROTO_TCP)
		return fail_at(p, t, 0,
			       "a breaker watches a TCP service (its resets and HTTP responses), got \"%s\"",
			       s);
	if (i == ARRAY_SIZE(protocols))
		return bad_value(p, t, "a service like tcp/8080");
	if (!parse_u64(slash + 1, &port))
		return bad_item(p, t, slash + 1 - s, strlen(slash + 1), "a port number");
	if (port < 1 || port > 65535)
		return fail_at(p, t, slash + 1 - s, "port must be 1..65535, got \"%s\"",
			       slash + 1);
	for (idx = 0; idx < (int)cfg->n_breakers; idx++)
		if (cfg->breakers[idx].port == port)
			return fail_at(p, t, 0, "service %s already has breaker \"%s\"",
				       s, cfg->breakers[idx].name);
	b->port = port;
	return 0;
}

/* A breaker's count after "errors" or "probes", 1..max. */
static int breaker_count(struct parser *p, unsigned t, const char *what,
			 uint64_t max, uint32_t *out)
{
	const char *s = tok_at(p, t);
	uint64_t n;

	if (!parse_u64(s, &n))
		return bad_value(p, t, what);
	if (n < 1 || n > max)
		return fail_at(p, t, 0, "%s must be 1..%" PRIu64 ", got \"%s\"",
			       p->tok[t - 1].s, max, s);
	*out = n;
	return 0;
}

static int breaker_duration(struct parser *p, unsigned t, uint64_t *out)
{
	const char *s = tok_at(p, t);

	if (!parse_duration(s, out))
		return bad_value(p, t, "a duration like 10s or 5m");
	if (*out < MIN_BREAKER_NS || *out > MAX_BREAKER_NS)
		return fail_at(p, t, 0, "%s must be 1s..1d, got \"%s\"",
			       p->tok[t - 1].s, s);
	return 0;
}

/* breaker NAME service tcp/PORT errors N within DUR open DUR probes K */
static int parse_breaker(struct parser *p, struct sl_config *cfg)
{
	struct sl_breaker_spec b = { 0 };
	unsigned t = p->i++, given = 0, k;
	const char *name = tok_at(p, t);
	char within[32], open[32];
	int idx, ret;

	if (cfg->n_breakers == SL_MAX_BREAKERS)
		return fail_at(p, 0, 0, "too many breakers (at most %d)",
			       SL_MAX_BREAKERS);
	if (!name || !valid_rule_name(name))
		return bad_value(p, t,
				 "a breaker name (up to 31 letters, digits, '_', '.' or '-', starting with a letter or digit)");
	idx = config_find_breaker(cfg, name);
	if (idx >= 0 && cfg->breakers[idx].line)
		return fail_at(p, t, 0, "breaker \"%s\" already defined at line %u",
			       name, cfg->breakers[idx].line);
	if (idx >= 0)
		return fail_at(p, t, 0, "breaker \"%s\" already exists", name);
	strcpy(b.name, name);
	while (p->i < p->n) {
		t = p->i++;
		for (k = 0; k < ARRAY_SIZE(breaker_clauses); k++)
			if (!strcmp(p->tok[t].s, breaker_clauses[k].name))
				break;
		if (k == ARRAY_SIZE(breaker_clauses))
			return bad_token(p, t,
					 "one of service, errors, within, open, probes");
		if (given & breaker_clauses[k].bit)
			return given_twice(p, t);
		given |= breaker_clauses[k].bit;
		t = p->i++;
		switch (breaker_clauses[k].bit) {
		case BK_SERVICE:
			ret = breaker_service(p, cfg, t, &b);
			break;
		case BK_ERRORS:
			ret = breaker_count(p, t, "an error count", MAX_BREAKER_ERRORS,
					    &b.errors);
			break;
		case BK_WITHIN:
			ret = breaker_duration(p, t, &b.within_ns);
			break;
		case BK_OPEN:
			ret = breaker_duration(p, t, &b.open_ns);
			break;
		default:
			ret = breaker_count(p, t, "a probe count", SL_MAX_PROBES,
					    &b.probes);
			break;
		}
		if (ret)
			return ret;
	}
	for (k = 0; k < ARRAY_SIZE(breaker_clauses); k++)
		if (!(given & breaker_clauses[k].bit))
			return fail_at(p, p->n, 0,
				       "breaker \"%s\" has no %s; a breaker needs service, errors, within, open and probes",
				       b.name, breaker_clauses[k].name);
	snprintf(b.text, sizeof(b.text),
		 "breaker %s service tcp/%u errors %" PRIu32 " within %s open %s probes %" PRIu32,
		 b.name, b.port, b.errors,
		 duration_text(b.within_ns, within, sizeof(within)),
		 duration_text(b.open_ns, open, sizeof(open)), b.probes);
	b.line = p->line;
	cfg->breakers[cfg->n_breakers++] = b;
	return 0;
}

static int parse_key_timeout(struct parser *p, struct sl_config *cfg)
{
	unsigned t = p->i++;
	const char *s = tok_at(p, t);
	uint64_t ns;

	if (cfg->key_timeout_ns)
		return given_twice(p, 0);
	if (!parse_duration(s, &ns))
		return bad_value(p, t, "a duration like 10s or 1m");
	if (ns < MIN_KEY_TIMEOUT_NS || ns > MAX_KEY_TIMEOUT_NS)
		return fail_at(p, t, 0, "key-timeout must be 1s..1d, got \"%s\"", s);
	if (end_of_line(p))
		return -EINVAL;
	cfg->key_timeout_ns = ns;
	return 0;
}

static const struct statement {
	const char *name;
	int (*parse)(struct parser *p, struct sl_config *cfg);
} statements[] = {
	{ "interface", parse_interface },
	{ "malformed", parse_malformed },
	{ "keys", parse_keys },
	{ "refusals", parse_refusals },
	{ "key-timeout", parse_key_timeout },
	{ "allow", parse_allow },
	{ "deny", parse_deny },
	{ "rule", parse_rule },
	{ "breaker", parse_breaker },
	{ "conn-timeout", parse_conn_timeout },
	{ "reject-limit", parse_reject_limit },
	{ "event-limit", parse_event_limit },
	{ "metrics", parse_metrics },
	{ "cluster", parse_cluster },
};


static int parse_statement(struct parser *p, struct sl_config *cfg)
{
	const char *kw = p->tok[0].s;
	size_t i;

	p->i = 1;
	for (i = 0; i < ARRAY_SIZE(statements); i++)
		if (!strcmp(kw, statements[i].name))
			return statements[i].parse(p, cfg);
	return bad_token(p, 0,
			 "a statement (interface, malformed, keys, refusals, key-timeout, allow, deny, rule, breaker, conn-timeout, reject-limit, event-limit, metrics, cluster)");
}

int config_parse_line(struct sl_config *cfg, const char *text,
		      const char *source, unsigned line, struct sl_error *err)
{
	struct parser p = { .source = source, .line = line, .err = err };
	int ret;

	if (tokenize(&p, text)) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	ret = p.n ? parse_statement(&p, cfg) : 0;
	free(p.tok);
	return ret;
}

static int read_error(struct sl_error *err, const char *path, int ret)
{
	snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(-ret));
	return ret;
}

int config_parse_file(struct sl_config *cfg, const char *path,
		      struct sl_error *err)
{
	char *buf = NULL;
	size_t cap = 0;
	unsigned line = 0;
	int ret = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		ret = read_error(err, path, -errno);
		goto out;
	}
	for (;;) {
		errno = 0;
		if (getline(&buf, &cap, f) < 0) {
			if (!feof(f))
				ret = read_error(err, path,
						 errno ? -errno : -EIO);
			break;
		}
		ret = config_parse_line(cfg, buf, path, ++line, err);
		if (ret)
			break;
	}
	free(buf);
	fclose(f);
out:
	if (ret)
		config_free(cfg);
	return ret;
}
