#include "actors/web_search.hpp"

#include <algorithm>
#include <cctype>

namespace riposte::actors {

using json = nlohmann::json;

std::string url_host(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos)
    return {};
  auto start = scheme + 3;
  auto end = url.find_first_of("/?#", start);
  auto host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (auto at = host.rfind('@'); at != std::string::npos)
    host = host.substr(at + 1);
  if (auto colon = host.rfind(':');
      colon != std::string::npos && host.find(']') == std::string::npos)
    host = host.substr(0, colon);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host;
}

bool in_domain(const std::string& host, const std::string& domain) {
  std::string d = domain;
  std::transform(d.begin(), d.end(), d.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (d.rfind("http://", 0) == 0 || d.rfind("https://", 0) == 0)
    d = url_host(d);
  if (d.empty())
    return false;
  return host == d ||
         (host.size() > d.size() && host.compare(host.size() - d.size(), d.size(), d) == 0 &&
          host[host.size() - d.size() - 1] == '.');
}

std::vector<search_result> filter_results(std::vector<search_result> results, const json& tool,
                                          const web_search_settings& cfg) {
  std::vector<std::string> allowed;
  const auto& filters = tool.value("filters", json::object());
  if (filters.is_object())
    for (const auto& d : filters.value("allowed_domains", json::array()))
      if (d.is_string())
        allowed.push_back(d.get<std::string>());
  std::vector<search_result> out;
  for (auto& r : results) {
    auto host = url_host(r.url);
    if (host.empty())
      continue;
    if (!allowed.empty() && std::none_of(allowed.begin(), allowed.end(),
                                         [&](const auto& d) { return in_domain(host, d); }))
      continue;
    if (std::any_of(cfg.blocked_domains.begin(), cfg.blocked_domains.end(),
                    [&](const auto& d) { return in_domain(host, d); }))
      continue;
    out.push_back(std::move(r));
    if (out.size() >= cfg.max_results)
      break;
  }
  return out;
}

} // namespace riposte::actors
