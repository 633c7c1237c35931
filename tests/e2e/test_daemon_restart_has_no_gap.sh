#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Killing the daemon with SIGKILL in the middle of a flood and starting it
# again leaves no moment without enforcement and hands no key a fresh
# budget: enforcement lives in pinned state, and the new daemon adopts it,
# swapping the program in place through the pinned link.
#
# `sluice run` enforces rate 200/s burst 500 on a client that floods at
# 2000 pps for 8 s. Three seconds in, the daemon is killed -9; one second
# later the same command starts it again. An exact limiter admits
# burst + rate x T over the whole flood, T its first-to-last span (about
# 2100); the server's count must be within 2% of that (42). A second of
# no enforcement would add ~1800, a budget reset by the restart +500.
# The rule's counters carry on across the restart: at the end they count
# every datagram of the flood, before and after it.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7501 RATE=200 BURST=500 PPS=2000 SECS=8

conf=$(write_conf run.conf <<CONF
interface $IF_GW
rule f proto udp dport $PORT key src rate $RATE/s burst $BURST action drop
CONF
)

check "sluice run attaches and enforces"
daemon_start d1 --config "$conf" --metrics "$METRICS_ADDR"
daemon_wait_ready d1
sl_ok status "$IF_GW" --json >/dev/null
link0=$(json_field "$SL_OUT" 'd["link_id"]')
prog0=$(json_field "$SL_OUT" 'd["prog_id"]')
assert_eq "$prog0" "$(xdp_prog_id)" "XDP program on $IF_GW (sluice status prog_id)"
sl_ok rule list "$IF_GW" --json >/dev/null
rules0=$SL_OUT

check "a ${PPS} pps flood for ${SECS}s; the daemon is killed -9 and restarted during it"
start_counter flood "$PORT" --idle 1 --max-time 30
send_udp_bg flood "$CLIENT4" "$SERVER4" "$PORT" "$PPS" "$SECS"
sleep 3
j=$(stats_json "$IF_GW")
matched1=$(json_field "$j" 'rule("f")["matched"]')
passed1=$(json_field "$j" 'rule("f")["passed"]')
assert_cmp "$matched1" -gt "$BURST" "rule f matched before the kill (the flood is on)"
daemon_stop d1 KILL
assert_eq 137 "$DAEMON_RC" "exit status of the killed daemon (128 + SIGKILL)"
# Nothing of sluice runs in user space now.
assert_eq "$prog0" "$(xdp_prog_id)" "XDP program on $IF_GW with no daemon"
[ -e "$PIN_DIR/link_xdp" ] || fail "$PIN_DIR/link_xdp is gone with the daemon"
sleep 0.5
j=$(stats_json "$IF_GW")
assert_cmp "$(json_field "$j" 'rule("f")["limited"]')" -gt 0 "rule f limited with no daemon"
sleep 0.5
daemon_start d2 --config "$conf" --metrics "$METRICS_ADDR"
daemon_wait_ready d2
kill -0 "$SENDER_PID_flood" 2>/dev/null ||
	fail "the flood ended before the daemon was back: the restart was not under traffic"
j=$(stats_json "$IF_GW")
assert_cmp "$(json_field "$j" 'rule("f")["matched"]')" -gt "$matched1" "rule f matched after the restart (carries on from before the kill)"
assert_cmp "$(json_field "$j" 'rule("f")["passed"]')" -ge "$passed1" "rule f passed after the restart (carries on from before the kill)"
sl_ok status "$IF_GW" --json >/dev/null
assert_eq "$link0" "$(json_field "$SL_OUT" 'd["link_id"]')" "link id after the restart (the same pinned link: never detached)"
assert_eq "$(json_field "$SL_OUT" 'd["prog_id"]')" "$(xdp_prog_id)" "XDP program on $IF_GW (sluice status prog_id)"
sl_ok rule list "$IF_GW" --json >/dev/null
assert_eq "$rules0" "$SL_OUT" "rule list --json after the restart"

wait_sender flood
wait_counter flood
sent=$(json_field "$SEND_JSON" 'd["sent"]')
elapsed=$(json_field "$SEND_JSON" 'd["elapsed"]')
got=$(json_field "$COUNT_JSON" "d['by_source'].get('$CLIENT4', 0)")
log "flood: sent $sent in ${elapsed}s, server got $got"
assert_cmp "$sent" -ge $((PPS * SECS * 9 / 10)) "datagrams sent"

check "admitted over the whole flood: burst + rate x T, as if nothing had happened"
assert_within 2 "$(gcra_expect "$RATE" "$BURST" "$elapsed")" "$got" "datagrams admitted across the kill and restart"

check "rule f's counters count the whole flood, before and after the restart"
j=$(stats_json "$IF_GW")
assert_eq "$sent" "$(json_field "$j" 'rule("f")["matched"]')" "rule f matched"
assert_eq "$got" "$(json_field "$j" 'rule("f")["passed"]')" "rule f passed"
assert_eq $((sent - got)) "$(json_field "$j" 'rule("f")["dropped"]')" "rule f dropped"
assert_eq $((sent - got)) "$(json_field "$j" 'rule("f")["limited"]')" "rule f limited"
assert_eq $((sent - got)) "$(json_field "$j" 'd["reasons"]["rate"]["packets"]')" "reasons.rate.packets"

check "SIGTERM ends the second daemon cleanly"
daemon_stop d2 TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"

pass
