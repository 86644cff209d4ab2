// Web search riposte runs itself for a hosted `web_search` tool, through a
// provider the operator configured (adapters/tools: SearXNG, or a static
// result set for demos and tests).
#pragma once

#include "events/errc.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace riposte::actors {

struct search_result {
  std::string url;
  std::string title;
  std::string snippet;
};

class web_search_provider {
public:
  virtual ~web_search_provider() = default;
  // Blocking (outbound pool threads only); bounded by the provider's timeout.
  virtual events::result<std::vector<search_result>> search(const std::string& query) const = 0;
};

struct web_search_settings {
  std::shared_ptr<const web_search_provider> provider; // null: not offered
  std::vector<std::string> blocked_domains;            // the operator's
  std::size_t max_results = 5;
};

} // namespace riposte::actors
