// Fuzz target: the scanner that decides whether a connection's first request
// waits for `100 Continue` (the bytes a client sends first). The first byte
// picks how the input is split into reads. Whatever the split, it answers at
// most once, never after it is done, and only at the end of a read; and when
// the whole input, read at once, ends with a block that asks, the split
// reads answer too, at their last read.
#include "http/expect_continue.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  std::size_t step = 1 + data[0] % 64;
  std::string_view in{reinterpret_cast<const char*>(data + 1), size - 1};
  riposte::http::expect_scanner whole;
  bool at_once = whole.feed(in);
  riposte::http::expect_scanner split;
  int answers = 0;
  bool last = false;
  for (std::size_t i = 0; i < in.size(); i += step) {
    bool was_done = split.done();
    bool said = split.feed(in.substr(i, step));
    if (said && was_done)
      __builtin_trap(); // nothing is said once done
    if (said) {
      ++answers;
      if (in[std::min(i + step, in.size()) - 1] != '\n')
        __builtin_trap(); // a block ends with a line feed
    }
    last = said && i + step >= in.size();
  }
  if (answers > 1)
    __builtin_trap();
  if (at_once && !last)
    __builtin_trap(); // the same bytes in pieces ask too, at their end
  return 0;
}
