#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Events are rate-limited where they are made: with `event-limit 1/m burst
# 2`, six clients that each start being limited make six `limited` events,
# of which the data path sends two to the daemon's log and counts four as
# suppressed; the daemon logs the two, then a warning with the count (at
# most one every 10 s, so a lasting flood cannot flood the log that way
# either), and the counters agree in stats and metrics.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7721
SOURCES=()
for i in 11 12 13 14 15; do
	client_addr "10.200.1.$i"
	SOURCES+=("10.200.1.$i")
done
SOURCES+=("$CLIENT4")

conf=$(write_conf sluice.conf <<CONF
interface $IF_GW
event-limit 1/m burst 2
rule r proto udp dport $PORT key src rate 1/h burst 1 action drop
CONF
)
daemon_start d --config "$conf" --metrics "$METRICS_ADDR" --log-format json \
	--sweep-interval 200ms
daemon_wait_ready d

# log_events EXPR: EXPR over the daemon's JSON log lines, a list `e`.
log_events() {
	"$PY" - "$TMP_DIR/d.log" "$1" <<'PYEOF' || fail "reading the daemon's log: $(daemon_log d)"
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
PYEOF
}

check "six clients start being limited: two events logged, four suppressed"
# Two datagrams from each, all within a few milliseconds: one process.
nsenter --net="/run/netns/$NS_CLIENT" "$PY" - "$SERVER4" "$PORT" "${SOURCES[@]}" <<'PYEOF' ||
import socket, sys
dst = (sys.argv[1], int(sys.argv[2]))
socks = []
for src in sys.argv[3:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    socks.append(s)
for s in socks:
    s.sendto(b"x" * 32, dst)
    s.sendto(b"x" * 32, dst)
PYEOF
	fail "sending from ${SOURCES[*]}"
# Should a sweep fall between the datagrams, the rest is told 10 s later.
for i in $(seq 130); do
	[ "$(log_events 'sum(int(x["message"].split()[0]) for x in e if x["event"] == "events_suppressed")')" -ge 4 ] && break
	sleep 0.1
done
log "$(grep -e limited -e suppressed "$TMP_DIR/d.log")"
assert_eq 2 "$(log_events 'len([x for x in e if x["event"] == "limited"])')" "limited events logged"
assert_eq '["r", "r"]' "$(log_events '[x["rule"] for x in e if x["event"] == "limited"]')" "their rule"
assert_eq 4 "$(log_events 'sum(int(x["message"].split()[0]) for x in e if x["event"] == "events_suppressed")')" \
	"events suppressed, as the warnings count them"
assert_eq '["warning"]' "$(log_events 'sorted({x["level"] for x in e if x["event"] == "events_suppressed"})')" \
	"level of the warnings"
assert_contains "$(log_events '[x["message"] for x in e if x["event"] == "events_suppressed"][0]')" \
	"events suppressed (over event-limit, or the ring was full)" "the warning"
warnings=$(log_events 'len([x for x in e if x["event"] == "events_suppressed"])')
j=$(stats_json "$IF_GW")
assert_eq 6 "$(json_field "$j" 'rule("r")["limited"]')" "datagrams limited (one per client)"
assert_eq 2 "$(json_field "$j" 'd["events"]["sent"]')" "stats events.sent"
assert_eq 4 "$(json_field "$j" 'd["events"]["suppressed"]')" "stats events.suppressed"
scrape /metrics
assert_eq 4 "$(metric 'm("sluice_events_total", result="suppressed")')" 'sluice_events_total{result="suppressed"}'

check "no new suppression, no new warning"
sleep 0.5
assert_eq "$warnings" "$(log_events 'len([x for x in e if x["event"] == "events_suppressed"])')" "events_suppressed lines"

daemon_stop d TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"
pass
