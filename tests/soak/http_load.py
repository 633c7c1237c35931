#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""HTTP clients against a real server, for as long as the soak runs.

Starts --rate connections per second, spread over the --src addresses in
turn. A connection that opens sends a keep-alive GET every --every seconds
and closes after a random hold of up to --hold seconds: most with a FIN,
one in --rst-every with an RST (SO_LINGER 0), so both ends of sluice's
connection tracking see both kinds of release. A connection refused (sluice's
`reject` answers with an RST) or not open within --timeout counts as such.
Runs until SIGTERM or SIGINT, then closes every open connection with a FIN
and prints one JSON object on stdout:

  {"attempts": N, "connected": N, "refused": N, "timeouts": N,
   "requests": N, "responses": N, "errors": N, "closed_fin": N,
   "closed_rst": N}

Every connection is accounted for: attempts = connected + refused +
timeouts, connected = closed_fin + closed_rst.
"""
import argparse
import errno
import json
import random
import select
import signal
import socket
import struct
import sys
import time

STOP = []


def on_signal(signum, frame):
    STOP.append(signum)


class Conn:
    def __init__(self, sock, started):
        self.sock = sock
        self.started = started
        self.open = False
        self.close_at = 0.0
        self.next_req = 0.0
        self.waiting = False
        self.asked = 0.0
        self.buf = b""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", nargs="+", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, default=80)
    p.add_argument("--rate", type=float, default=20.0)
    p.add_argument("--hold", type=float, default=2.0)
    p.add_argument("--every", type=float, default=0.5)
    p.add_argument("--timeout", type=float, default=0.8)
    p.add_argument("--rst-every", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    rnd = random.Random(a.seed)
    request = ("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % a.dst).encode()
    st = dict(attempts=0, connected=0, refused=0, timeouts=0, requests=0,
              responses=0, errors=0, closed_fin=0, closed_rst=0)
    conns = {}
    poller = select.poll()
    start = time.monotonic()

    def close(c, rst):
        poller.unregister(c.sock.fileno())
        del conns[c.sock.fileno()]
        if rst:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.sock.close()
        st["closed_rst" if rst else "closed_fin"] += 1

    def drop(c, what):
        poller.unregister(c.sock.fileno())
        del conns[c.sock.fileno()]
        c.sock.close()
        st[what] += 1

    while not STOP:
        now = time.monotonic()
        while st["attempts"] < (now - start) * a.rate:
            src = a.src[st["attempts"] % len(a.src)]
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind((src, 0))
            err = s.connect_ex((a.dst, a.dport))
            st["attempts"] += 1
            if err not in (0, errno.EINPROGRESS):
                s.close()
                st["refused"] += 1
                continue
            conns[s.fileno()] = Conn(s, now)
            poller.register(s.fileno(), select.POLLOUT)
        for fd, ev in poller.poll(50):
            c = conns.get(fd)
            if c is None:
                continue
            if not c.open:
                if c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    drop(c, "refused")
                    continue
                c.open = True
                st["connected"] += 1
                c.close_at = now + rnd.uniform(0, a.hold)
                c.next_req = now
                poller.modify(fd, select.POLLIN)
                continue
            try:
                data = c.sock.recv(65536)
            except OSError:
                data = None
            if not data:
                # The server closed (keep-alive timeout) or reset: the
                # connection ends here, closed from the other side.
                st["errors"] += data is None
                close(c, False)
                continue
            c.buf += data
            while b"\r\n\r\n" in c.buf:
                head, rest = c.buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                if len(rest) < length:
                    break
                c.buf = rest[length:]
                st["responses"] += head.startswith(b"HTTP/1.1 200")
                st["errors"] += not head.startswith(b"HTTP/1.1 200")
                c.waiting = False
        now = time.monotonic()
        for c in list(conns.values()):
            if not c.open:
                if now - c.started >= a.timeout:
                    drop(c, "timeouts")
                continue
            if c.waiting and now - c.asked > 5:
                st["errors"] += 1	# no answer in 5 s: give up on it
                close(c, True)
            elif now >= c.close_at and not c.waiting:
                close(c, rnd.randrange(a.rst_every) == 0)
            elif not c.waiting and now >= c.next_req:
                try:
                    c.sock.send(request)
                    st["requests"] += 1
                    c.waiting = True
                    c.asked = now
                    c.next_req = now + a.every
                except OSError:
                    st["errors"] += 1
                    close(c, False)
    for c in list(conns.values()):
        if c.open:
            close(c, False)
        else:
            drop(c, "timeouts")
    json.dump(st, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
