// Line framing shared by the backend translators (NDJSON, SSE).
#pragma once

#include <string>
#include <string_view>

namespace riposte::adapters::backends {

// Calls `on_line` with each whole line of `buffer` (without its newline)
// until it returns false, and keeps only what follows the last line taken
// for the next read.
template <class F>
void take_lines(std::string& buffer, F&& on_line) {
  std::size_t start = 0;
  for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n', start)) {
    auto line = std::string_view{buffer}.substr(start, nl - start);
    start = nl + 1;
    if (!on_line(line))
      break;
  }
  buffer.erase(0, start);
}

} // namespace riposte::adapters::backends
