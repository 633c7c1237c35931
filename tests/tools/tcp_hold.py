#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Hold TCP connections open, and open or close them one at a time on command.

A connection-limit test needs connections that stay open while it looks at
the counters, and that end exactly when and how it says: closed by the
client (FIN), closed by the server (FIN), or abandoned without a word. Two
roles, each a long-running process driven through a UNIX stream socket (a
filesystem path, so it reaches across network namespaces):

  tcp_hold.py server --bind ADDR --port P --ctl PATH
      accepts and keeps every connection; reads and discards what arrives;
      a connection whose client closes is closed in turn.
  tcp_hold.py client --ctl PATH
      opens connections when asked and keeps them.
  tcp_hold.py ctl PATH COMMAND [ARG...]
      sends one command, prints the one-line JSON answer, exits 0 if the
      answer has no "error" key.

Server commands:
  count           {"open": N, "accepted": N, "peer_closed": N}
  close N         closes the N oldest open connections (FIN): {"closed": N}
  closeport P     closes the connection whose client port is P: {"closed": 1}
  abortport P     the same with a RST (SO_LINGER 0) instead of a FIN

Client commands:
  open SRC DST PORT [TIMEOUT]
                  one blocking connect(), bound to SRC, at most TIMEOUT
                  seconds (default 3): {"ok": true, "id": I, "ms": T, "sport": P}
                  or {"ok": false, "errno": "ECONNREFUSED", "ms": T}
  close ID        close() (FIN): {"closed": ID}
  abort ID        close() with SO_LINGER 0, which sends a RST: {"closed": ID}
  state ID        "open", "eof" (the server closed) or "error:ERRNO"
  ping ID         sends one byte, so the connection is not idle: {"sent": 1}
  ids             {"open": [ID, ...]}

Both: "quit" ends the process. Every loop is bounded by --max-time.
"""
import argparse
import errno
import json
import os
import select
import socket
import struct
import sys
import time


def errname(e):
    return errno.errorcode.get(e, str(e))


def abort(sock):
    """close() that sends a RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Ctl:
    """The control socket: one command per connection, one answer line."""

    def __init__(self, path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path + ".tmp")
        os.rename(path + ".tmp", path)
        self.sock.listen(16)

    def serve_one(self, handler):
        c, _ = self.sock.accept()
        with c:
            c.settimeout(5)
            buf = b""
            while not buf.endswith(b"\n") and len(buf) < 4096:
                chunk = c.recv(4096)
                if not chunk:
                    break
                buf += chunk
            words = buf.decode().split()
            try:
                ans = handler(words) if words else {"error": "empty command"}
            except (ValueError, KeyError, IndexError) as e:
                ans = {"error": "%s: %s" % (type(e).__name__, e)}
            c.sendall((json.dumps(ans) + "\n").encode())
            return ans


def server(a):
    fam = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.bind, a.port))
    ls.listen(128)
    ctl = Ctl(a.ctl)
    conns = []		# oldest first
    ports = {}		# socket -> the client's port
    stats = {"accepted": 0, "peer_closed": 0}
    quit_ = []

    def handle(w):
        if w[0] == "count":
            return {"open": len(conns), **stats}
        if w[0] == "close":
            n = min(int(w[1]), len(conns))
            for _ in range(n):
                c = conns.pop(0)
                ports.pop(c, None)
                c.close()
            return {"closed": n}
        if w[0] in ("closeport", "abortport"):
            for c in conns:
                if ports.get(c) == int(w[1]):
                    conns.remove(c)
                    ports.pop(c, None)
                    if w[0] == "abortport":
                        abort(c)
                    else:
                        c.close()
                    return {"closed": 1}
            return {"error": "no open connection from port %s" % w[1]}
        if w[0] == "quit":
            quit_.append(1)
            return {"quit": True}
        return {"error": "unknown command %r" % w[0]}

    end = time.monotonic() + a.max_time
    while not quit_ and time.monotonic() < end:
        r, _, _ = select.select([ls, ctl.sock] + conns, [], [], 0.2)
        for s in r:
            if s is ls:
                c, peer = ls.accept()
                conns.append(c)
                ports[c] = peer[1]
                stats["accepted"] += 1
            elif s is ctl.sock:
                ctl.serve_one(handle)
            elif s in conns:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    conns.remove(s)
                    ports.pop(s, None)
                    s.close()
                    stats["peer_closed"] += 1
    return 0


def client(a):
    ctl = Ctl(a.ctl)
    conns = {}
    next_id = [0]
    quit_ = []

    def do_open(src, dst, port, timeout):
        fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(timeout)
        t0 = time.monotonic()
        try:
            s.connect((dst, port))
        except socket.timeout:
            s.close()
            return {"ok": False, "errno": "ETIMEDOUT",
                    "ms": round((time.monotonic() - t0) * 1000, 3)}
        except OSError as e:
            s.close()
            return {"ok": False, "errno": errname(e.errno),
                    "ms": round((time.monotonic() - t0) * 1000, 3)}
        ms = round((time.monotonic() - t0) * 1000, 3)
        i = next_id[0]
        next_id[0] += 1
        conns[i] = s
        return {"ok": True, "id": i, "ms": ms, "sport": s.getsockname()[1]}

    def state(s):
        s.setblocking(False)
        try:
            data = s.recv(4096, socket.MSG_PEEK)
        except BlockingIOError:
            return "open"
        except OSError as e:
            return "error:" + errname(e.errno)
        finally:
            s.setblocking(True)
        return "eof" if not data else "open"

    def handle(w):
        if w[0] == "open":
            timeout = float(w[4]) if len(w) > 4 else 3.0
            return do_open(w[1], w[2], int(w[3]), timeout)
        if w[0] in ("close", "abort"):
            i = int(w[1])
            if w[0] == "abort":
                abort(conns.pop(i))
            else:
                conns.pop(i).close()
            return {"closed": i}
        if w[0] == "state":
            return {"id": int(w[1]), "state": state(conns[int(w[1])])}
        if w[0] == "ping":
            conns[int(w[1])].send(b"p")
            return {"sent": 1}
        if w[0] == "ids":
            return {"open": sorted(conns)}
        if w[0] == "quit":
            quit_.append(1)
            return {"quit": True}
        return {"error": "unknown command %r" % w[0]}

    end = time.monotonic() + a.max_time
    while not quit_ and time.monotonic() < end:
        r, _, _ = select.select([ctl.sock], [], [], 0.2)
        if r:
            ctl.serve_one(handle)
    return 0


def send_ctl(a):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    s.connect(a.path)
    s.sendall((" ".join(a.words) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    sys.stdout.write(buf.decode())
    ans = json.loads(buf)
    return 1 if "error" in ans else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--ctl", required=True)
    s.add_argument("--max-time", type=float, default=120.0)
    c = sub.add_parser("client")
    c.add_argument("--ctl", required=True)
    c.add_argument("--max-time", type=float, default=120.0)
    k = sub.add_parser("ctl")
    k.add_argument("--timeout", type=float, default=10.0)
    k.add_argument("path")
    k.add_argument("words", nargs="+")
    a = p.parse_args()
    if a.cmd in ("server", "client") and not 0 < a.max_time <= 600:
        p.error("--max-time must be in (0, 600]")
    return {"server": server, "client": client, "ctl": send_ctl}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
