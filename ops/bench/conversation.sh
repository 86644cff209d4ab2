#!/usr/bin/env bash
# A conversation of TURNS (default 1000) turns: latency per turn as it grows.
set -euo pipefail
cd "$(dirname "$0")/../.."
turns=${1:-1000}
source ops/bench/lib.sh
bench_init conversation
cat > "$work/script.json" <<'JSON'
{"models": [{"name": "bench", "capabilities": ["completion"], "context_length": 1000000}],
 "rules": [{"match": {"model": "bench"}, "reply": {"chunks": [{"content": "ok"}]}}]}
JSON
start_backend "$work/script.json"
start_riposte "$work/riposte.log" --store "rocksdb:$work/data" --context-window bench=1000000
port=$riposte_port
mkdir -p build/bench
python3 ops/bench/conversation_turns.py "http://127.0.0.1:$port" "http://127.0.0.1:$backend_port" \
  "$turns" build/bench/conversation.json
