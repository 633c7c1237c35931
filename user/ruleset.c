// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Compiling a rule set into the inactive generation and flipping to it.
 *
 * The data path reads sl_cfg.gen once per packet and then only tables of
 * that generation, so everything here writes the other generation and
 * publishes it with the last update: the data path reads only gen's lowest
 * bit, which lives in one byte, so a reader can never see a torn slot.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "batch.h"
#include "bans.h"
#include "breaker.h"
#include "ruleset.h"
#include "sluice_cluster.h"
#include "sluice_limiter.h"

#define NS_PER_MS	1000000ull

struct slot_map {
	bool used[SL_MAX_RULES];
};

/* A prefix of one family with what it contributes and what it inherits. */
struct src_entry {
	struct sl_cidr cidr;
	__u32 own;		/* SL_SRC_OWN_* */
	__u64 own_rules;	/* rules listing exactly this prefix in "from" */
	struct sl_src_val val;
};

static int fail(struct sl_error *err, int ret, const char *what)
{
	snprintf(err->msg, sizeof(err->msg), "%s: %s", what, strerror(-ret));
	return ret;
}

static int read_cfg(const struct sl_maps *maps, struct sl_cfg *cfg)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(maps->cfg, &zero, cfg) ? -errno : 0;
}

static int write_cfg(const struct sl_maps *maps, const struct sl_cfg *cfg)
{
	__u32 zero = 0;

	return bpf_map_update_elem(maps->cfg, &zero, cfg, BPF_ANY) ? -errno : 0;
}

static void limit_to_abi(const struct sl_limit_spec *spec, struct sl_limit *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->kind = spec->kind;
	lim->unit = spec->unit;
	switch (spec->kind) {
	case SL_LIMIT_WINDOW:
		lim->window.period_ns = spec->period_ns;
		lim->window.max = spec->count;
		break;
	case SL_LIMIT_CONNS:
		lim->conns.max = spec->count;
		break;
	default:
		lim->rate.interval_fp = sl_gcra_interval_fp(spec->period_ns, spec->count);
		lim->rate.tolerance_ns =
			sl_gcra_tolerance_ns(lim->rate.interval_fp, spec->burst,
					     spec->unit == SL_UNIT_BYTES);
		break;
	}
}

/* Demand is counted in the unit of the rule's first rate, which the share
 * of every rate is computed from. */
static __u8 cluster_flags(const struct sl_rule_spec *spec)
{
	unsigned i;

	if (!spec->cluster)
		return 0;
	for (i = 0; i < spec->n_limits; i++)
		if (spec->limits[i].kind == SL_LIMIT_RATE)
			return SL_CLUSTER_ON | (spec->limits[i].unit == SL_UNIT_BYTES ?
						SL_CLUSTER_BYTES : 0);
	return SL_CLUSTER_ON;
}

static bool same_key(const struct sl_rule *old, const struct sl_rule_spec *spec)
{
	return old->key_type == spec->key_type && old->prefix4 == spec->prefix4 &&
	       old->prefix6 == spec->prefix6;
}

static void set_ban_policy(const struct sl_rule_spec *spec, struct sl_rule *r)
{
	r->ban_after = spec->ban_after;
	if (!spec->ban_after)
		return;
	r->ban_families = spec->families ? spec->families :
			  (1u << SL_FAM_IP4) | (1u << SL_FAM_IP6);
	r->ban_within_ns = spec->ban_within_ns;
	r->ban_for_ns = spec->ban_for_ns;
	r->ban_max_ns = spec->ban_max_ns;
	r->ban_count.kind = SL_LIMIT_WINDOW;
	r->ban_count.unit = SL_UNIT_PACKETS;
	r->ban_count.window.period_ns = spec->ban_within_ns;
	r->ban_count.window.max = spec->ban_after - 1;
}

/* The data path's clock: bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Rules keep their counter slot and, while their key is unchanged, the uid
 * that names their limiter state: a reload never resets a budget. Nor
 * does it restart a warm-up: that begins when a rule is created (a new
 * name, or a new key and so fresh budgets), so a warm-up added to a rule
 * that has been running for longer than it has nothing left to ramp.
 */
/* See SL_RULE_F_REMEMBER. A ban counts every limited packet: a rule with
 * a ban policy walks until its ban, which then drops before the walk. */
static bool refusals_repeat(const struct sl_rule_spec *spec)
{
	unsigned i;

	/* A scope cluster rule counts every packet it sees as demand. */
	if (spec->action != SL_ACT_DROP || spec->cluster || spec->ban_after)
		return false;
	for (i = 0; i < spec->n_limits; i++)
		if (spec->limits[i].kind != SL_LIMIT_RATE)
			return false;
	return true;
}

static int assign_rules(const struct sl_maps *maps, const struct sl_config *conf,
			struct sl_cfg *cfg, struct sl_rule *out)
{
	const struct sl_gen_hdr *hdr = &cfg->hdr[cfg->gen & 1];
	struct sl_rule old[SL_MAX_RULES];
	char old_name[SL_MAX_RULES][SL_NAME_LEN];
	bool kept[SL_MAX_RULES] = {};
	struct slot_map slots = {};
	unsigned i, j, n_old = hdr->n_rules;
	__u64 now = monotonic_ns();
	int ret;

	for (i = 0; i < n_old && i < SL_MAX_RULES; i++) {
		__u32 index = SL_RULE_INDEX(cfg->gen & 1, i);
		struct sl_rule_text text;

		if (bpf_map_lookup_elem(maps->rules, &index, &old[i]) ||
		    bpf_map_lookup_elem(maps->rtext, &index, &text))
			return -errno;
		memcpy(old_name[i], text.name, SL_NAME_LEN);
		old_name[i][SL_NAME_LEN - 1] = '\0';
	}

	for (i = 0; i < conf->n_rules; i++) {
		const struct sl_rule_spec *spec = &conf->rules[i];

		memset(&out[i], 0, sizeof(out[i]));
		out[i].slot = SL_MAX_RULES;
		for (j = 0; j < n_old; j++) {
			if (strcmp(old_name[j], spec->name))
				continue;
			out[i].slot = old[j].slot;
			out[i].uid = same_key(&old[j], spec) ? old[j].uid : 0;
			out[i].warm_start_ns = old[j].warm_start_ns;
			slots.used[old[j].slot] = true;
			kept[i] = true;
			break;
		}
	}

	for (i = 0; i < conf->n_rules; i++) {
		const struct sl_rule_spec *spec = &conf->rules[i];
		struct sl_rule *r = &out[i];

		if (!kept[i]) {
			for (j = 0; j < SL_MAX_RULES && slots.used[j]; j++)
				;
			slots.used[j] = true;
			r->slot = j;
			ret = batch__zero_percpu(maps->rcnt, j,
						 sizeof(struct sl_rule_counter));
			if (ret)
				return ret;
		}
		/* uid 0 is never handed out, so it marks "needs a fresh one". */
		if (!r->uid) {
			r->uid = ++cfg->next_uid ? cfg->next_uid : ++cfg->next_uid;
			r->warm_start_ns = now;
		}
		r->warmup_ns = spec->warmup_ns;
		r->action = spec->action;
		r->mark = spec->mark;
		r->on_full = spec->on_full;
		r->key_type = spec->key_type;
		r->prefix4 = spec->prefix4;
		r->prefix6 = spec->prefix6;
		r->n_limits = spec->n_limits;
		for (j = 0; j < spec->n_limits; j++) {
			limit_to_abi(&spec->limits[j], &r->limits[j]);
			if (spec->limits[j].kind == SL_LIMIT_CONNS)
				r->conns_limit = j + 1;
		}
		r->flags = refusals_repeat(spec) ? SL_RULE_F_REMEMBER : 0;
		r->cluster = cluster_flags(spec);
		set_ban_policy(spec, r);
	}
	return 0;
}

static bool rule_has_family(const struct sl_rule_spec *spec, int fam)
{
	return !spec->families || (spec->families & (1u << fam));
}

static bool rule_has_proto(const struct sl_rule_spec *spec, int proto)
{
	if (spec->proto)
		return spec->proto == proto;
	/* Ports exist only for TCP and UDP, so "dport" alone means those two. */
	if (spec->n_ports)
		return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
	return true;
}

static bool rule_has_port(const struct sl_rule_spec *spec, unsigned port)
{
	unsigned i;

	if (!spec->n_ports)
		return true;
	for (i = 0; i < spec->n_ports; i++)
		if (port >= spec->ports[i].lo && port <= spec->ports[i].hi)
			return true;
	return false;
}

static int write_classifiers(const struct sl_maps *maps,
			     const struct sl_config *conf, __u32 gen,
			     struct sl_gen_hdr *hdr)
{
	__u32 keys[65536];
	__u64 *vals;
	unsigned i, fam, p;
	__u32 count;
	int ret = 0;

	vals = calloc(65536, sizeof(*vals));
	if (!vals)
		return -ENOMEM;

	memset(hdr, 0, sizeof(*hdr));
	hdr->n_rules = conf->n_rules;
	for (i = 0; i < conf->n_rules; i++) {
		hdr->active |= 1ull << i;
		if (conf->rules[i].syn)
			hdr->syn |= 1ull << i;
		for (unsigned j = 0; j < conf->rules[i].n_limits; j++)
			if (conf->rules[i].limits[j].kind == SL_LIMIT_CONNS)
				hdr->conns |= 1ull << i;
	}

	count = SL_FAMILIES * 256;
	for (fam = 0; fam < SL_FAMILIES; fam++) {
		for (p = 0; p < 256; p++) {
			__u64 bits = 0;

			for (i = 0; i < conf->n_rules; i++)
				if (rule_has_family(&conf->rules[i], fam) &&
				    rule_has_proto(&conf->rules[i], p))
					bits |= 1ull << i;
			keys[fam * 256 + p] = SL_L4_INDEX(gen, fam, p);
			vals[fam * 256 + p] = bits;
		}
	}
	if (bpf_map_update_batch(maps->l4, keys, vals, &count, NULL)) {
		ret = -errno;
		goto out;
	}

	for (p = 0; p < 65536; p++) {
		__u64 bits = 0;

		for (i = 0; i < conf->n_rules; i++)
			if (rule_has_port(&conf->rules[i], p))
				bits |= 1ull << i;
		keys[p] = SL_DPORT_INDEX(gen, p);
		vals[p] = bits;
	}
	count = 65536;
	if (bpf_map_update_batch(maps->dport, keys, vals, &count, NULL))
		ret = -errno;
out:
	free(vals);
	return ret;
}

static int write_rules(const struct sl_maps *maps, const struct sl_config *conf,
		       __u32 gen, const struct sl_rule *rules)
{
	unsigned i;

	for (i = 0; i < conf->n_rules; i++) {
		__u32 index = SL_RULE_INDEX(gen, i);
		struct sl_rule_text text = {};

		snprintf(text.name, sizeof(text.name), "%s", conf->rules[i].name);
		snprintf(text.text, sizeof(text.text), "%s", conf->rules[i].text);
		if (bpf_map_update_elem(maps->rules, &index, &rules[i], BPF_ANY) ||
		    bpf_map_update_elem(maps->rtext, &index, &text, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* Address order, shorter prefix first: a prefix's covering prefixes precede it. */
static int cidr_cmp(const void *a, const void *b)
{
	const struct src_entry *x = a, *y = b;
	int c = memcmp(x->cidr.addr, y->cidr.addr, 16);

	if (c)
		return c;
	return (int)x->cidr.prefixlen - (int)y->cidr.prefixlen;
}

static bool cidr_covers(const struct sl_cidr *outer, const struct sl_cidr *inner)
{
	unsigned bits = outer->prefixlen, i;

	if (outer->prefixlen > inner->prefixlen)
		return false;
	for (i = 0; i < bits / 8; i++)
		if (outer->addr[i] != inner->addr[i])
			return false;
	if (bits % 8) {
		__u8 mask = 0xff00 >> (bits % 8);

		if ((outer->addr[i] ^ inner->addr[i]) & mask)
			return false;
	}
	return true;
}

static struct src_entry *add_entry(struct src_entry **v, size_t *n, size_t *cap,
				   const struct sl_cidr *cidr)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct src_entry *nv = realloc(*v, ncap * sizeof(**v));

		if (!nv)
			return NULL;
		*v = nv;
		*cap = ncap;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].cidr = *cidr;
	return &(*v)[(*n)++];
}

/*
 * Gathers every prefix of one family with its own flags and rules, then
 * resolves inheritance in one sweep over the sorted prefixes: a stack holds
 * the chain of prefixes covering the current one, so each entry's effective
 * value is its own plus its closest cover's. LPM returns only the longest
 * match, so the inherited bits must be in the entry itself.
 */
static int build_src_entries(const struct sl_config *conf, int fam,
			     struct src_entry **out, size_t *out_n)
{
	struct src_entry *v = NULL, **stack = NULL;
	size_t n = 0, cap = 0, depth = 0, i, w;
	__u64 nofrom = 0;
	unsigned r, c;

	/* The root every other prefix inherits from, and the entry for
	 * addresses no prefix covers: rules without "from" apply there. */
	if (!add_entry(&v, &n, &cap, &(struct sl_cidr){ .family = fam }))
		goto nomem;
	for (i = 0; i < conf->n_allow + conf->n_deny; i++) {
		bool deny = i >= conf->n_allow;
		const struct sl_cidr *cidr = deny ? &conf->deny[i - conf->n_allow] :
						    &conf->allow[i];
		struct src_entry *e;

		if (cidr->family != fam)
			continue;
		e = add_entry(&v, &n, &cap, cidr);
		if (!e)
			goto nomem;
		e->own = deny ? SL_SRC_OWN_DENY : SL_SRC_OWN_ALLOW;
	}
	for (r = 0; r < conf->n_rules; r++) {
		const struct sl_rule_spec *spec = &conf->rules[r];

		if (!spec->n_from)
			nofrom |= 1ull << r;
		for (c = 0; c < spec->n_from; c++) {
			struct src_entry *e;

			if (spec->from[c].family != fam)
				continue;
			e = add_entry(&v, &n, &cap, &spec->from[c]);
			if (!e)
				goto nomem;
			e->own_rules = 1ull << r;
		}
	}

	qsort(v, n, sizeof(*v), cidr_cmp);
	/* Merge duplicates: the same prefix named as allow, deny and "from". */
	for (i = 0, w = 0; i < n; i++) {
		if (w && !cidr_cmp(&v[w - 1], &v[i])) {
			v[w - 1].own |= v[i].own;
			v[w - 1].own_rules |= v[i].own_rules;
			continue;
		}
		v[w++] = v[i];
	}
	n = w;

	stack = calloc(n ? n : 1, sizeof(*stack));
	if (!stack)
		goto nomem;
	for (i = 0; i < n; i++) {
		struct src_entry *e = &v[i];

		while (depth && !cidr_covers(&stack[depth - 1]->cidr, &e->cidr))
			depth--;
		e->val.flags = e->own;
		if (e->own & SL_SRC_OWN_ALLOW)
			e->val.flags |= SL_SRC_ALLOW;
		if (e->own & SL_SRC_OWN_DENY)
			e->val.flags |= SL_SRC_DENY;
		e->val.rules = nofrom | e->own_rules;
		if (depth) {
			const struct sl_src_val *up = &stack[depth - 1]->val;

			e->val.flags |= up->flags & (SL_SRC_ALLOW | SL_SRC_DENY);
			e->val.rules |= up->rules;
		}
		stack[depth++] = e;
	}
	free(stack);

	*out = v;
	*out_n = n;
	return 0;
nomem:
	free(v);
	return -ENOMEM;
}

static void src_key(int fam, __u32 gen, const struct sl_cidr *cidr, void *key)
{
	if (fam == SL_FAM_IP4) {
		struct sl_src4_key *k = key;

		memset(k, 0, sizeof(*k));
		k->prefixlen = 8 + cidr->prefixlen;
		k->gen = gen;
		memcpy(k->addr, cidr->addr, 4);
	} else {
		struct sl_src6_key *k = key;

		memset(k, 0, sizeof(*k));
		k->prefixlen = 8 + cidr->prefixlen;
		k->gen = gen;
		memcpy(k->addr, cidr->addr, 16);
	}
}

/* Deletes every entry of generation gen: what is left from two flips ago. */
static int clear_src_gen(int fd, int fam, __u32 gen)
{
	size_t key_size = fam == SL_FAM_IP4 ? sizeof(struct sl_src4_key) :
					      sizeof(struct sl_src6_key);
	__u8 prev[sizeof(struct sl_src6_key)], cur[sizeof(struct sl_src6_key)];
	__u8 *keys = NULL;
	size_t n = 0, cap = 0, i;
	bool first = true;
	int ret = 0;

	/* Collect first: deleting while walking would restart the walk. */
	while (!bpf_map_get_next_key(fd, first ? NULL : prev, cur)) {
		first = false;
		memcpy(prev, cur, key_size);
		if (((struct sl_src4_key *)cur)->gen != gen)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			__u8 *nk = realloc(keys, ncap * key_size);

			if (!nk) {
				ret = -ENOMEM;
				goto out;
			}
			keys = nk;
			cap = ncap;
		}
		memcpy(keys + n++ * key_size, cur, key_size);
	}
	if (errno != ENOENT) {
		ret = -errno;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (bpf_map_delete_elem(fd, keys + i * key_size) && errno != ENOENT) {
			ret = -errno;
			goto out;
		}
	}
out:
	free(keys);
	return ret;
}

static int write_sources(const struct sl_maps *maps, const struct sl_config *conf,
			 __u32 gen)
{
	int fam, ret;

	for (fam = 0; fam < SL_FAMILIES; fam++) {
		int fd = fam == SL_FAM_IP4 ? maps->src4 : maps->src6;
		struct src_entry *v;
		__u8 key[sizeof(struct sl_src6_key)];
		size_t n, i;

		ret = clear_src_gen(fd, fam, gen);
		if (ret)
			return ret;
		ret = build_src_entries(conf, fam, &v, &n);
		if (ret)
			return ret;
		for (i = 0; i < n; i++) {
			src_key(fam, gen, &v[i].cidr, key);
			if (bpf_map_update_elem(fd, key, &v[i].val, BPF_ANY)) {
				ret = -errno;
				break;
			}
		}
		free(v);
		if (ret)
			return ret;
	}
	return 0;
}

static void set_timeouts(const struct sl_config *conf, struct sl_cfg *cfg)
{
	cfg->half_open_ns = conf->half_open_ns ? conf->half_open_ns :
						 SL_DEFAULT_HALF_OPEN_NS;
	cfg->established_ns = conf->established_ns ? conf->established_ns :
						     SL_DEFAULT_ESTABLISHED_NS;
	cfg->key_timeout_ns = conf->key_timeout_ns ? conf->key_timeout_ns :
						     SL_DEFAULT_KEY_TIMEOUT_NS;
}

static void set_reject_limit(const struct sl_config *conf, struct sl_cfg *cfg)
{
	struct sl_limit_spec spec = conf->reject_limit;
	struct sl_limit lim;

	if (!spec.count) {
		spec.kind = SL_LIMIT_RATE;
		spec.unit = SL_UNIT_PACKETS;
		spec.count = SL_DEFAULT_REJECT_COUNT;
		spec.period_ns = SL_DEFAULT_REJECT_PERIOD_NS;
		spec.burst = SL_DEFAULT_REJECT_BURST;
	}
	limit_to_abi(&spec, &lim);
	cfg->reject_interval_fp = lim.rate.interval_fp;
	cfg->reject_tolerance_ns = lim.rate.tolerance_ns;
	cfg->reject_count = conf->reject_limit.count;
	cfg->reject_period_ns = conf->reject_limit.period_ns;
	cfg->reject_burst = conf->reject_limit.burst;
}

/* The jiffy, as the coarse clock reports its resolution; 0 if it will not. */
static __u64 clock_tick_ns(void)
{
	struct timespec res;

	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res))
		return 0;
	return (__u64)res.tv_sec * 1000000000ull + res.tv_nsec;
}

static void set_event_limit(const struct sl_config *conf, struct sl_cfg *cfg)
{
	struct sl_limit_spec spec = conf->event_limit;

	if (!spec.count) {
		spec.kind = SL_LIMIT_RATE;
		spec.unit = SL_UNIT_PACKETS;
		spec.count = SL_DEFAULT_EVENT_COUNT;
		spec.period_ns = SL_DEFAULT_EVENT_PERIOD_NS;
		spec.burst = SL_DEFAULT_EVENT_BURST;
	}
	limit_to_abi(&spec, &cfg->event_limit);
	cfg->event_count = conf->event_limit.count;
	cfg->event_period_ns = conf->event_limit.period_ns;
	cfg->event_burst = conf->event_limit.burst;
}

int ruleset__apply(const struct sl_maps *maps, const struct sl_config *conf,
		   struct sl_error *err)
{
	struct sl_rule rules[SL_MAX_RULES];
	struct sl_cfg cfg;
	__u32 next;
	int ret;

	ret = read_cfg(maps, &cfg);
	if (ret)
		return fail(err, ret, "reading the active rule set");
	next = !(cfg.gen & 1);

	ret = assign_rules(maps, conf, &cfg, rules);
	if (!ret)
		ret = write_rules(maps, conf, next, rules);
	if (!ret)
		ret = write_classifiers(maps, conf, next, &cfg.hdr[next]);
	if (!ret)
		ret = write_sources(maps, conf, next);
	if (ret)
		return fail(err, ret, "writing the new rule set");
	ret = bans__plan(maps, rules, conf->n_rules, &cfg, err);
	/* Breakers are not generations: each one changes on its own, so
	 * they change only once nothing else can fail. */
	if (!ret)
		ret = breakers__apply(maps, conf, &cfg, monotonic_ns(), err);
	if (ret)
		return ret;

	/* First publish the new generation's header beside the live one, then
	 * flip: two updates, each changing nothing the data path reads but
	 * what is meant to change. gen counts rule sets; the data path reads
	 * only its lowest bit, which lives in one byte, so a reader racing the
	 * update never sees a torn slot number. */
	cfg.malformed = conf->malformed;
	cfg.tick_ns = clock_tick_ns();
	cfg.refusal_slots = conf->refusals;
	set_timeouts(conf, &cfg);
	set_reject_limit(conf, &cfg);
	set_event_limit(conf, &cfg);
	ret = write_cfg(maps, &cfg);
	if (!ret) {
		cfg.gen++;
		ret = write_cfg(maps, &cfg);
	}
	if (ret)
		return fail(err, ret, "switching to the new rule set");
	return 0;
}

static int read_sources(int fd, int fam, __u32 gen, struct sl_config *conf)
{
	__u8 prev[sizeof(struct sl_src6_key)], cur[sizeof(struct sl_src6_key)];
	size_t key_size = fam == SL_FAM_IP4 ? sizeof(struct sl_src4_key) :
					      sizeof(struct sl_src6_key);
	size_t addr_len = fam == SL_FAM_IP4 ? 4 : 16;
	struct sl_src_val val;
	bool first = true;
	int ret;

	while (!bpf_map_get_next_key(fd, first ? NULL : prev, cur)) {
		const struct sl_src4_key *k = (const void *)cur;
		struct sl_cidr cidr = { .family = fam };

		first = false;
		memcpy(prev, cur, key_size);
		if (k->gen != gen || k->prefixlen < 8)
			continue;
		if (bpf_map_lookup_elem(fd, cur, &val))
			continue;	/* deleted under us: it was not in gen */
		cidr.prefixlen = k->prefixlen - 8;
		memcpy(cidr.addr, cur + offsetof(struct sl_src4_key, addr), addr_len);
		if (val.flags & SL_SRC_OWN_ALLOW) {
			ret = config_add_cidr(conf, false, &cidr);
			if (ret)
				return ret;
		}
		if (val.flags & SL_SRC_OWN_DENY) {
			ret = config_add_cidr(conf, true, &cidr);
			if (ret)
				return ret;
		}
	}
	return errno == ENOENT ? 0 : -errno;
}

int ruleset__read(const struct sl_maps *maps, struct sl_config *conf,
		  struct sl_error *err)
{
	struct sl_cfg cfg;
	__u32 gen, i;
	int ret;

	ret = read_cfg(maps, &cfg);
	if (ret)
		return fail(err, ret, "reading the active rule set");
	gen = cfg.gen & 1;
	conf->malformed = cfg.malformed;
	/* Defaults stay implicit, so a set read back and applied again is
	 * the same set. */
	if (cfg.half_open_ns != SL_DEFAULT_HALF_OPEN_NS)
		conf->half_open_ns = cfg.half_open_ns;
	if (cfg.established_ns != SL_DEFAULT_ESTABLISHED_NS)
		conf->established_ns = cfg.established_ns;
	if (cfg.key_timeout_ns != SL_DEFAULT_KEY_TIMEOUT_NS)
		conf->key_timeout_ns = cfg.key_timeout_ns;
	conf->refusals = cfg.refusal_slots;
	if (cfg.reject_count) {
		conf->reject_limit.kind = SL_LIMIT_RATE;
		conf->reject_limit.unit = SL_UNIT_PACKETS;
		conf->reject_limit.count = cfg.reject_count;
		conf->reject_limit.period_ns = cfg.reject_period_ns;
		conf->reject_limit.burst = cfg.reject_burst;
	}
	if (cfg.event_count) {
		conf->event_limit.kind = SL_LIMIT_RATE;
		conf->event_limit.unit = SL_UNIT_PACKETS;
		conf->event_limit.count = cfg.event_count;
		conf->event_limit.period_ns = cfg.event_period_ns;
		conf->event_limit.burst = cfg.event_burst;
	}
	conf->malformed_set = true;

	for (i = 0; i < cfg.hdr[gen].n_rules && i < SL_MAX_RULES; i++) {
		__u32 index = SL_RULE_INDEX(gen, i);
		struct sl_rule_text text;
		struct sl_error perr;

		if (bpf_map_lookup_elem(maps->rtext, &index, &text))
			return fail(err, -errno, "reading the active rules");
		text.text[sizeof(text.text) - 1] = '\0';
		ret = config_parse_line(conf, text.text, NULL, 0, &perr);
		if (ret) {
			/* Only another version of sluice could have written it. */
			snprintf(err->msg, sizeof(err->msg),
				 "pinned rule %u (\"%s\") does not parse: %s", i,
				 text.text, perr.msg);
			return ret;
		}
	}
	ret = read_sources(maps->src4, SL_FAM_IP4, gen, conf);
	if (!ret)
		ret = read_sources(maps->src6, SL_FAM_IP6, gen, conf);
	if (ret)
		return fail(err, ret, "reading the allow and deny sets");
	return breakers__read_config(maps, &cfg, conf, err);
}

int ruleset__restart_warmup(const struct sl_maps *maps, const char *name,
			    __u64 now_ns)
{
	struct sl_rule_text text;
	struct sl_rule rule;
	struct sl_cfg cfg;
	__u32 gen, i;
	int ret;

	ret = read_cfg(maps, &cfg);
	if (ret)
		return ret;
	gen = cfg.gen & 1;
	for (i = 0; i < cfg.hdr[gen].n_rules && i < SL_MAX_RULES; i++) {
		__u32 index = SL_RULE_INDEX(gen, i);

		if (bpf_map_lookup_elem(maps->rtext, &index, &text))
			return -errno;
		if (strncmp(text.name, name, sizeof(text.name)))
			continue;
		if (bpf_map_lookup_elem(maps->rules, &index, &rule))
			return -errno;
		if (!rule.warmup_ns)
			return 0;
		/*
		 * The entry is rewritten whole, but only this aligned word
		 * changes, so a packet reading the rule meanwhile sees either
		 * start. The next rule set carries it over from here.
		 */
		rule.warm_start_ns = now_ns;
		if (bpf_map_update_elem(maps->rules, &index, &rule, BPF_EXIST))
			return -errno;
		/*
		 * Refusals remembered under the old stretch (struct
		 * sl_refusal) would outlast what the restarted ramp allows.
		 * Moving the generation on by two keeps the same tables live
		 * and makes the data path forget them.
		 */
		ret = read_cfg(maps, &cfg);
		if (ret)
			return ret;
		cfg.gen += 2;
		ret = write_cfg(maps, &cfg);
		return ret ? ret : 1;
	}
	return -ENOENT;
}

int ruleset__set_dry_run(const struct sl_maps *maps, bool dry_run)
{
	struct sl_cfg cfg;
	int ret;

	ret = read_cfg(maps, &cfg);
	if (ret)
		return ret;
	cfg.dry_run = dry_run;
	return write_cfg(maps, &cfg);
}
