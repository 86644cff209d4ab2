// Every Chat Completions server kind, both ways: what riposte sends each one
// (only the fields it applies), and each one's reply, rendered with its
// quirks by tests/support/chat_wire and fed to the translator in pieces.
#include "adapters/backends/openai_chat.hpp"
#include "tests/support/chat_wire.hpp"

#include <boost/test/unit_test.hpp>

namespace ev = riposte::events;
namespace rb = riposte::adapters::backends;
using riposte::tests::chat_wire_profiles;
using riposte::tests::render_chat_reply;
using json = nlohmann::json;

namespace {

const json streamed{
    {"model", "m"}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};

json weather_tools() {
  auto fn = [](const char* name, const char* arg) {
    return json{
        {"type", "function"},
        {"name", name},
        {"parameters", {{"type", "object"}, {"properties", {{arg, {{"type", "string"}}}}}}}};
  };
  return {{"tools", {fn("get_weather", "city"), fn("get_time", "tz")}}};
}

struct outcome {
  std::vector<ev::event> events;
  std::string terminal; // response.completed / incomplete / failed
  std::string text, reasoning, error;
  std::vector<json> calls;
  json usage;
};

// Feeds the reply of `profile` to `plan` in pieces of `piece` bytes.
outcome run(const std::string& profile, const json& plan, std::size_t piece,
            const json& params = json::object(), const json& body = streamed) {
  auto reply = render_chat_reply(profile, plan, body);
  std::string bytes;
  for (const auto& w : reply.writes)
    bytes += w;
  rb::openai_chat_translator t{params};
  outcome o;
  std::string error_body;
  if (reply.status >= 400) {
    error_body = bytes;
  } else {
    for (std::size_t i = 0; i < bytes.size(); i += piece) {
      auto evs = t.feed(std::string_view{bytes}.substr(i, piece));
      o.events.insert(o.events.end(), evs.begin(), evs.end());
    }
  }
  auto end = t.finish(reply.status, "", false, false, error_body);
  o.events.insert(o.events.end(), end.begin(), end.end());
  BOOST_TEST(t.done(), profile);
  for (const auto& e : o.events) {
    if (auto* d = std::get_if<ev::output_item_done>(&e)) {
      auto type = d->item.value("type", "");
      if (type == "message")
        o.text += d->item["content"][0].value("text", "");
      else if (type == "reasoning")
        o.reasoning += d->item["content"][0].value("text", "");
      else if (type == "function_call")
        o.calls.push_back(d->item);
    } else if (auto* c = std::get_if<ev::response_completed>(&e)) {
      o.terminal = "completed";
      o.usage = c->usage;
    } else if (auto* i = std::get_if<ev::response_incomplete>(&e)) {
      o.terminal = "incomplete";
      o.usage = i->usage;
    } else if (auto* f = std::get_if<ev::response_failed>(&e)) {
      o.terminal = "failed";
      o.error = f->message;
    }
  }
  return o;
}

const std::vector<std::size_t> pieces{1, 7, 1u << 20};

rb::chat_profile profile(const char* kind) {
  auto p = rb::chat_profile_for(kind);
  BOOST_REQUIRE(p.has_value());
  return *p;
}

riposte::actors::generation_request request(json items, json params = json::object()) {
  riposte::actors::generation_request req;
  req.model = "m";
  req.items = std::move(items);
  req.params = std::move(params);
  return req;
}

json user(const std::string& text) {
  return {{"type", "message"}, {"role", "user"}, {"content", text}};
}

} // namespace

BOOST_AUTO_TEST_SUITE(chat_profiles)

BOOST_AUTO_TEST_CASE(every_kind_streams_text_reasoning_and_usage_in_any_split) {
  json plan{{"chunks",
             {{{"thinking", "Let me think."}}, {{"content", "Hello"}}, {{"content", " world"}}}},
            {"prompt_eval_count", 12},
            {"eval_count", 3},
            {"cached_tokens", 8}};
  for (const auto& kind : chat_wire_profiles())
    for (auto piece : pieces)
      for (bool split : {false, true}) {
        auto p = plan;
        p["split_writes"] = split;
        p["pings"] = split;
        auto o = run(kind, p, piece);
        BOOST_TEST(o.terminal == "completed", kind << " " << piece);
        if (kind == "tgi") { // no reasoning channel: the thoughts stay in the text
          BOOST_TEST(o.text == "<think>Let me think.</think>Hello world", kind);
          BOOST_TEST(o.reasoning.empty());
        } else {
          BOOST_TEST(o.text == "Hello world", kind << " " << piece);
          BOOST_TEST(o.reasoning == "Let me think.", kind << " " << piece);
        }
        BOOST_TEST(o.usage.value("input_tokens", 0) == 12, kind);
        BOOST_TEST(o.usage.value("output_tokens", 0) == 3, kind);
        // Cache hits where the server reports them (llama.cpp: timings.cache_n).
        bool reports = kind != "tgi" && kind != "ollama-v1" && kind != "lmstudio";
        if (reports)
          BOOST_TEST(o.usage["input_tokens_details"].value("cached_tokens", 0) == 8, kind);
      }
}

BOOST_AUTO_TEST_CASE(every_kinds_tool_call_shapes_give_the_same_calls) {
  json one{{"chunks",
            {{{"tool_calls",
               {{{"function", {{"name", "get_weather"}, {"arguments", {{"city", "Paris"}}}}}}}}}}}};
  json two = one;
  two["chunks"].push_back(
      {{"tool_calls", {{{"function", {{"name", "get_time"}, {"arguments", {{"tz", "CET"}}}}}}}}});
  for (const auto& kind : chat_wire_profiles())
    for (auto piece : pieces) {
      // TGI makes one call per turn; every other kind, several.
      const auto& plan = kind == "tgi" ? one : two;
      auto o = run(kind, plan, piece, weather_tools());
      BOOST_TEST(o.terminal == "completed", kind);
      BOOST_REQUIRE_EQUAL(o.calls.size(), kind == "tgi" ? 1u : 2u);
      BOOST_TEST(o.calls[0].value("name", "") == "get_weather", kind);
      BOOST_TEST(json::parse(o.calls[0].value("arguments", "")) == json({{"city", "Paris"}}), kind);
      BOOST_TEST(!o.calls[0].value("call_id", "").empty(), kind);
      if (kind != "tgi") {
        BOOST_TEST(o.calls[1].value("name", "") == "get_time", kind);
        BOOST_TEST(json::parse(o.calls[1].value("arguments", "")) == json({{"tz", "CET"}}), kind);
        BOOST_TEST(o.calls[0].value("call_id", "") != o.calls[1].value("call_id", ""), kind);
      }
    }
  // The quirks some servers add: vLLM repeating the whole arguments last,
  // LM Studio's empty ids, explicit null ids and names.
  for (auto [kind, quirk] :
       std::vector<std::pair<std::string, std::string>>{{"vllm", "duplicate_final_arguments"},
                                                        {"lmstudio", "empty_ids"},
                                                        {"llamacpp", "null_ids"},
                                                        {"vllm", "null_ids"}}) {
    auto plan = two;
    plan[quirk] = true;
    auto o = run(kind, plan, 5, weather_tools());
    BOOST_TEST(o.terminal == "completed", kind << " " << quirk);
    BOOST_REQUIRE_EQUAL(o.calls.size(), 2u);
    BOOST_TEST(json::parse(o.calls[0].value("arguments", "")) == json({{"city", "Paris"}}), quirk);
    BOOST_TEST(o.calls[0].value("call_id", "").rfind("call_", 0) == 0u, quirk);
  }
}

BOOST_AUTO_TEST_CASE(every_kind_ends_by_length_errors_and_cuts_as_the_api_does) {
  json chunks{{{"content", "a"}}, {{"content", "b"}}, {{"content", "c"}}};
  for (const auto& kind : chat_wire_profiles()) {
    auto o = run(kind, {{"chunks", chunks}, {"done_reason", "length"}}, 3);
    BOOST_TEST(o.terminal == "incomplete", kind);
    BOOST_TEST(o.text == "abc", kind);

    o = run(kind, {{"chunks", chunks}, {"error_after", 2}, {"error", "CUDA out of memory"}}, 3);
    BOOST_TEST(o.terminal == "failed", kind);
    // Ollama's /v1 has no mid-stream error shape: its stream just ends.
    if (kind != "ollama-v1")
      BOOST_TEST(o.error.find("CUDA out of memory") != std::string::npos, kind << ": " << o.error);

    o = run(kind, {{"chunks", chunks}, {"drop_after", 1}}, 3);
    BOOST_TEST(o.terminal == "failed", kind);

    o = run(kind, {{"status", 400}, {"error", "This model's maximum context length is 8192"}}, 3);
    BOOST_TEST(o.terminal == "failed", kind);
    BOOST_TEST(o.error.find("maximum context length is 8192") != std::string::npos,
               kind << ": " << o.error);

    // A reply that is not a stream (stream false) reads the same.
    json whole_body{{"model", "m"}, {"stream", false}};
    o = run(kind, {{"chunks", chunks}, {"prompt_eval_count", 4}}, 1u << 20, json::object(),
            whole_body);
    BOOST_TEST(o.terminal == "completed", kind);
    BOOST_TEST(o.text == "abc", kind);
    BOOST_TEST(o.usage.value("input_tokens", 0) == 4, kind);
  }
}

BOOST_AUTO_TEST_CASE(the_body_carries_history_in_chat_form) {
  json items =
      json::array({{{"type", "message"}, {"role", "developer"}, {"content", "Be brief."}},
                   user("Weather in Paris?"),
                   {{"type", "reasoning"},
                    {"summary", {{{"type", "summary_text"}, {"text", "Use the tool."}}}}},
                   {{"type", "function_call"},
                    {"call_id", "call_1"},
                    {"name", "get_weather"},
                    {"arguments", "{\"city\":\"Paris\"}"}},
                   {{"type", "function_call_output"}, {"call_id", "call_1"}, {"output", "18C"}},
                   {{"type", "message"},
                    {"role", "user"},
                    {"content",
                     {{{"type", "input_text"}, {"text", "And this?"}},
                      {{"type", "input_image"}, {"image_url", "data:image/png;base64,iVBOR"}}}}}});
  auto req = request(items);
  req.instructions = "You are helpful.";
  auto body = rb::to_openai_chat(req, profile("vllm"));
  const auto& m = body["messages"];
  BOOST_REQUIRE_EQUAL(m.size(), 5u);
  BOOST_TEST(m[0] == json({{"role", "system"}, {"content", "You are helpful.\n\nBe brief."}}));
  BOOST_TEST(m[1] == json({{"role", "user"}, {"content", "Weather in Paris?"}}));
  BOOST_TEST(m[2]["role"] == "assistant");
  BOOST_TEST(m[2]["tool_calls"][0]["id"] == "call_1");
  // Arguments go as JSON text, as the API defines them.
  BOOST_TEST(m[2]["tool_calls"][0]["function"]["arguments"] == "{\"city\":\"Paris\"}");
  // Reasoning from before the last user message is not sent back.
  BOOST_TEST(!m[2].contains("reasoning"));
  BOOST_TEST(m[3] == json({{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "18C"}}));
  BOOST_TEST(m[4]["content"][1]["image_url"]["url"] == "data:image/png;base64,iVBOR");
  BOOST_TEST(body["stream"] == true);
  BOOST_TEST(body["stream_options"]["include_usage"] == true);

  // In a tool loop (no user message after it), the reasoning goes back under
  // the kind's own field, or not at all.
  items.erase(items.size() - 1);
  req = request(items);
  for (auto [kind, field] : std::vector<std::pair<const char*, const char*>>{
           {"vllm", "reasoning"}, {"llamacpp", "reasoning_content"}, {"tgi", ""}}) {
    auto b = rb::to_openai_chat(req, profile(kind));
    const auto& assistant = b["messages"][2];
    if (*field)
      BOOST_TEST(assistant.value(field, "") == "Use the tool.", kind);
    else
      BOOST_TEST(!assistant.contains("reasoning_content"), kind);
  }
  // A blocking generation asks for no stream, and so no stream_options
  // (vLLM refuses them without a stream).
  req.stream = false;
  BOOST_TEST(!rb::to_openai_chat(req, profile("vllm")).contains("stream_options"));
}

BOOST_AUTO_TEST_CASE(each_kind_gets_only_the_fields_it_applies) {
  json params = weather_tools();
  params["tool_choice"] = "required";
  params["parallel_tool_calls"] = false;
  params["max_output_tokens"] = 64;
  params["temperature"] = 0.2;
  params["reasoning"] = {{"effort", "high"}};
  params["text"] = {{"format",
                     {{"type", "json_schema"},
                      {"name", "answer"},
                      {"strict", true},
                      {"schema", {{"type", "object"}}}}}};
  auto req = request(json::array({user("hi")}), params);

  auto vllm = rb::to_openai_chat(req, profile("vllm"));
  BOOST_TEST(vllm["tool_choice"] == "required");
  BOOST_TEST(vllm["parallel_tool_calls"] == false);
  BOOST_TEST(vllm["max_tokens"] == 64);
  BOOST_TEST(vllm["temperature"] == 0.2);
  BOOST_TEST(vllm["reasoning_effort"] == "high");
  BOOST_TEST(vllm["response_format"]["json_schema"]["name"] == "answer");
  BOOST_TEST(vllm["response_format"]["json_schema"]["strict"] == true);
  BOOST_TEST(vllm["tools"].size() == 2u);
  BOOST_TEST(vllm["messages"].size() == 1u); // no instruction: the server enforces the choice

  // llama.cpp defaults parallel_tool_calls to false: riposte always says.
  params["parallel_tool_calls"] = true;
  auto llama = rb::to_openai_chat(request(json::array({user("hi")}), params), profile("llamacpp"));
  BOOST_TEST(llama["parallel_tool_calls"] == true);

  // TGI: no parallel flag, no reasoning control, and a format only without
  // tools, in its own {type, value} form.
  auto tgi = rb::to_openai_chat(req, profile("tgi"));
  BOOST_TEST(tgi["model"] == "tgi"); // another name would be read as a LoRA adapter
  BOOST_TEST(!tgi.contains("parallel_tool_calls"));
  BOOST_TEST(!tgi.contains("reasoning_effort"));
  BOOST_TEST(!tgi.contains("response_format"));
  auto no_tools = params;
  no_tools.erase("tools");
  no_tools.erase("tool_choice");
  auto tgi_format =
      rb::to_openai_chat(request(json::array({user("hi")}), no_tools), profile("tgi"));
  BOOST_TEST(tgi_format["response_format"] ==
             json({{"type", "json_schema"},
                   {"value", {{"name", "answer"}, {"schema", {{"type", "object"}}}}}}));

  // Ollama's /v1 cannot be forced to call: the system prompt asks instead.
  auto ollama = rb::to_openai_chat(req, profile("ollama-v1"));
  BOOST_TEST(!ollama.contains("tool_choice"));
  BOOST_TEST(ollama["messages"][0]["role"] == "system");
  BOOST_TEST(ollama["messages"][0]["content"].get<std::string>().find("must call") !=
             std::string::npos);

  // tool_choice none offers nothing at all.
  params["tool_choice"] = "none";
  auto none = rb::to_openai_chat(request(json::array({user("hi")}), params), profile("vllm"));
  BOOST_TEST(!none.contains("tools"));
  BOOST_TEST(!none.contains("tool_choice"));

  // Each kind's manifest entry says what it does not get.
  auto manifest = rb::chat_profile_manifest(profile("tgi"));
  BOOST_TEST(manifest["not_sent"].contains("parallel_tool_calls"));
  BOOST_TEST(manifest["not_sent"].contains("response_format with tools"));
  BOOST_TEST(rb::chat_profile_manifest(profile("vllm"))["not_sent"].empty());
  BOOST_TEST(!rb::chat_profile_for("mystery").has_value());
}

BOOST_AUTO_TEST_CASE(model_lists_give_ids_and_the_window_where_the_server_says_it) {
  json listed = json::array({{{"name", "big"}, {"context_length", 32768}}});
  for (const auto& kind : chat_wire_profiles()) {
    auto models = rb::chat_models(riposte::tests::chat_models_reply(kind, listed));
    BOOST_REQUIRE_EQUAL(models.size(), 1u);
    BOOST_TEST(models[0].id == "big");
    bool says = kind == "vllm" || kind == "sglang";
    BOOST_TEST(models[0].context_length == (says ? 32768 : 0), kind);
  }
  // The others say it on their own endpoints.
  BOOST_TEST(rb::chat_window("llamacpp", {{"default_generation_settings", {{"n_ctx", 4096}}}}) ==
             4096);
  BOOST_TEST(rb::chat_window("tgi", {{"max_input_tokens", 4095}, {"max_total_tokens", 4096}}) ==
             4096);
  BOOST_TEST(rb::chat_window("lmstudio", {{"max_context_length", 131072},
                                          {"loaded_context_length", 8192}}) == 8192);
  BOOST_TEST(rb::chat_window("lmstudio", {{"max_context_length", 131072}}) == 131072);
  BOOST_TEST(rb::chat_window("llamacpp", {{"default_generation_settings", "loading"}}) == 0);
  BOOST_TEST(rb::chat_window("vllm", {{"max_total_tokens", 4096}}) == 0);
  BOOST_TEST(rb::chat_models(json{{"data", "nope"}}).empty());
  BOOST_TEST(rb::chat_models(json::array()).empty());
}

BOOST_AUTO_TEST_CASE(each_kind_with_a_tokenizer_counts_the_body_it_would_be_sent) {
  auto req = request(json::array({user("Weather in Paris?")}));
  req.instructions = "Be brief.";
  req.params = weather_tools();
  // vLLM: the messages and tools, with the generation prompt and no extra
  // special tokens, as its chat path renders them.
  auto vllm = rb::tokenize_request(profile("vllm"), rb::to_openai_chat(req, profile("vllm")));
  BOOST_TEST(vllm.path == "/tokenize");
  BOOST_TEST(vllm.body["messages"].size() == 2u);
  BOOST_TEST(vllm.body["tools"][0]["function"]["name"] == "get_weather");
  BOOST_TEST(vllm.body["add_generation_prompt"] == true);
  BOOST_TEST(vllm.body["add_special_tokens"] == false);
  BOOST_TEST(!vllm.body.contains("stream"));
  // TGI: the whole chat request (model "tgi"), no stream.
  auto tgi = rb::tokenize_request(profile("tgi"), rb::to_openai_chat(req, profile("tgi")));
  BOOST_TEST(tgi.path == "/chat_tokenize");
  BOOST_TEST(tgi.body["model"] == "tgi");
  BOOST_TEST(tgi.body.contains("tools"));
  BOOST_TEST(!tgi.body.contains("stream_options"));
  // llama.cpp: the template first, then its prompt's tokens.
  auto llama =
      rb::tokenize_request(profile("llamacpp"), rb::to_openai_chat(req, profile("llamacpp")));
  BOOST_TEST(llama.path == "/apply-template");
  BOOST_TEST(llama.body["messages"].size() == 2u);
  auto second = rb::tokenize_prompt("<|im_start|>user\nhi<|im_end|>");
  BOOST_TEST(second.path == "/tokenize");
  BOOST_TEST(second.body["parse_special"] == true);
  // The kinds without one.
  for (const char* kind : {"sglang", "ollama-v1", "lmstudio", "openai"}) {
    BOOST_TEST(rb::tokenize_request(profile(kind), json::object()).path.empty(), kind);
    BOOST_TEST(rb::chat_profile_manifest(profile(kind))["exact_prompt_count"].is_null(), kind);
  }
  BOOST_TEST(rb::chat_profile_manifest(profile("tgi"))["exact_prompt_count"] ==
             "POST /chat_tokenize with the chat request");
  // Each reply's count, and none from anything else.
  BOOST_TEST(rb::tokenized_count({{"count", 12}, {"max_model_len", 4096}, {"tokens", {1, 2}}}) ==
             12);
  BOOST_TEST(rb::tokenized_count({{"tokenize_response", json::array({json::object()})},
                                  {"templated_text", "x"}}) == 1);
  BOOST_TEST(rb::tokenized_count({{"tokens", {1, 2, 3}}}) == 3);
  BOOST_TEST(rb::tokenized_count({{"count", -4}}) == -1);
  BOOST_TEST(rb::tokenized_count({{"count", "12"}}) == -1);
  BOOST_TEST(rb::tokenized_count(json::array({1, 2})) == -1);
  BOOST_TEST(rb::tokenized_count({{"error", "Not Found"}}) == -1);
}

BOOST_AUTO_TEST_SUITE_END()
