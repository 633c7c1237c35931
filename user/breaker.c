// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "batch.h"
#include "breaker.h"
#include "stats.h"

#define NS_PER_S	1000000000ull

/* One sample step is at least within / STEPS, so a window holds at most
 * STEPS + 1 samples, within the ring. */
#define STEPS		(SL_BRK_SAMPLES - 4)

static const char *const state_names[SL_BRK_STATES] = {
	[SL_BRK_CLOSED] = "closed",
	[SL_BRK_OPEN] = "open",
	[SL_BRK_HALF_OPEN] = "half_open",
};

const char *breaker_state_name(__u32 state)
{
	return state < SL_BRK_STATES ? state_names[state] : "unknown";
}

static int fail(struct sl_error *err, int ret, const char *what)
{
	snprintf(err->msg, sizeof(err->msg), "%s: %s", what, strerror(-ret));
	return ret;
}

static int read_slots(const struct sl_maps *maps, struct sl_breaker *v)
{
	__u32 i;

	for (i = 0; i < SL_MAX_BREAKERS; i++)
		if (bpf_map_lookup_elem(maps->brk, &i, &v[i]))
			return -errno;
	return 0;
}

static int write_slot(const struct sl_maps *maps, __u32 slot,
		      const struct sl_breaker *b)
{
	return bpf_map_update_elem(maps->brk, &slot, b, BPF_ANY) ? -errno : 0;
}

static int set_port(const struct sl_maps *maps, __u32 port, __u32 value)
{
	return bpf_map_update_elem(maps->brkport, &port, &value, BPF_ANY) ? -errno : 0;
}

static int sum_counters(const struct sl_maps *maps, __u32 slot,
			struct sl_breaker_counter *sum)
{
	int ncpus = libbpf_num_possible_cpus(), cpu;
	struct sl_breaker_counter *v;
	int ret = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpus < 0)
		return ncpus;
	v = calloc(ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(maps->brkcnt, &slot, v)) {
		ret = -errno;
		goto out;
	}
	for (cpu = 0; cpu < ncpus; cpu++) {
		sum->rsts += v[cpu].rsts;
		sum->http_5xx += v[cpu].http_5xx;
		sum->responses += v[cpu].responses;
		sum->probes_ok += v[cpu].probes_ok;
		sum->probes_failed += v[cpu].probes_failed;
		sum->refused += v[cpu].refused;
	}
out:
	free(v);
	return ret;
}

static __u32 next_uid(struct sl_cfg *cfg)
{
	return ++cfg->next_uid ? cfg->next_uid : ++cfg->next_uid;
}

static void set_definition(struct sl_breaker *b, const struct sl_breaker_spec *spec)
{
	b->port = spec->port;
	b->errors = spec->errors;
	b->within_ns = spec->within_ns;
	b->open_ns = spec->open_ns;
	b->probes_max = spec->probes;
	snprintf(b->name, sizeof(b->name), "%s", spec->name);
	snprintf(b->text, sizeof(b->text), "%s", spec->text);
}

int breakers__apply(const struct sl_maps *maps, const struct sl_config *conf,
		    struct sl_cfg *cfg, __u64 now_ns, struct sl_error *err)
{
	struct sl_breaker old[SL_MAX_BREAKERS];
	int slot_of[SL_MAX_BREAKERS];
	bool used[SL_MAX_BREAKERS] = {};
	__u32 i, j;
	int ret;

	/* Nothing pinned and nothing asked for: no map to touch. */
	if (!conf->n_breakers && !cfg->breakers)
		return 0;
	ret = read_slots(maps, old);
	if (ret)
		return fail(err, ret, "reading the breakers");

	for (i = 0; i < conf->n_breakers; i++) {
		slot_of[i] = -1;
		for (j = 0; j < SL_MAX_BREAKERS; j++) {
			if (old[j].port && !strncmp(old[j].name, conf->breakers[i].name,
						    SL_NAME_LEN)) {
				slot_of[i] = j;
				used[j] = true;
				break;
			}
		}
	}

	/* Ports that lose their breaker first, so a port moving from one
	 * breaker to another never points at a slot being rewritten. */
	for (j = 0; j < SL_MAX_BREAKERS; j++) {
		bool moves = false;

		if (!old[j].port)
			continue;
		for (i = 0; i < conf->n_breakers; i++)
			if (slot_of[i] == (int)j)
				moves = conf->breakers[i].port != old[j].port;
		if (used[j] && !moves)
			continue;
		ret = set_port(maps, old[j].port, 0);
		if (!ret && !used[j]) {
			struct sl_breaker empty = {};

			ret = write_slot(maps, j, &empty);
		}
		if (ret)
			return fail(err, ret, "removing a breaker");
	}

	for (i = 0; i < conf->n_breakers; i++) {
		const struct sl_breaker_spec *spec = &conf->breakers[i];
		int slot = slot_of[i];
		struct sl_breaker b = {};

		if (slot >= 0 && old[slot].port == spec->port) {
			/* The same breaker, perhaps with new thresholds. */
			if (!strncmp(old[slot].text, spec->text, SL_BRK_TEXT_LEN))
				continue;
			b = old[slot];
		} else {
			if (slot < 0) {
				for (j = 0; j < SL_MAX_BREAKERS && used[j]; j++)
					;
				used[j] = true;
				slot = j;
			}
			b.state = SL_BRK_CLOSED;
			b.since_ns = now_ns;
			ret = batch__zero_percpu(maps->brkcnt, slot,
						 sizeof(struct sl_breaker_counter));
			if (ret)
				return fail(err, ret, "clearing a breaker's counters");
		}
		set_definition(&b, spec);
		b.uid = next_uid(cfg);
		ret = write_slot(maps, slot, &b);
		if (!ret)
			ret = set_port(maps, spec->port, slot + 1);
		if (ret)
			return fail(err, ret, "writing a breaker");
	}
	cfg->breakers = conf->n_breakers;
	return 0;
}

int breakers__read_config(const struct sl_maps *maps, const struct sl_cfg *cfg,
			  struct sl_config *conf, struct sl_error *err)
{
	struct sl_breaker v[SL_MAX_BREAKERS];
	struct sl_error perr;
	__u32 i;
	int ret;

	if (!cfg->breakers)
		return 0;
	ret = read_slots(maps, v);
	if (ret)
		return fail(err, ret, "reading the breakers");
	for (i = 0; i < SL_MAX_BREAKERS; i++) {
		if (!v[i].port)
			continue;
		v[i].text[sizeof(v[i].text) - 1] = '\0';
		ret = config_parse_line(conf, v[i].text, NULL, 0, &perr);
		if (ret) {
			/* Only another version of sluice could have written it. */
			snprintf(err->msg, sizeof(err->msg),
				 "pinned breaker %u (\"%s\") does not parse: %s", i,
				 v[i].text, perr.msg);
			return ret;
		}
	}
	return 0;
}

static void to_stats(const struct sl_breaker *b, struct sl_breaker_stats *st)
{
	memset(st, 0, sizeof(*st));
	memcpy(st->name, b->name, SL_NAME_LEN);
	st->name[SL_NAME_LEN - 1] = '\0';
	st->port = b->port;
	st->state = b->state;
	st->since_ns = b->since_ns;
	st->errors = b->errors;
	st->probes = b->probes_max;
	st->within_ns = b->within_ns;
	st->open_ns = b->open_ns;
	st->probes_left = b->state == SL_BRK_HALF_OPEN && b->probes > 0 ? b->probes : 0;
	st->probes_timed_out = b->probes_timed_out;
	memcpy(st->transitions, b->transitions, sizeof(st->transitions));
}

/* Reads the pinned breakers with their summed counters; slot[i] is where
 * out[i] lives. */
static int read_all(const struct sl_maps *maps, const struct sl_cfg *cfg,
		    struct sl_breaker *raw, struct sl_breaker_stats *out,
		    __u32 *slot, unsigned *n)
{
	__u32 i;
	int ret;

	*n = 0;
	if (!cfg->breakers)
		return 0;
	ret = read_slots(maps, raw);
	if (ret)
		return ret;
	for (i = 0; i < SL_MAX_BREAKERS; i++) {
		if (!raw[i].port)
			continue;
		to_stats(&raw[i], &out[*n]);
		ret = sum_counters(maps, i, &out[*n].c);
		if (ret)
			return ret;
		slot[(*n)++] = i;
	}
	return 0;
}

int breakers__read(const struct sl_maps *maps, const struct sl_cfg *cfg,
		   struct sl_breaker_stats *out, unsigned *n, struct sl_error *err)
{
	struct sl_breaker raw[SL_MAX_BREAKERS];
	__u32 slot[SL_MAX_BREAKERS];
	int ret = read_all(maps, cfg, raw, out, slot, n);

	return ret ? fail(err, ret, "reading the breakers") : 0;
}

static double seconds(__u64 ns)
{
	return (double)ns / NS_PER_S;
}

static __u64 elapsed(__u64 now_ns, __u64 since_ns)
{
	return now_ns > since_ns ? now_ns - since_ns : 0;
}

void breakers__print_json(FILE *f, const struct sl_breaker_stats *b, unsigned n,
			  __u64 now_ns)
{
	unsigned i;

	fputs("\"breakers\":[", f);
	for (i = 0; i < n; i++) {
		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		json_string(f, b[i].name);
		fprintf(f, ",\"service\":\"tcp/%u\",\"state\":\"%s\",\"for_s\":%.3f,"
			"\"errors\":%u,\"within_s\":%.3f,\"open_s\":%.3f,\"probes\":%u,"
			"\"probes_left\":%lld,\"counters\":{\"rsts\":%llu,\"http_5xx\":%llu,"
			"\"responses\":%llu,\"refused\":%llu,\"probes_ok\":%llu,"
			"\"probes_failed\":%llu,\"probes_timed_out\":%llu},"
			"\"transitions\":{\"closed\":%llu,\"open\":%llu,\"half_open\":%llu}}",
			b[i].port, breaker_state_name(b[i].state),
			seconds(elapsed(now_ns, b[i].since_ns)), b[i].errors,
			seconds(b[i].within_ns), seconds(b[i].open_ns), b[i].probes,
			(long long)b[i].probes_left,
			(unsigned long long)b[i].c.rsts,
			(unsigned long long)b[i].c.http_5xx,
			(unsigned long long)b[i].c.responses,
			(unsigned long long)b[i].c.refused,
			(unsigned long long)b[i].c.probes_ok,
			(unsigned long long)b[i].c.probes_failed,
			(unsigned long long)b[i].probes_timed_out,
			(unsigned long long)b[i].transitions[SL_BRK_CLOSED],
			(unsigned long long)b[i].transitions[SL_BRK_OPEN],
			(unsigned long long)b[i].transitions[SL_BRK_HALF_OPEN]);
	}
	fputc(']', f);
}

void breakers__print_text(FILE *f, const struct sl_breaker_stats *b, unsigned n,
			  __u64 now_ns)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		const struct sl_breaker_stats *x = &b[i];

		fprintf(f, "  breaker %s (tcp/%u): %s for %.1fs", x->name, x->port,
			breaker_state_name(x->state),
			seconds(elapsed(now_ns, x->since_ns)));
		if (x->state == SL_BRK_OPEN && x->since_ns + x->open_ns > now_ns)
			fprintf(f, ", half-open in %.1fs",
				seconds(x->since_ns + x->open_ns - now_ns));
		if (x->state == SL_BRK_HALF_OPEN)
			fprintf(f, ", %lld of %u probes left", (long long)x->probes_left,
				x->probes);
		fprintf(f, "; errors %llu rst + %llu http 5xx, refused %llu, opened %llu times\n",
			(unsigned long long)x->c.rsts,
			(unsigned long long)x->c.http_5xx,
			(unsigned long long)x->c.refused,
			(unsigned long long)x->transitions[SL_BRK_OPEN]);
	}
}

void sl_error_window_reset(struct sl_error_window *w, __u64 within_ns,
			   __u64 now_ns, __u64 errors)
{
	memset(w, 0, sizeof(*w));
	w->within_ns = within_ns;
	w->step_ns = within_ns / STEPS;
	w->s[0].t = now_ns;
	w->s[0].errors = errors;
	w->head = 1;
	w->n = 1;
}

__u64 sl_error_window_count(struct sl_error_window *w, __u64 now_ns, __u64 errors)
{
	unsigned tail, newest;
	__u64 base = errors;

	/* Samples from before the window can only overcount: let them go. */
	while (w->n) {
		tail = (w->head + SL_BRK_SAMPLES - w->n) % SL_BRK_SAMPLES;
		if (now_ns - w->s[tail].t <= w->within_ns || now_ns < w->s[tail].t) {
			base = w->s[tail].errors;
			break;
		}
		w->n--;
	}
	newest = (w->head + SL_BRK_SAMPLES - 1) % SL_BRK_SAMPLES;
	if (!w->n || now_ns - w->s[newest].t >= w->step_ns) {
		w->s[w->head].t = now_ns;
		w->s[w->head].errors = errors;
		w->head = (w->head + 1) % SL_BRK_SAMPLES;
		if (w->n < SL_BRK_SAMPLES)
			w->n++;
	}
	return errors > base ? errors - base : 0;
}

__u32 sl_breaker_next(const struct sl_breaker_view *v, __u64 now_ns)
{
	switch (v->state) {
	case SL_BRK_CLOSED:
		return v->window_errors >= v->errors ? SL_BRK_OPEN : SL_BRK_CLOSED;
	case SL_BRK_OPEN:
		return now_ns - v->since_ns >= v->open_ns ? SL_BRK_HALF_OPEN : SL_BRK_OPEN;
	case SL_BRK_HALF_OPEN:
		if (v->probes_failed || v->probes_timed_out)
			return SL_BRK_OPEN;
		return v->probes_ok >= v->probes ? SL_BRK_CLOSED : SL_BRK_HALF_OPEN;
	default:
		/* Only a newer sluice could have written it: start safe. */
		return SL_BRK_CLOSED;
	}
}

/* Which probes a scan deletes: all of the purged slots', and those of the
 * judged slots admitted `within` or more before now. */
struct probe_scan {
	__u64 now_ns;
	__u64 within_ns[SL_MAX_BREAKERS];
	__u32 judging;		/* slots half-open: their late probes time out */
	__u32 purging;		/* slots whose probes go, answered or not */
	struct sl_flow_key *doomed;
	__u32 *doomed_slot;
	size_t n, cap;
};

static int probe_seen(const void *key, const void *value, void *arg)
{
	const struct sl_probe *p = value;
	struct probe_scan *s = arg;
	__u32 bit;
	bool late;

	if (p->slot >= SL_MAX_BREAKERS)
		return 0;
	bit = 1u << p->slot;
	/* A probe admitted after the daemon read its clock is new, not late. */
	late = s->judging & bit && p->admitted_ns < s->now_ns &&
	       s->now_ns - p->admitted_ns >= s->within_ns[p->slot];
	if (!(s->purging & bit) && !late)
		return 0;
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		struct sl_flow_key *nk = realloc(s->doomed, ncap * sizeof(*nk));
		__u32 *ns;

		if (!nk)
			return -ENOMEM;
		s->doomed = nk;
		ns = realloc(s->doomed_slot, ncap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		s->doomed_slot = ns;
		s->cap = ncap;
	}
	memcpy(&s->doomed[s->n], key, sizeof(*s->doomed));
	s->doomed_slot[s->n++] = p->slot;
	return 0;
}

/*
 * Deletes the probes of purged slots and the late ones of judged slots;
 * timed_out[slot] counts the judged ones this call deleted (a probe TC
 * egress judges meanwhile is its, not ours: deletion decides).
 */
static int scan_probes(const struct sl_maps *maps, struct probe_scan *s,
		       __u64 *timed_out)
{
	size_t i;
	int ret;

	s->n = 0;
	ret = batch__for_each(maps->probes, sizeof(struct sl_flow_key),
			      sizeof(struct sl_probe), probe_seen, s);
	for (i = 0; !ret && i < s->n; i++) {
		__u32 slot = s->doomed_slot[i];

		if (bpf_map_delete_elem(maps->probes, &s->doomed[i])) {
			if (errno != ENOENT)
				ret = -errno;
			continue;
		}
		if (!(s->purging & (1u << slot)))
			timed_out[slot]++;
	}
	return ret;
}

int breakers__tick(struct sl_breaker_watch *w, const struct sl_maps *maps,
		   __u64 now_ns,
		   void (*changed)(void *arg, const struct sl_breaker_change *c),
		   void *arg, struct sl_error *err)
{
	struct sl_breaker raw[SL_MAX_BREAKERS];
	struct sl_breaker_stats st[SL_MAX_BREAKERS];
	__u64 timed_out[SL_MAX_BREAKERS] = {}, window[SL_MAX_BREAKERS] = {};
	__u32 slot[SL_MAX_BREAKERS], zero = 0, next[SL_MAX_BREAKERS];
	struct probe_scan scan = { .now_ns = now_ns };
	struct sl_cfg cfg;
	unsigned n, i;
	int ret;

	if (bpf_map_lookup_elem(maps->cfg, &zero, &cfg))
		return fail(err, -errno, "reading the configuration");
	ret = read_all(maps, &cfg, raw, st, slot, &n);
	if (ret)
		return fail(err, ret, "reading the breakers");

	for (i = 0; i < n; i++) {
		struct sl_breaker *b = &raw[slot[i]];

		if (b->state == SL_BRK_HALF_OPEN) {
			scan.judging |= 1u << slot[i];
			scan.within_ns[slot[i]] = b->within_ns;
		}
	}
	if (scan.judging) {
		ret = scan_probes(maps, &scan, timed_out);
		if (ret)
			goto out;
	}

	scan.judging = 0;
	for (i = 0; i < n; i++) {
		__u32 s = slot[i];
		struct sl_breaker *b = &raw[s];
		__u64 errors = st[i].c.rsts + st[i].c.http_5xx;
		struct sl_breaker_view v = {
			.state = b->state,
			.since_ns = b->since_ns,
			.errors = b->errors,
			.probes = b->probes_max,
			.open_ns = b->open_ns,
			.probes_ok = st[i].c.probes_ok - b->probes_ok_base,
			.probes_failed = st[i].c.probes_failed - b->probes_failed_base,
			.probes_timed_out = timed_out[s],
		};

		/* A new breaker, a new definition or a new daemon: the window
		 * starts now, and what it did not see does not count. */
		if (w->uid[s] != b->uid) {
			sl_error_window_reset(&w->window[s], b->within_ns, now_ns, errors);
			w->uid[s] = b->uid;
		}
		window[s] = sl_error_window_count(&w->window[s], now_ns, errors);
		v.window_errors = window[s];
		next[s] = sl_breaker_next(&v, now_ns);
		if (next[s] == b->state)
			continue;
		/* Probes go on the way in and out of half-open: none may be
		 * judged in a period it did not belong to. */
		if (next[s] == SL_BRK_HALF_OPEN || b->state == SL_BRK_HALF_OPEN)
			scan.purging |= 1u << s;
	}
	if (scan.purging) {
		__u64 ignored[SL_MAX_BREAKERS] = {};

		ret = scan_probes(maps, &scan, ignored);
		if (ret)
			goto out;
	}

	for (i = 0; i < n; i++) {
		__u32 s = slot[i];
		struct sl_breaker *b = &raw[s];
		struct sl_breaker_change c = { .b = &st[i], .from = b->state };
		__u64 errors = st[i].c.rsts + st[i].c.http_5xx;
		struct sl_breaker_counter counters;

		if (next[s] == b->state)
			continue;
		c.window_errors = window[s];
		c.probes_ok = st[i].c.probes_ok - b->probes_ok_base;
		c.probes_failed = st[i].c.probes_failed - b->probes_failed_base;
		c.probes_timed_out = timed_out[s];
		b->probes_timed_out += timed_out[s];
		b->state = next[s];
		b->since_ns = now_ns;
		b->transitions[b->state]++;
		b->probes = 0;
		if (b->state == SL_BRK_HALF_OPEN) {
			b->probes = b->probes_max;
			b->probes_ok_base = st[i].c.probes_ok;
			b->probes_failed_base = st[i].c.probes_failed;
		}
		ret = write_slot(maps, s, b);
		if (ret)
			goto out;
		if (b->state == SL_BRK_CLOSED)
			sl_error_window_reset(&w->window[s], b->within_ns, now_ns, errors);
		counters = st[i].c;
		to_stats(b, &st[i]);
		st[i].c = counters;
		changed(arg, &c);
	}
out:
	free(scan.doomed);
	free(scan.doomed_slot);
	return ret ? fail(err, ret, "deciding the breakers") : 0;
}
