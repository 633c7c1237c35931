#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Cluster settings checked at start-up: a bad Redis URL, a wrong or missing
# password, a database Redis does not have and a scope cluster rule
# without a cluster statement each stop `sluice run` with exit 2, a
# message naming the file, and nothing attached. Right settings over a
# unix socket work, and the password never shows in status, logs or
# metrics; a reload may change the rules but not the cluster statement. A
# Redis that is only away at start-up is no error: the daemon enforces in
# fallback and syncs once Redis answers; with --detach-on-exit it leaves
# the cluster as it stops.
. "$(dirname "$0")/lib.sh"

PASS=s3cret
SOCK=

e2e_init
SOCK="$TMP_DIR/redis.sock"
start_redis auth --requirepass "$PASS" --unixsocket "$SOCK" --unixsocketperm 700
AUTH_PORT=$REDIS_PORT

RULE="rule total proto udp dport 7003 key global rate 100/s scope cluster action drop"

# refused CLUSTER_LINE EXPECTED WHAT: `sluice run` with that cluster
# statement exits 2 and says EXPECTED, naming the file; nothing attached.
refused() {
	local conf out rc
	conf=$(printf 'interface %s\n%s\n%s\n' "$IF_GW" "$RULE" "$1" | write_conf bad.conf)
	out=$(timeout 20 nsenter --net="/run/netns/$NS_GW" "$SLUICE" run --config "$conf" \
		--metrics "$METRICS_ADDR" 2>&1)
	rc=$?
	assert_eq 2 "$rc" "$3: exit code of sluice run"
	assert_contains "$out" "$conf" "$3: the message names the file"
	assert_contains "$out" "$2" "$3"
	[ -e "$PIN_DIR" ] && fail "$3: sluice run left $PIN_DIR behind"
	[ "$(xdp_prog_id)" = 0 ] || fail "$3: an XDP program is attached"
	return 0
}

refused "cluster http://127.0.0.1:$AUTH_PORT" \
	"bad.conf:3:9: expected a Redis URL like redis://127.0.0.1:6379 or unix:///run/redis/redis.sock" "scheme"
refused "cluster redis://127.0.0.1:70000" \
	"bad.conf:3:27: expected a port 1..65535, got \"70000\"" "port"
refused "cluster redis://[::1:6379" "expected an IPv6 address in brackets" "brackets"
refused "cluster redis://127.0.0.1:$AUTH_PORT sync 1h" "sync must be 10ms..10s" "sync"
refused "cluster redis://:wrong@127.0.0.1:$AUTH_PORT" "authentication failed: WRONGPASS" "wrong password"
refused "cluster redis://127.0.0.1:$AUTH_PORT" "NOAUTH" "no password"
refused "cluster redis://:$PASS@127.0.0.1:$AUTH_PORT/99" "database 99: ERR DB index is out of range" "database"
refused "cluster unix://:wrong@$SOCK" "authentication failed: WRONGPASS" "wrong password over the socket"
refused "" "rule \"total\" has scope cluster, but the file has no cluster statement" "no cluster statement"

# ------------------------------------------------------------ the socket
conf=$(printf 'interface %s\n%s\ncluster unix://:%s@%s?db=2 node solo sync 50ms\n' \
	"$IF_GW" "$RULE" "$PASS" "$SOCK" | write_conf good.conf)
daemon_start d --config "$conf" --metrics "$METRICS_ADDR" --log-format json
daemon_wait_ready d
for i in $(seq 40); do
	st=$(sl status "$IF_GW")
	printf '%s' "$st" | grep -q 'synced, 1 host' && break
	sleep 0.05
done
assert_contains "$st" "cluster: node solo, unix://:***@$SOCK?db=2, synced, 1 host" "status over the socket"
# The key lives in database 2, where the URL put it.
assert_eq 1 "$(redis_cli -a "$PASS" --no-auth-warning -n 2 EXISTS sluice:hosts)" "sluice:hosts in database 2"
scrape /metrics
grep -q "$PASS" "$TMP_DIR/scrape.txt" "$TMP_DIR/d.log" &&
	fail "the password shows in the metrics or the log"
sl status "$IF_GW" --json | grep -q "$PASS" && fail "the password shows in status --json"
log "ok: the password shows nowhere"
# A reload may change the rules, not the cluster statement.
lines=$(daemon_log_lines d)
sed -i 's/sync 50ms/sync 60ms/' "$conf"
kill -HUP "$(daemon_pid d)"
daemon_wait_log d "$lines"
assert_contains "$NEW_LOG" "the cluster statement changed; restart the daemon to apply it" "reload log"
lines=$(daemon_log_lines d)
sed -i -e 's/sync 60ms/sync 50ms/' -e 's|rate 100/s|rate 50/s|' "$conf"
kill -HUP "$(daemon_pid d)"
daemon_wait_log d "$lines"
assert_contains "$NEW_LOG" "reloaded" "reload log"
scrape /metrics
assert_eq 1 "$(metric 'm("sluice_reloads_total", result="failed")')" "refused reloads"
assert_eq 1 "$(metric 'm("sluice_reloads_total", result="ok")')" "reloads"
daemon_stop d TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"

# ------------------------------------------------------------ Redis away
REDIS_PORT=$((AUTH_PORT == 39999 ? 20000 : AUTH_PORT + 1))
conf=$(printf 'interface %s\n%s\ncluster redis://127.0.0.1:%s node solo sync 50ms\n' \
	"$IF_GW" "$RULE" "$REDIS_PORT" | write_conf away.conf)
daemon_start e --config "$conf" --metrics "$METRICS_ADDR" --log-format json --detach-on-exit
daemon_wait_ready e
assert_contains "$(daemon_log e)" "starting in fallback until Redis answers" "log when Redis is away"
# The sync thread records the fallback after its first failed sync, which
# can come a moment after the daemon says it is ready.
for i in $(seq 40); do
	scrape /metrics
	[ "$(metric 'm("sluice_cluster_fallback")')" = 1 ] && break
	sleep 0.05
done
assert_eq 1 "$(metric 'm("sluice_cluster_fallback")')" "sluice_cluster_fallback while Redis is away"
assert_contains "$(sl status "$IF_GW")" "fallback for" "status while Redis is away"
start_redis late
for i in $(seq 40); do
	st=$(sl status "$IF_GW")
	printf '%s' "$st" | grep -q ', synced,' && break
	sleep 0.05
done
assert_contains "$st" "cluster: node solo, redis://127.0.0.1:$REDIS_PORT/0, synced" "status once Redis answers"
assert_contains "$(daemon_log e)" "answers again" "log once Redis answers"

# --detach-on-exit: the host leaves the cluster at once, not after the TTL.
assert_eq 1 "$(redis_cli ZCARD sluice:hosts)" "hosts in Redis while the daemon runs"
daemon_stop e TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"
assert_eq 0 "$(redis_cli ZCARD sluice:hosts)" "hosts in Redis after --detach-on-exit"

pass
