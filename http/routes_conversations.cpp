// /v1/conversations: conversations and their items, each conversation a
// stream in the event log with its own actor (actors/conversations.cpp).
#include "actors/conversations.hpp"
#include "http/errors.hpp"
#include "http/objects.hpp"
#include "http/routes.hpp"

#include <caf/all.hpp>

namespace riposte::http {

namespace {

using json = nlohmann::json;
using op_t = actors::conversation_op;
using params_t = std::vector<std::string>;

json as_is(const json& j) {
  return j;
}

json deleted(const json& d) {
  return deletion_object(d.value("id", ""), "conversation.deleted");
}

} // namespace

std::vector<route> conversations_routes(const api_context& ctx) {
  auto c = std::make_shared<api_context>(ctx);
  // An operation for the conversation named in the path: `parse` makes it of
  // the request (or says why not), `render` shows the answer.
  using parse_fn = std::function<events::result<op_t>(const request&)>;
  auto route_of = [c](std::string method, std::string pattern, parse_fn parse,
                      json (*render)(const json&)) {
    return tenant_route(c->auth, std::move(method), std::move(pattern),
                        [c, parse, render](const request& req, const params_t& params,
                                           const std::string& tenant, reply_fn reply) {
                          auto op = parse(req);
                          if (!op)
                            return reply(to_http(op.error()));
                          op->tenant = tenant;
                          if (!params.empty())
                            op->conversation_id = params[0];
                          if (params.size() > 1)
                            op->item_id = params[1];
                          caf::anon_send(c->conversations->as<actors::conversations_actor>(),
                                         actors::conversation_atom::value, std::move(*op),
                                         reply_rendered<json>(std::move(reply), render));
                        });
  };
  // A body-less operation that takes at most `include` in its query.
  auto plain = [](op_t::kind what) -> parse_fn {
    return [what](const request& req) -> events::result<op_t> {
      if (auto s = check_include_query(req.query); !s)
        return s.error();
      op_t op;
      op.what = what;
      return op;
    };
  };
  auto with_body = [](events::result<op_t> (*parse)(std::string_view), bool include) -> parse_fn {
    return [parse, include](const request& req) -> events::result<op_t> {
      if (auto err = check_json_body(req))
        return *err;
      if (include) {
        if (auto s = check_include_query(req.query); !s)
          return s.error();
      } else if (auto s = check_include_query(req.query); !s) {
        return s.error();
      }
      return parse(req.body);
    };
  };
  // A page of something: its query parsed by `parse`.
  auto paged = [](op_t::kind what,
                  events::result<actors::list_query> (*parse)(const std::string&)) -> parse_fn {
    return [what, parse](const request& req) -> events::result<op_t> {
      auto q = parse(req.query);
      if (!q)
        return q.error();
      op_t op;
      op.what = what;
      op.query = std::move(*q);
      return op;
    };
  };
  std::vector<route> routes;
  routes.push_back(
      route_of("POST", "/v1/conversations", with_body(parse_conversation_create, false), as_is));
  routes.push_back(route_of("GET", "/v1/conversations/{id}", plain(op_t::kind::get), as_is));
  routes.push_back(route_of("POST", "/v1/conversations/{id}",
                            with_body(parse_conversation_update, false), as_is));
  routes.push_back(
      route_of("DELETE", "/v1/conversations/{id}", plain(op_t::kind::remove), deleted));
  routes.push_back(route_of("POST", "/v1/conversations/{id}/items",
                            with_body(parse_conversation_items, true), conversation_items_list));
  routes.push_back(route_of("GET", "/v1/conversations/{id}/items",
                            paged(op_t::kind::list_items, parse_conversation_items_query),
                            conversation_items_list));
  // riposte's own, as for responses: the conversation's stored events.
  routes.push_back(route_of("GET", "/v1/conversations/{id}/events",
                            paged(op_t::kind::events, parse_list_query), conversation_events_list));
  routes.push_back(route_of("GET", "/v1/conversations/{id}/items/{item_id}",
                            plain(op_t::kind::get_item), as_is));
  routes.push_back(route_of("DELETE", "/v1/conversations/{id}/items/{item_id}",
                            plain(op_t::kind::delete_item), as_is));
  return routes;
}

} // namespace riposte::http
