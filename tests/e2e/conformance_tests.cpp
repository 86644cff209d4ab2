// Conformance with what strict clients and validators check: every Response
// carries every field the references require (the pinned SDK's types and the
// Open Responses schema, tests/support/response_fields.json), whichever way it
// ends and however it is read; tools are echoed normalized; sampling fields
// are echoed and reach the backend; item references resolve to the stored
// items of the tenant only.
#include "tests/support/backend_wire.hpp"
#include "tests/support/json_body.hpp"
#include "tests/support/response_fields.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

using json = nlohmann::json;
using namespace riposte::tests;

namespace {

void expect_all_fields(const json& response, const std::string& what) {
  for (const auto& problem : check_response_fields(response))
    BOOST_ERROR(what << ": " << problem);
}

void expect_valid_stream(const sse_result& s, const std::string& what) {
  for (const auto& problem : validate_stream(s.events))
    BOOST_ERROR(what << ": " << problem);
}

json get_response(riposte_server& r, const json& resp, std::vector<std::string> headers = {}) {
  return json_body(r.get("/v1/responses/" + resp["id"].get<std::string>(), std::move(headers)));
}

// A background response, once it is no longer queued or running.
json settled(riposte_server& r, const json& resp, const std::vector<std::string>& headers = {}) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    auto got = get_response(r, resp, headers);
    auto status = got.value("status", "");
    if ((status != "queued" && status != "in_progress") ||
        std::chrono::steady_clock::now() > deadline)
      return got;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

json script() {
  json slow = json::array();
  for (int i = 0; i < 200; ++i)
    slow.push_back({{"content", "t" + std::to_string(i) + " "}});
  return {{"rules",
           {{{"match", {{"contains", "weather"}, {"has_tool_result", false}}},
             {"reply",
              {{"chunks",
                {{{"tool_calls",
                   {{{"function",
                      {{"name", "get_weather"}, {"arguments", {{"city", "Paris"}}}}}}}}}}}}}},
            {{"match", {{"contains", "long"}}},
             {"reply", {{"chunks", {{{"content", "cut"}}}}, {"done_reason", "length"}}}},
            {{"match", {{"contains", "crash"}}},
             {"reply", {{"status", 500}, {"error", "CUDA out of memory"}}}},
            {{"match", {{"contains", "slow"}}}, {"reply", {{"chunks", slow}, {"delay_ms", 20}}}}}}};
}

json request(const std::string& input, json extra = json::object()) {
  json body{{"model", "llama3.2:1b"}, {"input", input}};
  body.update(extra);
  return body;
}

} // namespace

BOOST_AUTO_TEST_SUITE(conformance)

BOOST_AUTO_TEST_CASE(every_response_carries_every_field_the_references_require) {
  scripted_backend b{script()};
  riposte_server r{b.url()};

  // Blocking: completed, and incomplete (cut at max_output_tokens).
  auto done = json_body(r.post("/v1/responses", request("hello")));
  BOOST_TEST(done["status"] == "completed");
  expect_all_fields(done, "blocking");
  expect_all_fields(get_response(r, done), "blocking, read back");
  auto cut = json_body(r.post("/v1/responses", request("write long", {{"max_output_tokens", 16}})));
  BOOST_TEST(cut["status"] == "incomplete");
  expect_all_fields(cut, "incomplete");
  expect_all_fields(get_response(r, cut), "incomplete, read back");

  // Streamed: every event that embeds the Response (created, in_progress,
  // completed / incomplete / failed) carries all of it.
  for (const char* input : {"hello stream", "write long stream", "crash stream"}) {
    auto s = sse_call("POST", r.url("/v1/responses"),
                      request(input, {{"stream", true}, {"max_output_tokens", 16}}).dump());
    BOOST_TEST(s.status == 200);
    expect_valid_stream(s, input);
    BOOST_REQUIRE(!s.events.empty());
    expect_all_fields(get_response(r, s.events.front()["response"]),
                      std::string{input} + ", read back");
  }

  // Background: queued as answered, then completed, failed, cancelled.
  auto bg = json_body(r.post("/v1/responses", request("hello later", {{"background", true}})));
  expect_all_fields(bg, "background, as answered");
  auto bg_done = settled(r, bg);
  BOOST_TEST(bg_done["status"] == "completed");
  expect_all_fields(bg_done, "background, completed");
  auto bg_failed = settled(
      r, json_body(r.post("/v1/responses", request("crash later", {{"background", true}}))));
  BOOST_TEST(bg_failed["status"] == "failed");
  expect_all_fields(bg_failed, "background, failed");
  auto slow = json_body(r.post("/v1/responses", request("slow later", {{"background", true}})));
  auto cancelled = json_body(
      r.post("/v1/responses/" + slow["id"].get<std::string>() + "/cancel", json::object()));
  BOOST_TEST(cancelled["status"] == "cancelled");
  expect_all_fields(cancelled, "cancelled, as answered");
  expect_all_fields(settled(r, slow), "cancelled, read back");
}

BOOST_AUTO_TEST_CASE(function_tools_are_echoed_with_description_parameters_and_strict) {
  scripted_backend b;
  riposte_server r{b.url()};
  json closed{{"type", "object"},
              {"properties", {{"city", {{"type", "string"}}}}},
              {"required", {"city"}},
              {"additionalProperties", false}};
  json open{{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}};
  json tools = json::array({{{"type", "function"}, {"name", "closed"}, {"parameters", closed}},
                            {{"type", "function"}, {"name", "open"}, {"parameters", open}},
                            {{"type", "function"}, {"name", "bare"}},
                            {{"type", "function"},
                             {"name", "chosen"},
                             {"description", "Told."},
                             {"parameters", closed},
                             {"strict", false}}});
  auto resp = json_body(r.post("/v1/responses", request("hello", {{"tools", tools}})));
  expect_all_fields(resp, "tools");
  const auto& echoed = resp["tools"];
  BOOST_REQUIRE(echoed.size() == 4u);
  // Omitted strict: strict when the schema allows it, as the API falls back.
  BOOST_TEST(echoed[0]["strict"] == true);
  BOOST_TEST(echoed[0]["description"].is_null());
  BOOST_TEST(echoed[0]["parameters"] == closed);
  BOOST_TEST(echoed[1]["strict"] == false); // a property not required, no additionalProperties
  BOOST_TEST(echoed[2]["strict"] == true);  // no parameters at all
  BOOST_TEST(echoed[2]["parameters"].is_null());
  BOOST_TEST(echoed[3]["strict"] == false); // what the client said stands
  BOOST_TEST(echoed[3]["description"] == "Told.");
  BOOST_TEST(get_response(r, resp)["tools"] == echoed);
  // The backend still gets a callable definition for the bare one.
  auto offered = b.requests().back()["tools"];
  BOOST_REQUIRE(offered.size() == 4u);
  BOOST_TEST(offered[2]["function"]["parameters"]["type"] == "object");
}

BOOST_AUTO_TEST_CASE(penalties_are_echoed_with_their_defaults_and_reach_the_backend) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto plain = json_body(r.post("/v1/responses", request("hello")));
  BOOST_TEST(plain["presence_penalty"] == 0.0);
  BOOST_TEST(plain["frequency_penalty"] == 0.0);
  BOOST_TEST(wire::option(b.requests().back(), "presence_penalty").is_null());
  auto set = json_body(r.post(
      "/v1/responses", request("hello", {{"presence_penalty", 0.5}, {"frequency_penalty", -1.5}})));
  BOOST_TEST(set["presence_penalty"] == 0.5);
  BOOST_TEST(set["frequency_penalty"] == -1.5);
  BOOST_TEST(wire::option(b.requests().back(), "presence_penalty") == 0.5);
  BOOST_TEST(wire::option(b.requests().back(), "frequency_penalty") == -1.5);
  auto bad = r.post("/v1/responses", request("hello", {{"presence_penalty", 2.5}}));
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(json_body(bad)["error"]["param"] == "presence_penalty");
  auto wrong = r.post("/v1/responses", request("hello", {{"frequency_penalty", "high"}}));
  BOOST_TEST(wrong.status == 400);
  BOOST_TEST(json_body(wrong)["error"]["param"] == "frequency_penalty");
}

// What the SDKs' stream helpers need from a cancelled stream: a terminal
// event they know (none of them has a cancelled one) carrying the Response,
// whose status is cancelled and whose items are no longer in progress; the
// same live and replayed, and in the stored Response.
BOOST_AUTO_TEST_CASE(a_background_response_cancelled_while_streamed_ends_its_stream) {
  scripted_backend b{script()};
  riposte_server r{b.url()};
  std::mutex mutex;
  std::condition_variable deltas_seen;
  std::string id;
  bool streaming = false;
  sse_result live;
  std::thread client{[&] {
    live = sse_call("POST", r.url("/v1/responses"),
                    request("slow streamed", {{"background", true}, {"stream", true}}).dump(), -1,
                    [&](const std::string& raw) {
                      std::lock_guard guard{mutex};
                      auto pos = raw.find("\"id\":\"resp_");
                      if (id.empty() && pos != std::string::npos)
                        id = raw.substr(pos + 6, raw.find('"', pos + 6) - pos - 6);
                      if (!id.empty() && raw.find("output_text.delta") != std::string::npos) {
                        streaming = true;
                        deltas_seen.notify_all();
                      }
                    });
  }};
  {
    std::unique_lock lock{mutex};
    BOOST_REQUIRE(deltas_seen.wait_for(lock, std::chrono::seconds(20), [&] { return streaming; }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100)); // a few deltas in
  auto cancelled = json_body(r.post("/v1/responses/" + id + "/cancel", json::object()));
  client.join();
  BOOST_TEST(cancelled["status"] == "cancelled");
  auto check = [&](const sse_result& s, const std::string& what) {
    expect_valid_stream(s, what);
    BOOST_REQUIRE(!s.events.empty());
    const auto& last = s.events.back();
    BOOST_TEST(last["type"] == "response.incomplete", what);
    BOOST_TEST(last["response"]["status"] == "cancelled", what);
    BOOST_REQUIRE(!last["response"]["output"].empty());
    for (const auto& item : last["response"]["output"])
      BOOST_TEST(item["status"] == "incomplete", what);
    BOOST_TEST(last["response"]["output"][0]["content"][0]["text"].get<std::string>().rfind(
                   "t0 ", 0) == 0u);
  };
  check(live, "live");
  check(sse_call("GET", r.url("/v1/responses/" + id + "?stream=true"), ""), "replayed");
  auto stored = json_body(r.get("/v1/responses/" + id));
  BOOST_TEST(stored["status"] == "cancelled");
  for (const auto& item : stored["output"])
    BOOST_TEST(item["status"] == "incomplete");
  expect_all_fields(stored, "cancelled while streamed");
}

BOOST_AUTO_TEST_CASE(item_references_resolve_to_stored_items_of_the_tenant_only) {
  scripted_backend b{script()};
  riposte_server r{b.url(), {"--api-key", "ka:alice", "--api-key", "kb:bob"}};
  std::vector<std::string> alice{"Authorization: Bearer ka"};
  std::vector<std::string> bob{"Authorization: Bearer kb"};
  auto first = r.post("/v1/responses", request("hello there"), alice);
  BOOST_REQUIRE_MESSAGE(first.status == 200, first.body);
  auto one = json_body(first);
  auto question = one["id"].get<std::string>();
  auto in_items = json_body(r.get("/v1/responses/" + question + "/input_items", alice));
  auto asked_id = in_items["data"][0]["id"].get<std::string>();
  auto answer_id = one["output"][0]["id"].get<std::string>();
  auto sent_text = [&] { return b.requests().back()["messages"].dump(); };

  // The Vercel AI SDK's second turn: earlier items by reference, then the
  // new message. The model reads them, the Response stores the items.
  json refs = json::array({{{"type", "item_reference"}, {"id", asked_id}},
                           {{"id", answer_id}}, // the SDKs' ItemReference: type is optional
                           {{"role", "user"}, {"content", "and again"}}});
  json turn{{"model", "llama3.2:1b"}, {"input", refs}};
  auto second = r.post("/v1/responses", turn, alice);
  BOOST_REQUIRE_MESSAGE(second.status == 200, second.body);
  auto two = json_body(second);
  BOOST_TEST(two["status"] == "completed");
  expect_all_fields(two, "referencing response");
  auto text = sent_text();
  BOOST_TEST(text.find("hello there") != std::string::npos, text);
  BOOST_TEST(text.find("and again") != std::string::npos, text);
  BOOST_TEST(text.find("\"assistant\"") != std::string::npos, text);
  auto listed = json_body(
      r.get("/v1/responses/" + two["id"].get<std::string>() + "/input_items?order=asc", alice));
  BOOST_REQUIRE_EQUAL(listed["data"].size(), 3u);
  BOOST_TEST(listed["data"][0]["id"] == asked_id);
  BOOST_TEST(listed["data"][0]["type"] == "message");
  BOOST_TEST(listed["data"][1]["id"] == answer_id);
  BOOST_TEST(listed["data"][1]["role"] == "assistant");

  // Streamed, in the background and counted, the same.
  auto streamed = sse_call("POST", r.url("/v1/responses"),
                           json{{"model", "llama3.2:1b"}, {"input", refs}, {"stream", true}}.dump(),
                           -1, {}, alice);
  BOOST_TEST(streamed.status == 200);
  BOOST_TEST(streamed.events.back().value("type", "") == "response.completed");
  auto queued = json_body(r.post(
      "/v1/responses", {{"model", "llama3.2:1b"}, {"input", refs}, {"background", true}}, alice));
  BOOST_TEST(settled(r, queued, alice)["status"] == "completed");
  auto with_refs = json_body(r.post("/v1/responses/input_tokens", turn, alice));
  auto without = json_body(r.post("/v1/responses/input_tokens",
                                  {{"model", "llama3.2:1b"}, {"input", "and again"}}, alice));
  BOOST_TEST(with_refs["input_tokens"].get<int>() > without["input_tokens"].get<int>() + 4);

  // Not found: another tenant's item, an unknown id, a deleted response's.
  auto expect_missing = [&](const http_result& res, const std::string& id, bool store) {
    BOOST_TEST(res.status == 404, res.body);
    auto err = json::parse(res.body)["error"];
    std::string msg = "Item with id '" + id + "' not found.";
    if (!store)
      msg += " Items are not persisted when `store` is set to false. Try again with `store` set "
             "to true, or remove this item from your input.";
    BOOST_TEST(err["message"] == msg);
    BOOST_TEST(err["type"] == "invalid_request_error");
    BOOST_TEST(err["param"] == "input");
    BOOST_TEST(err["code"].is_null());
  };
  expect_missing(r.post("/v1/responses", turn, bob), asked_id, true);
  json unknown{{"model", "llama3.2:1b"},
               {"input", {{{"type", "item_reference"}, {"id", "msg_nothing"}}}},
               {"store", false}};
  expect_missing(r.post("/v1/responses", unknown, alice), "msg_nothing", false);
  // A store:false response's items are never found.
  auto ephemeral =
      json_body(r.post("/v1/responses", request("private words", {{"store", false}}), alice));
  json to_ephemeral{
      {"model", "llama3.2:1b"},
      {"input", {{{"type", "item_reference"}, {"id", ephemeral["output"][0]["id"]}}}}};
  expect_missing(r.post("/v1/responses", to_ephemeral, alice),
                 ephemeral["output"][0]["id"].get<std::string>(), true);
  // The referencing responses hold the items too: deleting the first leaves
  // them found, in the newest holder. A deleted response's own items are not.
  BOOST_TEST(r.del("/v1/responses/" + question, alice).status == 200);
  BOOST_TEST(r.post("/v1/responses", turn, alice).status == 200);
  auto lonely = json_body(r.post("/v1/responses", request("lonely words"), alice));
  auto lonely_id = lonely["output"][0]["id"].get<std::string>();
  BOOST_TEST(r.del("/v1/responses/" + lonely["id"].get<std::string>(), alice).status == 200);
  json to_lonely{{"model", "llama3.2:1b"},
                 {"input", {{{"type", "item_reference"}, {"id", lonely_id}}}}};
  expect_missing(r.post("/v1/responses", to_lonely, alice), lonely_id, true);
  // A tool output answers a call sent by reference; one that answers
  // nothing is refused once the references are resolved.
  json weather_tool{{"type", "function"},
                    {"name", "get_weather"},
                    {"parameters", {{"type", "object"}, {"properties", json::object()}}}};
  auto called = json_body(
      r.post("/v1/responses",
             request("weather in Paris?", {{"tools", json::array({weather_tool})}}), alice));
  BOOST_REQUIRE(called["output"].back()["type"] == "function_call");
  auto call = called["output"].back();
  json answered{
      {"model", "llama3.2:1b"},
      {"tools", json::array({weather_tool})},
      {"input",
       {{{"type", "item_reference"}, {"id", call["id"]}},
        {{"type", "function_call_output"}, {"call_id", call["call_id"]}, {"output", "18C"}}}}};
  auto after_call = r.post("/v1/responses", answered, alice);
  BOOST_TEST(after_call.status == 200, after_call.body);
  BOOST_TEST(sent_text().find("18C") != std::string::npos);
  answered["input"][0]["id"] = answer_id; // a message, not the call
  auto orphan = r.post("/v1/responses", answered, alice);
  BOOST_TEST(orphan.status == 400, orphan.body);
  BOOST_TEST(json::parse(orphan.body)["error"]["param"] == "input[1].call_id");
  // The index is in the store: it survives a restart.
  r.restart();
  BOOST_TEST(r.post("/v1/responses", turn, alice).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()
