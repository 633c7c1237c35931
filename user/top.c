// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice top's data: the lease, samples of the per-key counts, rates from
 * two samples, sorting and printing.
 *
 * Counting per key costs the data path a per-CPU hash update per packet
 * and rule, so it runs only while someone watches: each top extends a
 * lease in sl_cfg at every refresh, and the data path stops counting when
 * the last lease runs out. Counts are per CPU, so a refused packet still
 * writes nothing another CPU reads. A sample's counts are totals since
 * the key entered the map (possibly under an earlier top); only
 * differences between two samples of this top are shown.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "batch.h"
#include "stats.h"
#include "top.h"

void top__init(struct sl_top *t)
{
	memset(t, 0, sizeof(*t));
}

void top__sample_free(struct sl_top_sample *s)
{
	free(s->counts);
	free(s->bans);
	s->counts = NULL;
	s->bans = NULL;
	s->n = s->cap = s->n_bans = 0;
}

void top__free(struct sl_top *t)
{
	top__sample_free(&t->prev);
	free(t->prev_total);
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

int top__lease(const struct sl_maps *maps, unsigned long long until_ns)
{
	struct sl_cfg cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(maps->cfg, &zero, &cfg))
		return -errno;
	if (cfg.top_until_ns >= until_ns)
		return 0;
	cfg.top_until_ns = until_ns;
	return bpf_map_update_elem(maps->cfg, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

static int read_rules(const struct sl_maps *maps, struct sl_top_sample *s)
{
	struct sl_cfg cfg;
	__u32 zero = 0, gen, i;

	if (bpf_map_lookup_elem(maps->cfg, &zero, &cfg))
		return -errno;
	gen = cfg.gen & 1;
	s->n_rules = 0;
	for (i = 0; i < cfg.hdr[gen].n_rules && i < SL_MAX_RULES; i++) {
		__u32 index = SL_RULE_INDEX(gen, i);
		struct sl_top_rule *r = &s->rules[s->n_rules];
		struct sl_rule_text text;
		struct sl_rule rule;

		if (bpf_map_lookup_elem(maps->rules, &index, &rule) ||
		    bpf_map_lookup_elem(maps->rtext, &index, &text))
			return -errno;
		r->uid = rule.uid;
		r->key_type = rule.key_type;
		r->prefix4 = rule.prefix4;
		r->prefix6 = rule.prefix6;
		memcpy(r->name, text.name, SL_NAME_LEN);
		r->name[SL_NAME_LEN - 1] = '\0';
		s->n_rules++;
	}
	return 0;
}

struct read_ctx {
	struct sl_top_sample *s;
	int ncpus;
};

static int add_count(const void *key, const void *value, void *arg)
{
	struct read_ctx *ctx = arg;
	struct sl_top_sample *s = ctx->s;
	const struct sl_key_count *per_cpu = value;
	struct sl_top_count *c;
	int cpu;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct sl_top_count *v = realloc(s->counts, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->counts = v;
		s->cap = cap;
	}
	c = &s->counts[s->n++];
	memcpy(&c->key, key, sizeof(c->key));
	c->packets = c->limited = 0;
	for (cpu = 0; cpu < ctx->ncpus; cpu++) {
		c->packets += per_cpu[cpu].packets;
		c->limited += per_cpu[cpu].limited;
	}
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct sl_top_count *)a)->key,
		      &((const struct sl_top_count *)b)->key, sizeof(struct sl_key));
}

int top__read(const struct sl_maps *maps, unsigned long long now_ns,
	      struct sl_top_sample *s, struct sl_error *err)
{
	struct read_ctx ctx = { .s = s, .ncpus = libbpf_num_possible_cpus() };
	const char *what = "reading the active rules";
	int ret;

	s->n = 0;
	s->at_ns = now_ns;
	ret = read_rules(maps, s);
	if (!ret) {
		what = "reading the per-key counts";
		ret = ctx.ncpus < 0 ? ctx.ncpus :
		      batch__for_each(maps->topk, sizeof(struct sl_key),
				      ctx.ncpus * sizeof(struct sl_key_count),
				      add_count, &ctx);
	}
	if (!ret) {
		what = "reading the bans";
		ret = bans__read(maps, &s->bans, &s->n_bans);
	}
	if (ret) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", what, strerror(-ret));
		return ret;
	}
	if (s->n)
		qsort(s->counts, s->n, sizeof(*s->counts), key_cmp);
	return 0;
}

static const struct sl_top_rule *find_rule(const struct sl_top_sample *s,
					   __u32 uid)
{
	unsigned i;

	for (i = 0; i < s->n_rules; i++)
		if (s->rules[i].uid == uid)
			return &s->rules[i];
	return NULL;
}

void top__format_key(const struct sl_top_rule *rule, const struct sl_key *key,
		     char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned prefix, full;

	switch (rule->key_type) {
	case SL_KEY_DPORT:
		snprintf(buf, len, "dport %u", key->addr[0] << 8 | key->addr[1]);
		return;
	case SL_KEY_GLOBAL:
		snprintf(buf, len, "global");
		return;
	}
	if (key->family == SL_FAM_IP4) {
		inet_ntop(AF_INET, key->addr, addr, sizeof(addr));
		prefix = rule->prefix4;
		full = 32;
	} else {
		inet_ntop(AF_INET6, key->addr, addr, sizeof(addr));
		prefix = rule->prefix6;
		full = 128;
	}
	if (prefix < full)
		snprintf(buf, len, "%s/%u", addr, prefix);
	else
		snprintf(buf, len, "%s", addr);
}

static const char *key_type_name(__u8 key_type)
{
	switch (key_type) {
	case SL_KEY_DPORT:
		return "dport";
	case SL_KEY_GLOBAL:
		return "global";
	default:
		return "src";
	}
}

/* A count that went down was evicted and counted afresh since. */
static unsigned long long grown(unsigned long long now, unsigned long long before)
{
	return now >= before ? now - before : now;
}

static struct sl_top_row *new_row(struct sl_top *t)
{
	if (t->n_rows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 64;
		struct sl_top_row *v = realloc(t->rows, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->rows = v;
		t->cap_rows = cap;
	}
	return &t->rows[t->n_rows++];
}

static bool in_force(const struct sl_ban_entry *b, unsigned long long now_ns)
{
	return b->ban.expires_ns > now_ns && !(b->ban.flags & SL_BAN_DRY);
}

static bool covers(const struct sl_ban_key *ban, const struct sl_key *key)
{
	unsigned whole = ban->prefixlen / 8, rest = ban->prefixlen % 8;

	if (ban->family != key->family || whole > sizeof(key->addr))
		return false;
	if (memcmp(ban->addr, key->addr, whole))
		return false;
	return !rest || whole == sizeof(key->addr) ||
	       !((ban->addr[whole] ^ key->addr[whole]) & (0xff00 >> rest));
}

/*
 * Bans in force: the rows of keys they cover say so, and a ban covering no
 * counted key (its packets stop before any rule) is a row of its own, with
 * the rule that banned it, or "manual".
 */
static int add_bans(struct sl_top *t, const struct sl_top_sample *s)
{
	size_t rows = t->n_rows, i, j;

	for (i = 0; i < s->n_bans; i++) {
		const struct sl_ban_entry *b = &s->bans[i];
		const struct sl_top_rule *rule;
		struct sl_top_row *row;
		bool seen = false;

		if (!in_force(b, s->at_ns))
			continue;
		for (j = 0; j < rows; j++) {
			if (strcmp(t->rows[j].key_type, "src") ||
			    !covers(&b->key, &t->rows[j].raw))
				continue;
			t->rows[j].state = SL_TOP_BANNED;
			seen = true;
		}
		if (seen)
			continue;
		row = new_row(t);
		if (!row)
			return -ENOMEM;
		memset(row, 0, sizeof(*row));
		rule = b->ban.rule_uid ? find_rule(s, b->ban.rule_uid) : NULL;
		snprintf(row->rule, sizeof(row->rule), "%s",
			 rule ? rule->name : "manual");
		bans__format_addr(b->key.family, b->key.prefixlen, b->key.addr,
				  row->key, sizeof(row->key));
		row->key_type = "src";
		row->raw.family = b->key.family;
		memcpy(row->raw.addr, b->key.addr, sizeof(row->raw.addr));
		row->state = SL_TOP_BANNED;
	}
	return 0;
}

int top__update(struct sl_top *t, struct sl_top_sample *s)
{
	unsigned long long *total;
	double secs = 0;
	size_t i;

	total = calloc(s->n ? s->n : 1, sizeof(*total));
	if (!total)
		return -ENOMEM;
	t->n_rows = 0;
	t->keys_counted = s->n;
	if (t->have_prev && s->at_ns > t->prev.at_ns)
		secs = (s->at_ns - t->prev.at_ns) / 1e9;
	t->interval_s = secs;
	for (i = 0; i < s->n; i++) {
		const struct sl_top_count *c = &s->counts[i], *p = NULL;
		const struct sl_top_rule *rule;
		unsigned long long packets, limited;
		struct sl_top_row *row;

		if (t->have_prev && t->prev.n)
			p = bsearch(c, t->prev.counts, t->prev.n,
				    sizeof(*c), key_cmp);
		/* A key absent from the last sample entered the map since. */
		packets = p ? grown(c->packets, p->packets) : c->packets;
		limited = p ? grown(c->limited, p->limited) : c->limited;
		/* The first sample is where "since this top began" begins. */
		if (t->have_prev)
			total[i] = (p ? t->prev_total[p - t->prev.counts] : 0) + limited;
		rule = find_rule(s, c->key.rule_uid);
		/* Keys of rules gone from the active set are left out. */
		if (!t->have_prev || !rule || (!packets && !limited))
			continue;
		row = new_row(t);
		if (!row) {
			free(total);
			return -ENOMEM;
		}
		memset(row, 0, sizeof(*row));
		snprintf(row->rule, sizeof(row->rule), "%s", rule->name);
		top__format_key(rule, &c->key, row->key, sizeof(row->key));
		row->key_type = key_type_name(rule->key_type);
		row->raw = c->key;
		row->packets = packets;
		row->limited = limited;
		row->limited_total = total[i];
		row->rate = secs > 0 ? packets / secs : 0;
		row->limited_rate = secs > 0 ? limited / secs : 0;
		row->state = limited ? SL_TOP_LIMITED : SL_TOP_OK;
	}
	if (t->have_prev && add_bans(t, s)) {
		free(total);
		return -ENOMEM;
	}
	top__sample_free(&t->prev);
	free(t->prev_total);
	t->prev = *s;
	t->prev_total = total;
	t->have_prev = true;
	memset(s, 0, sizeof(*s));
	return 0;
}

static int by_rate(const void *a, const void *b)
{
	const struct sl_top_row *x = a, *y = b;

	if (x->packets != y->packets)
		return x->packets > y->packets ? -1 : 1;
	if (x->limited != y->limited)
		return x->limited > y->limited ? -1 : 1;
	return memcmp(&x->raw, &y->raw, sizeof(x->raw));
}

static int by_limited(const void *a, const void *b)
{
	const struct sl_top_row *x = a, *y = b;

	if (x->limited != y->limited)
		return x->limited > y->limited ? -1 : 1;
	if (x->packets != y->packets)
		return x->packets > y->packets ? -1 : 1;
	return memcmp(&x->raw, &y->raw, sizeof(x->raw));
}

void top__sort(struct sl_top_row *rows, size_t n, enum sl_top_sort sort)
{
	/* Rows of one view share its interval: counts order as rates do. */
	if (n)
		qsort(rows, n, sizeof(*rows),
		      sort == SL_TOP_BY_LIMITED ? by_limited : by_rate);
}

const char *top__state_name(enum sl_top_state state)
{
	switch (state) {
	case SL_TOP_LIMITED:
		return "limited";
	case SL_TOP_BANNED:
		return "banned";
	default:
		return "ok";
	}
}

const char *top__sort_name(enum sl_top_sort sort)
{
	return sort == SL_TOP_BY_LIMITED ? "limited" : "rate";
}

/* Prints one line cut to width columns (0: whole), then a newline. */
static void put_line(FILE *f, const char *line, unsigned width)
{
	size_t len = strlen(line);

	if (width && len > width)
		len = width;
	fprintf(f, "%.*s\n", (int)len, line);
}

void top__print_rows(FILE *f, const struct sl_top *t, size_t max_rows,
		     unsigned width)
{
	char line[256];
	size_t i, n = t->n_rows;

	if (max_rows && n > max_rows)
		n = max_rows;
	snprintf(line, sizeof(line), "%-20s %-28s %10s %10s %10s %8s", "RULE",
		 "KEY", "PKT/S", "LIMITED/S", "LIMITED", "STATE");
	put_line(f, line, width);
	for (i = 0; i < n; i++) {
		const struct sl_top_row *r = &t->rows[i];

		snprintf(line, sizeof(line), "%-20s %-28s %10.0f %10.0f %10llu %8s",
			 r->rule, r->key, r->rate, r->limited_rate,
			 r->limited_total, top__state_name(r->state));
		put_line(f, line, width);
	}
}

void top__print_json(FILE *f, const char *ifname, const struct sl_top *t,
		     enum sl_top_sort sort, size_t max_rows)
{
	size_t i, n = t->n_rows;

	if (max_rows && n > max_rows)
		n = max_rows;
	fputs("{\"interface\":", f);
	json_string(f, ifname);
	fprintf(f, ",\"interval_s\":%.3f,\"sort\":\"%s\",\"keys_counted\":%zu,"
		"\"keys_capacity\":%d,\"keys\":[", t->interval_s,
		top__sort_name(sort), t->keys_counted, SL_TOP_KEYS);
	for (i = 0; i < n; i++) {
		const struct sl_top_row *r = &t->rows[i];

		fputs(i ? ",{\"rule\":" : "{\"rule\":", f);
		json_string(f, r->rule);
		fputs(",\"key\":", f);
		json_string(f, r->key);
		fprintf(f, ",\"key_type\":\"%s\",\"rate\":%.1f,\"limited_rate\":%.1f,"
			"\"packets\":%llu,\"limited\":%llu,\"limited_total\":%llu,"
			"\"state\":\"%s\"}", r->key_type, r->rate, r->limited_rate,
			r->packets, r->limited, r->limited_total,
			top__state_name(r->state));
	}
	fputs("]}\n", f);
}
