#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""tests/fuzz/seeds.py OUTDIR: the config fuzzer's seed corpus, from the repo.

Writes one file per config found in the repository into OUTDIR (emptied
first), so the seeds follow the examples, tests and docs as they change:

  examples/*.conf           each file as it is
  tests/e2e/*.sh            each <<CONF here-document, shell variables given
                            plausible values; each `rule|allow|deny add IFACE
                            ...` command as the statement it adds
  README.md                 per code block, the lines that are statements,
                            and `sluice rule|allow|deny add IFACE ...` as
                            statements
  docs/*.8                  the same, for .nf/.fi blocks
  tests/unit/test_*.c       each C string literal that starts with a
                            statement keyword (the parser's tests: every
                            statement and every error)

Statement keywords are read from user/config.c's statement tables, so new
statements are picked up without touching this script.
"""
import glob
import hashlib
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FALLBACK_KEYWORDS = ["interface", "malformed", "keys", "allow", "deny", "rule",
                     "breaker", "cluster", "metrics"]


def keywords():
    try:
        with open(os.path.join(ROOT, "user", "config.c")) as f:
            src = f.read()
    except OSError:
        return FALLBACK_KEYWORDS
    words = re.findall(r'\{\s*"([a-z][a-z0-9-]*)",\s*parse_\w+\s*\}', src)
    m = re.search(r"later_statements\[\]\s*=\s*\{([^}]*)\}", src)
    if m:
        words += re.findall(r'"([^"]+)"', m.group(1))
    return words or FALLBACK_KEYWORDS


KEYWORDS = keywords()


def is_statement(line):
    words = line.split()
    return bool(words) and words[0] in KEYWORDS


def shell_values(text):
    """Plausible values for the e2e scripts' variables ($PORT, ${RATE}...)."""
    def value(m):
        name = m.group(1) or m.group(2)
        if "PORT" in name:
            return "5000"
        if "RATE" in name or "BURST" in name:
            return "100"
        if "IF" in name:
            return "veth0"
        return "fd00:200:1::2" if name.endswith("6") else "10.200.1.2"
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def add_command(line, iface=r"\S+"):
    """`sluice rule add IFACE ...` and the like, as the statement they add."""
    m = re.search(r'\b(rule|allow|deny) add\s+(%s)\s+(.*)$' % iface, line)
    if not m:
        return None
    rest = m.group(3).split(" >")[0].split(" 2>")[0].replace('"', "").strip()
    # A whole statement in one variable ($extra_rule) has no value to give.
    if not rest or re.fullmatch(r"\$\{?\w+\}?", rest):
        return None
    if m.group(1) == "rule" and not rest.startswith("rule "):
        rest = "rule " + rest
    elif m.group(1) != "rule":
        rest = m.group(1) + " " + rest
    return shell_values(rest)


def from_e2e(path):
    seeds, body, term = [], None, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if body is not None:
                if line.strip() == term:
                    seeds.append(shell_values("\n".join(body)) + "\n")
                    body = None
                else:
                    body.append(line)
                continue
            m = re.search(r"<<-?\s*'?(CONF\w*)'?", line)
            if m:
                body, term = [], m.group(1)
                continue
            # The tests name the interface by variable: "$IF_GW".
            stmt = add_command(line, r'"?\$\{?IF\w*\}?"?')
            if stmt:
                seeds.append(stmt + "\n")
    return seeds


def from_blocks(blocks):
    seeds = []
    for block in blocks:
        lines = []
        for line in block:
            if is_statement(line):
                lines.append(line)
            else:
                stmt = add_command(line) if "sluice " in line else None
                if stmt:
                    seeds.append(stmt + "\n")
        if lines:
            seeds.append("\n".join(lines) + "\n")
    return seeds


def from_markdown(path):
    blocks, block = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("```"):
                if block is None:
                    block = []
                else:
                    blocks.append(block)
                    block = None
            elif block is not None:
                block.append(line)
    return from_blocks(blocks)


def from_man(path):
    blocks, block = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".nf"):
                block = []
            elif line.startswith(".fi"):
                if block is not None:
                    blocks.append(block)
                block = None
            elif block is not None:
                block.append(line.replace("\\-", "-").replace("\\e", "\\"))
    return from_blocks(blocks)


C_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", "a": "\a",
             "b": "\b", "\\": "\\", '"': '"', "'": "'", "?": "?"}


def c_unescape(s):
    """The bytes a C string literal's text stands for."""
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c != "\\" or i + 1 == len(s):
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        n = s[i + 1]
        if n == "x":
            m = re.match(r"[0-9a-fA-F]+", s[i + 2:])
            out.append(int(m.group(0), 16) & 0xff if m else ord("x"))
            i += 2 + (len(m.group(0)) if m else 0)
        elif n in "01234567":
            m = re.match(r"[0-7]{1,3}", s[i + 1:])
            out.append(int(m.group(0), 8) & 0xff)
            i += 1 + len(m.group(0))
        else:
            out += C_ESCAPES.get(n, n).encode("utf-8", "surrogateescape")
            i += 2
    return bytes(out)


def from_c(path):
    with open(path, errors="replace") as f:
        src = f.read()
    # Adjacent literals are one string, as the compiler sees them.
    lit = r'"(?:[^"\\\n]|\\.)*"'
    seeds = []
    for m in re.finditer(r"%s(?:\s*%s)*" % (lit, lit), src):
        parts = re.findall(lit, m.group(0))
        s = c_unescape("".join(p[1:-1] for p in parts))
        if is_statement(s.decode("latin-1")):
            seeds.append(s if s.endswith(b"\n") else s + b"\n")
    return seeds


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: %s OUTDIR" % sys.argv[0])
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for old in glob.glob(os.path.join(out, "*")):
        os.remove(old)

    sources = []
    for p in sorted(glob.glob(os.path.join(ROOT, "examples", "*.conf"))):
        with open(p) as f:
            sources.append(("example-" + os.path.basename(p), [f.read()]))
    for p in sorted(glob.glob(os.path.join(ROOT, "tests", "e2e", "*.sh"))):
        sources.append(("e2e-" + os.path.basename(p)[:-3], from_e2e(p)))
    readme = os.path.join(ROOT, "README.md")
    if os.path.exists(readme):
        sources.append(("readme", from_markdown(readme)))
    for p in sorted(glob.glob(os.path.join(ROOT, "docs", "*.8"))):
        sources.append(("man-" + os.path.basename(p), from_man(p)))
    for p in sorted(glob.glob(os.path.join(ROOT, "tests", "unit", "test_*.c"))):
        sources.append(("unit-" + os.path.basename(p)[:-2], from_c(p)))

    seen, written = set(), 0
    for name, seeds in sources:
        for i, text in enumerate(seeds):
            data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
            digest = hashlib.sha1(data).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            with open(os.path.join(out, "%s-%d" % (name, i + 1)), "wb") as f:
                f.write(data)
            written += 1
    print("seeds: %d configs in %s" % (written, out))


if __name__ == "__main__":
    main()
