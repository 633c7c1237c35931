#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Parse a Prometheus text exposition with the real parser and query it.

The parser is python3-prometheus-client's
prometheus_client.parser.text_string_to_metric_families, the one a scraper
written in Python would use: an exposition it rejects is a failure, not a
warning.

  prom_eval.py FILE EXPR

parses FILE, then evaluates the Python expression EXPR and prints its value
(JSON for containers, bools and None). EXPR sees:

  samples      [(name, {label: value}, value), ...] in exposition order
  families     {family name: type} as the parser names them (a counter's
               family name has no "_total")
  m(NAME, **LABELS)
               the value of the one sample called NAME whose labels include
               LABELS; no such sample, or more than one, is an error
  ms(NAME, **LABELS)
               the list of (labels, value) of every such sample (may be empty)
  labelnames   the set of every label name used by any sample

Exit 0 with the value printed; 1 with one line on stderr if the parser is
missing, the text does not parse, or EXPR fails.
"""
import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: prom_eval.py FILE EXPR")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError as e:
        sys.exit("prom_eval: python3-prometheus-client is not installed for %s "
                 "(apt-get install python3-prometheus-client): %s" %
                 (sys.executable, e))
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    samples, families = [], {}
    try:
        for fam in text_string_to_metric_families(text):
            families[fam.name] = fam.type
            for s in fam.samples:
                samples.append((s.name, dict(s.labels), s.value))
    except Exception as e:	# the parser raises ValueError and others
        sys.exit("prom_eval: the exposition does not parse: %s: %s" %
                 (type(e).__name__, e))

    def ms(name, **labels):
        return [(l, v) for n, l, v in samples
                if n == name and all(l.get(k) == str(x) for k, x in labels.items())]

    def m(name, **labels):
        found = ms(name, **labels)
        if len(found) != 1:
            raise KeyError("%d samples %s%s (there are: %s)" % (
                len(found), name, labels,
                sorted({n for n, _, _ in samples})))
        v = found[0][1]
        return int(v) if v == int(v) else v

    labelnames = {k for _, l, _ in samples for k in l}
    env = {"samples": samples, "families": families, "m": m, "ms": ms,
           "labelnames": labelnames}
    try:
        v = eval(sys.argv[2], env)
    except Exception as e:
        sys.exit("prom_eval: %s: %s: %s" % (sys.argv[2], type(e).__name__, e))
    if isinstance(v, set):
        v = sorted(v)
    print(json.dumps(v) if isinstance(v, (dict, list, tuple, bool)) or v is None else v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
