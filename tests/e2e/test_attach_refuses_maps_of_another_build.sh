#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A pinned map shaped otherwise than this build makes it (as another build
# of sluice would leave it) cannot be reused: attach says which map and
# what to do, and the program already attached stays, enforcing. After
# detach, attach works again.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7031
conf=$(write_conf once.conf <<CONF
rule once proto udp dport $PORT key src rate 1/m burst 1 action drop
CONF
)
attach --config "$conf"
sl_ok status "$IF_GW" --json >/dev/null
prog=$(json_field "$SL_OUT" 'd["prog_id"]')

check "a pinned map of another shape: attach fails, names it, says detach"
pin="$PIN_ROOT/$IF_GW/sl_reject"
must rm -f "$pin"
must bpftool map create "$pin" type array key 4 value 16 entries 1 name sl_reject
sl_run attach "$IF_GW" --config "$conf"
assert_ne 0 "$SL_RC" "attach's exit code"
assert_contains "$SL_ERR" "pinned map sl_reject was made by another build of sluice" "attach's error"
assert_contains "$SL_ERR" "sluice detach $IF_GW" "attach's error"

check "the attached program stays and enforces"
sl_ok status "$IF_GW" --json >/dev/null
assert_eq "$prog" "$(json_field "$SL_OUT" 'd["prog_id"]')" "prog_id"
udp_round "$CLIENT4" "$PORT" 200 1
assert_eq 1 "$GOT" "datagrams admitted under a 1/min limit"

check "after detach, attach works"
sl_ok detach "$IF_GW" >/dev/null
attach --config "$conf"
udp_round "$CLIENT4" "$PORT" 200 1
assert_eq 1 "$GOT" "datagrams admitted with fresh state"

pass
