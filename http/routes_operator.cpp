// The operator's API: the index of responses with filters and a cursor, and
// one response as its tenant would read it (the Response, its input items,
// its raw events, its timeline) or cancel it. The admin key (or anyone,
// where riposte runs open) sees every tenant and may name one; a tenant key
// sees its own tenant only, and another tenant's response does not exist
// for it.
#include "http/routes.hpp"
#include "projections/timeline.hpp"

namespace riposte::http {

namespace ev = events;
using json = nlohmann::json;
using events::riposte_errc;

namespace {

// Whose responses a request may see: every tenant's (nullopt) or one.
ev::result<std::optional<std::string>> scope_of(const authenticator& auth, const request& req) {
  if (auth.check_admin(req)) {
    req.note->tenant = "admin";
    return std::optional<std::string>{};
  }
  auto tenant = auth.tenant_of(req);
  if (!tenant)
    return tenant.error();
  return std::optional<std::string>{*tenant};
}

ev::error_info index_off() {
  return ev::make_error(riposte_errc::not_found, "The response index is off (--no-index).");
}

ev::error_info no_response(const std::string& id) {
  return ev::make_error(riposte_errc::not_found,
                        "No response found with id '" + ev::excerpt(id) + "'.");
}

// Runs `then(tenant)` with the tenant response `id` belongs to, as far as the
// caller may see it: a tenant's own, or (for the admin) the index's row. On
// the index's pool, as a lookup may wait for it to load.
void with_owner(const api_context& c, const request& req, const std::string& id, reply_fn reply,
                std::function<void(const std::string& tenant, reply_fn)> then) {
  auto scope = scope_of(*c.auth, req);
  if (!scope)
    return reply(to_http(scope.error()));
  req.note->response_id = id;
  if (*scope)
    return then(**scope, std::move(reply));
  if (!c.index || !c.index_pool)
    return reply(to_http(index_off()));
  auto failed = [reply](const std::string&) { reply(to_http(ev::server_fault())); };
  c.index_pool->post(
      [index = c.index, id, reply, then = std::move(then)]() {
        auto row = index->find(id);
        if (!row)
          return reply(to_http(row.error()));
        if (!*row)
          return reply(to_http(no_response(id)));
        then((*row)->tenant, reply);
      },
      failed);
}

} // namespace

std::vector<route> operator_routes(const api_context& ctx) {
  std::vector<route> routes;
  auto c = std::make_shared<api_context>(ctx);
  routes.push_back(
      {"GET", "/v1/operator/responses", [c](const request& req, const auto&, reply_fn reply) {
         auto scope = scope_of(*c->auth, req);
         if (!scope)
           return reply(to_http(scope.error()));
         auto filter = parse_index_filter(req.query);
         if (filter && *scope) {
           if (!filter->tenant.empty() && filter->tenant != **scope)
             return reply(to_http(ev::make_error(
                 riposte_errc::permission_denied,
                 "A tenant's key lists its own tenant's responses only.", "tenant")));
           filter->tenant = **scope;
         }
         if (!filter)
           return reply(to_http(filter.error()));
         if (!c->index || !c->index_pool)
           return reply(to_http(index_off()));
         // A query that throws is answered, never left waiting.
         auto failed = [reply](const std::string&) { reply(to_http(ev::server_fault())); };
         c->index_pool->post(
             [index = c->index, f = std::move(*filter), reply, admin = !*scope]() {
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
                         {"has_more", page->has_more}};
               // The feed's position says how much every tenant did: the admin's.
               if (admin)
                 body["indexed_through"] = index->position();
               reply(response{200, ev::dump_json(body), "application/json", {}});
             },
             failed);
       }});

  auto registry = [c] { return c->registry->as<actors::registry_actor>(); };
  // The Response, and cancelling a background one, as its tenant would.
  auto as_owner = [c, registry](std::string method, std::string pattern, auto atom) {
    return route{std::move(method), std::move(pattern),
                 [c, registry, atom](const request& req, const auto& params, reply_fn reply) {
                   auto id = params[0];
                   with_owner(*c, req, id, std::move(reply),
                              [registry, atom, id](const std::string& tenant, reply_fn r) {
                                caf::anon_send(registry(), atom, id, tenant,
                                               reply_with(std::move(r)));
                              });
                 }};
  };
  routes.push_back(as_owner("GET", "/v1/operator/responses/{id}", actors::fetch_atom::value));
  routes.push_back(
      as_owner("POST", "/v1/operator/responses/{id}/cancel", actors::cancel_atom::value));
  // Pages of input items or raw events, as the tenant's own routes page them.
  auto paged = [c, registry](std::string pattern, auto atom, auto render) {
    return route{
        "GET", std::move(pattern),
        [c, registry, atom, render](const request& req, const auto& params, reply_fn reply) {
          auto q = parse_list_query(req.query);
          if (!q)
            return reply(to_http(q.error()));
          auto id = params[0];
          with_owner(*c, req, id, std::move(reply),
                     [registry, atom, render, id, q = *q](const std::string& tenant, reply_fn r) {
                       caf::anon_send(registry(), atom, id, tenant, q, render(std::move(r)));
                     });
        }};
  };
  routes.push_back(
      paged("/v1/operator/responses/{id}/input_items", actors::items_atom::value, [](reply_fn r) {
        return reply_rendered<projections::items_page>(std::move(r), list_of);
      }));
  routes.push_back(
      paged("/v1/operator/responses/{id}/events", actors::events_atom::value, [](reply_fn r) {
        return reply_rendered<actors::events_page>(std::move(r), events_list_of);
      }));
  // The whole stream as a timeline for people (projections/timeline).
  routes.push_back(
      {"GET", "/v1/operator/responses/{id}/timeline",
       [c, registry](const request& req, const auto& params, reply_fn reply) {
         auto id = params[0];
         with_owner(*c, req, id, std::move(reply),
                    [registry, id](const std::string& tenant, reply_fn r) {
                      actors::list_query all;
                      all.limit = 1'000'000; // a stream's every event
                      all.ascending = true;
                      caf::anon_send(registry(), actors::events_atom::value, id, tenant, all,
                                     reply_rendered<actors::events_page>(
                                         std::move(r), [](const actors::events_page& page) -> json {
                                           auto t = projections::make_timeline(page.data);
                                           if (!t)
                                             throw std::runtime_error(t.error().message);
                                           return projections::timeline_json(*t);
                                         }));
                    });
       }});
  return routes;
}

} // namespace riposte::http
