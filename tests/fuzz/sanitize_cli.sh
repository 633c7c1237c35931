#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/fuzz/sanitize_cli.sh SLUICE
#
# Drives a sluice built with -fsanitize=address,undefined through every
# command and its error exits, as root, on a veth pair of its own: attach
# (good, bad and missing configs, modes, dry run), status, rule add/del/list,
# allow and deny add/del/list, ban add/del/list, load and load --check,
# stats, top --once, detach, and the
# usage errors. Each command must exit as expected and print no sanitizer
# report (LeakSanitizer included: detect_leaks=1). All commands run even
# after a failure, so one run lists every report; the last line is
# "sanitize: N commands, M failed".
#
# Isolation: the script re-runs itself in a mount namespace of its own with
# a fresh bpffs on /sys/fs/bpf, so its pins can meet no other test's, and
# `status` sees only its interface. The veth pair lives in two network
# namespaces (sluice's side and a peer that sends traffic). A trap removes
# the pins, the namespaces (and with them the veth pair) and the temporary
# files on every exit path.
#
# Exit: 0 all as expected, 1 a report or a wrong exit code, 2 usage.
set -uo pipefail

die() {
	echo "sanitize: $*" >&2
	exit 1
}

[[ $# -eq 1 ]] || { echo "usage: $0 SLUICE" >&2; exit 2; }
SLUICE=$1
[[ $SLUICE == /* ]] || SLUICE=$(pwd)/$SLUICE
[[ -x $SLUICE ]] || { echo "sanitize: $SLUICE is not an executable (make test-sanitize builds it)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] ||
	die "must run as root (it loads BPF programs and creates network namespaces); run: sudo $0 $*"
for t in ip nsenter unshare mount ping /usr/bin/python3; do
	command -v "$t" >/dev/null || die "missing prerequisite: $t"
done

if [[ -z ${SANITIZE_CLI_INNER:-} ]]; then
	exec env SANITIZE_CLI_INNER=1 unshare --mount --propagation private "$0" "$@"
fi
mount -t bpf bpf /sys/fs/bpf || die "cannot mount a bpffs on /sys/fs/bpf"

# Every report is fatal (exit 134), and reports go to stderr, where they
# are looked for too.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1
command -v llvm-symbolizer >/dev/null &&
	export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer)}
REPORT_RE='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)|AddressSanitizer:DEADLYSIGNAL'

ID=$(printf '%x%02x' "$$" $((RANDOM % 256)))
NS=sz-$ID-a		# sluice's side
NS_PEER=sz-$ID-b	# sends traffic through the veth pair
IF=sz${ID}a
IF_PEER=sz${ID}b
PIN_DIR=/sys/fs/bpf/sluice/$IF
TMP=
NAMESPACES=()

cleanup() {
	local rc=$? ns
	trap - EXIT INT TERM
	if [[ -d $PIN_DIR ]]; then
		nsenter --net="/run/netns/$NS" "$SLUICE" detach "$IF" >/dev/null 2>&1
		rm -rf -- "$PIN_DIR"
	fi
	for ns in "${NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	[[ -n $TMP ]] && rm -rf -- "$TMP"
	umount /sys/fs/bpf 2>/dev/null
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/sluice-sanitize.XXXXXX) || die "mktemp failed"
for ns in "$NS" "$NS_PEER"; do
	ip netns add "$ns" || die "ip netns add $ns failed"
	NAMESPACES+=("$ns")
	ip -n "$ns" link set dev lo up || die "lo up in $ns failed"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 || die "sysctl in $ns failed"
done
ip link add "$IF" netns "$NS" type veth peer name "$IF_PEER" netns "$NS_PEER" ||
	die "cannot create the veth pair"
if ! { ip -n "$NS" addr add 10.201.0.1/24 dev "$IF" &&
	ip -n "$NS_PEER" addr add 10.201.0.2/24 dev "$IF_PEER" &&
	ip -n "$NS" link set dev "$IF" up &&
	ip -n "$NS_PEER" link set dev "$IF_PEER" up; }; then
	die "cannot set up the veth pair"
fi

conf() {	# NAME: stdin to $TMP/NAME
	cat >"$TMP/$1"
}
conf good.conf <<'CONF'
# the first rule set
malformed pass
allow 192.0.2.10
deny  203.0.113.0/24 2001:db8:bad::/48
rule icmp-lim proto icmp key src rate 2/s burst 2 action drop
rule udp-any  proto udp dport 53,5000-5010 key src prefix4 24 prefix6 64 rate 100/s burst 10 action drop
rule bytes    family ip6 from 2001:db8::/32 key global rate 100mbit burst 2MB action pass
breaker api   service tcp/8080 errors 5 within 2s open 2s probes 2
CONF
conf good2.conf <<'CONF'
malformed drop
key-timeout 2s
allow 10.0.0.0/8
rule icmp-lim proto icmp key src rate 1/s burst 1 action drop
rule syn-web  proto tcp dport 80,443 syn key src rate 10/m burst 5 rate 100/h action drop
rule per-port proto udp key dport rate 5MB/s action drop on-full pass
breaker api   service tcp/8080 errors 9 within 2s open 2s probes 2
breaker web   service tcp/443 errors 1 within 1s open 1s probes 1
CONF
conf bad.conf <<'CONF'
rule fine proto udp dport 9 key global rate 10/s burst 1 action pass
rule oops proto udp dport 9 key global rate 10/s burst 1 action explode
CONF
conf other-if.conf <<'CONF'
interface other0
rule x rate 1/s
CONF
conf keys.conf <<'CONF'
keys 2048
rule x rate 1/s
CONF
for i in $(seq 64); do
	echo "rule r$i proto udp dport $((1000 + i)) key src rate $i/s action drop"
done >"$TMP/full.conf"

commands=0
failed=0

# run EXPECT ARGS...: sluice ARGS in sluice's namespace must exit with EXPECT
# ("0", "2", or alternatives like "0|1") and print no sanitizer report.
# run_json checks that stdout is JSON too.
run() {
	local expect=$1 rc bad=
	shift
	commands=$((commands + 1))
	nsenter --net="/run/netns/$NS" "$SLUICE" "$@" </dev/null \
		>"$TMP/out" 2>"$TMP/err"
	rc=$?
	if grep -qE "$REPORT_RE" "$TMP/err" "$TMP/out"; then
		bad="sanitizer report"
	elif ! [[ "|$expect|" == *"|$rc|"* ]]; then
		bad="exit $rc, expected $expect"
	elif [[ -n ${JSON:-} ]] && ! /usr/bin/python3 -c 'import json, sys; json.load(sys.stdin)' \
		<"$TMP/out" 2>/dev/null; then
		bad="stdout is not JSON"
	fi
	if [[ -z $bad ]]; then
		printf '  ok   %-4s sluice %s\n' "$rc" "$*"
		return 0
	fi
	failed=$((failed + 1))
	printf '  FAIL sluice %s: %s\n' "$*" "$bad"
	sed 's/^/    stdout: /' "$TMP/out" | head -20
	sed 's/^/    stderr: /' "$TMP/err"
	return 0
}

run_json() {
	JSON=1 run "$@"
}

echo "sanitize: $SLUICE on $IF (namespace $NS), ASAN_OPTIONS=$ASAN_OPTIONS"

echo "-- usage"
run 0 --version
run 0 help
run 0 rule help
run 2
run 2 frobnicate
run 2 de
run 2 rule
run 2 rule frob
run 2 stats
run 2 stats "$IF" --frob
run 2 stats "$IF" extra

echo "-- nothing attached"
run_json 0 status --json
run 0 status
run 1 status "$IF"
run 2 status nosuchif0
run 1 stats "$IF"
run 1 rule list "$IF"
run 1 allow list "$IF"
run 1 ban list "$IF"
run 1 ban add "$IF" 192.0.2.1
run 1 rule add "$IF" x rate 1/s
run 1 deny add "$IF" 10.0.0.0/8
run 1 detach "$IF"
run 2 detach nosuchif0
run 1 load "$IF" "$TMP/good.conf"
run 0 load "$IF" "$TMP/good.conf" --check
run 2 load "$IF" "$TMP/bad.conf" --check
run 2 load "$IF" "$TMP/missing.conf" --check

echo "-- attach errors"
run 2 attach
run 2 attach nosuchif0
run 2 attach "$IF" --mode turbo
run 2 attach "$IF" --colour red
run 2 attach "$IF" --config
run 2 attach "$IF" --config "$TMP/missing.conf"
run 2 attach "$IF" --config "$TMP/bad.conf"
run 2 attach "$IF" --config "$TMP/other-if.conf"
run 1 status "$IF"

echo "-- attach"
run 0 attach "$IF" --mode generic --config "$TMP/good.conf"
run 0 attach "$IF" --config "$TMP/good.conf"
run 2 attach "$IF" --mode native
run 0 attach "$IF" --dry-run
run 0 attach "$IF" --mode generic
run 0 status
run_json 0 status --json
run 0 status "$IF"
run_json 0 status "$IF" --json

echo "-- traffic"
ip netns exec "$NS_PEER" ping -c 6 -i 0.05 -W 1 -q 10.201.0.1 >/dev/null 2>&1
echo "  sent 6 pings through $IF"
run 0 stats "$IF"
run_json 0 stats "$IF" --json

echo "-- top (pings during each snapshot)"
ip netns exec "$NS_PEER" ping -c 30 -i 0.05 -W 1 -q 10.201.0.1 >/dev/null 2>&1 &
run 0 top "$IF" --once --interval 500ms
run_json 0 top "$IF" --once --json --interval 500ms --sort limited --limit 5
wait
run 2 top "$IF" --json
run 2 top "$IF" --once --interval 5
run 2 top "$IF" --once --sort size
run 2 top "$IF" --once --limit 0
run 2 top nosuchif0 --once

echo "-- rules"
run 0 rule add "$IF" extra proto udp dport 5353 key src rate 5/s burst 5 action drop
run 0 rule add "$IF" rule extra6 family ip6 proto udp from 2001:db8::/32 key src prefix6 64 rate 2MB/s action pass
run 2 rule add "$IF" extra proto udp dport 5353 key src rate 5/s burst 5 action drop
run 2 rule add "$IF" bad proto udp dport 53 key src rate banana burst 5 action drop
run 2 rule add "$IF" bad proto udp dport 70000 key src rate 5/s
run 2 rule add "$IF" bad window 1/s scope cluster
run 0 rule add "$IF" shared proto tcp dport 443 key global rate 100/s conns 10 scope cluster
run 2 rule add "$IF"
run 2 rule add "$IF" rule
run 2 rule add nosuchif0 x rate 1/s
run 0 rule list "$IF"
run_json 0 rule list "$IF" --json
run 2 rule list "$IF" extra
run 0 rule del "$IF" extra
run 2 rule del "$IF" extra
run 2 rule del "$IF"
run 2 rule del nosuchif0 x
run 0 load "$IF" "$TMP/full.conf"
run 2 rule add "$IF" one-too-many rate 1/s
run 0 rule del "$IF" r64
run 0 rule add "$IF" r64b proto tcp syn key global rate 64/s action drop
run_json 0 rule list "$IF" --json

echo "-- allow and deny"
for set in allow deny; do
	run 0 $set add "$IF" 192.0.2.77
	run 0 $set add "$IF" 2001:db8:77::/48
	run 0 $set add "$IF" 192.0.2.77
	run 2 $set add "$IF" banana
	run 2 $set add "$IF" 10.0.0.1/8
	run 2 $set add "$IF" 10.1.0.0/33
	run 2 $set add "$IF"
	run 0 $set list "$IF"
	run_json 0 $set list "$IF" --json
	run 0 $set del "$IF" 192.0.2.77
	run 2 $set del "$IF" 192.0.2.77
	run 2 $set del "$IF" banana
	run 0 $set del "$IF" 2001:db8:77::/48
	run 2 $set frob "$IF"
	run 2 $set list nosuchif0
done

echo "-- load"
run 0 load "$IF" "$TMP/good2.conf"
run 0 load "$IF" "$TMP/good2.conf"
run 2 load "$IF" "$TMP/bad.conf"
run 2 load "$IF" "$TMP/bad.conf" --check
run 0 load "$IF" "$TMP/good.conf" --check
run 2 load "$IF" "$TMP/missing.conf"
run 2 load "$IF" "$TMP/other-if.conf"
run 2 load "$IF" "$TMP/keys.conf"
run 2 load "$IF"
run 2 load nosuchif0 "$TMP/good.conf"
run 0 load "$IF" "$TMP/good.conf"
ip netns exec "$NS_PEER" ping -c 4 -i 0.05 -W 1 -q 10.201.0.1 >/dev/null 2>&1
run 0 stats "$IF"
run_json 0 stats "$IF" --json

echo "-- bans"
run 0 rule add "$IF" banning proto udp dport 5354 key src prefix4 24 rate 1/s action drop ban after 2 within 1s for 2s
ip netns exec "$NS_PEER" ping -c 4 -i 0.05 -W 1 -q 10.201.0.1 >/dev/null 2>&1
run 0 ban add "$IF" 192.0.2.77 for 10m
run 0 ban add "$IF" 2001:db8:77::/48
run 0 ban add "$IF" 192.0.2.77 for 1h
run 2 ban add "$IF" banana
run 2 ban add "$IF" 10.0.0.1/8
run 2 ban add "$IF" 192.0.2.78 for 5ms
run 2 ban add "$IF" 192.0.2.78 for
run 2 ban add "$IF" 192.0.2.78 four 5s
run 2 ban add "$IF"
run 0 ban list "$IF"
run 0 ban list "$IF" --all
run_json 0 ban list "$IF" --json
run_json 0 stats "$IF" --json
run 0 stats "$IF"
run 0 ban del "$IF" 192.0.2.77
run 2 ban del "$IF" 192.0.2.77
run 2 ban del "$IF" banana
run 0 ban del "$IF" 2001:db8:77::/48
run 2 ban frob "$IF"
run 2 ban list nosuchif0
run 0 rule del "$IF" banning
echo "-- sweep"
run 0 sweep "$IF"
run_json 0 sweep "$IF" --json
run 2 sweep
run 2 sweep "$IF" --colour red
run 2 sweep nosuchif0
run 0 status "$IF"

echo "-- detach"
run 0 detach "$IF"
run 1 detach "$IF"
run 1 stats "$IF"
run 1 top "$IF" --once --interval 100ms
run 0 status
run_json 0 status --json

echo "-- attach with a key capacity, then detach"
run 0 attach "$IF" --config "$TMP/keys.conf"
run 0 load "$IF" "$TMP/keys.conf"
run_json 0 status "$IF" --json
run 0 detach "$IF"

echo "sanitize: $commands commands, $failed failed"
((failed == 0))
