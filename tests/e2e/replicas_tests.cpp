// End to end: several riposte replicas on one PostgreSQL of the test's own,
// each with its own --replica-id and a short lease. Any replica answers for
// any response from the log; a replica killed mid-generation has its
// responses closed (`server_restarted`) and its queue run by another within
// the lease bound; a replica paused past its lease never writes again (it is
// fenced, and stops when it wakes).
#include "tests/support/forms.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

using json = nlohmann::json;
using namespace riposte::tests;
using namespace std::chrono_literals;

namespace {

// Short enough to see a takeover quickly, long enough that a replica on a
// loaded machine (the sanitized suite runs two suites side by side) never
// misses its renewals (every third of it). Suites that test no failover
// take the default.
constexpr long lease_ms = 2000;

json slow(int chunks) {
  json c = json::array();
  for (int i = 0; i < chunks; ++i)
    c.push_back({{"content", "w" + std::to_string(i) + " "}});
  return {{"chunks", c}, {"delay_ms", 40}};
}

// Long streams (40 s) for the replica that dies or stalls, quick answers for
// the rest.
json script() {
  return {
      {"rules",
       {{{"match", {{"contains", "slow"}}}, {"reply", slow(1000)}},
        {{"match", {{"contains", "medium"}}}, {"reply", slow(15)}},
        {{"match", {{"contains", "quick"}}}, {"reply", {{"chunks", {{{"content", "done"}}}}}}}}}};
}

struct cluster {
  own_postgres pg;
  scripted_backend backend{script()};
  std::vector<std::unique_ptr<riposte_server>> replicas;

  // `first_flags` go to the first replica only, `all_flags` to each.
  explicit cluster(int n, std::vector<std::string> first_flags = {}, long lease = 6000,
                   std::vector<std::string> all_flags = {}) {
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> flags{"--replica-id", std::string(1, char('a' + i)), "--lease-ms",
                                     std::to_string(lease)};
      if (i == 0)
        flags.insert(flags.end(), first_flags.begin(), first_flags.end());
      flags.insert(flags.end(), all_flags.begin(), all_flags.end());
      replicas.push_back(std::make_unique<riposte_server>(backend.url(), flags, pg.url()));
    }
  }
  riposte_server& operator[](std::size_t i) { return *replicas[i]; }
};

json ok(const http_result& r) {
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  return json::parse(r.body);
}

std::string create(riposte_server& r, const json& body, std::vector<std::string> headers = {}) {
  return ok(r.post("/v1/responses", body, std::move(headers)))["id"].get<std::string>();
}

// Polls `r` until the response's status satisfies `done`, or `limit` passes
// (looking at least once).
json poll(riposte_server& r, const std::string& id, std::chrono::milliseconds limit,
          const std::function<bool(const std::string&)>& done,
          std::vector<std::string> headers = {}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  json seen;
  for (;;) {
    auto got = r.get("/v1/responses/" + id, headers);
    if (got.status == 200) {
      seen = json::parse(got.body);
      if (done(seen["status"].get<std::string>()))
        return seen;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return seen;
    std::this_thread::sleep_for(50ms);
  }
}

bool terminal(const std::string& status) {
  return status == "completed" || status == "failed" || status == "incomplete" ||
         status == "cancelled";
}

// A streaming create on `r` that runs until its replica goes away; `deltas`
// counts what arrived.
struct stream_client {
  std::atomic<int> deltas{0};
  std::atomic<bool> ended{false};
  std::string id;
  std::mutex mutex;
  std::thread thread;

  stream_client(riposte_server& r, const std::string& input) {
    thread = std::thread{[&, url = r.url("/v1/responses"), input] {
      sse_call("POST", url,
               json{{"model", "llama3.2:1b"}, {"input", input}, {"stream", true}}.dump(), -1,
               [&](const std::string& raw) {
                 std::lock_guard guard{mutex};
                 if (id.empty())
                   if (auto at = raw.find("\"id\":\"resp_"); at != std::string::npos)
                     id = raw.substr(at + 6, raw.find('"', at + 6) - at - 6);
                 if (raw.find("output_text.delta") != std::string::npos)
                   ++deltas;
               });
      ended = true;
    }};
  }
  ~stream_client() { thread.join(); }
  std::string response_id() {
    std::lock_guard guard{mutex};
    return id;
  }
  bool wait_for_deltas(int n) {
    for (int i = 0; i < 400 && deltas < n; ++i)
      std::this_thread::sleep_for(50ms);
    return deltas >= n;
  }
};

// The response's stored events, read through `r`.
std::vector<std::string> event_types(riposte_server& r, const std::string& id) {
  std::vector<std::string> types;
  std::string after;
  for (;;) {
    auto page = ok(r.get("/v1/responses/" + id + "/events?limit=100" + after));
    for (const auto& e : page["data"]) {
      types.push_back(e["type"].get<std::string>());
      after = "&after=" + std::to_string(e["seq"].get<long>());
    }
    if (!page["has_more"].get<bool>())
      return types;
  }
}

// When each sequence_number arrived on a stream.
struct arrivals {
  std::mutex mutex;
  std::map<long, std::chrono::steady_clock::time_point> at;

  void note(const std::string& raw) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard guard{mutex};
    const std::string key = "\"sequence_number\":";
    for (auto p = raw.find(key); p != std::string::npos; p = raw.find(key, p + 1)) {
      auto digits = raw.substr(p + key.size(), 12);
      if (!digits.empty() && std::isdigit(static_cast<unsigned char>(digits[0])))
        at.emplace(std::stol(digits), now);
    }
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(replicas)

// Creates spread over three replicas; each one reads every response, its
// input items and its replayed stream exactly as the one that made it; a
// chain of 20 turns alternates replicas and every turn sees the whole chain.
BOOST_AUTO_TEST_CASE(any_replica_answers_for_any_response_from_the_log) {
  cluster c{3};
  std::vector<std::pair<std::size_t, std::string>> made;
  for (std::size_t i = 0; i < 6; ++i)
    made.emplace_back(i % 3, create(c[i % 3], {{"model", "llama3.2:1b"},
                                               {"input", "quick " + std::to_string(i)}}));
  for (const auto& [owner, id] : made) {
    auto original = c[owner].get("/v1/responses/" + id);
    BOOST_REQUIRE_EQUAL(original.status, 200);
    auto items = ok(c[owner].get("/v1/responses/" + id + "/input_items")).dump();
    auto stream = sse_call("GET", c[owner].url("/v1/responses/" + id + "?stream=true"), "");
    for (std::size_t other = 0; other < 3; ++other) {
      if (other == owner)
        continue;
      auto read = c[other].get("/v1/responses/" + id);
      BOOST_TEST(read.status == 200);
      BOOST_TEST(read.body == original.body);
      BOOST_TEST(ok(c[other].get("/v1/responses/" + id + "/input_items")).dump() == items);
      auto replay = sse_call("GET", c[other].url("/v1/responses/" + id + "?stream=true"), "");
      BOOST_TEST(replay.raw == stream.raw);
    }
  }

  std::string previous;
  for (int turn = 0; turn < 20; ++turn) {
    json body{{"model", "llama3.2:1b"}, {"input", "quick turn " + std::to_string(turn)}};
    if (!previous.empty())
      body["previous_response_id"] = previous;
    previous = create(c[static_cast<std::size_t>(turn) % 3], body);
  }
  auto sent = c.backend.requests().back()["messages"];
  BOOST_REQUIRE_EQUAL(sent.size(), 39u); // 20 inputs and 19 answers
  for (int turn = 0; turn < 20; ++turn)
    BOOST_TEST(sent[static_cast<std::size_t>(turn) * 2]["content"].dump().find(
                   "quick turn " + std::to_string(turn)) != std::string::npos);
}

// A stream followed through another replica: each event the owner appends
// wakes the follower through PostgreSQL (LISTEN/NOTIFY), so it arrives a
// few milliseconds after the owner's own client saw it, not at the next
// poll of the log (every 500 ms behind the news).
BOOST_AUTO_TEST_CASE(a_follower_on_another_replica_hears_each_event_as_it_is_appended) {
  cluster c{2};
  arrivals owner, follower;
  std::string id;
  std::mutex id_mutex;
  std::thread creator{[&] {
    sse_call("POST", c[0].url("/v1/responses"),
             json{{"model", "llama3.2:1b"}, {"input", "slow timed"}, {"stream", true}}.dump(), 200,
             [&](const std::string& raw) {
               owner.note(raw);
               std::lock_guard guard{id_mutex};
               if (id.empty())
                 if (auto at = raw.find("\"id\":\"resp_"); at != std::string::npos)
                   id = raw.substr(at + 6, raw.find('"', at + 6) - at - 6);
             });
  }};
  std::string seen;
  for (int i = 0; i < 200 && seen.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    std::lock_guard guard{id_mutex};
    seen = id;
  }
  BOOST_REQUIRE(!seen.empty());
  // Resumed after its third event: the stored ones, then the live ones.
  auto resumed =
      sse_call("GET", c[1].url("/v1/responses/" + seen + "?stream=true&starting_after=3"), "", 150,
               [&](const std::string& raw) { follower.note(raw); });
  creator.join();
  // A true suffix of the stream, event for event what the log replays.
  auto replay = sse_call("GET", c[1].url("/v1/responses/" + seen + "?stream=true"), "");
  BOOST_REQUIRE_EQUAL(resumed.events.size(), 150u);
  BOOST_REQUIRE_GT(replay.events.size(), 154u);
  BOOST_TEST(resumed.events.front()["sequence_number"] == 4);
  BOOST_TEST((resumed.events ==
              std::vector<json>(replay.events.begin() + 4, replay.events.begin() + 154)));
  // The events both saw live (the follower's first ones were replayed from
  // the log): how much later the follower had each.
  std::vector<long> delays;
  {
    std::scoped_lock guard{owner.mutex, follower.mutex};
    auto first_live = follower.at.empty() ? 0 : follower.at.rbegin()->first - 100;
    for (const auto& [seq, t] : follower.at)
      if (seq >= first_live)
        if (auto o = owner.at.find(seq); o != owner.at.end())
          delays.push_back(
              std::chrono::duration_cast<std::chrono::microseconds>(t - o->second).count());
  }
  BOOST_REQUIRE_GE(delays.size(), 80u);
  std::sort(delays.begin(), delays.end());
  auto p50 = delays[delays.size() / 2];
  auto p99 = delays[delays.size() * 99 / 100];
  BOOST_TEST_MESSAGE("follower on the other replica: +" << p50 << " us p50, +" << p99
                                                        << " us p99 per event (" << delays.size()
                                                        << " events)");
  // A poll every 500 ms would make the median ~250 ms.
  BOOST_TEST(p50 < 100000, p50 << " us");
}

// POST /cancel on replicas that do not run the response: the one that
// does hears of it and cancels it, running or queued, and the answer is the
// cancelled Response as the log holds it.
BOOST_AUTO_TEST_CASE(a_cancel_on_any_replica_reaches_the_one_that_runs_the_response) {
  cluster c{3, {"--backend-concurrency", "1"}};
  auto running =
      ok(c[0].post("/v1/responses",
                   {{"model", "llama3.2:1b"}, {"input", "slow bg"}, {"background", true}}))["id"]
          .get<std::string>();
  auto queued = ok(c[0].post(
      "/v1/responses", {{"model", "llama3.2:1b"}, {"input", "slow queued"}, {"background", true}}));
  BOOST_TEST(queued["status"] == "queued");
  auto started = poll(c[0], running, 10s, [](const std::string& s) { return s == "in_progress"; });
  BOOST_REQUIRE(started["status"] == "in_progress");
  // The queued one first, through C (cancelling the running one starts
  // it), then the running one through B.
  for (const auto& [id, through] : {std::pair{queued["id"].get<std::string>(), 2}, {running, 1}}) {
    auto asked = std::chrono::steady_clock::now();
    auto answer = ok(c[through].post("/v1/responses/" + id + "/cancel", json::object()));
    auto took = std::chrono::steady_clock::now() - asked;
    BOOST_TEST(answer["status"] == "cancelled", answer.dump());
    BOOST_TEST_MESSAGE("cancelled through the other replica in "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                       << " ms");
    // The owner has it cancelled too, byte for byte what the canceller said.
    auto there = c[0].get("/v1/responses/" + id);
    BOOST_TEST(json::parse(there.body) == answer);
    // Asked again (now on any replica): the same Response, unchanged.
    for (std::size_t i = 0; i < 3; ++i)
      BOOST_TEST(ok(c[i].post("/v1/responses/" + id + "/cancel", json::object())) == answer);
  }
  // A foreground response cannot be cancelled, from either replica.
  auto blocking = create(c[0], {{"model", "llama3.2:1b"}, {"input", "quick"}});
  BOOST_TEST(c[2].post("/v1/responses/" + blocking + "/cancel", json::object()).status == 400);
  // The backend is free again: what comes next runs.
  auto next = create(c[1], {{"model", "llama3.2:1b"}, {"input", "quick next"}});
  BOOST_TEST(ok(c[1].get("/v1/responses/" + next))["status"] == "completed");
}

// Two replicas racing on one Idempotency-Key make one response.
BOOST_AUTO_TEST_CASE(two_replicas_racing_on_one_idempotency_key_make_one_response) {
  cluster c{2};
  for (int round = 0; round < 5; ++round) {
    std::string key = "Idempotency-Key: order-" + std::to_string(round);
    json body{{"model", "llama3.2:1b"}, {"input", "quick race"}};
    http_result answers[2];
    std::thread racers[2];
    for (std::size_t i = 0; i < 2; ++i)
      racers[i] = std::thread{[&, i] { answers[i] = c[i].post("/v1/responses", body, {key}); }};
    for (auto& t : racers)
      t.join();
    auto first = ok(answers[0]);
    auto second = ok(answers[1]);
    BOOST_TEST(first["id"] == second["id"]);
    BOOST_TEST(first["status"] == "completed");
    BOOST_TEST(second == first);
  }
}

// kill -9 of the replica that runs a stream and holds queued background
// work: another replica closes the stream's response as `server_restarted`
// within the lease bound and runs the queued responses to the end.
BOOST_AUTO_TEST_CASE(a_killed_replica_s_work_is_closed_and_run_by_another_within_the_lease) {
  cluster c{2, {"--backend-concurrency", "1"}, lease_ms};
  stream_client stream{c[0], "slow stream"};
  BOOST_REQUIRE(stream.wait_for_deltas(3));
  auto id = stream.response_id();
  BOOST_REQUIRE(!id.empty());
  std::vector<std::string> queued;
  for (int i = 0; i < 3; ++i) {
    auto made = ok(c[0].post("/v1/responses", {{"model", "llama3.2:1b"},
                                               {"input", "quick bg " + std::to_string(i)},
                                               {"background", true}}));
    BOOST_TEST(made["status"] == "queued");
    queued.push_back(made["id"].get<std::string>());
  }
  // B reads it as A left it so far, and a client streams it through B from
  // its first event: stored, then followed as A appends.
  BOOST_TEST(ok(c[1].get("/v1/responses/" + id))["status"] == "in_progress");
  std::atomic<int> followed{0};
  sse_result resumed;
  std::thread follower{[&] {
    resumed = sse_call("GET", c[1].url("/v1/responses/" + id + "?stream=true"), "", -1,
                       [&](const std::string& raw) {
                         if (raw.find("output_text.delta") != std::string::npos)
                           ++followed;
                       });
  }};
  auto seen = stream.deltas.load();
  for (int i = 0; i < 200 && (stream.deltas < seen + 5 || followed < 3); ++i)
    std::this_thread::sleep_for(50ms);
  BOOST_REQUIRE(followed >= 3);

  auto killed = std::chrono::steady_clock::now();
  c[0].crash();
  auto closed = poll(c[1], id, 10s, terminal);
  auto took = std::chrono::steady_clock::now() - killed;
  BOOST_TEST(closed["status"] == "failed");
  BOOST_TEST(closed["error"]["code"] == "server_restarted");
  // The lease runs out, then the next claim (a third of it later) finds it.
  BOOST_TEST_MESSAGE("closed by the other replica "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                     << " ms after the kill (lease " << lease_ms << " ms)");
  BOOST_TEST(took < std::chrono::milliseconds(lease_ms * 4 / 3 + 2000),
             std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  for (const auto& q : queued) {
    auto done = poll(c[1], q, 15s, terminal);
    BOOST_TEST(done["status"] == "completed", q << ": " << done.dump());
  }
  auto types = event_types(c[1], id);
  BOOST_REQUIRE(!types.empty());
  BOOST_TEST(types.back() == "response_failed");
  // The stream through B went on to the end B wrote, event for event what
  // the log replays now: no gap, no duplicate at either hand-over.
  follower.join();
  BOOST_REQUIRE(!resumed.names.empty());
  BOOST_TEST(resumed.names.back() == "response.failed");
  auto replay = sse_call("GET", c[1].url("/v1/responses/" + id + "?stream=true"), "");
  BOOST_TEST(resumed.events.size() == replay.events.size());
  BOOST_TEST((resumed.events == replay.events));
}

// A replica stalled (SIGSTOP) past its lease: another one takes its stream's
// response over and closes it; when the stalled one wakes it cannot append
// another event and stops. No response is ever run by two replicas.
BOOST_AUTO_TEST_CASE(a_replica_stalled_past_its_lease_never_writes_again) {
  cluster c{2, {}, lease_ms};
  stream_client stream{c[0], "slow stream"};
  BOOST_REQUIRE(stream.wait_for_deltas(3));
  auto id = stream.response_id();
  BOOST_REQUIRE(!id.empty());
  c[0].process().signal(SIGSTOP);
  auto closed = poll(c[1], id, 10s, terminal);
  BOOST_TEST(closed["status"] == "failed");
  BOOST_TEST(closed["error"]["code"] == "server_restarted");
  auto before = event_types(c[1], id);
  c[0].process().signal(SIGCONT);
  auto code = c[0].process().wait_exit(10s);
  BOOST_TEST(code == 75, "exit " << code << ": " << c[0].process().output());
  BOOST_TEST(c[0].process().output().find("lease") != std::string::npos);
  // Nothing was added after the takeover's terminal event.
  auto after = event_types(c[1], id);
  BOOST_TEST(after == before);
  BOOST_TEST(after.back() == "response_failed");
  // The survivor goes on serving.
  auto more = create(c[1], {{"model", "llama3.2:1b"}, {"input", "quick after"}});
  BOOST_TEST(ok(c[1].get("/v1/responses/" + more))["status"] == "completed");
}

// A conversation across replicas: each one reads the turns and items the
// others appended; its lock holds across them (of two turns racing on two
// replicas one runs, the other is conversation_locked); and the lock of a
// replica that dies mid-turn ends with its lease.
BOOST_AUTO_TEST_CASE(a_conversation_s_turns_and_lock_hold_across_replicas) {
  cluster c{2, {}, lease_ms};
  auto conv = ok(c[0].post("/v1/conversations", {{"metadata", {{"topic", "replicas"}}}}))["id"]
                  .get<std::string>();
  auto turn = [&](const std::string& input) {
    return json{{"model", "llama3.2:1b"}, {"conversation", conv}, {"input", input}};
  };
  auto items = [&](riposte_server& r) {
    return ok(r.get("/v1/conversations/" + conv + "/items?order=asc&limit=100"))["data"];
  };
  auto counted = [&](riposte_server& r) {
    return ok(r.post("/v1/responses/input_tokens", turn("count")))["input_tokens"].get<int>();
  };
  // Turns on A, read on B (whose actor, once it has read the conversation,
  // catches up with what A appends), and the other way round.
  create(c[0], turn("quick one"));
  BOOST_TEST(items(c[1]).size() == 2u);
  create(c[0], turn("quick two"));
  BOOST_TEST(items(c[1]).size() == 4u);
  create(c[1], turn("quick three"));
  BOOST_TEST(items(c[0]) == items(c[1]));
  BOOST_TEST(items(c[0]).size() == 6u);
  BOOST_TEST(counted(c[0]) == counted(c[1]));

  // Two turns racing, one on each replica: one runs, the other is refused.
  for (int round = 0; round < 4; ++round) {
    http_result answers[2];
    std::thread racers[2];
    for (std::size_t i = 0; i < 2; ++i)
      racers[i] = std::thread{[&, i] {
        answers[i] = c[i].post("/v1/responses", turn("medium race " + std::to_string(round)));
      }};
    for (auto& t : racers)
      t.join();
    int ran = 0;
    int locked = 0;
    for (const auto& a : answers) {
      if (a.status == 200 && json::parse(a.body)["status"] == "completed")
        ++ran;
      else if (a.status == 400 && a.body.find("\"conversation_locked\"") != std::string::npos)
        ++locked;
      else
        BOOST_ERROR("round " << round << ": " << a.status << " " << a.body);
    }
    BOOST_TEST(ran + locked == 2);
    BOOST_TEST(ran >= 1);
    BOOST_TEST_MESSAGE("round " << round << ": " << ran << " ran, " << locked << " locked");
  }
  auto before = items(c[1]);
  BOOST_TEST(before.size() % 2 == 0u); // whole turns only
  BOOST_TEST(before.size() >= 6u + 2u * 4u);

  // A's long turn holds it on B too; B can still add items.
  auto running = ok(c[0].post("/v1/responses",
                              [&] {
                                auto t = turn("slow turn");
                                t["background"] = true;
                                return t;
                              }()))["id"]
                     .get<std::string>();
  BOOST_REQUIRE(poll(c[0], running, 10s, [](const std::string& s) {
                  return s == "in_progress";
                })["status"] == "in_progress");
  auto refused = c[1].post("/v1/responses", turn("quick four"));
  BOOST_TEST(refused.status == 400);
  BOOST_TEST(refused.body.find("\"conversation_locked\"") != std::string::npos, refused.body);
  ok(c[1].post("/v1/conversations/" + conv + "/items",
               {{"items", {{{"type", "message"}, {"role", "user"}, {"content", "a note"}}}}}));

  // A dies mid-turn: the turn ends with A's lease, and B takes the next.
  c[0].crash();
  auto closed = poll(c[1], running, 10s, terminal);
  BOOST_TEST(closed["status"] == "failed");
  BOOST_TEST(closed["error"]["code"] == "server_restarted");
  auto next = ok(c[1].post("/v1/responses", turn("quick five")));
  BOOST_TEST(next["status"] == "completed");
  auto after = items(c[1]);
  BOOST_TEST(after.size() == before.size() + 3); // the note and the last turn
  BOOST_TEST(after[before.size()]["content"][0]["text"] == "a note");
  // The log tells the lock's story.
  auto stored = ok(c[1].get("/v1/conversations/" + conv + "/events?limit=100"))["data"];
  int began = 0;
  for (const auto& e : stored)
    began += e["type"] == "conversation_turn_began" ? 1 : 0;
  BOOST_TEST(began >= 3 + 4 + 2);
}

// A tenant's file quota holds across replicas: uploads racing on two
// replicas store exactly as many files as fit.
BOOST_AUTO_TEST_CASE(a_file_quota_holds_across_replicas) {
  cluster c{2, {"--tenant-quota-bytes", "1000000"}};
  riposte_server second{
      c.backend.url(), {"--replica-id", "q", "--tenant-quota-bytes", "1000000"}, c.pg.url()};
  riposte_server* at[2] = {&c[0], &second};
  auto body = form({{"file", std::string(300'000, 'q'), "q.txt"}, {"purpose", "user_data", ""}});
  std::vector<http_result> results(8);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < 8)
        std::this_thread::yield();
      results[i] = upload(*at[i % 2], body);
    });
  for (auto& t : threads)
    t.join();
  int stored = 0;
  for (const auto& res : results) {
    if (res.status == 200)
      ++stored;
    else
      BOOST_TEST(res.status == 413, res.status << " " << res.body);
  }
  BOOST_TEST(stored == 3); // 3 × 300,000 bytes fit in 1,000,000; a fourth does not
  for (auto* r : at)
    BOOST_TEST(json::parse(r->get("/v1/files").body)["data"].size() == 3u);
}

// A replica started with other backend settings is reported by the others
// (a warning naming it, and a gauge), and reports them; once it is gone they
// agree again.
BOOST_AUTO_TEST_CASE(replicas_serving_differently_are_reported) {
  cluster c{2, {}, lease_ms};
  auto differing = [](riposte_server& r) {
    auto text = r.get("/metrics").body;
    const std::string name = "\nriposte_replicas_config_differing ";
    auto at = text.find(name);
    return at == std::string::npos ? -1 : std::stoi(text.substr(at + name.size()));
  };
  BOOST_TEST(differing(c[0]) == 0);
  riposte_server odd{
      c.backend.url(),
      {"--replica-id", "odd", "--lease-ms", std::to_string(lease_ms), "--backend-concurrency", "3"},
      c.pg.url()};
  auto seen = [&](riposte_server& r, int n) {
    for (int i = 0; i < 100 && differing(r) != n; ++i)
      std::this_thread::sleep_for(50ms);
    return differing(r) == n;
  };
  BOOST_TEST(seen(c[0], 1));
  BOOST_TEST(seen(c[1], 1));
  BOOST_TEST(seen(odd, 2));
  BOOST_TEST(c[0].process().output().find("serve different backends") != std::string::npos);
  BOOST_TEST(c[0].process().output().find("\"odd\"") != std::string::npos);
  odd.stop();
  BOOST_TEST(seen(c[0], 0));
  BOOST_TEST(seen(c[1], 0));
}

// One queue for the whole cluster: with --backend-concurrency 1 on both
// replicas the backend never streams two generations at once, whichever
// replica took them (background and blocking alike); tenants take turns
// across replicas (bob's one job goes before alice's backlog, queued on
// both); and a replica killed while running frees its slot within the lease.
BOOST_AUTO_TEST_CASE(a_concurrency_limit_and_tenant_turns_hold_across_replicas) {
  cluster c{2,
            {},
            lease_ms,
            {"--backend-concurrency", "1", "--api-key", "ka:alice", "--api-key", "kb:bob"}};
  auto as = [](const std::string& key) {
    return std::vector<std::string>{"Authorization: Bearer " + key};
  };
  // The response's status once `want` says so, or when `limit` passed.
  auto wait = [&](riposte_server& r, const std::string& id, const std::string& key,
                  std::chrono::milliseconds limit,
                  const std::function<bool(const std::string&)>& want) {
    return poll(r, id, limit, want, as(key)).value("status", "");
  };
  auto running = [](const std::string& s) { return s == "in_progress"; };
  struct job {
    std::size_t replica;
    std::string key, input;
  };
  std::vector<job> jobs{{0, "ka", "medium a1"},
                        {1, "ka", "medium a2"},
                        {0, "ka", "medium a3"},
                        {1, "ka", "medium a4"},
                        {1, "kb", "medium b1"}};
  std::vector<std::pair<std::string, std::string>> made; // id, key
  for (const auto& j : jobs) {
    made.emplace_back(create(c[j.replica],
                             {{"model", "llama3.2:1b"}, {"input", j.input}, {"background", true}},
                             as(j.key)),
                      j.key);
    if (made.size() == 1) // the first runs before the others queue
      BOOST_REQUIRE(wait(c[0], made[0].first, "ka", 10s, running) == "in_progress");
  }
  // A blocking create waits its turn like the rest.
  http_result blocking;
  std::thread foreground{[&] {
    blocking =
        c[0].post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "medium a5"}}, as("ka"));
  }};
  for (const auto& [id, key] : made)
    BOOST_TEST(wait(c[1], id, key, 30s, terminal) == "completed", id);
  foreground.join();
  BOOST_TEST(blocking.status == 200, blocking.body);
  std::vector<std::string> order;
  for (const auto& req : c.backend.requests())
    order.push_back(req["messages"].back()["content"].get<std::string>());
  BOOST_TEST(order == (std::vector<std::string>{"medium a1", "medium b1", "medium a2", "medium a3",
                                                "medium a4", "medium a5"}),
             json(order).dump());
  auto peak = json::parse(http_call("GET", c.backend.url() + "/_scripted/peak").body);
  BOOST_TEST(peak["peak"] == 1, peak.dump());

  // A runs a long job; B's job waits for the one slot until A is killed.
  auto slow_one = create(
      c[0], {{"model", "llama3.2:1b"}, {"input", "slow bg"}, {"background", true}}, as("ka"));
  BOOST_REQUIRE(wait(c[0], slow_one, "ka", 10s, running) == "in_progress");
  auto waiting = create(
      c[1], {{"model", "llama3.2:1b"}, {"input", "quick bg"}, {"background", true}}, as("kb"));
  std::this_thread::sleep_for(1s);
  BOOST_TEST(wait(c[1], waiting, "kb", 0s, terminal) == "queued");
  auto killed = std::chrono::steady_clock::now();
  c[0].crash();
  auto done = wait(c[1], waiting, "kb", 15s, terminal);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - killed)
                  .count();
  BOOST_TEST(done == "completed");
  BOOST_TEST_MESSAGE("the dead replica's slot went to the waiting job " << took
                                                                        << " ms after the kill");
  // The lease runs out after at most lease_ms, then a look within 500 ms.
  BOOST_TEST(took < lease_ms * 2 + 1500);
  // (The backend may still be writing to the dead replica until it finds
  // the connection closed: the scripted one only does at its next chunk.)
}

BOOST_AUTO_TEST_SUITE_END()
