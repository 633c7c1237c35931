#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `sluice top` lists the heaviest keys first, live in a terminal and as one
# snapshot, and switches its order with a key.
#
# Three sources send at once: BULK at 2000/s to a port whose rule never
# limits it, HEAVY at 1000/s to a port limited to 200/s per source, LIGHT
# at 100/s to that port, under its limit. By rate BULK comes first; by
# limited packets HEAVY does. `top --once` (table and JSON) is checked,
# then `top` itself runs in a tmux pane: the captured screen lists BULK
# first, `l` puts HEAVY first, `q` quits, and Ctrl-C in a second run quits
# too; both leave the terminal as they found it (same stty settings, the
# alternate screen left).
. "$(dirname "$0")/lib.sh"
e2e_init
command -v tmux >/dev/null || fail "missing prerequisite: tmux (scripts/install-deps.sh)"

SRC_BULK=10.200.1.31 SRC_HEAVY=10.200.1.32 SRC_LIGHT=10.200.1.33
PORT_BULK=7301 PORT_API=7302 SECS=40
for a in "$SRC_BULK" "$SRC_HEAVY" "$SRC_LIGHT"; do
	client_addr "$a"
done

conf=$(write_conf top.conf <<CONF
rule bulk proto udp dport $PORT_BULK key src rate 100000/s action drop
rule api proto udp dport $PORT_API key src rate 200/s burst 20 action drop
CONF
)
attach --config "$conf"

TMUX_SOCK="sl-$SL_ID"
tm() { tmux -L "$TMUX_SOCK" "$@"; }
stop_tmux() { tm kill-server >/dev/null 2>&1; }
CLEANUP_HOOKS+=(stop_tmux)

send_udp_bg bulk "$SRC_BULK" "$SERVER4" "$PORT_BULK" 2000 "$SECS"
send_udp_bg heavy "$SRC_HEAVY" "$SERVER4" "$PORT_API" 1000 "$SECS"
send_udp_bg light "$SRC_LIGHT" "$SERVER4" "$PORT_API" 100 "$SECS"
sleep 1

# The data rows of a table (after the line of column names): RULE KEY ...
rows() { sed -n '/^RULE /,$p' | tail -n +2; }

check "top --once: the heaviest key first, states by what was limited"
sl_ok top "$IF_GW" --once --interval 2s >"$TMP_DIR/once.txt"
log "$(cat "$TMP_DIR/once.txt")"
head -1 "$TMP_DIR/once.txt" | grep -q "^sluice top $IF_GW .*sorted by rate" ||
	fail "top --once: unexpected header: $(head -1 "$TMP_DIR/once.txt")"
first=$(rows <"$TMP_DIR/once.txt" | head -1)
assert_eq "bulk $SRC_BULK" "$(awk '{print $1, $2}' <<<"$first")" "first row of top --once"
heavy=$(rows <"$TMP_DIR/once.txt" | awk -v k="$SRC_HEAVY" '$2 == k')
light=$(rows <"$TMP_DIR/once.txt" | awk -v k="$SRC_LIGHT" '$2 == k')
assert_eq "api limited" "$(awk '{print $1, $NF}' <<<"$heavy")" "rule and state of $SRC_HEAVY"
assert_eq "api ok" "$(awk '{print $1, $NF}' <<<"$light")" "rule and state of $SRC_LIGHT"
assert_eq 3 "$(rows <"$TMP_DIR/once.txt" | wc -l)" "rows: one per sending key"

check "top --once --json: the same view for scripts; --sort limited puts $SRC_HEAVY first"
sl_ok top "$IF_GW" --once --json --interval 2s >"$TMP_DIR/once.json"
j=$(cat "$TMP_DIR/once.json")
assert_eq "$SRC_BULK" "$(json_field "$j" 'd["keys"][0]["key"]')" "keys[0] by rate"
assert_eq "rate" "$(json_field "$j" 'd["sort"]')" "sort"
h='[k for k in d["keys"] if k["key"] == "'"$SRC_HEAVY"'"][0]'
assert_eq limited "$(json_field "$j" "$h[\"state\"]")" "state of $SRC_HEAVY"
# What the rule let through is its rate: 200/s of the 1000/s sent.
passed=$(json_field "$j" "int(($h[\"packets\"] - $h[\"limited\"]) / d[\"interval_s\"])")
assert_within 15 200 "$passed" "pkt/s of $SRC_HEAVY passed (its limit)"
assert_eq true "$(json_field "$j" "$h[\"rate\"] > 2 * 200")" "$SRC_HEAVY sends far above its limit"
assert_eq 0 "$(json_field "$j" '[k for k in d["keys"] if k["key"] == "'"$SRC_LIGHT"'"][0]["limited"]')" \
	"limited packets of $SRC_LIGHT"
sl_ok top "$IF_GW" --once --json --sort limited --interval 1s >"$TMP_DIR/limited.json"
j=$(cat "$TMP_DIR/limited.json")
assert_eq "$SRC_HEAVY" "$(json_field "$j" 'd["keys"][0]["key"]')" "keys[0] by limited"
assert_eq limited "$(json_field "$j" 'd["sort"]')" "sort"

check "top in a terminal: refreshes in place, heaviest first, l re-sorts, q quits"
# The pane runs a shell that notes the terminal's settings around top.
# bash, which goes on after a child that caught Ctrl-C and exited.
cat >"$TMP_DIR/pane.sh" <<EOF
stty -g >"$TMP_DIR/stty.before"
nsenter --net=/run/netns/$NS_GW "$SLUICE" top $IF_GW --interval 500ms
echo \$? >"$TMP_DIR/top.rc"
stty -g >"$TMP_DIR/stty.after"
EOF

# pane_wait NAME WHAT CMD...: poll the captured pane until CMD (reading
# the capture on stdin) succeeds, for up to 10 s.
pane_wait() {
	local name=$1 what=$2 i
	shift 2
	for i in $(seq 50); do
		tm capture-pane -p -t "$name" >"$TMP_DIR/pane.txt" 2>/dev/null
		"$@" <"$TMP_DIR/pane.txt" && return 0
		sleep 0.2
	done
	fail "pane $name never showed $what; last capture:
$(cat "$TMP_DIR/pane.txt")"
}
first_row_is() { [ "$(rows | head -1 | awk '{print $2}')" = "$1" ]; }
header_says() { head -1 | grep -q "$1"; }
# Waits for the pane's command to end: the pane is kept (remain-on-exit).
pane_wait_dead() {
	local i
	for i in $(seq 50); do
		[ "$(tm display -p -t "$1" '#{pane_dead}')" = 1 ] && return 0
		sleep 0.2
	done
	fail "top in pane $1 did not exit"
}

run_pane() {	# NAME: top in a fresh 120x30 pane
	rm -f "$TMP_DIR/top.rc" "$TMP_DIR/stty.before" "$TMP_DIR/stty.after"
	tm new-session -d -s "$1" -x 120 -y 30 "bash $TMP_DIR/pane.sh" ||
		fail "tmux new-session failed"
	tm set-option -t "$1" remain-on-exit on >/dev/null
}

run_pane live
pane_wait live "a row for $SRC_BULK" first_row_is "$SRC_BULK"
log "captured pane:"
log "$(cat "$TMP_DIR/pane.txt")"
assert_eq 1 "$(tm display -p -t live '#{alternate_on}')" "top draws on the alternate screen"
header_says "sorted by rate" <"$TMP_DIR/pane.txt" || fail "header does not say sorted by rate"
assert_eq 3 "$(rows <"$TMP_DIR/pane.txt" | grep -c .)" "rows in the pane"
# Refreshes in place: the header's clock moves on, the screen does not scroll.
t1=$(head -1 "$TMP_DIR/pane.txt" | awk '{print $4}')
pane_wait live "a new refresh" eval '[ "$(head -1 | awk "{print \$4}")" != "$t1" ]'
assert_eq 1 "$(grep -c '^sluice top ' "$TMP_DIR/pane.txt")" "header lines on the screen"

tm send-keys -t live l
pane_wait live "the limited order" header_says "sorted by limited"
pane_wait live "$SRC_HEAVY first" first_row_is "$SRC_HEAVY"
log "after l: $(rows <"$TMP_DIR/pane.txt" | head -1)"
tm send-keys -t live q
pane_wait_dead live
assert_eq 0 "$(cat "$TMP_DIR/top.rc")" "exit code of top after q"
assert_eq "$(cat "$TMP_DIR/stty.before")" "$(cat "$TMP_DIR/stty.after")" \
	"terminal settings after q"
assert_eq 0 "$(tm display -p -t live '#{alternate_on}')" "alternate screen left after q"

check "Ctrl-C ends top cleanly too"
run_pane intr
pane_wait intr "a row for $SRC_BULK" first_row_is "$SRC_BULK"
tm send-keys -t intr C-c
pane_wait_dead intr
assert_eq 0 "$(cat "$TMP_DIR/top.rc")" "exit code of top after Ctrl-C"
assert_eq "$(cat "$TMP_DIR/stty.before")" "$(cat "$TMP_DIR/stty.after")" \
	"terminal settings after Ctrl-C"
assert_eq 0 "$(tm display -p -t intr '#{alternate_on}')" "alternate screen left after Ctrl-C"

check "bad options: exit 2, nothing started"
sl_expect 2 top "$IF_GW" --json
assert_contains "$SL_ERR" "use it with --once" "--json without --once"
sl_expect 2 top "$IF_GW" --once --interval 10
assert_contains "$SL_ERR" "--interval: expected 100ms..60s" "--interval without a unit"
sl_expect 2 top "$IF_GW" --once --sort size
assert_contains "$SL_ERR" "--sort: expected rate or limited" "--sort size"
sl_expect 2 top nosuch0 --once
assert_contains "$SL_ERR" "no such interface" "top on an unknown interface"

for s in bulk heavy light; do
	stop_sender "$s"
done
pass
