#!/usr/bin/env bash
# previous_response_id chains of depth 1..TURNS (default 1000): latency per turn.
set -euo pipefail
cd "$(dirname "$0")/../.."
turns=${1:-1000}
source ops/bench/lib.sh
bench_init chain
cat > "$work/script.json" <<'JSON'
{"models": [{"name": "bench", "capabilities": ["completion"], "context_length": 1000000}],
 "rules": [{"match": {"model": "bench"}, "reply": {"chunks": [{"content": "ok"}]}}]}
JSON
start_backend "$work/script.json"
start_riposte "$work/riposte.log" --store "rocksdb:$work/data" --context-window bench=1000000
port=$riposte_port
mkdir -p build/bench
python3 ops/bench/chain_depth.py "http://127.0.0.1:$port" "http://127.0.0.1:$backend_port" "$turns" \
  build/bench/chain.json
