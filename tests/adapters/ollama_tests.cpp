// The Ollama adapter's mappings, without a network: request bodies, and
// NDJSON fed in arbitrary pieces.
#define BOOST_TEST_MODULE ollama_adapter
#include "adapters/backends/ollama.hpp"
#include "adapters/backends/token_estimate.hpp"
#include "adapters/backends/token_line.hpp"
#include "tests/support/awkward_text.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

namespace ev = riposte::events;
using riposte::actors::generation_request;
using riposte::adapters::backends::ollama_translator;
using riposte::adapters::backends::to_ollama_chat;
using json = nlohmann::json;

namespace {

std::vector<std::string> types(const std::vector<ev::event>& evs) {
  std::vector<std::string> out;
  for (const auto& e : evs)
    out.emplace_back(ev::type_of(e));
  return out;
}

std::string line(const json& message, bool done = false, const json& extra = json::object()) {
  json j{
      {"model", "m"}, {"created_at", "2026-01-01T00:00:00Z"}, {"message", message}, {"done", done}};
  for (const auto& [k, v] : extra.items())
    j[k] = v;
  return j.dump() + "\n";
}

std::vector<ev::event> feed_all(ollama_translator& t, const std::string& bytes, std::size_t piece) {
  std::vector<ev::event> out;
  for (std::size_t i = 0; i < bytes.size(); i += piece) {
    auto evs = t.feed(std::string_view{bytes}.substr(i, piece));
    out.insert(out.end(), evs.begin(), evs.end());
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(text_chunks_in_any_split_give_one_message_item) {
  auto bytes = line({{"role", "assistant"}, {"content", "Hel"}}) +
               line({{"role", "assistant"}, {"content", "lo"}}) +
               line({{"role", "assistant"}, {"content", ""}}, true,
                    {{"done_reason", "stop"}, {"prompt_eval_count", 10}, {"eval_count", 2}});
  for (std::size_t piece : {1u, 3u, 7u, 1000u}) {
    ollama_translator t{"m"};
    auto evs = feed_all(t, bytes, piece);
    BOOST_TEST(t.done());
    std::vector<std::string> expected{
        "output_item_added", "content_part_added", "output_text_delta", "output_text_delta",
        "output_text_done",  "content_part_done",  "output_item_done",  "response_completed"};
    BOOST_TEST(types(evs) == expected, "piece " << piece);
    const auto& done = std::get<ev::output_item_done>(evs[6]);
    BOOST_TEST(done.item["content"][0]["text"] == "Hello");
    BOOST_TEST(done.item["status"] == "completed");
    const auto& added = std::get<ev::output_item_added>(evs[0]);
    BOOST_TEST(added.item["id"] == done.item["id"]); // the same id from start to end
    const auto& completed = std::get<ev::response_completed>(evs[7]);
    BOOST_TEST(completed.usage["input_tokens"] == 10);
    BOOST_TEST(completed.usage["output_tokens"] == 2);
    BOOST_TEST(completed.usage["total_tokens"] == 12);
  }
}

// A token line is read without building a json object; every other shape
// goes through the full parse. Both must give the same events.
BOOST_AUTO_TEST_CASE(token_lines_in_any_shape_give_the_same_deltas) {
  const std::vector<std::pair<std::string, std::string>> lines{
      {line({{"role", "assistant"}, {"content", "plain"}}), "plain"},
      {R"({ "model" : "m", "message" : { "content" : "spaced", "role" : "assistant" } })"
       "\n",
       "spaced"},
      {R"({"done":false,"message":{"role":"assistant","content":"first"},"model":"m"})"
       "\n",
       "first"},
      {line({{"role", "assistant"}, {"content", "extra"}, {"images", nullptr}}), "extra"},
      {line({{"role", "assistant"}, {"content", "counted"}}, false, {{"eval_count", 1}}),
       "counted"},
      {line({{"role", "assistant"}, {"content", R"(a "done":true and "thinking": b)"}}),
       R"(a "done":true and "thinking": b)"},
      {line({{"role", "assistant"}, {"content", "caf\u00e9 \u2603\n"}}), "caf\u00e9 \u2603\n"},
  };
  for (const auto& [bytes, text] : lines) {
    ollama_translator t{"m"};
    auto evs = t.feed(bytes);
    BOOST_REQUIRE_MESSAGE(evs.size() == 3u, bytes);
    BOOST_TEST(std::get<ev::output_text_delta>(evs[2]).delta == text, bytes);
    BOOST_TEST(!t.done());
  }
  // Members of the wrong type fail the response (and never throw out of the
  // backend thread).
  for (const char* bytes : {R"({"model":"m","message":"x","done":false})"
                            "\n",
                            R"({"model":"m","message":{"content":null},"done":false})"
                            "\n",
                            R"({"model":"m","message":{"content":"x"},"done":"yes"})"
                            "\n",
                            R"({"model":"m","message":{"content":"x","tool_calls":[5]}})"
                            "\n"}) {
    ollama_translator t{"m"};
    auto evs = t.feed(bytes);
    BOOST_REQUIRE(!evs.empty());
    const auto* failed = std::get_if<ev::response_failed>(&evs.back());
    BOOST_REQUIRE_MESSAGE(failed != nullptr, bytes);
    BOOST_TEST((failed->code == ev::failure_code::server_error));
    BOOST_TEST(t.done());
  }
}

// The hand scanner against the JSON library: on every line it accepts it
// reads what the library reads, and it accepts every plain token line the
// library writes.
BOOST_AUTO_TEST_CASE(the_token_line_scanner_reads_what_the_json_library_reads) {
  using riposte::adapters::backends::read_token_line;
  std::mt19937 rng{20261130};
  // Escapes as they come on the wire, and JSON's own punctuation, too.
  auto pieces = riposte::tests::awkward_text();
  for (const char* piece : {"tok", "\\u00e9", "\\ud83d\\ude00", "\\ud83d", "\\ude00x", "\\u12",
                            "\\x", "\\/", "}", "{", ",", ":", "\"done\":true"})
    pieces.emplace_back(piece);
  std::size_t accepted = 0, checked = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string raw;
    for (int k = static_cast<int>(rng() % 6); k >= 0; --k)
      raw += pieces[rng() % pieces.size()];
    // Half the time the library writes the string; else raw goes in as is,
    // to be read as JSON escapes or refused.
    std::string quoted;
    if (round % 2 == 0) {
      try {
        quoted = json(raw).dump();
      } catch (const json::exception&) {
        continue; // not UTF-8: the library cannot write it
      }
    } else {
      quoted = "\"" + raw + "\"";
    }
    for (const auto& line :
         {R"({"model":"m","created_at":"t","message":{"role":"assistant","content":)" + quoted +
              R"(},"done":false})",
          R"({"message":{"content":"x","thinking":)" + quoted + R"(},"done":false})",
          R"( { "done" : false , "message" : { "content" : )" + quoted + " } } "}) {
      ++checked;
      auto j = json::parse(line, nullptr, false);
      std::string content, thinking;
      bool ok = read_token_line(line, content, thinking);
      if (round % 2 == 0)
        BOOST_TEST(ok, line); // what the library wrote, the scanner reads
      if (!ok)
        continue;
      ++accepted;
      BOOST_REQUIRE_MESSAGE(!j.is_discarded(), "accepted what the library refuses: " << line);
      BOOST_TEST(content == j["message"].value("content", ""), line);
      BOOST_TEST(thinking == j["message"].value("thinking", ""), line);
    }
  }
  BOOST_TEST(accepted > checked / 3);
  std::string c, t;
  for (const char* other :
       {R"({"message":{"content":"x"},"done":true})",
        R"({"message":{"content":"x","tool_calls":[]}})",
        R"({"message":{"content":"x"},"error":"e"})", R"({"message":{"content":"x"}} trailing)",
        R"({"message":{"content":"x"},})", R"({"message":{"content":5}})",
        R"({"message":{"content":"x"},"done":falsey})", "", "{", "[]"})
    BOOST_TEST(!read_token_line(other, c, t), other);
}

// The last line (a blocking reply is that one line) is read by the scanner
// too: what it accepts, it reads as the library does; any other shape goes
// through the full parse, and a reply ends the same either way.
BOOST_AUTO_TEST_CASE(the_last_line_is_read_as_the_json_library_reads_it) {
  using riposte::adapters::backends::line_end;
  using riposte::adapters::backends::read_ollama_line;
  const std::string head =
      R"({"model":"m","created_at":"t","message":{"role":"assistant","content":"ok"},)";
  const std::vector<std::pair<std::string, bool>> lines{
      {head +
           R"("done_reason":"stop","done":true,"total_duration":1203,"load_duration":0,)"
           R"("prompt_eval_count":12,"prompt_eval_duration":5,"eval_count":3,"eval_duration":40})",
       true},
      {head + R"("done_reason":"length","done":true,"eval_count":-0,"prompt_eval_count":-7})",
       true},
      {head + R"("done":true})", true}, // no reason: stop; no counts: 0
      {head +
           R"("done":true,"done_reason":"length","done_reason":"stop","eval_count":1,"eval_count":2})",
       true}, // the last of a repeated member
      {head + R"("done":false,"eval_count":4})", true},
      {head + R"("done":true,"eval_count":999999999999999999})", true},
      {head + R"("done":true,"eval_count":9999999999999999999})", false}, // past 18 digits
      {head + R"("done":true,"eval_count":1.5})", false},
      {head + R"("done":true,"eval_count":1e3})", false},
      {head + R"("done":true,"eval_count":012})", false}, // not JSON
      {head + R"("done":true,"eval_count":-})", false},
      {head + R"("done":true,"eval_count":"3"})", false},
      {head + R"("done":true,"done_reason":null})", false},
      {head + R"("done":true,"context":[1,2]})", false},
      {head + R"("done":truey})", false},
      {head + R"("done":true,"total_duration":2.5})", false},
  };
  for (const auto& [text, accepted] : lines) {
    std::string content, thinking;
    line_end end;
    bool ok = read_ollama_line(text, content, thinking, end);
    BOOST_TEST(ok == accepted, text);
    if (!ok)
      continue;
    auto j = json::parse(text);
    BOOST_TEST(end.done == j.value("done", false), text);
    BOOST_TEST(content == "ok");
    BOOST_TEST(end.prompt_eval_count == j.value("prompt_eval_count", std::int64_t{0}), text);
    BOOST_TEST(end.eval_count == j.value("eval_count", std::int64_t{0}), text);
    BOOST_TEST(end.done_reason == j.value("done_reason", "stop"), text);
  }
  // Both paths end a reply alike: the scanner's, and the full parse's (a
  // float count, which the scanner leaves to the library, reads as 1).
  for (const char* tail :
       {R"("done_reason":"length","done":true,"prompt_eval_count":4,"eval_count":1})",
        R"("done_reason":"length","done":true,"prompt_eval_count":4,"eval_count":1.0})"}) {
    ollama_translator t{"m"};
    auto evs = t.feed(head + tail);
    BOOST_TEST(evs.empty()); // no newline after a blocking reply: finish reads it
    evs = t.finish(200, "", false, false, "");
    BOOST_TEST(t.done());
    const auto& incomplete = std::get<ev::response_incomplete>(evs.back());
    BOOST_TEST(incomplete.reason == "max_output_tokens");
    BOOST_TEST(incomplete.usage["input_tokens"] == 4, tail);
    BOOST_TEST(incomplete.usage["output_tokens"] == 1, tail);
    BOOST_TEST(std::get<ev::output_item_done>(evs[evs.size() - 2]).item["content"][0]["text"] ==
               "ok");
  }
}

BOOST_AUTO_TEST_CASE(thinking_becomes_a_reasoning_item_before_the_message) {
  ollama_translator t{"m"};
  auto evs = t.feed(line({{"role", "assistant"}, {"content", ""}, {"thinking", "a"}}) +
                    line({{"role", "assistant"}, {"content", "b"}}) +
                    line({{"role", "assistant"}, {"content", ""}}, true));
  auto ts = types(evs);
  BOOST_TEST(ts[0] == "output_item_added");
  BOOST_TEST(ts[2] == "reasoning_delta");
  BOOST_TEST(ts[3] == "reasoning_done");
  const auto& reasoning = std::get<ev::output_item_done>(evs[5]);
  BOOST_TEST(reasoning.output_index == 0);
  BOOST_TEST(reasoning.item["type"] == "reasoning");
  BOOST_TEST(reasoning.item["content"][0]["text"] == "a");
  const auto& message = std::get<ev::output_item_added>(evs[6]);
  BOOST_TEST(message.output_index == 1);
}

BOOST_AUTO_TEST_CASE(tool_calls_become_function_call_items_with_string_arguments) {
  ollama_translator t{"m"};
  auto evs = t.feed(line({{"role", "assistant"},
                          {"content", ""},
                          {"tool_calls",
                           {{{"function", {{"name", "f"}, {"arguments", {{"x", 1}}}}}},
                            {{"function", {{"name", "g"}, {"arguments", json::object()}}}}}}}) +
                    line({{"role", "assistant"}, {"content", ""}}, true));
  std::vector<std::string> expected{"output_item_added",
                                    "function_call_arguments_delta",
                                    "function_call_arguments_done",
                                    "output_item_done",
                                    "output_item_added",
                                    "function_call_arguments_delta",
                                    "function_call_arguments_done",
                                    "output_item_done",
                                    "response_completed"};
  BOOST_TEST(types(evs) == expected);
  const auto& first = std::get<ev::output_item_done>(evs[3]);
  BOOST_TEST(first.item["name"] == "f");
  BOOST_TEST(first.item["arguments"] == "{\"x\":1}");
  BOOST_TEST(first.item["call_id"].get<std::string>().rfind("call_", 0) == 0u);
  BOOST_TEST(std::get<ev::output_item_done>(evs[7]).output_index == 1);
  BOOST_TEST(std::get<ev::function_call_arguments_done>(evs[2]).name == "f");
}

BOOST_AUTO_TEST_CASE(done_reason_length_ends_incomplete) {
  ollama_translator t{"m"};
  auto evs =
      t.feed(line({{"role", "assistant"}, {"content", "x"}}) +
             line({{"role", "assistant"}, {"content", ""}}, true, {{"done_reason", "length"}}));
  BOOST_TEST(std::get<ev::output_item_done>(evs[5]).item["status"] == "incomplete");
  BOOST_TEST(std::get<ev::response_incomplete>(evs[6]).reason == "max_output_tokens");
}

BOOST_AUTO_TEST_CASE(errors_and_cut_streams_fail_the_response) {
  {
    ollama_translator t{"m"};
    auto evs = t.feed(line({{"role", "assistant"}, {"content", "x"}}) +
                      json{{"error", "out of memory"}}.dump() + "\n");
    const auto& failed = std::get<ev::response_failed>(evs.back());
    BOOST_TEST(failed.message.find("out of memory") != std::string::npos);
    BOOST_TEST(t.done());
    BOOST_TEST(t.feed(line({{"content", "late"}})).empty());
  }
  {
    ollama_translator t{"m"};
    (void)t.feed(line({{"role", "assistant"}, {"content", "x"}}) + "{\"model\":\"");
    auto evs = t.finish(200, "", false, false, "");
    BOOST_TEST((std::get<ev::response_failed>(evs.back()).code == ev::failure_code::server_error));
  }
  {
    ollama_translator t{"m"};
    auto evs = t.finish(0, "Connection refused", false, true, "");
    BOOST_TEST(
        (std::get<ev::response_failed>(evs.back()).code == ev::failure_code::backend_unavailable));
  }
  {
    ollama_translator t{"m"};
    auto evs = t.finish(0, "timeout", true, false, "");
    BOOST_TEST(
        (std::get<ev::response_failed>(evs.back()).code == ev::failure_code::backend_timeout));
  }
  {
    ollama_translator t{"m"};
    auto evs = t.finish(404, "", false, false, R"({"error":"model 'x' not found"})");
    const auto& failed = std::get<ev::response_failed>(evs.back());
    BOOST_TEST((failed.code == ev::failure_code::model_not_found));
    BOOST_TEST(failed.message.find("model 'x' not found") != std::string::npos);
  }
  {
    ollama_translator t{"m"};
    auto evs = t.feed("this is not json\n");
    BOOST_TEST(ev::type_of(evs.back()) == "response_failed");
  }
}

BOOST_AUTO_TEST_CASE(requests_map_instructions_roles_options_tools_and_format) {
  generation_request req;
  req.model = "qwen3:0.6b";
  req.capabilities = {"completion", "tools", "thinking"};
  req.instructions = "sys";
  req.items = json::array(
      {{{"type", "message"}, {"role", "developer"}, {"content", "dev"}},
       {{"type", "message"},
        {"role", "user"},
        {"content",
         {{{"type", "input_text"}, {"text", "look"}},
          {{"type", "input_image"}, {"image_url", "data:image/png;base64,AAAA"}}}}},
       {{"type", "reasoning"}, {"content", {{{"type", "reasoning_text"}, {"text", "hm"}}}}},
       {{"type", "message"},
        {"role", "assistant"},
        {"content", {{{"type", "output_text"}, {"text", "calling"}}}}},
       {{"type", "function_call"}, {"call_id", "c1"}, {"name", "f"}, {"arguments", "{\"a\":1}"}},
       {{"type", "function_call"}, {"call_id", "c2"}, {"name", "g"}, {"arguments", "{}"}},
       {{"type", "function_call_output"}, {"call_id", "c1"}, {"output", "one"}},
       {{"type", "function_call_output"}, {"call_id", "c2"}, {"output", "two"}}});
  req.params = {{"temperature", 0.5},
                {"max_output_tokens", 64},
                {"reasoning", {{"effort", "low"}}},
                {"text", {{"format", {{"type", "json_object"}}}}},
                {"tools",
                 {{{"type", "function"}, {"name", "f"}, {"parameters", {{"type", "object"}}}},
                  {{"type", "web_search"}}}}};
  req.family = "gptoss";
  auto body = to_ollama_chat(req);
  auto msgs = body["messages"];
  BOOST_REQUIRE(msgs.size() == 5u);
  BOOST_TEST(msgs[0] == (json{{"role", "system"}, {"content", "sys\n\ndev"}}));
  BOOST_TEST(msgs[1]["images"] == json::array({"AAAA"}));
  BOOST_TEST(msgs[2]["role"] == "assistant");
  BOOST_TEST(msgs[2]["thinking"] == "hm");
  BOOST_TEST(msgs[2]["content"] == "calling");
  BOOST_TEST(msgs[2]["tool_calls"].size() == 2u);
  BOOST_TEST(msgs[2]["tool_calls"][0]["function"]["arguments"] == (json{{"a", 1}}));
  BOOST_TEST(msgs[3] == (json{{"role", "tool"}, {"content", "one"}, {"tool_name", "f"}}));
  BOOST_TEST(msgs[4]["tool_name"] == "g");
  BOOST_TEST(body["options"]["temperature"] == 0.5);
  BOOST_TEST(body["options"]["num_predict"] == 64);
  BOOST_TEST(body["think"] == "low");
  BOOST_TEST(body["format"] == "json");
  BOOST_TEST(body["tools"].size() == 1u); // only function tools reach Ollama
  BOOST_TEST(body["stream"] == true);
}

BOOST_AUTO_TEST_CASE(tool_choice_none_sends_no_tools) {
  generation_request req;
  req.model = "m";
  req.items = json::array({{{"type", "message"}, {"role", "user"}, {"content", "hi"}}});
  req.params = {{"tool_choice", "none"},
                {"tools", {{{"type", "function"}, {"name", "f"}, {"parameters", json::object()}}}}};
  BOOST_TEST(!to_ollama_chat(req).contains("tools"));
  req.params["tool_choice"] = "auto";
  BOOST_TEST(to_ollama_chat(req)["tools"].size() == 1u);
}

BOOST_AUTO_TEST_CASE(think_is_sent_only_to_models_that_can_think) {
  generation_request req;
  req.model = "m";
  req.items = json::array({{{"type", "message"}, {"role", "user"}, {"content", "hi"}}});
  req.params = {{"reasoning", {{"effort", "high"}}}};
  BOOST_TEST(!to_ollama_chat(req).contains("think"));
  req.capabilities = {"thinking"};
  req.family = "qwen3"; // on or off only
  BOOST_TEST(to_ollama_chat(req)["think"] == true);
  req.family = "gptoss"; // takes the level
  BOOST_TEST(to_ollama_chat(req)["think"] == "high");
  req.params = {{"reasoning", {{"effort", "xhigh"}}}};
  BOOST_TEST(to_ollama_chat(req)["think"] == "high");
  req.params = {{"reasoning", {{"effort", "none"}}}};
  BOOST_TEST(to_ollama_chat(req)["think"] == false);
  req.family = "qwen3";
  BOOST_TEST(to_ollama_chat(req)["think"] == false);
}

namespace {

// What Codex declares: plain functions, a namespace of functions, a custom
// (free-form) tool and a hosted web_search.
json codex_tools() {
  json params = json::parse(R"({
    "tools": [
      {"type": "function", "name": "exec_command", "description": "run a command",
       "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
      {"type": "namespace", "name": "multi_agent_v1", "description": "agents",
       "tools": [{"type": "function", "name": "spawn_agent",
                  "parameters": {"type": "object", "properties": {}}}]},
      {"type": "custom", "name": "apply_patch", "description": "patch files",
       "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
      {"type": "web_search", "external_web_access": true}
    ]})");
  return params;
}

std::vector<std::string> tool_names(const json& body) {
  std::vector<std::string> out;
  for (const auto& t : body.value("tools", json::array()))
    out.push_back(t["function"]["name"].get<std::string>());
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(namespaces_flatten_custom_tools_take_text_and_hosted_tools_stay_out) {
  generation_request req;
  req.model = "m";
  req.params = codex_tools();
  req.items = json::array({{{"type", "message"}, {"role", "user"}, {"content", "hi"}}});
  auto body = to_ollama_chat(req);
  std::vector<std::string> expected{"exec_command", "multi_agent_v1__spawn_agent", "apply_patch"};
  BOOST_TEST(tool_names(body) == expected);
  const auto& patch = body["tools"][2]["function"];
  BOOST_TEST(patch["parameters"]["required"] == json::array({"input"}));
  BOOST_TEST(patch["parameters"]["properties"]["input"]["description"].get<std::string>().find(
                 "start: /.+/") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(history_calls_reach_the_backend_under_their_flat_names) {
  generation_request req;
  req.model = "m";
  req.params = codex_tools();
  req.items = json::parse(R"([
    {"type": "message", "role": "user", "content": "go"},
    {"type": "function_call", "call_id": "c1", "name": "spawn_agent",
     "namespace": "multi_agent_v1", "arguments": "{\"n\":1}"},
    {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin"},
    {"type": "function_call_output", "call_id": "c1", "output": "spawned"},
    {"type": "custom_tool_call_output", "call_id": "c2", "output": "patched"}
  ])");
  auto body = to_ollama_chat(req);
  const auto& messages = body["messages"];
  BOOST_REQUIRE_EQUAL(messages.size(), 4u);
  const auto& calls = messages[1]["tool_calls"];
  BOOST_REQUIRE_EQUAL(calls.size(), 2u);
  BOOST_TEST(calls[0]["function"]["name"] == "multi_agent_v1__spawn_agent");
  BOOST_TEST(calls[0]["function"]["arguments"] == json({{"n", 1}}));
  BOOST_TEST(calls[1]["function"]["name"] == "apply_patch");
  BOOST_TEST(calls[1]["function"]["arguments"] == json({{"input", "*** Begin"}}));
  BOOST_TEST(messages[2]["tool_name"] == "multi_agent_v1__spawn_agent");
  BOOST_TEST(messages[3]["content"] == "patched");
  BOOST_TEST(messages[3]["tool_name"] == "apply_patch");
}

BOOST_AUTO_TEST_CASE(tool_choice_narrows_the_offer_and_asks_for_what_it_cannot_force) {
  generation_request req;
  req.model = "m";
  req.items = json::array({{{"type", "message"}, {"role", "user"}, {"content", "hi"}}});
  req.params = codex_tools();
  req.params["tool_choice"] = {{"type", "function"}, {"name", "exec_command"}};
  auto one = to_ollama_chat(req);
  BOOST_TEST(tool_names(one) == std::vector<std::string>{"exec_command"});
  BOOST_TEST(one["messages"][0]["role"] == "system");
  BOOST_TEST(one["messages"][0]["content"].get<std::string>().find("exec_command") !=
             std::string::npos);

  req.params["tool_choice"] = json::parse(
      R"({"type": "allowed_tools", "mode": "auto", "tools": [{"type": "custom", "name": "apply_patch"},
          {"type": "function", "name": "spawn_agent"}]})");
  auto allowed = to_ollama_chat(req);
  std::vector<std::string> expected{"multi_agent_v1__spawn_agent", "apply_patch"};
  BOOST_TEST(tool_names(allowed) == expected);
  BOOST_TEST(allowed["messages"][0]["role"] == "user"); // auto: no instruction

  req.params["tool_choice"] = "required";
  auto required = to_ollama_chat(req);
  BOOST_TEST(tool_names(required).size() == 3u);
  BOOST_TEST(required["messages"][0]["role"] == "system");

  req.params["tool_choice"] = {{"type", "web_search"}};
  BOOST_TEST(!to_ollama_chat(req).contains("tools"));
}

BOOST_AUTO_TEST_CASE(backend_calls_map_back_to_the_declared_name_namespace_and_kind) {
  auto params = codex_tools();
  ollama_translator t{"m", params};
  auto bytes =
      line({{"role", "assistant"},
            {"content", ""},
            {"tool_calls",
             {{{"function", {{"name", "multi_agent_v1__spawn_agent"}, {"arguments", {{"n", 2}}}}}},
              {{"function",
                {{"name", "apply_patch"}, {"arguments", {{"input", "*** Begin"}}}}}}}}}) +
      line({{"role", "assistant"}, {"content", ""}}, true, {{"done_reason", "stop"}});
  auto evs = feed_all(t, bytes, 5);
  std::vector<std::string> expected{"output_item_added",
                                    "function_call_arguments_delta",
                                    "function_call_arguments_done",
                                    "output_item_done",
                                    "output_item_added",
                                    "custom_tool_call_input_delta",
                                    "custom_tool_call_input_done",
                                    "output_item_done",
                                    "response_completed"};
  BOOST_TEST(types(evs) == expected);
  const auto& fn = std::get<ev::output_item_done>(evs[3]).item;
  BOOST_TEST(fn["type"] == "function_call");
  BOOST_TEST(fn["name"] == "spawn_agent");
  BOOST_TEST(fn["namespace"] == "multi_agent_v1");
  BOOST_TEST(std::get<ev::function_call_arguments_done>(evs[2]).name == "spawn_agent");
  const auto& custom = std::get<ev::output_item_done>(evs[7]).item;
  BOOST_TEST(custom["type"] == "custom_tool_call");
  BOOST_TEST(custom["name"] == "apply_patch");
  BOOST_TEST(custom["input"] == "*** Begin");
  BOOST_TEST(!custom.contains("namespace"));
  BOOST_TEST(custom["call_id"].get<std::string>().rfind("call_", 0) == 0u);

  // parallel_tool_calls: false keeps the first call of the turn only.
  params["parallel_tool_calls"] = false;
  ollama_translator single{"m", params};
  auto one = feed_all(single, bytes, 1000);
  BOOST_TEST(types(one).size() == 5u);
  params["parallel_tool_calls"] = true;
  params["max_tool_calls"] = 1;
  ollama_translator capped{"m", params};
  BOOST_TEST(types(feed_all(capped, bytes, 1000)).size() == 5u);
}

BOOST_AUTO_TEST_CASE(a_non_streaming_reply_is_one_object_without_a_newline) {
  json whole{{"model", "m"},
             {"created_at", "2026-01-01T00:00:00Z"},
             {"message", {{"role", "assistant"}, {"content", "All at once."}, {"thinking", "hm"}}},
             {"done", true},
             {"done_reason", "stop"},
             {"prompt_eval_count", 5},
             {"eval_count", 3}};
  ollama_translator t{"m"};
  auto evs = t.feed(whole.dump()); // no newline: nothing yet
  BOOST_TEST(evs.empty());
  auto rest = t.finish(200, "", false, false, "");
  BOOST_TEST(t.done());
  BOOST_REQUIRE(!rest.empty());
  BOOST_TEST(ev::type_of(rest.back()) == "response_completed");
  BOOST_TEST(std::get<ev::response_completed>(rest.back()).usage["output_tokens"] == 3);
  // Cut half way: a failure, not a completion.
  ollama_translator cut{"m"};
  auto text = whole.dump();
  (void)cut.feed(text.substr(0, text.size() / 2));
  auto failed = cut.finish(200, "", false, false, "");
  BOOST_TEST(ev::type_of(failed.back()) == "response_failed");
}

BOOST_AUTO_TEST_CASE(a_chain_renders_the_same_from_cached_segments_as_whole) {
  using riposte::projections::chain_segment;
  auto seg = [](std::shared_ptr<const chain_segment> parent, json items) {
    auto s = std::make_shared<chain_segment>();
    s->parent = std::move(parent);
    s->items = std::move(items);
    s->depth = s->parent ? s->parent->depth + 1 : 1;
    return std::shared_ptr<const chain_segment>(std::move(s));
  };
  auto turns = json::parse(R"([
    [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
     {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}],
    [{"type": "function_call_output", "call_id": "c1", "output": "sunny"},
     {"type": "message", "role": "system", "content": "be terse"},
     {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "it is sunny"}]},
     {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Sunny."}]}],
    [{"type": "message", "role": "user", "content": "and tomorrow?"},
     {"type": "message", "role": "assistant", "content": "Rain."}]
  ])");
  std::shared_ptr<const chain_segment> chain;
  json flat = json::array();
  for (const auto& t : turns) {
    chain = seg(chain, t);
    for (const auto& item : t)
      flat.push_back(item);
  }
  json next = json::array({{{"type", "message"}, {"role", "user"}, {"content", "thanks"}}});
  generation_request cached;
  cached.model = "m";
  cached.instructions = "You are a weather bot.";
  cached.history = chain;
  cached.items = next;
  generation_request whole = cached;
  whole.history = nullptr;
  whole.items = flat;
  for (const auto& item : next)
    whole.items.push_back(item);
  auto a = to_ollama_chat(cached);
  auto b = to_ollama_chat(whole);
  BOOST_TEST(a == b, a.dump() << "\n" << b.dump());
  BOOST_TEST(to_ollama_chat(cached) == a); // second time from the cache
  BOOST_TEST(a["messages"][0]["content"] == "You are a weather bot.\n\nbe terse");
  BOOST_TEST(a["messages"][3]["tool_name"] == "get_weather");
  // Thinking of a finished turn (before the last user message) stays out.
  BOOST_TEST(!a["messages"][4].contains("thinking"));
  // A turn whose input starts with a call joins the previous assistant turn:
  // rendered whole, still the same.
  cached.items = json::parse(
      R"([{"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"}])");
  whole.items = flat;
  whole.items.push_back(cached.items[0]);
  BOOST_TEST(to_ollama_chat(cached) == to_ollama_chat(whole));

  // A tool loop in progress: the thinking after the last user message goes
  // back with the call it led to, from the cache as from a whole render.
  auto loop = seg(nullptr, json::parse(R"([
    {"type": "message", "role": "user", "content": "weather?"},
    {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "ask the tool"}]},
    {"type": "function_call", "call_id": "c7", "name": "get_weather", "arguments": "{}"}])"));
  generation_request in_loop;
  in_loop.model = "m";
  in_loop.history = loop;
  in_loop.items =
      json::parse(R"([{"type": "function_call_output", "call_id": "c7", "output": "sun"}])");
  auto from_cache = to_ollama_chat(in_loop);
  BOOST_TEST(from_cache["messages"][1]["thinking"] == "ask the tool");
  generation_request in_loop_whole = in_loop;
  in_loop_whole.history = nullptr;
  in_loop_whole.items = loop->items;
  in_loop_whole.items.push_back(in_loop.items[0]);
  BOOST_TEST(to_ollama_chat(in_loop_whole) == from_cache);

  // Counting tokens from the segments' cached counts gives what the
  // estimate of the rendered body gives, in every case above.
  cached.params = json{{"tools", json::array({{{"type", "function"},
                                               {"name", "get_weather"},
                                               {"parameters", {{"type", "object"}}}}})}};
  for (const auto* req : {&cached, &whole, &in_loop, &in_loop_whole}) {
    auto expected = riposte::adapters::backends::estimate_chat_tokens(to_ollama_chat(*req));
    BOOST_TEST(riposte::adapters::backends::ollama_chat_tokens(*req) == expected);
  }
}

BOOST_AUTO_TEST_CASE(modified_at_times_read_as_epoch_seconds) {
  using riposte::adapters::backends::rfc3339_seconds;
  BOOST_TEST(rfc3339_seconds("2026-01-01T00:00:00Z") == 1767225600);
  BOOST_TEST(rfc3339_seconds("2026-01-01T12:34:56.123456789-07:00") == 1767296096);
  BOOST_TEST(rfc3339_seconds("2023-11-04T14:56:49.277302595+05:30") ==
             rfc3339_seconds("2023-11-04T09:26:49Z"));
  for (const char* bad :
       {"", "yesterday", "2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00",
        "2026-01-01T00:00:00+0700", "2026-01-01T00:00:00Zjunk", "2026-02-31T00:00:00Z",
        "2026-01-01T-1:00:00Z", "2026-01-01T00:00:00+99:99", "0001-01-01T00:00:00Z",
        "+026-01-01T00:00:00Z"})
    BOOST_TEST(rfc3339_seconds(bad) == 0, bad);
}
