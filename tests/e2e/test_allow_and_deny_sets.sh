#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The allow-list skips every limit and the deny-list stops everything, for
# IPv4 and IPv6, and both can be changed while attached.
#
# A tight per-source rule (burst 5, 10/s) covers the UDP port. An allow-listed
# source floods it and loses nothing; an unlisted source doing the same is
# cut to the rule's budget (so the rule really is tight); a deny-listed
# source gets no ping and no datagram through. Then `allow del` and
# `deny del` reverse both.
TOPO_IPV6=1
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7003 RATE=10 BURST=5
ALLOWED=10.200.1.11 PLAIN=10.200.1.12 DENIED=10.200.4.11 DENIED6=fd00:200:1::66
for a in "$ALLOWED" "$PLAIN" "$DENIED" "$DENIED6"; do client_addr "$a"; done

conf=$(write_conf sets.conf <<CONF
allow $ALLOWED/32
deny  10.200.4.0/24
rule tight proto udp dport $PORT key src rate $RATE/s burst $BURST action drop
CONF
)
attach --config "$conf"

counter() { stats_field "$IF_GW" "$1"; }

check "an allow-listed source flooding a tight rule loses nothing, and is counted in totals.allowed"
allowed0=$(counter 'd["totals"]["allowed"]["packets"]')
udp_round "$ALLOWED" "$PORT" 2000 1
assert_cmp "$SENT" -ge 1800 "datagrams sent by $ALLOWED"
assert_eq "$SENT" "$GOT" "datagrams the server got from $ALLOWED"
assert_eq $((allowed0 + SENT)) "$(counter 'd["totals"]["allowed"]["packets"]')" "totals.allowed.packets"
assert_eq 0 "$(counter 'rule("tight")["matched"]')" "rule tight matched (allow skips every rule)"

check "an unlisted source doing the same is cut to burst + rate x T"
udp_round "$PLAIN" "$PORT" 2000 1
limit=$(gcra_expect "$RATE" "$BURST" "$ELAPSED")
assert_cmp "$GOT" -ge $((limit - 1)) "datagrams admitted from $PLAIN"
assert_cmp "$GOT" -le $((limit + 1)) "datagrams admitted from $PLAIN"
assert_eq "$SENT" "$(counter 'rule("tight")["matched"]')" "rule tight matched"

check "a deny-listed source gets neither ping nor UDP through, and reasons.deny counts each packet"
deny0=$(counter 'd["reasons"]["deny"]["packets"]')
matched0=$(counter 'rule("tight")["matched"]')
assert_eq 0 "$(client_ping "$DENIED" "$SERVER4" 5)" "ping replies to $DENIED"
udp_round "$DENIED" "$PORT" 1000 0.5
assert_cmp "$SENT" -ge 400 "datagrams sent by $DENIED"
assert_eq 0 "$GOT" "datagrams the server got from $DENIED"
assert_eq $((deny0 + 5 + SENT)) "$(counter 'd["reasons"]["deny"]["packets"]')" "reasons.deny.packets"
assert_eq "$matched0" "$(counter 'rule("tight")["matched"]')" "rule tight matched (deny comes before rules)"

check "deny add of an IPv6 address takes effect at once"
sl_ok deny add "$IF_GW" "$DENIED6/128" >/dev/null
deny1=$(counter 'd["reasons"]["deny"]["packets"]')
assert_eq 3 "$(client_ping "$CLIENT6" "$SERVER6" 3)" "ping6 replies to $CLIENT6 (not listed)"
assert_eq 0 "$(client_ping "$DENIED6" "$SERVER6" 3)" "ping6 replies to $DENIED6"
assert_eq $((deny1 + 3)) "$(counter 'd["reasons"]["deny"]["packets"]')" "reasons.deny.packets after ping6"

check "allow list --json and deny list --json show the entries"
sl_ok allow list "$IF_GW" --json >/dev/null
assert_eq true "$(json_field "$SL_OUT" "'$ALLOWED' in __import__('json').dumps(d)")" "allow list has $ALLOWED"
sl_ok deny list "$IF_GW" --json >/dev/null
assert_eq true "$(json_field "$SL_OUT" "'10.200.4.0/24' in __import__('json').dumps(d)")" "deny list has 10.200.4.0/24"
assert_eq true "$(json_field "$SL_OUT" "'$DENIED6' in __import__('json').dumps(d)")" "deny list has $DENIED6"

check "allow del: the formerly allowed source is limited like anyone"
sl_ok allow del "$IF_GW" "$ALLOWED/32" >/dev/null
allowed1=$(counter 'd["totals"]["allowed"]["packets"]')
udp_round "$ALLOWED" "$PORT" 2000 1
limit=$(gcra_expect "$RATE" "$BURST" "$ELAPSED")
assert_cmp "$GOT" -ge $((limit - 1)) "datagrams admitted from $ALLOWED after allow del"
assert_cmp "$GOT" -le $((limit + 1)) "datagrams admitted from $ALLOWED after allow del"
assert_eq "$allowed1" "$(counter 'd["totals"]["allowed"]["packets"]')" "totals.allowed.packets after allow del"
sl_ok allow list "$IF_GW" --json >/dev/null
assert_eq false "$(json_field "$SL_OUT" "'$ALLOWED' in __import__('json').dumps(d)")" "allow list has $ALLOWED (after allow del)"

check "deny del: the formerly denied source gets through again"
sl_ok deny del "$IF_GW" 10.200.4.0/24 >/dev/null
deny2=$(counter 'd["reasons"]["deny"]["packets"]')
assert_eq 5 "$(client_ping "$DENIED" "$SERVER4" 5)" "ping replies to $DENIED after deny del"
udp_round "$DENIED" "$PORT" 10 0.45 --count "$BURST"
assert_eq "$BURST" "$SENT" "datagrams sent by $DENIED"
assert_eq "$BURST" "$GOT" "datagrams the server got from $DENIED (within the rule's burst)"
assert_eq "$deny2" "$(counter 'd["reasons"]["deny"]["packets"]')" "reasons.deny.packets after deny del"
sl_ok deny list "$IF_GW" --json >/dev/null
assert_eq false "$(json_field "$SL_OUT" "'10.200.4.0' in __import__('json').dumps(d)")" "deny list has 10.200.4.0/24 (after deny del)"
assert_eq true "$(json_field "$SL_OUT" "'$DENIED6' in __import__('json').dumps(d)")" "deny list keeps $DENIED6"

pass
