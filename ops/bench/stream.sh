#!/usr/bin/env bash
# Streaming benchmark: N concurrent streams of T tokens at R tokens/s from
# the scripted backend, read directly and through riposte, in one run.
#   bash ops/bench/stream.sh [STREAMS] [TOKENS] [RATE]   (default 1000 200 50)
# RIPOSTE_BENCH_FLAGS="--store-sync none" passes more flags to riposte, and
# RIPOSTE_BIN=path runs another build of it. GAPS=1 prints when late tokens came;
# REPEATS=N runs both targets N times in turns and reports medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
streams=${1:-1000}
tokens=${2:-200}
rate=${3:-50}
source ops/bench/lib.sh
bench_init stream
out=build/bench
ulimit -n 65536 2>/dev/null || ulimit -n 8192 || true

python3 - "$tokens" "$rate" > "$work/script.json" <<'PY'
import json, sys
tokens, rate = int(sys.argv[1]), int(sys.argv[2])
chunks = [{"content": f" tok{i}"} for i in range(tokens)]
print(json.dumps({
  "models": [{"name": "bench", "capabilities": ["completion"], "context_length": 8192}],
  "rules": [{"match": {"model": "bench"},
             "reply": {"chunks": chunks, "delay_ms": 1000 // rate}}]}))
PY

start_backend "$work/script.json"
start_riposte "$work/riposte.log" --store "rocksdb:$work/data" --backend-concurrency 4096 \
  --http-threads 1

./build/ops/bench/stream_bench --direct "http://127.0.0.1:$backend_port" \
  --riposte "http://127.0.0.1:$riposte_port" --streams "$streams" --tokens "$tokens" \
  --rate "$rate" --model bench --pid "$riposte_pid" --json "$out/stream_$streams.json" \
  --gaps "${GAPS:-0}" --repeats "${REPEATS:-1}"
