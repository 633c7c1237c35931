// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Cluster mode: the daemon's sync thread.
 *
 * Every sync interval it reads what this host's scope cluster keys offered
 * and admitted (sl_clucnt) and the connections they hold (sl_conns),
 * reports that to Redis in one Lua script, and gets back every live host's
 * figures. Redis keeps, per key, two fixed windows of 10 sync intervals
 * (the current and the previous one, the double window of the seeds) with
 * one field per host, expiring on their own; and per key and host a
 * connection count under a TTL the host refreshes. From the sliding-window
 * estimates it computes this host's share of each limit (cluster_budget.c)
 * and writes the local limits into sl_clulim, which the data path spends.
 *
 * The thread is the only thing that waits for Redis, at most half a sync
 * interval per call: the data path never does, and neither do the sweep
 * and the metrics, which run elsewhere. When a sync fails the host falls
 * back to 1/hosts of every limit, says so in its log, metrics and status,
 * and keeps trying every interval.
 *
 * The script derives key names from the server's clock and from the host
 * list, so it runs against a standalone Redis (or a primary), not Redis
 * Cluster.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <hiredis/hiredis.h>

#include "batch.h"
#include "cluster.h"
#include "cluster_budget.h"
#include "pins.h"
#include "sluice_limiter.h"

#define NS_PER_MS	1000000ull
#define NS_PER_S	1000000000ull

/* Redis keys start with this; the rest names the rule and the key. */
#define KEY_PREFIX	"sluice"
/* The demand windows are this many sync intervals long. */
#define WINDOW_SYNCS	10
/* The start-up check may take longer than a sync: nothing waits on it. */
#define PROBE_TIMEOUT_MS	1000
/* Per key and call: name, offered, admitted, connections. */
#define ARGS_PER_KEY	4
/* A script's SHA1 in hex, and its NUL. */
#define SHA_LEN		41

/*
 * One call per sync. ARGV: prefix, node, window ms, ttl ms, key count, then
 * per key its name, the units it offered and admitted since the last sync
 * (-1: the rule has no rate) and the connections it holds (-1: no conns).
 * Returns { now ms, ms into the current window, live hosts, per key
 * { connections of the other live hosts, then this host's previous and
 * current window's offered and admitted, then the same four for every
 * other live host with figures } }.
 */
static const char sync_script[] =
	"if redis.replicate_commands then redis.replicate_commands() end\n"
	"local prefix, node = ARGV[1], ARGV[2]\n"
	"local window, ttl, n = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local hosts = prefix .. ':hosts'\n"
	"redis.call('ZADD', hosts, now, node)\n"
	"redis.call('ZREMRANGEBYSCORE', hosts, '-inf', now - ttl)\n"
	"redis.call('PEXPIRE', hosts, ttl)\n"
	"local names = redis.call('ZRANGE', hosts, 0, -1)\n"
	"local live = {}\n"
	"for _, h in ipairs(names) do live[h] = true end\n"
	"local idx = math.floor(now / window)\n"
	"local out = { now, now - idx * window, #names }\n"
	"for i = 0, n - 1 do\n"
	"  local b = 6 + i * 4\n"
	"  local name = ARGV[b]\n"
	"  local od, ad, conns = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])\n"
	"  local r = { 0, 0, 0, 0, 0 }\n"
	"  if od >= 0 then\n"
	"    local cur = prefix .. ':w:' .. name .. ':' .. idx\n"
	"    local prev = prefix .. ':w:' .. name .. ':' .. (idx - 1)\n"
	"    if od > 0 then redis.call('HINCRBY', cur, 'o:' .. node, od) end\n"
	"    if ad > 0 then redis.call('HINCRBY', cur, 'a:' .. node, ad) end\n"
	"    if od > 0 or ad > 0 then redis.call('PEXPIRE', cur, 3 * window) end\n"
	"    local per, order = {}, {}\n"
	"    for w, key in ipairs({ prev, cur }) do\n"
	"      local kv = redis.call('HGETALL', key)\n"
	"      for j = 1, #kv, 2 do\n"
	"        local host = string.sub(kv[j], 3)\n"
	"        if live[host] then\n"
	"          local e = per[host]\n"
	"          if not e then e = { 0, 0, 0, 0 }; per[host] = e; order[#order + 1] = host end\n"
	"          local slot = (string.sub(kv[j], 1, 1) == 'o' and 0 or 2) + w\n"
	"          e[slot] = e[slot] + tonumber(kv[j + 1])\n"
	"        end\n"
	"      end\n"
	"    end\n"
	"    for _, host in ipairs(order) do\n"
	"      local e = per[host]\n"
	"      if host == node then\n"
	"        r[2], r[3], r[4], r[5] = e[1], e[2], e[3], e[4]\n"
	"      else\n"
	"        r[#r + 1] = e[1]; r[#r + 1] = e[2]; r[#r + 1] = e[3]; r[#r + 1] = e[4]\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"  if conns >= 0 then\n"
	"    local c = prefix .. ':c:' .. name .. ':'\n"
	"    if conns > 0 then redis.call('SET', c .. node, conns, 'PX', ttl)\n"
	"    else redis.call('DEL', c .. node) end\n"
	"    for _, h in ipairs(names) do\n"
	"      if h ~= node then r[1] = r[1] + (tonumber(redis.call('GET', c .. h)) or 0) end\n"
	"    end\n"
	"  end\n"
	"  out[#out + 1] = r\n"
	"end\n"
	"return out\n";

/* Withdraws a host that stops for good: its name and its connections. */
static const char leave_script[] =
	"redis.call('ZREM', ARGV[1] .. ':hosts', ARGV[2])\n"
	"local n = 0\n"
	"for i = 3, #ARGV do n = n + redis.call('DEL', ARGV[1] .. ':c:' .. ARGV[i] .. ':' .. ARGV[2]) end\n"
	"return n\n";

/* A scope cluster rule of the active rule set. */
struct crule {
	__u32 uid;
	char name[SL_NAME_LEN];
	struct sl_rule rule;
	int rate;		/* index of the first rate limit, -1: none */
	int conns;		/* index of the conns limit, -1: none */
	double limit;		/* the first rate, in units per second */
};

/* A key of a scope cluster rule, as this thread last saw it. */
struct ckey {
	struct sl_key key;
	int rule;		/* index in the rule table, -1: not a cluster rule */
	__u64 offered, admitted;	/* the kernel's sums at the last scan */
	__u64 d_offered, d_admitted;	/* since the scan before */
	__u64 active_ns;	/* last scan that saw new traffic */
	__s64 conns;		/* connections held on this host */
	bool counted;		/* in sl_clucnt at this scan */
	bool always;		/* key global: synced whether or not it has traffic */
	bool applied;		/* has an entry in sl_clulim: kernel */
	struct sl_clu_limits kernel;	/* what that entry holds */
	struct sl_clu_limits limits;	/* what this round wants it to hold */
	uint64_t share;
	double adm_host, adm_cluster;
	long long conns_cluster;
};

struct ktable {
	struct ckey *v;
	size_t n, cap;
	size_t *slots;		/* index + 1 into v; 0: empty */
	size_t n_slots;		/* a power of two, at least 2 x n */
};

struct sl_cluster {
	char ifname[IF_NAMESIZE];
	struct sl_cluster_conf conf;
	char node[SL_CLUSTER_NODE_MAX + 1];
	char server[SL_CLUSTER_TEXT_LEN];
	bool leave_on_stop;
	sl_cluster_log_fn log;
	void *log_ctx;
	struct sl_cluster_stats *stats;
	pthread_mutex_t *lock;

	pthread_t thread;
	int stop_fd, timer_fd;
	int ncpus;

	redisContext *redis;
	char sha[SHA_LEN];	/* of sync_script, once loaded */
	struct timeval timeout;

	__u32 gen;		/* rule-set generation of the rule table */
	bool have_rules;
	struct crule rules[SL_MAX_RULES];
	unsigned n_rules;
	struct ktable keys;

	/*
	 * The first round of this daemon, or after the pins came back: what
	 * the maps hold was left by someone else. Counts are a baseline, not
	 * news (the last daemon reported them), and limits are adopted or
	 * removed.
	 */
	bool fresh;

	struct sl_cluster_status st;	/* what sl_clustat says */
	unsigned hosts;		/* live hosts at the last good sync */
	char last_error[SL_CLUSTER_TEXT_LEN];
	bool pins_missing;	/* logged once until they come back */
};

/* Pinned objects one round uses; opened afresh each round, so a detach
 * and attach under a running daemon is simply picked up. */
struct round_fds {
	int cfg, rules, rtext, conns, cnt, lim, status;
};

static __u64 now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

__attribute__((format(printf, 3, 4)))
static void say(struct sl_cluster *c, const char *level, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->log(c->log_ctx, level, msg);
}

static const char *duration_text(__u64 ns, char *buf, size_t len)
{
	if (ns % NS_PER_S)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / NS_PER_MS));
	else
		snprintf(buf, len, "%llus", (unsigned long long)(ns / NS_PER_S));
	return buf;
}

/* ---------------------------------------------------------------- keys */

static size_t key_hash(const struct sl_key *k)
{
	const unsigned char *p = (const void *)k;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static size_t *ktable_slot(const struct ktable *t, const struct sl_key *k)
{
	size_t i = key_hash(k) & (t->n_slots - 1);

	while (t->slots[i] && memcmp(&t->v[t->slots[i] - 1].key, k, sizeof(*k)))
		i = (i + 1) & (t->n_slots - 1);
	return &t->slots[i];
}

static struct ckey *ktable_find(const struct ktable *t, const struct sl_key *k)
{
	size_t *slot;

	if (!t->n_slots)
		return NULL;
	slot = ktable_slot(t, k);
	return *slot ? &t->v[*slot - 1] : NULL;
}

static int ktable_grow(struct ktable *t)
{
	size_t n_slots = t->n_slots ? t->n_slots * 2 : 256, i;
	size_t cap = n_slots / 2;
	struct ckey *v = realloc(t->v, cap * sizeof(*v));
	size_t *slots;

	if (!v)
		return -ENOMEM;
	t->v = v;
	t->cap = cap;
	slots = calloc(n_slots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	free(t->slots);
	t->slots = slots;
	t->n_slots = n_slots;
	for (i = 0; i < t->n; i++)
		*ktable_slot(t, &t->v[i].key) = i + 1;
	return 0;
}

/* The entry for k in t, added if new, carrying over what old knew of it. */
static struct ckey *ktable_get(struct ktable *t, const struct ktable *old,
			       const struct sl_key *k)
{
	const struct ckey *prev;
	struct ckey *e;
	size_t *slot;

	e = ktable_find(t, k);
	if (e)
		return e;
	if (t->n == t->cap && ktable_grow(t))
		return NULL;
	e = &t->v[t->n];
	prev = ktable_find(old, k);
	if (prev) {
		*e = *prev;
	} else {
		memset(e, 0, sizeof(*e));
		e->key = *k;
	}
	e->counted = e->always = false;
	e->conns = 0;
	e->d_offered = e->d_admitted = 0;
	e->conns_cluster = -1;
	e->adm_cluster = -1;
	slot = ktable_slot(t, k);
	*slot = ++t->n;
	return e;
}

static void ktable_free(struct ktable *t)
{
	free(t->v);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static int find_rule(const struct sl_cluster *c, __u32 uid)
{
	unsigned i;

	for (i = 0; i < c->n_rules; i++)
		if (c->rules[i].uid == uid)
			return i;
	return -1;
}

/* "RULE:KEY", what the key is called in Redis on every host. */
static void key_name(const struct crule *r, const struct sl_key *k, char *buf,
		     size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	switch (r->rule.key_type) {
	case SL_KEY_SRC:
		inet_ntop(k->family == SL_FAM_IP4 ? AF_INET : AF_INET6, k->addr,
			  addr, sizeof(addr));
		snprintf(buf, len, "%s:%s/%u", r->name, addr,
			 k->family == SL_FAM_IP4 ? r->rule.prefix4 : r->rule.prefix6);
		break;
	case SL_KEY_DPORT:
		snprintf(buf, len, "%s:dport/%u", r->name, k->addr[0] << 8 | k->addr[1]);
		break;
	default:
		snprintf(buf, len, "%s:global", r->name);
		break;
	}
}

/* ---------------------------------------------------------------- pins */

static void close_round(struct round_fds *f)
{
	int *fds = (int *)f;
	size_t i;

	for (i = 0; i < sizeof(*f) / sizeof(int); i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static int open_round(const struct sl_cluster *c, struct round_fds *f,
		      char *what, size_t len)
{
	const struct { const char *name; int *fd; } pins[] = {
		{ SL_MAP_CFG, &f->cfg }, { SL_MAP_RULES, &f->rules },
		{ SL_MAP_RTEXT, &f->rtext }, { SL_MAP_CONNS, &f->conns },
		{ SL_MAP_CLU_COUNT, &f->cnt }, { SL_MAP_CLU_LIMITS, &f->lim },
		{ SL_MAP_CLU_STATUS, &f->status },
	};
	char path[PATH_MAX];
	size_t i;
	int ret;

	memset(f, -1, sizeof(*f));
	for (i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		*pins[i].fd = bpf_obj_get(pins__path(path, sizeof(path), c->ifname,
						     pins[i].name));
		if (*pins[i].fd < 0) {
			ret = -errno;
			snprintf(what, len, "%s: %s", path, strerror(-ret));
			close_round(f);
			return ret;
		}
	}
	return 0;
}

/* The active set's scope cluster rules, read again when its generation moves. */
static int read_rules(struct sl_cluster *c, const struct round_fds *f)
{
	struct sl_cfg cfg;
	__u32 zero = 0, gen, i;

	if (bpf_map_lookup_elem(f->cfg, &zero, &cfg))
		return -errno;
	if (c->have_rules && cfg.gen == c->gen)
		return 0;
	gen = cfg.gen & 1;
	c->n_rules = 0;
	for (i = 0; i < cfg.hdr[gen].n_rules && i < SL_MAX_RULES; i++) {
		__u32 index = SL_RULE_INDEX(gen, i);
		struct crule *r = &c->rules[c->n_rules];
		struct sl_rule_text text;
		unsigned j;

		if (bpf_map_lookup_elem(f->rules, &index, &r->rule) ||
		    bpf_map_lookup_elem(f->rtext, &index, &text))
			return -errno;
		if (!(r->rule.cluster & SL_CLUSTER_ON))
			continue;
		r->uid = r->rule.uid;
		snprintf(r->name, sizeof(r->name), "%.*s", (int)sizeof(text.name) - 1,
			 text.name);
		r->rate = r->conns = -1;
		r->limit = 0;
		for (j = 0; j < r->rule.n_limits && j < SL_MAX_LIMITS; j++) {
			const struct sl_limit *l = &r->rule.limits[j];

			if (l->kind == SL_LIMIT_CONNS)
				r->conns = j;
			if (l->kind != SL_LIMIT_RATE || r->rate >= 0)
				continue;
			r->rate = j;
			/* interval_fp is ns per unit in 48.16: back to units/s. */
			r->limit = (double)NS_PER_S * (1 << SL_FP_SHIFT) /
				   (double)l->rate.interval_fp;
		}
		c->n_rules++;
	}
	c->gen = cfg.gen;
	c->have_rules = true;
	return 0;
}

struct scan {
	struct sl_cluster *c;
	struct ktable *next;
	const struct ktable *old;
	__u64 now;
};

static int scan_count(const void *key, const void *value, void *arg)
{
	const struct sl_clu_count *pc = value;
	const struct sl_key *k = key;
	struct scan *s = arg;
	__u64 offered = 0, admitted = 0;
	struct ckey *e;
	int rule, cpu;

	rule = find_rule(s->c, k->rule_uid);
	if (rule < 0)
		return 0;
	for (cpu = 0; cpu < s->c->ncpus; cpu++) {
		offered += pc[cpu].offered;
		admitted += pc[cpu].admitted;
	}
	e = ktable_get(s->next, s->old, k);
	if (!e)
		return -ENOMEM;
	e->rule = rule;
	if (s->c->fresh) {
		e->d_offered = e->d_admitted = 0;
	} else {
		/* Sums that went down belong to an entry evicted and made anew. */
		e->d_offered = offered >= e->offered ? offered - e->offered : offered;
		e->d_admitted = admitted >= e->admitted ? admitted - e->admitted :
							  admitted;
	}
	e->offered = offered;
	e->admitted = admitted;
	e->counted = true;
	/* Idle keys leave sl_clucnt after the TTL, so what a fresh daemon
	 * finds there was busy lately. */
	if (e->d_offered || (s->c->fresh && offered))
		e->active_ns = s->now;
	return 0;
}

static int scan_conns(const void *key, const void *value, void *arg)
{
	const struct sl_key *k = key;
	struct scan *s = arg;
	struct ckey *e;
	int rule;

	rule = find_rule(s->c, k->rule_uid);
	if (rule < 0 || s->c->rules[rule].conns < 0)
		return 0;
	e = ktable_get(s->next, s->old, k);
	if (!e)
		return -ENOMEM;
	e->rule = rule;
	e->conns = *(const __s64 *)value;
	return 0;
}

/*
 * A key is synced while it had traffic within the TTL or holds connections;
 * a rule's one key global always, so its share is in place before this
 * host sees its first packet.
 */
static bool key_live(const struct sl_cluster *c, const struct ckey *e, __u64 now)
{
	return e->rule >= 0 &&
	       (e->always || e->conns > 0 ||
		(e->active_ns && now - e->active_ns < c->conf.ttl_ns));
}

static int add_global_keys(struct sl_cluster *c, struct ktable *next,
			   const struct ktable *old)
{
	unsigned i;

	for (i = 0; i < c->n_rules; i++) {
		/* What build_key() makes of a key global: the rule alone. */
		struct sl_key k = { .rule_uid = c->rules[i].uid };
		struct ckey *e;

		if (c->rules[i].rule.key_type != SL_KEY_GLOBAL)
			continue;
		e = ktable_get(next, old, &k);
		if (!e)
			return -ENOMEM;
		e->rule = i;
		e->always = true;
	}
	return 0;
}

/* ---------------------------------------------------------------- Redis */

static bool timed_out(const redisContext *r)
{
	return r->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void context_error(const redisContext *r, const char *doing, char *buf,
			  size_t len)
{
	if (timed_out(r))
		snprintf(buf, len, "%s: no answer in time", doing);
	else
		snprintf(buf, len, "%s: %s", doing, r->errstr[0] ? r->errstr :
			 "connection lost");
}

/* One command; a reply (error replies included) or NULL with why filled. */
static redisReply *command(redisContext *r, int argc, const char **argv,
			   const size_t *lens, const char *doing, char *why,
			   size_t len)
{
	redisReply *rep = redisCommandArgv(r, argc, argv, lens);

	if (!rep)
		context_error(r, doing, why, len);
	return rep;
}

/*
 * An error reply that says the settings are wrong (a password, a user's
 * rights, a database), where LOADING or BUSY say only "not now".
 */
static bool settings_refused(const redisReply *rep)
{
	static const char *const words[] = { "WRONGPASS", "NOAUTH", "NOPERM", "ERR" };
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strncmp(rep->str, words[i], strlen(words[i])))
			return true;
	return false;
}

/*
 * Connects, authenticates, selects the database and loads the script into
 * sha (SHA_LEN bytes, if not NULL). NULL with why filled on failure;
 * *config set when the answer says the settings are wrong rather than
 * Redis being away or busy.
 */
static redisContext *redis_open(const struct sl_redis_url *url, struct timeval tv,
				char *sha, char *why, size_t len, bool *config)
{
	const char *argv[3], *doing;
	char db[16];
	size_t lens[3];
	redisContext *r;
	redisReply *rep;
	int argc;

	*config = false;
	if (url->transport == SL_REDIS_UNIX)
		r = redisConnectUnixWithTimeout(url->path, tv);
	else
		r = redisConnectWithTimeout(url->host, url->port, tv);
	if (!r) {
		snprintf(why, len, "connect: out of memory");
		return NULL;
	}
	if (r->err) {
		context_error(r, "connect", why, len);
		goto fail;
	}
	if (redisSetTimeout(r, tv) != REDIS_OK) {
		context_error(r, "setting the timeout", why, len);
		goto fail;
	}
	if (url->password[0]) {
		argc = 0;
		argv[argc++] = "AUTH";
		if (url->user[0])
			argv[argc++] = url->user;
		argv[argc++] = url->password;
		for (int i = 0; i < argc; i++)
			lens[i] = strlen(argv[i]);
		rep = command(r, argc, argv, lens, "AUTH", why, len);
		if (!rep)
			goto fail;
		if (rep->type == REDIS_REPLY_ERROR) {
			snprintf(why, len, "authentication failed: %s", rep->str);
			*config = settings_refused(rep);
			freeReplyObject(rep);
			goto fail;
		}
		freeReplyObject(rep);
	}
	if (url->db) {
		snprintf(db, sizeof(db), "%u", url->db);
		argv[0] = "SELECT";
		argv[1] = db;
		lens[0] = 6;
		lens[1] = strlen(db);
		rep = command(r, 2, argv, lens, "SELECT", why, len);
		if (!rep)
			goto fail;
		if (rep->type == REDIS_REPLY_ERROR) {
			snprintf(why, len, "database %u: %s", url->db, rep->str);
			*config = settings_refused(rep);
			freeReplyObject(rep);
			goto fail;
		}
		freeReplyObject(rep);
	}
	argv[0] = "SCRIPT";
	argv[1] = "LOAD";
	argv[2] = sync_script;
	lens[0] = 6;
	lens[1] = 4;
	lens[2] = sizeof(sync_script) - 1;
	doing = "loading the sync script";
	rep = command(r, 3, argv, lens, doing, why, len);
	if (!rep)
		goto fail;
	if (rep->type != REDIS_REPLY_STRING) {
		snprintf(why, len, "%s: %s", doing,
			 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
		/* NOAUTH: Redis wants a password the URL does not give. */
		*config = rep->type == REDIS_REPLY_ERROR && settings_refused(rep);
		freeReplyObject(rep);
		goto fail;
	}
	if (sha)
		snprintf(sha, SHA_LEN, "%s", rep->str);
	freeReplyObject(rep);
	return r;
fail:
	redisFree(r);
	return NULL;
}

/* A host name that does not resolve is a typo, not an outage. */
static int check_host(const struct sl_redis_url *url, char *why, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int ret;

	if (url->transport != SL_REDIS_TCP)
		return 0;
	ret = getaddrinfo(url->host, NULL, &hints, &res);
	if (!ret) {
		freeaddrinfo(res);
		return 0;
	}
	snprintf(why, len, "host %s: %s", url->host, gai_strerror(ret));
	return ret == EAI_NONAME ? -EINVAL : -EAGAIN;
}

int cluster__probe(const struct sl_cluster_conf *conf, struct sl_error *err)
{
	struct timeval tv = { PROBE_TIMEOUT_MS / 1000, PROBE_TIMEOUT_MS % 1000 * 1000 };
	char url[SL_CLUSTER_TEXT_LEN], why[SL_ERR_LEN / 2];
	redisContext *r;
	bool config;
	int ret;

	redis_url_format(&conf->url, url, sizeof(url));
	ret = check_host(&conf->url, why, sizeof(why));
	if (ret) {
		snprintf(err->msg, sizeof(err->msg), "cluster %s: %s", url, why);
		return ret;
	}
	r = redis_open(&conf->url, tv, NULL, why, sizeof(why), &config);
	if (!r) {
		snprintf(err->msg, sizeof(err->msg), "cluster %s: %s", url, why);
		return config ? -EINVAL : -EHOSTUNREACH;
	}
	redisFree(r);
	return 0;
}

static void disconnect(struct sl_cluster *c)
{
	if (c->redis)
		redisFree(c->redis);
	c->redis = NULL;
}

struct request {
	int argc;
	const char **argv;
	size_t *lens;
	char *text;		/* numbers and names, NUL-separated */
	struct ckey **keys;	/* in argument order */
	unsigned n_keys;
};

static void request_free(struct request *q)
{
	free(q->argv);
	free(q->lens);
	free(q->text);
	free(q->keys);
	memset(q, 0, sizeof(*q));
}

/* A key's name and three numbers fit in this, with room to spare. */
#define KEY_ARGS_TEXT	(SL_NAME_LEN + INET6_ADDRSTRLEN + 16 + 3 * 24)

/*
 * The script's arguments for every live key. Slots 0-2 of argv stay free
 * for EVALSHA SHA 0 (or EVAL SCRIPT 0).
 */
static int request_build(struct sl_cluster *c, struct request *q, __u64 now)
{
	size_t n = 0, i, off = 0, cap;
	char *p;

	memset(q, 0, sizeof(*q));
	q->keys = calloc(c->keys.n + 1, sizeof(*q->keys));
	if (!q->keys)
		return -ENOMEM;
	for (i = 0; i < c->keys.n; i++)
		if (key_live(c, &c->keys.v[i], now))
			q->keys[q->n_keys++] = &c->keys.v[i];
	cap = sizeof(c->node) + 128 + q->n_keys * KEY_ARGS_TEXT;
	q->argv = calloc(8 + ARGS_PER_KEY * q->n_keys, sizeof(*q->argv));
	q->lens = calloc(8 + ARGS_PER_KEY * q->n_keys, sizeof(*q->lens));
	q->text = malloc(cap);
	if (!q->argv || !q->lens || !q->text) {
		request_free(q);
		return -ENOMEM;
	}
#define ADD(...) do {							\
		p = q->text + off;					\
		q->lens[3 + n] = snprintf(p, cap - off, __VA_ARGS__);	\
		q->argv[3 + n++] = p;					\
		off += q->lens[3 + n - 1] + 1;				\
	} while (0)
	ADD("%s", KEY_PREFIX);
	ADD("%s", c->node);
	ADD("%llu", (unsigned long long)(WINDOW_SYNCS * c->conf.sync_ns / NS_PER_MS));
	ADD("%llu", (unsigned long long)(c->conf.ttl_ns / NS_PER_MS));
	ADD("%u", q->n_keys);
	for (i = 0; i < q->n_keys; i++) {
		const struct ckey *e = q->keys[i];
		const struct crule *r = &c->rules[e->rule];
		char name[SL_NAME_LEN + INET6_ADDRSTRLEN + 16];

		key_name(r, &e->key, name, sizeof(name));
		ADD("%s", name);
		if (r->rate >= 0) {
			ADD("%llu", e->d_offered);
			ADD("%llu", e->d_admitted);
		} else {
			ADD("-1");
			ADD("-1");
		}
		ADD("%lld", r->conns < 0 ? -1ll : e->conns > 0 ? (long long)e->conns : 0);
	}
#undef ADD
	q->argc = 3 + n;
	return 0;
}

static bool reply_int(const redisReply *r, long long *v)
{
	if (r->type != REDIS_REPLY_INTEGER)
		return false;
	*v = r->integer;
	return true;
}

/* Runs the script; the reply, or NULL with why filled. */
static redisReply *run_sync(struct sl_cluster *c, struct request *q, char *why,
			    size_t len)
{
	redisReply *rep;

	q->argv[0] = "EVALSHA";
	q->argv[1] = c->sha;
	q->argv[2] = "0";
	q->lens[0] = 7;
	q->lens[1] = strlen(c->sha);
	q->lens[2] = 1;
	rep = command(c->redis, q->argc, q->argv, q->lens, "sync", why, len);
	/* A Redis restarted or flushed forgot the script: send it whole,
	 * which also caches it again. */
	if (rep && rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8)) {
		freeReplyObject(rep);
		q->argv[0] = "EVAL";
		q->argv[1] = sync_script;
		q->lens[0] = 4;
		q->lens[1] = sizeof(sync_script) - 1;
		rep = command(c->redis, q->argc, q->argv, q->lens, "sync", why, len);
	}
	if (rep && rep->type == REDIS_REPLY_ERROR) {
		snprintf(why, len, "sync script: %s", rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	if (rep && (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 + q->n_keys)) {
		snprintf(why, len, "sync script: unexpected reply");
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* ---------------------------------------------------------------- limits */

/* The local limits of a key at a rate share and a connection allowance. */
static void local_limits(const struct crule *r, uint64_t share, uint64_t conns,
			 struct sl_clu_limits *out)
{
	unsigned i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < r->rule.n_limits && i < SL_MAX_LIMITS; i++) {
		const struct sl_limit *g = &r->rule.limits[i];

		if (g->kind == SL_LIMIT_RATE) {
			budget_local_rate(g, share, &out->limits[i]);
		} else if (g->kind == SL_LIMIT_CONNS) {
			out->limits[i] = *g;
			out->limits[i].conns.max = conns;
		}
	}
}

/* The rule's conns limit, the whole cluster's; 0 without one. */
static uint64_t conns_max(const struct crule *r)
{
	return r->conns >= 0 ? r->rule.limits[r->conns].conns.max : 0;
}

/*
 * One key's part of the script's reply: { the other live hosts'
 * connections, then per host (this one first) its previous and current
 * window's offered and admitted units }. Sets the key's share, figures and
 * local limits.
 */
static int apply_reply(struct sl_cluster *c, struct ckey *e, const redisReply *r,
		       __u64 elapsed_ms, unsigned hosts)
{
	const struct crule *rule = &c->rules[e->rule];
	__u64 window_ms = WINDOW_SYNCS * c->conf.sync_ns / NS_PER_MS;
	double secs = window_ms / 1000.0, *demand, admitted;
	long long v[4], others;
	unsigned n, i, j;

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 5 || (r->elements - 1) % 4 ||
	    !reply_int(r->element[0], &others) || others < 0)
		return -EPROTO;
	n = (r->elements - 1) / 4;
	demand = calloc(n, sizeof(*demand));
	if (!demand)
		return -ENOMEM;
	e->adm_cluster = 0;
	for (i = 0; i < n; i++) {
		for (j = 0; j < 4; j++) {
			if (!reply_int(r->element[1 + 4 * i + j], &v[j])) {
				free(demand);
				return -EPROTO;
			}
		}
		demand[i] = budget_window_estimate(v[0], v[1], elapsed_ms, window_ms) / secs;
		admitted = budget_window_estimate(v[2], v[3], elapsed_ms, window_ms) / secs;
		e->adm_cluster += admitted;
		if (!i)
			e->adm_host = admitted;
	}
	e->share = rule->rate >= 0 ? budget_share(demand, n, 0, hosts, rule->limit) :
				     SL_SHARE_ONE;
	free(demand);
	e->conns_cluster = (e->conns > 0 ? e->conns : 0) + others;
	local_limits(rule, e->share, budget_local_conns(conns_max(rule), others),
		     &e->limits);
	return 0;
}

/* Without Redis: 1/hosts of every limit. */
static void fallback_limits(struct sl_cluster *c, struct ckey *e, unsigned hosts)
{
	const struct crule *rule = &c->rules[e->rule];

	e->share = budget_fallback_share(hosts);
	e->adm_host = (double)e->d_admitted * NS_PER_S / c->conf.sync_ns;
	e->adm_cluster = -1;
	e->conns_cluster = -1;
	local_limits(rule, e->share, budget_fallback_conns(conns_max(rule), hosts),
		     &e->limits);
}

struct adopt {
	struct sl_cluster *c;
	struct sl_key *orphans;
	size_t n, cap;
};

static int adopt_one(const void *key, const void *value, void *arg)
{
	struct adopt *a = arg;
	struct ckey *e = ktable_find(&a->c->keys, key);
	struct sl_key *v;

	if (e) {
		e->applied = true;
		memcpy(&e->kernel, value, sizeof(e->kernel));
		return 0;
	}
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 64;
		v = realloc(a->orphans, a->cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->orphans = v;
	}
	memcpy(&a->orphans[a->n++], key, sizeof(*v));
	return 0;
}

/*
 * A fresh round takes over the local limits it finds for keys it knows
 * and removes the rest, left by a daemon that stopped or a rule that went.
 */
static void adopt_limits(struct sl_cluster *c, const struct round_fds *f)
{
	struct adopt a = { .c = c };
	size_t i;

	if (!batch__for_each(f->lim, sizeof(struct sl_key), sizeof(struct sl_clu_limits),
			     adopt_one, &a))
		for (i = 0; i < a.n; i++)
			bpf_map_delete_elem(f->lim, &a.orphans[i]);
	free(a.orphans);
}

/*
 * Brings sl_clulim in line with this round: changed limits in batches,
 * entries of keys no longer synced deleted. Idle keys also leave sl_clucnt,
 * so a scan reads only what is live; a packet counted between the scan and
 * that delete is missing from the report, one packet, never a budget. A
 * key that finds the map full keeps spending the rule's own limits and is
 * tried again next round.
 */
static void write_limits(struct sl_cluster *c, const struct round_fds *f,
			 const struct ktable *old, __u64 now)
{
	size_t cap = c->keys.n + 1, i;
	struct sl_key *keys = calloc(cap, sizeof(*keys));
	struct sl_clu_limits *vals = calloc(cap, sizeof(*vals));
	struct ckey **who = calloc(cap, sizeof(*who));
	__u32 n = 0, done, cnt;

	if (!keys || !vals || !who)
		goto out;
	for (i = 0; i < c->keys.n; i++) {
		struct ckey *e = &c->keys.v[i];

		if (!key_live(c, e, now)) {
			if (e->applied)
				bpf_map_delete_elem(f->lim, &e->key);
			if (e->counted)
				bpf_map_delete_elem(f->cnt, &e->key);
			e->applied = false;
			continue;
		}
		if (e->applied && !memcmp(&e->kernel, &e->limits, sizeof(e->limits)))
			continue;
		keys[n] = e->key;
		vals[n] = e->limits;
		who[n++] = e;
	}
	for (done = 0; done < n;) {
		cnt = n - done;
		if (!bpf_map_update_batch(f->lim, keys + done, vals + done, &cnt, NULL))
			cnt = n - done;
		for (i = done; i < done + cnt; i++) {
			who[i]->kernel = who[i]->limits;
			who[i]->applied = true;
		}
		/* The one that failed (the map is full) is skipped. */
		done += cnt + (done + cnt < n);
	}
	/* Keys of rules gone from the rule set, or evicted from sl_clucnt. */
	for (i = 0; i < old->n; i++)
		if (old->v[i].applied && !ktable_find(&c->keys, &old->v[i].key))
			bpf_map_delete_elem(f->lim, &old->v[i].key);
out:
	free(keys);
	free(vals);
	free(who);
}

/* Asks Redis; 0 with every live key's limits computed, or -1 with why. */
static int sync_redis(struct sl_cluster *c, __u64 now, char *why, size_t len)
{
	long long now_ms, elapsed, hosts;
	struct request q;
	redisReply *rep;
	bool config;
	unsigned i;

	if (!c->redis) {
		c->redis = redis_open(&c->conf.url, c->timeout, c->sha, why, len, &config);
		if (!c->redis)
			return -1;
	}
	if (request_build(c, &q, now)) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	rep = run_sync(c, &q, why, len);
	if (!rep) {
		if (c->redis->err)
			disconnect(c);
		request_free(&q);
		return -1;
	}
	if (!reply_int(rep->element[0], &now_ms) || !reply_int(rep->element[1], &elapsed) ||
	    !reply_int(rep->element[2], &hosts) || hosts < 1)
		goto bad;
	for (i = 0; i < q.n_keys; i++)
		if (apply_reply(c, q.keys[i], rep->element[3 + i], elapsed, hosts))
			goto bad;
	c->hosts = hosts;
	freeReplyObject(rep);
	request_free(&q);
	return 0;
bad:
	snprintf(why, len, "sync script: unexpected reply");
	freeReplyObject(rep);
	request_free(&q);
	return -1;
}

/* Per rule, for the metrics: shares, admitted rates and connections. */
static void update_stats(struct sl_cluster *c, __u64 now, bool ok)
{
	struct sl_cluster_stats *s = c->stats;
	unsigned i, live = 0;
	size_t k;

	pthread_mutex_lock(c->lock);
	s->enabled = true;
	s->fallback = c->st.state == SL_CLUSTER_FALLBACK;
	s->hosts = c->hosts;
	s->syncs_ok = c->st.syncs_ok;
	s->syncs_failed = c->st.syncs_failed;
	if (ok)
		s->last_ok_time = now_ns(CLOCK_REALTIME) / 1e9;
	s->n_rules = c->n_rules;
	for (i = 0; i < c->n_rules; i++) {
		struct sl_cluster_rule_stats *r = &s->rules[i];

		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", c->rules[i].name);
		r->has_rate = c->rules[i].rate >= 0;
		r->has_conns = c->rules[i].conns >= 0;
		r->admitted_cluster = ok ? 0 : -1;
		r->conns_cluster = ok ? 0 : -1;
	}
	for (k = 0; k < c->keys.n; k++) {
		const struct ckey *e = &c->keys.v[k];
		struct sl_cluster_rule_stats *r;

		if (!key_live(c, e, now))
			continue;
		live++;
		r = &s->rules[e->rule];
		r->keys++;
		r->share += (double)e->share / SL_SHARE_ONE;
		r->admitted_host += e->adm_host;
		if (ok)
			r->admitted_cluster += e->adm_cluster;
		r->conns_host += e->conns > 0 ? e->conns : 0;
		if (ok)
			r->conns_cluster += e->conns_cluster;
	}
	for (i = 0; i < c->n_rules; i++)
		if (s->rules[i].keys)
			s->rules[i].share /= s->rules[i].keys;
	s->keys = live;
	c->st.keys = live;
	pthread_mutex_unlock(c->lock);
}

static void write_status(struct sl_cluster *c, int fd)
{
	__u32 zero = 0;

	c->st.updated_ns = now_ns(CLOCK_MONOTONIC);
	c->st.hosts = c->hosts;
	bpf_map_update_elem(fd, &zero, &c->st, BPF_ANY);
}

/* Logs the change between synced and fallback, once each way. */
static void transition(struct sl_cluster *c, bool ok, const char *why, __u64 now)
{
	if (ok) {
		c->st.syncs_ok++;
		c->st.last_ok_ns = now;
		c->st.error[0] = '\0';
		if (c->st.state == SL_CLUSTER_FALLBACK)
			say(c, "info",
			    "cluster: %s answers again after %.1fs in fallback; shares from Redis, %u hosts, %u keys",
			    c->server, (now - c->st.since_ns) / 1e9, c->hosts, c->st.keys);
		else if (c->st.state != SL_CLUSTER_SYNCED)
			say(c, "info", "cluster: node %s synced with %s: %u hosts, %u keys",
			    c->node, c->server, c->hosts, c->st.keys);
		if (c->st.state != SL_CLUSTER_SYNCED)
			c->st.since_ns = now;
		c->st.state = SL_CLUSTER_SYNCED;
		c->last_error[0] = '\0';
		return;
	}
	c->st.syncs_failed++;
	snprintf(c->st.error, sizeof(c->st.error), "%s", why);
	if (c->st.state != SL_CLUSTER_FALLBACK) {
		say(c, "warning",
		    "cluster: sync with %s failed (%s): falling back to local shares, 1/%u of each scope cluster limit%s",
		    c->server, why, c->hosts,
		    c->st.last_ok_ns ? "" : " (no sync yet)");
		c->st.state = SL_CLUSTER_FALLBACK;
		c->st.since_ns = now;
		pthread_mutex_lock(c->lock);
		c->stats->fallbacks++;
		pthread_mutex_unlock(c->lock);
	} else if (strcmp(why, c->last_error)) {
		say(c, "warning", "cluster: still in fallback: %s", why);
	}
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
}

static void sync_round(struct sl_cluster *c)
{
	__u64 now = now_ns(CLOCK_MONOTONIC);
	char why[SL_CLUSTER_TEXT_LEN];
	struct ktable old, next = {};
	struct round_fds f;
	struct scan s;
	size_t i;
	int ret;
	bool ok;

	if (open_round(c, &f, why, sizeof(why))) {
		if (!c->pins_missing)
			say(c, "error", "cluster: %s; syncing again once sluice is attached", why);
		c->pins_missing = true;
		return;
	}
	if (c->pins_missing) {
		/* New pins may be new maps: nothing known of them holds. */
		ktable_free(&c->keys);
		c->have_rules = false;
		c->fresh = true;
		c->pins_missing = false;
	}
	ret = read_rules(c, &f);
	if (ret) {
		say(c, "error", "cluster: reading the rule set: %s", strerror(-ret));
		goto out;
	}
	s = (struct scan){ .c = c, .next = &next, .old = &c->keys, .now = now };
	ret = batch__for_each(f.cnt, sizeof(struct sl_key),
			      sizeof(struct sl_clu_count) * c->ncpus, scan_count, &s);
	if (!ret)
		ret = batch__for_each(f.conns, sizeof(struct sl_key), sizeof(__s64),
				      scan_conns, &s);
	if (!ret)
		ret = add_global_keys(c, &next, &c->keys);
	if (ret) {
		say(c, "error", "cluster: reading this host's counts: %s", strerror(-ret));
		ktable_free(&next);
		goto out;
	}
	old = c->keys;
	c->keys = next;
	if (c->fresh)
		adopt_limits(c, &f);

	ok = !sync_redis(c, now, why, sizeof(why));
	if (!ok)
		for (i = 0; i < c->keys.n; i++)
			if (key_live(c, &c->keys.v[i], now))
				fallback_limits(c, &c->keys.v[i], c->hosts);
	write_limits(c, &f, &old, now);
	ktable_free(&old);
	c->fresh = false;
	update_stats(c, now, ok);
	transition(c, ok, why, now);
	write_status(c, f.status);
out:
	close_round(&f);
}

/* --detach-on-exit: this host leaves the cluster now, not after the TTL. */
static void leave(struct sl_cluster *c)
{
	size_t n = 2, i, len = 0;
	const char **argv = calloc(c->keys.n + 5, sizeof(*argv));
	char *names = malloc(c->keys.n * (SL_NAME_LEN + INET6_ADDRSTRLEN + 16) + 1);
	redisReply *rep;
	char why[128];

	if (!c->redis || !argv || !names)
		goto out;
	argv[0] = "EVAL";
	argv[1] = leave_script;
	argv[2] = "0";
	argv[3] = KEY_PREFIX;
	argv[4] = c->node;
	n = 5;
	for (i = 0; i < c->keys.n; i++) {
		const struct ckey *e = &c->keys.v[i];

		if (e->rule < 0 || c->rules[e->rule].conns < 0)
			continue;
		key_name(&c->rules[e->rule], &e->key, names + len,
			 SL_NAME_LEN + INET6_ADDRSTRLEN + 16);
		argv[n++] = names + len;
		len += strlen(names + len) + 1;
	}
	rep = command(c->redis, n, argv, NULL, "leaving", why, sizeof(why));
	if (rep)
		freeReplyObject(rep);
	else
		say(c, "warning", "cluster: %s", why);
out:
	free(argv);
	free(names);
}

static void *run(void *arg)
{
	struct sl_cluster *c = arg;
	struct pollfd fds[2] = {
		{ .fd = c->stop_fd, .events = POLLIN },
		{ .fd = c->timer_fd, .events = POLLIN },
	};
	char sync[16], ttl[16];
	__u64 ticks;

	say(c, "info", "cluster: node %s syncing with %s every %s, reports kept %s",
	    c->node, c->server, duration_text(c->conf.sync_ns, sync, sizeof(sync)),
	    duration_text(c->conf.ttl_ns, ttl, sizeof(ttl)));
	sync_round(c);
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			say(c, "error", "cluster: poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents)
			break;
		if ((fds[1].revents & POLLIN) &&
		    read(c->timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks))
			sync_round(c);
	}
	if (c->leave_on_stop)
		leave(c);
	return NULL;
}

int cluster__read_status(const char *ifname, struct sl_cluster_status *st)
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd, ret = 0;

	fd = bpf_obj_get(pins__path(path, sizeof(path), ifname, SL_MAP_CLU_STATUS));
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, st))
		ret = -errno;
	close(fd);
	return ret;
}

int cluster__default_node(char *buf, size_t len)
{
	char host[256] = "", *dot;

	if (gethostname(host, sizeof(host)))
		return -errno;
	host[sizeof(host) - 1] = '\0';
	/* The short name, as the node statement would spell it. */
	dot = strchr(host, '.');
	if (dot && dot != host)
		*dot = '\0';
	snprintf(buf, len, "%s", host);
	return 0;
}

int cluster__start(struct sl_cluster **out, const struct sl_cluster_opts *opts,
		   struct sl_error *err)
{
	__u64 half = opts->conf->sync_ns / 2;
	struct itimerspec its = {
		.it_interval = { opts->conf->sync_ns / NS_PER_S, opts->conf->sync_ns % NS_PER_S },
		.it_value = { opts->conf->sync_ns / NS_PER_S, opts->conf->sync_ns % NS_PER_S },
	};
	struct sl_cluster_status prev;
	struct sl_cluster *c;
	int ret;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	snprintf(c->ifname, sizeof(c->ifname), "%s", opts->ifname);
	c->conf = *opts->conf;
	snprintf(c->node, sizeof(c->node), "%s", opts->node);
	redis_url_format(&c->conf.url, c->server, sizeof(c->server));
	c->leave_on_stop = opts->leave_on_stop;
	c->log = opts->log;
	c->log_ctx = opts->log_ctx;
	c->stats = opts->stats;
	c->lock = opts->lock;
	c->timeout.tv_sec = half / NS_PER_S;
	c->timeout.tv_usec = half % NS_PER_S / 1000;
	c->ncpus = libbpf_num_possible_cpus();
	c->fresh = true;
	/* Without Redis at start, divide by the hosts the last daemon saw. */
	c->hosts = !cluster__read_status(c->ifname, &prev) && prev.hosts ? prev.hosts : 1;
	c->st.pid = getpid();
	c->st.sync_ns = c->conf.sync_ns;
	c->st.ttl_ns = c->conf.ttl_ns;
	snprintf(c->st.node, sizeof(c->st.node), "%s", c->node);
	snprintf(c->st.server, sizeof(c->st.server), "%s", c->server);
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (c->ncpus < 0 || c->stop_fd < 0 || c->timer_fd < 0 ||
	    timerfd_settime(c->timer_fd, 0, &its, NULL)) {
		ret = c->ncpus < 0 ? c->ncpus : -errno;
		snprintf(err->msg, sizeof(err->msg), "cluster: starting the sync: %s",
			 strerror(-ret));
		goto fail;
	}
	pthread_mutex_lock(c->lock);
	c->stats->enabled = true;
	c->stats->hosts = c->hosts;
	pthread_mutex_unlock(c->lock);
	ret = -pthread_create(&c->thread, NULL, run, c);
	if (ret) {
		snprintf(err->msg, sizeof(err->msg), "cluster: starting the sync thread: %s",
			 strerror(-ret));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	if (c->timer_fd >= 0)
		close(c->timer_fd);
	free(c);
	return ret;
}

void cluster__stop(struct sl_cluster *c)
{
	__u64 one = 1;

	if (!c)
		return;
	if (write(c->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(c->thread, NULL);
	disconnect(c);
	close(c->stop_fd);
	close(c->timer_fd);
	ktable_free(&c->keys);
	free(c);
}
