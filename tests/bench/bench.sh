#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# `make bench`: sluice measured against a bare XDP_DROP and an nftables
# netdev meter, side by side in one run, on one veth pair this script makes
# and removes. Usage: tests/bench/bench.sh OUT  (OUT is the build folder).
#
# Traffic: slbench gen runs gen.bpf.o with BPF_F_TEST_XDP_LIVE_FRAMES on the
# client end of the pair, one thread pinned to CPU 0: 60-byte UDP frames
# (64 on the wire) from N sources, or a new random source every frame. The
# receiving end's program runs in the same CPU's softirq, so a rate here is
# the generator and the receiver sharing one core, and the cheaper the
# receiver the faster the pair goes. The rate is what the receiver counted
# (its XDP counter, or the nft rule counter) over a fixed window after a
# warm-up, never what was offered.
#
# Sections: 1 throughput (a) bare XDP_DROP, (b) sluice with one per-source
# rule, (c) 16 rules / 10,000 deny CIDRs, (d) an nft netdev meter, and two
# floors, at 1 to 1M sources and a spoofed flood, then the same once more with
# kernel.bpf_stats_enabled for each program's own ns/frame; 2 ns/packet by
# BPF_PROG_TEST_RUN; 3 accuracy under a two-CPU flood; 4 memory and scale;
# 5 a steady client inside a spoofed flood; 6 flood.png.
#
# The floors (sink.bpf.c) keep the least per-source state there is, then
# drop: (f1) one lookup of the exact source in a hash map of 1M entries,
# inserting it when new; (f2) one atomic add to a slot of a 1M-slot array
# picked by a hash of the source (not exact: sources share slots). A
# limiter that keeps state for each of up to a million sources does at
# least (f2)'s work per frame, so where f2/a misses a target no such design
# meets it on this machine; one that looks its sources up in a BPF hash map
# does at least (f1)'s once there are more sources than a cache in front of
# it can hold.
#
# Knobs (environment): BENCH_REPS (5), BENCH_WARMUP (1.2 s; BENCH_WARMUP_1M
# 3.5 s for a million sources and for the spoofed flood), BENCH_WINDOW (1.5 s), BENCH_ACC_SECONDS (10),
# BENCH_SECTIONS (any of: throughput nspp accuracy scale spoof plot),
# BENCH_SOURCES (the throughput source counts: 1 1000 65536 1000000 random).
set -u -o pipefail

OUT=${1:-build}
SLUICE=$(realpath "$OUT/sluice")
SLB=$(realpath "$OUT/bench/slbench")
NSPP=$(realpath "$OUT/bench/ns_per_packet")
RES=$(realpath "$OUT/bench")
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

REPS=${BENCH_REPS:-5}
WARMUP=${BENCH_WARMUP:-1.2}
WARMUP_1M=${BENCH_WARMUP_1M:-3.5}
WINDOW=${BENCH_WINDOW:-1.5}
ACC_SECONDS=${BENCH_ACC_SECONDS:-10}
SECTIONS=${BENCH_SECTIONS:-throughput nspp accuracy scale spoof plot}

# Names carry this run's id: namespaces, interface names (15 characters at
# most) and pins are global.
ID=$(printf '%04x' $(($$ % 65536)))
NS_TX="slb-$ID-tx"
NS_RX="slb-$ID-rx"
IF_TX="slb${ID}t"
IF_RX="slb${ID}r"
PIN_SINK="/sys/fs/bpf/slbench-$ID-sink"
PIN_SL="/sys/fs/bpf/sluice/$IF_RX"
NFT_TABLE="slbench$ID"
TMP=
STATS_WAS=
BG_PIDS=()
RAW="$RES/raw.jsonl"

log() { printf '%s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

in_tx() { nsenter --net="/run/netns/$NS_TX" "$@"; }
in_rx() { nsenter --net="/run/netns/$NS_RX" "$@"; }

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	local p
	for p in ${GEN_PID:-} "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if [ -e "/run/netns/$NS_RX" ]; then
		in_rx "$SLUICE" detach "$IF_RX" >/dev/null 2>&1
		in_rx nft delete table netdev "$NFT_TABLE" >/dev/null 2>&1
	fi
	rm -f "$PIN_SINK"
	[ -d "$PIN_SL" ] && rm -rf "$PIN_SL"
	ip netns del "$NS_TX" 2>/dev/null
	ip netns del "$NS_RX" 2>/dev/null
	[ -n "$STATS_WAS" ] && sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	[ -n "$TMP" ] && rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

[ "$(id -u)" = 0 ] || die "must run as root (namespaces, XDP, bpffs)"
for f in "$SLUICE" "$SLB" "$NSPP"; do
	[ -x "$f" ] || die "$f is missing: run make bench"
done
command -v nft >/dev/null || die "nft is missing (make deps installs nftables)"
[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] || die "/sys/fs/bpf is not a bpffs (make deps mounts it)"

TMP=$(mktemp -d /tmp/slbench.XXXXXX)
mkdir -p "$RES"
: >"$RAW"
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)

# ------------------------------------------------------------- topology

setup_topology() {
	ip netns add "$NS_TX" || die "ip netns add $NS_TX"
	ip netns add "$NS_RX" || die "ip netns add $NS_RX"
	# Two queues each way: each CPU's frames land on their own receive
	# queue, whose NAPI runs on that CPU (the two-CPU accuracy test).
	ip link add "$IF_TX" numtxqueues 2 numrxqueues 2 netns "$NS_TX" type veth \
		peer name "$IF_RX" numtxqueues 2 numrxqueues 2 netns "$NS_RX" ||
		die "ip link add veth"
	local ns
	for ns in "$NS_TX" "$NS_RX"; do
		# No addresses and no IPv6: nothing but the generator's frames
		# crosses the pair.
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_TX" link set "$IF_TX" up
	ip -n "$NS_RX" link set "$IF_RX" up
	# GRO gives a veth NAPI without an XDP program: how the frames reach
	# nftables' ingress hook. Left on for every receiver alike.
	in_rx "$SLB" gro "$IF_RX" on || die "GRO on $IF_RX"
}

# ------------------------------------------------------- configurations

SRC_BASE=10.0.0.1
# The port of the demo's per-client UDP rule (examples/demo.conf): every
# throughput frame goes there, so that (b) is the demo's rule set at work.
FLOOD_PORT=5000

write_configs() {
	# (b) the rule set `make demo` attaches, as it is
	cp "$BENCH_DIR/../../examples/demo.conf" "$TMP/b.conf"
	cat >"$TMP/bL.conf" <<-EOF
	# (b) every source over its limit: after its first frame, all dropped;
	# state and refusal memory sized for a million sources
	keys 1M
	refusals 2M
	rule udp-pps proto udp key src rate 1/m burst 1 action drop
	EOF
	{
		echo "# (c) 16 rules; the traffic (UDP to port $FLOOD_PORT) matches only the last"
		echo "keys 1M"
		echo "refusals 2M"
		cat <<-EOF
		rule r01 proto tcp dport 80,443 key src rate 2000/s burst 4000 action drop
		rule r02 proto tcp dport 22 syn key src rate 10/m burst 5 action drop
		rule r03 proto udp dport 53 key src rate 100/s action drop
		rule r04 proto udp dport 123 key src rate 10/s action drop
		rule r05 proto icmp key src rate 10/s action drop
		rule r06 proto icmpv6 key src rate 10/s action drop
		rule r07 proto tcp dport 8000-8080 key src prefix4 24 rate 500/s action drop
		rule r08 proto udp dport 443 key src rate 1000/s action drop
		rule r09 proto udp from 192.0.2.0/24 key src rate 1/s action drop
		rule r10 proto tcp dport 25 key global rate 100/s action drop
		rule r11 proto udp dport 5060 key dport rate 50/s action drop
		rule r12 proto tcp dport 3306 key src rate 20/s action drop
		rule r13 proto 47 key global rate 1000/s action drop
		rule r14 proto udp dport 1-8 key src rate 100/s action drop
		rule r15 proto udp from 203.0.113.0/24,2001:db8::/32 key src rate 5/s action drop
		rule udp-pps proto udp key src rate 1/m burst 1 action drop
		EOF
	} >"$TMP/c16.conf"
	{
		echo "# (c) 10,000 deny prefixes, none covering the traffic (10.0.0.0/8)"
		echo "keys 1M"
		echo "refusals 2M"
		echo "rule udp-pps proto udp key src rate 1/m burst 1 action drop"
		deny_list 10000
	} >"$TMP/c10k.conf"
	{
		echo "rule udp-pps proto udp key src rate 1/m burst 1 action drop"
		deny_list 100000
	} >"$TMP/deny100k.conf"
	nft_conf d "udp dport $FLOOD_PORT" "200/second burst 50 packets" >"$TMP/d.nft"
	nft_conf dL "ip protocol udp" "1/minute burst 1 packets" >"$TMP/dL.nft"
}

# deny_list N: N distinct prefixes /16../32 over unicast IPv4 outside 10/8,
# the same list every run.
deny_list() {
	$PY - "$1" <<'EOF'
import random, sys
n = int(sys.argv[1])
rng = random.Random(20240517)
seen = set()
while len(seen) < n:
    a = rng.getrandbits(32)
    top = a >> 24
    if top in (0, 10, 127) or top >= 224:
        continue
    plen = rng.randint(16, 32)
    a &= (0xffffffff << (32 - plen)) & 0xffffffff
    if (a, plen) in seen:
        continue
    seen.add((a, plen))
    print("deny %d.%d.%d.%d/%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, plen))
EOF
}

# nft_conf NAME MATCH LIMIT: the same per-source limit as (b) or (bL), as
# an operator writes it today. Counters: rx (every frame the hook saw) and adm (what the
# meter let through).
nft_conf() {
	cat <<-EOF
	table netdev $NFT_TABLE {
		counter rx { }
		counter adm { }
		chain ingress {
			type filter hook ingress device "$IF_RX" priority 0; policy accept;
			counter name "rx"
			$2 meter m size 2097152 { ip saddr limit rate over $3 } drop
			counter name "adm"
		}
	}
	EOF
}

# ------------------------------------------------------------ receivers

# rx_up CONFIG: attach the receiver of one configuration.
rx_up() {
	case $1 in
	a) in_rx "$SLB" sink "$IF_RX" drop "$PIN_SINK" ;;
	f1) in_rx "$SLB" sink "$IF_RX" hash "$PIN_SINK" ;;
	f2) in_rx "$SLB" sink "$IF_RX" array "$PIN_SINK" ;;
	b | bL | c16 | c10k | acc | spoofleg | scale | plot)
		in_rx "$SLUICE" attach "$IF_RX" --config "$TMP/$1.conf" >/dev/null ;;
	d | dL) in_rx nft -f "$TMP/$1.nft" ;;
	esac || die "cannot set up receiver $1"
}

rx_down() {
	case $1 in
	a | f1 | f2) in_rx "$SLB" sink "$IF_RX" detach; rm -f "$PIN_SINK" ;;
	d | dL) in_rx nft delete table netdev "$NFT_TABLE" ;;
	*) in_rx "$SLUICE" detach "$IF_RX" >/dev/null ;;
	esac || die "cannot remove receiver $1"
}

# rx_link_read: "nanoseconds rx_packets" of the receiving veth. Every frame
# its NAPI takes becomes an skb for the ingress hook, so for nft this is the
# hook's rate; read through netlink, because `nft list counter` fetches
# every meter element first (a second with 64k of them).
rx_link_read() {
	local t
	t=$(date +%s%N)
	echo "$t $(ip -n "$NS_RX" -s -j link show dev "$IF_RX" |
		$PY -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])')"
}

# nft_counts: "rx adm", the table's two counters (slow: see above).
nft_counts() {
	in_rx nft list counters table netdev "$NFT_TABLE" |
		awk '/counter rx/ {c = "rx"} /counter adm/ {c = "adm"}
			/packets/ {v[c] = $2} END {print v["rx"], v["adm"]}'
}

# gen_bg SECONDS GEN-ARGS...: the generator in the background; GEN_OUT
gen_bg() {
	local secs=$1
	shift
	GEN_OUT="$TMP/gen.json"
	in_tx "$SLB" gen "$IF_TX" --seconds "$secs" "$@" >"$GEN_OUT" &
	GEN_PID=$!
}

gen_wait() {
	wait "$GEN_PID" || die "generator failed"
	GEN_PID=
}

# measure CONFIG SOURCES REP [profile]: one rate, appended to $RAW.
measure() {
	local cfg=$1 n=$2 rep=$3 prof=${4:-} kind src_args r
	local gen_secs warm=$WARMUP
	# A million keys take a few seconds to be all known, and until then
	# every first frame is admitted: measure the steady state. So does a
	# spoofed flood to fill a key map of a million (after which it meets a
	# full map, its steady state wherever it lasts longer than that).
	case $n in 1000000 | random) warm=$WARMUP_1M ;; esac
	gen_secs=$($PY -c "print($warm + $WINDOW + 0.4)")
	if [ "$n" = random ]; then src_args=(--sources random); else src_args=(--sources "$n" --base "$SRC_BASE"); fi
	rx_up "$cfg"
	gen_bg "$gen_secs" "${src_args[@]}" --dport "$FLOOD_PORT" --cpus 0
	sleep "$warm"
	case $cfg in
	a | f1 | f2) kind=sink r=$(in_rx "$SLB" rate "$PIN_SINK" 0 "$WINDOW" "$IF_RX") ;;
	d | dL)
		kind=nft
		local s0 s1 c
		s0=$(rx_link_read)
		sleep "$WINDOW"
		s1=$(rx_link_read)
		;;
	*) kind=xdp r=$(in_rx "$SLB" rate "$PIN_SL/sl_cnt" 0 "$WINDOW" "$IF_RX") ;;
	esac
	gen_wait
	if [ "$kind" = nft ]; then
		# Admitted share over the whole run (warm-up included).
		c=$(nft_counts)
		r=$($PY -c "
a = [int(x) for x in '$s0'.split()]; b = [int(x) for x in '$s1'.split()]; c = [int(x) for x in '$c'.split()]
dt = (b[0] - a[0]) / 1e9
print('{\"pps\": %.1f, \"packets\": %d, \"seconds\": %.6f, \"admitted\": %.6f}' % ((b[1] - a[1]) / dt, b[1] - a[1], dt, c[1] / c[0] if c[0] else 0))")
	fi
	rx_down "$cfg"
	$PY - "$cfg" "$n" "$rep" "$kind" "$prof" "$r" "$(cat "$GEN_OUT")" >>"$RAW" <<'EOF'
import json, sys
cfg, n, rep, kind, prof, r, g = sys.argv[1:8]
r = json.loads(r); g = json.loads(g)
row = {"section": "profile" if prof else "throughput", "config": cfg,
       "sources": n, "rep": int(rep), "pps": r["pps"], "window_s": r["seconds"],
       "offered_pps": g["packets"] / g["seconds"]}
if kind == "nft":
    row["admitted"] = r["admitted"]
elif kind == "xdp":
    e = r["entries"]          # sluice sl_cnt: index 3 passed, 4 dropped
    row["admitted"] = e[3] / r["packets"] if r["packets"] else 0
if "prog_ns" in r:
    row["prog_ns"] = r["prog_ns"]
print(json.dumps(row))
EOF
	tail -n 1 "$RAW" | $PY -c "
import json, sys
d = json.loads(sys.stdin.read())
print('  %-5s %-7s rep %d: %6.3f Mpps%s%s' % (d['config'], d['sources'], d['rep'], d['pps'] / 1e6,
      ('  admitted %5.1f%%' % (100 * d['admitted'])) if 'admitted' in d else '',
      ('  prog %6.1f ns/pkt' % d['prog_ns']) if 'prog_ns' in d else ''))"
}

# Which configurations run at which source counts.
cells_for() {
	case $1 in
	1) echo a f1 f2 b bL c16 c10k d dL ;;
	1000) echo a f1 f2 b bL d dL ;;
	65536) echo a f1 f2 b bL c16 c10k d dL ;;
	1000000) echo a f1 f2 bL ;;
	random) echo a f1 f2 bL ;;
	esac
}
SOURCE_COUNTS=${BENCH_SOURCES:-1 1000 65536 1000000 random}

section_throughput() {
	local rep n cfg
	log "== 1. throughput: $REPS rounds, each configuration once per round, warm-up ${WARMUP}s, window ${WINDOW}s"
	sysctl -qw kernel.bpf_stats_enabled=0
	for rep in $(seq 1 "$REPS"); do
		for n in $SOURCE_COUNTS; do
			for cfg in $(cells_for "$n"); do
				measure "$cfg" "$n" "$rep"
			done
		done
	done
	log "== 1b. program cost under live traffic (kernel.bpf_stats_enabled=1, one run each; not in the rates)"
	sysctl -qw kernel.bpf_stats_enabled=1
	for n in $SOURCE_COUNTS; do
		for cfg in $(cells_for "$n"); do
			case $cfg in d | dL) continue ;; esac
			measure "$cfg" "$n" 0 profile
		done
	done
	sysctl -qw kernel.bpf_stats_enabled=0
}

# ------------------------------------------------------------- ns/packet

section_nspp() {
	log "== 2. ns/packet through BPF_PROG_TEST_RUN (repeat 1,000,000, $REPS rounds)"
	"$NSPP" --repeat 1000000 --reps "$REPS" --cpu 1 --json "$RES/nspp.json" ||
		die "ns_per_packet failed"
}

# -------------------------------------------------------------- accuracy

section_accuracy() {
	# A burst of 200 ms: the generator threads share the CPUs with whatever
	# else runs, and a pause in the offered flood longer than the burst
	# shows as admits missing, which would be the generator's gap, not an
	# error of sluice. T is first to last frame on the limiter's clock.
	local rate=100000 burst=20000 j
	log "== 3. accuracy: two CPUs flood one key for ${ACC_SECONDS}s at its limit of $rate/s burst $burst"
	cat >"$TMP/acc.conf" <<-EOF
	rule acc proto udp key src rate $rate/s burst $burst action drop
	EOF
	rx_up acc
	gen_bg "$ACC_SECONDS" --sources 1 --base "$SRC_BASE" --cpus 0,1 --stamp 1
	gen_wait
	j=$(in_rx "$SLUICE" stats "$IF_RX" --json) || die "stats"
	# Which CPUs ran the limiter: the per-CPU rx counters.
	local pc
	pc=$("$SLB" read "$PIN_SL/sl_cnt" 0 0 | $PY -c "import json,sys; print(json.load(sys.stdin)['per_cpu'])")
	rx_down acc
	$PY - "$rate" "$burst" "$(cat "$GEN_OUT")" "$j" >>"$RAW" <<'EOF'
import json, sys
rate, burst = int(sys.argv[1]), int(sys.argv[2])
g = json.loads(sys.argv[3]); s = json.loads(sys.argv[4])
r = [x for x in s["rules"] if x["name"] == "acc"][0]
# T: first to last frame on the limiter's clock (to 64 frames), not the
# threads' lifetime, which includes setting up and tearing down the runs.
t = g["span_s"]
exp = rate * t + burst
print(json.dumps({"section": "accuracy", "rate": rate, "burst": burst, "seconds": t,
    "threads_seconds": g["seconds"],
    "offered": g["packets"], "offered_pps": g["packets"] / t, "threads": g["threads"],
    "seen": s["totals"]["rx"]["packets"] if isinstance(s["totals"]["rx"], dict) else s["totals"]["rx"],
    "admitted": r["passed"], "expected": exp,
    "error_pct": 100.0 * (r["passed"] - exp) / exp,
    "contention": s["reasons"]["contention"]["packets"]}))
EOF
	tail -n 1 "$RAW" | $PY -c "
import json, sys
d = json.loads(sys.stdin.read())
print('  offered %.0f pps (%.0fx the limit) for %.3f s on %d CPUs; admitted %d, expected rate x T + burst = %.0f: error %+.3f%%; contention %d'
      % (d['offered_pps'], d['offered_pps'] / d['rate'], d['seconds'], d['threads'], d['admitted'], d['expected'], d['error_pct'], d['contention']))"
	log "  frames the limiter saw, per CPU: $pc"
}

# ------------------------------------------------------ memory and scale

mem_kb() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }

memlock_of() {	# PINFILE
	bpftool -j map show pinned "$1" | $PY -c "import json,sys; print(json.load(sys.stdin).get('bytes_memlock', 0))"
}

time_ms() {	# CMD...: milliseconds the command took (its output discarded)
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null || die "failed: $*"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

section_scale() {
	local m0 m1 m2 ml j t_stats=() t_load=() i nd
	log "== 4. memory and scale: keys 1M, 1,000,000 sources"
	cat >"$TMP/scale.conf" <<-EOF
	keys 1M
	rule scale proto udp key src rate 1/m burst 2 action drop
	EOF
	sync
	m0=$(mem_kb)
	rx_up scale
	m1=$(mem_kb)
	ml=$(memlock_of "$PIN_SL/sl_keys")
	# 1,000,000 sources, each several times over: every key admits its
	# burst of 2 and nothing more within the minute, so the rule's
	# `passed` is exactly 2,000,000 if no key was lost.
	gen_bg 6 --sources 1000000 --base "$SRC_BASE" --cpus 0
	gen_wait
	m2=$(mem_kb)
	j=$(in_rx "$SLUICE" stats "$IF_RX" --json) || die "stats"
	for i in 1 2 3; do
		t_stats+=("$(time_ms in_rx "$SLUICE" stats "$IF_RX" --json)")
	done
	# Each timed load replaces a 1-entry set with 100,000 entries; if
	# it takes seconds, once is enough to know.
	for i in 1 2 3; do
		t_load+=("$(time_ms in_rx "$SLUICE" load "$IF_RX" "$TMP/deny100k.conf")")
		[ "$i" = 1 ] && nd=$(in_rx "$SLUICE" deny list "$IF_RX" | grep -c .)
		[ "${t_load[0]}" -gt 2000 ] && break
		in_rx "$SLUICE" load "$IF_RX" "$TMP/scale.conf" >/dev/null || die "load"
	done
	rx_down scale
	$PY - "$m0" "$m1" "$m2" "$ml" "$(cat "$GEN_OUT")" "$j" "${t_stats[*]}" "${t_load[*]}" "$nd" >>"$RAW" <<'EOF'
import json, statistics, sys
m0, m1, m2, ml = (int(x) for x in sys.argv[1:5])
g = json.loads(sys.argv[5]); s = json.loads(sys.argv[6])
ts = [int(x) for x in sys.argv[7].split()]; tl = [int(x) for x in sys.argv[8].split()]
r = [x for x in s["rules"] if x["name"] == "scale"][0]
cap = s["keys_capacity"]
print(json.dumps({"section": "scale", "capacity": cap, "keys_tracked": s["keys_tracked"],
    "sources": 1000000, "frames": g["packets"], "passed": r["passed"], "expected_passed": 2000000,
    "memavail_attach_kb": m0 - m1, "memavail_fill_kb": m1 - m2,
    "bytes_per_key_meminfo": (m0 - m1) * 1024.0 / cap, "memlock_keys": ml,
    "bytes_per_key_memlock": ml / cap, "stats_ms": ts, "stats_ms_median": statistics.median(ts),
    "load100k_ms": tl, "load100k_ms_median": statistics.median(tl), "deny_listed": int(sys.argv[9])}))
EOF
	tail -n 1 "$RAW" | $PY -c "
import json, sys
d = json.loads(sys.stdin.read())
print('  key map: capacity %d, memlock %d B (%.0f B/key); MemAvailable -%d kB at attach (%.0f B/key), -%d kB while filling'
      % (d['capacity'], d['memlock_keys'], d['bytes_per_key_memlock'], d['memavail_attach_kb'], d['bytes_per_key_meminfo'], d['memavail_fill_kb']))
print('  1,000,000 sources x %.1f: keys_tracked %d, passed %d (exactly %d if no key was lost)'
      % (d['frames'] / 1e6, d['keys_tracked'], d['passed'], d['expected_passed']))
print('  stats --json over %d keys: %s ms; load of 100,000 deny lines: %s ms (deny list then shows %d)'
      % (d['keys_tracked'], d['stats_ms'], d['load100k_ms'], d['deny_listed']))"
}

# ------------------------------------------------- spoofed flood, legit

section_spoof() {
	local j case mode every secs rate per burst
	log "== 5. spoofed flood vs a steady client (its frames to port 5353 from 10.9.9.9, mixed into the flood)"
	# fast: the client sends at 5-25x a 1000/s limit; its burst of one
	# second absorbs pauses of the generator (it shares the CPU), while a
	# reset by eviction would show as 1000 more admitted. slow: a limit of 10/m
	# (an ssh-syn style rule) and a client at about one frame a second,
	# still over it: its key idles longer between frames than the flood
	# takes to cycle the key map.
	for case in "1 100 10 1000 1 1000" "random 100 10 1000 1 1000" \
		"random 300000 20 10 60 5"; do
		read -r mode every secs rate per burst <<<"$case"
		cat >"$TMP/spoofleg.conf" <<-EOF
		rule flood proto udp dport 9 key src rate 1000/s burst 100 action drop
		rule legit proto udp dport 5353 key src rate $rate/${per}s burst $burst action drop
		EOF
		rx_up spoofleg
		gen_bg "$secs" --sources "$mode" --base "$SRC_BASE" --cpus 0 \
			--legit-every "$every" --legit-src 10.9.9.9 --legit-dport 5353 --stamp 1
		gen_wait
		j=$(in_rx "$SLUICE" stats "$IF_RX" --json) || die "stats"
		rx_down spoofleg
		$PY - "$mode" "$every" "$rate" "$per" "$burst" "$(cat "$GEN_OUT")" "$j" >>"$RAW" <<'EOF'
import json, sys
mode, every, rate, per, burst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
g = json.loads(sys.argv[6]); s = json.loads(sys.argv[7])
rule = {x["name"]: x for x in s["rules"]}
t = g["span_s"]
legit_sent = (g["packets"] + every - 1) // every
# GCRA: burst at once, then one per interval; never more than was sent.
exp = min(legit_sent, int(burst + t * rate / per))
adm = rule["legit"]["passed"]
print(json.dumps({"section": "spoof", "flood": mode, "every": every, "seconds": t,
    "legit_limit": "%d/%ds burst %d" % (rate, per, burst), "frames": g["packets"],
    "legit_sent": legit_sent, "legit_seen": rule["legit"]["matched"], "legit_admitted": adm,
    "legit_expected": exp, "legit_error_pct": 100.0 * (adm - exp) / exp,
    "flood_admitted": rule["flood"]["passed"], "flood_matched": rule["flood"]["matched"],
    "keys_tracked": s["keys_tracked"], "keys_capacity": s["keys_capacity"],
    "new_keys_per_s": rule["flood"]["passed"] / t if mode == "random" else 0,
    "contention": s["reasons"]["contention"]["packets"]}))
EOF
		tail -n 1 "$RAW" | $PY -c "
import json, sys
d = json.loads(sys.stdin.read())
print('  flood from %-6s: %.1f Mframes in %.2f s; client (limit %s) sent %d, admitted %d, exact %d (%+.2f%%)'
      % (d['flood'], d['frames'] / 1e6, d['seconds'], d['legit_limit'], d['legit_sent'], d['legit_admitted'], d['legit_expected'], d['legit_error_pct']))"
	done
}

# ------------------------------------------------------------------ plot

section_plot() {
	local rate=20000 burst=5000
	log "== 6. admitted rate over time under a one-source flood (limit $rate/s burst $burst): flood.png"
	cat >"$TMP/plot.conf" <<-EOF
	rule flood proto udp key src rate $rate/s burst $burst action drop
	EOF
	rx_up plot
	# Rule slot 0 is the only rule's counters; field 1 is `passed`.
	"$SLB" series "$PIN_SL/sl_rcnt" 0 1 100 10 >"$TMP/admitted.dat" &
	local sp1=$!
	"$SLB" series "$PIN_SL/sl_cnt" 0 0 100 10 >"$TMP/offered.dat" &
	local sp2=$!
	BG_PIDS=("$sp1" "$sp2")
	sleep 1
	gen_bg 3.5 --sources 1 --base "$SRC_BASE" --cpus 0
	gen_wait
	# The client pauses and comes back to a refilled bucket: a second burst.
	sleep 1.5
	gen_bg 3 --sources 1 --base "$SRC_BASE" --cpus 0
	gen_wait
	wait "$sp1" "$sp2"
	BG_PIDS=()
	rx_down plot
	paste "$TMP/offered.dat" "$TMP/admitted.dat" | awk '{print $1, $2, $5}' >"$RES/flood.dat"
	if command -v gnuplot >/dev/null; then
		gnuplot -e "datafile='$RES/flood.dat'; outfile='$RES/flood.png'; limit=$rate" \
			"$BENCH_DIR/flood.gp" || die "gnuplot"
		log "  wrote $RES/flood.png"
	else
		log "  gnuplot not installed: wrote only $RES/flood.dat"
	fi
}

# ------------------------------------------------------------------ main

log "sluice bench: kernel $(uname -r), $(nproc) CPUs, run id $ID, $(date -u +%FT%TZ)"
setup_topology
write_configs
for s in $SECTIONS; do
	"section_$s"
done
$PY "$BENCH_DIR/report.py" "$RAW" "$RES" || die "report failed"
log "results: $RES/results.md $RES/results.json"
