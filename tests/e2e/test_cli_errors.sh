#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Every bad input exits 2, says what was wrong (naming the bad word, file or
# argument), and changes nothing: same rules, same allow/deny sets, same
# generation, same counters.
. "$(dirname "$0")/lib.sh"
e2e_init

good=$(write_conf good.conf <<'CONF'
allow 10.200.7.0/24
deny  10.200.8.0/24
rule api proto tcp dport 80,443 key src rate 2000/s burst 4000 action drop
rule dns proto udp dport 53 key src prefix4 24 rate 100/s burst 10 action drop
CONF
)
other=$(write_conf other.conf <<'CONF'
# valid, and different from good.conf
rule other proto udp dport 9 key global rate 10/s burst 1 action pass
CONF
)
bad=$(write_conf bad.conf <<'CONF'
# line 2 is fine, line 3 is not
rule fine proto udp dport 9 key global rate 10/s burst 1 action pass
rule oops proto udp dport 9 key global rate 10/s burst 1 action explode
CONF
)
attach --config "$good"

snapshot() {
	local s
	sl_ok rule list "$IF_GW" --json >/dev/null
	s="rules=$SL_OUT"
	sl_ok allow list "$IF_GW" --json >/dev/null
	s="$s allow=$SL_OUT"
	sl_ok deny list "$IF_GW" --json >/dev/null
	s="$s deny=$SL_OUT"
	sl_ok stats "$IF_GW" --json >/dev/null
	s="$s generation=$(json_field "$SL_OUT" 'd["generation"]')"
	s="$s dry_run=$(json_field "$SL_OUT" 'd["dry_run"]')"
	printf '%s\n' "$s"
}
before=$(snapshot)
assert_contains "$before" api "initial rule list"
assert_contains "$before" 10.200.7.0/24 "initial allow list"

# bad WORDS ARGS...: sluice ARGS must exit 2, name one of WORDS (separated
# by |) on stderr, print nothing on stdout, and leave the state as it was.
bad() {
	local words=$1 w found=
	shift
	check "sluice $*"
	sl_expect 2 "$@"
	[ -n "$SL_ERR" ] || fail "sluice $*: no message on stderr"
	log "stderr: $SL_ERR"
	IFS='|' read -r -a alts <<<"$words"
	for w in "${alts[@]}"; do
		printf '%s' "$SL_ERR" | grep -qiF -- "$w" && found=$w && break
	done
	[ -n "$found" ] || fail "sluice $*: message does not mention ${words//|/ or }: $SL_ERR"
	log "ok: message mentions '$found'"
	[ -z "$SL_OUT" ] || fail "sluice $*: printed on stdout: $SL_OUT"
	[ "$(snapshot)" = "$before" ] || fail "sluice $* changed the state: $(snapshot)"
	log "ok: state unchanged"
}

bad frobnicate    frobnicate
bad --bogus       rule list "$IF_GW" --bogus
bad --frob        stats "$IF_GW" --frob
bad --colour      attach "$IF_GW" --colour red
bad 'argument|expected' rule del "$IF_GW"
bad 'argument|expected' attach
bad 'argument|expected' allow add "$IF_GW"
bad turbo         attach "$IF_GW" --mode turbo
bad nosuchif0     attach nosuchif0
bad nosuchif0     stats nosuchif0
bad nosuchif0     rule list nosuchif0
bad 10.0.0.300/8  allow add "$IF_GW" 10.0.0.300/8
bad 10.1.0.0/33   deny add "$IF_GW" 10.1.0.0/33
bad banana        allow add "$IF_GW" banana
bad banana        rule add "$IF_GW" bad proto udp dport 53 key src rate banana burst 5 action drop
bad explode       rule add "$IF_GW" bad2 proto udp dport 53 key src rate 5/s burst 5 action explode
bad 70000         rule add "$IF_GW" bad3 proto udp dport 70000 key src rate 5/s burst 5 action drop
bad nosuchrule    rule del "$IF_GW" nosuchrule
bad "$TMP_DIR/missing.conf" load "$IF_GW" "$TMP_DIR/missing.conf"
col=$(awk 'NR == 3 { print index($0, "explode") }' "$bad")
bad "$bad:3:$col:" load "$IF_GW" "$bad" --check
bad "$bad:3:$col:" load "$IF_GW" "$bad"
bad explode       load "$IF_GW" "$bad"

check "load --check of a good file exits 0 and changes nothing"
sl_expect 0 load "$IF_GW" "$other" --check
[ "$(snapshot)" = "$before" ] || fail "load --check changed the state: $(snapshot)"
log "ok: state unchanged"

check "a leading word 'rule' is accepted by rule add"
sl_expect 0 rule add "$IF_GW" rule extra proto udp dport 5353 key src rate 5/s burst 5 action drop
sl_ok rule list "$IF_GW" --json >/dev/null
assert_eq true "$(json_field "$SL_OUT" "[r for r in (d if isinstance(d, list) else d['rules']) if r.get('name') == 'extra'] != []")" \
	"rule list --json has a rule named extra"

pass
