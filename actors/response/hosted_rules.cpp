#include "actors/response/hosted_rules.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace riposte::actors {

namespace ev = events;
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

ev::result<std::pair<int, int>> image_size(const nlohmann::json& tool,
                                           const image_generation_settings& cfg,
                                           const std::string& param) {
  auto size = tool.value("size", nlohmann::json("auto"));
  if (size.is_null() || size == "auto")
    return std::pair{std::min(1024, cfg.max_width), std::min(1024, cfg.max_height)};
  if (!size.is_string())
    return ev::make_error(ev::riposte_errc::invalid_type,
                          "Invalid type for '" + param + "': expected a string such as 1024x1024.",
                          param);
  const auto& text = size.get_ref<const std::string&>();
  auto x = text.find('x');
  int w = 0, h = 0;
  try {
    if (x == std::string::npos || x == 0 || x + 1 >= text.size() ||
        text.find_first_not_of("0123456789x") != std::string::npos)
      throw std::invalid_argument("size");
    w = std::stoi(text.substr(0, x));
    h = std::stoi(text.substr(x + 1));
  } catch (const std::exception&) {
    return ev::make_error(ev::riposte_errc::invalid_value,
                          "Invalid value for '" + param + "': '" + text +
                              "'. Expected WIDTHxHEIGHT such as 1024x1024, or auto.",
                          param);
  }
  if (w < 64 || h < 64 || w > cfg.max_width || h > cfg.max_height)
    return ev::make_error(ev::riposte_errc::invalid_value,
                          "Invalid value for '" + param + "': " + text +
                              " is outside what this server generates (64x64 up to " +
                              std::to_string(cfg.max_width) + "x" + std::to_string(cfg.max_height) +
                              ").",
                          param);
  return std::pair{w, h};
}

} // namespace riposte::actors
