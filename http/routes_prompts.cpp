// /v1/prompts: versioned prompt templates for `prompt: {id, version,
// variables}`. OpenAI keeps prompts in its dashboard; riposte keeps them in
// the event log, one stream per prompt.
#include "actors/prompts.hpp"
#include "http/errors.hpp"
#include "http/objects.hpp"
#include "http/routes.hpp"

#include <caf/all.hpp>

namespace riposte::http {

namespace {

using json = nlohmann::json;

json versions_of(const actors::prompt_versions& versions) {
  json data = json::array();
  for (const auto& v : versions)
    data.push_back(prompt_object(v));
  return list_object(std::move(data), false, "version");
}

json deleted_of(const actors::deleted_object& d) {
  return deletion_object(d.id, "prompt.deleted");
}

} // namespace

std::vector<route> prompts_routes(const api_context& ctx) {
  using params_t = std::vector<std::string>;
  auto c = std::make_shared<api_context>(ctx);
  std::vector<route> routes;
  // A new prompt (no id) or a new version of one.
  auto create = [c](const request& req, const params_t& params, const std::string& tenant,
                    reply_fn reply) {
    if (auto err = check_json_body(req))
      return reply(to_http(*err));
    auto draft = parse_prompt_draft(req.body);
    if (!draft)
      return reply(to_http(draft.error()));
    draft->tenant = tenant;
    draft->prompt_id = params.empty() ? "" : params[0];
    caf::anon_send(c->prompts->as<actors::prompts_actor>(), actors::prompt_create_atom::value,
                   std::move(*draft),
                   reply_rendered<events::prompt_version_created>(std::move(reply), prompt_object));
  };
  routes.push_back(tenant_route(c->auth, "POST", "/v1/prompts", create));
  routes.push_back(tenant_route(c->auth, "POST", "/v1/prompts/{id}/versions", create));
  routes.push_back(tenant_route(
      c->auth, "GET", "/v1/prompts/{id}",
      [c](const request& req, const params_t& params, const std::string& tenant, reply_fn reply) {
        auto query = parse_query_string(req.query);
        if (!query)
          return reply(to_http(query.error()));
        std::string version;
        for (const auto& [key, value] : *query)
          if (key == "version")
            version = value;
        caf::anon_send(
            c->prompts->as<actors::prompts_actor>(), actors::prompt_get_atom::value, tenant,
            params[0], version,
            reply_rendered<events::prompt_version_created>(std::move(reply), prompt_object));
      }));
  auto by_id = [c](std::string method, std::string pattern, auto atom, auto render) {
    return tenant_route(c->auth, std::move(method), std::move(pattern),
                        [c, atom, render](const request&, const params_t& params,
                                          const std::string& tenant, reply_fn reply) {
                          caf::anon_send(c->prompts->as<actors::prompts_actor>(), atom, tenant,
                                         params[0], reply_rendered(std::move(reply), render));
                        });
  };
  routes.push_back(
      by_id("GET", "/v1/prompts/{id}/versions", actors::prompt_versions_atom::value, versions_of));
  routes.push_back(
      by_id("DELETE", "/v1/prompts/{id}", actors::prompt_delete_atom::value, deleted_of));
  return routes;
}

} // namespace riposte::http
