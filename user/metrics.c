// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Prometheus metrics. The format is text exposition 0.0.4: for each family
 * a HELP and a TYPE line, then all of its samples together. HTTP is
 * libmicrohttpd's, on a thread of its own, so a slow or stuck scraper never
 * waits on the daemon's loop nor the daemon on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <microhttpd.h>

#include "metrics.h"
#include "pins.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* Scrapers are few; a bound keeps a flood of connections from costing more
 * than that, and the timeout frees a slot a silent client holds. */
#define MAX_CONNECTIONS		32
#define CONNECTION_TIMEOUT_S	10

static const struct {
	const char *name, *help;
	size_t off;		/* of the __u64 in struct sl_rule_counter */
} rule_families[] = {
	{ "sluice_rule_matched_packets_total",
	  "Packets that matched the rule.",
	  offsetof(struct sl_rule_counter, matched) },
	{ "sluice_rule_passed_packets_total",
	  "Packets of the rule passed: conforming, or limited under action pass.",
	  offsetof(struct sl_rule_counter, passed) },
	{ "sluice_rule_dropped_packets_total",
	  "Packets of the rule dropped.",
	  offsetof(struct sl_rule_counter, dropped) },
	{ "sluice_rule_rejected_packets_total",
	  "Packets of the rule refused with a TCP RST or an ICMP error.",
	  offsetof(struct sl_rule_counter, rejected) },
	{ "sluice_rule_marked_packets_total",
	  "Packets of the rule passed with its mark, to be steered elsewhere.",
	  offsetof(struct sl_rule_counter, marked) },
	{ "sluice_rule_limited_packets_total",
	  "Packets of the rule over one of its limits, whatever the action then did.",
	  offsetof(struct sl_rule_counter, limited) },
	{ "sluice_rule_matched_bytes_total",
	  "Bytes of the packets that matched the rule.",
	  offsetof(struct sl_rule_counter, bytes) },
};

/* The verdicts overlap, which a reader summing them must know. */
#define VERDICT_HELP \
	" by verdict. rx is every frame seen, and is non_ip + passed + dropped" \
	" + rejected; allowed and marked frames are also in passed," \
	" reject_limited ones also in dropped, flows_full and keys_full ones" \
	" in whatever their rule then did, so do not sum over verdict."

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value in quotes: backslash, double quote and newline escaped. */
static void label_value(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* One sample: the interface label, then at most one more. */
static void sample(FILE *f, const char *name, const char *ifname,
		   const char *label, const char *value, unsigned long long v)
{
	fprintf(f, "%s{interface=", name);
	label_value(f, ifname);
	if (label) {
		fprintf(f, ",%s=", label);
		label_value(f, value);
	}
	fprintf(f, "} %llu\n", v);
}

/* A gauge of the cluster sync: interface, rule and scope labels as given. */
static void cluster_sample(FILE *f, const char *name, const char *ifname,
			   const char *rule, const char *scope, double v)
{
	fprintf(f, "%s{interface=", name);
	label_value(f, ifname);
	if (rule) {
		fputs(",rule=", f);
		label_value(f, rule);
	}
	if (scope) {
		fputs(",scope=", f);
		label_value(f, scope);
	}
	fprintf(f, "} %.9g\n", v);
}

static void format_cluster(FILE *f, const char *ifname,
			   const struct sl_cluster_stats *c)
{
	unsigned i;

	family(f, "sluice_cluster_fallback", "gauge",
	       "1 while Redis is unreachable and this host spends 1/hosts of each scope cluster limit.");
	cluster_sample(f, "sluice_cluster_fallback", ifname, NULL, NULL, c->fallback);
	family(f, "sluice_cluster_hosts", "gauge",
	       "Hosts that synced within the TTL, as of the last sync that reached Redis.");
	cluster_sample(f, "sluice_cluster_hosts", ifname, NULL, NULL, c->hosts);
	family(f, "sluice_cluster_keys", "gauge",
	       "Keys of scope cluster rules this host synced in its last round.");
	cluster_sample(f, "sluice_cluster_keys", ifname, NULL, NULL, c->keys);
	family(f, "sluice_cluster_syncs_total", "counter",
	       "Sync rounds with Redis, by result.");
	sample(f, "sluice_cluster_syncs_total", ifname, "result", "ok", c->syncs_ok);
	sample(f, "sluice_cluster_syncs_total", ifname, "result", "failed", c->syncs_failed);
	family(f, "sluice_cluster_fallbacks_total", "counter",
	       "Times this host fell back to local shares because a sync failed.");
	sample(f, "sluice_cluster_fallbacks_total", ifname, NULL, NULL, c->fallbacks);
	family(f, "sluice_cluster_last_sync_timestamp_seconds", "gauge",
	       "When a sync last reached Redis, in seconds since the epoch; 0: never.");
	cluster_sample(f, "sluice_cluster_last_sync_timestamp_seconds", ifname, NULL,
		       NULL, c->last_ok_time);

	family(f, "sluice_cluster_rule_keys", "gauge",
	       "Keys of the scope cluster rule synced in the last round.");
	for (i = 0; i < c->n_rules && i < SL_MAX_RULES; i++)
		cluster_sample(f, "sluice_cluster_rule_keys", ifname, c->rules[i].name,
			       NULL, c->rules[i].keys);
	family(f, "sluice_cluster_rule_share", "gauge",
	       "This host's share of the rule's limit, 0..1, the mean over its synced keys.");
	for (i = 0; i < c->n_rules && i < SL_MAX_RULES; i++)
		if (c->rules[i].keys)
			cluster_sample(f, "sluice_cluster_rule_share", ifname,
				       c->rules[i].name, NULL, c->rules[i].share);
	family(f, "sluice_cluster_rule_admitted_per_second", "gauge",
	       "Units (packets, or bytes for byte rates) the rule admitted per second over the sync window, on this host and on every live host.");
	for (i = 0; i < c->n_rules && i < SL_MAX_RULES; i++) {
		const struct sl_cluster_rule_stats *r = &c->rules[i];

		if (!r->has_rate)
			continue;
		cluster_sample(f, "sluice_cluster_rule_admitted_per_second", ifname,
			       r->name, "host", r->admitted_host);
		if (r->admitted_cluster >= 0)
			cluster_sample(f, "sluice_cluster_rule_admitted_per_second", ifname,
				       r->name, "cluster", r->admitted_cluster);
	}
	family(f, "sluice_cluster_rule_connections", "gauge",
	       "Connections the rule's keys hold, on this host and on every live host.");
	for (i = 0; i < c->n_rules && i < SL_MAX_RULES; i++) {
		const struct sl_cluster_rule_stats *r = &c->rules[i];

		if (!r->has_conns)
			continue;
		cluster_sample(f, "sluice_cluster_rule_connections", ifname, r->name,
			       "host", r->conns_host);
		if (r->conns_cluster >= 0)
			cluster_sample(f, "sluice_cluster_rule_connections", ifname,
				       r->name, "cluster", r->conns_cluster);
	}
}

/* One breaker's sample: interface, breaker and perhaps one more label. */
static void breaker_sample(FILE *f, const char *name, const char *ifname,
			   const char *breaker, const char *label,
			   const char *value, unsigned long long v)
{
	fprintf(f, "%s{interface=", name);
	label_value(f, ifname);
	fputs(",breaker=", f);
	label_value(f, breaker);
	if (label) {
		fprintf(f, ",%s=", label);
		label_value(f, value);
	}
	fprintf(f, "} %llu\n", v);
}

/* Families only when there are breakers: an empty family says nothing. */
static void breaker_metrics(FILE *f, const char *ifname, const struct sl_stats *st)
{
	const struct sl_breaker_stats *b = st->breakers;
	unsigned i, s;

	if (!st->n_breakers)
		return;
	family(f, "sluice_breaker_state", "gauge",
	       "Circuit breaker state: 0 closed, 1 open (new connections refused), 2 half-open (probing).");
	for (i = 0; i < st->n_breakers; i++)
		breaker_sample(f, "sluice_breaker_state", ifname, b[i].name, NULL,
			       NULL, b[i].state);
	family(f, "sluice_breaker_transitions_total", "counter",
	       "Circuit breaker transitions, by the state entered.");
	for (i = 0; i < st->n_breakers; i++)
		for (s = 0; s < SL_BRK_STATES; s++)
			breaker_sample(f, "sluice_breaker_transitions_total", ifname,
				       b[i].name, "to", breaker_state_name(s),
				       b[i].transitions[s]);
	family(f, "sluice_breaker_errors_total", "counter",
	       "Errors the breaker's service sent toward clients, by kind: TCP resets and HTTP/1.x 5xx status lines.");
	for (i = 0; i < st->n_breakers; i++) {
		breaker_sample(f, "sluice_breaker_errors_total", ifname, b[i].name,
			       "kind", "rst", b[i].c.rsts);
		breaker_sample(f, "sluice_breaker_errors_total", ifname, b[i].name,
			       "kind", "http_5xx", b[i].c.http_5xx);
	}
	family(f, "sluice_breaker_http_responses_total", "counter",
	       "HTTP/1.x status lines the breaker's service sent, any status.");
	for (i = 0; i < st->n_breakers; i++)
		breaker_sample(f, "sluice_breaker_http_responses_total", ifname,
			       b[i].name, NULL, NULL, b[i].c.responses);
	family(f, "sluice_breaker_refused_total", "counter",
	       "New connections refused while the breaker was open or had no probe left.");
	for (i = 0; i < st->n_breakers; i++)
		breaker_sample(f, "sluice_breaker_refused_total", ifname, b[i].name,
			       NULL, NULL, b[i].c.refused);
	family(f, "sluice_breaker_probes_total", "counter",
	       "Half-open probe connections judged, by result: ok, failed, timed_out (no answer in time).");
	for (i = 0; i < st->n_breakers; i++) {
		breaker_sample(f, "sluice_breaker_probes_total", ifname, b[i].name,
			       "result", "ok", b[i].c.probes_ok);
		breaker_sample(f, "sluice_breaker_probes_total", ifname, b[i].name,
			       "result", "failed", b[i].c.probes_failed);
		breaker_sample(f, "sluice_breaker_probes_total", ifname, b[i].name,
			       "result", "timed_out", b[i].probes_timed_out);
	}
}

void metrics__format(FILE *f, const char *ifname, const struct sl_stats *st,
		     const struct sl_daemon_stats *d)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} gauges[] = {
		{ "sluice_keys_tracked", "Keys with limiter state in the key map.",
		  offsetof(struct sl_stats, keys_tracked) },
		{ "sluice_keys_capacity", "Entries the key map holds at most.",
		  offsetof(struct sl_stats, keys_capacity) },
		{ "sluice_flows_tracked", "TCP connections tracked for conns limits.",
		  offsetof(struct sl_stats, flows_tracked) },
		{ "sluice_flows_capacity", "Connections the flow table holds at most.",
		  offsetof(struct sl_stats, flows_capacity) },
	};
	unsigned i, r;

	for (i = 0; i < ARRAY_SIZE(rule_families); i++) {
		family(f, rule_families[i].name, "counter", rule_families[i].help);
		for (r = 0; r < st->n_rules && r < SL_MAX_RULES; r++) {
			const char *c = (const char *)&st->rules[r].c;

			sample(f, rule_families[i].name, ifname, "rule",
			       st->rules[r].name,
			       *(const __u64 *)(c + rule_families[i].off));
		}
	}

	family(f, "sluice_limited_packets_total", "counter",
	       "Packets limited (in a dry run, that would have been), by reason.");
	for (i = 0; sl_reason_names[i].name; i++)
		sample(f, "sluice_limited_packets_total", ifname, "reason",
		       sl_reason_names[i].name, st->cnt[sl_reason_names[i].index].packets);
	family(f, "sluice_limited_bytes_total", "counter",
	       "Bytes of the packets limited, by reason.");
	for (i = 0; sl_reason_names[i].name; i++)
		sample(f, "sluice_limited_bytes_total", ifname, "reason",
		       sl_reason_names[i].name, st->cnt[sl_reason_names[i].index].bytes);

	family(f, "sluice_packets_total", "counter", "Frames" VERDICT_HELP);
	for (i = 0; sl_total_names[i].name; i++)
		sample(f, "sluice_packets_total", ifname, "verdict",
		       sl_total_names[i].name, st->cnt[sl_total_names[i].index].packets);
	family(f, "sluice_bytes_total", "counter", "Bytes" VERDICT_HELP);
	for (i = 0; sl_total_names[i].name; i++)
		sample(f, "sluice_bytes_total", ifname, "verdict",
		       sl_total_names[i].name, st->cnt[sl_total_names[i].index].bytes);

	for (i = 0; i < ARRAY_SIZE(gauges); i++) {
		family(f, gauges[i].name, "gauge", gauges[i].help);
		sample(f, gauges[i].name, ifname, NULL, NULL,
		       *(const unsigned long long *)((const char *)st +
						     gauges[i].off));
	}
	family(f, "sluice_rule_set_generation", "gauge",
	       "Generation of the active rule set; every load changes it.");
	sample(f, "sluice_rule_set_generation", ifname, NULL, NULL,
	       st->generation);
	family(f, "sluice_dry_run", "gauge",
	       "1 while the rule set runs dry: packets over a limit count as limited but pass.");
	sample(f, "sluice_dry_run", ifname, NULL, NULL, st->dry_run);

	family(f, "sluice_bans_active", "gauge",
	       "Bans in force, by origin: every packet of their addresses is dropped before any rule.");
	sample(f, "sluice_bans_active", ifname, "origin", "rule",
	       st->bans_active - st->bans_manual);
	sample(f, "sluice_bans_active", ifname, "origin", "manual",
	       st->bans_manual);
	family(f, "sluice_ban_entries", "gauge",
	       "Entries in the ban table: bans in force, and ended ones kept while their offences are remembered.");
	sample(f, "sluice_ban_entries", ifname, NULL, NULL, st->ban_entries);
	family(f, "sluice_ban_capacity", "gauge",
	       "Entries the ban table holds at most.");
	sample(f, "sluice_ban_capacity", ifname, NULL, NULL, st->ban_capacity);
	family(f, "sluice_bans_total", "counter", "Bans rules started.");
	sample(f, "sluice_bans_total", ifname, NULL, NULL,
	       st->cnt[SL_CNT_BANS].packets);
	family(f, "sluice_bans_refused_total", "counter",
	       "Bans rules could not start because the ban table was full.");
	sample(f, "sluice_bans_refused_total", ifname, NULL, NULL,
	       st->cnt[SL_CNT_BANS_FULL].packets);
	family(f, "sluice_events_total", "counter",
	       "Events the data path sent to the daemon, by result: suppressed ones were over the event budget or found the ring full.");
	sample(f, "sluice_events_total", ifname, "result", "sent",
	       st->cnt[SL_CNT_EVENTS].packets);
	sample(f, "sluice_events_total", ifname, "result", "suppressed",
	       st->cnt[SL_CNT_EVENTS_SUPPRESSED].packets);
	breaker_metrics(f, ifname, st);

	if (!d)
		return;
	family(f, "sluice_reloads_total", "counter",
	       "Configuration reloads by the daemon, by result; a failed one changed nothing.");
	sample(f, "sluice_reloads_total", ifname, "result", "ok", d->reloads_ok);
	sample(f, "sluice_reloads_total", ifname, "result", "failed",
	       d->reloads_failed);
	family(f, "sluice_sweeps_total", "counter",
	       "Sweeps of connections and keys the daemon ran.");
	sample(f, "sluice_sweeps_total", ifname, NULL, NULL, d->sweeps);
	family(f, "sluice_connections_released_total", "counter",
	       "Tracked connections released by sweeps: half_open never completed the handshake, idle went silent.");
	sample(f, "sluice_connections_released_total", ifname, "reason",
	       "half_open", d->released_half_open);
	sample(f, "sluice_connections_released_total", ifname, "reason", "idle",
	       d->released_idle);
	family(f, "sluice_connection_counts_corrected_total", "counter",
	       "Per-key connection counts sweeps found wrong and corrected.");
	sample(f, "sluice_connection_counts_corrected_total", ifname, NULL, NULL,
	       d->counts_corrected);
	family(f, "sluice_keys_reclaimed_total", "counter",
	       "Keys deleted by sweeps: their limiter state said nothing for key-timeout, or their rule is gone.");
	sample(f, "sluice_keys_reclaimed_total", ifname, NULL, NULL, d->keys_reclaimed);
	family(f, "sluice_start_time_seconds", "gauge",
	       "When the daemon started, in seconds since the epoch.");
	sample(f, "sluice_start_time_seconds", ifname, NULL, NULL,
	       (unsigned long long)d->start_time);
	if (d->cluster.enabled)
		format_cluster(f, ifname, &d->cluster);
}

struct sl_metrics {
	struct MHD_Daemon *mhd;
	char ifname[IF_NAMESIZE];
	const struct sl_daemon_stats *d;
	pthread_mutex_t *d_lock;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
			     struct MHD_Response *resp, const char *allow)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;	/* out of memory: MHD closes the connection */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				status == MHD_HTTP_OK ? CONTENT_TYPE :
				"text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status,
				  const char *allow, const char *text)
{
	return reply(conn, status,
		     MHD_create_response_from_buffer(strlen(text), (void *)text,
						     MHD_RESPMEM_MUST_COPY),
		     allow);
}

/*
 * One scrape. The pins are open, and so the interface's lock held, only
 * for stats__read: the daemon's reloads and sweeps wait at most that long,
 * and the data path never waits at all. Returns the body (malloc'd) or
 * NULL with err filled.
 */
static char *scrape(struct sl_metrics *m, size_t *len, struct sl_error *err)
{
	struct sl_daemon_stats d;
	struct sl_stats *st;
	struct sl_pins pins;
	char *body = NULL;
	FILE *f;
	int ret;

	st = malloc(sizeof(*st));
	if (!st) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	ret = pins__open(&pins, m->ifname, err);
	if (ret)
		goto out;
	ret = stats__read(&pins.maps, st, err);
	pins__close(&pins);
	if (ret) {
		struct sl_error e = *err;

		snprintf(err->msg, sizeof(err->msg), "%s: %s", m->ifname, e.msg);
		goto out;
	}
	if (m->d) {
		pthread_mutex_lock(m->d_lock);
		d = *m->d;
		pthread_mutex_unlock(m->d_lock);
	}
	f = open_memstream(&body, len);
	if (!f) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto out;
	}
	metrics__format(f, m->ifname, st, m->d ? &d : NULL);
	if (fclose(f)) {
		free(body);
		body = NULL;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	}
out:
	free(st);
	return body;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct sl_metrics *m = cls;
	struct sl_error err = { "" };
	char msg[sizeof(err.msg) + 64];
	struct MHD_Response *resp;
	size_t len;
	char *body;

	if (strcmp(url, "/metrics"))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, NULL,
				  "not found: metrics are at /metrics\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD",
				  "method not allowed: /metrics takes GET\n");
	body = scrape(m, &len, &err);
	if (!body) {
		snprintf(msg, sizeof(msg), "sluice: cannot read the counters: %s\n",
			 err.msg);
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, msg);
	}
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		free(body);	/* not taken: MHD frees it only with a response */
	return reply(conn, MHD_HTTP_OK, resp, NULL);
}

/*
 * The listening socket is made here rather than by libmicrohttpd from
 * MHD_OPTION_SOCK_ADDR, because MHD_start_daemon reports a failed bind
 * only as NULL, and the daemon must say why (address in use, not local).
 */
static int listen_on(const struct sockaddr_storage *ss, const char *addr,
		     struct sl_error *err)
{
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
						   sizeof(struct sockaddr_in);
	const char *what = "socket";
	int fd, on = 1, ret;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	/* A restarted daemon must not wait for the old one's TIME_WAITs. */
	what = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)))
		goto fail;
	/* Exactly the address given: [::] does not also take IPv4, whatever
	 * net.ipv6.bindv6only says. */
	if (ss->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)))
		goto fail;
	what = "bind";
	if (bind(fd, (const struct sockaddr *)ss, len))
		goto fail;
	what = "listen";
	if (listen(fd, 64))
		goto fail;
	return fd;
fail:
	ret = -errno;
	snprintf(err->msg, sizeof(err->msg), "%s %s: %s", what, addr,
		 strerror(-ret));
	if (fd >= 0)
		close(fd);
	return ret;
}

int metrics__start(struct sl_metrics **out, const char *addr,
		   const char *ifname, const struct sl_daemon_stats *d,
		   pthread_mutex_t *d_lock, struct sl_error *err)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	char canon[SL_LISTEN_LEN];
	struct sockaddr_storage ss;
	struct sl_metrics *m;
	struct stat before, after;
	int fd, ret;

	*out = NULL;
	ret = config_parse_listen(addr, &ss, canon, sizeof(canon), err);
	if (ret)
		return ret;
	if (d && !d_lock) {
		snprintf(err->msg, sizeof(err->msg),
			 "daemon counters given without their lock");
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	snprintf(m->ifname, sizeof(m->ifname), "%s", ifname);
	m->d = d;
	m->d_lock = d_lock;

	fd = listen_on(&ss, canon, err);
	if (fd < 0) {
		free(m);
		return fd;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	fstat(fd, &before);
	m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, m,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)MAX_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned)CONNECTION_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!m->mhd) {
		snprintf(err->msg, sizeof(err->msg),
			 "libmicrohttpd could not serve %s", canon);
		/* Whether MHD closed the socket depends on where it failed;
		 * close it only if the number still names our socket. */
		if (!fstat(fd, &after) && after.st_ino == before.st_ino &&
		    after.st_dev == before.st_dev)
			close(fd);
		free(m);
		return -EIO;
	}
	*out = m;
	return 0;
}

void metrics__stop(struct sl_metrics *m)
{
	if (!m)
		return;
	/* Joins the server thread and closes the listening socket. */
	MHD_stop_daemon(m->mhd);
	free(m);
}
