#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `action mark 7` degrades instead of dropping: packets over the limit pass
# with skb->mark 7 (XDP metadata turned into the mark by sluice's TC ingress
# program, before routing), so `ip rule fwmark 7` steers them to a fallback
# server, while conforming packets, unmarked, reach the normal one. Nothing
# is lost, in native and in generic mode.
#
# Topology: the usual client -- gw -- server, plus a fallback namespace
# behind a third gateway veth that also owns the server's address. The
# gateway routes the server's address to the fallback only in table 100,
# which `ip rule fwmark 7` selects. An nft forward chain in the gateway
# counts the datagrams of each mark, independently of sluice's counters.
#
# One source floods at 1000/s for 2 s against rate 100/s burst 10: the
# normal server gets exactly what the GCRA admits (burst + rate x T), the
# fallback gets all the rest, and sent = normal + fallback = the rule's
# matched; rule m marked, totals.marked and nft's mark-7 count all equal the
# fallback's count.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7301 RATE=100 BURST=10 PPS=1000 SECS=2 MARK=7 TABLE=100
NS_FB="${NS_PFX}fb" IF_GW_F="sl${SL_ID}f" GW_F4=10.200.3.1 FB4=10.200.3.2

check "setup: a fallback namespace that also answers to $SERVER4, reached by fwmark $MARK"
ip netns add "$NS_FB" || fail "ip netns add $NS_FB failed"
NAMESPACES+=("$NS_FB")
must ip -n "$NS_FB" link set dev lo up
ns_quiet "$NS_FB"
must ip netns exec "$NS_FB" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	net.ipv6.conf.default.disable_ipv6=1
must ip link add veth0 netns "$NS_FB" type veth peer name "$IF_GW_F" netns "$NS_GW"
must ip -n "$NS_FB" addr add "$FB4/24" dev veth0
must ip -n "$NS_FB" addr add "$SERVER4/32" dev lo
must ip -n "$NS_GW" addr add "$GW_F4/24" dev "$IF_GW_F"
veth_up "$NS_FB" veth0
veth_up "$NS_GW" "$IF_GW_F"
must ip -n "$NS_FB" route add default via "$GW_F4"
must ip -n "$NS_FB" neigh replace "$GW_F4" lladdr "$(link_mac "$NS_GW" "$IF_GW_F")" dev veth0 nud permanent
must ip -n "$NS_GW" neigh replace "$FB4" lladdr "$(link_mac "$NS_FB" veth0)" dev "$IF_GW_F" nud permanent
must ip -n "$NS_GW" route add "$SERVER4/32" via "$FB4" dev "$IF_GW_F" table "$TABLE"
must ip -n "$NS_GW" rule add fwmark "$MARK" lookup "$TABLE"
must ip netns exec "$NS_GW" nft -f - <<NFT
table inet sl_marks {
	counter marked { }
	counter unmarked { }
	chain count_fwd {
		type filter hook forward priority 0; policy accept;
		udp dport $PORT meta mark $MARK counter name marked
		udp dport $PORT meta mark 0 counter name unmarked
	}
}
NFT

nft_count() {	# NAME: packets of the named counter
	ip netns exec "$NS_GW" nft -j list counter inet sl_marks "$1" | "$PY" -c '
import json, sys
for o in json.load(sys.stdin)["nftables"]:
    if "counter" in o:
        print(o["counter"]["packets"])
'
}

conf=$(write_conf mark.conf <<CONF
rule m proto udp dport $PORT key src rate $RATE/s burst $BURST action mark $MARK
CONF
)

# round MODE: attach in MODE, flood, check where every datagram went.
round() {
	local mode=$1 sent elapsed normal fb exp j marked0 unmarked0
	attach --config "$conf" --mode "$mode"
	check "$mode: over-limit datagrams reach the fallback, conforming ones the server"
	marked0=$(nft_count marked) unmarked0=$(nft_count unmarked)
	start_counter normal "$PORT" --idle 1.5
	start_counter_in "$NS_FB" fb "$PORT" --idle 1.5 --start-timeout 5
	SEND_JSON=$(send_udp "$CLIENT4" "$SERVER4" "$PORT" "$PPS" "$SECS") || exit 1
	sent=$(json_field "$SEND_JSON" 'd["sent"]')
	elapsed=$(json_field "$SEND_JSON" 'd["elapsed"]')
	wait_counter normal
	normal=$(json_field "$COUNT_JSON" "d['by_source'].get('$CLIENT4', 0)")
	wait_counter fb
	fb=$(json_field "$COUNT_JSON" "d['by_source'].get('$CLIENT4', 0)")
	log "$mode: sent $sent in ${elapsed}s; normal server got $normal, fallback got $fb"

	assert_cmp "$sent" -ge $((PPS * SECS * 9 / 10)) "$mode: datagrams sent"
	exp=$(gcra_expect "$RATE" "$BURST" "$elapsed")
	assert_cmp "$normal" -ge $((exp - 1)) "$mode: datagrams at the normal server (burst + rate x T = $exp)"
	# +1: XDP stamps the first and last datagram a few microseconds after
	# the sender does, so its span can cross one more 10 ms interval.
	assert_cmp "$normal" -le $((exp + 1)) "$mode: datagrams at the normal server (never above the limit)"
	assert_eq "$sent" $((normal + fb)) "$mode: normal + fallback (degraded, not lost)"

	j=$(stats_json "$IF_GW") || exit 1
	assert_eq "$sent" "$(json_field "$j" 'rule("m")["matched"]')" "$mode: rule m matched"
	assert_eq "$sent" "$(json_field "$j" 'rule("m")["passed"]')" "$mode: rule m passed (mark passes)"
	assert_eq "$fb" "$(json_field "$j" 'rule("m")["marked"]')" "$mode: rule m marked"
	assert_eq "$fb" "$(json_field "$j" 'rule("m")["limited"]')" "$mode: rule m limited"
	assert_eq 0 "$(json_field "$j" 'rule("m")["dropped"]')" "$mode: rule m dropped"
	assert_eq "$fb" "$(json_field "$j" 'd["totals"]["marked"]["packets"]')" "$mode: totals.marked.packets"
	assert_eq "$fb" "$(json_field "$j" 'd["reasons"]["rate"]["packets"]')" "$mode: reasons.rate.packets"
	assert_eq 0 "$(json_field "$j" 'd["totals"]["dropped"]["packets"]')" "$mode: totals.dropped.packets"
	assert_eq "$fb" $(($(nft_count marked) - marked0)) "$mode: datagrams forwarded with mark $MARK (nft)"
	assert_eq "$normal" $(($(nft_count unmarked) - unmarked0)) "$mode: datagrams forwarded unmarked (nft)"
	sl_ok detach "$IF_GW" >/dev/null
	ATTACHED=0
}

round native
round generic

pass
