#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# make soak: sluice under mixed traffic for SOAK_SECONDS (default 600),
# with the rules reloaded every second and the controller killed and
# started again every SOAK_RESTART_SECONDS (default 60). Not part of make
# test. At the end it asserts:
#
#   - no moment without enforcement: a steady UDP stream at 4x its limit
#     (50/s burst 10) is admitted, in every one-second bucket the server
#     counts, at most rate + burst (+10% of the rate for the bucket
#     edges), and never not at all;
#   - counters equal to what the generators sent: each UDP rule matched
#     exactly what its senders sent and passed exactly what its receiver
#     got; sluice's rx is exactly what the clients' side put on the wire;
#   - no leaked connection counts: once the HTTP clients are gone the flow
#     table is empty and sl_conns holds nothing;
#   - no growth of the controller's memory: within each daemon's life its
#     RSS grows by at most SOAK_RSS_SLACK_KB (default 512) after a warm-up
#     of 10 s, and no later daemon starts bigger than the first by more;
#   - every reload was applied and no daemon logged an error.
#
# Topology: the e2e topology, with the client namespace turned into a
# switch (a bridge) for three more client namespaces, so traffic from all
# of them enters sluice's interface:
#   flood  10.200.1.100-131  UDP bursts to port 7100 (2 s on, 2 s off), so
#                            their keys go quiet, are swept and come back
#   web    10.200.1.60-62    HTTP keep-alive connections to nginx :8080
#   steady 10.200.1.30       200 datagrams/s to port 7000
# The rule files A and B differ (limits of the flood and conns rules, one
# rule more in A); reloads alternate them, by SIGHUP to the daemon and by
# `sluice load`, in turn.
. "$(dirname "$0")/../e2e/lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-600}
RESTART=${SOAK_RESTART_SECONDS:-60}
RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-512}
WARMUP=10
SOAK_DIR=$(cd "$(dirname "$0")" && pwd)
[[ $SOAK_SECONDS =~ ^[0-9]+$ ]] && ((SOAK_SECONDS >= 30)) ||
	fail "SOAK_SECONDS must be a number of seconds, at least 30, got \"$SOAK_SECONDS\""
[[ $RESTART =~ ^[0-9]+$ ]] && ((RESTART > WARMUP)) ||
	fail "SOAK_RESTART_SECONDS must be a number of seconds above $WARMUP, got \"$RESTART\""

PORT_STEADY=7000 PORT_FLOOD=7100 PORT_WEB=8080
STEADY_RATE=50 STEADY_BURST=10 STEADY_PPS=200
STEADY_SRC=10.200.1.30
FLOOD_FIRST=100 FLOOD_LAST=131 FLOOD_ROUNDS=150
WEB_SRCS=(10.200.1.60 10.200.1.61 10.200.1.62)

e2e_init
log "soak: ${SOAK_SECONDS}s, controller restarted every ${RESTART}s"

# ------------------------------------------------------------ topology

# The client namespace becomes a switch: its veth to the gateway and one
# veth per client namespace are ports of br0.
must ip -n "$NS_CLIENT" link add br0 type bridge stp_state 0
must ip -n "$NS_CLIENT" link set dev "$IF_CLIENT" master br0
veth_up "$NS_CLIENT" br0

# client_ns ROLE ADDR...: a namespace behind the switch with these
# addresses (the first with the /24), routed through the gateway, with
# permanent neighbours both ways.
client_ns() {
	local role=$1 ns="${NS_PFX}$1" mac a first=1
	shift
	ip netns add "$ns" || fail "ip netns add $ns failed"
	NAMESPACES+=("$ns")
	must ip -n "$ns" link set dev lo up
	ns_quiet "$ns"
	must ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	must ip link add eth0 netns "$ns" type veth peer name "p-$role" netns "$NS_CLIENT"
	must ip -n "$NS_CLIENT" link set dev "p-$role" master br0
	veth_up "$NS_CLIENT" "p-$role"
	veth_up "$ns" eth0
	mac=$(link_mac "$ns" eth0)
	: >"$TMP_DIR/$role.addr" && : >"$TMP_DIR/$role.neigh"
	for a in "$@"; do
		if ((first)); then
			echo "addr add $a/24 dev eth0" >>"$TMP_DIR/$role.addr"
			first=0
		else
			echo "addr add $a/32 dev eth0" >>"$TMP_DIR/$role.addr"
		fi
		echo "neigh replace $a lladdr $mac dev $IF_GW nud permanent" >>"$TMP_DIR/$role.neigh"
	done
	must ip -n "$ns" -batch "$TMP_DIR/$role.addr"
	must ip -n "$NS_GW" -batch "$TMP_DIR/$role.neigh"
	must ip -n "$ns" neigh replace "$GW_C4" lladdr "$GW_MAC" dev eth0 nud permanent
	must ip -n "$ns" route add default via "$GW_C4"
}
flood_addrs=()
for i in $(seq "$FLOOD_FIRST" "$FLOOD_LAST"); do flood_addrs+=("10.200.1.$i"); done
client_ns flood "${flood_addrs[@]}"
client_ns web "${WEB_SRCS[@]}"
client_ns steady "$STEADY_SRC"
NS_FLOOD="${NS_PFX}flood" NS_WEB="${NS_PFX}web" NS_STEADY="${NS_PFX}steady"
for ns in "$NS_FLOOD" "$NS_WEB" "$NS_STEADY"; do
	ip netns exec "$ns" ping -c1 -W2 -q "$SERVER4" >/dev/null ||
		fail "topology: $ns cannot reach $SERVER4"
done
# sluice's reject answers go back by XDP_TX; see client_xdp_pass.
client_xdp_pass

# nginx, the real server the HTTP clients talk to.
mkdir -p "$TMP_DIR/nginx/tmp"
cat >"$TMP_DIR/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $TMP_DIR/nginx/nginx.pid;
error_log $TMP_DIR/nginx/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $TMP_DIR/nginx/tmp/body;
	proxy_temp_path $TMP_DIR/nginx/tmp/proxy;
	fastcgi_temp_path $TMP_DIR/nginx/tmp/fastcgi;
	uwsgi_temp_path $TMP_DIR/nginx/tmp/uwsgi;
	scgi_temp_path $TMP_DIR/nginx/tmp/scgi;
	keepalive_requests 100000;
	server {
		listen $SERVER4:$PORT_WEB;
		location / { return 200 "ok\n"; }
	}
}
CONF
nsenter --net="/run/netns/$NS_SERVER" nginx -p "$TMP_DIR/nginx" -c "$TMP_DIR/nginx/nginx.conf" \
	>"$TMP_DIR/nginx/out" 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 50); do
	nsenter --net="/run/netns/$NS_SERVER" curl -s -o /dev/null --max-time 1 \
		"http://$SERVER4:$PORT_WEB/" && break
	sleep 0.1
done
nsenter --net="/run/netns/$NS_SERVER" curl -s -o /dev/null --max-time 1 \
	"http://$SERVER4:$PORT_WEB/" || fail "nginx did not start: $(cat "$TMP_DIR/nginx/out")"

# ------------------------------------------------------------ rule files

rules() {	# FLOOD_RATE CONNS EXTRA
	cat <<CONF
interface $IF_GW
keys 4096
key-timeout 1s
conn-timeout half-open 2s established 5s
rule steady proto udp dport $PORT_STEADY key src rate $STEADY_RATE/s burst $STEADY_BURST action drop
rule flood proto udp dport $PORT_FLOOD key src rate $1/s burst 50 action drop
rule web-syn proto tcp dport $PORT_WEB syn key src rate 30/s burst 20 action reject
rule web-conns proto tcp dport $PORT_WEB key src conns $2 action reject
$3
CONF
}
rules 100 25 "rule extra proto udp dport 7999 key global rate 1/s action drop" >"$TMP_DIR/A.conf"
rules 200 15 "" >"$TMP_DIR/B.conf"
CONF_PATH="$TMP_DIR/sluice.conf"
cp "$TMP_DIR/A.conf" "$CONF_PATH"

# ------------------------------------------------------------ run

LIFE=0
start_daemon() {
	LIFE=$((LIFE + 1))
	daemon_start "d$LIFE" --config "$CONF_PATH" --metrics "$METRICS_ADDR" --log-format json
	daemon_wait_ready "d$LIFE"
	DPID=$(daemon_pid "d$LIFE")
	LIFE_TICK=0
}
reloads_logged() { grep -c '"event":"reload".*reloaded' "$TMP_DIR/d$LIFE.log"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
link_tx() {	# NS DEV
	ip -n "$1" -s -j link show dev "$2" |
		$PY -c 'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["packets"])'
}

start_daemon
tx_base=$(link_tx "$NS_CLIENT" "$IF_CLIENT")
rx_base=$(stats_field "$IF_GW" 'd["totals"]["rx"]["packets"]')

start_receiver() {	# NAME PORT
	rm -f "$TMP_DIR/$1.ready"
	nsenter --net="/run/netns/$NS_SERVER" "$PY" "$SOAK_DIR/udp_buckets.py" --port "$2" \
		--ready-file "$TMP_DIR/$1.ready" >"$TMP_DIR/$1.json" 2>"$TMP_DIR/$1.err" &
	BG_PIDS+=($!)
	eval "RECV_PID_$1=$!"
	for _ in $(seq 100); do
		[ -e "$TMP_DIR/$1.ready" ] && return 0
		sleep 0.05
	done
	fail "receiver $1 did not start: $(cat "$TMP_DIR/$1.err")"
}
start_receiver steady "$PORT_STEADY"
start_receiver flood "$PORT_FLOOD"

nsenter --net="/run/netns/$NS_STEADY" "$PY" "$TOOLS_DIR/udp_send.py" --src "$STEADY_SRC" \
	--dst "$SERVER4" --dport "$PORT_STEADY" --rate "$STEADY_PPS" \
	--duration $((SOAK_SECONDS + 60)) >"$TMP_DIR/steady.send.json" 2>"$TMP_DIR/steady.send.err" &
BG_PIDS+=($!)
SENDER_PID_steady=$!	# shellcheck disable=SC2034 # read by stop_sender
nsenter --net="/run/netns/$NS_WEB" "$PY" "$SOAK_DIR/http_load.py" --src "${WEB_SRCS[@]}" \
	--dst "$SERVER4" --dport "$PORT_WEB" --rate 60 --hold 2 \
	>"$TMP_DIR/web.json" 2>"$TMP_DIR/web.err" &
BG_PIDS+=($!)
WEB_PID=$!

SPRAYS=0 HUPS=0 LOADS=0
: >"$TMP_DIR/rss.log"
t0=$(date +%s.%N)
for tick in $(seq "$SOAK_SECONDS"); do
	# A reload every second: A or B, by SIGHUP or by `sluice load`.
	if ((tick % 2)); then file=A; else file=B; fi
	cp "$TMP_DIR/$file.conf" "$CONF_PATH.tmp" && mv "$CONF_PATH.tmp" "$CONF_PATH"
	if (((tick / 2) % 2)); then
		# One SIGHUP at a time: two pending at once would be one signal.
		n=$(reloads_logged)
		kill -HUP "$DPID" || fail "SIGHUP to the daemon ($DPID) failed at ${tick}s"
		HUPS=$((HUPS + 1))
		for _ in $(seq 60); do
			[ "$(reloads_logged)" -gt "$n" ] && break
			sleep 0.05
		done
		[ "$(reloads_logged)" -gt "$n" ] ||
			fail "SIGHUP at ${tick}s: no reload logged within 3 s: $(daemon_log "d$LIFE" | tail -n 3)"
	else
		sl_run load "$IF_GW" "$CONF_PATH"
		[ "$SL_RC" = 0 ] || fail "sluice load $file at ${tick}s exited $SL_RC: $SL_ERR"
		LOADS=$((LOADS + 1))
	fi

	# Bursts of flood: 2 s on, 2 s off.
	if ((tick % 4 == 1 && tick + 2 < SOAK_SECONDS)); then
		SPRAYS=$((SPRAYS + 1))
		nsenter --net="/run/netns/$NS_FLOOD" "$PY" "$TOOLS_DIR/udp_spray.py" \
			--src "10.200.1.$FLOOD_FIRST-10.200.1.$FLOOD_LAST" --dst "$SERVER4" \
			--dport "$PORT_FLOOD" --count $((2 * FLOOD_ROUNDS)) --rate "$FLOOD_ROUNDS" \
			>"$TMP_DIR/spray.$SPRAYS.json" 2>"$TMP_DIR/spray.$SPRAYS.err" &
		BG_PIDS+=($!)
	fi

	LIFE_TICK=$((LIFE_TICK + 1))
	echo "$LIFE $LIFE_TICK $(rss_kb "$DPID")" >>"$TMP_DIR/rss.log"
	scrape /metrics
	[ "$SCRAPE_CODE" = 200 ] || fail "GET /metrics at ${tick}s: status $SCRAPE_CODE"

	# The controller dies without warning and another takes over.
	if ((tick % RESTART == 0 && tick < SOAK_SECONDS)); then
		# (braces: keeps bash's "Killed" job notice off the output)
		{
			kill -KILL "$DPID"
			daemon_wait_exit "d$LIFE"
		} 2>/dev/null
		[ "$DAEMON_RC" = 137 ] || fail "daemon d$LIFE exited $DAEMON_RC, expected 137 (SIGKILL)"
		start_daemon
		log "${tick}s: controller killed and restarted (life $LIFE)"
	fi
	if ((tick % 30 == 0)); then
		log "${tick}s: $(stats_field "$IF_GW" '"rx %d, keys %d, flows %d" % (d["totals"]["rx"]["packets"], d["keys_tracked"], d["flows_tracked"])')"
	fi
	left=$($PY -c 'import sys, time; print(max(0.0, float(sys.argv[1]) + int(sys.argv[2]) - time.time()))' "$t0" "$tick")
	sleep "$left"
done

# ------------------------------------------------------------ wind down

log "traffic stops"
stop_sender steady
steady_send=$SEND_JSON
kill -TERM "$WEB_PID"
wait "$WEB_PID" || fail "http_load failed: $(cat "$TMP_DIR/web.err")"
web=$(cat "$TMP_DIR/web.json")
flood_sent=0
for i in $(seq "$SPRAYS"); do
	while [ ! -s "$TMP_DIR/spray.$i.json" ]; do
		grep -q . "$TMP_DIR/spray.$i.err" 2>/dev/null && fail "spray $i: $(cat "$TMP_DIR/spray.$i.err")"
		sleep 0.1
	done
	flood_sent=$((flood_sent + $(json_field "$(cat "$TMP_DIR/spray.$i.json")" 'd["total"]')))
done
sleep 1.5	# the last datagrams reach the receivers
for r in steady flood; do
	pid_var="RECV_PID_$r"
	kill -TERM "${!pid_var}"
	wait "${!pid_var}" || fail "receiver $r failed: $(cat "$TMP_DIR/$r.err")"
done
steady_got=$(cat "$TMP_DIR/steady.json")
flood_got=$(cat "$TMP_DIR/flood.json")

# ------------------------------------------------------------ verdicts

check "no moment without enforcement: the steady stream, second by second"
bound=$($PY -c 'import math, sys; r, b = int(sys.argv[1]), int(sys.argv[2]); print(r + b + math.ceil(r * 0.1))' \
	"$STEADY_RATE" "$STEADY_BURST")
verdict=$(json_field "$steady_got" "(lambda b: '%d %d %d %d' % (len(b), max(b.values()), min(v for k, v in b.items() if int(k) not in (int(min(b)), int(max(b)))), sum(1 for k in range(int(min(b)) + 1, int(max(b))) if str(k) not in b)))(d['buckets']['$STEADY_SRC'])")
read -r n_buckets max_bucket min_bucket empty <<<"$verdict"
log "steady: $n_buckets one-second buckets, admitted per second: max $max_bucket, min $min_bucket (inner), bound $bound"
assert_cmp "$max_bucket" -le "$bound" "datagrams admitted in the busiest second ($STEADY_RATE/s burst $STEADY_BURST)"
assert_eq 0 "$empty" "seconds in which nothing of the steady stream got through"
assert_cmp "$n_buckets" -ge $((SOAK_SECONDS - 2)) "seconds with steady traffic admitted"

check "counters equal what the generators sent and the receivers got"
st=$(stats_json "$IF_GW")
assert_eq "$(json_field "$steady_send" 'd["sent"]')" "$(json_field "$st" 'rule("steady")["matched"]')" "steady: sent = matched"
assert_eq "$(json_field "$steady_got" 'd["total"]')" "$(json_field "$st" 'rule("steady")["passed"]')" "steady: received = passed"
assert_eq "$flood_sent" "$(json_field "$st" 'rule("flood")["matched"]')" "flood: sent = matched"
assert_eq "$(json_field "$flood_got" 'd["total"]')" "$(json_field "$st" 'rule("flood")["passed"]')" "flood: received = passed"
tx_end=$(link_tx "$NS_CLIENT" "$IF_CLIENT")
assert_eq $((tx_end - tx_base)) $(($(json_field "$st" 'd["totals"]["rx"]["packets"]') - rx_base)) \
	"frames the clients' side sent = sluice rx"
assert_eq "$(json_field "$st" 'd["totals"]["rx"]["packets"]')" \
	"$(json_field "$st" 'sum(d["totals"][k]["packets"] for k in ("non_ip", "passed", "dropped", "rejected"))')" \
	"rx = non_ip + passed + dropped + rejected"
log "web: $web"
assert_eq "$(json_field "$web" 'd["attempts"]')" "$(json_field "$web" 'd["connected"] + d["refused"] + d["timeouts"]')" \
	"web: attempts = connected + refused + timeouts"
assert_eq 0 "$(json_field "$web" 'd["errors"]')" "web: errors"
assert_cmp "$(json_field "$web" 'd["responses"]')" -gt 0 "web: responses"

check "no leaked connection counts"
for _ in $(seq 100); do
	[ "$(stats_field "$IF_GW" 'd["flows_tracked"]')" = 0 ] && break
	sleep 0.1
done
sl_ok sweep "$IF_GW" --json >/dev/null
log "sweep: $SL_OUT"
assert_eq 0 "$(json_field "$SL_OUT" 'd["flows"]')" "flows tracked once the clients are gone"
conns=$(bpftool -j map dump pinned "$PIN_DIR/sl_conns") || fail "bpftool map dump sl_conns"
assert_eq 0 "$(json_field "$conns" 'len(d)')" "entries in sl_conns"

check "no growth of the controller's memory"
mem=$($PY - "$TMP_DIR/rss.log" "$WARMUP" <<'EOF'
import sys
lives = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 3:
        lives.setdefault(int(f[0]), []).append((int(f[1]), int(f[2])))
warm = int(sys.argv[2])
out = []
for life, s in sorted(lives.items()):
    base = [kb for t, kb in s if t == warm]
    if not base:
        continue
    later = [kb for t, kb in s if t >= warm]
    out.append("%d %d %d" % (life, base[0], max(later) - base[0]))
print("\n".join(out))
EOF
)
first_base=
while read -r life base growth; do
	log "daemon $life: ${base} kB after ${WARMUP}s, grew by ${growth} kB after that"
	assert_cmp "$growth" -le "$RSS_SLACK_KB" "daemon $life: RSS growth in kB after warm-up"
	[ -n "$first_base" ] || first_base=$base
	assert_cmp "$base" -le $((first_base + RSS_SLACK_KB)) "daemon $life: RSS after warm-up, against the first daemon's"
done <<<"$mem"
[ -n "$first_base" ] || fail "no RSS samples past the warm-up"

check "every reload applied, no error logged"
logs=$(cat "$TMP_DIR"/d[0-9]*.log)
assert_eq "$HUPS" "$(grep -c '"event":"reload".*reloaded' <<<"$logs")" "SIGHUP reloads logged as applied"
assert_eq 0 "$(grep -c '"level":"error"' <<<"$logs")" "error lines in the daemons' logs"
log "$LOADS reloads by sluice load, $HUPS by SIGHUP; $LIFE daemons; $SPRAYS flood bursts"

pass
