#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A circuit breaker around a real HTTP server that fails on demand, driven
# by `sluice run` as an operator would run it:
#
#   breaker api service tcp/PORT errors 5 within 2s open 2s probes 2
#
# The server (tests/tools/http_status.py) answers 200, or 503 while a file
# exists. Five 503s within 2 s open the breaker: new connections are then
# refused at once (a RST from XDP: ECONNREFUSED long before the 1 s SYN
# retransmission) and never reach the server. Two seconds later it is
# half-open; with the server healthy again, two probe requests get their
# 200 and the breaker closes. Then it fails again: opened, half-open, and a
# probe answered 503 opens it again. The daemon logs one line per
# transition; status, stats and the metrics say the same. Killed -9 while
# open, the next daemon finds it open and carries on (JSON logs this time);
# a SIGHUP that leaves the breaker's line alone leaves its state alone.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7801
FAST_MS=200		# far below the 1 s initial SYN retransmission timeout
FAIL_FILE=$TMP_DIR/failing
SRV_LOG=$TMP_DIR/requests.log
BREAKER="breaker api service tcp/$PORT errors 5 within 2s open 2s probes 2"

conf="$TMP_DIR/sluice.conf"
cat >"$conf" <<CONF
interface $IF_GW
$BREAKER
CONF

# The refusals are XDP_TX frames on a veth: the client end needs a program.
client_xdp_pass

rm -f "$TMP_DIR/http.ready"
nsenter --net="/run/netns/$NS_SERVER" "$PY" "$TOOLS_DIR/http_status.py" serve \
	--port "$PORT" --fail-file "$FAIL_FILE" --log "$SRV_LOG" \
	--ready-file "$TMP_DIR/http.ready" --max-time 120 2>"$TMP_DIR/http.err" &
BG_PIDS+=($!)
for i in $(seq 100); do
	[ -e "$TMP_DIR/http.ready" ] && break
	sleep 0.05
done
[ -e "$TMP_DIR/http.ready" ] || fail "the HTTP server did not start: $(cat "$TMP_DIR/http.err")"

# get N: N requests from the client, one after the other; prints the JSON.
get() {
	local out
	out=$(nsenter --net="/run/netns/$NS_CLIENT" "$PY" "$TOOLS_DIR/http_status.py" get \
		--host "$SERVER4" --port "$PORT" --count "$1" --timeout 3 2>&1) ||
		fail "http_status.py get: $out"
	printf '%s\n' "$out"
}

# outcomes JSON: each result as "200", "503" or an errno name, space-separated.
outcomes() {
	json_field "$1" '" ".join(str(r.get("status", r.get("errno"))) for r in d["results"])'
}

served() {	# requests the server has answered so far
	wc -l <"$SRV_LOG"
}

breaker_field() {	# EXPR over the breaker's object in `status --json`
	local j
	sl_run status "$IF_GW" --json
	[ "$SL_RC" -eq 0 ] || fail "sluice status --json exited $SL_RC: $SL_ERR"
	j=$(json_field "$SL_OUT" '[b for b in d["breakers"] if b["name"] == "api"][0]') || exit 1
	json_field "$j" "$1"
}

# wait_state STATE SECS: until status says the breaker is in STATE.
wait_state() {
	local i s
	for i in $(seq $(($2 * 20))); do
		s=$(breaker_field 'd["state"]') || exit 1
		[ "$s" = "$1" ] && { log "breaker is $1"; return 0; }
		sleep 0.05
	done
	fail "breaker api still $s after ${2}s, expected $1: $(daemon_log "$DAEMON")"
}

# expect_transition FROM TO: the daemon logged exactly one new line, for it.
expect_transition() {
	local lines
	lines=$(tail -n +"$((LOG_SEEN + 1))" "$TMP_DIR/$DAEMON.log")
	assert_eq 1 "$(printf '%s\n' "$lines" | grep -c .)" "log lines for $1 -> $2"
	assert_contains "$lines" "breaker api: $1 -> $2" "the transition's log line"
	LOG_SEEN=$(daemon_log_lines "$DAEMON")
}

DAEMON=d1
daemon_start d1 --config "$conf" --metrics "$METRICS_ADDR"
daemon_wait_ready d1
LOG_SEEN=$(daemon_log_lines d1)

check "healthy: requests get 200 and the breaker stays closed"
assert_eq "200 200 200" "$(outcomes "$(get 3)")" "three requests"
assert_eq closed "$(breaker_field 'd["state"]')" "breaker state"
assert_eq "tcp/$PORT" "$(breaker_field 'd["service"]')" "breaker service"

check "five 503s within 2 s open it"
touch "$FAIL_FILE"
assert_eq "503 503 503 503 503" "$(outcomes "$(get 5)")" "five requests to the failing server"
wait_state open 2
expect_transition closed open
assert_eq 5 "$(breaker_field 'd["counters"]["http_5xx"]')" "HTTP 5xx counted"
assert_eq 8 "$(breaker_field 'd["counters"]["responses"]')" "HTTP responses counted"

check "open: new connections are refused at once and never reach the server"
before=$(served)
r=$(get 3)
assert_eq "ECONNREFUSED ECONNREFUSED ECONNREFUSED" "$(outcomes "$r")" "three requests to the open breaker"
assert_cmp "$(json_field "$r" 'int(max(x["ms"] for x in d["results"]))')" -lt "$FAST_MS" \
	"slowest refusal in ms"
assert_eq "$before" "$(served)" "requests the server saw while open"
assert_eq 3 "$(breaker_field 'd["counters"]["refused"]')" "SYNs refused by the breaker"
assert_eq 3 "$(stats_field "$IF_GW" 'd["reasons"]["breaker"]["packets"]')" "stats reasons.breaker.packets"

check "after 2 s it is half-open; the server is healthy again; two probes close it"
rm -f "$FAIL_FILE"
wait_state half_open 3
expect_transition open half_open
assert_eq 2 "$(breaker_field 'd["probes_left"]')" "probes left"
assert_eq "200" "$(outcomes "$(get 1)")" "the first probe"
sleep 0.3
assert_eq half_open "$(breaker_field 'd["state"]')" "state after one good probe of two"
assert_eq "200" "$(outcomes "$(get 1)")" "the second probe"
wait_state closed 1
expect_transition half_open closed
assert_eq "200 200" "$(outcomes "$(get 2)")" "requests after the close"
assert_eq 2 "$(breaker_field 'd["counters"]["probes_ok"]')" "probes that succeeded"

check "failing again: open, half-open, and a probe answered 503 opens it again"
touch "$FAIL_FILE"
assert_eq "503 503 503 503 503" "$(outcomes "$(get 5)")" "five requests to the failing server"
wait_state open 2
expect_transition closed open
wait_state half_open 3
expect_transition open half_open
assert_eq "503" "$(outcomes "$(get 1)")" "the probe"
wait_state open 1
expect_transition half_open open
assert_eq "ECONNREFUSED" "$(outcomes "$(get 1)")" "a request after the failed probe"
assert_eq 1 "$(breaker_field 'd["counters"]["probes_failed"]')" "probes that failed"

check "killed -9 while open, it stays open; the next daemon carries on from there"
daemon_stop d1 KILL
assert_eq open "$(breaker_field 'd["state"]')" "state with no daemon"
assert_eq "ECONNREFUSED" "$(outcomes "$(get 1)")" "a request with no daemon"
DAEMON=d2
daemon_start d2 --config "$conf" --metrics "$METRICS_ADDR" --log-format json
daemon_wait_ready d2
# Open for 2 s from before the kill, so perhaps half-open by now; never
# closed, never opened anew.
state=$(breaker_field 'd["state"]')
[ "$state" = open ] || [ "$state" = half_open ] ||
	fail "breaker api is $state after the restart, expected open or half_open"
assert_eq 3 "$(breaker_field 'd["transitions"]["open"]')" "transitions to open after the restart"
assert_eq 1 "$(breaker_field 'd["transitions"]["closed"]')" "transitions to closed after the restart"

check "SIGHUP with the breaker's line unchanged keeps its state"
cat >>"$conf" <<CONF
rule other proto udp dport 9 key src rate 1/s action drop
rule web proto tcp dport $PORT syn key src rate 100/s warmup 1s action drop
CONF
n=$(daemon_log_lines d2)
kill -HUP "$(daemon_pid d2)"
daemon_wait_log d2 "$n"
assert_contains "$NEW_LOG" '"event":"reload"' "the reload's log line"
state=$(breaker_field 'd["state"]')
[ "$state" = open ] || [ "$state" = half_open ] ||
	fail "breaker api is $state after the reload, expected open or half_open"
assert_eq 3 "$(breaker_field 'd["transitions"]["open"]')" "transitions to open after the reload"

check "the server recovers; the new daemon closes it, and logs it as JSON"
rm -f "$FAIL_FILE"
wait_state half_open 3
assert_eq "200 200" "$(outcomes "$(get 2)")" "two probes"
wait_state closed 1
breaker_lines=$(grep '"event":"breaker"' "$TMP_DIR/d2.log")
log "logged: $breaker_lines"
while IFS= read -r line; do
	assert_eq "$IF_GW" "$(json_field "$line" 'd["interface"]')" "JSON log line interface"
done <<<"$breaker_lines"
assert_eq "open -> half_open,half_open -> closed" \
	"$(printf '%s\n' "$breaker_lines" | sed 's/.*breaker api: \([a-z_]* -> [a-z_]*\).*/\1/' | paste -sd,)" \
	"the new daemon's transitions"
# The recovered service's rule ramps up again; the rule on port 9 does not.
warmup_lines=$(grep '"event":"warmup"' "$TMP_DIR/d2.log")
assert_contains "$warmup_lines" "rule web warms up again over 1s (service tcp/$PORT recovered)" \
	"the warm-up restart's log line"
assert_eq 1 "$(printf '%s\n' "$warmup_lines" | grep -c .)" "rules warmed up again"

check "the metrics say the same, through the real parser"
scrape /metrics
assert_eq 200 "$SCRAPE_CODE" "GET /metrics status"
assert_eq 0 "$(metric 'm("sluice_breaker_state", breaker="api")')" "sluice_breaker_state (0: closed)"
assert_eq 3 "$(metric 'm("sluice_breaker_transitions_total", breaker="api", to="open")')" "transitions to open"
assert_eq 3 "$(metric 'm("sluice_breaker_transitions_total", breaker="api", to="half_open")')" "transitions to half_open"
assert_eq 2 "$(metric 'm("sluice_breaker_transitions_total", breaker="api", to="closed")')" "transitions to closed"
assert_eq 11 "$(metric 'm("sluice_breaker_errors_total", breaker="api", kind="http_5xx")')" "HTTP 5xx errors"
assert_eq 4 "$(metric 'm("sluice_breaker_probes_total", breaker="api", result="ok")')" "probes ok"
assert_eq 1 "$(metric 'm("sluice_breaker_probes_total", breaker="api", result="failed")')" "probes failed"
assert_eq "$(stats_field "$IF_GW" 'd["reasons"]["breaker"]["packets"]')" \
	"$(metric 'm("sluice_limited_packets_total", reason="breaker")')" "breaker refusals: metrics = stats"

daemon_stop d2 TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"

pass
