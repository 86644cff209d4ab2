#!/usr/bin/env python3
"""Latency of one previous_response_id turn as the chain grows, next to the
same conversation sent to the backend directly (its own cost).

  chain_depth.py RIPOSTE_URL BACKEND_URL [TURNS]
"""
import json
import statistics
import sys
import time
import urllib.request


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        out = r.read()
    return (time.perf_counter() - t0) * 1000, out


riposte, backend = sys.argv[1], sys.argv[2]
turns = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
probes = {1, 10, 100, 1000}
samples = 21  # turns timed at each probed depth, alternating with the backend
through, direct = {}, {}
prev = None
messages = []
for i in range(1, turns + 1):
    body = {"model": "bench", "input": f"turn {i}"}
    if prev:
        body["previous_response_id"] = prev
    messages.append({"role": "user", "content": f"turn {i}"})
    if i in probes:
        # Branches off the same parent: each is a turn at exactly depth i,
        # timed next to the same conversation sent to the backend itself.
        for _ in range(samples):
            ms, _ = post(riposte + "/v1/responses", body)
            through.setdefault(i, []).append(ms)
            d_ms, _ = post(backend + "/api/chat",
                           {"model": "bench", "messages": messages, "stream": True})
            direct.setdefault(i, []).append(d_ms)
    _, out = post(riposte + "/v1/responses", body)
    prev = json.loads(out)["id"]
    messages.append({"role": "assistant", "content": "ok"})

rows = []
for depth in sorted(through):
    t, d = statistics.median(through[depth]), statistics.median(direct[depth])
    rows.append({"depth": depth, "riposte_ms": t, "direct_ms": d, "added_ms": t - d})
if len(sys.argv) > 4:
    json.dump(rows, open(sys.argv[4], "w"), indent=2)
print("| chain depth | through riposte, median (ms) | backend directly (ms) | added (ms) |")
print("|---:|---:|---:|---:|")
for depth in sorted(through):
    t, d = statistics.median(through[depth]), statistics.median(direct[depth])
    print(f"| {depth} | {t:.2f} | {d:.2f} | {t - d:.2f} |")
