#!/usr/bin/env bash
# A conversation of TURNS (default 1000) turns: latency per turn as it grows,
# then turns read cold (the conversation's actor passivated in between).
set -euo pipefail
cd "$(dirname "$0")/../.."
turns=${1:-1000}
source ops/bench/lib.sh
bench_init conversation
start_bench_model --passivate-after-ms 300
python3 ops/bench/conversation_turns.py "http://127.0.0.1:$riposte_port" "http://127.0.0.1:$backend_port" \
  "$turns" build/bench/conversation.json 300
