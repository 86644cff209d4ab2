// Fuzz target: the WebSocket frame reader (bytes a client sends on an
// upgraded connection). The first byte picks how the input is split into
// reads; the limit is small so that the size checks are reached.
#include "http/ws_frames.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  std::size_t step = 1 + data[0] % 64;
  std::string_view in{reinterpret_cast<const char*>(data + 1), size - 1};
  riposte::http::ws::reader r{4096};
  std::vector<riposte::http::ws::incoming> out;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < in.size() && !r.stopped(); i += step) {
    r.feed(in.substr(i, step), out);
    for (const auto& m : out) {
      if (m.kind == riposte::http::ws::incoming::message && m.payload.size() > 4096)
        __builtin_trap(); // nothing over the limit is ever handed on
      if (m.kind != riposte::http::ws::incoming::fault) // a fault's payload is riposte's reason
        kept += m.payload.size();
    }
    out.clear();
  }
  if (kept > in.size())
    __builtin_trap(); // nothing handed on is longer than what was sent
  return 0;
}
