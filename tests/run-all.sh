#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/run-all.sh OUTDIR [unit|bpf|fuzz|e2e]...
#
# Runs the test programs of the chosen layers (all four, in the order unit,
# bpf, fuzz, e2e, when none is named):
#   unit  OUTDIR/tests/test_X for each tests/unit/test_X.c
#   bpf   OUTDIR/tests/test_X for each tests/bpf/test_X.c
#   fuzz  the short fuzz runs (make fuzz runs the long ones), and the unit
#         tests and the CLI under ASan and UBSan
#   e2e   each executable tests/e2e/test_*.sh, with SLUICE=OUTDIR/sluice
# A failing program does not stop the run. The last line is exactly
# "N passed, M failed", counting programs (not the cases inside them).
# Exit: 0 all passed, 1 something failed, 2 nothing ran (or usage error).
#
# SLUICE_TEST_TIMEOUT (seconds, default 900, 0 = none) bounds each program, so
# one hung test cannot hang `make test`.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TIMEOUT=${SLUICE_TEST_TIMEOUT:-900}

usage() {
	echo "usage: $0 OUTDIR [unit|bpf|e2e]..." >&2
	exit 2
}

die() {
	echo "run-all: $*" >&2
	exit 1
}

usage_error() {
	echo "run-all: $*" >&2
	exit 2
}

(($# >= 1)) || usage
[[ -d $1 ]] || usage_error "output directory \"$1\" does not exist (run make first)"
OUT=$(cd "$1" && pwd)
shift

layers=("$@")
((${#layers[@]})) || layers=(unit bpf fuzz e2e)
need_root=0
for layer in "${layers[@]}"; do
	case $layer in
	unit) ;;
	bpf | fuzz | e2e) need_root=1 ;;
	*) echo "run-all: unknown layer \"$layer\" (expected unit, bpf, fuzz or e2e)" >&2; usage ;;
	esac
done
[[ $TIMEOUT =~ ^[0-9]+$ ]] ||
	usage_error "SLUICE_TEST_TIMEOUT must be a number of seconds, got \"$TIMEOUT\""
if ((need_root)) && [[ $(id -u) -ne 0 ]]; then
	die "the bpf and e2e layers must run as root (they load BPF programs and create network namespaces); run: sudo $0 $OUT ${layers[*]}"
fi

passed=0
failed=0
failures=()
child=
current=

# Ctrl-C or a kill ends the running test (its own cleanup traps run) and
# still prints the summary.
# shellcheck disable=SC2317 # called from the trap
interrupted() {
	if [[ -n $child ]]; then
		kill -TERM "$child" 2>/dev/null
		wait "$child"
		failed=$((failed + 1))
		failures+=("$current (interrupted)")
	fi
	echo
	echo "run-all: interrupted"
	summary
	exit 130
}
trap interrupted INT TERM

summary() {
	local name

	echo
	for name in "${failures[@]}"; do
		echo "FAILED: $name"
	done
	echo "$passed passed, $failed failed"
}

# run NAME CMD...: runs one test program, its output going straight through.
run() {
	local name=$1 rc
	shift

	echo "--- $name"
	if ((TIMEOUT > 0)); then
		timeout -k 30 "$TIMEOUT" "$@" </dev/null &
	else
		"$@" </dev/null &
	fi
	child=$!
	current=$name
	wait "$child"
	rc=$?
	child=
	if ((rc == 0)); then
		echo "--- PASS $name"
		passed=$((passed + 1))
		return
	fi
	if ((TIMEOUT > 0 && (rc == 124 || rc == 137))); then
		echo "--- FAIL $name (timed out after ${TIMEOUT}s)"
	else
		echo "--- FAIL $name (exit $rc)"
	fi
	failed=$((failed + 1))
	failures+=("$name")
}

fail_missing() {
	echo "--- FAIL $1 ($2)"
	failed=$((failed + 1))
	failures+=("$1")
}

# C test programs: one binary in OUT/tests per source in tests/LAYER/.
run_binaries() {
	local layer=$1 src name bin

	for src in "$ROOT/tests/$layer"/test_*.c; do
		[[ -e $src ]] || continue
		name=$(basename "$src" .c)
		bin=$OUT/tests/$name
		if [[ -x $bin ]]; then
			run "$layer/$name" "$bin"
		else
			fail_missing "$layer/$name" "not built: make $bin"
		fi
	done
}

# The short fuzz runs of make test (make fuzz runs the long ones), and the
# user-space code under ASan and UBSan: the unit tests and the CLI.
SAN_ENV=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:check_initialization_order=1
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1)

run_fuzz() {
	local bin

	if [[ -x $OUT/tests/pktfuzz ]]; then
		run fuzz/pktfuzz "$OUT/tests/pktfuzz" --frames 100000 --seed 1
	else
		fail_missing fuzz/pktfuzz "not built: make $OUT/tests/pktfuzz"
	fi
	if [[ -x $OUT/fuzz/fuzz_config ]]; then
		run fuzz/config "$ROOT/tests/fuzz/run_fuzz.sh" "$OUT/fuzz/fuzz_config" 60 "$OUT/fuzz"
	else
		fail_missing fuzz/config "not built: make fuzz-build"
	fi
	for bin in "$OUT"/asan/tests/test_*; do
		[[ -x $bin ]] || continue
		run "asan/$(basename "$bin")" env "${SAN_ENV[@]}" "$bin"
	done
	if [[ -x $OUT/asan/sluice ]]; then
		run asan/cli "$ROOT/tests/fuzz/sanitize_cli.sh" "$OUT/asan/sluice"
	else
		fail_missing asan/cli "not built: make sanitize-build"
	fi
}

run_e2e() {
	local script name

	if [[ ! -x $OUT/sluice ]]; then
		echo "run-all: warning: $OUT/sluice is not built; e2e tests will fail" >&2
	fi
	for script in "$ROOT"/tests/e2e/test_*.sh; do
		[[ -e $script ]] || continue
		name=e2e/$(basename "$script")
		if [[ ! -x $script ]]; then
			echo "--- skip $name: not executable"
			continue
		fi
		run "$name" env SLUICE="$OUT/sluice" "$script"
	done
}

cd "$ROOT" || die "cannot enter $ROOT"
for layer in unit bpf fuzz e2e; do
	for want in "${layers[@]}"; do
		[[ $want == "$layer" ]] || continue
		echo
		echo "=== $layer tests"
		case $layer in
		unit | bpf) run_binaries "$layer" ;;
		fuzz) run_fuzz ;;
		e2e) run_e2e ;;
		esac
		break
	done
done

summary
((failed)) && exit 1
((passed)) || exit 2
exit 0
