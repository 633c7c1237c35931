#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Send a few datagrams on a connected UDP socket and report the error it gets.

A connected UDP socket is how an application learns of an ICMP error: the
kernel matches the quoted header to the socket and the next recv() or send()
fails with the errno the ICMP type and code map to. This sends --count
datagrams, --gap seconds apart (a send that fails is recorded, not retried),
then waits up to --wait seconds in recv() and prints one JSON object:

  {"sent": N, "send_errors": [[I, "ERRNO"], ...], "recv_errno": "ERRNO"|null,
   "recv_ms": T, "received": N}

recv_ms is how long recv() waited for its result after the last send;
recv_errno is null if recv() timed out (no error arrived) or got data.
"""
import argparse
import errno
import json
import socket
import sys
import time


def errname(e):
    return errno.errorcode.get(e, str(e))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--gap", type=float, default=0.05)
    p.add_argument("--wait", type=float, default=1.0)
    a = p.parse_args()
    if not 0 < a.count <= 1000 or not 0 <= a.gap <= 5 or not 0 < a.wait <= 30:
        p.error("--count in (0, 1000], --gap in [0, 5], --wait in (0, 30]")

    fam = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((a.src, 0))
    s.connect((a.dst, a.dport))
    sent = 0
    send_errors = []
    for i in range(a.count):
        if i:
            time.sleep(a.gap)
        try:
            s.send(b"probe %d" % i)
            sent += 1
        except OSError as e:
            send_errors.append([i, errname(e.errno)])

    received = 0
    recv_errno = None
    s.settimeout(a.wait)
    t0 = time.monotonic()
    try:
        s.recv(2048)
        received += 1
    except socket.timeout:
        pass
    except OSError as e:
        recv_errno = errname(e.errno)
    ms = (time.monotonic() - t0) * 1000
    json.dump({"sent": sent, "send_errors": send_errors, "recv_errno": recv_errno,
               "recv_ms": round(ms, 3), "received": received}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
