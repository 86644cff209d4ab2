// End to end: what an operator sees. Readiness that follows the backend, the
// default model and the store; metrics that move with a scripted run.
#include "tests/support/json_body.hpp"
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
#include <initializer_list>
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
  auto family = [&](const std::string& name) {
    return [&text, name](const std::string& phase, const char* part) {
      return series(text, name + "_" + part + "{phase=\"" + phase + "\"}");
    };
  };
  auto phase = family("riposte_create_phase_seconds");
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
  // Two phases split step by step: the backend's first update (each
  // blocking create here took the backend's reply whole, so its first
  // update was its last) and the store and answer (the writer answered).
  // Each step counts the same creates, and the steps add up to no more than
  // their phase.
  auto split = [&](const std::string& name, std::initializer_list<const char*> steps,
                   const std::string& whole) {
    auto step = family(name);
    auto counted = step(*steps.begin(), "count");
    BOOST_TEST(counted >= 1.0, name);
    BOOST_TEST(counted <= timed, name);
    double sum = 0;
    for (const char* s : steps) {
      BOOST_TEST(step(s, "count") == counted, s);
      BOOST_TEST(step(s, "sum") >= 0.0, s);
      sum += step(s, "sum");
    }
    BOOST_TEST(sum <= phase(whole, "sum") * 1.0001 + 1e-9, name);
    return step;
  };
  auto wait =
      split("riposte_create_backend_wait_seconds",
            {"hand_off", "connection", "backend", "receive", "hand_back"}, "backend_first_update");
  BOOST_TEST(wait("backend", "sum") > 0.0);
  BOOST_TEST(wait("hand_back", "sum") > 0.0);
  auto store = split("riposte_create_store_wait_seconds",
                     {"to_writer", "writer_queue", "write", "answer"}, "store_and_answer");
  BOOST_TEST(store("write", "sum") > 0.0);
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
               {"delay_ms", 100}}}}}}};
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
  std::string seen;
  for (const auto& o : order)
    seen += " [" + o + "]";
  BOOST_TEST(alice == (std::vector<std::string>{"job a1", "job a2", "job a3", "job a4", "job a5"}),
             "the backend saw" << seen);
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

namespace {

const std::vector<std::string> admin{"Authorization: Bearer k-admin"};
const std::vector<std::string> acme{"Authorization: Bearer k-a"};
const std::vector<std::string> globex{"Authorization: Bearer k-b"};

// The index's rows for a query, through every page.
std::vector<json> index_rows(riposte_server& r, const std::string& query,
                             const std::vector<std::string>& key, int limit = 100) {
  std::vector<json> rows;
  std::string after;
  for (int guard = 0; guard < 100; ++guard) {
    auto res = r.get("/v1/operator/responses?limit=" + std::to_string(limit) + query + after, key);
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.status << " " << res.body);
    auto page = json_body(res);
    BOOST_TEST(page["object"] == "list");
    for (const auto& row : page["data"])
      rows.push_back(row);
    if (!page["has_more"].get<bool>())
      break;
    BOOST_TEST(page["last_id"] == page["data"].back()["id"]);
    after = "&after=" + page["last_id"].get<std::string>();
  }
  return rows;
}

std::vector<std::string> ids_of(const std::vector<json>& rows) {
  std::vector<std::string> ids;
  for (const auto& row : rows)
    ids.push_back(row["id"].get<std::string>());
  return ids;
}

// Waits until the index lists `count` responses (deleted ones too), none of
// them running, and returns them.
std::vector<json> index_settled(riposte_server& r, std::size_t count,
                                std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  std::vector<json> rows;
  do {
    rows = index_rows(r, "&include_deleted=true", admin);
    bool settled = rows.size() == count;
    for (const auto& row : rows)
      settled = settled && row["status"] != "in_progress" && row["status"] != "queued";
    if (settled)
      return rows;
    std::this_thread::sleep_for(20ms);
  } while (std::chrono::steady_clock::now() < deadline);
  BOOST_ERROR("the index did not settle on " << count << " responses: " << json(rows).dump());
  return rows;
}

void expect_error_code(const http_result& res, long status, const json& code, const json& param) {
  BOOST_TEST(res.status == status, res.body);
  auto j = json_body(res);
  BOOST_TEST(j["error"]["code"] == code, res.body);
  BOOST_TEST(j["error"]["param"] == param, res.body);
}

} // namespace

BOOST_AUTO_TEST_CASE(the_operator_index_lists_responses_by_filter_per_key_and_survives_restarts) {
  scripted_backend b;
  b.set_script({{"rules",
                 {{{"match", {{"contains", "fail me"}}},
                   {"reply", {{"status", 500}, {"error", "<script>alert(1)</script>"}}}}}}});
  riposte_server r{b.url(),
                   {"--api-key", "k-a:acme", "--api-key", "k-b:globex", "--admin-key", "k-admin",
                    "--index-keep-ms", "200"}};
  auto create = [&](const json& body, const std::vector<std::string>& key) {
    auto res = r.post("/v1/responses", body, key);
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.status << " " << res.body);
    return res;
  };
  std::vector<std::string> order; // creation order
  for (int i = 0; i < 3; ++i)
    order.push_back(json_body(create({{"model", "llama3.2:1b"}, {"input", "hi"}}, acme))["id"]);
  auto streamed = create({{"model", "llama3.2:1b"}, {"input", "hi"}, {"stream", true}}, acme);
  auto at = streamed.body.find("\"id\":\"resp_");
  BOOST_REQUIRE(at != std::string::npos);
  order.push_back(streamed.body.substr(at + 6, streamed.body.find('"', at + 6) - at - 6));
  order.push_back(json_body(
      create({{"model", "llama3.2:1b"}, {"input", "hi"}, {"background", true}}, acme))["id"]);
  auto failed = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "fail me"}}, acme);
  BOOST_TEST(failed.status >= 500, failed.body);
  for (int i = 0; i < 2; ++i)
    order.push_back(json_body(create({{"model", "llama3.2:1b"}, {"input", "hi"}}, globex))["id"]);

  // The failed create's id is the index's own: the one acme row not listed.
  auto rows = index_settled(r, 8, 3000ms);
  BOOST_REQUIRE_EQUAL(rows.size(), 8u);
  std::string failed_id;
  for (const auto& row : rows)
    if (row["status"] == "failed")
      failed_id = row["id"];
  BOOST_REQUIRE(!failed_id.empty());
  order.insert(order.begin() + 5, failed_id);
  std::vector<std::string> newest_first(order.rbegin(), order.rend());
  BOOST_TEST(ids_of(rows) == newest_first);
  for (const auto& row : rows) {
    BOOST_TEST(row["object"] == "response.index_entry");
    BOOST_TEST(row["model"] == "llama3.2:1b");
    BOOST_TEST(row["duration_ms"].is_number());
    if (row["status"] == "completed") {
      BOOST_TEST(row["usage"]["total_tokens"].get<int>() > 0);
      BOOST_TEST(row["time_to_first_token_ms"].is_number());
      BOOST_TEST(row["time_to_first_token_ms"].get<double>() <= row["duration_ms"].get<double>());
    }
  }

  // Filters, as the admin sees them.
  BOOST_TEST(ids_of(index_rows(r, "&tenant=globex", admin)) ==
             std::vector<std::string>({order[7], order[6]}));
  BOOST_TEST(index_rows(r, "&tenant=acme", admin).size() == 6u);
  BOOST_TEST(ids_of(index_rows(r, "&mode=stream", admin)) == std::vector<std::string>{order[3]});
  BOOST_TEST(ids_of(index_rows(r, "&mode=background", admin)) ==
             std::vector<std::string>{order[4]});
  BOOST_TEST(index_rows(r, "&mode=blocking", admin).size() == 6u);
  auto failures = index_rows(r, "&status=failed", admin);
  BOOST_REQUIRE_EQUAL(failures.size(), 1u);
  auto code = failures[0]["error_code"];
  BOOST_REQUIRE(code.is_string());
  BOOST_TEST(ids_of(index_rows(r, "&error_code=" + code.get<std::string>(), admin)) ==
             std::vector<std::string>{failed_id});
  BOOST_TEST(index_rows(r, "&status=completed&tenant=acme", admin).size() == 5u);
  BOOST_TEST(index_rows(r, "&min_tokens=1", admin).size() == 7u);
  BOOST_TEST(index_rows(r, "&created_before=1000", admin).empty());
  // Pages of one row each walk the same list, oldest first when asked.
  BOOST_TEST(ids_of(index_rows(r, "", admin, 1)) == newest_first);
  BOOST_TEST(ids_of(index_rows(r, "&order=asc", admin, 3)) == order);

  // The feed's position is the admin's to see, not a tenant's.
  BOOST_TEST(json_body(r.get("/v1/operator/responses", admin))["indexed_through"].get<int>() > 0);
  BOOST_TEST(!json_body(r.get("/v1/operator/responses", globex)).contains("indexed_through"));
  // A tenant's key sees its own tenant, and may not ask for another.
  BOOST_TEST(ids_of(index_rows(r, "", globex)) == std::vector<std::string>({order[7], order[6]}));
  BOOST_TEST(index_rows(r, "&tenant=globex", globex).size() == 2u);
  expect_error_code(r.get("/v1/operator/responses?tenant=acme", globex), 403, "permission_denied",
                    "tenant");
  expect_error_code(r.get("/v1/operator/responses?after=" + order[0], globex), 400, "invalid_value",
                    "after");
  expect_error_code(r.get("/v1/operator/responses"), 401, "invalid_api_key", nullptr);
  expect_error_code(r.get("/v1/operator/responses", {"Authorization: Bearer nope"}), 401,
                    "invalid_api_key", nullptr);
  // Bad queries are named.
  expect_error_code(r.get("/v1/operator/responses?status=done", admin), 400, "invalid_value",
                    "status");
  expect_error_code(r.get("/v1/operator/responses?limit=0", admin), 400, "invalid_value", "limit");
  expect_error_code(r.get("/v1/operator/responses?min_tokens=-1", admin), 400, "invalid_value",
                    "min_tokens");
  expect_error_code(r.get("/v1/operator/responses?min_tokens=9&max_tokens=3", admin), 400,
                    "invalid_value", "max_tokens");
  expect_error_code(r.get("/v1/operator/responses?colour=red", admin), 400, "unknown_parameter",
                    "colour");
  expect_error_code(r.get("/v1/operator/responses?after=resp_nothing", admin), 400, "invalid_value",
                    "after");

  // One response as its tenant reads it: the admin reads any, a tenant its own.
  auto theirs = r.get("/v1/operator/responses/" + order[6], admin);
  BOOST_TEST(theirs.status == 200, theirs.body);
  BOOST_TEST(json_body(theirs)["id"] == order[6]);
  BOOST_TEST(json_body(theirs)["status"] == "completed");
  BOOST_TEST(r.get("/v1/operator/responses/" + order[6], globex).status == 200);
  expect_error_code(r.get("/v1/operator/responses/" + order[6], acme), 404, "not_found", nullptr);
  expect_error_code(r.get("/v1/operator/responses/resp_nothing", admin), 404, "not_found", nullptr);
  auto events = json_body(r.get("/v1/operator/responses/" + order[6] + "/events?limit=2", admin));
  BOOST_TEST(events["data"].size() == 2u);
  BOOST_TEST(events["data"][0]["type"] == "response_created");
  BOOST_TEST(events["has_more"] == true);
  auto items = json_body(r.get("/v1/operator/responses/" + order[6] + "/input_items", admin));
  BOOST_TEST(items["object"] == "list");
  BOOST_TEST(items["data"].size() == 1u);
  auto timeline = json_body(r.get("/v1/operator/responses/" + order[3] + "/timeline", admin));
  BOOST_TEST(timeline["object"] == "response.timeline");
  BOOST_REQUIRE(timeline["rows"].is_array() && !timeline["rows"].empty());
  BOOST_TEST(timeline["rows"][0]["type"] == "response_created");
  BOOST_TEST(timeline["rows"][0]["at_ms"] == 0.0);
  BOOST_TEST(timeline["totals"]["status"] == "completed");
  BOOST_TEST(timeline["totals"]["deltas"].get<int>() >= 1);
  BOOST_TEST(timeline["totals"]["time_to_first_token_ms"].is_number());
  auto failed_line = json_body(r.get("/v1/operator/responses/" + failed_id + "/timeline", admin));
  BOOST_TEST(failed_line["totals"]["status"] == "failed");
  BOOST_TEST(failed_line["rows"].back()["alert"] == true);

  // A deleted response leaves the default list, and stays for audit.
  BOOST_TEST(r.del("/v1/responses/" + order[0], acme).status == 200);
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (index_rows(r, "", admin).size() != 7u && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  BOOST_TEST(index_rows(r, "", admin).size() == 7u);
  auto with_deleted = index_rows(r, "&include_deleted=true", admin);
  BOOST_REQUIRE_EQUAL(with_deleted.size(), 8u);
  BOOST_TEST(with_deleted.back()["deleted"] == true);

  // A restart serves the kept index at once, the same rows.
  auto before = index_rows(r, "&include_deleted=true", admin);
  r.stop();
  r.restart();
  BOOST_TEST(index_rows(r, "&include_deleted=true", admin) == before);

  // A crash loses nothing: what the kept index lacks, the feed brings back.
  std::this_thread::sleep_for(400ms); // kept at least once since the restart
  auto late = json_body(create({{"model", "llama3.2:1b"}, {"input", "late"}}, globex))["id"];
  r.crash();
  r.restart();
  auto after_crash = index_settled(r, 9, 3000ms);
  BOOST_REQUIRE_EQUAL(after_crash.size(), 9u);
  BOOST_TEST(after_crash.front()["id"] == late);
  BOOST_TEST(after_crash.front()["status"] == "completed");
}

// Every conversation the index lists for a filter, newest first.
std::vector<json> conversation_rows(riposte_server& r, const std::string& query,
                                    const std::vector<std::string>& key) {
  auto res = r.get("/v1/operator/conversations?limit=100" + query, key);
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.status << " " << res.body);
  auto body = json_body(res);
  BOOST_TEST(body["has_more"] == false);
  return body["data"].get<std::vector<json>>();
}

BOOST_AUTO_TEST_CASE(the_operator_index_lists_conversations_per_key_and_reads_one_across_tenants) {
  scripted_backend b;
  riposte_server r{b.url(),
                   {"--api-key", "k-a:acme", "--api-key", "k-b:globex", "--admin-key", "k-admin",
                    "--index-keep-ms", "200"}};
  auto made = [&](const json& body, const std::vector<std::string>& key) {
    auto res = r.post("/v1/conversations", body, key);
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.status << " " << res.body);
    return json_body(res)["id"].get<std::string>();
  };
  auto a1 = made({{"metadata", {{"topic", "<script>alert(1)</script>"}}}}, acme);
  auto a2 = made({{"items", {{{"type", "message"}, {"role", "user"}, {"content", "one"}}}}}, acme);
  auto g1 = made(json::object(), globex);
  std::string last;
  for (int i = 0; i < 2; ++i) {
    auto res = r.post("/v1/responses",
                      {{"model", "llama3.2:1b"}, {"input", "hi"}, {"conversation", a1}}, acme);
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
    last = json_body(res)["id"];
  }
  BOOST_TEST(r.del("/v1/conversations/" + g1, globex).status == 200);

  // Settled: a1 holds two turns of two items each.
  auto deadline = std::chrono::steady_clock::now() + 3s;
  std::vector<json> rows;
  do {
    rows = conversation_rows(r, "&include_deleted=true", admin);
    if (rows.size() == 3u && rows[2]["items"] == 4 && rows[0]["deleted"] == true)
      break;
    std::this_thread::sleep_for(20ms);
  } while (std::chrono::steady_clock::now() < deadline);
  BOOST_REQUIRE_EQUAL(rows.size(), 3u);
  std::vector<std::string> ids;
  for (const auto& row : rows)
    ids.push_back(row["id"]);
  BOOST_TEST(ids == std::vector<std::string>({g1, a2, a1}));
  BOOST_TEST(rows[2]["object"] == "conversation.index_entry");
  BOOST_TEST(rows[2]["tenant"] == "acme");
  BOOST_TEST(rows[2]["items"] == 4);
  BOOST_TEST(rows[2]["responses"] == 2);
  BOOST_TEST(rows[2]["last_response_id"] == last);
  BOOST_TEST(rows[1]["items"] == 1);
  BOOST_TEST(rows[1]["responses"] == 0);
  BOOST_TEST(rows[0]["deleted"] == true);
  BOOST_TEST(rows[0]["last_active_at"].get<std::int64_t>() >=
             rows[0]["created_at"].get<std::int64_t>());

  // Filters, and what each key sees.
  BOOST_TEST(conversation_rows(r, "", admin).size() == 2u);
  BOOST_TEST(conversation_rows(r, "&min_items=2", admin).size() == 1u);
  BOOST_TEST(conversation_rows(r, "&min_responses=1&order=asc", admin)[0]["id"] == a1);
  BOOST_TEST(conversation_rows(r, "&tenant=globex&include_deleted=true", admin).size() == 1u);
  BOOST_TEST(conversation_rows(r, "", acme).size() == 2u);
  BOOST_TEST(conversation_rows(r, "", globex).empty());
  expect_error_code(r.get("/v1/operator/conversations?tenant=acme", globex), 403,
                    "permission_denied", "tenant");
  expect_error_code(r.get("/v1/operator/conversations?after=" + a1, globex), 400, "invalid_value",
                    "after");
  expect_error_code(r.get("/v1/operator/conversations?min_items=x", admin), 400, "invalid_value",
                    "min_items");
  expect_error_code(r.get("/v1/operator/conversations?min_items=5&max_items=1", admin), 400,
                    "invalid_value", "max_items");
  expect_error_code(r.get("/v1/operator/conversations?status=completed", admin), 400,
                    "unknown_parameter", "status");
  expect_error_code(r.get("/v1/operator/conversations"), 401, "invalid_api_key", nullptr);

  // One conversation as its tenant reads it: the admin any, a tenant its own.
  auto conv = r.get("/v1/operator/conversations/" + a1, admin);
  BOOST_TEST(conv.status == 200, conv.body);
  BOOST_TEST(json_body(conv)["object"] == "conversation");
  BOOST_TEST(json_body(conv)["metadata"]["topic"] == "<script>alert(1)</script>");
  BOOST_TEST(r.get("/v1/operator/conversations/" + a1, acme).status == 200);
  expect_error_code(r.get("/v1/operator/conversations/" + a1 + "?colour=red", admin), 400,
                    "unknown_parameter", "colour");
  // As the API says it: no code.
  expect_error_code(r.get("/v1/operator/conversations/" + a1, globex), 404, nullptr, nullptr);
  expect_error_code(r.get("/v1/operator/conversations/conv_nothing", admin), 404, nullptr, nullptr);
  auto items = json_body(r.get("/v1/operator/conversations/" + a1 + "/items?order=asc", admin));
  BOOST_TEST(items["object"] == "list");
  BOOST_TEST(items["data"].size() == 4u);
  BOOST_TEST(items["first_id"] == items["data"][0]["id"]);
  auto events = json_body(r.get("/v1/operator/conversations/" + a1 + "/events?limit=1", admin));
  BOOST_TEST(events["data"].size() == 1u);
  BOOST_TEST(events["data"][0]["type"] == "conversation_created");
  BOOST_TEST(events["has_more"] == true);
  // A deleted conversation is gone for its tenant's reads, and stays listed.
  expect_error_code(r.get("/v1/operator/conversations/" + g1, admin), 404, nullptr, nullptr);

  // A restart serves the kept rows at once.
  auto before = conversation_rows(r, "&include_deleted=true", admin);
  r.stop();
  r.restart();
  BOOST_TEST(conversation_rows(r, "&include_deleted=true", admin) == before);
}

BOOST_AUTO_TEST_CASE(without_the_index_the_operator_route_says_it_is_off) {
  scripted_backend b;
  riposte_server r{b.url(), {"--no-index"}};
  auto res = r.get("/v1/operator/responses");
  BOOST_TEST(res.status == 404, res.body);
  BOOST_TEST(json_body(res)["error"]["message"].get<std::string>().find("--no-index") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
