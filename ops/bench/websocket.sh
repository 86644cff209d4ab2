#!/usr/bin/env bash
# Scenario 7: a Codex-shaped conversation of TURNS requests (default 20) over
# HTTP (the whole input replayed each time) vs over the WebSocket mode (only
# the new items), ROUNDS times each (default 5): bytes sent per turn and
# riposte's CPU per turn, side by side. Needs tests/sdk's npm packages (ws).
set -euo pipefail
cd "$(dirname "$0")/../.."
turns=${1:-20}
rounds=${2:-5}
source ops/bench/lib.sh
bench_init websocket
(cd tests/sdk && [ -d node_modules/ws ] || npm ci --no-audit --no-fund --loglevel=error >/dev/null)
cat > "$work/script.json" <<'JSON'
{"models": [{"name": "bench", "capabilities": ["completion", "tools"], "context_length": 1000000}],
 "rules": [{"match": {"has_tool_result": true}, "reply": {"chunks": [{"content": "Changed the file as asked."}]}},
           {"match": {}, "reply": {"chunks": [{"tool_calls": [{"function": {"name": "tool_0", "arguments": {"arg_0": "src/main.cpp"}}}]}]}}]}
JSON
start_backend "$work/script.json"
start_riposte "$work/riposte.log" --store "rocksdb:$work/data" --context-window bench=1000000
node ops/bench/ws_turns.mjs "http://127.0.0.1:$riposte_port" "$riposte_pid" "$turns" "$rounds" \
  build/bench/websocket.json
