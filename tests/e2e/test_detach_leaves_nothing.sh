#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The attach/detach life cycle, as an operator sees it.
#
# attach leaves the program on the interface and its state pinned with tight
# permissions; the controller exits and enforcement stays; any later sluice
# process sees the same state; re-attach keeps it; detach removes the
# program, the link and every pin.
. "$(dirname "$0")/lib.sh"
e2e_init
command -v bpftool >/dev/null || fail "missing prerequisite: bpftool"

PORT=7008 RATE=100 BURST=50 SLOW_PORT=7018
conf=$(write_conf life.conf <<CONF
rule hold proto udp dport $PORT key src rate $RATE/s burst $BURST action drop
# refills one per 6 s: a budget spent before re-attach stays spent after
rule slow proto udp dport $SLOW_PORT key src rate 10/m burst 20 action drop
CONF
)

xdp_prog_id() {	# the id of the XDP program on $IF_GW, or "none"
	ip -n "$NS_GW" -j -d link show dev "$IF_GW" | $PY -c '
import json, sys
link = json.load(sys.stdin)[0]
xdp = link.get("xdp") or {}
prog = xdp.get("prog") or {}
print(prog.get("id") or (xdp.get("progs") or [{}])[0].get("id") or "none")'
}

check "attach puts an XDP program on $IF_GW and pins state under $PIN_DIR"
attach --config "$conf"
ip -n "$NS_GW" link show dev "$IF_GW" | grep -q 'xdp' ||
	fail "ip link show $IF_GW shows no xdp program: $(ip -n "$NS_GW" link show dev "$IF_GW")"
prog_id=$(xdp_prog_id)
[ "$prog_id" != none ] || fail "no XDP program id on $IF_GW"
log "ok: XDP program id $prog_id on $IF_GW"
[ -d "$PIN_DIR" ] || fail "no pin directory $PIN_DIR"
assert_eq 700 "$(stat -c %a "$PIN_DIR")" "mode of $PIN_DIR"
n=0
while IFS= read -r -d '' f; do
	assert_eq 600 "$(stat -c %a "$f")" "mode of ${f#"$PIN_DIR"/}"
	n=$((n + 1))
done < <(find "$PIN_DIR" -mindepth 1 -not -type d -print0)
assert_cmp "$n" -ge 2 "pinned files under $PIN_DIR"
while IFS= read -r -d '' f; do
	assert_eq 700 "$(stat -c %a "$f")" "mode of ${f#"$PIN_DIR"/}/"
done < <(find "$PIN_DIR" -mindepth 1 -type d -print0)

# The link sluice pinned: the bpf_link whose program is the one on the iface.
link_id=$(bpftool -j link show | $PY -c '
import json, sys
ids = [str(l["id"]) for l in json.load(sys.stdin)
       if l.get("type") == "xdp" and str(l.get("prog_id")) == sys.argv[1]]
print(" ".join(ids) or "none")' "$prog_id")
[ "$link_id" != none ] || fail "bpftool link show has no xdp link for program $prog_id"
log "ok: bpf link $link_id holds program $prog_id"

check "the attaching controller has exited; a second sluice process sees the state"
sl_ok rule list "$IF_GW" >/dev/null
assert_contains "$SL_OUT" hold "rule list (separate process)"
assert_eq 0 "$(stats_field "$IF_GW" 'rule("hold")["matched"]')" "rule hold matched before traffic"
sl_ok status "$IF_GW" >/dev/null
assert_contains "$SL_OUT" "$IF_GW" "status"

check "enforcement stays on without a controller: a flood is limited to $BURST + $RATE x T"
udp_round "$CLIENT4" "$PORT" 4000 1
assert_within 3 "$(gcra_expect "$RATE" "$BURST" "$ELAPSED")" "$GOT" "datagrams admitted"
passed=$(stats_field "$IF_GW" 'rule("hold")["passed"]')
assert_eq "$GOT" "$passed" "rule hold passed"

udp_round "$CLIENT4" "$SLOW_PORT" 4000 0.1
assert_eq 20 "$GOT" "datagrams admitted by slow (its burst)"
slow_first=$SEND_JSON

check "re-attach keeps program state, rules and counters"
attach
sl_ok rule list "$IF_GW" >/dev/null
assert_contains "$SL_OUT" hold "rule list after re-attach"
assert_eq "$passed" "$(stats_field "$IF_GW" 'rule("hold")["passed"]')" "rule hold passed after re-attach"
udp_round "$CLIENT4" "$SLOW_PORT" 4000 0.1
since=$($PY -c 'import json, sys; print(json.loads(sys.argv[2])["last"] - json.loads(sys.argv[1])["first"])' "$slow_first" "$SEND_JSON")
# The key's burst is spent: a fresh budget would admit 20 at once.
assert_cmp "$GOT" -le "$($PY -c "print(int($since / 6) + 1)")" "datagrams admitted by slow after re-attach, ${since}s later (budget kept)"

check "detach removes the program, the link and every pin"
prog_id=$(xdp_prog_id)
sl_ok detach "$IF_GW" >/dev/null
ATTACHED=0
assert_eq none "$(xdp_prog_id)" "XDP program on $IF_GW after detach"
if ip -n "$NS_GW" -d link show dev "$IF_GW" | grep -qE 'xdp|prog/'; then
	fail "ip -d link show still shows XDP: $(ip -n "$NS_GW" -d link show dev "$IF_GW")"
fi
log "ok: ip -d link show $IF_GW has no xdp"
for id in $link_id; do
	if bpftool link show id "$id" >/dev/null 2>&1; then
		fail "bpf link $id still exists: $(bpftool link show id "$id")"
	fi
done
log "ok: bpf link $link_id is gone"
if bpftool -j link show | grep -q "\"prog_id\":$prog_id[,}]"; then
	fail "a bpf link still holds program $prog_id"
fi
[ -e "$PIN_DIR" ] && fail "pin directory remains after detach: $(ls -la "$PIN_DIR")"
log "ok: $PIN_DIR is gone"

check "traffic flows unlimited after detach"
udp_round "$CLIENT4" "$PORT" 2000 0.5
assert_eq "$SENT" "$GOT" "datagrams received after detach"

pass
