// What several end-to-end suites start from: the smallest create, and a
// stopwatch in milliseconds.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>

namespace riposte::tests {

using clock_type = std::chrono::steady_clock;

inline const nlohmann::json hi{{"model", "llama3.2:1b"}, {"input", "hi"}};

inline long ms_since(clock_type::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t).count());
}

} // namespace riposte::tests
