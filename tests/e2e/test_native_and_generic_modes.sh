#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# attach --mode native and --mode generic both put the program where asked
# (ip link reports driver or skb mode) and both enforce the same limit
# exactly: burst + rate x T.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7011 RATE=500 BURST=100 PPS=4000 SECS=2
conf=$(write_conf modes.conf <<CONF
rule lim proto udp dport $PORT key src rate $RATE/s burst $BURST action drop
CONF
)

xdp_mode() {	# prints the kernel's attach mode of $IF_GW: 1 drv, 2 skb, 0 none
	ip -n "$NS_GW" -j -d link show dev "$IF_GW" |
		$PY -c 'import json, sys; print((json.load(sys.stdin)[0].get("xdp") or {}).get("mode", 0))'
}

for mode in native generic; do
	want=1
	[ "$mode" = generic ] && want=2
	check "--mode $mode: attached in that mode"
	attach --mode "$mode" --config "$conf"
	assert_eq "$want" "$(xdp_mode)" "XDP attach mode on $IF_GW (1 = native/drv, 2 = generic/skb)"

	check "--mode $mode: a flood gets $BURST + $RATE x T"
	udp_round "$CLIENT4" "$PORT" "$PPS" "$SECS"
	assert_cmp "$SENT" -ge $((PPS * SECS * 9 / 10)) "datagrams sent"
	assert_within 2 "$(gcra_expect "$RATE" "$BURST" "$ELAPSED")" "$GOT" "datagrams admitted in $mode mode"
	assert_eq "$GOT" "$(stats_field "$IF_GW" 'rule("lim")["passed"]')" "rule lim passed"
	assert_eq "$SENT" "$(stats_field "$IF_GW" 'rule("lim")["matched"]')" "rule lim matched"

	sl_ok detach "$IF_GW" >/dev/null
	ATTACHED=0
	assert_eq 0 "$(xdp_mode)" "XDP attach mode after detach"
done

pass
