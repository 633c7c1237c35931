# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Shared setup for the end-to-end tests, sourced by every tests/e2e/test_*.sh.
# In the shape of xdp-tools' lib/testing: each test builds its own namespaces
# and veth pairs, quiets the links so packet counts are exact, drives the real
# `sluice` binary ($SLUICE) and real traffic, and cleans up in a trap on every
# exit path.
#
# Topology (one per test, names unique per test process):
#
#   client ns                 gw ns (ip_forward=1)                server ns
#   veth0 10.200.1.2 ---- $IF_GW 10.200.1.1   $IF_GW_S 10.200.2.1 ---- veth0 10.200.2.2
#         fd00:200:1::2       fd00:200:1::1   fd00:200:2::1             fd00:200:2::2
#   (+ extra client addresses   ^ sluice attaches here (XDP ingress)
#    from client_addr)
#
# The client stack sends through the gateway to the server, so every
# client->server packet crosses sluice exactly once; replies leave the
# gateway through $IF_GW's egress and are never seen by the XDP hook.
#
# sluice runs in the gw namespace through nsenter: `ip netns exec` remounts
# /sys and would hide the bpffs at /sys/fs/bpf where sluice pins its state.

set -u -o pipefail

TEST_NAME=$(basename "$0" .sh)
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS_DIR=$(cd "$E2E_DIR/../tools" && pwd)
# Debian's interpreter: the python3 first on PATH may be a different one.
PY=/usr/bin/python3

# Namespaces live in one flat namespace-name space and pins in the one global
# bpffs, so every name carries this test's id. Interface names stop at 15
# characters: "sl" + id (<= 8) + one letter.
SL_ID=$(printf '%x%02x' "$$" $((RANDOM % 256)))
NS_PFX="sl-$SL_ID-"
NS_CLIENT="${NS_PFX}cl"
NS_GW="${NS_PFX}gw"
NS_SERVER="${NS_PFX}srv"
IF_GW="sl${SL_ID}c"		# the gateway's client-facing veth: sluice's iface
IF_GW_S="sl${SL_ID}s"		# the gateway's server-facing veth
IF_CLIENT=veth0			# inside the client ns
IF_SERVER=veth0			# inside the server ns
PIN_ROOT=/sys/fs/bpf/sluice
PIN_DIR="$PIN_ROOT/$IF_GW"

GW_C4=10.200.1.1 CLIENT4=10.200.1.2
GW_S4=10.200.2.1 SERVER4=10.200.2.2
GW_C6=fd00:200:1::1 CLIENT6=fd00:200:1::2
GW_S6=fd00:200:2::1 SERVER6=fd00:200:2::2

TMP_DIR=
BG_PIDS=()
NAMESPACES=()
FINISHED=0
CLIENT_MAC= GW_MAC=

# Messages go to fd 3, the test's own stdout, so helpers can report from
# inside $(...) without their words ending up in a captured value.
exec 3>&1
log()   { printf '  %s\n' "$*" >&3; }
check() { printf 'CHECK: %s\n' "$*" >&3; }

# fail MSG: the test fails. Works from inside $(...) too: a subshell tells
# the test's main shell to stop, so `v=$(stats_field ...)` cannot carry on
# with an empty value.
MAIN_PID=$BASHPID
fail() {
	printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&3
	FINISHED=1
	if [ "$BASHPID" != "$MAIN_PID" ]; then
		kill -USR1 "$MAIN_PID" 2>/dev/null
	fi
	exit 1
}

pass() {
	printf 'PASS: %s\n' "$TEST_NAME" >&3
	FINISHED=1
	exit 0
}

# must CMD...: a setup step that has to work; its failure fails the test.
must() {
	local out
	if ! out=$("$@" 2>&1); then
		fail "setup step failed: $* :: $out"
	fi
}

assert_eq() {	# EXPECTED ACTUAL WHAT
	[ "$1" = "$2" ] || fail "$3: expected $1, got $2"
	log "ok: $3 = $2"
}

assert_ne() {	# UNEXPECTED ACTUAL WHAT
	[ "$1" != "$2" ] || fail "$3: expected anything but $1"
	log "ok: $3 = $2 (not $1)"
}

# assert_cmp A OP B WHAT with OP one of -lt -le -gt -ge (integers).
assert_cmp() {
	[[ "$1" =~ ^-?[0-9]+$ && "$3" =~ ^-?[0-9]+$ ]] ||
		fail "$4: not integers: '$1' '$3'"
	[ "$1" "$2" "$3" ] || fail "$4: expected $1 $2 $3"
	log "ok: $4: $1 $2 $3"
}

# assert_within PCT EXPECTED ACTUAL WHAT: |actual - expected| <= PCT% of expected.
assert_within() {
	local verdict
	verdict=$($PY - "$1" "$2" "$3" <<'EOF'
import sys
pct, exp, act = (float(x) for x in sys.argv[1:4])
dev = abs(act - exp)
print("%s %.2f%%" % ("ok" if dev <= exp * pct / 100.0 else "bad",
                     100.0 * dev / exp if exp else float("inf")))
EOF
	) || fail "$4: cannot compare '$2' and '$3'"
	case "$verdict" in
	ok*) log "ok: $4: $3 within $1% of $2 (off by ${verdict#ok })" ;;
	*) fail "$4: expected $2 +-$1%, got $3 (off by ${verdict#bad })" ;;
	esac
}

# assert_contains HAYSTACK NEEDLE WHAT (case-insensitive).
assert_contains() {
	printf '%s' "$1" | grep -qiF -- "$2" ||
		fail "$3: expected the text to mention '$2', got: $1"
	log "ok: $3 mentions '$2'"
}

# ---------------------------------------------------------------- sluice

# sl ARGS...: run sluice in the gateway's network namespace.
sl() {
	nsenter --net="/run/netns/$NS_GW" "$SLUICE" "$@"
}

# sl_run ARGS...: run sluice, keep stdout in SL_OUT, stderr in SL_ERR, exit
# code in SL_RC. Never fails by itself.
sl_run() {
	local o e
	o=$(mktemp -p "$TMP_DIR") e=$(mktemp -p "$TMP_DIR")
	sl "$@" >"$o" 2>"$e"
	SL_RC=$?
	SL_OUT=$(cat "$o") SL_ERR=$(cat "$e")
	rm -f "$o" "$e"
}

# sl_ok ARGS...: sluice must succeed; prints its stdout.
sl_ok() {
	sl_run "$@"
	[ "$SL_RC" -eq 0 ] ||
		fail "sluice $* exited $SL_RC: ${SL_ERR:-$SL_OUT}"
	[ -z "$SL_OUT" ] || printf '%s\n' "$SL_OUT"
}

# sl_expect RC ARGS...: sluice must exit with RC.
sl_expect() {
	local rc=$1
	shift
	sl_run "$@"
	[ "$SL_RC" -eq "$rc" ] ||
		fail "sluice $* exited $SL_RC, expected $rc (stdout: $SL_OUT) (stderr: $SL_ERR)"
	log "ok: sluice $* -> exit $rc"
}

ATTACHED=0
attach() {	# ARGS... after the interface
	sl_run attach "$IF_GW" "$@"
	[ "$SL_RC" -eq 0 ] ||
		fail "sluice attach $IF_GW $* exited $SL_RC: ${SL_ERR:-$SL_OUT}"
	ATTACHED=1
	log "attached: sluice attach $IF_GW $*"
}

# json_eval JSON EXPR: evaluate a Python expression over the parsed JSON `d`;
# rule(NAME) finds a rule by name in d["rules"].
json_eval() {
	$PY - "$1" "$2" <<'EOF'
import json, sys
try:
    d = json.loads(sys.argv[1])
except ValueError as e:
    sys.exit("not JSON (%s): %r" % (e, sys.argv[1][:300]))
def rule(name):
    for r in d["rules"]:
        if r.get("name") == name:
            return r
    raise KeyError("no rule %r in %r" % (name, [r.get("name") for r in d["rules"]]))
try:
    v = eval(sys.argv[2])
except Exception as e:
    sys.exit("%s: %s: %s" % (sys.argv[2], type(e).__name__, e))
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
EOF
}

# json_field JSON EXPR: like json_eval, but a failure fails the test.
json_field() {
	local v
	v=$(json_eval "$1" "$2" 2>&1) || fail "reading $2: $v"
	printf '%s\n' "$v"
}

stats_json() {	# IFACE
	sl_run stats "$1" --json
	[ "$SL_RC" -eq 0 ] || fail "sluice stats $1 --json exited $SL_RC: $SL_ERR"
	printf '%s\n' "$SL_OUT"
}

# stats_field IFACE EXPR, e.g. stats_field "$IF_GW" 'rule("api")["passed"]'
# or stats_field "$IF_GW" 'd["reasons"]["deny"]["packets"]'.
stats_field() {
	local j
	j=$(stats_json "$1") || exit 1
	json_field "$j" "$2"
}

# ---------------------------------------------------------------- topology

require_prereqs() {
	[ "$(id -u)" -eq 0 ] || fail "must run as root"
	[ -n "${SLUICE:-}" ] || fail "SLUICE is not set (path to the sluice binary)"
	[[ "$SLUICE" == /* ]] || SLUICE="$(pwd)/$SLUICE"
	[ -x "$SLUICE" ] || fail "SLUICE=$SLUICE is not an executable file"
	local t
	for t in ip nsenter "$PY" grep mktemp; do
		command -v "$t" >/dev/null || fail "missing prerequisite: $t"
	done
	[ -f "$TOOLS_DIR/udp_send.py" ] && [ -f "$TOOLS_DIR/udp_count.py" ] ||
		fail "missing traffic tools in $TOOLS_DIR"
	[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] ||
		fail "no bpffs mounted at /sys/fs/bpf"
}

link_mac() {	# NS IFACE
	ip -n "$1" -br link show dev "$2" | awk '{print $3}'
}

# Quiet defaults for every link created in NS afterwards: no DAD, no router
# solicitations or advertisements, no link-local address (so no MLD reports
# for it either), no reverse-path filter surprises.
ns_quiet() {	# NS
	local k
	for k in accept_dad=0 dad_transmits=0 router_solicitations=0 \
		 accept_ra=0 addr_gen_mode=1; do
		must ip netns exec "$1" sysctl -qw "net.ipv6.conf.all.$k" \
			"net.ipv6.conf.default.$k"
	done
	must ip netns exec "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0
}

# veth_up NS IFACE: bring up with the quiet settings applied to the link.
veth_up() {
	must ip -n "$1" link set dev "$2" addrgenmode none
	must ip -n "$1" link set dev "$2" up
}

# topo_setup: build the topology. IPv4 only unless TOPO_IPV6=1: a link with
# IPv6 addresses sends MLD reports for their solicited-node groups when it
# comes up, and a test that wants exact totals should not see them; with
# TOPO_IPV6=1 setup waits until those reports are over.
topo_setup() {
	local ns cmac gcmac gsmac smac v6=${TOPO_IPV6:-0}
	TMP_DIR=$(mktemp -d "/tmp/sluice-e2e.$TEST_NAME.XXXXXX") ||
		fail "mktemp failed"
	for ns in "$NS_CLIENT" "$NS_GW" "$NS_SERVER"; do
		ip netns add "$ns" || fail "ip netns add $ns failed"
		NAMESPACES+=("$ns")
		must ip -n "$ns" link set dev lo up
		ns_quiet "$ns"
		if [ "$v6" != 1 ]; then
			must ip netns exec "$ns" sysctl -qw \
				net.ipv6.conf.all.disable_ipv6=1 \
				net.ipv6.conf.default.disable_ipv6=1
		fi
	done
	must ip link add "$IF_CLIENT" netns "$NS_CLIENT" type veth \
		peer name "$IF_GW" netns "$NS_GW"
	must ip link add "$IF_SERVER" netns "$NS_SERVER" type veth \
		peer name "$IF_GW_S" netns "$NS_GW"
	must ip netns exec "$NS_GW" sysctl -qw net.ipv4.ip_forward=1
	[ "$v6" = 1 ] && must ip netns exec "$NS_GW" sysctl -qw net.ipv6.conf.all.forwarding=1

	must ip -n "$NS_CLIENT" addr add "$CLIENT4/24" dev "$IF_CLIENT"
	must ip -n "$NS_GW" addr add "$GW_C4/24" dev "$IF_GW"
	must ip -n "$NS_GW" addr add "$GW_S4/24" dev "$IF_GW_S"
	must ip -n "$NS_SERVER" addr add "$SERVER4/24" dev "$IF_SERVER"
	if [ "$v6" = 1 ]; then
		must ip -n "$NS_CLIENT" addr add "$CLIENT6/64" dev "$IF_CLIENT" nodad
		must ip -n "$NS_GW" addr add "$GW_C6/64" dev "$IF_GW" nodad
		must ip -n "$NS_GW" addr add "$GW_S6/64" dev "$IF_GW_S" nodad
		must ip -n "$NS_SERVER" addr add "$SERVER6/64" dev "$IF_SERVER" nodad
	fi

	veth_up "$NS_CLIENT" "$IF_CLIENT"
	veth_up "$NS_GW" "$IF_GW"
	veth_up "$NS_GW" "$IF_GW_S"
	veth_up "$NS_SERVER" "$IF_SERVER"

	must ip -n "$NS_CLIENT" route add default via "$GW_C4"
	must ip -n "$NS_SERVER" route add default via "$GW_S4"

	# Permanent neighbours: no ARP or neighbour discovery on the wire.
	cmac=$(link_mac "$NS_CLIENT" "$IF_CLIENT")
	gcmac=$(link_mac "$NS_GW" "$IF_GW")
	gsmac=$(link_mac "$NS_GW" "$IF_GW_S")
	smac=$(link_mac "$NS_SERVER" "$IF_SERVER")
	CLIENT_MAC=$cmac GW_MAC=$gcmac
	must ip -n "$NS_CLIENT" neigh replace "$GW_C4" lladdr "$gcmac" dev "$IF_CLIENT" nud permanent
	must ip -n "$NS_GW" neigh replace "$CLIENT4" lladdr "$cmac" dev "$IF_GW" nud permanent
	must ip -n "$NS_GW" neigh replace "$SERVER4" lladdr "$smac" dev "$IF_GW_S" nud permanent
	must ip -n "$NS_SERVER" neigh replace "$GW_S4" lladdr "$gsmac" dev "$IF_SERVER" nud permanent
	if [ "$v6" = 1 ]; then
		must ip -n "$NS_CLIENT" -6 route add default via "$GW_C6"
		must ip -n "$NS_SERVER" -6 route add default via "$GW_S6"
		must ip -n "$NS_CLIENT" neigh replace "$GW_C6" lladdr "$gcmac" dev "$IF_CLIENT" nud permanent
		must ip -n "$NS_GW" neigh replace "$CLIENT6" lladdr "$cmac" dev "$IF_GW" nud permanent
		must ip -n "$NS_GW" neigh replace "$SERVER6" lladdr "$smac" dev "$IF_GW_S" nud permanent
		must ip -n "$NS_SERVER" neigh replace "$GW_S6" lladdr "$gsmac" dev "$IF_SERVER" nud permanent
	fi

	ip netns exec "$NS_CLIENT" ping -c1 -W2 -q "$SERVER4" >/dev/null ||
		fail "topology: client cannot reach $SERVER4 through the gateway"
	if [ "$v6" = 1 ]; then
		ip netns exec "$NS_CLIENT" ping -6 -c1 -W2 -q "$SERVER6" >/dev/null ||
			fail "topology: client cannot reach $SERVER6 through the gateway"
		wait_link_quiet
	fi
	log "topology: $NS_CLIENT -- $NS_GW ($IF_GW) -- $NS_SERVER"
}

gw_rx_packets() {
	ip -n "$NS_GW" -s -j link show dev "$IF_GW" |
		$PY -c 'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'
}

# wait_link_quiet: until the gateway's client-facing veth has received
# nothing for 1.5 s (unsolicited MLD reports repeat within about a second),
# at most 6 s.
wait_link_quiet() {
	local last now i still=0
	last=$(gw_rx_packets)
	for i in $(seq 60); do
		sleep 0.1
		now=$(gw_rx_packets)
		if [ "$now" = "$last" ]; then
			still=$((still + 1))
			[ "$still" -ge 15 ] && return 0
		else
			still=0 last=$now
		fi
	done
	fail "topology: $IF_GW keeps receiving packets while idle"
}

# client_addr ADDR: one more client source address (IPv4 or IPv6) on the
# client's veth, routed back by the gateway, with a permanent neighbour.
client_addr() {
	local len=32 fam=-4 extra=
	case "$1" in *:*) len=128 fam=-6 extra=nodad ;; esac
	must ip -n "$NS_CLIENT" addr add "$1/$len" dev "$IF_CLIENT" $extra
	must ip -n "$NS_GW" $fam route replace "$1/$len" dev "$IF_GW"
	must ip -n "$NS_GW" neigh replace "$1" lladdr "$CLIENT_MAC" dev "$IF_GW" nud permanent
	# A new IPv6 address joins its solicited-node group: wait out the MLD.
	[ "$fam" = -6 ] && wait_link_quiet
	return 0
}

# client_addrs4 FIRST LAST: client addresses 10.200.1.FIRST..LAST at once
# (ip -batch). They are on the gateway's connected /24, so it routes them
# back without a route each; their neighbours are permanent, as above.
client_addrs4() {
	local i
	for i in $(seq "$1" "$2"); do
		printf 'addr add 10.200.1.%s/32 dev %s\n' "$i" "$IF_CLIENT"
	done >"$TMP_DIR/addrs.batch"
	must ip -n "$NS_CLIENT" -batch "$TMP_DIR/addrs.batch"
	for i in $(seq "$1" "$2"); do
		printf 'neigh replace 10.200.1.%s lladdr %s dev %s nud permanent\n' \
			"$i" "$CLIENT_MAC" "$IF_GW"
	done >"$TMP_DIR/neigh.batch"
	must ip -n "$NS_GW" -batch "$TMP_DIR/neigh.batch"
}

# ---------------------------------------------------------------- a second gateway

# topo_add_gateway: a second client namespace behind a second client-facing
# veth of the same gateway, for tests where two sluice instances on two
# interfaces stand for two gateway hosts (cluster mode):
#
#   client2 ns veth0 10.200.3.2 ---- $IF_GW2 10.200.3.1 (gw ns) -> server ns
#
# IPv4 only, quiet like the rest; the cleanup detaches sluice from it.
NS_CLIENT2="${NS_PFX}cl2"
IF_GW2="sl${SL_ID}d"
PIN_DIR2="$PIN_ROOT/$IF_GW2"
GW2_C4=10.200.3.1 CLIENT2_4=10.200.3.2
GW2_UP=0
topo_add_gateway() {
	local cmac gmac
	ip netns add "$NS_CLIENT2" || fail "ip netns add $NS_CLIENT2 failed"
	NAMESPACES+=("$NS_CLIENT2")
	must ip -n "$NS_CLIENT2" link set dev lo up
	ns_quiet "$NS_CLIENT2"
	must ip netns exec "$NS_CLIENT2" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	must ip link add "$IF_CLIENT" netns "$NS_CLIENT2" type veth \
		peer name "$IF_GW2" netns "$NS_GW"
	GW2_UP=1
	must ip -n "$NS_CLIENT2" addr add "$CLIENT2_4/24" dev "$IF_CLIENT"
	must ip -n "$NS_GW" addr add "$GW2_C4/24" dev "$IF_GW2"
	veth_up "$NS_CLIENT2" "$IF_CLIENT"
	veth_up "$NS_GW" "$IF_GW2"
	must ip -n "$NS_CLIENT2" route add default via "$GW2_C4"
	cmac=$(link_mac "$NS_CLIENT2" "$IF_CLIENT")
	gmac=$(link_mac "$NS_GW" "$IF_GW2")
	must ip -n "$NS_CLIENT2" neigh replace "$GW2_C4" lladdr "$gmac" dev "$IF_CLIENT" nud permanent
	must ip -n "$NS_GW" neigh replace "$CLIENT2_4" lladdr "$cmac" dev "$IF_GW2" nud permanent
	ip netns exec "$NS_CLIENT2" ping -c1 -W2 -q "$SERVER4" >/dev/null ||
		fail "topology: client2 cannot reach $SERVER4 through $IF_GW2"
	log "topology: $NS_CLIENT2 -- $NS_GW ($IF_GW2) -- $NS_SERVER"
}

# ---------------------------------------------------------------- Redis

# start_redis NAME [redis-server options...]: a real redis-server of this
# test in the gw namespace, on 127.0.0.1 (the namespace's own loopback)
# at REDIS_PORT (random unless set), no persistence, its files in
# $TMP_DIR/NAME.*; returns once it answers PING. REDIS_PID_NAME holds its
# pid. Pass --requirepass, --unixsocket and the like as options.
REDIS_PORT=
start_redis() {
	local name=$1 pid i prev= pass=
	shift
	[ -n "$REDIS_PORT" ] || REDIS_PORT=$((20000 + RANDOM % 20000))
	command -v redis-server >/dev/null || fail "missing prerequisite: redis-server"
	nsenter --net="/run/netns/$NS_GW" redis-server --port "$REDIS_PORT" \
		--bind 127.0.0.1 --save '' --appendonly no --daemonize no \
		--dir "$TMP_DIR" --logfile "$TMP_DIR/$name.redis.log" "$@" \
		>/dev/null 2>&1 &
	pid=$!
	BG_PIDS+=("$pid")
	eval "REDIS_PID_$name=$pid"
	for i in "$@"; do
		[ "$prev" = --requirepass ] && pass=$i
		prev=$i
	done
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null ||
			fail "redis-server $name exited: $(cat "$TMP_DIR/$name.redis.log" 2>/dev/null)"
		[ "$(redis_cli ${pass:+-a "$pass" --no-auth-warning} ping 2>/dev/null)" = PONG ] &&
			return 0
		sleep 0.05
	done
	fail "redis-server $name did not answer PING on 127.0.0.1:$REDIS_PORT"
}

# redis_cli ARGS...: redis-cli against this test's Redis.
redis_cli() {
	nsenter --net="/run/netns/$NS_GW" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

# kill_redis NAME: SIGKILL, as a crash; waits until it is gone.
kill_redis() {
	local pid_var="REDIS_PID_$1" keep=() p
	kill -9 "${!pid_var}" 2>/dev/null
	{ wait "${!pid_var}"; } 2>/dev/null
	for p in "${BG_PIDS[@]}"; do [ "$p" = "${!pid_var}" ] || keep+=("$p"); done
	BG_PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------- traffic

# start_counter NAME PORT [udp_count.py args...]: a receiver in the server ns,
# writing its JSON to $TMP_DIR/NAME.json; returns once its socket is bound.
start_counter() {
	start_counter_in "$NS_SERVER" "$@"
}

# start_counter_in NS NAME PORT [args...]: the same, in namespace NS.
start_counter_in() {
	local ns=$1 name=$2 port=$3 i
	shift 3
	# A name can be reused: never take the last run's ready file for ours.
	rm -f "$TMP_DIR/$name.ready" "$TMP_DIR/$name.json"
	nsenter --net="/run/netns/$ns" "$PY" "$TOOLS_DIR/udp_count.py" \
		--port "$port" --ready-file "$TMP_DIR/$name.ready" "$@" \
		>"$TMP_DIR/$name.json" 2>"$TMP_DIR/$name.err" &
	BG_PIDS+=($!)
	eval "COUNTER_PID_$name=$!"
	for i in $(seq 100); do
		[ -e "$TMP_DIR/$name.ready" ] && return 0
		kill -0 "$!" 2>/dev/null || break
		sleep 0.05
	done
	fail "receiver $name did not start: $(cat "$TMP_DIR/$name.err")"
}

# wait_counter NAME: wait for the receiver to finish; its JSON lands in
# COUNT_JSON. (Not for $(...): a subshell cannot wait for our children.)
wait_counter() {
	local pid_var="COUNTER_PID_$1"
	wait "${!pid_var}" || fail "receiver $1 failed: $(cat "$TMP_DIR/$1.err")"
	[ -s "$TMP_DIR/$1.json" ] || fail "receiver $1 printed nothing"
	COUNT_JSON=$(cat "$TMP_DIR/$1.json")
}

# send_udp SRC DST DPORT RATE DURATION [udp_send.py args...]: runs to the end;
# prints the sender's JSON.
send_udp() {
	local out
	out=$(nsenter --net="/run/netns/$NS_CLIENT" "$PY" "$TOOLS_DIR/udp_send.py" \
		--src "$1" --dst "$2" --dport "$3" --rate "$4" --duration "$5" \
		"${@:6}" 2>&1) || fail "udp_send from $1 failed: $out"
	printf '%s\n' "$out"
}

# send_udp_bg NAME SRC DST DPORT RATE DURATION [args...]: background sender
# writing $TMP_DIR/NAME.send.json; wait_sender NAME collects it.
send_udp_bg() {
	send_udp_bg_in "$NS_CLIENT" "$@"
}

# send_udp_bg_in NS NAME SRC DST DPORT RATE DURATION [args...]: the same
# from namespace NS (the second client, say).
send_udp_bg_in() {
	local ns=$1 name=$2
	shift 2
	nsenter --net="/run/netns/$ns" "$PY" "$TOOLS_DIR/udp_send.py" \
		--src "$1" --dst "$2" --dport "$3" --rate "$4" --duration "$5" \
		"${@:6}" >"$TMP_DIR/$name.send.json" 2>"$TMP_DIR/$name.send.err" &
	BG_PIDS+=($!)
	eval "SENDER_PID_$name=$!"
}

# stop_sender NAME: end a long-running sender now; its JSON lands in SEND_JSON.
stop_sender() {
	local pid_var="SENDER_PID_$1"
	kill -TERM "${!pid_var}" 2>/dev/null
	wait_sender "$1"
}

wait_sender() {	# NAME: the sender's JSON lands in SEND_JSON
	local pid_var="SENDER_PID_$1"
	wait "${!pid_var}" || fail "sender $1 failed: $(cat "$TMP_DIR/$1.send.err")"
	SEND_JSON=$(cat "$TMP_DIR/$1.send.json")
}

# udp_round SRC DPORT PPS SECS [udp_send.py args...]: one receiver, one
# sender from SRC to the server; sets SENT, GOT (datagrams the server got
# from SRC) and ELAPSED (sender's first-to-last send).
udp_round() {
	local src=$1 port=$2 pps=$3 secs=$4 dst=$SERVER4 bind=0.0.0.0
	shift 4
	case "$src" in *:*) dst=$SERVER6 bind=:: ;; esac
	start_counter round "$port" --bind "$bind" --idle 1 \
		--start-timeout "$($PY -c "print($secs + 1.5)")"
	SEND_JSON=$(send_udp "$src" "$dst" "$port" "$pps" "$secs" "$@") || exit 1
	wait_counter round
	SENT=$(json_field "$SEND_JSON" 'd["sent"]')
	ELAPSED=$(json_field "$SEND_JSON" 'd["elapsed"]')
	GOT=$(json_field "$COUNT_JSON" "d['by_source'].get('$src', 0)")
	log "udp $src -> port $port: sent $SENT in ${ELAPSED}s, server got $GOT"
}

# client_ping SRC DST COUNT: prints how many echo replies came back.
client_ping() {
	local out n
	out=$(ip netns exec "$NS_CLIENT" ping -n -q -I "$1" -c "$3" -i 0.05 -W 1 "$2" 2>&1)
	n=$(printf '%s\n' "$out" | sed -n 's/.* \([0-9]\+\) received.*/\1/p')
	[ -n "$n" ] || fail "ping -I $1 $2 printed no summary: $out"
	printf '%s\n' "$n"
}

# gcra_expect RATE BURST SECONDS: what an exact limiter admits to a flood
# that lasts SECONDS from its first packet to its last: an idle key takes
# BURST at once, then one more each 1/RATE s.
gcra_expect() {
	$PY -c 'import math, sys; r, b, t = map(float, sys.argv[1:4]); print(int(b + math.floor(r * t + 1e-9)))' "$@"
}

write_conf() {	# NAME: stdin to $TMP_DIR/NAME, prints the path
	cat >"$TMP_DIR/$1"
	printf '%s\n' "$TMP_DIR/$1"
}

# ---------------------------------------------------------------- cleanup

# Functions a test adds here run first on every exit path (tmux servers).
CLEANUP_HOOKS=()

cleanup() {
	local rc=$? pid ns hook
	trap - EXIT INT TERM
	for hook in "${CLEANUP_HOOKS[@]}"; do
		"$hook"
	done
	# (CONT first: a test may have stopped one, which TERM would not end.)
	for pid in "${BG_PIDS[@]}"; do
		kill -CONT "$pid" 2>/dev/null
		kill "$pid" 2>/dev/null
	done
	for pid in "${BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if [ "$ATTACHED" = 1 ] && [ -d "$PIN_DIR" ] && [ -x "${SLUICE:-}" ]; then
		sl detach "$IF_GW" >/dev/null 2>&1 ||
			printf '  cleanup: sluice detach %s failed\n' "$IF_GW" >&2
	fi
	# Never leave pins behind, whatever sluice did; only this test's dir.
	if [ -n "$IF_GW" ] && [ -e "$PIN_DIR" ]; then
		rm -rf -- "$PIN_DIR"
	fi
	if [ "$GW2_UP" = 1 ]; then
		[ -d "$PIN_DIR2" ] && [ -x "${SLUICE:-}" ] && sl detach "$IF_GW2" >/dev/null 2>&1
		[ -e "$PIN_DIR2" ] && rm -rf -- "$PIN_DIR2"
	fi
	for ns in "${NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$TMP_DIR" ] && rm -rf -- "$TMP_DIR"
	if [ "$FINISHED" = 0 ]; then
		[ "$rc" -eq 0 ] && rc=1
		printf 'FAIL: %s: aborted (exit %s)\n' "$TEST_NAME" "$rc" >&3
	fi
	exit "$rc"
}

trap cleanup EXIT
trap 'FINISHED=1; exit 1' USR1
trap 'exit 130' INT
trap 'exit 143' TERM

# Every test starts the same way.
e2e_init() {
	printf '== %s\n' "$TEST_NAME"
	require_prereqs
	topo_setup
}

# ---------------------------------------------------------------- held TCP

# start_hold_server NAME PORT [BIND]: tests/tools/tcp_hold.py server in the
# server ns, accepting and keeping connections; driven with `hold NAME ...`.
start_hold_server() {
	local name=$1 port=$2 bind=${3:-0.0.0.0}
	_start_hold "$name" "$NS_SERVER" server --bind "$bind" --port "$port"
}

# start_hold_client NAME: a tcp_hold.py client in the client ns.
start_hold_client() {
	_start_hold "$1" "$NS_CLIENT" client
}

_start_hold() {	# NAME NS ROLE ARGS...
	local name=$1 ns=$2 i
	shift 2
	rm -f "$TMP_DIR/$name.ctl"
	nsenter --net="/run/netns/$ns" "$PY" "$TOOLS_DIR/tcp_hold.py" "$@" \
		--ctl "$TMP_DIR/$name.ctl" >"$TMP_DIR/$name.out" 2>"$TMP_DIR/$name.err" &
	BG_PIDS+=($!)
	for i in $(seq 100); do
		[ -S "$TMP_DIR/$name.ctl" ] && return 0
		kill -0 "$!" 2>/dev/null || break
		sleep 0.05
	done
	fail "tcp_hold $name did not start: $(cat "$TMP_DIR/$name.err")"
}

# hold NAME COMMAND...: one command to a tcp_hold process; prints its JSON
# answer. An answer with "error" in it fails the test.
hold() {
	local name=$1 out
	shift
	out=$("$PY" "$TOOLS_DIR/tcp_hold.py" ctl "$TMP_DIR/$name.ctl" "$@" 2>&1) ||
		fail "tcp_hold $name: $* :: $out :: $(cat "$TMP_DIR/$name.err")"
	printf '%s\n' "$out"
}

# client_xdp_pass: an XDP_PASS program on the client's veth. A frame that
# sluice sends back with XDP_TX in native mode (a `reject` answer) enters
# the peer veth's NAPI ring, which exists only while the peer has an XDP
# program: without one the kernel drops it silently. A real NIC needs
# nothing of the kind. See tests/tools/xdp_pass.py.
client_xdp_pass() {
	must ip netns exec "$NS_CLIENT" "$PY" "$TOOLS_DIR/xdp_pass.py" "$IF_CLIENT"
}

# ---------------------------------------------------------------- daemon

# The exporter of this test's `sluice run`: loopback inside the gw
# namespace, which no other test shares; a random port all the same, so a
# port left bound by an earlier daemon of the same test never answers for
# the next one by accident.
METRICS_ADDR="127.0.0.1:$((20000 + RANDOM % 20000))"

# daemon_start NAME ARGS...: `sluice run ARGS...` in the gw namespace, in
# the background, its stderr (the log) in $TMP_DIR/NAME.log. Returns at
# once: daemon_wait_ready waits for it. nsenter execs sluice, so
# DAEMON_PID_NAME is sluice's own pid and signals reach it directly.
daemon_start() {
	local name=$1
	shift
	rm -f "$TMP_DIR/$name.log" "$TMP_DIR/$name.out"
	nsenter --net="/run/netns/$NS_GW" "$SLUICE" run "$@" \
		>"$TMP_DIR/$name.out" 2>"$TMP_DIR/$name.log" &
	BG_PIDS+=($!)
	eval "DAEMON_PID_$name=$!"
	# Whatever it leaves pinned, the cleanup detaches.
	ATTACHED=1
}

daemon_pid() {	# NAME
	local pid_var="DAEMON_PID_$1"
	printf '%s\n' "${!pid_var}"
}

# daemon_alive NAME: the process runs (a zombie that has not been waited
# for does not count).
daemon_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$(daemon_pid "$1")/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

# daemon_log NAME: what the daemon has logged so far.
daemon_log() {
	cat "$TMP_DIR/$1.log"
}

daemon_log_lines() {	# NAME: how many lines it has logged so far
	local n
	n=$(wc -l <"$TMP_DIR/$1.log")
	printf '%s\n' "$n"
}

# scrape PATH [ADDR]: GET http://ADDR/PATH from inside the gw namespace.
# The body lands in $TMP_DIR/scrape.txt, the status in SCRAPE_CODE ("000"
# when nothing answered), the seconds the whole exchange took in
# SCRAPE_SECS and the Content-Type in SCRAPE_TYPE. Never fails by itself.
# (Not for $(...).)
scrape() {
	local out
	rm -f "$TMP_DIR/scrape.txt"
	out=$(nsenter --net="/run/netns/$NS_GW" curl -s --max-time 5 \
		-o "$TMP_DIR/scrape.txt" -w '%{http_code} %{time_total} %{content_type}' \
		"http://${2:-$METRICS_ADDR}$1" 2>/dev/null)
	read -r SCRAPE_CODE SCRAPE_SECS SCRAPE_TYPE <<<"$out"
	[ -n "$SCRAPE_CODE" ] || SCRAPE_CODE=000
	touch "$TMP_DIR/scrape.txt"
}

# daemon_wait_ready NAME [ADDR]: until its exporter answers /metrics with
# 200, at most 5 s. The exporter starts once enforcement is in place, so
# this also means "attached and configured".
daemon_wait_ready() {
	local name=$1 addr=${2:-$METRICS_ADDR} i
	for i in $(seq 100); do
		daemon_alive "$name" ||
			fail "sluice run ($name) exited before it served metrics: $(daemon_log "$name")"
		scrape /metrics "$addr"
		[ "$SCRAPE_CODE" = 200 ] && return 0
		sleep 0.05
	done
	fail "sluice run ($name) did not serve http://$addr/metrics within 5 s (last status $SCRAPE_CODE): $(daemon_log "$name")"
}

# daemon_wait_exit NAME [SECS]: waits (at most SECS, default 5) for the
# daemon to exit; its exit code lands in DAEMON_RC. (Not for $(...).)
daemon_wait_exit() {
	local name=$1 secs=${2:-5} pid i keep=() p
	pid=$(daemon_pid "$name")
	for i in $(seq $((secs * 20))); do
		daemon_alive "$name" || break
		sleep 0.05
	done
	daemon_alive "$name" &&
		fail "sluice run ($name) still running ${secs}s after it was told to stop: $(daemon_log "$name")"
	# (braces: keeps bash's "Killed" job notice off the test's output)
	{ wait "$pid"; } 2>/dev/null
	DAEMON_RC=$?
	# Reaped: its pid may be someone else's from now on.
	for p in "${BG_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	BG_PIDS=("${keep[@]}")
}

# daemon_stop NAME SIGNAL: signal it and wait for it; DAEMON_RC as above.
daemon_stop() {
	kill -"$2" "$(daemon_pid "$1")" || fail "kill -$2 sluice run ($1) failed"
	daemon_wait_exit "$1"
}

# daemon_wait_log NAME COUNT [SECS]: until the log has more than COUNT
# lines (at most SECS, default 3), then a further 0.3 s so that a second
# line written for the same event is not missed; the lines after the first
# COUNT land in NEW_LOG. (Not for $(...).)
daemon_wait_log() {
	local name=$1 count=$2 secs=${3:-3} i
	for i in $(seq $((secs * 20))); do
		[ "$(daemon_log_lines "$name")" -gt "$count" ] && break
		sleep 0.05
	done
	sleep 0.3
	NEW_LOG=$(tail -n +"$((count + 1))" "$TMP_DIR/$name.log")
	[ -n "$NEW_LOG" ] ||
		fail "sluice run ($name) logged nothing within ${secs}s: $(daemon_log "$name")"
}

# metric EXPR: evaluate EXPR over the last scrape with the real Prometheus
# parser (tests/tools/prom_eval.py), e.g.
# metric 'm("sluice_reloads_total", result="ok")'. A body that does not
# parse fails the test.
metric() {
	local v
	v=$("$PY" "$TOOLS_DIR/prom_eval.py" "$TMP_DIR/scrape.txt" "$1" 2>&1) ||
		fail "metrics: $v"
	printf '%s\n' "$v"
}

# xdp_prog_id: the id of the XDP program on $IF_GW, 0 if none.
xdp_prog_id() {
	ip -n "$NS_GW" -j -d link show dev "$IF_GW" | "$PY" -c '
import json, sys
x = json.load(sys.stdin)[0].get("xdp") or {}
p = x.get("prog") or {}
print(p.get("id", 0) if x.get("mode") else 0)'
}
