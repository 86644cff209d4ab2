// Search providers for the hosted web_search tool.
#pragma once

#include "actors/ports/web_search.hpp"

#include <memory>
#include <string>

namespace riposte::adapters::tools {

// "searxng:http://host:port" (GET /search?q=...&format=json) or
// "static:/path/results.json" ({"results": [{"url", "title", "content"}]},
// each query getting the results that mention one of its words, else all).
events::result<std::shared_ptr<const actors::web_search_provider>>
make_web_search(const std::string& spec, long timeout_ms);

} // namespace riposte::adapters::tools
