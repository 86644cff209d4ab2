#!/usr/bin/env bash
# previous_response_id chains of depth 1..TURNS (default 1000): latency per turn.
set -euo pipefail
cd "$(dirname "$0")/../.."
turns=${1:-1000}
bash ops/setup.sh
bash ops/build.sh >/dev/null
work=$(mktemp -d /tmp/riposte-chain-bench.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cat > "$work/script.json" <<'JSON'
{"models": [{"name": "bench", "capabilities": ["completion"], "context_length": 1000000}],
 "rules": [{"match": {"model": "bench"}, "reply": {"chunks": [{"content": "ok"}]}}]}
JSON
./build/tests/scripted_ollama --listen 127.0.0.1:0 --script "$work/script.json" > "$work/backend.out" &
pids+=($!)
for _ in $(seq 100); do grep -q port "$work/backend.out" 2>/dev/null && break; sleep 0.05; done
backend_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$work/backend.out")
./build/riposte --listen 127.0.0.1:0 --store "rocksdb:$work/data" \
  --backend "http://127.0.0.1:$backend_port" ${RIPOSTE_BENCH_FLAGS:-} > "$work/riposte.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "riposte listening" "$work/riposte.log" 2>/dev/null && break; sleep 0.05; done
port=$(grep "riposte listening" "$work/riposte.log" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["port"])')
python3 ops/bench/chain_depth.py "http://127.0.0.1:$port" "http://127.0.0.1:$backend_port" "$turns"
