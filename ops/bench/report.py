"""Merges the scenario results of one ops/bench/run.sh into report.json and
report.md: every figure beside its baseline from the same run, the ratio,
and the issue's goal with whether it was met."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
machine = sys.argv[2]
stream_counts = [int(n) for n in sys.argv[3:]]
load = lambda name: json.loads((out / name).read_text())
create = load("create.json")
streams = {n: load(f"stream_{n}.json") for n in stream_counts}
chain = load("chain.json")
event_log = load("event_log.json")
cold = load("cold_start.json")
ws = load("websocket.json")
conversation = load("conversation.json")

goals = []
def goal(name, value, limit, unit, better="lower"):
    ok = value <= limit if better == "lower" else value >= limit
    goals.append({"goal": name, "measured": round(value, 2), "limit": limit, "unit": unit,
                  "met": ok})

t = create["targets"]
goal("scenario 1: added p50 at 1,000 req/s", create["riposte_added_p50_us_at_1000rps"], 150, "µs")
goal("scenario 1: added p99 at 1,000 req/s", create["riposte_added_p99_us_at_1000rps"], 1000, "µs")
goal("scenario 1: sustained req/s (50 connections)", t["riposte"]["c50_rps"], 10000, "req/s",
     "higher")
# The performance issue's: one fdatasync of this disk plus 150 µs at c=1, a
# paced p99 within 2 ms, and 100 µs of riposte's CPU per create.
goal("scenario 1: added p50 at c=1 (one fdatasync p50 + 150 µs)", create["riposte_added_p50_us"],
     round(create.get("fdatasync_p50_us", 0) + 150), "µs")
goal("scenario 1: added p99 at a paced 1,000 req/s", create["riposte_added_p99_us_at_1000rps"],
     2000, "µs")
goal("scenario 1: riposte CPU per create (50 connections)", t["riposte"]["cpu_us_per_request_c50"],
     100, "µs")
# The streaming issue sets its goal at 1,000 streams, the benchmark issue at
# 2,000 (a smoke run has neither: its largest count stands in).
for n in sorted({1000, 2000} & set(stream_counts)) or [max(stream_counts)]:
    goal(f"scenario 2: added inter-token p99 at {n} streams",
         streams[n]["riposte"]["itl_p99_ms"] - streams[n]["direct"]["itl_p99_ms"], 5, "ms")
    goal(f"scenario 2: peak RSS at {n} streams", streams[n]["riposte"]["peak_rss_mib"], 300, "MiB")
by_depth = {row["depth"]: row for row in chain}
deepest = max(by_depth)
goal(f"scenario 3: depth {deepest} within 2 ms of depth 1",
     by_depth[deepest]["added_ms"] - by_depth[1]["added_ms"], 2, "ms")
by_turn = {row["turn"]: row for row in conversation if not row.get("cold")}
last_turn = max(by_turn)
goal(f"scenario 8: turn {last_turn} of a conversation within 2 ms of its first",
     by_turn[last_turn]["added_ms"] - by_turn[1]["added_ms"], 2, "ms")
goal("scenario 5: /readyz after a cold start", cold["ready_seconds"] * 1000, 1000, "ms")
goal("scenario 5: first GET of an old response", cold["first_get_seconds"] * 1000, 1000, "ms")

report = {"machine": machine, "create": create, "streams": streams, "chain": chain,
          "event_log": event_log, "cold_start": cold, "websocket": ws,
          "conversation": conversation, "goals": goals}
(out / "report.json").write_text(json.dumps(report, indent=2))

md = [f"Machine: {machine}. Client, backend, baselines and riposte share it.", ""]
md += ["### Scenarios 1 and 6: non-streaming create, instantly answering backend", "",
       "| target | c=1 p50 | c=1 p99 | paced req/s | paced p50 | paced p99 | max req/s (c=50) | vs direct | wrk CPU |",
       "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
for name in ("direct", "nginx", "riposte", "riposte-pg"):
    x = t[name]
    md.append(f"| {name} | {x['c1_p50_us']:.0f} µs | {x['c1_p99_us']:.0f} µs | {x['r1000_rps']:.0f} | "
              f"{x['r1000_p50_us']:.0f} µs | {x['r1000_p99_us']:.0f} µs | {x['c50_rps']:.0f} | "
              f"{x['c50_rps'] / t['direct']['c50_rps']:.2f}× | {x['wrk_cpu_share_c50']:.2f} cores |")
md += ["", f"This disk's fdatasync: {create.get('fdatasync_p50_us', 0):.0f} µs p50, "
           f"{create.get('fdatasync_p99_us', 0):.0f} µs p99 (the floor of a durable create); "
           f"{create.get('fdatasync_idle_p50_us', 0):.0f} µs p50 for an 8 KB append after 1 ms idle "
           f"(as a create at c=1 meets it). riposte's "
           f"CPU per create at 50 connections: {t['riposte']['cpu_us_per_request_c50']:.0f} µs."]
if "riposte_c1_phases_us" in create:
    md += ["Wall time of one blocking create at c=1 by step (µs, mean): " +
           ", ".join(f"{k.replace('_', ' ')} {v:.0f}" for k, v in create["riposte_c1_phases_us"].items())]
if "riposte_c50_cpu_us_per_create_by_thread" in create:
    md += ["Its CPU per create at 50 connections by thread (µs): " +
           ", ".join(f"{k} {v:.0f}"
                     for k, v in create["riposte_c50_cpu_us_per_create_by_thread"].items())]
for key, what in (("riposte_c1_backend_wait_us", "backend first update"),
                  ("riposte_c1_store_wait_us", "store and answer")):
    if key in create:
        md += [f"Its {what} by step (µs, mean): " +
               ", ".join(f"{k.replace('_', ' ')} {v:.0f}" for k, v in create[key].items())]
repeats = max(streams[n].get("runs", 1) for n in stream_counts)
md += ["", "### Scenario 2: concurrent streams, 200 tokens at 50 tokens/s"
       + (f" (each figure the median of {repeats} runs, each on a fresh riposte, the targets "
          "taking turns; peak RSS the highest)" if repeats > 1 else ""), "",
       "| streams | TTFT p50 direct / riposte (added) | TTFT p99 direct / riposte (added) | "
       "inter-token p50 direct / riposte | inter-token p99 direct / riposte (added) | "
       "tokens/s delivered direct / riposte (offered) | riposte CPU | peak RSS |",
       "|---:|---|---|---|---|---|---:|---:|"]
for n in stream_counts:
    d, r = streams[n]["direct"], streams[n]["riposte"]
    md.append(f"| {n} | {d['ttft_p50_ms']:.1f} / {r['ttft_p50_ms']:.1f} ms (+{r['ttft_p50_ms'] - d['ttft_p50_ms']:.1f}) | "
              f"{d['ttft_p99_ms']:.1f} / {r['ttft_p99_ms']:.1f} ms (+{r['ttft_p99_ms'] - d['ttft_p99_ms']:.1f}) | "
              f"{d['itl_p50_ms']:.2f} / {r['itl_p50_ms']:.2f} ms | "
              f"{d['itl_p99_ms']:.2f} / {r['itl_p99_ms']:.2f} ms (+{r['itl_p99_ms'] - d['itl_p99_ms']:.2f}) | "
              f"{d['tokens_per_s']:.0f} / {r['tokens_per_s']:.0f} ({n * 50}) | "
              f"{r['cpu_s']:.2f} s | {r['peak_rss_mib']:.0f} MiB |")
md += ["", "### Scenario 3: previous_response_id chains", "",
       "| depth | riposte | backend directly | added |", "|---:|---:|---:|---:|"]
for row in chain:
    md.append(f"| {row['depth']} | {row['riposte_ms']:.2f} ms | {row['direct_ms']:.2f} ms | {row['added_ms']:.2f} ms |")
md += ["", "### Scenario 4: event log", "",
       "| store | batch | append events/s | read events/s | audit feed events/s |", "|---|---:|---:|---:|---:|"]
for row in event_log:
    md.append(f"| {row['store']} | {row['batch']} | {row['append_events_per_s']:.0f} | "
              f"{row['read_events_per_s']:.0f} | {row['audit_feed_events_per_s']:.0f} |")
md += ["", "### Scenario 5: cold start", "",
       f"{cold['responses']:,} responses ({cold['events']:,} events, {cold['store_mb']} MiB of RocksDB): "
       f"`/readyz` 200 after {cold['ready_seconds'] * 1000:.0f} ms, first GET of the oldest response "
       f"after {cold['first_get_seconds'] * 1000:.0f} ms.", "",
       f"### Scenario 7: a Codex-shaped conversation of {ws['turns']} requests, HTTP replay vs "
       f"WebSocket (median of {ws['rounds']} rounds)", "",
       "| transport | bytes sent (all turns) | of which input | first turn | last turn | riposte CPU per turn | latency p50 | last turn latency |",
       "|---|---:|---:|---:|---:|---:|---:|---:|"]
for name in ("http", "websocket"):
    x = ws[name]
    md.append(f"| {name} | {x['bytes_total']:,} B | {x['input_bytes_total']:,} B | {x['bytes_first_turn']:,} B | {x['bytes_last_turn']:,} B | "
              f"{x['cpu_ms_per_turn']:.2f} ms | {x['latency_ms_p50']:.2f} ms | {x['latency_ms_last_turn']:.2f} ms |")
md += ["", f"### Scenario 8: a conversation of {last_turn} turns (each turn appends to it)", "",
       "| turn (median of 21 around it) | items before it | riposte | backend directly | added |",
       "|---:|---:|---:|---:|---:|"]
for row in conversation:
    label = f"{row['turn']}+, cold (read back from the log)" if row.get("cold") else row["turn"]
    md.append(f"| {label} | {row['items_before']} | {row['riposte_ms']:.2f} ms | "
              f"{row['direct_ms']:.2f} ms | {row['added_ms']:.2f} ms |")
md += ["", "### Goals", "", "| goal | measured | limit | |", "|---|---:|---:|---|"]
for g in goals:
    md.append(f"| {g['goal']} | {g['measured']} {g['unit']} | {g['limit']} {g['unit']} | "
              f"{'met' if g['met'] else '**missed**'} |")
(out / "report.md").write_text("\n".join(md) + "\n")
print("\n".join(md))
