#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# scripts/demo.sh SLUICE_BINARY — what `make demo` runs (as root).
#
# Builds a throw-away network of three namespaces, puts sluice on the
# gateway with examples/demo.conf, drives ~20 s of traffic from four kinds
# of client, shows the live counters, explains what happened with numbers
# from `sluice stats --json`, and removes everything again (also on Ctrl-C).
#
#   client ns                         gw ns (forwarding)                 server ns
#   10.210.1.10 polite  \
#   10.210.1.20 greedy   }-- veth --> sluice (XDP) on $IF --> veth --> 10.210.2.2
#   10.210.1.30 trusted  |                                               UDP :5000
#   10.210.66.10 denied /                                                TCP :80
#
# DEMO_SECONDS (default 20) sets how long the traffic runs.

set -u -o pipefail

usage() { echo "usage: $0 SLUICE_BINARY" >&2; exit 2; }
[ $# -eq 1 ] || usage
SLUICE=$1
[[ "$SLUICE" == /* ]] || SLUICE="$(pwd)/$SLUICE"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONF=$ROOT/examples/demo.conf
TOOLS=$ROOT/tests/tools
PY=/usr/bin/python3		# Debian's: the python3 on PATH may be another
SECS=${DEMO_SECONDS:-20}

die() { echo "demo: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and XDP): sudo make demo"
[ -x "$SLUICE" ] || die "$SLUICE is not an executable; run make first"
for t in ip nsenter ping "$PY"; do
	command -v "$t" >/dev/null || die "missing $t"
done
[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] ||
	die "no bpffs at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)"
[[ "$SECS" =~ ^[0-9]+$ ]] && [ "$SECS" -ge 5 ] && [ "$SECS" -le 120 ] ||
	die "DEMO_SECONDS must be 5..120"

ID=$(printf '%x' $$)
NS_C=sluice-demo-$ID-client NS_G=sluice-demo-$ID-gw NS_S=sluice-demo-$ID-server
IF=sd${ID}c			# the gateway's client side: sluice's interface
IF_S=sd${ID}s
POLITE=10.210.1.10 GREEDY=10.210.1.20 TRUSTED=10.210.1.30 DENIED=10.210.66.10
SERVER=10.210.2.2
TMP=
PIDS=()
NSS=()
ATTACHED=0

cleanup() {
	local pid ns
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	if [ "$ATTACHED" = 1 ]; then
		nsenter --net="/run/netns/$NS_G" "$SLUICE" detach "$IF" >/dev/null 2>&1 ||
			echo "demo: sluice detach $IF failed" >&2
	fi
	[ -e "/sys/fs/bpf/sluice/$IF" ] && rm -rf -- "/sys/fs/bpf/sluice/$IF"
	for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	[ -n "$TMP" ] && rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, cleaning up"; exit 130' INT
trap 'exit 143' TERM

# run NS CMD...: a command in a namespace's network stack. nsenter, not
# `ip netns exec`, which remounts /sys and hides the bpffs sluice pins to.
run() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }
# bg NS OUT ERR CMD...: the same in the background, with $! the command's
# own pid (nsenter execs it), so cleanup's kill reaches it.
bg() {
	local ns=$1 out=$2 err=$3
	shift 3
	nsenter --net="/run/netns/$ns" "$@" >"$out" 2>"$err" &
	BG_PID=$!
	PIDS+=("$BG_PID")
}
sl() { run "$NS_G" "$SLUICE" "$@"; }
must() { "$@" >/dev/null 2>&1 || die "failed: $*"; }
mac() { ip -n "$1" -br link show dev "$2" | awk '{print $3}'; }

echo "== sluice demo: building a throw-away network"
TMP=$(mktemp -d /tmp/sluice-demo.XXXXXX) || die "mktemp"
for ns in "$NS_C" "$NS_G" "$NS_S"; do
	must ip netns add "$ns"
	NSS+=("$ns")
	must ip -n "$ns" link set lo up
	# IPv4 only and permanent neighbours: the wire carries only our traffic.
	must ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0
done
must ip link add veth0 netns "$NS_C" type veth peer name "$IF" netns "$NS_G"
must ip link add veth0 netns "$NS_S" type veth peer name "$IF_S" netns "$NS_G"
must ip netns exec "$NS_G" sysctl -qw net.ipv4.ip_forward=1
must ip -n "$NS_G" addr add 10.210.1.1/24 dev "$IF"
must ip -n "$NS_G" addr add 10.210.2.1/24 dev "$IF_S"
must ip -n "$NS_S" addr add "$SERVER/24" dev veth0
for a in "$POLITE" "$GREEDY" "$TRUSTED"; do must ip -n "$NS_C" addr add "$a/24" dev veth0; done
must ip -n "$NS_C" addr add "$DENIED/32" dev veth0
for l in "$NS_C veth0" "$NS_G $IF" "$NS_G $IF_S" "$NS_S veth0"; do
	must ip -n ${l% *} link set dev ${l#* } up
done
must ip -n "$NS_C" route add default via 10.210.1.1 src "$POLITE"
must ip -n "$NS_S" route add default via 10.210.2.1
must ip -n "$NS_G" route add "$DENIED/32" dev "$IF"
cmac=$(mac "$NS_C" veth0) gmac=$(mac "$NS_G" "$IF") gsmac=$(mac "$NS_G" "$IF_S") smac=$(mac "$NS_S" veth0)
must ip -n "$NS_C" neigh replace 10.210.1.1 lladdr "$gmac" dev veth0 nud permanent
for a in "$POLITE" "$GREEDY" "$TRUSTED" "$DENIED"; do
	must ip -n "$NS_G" neigh replace "$a" lladdr "$cmac" dev "$IF" nud permanent
done
must ip -n "$NS_G" neigh replace "$SERVER" lladdr "$smac" dev "$IF_S" nud permanent
must ip -n "$NS_S" neigh replace 10.210.2.1 lladdr "$gsmac" dev veth0 nud permanent
run "$NS_C" ping -c1 -W2 -q "$SERVER" >/dev/null || die "the client cannot reach the server"
echo "   client ns $NS_C -- gateway ns $NS_G (interface $IF) -- server ns $NS_S"

echo "== sluice attach $IF --config examples/demo.conf"
sl attach "$IF" --config "$CONF" || die "sluice attach failed"
ATTACHED=1
sl rule list "$IF" | sed 's/^/   /'
sl allow list "$IF" | sed 's/^/   allow: /'
sl deny list "$IF" | sed 's/^/   deny:  /'

# Servers: count UDP datagrams per source; accept TCP connections.
bg "$NS_S" "$TMP/udp.json" "$TMP/udp.err" "$PY" "$TOOLS/udp_count.py" --port 5000 \
	--idle 2 --start-timeout "$((SECS + 5))" --max-time "$((SECS + 15))" \
	--ready-file "$TMP/udp.ready"
UDP_PID=$BG_PID
bg "$NS_S" /dev/null "$TMP/tcp.err" "$PY" "$TOOLS/tcp_conn.py" listen --bind "$SERVER" \
	--port 80 --max-time "$((SECS + 15))"
for i in $(seq 100); do [ -e "$TMP/udp.ready" ] && break; sleep 0.05; done
[ -e "$TMP/udp.ready" ] || die "UDP server did not start: $(cat "$TMP/udp.err")"
sleep 0.2

cat <<EOF
== ${SECS} s of traffic to $SERVER:
   polite  $POLITE   UDP 100/s, 5 TCP connections/s, a ping every 0.5 s
   greedy  $GREEDY   UDP 2000/s, 60 TCP connections/s (limits: 200/s and 20/s)
   trusted $TRUSTED   UDP 1000/s (allow-listed)
   denied  $DENIED  UDP 50/s and a ping every 0.5 s (deny-listed)
EOF
sleep 1
SENDERS=() PINGS=()
bg_send() {	# NAME CMD...
	local name=$1
	shift
	bg "$NS_C" "$TMP/$name.json" "$TMP/$name.err" "$@"
	SENDERS+=("$BG_PID")
	# ping exits 1 when nothing comes back, which is the denied client's point
	[ "$1" = ping ] && PINGS+=("$BG_PID")
	return 0
}
udp() { echo "$PY $TOOLS/udp_send.py --dst $SERVER --dport 5000 --duration $SECS --src $1 --rate $2"; }
bg_send polite  $(udp "$POLITE" 100)
bg_send greedy  $(udp "$GREEDY" 2000)
bg_send trusted $(udp "$TRUSTED" 1000)
bg_send denied  $(udp "$DENIED" 50)
bg_send polite_tcp "$PY" "$TOOLS/tcp_conn.py" connect --src "$POLITE" --dst "$SERVER" --dport 80 --rate 5 --duration "$SECS"
bg_send greedy_tcp "$PY" "$TOOLS/tcp_conn.py" connect --src "$GREEDY" --dst "$SERVER" --dport 80 --rate 60 --duration "$SECS"
bg_send polite_ping ping -n -q -i 0.5 -c $((SECS * 2)) -W 1 -I "$POLITE" "$SERVER"
bg_send denied_ping ping -n -q -i 0.5 -c $((SECS * 2)) -W 1 -I "$DENIED" "$SERVER"

# Live counters, once a second, until every client is done.
start=$SECONDS
while :; do
	alive=0
	for pid in "${SENDERS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
	[ "$alive" = 1 ] || break
	[ $((SECONDS - start)) -le $((SECS + 10)) ] || die "clients did not finish"
	out=$(sl stats "$IF" 2>&1)
	if [ -t 1 ]; then
		clear
	else
		echo
	fi
	echo "== sluice stats $IF    (t = $((SECONDS - start)) s of ${SECS} s)"
	printf '%s\n' "$out"
	sleep 1
done
for pid in "${SENDERS[@]}"; do
	wait "$pid" && continue
	[[ " ${PINGS[*]} " == *" $pid "* ]] || die "a client failed: $(cat "$TMP"/*.err)"
done
wait "$UDP_PID" || die "UDP server failed: $(cat "$TMP/udp.err")"
sl stats "$IF" --json >"$TMP/stats.json" || die "sluice stats --json failed"
for n in polite_ping denied_ping; do
	# "N packets transmitted, M received, ..." -> "N M"
	sed -n 's/^\([0-9]\+\) packets transmitted, \([0-9]\+\) received.*/\1 \2/p' \
		"$TMP/$n.json" >"$TMP/$n.n"
done

echo
echo "== What happened"
"$PY" - "$TMP" <<'EOF'
import json, os, sys
d = sys.argv[1]
def load(name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)
stats, udp = load("stats.json"), load("udp.json")
got = udp["by_source"]
rules = {r["name"]: r for r in stats["rules"]}
u, w = rules["udp-per-client"], rules["web-syn"]
pings = {}
for n in ("polite_ping", "denied_ping"):
    words = open(os.path.join(d, n + ".n")).read().split()
    pings[n] = (int(words[0]), int(words[1])) if len(words) == 2 else (0, 0)

def line(name):
    s = load(name + ".json")
    n = got.get(s["src"], 0)
    pct = 100.0 * n / s["sent"] if s["sent"] else 0
    return s, n, pct

s, n, pct = line("polite")
print("polite  %-12s sent %6d datagrams at 100/s; the server got %6d (%.0f%%):"
      % (s["src"], s["sent"], n, pct))
print("        under the 200/s limit, so sluice never touched it.")
s, n, pct = line("greedy")
allowed = 50 + 200 * s["elapsed"]
print("greedy  %-12s sent %6d datagrams at 2000/s; the server got %6d (%.0f%%):"
      % (s["src"], s["sent"], n, pct))
print("        held to its budget, burst 50 + 200/s x %.1f s = %.0f; the rest was"
      % (s["elapsed"], allowed))
print("        dropped in XDP before the gateway's stack spent a cycle on it.")
s, n, pct = line("trusted")
print("trusted %-12s sent %6d datagrams at 1000/s, 5x the limit; the server got %d:"
      % (s["src"], s["sent"], n))
print("        allow-listed, it skips every rule (totals.allowed = %d packets)."
      % stats["totals"]["allowed"]["packets"])
s, n, pct = line("denied")
print("denied  %-12s sent %6d datagrams and %d pings; through: %d datagrams, %d pings:"
      % (s["src"], s["sent"], pings["denied_ping"][0], n, pings["denied_ping"][1]))
print("        deny-listed; reasons.deny counted %d packets."
      % stats["reasons"]["deny"]["packets"])
pt, gt = load("polite_tcp.json"), load("greedy_tcp.json")
print("tcp     polite opened %d of %d connections; greedy opened %d of %d at 60/s:"
      % (pt["connected"], pt["attempts"], gt["connected"], gt["attempts"]))
print("        web-syn admits 20 new connections/s per client (limited %d SYNs)."
      % w["limited"])
print("ping    the polite client's pings: %d of %d answered (no rule covers ICMP)."
      % (pings["polite_ping"][1], pings["polite_ping"][0]))
print()
print("rule udp-per-client: matched %d, passed %d, dropped %d"
      % (u["matched"], u["passed"], u["dropped"]))
print("rule web-syn:        matched %d, passed %d, dropped %d"
      % (w["matched"], w["passed"], w["dropped"]))
print("keys tracked: %d of %d" % (stats["keys_tracked"], stats["keys_capacity"]))
EOF
[ $? -eq 0 ] || die "could not summarise the run"
echo
echo "== Cleaning up (sluice detach $IF, namespaces removed)"
