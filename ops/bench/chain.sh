#!/usr/bin/env bash
# previous_response_id chains of depth 1..TURNS (default 1000): latency per turn.
set -euo pipefail
cd "$(dirname "$0")/../.."
turns=${1:-1000}
source ops/bench/lib.sh
bench_init chain
start_bench_model
python3 ops/bench/chain_depth.py "http://127.0.0.1:$riposte_port" "http://127.0.0.1:$backend_port" "$turns" \
  build/bench/chain.json
