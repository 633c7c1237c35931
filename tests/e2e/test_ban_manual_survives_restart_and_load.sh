#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Manual bans as an operator uses them: `sluice ban add` drops every packet
# of an address (or a prefix) at once; the ban lives in a pinned map, so it
# survives the daemon being killed -9 and started again, `sluice load` of
# another rule set and a re-attach; `ban list` shows it with its remaining
# time; `ban del` lifts it at once; a ban with a duration ends by itself and
# the daemon's text log says so; bad input exits 2 and changes nothing.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7711

conf=$(write_conf sluice.conf <<CONF
interface $IF_GW
rule other proto udp dport 7799 key src rate 1000/s action drop
CONF
)
conf2=$(write_conf sluice2.conf <<CONF
interface $IF_GW
rule other2 proto udp dport 7798 key src rate 10/s action drop
allow 192.0.2.1
CONF
)
daemon_start d --config "$conf" --metrics "$METRICS_ADDR"
daemon_wait_ready d

# through: the client's datagrams reach the server (or, with 0, none do).
through() {
	udp_round "$CLIENT4" "$PORT" 40 0.25
	if [ "$1" = all ]; then
		assert_eq "$SENT" "$GOT" "datagrams through ($2)"
	else
		assert_eq 0 "$GOT" "datagrams through ($2)"
	fi
}

check "no ban: the client reaches the server"
through all "before any ban"
sl_ok ban list "$IF_GW" --json >/dev/null
assert_eq '{"bans":[]}' "$SL_OUT" "ban list --json with no bans"

check "ban add: every packet of the client is dropped at once"
sl_ok ban add "$IF_GW" "$CLIENT4" for 1m
sl_ok ban list "$IF_GW" --json >/dev/null
log "$SL_OUT"
assert_eq '["10.200.1.2", "manual", null, 0, 60000, true]' \
	"$(json_field "$SL_OUT" '[[b["address"], b["origin"], b["rule"], b["offences"], b["duration_ms"], b["active"]] for b in d["bans"]][0]')" \
	"ban: address, origin, rule, offences, duration_ms, active"
assert_cmp "$(json_field "$SL_OUT" 'd["bans"][0]["remaining_ms"]')" -gt 55000 "remaining_ms"
through none "banned"
j=$(stats_json "$IF_GW")
assert_cmp "$(json_field "$j" 'd["reasons"]["ban"]["packets"]')" -ge 10 "packets dropped for the ban"
assert_eq 1 "$(json_field "$j" 'd["bans"]["manual"]')" "stats bans.manual"
sl_ok status "$IF_GW" --json >/dev/null
assert_eq 1 "$(json_field "$SL_OUT" 'd["bans_active"]')" "status bans_active"

check "the ban survives the daemon killed -9 and started again"
daemon_stop d KILL
daemon_start d2 --config "$conf" --metrics "$METRICS_ADDR"
daemon_wait_ready d2
sl_ok ban list "$IF_GW" --json >/dev/null
assert_eq 1 "$(json_field "$SL_OUT" 'len(d["bans"])')" "bans after the restart"
through none "banned, after the restart"

check "the ban survives a SIGHUP reload, sluice load of another rule set, and a re-attach"
n=$(daemon_log_lines d2)
kill -HUP "$(daemon_pid d2)"
daemon_wait_log d2 "$n"
assert_contains "$NEW_LOG" "reloaded" "the daemon's log after SIGHUP"
through none "banned, after SIGHUP"
sl_ok load "$IF_GW" "$conf2"
sl_ok rule list "$IF_GW" --json >/dev/null
assert_eq '["other2"]' "$(json_field "$SL_OUT" '[r["name"] for r in d["rules"]]')" "rules after the load"
through none "banned, after sluice load"
sl_ok attach "$IF_GW" --config "$conf"
through none "banned, after a re-attach"
sl_ok ban list "$IF_GW"
assert_contains "$SL_OUT" "manual" "ban list"

check "ban del lifts it at once; a second del is an error"
sl_ok ban del "$IF_GW" "$CLIENT4"
through all "after ban del"
sl_expect 2 ban del "$IF_GW" "$CLIENT4"
assert_eq "sluice: ban del $IF_GW: $CLIENT4 is not banned" "$SL_ERR" "second ban del"

check "a prefix ban for 3s drops the client, ends by itself, and the daemon logs its end"
n=$(daemon_log_lines d2)
sl_ok ban add "$IF_GW" 10.200.1.0/24 for 3s
through none "inside a banned /24"
for i in $(seq 50); do
	grep -q "ban of 10.200.1.0/24 ended" "$TMP_DIR/d2.log" && break
	sleep 0.1
done
daemon_wait_log d2 "$n"
log "logged: $NEW_LOG"
assert_contains "$NEW_LOG" "sluice: $IF_GW: ban of 10.200.1.0/24 ended after 3s (manual)" "the daemon's log"
through all "after the prefix ban ended"
# Ended and forgotten at once: a manual ban keeps no offence memory.
sl_ok ban list "$IF_GW" --all --json >/dev/null
assert_eq 0 "$(json_field "$SL_OUT" 'len(d["bans"])')" "entries left after the ban ended"

check "bad input exits 2 and bans nothing"
sl_expect 2 ban add "$IF_GW" banana
assert_contains "$SL_ERR" 'argument 4 ("banana"): expected an address or CIDR' "message"
sl_expect 2 ban add "$IF_GW" "$CLIENT4" for 5ms
assert_contains "$SL_ERR" 'argument 6 ("5ms"): a ban lasts 1s..365d' "message"
sl_expect 2 ban add "$IF_GW" "$CLIENT4" four 5s
sl_expect 2 ban add "$IF_GW" "$CLIENT4" for
sl_expect 2 ban add "$IF_GW" 10.200.1.1/24
sl_expect 2 ban add "$IF_GW"
sl_expect 2 ban list nosuch0
sl_ok ban list "$IF_GW" --all --json >/dev/null
assert_eq '{"bans":[]}' "$SL_OUT" "ban list after the bad input"
through all "after the bad input"

daemon_stop d2 TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"
pass
