#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Count UDP datagrams per source address until the senders go quiet.

Binds ADDR:PORT, counts every datagram by source address, and exits once no
datagram has arrived for --idle seconds after the first one, or when nothing
arrived within --start-timeout, or after --max-time in any case (SIGTERM and
SIGINT also end it cleanly). Prints one JSON object on stdout:

  {"total": N, "by_source": {"10.200.1.11": N, ...}, "first": T, "last": T}

The receive buffer is forced large (SO_RCVBUFFORCE, root) so that what this
counts is what the gateway forwarded, not what a small socket buffer kept.
"""
import argparse
import json
import os
import select
import signal
import socket
import sys
import time

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


class Stop(Exception):
    pass


def on_signal(signum, frame):
    raise Stop()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--idle", type=float, default=1.0,
                   help="seconds of silence after traffic that end the count")
    p.add_argument("--start-timeout", type=float, default=10.0,
                   help="give up if nothing arrives within this many seconds")
    p.add_argument("--max-time", type=float, default=60.0)
    p.add_argument("--ready-file", help="created once the socket is bound")
    a = p.parse_args()
    if not 0 < a.max_time <= 600:
        p.error("--max-time must be in (0, 600]")
    return a


def main():
    a = parse_args()
    family = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    sock.bind((a.bind, a.port))
    sock.setblocking(False)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(a.ready_file + ".tmp", a.ready_file)

    counts = {}
    total = 0
    first = last = None
    start = time.monotonic()
    end = start + a.max_time
    reason = "max-time"
    try:
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if last is None:
                if now - start >= a.start_timeout:
                    reason = "start-timeout"
                    break
                wait = min(a.start_timeout - (now - start), end - now)
            else:
                if now - last >= a.idle:
                    reason = "idle"
                    break
                wait = min(a.idle - (now - last), end - now)
            r, _, _ = select.select([sock], [], [], max(wait, 0.001))
            if not r:
                continue
            # Drain what is queued; bounded so the clock is checked often.
            for _ in range(4096):
                try:
                    _, addr = sock.recvfrom(2048)
                except BlockingIOError:
                    break
                src = addr[0]
                counts[src] = counts.get(src, 0) + 1
                total += 1
            last = time.monotonic()
            if first is None:
                first = last
    except Stop:
        reason = "signal"

    json.dump({"total": total, "by_source": counts, "first": first,
               "last": last, "end": reason}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
