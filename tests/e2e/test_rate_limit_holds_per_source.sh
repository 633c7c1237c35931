#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A per-source rate rule admits exactly burst + rate x T to a flood, and two
# source addresses each get their own budget.
#
# Two sources on the client flood the same UDP port at 7x the limit for 5 s,
# at the same time. GCRA is exact: each source's admitted count is
# burst + rate x T, T being that sender's first-to-last send; the server's
# count and the rule's `passed` counter must both say so.
. "$(dirname "$0")/lib.sh"
e2e_init

RATE=1000 BURST=200 PPS=7000 SECS=5 PORT=7001
SRC_A=10.200.1.11 SRC_B=10.200.1.12
client_addr "$SRC_A"
client_addr "$SRC_B"

conf=$(write_conf rate.conf <<CONF
# one budget per source address
rule flood proto udp dport $PORT key src rate $RATE/s burst $BURST action drop
CONF
)
attach --config "$conf"

check "two sources flooding at ${PPS} pps for ${SECS} s each get $BURST + $RATE x T"
start_counter rx "$PORT" --idle 1.5
send_udp_bg a "$SRC_A" "$SERVER4" "$PORT" "$PPS" "$SECS"
send_udp_bg b "$SRC_B" "$SERVER4" "$PORT" "$PPS" "$SECS"
wait_sender a; sent_a=$(json_field "$SEND_JSON" 'd["sent"]'); t_a=$(json_field "$SEND_JSON" 'd["elapsed"]')
wait_sender b; sent_b=$(json_field "$SEND_JSON" 'd["sent"]'); t_b=$(json_field "$SEND_JSON" 'd["elapsed"]')
wait_counter rx
got_a=$(json_field "$COUNT_JSON" "d['by_source'].get('$SRC_A', 0)")
got_b=$(json_field "$COUNT_JSON" "d['by_source'].get('$SRC_B', 0)")
total=$(json_field "$COUNT_JSON" 'd["total"]')
log "source $SRC_A: sent $sent_a in ${t_a}s, server got $got_a"
log "source $SRC_B: sent $sent_b in ${t_b}s, server got $got_b"

# The flood really was a flood: far above what the rule admits.
assert_cmp "$sent_a" -ge $((PPS * SECS * 9 / 10)) "packets sent by $SRC_A"
assert_cmp "$sent_b" -ge $((PPS * SECS * 9 / 10)) "packets sent by $SRC_B"

exp_a=$(gcra_expect "$RATE" "$BURST" "$t_a")
exp_b=$(gcra_expect "$RATE" "$BURST" "$t_b")
assert_within 2 "$exp_a" "$got_a" "admitted from $SRC_A (burst + rate x T)"
assert_within 2 "$exp_b" "$got_b" "admitted from $SRC_B (its own budget)"

check "the counters agree with what the server received"
j=$(stats_json "$IF_GW")
passed=$(json_field "$j" 'rule("flood")["passed"]')
matched=$(json_field "$j" 'rule("flood")["matched"]')
dropped=$(json_field "$j" 'rule("flood")["dropped"]')
limited=$(json_field "$j" 'rule("flood")["limited"]')
rate_pkts=$(json_field "$j" 'd["reasons"]["rate"]["packets"]')
assert_eq "$total" "$passed" "rule flood passed == datagrams the server received"
assert_eq $((sent_a + sent_b)) "$matched" "rule flood matched == datagrams sent"
assert_eq $((matched - passed)) "$dropped" "rule flood dropped == matched - passed"
assert_eq "$dropped" "$limited" "rule flood limited (action drop) == dropped"
assert_eq "$limited" "$rate_pkts" "reasons.rate.packets == limited"

pass
