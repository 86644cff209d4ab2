// End to end: the real riposte binary in front of the scripted
// Ollama-protocol backend, over loopback HTTP.
#define BOOST_TEST_MODULE e2e_responses
#include "tests/support/backend_wire.hpp"
#include "tests/support/json_body.hpp"
#include "tests/support/servers.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <fstream>
#include <thread>
#include <tuple>

using json = nlohmann::json;
using namespace riposte::tests;

namespace {

json create(riposte_server& r, const json& body, long expect = 200,
            std::vector<std::string> headers = {}) {
  auto res = r.post("/v1/responses", body, std::move(headers));
  BOOST_REQUIRE_MESSAGE(res.status == expect, "status " << res.status << ": " << res.body);
  return json_body(res);
}

void expect_error(const http_result& res, long status, const json& code, const json& param) {
  BOOST_TEST(res.status == status, res.body);
  auto j = json_body(res);
  BOOST_REQUIRE(j.contains("error"));
  const auto& e = j["error"];
  for (const char* field : {"message", "type", "param", "code"})
    BOOST_TEST(e.contains(field), field);
  BOOST_TEST(e["code"] == code, res.body);
  BOOST_TEST(e["param"] == param, res.body);
  BOOST_TEST(!e["message"].get<std::string>().empty());
}

// Response actors in memory, by the riposte_response_actors gauge.
double response_actors(riposte_server& r) {
  auto actors = series(r.get("/metrics").body, "riposte_response_actors");
  BOOST_REQUIRE(actors >= 0);
  return actors;
}

} // namespace

BOOST_AUTO_TEST_SUITE(responses)

BOOST_AUTO_TEST_CASE(a_blocking_create_returns_the_whole_response_object) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto resp = create(r, {{"model", "llama3.2:1b"},
                         {"input", "hello there"},
                         {"instructions", "Be brief."},
                         {"metadata", {{"run", "7"}}},
                         {"temperature", 0.3}});
  for (const char* field : {"id",
                            "object",
                            "created_at",
                            "status",
                            "error",
                            "incomplete_details",
                            "instructions",
                            "model",
                            "output",
                            "parallel_tool_calls",
                            "metadata",
                            "tool_choice",
                            "temperature",
                            "top_p",
                            "tools",
                            "usage",
                            "previous_response_id",
                            "store",
                            "max_output_tokens",
                            "text",
                            "reasoning",
                            "truncation",
                            "background"})
    BOOST_TEST(resp.contains(field), field);
  BOOST_TEST(resp["id"].get<std::string>().rfind("resp_", 0) == 0u);
  BOOST_TEST(resp["object"] == "response");
  BOOST_TEST(resp["status"] == "completed");
  BOOST_TEST(resp["instructions"] == "Be brief.");
  BOOST_TEST(resp["metadata"]["run"] == "7");
  BOOST_TEST(resp["temperature"] == 0.3);
  BOOST_REQUIRE(resp["output"].size() == 1u);
  const auto& msg = resp["output"][0];
  BOOST_TEST(msg["type"] == "message");
  BOOST_TEST(msg["role"] == "assistant");
  BOOST_TEST(msg["status"] == "completed");
  BOOST_TEST(msg["id"].get<std::string>().rfind("msg_", 0) == 0u);
  BOOST_TEST(msg["content"][0]["type"] == "output_text");
  BOOST_TEST(msg["content"][0]["text"] == "Echo: hello there");
  BOOST_TEST(msg["content"][0]["annotations"] == json::array());
  const auto& usage = resp["usage"];
  BOOST_TEST(usage["total_tokens"] ==
             usage["input_tokens"].get<int>() + usage["output_tokens"].get<int>());
  BOOST_TEST(usage["input_tokens_details"]["cached_tokens"] == 0);
  BOOST_TEST(usage["output_tokens_details"]["reasoning_tokens"] == 0);

  auto got = r.get("/v1/responses/" + resp["id"].get<std::string>());
  BOOST_TEST(got.status == 200);
  BOOST_TEST(json_body(got) == resp);
  BOOST_TEST(!got.header("x-request-id").empty());

  auto sent = b.requests().back();
  BOOST_TEST(sent["messages"][0]["role"] == "system");
  BOOST_TEST(sent["messages"][0]["content"] == "Be brief.");
  BOOST_TEST(wire::option(sent, "temperature") == 0.3);
  BOOST_TEST(wire::option(sent, "top_p").is_null()); // not set by the client: the model's default
  BOOST_TEST(sent["stream"] == false); // nobody watches a blocking create: the answer whole
}

BOOST_AUTO_TEST_CASE(a_three_turn_conversation_carries_the_whole_chain_but_not_instructions) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto first = create(r, {{"model", "llama3.2:1b"}, {"input", "one"}, {"instructions", "I1"}});
  auto second = create(
      r, {{"model", "llama3.2:1b"}, {"input", "two"}, {"previous_response_id", first["id"]}});
  BOOST_TEST(second["previous_response_id"] == first["id"]);
  auto third = create(r, {{"model", "llama3.2:1b"},
                          {"input", json::array({{{"role", "user"}, {"content", "three"}}})},
                          {"instructions", "I3"},
                          {"previous_response_id", second["id"]}});
  auto msgs = b.requests().back()["messages"];
  std::vector<std::pair<std::string, std::string>> expected{
      {"system", "I3"},           {"user", "one"},  {"assistant", "Echo: one"}, {"user", "two"},
      {"assistant", "Echo: two"}, {"user", "three"}};
  BOOST_REQUIRE_EQUAL(msgs.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST(msgs[i]["role"] == expected[i].first);
    BOOST_TEST(msgs[i]["content"] == expected[i].second);
  }
  // input_items lists this response's own input only.
  auto items = json_body(r.get("/v1/responses/" + third["id"].get<std::string>() + "/input_items"));
  BOOST_TEST(items["data"].size() == 1u);
  BOOST_TEST(items["data"][0]["content"][0]["text"] == "three");
}

BOOST_AUTO_TEST_CASE(a_deleted_response_is_gone_for_reads_and_follow_ups) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto resp = create(r, {{"model", "llama3.2:1b"}, {"input", "bye"}});
  auto id = resp["id"].get<std::string>();
  auto del = r.del("/v1/responses/" + id);
  BOOST_TEST(del.status == 200);
  BOOST_TEST(json_body(del) ==
             (json{{"id", id}, {"object", "response.deleted"}, {"deleted", true}}));
  expect_error(r.get("/v1/responses/" + id), 404, "not_found", nullptr);
  expect_error(r.get("/v1/responses/" + id + "/input_items"), 404, "not_found", nullptr);
  expect_error(r.del("/v1/responses/" + id), 404, "not_found", nullptr);
  expect_error(r.post("/v1/responses",
                      {{"model", "llama3.2:1b"}, {"input", "again"}, {"previous_response_id", id}}),
               404, "not_found", "previous_response_id");
  expect_error(r.get("/v1/responses/resp_doesnotexist"), 404, "not_found", nullptr);
  expect_error(r.get("/v1/responses/not-an-id"), 404, "not_found", nullptr);
}

BOOST_AUTO_TEST_CASE(input_items_page_with_limit_order_after_and_before) {
  scripted_backend b;
  riposte_server r{b.url()};
  json input = json::array();
  for (int i = 0; i < 5; ++i)
    input.push_back({{"role", "user"}, {"content", "m" + std::to_string(i)}});
  auto resp = create(r, {{"model", "llama3.2:1b"}, {"input", input}});
  auto base = "/v1/responses/" + resp["id"].get<std::string>() + "/input_items";
  auto all = json_body(r.get(base));
  BOOST_TEST(all["object"] == "list");
  BOOST_REQUIRE(all["data"].size() == 5u);
  BOOST_TEST(all["data"][0]["content"][0]["text"] == "m4"); // desc by default
  BOOST_TEST(all["has_more"] == false);
  BOOST_TEST(all["first_id"] == all["data"][0]["id"]);
  BOOST_TEST(all["last_id"] == all["data"][4]["id"]);

  auto page1 = json_body(r.get(base + "?limit=2&order=asc"));
  BOOST_TEST(page1["data"].size() == 2u);
  BOOST_TEST(page1["data"][0]["content"][0]["text"] == "m0");
  BOOST_TEST(page1["has_more"] == true);
  auto page2 =
      json_body(r.get(base + "?limit=2&order=asc&after=" + page1["last_id"].get<std::string>()));
  BOOST_TEST(page2["data"][0]["content"][0]["text"] == "m2");
  auto page3 =
      json_body(r.get(base + "?limit=2&order=asc&after=" + page2["last_id"].get<std::string>()));
  BOOST_TEST(page3["data"].size() == 1u);
  BOOST_TEST(page3["has_more"] == false);
  auto before = json_body(r.get(base + "?order=asc&before=" + page2["last_id"].get<std::string>()));
  BOOST_TEST(before["data"].size() == 3u);

  expect_error(r.get(base + "?limit=0"), 400, "invalid_value", "limit");
  expect_error(r.get(base + "?limit=101"), 400, "invalid_value", "limit");
  expect_error(r.get(base + "?order=sideways"), 400, "invalid_value", "order");
  expect_error(r.get(base + "?after=msg_nope"), 400, nullptr, "after");
}

BOOST_AUTO_TEST_CASE(store_false_responses_work_but_are_not_retrievable) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto resp = create(r, {{"model", "llama3.2:1b"}, {"input", "secret"}, {"store", false}});
  BOOST_TEST(resp["status"] == "completed");
  BOOST_TEST(resp["store"] == false);
  auto id = resp["id"].get<std::string>();
  expect_error(r.get("/v1/responses/" + id), 404, "not_found", nullptr);
  expect_error(r.post("/v1/responses",
                      {{"model", "llama3.2:1b"}, {"input", "x"}, {"previous_response_id", id}}),
               404, "not_found", "previous_response_id");
}

BOOST_AUTO_TEST_CASE(api_keys_bind_tenants_and_other_tenants_see_404) {
  scripted_backend b;
  auto keys =
      std::filesystem::temp_directory_path() / ("riposte_keys_" + std::to_string(::getpid()));
  {
    std::ofstream out{keys};
    out << "# operators' keys\n\n  key-bob-456:bob  \n";
  }
  riposte_server r{b.url(), {"--api-key", "key-alice-123:alice", "--api-keys-file", keys.string()}};
  std::filesystem::remove(keys);
  expect_error(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "x"}}), 401,
               "invalid_api_key", nullptr);
  expect_error(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "x"}},
                      {"Authorization: Bearer wrong-key-999"}),
               401, "invalid_api_key", nullptr);
  auto resp = create(r, {{"model", "llama3.2:1b"}, {"input", "mine"}}, 200,
                     {"Authorization: Bearer key-alice-123"});
  auto id = resp["id"].get<std::string>();
  BOOST_TEST(r.get("/v1/responses/" + id, {"Authorization: Bearer key-alice-123"}).status == 200);
  expect_error(r.get("/v1/responses/" + id, {"Authorization: Bearer key-bob-456"}), 404,
               "not_found", nullptr);
  expect_error(r.del("/v1/responses/" + id, {"Authorization: Bearer key-bob-456"}), 404,
               "not_found", nullptr);
  expect_error(r.post("/v1/responses",
                      {{"model", "llama3.2:1b"}, {"input", "x"}, {"previous_response_id", id}},
                      {"Authorization: Bearer key-bob-456"}),
               404, "not_found", "previous_response_id");
  BOOST_TEST(r.get("/v1/responses/" + id, {"Authorization: Bearer key-alice-123"}).status == 200);
}

BOOST_AUTO_TEST_CASE(an_idempotency_key_replays_the_same_response_even_after_a_restart) {
  scripted_backend b;
  riposte_server r{b.url()};
  json body{{"model", "llama3.2:1b"}, {"input", "charge once"}};
  auto first = create(r, body, 200, {"Idempotency-Key: order-42"});
  auto again = create(r, body, 200, {"Idempotency-Key: order-42"});
  BOOST_TEST(again["id"] == first["id"]);
  BOOST_TEST(b.requests().size() == 1u);
  expect_error(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "other"}},
                      {"Idempotency-Key: order-42"}),
               409, "idempotency_key_reused", "Idempotency-Key");
  BOOST_TEST(r.stop() == 0);
  r.restart();
  auto after = create(r, body, 200, {"Idempotency-Key: order-42"});
  BOOST_TEST(after["id"] == first["id"]);
  BOOST_TEST(b.requests().size() == 1u);
}

BOOST_AUTO_TEST_CASE(after_a_restart_get_returns_identical_bytes_and_chains_continue) {
  scripted_backend b;
  riposte_server r{b.url()};
  std::vector<std::string> ids;
  std::vector<std::string> bodies;
  for (int i = 0; i < 5; ++i) {
    json body{{"model", "llama3.2:1b"}, {"input", "turn " + std::to_string(i)}};
    if (!ids.empty())
      body["previous_response_id"] = ids.back();
    ids.push_back(create(r, body)["id"].get<std::string>());
  }
  for (const auto& id : ids)
    bodies.push_back(r.get("/v1/responses/" + id).body);
  BOOST_TEST(r.stop() == 0);
  r.restart();
  for (std::size_t i = 0; i < ids.size(); ++i)
    BOOST_TEST(r.get("/v1/responses/" + ids[i]).body == bodies[i]);
  create(r, {{"model", "llama3.2:1b"}, {"input", "after"}, {"previous_response_id", ids.back()}});
  auto msgs = b.requests().back()["messages"];
  BOOST_TEST(msgs.size() == 11u);
  BOOST_TEST(msgs[0]["content"] == "turn 0");
  BOOST_TEST(msgs[10]["content"] == "after");
}

BOOST_AUTO_TEST_CASE(backend_failures_map_to_502_504_and_a_stored_failed_response) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "slow"}}},
          {"reply", {{"chunks", {{{"content", "late"}}}}, {"first_delay_ms", 3000}}}},
         {{"match", {{"contains", "drop"}}},
          {"reply",
           {{"chunks", {{{"content", "half"}}, {{"content", " way"}}}}, {"drop_after", 1}}}},
         {{"match", {{"contains", "crash"}}},
          {"reply", {{"status", 500}, {"error", "CUDA out of memory"}}}}}}}};
  riposte_server r{b.url(), {"--backend-timeout-ms", "1000"}};
  expect_error(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "slow please"}}), 504,
               "backend_timeout", nullptr);
  auto dropped = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "drop it"}});
  expect_error(dropped, 500, "server_error", nullptr);
  auto crashed = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "crash now"}});
  expect_error(crashed, 500, "server_error", nullptr);
  BOOST_TEST(json_body(crashed)["error"]["message"].get<std::string>().find("CUDA out of memory") !=
             std::string::npos);

  b.stop();
  expect_error(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "anyone?"}}), 502,
               "backend_unavailable", nullptr);
}

BOOST_AUTO_TEST_CASE(length_thinking_and_tool_calls_map_to_response_items) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "long"}}},
          {"reply", {{"chunks", {{{"content", "cut"}}}}, {"done_reason", "length"}}}},
         {{"match", {{"contains", "think"}}},
          {"reply",
           {{"chunks", {{{"thinking", "hmm"}}, {{"thinking", "..."}}, {{"content", "42"}}}}}}},
         {{"match", {{"contains", "weather"}}},
          {"reply",
           {{"chunks",
             {{{"tool_calls",
                {{{"function", {{"name", "get_weather"}, {"arguments", {{"city", "Paris"}}}}}},
                 {{"function", {{"name", "get_time"}, {"arguments", {{"tz", "CET"}}}}}}}}}}}}}}}}}};
  riposte_server r{b.url()};
  auto cut =
      create(r, {{"model", "llama3.2:1b"}, {"input", "write long"}, {"max_output_tokens", 16}});
  BOOST_TEST(cut["status"] == "incomplete");
  BOOST_TEST(cut["incomplete_details"]["reason"] == "max_output_tokens");
  BOOST_TEST(cut["output"][0]["status"] == "incomplete");
  BOOST_TEST(wire::option(b.requests().back(), "max_output_tokens") == 16);

  auto thought = create(
      r, {{"model", "qwen3:0.6b"}, {"input", "think hard"}, {"reasoning", {{"effort", "high"}}}});
  if (wire::native())
    BOOST_TEST(b.requests().back()["think"] == true); // qwen3 thinks on or off, no levels
  else
    BOOST_TEST(b.requests().back()["reasoning_effort"] == "high");
  BOOST_REQUIRE(thought["output"].size() == 2u);
  BOOST_TEST(thought["output"][0]["type"] == "reasoning");
  BOOST_TEST(thought["output"][0]["content"][0]["text"] == "hmm...");
  BOOST_TEST(thought["output"][1]["content"][0]["text"] == "42");

  json tools = json::array(
      {{{"type", "function"}, {"name", "get_weather"}, {"parameters", {{"type", "object"}}}},
       {{"type", "function"}, {"name", "get_time"}, {"parameters", {{"type", "object"}}}}});
  auto called = create(r, {{"model", "llama3.2:1b"}, {"input", "weather?"}, {"tools", tools}});
  BOOST_TEST(b.requests().back()["tools"].size() == 2u);
  BOOST_REQUIRE(called["output"].size() == 2u);
  const auto& call = called["output"][0];
  BOOST_TEST(call["type"] == "function_call");
  BOOST_TEST(call["name"] == "get_weather");
  BOOST_TEST(json::parse(call["arguments"].get<std::string>()) == (json{{"city", "Paris"}}));
  BOOST_TEST(call["call_id"].get<std::string>().rfind("call_", 0) == 0u);
  BOOST_TEST(call["status"] == "completed");
  BOOST_TEST(called["output"][1]["name"] == "get_time");

  // The tool loop: outputs go back with the calls, as Ollama `tool` messages.
  create(r, {{"model", "llama3.2:1b"},
             {"previous_response_id", called["id"]},
             {"tools", tools},
             {"input",
              {{{"type", "function_call_output"}, {"call_id", call["call_id"]}, {"output", "18C"}},
               {{"type", "function_call_output"},
                {"call_id", called["output"][1]["call_id"]},
                {"output", "10:00"}}}}});
  auto msgs = b.requests().back()["messages"];
  BOOST_REQUIRE(msgs.size() == 4u);
  BOOST_TEST(msgs[1]["tool_calls"].size() == 2u);
  BOOST_TEST(msgs[2]["role"] == "tool");
  BOOST_TEST(wire::tool_name(msgs[2], msgs) == "get_weather");
  BOOST_TEST(msgs[2]["content"] == "18C");
  BOOST_TEST(wire::tool_name(msgs[3], msgs) == "get_time");
}

BOOST_AUTO_TEST_CASE(codex_style_requests_map_roles_and_formats_for_ollama) {
  // The answer conforms to the schema asked for below.
  scripted_backend b{
      {{"rules",
        {{{"match", json::object()}, {"reply", {{"chunks", {{{"content", "{\"a\":\"x\"}"}}}}}}}}}}};
  riposte_server r{b.url()};
  json schema{{"type", "object"}, {"properties", {{"a", {{"type", "string"}}}}}};
  create(r, {{"model", "llama3.2:1b"},
             {"instructions", "base"},
             {"store", false},
             {"include", {"reasoning.encrypted_content"}},
             {"prompt_cache_key", "abc"},
             {"client_metadata", {{"x", "y"}}},
             {"service_tier", "auto"},
             {"parallel_tool_calls", true},
             {"reasoning", {{"summary", "auto"}}},
             {"text", {{"format", {{"type", "json_schema"}, {"name", "out"}, {"schema", schema}}}}},
             {"input",
              {{{"type", "message"},
                {"role", "developer"},
                {"content", {{{"type", "input_text"}, {"text", "dev rules"}}}}},
               {{"type", "message"}, {"role", "system"}, {"content", "sys rules"}},
               {{"type", "message"},
                {"role", "user"},
                {"content", {{{"type", "input_text"}, {"text", "hi"}}}}},
               {{"type", "reasoning"}, {"id", "rs_1"}, {"summary", json::array()}}}}});
  auto sent = b.requests().back();
  auto msgs = sent["messages"];
  BOOST_REQUIRE(msgs.size() == 2u);
  BOOST_TEST(msgs[0]["role"] == "system");
  BOOST_TEST(msgs[0]["content"] == "base\n\ndev rules\n\nsys rules");
  BOOST_TEST(msgs[1]["content"] == "hi");
  BOOST_TEST(wire::format(sent) == schema);
}

BOOST_AUTO_TEST_CASE(bad_requests_get_precise_errors_and_store_nothing) {
  scripted_backend b;
  riposte_server r{b.url(), {"--max-body-bytes", "4096"}};
  struct bad {
    json body;
    long status;
    json code;
    json param;
  };
  std::vector<bad> cases{
      {{{"input", "x"}}, 400, "missing_required_parameter", "model"},
      {{{"model", 5}, {"input", "x"}}, 400, "invalid_type", "model"},
      {{{"model", "nope:1b"}, {"input", "x"}}, 400, "model_not_found", "model"},
      {{{"model", "llama3.2:1b"}}, 400, "missing_required_parameter", "input"},
      {{{"model", "llama3.2:1b"}, {"input", 7}}, 400, "invalid_type", "input"},
      {{{"model", "llama3.2:1b"}, {"input", "x"}, {"temperature", 3}},
       400,
       "invalid_value",
       "temperature"},
      {{{"model", "llama3.2:1b"}, {"input", "x"}, {"max_output_tokens", 2}},
       400,
       "invalid_value",
       "max_output_tokens"},
      {{{"model", "llama3.2:1b"}, {"input", "x"}, {"unknown_field", 1}},
       400,
       "unknown_parameter",
       "unknown_field"},
      {{{"model", "llama3.2:1b"}, {"input", "x"}, {"metadata", {{"k", 1}}}},
       400,
       "invalid_type",
       "metadata.k"},
      {{{"model", "llama3.2:1b"}, {"input", {{{"role", "user"}}}}},
       400,
       "missing_required_parameter",
       "input[0].content"},
      {{{"model", "llama3.2:1b"},
        {"input", "x"},
        {"tools", {{{"type", "function"}, {"name", "bad name!"}}}}},
       400,
       "invalid_value",
       "tools[0].name"},
      {{{"model", "llama3.2:1b"},
        {"input", "x"},
        {"stream_options", {{"include_obfuscation", true}}}},
       400,
       "invalid_value",
       "stream_options"},
      {{{"model", "llama3.2:1b"}, {"input", "x"}, {"previous_response_id", "resp_missing"}},
       404,
       "not_found",
       "previous_response_id"},
  };
  for (const auto& c : cases)
    expect_error(r.post("/v1/responses", c.body), c.status, c.code, c.param);
  BOOST_TEST(b.requests().empty()); // none of them reached the backend

  expect_error(
      http_call("POST", r.url("/v1/responses"), "{\"model\":", {"Content-Type: application/json"}),
      400, "invalid_json", nullptr);
  expect_error(http_call("POST", r.url("/v1/responses"), "model=x",
                         {"Content-Type: application/x-www-form-urlencoded"}),
               415, "unsupported_media_type", nullptr);
  auto huge = http_call("POST", r.url("/v1/responses"),
                        json{{"model", "llama3.2:1b"}, {"input", std::string(8000, 'x')}}.dump(),
                        {"Content-Type: application/json"});
  expect_error(huge, 413, "request_too_large", nullptr);
}

BOOST_AUTO_TEST_CASE(models_are_listed_from_the_backend) {
  scripted_backend b;
  riposte_server r{b.url()};
  // At start-up riposte says which backend version it found (of a Chat
  // Completions server, what its model list tells).
  BOOST_TEST(!r.process()
                  .wait_for_line(wire::native() ? "\"version\":\"0.12.3\"" : "backend reachable",
                                 std::chrono::seconds(10))
                  .empty());
  auto list = json_body(r.get("/v1/models"));
  BOOST_TEST(list["object"] == "list");
  BOOST_TEST(list["data"].size() == 3u);
  BOOST_TEST(list["data"][0]["object"] == "model");
  // created: Ollama's modified_at (2026-01-01T12:34:56.123456789-07:00), or
  // the model list's own created.
  auto created = wire::native() ? 1767296096 : 1767225600;
  BOOST_TEST(list["data"][0]["created"] == created);
  auto one = r.get("/v1/models/llama3.2%3A1b");
  BOOST_TEST(one.status == 200);
  BOOST_TEST(json_body(one)["id"] == "llama3.2:1b");
  BOOST_TEST(json_body(one)["created"] == created);
  expect_error(r.get("/v1/models/gpt-9"), 404, "not_found", "model");
}

BOOST_AUTO_TEST_CASE(requests_beyond_the_models_capabilities_are_refused_before_anything_runs) {
  scripted_backend b;
  riposte_server r{b.url()};
  json image_input = json::array(
      {{{"role", "user"},
        {"content",
         {{{"type", "input_text"}, {"text", "what is this?"}},
          {{"type", "input_image"}, {"image_url", "data:image/png;base64,iVBORw0KGgo="}}}}}});
  // Ollama says what a model can do; a Chat Completions server does not, and
  // refuses such a request itself (its error is the response's).
  if (wire::native()) {
    expect_error(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", image_input}}), 400,
                 "unsupported_model_capability", "input[0].content[1]");
    expect_error(
        r.post("/v1/responses",
               {{"model", "llama3.2:1b"}, {"input", "x"}, {"reasoning", {{"effort", "high"}}}}),
        400, "unsupported_parameter", "reasoning.effort");
    BOOST_TEST(b.requests().empty());
  }
  auto seen = create(r, {{"model", "llava:7b"}, {"input", image_input}});
  BOOST_TEST(seen["status"] == "completed");
  BOOST_TEST(wire::images(b.requests().back()["messages"][0]).at(0) == "iVBORw0KGgo=");
}

BOOST_AUTO_TEST_CASE(a_passivated_response_is_rebuilt_from_the_store_on_the_next_read) {
  scripted_backend b;
  riposte_server r{b.url(), {"--passivate-after-ms", "1"}};
  auto first = create(r, {{"model", "llama3.2:1b"}, {"input", "remember me"}});
  auto id = first["id"].get<std::string>();
  std::this_thread::sleep_for(std::chrono::milliseconds(100)); // the actor leaves memory
  BOOST_TEST(json_body(r.get("/v1/responses/" + id)) == first);
  auto next =
      create(r, {{"model", "llama3.2:1b"}, {"input", "and now"}, {"previous_response_id", id}});
  BOOST_TEST(b.requests().back()["messages"].size() == 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  BOOST_TEST(r.del("/v1/responses/" + id).status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  expect_error(r.get("/v1/responses/" + id), 404, "not_found", nullptr);
  BOOST_TEST(json_body(r.get("/v1/responses/" + next["id"].get<std::string>()))["status"] ==
             "completed");
}

// A blocking create is answered by the thread that stored its outcome, with
// the Response serialized once: the bytes a GET serves at once (the actor
// has folded the outcome in before any read can reach it), and from the
// snapshots the same write stored once the actors are gone.
BOOST_AUTO_TEST_CASE(a_blocking_create_answers_the_bytes_get_serves_at_once_and_after_passivation) {
  scripted_backend b;
  riposte_server r{b.url(), {"--passivate-after-ms", "300"}};
  auto actors = [&] { return response_actors(r); };
  std::vector<std::pair<std::string, std::string>> made;
  for (int i = 0; i < 20; ++i) {
    json body{{"model", "llama3.2:1b"}, {"input", "turn " + std::to_string(i)}};
    if (!made.empty())
      body["previous_response_id"] = made.back().first;
    auto res = r.post("/v1/responses", body);
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
    auto id = json_body(res)["id"].get<std::string>();
    BOOST_TEST(json_body(res)["status"] == "completed");
    BOOST_TEST(r.get("/v1/responses/" + id).body == res.body, id);
    made.emplace_back(id, res.body);
  }
  for (int i = 0; i < 100 && actors() != 0.0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(actors() == 0.0);
  for (const auto& [id, bytes] : made)
    BOOST_TEST(r.get("/v1/responses/" + id).body == bytes, id);
  // The chain goes on from the stored contexts: 20 turns, then this one.
  create(
      r,
      {{"model", "llama3.2:1b"}, {"input", "after"}, {"previous_response_id", made.back().first}});
  BOOST_TEST(b.requests().back()["messages"].size() == 41u);
}

// Idle actors leave memory once --passivate-after-ms has passed (one sweep
// for all of them), not before, and come back for the next read.
BOOST_AUTO_TEST_CASE(idle_response_actors_leave_memory_after_the_passivation_delay) {
  scripted_backend b;
  riposte_server r{b.url(), {"--passivate-after-ms", "400"}};
  auto actors = [&] { return response_actors(r); };
  std::vector<std::string> ids;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i)
    ids.push_back(
        create(r, {{"model", "llama3.2:1b"}, {"input", "idle soon"}})["id"].get<std::string>());
  if (std::chrono::steady_clock::now() - started < std::chrono::milliseconds(300))
    BOOST_TEST(actors() == 5.0); // still well within the delay
  auto gone_within = [&](std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (actors() != 0.0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return actors() == 0.0;
  };
  BOOST_TEST(gone_within(std::chrono::milliseconds(3000)));
  auto fetched = json_body(r.get("/v1/responses/" + ids[2]));
  BOOST_TEST(fetched["status"] == "completed");
  BOOST_TEST(actors() == 1.0); // rebuilt for the read
  BOOST_TEST(gone_within(std::chrono::milliseconds(3000)));
}

// Past --max-idle-responses the oldest idle actors leave memory at once,
// long before --passivate-after-ms, and every response stays whole: read
// back from the store, and continued from the first (long gone) one.
BOOST_AUTO_TEST_CASE(idle_response_actors_past_the_cap_leave_memory_before_the_delay) {
  scripted_backend b;
  riposte_server r{b.url(), {"--max-idle-responses", "3"}}; // the delay stays 30 s
  auto actors = [&] { return response_actors(r); };
  std::vector<std::pair<std::string, std::string>> made;
  for (int i = 0; i < 12; ++i) {
    auto res =
        r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "n" + std::to_string(i)}});
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
    made.emplace_back(json_body(res)["id"].get<std::string>(), res.body);
    // Three idle, the newest finishing, and one on its way out.
    BOOST_TEST(actors() <= 5.0, "after create " << i);
  }
  for (int i = 0; i < 100 && actors() > 3.0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(actors() == 3.0);
  for (const auto& [id, bytes] : made)
    BOOST_TEST(r.get("/v1/responses/" + id).body == bytes, id);
  auto next = create(
      r, {{"model", "llama3.2:1b"}, {"input", "again"}, {"previous_response_id", made[0].first}});
  BOOST_TEST(next["status"] == "completed");
  BOOST_TEST(b.requests().back()["messages"].size() == 3u);
  for (int i = 0; i < 100 && actors() > 3.0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(actors() <= 3.0);
}

// A create's actor is spawned by the HTTP thread and handed the create
// there, not through the registry; the registry adopts it before anything
// can name its id. So while a slow blocking create and a background one
// run, each is one actor the registry holds (counted before any read), a
// read of each reaches that actor (no second one is built from the log),
// a cancel reaches the running one, and both leave memory once idle.
BOOST_AUTO_TEST_CASE(a_create_s_actor_is_the_registry_s_from_the_start) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "slow"}}},
          {"reply", {{"chunks", {{{"content", "at last"}}}}, {"delay_ms", 1500}}}}}}}};
  riposte_server r{b.url(), {"--passivate-after-ms", "200"}};
  auto actors = [&] { return response_actors(r); };
  auto reach = [&](double n) {
    for (int i = 0; i < 100 && actors() != n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return actors() == n;
  };
  json blocking;
  std::thread one{[&] {
    blocking = json_body(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "slow"}}));
  }};
  for (int i = 0; i < 200 && b.requests().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_REQUIRE_EQUAL(b.requests().size(), 1u);
  BOOST_TEST(reach(1.0)); // held, though nothing has named its id
  auto queued = create(
      r, {{"model", "llama3.2:1b"}, {"input", "slow and in the background"}, {"background", true}});
  auto bg = queued["id"].get<std::string>();
  BOOST_TEST(reach(2.0));
  BOOST_TEST(json_body(r.get("/v1/responses/" + bg))["id"] == bg);
  // The running blocking create, found in the audit feed (which syncs
  // what it serves), read while it runs.
  auto feed = json_body(r.get("/v1/audit/events?limit=100"));
  std::string running;
  for (const auto& e : feed["data"])
    if (e["type"] == "response_created" && e["stream"] != bg)
      running = e["stream"].get<std::string>();
  BOOST_REQUIRE(!running.empty());
  BOOST_TEST(json_body(r.get("/v1/responses/" + running))["status"] == "in_progress");
  BOOST_TEST(actors() == 2.0); // the reads found the running actors
  auto cancelled = json_body(r.post("/v1/responses/" + bg + "/cancel", json::object()));
  BOOST_TEST(cancelled["status"] == "cancelled");
  one.join();
  BOOST_TEST(blocking["id"] == running);
  BOOST_TEST(blocking["status"] == "completed");
  BOOST_TEST(reach(0.0));
  BOOST_TEST(json_body(r.get("/v1/responses/" + running)) == blocking);
}

BOOST_AUTO_TEST_CASE(a_response_s_raw_event_log_pages_by_sequence_number) {
  scripted_backend b;
  riposte_server r{b.url(), {"--api-key", "k-one:one", "--api-key", "k-two:two"}};
  auto resp = create(r, {{"model", "llama3.2:1b"}, {"input", "log me"}}, 200,
                     {"Authorization: Bearer k-one"});
  auto base = "/v1/responses/" + resp["id"].get<std::string>() + "/events";
  auto all = json_body(r.get(base + "?limit=100", {"Authorization: Bearer k-one"}));
  BOOST_REQUIRE(all["data"].size() >= 5u);
  BOOST_TEST(all["has_more"] == false);
  const auto& first = all["data"][0];
  BOOST_TEST(first["type"] == "response_created");
  BOOST_TEST(first["seq"] == 0);
  BOOST_TEST(first["tenant"] == "one");
  for (const char* field :
       {"stream", "seq", "global_position", "type", "version", "tenant", "recorded_at", "data"})
    BOOST_TEST(first.contains(field), field);
  BOOST_TEST(all["data"].back()["type"] == "response_completed");
  auto page = json_body(r.get(base + "?limit=2&after=1", {"Authorization: Bearer k-one"}));
  BOOST_TEST(page["data"].size() == 2u);
  BOOST_TEST(page["data"][0]["seq"] == 2);
  BOOST_TEST(page["has_more"] == true);
  expect_error(r.get(base, {"Authorization: Bearer k-two"}), 404, "not_found", nullptr);
  expect_error(r.get(base + "?after=x", {"Authorization: Bearer k-one"}), 400, "invalid_value",
               "after");
}

BOOST_AUTO_TEST_CASE(a_long_chain_is_rebuilt_across_checkpoints_after_a_restart) {
  scripted_backend b;
  riposte_server r{b.url()};
  std::string prev;
  for (int i = 0; i < 70; ++i) { // checkpoints at depths 1, 33 and 65
    json body{{"model", "llama3.2:1b"}, {"input", "t" + std::to_string(i)}};
    if (!prev.empty())
      body["previous_response_id"] = prev;
    prev = create(r, body)["id"].get<std::string>();
  }
  BOOST_TEST(r.stop() == 0);
  r.restart();
  create(r, {{"model", "llama3.2:1b"}, {"input", "after"}, {"previous_response_id", prev}});
  auto msgs = b.requests().back()["messages"];
  BOOST_REQUIRE_EQUAL(msgs.size(), 141u);
  for (int i = 0; i < 70; ++i) {
    BOOST_TEST(msgs[2 * i]["content"] == "t" + std::to_string(i));
    BOOST_TEST(msgs[2 * i + 1]["content"] == "Echo: t" + std::to_string(i));
  }
  BOOST_TEST(msgs[140]["content"] == "after");
}

BOOST_AUTO_TEST_CASE(the_audit_feed_is_for_the_admin_key_and_pages_in_global_order) {
  scripted_backend b;
  riposte_server r{b.url(), {"--api-key", "k-user:user", "--admin-key", "k-admin"}};
  for (int i = 0; i < 3; ++i)
    create(r, {{"model", "llama3.2:1b"}, {"input", "audit " + std::to_string(i)}}, 200,
           {"Authorization: Bearer k-user"});
  expect_error(r.get("/v1/audit/events"), 401, "invalid_api_key", nullptr);
  expect_error(r.get("/v1/audit/events", {"Authorization: Bearer k-user"}), 403,
               "permission_denied", nullptr);
  std::vector<json> all;
  std::uint64_t after = 0;
  for (;;) {
    auto page = json_body(r.get("/v1/audit/events?limit=7&after=" + std::to_string(after),
                                {"Authorization: Bearer k-admin"}));
    for (const auto& e : page["data"]) {
      BOOST_TEST(e["global_position"].get<std::uint64_t>() > after);
      after = e["global_position"].get<std::uint64_t>();
      all.push_back(e);
    }
    BOOST_TEST(page["last_position"] == after);
    if (!page["has_more"].get<bool>())
      break;
  }
  int created = 0;
  for (const auto& e : all)
    created += e["type"] == "response_created";
  BOOST_TEST(created == 3);
  BOOST_TEST(all.size() >= 3u * 9u); // created ... completed, for each
  expect_error(r.get("/v1/audit/events?limit=0", {"Authorization: Bearer k-admin"}), 400,
               "invalid_value", "limit");
}

BOOST_AUTO_TEST_CASE(metrics_count_requests_responses_and_appends_by_label) {
  scripted_backend b;
  riposte_server r{b.url()};
  for (int i = 0; i < 3; ++i)
    create(r, {{"model", "llama3.2:1b"}, {"input", "count me"}});
  r.get("/v1/responses/resp_missing");
  auto text = r.get("/metrics");
  BOOST_TEST(text.status == 200);
  BOOST_TEST(text.header("content-type").rfind("text/plain", 0) == 0u);
  auto value_of = [&](const std::string& series) {
    auto pos = text.body.find(series + " ");
    if (pos == std::string::npos)
      return -1.0;
    return std::stod(text.body.substr(pos + series.size() + 1));
  };
  BOOST_TEST(value_of("riposte_http_requests_total{method=\"POST\",route=\"/v1/responses\","
                      "status=\"200\"}") == 3.0);
  BOOST_TEST(value_of("riposte_http_requests_total{method=\"GET\",route=\"/v1/responses/{id}\","
                      "status=\"404\"}") == 1.0);
  BOOST_TEST(value_of("riposte_responses_total{mode=\"blocking\",model=\"llama3.2:1b\","
                      "status=\"completed\"}") == 3.0);
  BOOST_TEST(value_of("riposte_event_append_seconds_count{store=\"rocksdb\"}") >= 6.0);
  BOOST_TEST(text.body.find("resp_") == std::string::npos); // no response id is ever a label
}

BOOST_AUTO_TEST_CASE(every_reply_is_logged_as_one_json_line_with_its_request_id) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto ok = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "secret words"}},
                   {"x-request-id: trace-ok-42"});
  BOOST_TEST(ok.header("x-request-id") == "trace-ok-42");
  auto id = json::parse(ok.body)["id"].get<std::string>();
  auto fetched = r.get("/v1/responses/" + id, {"x-request-id: trace-get-5"});
  auto missing = r.get("/v1/responses/resp_nothing", {"x-request-id: trace-404-7"});
  auto generated = r.get("/healthz").header("x-request-id");
  struct expected {
    std::string request_id;
    int status;
    std::string error_code, response_id, model;
  };
  for (const auto& e : std::vector<expected>{{"trace-ok-42", 200, "", id, "llama3.2:1b"},
                                             {"trace-get-5", 200, "", id, "llama3.2:1b"},
                                             {"trace-404-7", 404, "not_found", "resp_nothing", ""},
                                             {generated, 200, "", "", ""}}) {
    auto line = r.process().wait_for_line("\"request_id\":\"" + e.request_id + "\"",
                                          std::chrono::seconds(5));
    BOOST_REQUIRE_MESSAGE(!line.empty(), "no log line for " << e.request_id);
    auto j = json::parse(line, nullptr, false);
    BOOST_REQUIRE(j.is_object());
    BOOST_TEST(j["status"] == e.status);
    BOOST_TEST(j["latency_ms"].is_number());
    BOOST_TEST(j["ts"].is_number());
    BOOST_TEST(j["level"] == (e.status >= 400 ? "warn" : "info"));
    BOOST_TEST(j.contains("route"));
    BOOST_TEST(j.value("error_code", "") == e.error_code);
    BOOST_TEST(j.value("response_id", "") == e.response_id);
    BOOST_TEST(j.value("model", "") == e.model);
    if (e.request_id != generated)
      BOOST_TEST(j["tenant"] == "local");
  }
  // At info, no request body or model text reaches the log.
  BOOST_TEST(r.process().output().find("secret words") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_log_level_gates_lines_and_only_trace_logs_bodies) {
  scripted_backend b;
  riposte_server quiet{b.url(), {"--log-level", "warn"}};
  quiet.get("/healthz", {"x-request-id: quiet-ok"});
  quiet.get("/v1/responses/resp_nothing", {"x-request-id: quiet-404"});
  BOOST_TEST(!quiet.process().wait_for_line("quiet-404", std::chrono::seconds(5)).empty());
  BOOST_TEST(quiet.process().output().find("quiet-ok") == std::string::npos);

  riposte_server loud{b.url(), {"--log-level", "trace"}};
  loud.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "secret words"}},
            {"x-request-id: loud-1"});
  auto line = loud.process().wait_for_line("loud-1", std::chrono::seconds(5));
  auto j = json::parse(line, nullptr, false);
  BOOST_REQUIRE(j.is_object());
  BOOST_TEST(j["request_body"]["input"] == "secret words");
}

BOOST_AUTO_TEST_SUITE_END()
