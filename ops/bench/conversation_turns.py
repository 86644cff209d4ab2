#!/usr/bin/env python3
"""Latency of one `conversation` turn as the conversation grows, next to the
same messages sent to the backend directly (its own cost).

  conversation_turns.py RIPOSTE_URL BACKEND_URL [TURNS] [OUT_JSON] [PASSIVATE_MS]

Every turn is a real turn (it appends to the conversation); the turns in a
window of 21 around each probed size are timed, each next to the backend
answering the same conversation itself. With PASSIVATE_MS (riposte's
--passivate-after-ms), 21 more turns are timed cold: each after a pause that
lets the conversation's actor passivate, so that it is read back from the
log (its latest snapshot, then the events after it).
"""
import json
import statistics
import sys
import time
import urllib.error
import urllib.request


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req) as r:
            out = r.read()
    except urllib.error.HTTPError as e:
        sys.exit(f"{url}: {e.code} {e.read()[:500]!r}")
    return (time.perf_counter() - t0) * 1000, out


riposte, backend = sys.argv[1], sys.argv[2]
turns = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
window = 21
probes = sorted({p for p in (1, 10, 100, 1000, turns) if p <= turns})
timed = set()
for p in probes:
    start = max(1, min(p, turns - window + 1))
    timed.update(range(start, start + window))
_, out = post(riposte + "/v1/conversations", {})
conv = json.loads(out)["id"]
through, direct = {}, {}
messages = []
for i in range(1, turns + 1):
    body = {"model": "bench", "input": f"turn {i}", "conversation": conv}
    messages.append({"role": "user", "content": f"turn {i}"})
    ms, out = post(riposte + "/v1/responses", body)
    if json.loads(out)["status"] != "completed":
        sys.exit(f"turn {i} did not complete: {out[:300]}")
    if i in timed:
        probe = min(probes, key=lambda p: abs(p - i))
        through.setdefault(probe, []).append(ms)
        d_ms, _ = post(backend + "/api/chat", {"model": "bench", "messages": messages, "stream": True})
        direct.setdefault(probe, []).append(d_ms)
    messages.append({"role": "assistant", "content": "ok"})

passivate_ms = int(sys.argv[5]) if len(sys.argv) > 5 else 0
cold, cold_direct = [], []
for i in range(turns + 1, turns + 1 + (window if passivate_ms else 0)):
    time.sleep(passivate_ms * 3 / 1000)
    body = {"model": "bench", "input": f"turn {i}", "conversation": conv}
    messages.append({"role": "user", "content": f"turn {i}"})
    ms, out = post(riposte + "/v1/responses", body)
    if json.loads(out)["status"] != "completed":
        sys.exit(f"turn {i} did not complete: {out[:300]}")
    cold.append(ms)
    d_ms, _ = post(backend + "/api/chat", {"model": "bench", "messages": messages, "stream": True})
    cold_direct.append(d_ms)
    messages.append({"role": "assistant", "content": "ok"})

rows = []
for turn in sorted(through):
    t, d = statistics.median(through[turn]), statistics.median(direct[turn])
    rows.append({"turn": turn, "items_before": 2 * (turn - 1), "riposte_ms": t, "direct_ms": d,
                 "added_ms": t - d})
if cold:
    t, d = statistics.median(cold), statistics.median(cold_direct)
    rows.append({"turn": turns + 1, "items_before": 2 * turns, "riposte_ms": t, "direct_ms": d,
                 "added_ms": t - d, "cold": True})
if len(sys.argv) > 4:
    json.dump(rows, open(sys.argv[4], "w"), indent=2)
print("| turn (median of 21 around it) | items before it | through riposte (ms) | backend directly (ms) | added (ms) |")
print("|---:|---:|---:|---:|---:|")
for r in rows:
    label = f"{r['turn']}+, cold" if r.get("cold") else r['turn']
    print(f"| {label} | {r['items_before']} | {r['riposte_ms']:.2f} | {r['direct_ms']:.2f} | {r['added_ms']:.2f} |")
