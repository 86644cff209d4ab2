// End to end: the tool protocol. Definitions and choices are validated,
// tool outputs must answer a call, and namespaced, custom and hosted tools
// travel as the client declared them.
#include "tests/support/backend_wire.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using json = nlohmann::json;
using namespace riposte::tests;

namespace {

// A scripted reply with tool calls, in order: [[name, arguments], ...].
json call_reply(const std::vector<std::pair<std::string, json>>& calls) {
  json tool_calls = json::array();
  for (const auto& [name, args] : calls)
    tool_calls.push_back({{"function", {{"name", name}, {"arguments", args}}}});
  return {{"chunks", json::array({{{"tool_calls", tool_calls}}})}};
}

void expect_400(riposte_server& r, const json& body, const std::string& param) {
  auto res = r.post("/v1/responses", body);
  BOOST_TEST(res.status == 400, param << ": " << res.body);
  auto j = json::parse(res.body, nullptr, false);
  BOOST_REQUIRE_MESSAGE(j.is_object() && j.contains("error"), res.body);
  BOOST_TEST(j["error"]["param"] == param, res.body);
  BOOST_TEST(j["error"]["type"] == "invalid_request_error");
}

const json weather_tool = {
    {"type", "function"},
    {"name", "get_weather"},
    {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}};

} // namespace

BOOST_AUTO_TEST_SUITE(tools)

BOOST_AUTO_TEST_CASE(tool_definitions_and_choices_are_validated_naming_the_param) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto with = [](json tools, json choice = nullptr) {
    json body{{"model", "llama3.2:1b"}, {"input", "hi"}, {"tools", std::move(tools)}};
    if (!choice.is_null())
      body["tool_choice"] = std::move(choice);
    return body;
  };
  expect_400(r, with({{{"type", "teleport"}}}), "tools[0].type");
  expect_400(r, with({{{"type", "function"}, {"name", "has space"}}}), "tools[0].name");
  expect_400(r, with({weather_tool, weather_tool}), "tools[1].name");
  expect_400(r, with({{{"type", "function"}, {"name", "f"}, {"parameters", {{"type", "array"}}}}}),
             "tools[0].parameters");
  expect_400(r, with({{{"type", "namespace"}, {"name", "ns"}, {"tools", json::array()}}}),
             "tools[0].tools");
  expect_400(r,
             with({{{"type", "namespace"}, {"name", "ns"}, {"tools", {{{"type", "web_search"}}}}}}),
             "tools[0].tools[0].type");
  expect_400(r,
             with({{{"type", "custom"},
                    {"name", "patch"},
                    {"format", {{"type", "grammar"}, {"syntax", "ebnf"}, {"definition", "x"}}}}}),
             "tools[0].format.syntax");
  expect_400(r, with({weather_tool}, {{"type", "function"}, {"name", "get_time"}}),
             "tool_choice.name");
  expect_400(r, with(json::array(), "required"), "tool_choice");
  expect_400(r,
             with({weather_tool}, {{"type", "allowed_tools"},
                                   {"mode", "auto"},
                                   {"tools", {{{"type", "function"}, {"name", "nope"}}}}}),
             "tool_choice.tools[0].name");
  // A function in a namespace and a top-level one may share a name.
  auto ok = r.post(
      "/v1/responses",
      with(
          {weather_tool,
           {{"type", "namespace"}, {"name", "ns"}, {"description", "d"}, {"tools", {weather_tool}}},
           {{"type", "web_search"}, {"external_web_access", true}}}));
  BOOST_TEST(ok.status == 200, ok.body);
  // Nothing of the rejected requests was stored.
  BOOST_TEST(r.get("/metrics").body.find("status=\"400\"} 10") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tool_outputs_must_answer_a_call_in_the_input_or_the_chain) {
  scripted_backend b{{{"rules",
                       {{{"match", {{"contains", "weather"}}},
                         {"reply", call_reply({{"get_weather", json{{"city", "Paris"}}}})}}}}}};
  riposte_server r{b.url()};
  // Nowhere to find the call.
  expect_400(r,
             {{"model", "llama3.2:1b"},
              {"input",
               {{{"role", "user"}, {"content", "hi"}},
                {{"type", "function_call_output"}, {"call_id", "call_nope"}, {"output", "x"}}}}},
             "input[1].call_id");

  auto first =
      r.post("/v1/responses",
             {{"model", "llama3.2:1b"}, {"input", "weather in Paris?"}, {"tools", {weather_tool}}});
  BOOST_REQUIRE_EQUAL(first.status, 200);
  auto turn1 = json::parse(first.body);
  const auto& call = turn1["output"][0];
  BOOST_REQUIRE(call["type"] == "function_call");
  auto call_id = call["call_id"].get<std::string>();

  // The chain holds the call: answered.
  b.clear_requests();
  auto second = r.post(
      "/v1/responses",
      {{"model", "llama3.2:1b"},
       {"previous_response_id", turn1["id"]},
       {"tools", {weather_tool}},
       {"input",
        {{{"type", "function_call_output"}, {"call_id", call_id}, {"output", "{\"temp\":18}"}}}}});
  BOOST_TEST(second.status == 200, second.body);
  auto sent = b.requests().back()["messages"];
  BOOST_TEST(sent[sent.size() - 2]["tool_calls"][0]["function"]["name"] == "get_weather");
  BOOST_TEST(sent.back()["role"] == "tool");
  BOOST_TEST(wire::tool_name(sent.back(), sent) == "get_weather");

  // The chain does not hold it: refused, nothing stored.
  expect_400(
      r,
      {{"model", "llama3.2:1b"},
       {"previous_response_id", turn1["id"]},
       {"input", {{{"type", "function_call_output"}, {"call_id", "call_other"}, {"output", "x"}}}}},
      "input[0].call_id");

  // Stateless clients replay the call themselves (store: false, like Codex).
  auto replayed = r.post(
      "/v1/responses",
      {{"model", "llama3.2:1b"},
       {"store", false},
       {"tools", {weather_tool}},
       {"input",
        {{{"role", "user"}, {"content", "weather in Paris?"}},
         call,
         {{"type", "function_call_output"}, {"call_id", call_id}, {"output", "{\"temp\":18}"}}}}});
  BOOST_TEST(replayed.status == 200, replayed.body);
}

BOOST_AUTO_TEST_CASE(namespaced_custom_and_hosted_tools_travel_as_declared_in_a_stream) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"has_tool_result", true}}},
          {"reply", {{"chunks", {{{"content", "All done."}}}}}}},
         {{"match", {{"contains", "work"}}},
          {"reply", call_reply({{"multi_agent_v1__spawn_agent", json{{"n", 2}}},
                                {"apply_patch", json{{"input", "*** Begin Patch"}}}})}}}}}};
  riposte_server r{b.url()};
  json tools = json::parse(R"([
    {"type": "function", "name": "exec_command",
     "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
    {"type": "namespace", "name": "multi_agent_v1", "description": "sub-agents",
     "tools": [{"type": "function", "name": "spawn_agent",
                "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}}}]},
    {"type": "custom", "name": "apply_patch", "description": "edit files"},
    {"type": "web_search", "external_web_access": true}
  ])");
  json body{{"model", "llama3.2:1b"},
            {"stream", true},
            {"store", false},
            {"tools", tools},
            {"tool_choice", "auto"},
            {"parallel_tool_calls", true},
            {"include", {"reasoning.encrypted_content"}},
            {"input",
             {{{"role", "developer"}, {"content", "be brief"}},
              {{"role", "user"}, {"content", "do the work"}}}}};
  auto stream = sse_call("POST", r.url("/v1/responses"), body.dump());
  auto problems = validate_stream(stream.events);
  for (const auto& p : problems)
    BOOST_ERROR(p);
  // The backend saw flat names and no hosted tool.
  std::vector<std::string> offered;
  auto asked = b.requests().back();
  for (const auto& t : asked["tools"])
    offered.push_back(t["function"]["name"].get<std::string>());
  std::vector<std::string> expected{"exec_command", "multi_agent_v1__spawn_agent", "apply_patch"};
  BOOST_TEST(offered == expected);

  std::vector<json> done_items;
  bool custom_delta = false;
  for (const auto& e : stream.events) {
    if (e["type"] == "response.output_item.done")
      done_items.push_back(e["item"]);
    custom_delta = custom_delta || e["type"] == "response.custom_tool_call_input.delta";
  }
  BOOST_TEST(custom_delta);
  BOOST_REQUIRE_EQUAL(done_items.size(), 2u);
  BOOST_TEST(done_items[0]["type"] == "function_call");
  BOOST_TEST(done_items[0]["name"] == "spawn_agent");
  BOOST_TEST(done_items[0]["namespace"] == "multi_agent_v1");
  BOOST_TEST(done_items[1]["type"] == "custom_tool_call");
  BOOST_TEST(done_items[1]["name"] == "apply_patch");
  BOOST_TEST(done_items[1]["input"] == "*** Begin Patch");
  const auto& final_response = stream.events.back()["response"];
  BOOST_TEST(final_response["output"][0] == done_items[0]);
  // Echoed as declared; a function tool also carries what the API's tool type
  // always has (description, and strict, here false: its schema is open).
  auto echoed = tools;
  echoed[0]["description"] = nullptr;
  echoed[0]["strict"] = false;
  BOOST_TEST(final_response["tools"] == echoed);

  // The next turn replays everything with both outputs, as Codex does.
  body["input"].push_back(done_items[0]);
  body["input"].push_back(done_items[1]);
  body["input"].push_back({{"type", "function_call_output"},
                           {"call_id", done_items[0]["call_id"]},
                           {"output", "spawned 2"}});
  body["input"].push_back({{"type", "custom_tool_call_output"},
                           {"call_id", done_items[1]["call_id"]},
                           {"output", "patched; done"}});
  auto next = sse_call("POST", r.url("/v1/responses"), body.dump());
  BOOST_TEST(next.events.back()["type"] == "response.completed");
  auto sent = b.requests().back()["messages"];
  BOOST_TEST(sent[0]["role"] == "system");
  BOOST_TEST(sent[2]["tool_calls"][0]["function"]["name"] == "multi_agent_v1__spawn_agent");
  BOOST_TEST(wire::arguments(sent[2]["tool_calls"][1])["input"] == "*** Begin Patch");
  BOOST_TEST(wire::tool_name(sent[3], sent) == "multi_agent_v1__spawn_agent");
  BOOST_TEST(wire::tool_name(sent[4], sent) == "apply_patch");
}

BOOST_AUTO_TEST_CASE(structured_outputs_are_checked_against_their_schema) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "good"}}},
          {"reply",
           {{"chunks", {{{"content", "{\"name\":"}}, {{"content", "\"Ada\",\"age\":36}"}}}}}}},
         {{"match", {{"contains", "bad"}}},
          {"reply", {{"chunks", {{{"content", "{\"name\":\"Ada\",\"age\":-1}"}}}}}}},
         {{"match", {{"contains", "prose"}}},
          {"reply", {{"chunks", {{{"content", "Sure! Ada is 36."}}}}}}}}}}};
  riposte_server r{b.url()};
  json schema = json::parse(R"({"type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"], "additionalProperties": false})");
  auto ask = [&](const std::string& input, json format) {
    return r.post(
        "/v1/responses",
        {{"model", "llama3.2:1b"}, {"input", input}, {"text", {{"format", std::move(format)}}}});
  };
  json person{{"type", "json_schema"}, {"name", "person"}, {"schema", schema}, {"strict", true}};

  auto good = ask("a good one", person);
  BOOST_TEST(good.status == 200, good.body);
  BOOST_TEST(json::parse(good.body)["status"] == "completed");
  BOOST_TEST(wire::format(b.requests().back()) == schema); // the backend was asked for the schema

  // A violation is reported, not passed through: failed, saying where.
  auto bad = ask("a bad one", person);
  auto bad_body = json::parse(bad.body);
  BOOST_TEST(bad.status == 500, bad.body);
  BOOST_TEST(bad_body["error"]["code"] == "output_schema_violation");
  BOOST_TEST(bad_body["error"]["message"].get<std::string>().find("/age") != std::string::npos,
             bad.body);

  // The stored response says the same, with the output kept to inspect.
  auto feed = json::parse(r.get("/v1/audit/events?limit=1000").body);
  std::string failed_id;
  for (const auto& e : feed["data"])
    if (e["type"] == "response_failed")
      failed_id = e["stream"].get<std::string>();
  BOOST_REQUIRE(!failed_id.empty());
  auto stored = json::parse(r.get("/v1/responses/" + failed_id).body);
  BOOST_TEST(stored["status"] == "failed");
  BOOST_TEST(stored["error"]["code"] == "output_schema_violation");
  BOOST_TEST(stored["output"][0]["content"][0]["text"] == "{\"name\":\"Ada\",\"age\":-1}");

  auto prose = ask("some prose", json{{"type", "json_object"}});
  BOOST_TEST(json::parse(prose.body)["error"]["code"] == "output_schema_violation");

  // Streams end with response.failed, and the error says why.
  auto stream = sse_call("POST", r.url("/v1/responses"),
                         json{{"model", "llama3.2:1b"},
                              {"input", "a bad one"},
                              {"stream", true},
                              {"text", {{"format", person}}}}
                             .dump());
  BOOST_TEST(stream.events.back()["type"] == "response.failed");
  BOOST_TEST(stream.events.back()["response"]["error"]["code"] == "output_schema_violation");

  // Schemas that are not schemas are refused up front.
  expect_400(
      r,
      {{"model", "llama3.2:1b"},
       {"input", "x"},
       {"text", {{"format", {{"type", "json_schema"}, {"name", "p"}, {"schema", {{"type", 5}}}}}}}},
      "text.format.schema");
  expect_400(r,
             {{"model", "llama3.2:1b"},
              {"input", "x"},
              {"tools",
               {{{"type", "function"},
                 {"name", "f"},
                 {"parameters", {{"type", "object"}, {"required", {1}}}}}}}},
             "tools[0].parameters");
}

BOOST_AUTO_TEST_CASE(encrypted_reasoning_round_trips_for_stateless_clients) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "sum"}}},
          {"reply",
           {{"chunks",
             {{{"thinking", "3 plus 4 "}}, {{"thinking", "is 7"}}, {{"content", "7"}}}}}}},
         {{"match", {{"contains", "double"}}}, {"reply", {{"chunks", {{{"content", "14"}}}}}}}}}}};
  riposte_server r{b.url(), {"--api-key", "k-alice:alice", "--api-key", "k-bob:bob"}};
  const std::string alice = "Authorization: Bearer k-alice";
  json first_input = json::array({{{"role", "user"}, {"content", "sum 3 and 4"}}});
  json body{{"model", "qwen3:0.6b"},
            {"store", false},
            {"stream", true},
            {"reasoning", {{"effort", "low"}}},
            {"include", {"reasoning.encrypted_content"}},
            {"input", first_input}};
  auto first = sse_call("POST", r.url("/v1/responses"), body.dump(), -1, {}, {alice});
  json reasoning;
  for (const auto& e : first.events)
    if (e["type"] == "response.output_item.done" && e["item"]["type"] == "reasoning")
      reasoning = e["item"];
  BOOST_REQUIRE(reasoning.is_object());
  BOOST_REQUIRE(reasoning["encrypted_content"].is_string());
  BOOST_TEST(reasoning["encrypted_content"].get<std::string>().find("is 7") == std::string::npos);

  // The client replays the item as Codex does: id, summary and the sealed
  // text, no plain content, in the middle of its tool loop. The model gets
  // its thinking back for the turn in progress.
  json replayed{{"type", "reasoning"},
                {"id", reasoning["id"]},
                {"summary", json::array()},
                {"encrypted_content", reasoning["encrypted_content"]}};
  auto next_input = first_input;
  next_input.push_back(replayed);
  next_input.push_back({{"type", "function_call"},
                        {"call_id", "call_sum"},
                        {"name", "add"},
                        {"arguments", R"({"a":3,"b":4})"}});
  next_input.push_back(
      {{"type", "function_call_output"}, {"call_id", "call_sum"}, {"output", "7"}});
  json next{{"model", "qwen3:0.6b"},
            {"store", false},
            {"include", {"reasoning.encrypted_content"}},
            {"input", next_input}};
  auto ok = r.post("/v1/responses", next, {alice});
  BOOST_TEST(ok.status == 200, ok.body);
  auto sent = b.requests().back()["messages"];
  BOOST_TEST(sent[1]["role"] == "assistant");
  BOOST_TEST(wire::reasoning(sent[1]) == "3 plus 4 is 7");

  // Another tenant, or a bent token: refused, naming the item.
  auto bob = r.post("/v1/responses", next, {"Authorization: Bearer k-bob"});
  BOOST_TEST(bob.status == 400);
  BOOST_TEST(json::parse(bob.body)["error"]["param"] == "input[1].encrypted_content");
  auto bent = next;
  auto token = bent["input"][1]["encrypted_content"].get<std::string>();
  token[10] = token[10] == 'A' ? 'B' : 'A';
  bent["input"][1]["encrypted_content"] = token;
  auto refused = r.post("/v1/responses", bent, {alice});
  BOOST_TEST(refused.status == 400);
  BOOST_TEST(json::parse(refused.body)["error"]["message"].get<std::string>().find(
                 "could not be verified") != std::string::npos);

  // Once a new user message starts the next turn, that finished turn's
  // thinking stays out of the prompt.
  auto later = next;
  later["input"].push_back({{"role", "assistant"}, {"content", "7"}});
  later["input"].push_back({{"role", "user"}, {"content", "now double it"}});
  BOOST_TEST(r.post("/v1/responses", later, {alice}).status == 200);
  auto sent_later = b.requests();
  for (const auto& m : sent_later.back()["messages"])
    BOOST_TEST(wire::reasoning(m).empty(), m.dump());

  // The key lives in the store: sealed items outlive a restart.
  r.restart();
  auto after = r.post("/v1/responses", next, {alice});
  BOOST_TEST(after.status == 200, after.body);
}

BOOST_AUTO_TEST_CASE(a_reasoning_key_file_lets_another_store_open_sealed_items) {
  scripted_backend b{{{"rules",
                       {{{"match", {{"contains", "think"}}},
                         {"reply", {{"chunks", {{{"thinking", "hmm"}}, {{"content", "ok"}}}}}}}}}}};
  auto key_file = std::filesystem::temp_directory_path() /
                  ("riposte_key_" + std::to_string(::getpid()) + ".hex");
  {
    std::ofstream out{key_file};
    out << std::string(64, 'a') << "\n";
  }
  riposte_server one{b.url(), {"--reasoning-key-file", key_file.string()}};
  auto first = json::parse(one.post("/v1/responses", {{"model", "qwen3:0.6b"},
                                                      {"store", false},
                                                      {"input", "think"},
                                                      {"include", {"reasoning.encrypted_content"}}})
                               .body);
  BOOST_REQUIRE_EQUAL(first["output"][0]["type"], "reasoning");
  json replay{{"model", "qwen3:0.6b"},
              {"store", false},
              {"input",
               {{{"role", "user"}, {"content", "think"}},
                first["output"][0],
                first["output"][1],
                {{"role", "user"}, {"content", "again"}}}}};
  riposte_server same_key{b.url(), {"--reasoning-key-file", key_file.string()}};
  BOOST_TEST(same_key.post("/v1/responses", replay).status == 200);
  riposte_server own_key{b.url()};
  BOOST_TEST(own_key.post("/v1/responses", replay).status == 400);
  std::filesystem::remove(key_file);
}

BOOST_AUTO_TEST_SUITE_END()
