#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Count UDP datagrams per source and per one-second bucket, until told to stop.

Binds ADDR:PORT and counts every datagram by source address and by the
second (CLOCK_MONOTONIC, floored) it arrived in, until SIGTERM or SIGINT or
--max-time. Prints one JSON object on stdout:

  {"total": N, "by_source": {"10.200.1.30": N, ...},
   "buckets": {"10.200.1.30": {"12345": n, ...}, ...}}

A bucket is what the gateway let through in one second, as the server saw
it: the soak checks each against the limit.
"""
import argparse
import json
import select
import signal
import socket
import sys
import time

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
STOP = []


def on_signal(signum, frame):
    STOP.append(signum)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--max-time", type=float, default=7200.0)
    p.add_argument("--ready-file", help="created once the socket is bound")
    a = p.parse_args()

    sock = socket.socket(socket.AF_INET6 if ":" in a.bind else socket.AF_INET,
                         socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    sock.bind((a.bind, a.port))
    sock.setblocking(False)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if a.ready_file:
        open(a.ready_file, "w").close()

    by_source, buckets = {}, {}
    total = 0
    end = time.monotonic() + a.max_time
    while not STOP and time.monotonic() < end:
        try:
            r, _, _ = select.select([sock], [], [], 0.2)
        except InterruptedError:
            continue
        if not r:
            continue
        for _ in range(4096):
            try:
                _, addr = sock.recvfrom(2048)
            except BlockingIOError:
                break
            src = addr[0]
            sec = str(int(time.monotonic()))
            by_source[src] = by_source.get(src, 0) + 1
            b = buckets.setdefault(src, {})
            b[sec] = b.get(sec, 0) + 1
            total += 1
    json.dump({"total": total, "by_source": by_source, "buckets": buckets}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
