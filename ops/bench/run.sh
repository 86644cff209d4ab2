#!/usr/bin/env bash
# Every benchmark scenario in one run, each next to its baseline from the
# same run: builds what it needs, starts the scripted backend, riposte, nginx
# and PostgreSQL on loopback, and writes build/bench/report.json and
# build/bench/report.md.
#   bash ops/bench/run.sh            (about 18 minutes on 2 cores)
#   QUICK=1 bash ops/bench/run.sh    (smaller sizes: a smoke run)
# Scenario 1 and 6: create.sh; 2: stream.sh at 100, 500, 1,000 and 2,000 streams
# (medians of 3 runs);
# 3: chain.sh; 4: event_log.sh; 5: cold_start.sh; 7: websocket.sh; 8: conversation.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash ops/setup.sh
bash ops/build.sh >/dev/null
mkdir -p build/bench
rm -f build/bench/report.json build/bench/report.md
if [ -n "${QUICK:-}" ]; then
  create_args=(2 1); streams=(20 100); repeats=1; chain=100; cells=1; responses=20000; ws_rounds=1
else
  create_args=(10 3); streams=(100 500 1000 2000); repeats=3; chain=1000; cells=3; responses=1000000
  ws_rounds=5
fi
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -r)"
echo "== scenario 1 and 6: create (RocksDB, PostgreSQL) vs direct and nginx"
bash ops/bench/create.sh "${create_args[@]}"
for n in "${streams[@]}"; do
  echo "== scenario 2: $n streams"
  REPEATS=$repeats bash ops/bench/stream.sh "$n" 200 50
done
echo "== scenario 3: previous_response_id chains"
bash ops/bench/chain.sh "$chain"
echo "== scenario 4: event log"
bash ops/bench/event_log.sh "$cells"
echo "== scenario 5: cold start"
bash ops/bench/cold_start.sh "$responses"
echo "== scenario 7: a Codex-shaped conversation over HTTP and over the WebSocket"
bash ops/bench/websocket.sh 20 "$ws_rounds"
echo "== scenario 8: a conversation of $chain turns"
bash ops/bench/conversation.sh "$chain"
python3 ops/bench/report.py build/bench "$machine" "${streams[@]}"
echo "wrote build/bench/report.json and build/bench/report.md"
