// Token counts without the backend's tokenizer (Ollama exposes none): an
// estimate that follows the pre-tokenization of byte-level BPE tokenizers
// (Llama 3 / tiktoken style: words with their leading space, digits in
// threes, punctuation runs, newlines) and charges long words, camelCase
// parts and non-Latin scripts by length. Its error against Llama 3's real
// tokenizer is measured by tests/sdk/tokens.test.mjs (README: "Token counts").
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string_view>

namespace riposte::adapters::backends {

// Tokens in a piece of text.
std::int64_t estimate_tokens(std::string_view text);

// Tokens a chat template adds around each message, and once to prime the
// answer (Llama 3: header, role, end of header, blank line, end of turn).
inline constexpr std::int64_t tokens_per_message = 5;
inline constexpr std::int64_t tokens_per_prompt = 5;
// What one image costs in the prompt (a CLIP-style 24×24 patch grid).
inline constexpr std::int64_t tokens_per_image = 576;

// Tokens of a native chat body: every message's content, thinking and tool
// calls, its images, and the tool definitions the template renders.
std::int64_t estimate_chat_tokens(const nlohmann::json& body);
// Its parts: one message (non-objects count nothing), and the tools.
std::int64_t estimate_message_tokens(const nlohmann::json& message);
std::int64_t estimate_tools_tokens(const nlohmann::json& tools);

} // namespace riposte::adapters::backends
