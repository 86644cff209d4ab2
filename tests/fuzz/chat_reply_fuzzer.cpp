// Fuzz target: what a Chat Completions server says about its models (its
// /v1/models list, llama.cpp's /props, TGI's /info, LM Studio's model
// object) and its tokenizer (vLLM's /tokenize, TGI's /chat_tokenize,
// llama.cpp's /apply-template and /tokenize). Whatever the bytes, nothing
// throws, every model has an id, no window is negative, and a count is a
// count or -1.
#include "adapters/backends/openai_chat.hpp"
#include "events/json_safe.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace rb = riposte::adapters::backends;
  auto reply =
      riposte::events::parse_untrusted(std::string_view{reinterpret_cast<const char*>(data), size});
  if (reply.is_discarded())
    return 0;
  for (const auto& m : rb::chat_models(reply))
    if (m.id.empty() || m.created < 0 || m.context_length < 0 || m.num_ctx < 0)
      __builtin_trap();
  for (const auto& kind : rb::chat_kinds())
    if (rb::chat_window(kind, reply) < 0)
      __builtin_trap();
  if (rb::tokenized_count(reply) < -1)
    __builtin_trap();
  // A body riposte would send, read back as each kind's tokenize request.
  for (const auto& kind : rb::chat_kinds())
    (void)rb::tokenize_request(*rb::chat_profile_for(kind), reply);
  return 0;
}
