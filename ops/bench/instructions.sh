#!/usr/bin/env bash
# CPU work per blocking create, counted in instructions: riposte runs under
# valgrind's callgrind, takes WARMUP creates, then CREATES more one after
# another (RocksDB store, the scripted backend answering "ok"); what they
# cost is counted over every thread of riposte. A count does not move with
# the machine's load or its clock as CPU time does (on a shared VM, paired
# 10-second runs of the same binary differ by 10 % and more), so it shows a
# change of a few percent; it does not show waits, cache misses or the
# kernel's part (the create benchmark measures those).
#   bash ops/bench/instructions.sh [CREATES] [WARMUP]   (default 500 200)
# RIPOSTE_BIN=path counts another build; TOP=N lists N functions (default 25).
# TOKENS=N streams instead: each create asks for "stream":true and the
# backend answers N chunks, DELAY_MS apart (default 5: each token is then
# its own batch, as in a stream a model paces); the count is then also
# given per token.
# Writes build/bench/instructions.json and build/bench/instructions.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
creates=${1:-500}
warmup=${2:-200}
source ops/bench/lib.sh
bench_init instructions
out_dir=build/bench

tokens=${TOKENS:-0}
python3 - "$tokens" "${DELAY_MS:-5}" > "$work/script.json" <<'PY'
import json, sys
tokens, delay_ms = int(sys.argv[1]), int(sys.argv[2])
reply = {"chunks": [{"content": "ok"}]}
if tokens:
    reply = {"chunks": [{"content": f" tok{i}"} for i in range(tokens)], "delay_ms": delay_ms}
print(json.dumps({"models": [{"name": "bench", "capabilities": ["completion"], "context_length": 8192}],
                  "rules": [{"match": {"model": "bench"}, "reply": reply}]}))
PY
start_backend "$work/script.json"
bin=$(realpath "${RIPOSTE_BIN:-./build/riposte}")
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" --dump-instr=no \
  "$bin" --listen 127.0.0.1:0 --backend "http://127.0.0.1:$backend_port" \
  --store "rocksdb:$work/data" --log-level warn > "$work/riposte.log" 2>&1 &
riposte_pid=$!
pids+=($riposte_pid)
# Slow to start under valgrind: give it a minute.
for _ in $(seq 600); do grep -q "riposte listening" "$work/riposte.log" 2>/dev/null && break; sleep 0.1; done
riposte_port=$(announced_port "$work/riposte.log" "riposte listening")

creates_in_a_row() { # count
  python3 - "$riposte_port" "$1" "$tokens" <<'PY'
import http.client, sys
port, n, tokens = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
body = '{"model":"bench","input":"hi","stream":true}' if tokens else '{"model":"bench","input":"hi"}'
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
for _ in range(n):
    conn.request("POST", "/v1/responses", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    answer = r.read()
    if r.status != 200:
        sys.exit(f"create answered {r.status}: {answer[:300]!r}")
    if tokens and b"response.completed" not in answer:
        sys.exit(f"stream did not complete: {answer[-300:]!r}")
PY
}

creates_in_a_row "$warmup"
callgrind_control -z "$riposte_pid" >/dev/null 2>&1
creates_in_a_row "$creates"
callgrind_control -d "$riposte_pid" >/dev/null 2>&1
dump=$(ls -t "$work"/callgrind.out.* | head -n 1)
callgrind_annotate --inclusive=yes --threshold=100 "$dump" > "$work/inclusive.txt"
callgrind_annotate --threshold=100 "$dump" > "$work/self.txt"

python3 - "$work/inclusive.txt" "$work/self.txt" "$creates" "${TOP:-25}" "$out_dir" "$tokens" <<'PY'
import json, re, sys
inclusive, self_file, creates, top, out_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
tokens = int(sys.argv[6])

def rows(path):
    out = []
    for line in open(path):
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
        if m:
            out.append((int(m.group(1).replace(",", "")), m.group(2)))
    return out

def short(name):
    name = re.sub(r"^\S*?:", "", name, count=1)  # file:
    name = re.sub(r" \[[^\]]*\]$", "", name)     # [object]
    name = re.sub(r"nlohmann::json_abi_v3_11_2::basic_json<std::map.*?unsigned char> > >", "json", name)
    name = re.sub(r"std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >", "std::string", name)
    name = re.sub(r"caf::stateful_actor<riposte::actors::response::response_data, caf::event_based_actor>", "response_actor", name)
    return name[:140]

inc, own = rows(inclusive), rows(self_file)
total = next(n for n, name in inc if "PROGRAM TOTALS" in name)
# Each thread of riposte by the function its work starts in.
roles = [
    ("CAF workers", r"riposte::actors::\(anonymous namespace\)::worker::start\(\)::\{lambda\(\)#1\}"),
    ("writer", r"riposte::actors::append_writer::run\(\)"),
    ("HTTP thread", r"asio::detail::scheduler::run\("),
    ("backend client", r"riposte::adapters::backends::native_loop::impl::turn\(\)"),
    ("index", r"riposte::actors::index_follower::run\(\)"),
    ("RocksDB background", r"rocksdb::ThreadPoolImpl::Impl::BGThread\("),
]
by_role = {}
for role, pattern in roles:
    hits = [n for n, name in inc if re.search(pattern, name)]
    by_role[role] = max(hits) / creates if hits else 0.0
by_role["other"] = max(0.0, total / creates - sum(by_role.values()))
# (callgrind books a thread's entry with its whole thread: not a place.)
entry = re.compile(r"PROGRAM TOTALS|:clone |:start_thread|std::thread::_State_impl|libstdc\+\+\.so[^\]]*\]$")
functions = [(n / creates, short(name)) for n, name in inc
             if "riposte::" in name and not entry.search(name)][:top]
hot = [(n / creates, short(name)) for n, name in own if not entry.search(name)][:top]
summary = {"creates": creates, "tokens_per_create": tokens, "instructions_per_create": total / creates,
           "by_thread": by_role,
           "top_inclusive": [{"instructions": n, "function": f} for n, f in functions],
           "top_self": [{"instructions": n, "function": f} for n, f in hot]}
kind = f"streamed create of {tokens} tokens" if tokens else "blocking create"
lines = [f"# Instructions per {kind} ({creates} in a row, after a warm-up)", "",
         f"**{total / creates / 1000:,.0f} thousand instructions per create**, every thread of riposte.", ""]
if tokens:
    summary["instructions_per_token"] = total / creates / tokens
    lines += [f"Per token, the create's own work included: {total / creates / tokens / 1000:,.1f} thousand.", ""]
lines += ["| thread | thousand instructions per create |", "|---|---:|"]
lines += [f"| {role} | {n / 1000:,.1f} |" for role, n in by_role.items()]
lines += ["", "| inclusive, riposte's own functions | thousand |", "|---|---:|"]
lines += [f"| `{f}` | {n / 1000:,.1f} |" for n, f in functions]
lines += ["", "| self (where the instructions are) | thousand |", "|---|---:|"]
lines += [f"| `{f}` | {n / 1000:,.1f} |" for n, f in hot]
json.dump(summary, open(f"{out_dir}/instructions.json", "w"), indent=1)
open(f"{out_dir}/instructions.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
