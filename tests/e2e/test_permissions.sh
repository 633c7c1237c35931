#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# An unprivileged user can neither read nor change sluice's state.
#
# Two locks stand between `nobody` and the pins under /sys/fs/bpf/sluice/IF,
# and each is tested on its own:
#
#   1. the capability: nobody has no CAP_BPF, and with
#      kernel.unprivileged_bpf_disabled set bpf() refuses it (EPERM) before
#      any path is looked up;
#   2. the modes: the pin directory is 0700 and every pin 0600, owned by
#      root. nobody *given* CAP_BPF (setpriv, ambient) passes the first lock,
#      and must still be stopped: by the directory (no search permission),
#      and, with the directory opened to search for a moment, by each pin's
#      own mode (BPF_OBJ_GET checks it like open(2) does).
#
# Every command an operator has (rule list/add/del, stats, status, allow and
# deny, load, attach, detach, and ban where this version has it) must fail
# with a non-zero exit and an error that says why, and root must see exactly
# the same program, rules, sets, counters and generation afterwards.
#
# Modes are only half of it: whoever owns a directory may delete what is in
# it. Last, in a private bpffs, nobody creates /sys/fs/bpf/sluice/IF before
# sluice does (a bpffs mounted without options is 1777); attach must refuse
# it or make it root's, or nobody can unlink the link pin and so detach
# the program.
. "$(dirname "$0")/lib.sh"
e2e_init
for t in bpftool runuser setpriv stat find; do
	command -v "$t" >/dev/null || fail "missing prerequisite: $t"
done
id nobody >/dev/null 2>&1 || fail "no user \"nobody\""
NOBODY_GID=$(id -g nobody)

PORT=7108
# The config and the binary must be reachable by nobody, or a failure would
# say nothing about the pins: TMP_DIR (0700) opens for search only.
chmod 0711 "$TMP_DIR" || fail "chmod $TMP_DIR"
conf=$(write_conf perm.conf <<CONF
allow 10.200.1.77
deny 203.0.113.0/24
rule dns proto udp dport $PORT key src rate 100/s burst 20 action drop
CONF
)
chmod 0644 "$conf"
evil_conf=$(write_conf evil.conf <<'CONF'
malformed drop
rule everything key global rate 1/d burst 1 action drop
CONF
)
chmod 0644 "$evil_conf"

# as_nobody CMD...: in the gateway's netns, as nobody, no capabilities.
as_nobody() {
	nsenter --net="/run/netns/$NS_GW" runuser -u nobody -- "$@"
}

# as_nobody_bpf CMD...: the same user holding CAP_BPF and nothing else.
as_nobody_bpf() {
	nsenter --net="/run/netns/$NS_GW" setpriv --reuid=nobody \
		--regid="$NOBODY_GID" --clear-groups --inh-caps=-all,+bpf \
		--ambient-caps=-all,+bpf -- "$@"
}

# refused WHO WHY_RE ARGS...: `sluice ARGS` run by WHO (as_nobody or
# as_nobody_bpf) must exit 1 (a runtime failure, not a usage error) and say
# why on stderr in words matching WHY_RE (extended regex, any case), and
# print nothing on stdout.
refused() {
	local who=$1 why=$2 out err rc
	shift 2
	out=$(mktemp -p "$TMP_DIR") err=$(mktemp -p "$TMP_DIR")
	"$who" "$SLUICE" "$@" >"$out" 2>"$err"
	rc=$?
	[ "$rc" -ne 0 ] ||
		fail "$who: sluice $* succeeded (stdout: $(cat "$out"))"
	[ "$rc" -eq 1 ] ||
		fail "$who: sluice $* exited $rc, expected 1 (a runtime failure); stderr: $(cat "$err")"
	grep -qiE -- "$why" "$err" ||
		fail "$who: sluice $* exited $rc but its error does not say why (expected /$why/): $(cat "$err")"
	[ ! -s "$out" ] ||
		fail "$who: sluice $* failed but printed state on stdout: $(cat "$out")"
	log "ok: $who: sluice $* -> exit 1: $(head -n1 "$err")"
	rm -f "$out" "$err"
}

# state: everything root can see, as one text to compare.
state() {
	local cmd
	for cmd in "status $IF_GW --json" "rule list $IF_GW --json" \
		"stats $IF_GW --json" "allow list $IF_GW --json" \
		"deny list $IF_GW --json"; do
		# shellcheck disable=SC2086 # the words of cmd are arguments
		sl_run $cmd
		[ "$SL_RC" -eq 0 ] || fail "root: sluice $cmd exited $SL_RC: $SL_ERR"
		printf '== %s\n%s\n' "$cmd" "$SL_OUT"
	done
	if [ "$HAVE_BAN" = 1 ]; then
		sl_run ban list "$IF_GW" --json
		printf '== ban list\n%s\n' "$SL_OUT"
	fi
	printf '== xdp\n'
	ip -n "$NS_GW" -d link show dev "$IF_GW" | grep -oE 'prog/xdp[a-z]* id [0-9]+' ||
		fail "no XDP program on $IF_GW: $(ip -n "$NS_GW" -d link show dev "$IF_GW")"
	printf '== pins\n'
	find "$PIN_DIR" -printf '%P %M %u:%g\n' | sort
}

check "attach; pins are root's: directory 0700, every pin 0600"
attach --config "$conf"
[ "$(stat -c %U:%a "$PIN_DIR")" = root:700 ] ||
	fail "$PIN_DIR is $(stat -c %U:%a "$PIN_DIR"), expected root:700"
log "ok: $PIN_DIR root:700 (in $PIN_ROOT, $(stat -c %U:%a "$PIN_ROOT"))"
n=0
while IFS= read -r -d '' f; do
	[ "$(stat -c %U:%a "$f")" = root:600 ] ||
		fail "${f#"$PIN_DIR"/} is $(stat -c %U:%a "$f"), expected root:600"
	n=$((n + 1))
done < <(find "$PIN_DIR" -mindepth 1 -not -type d -print0)
assert_cmp "$n" -ge 10 "pins under $PIN_DIR, all root:600"
pins=$(find "$PIN_DIR" -mindepth 1 -not -type d -printf '%P\n' | sort | tr '\n' ' ')
log "pins: $pins"
[ -e "$PIN_DIR/sl_rules" ] || fail "no sl_rules pin in $PIN_DIR: $pins"

# Bans, where this version has them (DESIGN lists them; README 0.1 does not).
HAVE_BAN=0
sl_run ban list "$IF_GW"
[ "$SL_RC" -eq 0 ] && HAVE_BAN=1
log "ban commands: $([ "$HAVE_BAN" = 1 ] && echo present || echo "not in this version ($SL_RC)")"

# Some traffic, so counters and a key have something to lose.
udp_round "$CLIENT4" "$PORT" 200 0.5
assert_cmp "$GOT" -gt 0 "datagrams through the gateway"
before=$(state) || exit 1
assert_contains "$before" '"dns"' "root's rule list"

check "nobody holds no capabilities; nobody+CAP_BPF holds exactly CAP_BPF"
# shellcheck disable=SC2016 # awk's $2, not the shell's
caps=$(as_nobody awk '/^CapEff/ { print $2 }' /proc/self/status)
assert_eq 0000000000000000 "$caps" "nobody's effective capabilities"
# shellcheck disable=SC2016
caps=$(as_nobody_bpf awk '/^CapEff/ { print $2 }' /proc/self/status)
assert_eq 0000008000000000 "$caps" "nobody+CAP_BPF's effective capabilities (bit 39, CAP_BPF)"
as_nobody "$SLUICE" --version >/dev/null ||
	fail "nobody cannot run $SLUICE at all: every check below would be vacuous"
log "ok: nobody can run $SLUICE"

check "the directory mode alone keeps nobody out of the pins"
for who in as_nobody as_nobody_bpf; do
	if $who ls "$PIN_DIR" >/dev/null 2>&1; then
		fail "$who can list $PIN_DIR"
	fi
	if $who stat "$PIN_DIR/sl_rules" >/dev/null 2>&1; then
		fail "$who can look up $PIN_DIR/sl_rules"
	fi
	if $who cat "$PIN_DIR/sl_rules" >/dev/null 2>&1; then
		fail "$who can open $PIN_DIR/sl_rules"
	fi
	log "ok: $who cannot list $PIN_DIR nor look up or open a pin in it"
done

check "bpftool as nobody: refused, by the capability and by the modes"
for who in as_nobody as_nobody_bpf; do
	for cmd in "map dump pinned $PIN_DIR/sl_rules" \
		"map dump pinned $PIN_DIR/sl_cnt" \
		"map update pinned $PIN_DIR/sl_cfg key hex 00 00 00 00 value hex $(printf '00 %.0s' $(seq 80))"; do
		# shellcheck disable=SC2086
		if out=$($who bpftool $cmd 2>&1); then
			fail "$who: bpftool $cmd succeeded: $out"
		fi
		out=$(printf '%s' "$out" | tail -n1)
		if printf '%s' "$out" | grep -qiE 'permission denied|operation not permitted'; then
			log "ok: $who: bpftool ${cmd%% value*} -> $out"
			continue
		fi
		# bpftool reports a failed BPF_OBJ_GET by its statfs of the
		# pin's directory; that statfs is refused for the same reason.
		printf '%s' "$out" | grep -qi 'not in bpf file system' ||
			fail "$who: bpftool $cmd failed for another reason than access: $out"
		sfs=$($who stat -f "$PIN_DIR" 2>&1) &&
			fail "$who: bpftool says \"$out\" but $who can statfs $PIN_DIR: $sfs"
		printf '%s' "$sfs" | grep -qi 'permission denied' ||
			fail "$who: bpftool $cmd: $out; statfs $PIN_DIR: $sfs"
		log "ok: $who: bpftool ${cmd%% value*} -> $out (statfs: permission denied)"
	done
done

# What sluice says: "permission" or "not permitted", whichever lock it met.
WHY='permission|not permitted'
check "sluice as nobody (no capabilities): every command refused"
for who in as_nobody as_nobody_bpf; do
	[ "$who" = as_nobody_bpf ] &&
		check "sluice as nobody with CAP_BPF: every command still refused (modes)"
	refused $who "$WHY" rule list "$IF_GW"
	refused $who "$WHY" rule list "$IF_GW" --json
	refused $who "$WHY" stats "$IF_GW"
	refused $who "$WHY" stats "$IF_GW" --json
	refused $who "$WHY" status "$IF_GW"
	refused $who "$WHY" allow list "$IF_GW"
	refused $who "$WHY" deny list "$IF_GW" --json
	refused $who "$WHY" rule add "$IF_GW" evil proto udp dport 9 key global rate 1/s burst 1
	refused $who "$WHY" rule del "$IF_GW" dns
	refused $who "$WHY" allow add "$IF_GW" 10.200.1.0/24
	refused $who "$WHY" allow del "$IF_GW" 10.200.1.77
	refused $who "$WHY" deny add "$IF_GW" "$CLIENT4"
	refused $who "$WHY" deny del "$IF_GW" 203.0.113.0/24
	refused $who "$WHY" load "$IF_GW" "$evil_conf"
	refused $who "$WHY" attach "$IF_GW" --config "$evil_conf"
	refused $who "$WHY" detach "$IF_GW"
	if [ "$HAVE_BAN" = 1 ]; then
		refused $who "$WHY" ban list "$IF_GW"
		refused $who "$WHY" ban add "$IF_GW" "$CLIENT4" for 1h
	fi
done

# With the directories open to search, only each pin's 0600 stands in the
# way. PIN_ROOT is shared by every interface, so its mode is restored on any
# exit, and checked; sluice itself resets it to 0700 on attach anyway.
ROOT_MODE=
restore_modes() {
	chmod 0700 "$PIN_DIR" 2>/dev/null
	[ -n "$ROOT_MODE" ] && chmod "$ROOT_MODE" "$PIN_ROOT" 2>/dev/null
	ROOT_MODE=
}
trap 'rc=$?; restore_modes; (exit $rc); cleanup' EXIT

check "each pin's own mode keeps nobody+CAP_BPF out, even where it can reach it"
ROOT_MODE=$(stat -c %a "$PIN_ROOT")
chmod 0711 "$PIN_ROOT" "$PIN_DIR" || fail "chmod 0711 $PIN_ROOT $PIN_DIR"
as_nobody_bpf stat -c %n "$PIN_DIR/sl_rules" >/dev/null 2>&1 ||
	{ restore_modes; fail "nobody cannot reach $PIN_DIR/sl_rules even with the directories 0711"; }
problems=()
while IFS= read -r -d '' f; do
	name=${f#"$PIN_DIR"/}
	if as_nobody_bpf cat "$f" >/dev/null 2>&1; then
		problems+=("$name: open(2) for reading succeeded")
	fi
	case $name in
	link*) kind="link" ;;
	*) kind="map" ;;
	esac
	for cmd in "$kind show pinned $f" "$kind show pinned $f --json"; do
		# shellcheck disable=SC2086
		if out=$(as_nobody_bpf bpftool $cmd 2>&1); then
			problems+=("$name: bpftool $cmd succeeded: $out")
		elif ! printf '%s' "$out" | grep -qi 'permission denied'; then
			problems+=("$name: bpftool $cmd refused, but not for permission: $out")
		fi
	done
done < <(find "$PIN_DIR" -mindepth 1 -not -type d -print0)
if out=$(as_nobody_bpf bpftool map dump pinned "$PIN_DIR/sl_rules" 2>&1); then
	problems+=("bpftool map dump pinned sl_rules succeeded")
fi
log "bpftool map dump pinned sl_rules as nobody+CAP_BPF: $(printf '%s' "$out" | tail -n1)"
for args in "stats $IF_GW --json" "rule list $IF_GW" "detach $IF_GW" \
	"rule add $IF_GW evil proto udp dport 9 key global rate 1/s burst 1"; do
	# shellcheck disable=SC2086
	err=$(as_nobody_bpf "$SLUICE" $args 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -ne 1 ] || ! printf '%s' "$err" | grep -qiE "$WHY"; then
		problems+=("sluice $args: exit $rc: $err")
	else
		log "ok: as_nobody_bpf: sluice $args -> exit 1: $err"
	fi
done
restore_modes
assert_eq 700 "$(stat -c %a "$PIN_DIR")" "mode of $PIN_DIR, restored"
[ "$(stat -c %a "$PIN_ROOT")" = 700 ] || log "note: $PIN_ROOT is $(stat -c %a "$PIN_ROOT") again"
((${#problems[@]} == 0)) ||
	fail "nobody+CAP_BPF got at pins through searchable directories: $(printf '%s; ' "${problems[@]}")"
log "ok: every pin refused nobody+CAP_BPF (open and BPF_OBJ_GET: permission denied)"

check "root sees exactly the state it had: program, rules, sets, counters, generation, pins"
after=$(state) || exit 1
if [ "$before" != "$after" ]; then
	diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") >&3
	fail "state changed while nobody tried"
fi
log "ok: status, rule list, stats, allow/deny lists, XDP program and pins unchanged"
udp_round "$CLIENT4" "$PORT" 200 0.5
assert_cmp "$GOT" -gt 0 "datagrams through the gateway afterwards (still attached)"

# A bpffs mounted without options (as `attach` does where none is mounted)
# is 1777: anyone may create /sys/fs/bpf/sluice before sluice first does.
# Whoever owns a directory may remove and rename what is in it, whatever
# the entries' own modes, so pins in a directory nobody owns are nobody's
# to delete; deleting the link pin detaches the program: enforcement off.
# sluice must refuse such a directory, or make it root's, before it pins.
# Checked in a private mount namespace with its own bpffs, on the gateway's
# other veth, so the host's pins and this test's attachment are untouched.
check "a pin directory nobody created first: sluice refuses it or makes it root's"
squat=$TMP_DIR/squat.sh
cat >"$squat" <<'SQUAT'
set -u
mount -t bpf bpf /sys/fs/bpf || { echo "mount: failed"; exit 1; }
echo "bpffs: $(stat -c %a /sys/fs/bpf)"
runuser -u nobody -- mkdir -m 0777 /sys/fs/bpf/sluice "/sys/fs/bpf/sluice/$IF" ||
	{ echo "squat: failed"; exit 1; }
nsenter --net="/run/netns/$NS" "$SLUICE" attach "$IF" --mode generic --config "$CONF" \
	>"$OUTF" 2>&1
echo "attach: $?"
echo "owners: $(stat -c %U:%a /sys/fs/bpf/sluice "/sys/fs/bpf/sluice/$IF" 2>&1 | tr '\n' ' ')"
xdp() { ip -n "$NSNAME" -d link show dev "$IF" 2>/dev/null | grep -oE 'prog/xdp[a-z]* id [0-9]+' || echo none; }
echo "xdp before: $(xdp)"
n=0
for f in "/sys/fs/bpf/sluice/$IF"/*; do
	[ -e "$f" ] || continue
	runuser -u nobody -- rm -f "$f" 2>/dev/null && [ ! -e "$f" ] && n=$((n + 1))
done
echo "removed by nobody: $n"
runuser -u nobody -- mv "/sys/fs/bpf/sluice/$IF" /sys/fs/bpf/sluice/gone 2>/dev/null &&
	echo "renamed by nobody: yes"
echo "xdp after: $(xdp)"
nsenter --net="/run/netns/$NS" "$SLUICE" detach "$IF" >/dev/null 2>&1
ip -n "$NSNAME" link set dev "$IF" xdp off 2>/dev/null
exit 0
SQUAT
out=$(IF=$IF_GW_S NS=$NS_GW NSNAME=$NS_GW CONF=$conf OUTF=$TMP_DIR/squat.out \
	SLUICE=$SLUICE unshare --mount --propagation private bash "$squat" 2>&1) ||
	fail "squat scenario did not run: $out"
printf '%s\n' "$out" | sed 's/^/  squat: /' >&3
sq() { printf '%s\n' "$out" | sed -n "s/^$1: //p"; }
[ "$(sq bpffs)" = 1777 ] || fail "the private bpffs is not 1777: $out"
if [ "$(sq attach)" != 0 ]; then
	grep -q /sys/fs/bpf/sluice "$TMP_DIR/squat.out" ||
		fail "attach refused a pin directory nobody owns, but does not name it: $(cat "$TMP_DIR/squat.out")"
	log "ok: attach refused: $(head -n1 "$TMP_DIR/squat.out")"
else
	[ "$(sq owners)" = "root:700 root:700 " ] ||
		fail "attach pinned into directories nobody created and still owns ($(sq owners)); nobody then removed $(sq 'removed by nobody') of its pins$(printf '%s' "$out" | grep -q 'renamed by nobody' && echo ', renamed the directory'), XDP $(sq 'xdp before') -> $(sq 'xdp after'): an unprivileged user turned enforcement off"
	assert_eq 0 "$(sq 'removed by nobody')" "pins nobody could remove"
	[ "$(sq 'xdp after')" != none ] || fail "the XDP program went away after nobody's attempts"
	log "ok: attach made the directories root's; nobody removed nothing"
fi

pass
