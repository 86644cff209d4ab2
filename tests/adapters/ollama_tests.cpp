// The Ollama adapter's mappings, without a network: request bodies, and
// NDJSON fed in arbitrary pieces.
#define BOOST_TEST_MODULE ollama_adapter
#include "adapters/backends/ollama.hpp"

#include <boost/test/unit_test.hpp>

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
    BOOST_TEST(std::get<ev::response_failed>(evs.back()).code == "server_error");
  }
  {
    ollama_translator t{"m"};
    auto evs = t.finish(0, "Connection refused", false, true, "");
    BOOST_TEST(std::get<ev::response_failed>(evs.back()).code == "backend_unavailable");
  }
  {
    ollama_translator t{"m"};
    auto evs = t.finish(0, "timeout", true, false, "");
    BOOST_TEST(std::get<ev::response_failed>(evs.back()).code == "backend_timeout");
  }
  {
    ollama_translator t{"m"};
    auto evs = t.finish(404, "", false, false, R"({"error":"model 'x' not found"})");
    const auto& failed = std::get<ev::response_failed>(evs.back());
    BOOST_TEST(failed.code == "model_not_found");
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
  BOOST_TEST(to_ollama_chat(req)["think"] == "high");
  req.params = {{"reasoning", {{"effort", "none"}}}};
  BOOST_TEST(to_ollama_chat(req)["think"] == false);
}
