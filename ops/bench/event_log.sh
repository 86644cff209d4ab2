#!/usr/bin/env bash
# Event-log benchmark: RocksDB (sync on and off) and PostgreSQL (a throwaway
# server with fsync on, synchronous_commit on) in one run. Prints a Markdown
# table; the JSON goes to build/bench/event_log.json.
#   bash ops/bench/event_log.sh [SECONDS_PER_CELL]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash ops/setup.sh
bash ops/build.sh >/dev/null
mkdir -p build/bench
pgdir=build/bench/pg
trap 'bash tests/support/pg_stop.sh "$pgdir"' EXIT
bash tests/support/pg_start.sh "$pgdir"
./build/ops/bench/event_log_bench --seconds "${1:-3}" --pg "$(cat "$pgdir/url")" \
  --json build/bench/event_log.json
