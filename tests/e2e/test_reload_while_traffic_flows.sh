#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Rules change while traffic flows without losing a packet or a budget.
#
# A client streams 500 pps, below every limit of two rule sets, while the
# test swaps the sets with `sluice load` 24 times and adds and deletes an
# unrelated rule in between. Nothing may be lost, and the counters of the
# rules present in both sets (at different positions) never go backwards.
# A rule whose burst was used up before the swaps is still used up after
# them: a reload never hands a key a fresh budget. Finally a file with one
# bad line is refused with FILE:LINE:COL and changes nothing.
. "$(dirname "$0")/lib.sh"
e2e_init

STREAM_PORT=7004 HELD_PORT=7006 LOADS=24

set_a=$(write_conf a.conf <<'CONF'
# set A
rule keep   proto udp dport 7004 key src rate 2000/s burst 4000 action drop
rule held   proto udp dport 7006 key src rate 10/m burst 100 action drop
rule a-only proto udp dport 7004 key global rate 3000/s burst 3000 action drop
rule a-tcp  proto tcp dport 80 key src rate 100/s burst 10 action drop
CONF
)
set_b=$(write_conf b.conf <<'CONF'
# set B: other rules, sets, and the shared rules at other positions
allow 10.200.9.0/24
deny  203.0.113.0/24
rule b-only proto udp dport 7004,7005 key src prefix4 24 rate 5000/s burst 500 action drop
rule held   proto udp dport 7006 key src rate 10/m burst 100 action drop
rule keep   proto udp dport 7004 key src rate 2000/s burst 4000 action drop
CONF
)
attach --config "$set_a"

check "a flood uses up rule held's burst of 100 (rate 10/m)"
udp_round "$CLIENT4" "$HELD_PORT" 4000 0.1
flood1=$SEND_JSON
assert_cmp "$GOT" -ge 100 "datagrams admitted by held"
assert_cmp "$GOT" -le 101 "datagrams admitted by held"
held_passed0=$(stats_field "$IF_GW" 'rule("held")["passed"]')
assert_eq "$GOT" "$held_passed0" "rule held passed"

check "$LOADS reloads alternating two sets, with rule add/del, under a 500 pps stream"
start_counter stream "$STREAM_PORT" --idle 1 --max-time 45
send_udp_bg stream "$CLIENT4" "$SERVER4" "$STREAM_PORT" 500 30
sleep 0.3
prev_matched=0 prev_passed=0 extra_rule="extra proto tcp dport 9999 key src rate 1/s burst 1 action drop"
for i in $(seq "$LOADS"); do
	file=$set_a
	[ $((i % 2)) -eq 1 ] && file=$set_b
	sl_run load "$IF_GW" "$file"
	[ "$SL_RC" -eq 0 ] || fail "reload $i ($file) exited $SL_RC: $SL_ERR"
	sl_run rule add "$IF_GW" $extra_rule
	[ "$SL_RC" -eq 0 ] || fail "reload $i: rule add extra exited $SL_RC: $SL_ERR"
	j=$(stats_json "$IF_GW")
	matched=$(json_field "$j" 'rule("keep")["matched"]')
	passed=$(json_field "$j" 'rule("keep")["passed"]')
	[ "$matched" -ge "$prev_matched" ] ||
		fail "reload $i: rule keep matched went backwards: $prev_matched -> $matched"
	[ "$passed" -ge "$prev_passed" ] ||
		fail "reload $i: rule keep passed went backwards: $prev_passed -> $passed"
	[ "$(json_field "$j" 'rule("held")["passed"]')" = "$held_passed0" ] ||
		fail "reload $i: rule held passed changed: $held_passed0 -> $(json_field "$j" 'rule("held")["passed"]')"
	json_field "$j" 'rule("extra")["matched"]' >/dev/null
	sl_run rule del "$IF_GW" extra
	[ "$SL_RC" -eq 0 ] || fail "reload $i: rule del extra exited $SL_RC: $SL_ERR"
	prev_matched=$matched prev_passed=$passed
done
log "ok: $LOADS loads, $LOADS rule add/del pairs; keep matched rose monotonically to $prev_matched"
sl_ok rule list "$IF_GW" --json >/dev/null
assert_eq false "$(json_field "$SL_OUT" "'extra' in __import__('json').dumps(d)")" "rule list still has extra after rule del"
sender_pid=$SENDER_PID_stream
kill -0 "$sender_pid" 2>/dev/null ||
	fail "the stream ended before the reloads did: they did not all happen under traffic"
sleep 0.3
stop_sender stream
wait_counter stream
sent=$(json_field "$SEND_JSON" 'd["sent"]')
got=$(json_field "$COUNT_JSON" "d['by_source'].get('$CLIENT4', 0)")
log "stream: sent $sent in $(json_field "$SEND_JSON" 'd["elapsed"]')s, server got $got"
assert_cmp "$sent" -ge 1000 "datagrams streamed"
assert_eq "$sent" "$got" "datagrams received (nothing lost across reloads)"
j=$(stats_json "$IF_GW")
assert_eq "$sent" "$(json_field "$j" 'rule("keep")["matched"]')" "rule keep matched (counted across every reload)"
assert_eq "$sent" "$(json_field "$j" 'rule("keep")["passed"]')" "rule keep passed"
assert_eq 0 "$(json_field "$j" 'rule("keep")["dropped"]')" "rule keep dropped"

check "rule held's used-up budget survived the reloads"
udp_round "$CLIENT4" "$HELD_PORT" 4000 0.1
since=$($PY -c 'import json, sys; print(json.loads(sys.argv[2])["last"] - json.loads(sys.argv[1])["first"])' "$flood1" "$SEND_JSON")
refill=$($PY -c "import sys; print(int(float(sys.argv[1]) * 10 / 60) + 1)" "$since")
log "${since}s since the first flood: the key earned at most $refill back"
assert_cmp "$GOT" -le "$refill" "datagrams admitted by held after the reloads (a reset budget admits 100)"

check "load of a file with one bad line: exit 2, FILE:LINE:COL, nothing changes"
bad=$(write_conf bad.conf <<'CONF'
# a set with one bad line
rule keep   proto udp dport 7004 key src rate 2000/s burst 4000 action drop
rule newone proto udp dport 7010 key src rate 1/s burst 1 action drop
rule broken proto udp dport 7007 key src rate banana burst 5 action drop
CONF
)
col=$(awk 'NR == 4 { print index($0, "banana") }' "$bad")
sl_ok rule list "$IF_GW" --json >/dev/null
rules_before=$SL_OUT
stats_before=$(stats_json "$IF_GW")
sl_expect 2 load "$IF_GW" "$bad"
assert_contains "$SL_ERR" "$bad:4:$col:" "load error message (file:line:col of \"banana\")"
assert_contains "$SL_ERR" banana "load error message"
sl_ok rule list "$IF_GW" --json >/dev/null
assert_eq "$rules_before" "$SL_OUT" "rule list --json after the refused load"
stats_after=$(stats_json "$IF_GW")
for f in 'd["generation"]' 'rule("keep")["matched"]' 'rule("keep")["passed"]' \
	 'rule("held")["matched"]' 'rule("held")["passed"]' 'rule("held")["limited"]'; do
	assert_eq "$(json_field "$stats_before" "$f")" "$(json_field "$stats_after" "$f")" "$f after the refused load"
done

check "the old set still enforces: a flood on held is still cut"
limited0=$(json_field "$stats_after" 'rule("held")["limited"]')
udp_round "$CLIENT4" "$HELD_PORT" 4000 0.1
assert_cmp "$GOT" -le 2 "datagrams admitted by held"
assert_eq $((limited0 + SENT - GOT)) "$(stats_field "$IF_GW" 'rule("held")["limited"]')" "rule held limited"

pass
