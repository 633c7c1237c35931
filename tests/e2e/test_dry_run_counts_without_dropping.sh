#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# attach --dry-run: nothing is dropped, yet every counter says what the rule
# would have done. A flood at 30x a tight rule arrives whole, and the rule's
# `limited` counter holds what enforcement would have dropped:
# sent - (burst + rate x T).
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7009 RATE=100 BURST=20 PPS=3000 SECS=2
conf=$(write_conf dry.conf <<CONF
rule tight proto udp dport $PORT key src rate $RATE/s burst $BURST action drop
CONF
)
attach --dry-run --config "$conf"
assert_eq true "$(stats_field "$IF_GW" 'd["dry_run"]')" "stats dry_run"

check "a flood at $PPS pps against $RATE/s burst $BURST all arrives"
udp_round "$CLIENT4" "$PORT" "$PPS" "$SECS"
assert_cmp "$SENT" -ge $((PPS * SECS * 9 / 10)) "datagrams sent"
assert_eq "$SENT" "$GOT" "datagrams received (dry run drops nothing)"

check "the counters say what would have been limited"
j=$(stats_json "$IF_GW")
would_pass=$(gcra_expect "$RATE" "$BURST" "$ELAPSED")
limited=$(json_field "$j" 'rule("tight")["limited"]')
log "limited $limited of $SENT; enforcement would have passed about $would_pass"
assert_within 2 $((SENT - would_pass)) "$limited" "rule tight limited"
assert_eq "$SENT" "$(json_field "$j" 'rule("tight")["matched"]')" "rule tight matched"
assert_eq "$SENT" "$(json_field "$j" 'rule("tight")["passed"]')" "rule tight passed"
assert_eq 0 "$(json_field "$j" 'rule("tight")["dropped"]')" "rule tight dropped"
assert_eq "$limited" "$(json_field "$j" 'd["reasons"]["rate"]["packets"]')" "reasons.rate.packets"
assert_eq 0 "$(json_field "$j" 'd["totals"]["dropped"]["packets"]')" "totals.dropped.packets"

pass
