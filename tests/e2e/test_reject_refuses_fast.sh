#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `action reject` answers from XDP, so a client over its limit fails at once
# instead of retrying into silence, for TCP and UDP, IPv4 and IPv6; and the
# interface's reject budget (`reject-limit`) turns answers into drops once
# it is spent.
#
# TCP: a SYN rule admits 2 connections per source, then sluice answers the
# third SYN with a RST|ACK sent back by XDP_TX: connect() fails with
# ECONNREFUSED in far less than the first SYN retransmission (1 s); without
# the answer it would hang and time out instead.
#
# UDP: the third datagram on a connected socket is answered with ICMP
# destination unreachable, administratively prohibited (DESIGN.md, issue 3),
# quoting the datagram's headers, so the kernel finds the socket and the
# next recv() fails. Linux maps that ICMP code to a hard error on a connected
# socket: EHOSTUNREACH for IPv4 (type 3 code 13, icmp_err_convert) and
# EACCES for ICMPv6 (type 1 code 1). ECONNREFUSED would mean port unreachable,
# which is not what the design asks sluice to send.
#
# The budget is reject-limit 4/h burst 4: the four answers above spend it,
# and the next over-limit SYN is dropped and counted as reject_limited.
TOPO_IPV6=1
. "$(dirname "$0")/lib.sh"
e2e_init

TPORT=7101 UPORT=7102
FAST_MS=200		# far below the 1 s initial SYN retransmission timeout

conf=$(write_conf reject.conf <<CONF
reject-limit 4/h burst 4
rule r proto tcp dport $TPORT syn key src rate 1/m burst 2 action reject
rule u proto udp dport $UPORT key src rate 1/m burst 2 action reject
CONF
)
attach --config "$conf"
client_xdp_pass

start_hold_server srv "$TPORT" ::
start_hold_client cli

# connect_once SRC DST TIMEOUT: one connect() through the client; sets
# C_OK (true/false), C_ERRNO and C_MS.
connect_once() {
	local a
	a=$(hold cli open "$1" "$2" "$TPORT" "$3") || exit 1
	C_OK=$(json_field "$a" 'd["ok"]')
	C_ERRNO=$(json_field "$a" 'd.get("errno", "")')
	C_MS=$(json_field "$a" 'int(d["ms"])')
}

for fam in 4 6; do
	if [ "$fam" = 4 ]; then src=$CLIENT4 dst=$SERVER4; else src=$CLIENT6 dst=$SERVER6; fi
	check "IPv$fam: two connections within the SYN budget are accepted"
	for i in 1 2; do
		connect_once "$src" "$dst" 3
		assert_eq true "$C_OK" "IPv$fam connection $i accepted"
	done
	check "IPv$fam: the third connect() fails at once with ECONNREFUSED"
	connect_once "$src" "$dst" 3
	assert_eq false "$C_OK" "IPv$fam connection 3 accepted"
	assert_eq ECONNREFUSED "$C_ERRNO" "IPv$fam connection 3 error"
	assert_cmp "$C_MS" -lt "$FAST_MS" "IPv$fam connection 3 refused within ${FAST_MS} ms"
done
assert_eq 4 "$(json_field "$(hold srv count)" 'd["accepted"]')" "connections the server accepted"

check "UDP on a connected socket: the third datagram gets the ICMP error, IPv4 and IPv6"
start_counter udp "$UPORT" --bind :: --idle 1.5
probe() {	# SRC DST: prints udp_probe.py's JSON
	local out
	out=$(nsenter --net="/run/netns/$NS_CLIENT" "$PY" "$TOOLS_DIR/udp_probe.py" \
		--src "$1" --dst "$2" --dport "$UPORT" --count 3 --gap 0.05 --wait 1 2>&1) ||
		fail "udp_probe from $1: $out"
	log "udp_probe $1 -> $2: $out"
	printf '%s\n' "$out"
}
p4=$(probe "$CLIENT4" "$SERVER4") || exit 1
p6=$(probe "$CLIENT6" "$SERVER6") || exit 1
assert_eq 3 "$(json_field "$p4" 'd["sent"]')" "IPv4 datagrams sent without a send error"
assert_eq EHOSTUNREACH "$(json_field "$p4" 'd["recv_errno"]')" "IPv4 recv() error (ICMP admin. prohibited)"
assert_cmp "$(json_field "$p4" 'int(d["recv_ms"])')" -lt "$FAST_MS" "IPv4 ICMP error waiting in ms"
assert_eq 3 "$(json_field "$p6" 'd["sent"]')" "IPv6 datagrams sent without a send error"
assert_eq EACCES "$(json_field "$p6" 'd["recv_errno"]')" "IPv6 recv() error (ICMPv6 admin. prohibited)"
assert_cmp "$(json_field "$p6" 'int(d["recv_ms"])')" -lt "$FAST_MS" "IPv6 ICMPv6 error waiting in ms"
wait_counter udp
assert_eq 2 "$(json_field "$COUNT_JSON" "d['by_source'].get('::ffff:$CLIENT4', 0)")" "datagrams the server got from $CLIENT4"
assert_eq 2 "$(json_field "$COUNT_JSON" "d['by_source'].get('$CLIENT6', 0)")" "datagrams the server got from $CLIENT6"

check "the counters: every over-limit packet answered, none dropped"
j=$(stats_json "$IF_GW")
for r in r u; do
	assert_eq 6 "$(json_field "$j" "rule('$r')['matched']")" "rule $r matched"
	assert_eq 4 "$(json_field "$j" "rule('$r')['passed']")" "rule $r passed"
	assert_eq 2 "$(json_field "$j" "rule('$r')['limited']")" "rule $r limited"
	assert_eq 2 "$(json_field "$j" "rule('$r')['rejected']")" "rule $r rejected"
	assert_eq 0 "$(json_field "$j" "rule('$r')['dropped']")" "rule $r dropped"
done
assert_eq 4 "$(json_field "$j" 'd["totals"]["rejected"]["packets"]')" "totals.rejected.packets"
assert_eq 0 "$(json_field "$j" 'd["totals"]["reject_limited"]["packets"]')" "totals.reject_limited.packets"
assert_eq 4 "$(json_field "$j" 'd["reasons"]["rate"]["packets"]')" "reasons.rate.packets"
assert_eq 0 "$(json_field "$j" 'd["totals"]["dropped"]["packets"]')" "totals.dropped.packets"

check "with the reject budget spent, an over-limit SYN is dropped, not answered"
connect_once "$CLIENT4" "$SERVER4" 0.5
assert_eq false "$C_OK" "IPv4 connection 4 accepted"
assert_eq ETIMEDOUT "$C_ERRNO" "IPv4 connection 4 error (no answer: dropped)"
j=$(stats_json "$IF_GW")
assert_eq 4 "$(json_field "$j" 'd["totals"]["rejected"]["packets"]')" "totals.rejected.packets (unchanged)"
assert_eq 1 "$(json_field "$j" 'd["totals"]["reject_limited"]["packets"]')" "totals.reject_limited.packets"
assert_eq 1 "$(json_field "$j" 'd["totals"]["dropped"]["packets"]')" "totals.dropped.packets"
assert_eq 5 "$(json_field "$j" 'd["reasons"]["rate"]["packets"]')" "reasons.rate.packets"
assert_eq 3 "$(json_field "$j" "rule('r')['limited']")" "rule r limited"
log "rule r after the budget ran out: $(json_field "$j" "rule('r')")"

check "every frame is accounted for: rx = non_ip + passed + dropped + rejected"
rx=$(json_field "$j" 'd["totals"]["rx"]["packets"]')
sum=$(json_field "$j" 'sum(d["totals"][k]["packets"] for k in ("non_ip", "passed", "dropped", "rejected"))')
assert_eq "$rx" "$sum" "totals.rx.packets"

pass
