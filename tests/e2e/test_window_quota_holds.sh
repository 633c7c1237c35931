#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `window N/DUR` quotas hold exactly, slide as documented, and several on
# one rule all hold without costing more than any of them allows.
#
# What to expect (include/sluice_limiter.h, sl_window_conform): each limit
# counts in fixed windows aligned to the kernel's CLOCK_MONOTONIC, [kP,
# (k+1)P), and admits a packet if prev x weight + cur + 1 <= N, where prev
# is the previous fixed window's count and weight the share of it the
# sliding window still covers (rounded up to 1/1024, so the estimate never
# undercounts). A key that sent nothing in the previous window has prev 0,
# so a flood that starts and ends inside one fixed window gets exactly N,
# whatever its rate. The test therefore waits for a known phase of the 10 s
# windows (tests/tools/window_clock.py; the 2 s windows share their
# boundaries) and checks, from each sender's own timestamps, that every
# flood stayed inside the window it was meant for. In a later window the
# count a dense flood gets is exactly the formula's allowance at its last
# packet, computed by window_clock.py from prev and that time (the bound
# is widened by the 5 ms XDP may see the packet after the sender).
#
# Rules, each flooded at 500/s from one source, on its own port:
#   w1  window 50/10s
#   w2  window 20/2s window 30/10s         (both bind in turn)
#   w3  window 40/10s window 10/2s         (only the second binds: a packet
#                                           it refuses must not be charged
#                                           to the first)
# Timeline, in seconds into an aligned 10 s window k:
#   A [0, 2)  all three:  w1 50, w2 20 (the 2 s limit), w3 10 (the 2 s limit)
#   B [2, 4)  all three:  w1 0 (same fixed window, 50 spent); w2 10 (the
#             10 s limit: 30 - 20); w3 what 10/2s allows with prev 10 -
#             the 40/10s limit has admitted only 10, so it does not bind
#   C [4, 6)  w2:         0 (the 10 s limit is spent)
#   D [0.3, 2) of window k+1, w1: the sliding allowance with prev 50
# The servers' counts must equal the rules' passed counters, and
# reasons.window every datagram not admitted.
. "$(dirname "$0")/lib.sh"
e2e_init

# Each flood: 500 datagrams in 1 s, started 0.05..0.25 s into a 2 s window
# (plus the sender's start-up, 0.1..0.4 s here): it ends before the window
# does, and late enough in B for 20/2s to allow 10 (after 3.0 s).
PPS=500 SECS=1
P1=7401 P2=7402 P3=7403

conf=$(write_conf window.conf <<CONF
rule w1 proto udp dport $P1 key src window 50/10s
rule w2 proto udp dport $P2 key src window 20/2s window 30/10s
rule w3 proto udp dport $P3 key src window 40/10s window 10/2s
CONF
)
attach --config "$conf"

for p in $P1 $P2 $P3; do
	start_counter "rx$p" "$p" --idle 60 --start-timeout 60 --max-time 120
done

clock() { "$PY" "$TOOLS_DIR/window_clock.py" "$@" || fail "window_clock.py $*"; }

# The phases run first, keeping only raw JSON: parsing takes tens of
# milliseconds a field, and a phase must not start late. Assertions follow.
declare -A SJSON STATS LAST
TOTAL_SENT=0

# phase NAME FROM TO PORT...: at [FROM, TO) of a 10 s window, flood the
# ports for $SECS; keeps the senders' JSON in SJSON, then the stats in
# STATS[NAME], and window_clock.py's answer for the start in PHASE_CLOCK.
# Not for $(...).
phase() {
	local name=$1 from=$2 to=$3 out p
	shift 3
	out=$(clock wait --period 10 --from "$from" --to "$to") || exit 1
	for p in "$@"; do
		send_udp_bg "$name$p" "$CLIENT4" "$SERVER4" "$p" "$PPS" "$SECS"
	done
	for p in "$@"; do
		wait_sender "$name$p"
		SJSON[$name$p]=$SEND_JSON
	done
	sleep 0.05	# the last datagrams cross the gateway
	STATS[$name]=$(stats_json "$IF_GW") || exit 1
	PHASE_CLOCK=$out
}

phase A 0.05 0.25 $P1 $P2 $P3; kA=$PHASE_CLOCK
phase B 2.05 2.25 $P1 $P2 $P3; kB=$PHASE_CLOCK
phase C 4.05 4.25 $P2; kC=$PHASE_CLOCK
# Window k+1: C ends before 6 s, so the next phase 0.3 is the next window's.
phase D 0.3 0.5 $P1; kD=$PHASE_CLOCK
for p in $P1 $P2 $P3; do kill -TERM "$(eval echo \$COUNTER_PID_rx$p)"; done

k=$(json_field "$kA" 'd["index"]')
log "phases started at: A $kA, B $kB, C $kC, D $kD"
assert_eq "$k" "$(json_field "$kB" 'd["index"]')" "B's window (A's)"
assert_eq "$k" "$(json_field "$kC" 'd["index"]')" "C's window (A's)"
assert_eq $((k + 1)) "$(json_field "$kD" 'd["index"]')" "D's window (the one after A's)"

# sent NAME PORT INDEX LO HI: the flood's count, after checking that it
# was a real flood inside [LO, HI) of window INDEX. Sets LAST[NAME PORT]
# to its last send (CLOCK_MONOTONIC seconds). Not for $(...).
sent() {
	local j=${SJSON[$1$2]} at n
	n=$(json_field "$j" 'd["sent"]')
	LAST[$1$2]=$(json_field "$j" 'd["last"]')
	at=$(clock at --period 10 "$(json_field "$j" 'd["first"]')" "${LAST[$1$2]}") || exit 1
	log "flood $1 to port $2: sent $n, window and phase of first and last: $at"
	assert_cmp "$n" -ge 450 "flood $1 to port $2: datagrams sent"
	[ "$(json_field "$at" "d['index'] == [$3, $3] and $4 <= min(d['phase']) and max(d['phase']) < $5")" = true ] ||
		fail "timing: flood $1 to port $2 ran outside [$4, $5) of window $3: $at (a loaded machine?)"
	TOTAL_SENT=$((TOTAL_SENT + n))
}

passed() { json_field "${STATS[$1]}" "rule('$2')['passed']"; }	# PHASE RULE

# expect_between LO HI ACTUAL WHAT
expect_between() {
	assert_cmp "$3" -ge "$1" "$4 (at least $1)"
	assert_cmp "$3" -le "$2" "$4 (at most $2)"
}

# allow_range PERIOD MAX PREV T: the allowance at T and 5 ms later.
allow_range() {
	ALLOW_LO=$(clock allow --period "$1" --max "$2" --prev "$3" "$4") || exit 1
	ALLOW_HI=$(clock allow --period "$1" --max "$2" --prev "$3" "$($PY -c "print($4 + 0.005)")") || exit 1
}

check "A: a flood inside one fixed window gets exactly each rule's binding count"
for p in $P1 $P2 $P3; do sent A $p "$k" 0 2; done
a1=$(passed A w1) a2=$(passed A w2) a3=$(passed A w3)
assert_eq 50 "$a1" "A: w1 (window 50/10s) admitted"
assert_eq 20 "$a2" "A: w2 (window 20/2s binds) admitted"
assert_eq 10 "$a3" "A: w3 (window 10/2s binds) admitted"

check "B: the next 2 s window, same 10 s window"
for p in $P1 $P2 $P3; do sent B $p "$k" 2 4; done
b1=$(($(passed B w1) - a1)) b2=$(($(passed B w2) - a2)) b3=$(($(passed B w3) - a3))
assert_eq 0 "$b1" "B: w1 admitted (its 10 s window is spent)"
allow_range 2 20 20 "${LAST[B$P2]}"
[ "$ALLOW_LO" -ge 10 ] || fail "timing: flood B to w2 ended too early for 20/2s to allow 10 ($ALLOW_LO)"
assert_eq 10 "$b2" "B: w2 admitted (window 30/10s binds: 30 - 20)"

check "C: w2's 10 s quota stays spent in the next 2 s window"
sent C $P2 "$k" 4 6
assert_eq 0 $(($(passed C w2) - a2 - b2)) "C: w2 admitted"

check "D: in the next 10 s window w1 slides: prev 50 x weight + cur <= 50"
sent D $P1 $((k + 1)) 0 2
d1=$(($(passed D w1) - a1 - b1))
allow_range 10 50 50 "${LAST[D$P1]}"
expect_between "$ALLOW_LO" "$ALLOW_HI" "$d1" "D: w1 admitted"

check "the servers got what the rules passed, and reasons.window counts the rest"
declare -A RX
for p in $P1 $P2 $P3; do
	wait_counter "rx$p"
	RX[$p]=$(json_field "$COUNT_JSON" "d['by_source'].get('$CLIENT4', 0)")
done
j=$(stats_json "$IF_GW") || exit 1
assert_eq "${RX[$P1]}" "$(json_field "$j" 'rule("w1")["passed"]')" "datagrams at port $P1 == rule w1 passed"
assert_eq "${RX[$P2]}" "$(json_field "$j" 'rule("w2")["passed"]')" "datagrams at port $P2 == rule w2 passed"
assert_eq "${RX[$P3]}" "$(json_field "$j" 'rule("w3")["passed"]')" "datagrams at port $P3 == rule w3 passed"
admitted=$((RX[$P1] + RX[$P2] + RX[$P3]))
assert_eq "$TOTAL_SENT" "$(json_field "$j" 'sum(rule(r)["matched"] for r in ("w1", "w2", "w3"))')" "rules' matched == datagrams sent"
assert_eq $((TOTAL_SENT - admitted)) "$(json_field "$j" 'd["reasons"]["window"]["packets"]')" "reasons.window.packets"
assert_eq $((TOTAL_SENT - admitted)) "$(json_field "$j" 'sum(rule(r)["dropped"] for r in ("w1", "w2", "w3"))')" "rules' dropped"
assert_eq 0 "$(json_field "$j" 'd["reasons"]["rate"]["packets"]')" "reasons.rate.packets"

check "B: a packet one limit refuses costs the others nothing: w3 gets what 10/2s allows"
# In A, 40/10s passed 40 datagrams on to 10/2s, which admitted 10. Had the
# 30 it refused been charged to 40/10s, w3 would get nothing in B although
# neither limit, counting what was admitted, is spent.
allow_range 2 10 10 "${LAST[B$P3]}"
log "B: w3's 10/2s allows $ALLOW_LO..$ALLOW_HI with prev 10; its 40/10s has admitted $a3 of 40"
expect_between "$ALLOW_LO" "$ALLOW_HI" "$b3" \
	"B: w3 admitted (10/2s slides; 40/10s, with $a3 admitted, does not bind)"

pass
