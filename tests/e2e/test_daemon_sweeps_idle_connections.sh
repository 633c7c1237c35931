#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice run` sweeps the connection table by itself, every second by
# default: connections whose client vanished without a FIN or RST give
# their `conns` slots back once idle past `conn-timeout`, within the
# timeout plus two sweep intervals, and nobody runs `sluice sweep`.
#
# conns 3, conn-timeout half-open 2s established 2s. One connection is
# opened and kept alive (a byte every 0.3 s). Two more are opened, a
# fourth is refused, and the two die silently at once: an nft rule in the
# client namespace drops everything they send and the client closes them,
# so their FINs never reach the gateway. A lone SYN from a second address
# is left half-open (its client-side RST is dropped the same way). The
# dead connections' last packets are their handshakes, which is also when
# their idle clock started, so the timing is exact: nothing may be
# released less than 2 s after the handshakes (or the lone SYN), and
# 2 s + 2 x 1 s after them the two dead connections and the half-open one
# must be gone, the live one kept, and sluice_connections_released_total
# must say idle 2, half_open 1.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7901 LIMIT=3 TIMEOUT=2 SWEEP=1
HALF_SRC=10.200.1.20
client_addr "$HALF_SRC"

conf=$(write_conf run.conf <<CONF
interface $IF_GW
conn-timeout half-open ${TIMEOUT}s established ${TIMEOUT}s
rule c proto tcp dport $PORT key src conns $LIMIT action reject
CONF
)
client_xdp_pass		# the refusing RST|ACK goes back by XDP_TX
daemon_start d --config "$conf" --metrics "$METRICS_ADDR" --log-format json
daemon_wait_ready d
start_hold_server srv "$PORT"
start_hold_client cli

flows() { stats_field "$IF_GW" 'd["flows_tracked"]'; }
now() { date +%s.%N; }
since() { $PY -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$(now)"; }

declare -A SPORT
open_ok() {	# sets ID
	local a
	a=$(hold cli open "$CLIENT4" "$SERVER4" "$PORT" 3) || exit 1
	[ "$(json_field "$a" 'd["ok"]')" = true ] ||
		fail "connection refused while under the limit: $a"
	ID=$(json_field "$a" 'd["id"]')
	SPORT[$ID]=$(json_field "$a" 'd["sport"]')
}
open_refused() {
	local a
	a=$(hold cli open "$CLIENT4" "$SERVER4" "$PORT" 3) || exit 1
	assert_eq false "$(json_field "$a" 'd["ok"]')" "connection over the limit accepted"
	assert_eq ECONNREFUSED "$(json_field "$a" 'd.get("errno")')" "error of the connection over the limit"
}

check "one live connection; two more; the next is refused"
open_ok
live=$ID
# The live connection talks: a byte every 0.3 s from one long-lived
# process, so a busy machine cannot stretch the gaps past the timeout.
"$PY" -c '
import socket, sys, time
while True:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(sys.argv[1])
        s.sendall(("ping %s\n" % sys.argv[2]).encode())
        s.recv(4096)
        s.close()
    except OSError:
        pass
    time.sleep(0.3)
' "$TMP_DIR/cli.ctl" "$live" &
BG_PIDS+=($!)
scrape /metrics
sweeps0=$(metric 'm("sluice_sweeps_total")') t_sweeps0=$(now)
assert_eq 0 "$(metric 'm("sluice_connections_released_total", reason="idle")')" 'released_total{reason="idle"} before'
assert_eq 0 "$(metric 'm("sluice_connections_released_total", reason="half_open")')" 'released_total{reason="half_open"} before'
# The dead ones' handshakes: their last packets, whatever happens next.
t_dead0=$(now)
open_ok
dead=("$ID")
open_ok
dead+=("$ID")
t_dead1=$(now)
open_refused
assert_eq "$LIMIT" "$(flows)" "flows_tracked"

check "two clients vanish, one SYN is left half-open, one connection stays alive"
must ip netns exec "$NS_CLIENT" nft -f - <<NFT
table inet sl_cut {
	chain out {
		type filter hook output priority 0; policy accept;
		tcp sport { ${SPORT[${dead[0]}]}, ${SPORT[${dead[1]}]} } drop
		ip saddr $HALF_SRC tcp flags rst drop
	}
}
NFT
for i in "${dead[@]}"; do hold cli close "$i" >/dev/null; done
t_syn0=$(now)
must nsenter --net="/run/netns/$NS_CLIENT" "$PY" "$TOOLS_DIR/tcp_syn.py" \
	--src "$HALF_SRC" --dst "$SERVER4" --sport 40000 --dport "$PORT"
t_syn1=$(now)
for i in $(seq 20); do
	[ "$(flows)" = $((LIMIT + 1)) ] && break
	sleep 0.05
done
assert_eq $((LIMIT + 1)) "$(flows)" "flows_tracked with the half-open SYN"

# Nothing may go before its timeout: every look at the table that ended
# less than TIMEOUT after the earliest moment a connection can have last
# been seen must find all of them. By TIMEOUT + 2 sweep intervals after
# the latest such moment, all three must be gone.
first_ok=$($PY -c 'import sys; print(min(float(sys.argv[1]), float(sys.argv[2])) + float(sys.argv[3]))' "$t_dead0" "$t_syn0" "$TIMEOUT")
deadline=$($PY -c 'import sys; print(max(float(sys.argv[1]), float(sys.argv[2])) + float(sys.argv[3]) + 2 * float(sys.argv[4]))' "$t_dead1" "$t_syn1" "$TIMEOUT" "$SWEEP")
before=0 released_at=
while :; do
	t_start=$(now)
	n=$(flows) || exit 1
	t=$(now)
	if $PY -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$t" "$first_ok"; then
		assert_eq $((LIMIT + 1)) "$n" "flows_tracked $(since "$t_dead0")s after the dead connections' handshakes (before the ${TIMEOUT}s timeout)"
		before=$((before + 1))
	fi
	[ -z "$released_at" ] && [ "$n" = 1 ] && released_at=$(since "$t_dead0")
	# The last look began after the deadline.
	$PY -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$t_start" "$deadline" && break
	sleep 0.1
done
assert_cmp "$before" -ge 1 "looks at the table before the timeout"
assert_eq 1 "$n" "flows_tracked $(since "$t_dead0")s after the dead connections' handshakes (timeout + 2 sweep intervals)"
log "the dead and half-open connections were gone ${released_at}s after the dead connections' handshakes"
st=$(hold cli state "$live") || exit 1
assert_eq open "$(json_field "$st" 'd["state"]')" "the live connection"

check "the daemon counted and logged what its sweeps released"
scrape /metrics
t_sweeps1=$(now)
assert_eq 2 "$(metric 'm("sluice_connections_released_total", reason="idle")')" 'sluice_connections_released_total{reason="idle"}'
assert_eq 1 "$(metric 'm("sluice_connections_released_total", reason="half_open")')" 'sluice_connections_released_total{reason="half_open"}'
assert_eq 0 "$(metric 'm("sluice_connection_counts_corrected_total")')" 'sluice_connection_counts_corrected_total'
sweeps1=$(metric 'm("sluice_sweeps_total")')
span=$($PY -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$t_sweeps0" "$t_sweeps1")
lo=$($PY -c 'import math, sys; print(math.floor(float(sys.argv[1])) - 1)' "$span")
hi=$($PY -c 'import math, sys; print(math.ceil(float(sys.argv[1])) + 1)' "$span")
log "sluice_sweeps_total went from $sweeps0 to $sweeps1 in ${span}s"
assert_cmp $((sweeps1 - sweeps0)) -ge "$lo" "sweeps in ${span}s at one a second"
assert_cmp $((sweeps1 - sweeps0)) -le "$hi" "sweeps in ${span}s at one a second"
released=$(daemon_log d | "$PY" -c '
import json, sys
n = 0
for line in sys.stdin:
    o = json.loads(line)
    if o["event"] == "sweep":
        n += 1
print(n)') || fail "the JSON log does not parse: $(daemon_log d)"
log "log: $(grep '"sweep"' "$TMP_DIR/d.log")"
assert_cmp "$released" -ge 1 "sweep events in the log"
assert_cmp "$released" -le 3 "sweep events in the log (one per sweep that released something)"

check "the released slots are free again: $((LIMIT - 1)) more, then refused"
for i in $(seq $((LIMIT - 1))); do open_ok; done
open_refused
assert_eq "$LIMIT" "$(flows)" "flows_tracked"

daemon_stop d TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"

pass
