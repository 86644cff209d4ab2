# Shared by the benchmark scripts (source it from the repository root):
# a work directory cleaned up on exit, the scripted backend, riposte.
#   bench_init NAME        sets $work, registers cleanup; KEEP=1 keeps $work
#   start_backend SCRIPT [FLAGS...]  sets $backend_port
#   BACKEND_SPEC=KIND:URL start_riposte ...  another backend kind (default: Ollama's native API)
#   start_bench_model  the scripted backend serving "bench" (answers "ok", a 1M-token
#                      window) and riposte on RocksDB in front of it
#   start_riposte LOG ARGS...  starts riposte ($RIPOSTE_BIN, default the build) against the backend; sets
#                          $riposte_port and $riposte_pid
#   wrk_lua BODY [DELAY_MS]  a wrk script POSTing BODY (each connection waiting DELAY_MS after an
#                          answer), printing "RESULT requests errors p50_us p99_us req/s"
#   cpu_ticks PID          CPU time a process has used, in clock ticks (user + system)

bench_init() {
  bash ops/setup.sh
  bash ops/build.sh >/dev/null
  mkdir -p build/bench
  work=$(mktemp -d "/tmp/riposte-$1-bench.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  bash tests/support/pg_stop.sh "$work/pg" >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}

# The port a server announced in its first JSON log line.
announced_port() { # file pattern
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && break; sleep 0.05; done
  grep "$2" "$1" | head -n 1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["port"])'
}

start_backend() { # script.json [scripted_ollama flags...]
  local script=$1
  shift
  ./build/tests/scripted_ollama --listen 127.0.0.1:0 --script "$script" "$@" > "$work/backend.out" &
  pids+=($!)
  backend_port=$(announced_port "$work/backend.out" port)
}

start_riposte() { # log, riposte args...
  local log=$1
  shift
  "${RIPOSTE_BIN:-./build/riposte}" --listen 127.0.0.1:0 \
    --backend "${BACKEND_SPEC:-http://127.0.0.1:$backend_port}" "$@" \
    ${RIPOSTE_BENCH_FLAGS:-} > "$log" 2>&1 &
  riposte_pid=$!
  pids+=($riposte_pid)
  riposte_port=$(announced_port "$log" "riposte listening")
}

start_bench_model() { # [riposte flags...] the model "bench": answers "ok", a 1M-token window
  cat > "$work/script.json" <<'JSON'
{"models": [{"name": "bench", "capabilities": ["completion"], "context_length": 1000000}],
 "rules": [{"match": {"model": "bench"}, "reply": {"chunks": [{"content": "ok"}]}}]}
JSON
  start_backend "$work/script.json"
  start_riposte "$work/riposte.log" --store "rocksdb:$work/data" --context-window bench=1000000 "$@"
  mkdir -p build/bench
}

wrk_lua() { # body [milliseconds each connection waits after an answer]
  cat <<LUA
wrk.method = "POST"
wrk.body = '$1'
wrk.headers["Content-Type"] = "application/json"
${2:+delay = function() return $2 end}
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.1f %.1f\n", summary.requests, summary.errors.status
    + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), summary.requests / (summary.duration / 1e6)))
end
LUA
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
