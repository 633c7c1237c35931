// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A key is deleted between one batch read and the next, so a packet that
 * spends from it in that moment (microseconds, and only for a key that had
 * been quiet for key-timeout) loses its cost: the key's next packet starts
 * from a full bucket. The map is preallocated and the kernel hands a
 * deleted entry to the next insert at once, so a CPU that looked the key
 * up just before the delete may also charge (or refund) that one packet's
 * cost to the entry's next owner. Both are bounded by one packet per race.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "keysweep.h"
#include "sweep.h"
#include "sluice_limiter.h"

#define BATCH	4096

/*
 * The rules of the active generation, by uid. A key of any other rule is
 * left over from one deleted or re-keyed: nothing reads it again (a CPU
 * still walking the previous generation finishes within its poll), so it
 * goes at once.
 */
struct rule_table {
	struct sl_rule v[SL_MAX_RULES];
	size_t n;
};

static int uid_cmp(const void *a, const void *b)
{
	__u32 x = ((const struct sl_rule *)a)->uid, y = ((const struct sl_rule *)b)->uid;

	return x < y ? -1 : x > y;
}

static int read_rules(const struct sl_maps *maps, const struct sl_cfg *cfg,
		      struct rule_table *t)
{
	__u32 gen = cfg->gen & 1, pos;

	t->n = 0;
	for (pos = 0; pos < cfg->hdr[gen].n_rules && pos < SL_MAX_RULES; pos++) {
		__u32 index = SL_RULE_INDEX(gen, pos);

		if (bpf_map_lookup_elem(maps->rules, &index, &t->v[t->n]))
			return -errno;
		t->n++;
	}
	qsort(t->v, t->n, sizeof(t->v[0]), uid_cmp);
	return 0;
}

/* Whether every limit of rule, and its ban count, kept quiet since now - timeout. */
static bool quiet_under(const struct sl_rule *rule, const struct sl_key_state *st,
			__u64 now, __u64 timeout)
{
	unsigned i;

	for (i = 0; i < rule->n_limits && i < SL_MAX_LIMITS; i++) {
		const struct sl_limit *lim = &rule->limits[i];
		__u64 since;

		if (lim->kind == SL_LIMIT_RATE)
			since = sl_gcra_quiet_since(st->word[i], now);
		else if (lim->kind == SL_LIMIT_WINDOW)
			since = sl_window_quiet_since(st->word[i], now,
						      lim->window.period_ns);
		else
			continue;	/* conns counts live in their own map */
		if (since == SL_U64_MAX || now - since < timeout)
			return false;
	}
	/* A ban's count of limited packets is state too: deleting it would
	 * forgive offences still within the ban's window. */
	if (rule->ban_after) {
		__u64 since = sl_window_quiet_since(st->ban_window, now,
						    rule->ban_count.window.period_ns);

		if (since == SL_U64_MAX || now - since < timeout)
			return false;
	}
	return true;
}

static bool reclaimable(const struct rule_table *t, const struct sl_key *key,
			const struct sl_key_state *st, __u64 now, __u64 timeout)
{
	struct sl_rule probe = { .uid = key->rule_uid };
	const struct sl_rule *r = bsearch(&probe, t->v, t->n, sizeof(t->v[0]), uid_cmp);

	return !r || quiet_under(r, st, now, timeout);
}

/* Deletes n keys; one already gone is skipped, not allowed to stop the batch. */
static int delete_keys(int fd, struct sl_key *keys, __u32 n,
		       unsigned long long *deleted)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 done = 0;

	while (done < n) {
		__u32 count = n - done;

		if (!bpf_map_delete_batch(fd, keys + done, &count, &opts)) {
			*deleted += count;
			return 0;
		}
		if (errno != ENOENT)
			return -errno;
		*deleted += count;
		done += count + 1;
	}
	return 0;
}

static int rebuild_keyfilter(int ctl_fd)
{
	struct sl_ctl ctl = { .op = SL_CTL_KEYFILTER_REBUILD };
	int ret = sweep__ctl(ctl_fd, &ctl);

	if (!ret && ctl.result < 0)
		ret = -EIO;
	return ret;
}

static int record_pass(const struct sl_maps *maps, __u64 now)
{
	struct sl_cfg cfg;
	__u32 zero = 0;

	/* Every other byte is written back as read: the data path, which
	 * reads sl_cfg while this is copied in, sees no change but this. */
	if (bpf_map_lookup_elem(maps->cfg, &zero, &cfg))
		return -errno;
	cfg.keys_swept_ns = now;
	return bpf_map_update_elem(maps->cfg, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

int keysweep__run(const struct sl_maps *maps, int ctl_fd, __u64 now_ns,
		  struct sl_key_sweep *ks, struct sl_key_sweep_result *res,
		  struct sl_error *err)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct sl_key *keys = malloc(BATCH * sizeof(*keys));
	struct sl_key *doomed = malloc(BATCH * sizeof(*doomed));
	struct sl_key_state *vals = malloc(BATCH * sizeof(*vals));
	struct rule_table *rules = malloc(sizeof(*rules));
	__u64 timeout;
	struct sl_cfg cfg;
	__u32 zero = 0;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	if (!keys || !doomed || !vals || !rules) {
		ret = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_elem(maps->cfg, &zero, &cfg)) {
		ret = -errno;
		goto out;
	}
	timeout = cfg.key_timeout_ns ? cfg.key_timeout_ns : SL_DEFAULT_KEY_TIMEOUT_NS;
	ret = read_rules(maps, &cfg, rules);
	if (ret)
		goto out;

	if (!ks->in_pass) {
		ks->pass_read = 0;
		ks->pass_reclaimed = 0;
	}
	for (;;) {
		__u64 next = 0;
		__u32 n = BATCH, n_doomed = 0, i;
		unsigned long long deleted = 0;
		bool last = false;

		if (bpf_map_lookup_batch(maps->keys, ks->in_pass ? &ks->cursor : NULL,
					 &next, keys, vals, &n, &opts)) {
			if (errno != ENOENT) {
				ret = -errno;
				goto out;
			}
			last = true;
		}
		for (i = 0; i < n; i++)
			if (reclaimable(rules, &keys[i], &vals[i], now_ns, timeout))
				doomed[n_doomed++] = keys[i];
		ret = delete_keys(maps->keys, doomed, n_doomed, &deleted);
		if (ret)
			goto out;
		res->read += n;
		res->reclaimed += deleted;
		ks->pass_read += n;
		ks->pass_reclaimed += deleted;
		if (last) {
			ks->in_pass = false;
			res->pass_done = true;
			ret = rebuild_keyfilter(ctl_fd);
			if (!ret)
				ret = record_pass(maps, now_ns);
			break;
		}
		ks->cursor = next;
		ks->in_pass = true;
		/* A batch that might not fit is left for the next call. */
		if (ks->budget && res->read + BATCH > ks->budget)
			break;
	}
out:
	if (ret)
		snprintf(err->msg, sizeof(err->msg), "sweeping keys: %s", strerror(-ret));
	free(keys);
	free(doomed);
	free(vals);
	free(rules);
	return ret;
}
