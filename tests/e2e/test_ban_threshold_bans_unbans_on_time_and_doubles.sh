#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A rule's ban, end to end: a client that is limited 3 times within 2 s is
# banned for 3 s, in the kernel; every packet it sends, to any port, is
# dropped until the ban's last moment and passes right after, with no
# controller involved; `sluice run --log-format json` logs the key being
# limited, the ban starting and the ban ending, as JSON lines; a second
# offence within the offence memory bans for twice as long.
#
# The ban's end is measured on the server: a sender from the banned client
# to a port no rule limits runs through the whole ban, and the first of its
# datagrams to arrive must arrive after the end `sluice ban list` gave and
# soon after it (CLOCK_MONOTONIC is the kernel's clock and every
# namespace's). Another client sending alongside is never touched.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7701 FREE=7702 FREE2=7703 OTHER=10.200.1.3
client_addr "$OTHER"

conf=$(write_conf sluice.conf <<CONF
interface $IF_GW
rule b proto udp dport $PORT key src rate 5/s burst 5 action drop ban after 3 within 2s for 3s max 12s
CONF
)
daemon_start d --config "$conf" --metrics "$METRICS_ADDR" --log-format json \
	--sweep-interval 200ms
daemon_wait_ready d

mono() { "$PY" -c 'import time; print("%.6f" % time.monotonic())'; }

# log_events EXPR: the daemon's JSON log lines as a list `e` of dicts;
# prints EXPR evaluated over it. Every line must be JSON.
log_events() {
	"$PY" - "$TMP_DIR/d.log" "$1" <<'EOF' || fail "reading the daemon's log: $(daemon_log d)"
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
EOF
}

check "under the limit nothing is banned"
udp_round "$CLIENT4" "$PORT" 5 0.6
assert_eq "$SENT" "$GOT" "datagrams admitted under the limit"
sl_ok ban list "$IF_GW" --json >/dev/null
assert_eq 0 "$(json_field "$SL_OUT" 'len(d["bans"])')" "bans after traffic under the limit"

check "a flood crosses the threshold: the client is banned for 3s by rule b"
start_counter free "$FREE" --idle 1.5 --start-timeout 10 --max-time 20
start_counter other "$FREE2" --idle 1 --start-timeout 10 --max-time 20
send_udp "$CLIENT4" "$SERVER4" "$PORT" 200 0.3 >/dev/null
# Through the ban and a second past it, from the banned client; and from
# another client at the same time, to a counter of its own.
send_udp_bg banned "$CLIENT4" "$SERVER4" "$FREE" 50 4.5
send_udp_bg other "$OTHER" "$SERVER4" "$FREE2" 50 1
t0=$(mono)
sl_ok ban list "$IF_GW" --json >/dev/null
bans=$SL_OUT
log "ban list: $bans"
assert_eq 1 "$(json_field "$bans" 'len(d["bans"])')" "bans listed"
assert_eq "$CLIENT4" "$(json_field "$bans" 'd["bans"][0]["address"]')" "banned address"
assert_eq rule "$(json_field "$bans" 'd["bans"][0]["origin"]')" "origin"
assert_eq b "$(json_field "$bans" 'd["bans"][0]["rule"]')" "banning rule"
assert_eq 1 "$(json_field "$bans" 'd["bans"][0]["offences"]')" "offences"
assert_eq 3000 "$(json_field "$bans" 'd["bans"][0]["duration_ms"]')" "duration_ms"
left=$(json_field "$bans" 'd["bans"][0]["remaining_ms"]')
assert_cmp "$left" -le 3000 "remaining_ms"
assert_cmp "$left" -gt 1500 "remaining_ms (the ban began just now)"
# The kernel's clock is CLOCK_MONOTONIC: the end, no later than the list's
# "now" plus what remained.
end=$("$PY" -c "print('%.6f' % ($t0 + $left / 1000.0))")
sl_ok status "$IF_GW" --json >/dev/null
assert_eq 1 "$(json_field "$SL_OUT" 'd["bans_active"]')" "status bans_active"
sl_run ban list "$IF_GW"
log "$SL_OUT"
assert_contains "$SL_OUT" "rule b" "ban list"

check "banned until its end, to every port; passes right after; the other client never banned"
wait_sender other
wait_counter other
assert_eq "$(json_field "$SEND_JSON" 'd["sent"]')" \
	"$(json_field "$COUNT_JSON" "d['by_source'].get('$OTHER', 0)")" "datagrams from $OTHER (never banned)"
wait_sender banned
wait_counter free
log "free port: $COUNT_JSON (the ban ends at $end)"
assert_cmp "$(json_field "$COUNT_JSON" "d['by_source'].get('$CLIENT4', 0)")" -gt 0 \
	"datagrams from $CLIENT4 after the ban"
late=$("$PY" -c "import json, sys; print(int((json.loads(sys.argv[1])['first'] - $end) * 1000))" "$COUNT_JSON")
assert_cmp "$late" -ge 0 "ms from the ban's end to the first datagram of $CLIENT4 through (none before)"
assert_cmp "$late" -le 800 "ms from the ban's end to the first datagram of $CLIENT4 through"
j=$(stats_json "$IF_GW")
assert_cmp "$(json_field "$j" 'd["reasons"]["ban"]["packets"]')" -gt 50 "packets dropped for the ban"

check "the daemon logged limited, ban_start and ban_end as JSON lines"
for i in $(seq 40); do
	[ "$(log_events 'len([x for x in e if x["event"] == "ban_end"])')" -ge 1 ] && break
	sleep 0.1
done
log "$(grep -e limited -e ban_ "$TMP_DIR/d.log")"
assert_eq 1 "$(log_events 'len([x for x in e if x["event"] == "limited"])')" "limited events"
assert_eq '["b", "10.200.1.2", "rate", false]' \
	"$(log_events '[[x["rule"], x["key"], x["reason"], x["dry_run"]] for x in e if x["event"] == "limited"][0]')" \
	"limited event: rule, key, reason, dry_run"
assert_eq '[["b", "rule", "10.200.1.2", 3000, 1, false]]' \
	"$(log_events '[[x["rule"], x["origin"], x["address"], x["duration_ms"], x["offences"], x["dry_run"]] for x in e if x["event"] == "ban_start"]')" \
	"ban_start events: rule, origin, address, duration_ms, offences, dry_run"
assert_eq '[["b", "rule", "10.200.1.2", 3000, 1]]' \
	"$(log_events '[[x["rule"], x["origin"], x["address"], x["duration_ms"], x["offences"]] for x in e if x["event"] == "ban_end"]')" \
	"ban_end events"
assert_contains "$(log_events '[x["message"] for x in e if x["event"] == "ban_start"][0]')" \
	"banned 10.200.1.2 for 3s (rule b, offence 1)" "ban_start message"
gap=$("$PY" - "$TMP_DIR/d.log" <<'EOF'
import datetime, json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t = lambda x: datetime.datetime.strptime(x["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
s = [t(x) for x in e if x["event"] == "ban_start"][0]
f = [t(x) for x in e if x["event"] == "ban_end"][0]
print(int((f - s).total_seconds() * 1000))
EOF
) || fail "timing the logged ban"
assert_cmp "$gap" -ge 2900 "ms between the ban_start and ban_end log lines"
assert_cmp "$gap" -le 4500 "ms between the ban_start and ban_end log lines (sweep every 200ms)"

check "a second offence while remembered: banned again for twice as long"
send_udp "$CLIENT4" "$SERVER4" "$PORT" 200 0.3 >/dev/null
sl_ok ban list "$IF_GW" --json >/dev/null
log "ban list: $SL_OUT"
assert_eq 2 "$(json_field "$SL_OUT" 'd["bans"][0]["offences"]')" "offences"
assert_eq 6000 "$(json_field "$SL_OUT" 'd["bans"][0]["duration_ms"]')" "duration_ms of the second ban"
for i in $(seq 30); do
	[ "$(log_events 'len([x for x in e if x["event"] == "ban_start"])')" -ge 2 ] && break
	sleep 0.1
done
assert_eq '[6000, 2]' \
	"$(log_events '[[x["duration_ms"], x["offences"]] for x in e if x["event"] == "ban_start"][1]')" \
	"second ban_start: duration_ms, offences"
assert_eq 1 "$(log_events 'len([x for x in e if x["event"] == "limited"])')" \
	"limited events (the key was limited a moment ago: no new one)"

check "stats, status and metrics count the bans"
j=$(stats_json "$IF_GW")
assert_eq 2 "$(json_field "$j" 'd["bans"]["started"]')" "stats bans.started"
assert_eq 1 "$(json_field "$j" 'd["bans"]["active"]')" "stats bans.active"
assert_eq 0 "$(json_field "$j" 'd["bans"]["manual"]')" "stats bans.manual"
assert_eq 0 "$(json_field "$j" 'd["events"]["suppressed"]')" "stats events.suppressed"
assert_eq 3 "$(json_field "$j" 'd["events"]["sent"]')" "stats events.sent (limited, two ban starts)"
scrape /metrics
assert_eq 200 "$SCRAPE_CODE" "GET /metrics status"
assert_eq 2 "$(metric 'm("sluice_bans_total")')" "sluice_bans_total"
assert_eq 1 "$(metric 'm("sluice_bans_active", origin="rule")')" 'sluice_bans_active{origin="rule"}'
assert_eq 0 "$(metric 'm("sluice_bans_active", origin="manual")')" 'sluice_bans_active{origin="manual"}'
assert_eq 3 "$(metric 'm("sluice_events_total", result="sent")')" 'sluice_events_total{result="sent"}'

daemon_stop d TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"
pass
