// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Prometheus metrics: the exact exposition text for known counters, that a
 * real parser (python3-prometheus-client's) reads it back to the values
 * `stats --json` prints (breakers included), that no label ever names an
 * address, and the HTTP
 * server: 503 without pins, 404 elsewhere, 405 for other methods, bind
 * errors reported.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "metrics.h"

#define PYTHON	"/usr/bin/python3"

/* An interface no test machine has, so it has no pins either. */
#define NO_PINS	"sl-nopins0"

static struct sl_stats st;
static const struct sl_daemon_stats daemon_stats = {
	.reloads_ok = 2,
	.reloads_failed = 1,
	.sweeps = 40,
	.released_half_open = 9,
	.released_idle = 3,
	.counts_corrected = 1,
	.keys_reclaimed = 77,
	.start_time = 1700000000,
};

/* Every counter a distinct value, so a value in the wrong place shows. */
static void fill(struct sl_stats *s)
{
	unsigned i;

	memset(s, 0, sizeof(*s));
	s->generation = 3;
	s->n_rules = 2;
	strcpy(s->rules[0].name, "api-pps");
	s->rules[0].c = (struct sl_rule_counter){
		.matched = 100, .passed = 60, .dropped = 30, .rejected = 5,
		.marked = 4, .limited = 40, .bytes = 64000,
	};
	strcpy(s->rules[1].name, "dns");
	s->rules[1].c = (struct sl_rule_counter){
		.matched = 7, .passed = 6, .dropped = 1, .limited = 1,
		.bytes = 700,
	};
	for (i = 0; i < SL_CNT_MAX; i++) {
		s->cnt[i].packets = 1000 + i;
		s->cnt[i].bytes = 2000000 + i;
	}
	s->keys_tracked = 1234;
	s->keys_capacity = 262144;
	s->flows_tracked = 56;
	s->flows_capacity = 65536;
	s->bans_active = 12;
	s->bans_manual = 5;
	s->ban_entries = 30;
	s->ban_capacity = 65536;
}

/* Two breakers, one open and one half-open, every number distinct. */
static void fill_breakers(struct sl_stats *s)
{
	struct sl_breaker_stats *b = s->breakers;

	s->n_breakers = 2;
	strcpy(b[0].name, "api");
	b[0].port = 8080;
	b[0].state = SL_BRK_OPEN;
	b[0].errors = 5;
	b[0].probes = 2;
	b[0].within_ns = 2000000000;
	b[0].open_ns = 3000000000;
	b[0].transitions[SL_BRK_CLOSED] = 1;
	b[0].transitions[SL_BRK_OPEN] = 3;
	b[0].transitions[SL_BRK_HALF_OPEN] = 2;
	b[0].probes_timed_out = 4;
	b[0].c = (struct sl_breaker_counter){
		.rsts = 11, .http_5xx = 12, .responses = 13, .probes_ok = 14,
		.probes_failed = 15, .refused = 16,
	};
	strcpy(b[1].name, "db");
	b[1].port = 5432;
	b[1].state = SL_BRK_HALF_OPEN;
	b[1].probes_left = 1;
	b[1].transitions[SL_BRK_HALF_OPEN] = 21;
	b[1].c.rsts = 22;
}

static int setup(void **state)
{
	fill(&st);
	return 0;
}

/* metrics__format's output as a string; the caller frees it. */
static char *format(const char *ifname, const struct sl_stats *s,
		    const struct sl_daemon_stats *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	metrics__format(f, ifname, s, d);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static const char expected[] =
	"# HELP sluice_rule_matched_packets_total Packets that matched the rule.\n"
	"# TYPE sluice_rule_matched_packets_total counter\n"
	"sluice_rule_matched_packets_total{interface=\"eth0\",rule=\"api-pps\"} 100\n"
	"sluice_rule_matched_packets_total{interface=\"eth0\",rule=\"dns\"} 7\n"
	"# HELP sluice_rule_passed_packets_total Packets of the rule passed: conforming, or limited under action pass.\n"
	"# TYPE sluice_rule_passed_packets_total counter\n"
	"sluice_rule_passed_packets_total{interface=\"eth0\",rule=\"api-pps\"} 60\n"
	"sluice_rule_passed_packets_total{interface=\"eth0\",rule=\"dns\"} 6\n"
	"# HELP sluice_rule_dropped_packets_total Packets of the rule dropped.\n"
	"# TYPE sluice_rule_dropped_packets_total counter\n"
	"sluice_rule_dropped_packets_total{interface=\"eth0\",rule=\"api-pps\"} 30\n"
	"sluice_rule_dropped_packets_total{interface=\"eth0\",rule=\"dns\"} 1\n"
	"# HELP sluice_rule_rejected_packets_total Packets of the rule refused with a TCP RST or an ICMP error.\n"
	"# TYPE sluice_rule_rejected_packets_total counter\n"
	"sluice_rule_rejected_packets_total{interface=\"eth0\",rule=\"api-pps\"} 5\n"
	"sluice_rule_rejected_packets_total{interface=\"eth0\",rule=\"dns\"} 0\n"
	"# HELP sluice_rule_marked_packets_total Packets of the rule passed with its mark, to be steered elsewhere.\n"
	"# TYPE sluice_rule_marked_packets_total counter\n"
	"sluice_rule_marked_packets_total{interface=\"eth0\",rule=\"api-pps\"} 4\n"
	"sluice_rule_marked_packets_total{interface=\"eth0\",rule=\"dns\"} 0\n"
	"# HELP sluice_rule_limited_packets_total Packets of the rule over one of its limits, whatever the action then did.\n"
	"# TYPE sluice_rule_limited_packets_total counter\n"
	"sluice_rule_limited_packets_total{interface=\"eth0\",rule=\"api-pps\"} 40\n"
	"sluice_rule_limited_packets_total{interface=\"eth0\",rule=\"dns\"} 1\n"
	"# HELP sluice_rule_matched_bytes_total Bytes of the packets that matched the rule.\n"
	"# TYPE sluice_rule_matched_bytes_total counter\n"
	"sluice_rule_matched_bytes_total{interface=\"eth0\",rule=\"api-pps\"} 64000\n"
	"sluice_rule_matched_bytes_total{interface=\"eth0\",rule=\"dns\"} 700\n"
	"# HELP sluice_limited_packets_total Packets limited (in a dry run, that would have been), by reason.\n"
	"# TYPE sluice_limited_packets_total counter\n"
	"sluice_limited_packets_total{interface=\"eth0\",reason=\"deny\"} 1005\n"
	"sluice_limited_packets_total{interface=\"eth0\",reason=\"ban\"} 1006\n"
	"sluice_limited_packets_total{interface=\"eth0\",reason=\"rate\"} 1007\n"
	"sluice_limited_packets_total{interface=\"eth0\",reason=\"window\"} 1008\n"
	"sluice_limited_packets_total{interface=\"eth0\",reason=\"conns\"} 1009\n"
	"sluice_limited_packets_total{interface=\"eth0\",reason=\"malformed\"} 1010\n"
	"sluice_limited_packets_total{interface=\"eth0\",reason=\"breaker\"} 1011\n"
	"sluice_limited_packets_total{interface=\"eth0\",reason=\"contention\"} 1012\n"
	"# HELP sluice_limited_bytes_total Bytes of the packets limited, by reason.\n"
	"# TYPE sluice_limited_bytes_total counter\n"
	"sluice_limited_bytes_total{interface=\"eth0\",reason=\"deny\"} 2000005\n"
	"sluice_limited_bytes_total{interface=\"eth0\",reason=\"ban\"} 2000006\n"
	"sluice_limited_bytes_total{interface=\"eth0\",reason=\"rate\"} 2000007\n"
	"sluice_limited_bytes_total{interface=\"eth0\",reason=\"window\"} 2000008\n"
	"sluice_limited_bytes_total{interface=\"eth0\",reason=\"conns\"} 2000009\n"
	"sluice_limited_bytes_total{interface=\"eth0\",reason=\"malformed\"} 2000010\n"
	"sluice_limited_bytes_total{interface=\"eth0\",reason=\"breaker\"} 2000011\n"
	"sluice_limited_bytes_total{interface=\"eth0\",reason=\"contention\"} 2000012\n"
	"# HELP sluice_packets_total Frames by verdict. rx is every frame seen, and is non_ip + passed + dropped + rejected; allowed and marked frames are also in passed, reject_limited ones also in dropped, flows_full and keys_full ones in whatever their rule then did, so do not sum over verdict.\n"
	"# TYPE sluice_packets_total counter\n"
	"sluice_packets_total{interface=\"eth0\",verdict=\"rx\"} 1000\n"
	"sluice_packets_total{interface=\"eth0\",verdict=\"passed\"} 1003\n"
	"sluice_packets_total{interface=\"eth0\",verdict=\"dropped\"} 1004\n"
	"sluice_packets_total{interface=\"eth0\",verdict=\"allowed\"} 1002\n"
	"sluice_packets_total{interface=\"eth0\",verdict=\"non_ip\"} 1001\n"
	"sluice_packets_total{interface=\"eth0\",verdict=\"rejected\"} 1013\n"
	"sluice_packets_total{interface=\"eth0\",verdict=\"marked\"} 1016\n"
	"sluice_packets_total{interface=\"eth0\",verdict=\"reject_limited\"} 1014\n"
	"sluice_packets_total{interface=\"eth0\",verdict=\"flows_full\"} 1015\n"
	"sluice_packets_total{interface=\"eth0\",verdict=\"keys_full\"} 1017\n"
	"# HELP sluice_bytes_total Bytes by verdict. rx is every frame seen, and is non_ip + passed + dropped + rejected; allowed and marked frames are also in passed, reject_limited ones also in dropped, flows_full and keys_full ones in whatever their rule then did, so do not sum over verdict.\n"
	"# TYPE sluice_bytes_total counter\n"
	"sluice_bytes_total{interface=\"eth0\",verdict=\"rx\"} 2000000\n"
	"sluice_bytes_total{interface=\"eth0\",verdict=\"passed\"} 2000003\n"
	"sluice_bytes_total{interface=\"eth0\",verdict=\"dropped\"} 2000004\n"
	"sluice_bytes_total{interface=\"eth0\",verdict=\"allowed\"} 2000002\n"
	"sluice_bytes_total{interface=\"eth0\",verdict=\"non_ip\"} 2000001\n"
	"sluice_bytes_total{interface=\"eth0\",verdict=\"rejected\"} 2000013\n"
	"sluice_bytes_total{interface=\"eth0\",verdict=\"marked\"} 2000016\n"
	"sluice_bytes_total{interface=\"eth0\",verdict=\"reject_limited\"} 2000014\n"
	"sluice_bytes_total{interface=\"eth0\",verdict=\"flows_full\"} 2000015\n"
	"sluice_bytes_total{interface=\"eth0\",verdict=\"keys_full\"} 2000017\n"
	"# HELP sluice_keys_tracked Keys with limiter state in the key map.\n"
	"# TYPE sluice_keys_tracked gauge\n"
	"sluice_keys_tracked{interface=\"eth0\"} 1234\n"
	"# HELP sluice_keys_capacity Entries the key map holds at most.\n"
	"# TYPE sluice_keys_capacity gauge\n"
	"sluice_keys_capacity{interface=\"eth0\"} 262144\n"
	"# HELP sluice_flows_tracked TCP connections tracked for conns limits.\n"
	"# TYPE sluice_flows_tracked gauge\n"
	"sluice_flows_tracked{interface=\"eth0\"} 56\n"
	"# HELP sluice_flows_capacity Connections the flow table holds at most.\n"
	"# TYPE sluice_flows_capacity gauge\n"
	"sluice_flows_capacity{interface=\"eth0\"} 65536\n"
	"# HELP sluice_rule_set_generation Generation of the active rule set; every load changes it.\n"
	"# TYPE sluice_rule_set_generation gauge\n"
	"sluice_rule_set_generation{interface=\"eth0\"} 3\n"
	"# HELP sluice_dry_run 1 while the rule set runs dry: packets over a limit count as limited but pass.\n"
	"# TYPE sluice_dry_run gauge\n"
	"sluice_dry_run{interface=\"eth0\"} 0\n"
	"# HELP sluice_bans_active Bans in force, by origin: every packet of their addresses is dropped before any rule.\n"
	"# TYPE sluice_bans_active gauge\n"
	"sluice_bans_active{interface=\"eth0\",origin=\"rule\"} 7\n"
	"sluice_bans_active{interface=\"eth0\",origin=\"manual\"} 5\n"
	"# HELP sluice_ban_entries Entries in the ban table: bans in force, and ended ones kept while their offences are remembered.\n"
	"# TYPE sluice_ban_entries gauge\n"
	"sluice_ban_entries{interface=\"eth0\"} 30\n"
	"# HELP sluice_ban_capacity Entries the ban table holds at most.\n"
	"# TYPE sluice_ban_capacity gauge\n"
	"sluice_ban_capacity{interface=\"eth0\"} 65536\n"
	"# HELP sluice_bans_total Bans rules started.\n"
	"# TYPE sluice_bans_total counter\n"
	"sluice_bans_total{interface=\"eth0\"} 1018\n"
	"# HELP sluice_bans_refused_total Bans rules could not start because the ban table was full.\n"
	"# TYPE sluice_bans_refused_total counter\n"
	"sluice_bans_refused_total{interface=\"eth0\"} 1019\n"
	"# HELP sluice_events_total Events the data path sent to the daemon, by result: suppressed ones were over the event budget or found the ring full.\n"
	"# TYPE sluice_events_total counter\n"
	"sluice_events_total{interface=\"eth0\",result=\"sent\"} 1020\n"
	"sluice_events_total{interface=\"eth0\",result=\"suppressed\"} 1021\n"
	"# HELP sluice_reloads_total Configuration reloads by the daemon, by result; a failed one changed nothing.\n"
	"# TYPE sluice_reloads_total counter\n"
	"sluice_reloads_total{interface=\"eth0\",result=\"ok\"} 2\n"
	"sluice_reloads_total{interface=\"eth0\",result=\"failed\"} 1\n"
	"# HELP sluice_sweeps_total Sweeps of connections and keys the daemon ran.\n"
	"# TYPE sluice_sweeps_total counter\n"
	"sluice_sweeps_total{interface=\"eth0\"} 40\n"
	"# HELP sluice_connections_released_total Tracked connections released by sweeps: half_open never completed the handshake, idle went silent.\n"
	"# TYPE sluice_connections_released_total counter\n"
	"sluice_connections_released_total{interface=\"eth0\",reason=\"half_open\"} 9\n"
	"sluice_connections_released_total{interface=\"eth0\",reason=\"idle\"} 3\n"
	"# HELP sluice_connection_counts_corrected_total Per-key connection counts sweeps found wrong and corrected.\n"
	"# TYPE sluice_connection_counts_corrected_total counter\n"
	"sluice_connection_counts_corrected_total{interface=\"eth0\"} 1\n"
	"# HELP sluice_keys_reclaimed_total Keys deleted by sweeps: their limiter state said nothing for key-timeout, or their rule is gone.\n"
	"# TYPE sluice_keys_reclaimed_total counter\n"
	"sluice_keys_reclaimed_total{interface=\"eth0\"} 77\n"
	"# HELP sluice_start_time_seconds When the daemon started, in seconds since the epoch.\n"
	"# TYPE sluice_start_time_seconds gauge\n"
	"sluice_start_time_seconds{interface=\"eth0\"} 1700000000\n";

static void test_format_writes_every_family_exactly(void **state)
{
	char *out = format("eth0", &st, &daemon_stats);

	assert_string_equal(out, expected);
	free(out);
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

static void test_format_without_daemon_leaves_out_its_families(void **state)
{
	char *out = format("eth0", &st, NULL);
	size_t cut = strstr(expected, "# HELP sluice_reloads_total") - expected;

	/* The same text up to the daemon's families, and nothing after. */
	assert_int_equal(strlen(out), cut);
	assert_memory_equal(out, expected, cut);
	assert_int_equal(count(out, "# TYPE "), 23);
	free(out);
}

static void test_format_without_rules_keeps_rule_families_empty(void **state)
{
	struct sl_stats empty = st;
	char *out;

	empty.n_rules = 0;
	out = format("eth0", &empty, &daemon_stats);
	assert_int_equal(count(out, "# TYPE "), 29);
	assert_int_equal(count(out, "# HELP sluice_rule_matched_packets_total "), 1);
	assert_int_equal(count(out, "rule=\""), 0);
	free(out);
}

static void test_format_escapes_label_values(void **state)
{
	char *out;

	/* Linux takes any byte but '/', ':' and white space in a name. */
	out = format("a\"b\\c", &st, NULL);
	assert_non_null(strstr(out,
		"sluice_keys_tracked{interface=\"a\\\"b\\\\c\"} 1234\n"));
	assert_int_equal(count(out, "{interface=\"a\\\"b\\\\c\""), 14 + 16 + 20 + 6 + 8);
	free(out);

	out = format("x\ny", &st, NULL);
	assert_non_null(strstr(out, "sluice_keys_tracked{interface=\"x\\ny\"} 1234\n"));
	assert_null(strstr(out, "x\ny"));
	free(out);
}

/*
 * Every label name of every sample is one of these: an address label would
 * make a series per client, which a time-series database cannot hold.
 */
static void test_format_labels_never_name_an_address(void **state)
{
	static const char *const allowed[] = {
		"interface", "rule", "reason", "verdict", "result", "origin",
		"breaker", "kind", "to",
	};
	static struct sl_stats with;
	char *out, *line, *save = NULL;
	unsigned samples = 0;

	with = st;
	fill_breakers(&with);
	out = format("eth0", &with, &daemon_stats);

	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p;

		if (line[0] == '#')
			continue;
		samples++;
		p = strchr(line, '{');
		assert_non_null(p);
		while (*p == '{' || *p == ',') {
			char *eq = strchr(++p, '='), *end;
			size_t i, n = eq - p;
			bool ok = false;

			for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
				ok |= strlen(allowed[i]) == n &&
				      !strncmp(p, allowed[i], n);
			if (!ok)
				fail_msg("label \"%.*s\" in: %s", (int)n, p, line);
			/* Past the quoted value, escapes included. */
			for (end = eq + 2; *end != '"'; end++)
				if (*end == '\\')
					end++;
			p = end + 1;
		}
		assert_int_equal(*p, '}');
	}
	/* Rules 7 x 2, reasons 2 x 8, verdicts 2 x 10, gauges 6, bans and
	 * events 8, daemon 8, breakers 2 x 11. */
	assert_int_equal(samples, 14 + 16 + 20 + 6 + 8 + 8 + 22);
	free(out);
}

/*
 * The real parser reads the text back and finds, sample for sample, the
 * values `stats --json` prints for the same snapshot and the daemon's, and
 * no sample left over.
 */
static const char check_py[] =
	"import json, sys\n"
	"try:\n"
	"    from prometheus_client.parser import text_string_to_metric_families\n"
	"except ImportError:\n"
	"    sys.exit('python3-prometheus-client is missing: apt-get install python3-prometheus-client')\n"
	"text = open(sys.argv[1]).read()\n"
	"stats = json.load(open(sys.argv[2]))\n"
	"daemon = json.loads(sys.argv[3])\n"
	"ifname = stats['interface']\n"
	"samples, families = {}, 0\n"
	"for fam in text_string_to_metric_families(text):\n"
	"    families += 1\n"
	"    assert fam.documentation, fam.name\n"
	"    assert fam.type in ('counter', 'gauge'), fam\n"
	"    for s in fam.samples:\n"
	"        key = (s.name, tuple(sorted(s.labels.items())))\n"
	"        assert key not in samples, key\n"
	"        assert s.labels['interface'] == ifname, s\n"
	"        assert s.name.endswith('_total') == (fam.type == 'counter'), s\n"
	"        samples[key] = s.value\n"
	"def take(name, **labels):\n"
	"    labels['interface'] = ifname\n"
	"    return samples.pop((name, tuple(sorted(labels.items()))))\n"
	"for r in stats['rules']:\n"
	"    for k in ('matched', 'passed', 'dropped', 'rejected', 'marked', 'limited'):\n"
	"        assert take('sluice_rule_%s_packets_total' % k, rule=r['name']) == r[k], (r, k)\n"
	"    assert take('sluice_rule_matched_bytes_total', rule=r['name']) == r['bytes'], r\n"
	"for reason, c in stats['reasons'].items():\n"
	"    assert take('sluice_limited_packets_total', reason=reason) == c['packets'], reason\n"
	"    assert take('sluice_limited_bytes_total', reason=reason) == c['bytes'], reason\n"
	"for verdict, c in stats['totals'].items():\n"
	"    assert take('sluice_packets_total', verdict=verdict) == c['packets'], verdict\n"
	"    assert take('sluice_bytes_total', verdict=verdict) == c['bytes'], verdict\n"
	"for k in ('keys_tracked', 'keys_capacity', 'flows_tracked', 'flows_capacity'):\n"
	"    assert take('sluice_' + k) == stats[k], k\n"
	"assert take('sluice_rule_set_generation') == stats['generation']\n"
	"assert take('sluice_dry_run') == int(stats['dry_run'])\n"
	"bans, events = stats['bans'], stats['events']\n"
	"assert take('sluice_bans_active', origin='rule') == bans['active'] - bans['manual']\n"
	"assert take('sluice_bans_active', origin='manual') == bans['manual']\n"
	"assert take('sluice_ban_entries') == bans['entries']\n"
	"assert take('sluice_ban_capacity') == bans['capacity']\n"
	"assert take('sluice_bans_total') == bans['started']\n"
	"assert take('sluice_bans_refused_total') == bans['refused']\n"
	"assert take('sluice_events_total', result='sent') == events['sent']\n"
	"assert take('sluice_events_total', result='suppressed') == events['suppressed']\n"
	"assert take('sluice_reloads_total', result='ok') == daemon['reloads_ok']\n"
	"assert take('sluice_reloads_total', result='failed') == daemon['reloads_failed']\n"
	"assert take('sluice_sweeps_total') == daemon['sweeps']\n"
	"assert take('sluice_connections_released_total', reason='half_open') == daemon['released_half_open']\n"
	"assert take('sluice_connections_released_total', reason='idle') == daemon['released_idle']\n"
	"assert take('sluice_connection_counts_corrected_total') == daemon['counts_corrected']\n"
	"assert take('sluice_keys_reclaimed_total') == daemon['keys_reclaimed']\n"
	"assert take('sluice_start_time_seconds') == daemon['start_time']\n"
	"states = {'closed': 0, 'open': 1, 'half_open': 2}\n"
	"for b in stats['breakers']:\n"
	"    n, c = b['name'], b['counters']\n"
	"    assert take('sluice_breaker_state', breaker=n) == states[b['state']], b\n"
	"    for to, v in b['transitions'].items():\n"
	"        assert take('sluice_breaker_transitions_total', breaker=n, to=to) == v, (b, to)\n"
	"    assert take('sluice_breaker_errors_total', breaker=n, kind='rst') == c['rsts'], b\n"
	"    assert take('sluice_breaker_errors_total', breaker=n, kind='http_5xx') == c['http_5xx'], b\n"
	"    assert take('sluice_breaker_http_responses_total', breaker=n) == c['responses'], b\n"
	"    assert take('sluice_breaker_refused_total', breaker=n) == c['refused'], b\n"
	"    for r in ('ok', 'failed', 'timed_out'):\n"
	"        assert take('sluice_breaker_probes_total', breaker=n, result=r) == c['probes_' + r], (b, r)\n"
	"assert not samples, samples\n"
	"print('ok', families)\n";

static void write_temp(char *path, const char *prefix,
		       void (*write)(FILE *f, const void *arg), const void *arg)
{
	FILE *f;
	int fd;

	snprintf(path, 64, "/tmp/sluice-test-%s-XXXXXX", prefix);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	write(f, arg);
	assert_int_equal(fclose(f), 0);
}

static void write_string(FILE *f, const void *arg)
{
	fputs(arg, f);
}

/* The snapshot the next parse_with_prometheus_client() writes out. */
static const struct sl_stats *shown = &st;

static void write_metrics(FILE *f, const void *arg)
{
	metrics__format(f, arg, shown, &daemon_stats);
}

static void write_json(FILE *f, const void *arg)
{
	stats__print_json(f, arg, shown);
}

static void parse_with_prometheus_client(const char *ifname)
{
	char families[16];
	char script[64], text[64], json[64], cmd[512], line[4096] = "";
	const struct sl_daemon_stats *d = &daemon_stats;
	FILE *p;
	int status;

	write_temp(script, "check-py", write_string, check_py);
	write_temp(text, "metrics", write_metrics, ifname);
	write_temp(json, "stats-json", write_json, ifname);
	snprintf(cmd, sizeof(cmd),
		 PYTHON " %s %s %s '{\"reloads_ok\":%llu,\"reloads_failed\":%llu,"
		 "\"sweeps\":%llu,\"released_half_open\":%llu,"
		 "\"released_idle\":%llu,\"counts_corrected\":%llu,"
		 "\"keys_reclaimed\":%llu,\"start_time\":%lld}' 2>&1",
		 script, text, json, d->reloads_ok, d->reloads_failed, d->sweeps,
		 d->released_half_open, d->released_idle, d->counts_corrected,
		 d->keys_reclaimed, (long long)d->start_time);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line + strlen(line), sizeof(line) - strlen(line), p) &&
	       strlen(line) < sizeof(line) - 1)
		;
	status = pclose(p);
	unlink(script);
	unlink(text);
	unlink(json);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("the parser refused the metrics of \"%s\":\n%s", ifname,
			 line);
	/* Breakers add their six families only when there are some. */
	snprintf(families, sizeof(families), "ok %d\n", shown->n_breakers ? 35 : 29);
	assert_string_equal(line, families);
}

static void test_format_parses_back_to_the_stats_json_values(void **state)
{
	parse_with_prometheus_client("eth0");
}

static void test_format_escaped_labels_parse_back(void **state)
{
	parse_with_prometheus_client("we\"ird\\if");
}

static void test_format_breakers_parse_back_to_the_stats_json_values(void **state)
{
	static struct sl_stats with;

	with = st;
	fill_breakers(&with);
	shown = &with;
	parse_with_prometheus_client("eth0");
	shown = &st;
}

static const char expected_breaker[] =
	"# HELP sluice_breaker_state Circuit breaker state: 0 closed, 1 open (new connections refused), 2 half-open (probing).\n"
	"# TYPE sluice_breaker_state gauge\n"
	"sluice_breaker_state{interface=\"eth0\",breaker=\"api\"} 1\n"
	"# HELP sluice_breaker_transitions_total Circuit breaker transitions, by the state entered.\n"
	"# TYPE sluice_breaker_transitions_total counter\n"
	"sluice_breaker_transitions_total{interface=\"eth0\",breaker=\"api\",to=\"closed\"} 1\n"
	"sluice_breaker_transitions_total{interface=\"eth0\",breaker=\"api\",to=\"open\"} 3\n"
	"sluice_breaker_transitions_total{interface=\"eth0\",breaker=\"api\",to=\"half_open\"} 2\n"
	"# HELP sluice_breaker_errors_total Errors the breaker's service sent toward clients, by kind: TCP resets and HTTP/1.x 5xx status lines.\n"
	"# TYPE sluice_breaker_errors_total counter\n"
	"sluice_breaker_errors_total{interface=\"eth0\",breaker=\"api\",kind=\"rst\"} 11\n"
	"sluice_breaker_errors_total{interface=\"eth0\",breaker=\"api\",kind=\"http_5xx\"} 12\n"
	"# HELP sluice_breaker_http_responses_total HTTP/1.x status lines the breaker's service sent, any status.\n"
	"# TYPE sluice_breaker_http_responses_total counter\n"
	"sluice_breaker_http_responses_total{interface=\"eth0\",breaker=\"api\"} 13\n"
	"# HELP sluice_breaker_refused_total New connections refused while the breaker was open or had no probe left.\n"
	"# TYPE sluice_breaker_refused_total counter\n"
	"sluice_breaker_refused_total{interface=\"eth0\",breaker=\"api\"} 16\n"
	"# HELP sluice_breaker_probes_total Half-open probe connections judged, by result: ok, failed, timed_out (no answer in time).\n"
	"# TYPE sluice_breaker_probes_total counter\n"
	"sluice_breaker_probes_total{interface=\"eth0\",breaker=\"api\",result=\"ok\"} 14\n"
	"sluice_breaker_probes_total{interface=\"eth0\",breaker=\"api\",result=\"failed\"} 15\n"
	"sluice_breaker_probes_total{interface=\"eth0\",breaker=\"api\",result=\"timed_out\"} 4\n";

/* After the interface's own gauges, before the daemon's families. */
static void test_format_writes_breaker_families_exactly(void **state)
{
	static struct sl_stats with;
	size_t cut = strstr(expected, "# HELP sluice_reloads_total") - expected;
	char *out;

	with = st;
	fill_breakers(&with);
	with.n_breakers = 1;
	out = format("eth0", &with, &daemon_stats);
	assert_memory_equal(out, expected, cut);
	assert_memory_equal(out + cut, expected_breaker, strlen(expected_breaker));
	assert_string_equal(out + cut + strlen(expected_breaker), expected + cut);
	free(out);
}

/* The HTTP server. */

static unsigned short free_port(int family)
{
	struct sockaddr_storage ss = { .ss_family = family };
	socklen_t len = sizeof(ss);
	unsigned short port;
	int fd = socket(family, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	assert_int_equal(bind(fd, (struct sockaddr *)&ss,
			      family == AF_INET ? sizeof(struct sockaddr_in) :
						  sizeof(struct sockaddr_in6)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					 ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return port;
}

struct http_reply {
	int status;
	char head[1024];
	char body[2048];
};

/* One HTTP/1.0 request with a plain socket; the server closes after it. */
static void http(int family, unsigned short port, const char *method,
		 const char *path, struct http_reply *r)
{
	struct sockaddr_storage ss = { .ss_family = family };
	struct timeval tv = { .tv_sec = 5 };
	char buf[4096], req[256], *split;
	size_t len = 0;
	ssize_t n;
	int fd = socket(family, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	}
	assert_int_equal(connect(fd, (struct sockaddr *)&ss,
				 family == AF_INET ? sizeof(struct sockaddr_in) :
						     sizeof(struct sockaddr_in6)), 0);
	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: test\r\n\r\n",
		 method, path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	assert_true(n == 0);	/* closed, not timed out */
	close(fd);
	buf[len] = '\0';

	memset(r, 0, sizeof(*r));
	assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1);
	split = strstr(buf, "\r\n\r\n");
	assert_non_null(split);
	*split = '\0';
	snprintf(r->head, sizeof(r->head), "%s", buf);
	snprintf(r->body, sizeof(r->body), "%s", split + 4);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct sl_metrics *start(const char *addr)
{
	struct sl_metrics *m;
	struct sl_error err;

	if (metrics__start(&m, addr, NO_PINS, &daemon_stats, &lock, &err))
		fail_msg("metrics__start %s: %s", addr, err.msg);
	assert_non_null(m);
	return m;
}

static void assert_503_one_line(const struct http_reply *r)
{
	assert_int_equal(r->status, 503);
	assert_non_null(strstr(r->head, "\r\nContent-Type: text/plain"));
	/* One line that says what failed and on which interface. */
	assert_string_not_equal(r->body, "");
	assert_int_equal(count(r->body, "\n"), 1);
	assert_int_equal(r->body[strlen(r->body) - 1], '\n');
	assert_non_null(strstr(r->body, "sluice: cannot read the counters: "));
	/* "...: sluice is not attached (no ...)" as root, "...: Permission
	 * denied" on the pin root otherwise; either way it names the pins. */
	assert_non_null(strstr(r->body, NO_PINS));
}

static void test_server_without_pins_answers_503_with_one_line(void **state)
{
	unsigned short port = free_port(AF_INET);
	struct http_reply r;
	struct sl_metrics *m;
	char addr[32];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	m = start(addr);
	http(AF_INET, port, "GET", "/metrics", &r);
	assert_503_one_line(&r);
	/* A query string is still /metrics. */
	http(AF_INET, port, "GET", "/metrics?name[]=x", &r);
	assert_503_one_line(&r);
	metrics__stop(m);
}

static void test_server_answers_404_elsewhere_and_405_to_other_methods(void **state)
{
	unsigned short port = free_port(AF_INET);
	struct http_reply r;
	struct sl_metrics *m;
	char addr[32];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	m = start(addr);
	http(AF_INET, port, "GET", "/other", &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "not found: metrics are at /metrics\n");
	http(AF_INET, port, "GET", "/", &r);
	assert_int_equal(r.status, 404);
	http(AF_INET, port, "GET", "/metrics/", &r);
	assert_int_equal(r.status, 404);
	http(AF_INET, port, "POST", "/metrics", &r);
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.head, "\r\nAllow: GET, HEAD"));
	http(AF_INET, port, "DELETE", "/metrics", &r);
	assert_int_equal(r.status, 405);
	/* HEAD is GET without the body. */
	http(AF_INET, port, "HEAD", "/metrics", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "");
	metrics__stop(m);
}

static void test_server_on_ipv6_loopback(void **state)
{
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_addr = IN6ADDR_LOOPBACK_INIT,
	};
	unsigned short port;
	struct http_reply r;
	struct sl_metrics *m;
	char addr[32];
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

	ok = fd >= 0 && !bind(fd, (struct sockaddr *)&sin6, sizeof(sin6));
	if (fd >= 0)
		close(fd);
	if (!ok)
		skip();		/* IPv6 disabled on this host */
	port = free_port(AF_INET6);
	snprintf(addr, sizeof(addr), "[::1]:%u", port);
	m = start(addr);
	http(AF_INET6, port, "GET", "/metrics", &r);
	assert_503_one_line(&r);
	metrics__stop(m);
}

static void test_stop_frees_the_port_for_a_restart(void **state)
{
	unsigned short port = free_port(AF_INET);
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	char addr[32];
	int fd;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	metrics__stop(start(addr));
	metrics__stop(start(addr));
	metrics__stop(NULL);
	/* Nothing listens any more. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
}

static void test_start_reports_the_address_in_use(void **state)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sin);
	struct sl_metrics *m = (void *)1;
	struct sl_error err;
	char addr[32], msg[128];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
	assert_int_equal(metrics__start(&m, addr, NO_PINS, NULL, NULL, &err),
			 -EADDRINUSE);
	assert_null(m);
	snprintf(msg, sizeof(msg), "bind %s: Address already in use", addr);
	assert_string_equal(err.msg, msg);
	close(fd);
}

static void test_start_refuses_an_address_not_of_this_host(void **state)
{
	struct sl_metrics *m;
	struct sl_error err;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_nonlocal_bind", "r");
	int nonlocal = 0;

	if (f) {
		if (fscanf(f, "%d", &nonlocal) != 1)
			nonlocal = 0;
		fclose(f);
	}
	if (nonlocal)
		skip();		/* then any address binds */
	/* TEST-NET-1: documentation only, on no interface of a test host. */
	assert_int_equal(metrics__start(&m, "192.0.2.1:9477", NO_PINS, NULL, NULL,
					&err), -EADDRNOTAVAIL);
	assert_null(m);
	assert_string_equal(err.msg,
			    "bind 192.0.2.1:9477: Cannot assign requested address");
}

static void test_start_refuses_a_malformed_address(void **state)
{
	struct sl_metrics *m;
	struct sl_error err;

	assert_int_equal(metrics__start(&m, "localhost:9477", NO_PINS, NULL, NULL,
					&err), -EINVAL);
	assert_null(m);
	assert_string_equal(err.msg,
			    "expected an address and port like 127.0.0.1:9477 or [::1]:9477, got \"localhost:9477\"");
	assert_int_equal(metrics__start(&m, "127.0.0.1:0", NO_PINS, NULL, NULL,
					&err), -EINVAL);
	assert_string_equal(err.msg, "port must be 1..65535, got \"0\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_writes_every_family_exactly),
		cmocka_unit_test(test_format_without_daemon_leaves_out_its_families),
		cmocka_unit_test(test_format_without_rules_keeps_rule_families_empty),
		cmocka_unit_test(test_format_escapes_label_values),
		cmocka_unit_test(test_format_labels_never_name_an_address),
		cmocka_unit_test(test_format_parses_back_to_the_stats_json_values),
		cmocka_unit_test(test_format_escaped_labels_parse_back),
		cmocka_unit_test(test_format_breakers_parse_back_to_the_stats_json_values),
		cmocka_unit_test(test_format_writes_breaker_families_exactly),
		cmocka_unit_test(test_server_without_pins_answers_503_with_one_line),
		cmocka_unit_test(test_server_answers_404_elsewhere_and_405_to_other_methods),
		cmocka_unit_test(test_server_on_ipv6_loopback),
		cmocka_unit_test(test_stop_frees_the_port_for_a_restart),
		cmocka_unit_test(test_start_reports_the_address_in_use),
		cmocka_unit_test(test_start_refuses_an_address_not_of_this_host),
		cmocka_unit_test(test_start_refuses_a_malformed_address),
	};

	return cmocka_run_group_tests_name("metrics", tests, setup, NULL);
}
