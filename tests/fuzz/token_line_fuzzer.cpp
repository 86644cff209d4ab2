// Fuzz target: the hand scanner of Ollama's lines (a token's, and the last
// one with how the turn ended) against the JSON library. Whenever the
// scanner accepts a line, the library must read the same from it.
#include "adapters/backends/token_line.hpp"
#include "events/json_safe.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line{reinterpret_cast<const char*>(data), size};
  std::string content, thinking;
  riposte::adapters::backends::line_end end;
  if (!riposte::adapters::backends::read_ollama_line(line, content, thinking, end))
    return 0;
  // What the full path (the adapter's on_line) reads from the same line: an
  // absent message is an empty one.
  auto j = riposte::events::parse_untrusted(line);
  if (j.is_discarded() || !j.is_object() || j.contains("error") ||
      j.value("done", false) != end.done)
    __builtin_trap();
  auto message = j.value("message", nlohmann::json::object());
  if (!message.is_object())
    __builtin_trap();
  auto text = [&](const char* key) {
    auto it = message.find(key);
    if (it != message.end() && !it->is_string())
      __builtin_trap();
    return it != message.end() ? it->get<std::string>() : std::string{};
  };
  if (text("content") != content || text("thinking") != thinking)
    __builtin_trap();
  if (end.done && (j.value("prompt_eval_count", std::int64_t{0}) != end.prompt_eval_count ||
                   j.value("eval_count", std::int64_t{0}) != end.eval_count ||
                   j.value("done_reason", "stop") != end.done_reason))
    __builtin_trap();
  std::string c, t;
  if (riposte::adapters::backends::read_token_line(line, c, t) == end.done)
    __builtin_trap();
  return 0;
}
