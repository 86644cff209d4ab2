// riposte's own HTTP/1.1 client loop for plain http:// backends addressed by
// IP or as localhost (https and names go through libcurl): one epoll thread,
// keep-alive connections per host, connect and overall timeouts, abort from
// any thread. What it sends and reads is http_client's contract
// (http_client.hpp); replies are read by http_reader.
#pragma once

#include "adapters/backends/http_client.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace riposte::adapters::backends {

// Where a URL this loop serves points: nullopt for any it does not serve
// (not http://, a host name other than localhost, a bad port).
struct native_target {
  std::string host; // an address literal, brackets removed
  std::uint16_t port = 80;
  std::string host_header; // as in the URL ("127.0.0.1:11434")
  std::string path;        // "/api/chat?x=1"
};
std::optional<native_target> native_target_of(std::string_view url);

class native_loop {
public:
  explicit native_loop(long max_per_host);
  ~native_loop();
  native_loop(const native_loop&) = delete;
  native_loop& operator=(const native_loop&) = delete;

  // Thread-safe; `target` is native_target_of(req.url).
  void start(std::uint64_t id, http_request req, native_target target);
  // Unknown or finished ids are ignored. Thread-safe.
  void abort(std::uint64_t id);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace riposte::adapters::backends
