#include "http/console.hpp"

namespace riposte::http {

namespace {

// What every console reply carries.
const std::vector<std::pair<std::string, std::string>> console_headers{
    {"content-security-policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
     "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
    {"x-content-type-options", "nosniff"},
    {"x-frame-options", "DENY"},
    {"referrer-policy", "no-referrer"},
    {"cache-control", "no-cache"}};

} // namespace

std::vector<route> console_routes() {
  std::vector<route> routes;
  auto serve = [](const console_asset& a) {
    return [a](const request&, const auto&, reply_fn reply) {
      reply(response{200, std::string{a.body}, std::string{a.content_type}, console_headers});
    };
  };
  for (const auto& asset : console_assets()) {
    if (asset.name == "index.html") {
      routes.push_back({"GET", "/console", serve(asset)});
      routes.push_back({"GET", "/console/", serve(asset)});
    }
    routes.push_back({"GET", "/console/" + std::string{asset.name}, serve(asset)});
  }
  return routes;
}

} // namespace riposte::http
