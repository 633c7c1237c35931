#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Send UDP datagrams from one source address at a paced rate.

Real sockets only: each datagram goes through the sender's stack, out of its
veth, and so through the gateway's XDP hook like any client's packet.

Stops by itself after --count datagrams or --duration seconds, whichever comes
first, or on SIGTERM/SIGINT (a test that wants traffic "while X happens" runs
it long and stops it), and prints one JSON object on stdout:

  {"sent": N, "errors": E, "first": T0, "last": T1, "elapsed": T1 - T0, ...}

`first` and `last` are CLOCK_MONOTONIC seconds of the first and last
successful send; `elapsed` is what a test multiplies the configured rate by.

Pacing: datagram i is due at start + i / rate. The loop sends every datagram
that is due, then sleeps until the next one, so a late wake-up is caught up
with a short burst instead of lowering the long-run rate. --rate 0 sends as
fast as the socket takes them.
"""
import argparse
import errno
import json
import signal
import socket
import struct
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", required=True, help="source address to bind")
    p.add_argument("--sport", type=int, default=0, help="source port (0: any)")
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--rate", type=float, default=0.0,
                   help="datagrams per second, 0 = as fast as possible")
    p.add_argument("--duration", type=float, default=5.0, help="seconds")
    p.add_argument("--count", type=int, default=0, help="stop after N (0: no cap)")
    p.add_argument("--size", type=int, default=64, help="payload bytes (>= 16)")
    a = p.parse_args()
    if a.duration <= 0 or a.duration > 3600:
        p.error("--duration must be in (0, 3600]")
    if a.rate < 0:
        p.error("--rate must be >= 0")
    if a.size < 16 or a.size > 1400:
        p.error("--size must be in [16, 1400]")
    return a


STOP = []


def on_signal(signum, frame):
    # Only a flag: raising here could land between a successful sendto and
    # its count, and the count must be exact.
    STOP.append(signum)


def main():
    a = parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    family = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.bind((a.src, a.sport))
    dst = (a.dst, a.dport)
    payload = bytearray(a.size)
    # Hard bound on the loop whatever the clock does.
    limit = a.count if a.count > 0 else int(max(a.rate, 1) * a.duration) + 1
    if a.rate == 0 and a.count == 0:
        limit = 1 << 40
    interval = 1.0 / a.rate if a.rate > 0 else 0.0

    sent = errors = 0
    first = last = None
    start = time.monotonic()
    deadline = start + a.duration
    i = 0
    while i < limit and not STOP:
        now = time.monotonic()
        if now >= deadline:
            break
        if interval:
            due = start + i * interval
            if due > now:
                time.sleep(min(due - now, deadline - now))
                continue
        struct.pack_into("!QQ", payload, 0, i, int(now * 1e9))
        try:
            sock.sendto(payload, dst)
        except OSError as e:
            # A full qdisc or socket buffer: the datagram never left, so
            # it does not count as sent.
            if e.errno not in (errno.ENOBUFS, errno.EAGAIN,
                               errno.ECONNREFUSED):
                raise
            errors += 1
        else:
            sent += 1
            last = time.monotonic()
            if first is None:
                first = last
        i += 1

    out = {
        "src": a.src, "dst": a.dst, "dport": a.dport, "rate": a.rate,
        "sent": sent, "errors": errors, "stopped_by_signal": bool(STOP),
        "first": first, "last": last,
        "elapsed": (last - first) if sent else 0.0,
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
