#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A deliberately small key map (`keys 64`) filled by real clients from 64
# addresses. The map never evicts: 16 more addresses find no room, and
# each rule's on-full policy decides their packets' fate, counted as
# keys_full. A client with state keeps its exact limit. `sluice sweep`
# deletes the keys whose state has said nothing for key-timeout (1 s) and
# keeps the one of a client that keeps sending over its rate; the freed
# room takes the new clients. Until a sweep ever ran, status says that
# nothing reclaims idle keys; then `sluice run` sweeps keys by itself and
# counts them in sluice_keys_reclaimed_total.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT_DROP=7711 PORT_PASS=7712
FIRST=100 LAST=179	# 80 client addresses: 64 fill the map, 16 find no room
FILL_LAST=163
client_addrs4 "$FIRST" "$LAST"
A() { printf '10.200.1.%s\n' "$1"; }

conf=$(write_conf full.conf <<CONF
interface $IF_GW
keys 64
key-timeout 1s
rule by-drop proto udp dport $PORT_DROP key src rate 2/s burst 3 action drop
rule by-pass proto udp dport $PORT_PASS key src rate 2/s burst 3 action drop on-full pass
CONF
)
attach --config "$conf"

check "status: no sweep has ever run, and it says what to do about it"
sl_ok status "$IF_GW" >/dev/null
assert_contains "$SL_OUT" "keys never swept" "status"
assert_contains "$SL_OUT" "sluice sweep $IF_GW" "status"
sl_ok status "$IF_GW" --json >/dev/null
assert_eq null "$(json_field "$SL_OUT" 'd["keys_swept_ago_s"]')" "status keys_swept_ago_s"
assert_eq 64 "$(json_field "$SL_OUT" 'd["keys_capacity"]')" "status keys_capacity"

# spray NAME PORT COUNT FROM..: COUNT datagrams from each address to the
# server; GOT_FROM[addr] is what the server got from each, SPRAY_TOTAL
# what it got in all.
declare -A GOT_FROM
spray() {
	local name=$1 port=$2 count=$3 out a
	shift 3
	start_counter "$name" "$port" --idle 0.7 --start-timeout 2
	out=$(nsenter --net="/run/netns/$NS_CLIENT" "$PY" "$TOOLS_DIR/udp_spray.py" \
		--dst "$SERVER4" --dport "$port" --count "$count" --src "$@" 2>&1) ||
		fail "udp_spray: $out"
	assert_eq 0 "$(json_field "$out" 'd["errors"]')" "send errors"
	wait_counter "$name"
	SPRAY_SENT=$(json_field "$out" 'd["total"]')
	SPRAY_TOTAL=$(json_field "$COUNT_JSON" 'd["total"]')
	GOT_FROM=()
	for a in $(json_field "$COUNT_JSON" '" ".join(sorted(d["by_source"]))'); do
		GOT_FROM[$a]=$(json_field "$COUNT_JSON" "d['by_source']['$a']")
	done
	log "spray to port $port: sent $SPRAY_SENT, server got $SPRAY_TOTAL"
}
keys_full() { stats_field "$IF_GW" 'd["totals"]["keys_full"]["packets"]'; }

check "64 clients fill the map, each with state"
spray fill "$PORT_DROP" 1 "$(A $FIRST)-$(A $FILL_LAST)"
assert_eq 64 "$SPRAY_TOTAL" "datagrams admitted while the map had room"
assert_eq 64 "$(stats_field "$IF_GW" 'd["keys_tracked"]')" "keys_tracked"
assert_eq 0 "$(keys_full)" "keys_full"

check "on-full drop: 16 new clients find no room, every packet refused and counted"
spray nodrop "$PORT_DROP" 3 "$(A $((FILL_LAST + 1)))-$(A $LAST)"
assert_eq 48 "$SPRAY_SENT" "datagrams sent"
assert_eq 0 "$SPRAY_TOTAL" "datagrams of new clients admitted under on-full drop"
assert_eq 48 "$(keys_full)" "keys_full"
st=$(stats_json "$IF_GW")
assert_eq 48 "$(json_field "$st" 'rule("by-drop")["dropped"]')" "by-drop dropped"
assert_eq 0 "$(json_field "$st" 'd["reasons"]["rate"]["packets"]')" "packets limited by rate"
assert_eq 64 "$(json_field "$st" 'd["keys_tracked"]')" "keys_tracked (nothing evicted)"

check "a client with state keeps its exact limit: burst 3 of a full bucket"
sleep 0.6	# its one packet's half second has passed: the bucket is full
spray exact "$PORT_DROP" 20 "$(A $FIRST)"
assert_eq 3 "${GOT_FROM[$(A $FIRST)]:-0}" "datagrams admitted from $(A $FIRST) (burst 3)"
assert_eq 48 "$(keys_full)" "keys_full"

check "on-full pass: the same 16 new clients pass, unlimited by this rule, counted"
spray nopass "$PORT_PASS" 5 "$(A $((FILL_LAST + 1)))-$(A $LAST)"
assert_eq 80 "$SPRAY_TOTAL" "datagrams of new clients admitted under on-full pass (5 each, above burst 3)"
assert_eq $((48 + 80)) "$(keys_full)" "keys_full"
st=$(stats_json "$IF_GW")
assert_eq 80 "$(json_field "$st" 'rule("by-pass")["passed"]')" "by-pass passed"
assert_eq 0 "$(json_field "$st" 'rule("by-pass")["limited"]')" "by-pass limited"

check "sluice sweep deletes the quiet keys and keeps a client that keeps sending"
busy=$(A $((FIRST + 1)))
start_counter busy "$PORT_DROP" --idle 1 --start-timeout 3
send_udp_bg busy "$busy" "$SERVER4" "$PORT_DROP" 10 30
sleep 3		# every other key: quiet for more than key-timeout
sl_ok sweep "$IF_GW" --json >/dev/null
assert_eq 63 "$(json_field "$SL_OUT" 'd["keys_reclaimed"]')" "keys reclaimed by the sweep"
assert_eq 1 "$(json_field "$SL_OUT" 'd["keys"]')" "keys kept by the sweep (the busy client's)"
stop_sender busy
wait_counter busy
assert_eq 1 "$(stats_field "$IF_GW" 'd["keys_tracked"]')" "keys_tracked after the sweep"
sl_ok status "$IF_GW" --json >/dev/null
assert_cmp "$(json_field "$SL_OUT" 'd["keys_swept_ago_s"]')" -le 2 "status keys_swept_ago_s"
sl_ok status "$IF_GW" >/dev/null
assert_contains "$SL_OUT" "keys swept" "status"
case "$SL_OUT" in *"never evicts"*) fail "status still asks for a sweep: $SL_OUT" ;; esac

check "the room is taken by the clients that were refused: burst 3 each"
spray room "$PORT_DROP" 6 "$(A $((FILL_LAST + 1)))-$(A $LAST)"
assert_eq 48 "$SPRAY_TOTAL" "datagrams admitted from the 16 new clients"
for a in "${!GOT_FROM[@]}"; do
	[ "${GOT_FROM[$a]}" = 3 ] || fail "client $a: ${GOT_FROM[$a]} admitted, expected 3"
done
assert_eq $((48 + 80)) "$(keys_full)" "keys_full (nothing refused for room)"
assert_eq 17 "$(stats_field "$IF_GW" 'd["keys_tracked"]')" "keys_tracked"

check "sluice run sweeps keys by itself and counts them"
daemon_start d --config "$conf" --metrics "$METRICS_ADDR"
daemon_wait_ready d
for _ in $(seq 50); do
	[ "$(stats_field "$IF_GW" 'd["keys_tracked"]')" = 0 ] && break
	sleep 0.1
done
assert_eq 0 "$(stats_field "$IF_GW" 'd["keys_tracked"]')" "keys_tracked once the daemon swept"
scrape /metrics
assert_eq 17 "$(metric 'm("sluice_keys_reclaimed_total")')" "sluice_keys_reclaimed_total"
assert_eq $((48 + 80)) "$(metric 'm("sluice_packets_total", verdict="keys_full")')" \
	"sluice_packets_total{verdict=keys_full}"
assert_contains "$(daemon_log d)" "idle keys" "daemon log"
daemon_stop d TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"

pass
