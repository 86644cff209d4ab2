#!/usr/bin/env bash
# Streaming benchmark: N concurrent streams of T tokens at R tokens/s from
# the scripted backend, read directly and through riposte, in one run.
#   bash ops/bench/stream.sh [STREAMS] [TOKENS] [RATE]   (default 1000 200 50)
# RIPOSTE_BENCH_FLAGS="--store-sync none" passes more flags to riposte, and
# RIPOSTE_BIN=path runs another build of it. GAPS=1 prints when late tokens came.
# REPEATS=N runs it N times, each on a fresh riposte and store (the targets
# taking turns), and reports each figure's median (peak RSS: the highest).
# KINDS="ollama vllm" measures each backend kind in turn within every run:
# riposte in front of the scripted backend's native API, then in front of
# its Chat Completions SSE in vLLM's dialect, each against its own direct
# read; results in build/bench/stream_N.json and stream_N_KIND.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
streams=${1:-1000}
tokens=${2:-200}
rate=${3:-50}
source ops/bench/lib.sh
bench_init stream
out=build/bench
ulimit -n 65536 2>/dev/null || ulimit -n 8192 || true

python3 - "$tokens" "$rate" > "$work/script.json" <<'PY'
import json, sys
tokens, rate = int(sys.argv[1]), int(sys.argv[2])
chunks = [{"content": f" tok{i}"} for i in range(tokens)]
print(json.dumps({
  "models": [{"name": "bench", "capabilities": ["completion"], "context_length": 8192}],
  "rules": [{"match": {"model": "bench"},
             "reply": {"chunks": chunks, "delay_ms": 1000 // rate}}]}))
PY

kinds=(${KINDS:-ollama})
start_backend "$work/script.json" --profile vllm
declare -A runs
for run in $(seq "${REPEATS:-1}"); do
  for kind in "${kinds[@]}"; do
    echo "== run $run, backend kind $kind"
    spec="http://127.0.0.1:$backend_port" api=ollama
    if [ "$kind" != ollama ]; then spec="$kind:$spec" api=chat; fi
    BACKEND_SPEC=$spec start_riposte "$work/riposte$run$kind.log" \
      --store "rocksdb:$work/data$run$kind" --backend-concurrency 4096 --http-threads 1
    ./build/ops/bench/stream_bench --direct "http://127.0.0.1:$backend_port" \
      --riposte "http://127.0.0.1:$riposte_port" --streams "$streams" --tokens "$tokens" \
      --rate "$rate" --model bench --pid "$riposte_pid" --json "$work/run$run$kind.json" \
      --gaps "${GAPS:-0}" --api "$api"
    kill "$riposte_pid"
    wait "$riposte_pid" 2>/dev/null || true
    runs[$kind]+=" $work/run$run$kind.json"
  done
done

for kind in "${kinds[@]}"; do
  file="$out/stream_$streams.json"
  [ "$kind" = ollama ] || file="$out/stream_${streams}_$kind.json"
  # shellcheck disable=SC2086
  python3 - "$file" "$kind" ${runs[$kind]} <<'PY'
import json, statistics, sys
kind = sys.argv[2]
runs = [json.load(open(p)) for p in sys.argv[3:]]
merged = {"streams": runs[0]["streams"], "tokens": runs[0]["tokens"], "runs": len(runs)}
for target in ("direct", "riposte"):
    rows = [r[target] for r in runs]
    merged[target] = {k: (max(x[k] for x in rows) if k == "peak_rss_mib" else
                          min(x[k] for x in rows) if k == "complete" else
                          statistics.median_low([x[k] for x in rows])) for k in rows[0]}
json.dump(merged, open(sys.argv[1], "w"), indent=2)
d, r = merged["direct"], merged["riposte"]
delivered = r["tokens_per_s"] * r["wall_s"]
per_token = 1e6 * r["cpu_s"] / delivered if delivered else 0
print(f"{kind}: median of {len(runs)} run(s): inter-token p99 direct {d['itl_p99_ms']:.2f} ms, "
      f"riposte {r['itl_p99_ms']:.2f} ms (+{r['itl_p99_ms'] - d['itl_p99_ms']:.2f}); "
      f"tokens/s {d['tokens_per_s']:.0f} / {r['tokens_per_s']:.0f}; riposte CPU "
      f"{r['cpu_s']:.2f} s ({per_token:.1f} us per token); peak RSS {r['peak_rss_mib']:.0f} MiB")
PY
done
