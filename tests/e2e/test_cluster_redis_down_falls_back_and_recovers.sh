#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Cluster mode without its coordinator: two hosts share a 200/s rate
# through Redis; Redis is killed while traffic flows. Both hosts fall back
# to their local share, 1/2 of the limit each, at their next sync, say so
# in their logs, metrics and status, and hold that share while Redis is
# away; when Redis is back they sync again and the shared limit holds. A
# Redis that stops answering (SIGSTOP) is away too.
. "$(dirname "$0")/lib.sh"

RATE=200 BURST=20 SYNC_MS=100 PORT=7002

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

cluster_json() {	# IFACE EXPR over the "cluster" object of status --json
	local j
	j=$(sl status "$1" --json) || fail "sluice status $1 failed"
	json_field "$j" "$2"
}

wait_state() {	# IFACE STATE HOSTS
	local i st
	for i in $(seq 50); do
		st=$(cluster_json "$1" '"%s %s" % (d["cluster"]["state"], d["cluster"]["hosts"])')
		[ "$st" = "$2 $3" ] && { log "ok: $1: $2, $3 hosts"; return 0; }
		sleep 0.1
	done
	fail "$1: cluster state is '$st', expected $2 with $3 hosts"
}
wait_state "$IF_GW" synced 2
wait_state "$IF_GW2" synced 2

passed() {	# IFACE
	stats_field "$1" 'rule("total")["passed"]'
}

now() { date +%s.%N; }

# Both hosts flooded with 300/s for the whole test.
send_udp_bg_in "$NS_CLIENT" s1 "$CLIENT4" "$SERVER4" $PORT 300 30
send_udp_bg_in "$NS_CLIENT2" s2 "$CLIENT2_4" "$SERVER4" $PORT 300 30
sleep 1.5

# ------------------------------------------------------------ Redis dies
lines_a=$(daemon_log_lines a) lines_b=$(daemon_log_lines b)
killed=$(now)
kill_redis redis
for name in a b; do
	addr=$M1
	[ $name = b ] && addr=$M2
	for i in $(seq 40); do
		scrape /metrics "$addr"
		[ "$SCRAPE_CODE" = 200 ] && [ "$(metric 'm("sluice_cluster_fallback")')" = 1 ] && break
		sleep 0.05
	done
	took=$($PY -c "print('%.2f' % ($(now) - $killed))")
	[ "$(metric 'm("sluice_cluster_fallback")')" = 1 ] ||
		fail "host $name not in fallback 2 s after Redis died: $(daemon_log $name)"
	log "host $name: sluice_cluster_fallback = 1 within ${took}s of the kill"
	assert_eq 1 "$(metric 'm("sluice_cluster_fallbacks_total")')" "host $name: sluice_cluster_fallbacks_total"
done
daemon_wait_log a "$lines_a"
assert_contains "$NEW_LOG" "falling back to local shares, 1/2 of each scope cluster limit" "host a log"
log_a=$NEW_LOG
daemon_wait_log b "$lines_b"
assert_contains "$NEW_LOG" "falling back to local shares, 1/2 of each scope cluster limit" "host b log"
# The log's own clock says when: at the first sync after the kill, one
# interval (100 ms) here; 1 s allows for a loaded machine.
delay=$(printf '%s\n' "$log_a" | grep 'falling back' | head -n1 | $PY -c '
import datetime, json, sys
t = json.loads(sys.stdin.readline())["time"]
at = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print("%.3f" % (at.timestamp() - float(sys.argv[1])))' "$killed")
log "host a logged its fallback ${delay}s after the kill"
$PY -c "import sys; sys.exit(0 if $delay <= 1.0 else 1)" ||
	fail "host a logged its fallback ${delay}s after Redis died, expected within 1 s"
st=$(sl status "$IF_GW")
assert_contains "$st" "fallback for" "status"
assert_contains "$st" "1/2 of each limit" "status"

# The local shares hold: each host admits at most half the limit.
t0=$(now)
a1=$(passed "$IF_GW") a2=$(passed "$IF_GW2")
t1=$(now)
sleep 2
t2=$(now)
b1=$(passed "$IF_GW") b2=$(passed "$IF_GW2")
t3=$(now)
for n in 1 2; do
	a=a$n b=b$n
	adm=$((${!b} - ${!a}))
	most=$($PY -c "print(int($RATE / 2 * ($t3 - $t0) + $BURST / 2 + 1))")
	least=$($PY -c "print(int(0.8 * $RATE / 2 * ($t2 - $t1)))")
	assert_cmp "$adm" -le "$most" "host $n in fallback: admitted at most R/2*L + B/2"
	assert_cmp "$adm" -ge "$least" "host $n in fallback: admitted at least 80% of R/2*L"
done

# ------------------------------------------------------------ Redis is back
lines_a=$(daemon_log_lines a)
start_redis redis
wait_state "$IF_GW" synced 2
wait_state "$IF_GW2" synced 2
daemon_wait_log a "$lines_a"
assert_contains "$NEW_LOG" "answers again after" "host a log"
for addr in "$M1" "$M2"; do
	scrape /metrics "$addr"
	assert_eq 0 "$(metric 'm("sluice_cluster_fallback")')" "$addr: sluice_cluster_fallback"
done

# Shared again: both together within the limit, once the fresh Redis has a
# window of demand (1 s).
sleep 1.5
t0=$(now)
a1=$(passed "$IF_GW") a2=$(passed "$IF_GW2")
t1=$(now)
sleep 2
t2=$(now)
b1=$(passed "$IF_GW") b2=$(passed "$IF_GW2")
t3=$(now)
total=$((b1 - a1 + b2 - a2))
most=$($PY -c "print(int($RATE * ($t3 - $t0) + $BURST + 2 * $RATE * $SYNC_MS / 1000))")
least=$($PY -c "print(int(0.7 * $RATE * ($t2 - $t1)))")
log "after recovery: admitted $((b1 - a1)) + $((b2 - a2)) = $total"
assert_cmp "$total" -le "$most" "after recovery: global admitted within R*L + B + N*R*T"
assert_cmp "$total" -ge "$least" "after recovery: global admitted at least 70% of R*L"

# ------------------------------------------------------------ Redis is slow
# A stopped Redis still accepts connections but answers nothing: each sync
# gives up after half an interval, and the hosts fall back all the same.
kill -STOP "$REDIS_PID_redis"
for name in a b; do
	addr=$M1
	[ $name = b ] && addr=$M2
	for i in $(seq 40); do
		scrape /metrics "$addr"
		[ "$(metric 'm("sluice_cluster_fallback")')" = 1 ] && break
		sleep 0.05
	done
	assert_eq 1 "$(metric 'm("sluice_cluster_fallback")')" "host $name: sluice_cluster_fallback while Redis does not answer"
	assert_eq 2 "$(metric 'm("sluice_cluster_fallbacks_total")')" "host $name: sluice_cluster_fallbacks_total"
done
assert_contains "$(cluster_json "$IF_GW" 'd["cluster"]["error"]')" "no answer in time" "status error while Redis does not answer"
kill -CONT "$REDIS_PID_redis"
wait_state "$IF_GW" synced 2
wait_state "$IF_GW2" synced 2
stop_sender s1
stop_sender s2

pass
