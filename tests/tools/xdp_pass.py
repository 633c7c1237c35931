#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Attach a two-instruction XDP_PASS program to a device in native mode.

Why the tests need it: a frame that a native-mode XDP program on a veth
sends back with XDP_TX (sluice's `reject` answers) goes into the peer
veth's NAPI ring, and the kernel drops it silently (veth_xdp_xmit) unless
the peer has an XDP program of its own. On this kernel turning GRO on the
peer, the other documented way to give it a ring, did not deliver them.
xdp-tools' own tests do the same: an XDP_PASS program on the far end of
every veth. A real NIC has no such precondition; this gives the test
topology what a wire gives, and changes no packet.

  xdp_pass.py DEV          (run inside the device's network namespace)

The program is loaded with the bpf() syscall and attached through
rtnetlink (IFLA_XDP, driver mode), so it stays attached after this process
exits and goes away with the device. No compiler, no object file.
"""
import ctypes
import os
import socket
import struct
import sys

SYS_BPF = 321			# x86_64
BPF_PROG_LOAD = 5
BPF_PROG_TYPE_XDP = 6
XDP_PASS = 2

RTM_SETLINK = 19
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
IFLA_XDP = 43
NLA_F_NESTED = 0x8000
IFLA_XDP_FD, IFLA_XDP_FLAGS = 1, 3
XDP_FLAGS_DRV_MODE = 1 << 2


def load_prog():
    # r0 = XDP_PASS; exit
    insns = struct.pack("<BBhi", 0xb7, 0, 0, XDP_PASS) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    insn_buf = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(4096)
    attr = struct.pack("<IIQQIIQII16s", BPF_PROG_TYPE_XDP, 2,
                       ctypes.addressof(insn_buf), ctypes.addressof(lic),
                       1, len(log), ctypes.addressof(log), 0, 0, b"test_xdp_pass")
    attr_buf = ctypes.create_string_buffer(attr, 128)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(ctypes.c_long(SYS_BPF), ctypes.c_int(BPF_PROG_LOAD),
                      attr_buf, ctypes.c_uint(128))
    if fd < 0:
        e = ctypes.get_errno()
        sys.exit("xdp_pass: BPF_PROG_LOAD: %s: %s" %
                 (os.strerror(e), log.value.decode(errors="replace")))
    return fd


def nla(kind, payload):
    n = 4 + len(payload)
    return struct.pack("<HH", n, kind) + payload + b"\0" * ((4 - n % 4) % 4)


def attach(ifindex, fd):
    xdp = nla(IFLA_XDP_FD, struct.pack("<i", fd)) + \
        nla(IFLA_XDP_FLAGS, struct.pack("<I", XDP_FLAGS_DRV_MODE))
    body = struct.pack("<BxHiII", socket.AF_UNSPEC, 0, ifindex, 0, 0) + \
        nla(IFLA_XDP | NLA_F_NESTED, xdp)
    msg = struct.pack("<IHHII", 16 + len(body), RTM_SETLINK,
                      NLM_F_REQUEST | NLM_F_ACK, 1, 0) + body
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.bind((0, 0))
    s.send(msg)
    ans = s.recv(65536)
    _, kind, _, _, _ = struct.unpack_from("<IHHII", ans)
    if kind != NLMSG_ERROR:
        sys.exit("xdp_pass: unexpected netlink answer type %d" % kind)
    err, = struct.unpack_from("<i", ans, 16)
    if err:
        sys.exit("xdp_pass: attaching to ifindex %d: %s" % (ifindex, os.strerror(-err)))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: xdp_pass.py DEV")
    ifindex = socket.if_nametoindex(sys.argv[1])
    attach(ifindex, load_prog())
    return 0


if __name__ == "__main__":
    sys.exit(main())
