#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The daemon's Prometheus endpoint tells the same story as
# `sluice stats --json`, in a form a real scraper accepts, and keeps
# answering while a flood is being limited.
#
# Five rules, one per action (drop, pass, reject, mark) plus a window
# limit, and a denied source, so that every rule family and most reason
# and verdict samples are non-zero. While paced traffic runs, /metrics is
# scraped with curl: it parses with python3-prometheus-client's parser,
# every family is sluice_-prefixed with a TYPE, every counter sample ends
# in _total, no label is an address (by name or by value). During a flood
# as fast as the client can send, every scrape answers within 1 s. Once
# the traffic has stopped, each per-rule, per-reason and per-verdict
# sample equals the matching field of `sluice stats --json` exactly.
# Anything but /metrics is a 404.
. "$(dirname "$0")/lib.sh"
e2e_init

DENIED=10.200.1.30
client_addr "$DENIED"
client_xdp_pass		# the ICMP answers of action reject go back by XDP_TX

# key-timeout 1d: the daemon's sweep deletes no key while the test runs,
# so keys_tracked stays what the traffic made it.
conf=$(write_conf run.conf <<CONF
interface $IF_GW
key-timeout 1d
deny $DENIED/32
rule r-drop   proto udp dport 7801 key src rate 500/s burst 100 action drop
rule r-pass   proto udp dport 7802 key src rate 200/s burst 50 action pass
rule r-reject proto udp dport 7803 key src rate 200/s burst 50 action reject
rule r-mark   proto udp dport 7804 key src rate 200/s burst 50 action mark 7
rule r-window proto udp dport 7805 key src window 500/m action drop
CONF
)
daemon_start d --config "$conf" --metrics "$METRICS_ADDR"
daemon_wait_ready d

# no_address_labels WHAT: the last scrape has no label named like an
# address and no label value that is one of this test's addresses.
no_address_labels() {
	local bad
	bad=$(metric 'sorted(labelnames & {"addr", "address", "src", "source", "saddr", "ip", "client"})')
	assert_eq '[]' "$bad" "address-like label names ($1)"
	bad=$(metric 'sorted({v for _, l, _ in samples for v in l.values() if v.startswith("10.200.") or v.startswith("fd00:")})')
	assert_eq '[]' "$bad" "label values that are addresses ($1)"
}

check "a scrape during paced traffic: 200, parses, sluice_ families, no address labels"
for p in 7801 7802 7803 7804 7805; do
	start_counter "c$p" "$p" --idle 1 --max-time 30
	send_udp_bg "s$p" "$CLIENT4" "$SERVER4" "$p" 2000 3
done
send_udp_bg denied "$DENIED" "$SERVER4" 7801 500 3
sleep 1.5
scrape /metrics
assert_eq 200 "$SCRAPE_CODE" "GET /metrics status"
assert_contains "$SCRAPE_TYPE" "text/plain" "Content-Type of /metrics"
assert_contains "$SCRAPE_TYPE" "version=0.0.4" "Content-Type of /metrics"
log "$(metric 'len(samples)') samples in $(metric 'len(families)') families"
assert_eq '[]' "$(metric 'sorted(n for n in families if not n.startswith("sluice_"))')" "families without the sluice_ prefix"
assert_eq '[]' "$(metric 'sorted(n for n, t in families.items() if t not in ("counter", "gauge"))')" "families with no counter or gauge TYPE"
assert_eq '[]' "$(metric 'sorted({n for n, _, _ in samples if families.get(n[:-len("_total")] if n.endswith("_total") else n) == "counter" and not n.endswith("_total")})')" "counter samples not ending in _total"
assert_eq '[]' "$(metric 'sorted({n for n, l, _ in samples if l.get("interface") != "'"$IF_GW"'"})')" "samples without interface=\"$IF_GW\""
no_address_labels "during traffic"
assert_cmp "$(metric 'm("sluice_rule_matched_packets_total", rule="r-drop")')" -gt 0 \
	'sluice_rule_matched_packets_total{rule="r-drop"} during traffic'

# The paced senders end; their receivers give the ports back.
for p in 7801 7802 7803 7804 7805; do
	wait_sender "s$p"
	wait_counter "c$p"
done
wait_sender denied

check "a scrape during a flood as fast as the client sends answers within 1 s"
start_counter flood 7801 --idle 1 --max-time 30
send_udp_bg flood "$CLIENT4" "$SERVER4" 7801 0 6
sleep 0.5
for i in 1 2 3 4 5; do
	scrape /metrics
	assert_eq 200 "$SCRAPE_CODE" "GET /metrics status during the flood ($i)"
	$PY -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)' "$SCRAPE_SECS" ||
		fail "scrape $i during the flood took ${SCRAPE_SECS}s"
	log "ok: scrape $i during the flood took ${SCRAPE_SECS}s"
	metric 'len(samples)' >/dev/null
	sleep 0.4
done
kill -0 "$SENDER_PID_flood" 2>/dev/null ||
	fail "the flood ended before the scrapes did"
wait_sender flood
wait_counter flood
log "flood: sent $(json_field "$SEND_JSON" 'd["sent"]') in $(json_field "$SEND_JSON" 'd["elapsed"]')s, rule r-drop matched $(stats_field "$IF_GW" 'rule("r-drop")["matched"]')"

check "with the traffic stopped, every sample equals sluice stats --json"
sleep 0.5
scrape /metrics
assert_eq 200 "$SCRAPE_CODE" "GET /metrics status"
cp "$TMP_DIR/scrape.txt" "$TMP_DIR/scrape1.txt"
stats=$(stats_json "$IF_GW")
no_address_labels "after the traffic"
# One line per comparison: WHAT, what stats --json says, what /metrics says.
pairs=$("$PY" - "$TMP_DIR/scrape.txt" "$stats" <<'EOF'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = [(s.name, s.labels, s.value) for f in
           text_string_to_metric_families(open(sys.argv[1]).read()) for s in f.samples]
d = json.loads(sys.argv[2])

def m(name, **labels):
    found = [v for n, l, v in samples
             if n == name and all(l.get(k) == v for k, v in labels.items())]
    return int(found[0]) if len(found) == 1 else "%d samples" % len(found)

def out(what, want, got):
    print("%s\t%s\t%s" % (what, want, got))

rules = [r["name"] for r in d["rules"]]
out("rules", sorted(rules), sorted({l["rule"] for n, l, _ in samples
                                   if n == "sluice_rule_matched_packets_total"}))
for r in d["rules"]:
    for f in ("matched", "passed", "dropped", "rejected", "marked", "limited"):
        out('sluice_rule_%s_packets_total{rule="%s"}' % (f, r["name"]), r[f],
            m("sluice_rule_%s_packets_total" % f, rule=r["name"]))
    out('sluice_rule_matched_bytes_total{rule="%s"}' % r["name"], r["bytes"],
        m("sluice_rule_matched_bytes_total", rule=r["name"]))
out("reasons", sorted(d["reasons"]), sorted({l["reason"] for n, l, _ in samples
                                            if n == "sluice_limited_packets_total"}))
for k, c in d["reasons"].items():
    out('sluice_limited_packets_total{reason="%s"}' % k, c["packets"],
        m("sluice_limited_packets_total", reason=k))
    out('sluice_limited_bytes_total{reason="%s"}' % k, c["bytes"],
        m("sluice_limited_bytes_total", reason=k))
out("verdicts", sorted(d["totals"]), sorted({l["verdict"] for n, l, _ in samples
                                            if n == "sluice_packets_total"}))
for k, c in d["totals"].items():
    out('sluice_packets_total{verdict="%s"}' % k, c["packets"],
        m("sluice_packets_total", verdict=k))
    out('sluice_bytes_total{verdict="%s"}' % k, c["bytes"],
        m("sluice_bytes_total", verdict=k))
for k in ("keys_tracked", "keys_capacity", "flows_tracked", "flows_capacity"):
    out("sluice_" + k, d[k], m("sluice_" + k))
out("sluice_rule_set_generation", d["generation"], m("sluice_rule_set_generation"))
EOF
) || fail "comparing /metrics with stats --json: $pairs"
while IFS=$'\t' read -r what want got; do
	assert_eq "$want" "$got" "$what"
done <<<"$pairs"

check "the traffic made every rule family count (the comparison above was not all zeros)"
j=$stats
for r in r-drop r-pass r-reject r-mark r-window; do
	assert_cmp "$(json_field "$j" "rule('$r')['limited']")" -gt 0 "rule $r limited"
done
assert_cmp "$(json_field "$j" 'rule("r-reject")["rejected"]')" -gt 0 "rule r-reject rejected"
assert_cmp "$(json_field "$j" 'rule("r-mark")["marked"]')" -gt 0 "rule r-mark marked"
assert_cmp "$(json_field "$j" 'd["reasons"]["deny"]["packets"]')" -gt 0 "reasons.deny.packets"
assert_cmp "$(json_field "$j" 'd["reasons"]["window"]["packets"]')" -gt 0 "reasons.window.packets"

check "a second scrape with no traffic is identical but for the daemon's own counters"
scrape /metrics
strip() { grep -v -e '^sluice_sweeps_total' -e '^sluice_start_time' "$1"; }
[ "$(strip "$TMP_DIR/scrape1.txt")" = "$(strip "$TMP_DIR/scrape.txt")" ] ||
	fail "/metrics changed with no traffic: $(diff <(strip "$TMP_DIR/scrape1.txt") <(strip "$TMP_DIR/scrape.txt"))"
log "ok: unchanged"

check "anything but /metrics is a 404"
for path in /other / /metrics/extra /metricsx; do
	scrape "$path"
	assert_eq 404 "$SCRAPE_CODE" "GET $path status"
done

daemon_stop d TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"

pass
