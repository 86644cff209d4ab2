// The rules of the tools riposte runs itself: which search results a request
// may use, and which image sizes it may ask for. Pure; the providers behind
// them are ports (actors/ports/web_search.hpp, image_generation.hpp).
#pragma once

#include "actors/ports/image_generation.hpp"
#include "actors/ports/web_search.hpp"
#include "events/errc.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace riposte::actors {

// The host of an http(s) URL, lower-cased ("" when there is none).
std::string url_host(const std::string& url);

// Does `host` belong to `domain` (itself or a subdomain)?
bool in_domain(const std::string& host, const std::string& domain);

// Results the request may use: within the tool's filters.allowed_domains (if
// any), outside the operator's blocked domains, at most max_results.
std::vector<search_result> filter_results(std::vector<search_result> results,
                                          const nlohmann::json& tool,
                                          const web_search_settings& cfg);

// A tool's `size` ("WxH" or "auto"; absent: auto) within the operator's cap,
// or why not (a 400 naming `param`).
events::result<std::pair<int, int>> image_size(const nlohmann::json& tool,
                                               const image_generation_settings& cfg,
                                               const std::string& param);

} // namespace riposte::actors
