// End to end: kill -9 with 200 responses in flight in every state, on
// RocksDB and on PostgreSQL. After the restart every completed response
// reads back byte for byte, every unfinished one reaches a terminal state,
// and every event a client was sent is in the log.
#include "tests/support/postgres.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
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
      break;
  }
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

BOOST_AUTO_TEST_SUITE_END()
