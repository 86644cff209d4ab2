// The operator's routes: liveness, readiness (503 while a check fails or a
// supervised actor is down) and the Prometheus metrics.
#include "actors/readiness.hpp"
#include "adapters/observability/metrics.hpp"
#include "events/json_safe.hpp"
#include "http/routes.hpp"

namespace riposte::http {

std::vector<route> ops_routes(actors::readiness& ready,
                              std::shared_ptr<adapters::observability::metrics> stats) {
  std::vector<route> routes;
  routes.push_back(
      {"GET", "/healthz", [](const request&, const std::vector<std::string>&, reply_fn reply) {
         reply({200, R"({"status":"ok"})", "application/json", {}});
       }});
  routes.push_back(
      {"GET", "/readyz", [&ready](const request&, const std::vector<std::string>&, reply_fn reply) {
         ready.check([reply = std::move(reply)](bool ok, nlohmann::json body) {
           reply({ok ? 200 : 503, events::dump_json(body), "application/json", {}});
         });
       }});
  routes.push_back(
      {"GET", "/metrics", [stats](const request&, const std::vector<std::string>&, reply_fn reply) {
         reply({200, stats->serialize(), "text/plain; version=0.0.4", {}});
       }});
  return routes;
}

} // namespace riposte::http
