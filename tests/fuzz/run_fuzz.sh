#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/fuzz/run_fuzz.sh FUZZER SECONDS WORKDIR
#
# One run of the config fuzzer (tests/fuzz/fuzz_config.c):
#   1. replays every input in tests/fuzz/regressions/ (each crash ever found);
#   2. writes the seed corpus from the repo's configs (seeds.py) into
#      WORKDIR/seeds;
#   3. fuzzes for SECONDS, from WORKDIR/corpus (kept between runs, so runs
#      build on each other) and the seeds, with tests/fuzz/config.dict.
# A crash, leak, timeout or broken invariant is saved in
# tests/fuzz/regressions/ and fails the run; the full log stays in
# WORKDIR/fuzz_config.log.
# Exit: 0 nothing found, 1 something found (or the fuzzer failed), 2 usage.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REGRESS=$ROOT/tests/fuzz/regressions
DICT=$ROOT/tests/fuzz/config.dict
# Room for a config of 64 long rules; longer inputs only slow every run.
MAX_LEN=${FUZZ_MAX_LEN:-8192}

usage() {
	echo "usage: $0 FUZZER SECONDS WORKDIR" >&2
	exit 2
}

(($# == 3)) || usage
FUZZER=$1 DURATION=$2 WORK=$3
[[ -x $FUZZER ]] || { echo "fuzz: $FUZZER is not built" >&2; exit 2; }
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION == 0)); then
	echo "fuzz: SECONDS must be a positive number, got \"$DURATION\"" >&2
	exit 2
fi
mkdir -p "$WORK/corpus" "$REGRESS" || exit 1
LOG=$WORK/fuzz_config.log

# Symbolized stacks in reports, and every report fatal.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1
command -v llvm-symbolizer >/dev/null &&
	export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer)}

shopt -s nullglob
regressions=("$REGRESS"/*)
shopt -u nullglob
if ((${#regressions[@]})); then
	echo "fuzz: replaying ${#regressions[@]} regression input(s) from tests/fuzz/regressions/"
	if ! "$FUZZER" "${regressions[@]}" >"$WORK/replay.log" 2>&1; then
		cat "$WORK/replay.log" >&2
		echo "fuzz: FAIL: a regression input fails again (above)" >&2
		exit 1
	fi
fi

"$ROOT/tests/fuzz/seeds.py" "$WORK/seeds" | sed 's/^/fuzz: /' || exit 1

# Crash files are named by the fuzzer (crash-SHA1, leak-, timeout-, oom-).
listing() { find "$REGRESS" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort; }
before=$(listing)
echo "fuzz: fuzzing the rule-language parser for ${DURATION}s (log: $LOG)"
start=$(date +%s)
"$FUZZER" -max_total_time="$DURATION" -dict="$DICT" -max_len="$MAX_LEN" \
	-timeout=10 -rss_limit_mb=2048 -report_slow_units=1000000 \
	-artifact_prefix="$REGRESS/" -print_final_stats=1 \
	"$WORK/corpus" "$WORK/seeds" >"$LOG" 2>&1
rc=$?
elapsed=$(($(date +%s) - start))
found=$(comm -13 <(printf '%s\n' "$before") <(listing) | grep -v '^$')

if ((rc == 0)) && [[ -z $found ]]; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG")
	cov=$(grep -o 'cov: [0-9]*' "$LOG" | tail -1)
	corpus=$(find "$WORK/corpus" -type f | wc -l)
	echo "fuzz: PASS: ${runs:-?} inputs in ${elapsed}s, ${cov:-cov: ?} edges, corpus $corpus, nothing found"
	exit 0
fi

# The report: the part of the log from the first sanitizer or invariant line.
awk '/==[0-9]+==|^fuzz_config: |runtime error:|^SUMMARY|^MS:|^artifact_prefix|Test unit written/ { p = 1 } p' \
	"$LOG" | head -200 >&2
if [[ -n $found ]]; then
	for f in $found; do
		echo "fuzz: FAIL: new regression input tests/fuzz/regressions/$f (commit it; reproduce with: $FUZZER tests/fuzz/regressions/$f)" >&2
	done
else
	echo "fuzz: FAIL: the fuzzer exited $rc without saving an input; see $LOG" >&2
fi
exit 1
