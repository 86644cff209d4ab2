#!/usr/bin/env bash
# Replicas on one PostgreSQL, two figures in one run:
# 1. Creates with 1, 2 and 3 replicas: blocking creates against an instantly
#    answering backend, 50 connections split evenly over the replicas (one
#    wrk per replica, all at once; 3 × 16 = 48 for three), then one
#    connection against the first replica while the others run idle. On a
#    2-core machine that also runs PostgreSQL, the backend and the load
#    generators this shows what more replicas cost, not how they scale.
# 2. How much later a client streaming a response through replica B sees
#    each event than the client of replica A, which runs it (B hears of A's
#    appends through LISTEN/NOTIFY, then reads them from the log). The
#    backend streams a token every 20 ms.
#   bash ops/bench/replicas.sh [ROUNDS] [EVENTS] [SECONDS]
# RIPOSTE_BIN runs another build (e.g. an older release, for a baseline);
# RIPOSTE_BENCH_FLAGS adds riposte flags (e.g. --backend-concurrency 64).
# Writes build/bench/replicas.json and build/bench/replicas.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
events=${2:-200}
seconds=${3:-5}
source ops/bench/lib.sh
bench_init replicas

python3 - "$work/script.json" "$events" <<'PY'
import json, sys
chunks = [{"content": "t%d " % i} for i in range(int(sys.argv[2]) + 50)]
json.dump({"models": [{"name": "bench", "capabilities": ["completion"], "context_length": 8192},
                      {"name": "fast", "capabilities": ["completion"], "context_length": 8192}],
           "rules": [{"match": {"model": "bench"}, "reply": {"chunks": chunks, "delay_ms": 20}},
                     {"match": {"model": "fast"}, "reply": {"chunks": [{"content": "ok"}]}}]},
          open(sys.argv[1], "w"))
PY
start_backend "$work/script.json"
bash tests/support/pg_start.sh "$work/pg" >/dev/null
url=$(cat "$work/pg/url")
wrk_lua '{"model":"fast","input":"hi"}' > "$work/create.lua"
wrk_lua '{"model":"fast","messages":[{"role":"user","content":"hi"}],"stream":false}' > "$work/chat.lua"

ports=()
servers=()
add_replica() { # id
  start_riposte "$work/$1.log" --store "$url" --replica-id "$1" --log-level warn
  ports+=("$riposte_port")
  servers+=("$riposte_pid")
  sleep 3 # a lease renewal each: they all know each other
}

# One line of JSON per replica count: c=50 split over the replicas, then c=1
# on the first.
creates="$work/creates.jsonl"
: > "$creates"
measure() {
  local n=${#ports[@]} i before=0 after=0 wrks=()
  for p in "${servers[@]}"; do before=$((before + $(cpu_ticks "$p"))); done
  for i in $(seq 0 $((n - 1))); do
    wrk -t1 -c$((50 / n)) -d"${seconds}s" -s "$work/create.lua" \
      "http://127.0.0.1:${ports[$i]}/v1/responses" > "$work/wrk.$i" 2>&1 &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  for p in "${servers[@]}"; do after=$((after + $(cpu_ticks "$p"))); done
  wrk -t1 -c1 -d"${seconds}s" -s "$work/create.lua" \
    "http://127.0.0.1:${ports[0]}/v1/responses" > "$work/wrk.c1" 2>&1
  python3 - "$work" "$n" "$((after - before))" "$(getconf CLK_TCK)" >> "$creates" <<'PY'
import json, sys
work, n, ticks, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def result(name):
    for line in open(f"{work}/{name}"):
        if line.startswith("RESULT"):
            f = line.split()
            return {"requests": int(f[1]), "errors": int(f[2]), "p50_us": float(f[3]),
                    "p99_us": float(f[4]), "rps": float(f[5])}
    raise SystemExit(f"no wrk result in {name}")
split = [result(f"wrk.{i}") for i in range(n)]
requests = sum(r["requests"] for r in split)
print(json.dumps({"replicas": n, "rps": sum(r["rps"] for r in split),
                  "p50_us": max(r["p50_us"] for r in split), "p99_us": max(r["p99_us"] for r in split),
                  "errors": sum(r["errors"] for r in split),
                  "cpu_us_per_create": ticks / hz * 1e6 / requests if requests else 0,
                  "c1": result("wrk.c1")}))
PY
}

wrk -t1 -c1 -d"${seconds}s" -s "$work/chat.lua" "http://127.0.0.1:$backend_port/api/chat" \
  > "$work/wrk.direct" 2>&1
add_replica a
measure
add_replica b
measure
follow=$(python3 ops/bench/follow_latency.py "${ports[0]}" "${ports[1]}" "$rounds" "$events")
add_replica c
measure

python3 - "$work" "$creates" "$follow" "$seconds" > build/bench/replicas.json <<'PY'
import json, sys
work, creates, follow, seconds = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
direct = next(l.split() for l in open(f"{work}/wrk.direct") if l.startswith("RESULT"))
print(json.dumps({"seconds": seconds, "direct_c1_p50_us": float(direct[3]),
                  "creates": [json.loads(l) for l in open(creates)], "follow": follow}, indent=2))
PY
python3 - build/bench/replicas.json > build/bench/replicas.md <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = r["direct_c1_p50_us"]
print("| replicas | creates/s (c=50 split) | p50 | p99 | errors | riposte CPU per create | c=1 p50 (added to the backend's %.0f µs) |" % d)
print("|---:|---:|---:|---:|---:|---:|---:|")
for c in r["creates"]:
    print("| %d | %.0f | %.0f µs | %.0f µs | %d | %.0f µs | %.0f µs (+%.0f) |" % (
        c["replicas"], c["rps"], c["p50_us"], c["p99_us"], c["errors"], c["cpu_us_per_create"],
        c["c1"]["p50_us"], c["c1"]["p50_us"] - d))
f = r["follow"]
print()
print("| follower on another replica | p50 | p90 | p99 | max | events |")
print("|---|---|---|---|---|---|")
print("| added latency per event | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %d |" % (
    f["p50_us"] / 1000, f["p90_us"] / 1000, f["p99_us"] / 1000, f["max_us"] / 1000, f["events"]))
PY
cat build/bench/replicas.md
