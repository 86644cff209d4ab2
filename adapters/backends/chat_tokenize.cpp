// Exact prompt counts from the servers that have a tokenizer endpoint
// applying the chat template (../shared/BACKENDS.md, "exact prompt count").
#include "adapters/backends/openai_chat.hpp"
#include "events/json_safe.hpp"

namespace riposte::adapters::backends {

using json = nlohmann::json;

namespace {

// The chat body without what only a generation reads.
json template_fields(const json& chat_body) {
  json out = chat_body;
  for (const char* key : {"stream", "stream_options", "max_tokens", "temperature", "top_p",
                          "presence_penalty", "frequency_penalty", "seed", "stop"})
    out.erase(key);
  return out;
}

} // namespace

tokenize_call tokenize_request(const chat_profile& profile, const json& chat_body) {
  if (!chat_body.is_object())
    return {};
  if (profile.tokenizer == "messages") {
    // vLLM's TokenizeChatRequest: the chat template with the generation
    // prompt, special tokens from the template only (as chat does).
    json body{{"model", events::string_or(chat_body, "model")},
              {"messages", chat_body.value("messages", json::array())},
              {"add_generation_prompt", true},
              {"add_special_tokens", false}};
    for (const char* key : {"tools", "chat_template_kwargs"})
      if (chat_body.contains(key))
        body[key] = chat_body[key];
    return {"/tokenize", std::move(body)};
  }
  if (profile.tokenizer == "chat_tokenize") // TGI: the whole chat request
    return {"/chat_tokenize", template_fields(chat_body)};
  if (profile.tokenizer == "apply_template") // llama.cpp: the same parse as chat
    return {"/apply-template", template_fields(chat_body)};
  return {};
}

tokenize_call tokenize_prompt(const std::string& prompt) {
  return {"/tokenize", json{{"content", prompt}, {"add_special", false}, {"parse_special", true}}};
}

std::int64_t tokenized_count(const json& reply) {
  if (!reply.is_object())
    return -1;
  if (auto it = reply.find("count"); it != reply.end() && it->is_number_integer())
    return it->get<std::int64_t>() < 0 ? -1 : it->get<std::int64_t>();
  for (const char* key : {"tokenize_response", "tokens"})
    if (auto it = reply.find(key); it != reply.end() && it->is_array())
      return static_cast<std::int64_t>(it->size());
  return -1;
}

} // namespace riposte::adapters::backends
