// Responses items to a /v1/chat/completions body, each field in the form the
// backend's kind reads.
#include "adapters/backends/history.hpp"
#include "adapters/backends/openai_chat.hpp"
#include "adapters/backends/token_estimate.hpp"
#include "adapters/backends/tools.hpp"
#include "events/json_safe.hpp"

#include <algorithm>
#include <map>

namespace riposte::adapters::backends {

using json = nlohmann::json;

std::optional<chat_profile> chat_profile_for(std::string_view kind) {
  chat_profile p;
  p.kind = std::string{kind};
  if (kind == "openai") {
    // A server riposte knows nothing about: the OpenAI fields, no reasoning
    // sent back (no template is known to read it).
  } else if (kind == "vllm") {
    p.reasoning_field = "reasoning"; // the only name after vllm#33402
    p.tokenizer = "messages";
  } else if (kind == "llamacpp") {
    p.reasoning_field = "reasoning_content";
    p.tokenizer = "apply_template";
  } else if (kind == "sglang") {
    p.reasoning_field = "reasoning_content";
  } else if (kind == "tgi") {
    p.parallel_tool_calls = false; // one call only, the field is not read
    p.response_format = "tgi";
    p.response_format_with_tools = false;
    p.reasoning_effort = false;
    p.served_model = "tgi";
    p.tokenizer = "chat_tokenize";
  } else if (kind == "ollama-v1") {
    p.reasoning_field = "reasoning";
    p.tool_choice_required = false; // unsupported on /v1
    p.parallel_tool_calls = false;
  } else if (kind == "lmstudio") {
    p.reasoning_field = "reasoning_content";
    p.parallel_tool_calls = false; // not documented
    p.reasoning_effort = false;    // only through its own /v1/responses
  } else {
    return std::nullopt;
  }
  return p;
}

std::vector<std::string> chat_kinds() {
  return {"openai", "vllm", "llamacpp", "sglang", "tgi", "ollama-v1", "lmstudio"};
}

json chat_profile_manifest(const chat_profile& p) {
  json sent = json::array({"messages", "tools", "max_tokens", "temperature", "top_p",
                           "presence_penalty", "frequency_penalty", "stream_options"});
  json not_sent = json::object();
  auto decide = [&](bool applied, const char* field, const char* why) {
    if (applied)
      sent.push_back(field);
    else
      not_sent[field] = why;
  };
  decide(p.tool_choice_required, "tool_choice",
         "this kind cannot be forced to call a tool: tool_choice required or a named tool is "
         "asked for in the system prompt instead");
  decide(p.parallel_tool_calls, "parallel_tool_calls",
         "not read by this kind; parallel_tool_calls false is kept by dropping every call after "
         "the first");
  decide(p.reasoning_effort, "reasoning_effort",
         "this kind takes no reasoning control: reasoning.effort is not applied");
  decide(!p.reasoning_field.empty(), "reasoning (history)",
         "earlier reasoning is not sent back: no known template of this kind reads it");
  if (!p.response_format_with_tools)
    not_sent["response_format with tools"] =
        "this kind takes tools or a response format, not both: with tools offered, text.format "
        "is not enforced by the backend";
  json exact = nullptr;
  if (p.tokenizer == "messages")
    exact = "POST /tokenize with the chat messages and tools";
  else if (p.tokenizer == "chat_tokenize")
    exact = "POST /chat_tokenize with the chat request";
  else if (p.tokenizer == "apply_template")
    exact = "POST /apply-template, then POST /tokenize of its prompt";
  return json{
      {"kind", p.kind}, {"sent", sent}, {"not_sent", not_sent}, {"exact_prompt_count", exact}};
}

namespace {

// Responses items to chat messages, in order: system text merged, calls in
// one assistant turn, reasoning held for the assistant message it precedes.
struct chat_builder {
  json messages = json::array();
  std::string system;
  std::string pending_reasoning;
  // The reasoning of each assistant message, by index (sent back only for
  // the turn in progress).
  std::map<std::size_t, std::string> reasoning;

  void take_reasoning() {
    if (pending_reasoning.empty())
      return;
    reasoning[messages.size() - 1] = std::move(pending_reasoning);
    pending_reasoning.clear();
  }

  void add(const json& item) {
    if (!item.is_object() || merge_system(item, system))
      return;
    auto type = events::string_or(item, "type", "message");
    if (type == "message") {
      auto role = events::string_or(item, "role", "user");
      const auto& content = item.value("content", json());
      auto text = content_text(content);
      if (role == "assistant") {
        messages.push_back({{"role", "assistant"}, {"content", text}});
        take_reasoning();
        return;
      }
      auto images = content_image_urls(content);
      if (images.empty()) {
        messages.push_back({{"role", "user"}, {"content", text}});
        return;
      }
      json parts = json::array();
      if (!text.empty())
        parts.push_back({{"type", "text"}, {"text", text}});
      for (auto& url : images)
        parts.push_back({{"type", "image_url"}, {"image_url", {{"url", std::move(url)}}}});
      messages.push_back({{"role", "user"}, {"content", std::move(parts)}});
    } else if (type == "function_call" || type == "custom_tool_call") {
      auto call = backend_call(item);
      json tool_call{{"id", events::string_or(item, "call_id", "")},
                     {"type", "function"},
                     {"function",
                      {{"name", call["function"]["name"]},
                       {"arguments", events::dump_json(call["function"]["arguments"])}}}};
      // Consecutive calls are one assistant turn with several tool calls.
      bool joins =
          !messages.empty() && messages.back()["role"] == "assistant" && pending_reasoning.empty();
      if (joins && messages.back().contains("tool_calls")) {
        messages.back()["tool_calls"].push_back(std::move(tool_call));
      } else if (joins) {
        messages.back()["tool_calls"] = json::array({std::move(tool_call)});
      } else {
        messages.push_back(
            {{"role", "assistant"}, {"content", ""}, {"tool_calls", json::array({tool_call})}});
        take_reasoning();
      }
    } else if (type == "function_call_output" || type == "custom_tool_call_output") {
      auto output = item.value("output", json());
      messages.push_back(
          {{"role", "tool"},
           {"tool_call_id", events::string_or(item, "call_id", "")},
           {"content", output.is_string() ? output.get<std::string>() : content_text(output)}});
    } else if (type == "reasoning") {
      pending_reasoning += reasoning_text(item);
    } else if (type == "compaction") {
      if (auto summary = compaction_summary(item); !summary.empty())
        messages.push_back({{"role", "user"}, {"content", summary}});
    }
  }

  // Reasoning goes back only after the last user message (the turn in
  // progress), and only to a kind whose templates read it.
  void place_reasoning(const std::string& field) {
    if (field.empty())
      return;
    std::size_t last_user = 0;
    for (std::size_t i = 0; i < messages.size(); ++i)
      if (events::string_or(messages[i], "role", "") == "user")
        last_user = i;
    for (auto& [index, text] : reasoning)
      if (index > last_user)
        messages[index][field] = std::move(text);
  }
};

json response_format(const json& params, const chat_profile& p) {
  const auto& text = params.value("text", json::object());
  if (!text.is_object() || !text.contains("format") || !text["format"].is_object())
    return json();
  const auto& format = text["format"];
  auto type = events::string_or(format, "type", "text");
  if (type == "json_object")
    return p.response_format == "tgi" ? json{{"type", "json"}, {"value", {{"type", "object"}}}}
                                      : json{{"type", "json_object"}};
  if (type != "json_schema" || !format.contains("schema"))
    return json();
  auto name = format.value("name", json("response"));
  if (p.response_format == "tgi")
    return {{"type", "json_schema"}, {"value", {{"name", name}, {"schema", format["schema"]}}}};
  json schema{{"name", name}, {"schema", format["schema"]}};
  if (format.contains("strict") && format["strict"].is_boolean())
    schema["strict"] = format["strict"];
  return {{"type", "json_schema"}, {"json_schema", std::move(schema)}};
}

json chat_request(const actors::generation_request& req, const chat_profile& p) {
  chat_builder b;
  for (const auto* item : turn_items(req))
    b.add(*item);
  b.place_reasoning(p.reasoning_field);

  const auto& params = req.params;
  tool_plan tools{params, req.offer_web_search, req.offer_image_generation};
  auto offered = tools.backend_tools();
  std::string system = req.instructions.is_string() ? req.instructions.get<std::string>() : "";
  if (!b.system.empty())
    append_paragraph(system, b.system);
  bool force = !offered.empty() && !tools.choice_instruction().empty();
  if (force && !p.tool_choice_required)
    append_paragraph(system, tools.choice_instruction());
  json messages = json::array();
  if (!system.empty())
    messages.push_back({{"role", "system"}, {"content", system}});
  for (auto& m : b.messages)
    messages.push_back(std::move(m));

  json body{{"model", p.served_model.empty() ? req.model : p.served_model},
            {"messages", std::move(messages)},
            {"stream", req.stream}};
  if (req.stream)
    body["stream_options"] = {{"include_usage", true}};
  for (const char* name : {"temperature", "top_p", "presence_penalty", "frequency_penalty"})
    if (params.contains(name) && params[name].is_number())
      body[name] = params[name];
  if (params.contains("max_output_tokens") && params["max_output_tokens"].is_number_integer())
    body["max_tokens"] = params["max_output_tokens"];
  if (!offered.empty()) {
    body["tools"] = std::move(offered);
    // A named tool_choice was narrowed to that one tool: "required" forces it
    // on every kind that takes tool_choice at all.
    if (force && p.tool_choice_required)
      body["tool_choice"] = "required";
    if (p.parallel_tool_calls)
      body["parallel_tool_calls"] = tools.max_calls() > 1;
  }
  if (!p.response_format.empty() && (p.response_format_with_tools || !body.contains("tools")))
    if (auto format = response_format(params, p); !format.is_null())
      body["response_format"] = std::move(format);
  if (p.reasoning_effort && params.contains("reasoning") && params["reasoning"].is_object()) {
    auto effort = params["reasoning"].value("effort", json());
    // The levels every kind that takes one accepts; "none" and "minimal"
    // leave the server's default.
    if (effort == "low" || effort == "medium" || effort == "high")
      body["reasoning_effort"] = effort;
    else if (effort == "xhigh")
      body["reasoning_effort"] = "high";
  }
  return body;
}

} // namespace

std::string openai_chat_body(const actors::generation_request& req, const chat_profile& profile) {
  return events::dump_json(chat_request(req, profile));
}

json to_openai_chat(const actors::generation_request& req, const chat_profile& profile) {
  return chat_request(req, profile);
}

std::int64_t openai_chat_tokens(const actors::generation_request& req,
                                const chat_profile& profile) {
  return estimate_chat_tokens(chat_request(req, profile));
}

} // namespace riposte::adapters::backends
