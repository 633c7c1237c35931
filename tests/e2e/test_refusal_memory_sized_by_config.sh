#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `refusals N` sizes each CPU's refusal memory at attach. status reports
# the size the attached program uses; a load records a new size for the
# next attach (and says so) without touching the live one; an attach
# without a configuration takes the recorded size. The memory is a cache,
# made afresh by every attach: the keys' state, pinned, keeps a flood's
# limit exact across the re-attach. A bad size is refused, exit 2, and
# changes nothing.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7021

conf=$(write_conf small.conf <<CONF
refusals 4k
rule once proto udp dport $PORT key src rate 1/m burst 1 action drop
CONF
)
bigger=$(write_conf bigger.conf <<CONF
refusals 8k
rule once proto udp dport $PORT key src rate 1/m burst 1 action drop
CONF
)
bad=$(write_conf bad.conf <<CONF
refusals 3000
rule once proto udp dport $PORT key src rate 1/m burst 1 action drop
CONF
)
status_field() { sl_ok status "$IF_GW" --json >/dev/null; json_field "$SL_OUT" "d$1"; }

attach --config "$conf"
check "status reports the configured size"
assert_eq 4096 "$(status_field '["refusal_slots"]')" "refusal_slots after attach"
sl_ok status "$IF_GW" >/dev/null
assert_contains "$SL_OUT" "refusal slots 4096 per CPU" "status"

check "a flood over a 1/min limit: one datagram admitted"
udp_round "$CLIENT4" "$PORT" 500 1
assert_eq 1 "$GOT" "datagrams admitted"

check "a load records a new size for the next attach, and says so"
gen=$(status_field '["generation"]')
sl_ok load "$IF_GW" "$bigger" >/dev/null
assert_contains "$SL_ERR" "keeps 4096 slots per CPU until the next attach" "load's note"
assert_eq 4096 "$(status_field '["refusal_slots"]')" "refusal_slots after load"
assert_eq $((gen + 1)) "$(status_field '["generation"]')" "generation after load"

check "an attach without a configuration takes the recorded size"
attach
assert_eq 8192 "$(status_field '["refusal_slots"]')" "refusal_slots after re-attach"

check "the key's state survived the new refusal memory: still limited"
udp_round "$CLIENT4" "$PORT" 500 1
assert_eq 0 "$GOT" "datagrams admitted after re-attach"

check "a bad size is refused with where and what, exit 2, and changes nothing"
gen=$(status_field '["generation"]')
sl_expect 2 load "$IF_GW" "$bad"
assert_contains "$SL_ERR" "bad.conf:1:10: refusals must be a power of two 1024..16777216" "error"
assert_eq "$gen" "$(status_field '["generation"]')" "generation after the bad load"
sl_expect 2 attach "$IF_GW" --config "$bad"
assert_eq 8192 "$(status_field '["refusal_slots"]')" "refusal_slots after the bad attach"

pass
