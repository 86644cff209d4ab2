// Fuzz target: a generation's items and params, however odd, into a Chat
// Completions body for every server kind. Input: a JSON array of items,
// then optionally a newline and a JSON object of params. Nothing throws, and
// the body is an object with a model and messages.
#include "adapters/backends/openai_chat.hpp"
#include "events/json_safe.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace rb = riposte::adapters::backends;
  std::string_view in{reinterpret_cast<const char*>(data), size};
  auto nl = in.find('\n');
  auto items = riposte::events::parse_untrusted(in.substr(0, nl));
  if (!items.is_array())
    return 0;
  riposte::actors::generation_request req;
  req.model = "m";
  req.items = std::move(items);
  if (nl != std::string_view::npos) {
    auto params = riposte::events::parse_untrusted(in.substr(nl + 1));
    if (params.is_object())
      req.params = std::move(params);
  }
  for (bool stream : {true, false}) {
    req.stream = stream;
    for (const auto& kind : rb::chat_kinds()) {
      auto body = rb::to_openai_chat(req, *rb::chat_profile_for(kind));
      if (!body.is_object() || !body["messages"].is_array() || !body["model"].is_string())
        __builtin_trap();
      (void)rb::openai_chat_tokens(req, *rb::chat_profile_for(kind));
    }
  }
  return 0;
}
