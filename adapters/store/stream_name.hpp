// Checks shared by every store: what a stream name may be, and big-endian keys.
#pragma once

#include "events/errc.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace riposte::adapters::store {

inline constexpr std::size_t max_stream_name = 512;

inline events::status check_stream_name(std::string_view stream) {
  if (stream.empty() || stream.size() > max_stream_name ||
      stream.find('\0') != std::string_view::npos)
    return events::make_error(events::riposte_errc::invalid_request,
                              "stream name must be 1 to 512 bytes without NUL");
  return events::ok();
}

inline void append_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline std::uint64_t read_be64(std::string_view in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < in.size(); ++i)
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

inline events::error_info version_conflict(std::string_view stream, std::int64_t expected,
                                           std::int64_t actual) {
  return events::make_error(events::riposte_errc::version_conflict,
                            "stream '" + std::string{stream} + "' is at version " +
                                std::to_string(actual) + ", expected " + std::to_string(expected));
}

inline bool version_matches(std::int64_t expected, std::int64_t actual) {
  return expected == -2 || expected == actual;
}

} // namespace riposte::adapters::store
