// The OpenAI Chat Completions translator, without a network: each server's
// dialect of chat.completion.chunk (../shared/BACKENDS.md), fed in
// arbitrary pieces, into the same events the Ollama adapter produces.
#include "adapters/backends/openai_chat.hpp"

#include <boost/test/unit_test.hpp>

namespace ev = riposte::events;
using riposte::adapters::backends::chat_error_message;
using riposte::adapters::backends::openai_chat_translator;
using json = nlohmann::json;

namespace {

std::vector<std::string> kinds(const std::vector<ev::event>& evs) {
  std::vector<std::string> out;
  for (const auto& e : evs)
    out.emplace_back(ev::type_of(e));
  return out;
}

// A chunk as vLLM frames it: `data: {...}` and a blank line.
std::string sse(const json& chunk) {
  return "data: " + chunk.dump() + "\n\n";
}

json chunk(const json& delta, const json& finish = nullptr) {
  return {{"id", "chatcmpl-1"},
          {"object", "chat.completion.chunk"},
          {"created", 1767225600},
          {"model", "m"},
          {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}};
}

json usage_chunk(int prompt, int completion) {
  return {{"id", "chatcmpl-1"},
          {"choices", json::array()},
          {"usage",
           {{"prompt_tokens", prompt},
            {"completion_tokens", completion},
            {"total_tokens", prompt + completion}}}};
}

const std::string done = "data: [DONE]\n\n";

// Feeds `bytes` in pieces of `piece`, then ends the transfer cleanly.
std::vector<ev::event> run(const std::string& bytes, std::size_t piece = 1'000'000,
                           const json& params = json::object()) {
  openai_chat_translator t{params};
  std::vector<ev::event> out;
  for (std::size_t i = 0; i < bytes.size(); i += piece) {
    auto evs = t.feed(std::string_view{bytes}.substr(i, piece));
    out.insert(out.end(), evs.begin(), evs.end());
  }
  auto end = t.finish(200, "", false, false, "");
  out.insert(out.end(), end.begin(), end.end());
  BOOST_TEST(t.done());
  return out;
}

template <class T>
const T& last_of(const std::vector<ev::event>& evs) {
  for (auto it = evs.rbegin(); it != evs.rend(); ++it)
    if (auto* e = std::get_if<T>(&*it))
      return *e;
  throw std::runtime_error("no such event");
}

std::vector<json> items_done(const std::vector<ev::event>& evs) {
  std::vector<json> out;
  for (const auto& e : evs)
    if (auto* d = std::get_if<ev::output_item_done>(&e))
      out.push_back(d->item);
  return out;
}

json tools() {
  return {
      {"tools",
       {{{"type", "function"},
         {"name", "get_weather"},
         {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}},
        {{"type", "function"}, {"name", "get_time"}}}}};
}

} // namespace

BOOST_AUTO_TEST_SUITE(openai_chat)

BOOST_AUTO_TEST_CASE(text_in_any_split_gives_one_message_and_the_usage_chunk_counts) {
  // vLLM: a role-only first chunk, text, the finish riding on the last text
  // chunk, usage on a chunk of its own, [DONE].
  auto bytes = sse(chunk({{"role", "assistant"}, {"content", ""}})) +
               sse(chunk({{"content", "Hel"}})) + sse(chunk({{"content", "lo"}}, "stop")) +
               sse(usage_chunk(10, 2)) + done;
  for (std::size_t piece : {1u, 3u, 7u, 1000u}) {
    auto evs = run(bytes, piece);
    std::vector<std::string> expected{
        "output_item_added", "content_part_added", "output_text_delta", "output_text_delta",
        "output_text_done",  "content_part_done",  "output_item_done",  "response_completed"};
    BOOST_TEST(kinds(evs) == expected, "piece " << piece);
    BOOST_TEST(items_done(evs)[0]["content"][0]["text"] == "Hello");
    const auto& usage = last_of<ev::response_completed>(evs).usage;
    BOOST_TEST(usage["input_tokens"] == 10);
    BOOST_TEST(usage["output_tokens"] == 2);
    BOOST_TEST(usage["total_tokens"] == 12);
  }
}

BOOST_AUTO_TEST_CASE(reasoning_comes_under_either_name_and_llama_cpp_reports_cache_hits) {
  for (const char* field : {"reasoning_content", "reasoning"}) {
    // llama.cpp: content null on the first chunk, CRLF line ends, a comment,
    // the finish on an empty delta, usage with timings.
    auto usage = usage_chunk(30, 5);
    usage["timings"] = {{"cache_n", 24}, {"prompt_n", 6}};
    auto bytes = sse(chunk({{"role", "assistant"}, {"content", nullptr}})) + ": ping\n\n" +
                 sse(chunk({{field, "Let me "}, {"content", nullptr}})) +
                 sse(chunk({{field, "think."}})) + sse(chunk({{"content", "42"}})) +
                 sse(chunk(json::object(), "stop")) + sse(usage) + done;
    std::string crlf;
    for (char c : bytes)
      crlf += c == '\n' ? std::string{"\r\n"} : std::string(1, c);
    auto evs = run(crlf, 5);
    auto items = items_done(evs);
    BOOST_REQUIRE(items.size() == 2u);
    BOOST_TEST(items[0]["type"] == "reasoning");
    BOOST_TEST(items[0]["content"][0]["text"] == "Let me think.");
    BOOST_TEST(items[1]["content"][0]["text"] == "42");
    BOOST_TEST(
        last_of<ev::response_completed>(evs).usage["input_tokens_details"]["cached_tokens"] == 24);
  }
}

BOOST_AUTO_TEST_CASE(tool_calls_are_assembled_from_every_servers_fragments) {
  auto expect_calls = [](const std::vector<ev::event>& evs, const std::string& what) {
    std::vector<json> calls;
    for (const auto& item : items_done(evs))
      if (item["type"] == "function_call")
        calls.push_back(item);
    BOOST_REQUIRE_MESSAGE(calls.size() == 2u, what);
    BOOST_TEST(calls[0]["name"] == "get_weather", what);
    BOOST_TEST(json::parse(calls[0]["arguments"].get<std::string>()) == json({{"city", "Paris"}}),
               what);
    BOOST_TEST(calls[1]["name"] == "get_time", what);
    BOOST_TEST(calls[0]["call_id"] != calls[1]["call_id"], what);
    BOOST_TEST(!calls[0]["call_id"].get<std::string>().empty(), what);
    BOOST_TEST(kinds(evs).back() == "response_completed", what);
  };
  // One fragment; `nulls`: absent members sent as explicit nulls.
  auto call = [](int index, json id, json name, json args, bool nulls = false) {
    json f{{"index", index},
           {"type", "function"},
           {"function", {{"name", name}, {"arguments", args}}}};
    if (!id.is_null() || nulls)
      f["id"] = id;
    if (name.is_null() && !nulls)
      f["function"].erase("name");
    return f;
  };
  // vLLM: id and name first, then argument fragments; finish tool_calls.
  expect_calls(
      run(sse(chunk({{"role", "assistant"}, {"content", ""}})) +
              sse(chunk({{"tool_calls", {call(0, "chatcmpl-tool-1", "get_weather", "")}}})) +
              sse(chunk(
                  {{"tool_calls", {{{"index", 0}, {"function", {{"arguments", "{\"city\""}}}}}}})) +
              sse(chunk({{"tool_calls",
                          {{{"index", 0}, {"function", {{"arguments", ": \"Paris\"}"}}}}}}})) +
              sse(chunk({{"tool_calls", {call(1, "chatcmpl-tool-2", "get_time", "{}")}}},
                        "tool_calls")) +
              sse(usage_chunk(5, 5)) + done,
          4, tools()),
      "vLLM");
  // SGLang: explicit nulls after the first fragment.
  expect_calls(
      run(sse(chunk({{"tool_calls", {call(0, "call_0123", "get_weather", "{\"city\": ")}}})) +
              sse(chunk({{"content", nullptr},
                         {"tool_calls", {call(0, nullptr, nullptr, "\"Paris\"}", true)}}})) +
              sse(chunk({{"tool_calls", {call(1, "call_4567", "get_time", "{}")}}})) +
              sse(chunk(json::object(), "tool_calls")) + done,
          1000, tools()),
      "SGLang");
  // TGI: id and type repeated on every chunk, the name only on the first,
  // finish "stop" despite the calls, no [DONE] before the connection closes.
  expect_calls(
      run(sse(chunk({{"role", "assistant"},
                     {"tool_calls", {call(0, "0", "get_weather", "{\"city\":")}}})) +
              sse(chunk({{"role", "assistant"},
                         {"tool_calls", {call(0, "0", nullptr, "\"Paris\"}", true)}}})) +
              sse(chunk({{"role", "assistant"}, {"tool_calls", {call(1, "1", "get_time", "{}")}}},
                        "stop")),
          2, tools()),
      "TGI");
  // Ollama /v1: each call whole in one chunk, no id at all.
  expect_calls(run(sse(chunk({{"content", ""},
                              {"tool_calls",
                               {call(0, nullptr, "get_weather", "{\"city\":\"Paris\"}"),
                                call(1, nullptr, "get_time", "{}")}}})) +
                       sse(chunk(json::object(), "tool_calls")) + done,
                   1000, tools()),
               "Ollama");
  // vLLM's final flush: the whole arguments sent again after the fragments.
  expect_calls(
      run(sse(chunk({{"tool_calls", {call(0, "a", "get_weather", "{\"city\"")}}})) +
              sse(chunk({{"tool_calls", {call(0, nullptr, nullptr, ": \"Paris\"}")}}})) +
              sse(chunk({{"tool_calls", {call(0, nullptr, nullptr, "{\"city\": \"Paris\"}")}}})) +
              sse(chunk({{"tool_calls", {call(1, "b", "get_time", "{}")}}}, "tool_calls")) + done,
          1000, tools()),
      "vLLM, arguments flushed twice");
}

BOOST_AUTO_TEST_CASE(length_ends_incomplete_and_abort_fails) {
  auto cut = run(sse(chunk({{"content", "cut sho"}})) + sse(chunk(json::object(), "length")) +
                 sse(usage_chunk(3, 16)) + done);
  BOOST_TEST(kinds(cut).back() == "response_incomplete");
  BOOST_TEST(items_done(cut)[0]["status"] == "incomplete");
  BOOST_TEST(last_of<ev::response_incomplete>(cut).usage["output_tokens"] == 16);
  auto aborted = run(sse(chunk({{"content", "x"}})) + sse(chunk(json::object(), "abort")) + done);
  BOOST_TEST(kinds(aborted).back() == "response_failed");
}

BOOST_AUTO_TEST_CASE(every_error_shape_fails_the_response_with_the_servers_message) {
  // Mid-stream: vLLM's data object then [DONE]; llama.cpp's error line.
  auto vllm =
      run(sse(chunk({{"content", "a"}})) +
          sse({{"error",
                {{"message", "engine dead"}, {"type", "InternalServerError"}, {"code", 500}}}}) +
          done);
  BOOST_TEST(last_of<ev::response_failed>(vllm).message.find("engine dead") != std::string::npos);
  auto llama = run("error: {\"error\":{\"code\":400,\"message\":\"context exceeded\",\"type\":"
                   "\"exceed_context_size_error\",\"n_prompt_tokens\":9000,\"n_ctx\":4096}}\n\n");
  BOOST_TEST(last_of<ev::response_failed>(llama).message.find("context exceeded") !=
             std::string::npos);
  auto tgi =
      run(sse({{"error", {{"message", "Input validation error"}, {"http_status_code", 422}}}}));
  BOOST_TEST(last_of<ev::response_failed>(tgi).message.find("Input validation error") !=
             std::string::npos);
  // Before the stream, an HTTP error body of each shape.
  for (const auto& [body, says] : std::vector<std::pair<json, std::string>>{
           {{{"error", {{"message", "bad schema"}, {"type", "BadRequestError"}, {"code", 400}}}},
            "bad schema"},
           {{{"object", "error"},
             {"message", "sglang says no"},
             {"type", "BadRequest"},
             {"code", 400}},
            "sglang says no"},
           {{{"error", "Input validation error: too long"}, {"error_type", "validation"}},
            "too long"}}) {
    openai_chat_translator t;
    auto evs = t.finish(400, "", false, false, body.dump());
    BOOST_TEST(last_of<ev::response_failed>(evs).message.find(says) != std::string::npos, says);
    BOOST_TEST(chat_error_message(body).find(says) != std::string::npos);
  }
  openai_chat_translator missing;
  auto evs = missing.finish(404, "", false, false, R"({"error":{"message":"no model"}})");
  BOOST_TEST((last_of<ev::response_failed>(evs).code == ev::failure_code::model_not_found));
  openai_chat_translator junk;
  BOOST_TEST(last_of<ev::response_failed>(junk.finish(502, "", false, false, "<html>bad gateway"))
                 .message.find("bad gateway") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(how_a_stream_ends_decides_how_the_response_ends) {
  // Cut before any finish: failed. A finish without [DONE], or [DONE]
  // without a finish: completed.
  BOOST_TEST(kinds(run(sse(chunk({{"content", "half"}})))).back() == "response_failed");
  BOOST_TEST(kinds(run(sse(chunk({{"content", "all"}}, "stop")))).back() == "response_completed");
  BOOST_TEST(kinds(run(sse(chunk({{"content", "all"}})) + done)).back() == "response_completed");
  // The last event without its blank line or newline still counts.
  BOOST_TEST(kinds(run("data: " + chunk({{"content", "x"}}, "stop").dump())).back() ==
             "response_completed");
  // Members of the wrong type, null usage, no choices: never an exception.
  auto odd =
      run(sse({{"choices", "none"}, {"usage", nullptr}}) +
          sse({{"choices", {{{"index", 0}, {"delta", {{"content", 5}, {"tool_calls", "x"}}}}}}}) +
          sse(chunk({{"content", "ok"}}, "stop")) + done);
  BOOST_TEST(items_done(odd)[0]["content"][0]["text"] == "ok");
  BOOST_TEST(kinds(run("data: not json\n\n")).back() == "response_failed");
  // A call without a name cannot be answered: failed, not a nameless call.
  BOOST_TEST(
      kinds(run(sse(chunk({{"tool_calls", {{{"index", 0}, {"function", {{"arguments", "{}"}}}}}}},
                          "tool_calls")) +
                done))
          .back() == "response_failed");
}

BOOST_AUTO_TEST_CASE(a_reply_that_is_not_a_stream_is_read_whole) {
  // stream false: one chat.completion object, calls without an index.
  json completion{
      {"id", "chatcmpl-9"},
      {"object", "chat.completion"},
      {"choices",
       {{{"index", 0},
         {"message",
          {{"role", "assistant"},
           {"content", "Calling."},
           {"reasoning_content", "Two calls."},
           {"tool_calls",
            {{{"id", "a"},
              {"type", "function"},
              {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Paris\"}"}}}},
             {{"id", "b"},
              {"type", "function"},
              {"function", {{"name", "get_time"}, {"arguments", "{}"}}}}}}}},
         {"finish_reason", "tool_calls"}}}},
      {"usage", {{"prompt_tokens", 7}, {"completion_tokens", 9}}}};
  auto evs = run(completion.dump(), 5, tools());
  auto items = items_done(evs);
  BOOST_REQUIRE(items.size() == 4u);
  BOOST_TEST(items[0]["type"] == "reasoning");
  BOOST_TEST(items[1]["content"][0]["text"] == "Calling.");
  BOOST_TEST(items[2]["name"] == "get_weather");
  BOOST_TEST(items[3]["name"] == "get_time");
  BOOST_TEST(last_of<ev::response_completed>(evs).usage["output_tokens"] == 9);
  // An error object with status 200 fails with its message.
  auto error = run(R"({"error":{"message":"model is loading","type":"unavailable_error"}})");
  BOOST_TEST(last_of<ev::response_failed>(error).message.find("model is loading") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(calls_without_an_index_in_chunks_of_their_own_stay_apart) {
  auto whole = [](const char* id, const char* name, const char* args) {
    return json{
        {"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", args}}}};
  };
  auto evs =
      run(sse(chunk({{"tool_calls", {whole("a", "get_weather", "{\"city\":")}}})) +
              sse(chunk({{"tool_calls", {{{"function", {{"arguments", "\"Paris\"}"}}}}}}})) +
              sse(chunk({{"tool_calls", {whole("b", "get_time", "{}")}}}, "tool_calls")) + done,
          1000, tools());
  auto calls = items_done(evs);
  BOOST_REQUIRE(calls.size() == 2u);
  BOOST_TEST(calls[0]["name"] == "get_weather");
  BOOST_TEST(json::parse(calls[0]["arguments"].get<std::string>()) == json({{"city", "Paris"}}));
  BOOST_TEST(calls[1]["name"] == "get_time");
}

BOOST_AUTO_TEST_SUITE_END()
