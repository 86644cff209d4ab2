// End to end: what an operator sees. Readiness that follows the backend, the
// default model and the store; metrics that move with a scripted run.
#include "tests/support/postgres.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

using json = nlohmann::json;
using namespace riposte::tests;
using namespace std::chrono_literals;

namespace {

json readyz(riposte_server& r, long& status) {
  auto res = r.get("/readyz");
  status = res.status;
  auto j = json::parse(res.body, nullptr, false);
  BOOST_REQUIRE_MESSAGE(j.is_object(), "not JSON: " << res.body);
  return j;
}

// Polls /readyz until it answers `want` (a store or backend coming back may
// take a moment); returns the last body.
json readyz_until(riposte_server& r, long want, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  long status = 0;
  json body;
  do {
    body = readyz(r, status);
    if (status == want)
      return body;
    std::this_thread::sleep_for(100ms);
  } while (std::chrono::steady_clock::now() < deadline);
  BOOST_ERROR("readyz stayed " << status << ": " << body.dump());
  return body;
}

// The value of one series in Prometheus text ("-1": absent).
double series(const std::string& text, const std::string& name) {
  auto pos = text.find("\n" + name + " ");
  if (pos == std::string::npos)
    return -1;
  return std::stod(text.substr(pos + name.size() + 2));
}

} // namespace

BOOST_AUTO_TEST_SUITE(operations)

BOOST_AUTO_TEST_CASE(healthz_is_alive_and_readyz_checks_store_backend_and_model) {
  scripted_backend b;
  riposte_server r{b.url(), {"--default-model", "llama3.2:1b"}};
  auto alive = r.get("/healthz");
  BOOST_TEST(alive.status == 200);
  BOOST_TEST(json::parse(alive.body)["status"] == "ok");
  long status = 0;
  auto ready = readyz(r, status);
  BOOST_TEST(status == 200, ready.dump());
  BOOST_TEST(ready["status"] == "ready");
  for (const char* check : {"store", "backend", "model"}) {
    BOOST_TEST(ready["checks"][check]["ok"] == true, check);
    BOOST_TEST(ready["checks"][check]["latency_ms"].is_number(), check);
  }
  BOOST_TEST(ready["checks"]["store"]["kind"] == "rocksdb");
  BOOST_TEST(ready["checks"]["backend"]["version"].is_string());

  // A default model the backend does not serve: reachable, but not ready.
  riposte_server wrong{b.url(), {"--default-model", "no-such-model:7b"}};
  auto not_ready = readyz(wrong, status);
  BOOST_TEST(status == 503);
  BOOST_TEST(not_ready["status"] == "not_ready");
  BOOST_TEST(not_ready["checks"]["backend"]["ok"] == true);
  BOOST_TEST(not_ready["checks"]["model"]["ok"] == false);
  BOOST_TEST(not_ready["checks"]["model"]["error"].get<std::string>().find("no-such-model") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(readiness_flips_when_the_backend_goes_away_and_comes_back) {
  scripted_backend b;
  riposte_server r{b.url(), {"--default-model", "llama3.2:1b"}};
  readyz_until(r, 200, 5s);
  b.stop();
  auto down = readyz_until(r, 503, 5s);
  BOOST_TEST(down["checks"]["backend"]["ok"] == false);
  BOOST_TEST(down["checks"]["model"]["ok"] == false);
  BOOST_TEST(down["checks"]["store"]["ok"] == true);
  b.restart();
  auto up = readyz_until(r, 200, 10s);
  BOOST_TEST(up["checks"]["backend"]["ok"] == true);
  auto metrics = r.get("/metrics").body;
  BOOST_TEST(series(metrics, "riposte_ready{check=\"backend\"}") == 1.0);
  BOOST_TEST(series(metrics, "riposte_readiness_checks_total{check=\"backend\",result=\"fail\"}") >=
             1.0);
}

BOOST_AUTO_TEST_CASE(readiness_flips_when_the_postgres_store_goes_away_and_comes_back) {
  own_postgres pg;
  scripted_backend b;
  riposte_server r{b.url(), {}, pg.url()};
  readyz_until(r, 200, 5s);
  auto before = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "kept"}});
  BOOST_REQUIRE_EQUAL(before.status, 200);
  auto id = json::parse(before.body)["id"].get<std::string>();

  pg.stop();
  auto down = readyz_until(r, 503, 10s);
  BOOST_TEST(down["checks"]["store"]["ok"] == false);
  BOOST_TEST(down["checks"]["backend"]["ok"] == true);
  BOOST_TEST(r.get("/metrics").body.find("riposte_ready{check=\"store\"} 0") != std::string::npos);

  pg.start();
  readyz_until(r, 200, 20s);
  // Nothing stored before the outage is lost, and new work is stored again.
  auto again = r.get("/v1/responses/" + id);
  BOOST_TEST(again.status == 200, again.body);
  auto after = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "stored again"}});
  BOOST_TEST(after.status == 200, after.body);
}

// The store failing mid-stream ends the stream with an `error` event (it
// used to hang on keep-alives), and the server keeps serving.
BOOST_AUTO_TEST_CASE(a_stream_whose_store_goes_away_ends_with_an_error_event) {
  own_postgres pg;
  json chunks = json::array();
  for (int i = 0; i < 60; ++i)
    chunks.push_back({{"content", std::to_string(i) + ". "}});
  scripted_backend b{{{"rules",
                       {{{"match", {{"contains", "long"}}},
                         {"reply", {{"chunks", chunks}, {"delay_ms", 100}}}}}}}};
  riposte_server r{b.url(), {"--sse-keepalive-ms", "200"}, pg.url()};
  readyz_until(r, 200, 5s);
  std::atomic<int> deltas{0};
  std::atomic<bool> ended{false};
  sse_result stream;
  std::thread client{[&] {
    stream = sse_call("POST", r.url("/v1/responses"),
                      json{{"model", "llama3.2:1b"}, {"input", "long"}, {"stream", true}}.dump(),
                      -1, [&](const std::string& raw) {
                        if (raw.find("output_text.delta") != std::string::npos)
                          ++deltas;
                      });
    ended = true;
  }};
  for (int i = 0; i < 100 && deltas < 3; ++i)
    std::this_thread::sleep_for(50ms);
  BOOST_REQUIRE(deltas >= 3);
  pg.stop();
  for (int i = 0; i < 200 && !ended; ++i)
    std::this_thread::sleep_for(100ms);
  bool in_time = ended;
  BOOST_TEST(in_time, "the stream is still open 20 s after the store went away");
  pg.start();
  if (!in_time)
    r.stop(); // ends the stream, so the client can be joined
  client.join();
  BOOST_REQUIRE(!stream.names.empty());
  BOOST_TEST(stream.names.back() == "error");
  if (!in_time)
    return;
  readyz_until(r, 200, 20s);
  auto after = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "stored again"}});
  BOOST_TEST(after.status == 200, after.body);
}

BOOST_AUTO_TEST_CASE(metrics_follow_generations_queues_streams_and_replays) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "slow"}}},
          {"reply",
           {{"chunks", {{{"content", "one "}}, {{"content", "two "}}, {{"content", "three"}}}},
            {"delay_ms", 100}}}},
         {{"match", {{"contains", "crash"}}},
          {"reply", {{"status", 500}, {"error", "CUDA out of memory"}}}}}}}};
  riposte_server r{b.url(), {"--backend-concurrency", "1"}};
  // Two background jobs through one slot: the second waits for the first.
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto res = r.post("/v1/responses",
                      {{"model", "llama3.2:1b"}, {"input", "slow job"}, {"background", true}});
    BOOST_REQUIRE_EQUAL(res.status, 200);
    ids.push_back(json::parse(res.body)["id"].get<std::string>());
  }
  // The second is in the queue while the first runs (its 300 ms).
  std::string text;
  for (int i = 0; i < 20; ++i) {
    text = r.get("/metrics").body;
    if (series(text, "riposte_job_queue_depth") == 1.0)
      break;
    std::this_thread::sleep_for(10ms);
  }
  BOOST_TEST(series(text, "riposte_job_queue_depth") == 1.0, text);
  for (const auto& id : ids) {
    auto done = sse_call("GET", r.url("/v1/responses/" + id + "?stream=true"), "");
    BOOST_TEST(done.events.back()["type"] == "response.completed");
  }
  // A stream, an idempotent replay and a backend failure.
  auto streamed =
      sse_call("POST", r.url("/v1/responses"),
               json{{"model", "llama3.2:1b"}, {"input", "stream me"}, {"stream", true}}.dump());
  BOOST_TEST(streamed.events.back()["type"] == "response.completed");
  json body{{"model", "llama3.2:1b"}, {"input", "once"}};
  for (int i = 0; i < 2; ++i)
    BOOST_TEST(r.post("/v1/responses", body, {"Idempotency-Key: k-1"}).status == 200);
  BOOST_TEST(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "crash"}}).status == 500);

  text = r.get("/metrics").body;
  auto chat = [&](const std::string& status) {
    return series(text, "riposte_backend_requests_total{backend=\"" + b.url() +
                            "\",model=\"llama3.2:1b\",operation=\"chat\",status=\"" + status +
                            "\"}");
  };
  BOOST_TEST(chat("ok") == 4.0, text);
  BOOST_TEST(chat("error") == 1.0);
  BOOST_TEST(series(text, "riposte_job_queue_depth") == 0.0);
  BOOST_TEST(series(text, "riposte_job_queue_wait_seconds_count") == 5.0);
  BOOST_TEST(series(text, "riposte_job_run_seconds_count") == 5.0);
  // The second job waited for the first's three 100 ms chunks.
  BOOST_TEST(series(text, "riposte_job_queue_wait_seconds_sum") >= 0.2);
  // The blocking create is answered whole (not streamed): no first token.
  BOOST_TEST(series(text, "riposte_time_to_first_token_seconds_count{model=\"llama3.2:1b\"}") ==
             3.0);
  BOOST_TEST(series(text, "riposte_output_tokens_per_second_count{model=\"llama3.2:1b\"}") >= 2.0);
  BOOST_TEST(series(text, "riposte_idempotent_replays_total") == 1.0);
  // Each answered blocking create is timed phase by phase, every phase once.
  auto phase = [&](const std::string& name, const char* part) {
    return series(text,
                  "riposte_create_phase_seconds_" + std::string{part} + "{phase=\"" + name + "\"}");
  };
  auto timed = phase("to_actor", "count");
  BOOST_TEST(timed >= 2.0, text);
  for (const char* name :
       {"to_actor", "prepare", "backend_first_update", "backend_rest", "store_and_answer"}) {
    BOOST_TEST(phase(name, "count") == timed, name);
    BOOST_TEST(phase(name, "sum") >= 0.0, name);
  }
  BOOST_TEST(phase("to_actor", "sum") > 0.0);
  BOOST_TEST(phase("backend_first_update", "sum") > 0.0);
  BOOST_TEST(phase("store_and_answer", "sum") > 0.0);
  BOOST_TEST(series(text, "riposte_streams_active") == 0.0);
  BOOST_TEST(series(text, "riposte_responses_total{mode=\"background\",model=\"llama3.2:1b\","
                          "status=\"completed\"}") == 2.0);
  BOOST_TEST(series(text, "riposte_responses_total{mode=\"stream\",model=\"llama3.2:1b\","
                          "status=\"completed\"}") == 1.0);
  BOOST_TEST(series(text, "riposte_backend_requests_total{backend=\"" + b.url() +
                              "\",model=\"llama3.2:1b\",operation=\"show\",status=\"ok\"}") >= 1.0);
}

namespace {

// Background creates, then waits for every one to finish; returns the order
// in which the backend saw their inputs.
std::vector<std::string>
run_background(riposte_server& r, scripted_backend& b,
               const std::vector<std::tuple<std::string, std::string, std::string>>& jobs) {
  std::vector<std::pair<std::string, std::string>> made; // id, key
  for (const auto& [key, model, input] : jobs) {
    auto res = r.post("/v1/responses", {{"model", model}, {"input", input}, {"background", true}},
                      {"Authorization: Bearer " + key});
    BOOST_REQUIRE_EQUAL(res.status, 200);
    made.emplace_back(json::parse(res.body)["id"].get<std::string>(), key);
  }
  for (const auto& [id, key] : made) {
    for (int i = 0; i < 200; ++i) {
      auto status = json::parse(r.get("/v1/responses/" + id, {"Authorization: Bearer " + key}).body)
                        .value("status", "");
      if (status == "completed")
        break;
      std::this_thread::sleep_for(25ms);
    }
  }
  std::vector<std::string> order;
  auto seen = b.requests();
  for (const auto& req : seen)
    order.push_back(req["messages"].back()["content"].get<std::string>());
  return order;
}

json slow_jobs() {
  return {{"rules",
           {{{"match", {{"contains", "job"}}},
             {"reply",
              {{"chunks", {{{"content", "a"}}, {{"content", "b"}}, {{"content", "c"}}}},
               {"delay_ms", 60}}}}}}};
}

} // namespace

BOOST_AUTO_TEST_CASE(waiting_work_is_served_round_robin_across_tenants) {
  scripted_backend b{slow_jobs()};
  riposte_server r{b.url(),
                   {"--backend-concurrency", "1", "--api-key", "ka:alice", "--api-key", "kb:bob"}};
  std::vector<std::tuple<std::string, std::string, std::string>> jobs;
  for (int i = 1; i <= 5; ++i)
    jobs.emplace_back("ka", "llama3.2:1b", "job a" + std::to_string(i));
  jobs.emplace_back("kb", "llama3.2:1b", "job b1");
  auto order = run_background(r, b, jobs);
  BOOST_REQUIRE_EQUAL(order.size(), 6u);
  auto b1 = std::find(order.begin(), order.end(), "job b1") - order.begin();
  // First in first out would run it last; fair turns run it within one turn.
  BOOST_TEST(b1 <= 2, "bob's job ran at position " << b1);
  // Each tenant's own work keeps its order.
  std::vector<std::string> alice;
  for (const auto& o : order)
    if (o != "job b1")
      alice.push_back(o);
  BOOST_TEST(alice == (std::vector<std::string>{"job a1", "job a2", "job a3", "job a4", "job a5"}));
}

BOOST_AUTO_TEST_CASE(a_per_model_limit_lets_other_models_through) {
  scripted_backend b{slow_jobs()};
  riposte_server r{b.url(), {"--backend-concurrency", "4", "--model-concurrency", "1"}};
  auto order = run_background(r, b,
                              {{"", "llama3.2:1b", "job llama 1"},
                               {"", "llama3.2:1b", "job llama 2"},
                               {"", "qwen3:0.6b", "job qwen"}});
  BOOST_TEST(order == (std::vector<std::string>{"job llama 1", "job qwen", "job llama 2"}));
}

BOOST_AUTO_TEST_SUITE_END()
