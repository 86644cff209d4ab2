#!/usr/bin/env bash
# The worst case of unauthenticated large bodies (see README, Limits and
# guarantees): riposte with --max-connections C and --max-upload-bytes U (the
# server-wide body cap is then U + 64 KiB), C clients each holding a body one
# byte short of the cap, sent with Content-Length, in 64 KiB chunks, and in
# 1-byte chunks (8 clients: RESTinio keeps 16 bytes per chunk). Each mode on
# a fresh riposte; prints peak RSS against connections x cap.
#   bash ops/bench/bodies.sh [C] [U]        (defaults 64, 4 MiB)
set -euo pipefail
cd "$(dirname "$0")/../.."
conns=${1:-64}
upload=${2:-4194304}
source ops/bench/lib.sh
bench_init bodies
echo '{}' > "$work/script.json"
start_backend "$work/script.json"
cap=$((upload + 65536))
: > "$work/results.jsonl"
for mode in length chunked tiny; do
  n=$conns
  [ "$mode" = tiny ] && n=$((conns < 8 ? conns : 8))
  start_riposte "$work/riposte-$mode.log" --store "rocksdb:$work/data-$mode" \
    --max-connections "$conns" --max-upload-bytes "$upload" --read-timeout-ms 600000
  python3 ops/bench/bodies.py "$riposte_port" "$riposte_pid" "$n" "$cap" "$mode" \
    >> "$work/results.jsonl"
  kill "$riposte_pid"
  wait "$riposte_pid" 2>/dev/null || true
done
python3 - "$work/results.jsonl" "$conns" "$cap" <<'PY' | tee build/bench/bodies.md
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
conns, cap = int(sys.argv[2]), int(sys.argv[3])
mib = lambda b: b / 1048576
print(f"Server-wide body cap {mib(cap):.2f} MiB, --max-connections {conns}: "
      f"connections x cap = {mib(conns * cap):.0f} MiB.\n")
print("| bodies sent as | connections | bytes held | RSS before | peak RSS | RSS after close | peak per connection |")
print("|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    per = (r["peak_rss"] - r["rss_before"]) / r["connections"]
    print(f"| {r['mode']} | {r['connections']} | {mib(r['bytes_sent']):.0f} MiB | {mib(r['rss_before']):.0f} MiB "
          f"| {mib(r['peak_rss']):.0f} MiB | {mib(r['rss_after']):.0f} MiB | {mib(per):.2f} MiB |")
json.dump(rows, open("build/bench/bodies.json", "w"), indent=2)
PY
