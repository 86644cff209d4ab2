// The operator's console: a page, its script and its style, built into the
// binary (http/console/, embedded at build time) and served under /console
// with a Content-Security-Policy that allows no inline script, no other
// origin and no framing. The page reads the operator API with the key the
// operator types, sent as a header and kept in the tab (never in a URL).
#pragma once

#include "http/server.hpp"

#include <span>
#include <string_view>
#include <vector>

namespace riposte::http {

struct console_asset {
  std::string_view name; // under /console/
  std::string_view content_type;
  std::string_view body;
};

// Generated from http/console/ (embed.cmake).
std::span<const console_asset> console_assets();

// GET /console, /console/ (the page) and /console/<asset>.
std::vector<route> console_routes();

} // namespace riposte::http
