// Fuzz target: a Chat Completions backend's SSE reply, split at a point the
// input chooses, through the translator. Whatever the bytes, nothing throws,
// the generation ends, and it ends with exactly one terminal event, last.
#include "adapters/backends/openai_chat.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

namespace ev = riposte::events;

namespace {

bool terminal(const ev::event& e) {
  return std::holds_alternative<ev::response_completed>(e) ||
         std::holds_alternative<ev::response_incomplete>(e) ||
         std::holds_alternative<ev::response_failed>(e);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  std::string_view bytes{reinterpret_cast<const char*>(data) + 1, size - 1};
  auto cut = std::min<std::size_t>(data[0], bytes.size());
  nlohmann::json params{{"tools", {{{"type", "function"}, {"name", "f"}}}}};
  riposte::adapters::backends::openai_chat_translator t{params};
  auto out = t.feed(bytes.substr(0, cut));
  auto more = t.feed(bytes.substr(cut));
  out.insert(out.end(), more.begin(), more.end());
  auto end = t.finish(200, "", false, false, "");
  out.insert(out.end(), end.begin(), end.end());
  std::size_t ends = 0;
  for (const auto& e : out)
    ends += terminal(e) ? 1 : 0;
  if (!t.done() || ends != 1 || !terminal(out.back()))
    __builtin_trap();
  return 0;
}
