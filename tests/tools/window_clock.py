#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The clock and the arithmetic of sluice's sliding windows, for tests.

sluice's `window N/DUR` counts in fixed windows aligned to the kernel's
CLOCK_MONOTONIC (bpf_ktime_get_ns): window k is [k*P, (k+1)*P), and a packet
conforms if prev x weight + (cur + 1) <= N, weight being the share of the
previous window the sliding window still covers, rounded up to 1/1024
(include/sluice_limiter.h, sl_window_conform). A test that wants exact
admitted counts starts its traffic at a known place in a window and
predicts the count from that formula.

CLOCK_MONOTONIC as a process reads it carries its time namespace's offset
(/proc/self/timens_offsets) and bpf_ktime_get_ns does not: the offset is
taken out of every time printed or read here.

  window_clock.py wait --period S --from A --to B
      sleeps until the phase (seconds into the current window) is in
      [A, B); prints {"index": K, "phase": X, "now": T}
  window_clock.py at --period S T [T ...]
      for CLOCK_MONOTONIC times T (seconds, as udp_send.py prints them):
      {"index": [K, ...], "phase": [X, ...]}
  window_clock.py allow --period S --max N --prev C T
      the most packets a flood dense enough to try at every moment has
      had admitted in the current window by CLOCK_MONOTONIC time T, when
      the previous window admitted C: max n with C x weight(T) + n <= N
"""
import argparse
import json
import sys
import time

WEIGHT_SHIFT = 10


def offset_ns():
    try:
        with open("/proc/self/timens_offsets") as f:
            for line in f:
                w = line.split()
                if w and w[0] in ("monotonic", "1"):
                    return int(w[1]) * 1000000000 + int(w[2])
    except (OSError, ValueError, IndexError):
        pass
    return 0


OFFSET = offset_ns()


def kernel_ns(process_seconds):
    return int(round(process_seconds * 1e9)) - OFFSET


def allowance(period_ns, maximum, prev, now_ns):
    """Mirrors sl_window_conform: the largest cur it lets a key reach."""
    index = now_ns // period_ns
    left = period_ns - (now_ns - index * period_ns)
    weight = ((left << WEIGHT_SHIFT) + period_ns - 1) // period_ns
    room = (maximum << WEIGHT_SHIFT) - prev * weight
    return max(room >> WEIGHT_SHIFT, 0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait")
    w.add_argument("--period", type=float, required=True)
    w.add_argument("--from", dest="lo", type=float, required=True)
    w.add_argument("--to", dest="hi", type=float, required=True)
    t = sub.add_parser("at")
    t.add_argument("--period", type=float, required=True)
    t.add_argument("times", type=float, nargs="+")
    a_ = sub.add_parser("allow")
    a_.add_argument("--period", type=float, required=True)
    a_.add_argument("--max", type=int, required=True)
    a_.add_argument("--prev", type=int, required=True)
    a_.add_argument("time", type=float)
    a = p.parse_args()

    period_ns = int(round(a.period * 1e9))
    if a.cmd == "at":
        ks = [kernel_ns(x) for x in a.times]
        json.dump({"index": [k // period_ns for k in ks],
                   "phase": [(k % period_ns) / 1e9 for k in ks]}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    if a.cmd == "allow":
        print(allowance(period_ns, a.max, a.prev, kernel_ns(a.time)))
        return 0
    if not 0 <= a.lo < a.hi <= a.period:
        p.error("need 0 <= --from < --to <= --period")
    lo, hi = int(a.lo * 1e9), int(a.hi * 1e9)
    for _ in range(3):
        phase = (time.monotonic_ns() - OFFSET) % period_ns
        if lo <= phase < hi:
            break
        wait = (lo - phase) if phase < lo else (period_ns - phase + lo)
        time.sleep(wait / 1e9)
    now = time.monotonic_ns() - OFFSET
    phase = now % period_ns
    if not lo <= phase < hi:
        sys.exit("window_clock: missed the phase [%s, %s): at %.6f" %
                 (a.lo, a.hi, phase / 1e9))
    json.dump({"index": now // period_ns, "phase": phase / 1e9, "now": now / 1e9},
              sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
