#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Stopping `sluice run` stops the controller, not the enforcement: on
# SIGTERM or SIGINT it exits 0 and the program, link and maps stay pinned
# and keep limiting. Only `--detach-on-exit` takes them away on the way
# out. A config it cannot use at start exits 2 with the position of the
# problem and attaches nothing. `--log-format json` logs one JSON object
# per line with the keys time, level, event, interface and message.
. "$(dirname "$0")/lib.sh"
e2e_init

PORT=7701 RATE=100 BURST=50

# nothing_attached WHAT: no XDP program on $IF_GW and no pins for it.
nothing_attached() {
	assert_eq 0 "$(xdp_prog_id)" "XDP program on $IF_GW ($1)"
	[ ! -e "$PIN_DIR" ] || fail "$1: $PIN_DIR exists: $(ls "$PIN_DIR")"
	log "ok: no $PIN_DIR ($1)"
}

# start_refused WORD CONF [ARGS...]: `sluice run --config CONF ARGS` exits
# 2 at once, says WORD on stderr, and attaches nothing.
start_refused() {
	local word=$1 conf=$2
	shift 2
	check "sluice run --config $(basename "$conf")${*:+ $*}: refused"
	sl_run run --config "$conf" --metrics "$METRICS_ADDR" "$@"
	log "stderr: $SL_ERR"
	assert_eq 2 "$SL_RC" "exit status"
	assert_contains "$SL_ERR" "$word" "error message"
	nothing_attached "after the refused start"
}

# json_log_events NAME: every line the daemon logged must be a JSON object
# with the keys time, level, event, interface, message (non-empty
# strings), interface this test's, event a known one; prints the events.
json_log_events() {
	daemon_log "$1" | "$PY" -c '
import json, sys
want = {"time", "level", "event", "interface", "message"}
events = []
for n, line in enumerate(sys.stdin, 1):
    try:
        o = json.loads(line)
    except ValueError as e:
        sys.exit("line %d is not JSON (%s): %r" % (n, e, line))
    if not isinstance(o, dict):
        sys.exit("line %d is not an object: %r" % (n, line))
    if not want <= set(o):
        sys.exit("line %d lacks %s: %r" % (n, sorted(want - set(o)), line))
    for k in want:
        if not isinstance(o[k], str) or not o[k]:
            sys.exit("line %d: %s is not a non-empty string: %r" % (n, k, line))
    if o["interface"] != sys.argv[1]:
        sys.exit("line %d: interface %r, expected %r" % (n, o["interface"], sys.argv[1]))
    if o["event"] not in ("start", "reload", "sweep", "metrics", "stop"):
        sys.exit("line %d: unknown event %r" % (n, o["event"]))
    events.append(o["event"])
print(" ".join(events))
' "$IF_GW" 2>&1
}

good=$(write_conf good.conf <<CONF
interface $IF_GW
rule f proto udp dport $PORT key src rate $RATE/s burst $BURST action drop
CONF
)

check "SIGTERM: exit 0, the program and pins stay"
daemon_start d1 --config "$good" --metrics "$METRICS_ADDR"
daemon_wait_ready d1
sl_ok status "$IF_GW" --json >/dev/null
status1=$SL_OUT
prog1=$(json_field "$status1" 'd["prog_id"]')
daemon_stop d1 TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"
assert_eq "$prog1" "$(xdp_prog_id)" "XDP program on $IF_GW after the daemon exited"
for p in link_xdp sl_keys sl_rules sl_cnt; do
	[ -e "$PIN_DIR/$p" ] || fail "$PIN_DIR/$p is gone after SIGTERM"
done
log "ok: $PIN_DIR still holds link_xdp, sl_keys, sl_rules, sl_cnt"
sl_ok status "$IF_GW" --json >/dev/null
assert_eq "$status1" "$SL_OUT" "status --json after the daemon exited"
scrape /metrics
assert_eq 000 "$SCRAPE_CODE" "GET /metrics after the daemon exited (nothing listens)"

check "with no daemon, a flood is still limited to burst + rate x T"
udp_round "$CLIENT4" "$PORT" 2000 1
assert_within 2 "$(gcra_expect "$RATE" "$BURST" "$ELAPSED")" "$GOT" "datagrams admitted"
assert_eq "$GOT" "$(stats_field "$IF_GW" 'rule("f")["passed"]')" "rule f passed"

check "a second daemon adopts the pinned state; SIGINT: exit 0, enforcement stays"
daemon_start d2 --config "$good" --metrics "$METRICS_ADDR"
daemon_wait_ready d2
sl_ok status "$IF_GW" --json >/dev/null
assert_eq "$(json_field "$status1" 'd["link_id"]')" "$(json_field "$SL_OUT" 'd["link_id"]')" "link id (adopted, not attached anew)"
assert_eq "$GOT" "$(stats_field "$IF_GW" 'rule("f")["passed"]')" "rule f passed (counters adopted)"
daemon_stop d2 INT
assert_eq 0 "$DAEMON_RC" "exit status after SIGINT"
assert_ne 0 "$(xdp_prog_id)" "XDP program on $IF_GW after SIGINT"
[ -e "$PIN_DIR/link_xdp" ] || fail "$PIN_DIR/link_xdp is gone after SIGINT"
# Idle for longer than burst / rate since the last flood: the key has its
# burst back, no more.
udp_round "$CLIENT4" "$PORT" 2000 0.5
assert_within 2 "$(gcra_expect "$RATE" "$BURST" "$ELAPSED")" "$GOT" "datagrams admitted after SIGINT"

check "--detach-on-exit --log-format json: SIGTERM removes the program and every pin"
daemon_start d3 --config "$good" --metrics "$METRICS_ADDR" --detach-on-exit --log-format json
daemon_wait_ready d3
assert_ne 0 "$(xdp_prog_id)" "XDP program on $IF_GW while the daemon runs"
daemon_stop d3 TERM
assert_eq 0 "$DAEMON_RC" "exit status after SIGTERM"
nothing_attached "after SIGTERM with --detach-on-exit"
ATTACHED=0
sl_run status "$IF_GW"
assert_ne 0 "$SL_RC" "sluice status $IF_GW exit status once detached"
udp_round "$CLIENT4" "$PORT" 2000 0.5
assert_eq "$SENT" "$GOT" "datagrams admitted once detached (nothing limits)"

check "every line of the JSON log is an object with time, level, event, interface, message"
log "log: $(daemon_log d3)"
events=$(json_log_events d3) || fail "JSON log: $events"
assert_eq "start metrics stop" "$events" "events logged by a daemon that started and stopped"

check "--log-format json: a failure after the start is logged as JSON too (metrics address taken)"
nsenter --net="/run/netns/$NS_GW" "$PY" -c '
import socket, sys, time
h, p = sys.argv[1].rsplit(":", 1)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)	# past the TIME_WAITs of the scrapes
s.bind((h, int(p)))
s.listen()
open(sys.argv[2], "w").close()
time.sleep(20)
' "$METRICS_ADDR" "$TMP_DIR/taken.ready" &
taker=$!
BG_PIDS+=($taker)
for i in $(seq 100); do [ -e "$TMP_DIR/taken.ready" ] && break; sleep 0.05; done
[ -e "$TMP_DIR/taken.ready" ] || fail "could not take $METRICS_ADDR"
daemon_start d4 --config "$good" --metrics "$METRICS_ADDR" --log-format json
daemon_wait_exit d4
kill "$taker"
log "log: $(daemon_log d4)"
assert_eq 1 "$DAEMON_RC" "exit status when the metrics address is taken"
events=$(json_log_events d4) || fail "JSON log: $events"
assert_contains "$(daemon_log d4 | tail -n 1)" "$METRICS_ADDR" "last log line"
assert_contains "$(daemon_log d4 | tail -n 1)" '"level":"error"' "last log line"
# Whatever it left behind, the next checks start from nothing.
[ -e "$PIN_DIR" ] && sl_ok detach "$IF_GW"

check "bad command lines and configs at start: exit 2, the problem named, nothing attached"
no_iface=$(write_conf no_iface.conf <<CONF
# no interface statement
rule f proto udp dport $PORT key src rate $RATE/s burst $BURST action drop
CONF
)
start_refused "$no_iface" "$no_iface"
assert_contains "$SL_ERR" interface "error message for the missing interface statement"
bad_line=$(write_conf bad_line.conf <<CONF
interface $IF_GW
rule f proto udp dport $PORT key src rate $RATE/s burst $BURST action drop
rule g proto udp dport 7702 key src rate 10/s burst 5 action explode
CONF
)
col=$(awk 'NR == 3 { print index($0, "explode") }' "$bad_line")
start_refused "$bad_line:3:$col:" "$bad_line"
assert_contains "$SL_ERR" explode "error message for the bad line"
bad_metrics=$(write_conf bad_metrics.conf <<CONF
interface $IF_GW
metrics 127.0.0.1:99999
CONF
)
col=$(awk 'NR == 2 { print index($0, "99999") }' "$bad_metrics")
# (without --metrics here: the statement is what is being read)
check "sluice run --config bad_metrics.conf: refused"
sl_run run --config "$bad_metrics"
log "stderr: $SL_ERR"
assert_eq 2 "$SL_RC" "exit status"
assert_contains "$SL_ERR" "$bad_metrics:2:$col:" "error message"
nothing_attached "after the refused start"
start_refused xml "$good" --log-format xml
start_refused turbo "$good" --mode turbo
start_refused 250ms "$good" --sweep-interval 250msec
check "sluice run without --config: refused"
sl_run run
assert_eq 2 "$SL_RC" "exit status"
assert_contains "$SL_ERR" config "error message"
nothing_attached "after sluice run without --config"
# A usage error found only after attaching would leave the interface
# changed: an address that can never be listened on is a usage error.
check "sluice run --metrics banana: refused"
sl_run run --config "$good" --metrics banana
log "stderr: $SL_ERR"
assert_eq 2 "$SL_RC" "exit status"
assert_contains "$SL_ERR" banana "error message"
nothing_attached "after the refused start"
# `sluice attach --config` and `sluice load` exit 2 for a file they cannot
# read and for an interface that does not exist; so does the daemon.
start_refused "$TMP_DIR/missing.conf" "$TMP_DIR/missing.conf"
no_such=$(write_conf no_such.conf <<CONF
interface nosuchif0
CONF
)
start_refused nosuchif0 "$no_such"

pass
