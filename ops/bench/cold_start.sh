#!/usr/bin/env bash
# Scenario 5 of the benchmark issue: cold start with N stored responses
# (default 1,000,000) in RocksDB: the time from launching riposte until
# GET /readyz answers 200, and until the first GET of the oldest response
# answers. Seeding is not timed.
#   bash ops/bench/cold_start.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000000}
source ops/bench/lib.sh
bench_init cold-start
cat > "$work/script.json" <<'JSON'
{"models": [{"name": "bench", "capabilities": ["completion"], "context_length": 8192}]}
JSON
start_backend "$work/script.json"
seed_start=$(date +%s.%N)
read -r first last < <(./build/ops/bench/seed_store "rocksdb:$work/data" "$n")
seed_end=$(date +%s.%N)
du_mb=$(du -sm "$work/data" | cut -f1)

t0=$(date +%s.%N)
start_riposte "$work/riposte.log" --store "rocksdb:$work/data" --default-model bench
until curl -sf "http://127.0.0.1:$riposte_port/readyz" > /dev/null; do sleep 0.005; done
t_ready=$(date +%s.%N)
status=$(curl -s -o "$work/first.json" -w '%{http_code}' "http://127.0.0.1:$riposte_port/v1/responses/$first")
t_first=$(date +%s.%N)
[ "$status" = 200 ] || { echo "GET $first answered $status" >&2; exit 1; }

python3 - "$n" "$seed_start" "$seed_end" "$t0" "$t_ready" "$t_first" "$du_mb" <<'PY' | tee build/bench/cold_start.md
import json, sys
n = int(sys.argv[1]); s0, s1, t0, tr, tf = map(float, sys.argv[2:7]); mb = int(sys.argv[7])
out = {"responses": n, "events": n * 9, "store_mb": mb, "seed_seconds": s1 - s0,
       "ready_seconds": tr - t0, "first_get_seconds": tf - t0}
json.dump(out, open("build/bench/cold_start.json", "w"), indent=2)
print(f"| stored responses | store size | launch → /readyz 200 | launch → first GET of the oldest |")
print(f"|---:|---:|---:|---:|")
print(f"| {n:,} ({n*9:,} events) | {mb} MiB | {out['ready_seconds']*1000:.0f} ms | {out['first_get_seconds']*1000:.0f} ms |")
PY
