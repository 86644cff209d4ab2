#!/usr/bin/env bash
# Scenario 1 of the benchmark issue: a non-streaming create against an
# instantly answering backend, store on (RocksDB), side by side with the
# baselines in one run:
#   direct  the client talks to the scripted backend itself (/api/chat, stream false)
#   nginx   the same through Debian's nginx (proxy_pass, buffering off, keep-alive)
#   riposte POST /v1/responses (blocking), stored in RocksDB
#   riposte-pg  the same stored in PostgreSQL (a throwaway server on loopback)
# For each: latency at concurrency 1 (p50/p99), latency at a paced 1,000
# requests/s (20 connections, each waiting 20 ms after every answer), and the
# most requests/s at 50 connections, with wrk (2 threads); the CPU wrk itself
# used is reported.
#   bash ops/bench/create.sh [SECONDS] [REPEATS]
# Writes build/bench/create.json and build/bench/create.md (medians of REPEATS).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
repeats=${2:-3}
source ops/bench/lib.sh
bench_init create
out_dir=build/bench
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cat > "$work/script.json" <<'JSON'
{"models": [{"name": "bench", "capabilities": ["completion"], "context_length": 8192}],
 "rules": [{"match": {"model": "bench"}, "reply": {"chunks": [{"content": "ok"}]}}]}
JSON
start_backend "$work/script.json"
start_riposte "$work/riposte.log" --store "rocksdb:$work/data" --log-level warn

bash tests/support/pg_start.sh "$work/pg" >/dev/null
riposte_rocksdb_port=$riposte_port
riposte_rocksdb_pid=$riposte_pid
start_riposte "$work/riposte-pg.log" --store "$(cat "$work/pg/url")" --log-level warn
riposte_pg_port=$riposte_port
riposte_pg_pid=$riposte_pid
riposte_port=$riposte_rocksdb_port

nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream backend { server 127.0.0.1:$backend_port; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
CONF
/usr/sbin/nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
pids+=($!)
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$nginx_port) 2>/dev/null && break; sleep 0.05; done

chat='{"model":"bench","messages":[{"role":"user","content":"hi"}],"stream":false}'
create='{"model":"bench","input":"hi"}'
wrk_lua "$chat" > "$work/chat.lua"
wrk_lua "$create" > "$work/create.lua"
wrk_lua "$chat" 20 > "$work/chat-paced.lua"
wrk_lua "$create" 20 > "$work/create-paced.lua"

# One wrk run: prints "p50_us p99_us rps errors wrk_cpu_s server_cpu_us_per_request"
# (the last 0 without a server pid).
run() { # url script connections [server pid]
  local threads=2
  [ "$3" -lt 2 ] && threads=1
  local before=0
  [ -n "${4:-}" ] && before=$(cpu_ticks "$4")
  /usr/bin/time -f "CPU %U %S" wrk -t"$threads" -c"$3" -d"${seconds}s" -s "$2" "$1" > "$work/wrk.out" 2> "$work/wrk.err"
  local r cpu ticks=0
  [ -n "${4:-}" ] && ticks=$(( $(cpu_ticks "$4") - before ))
  r=$(grep RESULT "$work/wrk.out")
  cpu=$(grep CPU "$work/wrk.err" | awk '{print $2 + $3}')
  echo "$r" | awk -v cpu="$cpu" -v ticks="$ticks" -v hz="$(getconf CLK_TCK)" \
    '{print $4, $5, $6, $3, cpu, ($2 > 0 ? ticks / hz * 1e6 / $2 : 0)}'
}

results="$work/results.txt"
: > "$results"
# The physical floor of a durable create: one fdatasync of a small append to
# a preallocated file (as RocksDB's WAL is) on the store's disk, p50 of 1,000
# back to back. And as a blocking create at concurrency 1 meets it: an
# append of the ~8 KB such a create writes to the WAL (7.7 KB measured on
# 2026-12-05), after 1 ms without any, p50 of 500. (On a VM's disk the second
# can be twice the first: a sync after an idle millisecond costs more.)
python3 - "$work" >> "$results" <<'PY'
import os, statistics, sys, time
path = os.path.join(sys.argv[1], "fdatasync.probe")
def probe(name, count, size, idle):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.posix_fallocate(fd, 0, count * size)
    os.fsync(fd)
    took = []
    for i in range(count):
        if idle:
            time.sleep(idle)
        os.pwrite(fd, b"x" * size, i * size)
        t0 = time.perf_counter()
        os.fdatasync(fd)
        took.append((time.perf_counter() - t0) * 1e6)
    os.close(fd)
    os.unlink(path)
    print(name, statistics.median(took), sorted(took)[int(count * 0.99) - 1])
probe("fdatasync", 1000, 512, 0)
probe("fdatasync_idle", 500, 8192, 0.001)
PY
# Every thread of a process, with its context switches so far (voluntary:
# it slept; involuntary: it was preempted) and its CPU time in clock ticks,
# one "tid name switches ticks" per line.
thread_counters() {
  for t in /proc/"$1"/task/*; do
    echo "${t##*/} $(tr -d ' ' < "$t/comm") $(awk '/ctxt_switches/ {n += $2} END {print n}' "$t/status") $(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done
}
# The change of one column of thread_counters between two readings, summed
# by the thread's name, as JSON.
by_thread() {
  python3 - "$@" <<'PY'
import json, sys
def read(path, column):
    out = {}
    for line in open(path):
        f = line.split()
        if len(f) == 4 and f[column].isdigit(): # a thread that ended while it was read has none
            out[f[0]] = (f[1], int(f[column]))
    return out
column = int(sys.argv[3])
before, after = read(sys.argv[1], column), read(sys.argv[2], column)
by_name = {}
for tid, (name, n) in after.items():
    by_name[name] = by_name.get(name, 0) + n - before.get(tid, (name, 0))[1]
print(json.dumps(by_name))
PY
}
for rep in $(seq "$repeats"); do
  for target in direct nginx riposte riposte-pg; do
    server=""
    case $target in
      direct) url="http://127.0.0.1:$backend_port/api/chat"; script="$work/chat.lua" ;;
      nginx) url="http://127.0.0.1:$nginx_port/api/chat"; script="$work/chat.lua" ;;
      riposte) url="http://127.0.0.1:$riposte_port/v1/responses"; script="$work/create.lua"
        server=$riposte_rocksdb_pid ;;
      riposte-pg) url="http://127.0.0.1:$riposte_pg_port/v1/responses"; script="$work/create.lua"
        server=$riposte_pg_pid ;;
    esac
    if [ "$target" = riposte ]; then
      curl -s "http://127.0.0.1:$riposte_port/metrics" > "$work/phases.before"
      thread_counters "$riposte_rocksdb_pid" > "$work/switches.before"
    fi
    echo "$target c1 $(run "$url" "$script" 1)" >> "$results"
    if [ "$target" = riposte ]; then
      thread_counters "$riposte_rocksdb_pid" > "$work/switches.after"
      curl -s "http://127.0.0.1:$riposte_port/metrics" > "$work/phases.after"
      echo "phases $(python3 ops/bench/phases.py "$work/phases.before" "$work/phases.after")" >> "$results"
      echo "switches $(by_thread "$work/switches.before" "$work/switches.after" 2)" >> "$results"
    fi
    echo "$target r1000 $(run "$url" "${script%.lua}-paced.lua" 20)" >> "$results"
    [ "$target" = riposte ] && thread_counters "$riposte_rocksdb_pid" > "$work/threads.before"
    echo "$target c50 $(run "$url" "$script" 50 "$server")" >> "$results"
    if [ "$target" = riposte ]; then
      thread_counters "$riposte_rocksdb_pid" > "$work/threads.after"
      echo "threadcpu $(by_thread "$work/threads.before" "$work/threads.after" 3)" >> "$results"
    fi
  done
done

python3 - "$results" "$seconds" "$repeats" "$out_dir" <<'PY'
import json, statistics, sys
path, seconds, repeats, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
runs = {}
phases = []
switches = []
thread_cpu = []  # clock ticks per thread name over each c50 run on RocksDB
probes = {}  # fdatasync, fdatasync_idle
for line in open(path):
    f = line.split()
    if f[0] == "phases":
        phases.append(json.loads(line[len("phases "):]))
        continue
    if f[0] == "switches":
        switches.append(json.loads(line[len("switches "):]))
        continue
    if f[0] == "threadcpu":
        thread_cpu.append(json.loads(line[len("threadcpu "):]))
        continue
    if f[0] in ("fdatasync", "fdatasync_idle"):
        probes[f[0]] = {"p50_us": float(f[1]), "p99_us": float(f[2])}
        continue
    target, mode = f[0], f[1]
    p50, p99, rps, errors, wrk_cpu = float(f[2]), float(f[3]), float(f[4]), int(f[5]), float(f[6])
    r = runs.setdefault((target, mode), {"p50_us": [], "p99_us": [], "rps": [], "errors": 0,
                                         "wrk_cpu_s": [], "cpu_us": []})
    r["p50_us"].append(p50); r["p99_us"].append(p99); r["rps"].append(rps)
    r["errors"] += errors; r["wrk_cpu_s"].append(wrk_cpu); r["cpu_us"].append(float(f[7]))
med = lambda k, m, f: statistics.median(runs[(k, m)][f])
table = {}
for t in ("direct", "nginx", "riposte", "riposte-pg"):
    table[t] = {"c1_p50_us": med(t, "c1", "p50_us"), "c1_p99_us": med(t, "c1", "p99_us"),
                "c1_rps": med(t, "c1", "rps"), "c50_rps": med(t, "c50", "rps"),
                "r1000_rps": med(t, "r1000", "rps"), "r1000_p50_us": med(t, "r1000", "p50_us"),
                "r1000_p99_us": med(t, "r1000", "p99_us"),
                "c50_p50_us": med(t, "c50", "p50_us"), "c50_p99_us": med(t, "c50", "p99_us"),
                "errors": sum(runs[(t, m)]["errors"] for m in ("c1", "r1000", "c50")),
                "wrk_cpu_share_c50": med(t, "c50", "wrk_cpu_s") / seconds,
                "cpu_us_per_request_c50": med(t, "c50", "cpu_us")}
d, n, r, pg = table["direct"], table["nginx"], table["riposte"], table["riposte-pg"]
unprobed = {"p50_us": 0.0, "p99_us": 0.0}
fdatasync = probes.get("fdatasync", unprobed)
fdatasync_idle = probes.get("fdatasync_idle", unprobed)
summary = {
    "seconds": seconds, "repeats": repeats, "targets": table,
    "riposte_added_p50_us": r["c1_p50_us"] - d["c1_p50_us"],
    "riposte_added_p99_us": r["c1_p99_us"] - d["c1_p99_us"],
    "riposte_added_p50_us_at_1000rps": r["r1000_p50_us"] - d["r1000_p50_us"],
    "riposte_added_p99_us_at_1000rps": r["r1000_p99_us"] - d["r1000_p99_us"],
    "riposte_pg_added_p50_us_at_1000rps": pg["r1000_p50_us"] - d["r1000_p50_us"],
    "riposte_pg_added_p99_us_at_1000rps": pg["r1000_p99_us"] - d["r1000_p99_us"],
    "nginx_added_p50_us": n["c1_p50_us"] - d["c1_p50_us"],
    "nginx_added_p99_us": n["c1_p99_us"] - d["c1_p99_us"],
    "riposte_rps_vs_direct": r["c50_rps"] / d["c50_rps"],
    "riposte_rps_vs_nginx": r["c50_rps"] / n["c50_rps"],
    "riposte_pg_added_p50_us": pg["c1_p50_us"] - d["c1_p50_us"],
    "riposte_pg_rps_vs_direct": pg["c50_rps"] / d["c50_rps"],
    "riposte_pg_rps_vs_rocksdb": pg["c50_rps"] / r["c50_rps"],
    "riposte_pg_cpu_vs_rocksdb": pg["cpu_us_per_request_c50"] / r["cpu_us_per_request_c50"],
    "fdatasync_p50_us": fdatasync["p50_us"], "fdatasync_p99_us": fdatasync["p99_us"],
    "fdatasync_idle_p50_us": fdatasync_idle["p50_us"],
    "fdatasync_idle_p99_us": fdatasync_idle["p99_us"],
}
names = ["to_actor", "prepare", "backend_first_update", "backend_rest", "store_and_answer"]
waits = ["hand_off", "connection", "backend", "receive", "hand_back"]
stores = ["to_writer", "writer_queue", "write", "answer"]
if phases:
    summary["riposte_c1_phases_us"] = {n: statistics.median(p.get(n, 0) for p in phases) for n in names}
    summary["riposte_c1_backend_wait_us"] = {
        n: statistics.median(p.get("wait." + n, 0) for p in phases) for n in waits}
    summary["riposte_c1_store_wait_us"] = {
        n: statistics.median(p.get("store." + n, 0) for p in phases) for n in stores}
# Per create by role, the median over runs: each run's counts by thread
# name (times `scale`), over the creates of the matching wrk run. The actor
# scheduler's workers are riposte.actors; RESTinio's threads keep the
# process's name, riposte.
roles = {"riposte.writer": "writer", "riposte.actors": "CAF workers", "riposte": "HTTP",
         "riposte.backend": "backend client", "riposte.index": "index",
         "rocksdb:low": "compaction", "rocksdb:high": "flush"}
def per_create_by_role(runs, mode, scale=1.0):
    creates = [float(f[4]) * seconds for f in (l.split() for l in open(path))
               if len(f) > 4 and f[0] == "riposte" and f[1] == mode]
    per = {}
    for run, n_creates in zip(runs, creates):
        by_role = {}
        for name, n in run.items():
            role = roles.get(name, "other")
            by_role[role] = by_role.get(role, 0) + n * scale
        for role, n in by_role.items():
            per.setdefault(role, []).append(n / max(n_creates, 1))
    return {r: statistics.median(v) for r, v in per.items()}
# Thread switches per create at concurrency 1 (the waits a profile does not
# show), and riposte's CPU per create at c50 (the goal is 100 µs in all),
# RocksDB's own threads included.
if switches:
    summary["riposte_c1_switches_per_create"] = per_create_by_role(switches, "c1")
if thread_cpu:
    import os
    summary["riposte_c50_cpu_us_per_create_by_thread"] = per_create_by_role(
        thread_cpu, "c50", 1e6 / os.sysconf("SC_CLK_TCK"))
json.dump(summary, open(f"{out}/create.json", "w"), indent=2)
rows = ["| target | c1 p50 | c1 p99 | paced req/s | paced p50 | paced p99 | c50 req/s | c50 p50 | c50 p99 | errors | wrk CPU (cores) |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
for t in ("direct", "nginx", "riposte", "riposte-pg"):
    x = table[t]
    rows.append(f"| {t} | {x['c1_p50_us']:.0f} µs | {x['c1_p99_us']:.0f} µs | {x['r1000_rps']:.0f} | "
                f"{x['r1000_p50_us']:.0f} µs | {x['r1000_p99_us']:.0f} µs | {x['c50_rps']:.0f} | "
                f"{x['c50_p50_us']:.0f} µs | {x['c50_p99_us']:.0f} µs | {x['errors']} | {x['wrk_cpu_share_c50']:.2f} |")
rows.append("")
rows.append(f"riposte's CPU per create at c50: {r['cpu_us_per_request_c50']:.0f} µs on RocksDB, "
            f"{pg['cpu_us_per_request_c50']:.0f} µs on PostgreSQL ({summary['riposte_pg_cpu_vs_rocksdb']:.2f}×); "
            f"PostgreSQL creates/s {summary['riposte_pg_rps_vs_rocksdb']:.2f}× RocksDB's.")
rows.append(f"riposte adds {summary['riposte_added_p50_us']:.0f} µs p50 / {summary['riposte_added_p99_us']:.0f} µs p99 "
            f"at concurrency 1 (nginx adds {summary['nginx_added_p50_us']:.0f} / {summary['nginx_added_p99_us']:.0f}); "
            f"throughput {summary['riposte_rps_vs_direct']:.2f}× direct, {summary['riposte_rps_vs_nginx']:.2f}× nginx. "
            f"Medians of {repeats} runs of {seconds} s.")
rows.append(f"This disk's fdatasync (a 512-byte append to a preallocated file): "
            f"{fdatasync['p50_us']:.0f} µs p50, {fdatasync['p99_us']:.0f} µs p99; a durable create "
            f"waits for one, so the goal at concurrency 1 is ≤ {fdatasync['p50_us'] + 150:.0f} µs added. "
            f"As a blocking create at concurrency 1 meets it (an 8 KB append after 1 ms idle): "
            f"{fdatasync_idle['p50_us']:.0f} µs p50, {fdatasync_idle['p99_us']:.0f} µs p99.")
if phases:
    ph = summary["riposte_c1_phases_us"]
    rows.append("Where a blocking create's wall time goes at concurrency 1 (RocksDB, mean per create, "
                "`riposte_create_phase_seconds`): " +
                ", ".join(f"{n.replace('_', ' ')} {ph[n]:.0f} µs" for n in names) +
                f" (the backend alone answers in {d['c1_p50_us']:.0f} µs p50).")
    bw = summary["riposte_c1_backend_wait_us"]
    rows.append("Its backend first update, step by step (`riposte_create_backend_wait_seconds`): "
                "hand-off to the HTTP client's thread " f"{bw['hand_off']:.0f} µs, "
                f"connection readied {bw['connection']:.0f} µs, the backend (request written to "
                f"first byte) {bw['backend']:.0f} µs, the rest of the reply {bw['receive']:.0f} µs, "
                f"back to the actor {bw['hand_back']:.0f} µs.")
    sw = summary["riposte_c1_store_wait_us"]
    rows.append("Its store and answer, step by step (`riposte_create_store_wait_seconds`): "
                f"the actor's work until the writer has the batch {sw['to_writer']:.0f} µs, "
                f"the writer's queue {sw['writer_queue']:.0f} µs, the write and its sync "
                f"{sw['write']:.0f} µs, the answer handed over {sw['answer']:.0f} µs.")
if "riposte_c1_switches_per_create" in summary:
    sp = summary["riposte_c1_switches_per_create"]
    order = ["writer", "CAF workers", "HTTP", "backend client", "index", "compaction", "flush",
             "other"]
    rows.append("Thread switches per create at concurrency 1 (RocksDB; each a sleep or a "
                "preemption, from /proc; the waits a CPU profile does not show): " +
                ", ".join(f"{r} {sp[r]:.1f}" for r in order if r in sp) +
                f" (all {sum(sp.values()):.1f}).")
if "riposte_c50_cpu_us_per_create_by_thread" in summary:
    cp = summary["riposte_c50_cpu_us_per_create_by_thread"]
    order = ["CAF workers", "writer", "HTTP", "backend client", "index", "compaction", "flush",
             "other"]
    rows.append("riposte's CPU per create at c50 by thread (RocksDB, from /proc; the goal is "
                "100 µs in all): " + ", ".join(f"{r} {cp[r]:.0f} µs" for r in order if r in cp) +
                f" (all {sum(cp.values()):.0f} µs).")
open(f"{out}/create.md", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
