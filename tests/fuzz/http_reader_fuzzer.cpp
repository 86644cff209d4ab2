// Fuzz target: a backend's HTTP reply read by http_reader, in pieces whose
// sizes the input chooses, then the connection's close. Whatever the bytes,
// the reader must not crash, must deliver body bytes only under a final
// status, and must agree with itself: a complete reply is never an error, and
// one piece or many give the same body and outcome.
#include "adapters/backends/http_reader.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

struct outcome {
  bool ok = true;
  bool complete = false;
  bool reusable = false;
  long status = 0;
  std::string body;
};

outcome read(std::string_view reply, std::size_t piece, bool head) {
  riposte::adapters::backends::http_reader r(head);
  outcome out;
  r.on_body = [&](long status, std::string_view bytes) {
    if (status < 200 || status > 999)
      __builtin_trap();
    out.body.append(bytes);
  };
  for (std::size_t i = 0; i < reply.size() && out.ok; i += piece)
    out.ok = r.feed(reply.substr(i, piece));
  if (out.ok && !r.complete())
    out.ok = r.closed();
  if (out.ok != r.error().empty())
    __builtin_trap(); // an error always says why, and only an error does
  out.complete = r.complete();
  out.reusable = r.reusable();
  out.status = r.status();
  if (out.reusable && !out.complete)
    __builtin_trap();
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2)
    return 0;
  std::size_t piece = 1 + data[0] % 64;
  bool head = (data[1] & 1) != 0;
  std::string_view reply{reinterpret_cast<const char*>(data + 2), size - 2};
  auto whole = read(reply, reply.size() + 1, head);
  auto pieces = read(reply, piece, head);
  if (whole.ok != pieces.ok || whole.body != pieces.body || whole.status != pieces.status ||
      whole.reusable != pieces.reusable)
    __builtin_trap();
  return 0;
}
