// Whether a connection's first request waits for `100 Continue`: curl (and
// other clients) send `Expect: 100-continue` with a body over 1 MiB and then
// wait up to a second before sending it, and RESTinio never answers. The
// scanner reads the bytes a connection receives until its first header
// block ends; only the first request is answered early, because before it
// no response can be on the wire (a later one could land inside another
// response).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace riposte::http {

class expect_scanner {
public:
  // Header bytes looked at before giving up (RESTinio refuses larger blocks).
  static constexpr std::size_t max_block = 64 * 1024;

  // Feeds the next bytes received; true once, when the first header block
  // has ended, asked for 100-continue, and no body byte has come yet.
  bool feed(std::string_view bytes);
  // Nothing more to look for on this connection.
  bool done() const { return done_; }

private:
  void end_line();

  std::string line_; // the header line being read (up to its limit)
  bool line_too_long_ = false;
  bool first_line_ = true; // the request line
  bool expects_ = false;
  bool done_ = false;
  std::size_t seen_ = 0;
};

} // namespace riposte::http
