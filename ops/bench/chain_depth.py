#!/usr/bin/env python3
"""Latency of one previous_response_id turn as the chain grows.

Creates a chain of N turns against a running riposte and prints the median
latency of the turns around depths 1, 10, 100 and 1000.
  chain_depth.py RIPOSTE_URL [TURNS]
"""
import json
import statistics
import sys
import time
import urllib.request

base = sys.argv[1]
turns = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
latency = []
prev = None
for i in range(turns):
    body = {"model": "bench", "input": f"turn {i}"}
    if prev:
        body["previous_response_id"] = prev
    req = urllib.request.Request(base + "/v1/responses", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        prev = json.load(r)["id"]
    latency.append((time.perf_counter() - t0) * 1000)

print("| chain depth | turn latency median (ms) | items sent to the backend |")
print("|---:|---:|---:|")
for depth in (1, 10, 100, 1000):
    if depth > turns:
        break
    window = latency[max(0, depth - 5):depth + 5]
    print(f"| {depth} | {statistics.median(window):.2f} | {2 * depth - 1} |")
