// Test support: how each Chat Completions server writes a reply on the wire
// (../shared/BACKENDS.md). A reply plan (the scripted backend's: chunks of
// content, thinking and tool calls, how it ends, errors, cuts) becomes the
// exact writes one server kind would make, quirks included. The scripted
// backend serves them; the adapter's tests feed them to the translator.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace riposte::tests {

// The server kinds a plan can be rendered as.
const std::vector<std::string>& chat_wire_profiles();

struct chat_wire_reply {
  int status = 200;
  std::string content_type = "text/event-stream";
  // The body, as the separate writes the server makes (each a flush).
  std::vector<std::string> writes;
  bool close_abruptly = false; // the connection ends without finishing the body
};

// The reply of `profile` to a request `body` (its model, stream and
// stream_options decide the shape) following `plan`.
chat_wire_reply render_chat_reply(const std::string& profile, const nlohmann::json& plan,
                                  const nlohmann::json& body);

// The HTTP error body `profile` sends with `status` and `message`.
nlohmann::json chat_error_body(const std::string& profile, int status, const std::string& message);

// A /v1/models reply of `profile` for models given as the scripted backend
// lists them ({name, context_length, ...}).
nlohmann::json chat_models_reply(const std::string& profile, const nlohmann::json& models);

// The scripted servers' chat template: each message as
// "<|im_start|>ROLE\nTEXT<|im_end|>\n" (text parts joined; tool calls and
// tools as their JSON), tools first in a system block, and the generation
// prompt "<|im_start|>assistant\n" last.
std::string chat_template_text(const nlohmann::json& body);
// The scripted tokenizer: every whitespace-separated word of `text` is
// `tokens_per_word` tokens, except the template's markers, one each.
std::int64_t scripted_token_count(const std::string& text, std::int64_t tokens_per_word);

} // namespace riposte::tests
