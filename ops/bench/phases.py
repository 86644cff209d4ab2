"""Where a blocking create's wall time went: the mean of each phase of
riposte_create_phase_seconds between two scrapes of /metrics.
  python3 ops/bench/phases.py BEFORE AFTER   -> JSON {phase: mean_us, ..., "creates": n}"""
import json, re, sys

def read(path):
    sums, counts = {}, {}
    for line in open(path):
        m = re.match(r'riposte_create_phase_seconds_(sum|count)\{phase="([a-z_]+)"\} (\S+)', line)
        if m:
            (sums if m.group(1) == "sum" else counts)[m.group(2)] = float(m.group(3))
    return sums, counts

(s0, c0), (s1, c1) = read(sys.argv[1]), read(sys.argv[2])
out = {}
for phase in s1:
    n = c1.get(phase, 0) - c0.get(phase, 0)
    out[phase] = (s1[phase] - s0.get(phase, 0)) / n * 1e6 if n else 0
    out["creates"] = int(n)
print(json.dumps(out))
