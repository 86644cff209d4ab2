// The operator's API: the index of responses and of conversations with
// filters and a cursor; one response as its tenant would read it (the
// Response, its input items, its raw events, its timeline) or cancel it; one
// conversation as its tenant would read it (the Conversation, its items, its
// raw events). The admin key (or anyone, where riposte runs open) sees every
// tenant and may name one; a tenant key sees its own tenant only, and
// another tenant's response or conversation does not exist for it.
#include "actors/conversations.hpp"
#include "http/objects.hpp"
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

// What the operator's routes ask of the index about one response or one
// conversation: the tenant it belongs to, if the index holds it.
enum class owned { response, conversation };

// As the tenant's own routes say it.
ev::error_info not_found(owned what, const std::string& id) {
  if (what == owned::response)
    return ev::make_error(riposte_errc::not_found,
                          "No response found with id '" + ev::excerpt(id) + "'.");
  return ev::make_error(riposte_errc::item_not_found,
                        "Conversation with id '" + ev::excerpt(id) + "' not found.");
}

ev::result<std::optional<std::string>> owner_in(const actors::index_follower& index, owned what,
                                                const std::string& id) {
  auto tenant_of = [](const auto& row) -> ev::result<std::optional<std::string>> {
    if (!row)
      return row.error();
    return *row ? std::optional{(*row)->tenant} : std::nullopt;
  };
  return what == owned::response ? tenant_of(index.find(id))
                                 : tenant_of(index.find_conversation(id));
}

// Runs `then(tenant)` with the tenant the response or conversation `id`
// belongs to, as far as the caller may see it: a tenant's own, or (for the
// admin) the index's row. On the index's pool, as a lookup may wait for it
// to load.
void with_owner(const api_context& c, const request& req, owned what, const std::string& id,
                reply_fn reply, std::function<void(const std::string& tenant, reply_fn)> then) {
  auto scope = scope_of(*c.auth, req);
  if (!scope)
    return reply(to_http(scope.error()));
  if (what == owned::response)
    req.note->response_id = id;
  if (*scope)
    return then(**scope, std::move(reply));
  if (!c.index || !c.index_pool)
    return reply(to_http(index_off()));
  auto failed = [reply](const std::string&) { reply(to_http(ev::server_fault())); };
  c.index_pool->post(
      [index = c.index, what, id, reply, then = std::move(then)]() {
        auto tenant = owner_in(*index, what, id);
        if (!tenant)
          return reply(to_http(tenant.error()));
        if (!*tenant)
          return reply(to_http(not_found(what, id)));
        then(**tenant, reply);
      },
      failed);
}

// A page of the index as a list: {object, data, first_id, last_id, has_more},
// and for the admin how far the feed is folded.
template <class Page>
json listing(const Page& page, bool admin, const actors::index_follower& index) {
  json data = json::array();
  for (const auto& row : page.rows)
    data.push_back(projections::response_index::to_json(row));
  auto body = list_object(std::move(data), page.has_more);
  // The feed's position says how much every tenant did: the admin's.
  if (admin)
    body["indexed_through"] = index.position();
  return body;
}

// GET of a listing: the filter parsed by `parse`, a tenant key held to its
// own tenant, the query run on the index's pool.
template <class Filter>
route listing_route(std::shared_ptr<api_context> c, std::string pattern,
                    ev::result<Filter> (*parse)(const std::string&), const char* what) {
  return {"GET", std::move(pattern),
          [c, parse, what](const request& req, const auto&, reply_fn reply) {
            auto scope = scope_of(*c->auth, req);
            if (!scope)
              return reply(to_http(scope.error()));
            auto filter = parse(req.query);
            if (filter && *scope) {
              if (!filter->tenant.empty() && filter->tenant != **scope)
                return reply(to_http(ev::make_error(
                    riposte_errc::permission_denied,
                    std::string{"A tenant's key lists its own tenant's "} + what + " only.",
                    "tenant")));
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
                  reply(response{
                      200, ev::dump_json(listing(*page, admin, *index)), "application/json", {}});
                },
                failed);
          }};
}

} // namespace

std::vector<route> operator_routes(const api_context& ctx) {
  std::vector<route> routes;
  auto c = std::make_shared<api_context>(ctx);
  routes.push_back(listing_route(c, "/v1/operator/responses", parse_index_filter, "responses"));
  routes.push_back(
      listing_route(c, "/v1/operator/conversations", parse_conversation_filter, "conversations"));

  auto registry = [c] { return c->registry->as<actors::registry_actor>(); };
  // The Response, and cancelling a background one, as its tenant would.
  auto as_owner = [c, registry](std::string method, std::string pattern, auto atom) {
    return route{std::move(method), std::move(pattern),
                 [c, registry, atom](const request& req, const auto& params, reply_fn reply) {
                   auto id = params[0];
                   with_owner(*c, req, owned::response, id, std::move(reply),
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
          with_owner(*c, req, owned::response, id, std::move(reply),
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
         with_owner(*c, req, owned::response, id, std::move(reply),
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
  // A conversation, its items and its raw events, as its tenant reads them.
  // Rendered as the tenant's own routes render them.
  using render_fn = json (*)(const json&);
  render_fn as_is = [](const json& j) { return j; };
  auto conversation = [c](std::string pattern, actors::conversation_op::kind what,
                          ev::result<actors::list_query> (*parse)(const std::string&),
                          render_fn render) {
    return route{"GET", std::move(pattern),
                 [c, what, parse, render](const request& req, const auto& params, reply_fn reply) {
                   actors::conversation_op op;
                   op.what = what;
                   op.conversation_id = params[0];
                   if (parse) {
                     auto q = parse(req.query);
                     if (!q)
                       return reply(to_http(q.error()));
                     op.query = std::move(*q);
                   } else if (auto s = check_include_query(req.query); !s) {
                     return reply(to_http(s.error())); // as the tenant's own GET
                   }
                   with_owner(*c, req, owned::conversation, op.conversation_id, std::move(reply),
                              [c, op, render](const std::string& tenant, reply_fn r) mutable {
                                op.tenant = tenant;
                                caf::anon_send(c->conversations->as<actors::conversations_actor>(),
                                               actors::conversation_atom::value, std::move(op),
                                               reply_rendered<json>(std::move(r), render));
                              });
                 }};
  };
  using kind = actors::conversation_op::kind;
  routes.push_back(conversation("/v1/operator/conversations/{id}", kind::get, nullptr, as_is));
  routes.push_back(conversation("/v1/operator/conversations/{id}/items", kind::list_items,
                                parse_conversation_items_query, conversation_items_list));
  routes.push_back(conversation("/v1/operator/conversations/{id}/events", kind::events,
                                parse_list_query, conversation_events_list));
  return routes;
}

} // namespace riposte::http
