#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Send UDP datagrams from many source addresses, a few from each.

Real sockets only, one bound to each source address, so every datagram goes
through the sender's stack and out of its veth like a client's. Sources are
taken in turn: round r sends one datagram from every source, --count rounds
in all, optionally paced at --rate rounds per second (0: as fast as the
sockets take them). Prints one JSON object on stdout:

  {"sent": {"10.200.1.100": N, ...}, "total": N, "errors": E}

Sources are given as addresses or as inclusive IPv4 ranges like
10.200.1.100-10.200.1.179.
"""
import argparse
import errno
import ipaddress
import json
import socket
import sys
import time


def sources(specs):
    out = []
    for spec in specs:
        if "-" in spec:
            lo, hi = (ipaddress.IPv4Address(x) for x in spec.split("-", 1))
            if hi < lo:
                sys.exit("udp_spray: empty range %s" % spec)
            out += [str(ipaddress.IPv4Address(a)) for a in range(int(lo), int(hi) + 1)]
        else:
            out.append(str(ipaddress.ip_address(spec)))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", nargs="+", required=True,
                   help="source addresses or IPv4 ranges A-B")
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--count", type=int, default=1, help="datagrams per source")
    p.add_argument("--rate", type=float, default=0.0,
                   help="rounds per second, 0 = as fast as possible")
    p.add_argument("--size", type=int, default=32, help="payload bytes")
    a = p.parse_args()
    if a.count < 1 or a.rate < 0 or not 16 <= a.size <= 1400:
        p.error("--count >= 1, --rate >= 0, --size in [16, 1400]")

    family = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    socks = []
    for src in sources(a.src):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.bind((src, 0))
        socks.append((src, s))
    sent = {src: 0 for src, _ in socks}
    errors = 0
    payload = bytes(a.size)
    start = time.monotonic()
    for r in range(a.count):
        if a.rate > 0:
            due = start + r / a.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        for src, s in socks:
            try:
                s.sendto(payload, (a.dst, a.dport))
                sent[src] += 1
            except OSError as e:
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
                errors += 1
    json.dump({"sent": sent, "total": sum(sent.values()), "errors": errors},
              sys.stdout)
    print()


if __name__ == "__main__":
    main()
