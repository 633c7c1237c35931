#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `key src prefix4 24` gives a whole /24 one budget: two sources in one /24
# flooding together get burst + rate x T between them, while a source in
# another /24 gets a budget of its own.
. "$(dirname "$0")/lib.sh"
e2e_init

RATE=500 BURST=100 PPS=3000 SECS=4 PORT=7002
SRC_A1=10.200.1.11 SRC_A2=10.200.1.12	# same /24
SRC_B=10.200.3.11			# another /24
for a in "$SRC_A1" "$SRC_A2" "$SRC_B"; do client_addr "$a"; done

conf=$(write_conf prefix.conf <<CONF
rule subnet proto udp dport $PORT key src prefix4 24 rate $RATE/s burst $BURST action drop
CONF
)
attach --config "$conf"

check "three sources flood at $PPS pps for $SECS s: 10.200.1.0/24 shares one budget, 10.200.3.0/24 has its own"
start_counter rx "$PORT" --idle 1.5
send_udp_bg a1 "$SRC_A1" "$SERVER4" "$PORT" "$PPS" "$SECS"
send_udp_bg a2 "$SRC_A2" "$SERVER4" "$PORT" "$PPS" "$SECS"
send_udp_bg b "$SRC_B" "$SERVER4" "$PORT" "$PPS" "$SECS"
wait_sender a1; s_a1=$SEND_JSON
wait_sender a2; s_a2=$SEND_JSON
wait_sender b; s_b=$SEND_JSON
wait_counter rx

for s in "$s_a1" "$s_a2" "$s_b"; do
	n=$(json_field "$s" 'd["sent"]')
	assert_cmp "$n" -ge $((PPS * SECS * 9 / 10)) "packets sent by $(json_field "$s" 'd["src"]')"
done

# The shared budget runs from the first send of either source to the last.
t_a=$($PY -c 'import json, sys
a, b = (json.loads(x) for x in sys.argv[1:3])
print(max(a["last"], b["last"]) - min(a["first"], b["first"]))' "$s_a1" "$s_a2")
t_b=$(json_field "$s_b" 'd["elapsed"]')
got_a1=$(json_field "$COUNT_JSON" "d['by_source'].get('$SRC_A1', 0)")
got_a2=$(json_field "$COUNT_JSON" "d['by_source'].get('$SRC_A2', 0)")
got_b=$(json_field "$COUNT_JSON" "d['by_source'].get('$SRC_B', 0)")
log "10.200.1.0/24: $SRC_A1 got $got_a1, $SRC_A2 got $got_a2 over ${t_a}s"
log "10.200.3.0/24: $SRC_B got $got_b over ${t_b}s"

assert_within 2 "$(gcra_expect "$RATE" "$BURST" "$t_a")" $((got_a1 + got_a2)) \
	"admitted from 10.200.1.0/24 together (one budget)"
# Both members of the /24 were actually admitted some: they compete for it.
assert_cmp "$got_a1" -gt 0 "admitted from $SRC_A1"
assert_cmp "$got_a2" -gt 0 "admitted from $SRC_A2"
assert_within 2 "$(gcra_expect "$RATE" "$BURST" "$t_b")" "$got_b" \
	"admitted from 10.200.3.0/24 (its own budget)"

check "the rule's passed counter is what the server received; two keys exist, one per /24"
j=$(stats_json "$IF_GW")
assert_eq "$(json_field "$COUNT_JSON" 'd["total"]')" \
	"$(json_field "$j" 'rule("subnet")["passed"]')" "rule subnet passed"
assert_eq 2 "$(json_field "$j" 'd["keys_tracked"]')" "keys_tracked"

pass
