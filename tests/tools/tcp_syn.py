#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Send one bare TCP SYN over IPv4 from a raw socket, and nothing after it.

A half-open connection for a test: the SYN reaches the server like any
client's, but no socket on this host owns the connection, so nothing
answers the SYN-ACK except the stack's RST (which the test drops with nft
when it wants the connection left half-open). scapy does the same in a
few seconds of start-up; this takes milliseconds, so a test can time the
moment the client vanished.

  tcp_syn.py --src ADDR --dst ADDR --sport P --dport P [--seq N]

Prints {"sent": 1, "time": T} with T the CLOCK_MONOTONIC seconds of the send.
"""
import argparse
import json
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--sport", type=int, required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--seq", type=int, default=1000)
    a = p.parse_args()

    src, dst = socket.inet_aton(a.src), socket.inet_aton(a.dst)
    # 20-byte header, data offset 5, SYN, window 64240, no options.
    hdr = struct.pack("!HHIIBBHHH", a.sport, a.dport, a.seq, 0, 5 << 4, 0x02,
                      64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(hdr))
    hdr = hdr[:16] + struct.pack("!H", checksum(pseudo + hdr)) + hdr[18:]

    # IPPROTO_TCP raw socket: the kernel writes the IP header, routes by
    # dst and keeps the bound source address.
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.bind((a.src, 0))
    s.sendto(hdr, (a.dst, 0))
    json.dump({"sent": 1, "time": time.monotonic()}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
