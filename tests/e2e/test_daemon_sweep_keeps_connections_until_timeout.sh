#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The daemon's sweep releases a connection only once it has been idle
# longer than `conn-timeout` (README: "releases flows idle longer than
# conn-timeout ... Any packet of the flow restarts its idle clock"),
# counted from its last packet, whatever the granularity with which the
# data path refreshes its idle clock.
#
# conn-timeout established 2s, `sluice run --sweep-interval 100ms`, so the
# moment of release is known to a tenth of a second. A connection is
# opened, sends one byte 0.6 s and another 0.9 s after its handshake, and
# then stays open and silent. It must still be tracked until 2 s after
# the last byte, and be released soon after that.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7951 TIMEOUT=2

conf=$(write_conf run.conf <<CONF
interface $IF_GW
conn-timeout half-open ${TIMEOUT}s established ${TIMEOUT}s
rule c proto tcp dport $PORT key src conns 5 action reject
CONF
)
daemon_start d --config "$conf" --metrics "$METRICS_ADDR" --sweep-interval 100ms
daemon_wait_ready d
start_hold_server srv "$PORT"
start_hold_client cli

flows() { stats_field "$IF_GW" 'd["flows_tracked"]'; }
now() { date +%s.%N; }
# at_least T: now is T (date +%s.%N) or later.
at_least() { $PY -c 'import sys, time; sys.exit(0 if time.time() >= float(sys.argv[1]) else 1)' "$1"; }
plus() { $PY -c 'import sys; print(float(sys.argv[1]) + float(sys.argv[2]))' "$1" "$2"; }

check "a connection talks 0.6 s and 0.9 s after its handshake, then falls silent"
t_open=$(now)
a=$(hold cli open "$CLIENT4" "$SERVER4" "$PORT" 3) || exit 1
[ "$(json_field "$a" 'd["ok"]')" = true ] || fail "connection refused: $a"
id=$(json_field "$a" 'd["id"]')
until at_least "$(plus "$t_open" 0.6)"; do sleep 0.02; done
hold cli ping "$id" >/dev/null
until at_least "$(plus "$t_open" 0.9)"; do sleep 0.02; done
hold cli ping "$id" >/dev/null
t_last=$(now)
# SYN, ACK, two bytes: every one of them crossed the XDP program.
assert_eq 4 "$(stats_field "$IF_GW" 'rule("c")["matched"]')" "client packets of the connection seen by rule c"
assert_eq 1 "$(flows)" "flows_tracked"

check "tracked for ${TIMEOUT}s after its last byte"
# (less 50 ms: t_last was read a moment after the byte left)
keep_until=$(plus "$t_last" "$($PY -c "print($TIMEOUT - 0.05)")")
looks=0
while ! at_least "$keep_until"; do
	n=$(flows) || exit 1
	at_least "$keep_until" && break	# that read may have ended too late to count
	el=$($PY -c 'import sys, time; print("%.2f" % (time.time() - float(sys.argv[1])))' "$t_last")
	assert_eq 1 "$n" "flows_tracked ${el}s after the last byte"
	looks=$((looks + 1))
	sleep 0.1
done
assert_cmp "$looks" -ge 3 "looks at the table before the timeout"

# The data path refreshes a flow's idle clock at most once a second
# (README), so a sweep that never releases early may release up to that
# second late, plus two sweep intervals.
check "released at most 1 s + two sweep intervals after the timeout"
until at_least "$(plus "$t_last" "$($PY -c "print($TIMEOUT + 1.2)")")"; do sleep 0.02; done
assert_eq 0 "$(flows)" "flows_tracked $($PY -c "print($TIMEOUT + 1.2)")s after the last byte"

daemon_stop d TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"

pass
