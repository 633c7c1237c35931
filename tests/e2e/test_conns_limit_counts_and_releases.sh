#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `conns 5` holds a client to five concurrent TCP connections to a real
# server, and every way a connection ends gives its slot back exactly once:
# the client's FIN or RST (seen by XDP), the server's FIN or RST (seen by
# the TC egress program on the same interface), and silence (released by
# `sluice sweep` once idle past `conn-timeout`). A reload keeps the counts,
# and the sweep corrects a count that lost its flow.
#
# The client and the server are tests/tools/tcp_hold.py processes that open,
# hold and close connections one at a time on command, so the test knows at
# every step how many connections are open and asserts exact counts:
# flows_tracked, reasons.conns (one refused SYN each: the RST that refuses
# it ends the attempt, so there is no retransmission), rule c's counters.
#
# Silent deaths: three connections are closed by the client while an nft
# rule in the client namespace drops everything they send, so their FINs
# never reach the gateway (a client killed with its link cut), and one
# handshake is left half-open (a lone SYN from a second address whose
# client-side RST is dropped the same way). Two more connections stay alive
# and send a byte every half second. With conn-timeout half-open 2s
# established 3s, after 4 s of silence one sweep must release exactly the
# three dead connections as idle and the lone SYN as half-open, and no live
# connection.
#
# Last, the client's IPv6 address gets its own five (key src), and the
# server's FIN releases an IPv6 flow as it does an IPv4 one.
TOPO_IPV6=1
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7201 LIMIT=5
HALF_SRC=10.200.1.20		# the lone SYN's source: its own conns budget
client_addr "$HALF_SRC"

conf=$(write_conf conns.conf <<CONF
rule c proto tcp dport $PORT key src conns $LIMIT action reject
CONF
)
attach --config "$conf"
client_xdp_pass		# the refusing RST|ACK goes back by XDP_TX

start_hold_server srv "$PORT" ::
start_hold_client cli

C_SRC=$CLIENT4 C_DST=$SERVER4	# the family open_ok and open_refused use
REFUSED=0	# SYNs refused so far: reasons.conns and rule c's rejected
declare -A SPORT	# connection id -> client port
OPEN=()		# ids of the connections open now, oldest first

# open_ok: one more connection must be accepted; its id is appended to OPEN.
# (Not for $(...): OPEN and SPORT must change in this shell.)
open_ok() {
	local a id
	a=$(hold cli open "$C_SRC" "$C_DST" "$PORT" 3) || exit 1
	[ "$(json_field "$a" 'd["ok"]')" = true ] ||
		fail "connection refused while under the limit: $a"
	id=$(json_field "$a" 'd["id"]')
	SPORT[$id]=$(json_field "$a" 'd["sport"]')
	OPEN+=("$id")
}

# forget ID: drop a connection from OPEN (however it was ended).
forget() {
	local i keep=()
	for i in "${OPEN[@]}"; do [ "$i" = "$1" ] || keep+=("$i"); done
	OPEN=("${keep[@]}")
}

# open_refused: one more connection must fail at once with ECONNREFUSED.
open_refused() {
	local a
	a=$(hold cli open "$C_SRC" "$C_DST" "$PORT" 3) || exit 1
	assert_eq false "$(json_field "$a" 'd["ok"]')" "connection over the limit accepted"
	assert_eq ECONNREFUSED "$(json_field "$a" 'd.get("errno")')" "error of the connection over the limit"
	assert_cmp "$(json_field "$a" 'int(d["ms"])')" -lt 200 "ms until it was refused"
	REFUSED=$((REFUSED + 1))
}

flows() { stats_field "$IF_GW" 'd["flows_tracked"]'; }

# wait_flows N: flows_tracked reaches N within 2 s (a FIN takes a moment to
# cross the namespaces).
wait_flows() {
	local i n
	for i in $(seq 40); do
		n=$(flows) || exit 1
		[ "$n" = "$1" ] && break
		sleep 0.05
	done
	assert_eq "$1" "$n" "flows_tracked"
}

check_refusals() {
	local j
	j=$(stats_json "$IF_GW") || exit 1
	assert_eq "$REFUSED" "$(json_field "$j" 'd["reasons"]["conns"]["packets"]')" "reasons.conns.packets"
	assert_eq "$REFUSED" "$(json_field "$j" 'rule("c")["rejected"]')" "rule c rejected"
	# The rule matches every client packet to the port; only SYNs can break it.
	assert_eq "$REFUSED" "$(json_field "$j" 'rule("c")["matched"] - rule("c")["passed"]')" "rule c matched - passed"
	assert_eq "$REFUSED" "$(json_field "$j" 'd["totals"]["rejected"]["packets"]')" "totals.rejected.packets"
	assert_eq 0 "$(json_field "$j" 'd["totals"]["flows_full"]["packets"]')" "totals.flows_full.packets"
}

# full_again: the slot just given back is taken by a new connection, and
# the one after it is refused.
full_again() {
	open_ok
	assert_eq "$LIMIT" "${#OPEN[@]}" "connections the test holds open"
	open_refused
	check_refusals
}

# sweep_expect FLOWS HALF IDLE ADJUSTED DROPPED: one `sluice sweep --json`.
sweep_expect() {
	local out
	sl_run sweep "$IF_GW" --json
	[ "$SL_RC" = 0 ] || fail "sluice sweep exited $SL_RC: $SL_ERR"
	out=$SL_OUT
	log "sweep: $out"
	assert_eq "$IF_GW" "$(json_field "$out" 'd["interface"]')" "sweep interface"
	assert_eq "$1" "$(json_field "$out" 'd["flows"]')" "sweep flows"
	assert_eq "$2" "$(json_field "$out" 'd["released_half_open"]')" "sweep released_half_open"
	assert_eq "$3" "$(json_field "$out" 'd["released_idle"]')" "sweep released_idle"
	assert_eq "$4" "$(json_field "$out" 'd["adjusted"]')" "sweep adjusted (counts that had drifted)"
	assert_eq "$5" "$(json_field "$out" 'd["dropped"]')" "sweep dropped (counts fallen to zero)"
}

check "$LIMIT connections are accepted and held; the next is refused at once"
for i in $(seq $LIMIT); do open_ok; done
assert_eq "$LIMIT" "$(json_field "$(hold srv count)" 'd["open"]')" "connections open at the server"
assert_eq "$LIMIT" "$(flows)" "flows_tracked"
open_refused
assert_eq "$LIMIT" "$(flows)" "flows_tracked after the refusal"
check_refusals

check "the client's FIN gives its slot back"
id=${OPEN[0]}
hold cli close "$id" >/dev/null
forget "$id"
wait_flows $((LIMIT - 1))
full_again

check "the client's RST gives its slot back"
id=${OPEN[0]}
hold cli abort "$id" >/dev/null
forget "$id"
wait_flows $((LIMIT - 1))
full_again

check "the server's FIN (TC egress) gives its slot back"
id=${OPEN[0]}
hold srv closeport "${SPORT[$id]}" >/dev/null
wait_flows $((LIMIT - 1))
st=$(hold cli state "$id") || exit 1
assert_eq eof "$(json_field "$st" 'd["state"]')" "client side of the connection the server closed"
hold cli close "$id" >/dev/null	# its FIN finds no flow: nothing to give back twice
forget "$id"
sleep 0.2
assert_eq $((LIMIT - 1)) "$(flows)" "flows_tracked after the client's late FIN"
full_again

check "the server's RST (TC egress) gives its slot back"
id=${OPEN[0]}
hold srv abortport "${SPORT[$id]}" >/dev/null
wait_flows $((LIMIT - 1))
st=$(hold cli state "$id") || exit 1
assert_eq error:ECONNRESET "$(json_field "$st" 'd["state"]')" "client side of the connection the server reset"
hold cli close "$id" >/dev/null
forget "$id"
full_again

check "a sweep of a consistent table releases and corrects nothing"
sweep_expect "$LIMIT" 0 0 0 0

check "a count whose flow entry vanished is corrected by the sweep"
# Delete one flow entry behind sluice's back, as a lost release would:
# its slot stays charged, so the key is still full.
id=${OPEN[0]}
key=$(bpftool -j map dump pinned "$PIN_DIR/sl_flows" | "$PY" -c '
import json, sys
port = int(sys.argv[1])
for e in json.load(sys.stdin):
    k = [int(b, 16) for b in e["key"]]
    if k[2] * 256 + k[3] == port:	# sl_flow_key.sport, network order
        print(" ".join("%02x" % b for b in k))
        break
' "${SPORT[$id]}") || fail "cannot read $PIN_DIR/sl_flows"
[ -n "$key" ] || fail "no flow entry for client port ${SPORT[$id]}"
must bpftool map delete pinned "$PIN_DIR/sl_flows" key hex $key
assert_eq $((LIMIT - 1)) "$(flows)" "flows_tracked after the entry was deleted"
hold cli close "$id" >/dev/null	# the connection ends; nothing to give back
forget "$id"
open_refused			# the count still says $LIMIT
check_refusals
sweep_expect $((LIMIT - 1)) 0 0 1 0
full_again
sweep_expect "$LIMIT" 0 0 0 0

check "a reload (here: shorter idle timeouts) keeps every count"
conf2=$(write_conf conns2.conf <<CONF
conn-timeout half-open 2s established 3s
rule c proto tcp dport $PORT key src conns $LIMIT action reject
CONF
)
sl_ok load "$IF_GW" "$conf2" >/dev/null
assert_eq "$LIMIT" "$(flows)" "flows_tracked after the reload"
open_refused
check_refusals

check "connections that die without a FIN are released by the sweep after the idle timeout"
dead=("${OPEN[@]:0:3}") live=("${OPEN[@]:3}")
peer_closed0=$(json_field "$(hold srv count)" 'd["peer_closed"]')
dead_ports=$(for i in "${dead[@]}"; do printf '%s, ' "${SPORT[$i]}"; done)
# Everything the dead connections send from now on is lost before the
# wire, and so is the RST the lone SYN's SYN-ACK provokes.
must ip netns exec "$NS_CLIENT" nft -f - <<NFT
table inet sl_cut {
	chain out {
		type filter hook output priority 0; policy accept;
		tcp sport { ${dead_ports%, } } drop
		ip saddr $HALF_SRC tcp flags rst drop
	}
}
NFT
for i in "${dead[@]}"; do hold cli close "$i" >/dev/null; forget "$i"; done
must nsenter --net="/run/netns/$NS_CLIENT" "$PY" -c "
from scapy.all import IP, TCP, conf, L3RawSocket, send
conf.L3socket = L3RawSocket
send(IP(src='$HALF_SRC', dst='$SERVER4') / TCP(sport=40000, dport=$PORT, flags='S', seq=1000), verbose=0)
"
wait_flows $((LIMIT + 1))
assert_eq "$peer_closed0" "$(json_field "$(hold srv count)" 'd["peer_closed"]')" "connections whose client FIN reached the server"
# Past both timeouts for the silent ones; the live ones talk throughout.
for t in $(seq 9); do
	for i in "${live[@]}"; do hold cli ping "$i" >/dev/null; done
	sleep 0.5
done
# The lone SYN's key falls to zero connections, so its count is dropped.
sweep_expect 2 1 3 0 1
assert_eq 2 "$(flows)" "flows_tracked after the sweep (the live connections)"
for i in "${live[@]}"; do
	st=$(hold cli state "$i") || exit 1
	assert_eq open "$(json_field "$st" 'd["state"]')" "live connection $i after the sweep"
done

check "the released slots are free again: up to $LIMIT, then refused"
open_ok
open_ok
full_again

check "all closed: flows_tracked 0, then $LIMIT fresh connections, then refused"
for i in "${OPEN[@]}"; do hold cli close "$i" >/dev/null; done
OPEN=()
wait_flows 0
for i in $(seq $((LIMIT - 1))); do open_ok; done
full_again
assert_eq "$LIMIT" "$(flows)" "flows_tracked"
sweep_expect "$LIMIT" 0 0 0 0

check "IPv6: the client's IPv6 address has its own $LIMIT; the server's FIN frees one"
C_SRC=$CLIENT6 C_DST=$SERVER6 OPEN=()
for i in $(seq $LIMIT); do open_ok; done
assert_eq $((2 * LIMIT)) "$(flows)" "flows_tracked (IPv4 and IPv6)"
open_refused
check_refusals
id=${OPEN[0]}
hold srv closeport "${SPORT[$id]}" >/dev/null
wait_flows $((2 * LIMIT - 1))
hold cli close "$id" >/dev/null
forget "$id"
full_again

pass
