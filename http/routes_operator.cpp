// The operator's API: the index of responses with filters and a cursor. The
// admin key (or anyone, where riposte runs open) sees every tenant and may
// name one; a tenant key sees its own tenant only.
#include "http/routes.hpp"

namespace riposte::http {

namespace ev = events;
using json = nlohmann::json;
using events::riposte_errc;

std::vector<route> operator_routes(const api_context& ctx) {
  std::vector<route> routes;
  auto index = ctx.index;
  auto pool = ctx.index_pool;
  auto auth = ctx.auth;
  routes.push_back(
      {"GET", "/v1/operator/responses",
       [index, pool, auth](const request& req, const auto&, reply_fn reply) {
         auto filter = parse_index_filter(req.query);
         if (auth->check_admin(req)) {
           req.note->tenant = "admin";
         } else {
           auto tenant = auth->tenant_of(req);
           if (!tenant)
             return reply(to_http(tenant.error()));
           if (filter && !filter->tenant.empty() && filter->tenant != *tenant)
             return reply(to_http(ev::make_error(
                 riposte_errc::permission_denied,
                 "A tenant's key lists its own tenant's responses only.", "tenant")));
           if (filter)
             filter->tenant = *tenant;
         }
         if (!filter)
           return reply(to_http(filter.error()));
         if (!index || !pool)
           return reply(to_http(
               ev::make_error(riposte_errc::not_found, "The response index is off (--no-index).")));
         // A query that throws is answered, never left waiting.
         auto failed = [reply](const std::string&) { reply(to_http(ev::server_fault())); };
         pool->post(
             [index, f = std::move(*filter), reply]() {
               auto page = index->query(f);
               if (!page)
                 return reply(to_http(page.error()));
               json data = json::array();
               for (const auto& row : page->rows)
                 data.push_back(projections::response_index::to_json(row));
               json body{{"object", "list"},
                         {"data", data},
                         {"first_id", page->rows.empty() ? json() : json(page->rows.front().id)},
                         {"last_id", page->rows.empty() ? json() : json(page->rows.back().id)},
                         {"has_more", page->has_more},
                         {"indexed_through", index->position()}};
               reply(response{200, ev::dump_json(body), "application/json", {}});
             },
             failed);
       }});
  return routes;
}

} // namespace riposte::http
