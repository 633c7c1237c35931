#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# SIGHUP makes `sluice run` read its config file again: a good file
# replaces the rule set (and keeps the budgets of the rules it keeps), a
# file with one bad line changes nothing and is reported in one log line
# naming FILE:LINE:COL. The exporter counts both outcomes.
#
# The file starts with rule a (burst 10, then 1/m). Its burst is spent,
# then the file gains rule b on a port that had no rule, and SIGHUP
# applies it: b limits at once, a's spent budget stays spent. Then one bad
# line is added: SIGHUP leaves the rule list, the generation and the
# limits exactly as they were.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT_A=7601 PORT_B=7602 PORT_C=7603

conf="$TMP_DIR/sluice.conf"
cat >"$conf" <<CONF
interface $IF_GW
rule a proto udp dport $PORT_A key src rate 1/m burst 10 action drop
CONF

daemon_start d --config "$conf" --metrics "$METRICS_ADDR"
daemon_wait_ready d

check "the first config enforces: rule a admits its burst of 10; port $PORT_B has no rule"
udp_round "$CLIENT4" "$PORT_A" 2000 0.1
flood_a=$SEND_JSON
assert_eq 10 "$GOT" "datagrams admitted by rule a"
udp_round "$CLIENT4" "$PORT_B" 2000 0.1
assert_eq "$SENT" "$GOT" "datagrams to port $PORT_B admitted (no rule yet)"
sl_ok status "$IF_GW" --json >/dev/null
gen0=$(json_field "$SL_OUT" 'd["generation"]')

check "SIGHUP with a good, changed file applies it"
cat >"$conf" <<CONF
interface $IF_GW
# rule a kept as it was, rule b new
rule a proto udp dport $PORT_A key src rate 1/m burst 10 action drop
rule b proto udp dport $PORT_B key src rate 1/m burst 5 action drop
CONF
n=$(daemon_log_lines d)
kill -HUP "$(daemon_pid d)"
daemon_wait_log d "$n"
log "logged: $NEW_LOG"
assert_eq 1 "$(printf '%s\n' "$NEW_LOG" | wc -l)" "lines logged for the reload"
assert_contains "$NEW_LOG" "sluice: $IF_GW: " "reload log line"
assert_contains "$NEW_LOG" reload "reload log line"
daemon_alive d || fail "the daemon exited after SIGHUP: $(daemon_log d)"
sl_ok rule list "$IF_GW" --json >/dev/null
assert_eq '["a", "b"]' "$(json_field "$SL_OUT" '[r["name"] for r in d["rules"]]')" "rules after the reload"
assert_contains "$(json_field "$SL_OUT" '[r["text"] for r in d["rules"] if r["name"] == "b"][0]')" \
	"dport $PORT_B" "rule b as listed"
sl_ok status "$IF_GW" --json >/dev/null
assert_cmp "$(json_field "$SL_OUT" 'd["generation"]')" -gt "$gen0" "generation after the reload"

check "traffic obeys the new rule b; rule a's spent budget stayed spent"
udp_round "$CLIENT4" "$PORT_B" 2000 0.1
assert_eq 5 "$GOT" "datagrams admitted by rule b"
udp_round "$CLIENT4" "$PORT_A" 2000 0.1
since=$($PY -c 'import json, sys; print(json.loads(sys.argv[2])["last"] - json.loads(sys.argv[1])["first"])' "$flood_a" "$SEND_JSON")
refill=$($PY -c "import sys; print(int(float(sys.argv[1]) / 60) + 1)" "$since")
log "${since}s since rule a's first flood: at most $refill earned back"
assert_cmp "$GOT" -le "$refill" "datagrams admitted by rule a after the reload (a reset budget admits 10)"

check "SIGHUP with a file with one bad line changes nothing and logs FILE:LINE:COL"
sl_ok rule list "$IF_GW" --json >/dev/null
rules_before=$SL_OUT
# Everything but the age of the last key sweep, which the daemon renews.
status_now() {
	sl_ok status "$IF_GW" --json >/dev/null
	json_field "$SL_OUT" '{k: v for k, v in d.items() if k != "keys_swept_ago_s"}'
}
status_before=$(status_now)
cat >"$conf" <<CONF
interface $IF_GW
# rule a kept as it was, rule b new
rule a proto udp dport $PORT_A key src rate 1/m burst 10 action drop
rule b proto udp dport $PORT_B key src rate 1/m burst 5 action drop
rule c proto udp dport $PORT_C key src rate banana burst 5 action drop
CONF
col=$(awk 'NR == 5 { print index($0, "banana") }' "$conf")
n=$(daemon_log_lines d)
kill -HUP "$(daemon_pid d)"
daemon_wait_log d "$n"
log "logged: $NEW_LOG"
assert_eq 1 "$(printf '%s\n' "$NEW_LOG" | wc -l)" "lines logged for the refused reload"
assert_contains "$NEW_LOG" "sluice: $IF_GW: " "refused reload log line"
assert_contains "$NEW_LOG" "$conf:5:$col:" "refused reload log line (FILE:LINE:COL of \"banana\")"
assert_contains "$NEW_LOG" banana "refused reload log line"
daemon_alive d || fail "the daemon exited after a SIGHUP with a bad file: $(daemon_log d)"
sl_ok rule list "$IF_GW" --json >/dev/null
assert_eq "$rules_before" "$SL_OUT" "rule list --json after the refused reload"
assert_eq "$status_before" "$(status_now)" "status --json after the refused reload"

check "the limits still hold: rule b's budget is spent, port $PORT_C has no rule"
udp_round "$CLIENT4" "$PORT_B" 2000 0.1
assert_cmp "$GOT" -le 1 "datagrams admitted by rule b"
udp_round "$CLIENT4" "$PORT_C" 2000 0.1
assert_eq "$SENT" "$GOT" "datagrams to port $PORT_C admitted (rule c was never applied)"

check "sluice_reloads_total counts one good and one refused reload"
scrape /metrics
assert_eq 200 "$SCRAPE_CODE" "GET /metrics status"
assert_eq 1 "$(metric 'm("sluice_reloads_total", result="ok")')" 'sluice_reloads_total{result="ok"}'
assert_eq 1 "$(metric 'm("sluice_reloads_total", result="failed")')" 'sluice_reloads_total{result="failed"}'
assert_eq "$IF_GW" "$(metric 'ms("sluice_reloads_total", result="ok")[0][0]["interface"]')" 'sluice_reloads_total interface label'

check "SIGTERM: exit 0"
daemon_stop d TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"

pass
