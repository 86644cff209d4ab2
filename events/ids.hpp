// Random identifiers in the OpenAI style: `resp_…`, `msg_…`, `fc_…`, `call_…`.
#pragma once

#include <random>
#include <string>
#include <string_view>

namespace riposte::events {

inline std::string make_id(std::string_view prefix, int hex_digits = 48) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id{prefix};
  id.reserve(prefix.size() + static_cast<std::size_t>(hex_digits));
  for (int i = 0; i < hex_digits; ++i)
    id.push_back(hex[rng() & 15u]);
  return id;
}

// The event stream of a response, and the snapshot key of its context.
inline std::string response_stream(std::string_view response_id) {
  return std::string{response_id};
}
inline std::string context_key(std::string_view response_id) {
  return "ctx_" + std::string{response_id};
}

} // namespace riposte::events
