#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Cluster mode, two hosts: two gateway interfaces, each with its own
# `sluice run`, one real redis-server. A scope cluster rate of 200/s holds
# for both together within the README's bound, R*L + B + N*R*T + (N-1)*B,
# and each host's share follows its traffic: the busier host gets the
# larger part, and when the traffic swaps, so do the shares. A script
# flush in Redis (as after a failover) costs no sync: EVALSHA falls back
# to EVAL.
. "$(dirname "$0")/lib.sh"

RATE=200 BURST=20 SYNC_MS=100 HOSTS=2 PORT=7001

e2e_init
topo_add_gateway
start_redis redis

M1=$METRICS_ADDR
M2="127.0.0.1:$((${METRICS_ADDR##*:} == 39999 ? 20001 : ${METRICS_ADDR##*:} + 1))"
for n in 1 2; do
	ifv=IF_GW node=gw-a
	[ "$n" = 2 ] && ifv=IF_GW2 node=gw-b
	write_conf "gw$n.conf" >/dev/null <<EOF
interface ${!ifv}
rule total proto udp dport $PORT key global rate $RATE/s burst $BURST scope cluster action drop
cluster redis://127.0.0.1:$REDIS_PORT node $node sync ${SYNC_MS}ms ttl 1s
EOF
done
daemon_start a --config "$TMP_DIR/gw1.conf" --metrics "$M1" --log-format json
daemon_start b --config "$TMP_DIR/gw2.conf" --metrics "$M2" --log-format json
daemon_wait_ready a "$M1"
daemon_wait_ready b "$M2"

# cluster_state IFACE: "STATE HOSTS" from `sluice status --json`.
cluster_state() {
	local j
	j=$(sl status "$1" --json) || fail "sluice status $1 failed"
	json_field "$j" '"%s %s" % (d["cluster"]["state"], d["cluster"]["hosts"]) if "cluster" in d else "none 0"'
}

wait_synced() {	# IFACE HOSTS
	local i st
	for i in $(seq 50); do
		st=$(cluster_state "$1")
		[ "$st" = "synced $2" ] && { log "ok: $1: synced, $2 hosts"; return 0; }
		sleep 0.1
	done
	fail "$1: cluster state is '$st', expected synced with $2 hosts"
}
wait_synced "$IF_GW" $HOSTS
wait_synced "$IF_GW2" $HOSTS
assert_contains "$(sl status "$IF_GW")" "cluster: node gw-a, redis://127.0.0.1:$REDIS_PORT/0, synced" "status"

passed() {	# IFACE: what the rule admitted on that host so far
	stats_field "$1" 'rule("total")["passed"]'
}

share() {	# ADDR: the host's share of the rule, from its metrics
	scrape /metrics "$1"
	[ "$SCRAPE_CODE" = 200 ] || fail "scrape $1: $SCRAPE_CODE"
	metric 'm("sluice_cluster_rule_share", rule="total")'
}

# phase NAME RATE1 RATE2: 4 s of traffic through both hosts. Checks the
# global bound over the whole phase and sets ADM1 and ADM2, what each host
# admitted from 1.5 s in (shares settled over the 1 s demand window) to
# the end, and SHARE1 and SHARE2 from the metrics at 2 s.
phase() {
	local name=$1 r1=$2 r2=$3 a1 a2 b1 b2 c1 c2 s1 s2 total bound span
	a1=$(passed "$IF_GW") a2=$(passed "$IF_GW2")
	send_udp_bg_in "$NS_CLIENT" "${name}1" "$CLIENT4" "$SERVER4" $PORT "$r1" 4
	send_udp_bg_in "$NS_CLIENT2" "${name}2" "$CLIENT2_4" "$SERVER4" $PORT "$r2" 4
	sleep 1.5
	b1=$(passed "$IF_GW") b2=$(passed "$IF_GW2")
	sleep 0.5
	SHARE1=$(share "$M1") SHARE2=$(share "$M2")
	wait_sender "${name}1"
	s1=$SEND_JSON
	wait_sender "${name}2"
	s2=$SEND_JSON
	sleep 0.2
	c1=$(passed "$IF_GW") c2=$(passed "$IF_GW2")
	# The union of both senders' first-to-last sends, one monotonic clock.
	span=$($PY -c 'import json, sys; a, b = (json.loads(x) for x in sys.argv[1:3]); print(max(a["last"], b["last"]) - min(a["first"], b["first"]))' "$s1" "$s2")
	total=$((c1 - a1 + c2 - a2))
	bound=$($PY -c 'import sys; r, b, n, t, l = map(float, sys.argv[1:6]); print(int(r * l + b + n * r * t + (n - 1) * b))' \
		$RATE $BURST $HOSTS "0.$SYNC_MS" "$span")
	log "$name: sent $r1/s and $r2/s for ${span}s; admitted $((c1 - a1)) + $((c2 - a2)) = $total; shares $SHARE1, $SHARE2"
	assert_cmp "$total" -le "$bound" "$name: global admitted within R*L + B + N*R*T + (N-1)*B"
	# A limit that starved everyone would pass the bound too.
	assert_cmp "$total" -ge "$($PY -c "print(int(0.7 * $RATE * $span))")" "$name: global admitted at least 70% of R*L"
	ADM1=$((c1 - b1)) ADM2=$((c2 - b2))
}

share_gt() {	# A B: A > B, as floats
	$PY -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$1" "$2"
}

# Host 1 busy, host 2 light: max-min fair gives host 2 all it asks (60/s)
# and host 1 the rest (140/s).
phase busy1 300 60
assert_cmp "$ADM1" -gt "$((ADM2 * 3 / 2))" "host 1 busier: admitted more once shares settled ($ADM1 vs $ADM2)"
share_gt "$SHARE1" 0.55 || fail "host 1's share $SHARE1, expected above 0.55"
share_gt 0.45 "$SHARE2" || fail "host 2's share $SHARE2, expected below 0.45"
share_gt 1.05 "$($PY -c "print($SHARE1 + $SHARE2)")" || fail "shares $SHARE1 + $SHARE2 add up to more than the limit"
log "ok: shares $SHARE1 and $SHARE2"

# Redis forgets the script (a restart or failover does): EVALSHA answers
# NOSCRIPT, the sync sends it whole with EVAL, and no round fails.
scrape /metrics "$M1"
failed_before=$(metric 'm("sluice_cluster_syncs_total", result="failed")')
ok_before=$(metric 'm("sluice_cluster_syncs_total", result="ok")')
assert_eq OK "$(redis_cli SCRIPT FLUSH)" "SCRIPT FLUSH"
sleep 0.5

# The traffic swaps, and so do the shares.
phase busy2 60 300
assert_cmp "$ADM2" -gt "$((ADM1 * 3 / 2))" "host 2 busier: admitted more once shares settled ($ADM2 vs $ADM1)"
share_gt "$SHARE2" 0.55 || fail "host 2's share $SHARE2, expected above 0.55"
share_gt 0.45 "$SHARE1" || fail "host 1's share $SHARE1, expected below 0.45"
log "ok: shares $SHARE1 and $SHARE2"

scrape /metrics "$M1"
assert_eq "$failed_before" "$(metric 'm("sluice_cluster_syncs_total", result="failed")')" "failed syncs across SCRIPT FLUSH"
assert_cmp "$(metric 'm("sluice_cluster_syncs_total", result="ok")')" -gt "$((ok_before + 40))" "syncs went on after SCRIPT FLUSH"
assert_eq 0 "$(metric 'm("sluice_cluster_fallback")')" "fallback"
assert_eq 2 "$(metric 'm("sluice_cluster_hosts")')" "sluice_cluster_hosts"
grep -q 'fallback' "$TMP_DIR/a.log" "$TMP_DIR/b.log" &&
	fail "a host fell back while Redis was up: $(cat "$TMP_DIR/a.log" "$TMP_DIR/b.log")"

pass
