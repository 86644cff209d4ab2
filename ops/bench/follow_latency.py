"""Per-event latency of a stream followed through another replica.

A streamed create on replica A (its client reads the events live), and the
same response streamed through replica B from its first event: B replays
what is stored, then follows what A appends. For each event both saw live,
the delay is when B's client had it minus when A's client had it.
  python3 ops/bench/follow_latency.py PORT_A PORT_B ROUNDS EVENTS
Prints one JSON object: p50/p90/p99/max in microseconds over all rounds.
"""
import http.client
import json
import re
import statistics
import sys
import threading
import time

SEQ = re.compile(rb'"sequence_number":(\d+)')


def read_stream(port, method, path, body, limit, arrivals, on_first=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    buf = b""
    while len(arrivals) < limit:
        chunk = resp.read1(65536)
        if not chunk:
            break
        now = time.monotonic()
        buf += chunk
        *frames, buf = buf.split(b"\n\n")
        for frame in frames:
            m = SEQ.search(frame)
            if m:
                arrivals.setdefault(int(m.group(1)), now)
            if on_first is not None:
                ident = re.search(rb'"id":"(resp_[0-9a-zA-Z_]+)"', frame)
                if ident:
                    on_first(ident.group(1).decode())
                    on_first = None
    conn.close()


def one_round(port_a, port_b, events):
    owner, follower = {}, {}
    found = threading.Event()
    ident = []

    def first(i):
        ident.append(i)
        found.set()

    creator = threading.Thread(target=read_stream, args=(
        port_a, "POST", "/v1/responses",
        {"model": "bench", "input": "follow me", "stream": True}, events + 20, owner, first))
    creator.start()
    found.wait(30)
    read_stream(port_b, "GET", "/v1/responses/%s?stream=true" % ident[0], None, events, follower)
    creator.join()
    live_from = max(follower) - events // 2  # the first ones were replayed from the log
    return [int((t - owner[s]) * 1e6) for s, t in follower.items() if s >= live_from and s in owner]


def main():
    port_a, port_b, rounds, events = (int(x) for x in sys.argv[1:5])
    delays = []
    for _ in range(rounds):
        delays += one_round(port_a, port_b, events)
    delays.sort()

    def q(p):
        return delays[min(len(delays) - 1, int(len(delays) * p))]

    print(json.dumps({"events": len(delays), "p50_us": q(0.5), "p90_us": q(0.9),
                      "p99_us": q(0.99), "max_us": delays[-1],
                      "mean_us": int(statistics.mean(delays))}))


if __name__ == "__main__":
    main()
