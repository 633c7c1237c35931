#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Open TCP connections at a paced rate, or accept them.

  tcp_conn.py listen --bind ADDR --port P [--max-time S]
      accepts and closes connections until SIGTERM or --max-time.
  tcp_conn.py connect --src ADDR --dst ADDR --dport P --rate N --duration S
      starts N connection attempts per second (non-blocking, so a dropped
      SYN does not slow the pace), counts an attempt as connected if the
      handshake completes within --timeout (shorter than the kernel's first
      SYN retransmission, 1 s, so a dropped SYN counts as refused), and
      prints {"attempts": N, "connected": M} as JSON.
Bounded loops, stops by itself.
"""
import argparse
import errno
import json
import select
import signal
import socket
import sys
import time

STOP = []


def on_signal(signum, frame):
    STOP.append(signum)


def listen(a):
    s = socket.socket(socket.AF_INET6 if ":" in a.bind else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.listen(4096)
    s.settimeout(0.2)
    accepted = 0
    end = time.monotonic() + a.max_time
    while not STOP and time.monotonic() < end:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        c.close()
        accepted += 1
    json.dump({"accepted": accepted}, sys.stdout)
    sys.stdout.write("\n")


def connect(a):
    fam = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    pending = {}		# fd -> (socket, started)
    attempts = connected = failed = 0
    poller = select.poll()
    start = time.monotonic()
    deadline = start + a.duration
    total = int(a.rate * a.duration)
    while not STOP:
        now = time.monotonic()
        if attempts < total and now < deadline and now >= start + attempts / a.rate:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind((a.src, 0))
            err = s.connect_ex((a.dst, a.dport))
            attempts += 1
            if err in (0, errno.EINPROGRESS):
                pending[s.fileno()] = (s, now)
                poller.register(s.fileno(), select.POLLOUT)
            else:
                failed += 1
                s.close()
            continue
        if not pending and (attempts >= total or now >= deadline):
            break
        for fd, ev in poller.poll(2):
            s, _ = pending.pop(fd)
            poller.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected += 1
            else:
                failed += 1
            s.close()
        now = time.monotonic()
        for fd, (s, t0) in list(pending.items()):
            if now - t0 >= a.timeout:
                pending.pop(fd)
                poller.unregister(fd)
                failed += 1
                s.close()
    json.dump({"src": a.src, "attempts": attempts, "connected": connected,
               "failed": failed + len(pending)}, sys.stdout)
    sys.stdout.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("listen")
    l.add_argument("--bind", default="0.0.0.0")
    l.add_argument("--port", type=int, required=True)
    l.add_argument("--max-time", type=float, default=60.0)
    c = sub.add_parser("connect")
    c.add_argument("--src", required=True)
    c.add_argument("--dst", required=True)
    c.add_argument("--dport", type=int, required=True)
    c.add_argument("--rate", type=float, default=10.0)
    c.add_argument("--duration", type=float, default=5.0)
    c.add_argument("--timeout", type=float, default=0.5)
    a = p.parse_args()
    if a.cmd == "connect" and not (0 < a.rate <= 10000 and 0 < a.duration <= 300):
        p.error("--rate must be in (0, 10000], --duration in (0, 300]")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    listen(a) if a.cmd == "listen" else connect(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
