#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""An HTTP/1.0 server that fails on demand, and a client that says how.

  http_status.py serve --bind ADDR --port P --fail-file PATH --log PATH
                       [--ready-file PATH] [--max-time S]
      answers every GET with 200, or with 503 while PATH exists; appends
      one line per request ("200" or "503") to --log; closes after each
      response (HTTP/1.0), so every request is a new connection.
  http_status.py get --host ADDR --port P [--count N] [--timeout S]
      N requests, one connection each, one after the other; prints
      {"results": [{"status": 200, "ms": 1.2} | {"errno": "ECONNREFUSED",
      "ms": 0.4}, ...]} as JSON. A connection refused or reset, or one that
      times out, is a result, not a failure of the tool.
Bounded: the server stops by itself after --max-time.
"""
import argparse
import errno
import http.server
import json
import os
import socket
import sys
import threading
import time


def serve(a):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self):
            failing = os.path.exists(a.fail_file)
            body = b"failing\n" if failing else b"ok\n"
            self.send_response(503 if failing else 200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            with open(a.log, "a") as f:
                f.write("%d\n" % (503 if failing else 200))

        def log_message(self, fmt, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
        allow_reuse_address = True
        daemon_threads = True

    srv = Server((a.bind, a.port), Handler)
    open(a.log, "a").close()
    if a.ready_file:
        open(a.ready_file, "w").close()
    stopper = threading.Timer(a.max_time, srv.shutdown)
    stopper.daemon = True
    stopper.start()
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()


def get_once(a):
    start = time.monotonic()
    result = {}
    try:
        with socket.create_connection((a.host, a.port), timeout=a.timeout) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: sluice-test\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        line = data.split(b"\r\n", 1)[0].split()
        result["status"] = int(line[1]) if len(line) > 1 and line[1].isdigit() else None
    except OSError as e:
        if isinstance(e, socket.timeout):
            result["errno"] = "ETIMEDOUT"
        else:
            result["errno"] = errno.errorcode.get(e.errno, str(e.errno))
    result["ms"] = round((time.monotonic() - start) * 1000, 3)
    return result


def get(a):
    results = [get_once(a) for _ in range(a.count)]
    json.dump({"results": results}, sys.stdout)
    print()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--fail-file", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--ready-file")
    s.add_argument("--max-time", type=float, default=300)
    g = sub.add_parser("get")
    g.add_argument("--host", required=True)
    g.add_argument("--port", type=int, required=True)
    g.add_argument("--count", type=int, default=1)
    g.add_argument("--timeout", type=float, default=3)
    a = p.parse_args()
    if a.cmd == "serve":
        serve(a)
    else:
        get(a)


if __name__ == "__main__":
    main()
