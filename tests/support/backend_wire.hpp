// Test support: what riposte sent the scripted backend, read the same in
// either wire a suite runs against: Ollama's native /api/chat, or a Chat
// Completions kind (RIPOSTE_TEST_BACKEND_KIND, see servers.hpp).
#pragma once

#include "tests/support/servers.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace riposte::tests::wire {

// The suite speaks Ollama's native API.
inline bool native() {
  return test_backend_kind().empty() || test_backend_kind() == "ollama";
}

// A sampling or limit option by its Responses name (temperature, top_p,
// presence_penalty, frequency_penalty, max_output_tokens); null: not sent.
inline nlohmann::json option(const nlohmann::json& sent, const std::string& name) {
  if (native()) {
    auto key = name == "max_output_tokens" ? std::string{"num_predict"} : name;
    auto options = sent.value("options", nlohmann::json::object());
    return options.contains(key) ? options[key] : nlohmann::json();
  }
  auto key = name == "max_output_tokens" ? std::string{"max_tokens"} : name;
  return sent.contains(key) ? sent[key] : nlohmann::json();
}

// The JSON schema asked for ("json" for any JSON object); null: none.
inline nlohmann::json format(const nlohmann::json& sent) {
  if (native())
    return sent.contains("format") ? sent["format"] : nlohmann::json();
  auto rf = sent.value("response_format", nlohmann::json::object());
  if (rf.value("type", "") == "json_object")
    return "json";
  return rf.value("json_schema", nlohmann::json::object()).value("schema", nlohmann::json());
}

// The tool a tool message answers: Ollama names it, Chat Completions points
// at the assistant's call by id.
inline std::string tool_name(const nlohmann::json& message, const nlohmann::json& messages) {
  if (message.contains("tool_name"))
    return message["tool_name"].get<std::string>();
  for (const auto& m : messages)
    for (const auto& call : m.value("tool_calls", nlohmann::json::array()))
      if (call.value("id", "") == message.value("tool_call_id", "x"))
        return call["function"].value("name", "");
  return {};
}

// Reasoning sent back with an assistant message, under any kind's name.
inline std::string reasoning(const nlohmann::json& message) {
  for (const char* key : {"thinking", "reasoning", "reasoning_content"})
    if (message.contains(key) && message[key].is_string())
      return message[key].get<std::string>();
  return {};
}

// The base64 payloads of a message's images.
inline std::vector<std::string> images(const nlohmann::json& message) {
  std::vector<std::string> out;
  for (const auto& image : message.value("images", nlohmann::json::array()))
    out.push_back(image.get<std::string>());
  auto content = message.value("content", nlohmann::json());
  if (content.is_array())
    for (const auto& part : content)
      if (part.value("type", "") == "image_url") {
        auto url = part["image_url"].value("url", "");
        auto comma = url.find(',');
        out.push_back(comma == std::string::npos ? url : url.substr(comma + 1));
      }
  return out;
}

// A tool call's arguments as an object (Chat Completions sends JSON text).
inline nlohmann::json arguments(const nlohmann::json& call) {
  auto args = call["function"]["arguments"];
  return args.is_string() ? nlohmann::json::parse(args.get<std::string>()) : args;
}

// The text of a message's content, string or parts.
inline std::string text(const nlohmann::json& message) {
  auto content = message.value("content", nlohmann::json());
  if (content.is_string())
    return content.get<std::string>();
  std::string out;
  if (content.is_array())
    for (const auto& part : content)
      out += part.value("text", "");
  return out;
}

} // namespace riposte::tests::wire
