// Fetching a URL a client put in a request (image_url, file_url) without
// letting it reach inside the network: every address a host resolves to is
// checked (loopback, private, link-local, unspecified, multicast, CGNAT and
// unique-local ranges are refused unless allow-listed), the connection is
// pinned to the address that was checked, redirects are followed by hand and
// checked again, and size and time are bounded.
#pragma once

#include "events/errc.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace riposte::adapters::fetch {

struct fetch_policy {
  std::vector<std::string> allow; // CIDRs ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
  std::uint64_t max_bytes = 32u << 20;
  std::chrono::milliseconds timeout{10'000}; // all hops together
  int max_redirects = 5;
};

struct fetched {
  std::string bytes;
  std::string content_type;
  std::string url; // after redirects
};

// Blocking: store/executor threads only. Errors say which rule refused.
events::result<fetched> guarded_fetch(const std::string& url, const fetch_policy& policy);

// Is this a CIDR riposte understands? (for flag validation)
bool valid_cidr(const std::string& cidr);

// The guard's own parts, for tests and fuzzing: a URL split into what is
// fetched (http or https only), and the verdict on one literal address
// against the ranges riposte refuses and an allow list (its text, or why not).
struct url_target {
  std::string scheme, host, port;
};
events::result<url_target> parse_fetch_url(const std::string& url);
events::result<std::string> check_address(const std::string& literal,
                                          const std::vector<std::string>& allow);

} // namespace riposte::adapters::fetch
