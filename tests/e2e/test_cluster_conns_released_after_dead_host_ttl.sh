#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Cluster-wide conns: two hosts share "conns 4" through Redis. Host b holds
# 3 connections, so host a may open only 1. Host b's daemon is killed with
# kill -9: it never withdraws its count, but its report lives under a TTL
# only it refreshed, so once the TTL has passed host a may open all 4.
. "$(dirname "$0")/lib.sh"

LIMIT=4 SYNC_MS=100 TTL_S=2 PORT=7100

e2e_init
topo_add_gateway
start_redis redis
# Host a refuses with a RST sent back by XDP_TX; a veth peer passes it on
# only with an XDP program of its own (see lib.sh).
client_xdp_pass

M1=$METRICS_ADDR
M2="127.0.0.1:$((${METRICS_ADDR##*:} == 39999 ? 20001 : ${METRICS_ADDR##*:} + 1))"
for n in 1 2; do
	ifv=IF_GW node=gw-a
	[ "$n" = 2 ] && ifv=IF_GW2 node=gw-b
	write_conf "gw$n.conf" >/dev/null <<EOF
interface ${!ifv}
rule api-conns proto tcp dport $PORT key global conns $LIMIT scope cluster action reject
cluster redis://127.0.0.1:$REDIS_PORT node $node sync ${SYNC_MS}ms ttl ${TTL_S}s
EOF
done
daemon_start a --config "$TMP_DIR/gw1.conf" --metrics "$M1" --log-format json
daemon_start b --config "$TMP_DIR/gw2.conf" --metrics "$M2" --log-format json
daemon_wait_ready a "$M1"
daemon_wait_ready b "$M2"

start_hold_server srv $PORT
start_hold_client c1
_start_hold c2 "$NS_CLIENT2" client

# connections_seen_by_a SCOPE: what host a's metrics say the rule holds.
connections_seen_by_a() {
	scrape /metrics "$M1"
	[ "$SCRAPE_CODE" = 200 ] || fail "scrape $M1: $SCRAPE_CODE"
	metric "m(\"sluice_cluster_rule_connections\", rule=\"api-conns\", scope=\"$1\")"
}

wait_cluster_connections() {	# N: until host a counts N in the cluster
	local i n
	for i in $(seq 50); do
		n=$(connections_seen_by_a cluster 2>/dev/null)
		[ "$n" = "$1" ] && { log "ok: host a sees $1 connections in the cluster"; return 0; }
		sleep 0.1
	done
	fail "host a sees ${n:-no} connections in the cluster, expected $1"
}

open_ok() {	# CLIENT SRC WHAT
	local a
	a=$(hold "$1" open "$2" "$SERVER4" $PORT 3) || exit 1
	[ "$(json_field "$a" 'd["ok"]')" = true ] || fail "$3: connection refused: $a"
	log "ok: $3: connected"
}

open_refused() {	# CLIENT SRC WHAT
	local a
	a=$(hold "$1" open "$2" "$SERVER4" $PORT 3) || exit 1
	assert_eq false "$(json_field "$a" 'd["ok"]')" "$3: connection over the cluster limit accepted"
	assert_eq ECONNREFUSED "$(json_field "$a" 'd["errno"]')" "$3: refused with"
}

for i in 1 2 3; do
	open_ok c2 "$CLIENT2_4" "host b, connection $i"
done
wait_cluster_connections 3
open_ok c1 "$CLIENT4" "host a, connection 1 (the one left of $LIMIT)"
open_refused c1 "$CLIENT4" "host a, connection 2"
assert_eq 1 "$(connections_seen_by_a host)" "connections on host a"

# Host b dies without a word. Its 3 connections still count until its
# report's TTL runs out.
killed=$(date +%s.%N)
daemon_stop b KILL
assert_eq 137 "$DAEMON_RC" "exit status of host b's daemon (128 + SIGKILL)"
open_refused c1 "$CLIENT4" "host a right after host b died"

wait_cluster_connections 1
released=$($PY -c "print('%.2f' % ($(date +%s.%N) - $killed))")
log "host b's connections stopped counting ${released}s after it died (TTL ${TTL_S}s)"
# Not before its report could have expired: the last refresh was at most
# one sync interval before the kill.
$PY -c "import sys; sys.exit(0 if $released >= $TTL_S - 0.3 else 1)" ||
	fail "host b's connections were released ${released}s after it died, before its TTL of ${TTL_S}s"
scrape /metrics "$M1"
assert_eq 1 "$(metric 'm("sluice_cluster_hosts")')" "live hosts seen by host a"

for i in 2 3 4; do
	open_ok c1 "$CLIENT4" "host a, connection $i of $LIMIT"
done
sleep 0.3
open_refused c1 "$CLIENT4" "host a, connection $((LIMIT + 1))"

pass
