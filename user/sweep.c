// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "batch.h"
#include "sweep.h"

struct conn_count {
	struct sl_key key;
	__s64 count;
};

struct counts {
	struct conn_count *v;
	size_t n, cap;
};

static int counts_add(struct counts *c, const struct sl_key *key, __s64 count)
{
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 1024;
		struct conn_count *nv = realloc(c->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n].key = *key;
	c->v[c->n++].count = count;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct conn_count *)a)->key,
		      &((const struct conn_count *)b)->key, sizeof(struct sl_key));
}

/* Sorts and sums entries of the same key. */
static void counts_settle(struct counts *c)
{
	size_t i, w = 0;

	/* qsort's array must not be NULL even when empty (UBSan). */
	if (c->n)
		qsort(c->v, c->n, sizeof(*c->v), key_cmp);
	for (i = 0; i < c->n; i++) {
		if (w && !key_cmp(&c->v[w - 1], &c->v[i]))
			c->v[w - 1].count += c->v[i].count;
		else
			c->v[w++] = c->v[i];
	}
	c->n = w;
}

static const struct conn_count *counts_find(const struct counts *c,
					    const struct sl_key *key)
{
	struct conn_count probe = { .key = *key };

	if (!c->n)
		return NULL;
	return bsearch(&probe, c->v, c->n, sizeof(*c->v), key_cmp);
}

int sweep__ctl(int ctl_fd, struct sl_ctl *ctl)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctl,
		    .ctx_size_in = sizeof(*ctl));

	return bpf_prog_test_run_opts(ctl_fd, &opts) ? -errno : 0;
}

struct idle_flow {
	struct sl_flow_key key;
	__u32 state;
};

struct scan {
	int ctl_fd;
	__u64 now;
	__u64 half_open_ns, established_ns;
	bool release;		/* release idle flows; otherwise count them */
	struct counts *expected;
	struct sl_sweep_result *res;
	struct idle_flow *idle;
	size_t n_idle, cap_idle;
};

static int scan_flow(const void *key, const void *value, void *arg)
{
	const struct sl_flow *flow = value;
	struct scan *s = arg;
	/* last_seen_ns may lag the last packet by up to one refresh. */
	__u64 timeout = (flow->state == SL_FLOW_SYN ? s->half_open_ns :
						      s->established_ns) +
			SL_FLOW_REFRESH_NS;
	__u32 i;
	int ret;

	if (s->release) {
		if (s->now < flow->last_seen_ns || s->now - flow->last_seen_ns <= timeout)
			return 0;
		if (s->n_idle == s->cap_idle) {
			size_t ncap = s->cap_idle ? s->cap_idle * 2 : 256;
			struct idle_flow *nv = realloc(s->idle, ncap * sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			s->idle = nv;
			s->cap_idle = ncap;
		}
		memcpy(&s->idle[s->n_idle].key, key, sizeof(s->idle->key));
		s->idle[s->n_idle++].state = flow->state;
		return 0;
	}
	s->res->flows++;
	for (i = 0; i < flow->n_keys && i < SL_FLOW_RULES; i++) {
		ret = counts_add(s->expected, &flow->keys[i], 1);
		if (ret)
			return ret;
	}
	return 0;
}

static int scan_count(const void *key, const void *value, void *arg)
{
	return counts_add(arg, key, *(const __s64 *)value);
}

static int release_idle(const struct sl_maps *maps, struct scan *s)
{
	size_t i;
	int ret;

	s->release = true;
	ret = batch__for_each(maps->flows, sizeof(struct sl_flow_key), sizeof(struct sl_flow),
		       scan_flow, s);
	for (i = 0; !ret && i < s->n_idle; i++) {
		struct sl_ctl ctl = { .op = SL_CTL_RELEASE, .flow = s->idle[i].key };
		bool half_open = s->idle[i].state == SL_FLOW_SYN;

		ret = sweep__ctl(s->ctl_fd, &ctl);
		if (!ret && ctl.result == 1) {
			if (half_open)
				s->res->released_half_open++;
			else
				s->res->released_idle++;
		}
	}
	s->release = false;
	return ret;
}

/*
 * Counts are read before and after the flow table; a key whose count did
 * not move meanwhile and still disagrees with its flows is corrected. A key
 * that moved is left for the next sweep: it was busy, not wrong.
 */
static int reconcile(const struct sl_maps *maps, struct scan *s)
{
	struct counts before = {}, after = {}, expected = {};
	size_t i;
	int ret;

	s->expected = &expected;
	ret = batch__for_each(maps->conns, sizeof(struct sl_key), sizeof(__s64), scan_count,
		       &before);
	if (!ret)
		ret = batch__for_each(maps->flows, sizeof(struct sl_flow_key),
			       sizeof(struct sl_flow), scan_flow, s);
	if (!ret)
		ret = batch__for_each(maps->conns, sizeof(struct sl_key), sizeof(__s64),
			       scan_count, &after);
	if (ret)
		goto out;
	counts_settle(&before);
	counts_settle(&after);
	counts_settle(&expected);

	for (i = 0; i < after.n && !ret; i++) {
		const struct conn_count *b = counts_find(&before, &after.v[i].key);
		const struct conn_count *e = counts_find(&expected, &after.v[i].key);
		__s64 want = e ? e->count : 0;
		struct sl_ctl ctl = { .conn = after.v[i].key };

		if (!b || b->count != after.v[i].count)
			continue;
		if (want != after.v[i].count) {
			ctl.op = SL_CTL_ADJUST;
			ctl.delta = want - after.v[i].count;
			ret = sweep__ctl(s->ctl_fd, &ctl);
			s->res->adjusted += !ret;
		} else if (!want) {
			ctl.op = SL_CTL_DROP_IF_ZERO;
			ret = sweep__ctl(s->ctl_fd, &ctl);
			s->res->dropped += !ret && ctl.result == 1;
		}
	}
	/* Flows whose count entry is missing altogether, in both reads. */
	for (i = 0; i < expected.n && !ret; i++) {
		struct sl_ctl ctl = { .op = SL_CTL_ADJUST, .conn = expected.v[i].key };

		if (counts_find(&before, &ctl.conn) || counts_find(&after, &ctl.conn))
			continue;
		ctl.delta = expected.v[i].count;
		ret = sweep__ctl(s->ctl_fd, &ctl);
		s->res->adjusted += !ret;
	}
out:
	free(before.v);
	free(after.v);
	free(expected.v);
	return ret;
}

int sweep__run(const struct sl_maps *maps, int ctl_fd, __u64 now_ns,
	       struct sl_sweep_result *res, struct sl_error *err)
{
	struct scan s = { .ctl_fd = ctl_fd, .now = now_ns, .res = res };
	struct sl_cfg cfg;
	__u32 zero = 0;
	int ret;

	memset(res, 0, sizeof(*res));
	if (bpf_map_lookup_elem(maps->cfg, &zero, &cfg)) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "reading %s: %s", SL_MAP_CFG,
			 strerror(-ret));
		return ret;
	}
	s.half_open_ns = cfg.half_open_ns;
	s.established_ns = cfg.established_ns;

	ret = release_idle(maps, &s);
	if (!ret)
		ret = reconcile(maps, &s);
	free(s.idle);
	if (ret)
		snprintf(err->msg, sizeof(err->msg), "sweeping connections: %s",
			 strerror(-ret));
	return ret;
}
