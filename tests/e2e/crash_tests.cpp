// End to end: kill -9 with 200 responses in flight in every state, on
// RocksDB and on PostgreSQL. After the restart every completed response
// reads back byte for byte, every unfinished one reaches a terminal state,
// and every event a client was sent is in the log. Then the one sync of a
// blocking create: kill -9 at any point of one leaves nothing a client saw
// or a terminal response, and a read of one before its outcome shows only
// what is on disk.
#include "tests/support/postgres.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using json = nlohmann::json;
using namespace riposte::tests;
using namespace std::chrono_literals;

namespace {

json slow(int chunks) {
  json c = json::array();
  for (int i = 0; i < chunks; ++i)
    c.push_back({{"content", "w" + std::to_string(i) + " "}});
  return {{"chunks", c}, {"delay_ms", 40}};
}

bool terminal(const std::string& status) {
  return status == "completed" || status == "failed" || status == "incomplete" ||
         status == "cancelled";
}

// Every response stream the audit feed holds.
std::set<std::string> responses_in_feed(riposte_server& r) {
  std::set<std::string> all;
  for (std::uint64_t after = 0;;) {
    auto page =
        json::parse(r.get("/v1/audit/events?limit=1000&after=" + std::to_string(after)).body);
    for (const auto& e : page["data"]) {
      after = e["global_position"].get<std::uint64_t>();
      if (e["type"] == "response_created")
        all.insert(e["stream"].get<std::string>());
    }
    if (!page["has_more"].get<bool>())
      return all;
  }
}

void kill_with_200_in_flight(const std::string& store) {
  scripted_backend b{
      {{"rules",
        // Streams long enough (40 s) that the kill always finds them mid-way,
        // however slowly a loaded machine got them going.
        {{{"match", {{"contains", "slow stream"}}}, {"reply", slow(1000)}},
         {{"match", {{"contains", "slow"}}}, {"reply", slow(100)}},
         {{"match", {{"contains", "quick"}}}, {"reply", {{"chunks", {{{"content", "done"}}}}}}}}}}};
  // Room for the 100 streaming and blocking generations and 20 background
  // ones; the other 30 background ones wait in the queue.
  riposte_server r{b.url(), {"--backend-concurrency", "120"}, store};
  const int per_state = 50;

  // 50 completed.
  std::map<std::string, std::string> completed; // id -> GET bytes
  for (int i = 0; i < per_state; ++i) {
    auto made = r.post("/v1/responses",
                       {{"model", "llama3.2:1b"}, {"input", "quick " + std::to_string(i)}});
    BOOST_REQUIRE_EQUAL(made.status, 200);
    auto id = json::parse(made.body)["id"].get<std::string>();
    completed[id] = r.get("/v1/responses/" + id).body;
  }
  // 50 streaming clients and 50 blocking ones, all generating; 50 background
  // ones, mostly queued behind them.
  std::mutex mutex;
  std::atomic<int> begun{0}; // streams that have had their first token
  std::vector<std::string> stream_bytes(per_state);
  std::vector<std::thread> clients;
  for (int i = 0; i < per_state; ++i)
    clients.emplace_back([&, i] {
      bool counted = false;
      auto got = sse_call(
          "POST", r.url("/v1/responses"),
          json{{"model", "llama3.2:1b"}, {"input", "slow stream"}, {"stream", true}}.dump(), -1,
          [&](const std::string& raw) {
            if (!counted && raw.find("response.output_text.delta") != std::string::npos) {
              counted = true;
              ++begun;
            }
          });
      std::lock_guard lock{mutex};
      stream_bytes[i] = std::move(got.raw); // what reached the client before the kill
    });
  for (int i = 0; i < per_state; ++i)
    clients.emplace_back([&] {
      (void)http_call("POST", r.url("/v1/responses"),
                      json{{"model", "llama3.2:1b"}, {"input", "slow blocking"}}.dump(),
                      {"Content-Type: application/json"});
    });
  std::vector<std::string> background;
  for (int i = 0; i < per_state; ++i) {
    auto made = r.post("/v1/responses",
                       {{"model", "llama3.2:1b"}, {"input", "slow bg"}, {"background", true}});
    BOOST_REQUIRE_EQUAL(made.status, 200);
    background.push_back(json::parse(made.body)["id"].get<std::string>());
  }
  // The kill comes once every stream is under way.
  for (int i = 0; i < 400 && begun.load() < per_state; ++i)
    std::this_thread::sleep_for(50ms);
  BOOST_TEST(begun.load() == per_state);
  std::this_thread::sleep_for(100ms);
  r.crash();
  for (auto& t : clients)
    t.join();
  r.restart();

  // Every response that exists, from the feed.
  auto all = responses_in_feed(r);
  BOOST_TEST(all.size() >= 3u * per_state); // blocking ones the kill beat may never have begun
  for (const auto& id : background)
    BOOST_TEST(all.count(id) == 1u);

  // Completed ones read back byte for byte.
  for (const auto& [id, bytes] : completed)
    BOOST_TEST(r.get("/v1/responses/" + id).body == bytes, id);

  // Unfinished ones all end (queued ones run again, generating ones fail).
  std::map<std::string, std::string> status;
  for (int round = 0; round < 300; ++round) {
    bool open = false;
    for (const auto& id : all) {
      if (terminal(status[id]))
        continue;
      status[id] = json::parse(r.get("/v1/responses/" + id).body).value("status", "");
      open = open || !terminal(status[id]);
    }
    if (!open)
      break;
    std::this_thread::sleep_for(100ms);
  }
  int failed_restart = 0, requeued_done = 0;
  for (const auto& id : all) {
    BOOST_TEST(terminal(status[id]), id << " is still " << status[id]);
    if (status[id] == "failed")
      ++failed_restart;
  }
  for (const auto& id : background)
    requeued_done += status[id] == "completed";
  BOOST_TEST(failed_restart >= per_state); // the streams, the blocking ones, running background
  BOOST_TEST(requeued_done >= 1);

  // What each streaming client was sent is a prefix of what the log replays.
  int checked = 0;
  for (const auto& raw : stream_bytes) {
    sse_result got;
    got.raw = raw;
    parse_frames(got);
    if (got.events.empty())
      continue;
    auto id = got.events.front()["response"]["id"].get<std::string>();
    auto replay = sse_call("GET", r.url("/v1/responses/" + id + "?stream=true"), "");
    auto whole_frames = raw.substr(0, raw.rfind("\n\n") + 2); // a frame cut by the kill aside
    std::size_t same = 0;
    while (same < whole_frames.size() && same < replay.raw.size() &&
           whole_frames[same] == replay.raw[same])
      ++same;
    BOOST_TEST(same == whole_frames.size(),
               id << ": the client saw events the log does not hold, from byte " << same << " of "
                  << whole_frames.size() << ": '" << whole_frames.substr(same, 160) << "' vs '"
                  << replay.raw.substr(same, 160) << "'");
    // A stream the kill cut ends failed in the log; one that had finished
    // is there whole.
    auto last = got.events.back()["type"].get<std::string>();
    if (last != "response.completed") {
      BOOST_TEST(replay.events.back()["type"] == "response.failed");
      BOOST_TEST(replay.events.back()["response"]["error"]["code"] == "server_restarted");
      ++checked;
    }
  }
  BOOST_TEST(checked >= per_state / 2, "only " << checked << " streams were cut mid-way");
}

} // namespace

BOOST_AUTO_TEST_SUITE(crash)

BOOST_AUTO_TEST_CASE(kill_9_with_200_responses_in_flight_loses_nothing_on_rocksdb) {
  kill_with_200_in_flight("");
}

BOOST_AUTO_TEST_CASE(kill_9_with_200_responses_in_flight_loses_nothing_on_postgres) {
  own_postgres pg;
  kill_with_200_in_flight(pg.url());
}

// A blocking create syncs once, at its outcome: its creation and its deltas
// are written without waiting for the disk. Killed at any moment (eight
// kills at random points while four clients create without pause), every
// response a client was answered reads back as it was answered, and every
// other one the store holds ends terminal after the restart.
BOOST_AUTO_TEST_CASE(
    kill_9_at_any_point_of_blocking_creates_leaves_nothing_seen_or_a_terminal_end) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "blk"}}},
          {"reply",
           {{"chunks", {{{"content", "one "}}, {{"content", "two "}}, {{"content", "three"}}}},
            {"delay_ms", 3}}}}}}}};
  riposte_server r{b.url()};
  std::mt19937 rng{std::random_device{}()};
  std::map<std::string, json> answered; // id -> the Response its client got
  int cut = 0;                          // creates the kill cut off
  for (int round = 0; round < 8; ++round) {
    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
      clients.emplace_back([&] {
        while (!stop.load()) {
          auto got = http_call("POST", r.url("/v1/responses"),
                               json{{"model", "llama3.2:1b"}, {"input", "blk"}}.dump(),
                               {"Content-Type: application/json"});
          std::lock_guard lock{mutex};
          if (got.status == 200) {
            auto body = json::parse(got.body);
            answered[body["id"].get<std::string>()] = body;
          } else {
            ++cut;
          }
        }
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    stop = true;
    r.crash();
    for (auto& t : clients)
      t.join();
    r.restart();
  }
  BOOST_TEST(cut >= 4); // the kills cut creates off
  BOOST_TEST(answered.size() >= 16u);
  for (const auto& [id, body] : answered) {
    auto now = json::parse(r.get("/v1/responses/" + id).body);
    BOOST_TEST(now == body, id << " was answered " << body.dump() << ", reads " << now.dump());
  }
  auto all = responses_in_feed(r);
  for (const auto& [id, body] : answered)
    BOOST_TEST(all.count(id) == 1u, id);
  std::map<std::string, std::string> status;
  for (int wait = 0; wait < 100; ++wait) {
    bool open = false;
    for (const auto& id : all)
      if (!terminal(status[id])) {
        status[id] = json::parse(r.get("/v1/responses/" + id).body).value("status", "");
        open = open || !terminal(status[id]);
      }
    if (!open)
      break;
    std::this_thread::sleep_for(100ms);
  }
  int ended_by_restart = 0;
  for (const auto& id : all) {
    BOOST_TEST(terminal(status[id]), id << " is still " << status[id]);
    ended_by_restart += answered.count(id) == 0;
  }
  BOOST_TEST_MESSAGE(answered.size() << " answered, " << cut << " cut off, " << ended_by_restart
                                     << " of them in the store, ended by the restart");
}

// A blocking create's creation is written without a sync. A read-only
// `riposte audit` or `riposte replay` beside the server, which reads what
// is written whether synced or not, serves it only once a sync covers it:
// a read of the audit feed by the server (which syncs what it serves
// first), or a later create's outcome.
BOOST_AUTO_TEST_CASE(a_blocking_create_is_read_only_once_a_sync_covers_its_creation) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "slow blk"}}},
          {"reply", {{"chunks", {{{"content", "at last"}}}}, {"held", true}}}},
         {{"match", {{"contains", "quick"}}}, {"reply", {{"chunks", {{{"content", "done"}}}}}}}}}}};
  riposte_server r{b.url()};
  auto tool = [&](std::vector<std::string> args) { return r.tool(std::move(args)); };
  auto slow_create = [&](json& answer) {
    return std::thread{[server = &r, out = &answer] {
      *out = json::parse(
          server->post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "slow blk"}}).body);
    }};
  };
  auto asked = [&](std::size_t n) { // created (stored, not synced) before the backend is asked
    for (int wait = 0; wait < 200 && b.requests().size() < n; ++wait)
      std::this_thread::sleep_for(10ms);
    BOOST_REQUIRE_EQUAL(b.requests().size(), n);
  };
  json first, second;
  auto one = slow_create(first);
  asked(1);
  BOOST_TEST(tool({"audit"}).find("response_created") == std::string::npos);
  auto fed = responses_in_feed(r);
  BOOST_REQUIRE_EQUAL(fed.size(), 1u);
  auto id = *fed.begin();
  BOOST_TEST(tool({"audit"}).find(id) != std::string::npos);
  auto seen = json::parse(r.get("/v1/responses/" + id).body);
  BOOST_TEST(seen["status"] == "in_progress");
  BOOST_TEST(json::parse(tool({"replay", id, "--response"})) == seen);
  auto two = slow_create(second);
  asked(2);
  auto created = tool({"audit", "--type", "response_created"});
  BOOST_TEST(std::count(created.begin(), created.end(), '\n') == 1); // the first only
  // A quick create's outcome syncs everything before it.
  auto quick = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "quick"}});
  BOOST_REQUIRE_EQUAL(quick.status, 200);
  created = tool({"audit", "--type", "response_created"});
  BOOST_TEST(std::count(created.begin(), created.end(), '\n') == 3); // both slow ones, the quick
  BOOST_TEST(b.release() == 2); // (held until now: no outcome synced before the checks)
  one.join();
  two.join();
  BOOST_TEST(first["status"] == "completed");
  BOOST_TEST(json::parse(r.get("/v1/responses/" + id).body) == first);
  BOOST_TEST(json::parse(tool({"replay", id, "--response"})) == first);
  BOOST_TEST(json::parse(tool({"replay", second["id"].get<std::string>(), "--response"})) ==
             second);
}

// A finished response's chain context is a snapshot written just after its
// answer; a crash in between loses it. A follow-up then rebuilds it from the
// log: its own items after its parent's context (a response's, or the
// conversation's before its turn).
BOOST_AUTO_TEST_CASE(a_chain_goes_on_after_a_crash_took_its_last_context_snapshot) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto create = [&](json body) {
    body["model"] = "llama3.2:1b";
    auto got = r.post("/v1/responses", body);
    BOOST_REQUIRE_MESSAGE(got.status == 200, got.body);
    return json::parse(got.body)["id"].get<std::string>();
  };
  auto root = create({{"input", "root words"}});
  auto child = create({{"input", "child words"}, {"previous_response_id", root}});
  auto conv =
      json::parse(r.post("/v1/conversations", json::object()).body)["id"].get<std::string>();
  auto turn = create({{"input", "turn words"}, {"conversation", conv}});
  BOOST_REQUIRE_EQUAL(r.stop(), 0);
  // What the crash took: their context snapshots.
  {
    auto dir = r.store().substr(std::string{"rocksdb:"}.size());
    std::vector<std::string> names;
    BOOST_REQUIRE(rocksdb::DB::ListColumnFamilies({}, dir, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const auto& n : names)
      families.emplace_back(n, rocksdb::ColumnFamilyOptions{});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    BOOST_REQUIRE(rocksdb::DB::Open({}, dir, families, &handles, &raw).ok());
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == "snapshots")
        for (const auto& id : {child, turn}) {
          // Where RocksDB keeps a context: beside its response's snapshot.
          auto key = id + std::string{"\0ctx", 4};
          std::string value;
          BOOST_TEST(raw->Get({}, handles[i], key, &value).ok());
          BOOST_TEST(raw->Delete({}, handles[i], key).ok());
        }
    for (auto* h : handles)
      raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  r.restart();
  auto said = [&](const std::string& text) {
    auto asked = b.requests();
    for (const auto& m : asked.back()["messages"])
      if (m.value("content", "").find(text) != std::string::npos)
        return true;
    BOOST_TEST_MESSAGE("not said: " << text << " in " << asked.dump());
    return false;
  };
  b.clear_requests();
  auto grandchild = create({{"input", "grandchild words"}, {"previous_response_id", child}});
  BOOST_TEST(said("root words"));
  BOOST_TEST(said("child words"));
  b.clear_requests();
  create({{"input", "second turn"}, {"conversation", conv}});
  BOOST_TEST(said("turn words"));
  b.clear_requests();
  create({{"input", "branch"}, {"previous_response_id", turn}});
  BOOST_TEST(said("turn words"));
  // And it goes on from there, the depth counted.
  b.clear_requests();
  create({{"input", "great-grandchild"}, {"previous_response_id", grandchild}});
  BOOST_TEST(said("root words"));
}

BOOST_AUTO_TEST_SUITE_END()
