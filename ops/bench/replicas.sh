#!/usr/bin/env bash
# Replicas on one PostgreSQL: how much later a client streaming a response
# through replica B sees each event than the client of replica A, which runs
# it (B hears of A's appends through LISTEN/NOTIFY, then reads them from the
# log). The backend streams a token every 20 ms.
#   bash ops/bench/replicas.sh [ROUNDS] [EVENTS]
# Writes build/bench/replicas.json and build/bench/replicas.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
events=${2:-200}
source ops/bench/lib.sh
bench_init replicas

python3 - "$work/script.json" "$events" <<'PY'
import json, sys
chunks = [{"content": "t%d " % i} for i in range(int(sys.argv[2]) + 50)]
json.dump({"models": [{"name": "bench", "capabilities": ["completion"], "context_length": 8192}],
           "rules": [{"match": {"model": "bench"}, "reply": {"chunks": chunks, "delay_ms": 20}}]},
          open(sys.argv[1], "w"))
PY
start_backend "$work/script.json"
bash tests/support/pg_start.sh "$work/pg" >/dev/null
url=$(cat "$work/pg/url")
start_riposte "$work/a.log" --store "$url" --replica-id a --log-level warn
port_a=$riposte_port
start_riposte "$work/b.log" --store "$url" --replica-id b --log-level warn
port_b=$riposte_port
sleep 3 # one lease renewal each: both know the other is there

result=$(python3 ops/bench/follow_latency.py "$port_a" "$port_b" "$rounds" "$events")
echo "$result" > build/bench/replicas.json
python3 - "$result" > build/bench/replicas.md <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print("| follower on another replica | p50 | p90 | p99 | max | events |")
print("|---|---|---|---|---|---|")
print("| added latency per event | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %d |" % (
    r["p50_us"] / 1000, r["p90_us"] / 1000, r["p99_us"] / 1000, r["max_us"] / 1000, r["events"]))
PY
cat build/bench/replicas.md
