// Each server's chat.completion.chunk dialect, from ../shared/BACKENDS.md
// ("Streaming wire shape", "Canonical sequences", "What the scripted fake
// must reproduce").
#include "tests/support/chat_wire.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace riposte::tests {

using json = nlohmann::json;

const std::vector<std::string>& chat_wire_profiles() {
  static const std::vector<std::string> all{"vllm", "llamacpp",  "sglang",
                                            "tgi",  "ollama-v1", "lmstudio"};
  return all;
}

namespace {

std::string event(const json& data) {
  return "data: " + data.dump() + "\n\n";
}

// Arguments as the server streams them: their JSON text in two pieces.
std::vector<std::string> argument_pieces(const json& arguments) {
  auto text = arguments.is_string() ? arguments.get<std::string>() : arguments.dump();
  if (text.size() < 2)
    return {text};
  return {text.substr(0, text.size() / 2), text.substr(text.size() / 2)};
}

std::string reasoning_field(const std::string& profile) {
  if (profile == "vllm" || profile == "ollama-v1")
    return "reasoning";
  if (profile == "tgi")
    return ""; // thoughts stay in the content
  return "reasoning_content";
}

struct renderer {
  std::string profile;
  json plan, body;
  std::string model;
  std::vector<std::string> writes;
  int call_serial = 0;
  bool cut = false; // the stream ends mid-event, as when the server dies

  json chunk(json delta, json finish = nullptr) const {
    if (profile == "tgi")
      delta["role"] = "assistant"; // on every delta
    if (profile == "sglang") {     // explicit nulls
      for (const char* key : {"content", "reasoning_content", "tool_calls"})
        if (!delta.contains(key))
          delta[key] = nullptr;
    }
    json c{{"id", profile == "tgi" ? "" : "chatcmpl-scripted"},
           {"object", "chat.completion.chunk"},
           {"created", 1767225600},
           {"model", model},
           {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
    if (profile == "tgi") {
      c["usage"] = nullptr;
      c["system_fingerprint"] = "3.3.6-native";
    }
    if (profile == "ollama-v1")
      c["system_fingerprint"] = "fp_ollama";
    return c;
  }

  // One call's deltas in this server's shape.
  void call(const json& tc, int index) {
    auto fn = tc.value("function", json::object());
    auto name = fn.value("name", "");
    auto arguments = fn.value("arguments", json::object());
    auto whole = arguments.is_string() ? arguments.get<std::string>() : arguments.dump();
    std::string id = "call_" + std::to_string(++call_serial) + "a1b2c3d4e5f6a7b8c9d0e1f2";
    if (plan.value("empty_ids", false))
      id = "";
    if (profile == "ollama-v1") { // whole, in one chunk
      writes.push_back(event(chunk({{"content", ""},
                                    {"tool_calls",
                                     {{{"id", id},
                                       {"index", index},
                                       {"type", "function"},
                                       {"function", {{"name", name}, {"arguments", whole}}}}}}})));
      return;
    }
    if (profile == "tgi") { // id and type on every chunk, name only first
      std::string tgi_id = std::to_string(index);
      bool first = true;
      for (const auto& piece : argument_pieces(arguments)) {
        writes.push_back(event(
            chunk({{"tool_calls",
                    {{{"index", 0},
                      {"id", tgi_id},
                      {"type", "function"},
                      {"function",
                       {{"name", first ? json(name) : json(nullptr)}, {"arguments", piece}}}}}}})));
        first = false;
      }
      return;
    }
    json head{{"index", index},
              {"id", id},
              {"type", "function"},
              {"function", {{"name", name}, {"arguments", ""}}}};
    writes.push_back(event(chunk({{"tool_calls", {head}}})));
    for (const auto& piece : argument_pieces(arguments)) {
      json more{{"index", index}, {"function", {{"arguments", piece}}}};
      if (profile == "sglang" || plan.value("null_ids", false)) {
        more["id"] = nullptr;
        more["type"] = profile == "sglang" ? json("function") : json(nullptr);
        more["function"]["name"] = nullptr;
      }
      writes.push_back(event(chunk({{"tool_calls", {more}}})));
    }
    // vLLM's final flush of the unstreamed arguments repeats them all.
    if (profile == "vllm" && plan.value("duplicate_final_arguments", false))
      writes.push_back(event(
          chunk({{"tool_calls", {{{"index", index}, {"function", {{"arguments", whole}}}}}}})));
  }

  json usage() const {
    std::size_t chars = 0;
    for (const auto& m : body.value("messages", json::array()))
      if (m.contains("content") && m["content"].is_string())
        chars += m["content"].get<std::string>().size();
    auto prompt = plan.value("prompt_eval_count", static_cast<std::int64_t>(chars / 4 + 1));
    auto completion = plan.value(
        "eval_count", static_cast<std::int64_t>(plan.value("chunks", json::array()).size()));
    json u{{"prompt_tokens", prompt},
           {"completion_tokens", completion},
           {"total_tokens", prompt + completion}};
    if (plan.contains("cached_tokens") && (profile == "vllm" || profile == "sglang"))
      u["prompt_tokens_details"] = {{"cached_tokens", plan["cached_tokens"]}};
    return u;
  }

  std::string finish_reason(bool calls) const {
    if (plan.value("done_reason", "stop") == "length")
      return "length";
    if (plan.contains("finish_reason"))
      return plan["finish_reason"].get<std::string>();
    if (!calls || profile == "tgi")
      return "stop"; // TGI never says tool_calls
    return "tool_calls";
  }

  // The mid-stream error, as this server writes it; true if the stream ends
  // there without [DONE].
  bool mid_stream_error() {
    auto message = plan.value("error", std::string{"scripted failure"});
    if (profile == "llamacpp") {
      writes.push_back(
          "error: " + json{{"code", 500}, {"message", message}, {"type", "server_error"}}.dump() +
          "\n\n");
      return false;
    }
    if (profile == "ollama-v1")
      return true; // no error shape: the stream just ends
    json error = profile == "tgi"
                     ? json{{"error", {{"message", message}, {"http_status_code", 422}}}}
                     : json{{"error",
                             {{"message", message},
                              {"type", "InternalServerError"},
                              {"param", nullptr},
                              {"code", 500}}}};
    writes.push_back(event(error));
    return false;
  }

  void stream() {
    const auto& chunks = plan.value("chunks", json::array());
    bool with_usage = body.value("stream_options", json::object()).value("include_usage", false);
    if (profile == "tgi" || plan.value("pings", false))
      writes.push_back(": keep-alive\n\n");
    if (profile != "tgi")
      writes.push_back(event(chunk(
          {{"role", "assistant"}, {"content", profile == "llamacpp" ? json(nullptr) : json("")}})));
    auto field = reasoning_field(profile);
    bool calls = false;
    int index = 0;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      if (plan.contains("error_after") && i == plan["error_after"].get<std::size_t>()) {
        if (!mid_stream_error())
          writes.push_back("data: [DONE]\n\n");
        return;
      }
      if (plan.contains("drop_after") && i == plan["drop_after"].get<std::size_t>()) {
        writes.push_back("data: {\"id\":\"chatcmpl-scr");
        cut = true;
        return;
      }
      const auto& c = chunks[i];
      if (c.contains("thinking")) {
        auto text = c["thinking"].get<std::string>();
        writes.push_back(event(field.empty() ? chunk({{"content", "<think>" + text + "</think>"}})
                                             : chunk({{field, text}})));
      }
      if (c.contains("content") && !c["content"].get<std::string>().empty())
        writes.push_back(event(chunk({{"content", c["content"]}})));
      for (const auto& tc : c.value("tool_calls", json::array())) {
        call(tc, index++);
        calls = true;
      }
    }
    auto finish = finish_reason(calls);
    if (plan.contains("drop_after") && plan["drop_after"].get<std::size_t>() >= chunks.size()) {
      writes.push_back("data: {\"id\":\"chatcmpl-scr");
      cut = true;
      return;
    }
    if ((profile == "vllm" || profile == "tgi") && writes.size() > 1 &&
        writes.back().rfind("data: {", 0) == 0) {
      // The finish rides on the last token's chunk.
      auto last = json::parse(writes.back().substr(6));
      last["choices"][0]["finish_reason"] = finish;
      if (profile == "vllm")
        last["choices"][0]["stop_reason"] = nullptr;
      writes.back() = event(last);
    } else {
      auto c = chunk(json::object(), finish);
      if (profile == "sglang")
        c["choices"][0]["matched_stop"] = nullptr;
      writes.push_back(event(c));
    }
    if (with_usage && !plan.value("no_usage", false)) {
      json u{{"id", profile == "tgi" ? "" : "chatcmpl-scripted"},
             {"object", "chat.completion.chunk"},
             {"created", 1767225600},
             {"model", model},
             {"choices", json::array()},
             {"usage", usage()}};
      if (profile == "llamacpp")
        u["timings"] = {{"cache_n", plan.value("cached_tokens", 0)},
                        {"prompt_n", usage()["prompt_tokens"]},
                        {"predicted_n", usage()["completion_tokens"]}};
      writes.push_back(event(u));
    }
    if (!plan.value("no_done", false))
      writes.push_back("data: [DONE]\n\n");
  }

  json whole() {
    std::string content, thinking;
    json calls = json::array();
    int index = 0;
    for (const auto& c : plan.value("chunks", json::array())) {
      content += c.value("content", "");
      thinking += c.value("thinking", "");
      for (const auto& tc : c.value("tool_calls", json::array())) {
        auto fn = tc.value("function", json::object());
        auto args = fn.value("arguments", json::object());
        calls.push_back(
            {{"id", "call_" + std::to_string(index++) + "x"},
             {"type", "function"},
             {"function",
              {{"name", fn.value("name", "")},
               {"arguments", args.is_string() ? args.get<std::string>() : args.dump()}}}});
      }
    }
    json message{{"role", "assistant"},
                 {"content", content.empty() ? json(nullptr) : json(content)}};
    if (auto field = reasoning_field(profile); !field.empty() && !thinking.empty())
      message[field] = thinking;
    if (!calls.empty())
      message["tool_calls"] = calls;
    return {{"id", "chatcmpl-scripted"},
            {"object", "chat.completion"},
            {"created", 1767225600},
            {"model", model},
            {"choices", json::array({{{"index", 0},
                                      {"message", message},
                                      {"finish_reason", finish_reason(!calls.empty())}}})},
            {"usage", usage()}};
  }
};

} // namespace

json chat_error_body(const std::string& profile, int status, const std::string& message) {
  if (profile == "sglang")
    return {{"object", "error"},
            {"message", message},
            {"type", "BadRequestError"},
            {"param", nullptr},
            {"code", status}};
  if (profile == "tgi")
    return {{"error", message}, {"error_type", status == 422 ? "validation" : "generation"}};
  if (profile == "ollama-v1")
    return {{"error",
             {{"message", message},
              {"type", status == 404 ? "not_found_error" : "api_error"},
              {"param", nullptr},
              {"code", nullptr}}}};
  if (profile == "llamacpp")
    return {{"error", {{"code", status}, {"message", message}, {"type", "invalid_request_error"}}}};
  return {
      {"error",
       {{"message", message}, {"type", "BadRequestError"}, {"param", nullptr}, {"code", status}}}};
}

chat_wire_reply render_chat_reply(const std::string& profile, const json& plan, const json& body) {
  chat_wire_reply reply;
  renderer r{profile, plan, body, body.value("model", ""), {}};
  if (plan.contains("status")) {
    reply.status = plan["status"].get<int>();
    reply.content_type = "application/json";
    reply.writes.push_back(
        chat_error_body(profile, reply.status, plan.value("error", std::string{"boom"})).dump());
    return reply;
  }
  if (!body.value("stream", false)) {
    reply.content_type = "application/json";
    auto text = r.whole().dump();
    if (plan.contains("drop_after")) {
      reply.writes.push_back(text.substr(0, text.size() / 2));
      reply.close_abruptly = true;
    } else {
      reply.writes.push_back(text);
    }
    return reply;
  }
  r.stream();
  reply.writes = std::move(r.writes);
  reply.close_abruptly = r.cut;
  // Writes split mid-line, as a proxy or a slow server delivers them.
  if (plan.value("split_writes", false)) {
    std::vector<std::string> split;
    for (const auto& w : reply.writes) {
      split.push_back(w.substr(0, w.size() / 2));
      split.push_back(w.substr(w.size() / 2));
    }
    reply.writes = std::move(split);
  }
  return reply;
}

json chat_models_reply(const std::string& profile, const json& models) {
  json data = json::array();
  for (const auto& m : models) {
    json entry{{"id", m.value("name", "")}, {"object", "model"}, {"created", 1767225600}};
    if (profile == "vllm" || profile == "sglang") {
      entry["owned_by"] = profile;
      entry["root"] = m.value("name", "");
      entry["max_model_len"] = m.value("context_length", 8192);
    } else if (profile == "llamacpp") {
      entry["owned_by"] = "llamacpp";
      entry["meta"] = {{"n_ctx_train", m.value("context_length", 8192)}, {"n_vocab", 128256}};
    } else if (profile == "tgi") {
      entry["created"] = 0;
      entry["owned_by"] = m.value("name", "");
    } else if (profile == "ollama-v1") {
      entry["owned_by"] = "library";
    } else {
      entry["owned_by"] = "organization_owner";
    }
    data.push_back(std::move(entry));
  }
  return {{"object", "list"}, {"data", data}};
}

std::string chat_template_text(const json& body) {
  auto text_of = [](const json& content) {
    if (content.is_string())
      return content.get<std::string>();
    std::string out;
    if (content.is_array())
      for (const auto& part : content)
        if (part.is_object() && part.value("type", "") == "text")
          out += (out.empty() ? "" : " ") + part.value("text", "");
    return out;
  };
  std::string out;
  if (body.contains("tools") && body["tools"].is_array() && !body["tools"].empty())
    out += "<|im_start|>system\n<tools> " + body["tools"].dump() + " </tools><|im_end|>\n";
  for (const auto& m : body.value("messages", json::array())) {
    if (!m.is_object())
      continue;
    out += "<|im_start|>" + m.value("role", "user") + "\n" + text_of(m.value("content", json()));
    if (m.contains("tool_calls"))
      out += " " + m["tool_calls"].dump();
    out += "<|im_end|>\n";
  }
  return out + "<|im_start|>assistant\n";
}

std::int64_t scripted_token_count(const std::string& text, std::int64_t tokens_per_word) {
  std::int64_t n = 0;
  std::size_t at = 0;
  auto marker = [&](std::string_view m) {
    if (text.compare(at, m.size(), m) != 0)
      return false;
    at += m.size();
    ++n;
    return true;
  };
  bool in_word = false;
  while (at < text.size()) {
    if (marker("<|im_start|>") || marker("<|im_end|>")) {
      in_word = false;
      continue;
    }
    bool space = std::isspace(static_cast<unsigned char>(text[at])) != 0;
    if (!space && !in_word)
      n += tokens_per_word;
    in_word = !space;
    ++at;
  }
  return n;
}

} // namespace riposte::tests
