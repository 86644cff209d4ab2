"""Where a blocking create's wall time went: the mean of each phase of
riposte_create_phase_seconds between two scrapes of /metrics, and of each
step of riposte_create_backend_wait_seconds (its backend_first_update phase
split, keys "wait.<step>", with "split": how many creates it covers) and
riposte_create_store_wait_seconds (its store_and_answer phase split, keys
"store.<step>", with "store_split").
  python3 ops/bench/phases.py BEFORE AFTER   -> JSON {phase: mean_us, ..., "creates": n}"""
import json, re, sys

def read(path, family):
    sums, counts = {}, {}
    for line in open(path):
        m = re.match(family + r'_(sum|count)\{phase="([a-z_]+)"\} (\S+)', line)
        if m:
            (sums if m.group(1) == "sum" else counts)[m.group(2)] = float(m.group(3))
    return sums, counts

out = {}
for family, prefix, total in (("riposte_create_phase_seconds", "", "creates"),
                              ("riposte_create_backend_wait_seconds", "wait.", "split"),
                              ("riposte_create_store_wait_seconds", "store.", "store_split")):
    (s0, c0), (s1, c1) = read(sys.argv[1], family), read(sys.argv[2], family)
    for phase in s1:
        n = c1.get(phase, 0) - c0.get(phase, 0)
        out[prefix + phase] = (s1[phase] - s0.get(phase, 0)) / n * 1e6 if n else 0
        out[total] = int(n)
print(json.dumps(out))
