// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "bans.h"
#include "batch.h"
#include "sweep.h"

/* Prefix lengths per family, longest first. */
struct plens {
	__u8 n[SL_FAMILIES];
	__u8 len[SL_FAMILIES][SL_BAN_PLENS];
	__u8 full;		/* the family that ran out of room, + 1 */
};

static int plens_add(struct plens *p, unsigned fam, __u8 len)
{
	unsigned i, n = p->n[fam];

	for (i = 0; i < n; i++)
		if (p->len[fam][i] == len)
			return 0;
	if (n == SL_BAN_PLENS) {
		p->full = fam + 1;
		return -ENOSPC;
	}
	for (i = n; i > 0 && p->len[fam][i - 1] < len; i--)
		p->len[fam][i] = p->len[fam][i - 1];
	p->len[fam][i] = len;
	p->n[fam] = n + 1;
	return 0;
}

static int plens_add_rules(struct plens *p, const struct sl_rule *rules,
			   unsigned n)
{
	unsigned i, fam;
	int ret;

	for (i = 0; i < n; i++) {
		if (!rules[i].ban_after)
			continue;
		for (fam = 0; fam < SL_FAMILIES; fam++) {
			if (!(rules[i].ban_families & (1u << fam)))
				continue;
			ret = plens_add(p, fam, fam == SL_FAM_IP4 ? rules[i].prefix4 :
								   rules[i].prefix6);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int add_entry_plen(const void *key, const void *value, void *arg)
{
	const struct sl_ban_key *k = key;

	return plens_add(arg, k->family & 1, k->prefixlen);
}

/* Every entry's length: an ended ban costs lookups until it is forgotten,
 * but no clock decides what the data path may skip. */
static int plens_add_entries(struct plens *p, const struct sl_maps *maps)
{
	return batch__for_each(maps->bans, sizeof(struct sl_ban_key),
			       sizeof(struct sl_ban), add_entry_plen, p);
}

static void plens_from_cfg(struct plens *p, const struct sl_cfg *cfg)
{
	unsigned fam;

	memset(p, 0, sizeof(*p));
	for (fam = 0; fam < SL_FAMILIES; fam++) {
		p->n[fam] = cfg->ban_nplens[fam] <= SL_BAN_PLENS ?
			    cfg->ban_nplens[fam] : SL_BAN_PLENS;
		memcpy(p->len[fam], cfg->ban_plens[fam], SL_BAN_PLENS);
	}
}

/* Returns whether cfg changed. */
static bool plens_to_cfg(const struct plens *p, struct sl_cfg *cfg)
{
	struct plens old;
	unsigned fam;

	plens_from_cfg(&old, cfg);
	if (!memcmp(&old, p, sizeof(old)))
		return false;
	for (fam = 0; fam < SL_FAMILIES; fam++) {
		cfg->ban_nplens[fam] = p->n[fam];
		memcpy(cfg->ban_plens[fam], p->len[fam], SL_BAN_PLENS);
	}
	return true;
}

static void plens_list(const struct plens *p, unsigned fam, char *buf, size_t len)
{
	size_t off = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < p->n[fam] && off < len; i++)
		off += snprintf(buf + off, len - off, "%s/%u", i ? ", " : "",
				p->len[fam][i]);
}

static const char *family_text(unsigned fam)
{
	return fam == SL_FAM_IP4 ? "IPv4" : "IPv6";
}

/* The rules of the generation cfg names as active. */
static int read_active_rules(const struct sl_maps *maps, const struct sl_cfg *cfg,
			     struct sl_rule *rules, unsigned *n)
{
	__u32 gen = cfg->gen & 1, i;

	*n = cfg->hdr[gen].n_rules < SL_MAX_RULES ? cfg->hdr[gen].n_rules :
						    SL_MAX_RULES;
	for (i = 0; i < *n; i++) {
		__u32 index = SL_RULE_INDEX(gen, i);

		if (bpf_map_lookup_elem(maps->rules, &index, &rules[i]))
			return -errno;
	}
	return 0;
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

static int fail(struct sl_error *err, int ret, const char *what)
{
	snprintf(err->msg, sizeof(err->msg), "%s: %s", what, strerror(-ret));
	return ret;
}

void bans__key(const struct sl_cidr *cidr, struct sl_ban_key *key)
{
	memset(key, 0, sizeof(*key));
	key->family = cidr->family;
	key->prefixlen = cidr->prefixlen;
	memcpy(key->addr, cidr->addr, sizeof(key->addr));
}

void bans__format_addr(__u8 family, __u8 prefixlen, const __u8 *addr,
		       char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	unsigned full = family == SL_FAM_IP4 ? 32 : 128;

	inet_ntop(family == SL_FAM_IP4 ? AF_INET : AF_INET6, addr, text,
		  sizeof(text));
	if (prefixlen >= full)
		snprintf(buf, len, "%s", text);
	else
		snprintf(buf, len, "%s/%u", text, prefixlen);
}

struct entries {
	struct sl_ban_entry *v;
	size_t n, cap;
};

static int collect(const void *key, const void *value, void *arg)
{
	struct entries *e = arg;

	if (e->n == e->cap) {
		size_t ncap = e->cap ? e->cap * 2 : 64;
		struct sl_ban_entry *nv = realloc(e->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		e->v = nv;
		e->cap = ncap;
	}
	memcpy(&e->v[e->n].key, key, sizeof(e->v->key));
	memcpy(&e->v[e->n].ban, value, sizeof(e->v->ban));
	e->n++;
	return 0;
}

int bans__read(const struct sl_maps *maps, struct sl_ban_entry **out, size_t *n)
{
	struct entries e = {};
	int ret;

	ret = batch__for_each(maps->bans, sizeof(struct sl_ban_key),
			      sizeof(struct sl_ban), collect, &e);
	if (ret) {
		free(e.v);
		return ret;
	}
	*out = e.v;
	*n = e.n;
	return 0;
}

struct counting {
	__u64 now;
	struct sl_ban_counts *c;
};

static int count_one(const void *key, const void *value, void *arg)
{
	const struct sl_ban *ban = value;
	struct counting *k = arg;

	k->c->entries++;
	if (k->now < ban->expires_ns) {
		k->c->active++;
		if (ban->flags & SL_BAN_MANUAL)
			k->c->manual++;
	}
	return 0;
}

int bans__count(const struct sl_maps *maps, __u64 now, struct sl_ban_counts *c)
{
	struct counting k = { .now = now, .c = c };
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	memset(c, 0, sizeof(*c));
	if (bpf_obj_get_info_by_fd(maps->bans, &info, &len))
		return -errno;
	c->capacity = info.max_entries;
	return batch__for_each(maps->bans, sizeof(struct sl_ban_key),
			       sizeof(struct sl_ban), count_one, &k);
}

int bans__plan(const struct sl_maps *maps, const struct sl_rule *rules,
	       unsigned n_rules, struct sl_cfg *cfg, struct sl_error *err)
{
	struct sl_rule old[SL_MAX_RULES];
	struct plens p = {}, tried;
	char lens[64];
	unsigned n_old, fam;
	int ret;

	ret = plens_add_rules(&p, rules, n_rules);
	if (!ret)
		ret = plens_add_entries(&p, maps);
	if (ret == -ENOSPC) {
		fam = p.full - 1;
		plens_list(&p, fam, lens, sizeof(lens));
		snprintf(err->msg, sizeof(err->msg),
			 "bans would need more than %d %s prefix lengths (%s and more, counting the ban table's entries); wait for old bans to be forgotten or delete them with sluice ban del",
			 SL_BAN_PLENS, family_text(fam), lens);
		return -EINVAL;
	}
	if (ret)
		return fail(err, ret, "reading the ban table");
	/* Packets of the replaced set still in flight may ban at its lengths;
	 * if there is no room, the next refresh finds their bans. */
	ret = read_active_rules(maps, cfg, old, &n_old);
	if (ret)
		return fail(err, ret, "reading the active rules");
	tried = p;
	if (plens_add_rules(&tried, old, n_old))
		tried = p;
	tried.full = 0;
	plens_to_cfg(&tried, cfg);
	return 0;
}

int bans__refresh(const struct sl_maps *maps, struct sl_error *err)
{
	struct sl_rule rules[SL_MAX_RULES];
	struct plens p = {};
	struct sl_cfg cfg;
	unsigned n;
	int ret;

	ret = read_cfg(maps, &cfg);
	if (!ret)
		ret = read_active_rules(maps, &cfg, rules, &n);
	if (ret)
		return fail(err, ret, "reading the active rule set");
	ret = plens_add_rules(&p, rules, n);
	if (!ret)
		ret = plens_add_entries(&p, maps);
	/* Only more lengths than were ever allowed could overflow: keep the
	 * lengths as they are rather than drop one that is in use. */
	if (ret)
		return fail(err, ret, "finding the prefix lengths bans use");
	if (plens_to_cfg(&p, &cfg)) {
		ret = write_cfg(maps, &cfg);
		if (ret)
			return fail(err, ret, "writing the ban prefix lengths");
	}
	return 0;
}

int bans__add(const struct sl_maps *maps, const struct sl_cidr *cidr,
	      __u64 duration_ns, __u64 now, struct sl_error *err)
{
	struct sl_ban ban = { .start_ns = now, .flags = SL_BAN_MANUAL }, old;
	struct sl_ban_key key;
	struct sl_cfg cfg;
	struct plens p;
	char lens[64];
	int ret;

	bans__key(cidr, &key);
	ret = read_cfg(maps, &cfg);
	if (ret)
		return fail(err, ret, "reading the configuration");
	plens_from_cfg(&p, &cfg);
	if (plens_add(&p, key.family, key.prefixlen)) {
		plens_list(&p, key.family, lens, sizeof(lens));
		snprintf(err->msg, sizeof(err->msg),
			 "bans already use %d %s prefix lengths (%s), the most the data path looks up; ban at one of those lengths",
			 SL_BAN_PLENS, family_text(key.family), lens);
		return -EINVAL;
	}
	/* The length first: the ban holds from the moment it is written. */
	if (plens_to_cfg(&p, &cfg)) {
		ret = write_cfg(maps, &cfg);
		if (ret)
			return fail(err, ret, "writing the ban prefix lengths");
	}
	ban.expires_ns = duration_ns ? now + duration_ns : SL_BAN_FOREVER;
	ban.forget_ns = ban.expires_ns;
	if (!bpf_map_lookup_elem(maps->bans, &key, &old)) {
		ban.offences = old.offences;
		if (old.forget_ns > ban.forget_ns)
			ban.forget_ns = old.forget_ns;
	}
	if (bpf_map_update_elem(maps->bans, &key, &ban, BPF_ANY)) {
		ret = -errno;
		if (ret == -E2BIG) {
			snprintf(err->msg, sizeof(err->msg),
				 "the ban table is full (%u entries)", SL_BAN_CAPACITY);
			return ret;
		}
		return fail(err, ret, "writing the ban");
	}
	return 0;
}

int bans__del(const struct sl_maps *maps, const struct sl_cidr *cidr,
	      struct sl_error *err)
{
	struct sl_ban_key key;
	char text[INET6_ADDRSTRLEN + 4];

	bans__key(cidr, &key);
	if (bpf_map_delete_elem(maps->bans, &key)) {
		int ret = -errno;

		if (ret != -ENOENT)
			return fail(err, ret, "deleting the ban");
		bans__format_addr(key.family, key.prefixlen, key.addr, text,
				  sizeof(text));
		snprintf(err->msg, sizeof(err->msg), "%s is not banned", text);
		return ret;
	}
	return bans__refresh(maps, err);
}

struct expiring {
	__u64 now;
	struct sl_ban_key *keys;
	size_t n, cap;
};

/* Only what the sweep has to act on: ended bans not yet marked, and those
 * whose offences are forgotten. The ctl program checks again. */
static int find_expiring(const void *key, const void *value, void *arg)
{
	const struct sl_ban *ban = value;
	struct expiring *x = arg;

	if (x->now < ban->expires_ns ||
	    ((ban->flags & SL_BAN_ENDED) && x->now < ban->forget_ns))
		return 0;
	if (x->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 64;
		struct sl_ban_key *nk = realloc(x->keys, ncap * sizeof(*nk));

		if (!nk)
			return -ENOMEM;
		x->keys = nk;
		x->cap = ncap;
	}
	memcpy(&x->keys[x->n++], key, sizeof(*x->keys));
	return 0;
}

int bans__expire(const struct sl_maps *maps, int ctl_fd, __u64 now,
		 void (*ended)(const struct sl_ban_entry *e, void *arg), void *arg,
		 struct sl_ban_sweep *res, struct sl_error *err)
{
	struct expiring x = { .now = now };
	size_t i;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = batch__for_each(maps->bans, sizeof(struct sl_ban_key),
			      sizeof(struct sl_ban), find_expiring, &x);
	if (ret) {
		fail(err, ret, "reading the ban table");
		goto out;
	}
	for (i = 0; i < x.n; i++) {
		struct sl_ctl ctl = { .op = SL_CTL_BAN_EXPIRE, .ban_key = x.keys[i] };
		struct sl_ban_entry e;

		ret = sweep__ctl(ctl_fd, &ctl);
		if (ret) {
			fail(err, ret, "running sluice_ctl");
			goto out;
		}
		if (ctl.result & SL_CTL_BAN_ENDED) {
			res->ended++;
			e.key = x.keys[i];
			e.ban = ctl.ban;
			if (ended)
				ended(&e, arg);
		}
		if (ctl.result & SL_CTL_BAN_DELETED)
			res->forgotten++;
	}
	ret = bans__refresh(maps, err);
out:
	free(x.keys);
	return ret;
}
