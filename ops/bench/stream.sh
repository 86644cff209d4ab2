#!/usr/bin/env bash
# Streaming benchmark: N concurrent streams of T tokens at R tokens/s from
# the scripted backend, read directly and through riposte, in one run.
#   bash ops/bench/stream.sh [STREAMS] [TOKENS] [RATE]   (default 1000 200 50)
set -euo pipefail
cd "$(dirname "$0")/../.."
streams=${1:-1000}
tokens=${2:-200}
rate=${3:-50}
bash ops/setup.sh
bash ops/build.sh >/dev/null
out=build/bench
mkdir -p "$out"
work=$(mktemp -d /tmp/riposte-stream-bench.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
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

./build/tests/scripted_ollama --listen 127.0.0.1:0 --script "$work/script.json" > "$work/backend.out" &
pids+=($!)
for _ in $(seq 100); do grep -q port "$work/backend.out" 2>/dev/null && break; sleep 0.05; done
backend_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$work/backend.out")

./build/riposte --listen 127.0.0.1:0 --store "rocksdb:$work/data" \
  --backend "http://127.0.0.1:$backend_port" --backend-concurrency 4096 \
  --http-threads 1 ${RIPOSTE_BENCH_FLAGS:-} > "$work/riposte.log" 2>&1 &
riposte_pid=$!
pids+=($riposte_pid)
for _ in $(seq 100); do grep -q "riposte listening" "$work/riposte.log" 2>/dev/null && break; sleep 0.05; done
riposte_port=$(grep "riposte listening" "$work/riposte.log" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["port"])')

./build/ops/bench/stream_bench --direct "http://127.0.0.1:$backend_port" \
  --riposte "http://127.0.0.1:$riposte_port" --streams "$streams" --tokens "$tokens" \
  --rate "$rate" --model bench --pid "$riposte_pid" --json "$out/stream.json"
