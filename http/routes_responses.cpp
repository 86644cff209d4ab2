// /v1/responses and /v1/models.
#include "actors/messages.hpp"
#include "events/ids.hpp"
#include "events/json_safe.hpp"
#include "http/compatibility.hpp"
#include "http/errors.hpp"
#include "http/objects.hpp"
#include "http/routes.hpp"
#include "http/sse.hpp"

#include <caf/all.hpp>

#include <set>

namespace riposte::http {

namespace ev = events;
using ev::riposte_errc;

// JSON bodies only: the SDKs always send application/json.
std::optional<ev::error_info> check_json_body(const request& req) {
  auto type = req.header("content-type");
  if (type && !type->empty() && type->find("application/json") == std::string::npos &&
      type->find("+json") == std::string::npos)
    return ev::make_error(riposte_errc::unsupported_media,
                          "Unsupported Content-Type '" + ev::excerpt(*type) +
                              "'; send the body as application/json.");
  return std::nullopt;
}

using json = nlohmann::json;

// The wire forms of what the response actors answer besides a Response.
json list_of(const projections::items_page& page) {
  return list_object(page.data, page.has_more);
}

json envelopes_of(const actors::events_page& page) {
  json data = json::array();
  for (const auto& env : page.data)
    data.push_back(ev::to_json(env));
  return data;
}

json events_list_of(const actors::events_page& page) {
  return json{{"object", "list"}, {"data", envelopes_of(page)}, {"has_more", page.has_more}};
}

namespace {

json deleted_of(const actors::deleted_object& d) {
  return deletion_object(d.id, "response.deleted");
}

json count_of(const actors::token_count& c) {
  return {{"object", "response.input_tokens"}, {"input_tokens", c.input_tokens}};
}

// A count says how it was counted: by the model's own tokenizer (the
// backend's tokenize endpoint) or estimated.
actors::reply_for<actors::token_count> counted_reply(reply_fn reply) {
  using fn = actors::reply_for<actors::token_count>::fn_type;
  return actors::reply_for<actors::token_count>{
      fn([reply = std::move(reply)](ev::result<actors::token_count> r) {
        if (!r)
          return reply(to_http(r.error()));
        reply(response{200,
                       ev::dump_json(count_of(*r)),
                       "application/json",
                       {{"x-riposte-token-count", r->exact ? "exact" : "estimate"}}});
      })};
}

json compaction_of(const actors::compaction& c) {
  return {{"id", c.id},
          {"object", "response.compaction"},
          {"created_at", c.created_at},
          {"output", c.output},
          {"usage", c.usage}};
}

} // namespace

// Replayed reasoning must have been sealed by this riposte for this tenant,
// as the API refuses encrypted content it cannot verify.
std::optional<ev::error_info> check_sealed_reasoning(const api_context& c,
                                                     const actors::create_command& cmd,
                                                     const std::string& tenant) {
  for (std::size_t i = 0; i < cmd.input.size(); ++i) {
    const auto& item = cmd.input[i];
    auto type = item.value("type", "");
    if ((type != "reasoning" && type != "compaction") || !item.contains("encrypted_content") ||
        item["encrypted_content"].is_null())
      continue;
    auto param = "input[" + std::to_string(i) + "].encrypted_content";
    if (!item["encrypted_content"].is_string())
      return ev::make_error(riposte_errc::invalid_type,
                            "Invalid type for '" + param + "': expected a string.", param);
    if (!c.sealer || !c.sealer->open(tenant, item["encrypted_content"].get<std::string>()))
      return ev::make_error(riposte_errc::invalid_value,
                            "The encrypted content for item " + item.value("id", "") +
                                " could not be verified.",
                            param);
  }
  return std::nullopt;
}

// Replies with an actor's answer; a Response names its model in the log line.
actors::reply_to reply_with(reply_fn reply, std::shared_ptr<request_note> note) {
  return actors::reply_to{actors::reply_to::fn_type(
      [reply = std::move(reply), note = std::move(note)](ev::result<json> r) {
        if (!r)
          return reply(to_http(r.error()));
        if (auto text = actors::serialized_text(*r))
          return reply(response{200, std::move(*text), "application/json", {}});
        if (note && r->is_object() && r->value("object", "") == "response" &&
            (*r)["model"].is_string())
          note->model = (*r)["model"].get<std::string>();
        reply(response{200, ev::dump_json(*r), "application/json", {}});
      })};
}

route tenant_route(std::shared_ptr<const authenticator> auth, std::string method,
                   std::string pattern, tenant_handler handle) {
  return route{std::move(method), std::move(pattern),
               [auth = std::move(auth), handle = std::move(handle)](
                   const request& req, const std::vector<std::string>& params, reply_fn reply) {
                 auto tenant = auth->tenant_of(req);
                 if (!tenant)
                   return reply(to_http(tenant.error()));
                 handle(req, params, *tenant, std::move(reply));
               }};
}

std::vector<route> responses_routes(const api_context& ctx) {
  std::vector<route> routes;
  auto c = std::make_shared<api_context>(ctx);

  routes.push_back(
      {"POST", "/v1/responses", [c](const request& req, const auto&, reply_fn reply) {
         auto tenant = c->auth->tenant_of(req);
         if (!tenant)
           return reply(to_http(tenant.error()));
         if (auto err = check_json_body(req))
           return reply(to_http(*err));
         auto key = req.header("idempotency-key");
         bool keyed = key && !key->empty();
         auto cmd = parse_create(req.body, c->limits, keyed);
         if (!cmd)
           return reply(to_http(cmd.error()));
         if (auto err = check_sealed_reasoning(*c, *cmd, *tenant))
           return reply(to_http(*err));
         cmd->response_id = ev::make_id("resp_");
         cmd->tenant = *tenant;
         req.note->response_id = cmd->response_id;
         req.note->model = cmd->model;
         req.note->input_items = static_cast<std::int64_t>(cmd->input.size());
         if (keyed) {
           if (key->size() > 255)
             return reply(to_http(ev::make_error(riposte_errc::invalid_value,
                                                 "Idempotency-Key must be at most 255 characters.",
                                                 "Idempotency-Key")));
           cmd->idempotency_key = *key;
         }
         if (cmd->stream) {
           sse_options so;
           so.response_id = cmd->response_id;
           so.obfuscation = cmd->obfuscation;
           start_create(*c, std::move(*cmd),
                        actors::sink_handle{make_sse_sink(req.reply_channel, so)});
           return;
         }
         start_create(*c, std::move(*cmd), reply_with(std::move(reply)));
       }});

  // Requests that run a create's pipeline (model, prompt, files, chain,
  // context plan) without storing a response: counting input tokens, and
  // compacting a conversation. `allowed`: the body fields each takes.
  auto side_request = [c](std::set<std::string> allowed, auto finish) {
    return [c, allowed, finish](const request& req, const std::vector<std::string>&,
                                const std::string& tenant, reply_fn reply) {
      if (auto err = check_json_body(req))
        return reply(to_http(*err));
      auto parsed = parse_body(req.body);
      if (!parsed)
        return reply(to_http(parsed.error()));
      auto& body = *parsed;
      if (body.is_object()) {
        for (const auto& [key, value] : body.items())
          if (!allowed.count(key))
            return reply(to_http(ev::make_error(riposte_errc::unknown_parameter,
                                                "Unknown parameter: '" + ev::excerpt(key) + "'.",
                                                ev::excerpt(key))));
        if (body.value("model", json()).is_null() && !c->default_model.empty())
          body["model"] = c->default_model;
      }
      auto cmd = create_from_json(std::move(body), c->limits);
      if (!cmd)
        return reply(to_http(cmd.error()));
      if (auto err = check_sealed_reasoning(*c, *cmd, tenant))
        return reply(to_http(*err));
      cmd->response_id = ev::make_id("resp_");
      cmd->tenant = tenant;
      cmd->store = false;
      cmd->stream = false;
      cmd->params["store"] = false;
      finish(*cmd);
      req.note->model = cmd->model;
      if (cmd->count_only)
        start_create(*c, std::move(*cmd), counted_reply(std::move(reply)));
      else
        start_create(*c, std::move(*cmd),
                     reply_rendered<actors::compaction>(std::move(reply), compaction_of));
    };
  };
  // The tokens a would-be request puts in the model's context.
  routes.push_back(
      tenant_route(c->auth, "POST", "/v1/responses/input_tokens",
                   side_request({"model", "input", "instructions", "previous_response_id", "tools",
                                 "tool_choice", "parallel_tool_calls", "reasoning", "text",
                                 "truncation", "prompt", "conversation"},
                                [](actors::create_command& cmd) { cmd.count_only = true; })));
  // The conversation summarized by the model: its user messages and one
  // sealed compaction item, for the client to continue from.
  routes.push_back(tenant_route(
      c->auth, "POST", "/v1/responses/compact",
      side_request({"model", "input", "instructions", "previous_response_id", "prompt_cache_key",
                    "prompt_cache_retention", "prompt_cache_options"},
                   [](actors::create_command& cmd) {
                     cmd.compact = true;
                     cmd.params["truncation"] = "auto"; // what fits is summarized
                   })));

  routes.push_back(
      {"GET", "/v1/responses/{id}", [c](const request& req, const auto& params, reply_fn reply) {
         auto tenant = c->auth->tenant_of(req);
         if (!tenant)
           return reply(to_http(tenant.error()));
         auto query = parse_query_string(req.query);
         if (!query)
           return reply(to_http(query.error()));
         req.note->response_id = params[0];
         bool stream = false;
         std::int64_t after = -1;
         sse_options so;
         so.response_id = params[0];
         for (const auto& [key, value] : *query) {
           if (key == "stream") {
             if (value != "true" && value != "false")
               return reply(to_http(ev::make_error(riposte_errc::invalid_value,
                                                   "Invalid value for 'stream': expected true or "
                                                   "false.",
                                                   "stream")));
             stream = value == "true";
           } else if (key == "starting_after") {
             bool digits = !value.empty() && value.size() < 18 &&
                           value.find_first_not_of("0123456789") == std::string::npos;
             if (!digits)
               return reply(to_http(ev::make_error(riposte_errc::invalid_value,
                                                   "Invalid value for 'starting_after': expected "
                                                   "a sequence number >= 0.",
                                                   "starting_after")));
             after = std::stoll(value);
           } else if (key == "include_obfuscation") {
             so.obfuscation = value != "false";
           }
         }
         if (stream) {
           caf::anon_send(c->registry->as<actors::registry_actor>(), actors::subscribe_atom::value,
                          params[0], *tenant, after,
                          actors::sink_handle{make_sse_sink(req.reply_channel, so)});
           return;
         }
         caf::anon_send(c->registry->as<actors::registry_actor>(), actors::fetch_atom::value,
                        params[0], *tenant, reply_with(std::move(reply), req.note));
       }});

  // Routes on one response: the tenant, then (atom, id, tenant[, page], reply)
  // to the registry.
  auto by_id = [c](std::string method, std::string pattern, auto atom) {
    return tenant_route(c->auth, std::move(method), std::move(pattern),
                        [c, atom](const request& req, const auto& params, const std::string& tenant,
                                  reply_fn reply) {
                          req.note->response_id = params[0];
                          caf::anon_send(c->registry->as<actors::registry_actor>(), atom, params[0],
                                         tenant, reply_with(std::move(reply), req.note));
                        });
  };
  auto paged_by_id = [c](std::string pattern, auto atom, auto answer) {
    return tenant_route(c->auth, "GET", std::move(pattern),
                        [c, atom, answer](const request& req, const auto& params,
                                          const std::string& tenant, reply_fn reply) {
                          req.note->response_id = params[0];
                          auto q = parse_list_query(req.query);
                          if (!q)
                            return reply(to_http(q.error()));
                          caf::anon_send(c->registry->as<actors::registry_actor>(), atom, params[0],
                                         tenant, std::move(*q), answer(std::move(reply)));
                        });
  };
  routes.push_back(tenant_route(
      c->auth, "DELETE", "/v1/responses/{id}",
      [c](const request& req, const auto& params, const std::string& tenant, reply_fn reply) {
        req.note->response_id = params[0];
        caf::anon_send(c->registry->as<actors::registry_actor>(), actors::remove_atom::value,
                       params[0], tenant,
                       reply_rendered<actors::deleted_object>(std::move(reply), deleted_of));
      }));
  routes.push_back(by_id("POST", "/v1/responses/{id}/cancel", actors::cancel_atom::value));
  routes.push_back(
      paged_by_id("/v1/responses/{id}/input_items", actors::items_atom::value, [](reply_fn reply) {
        return reply_rendered<projections::items_page>(std::move(reply), list_of);
      }));
  routes.push_back(
      paged_by_id("/v1/responses/{id}/events", actors::events_atom::value, [](reply_fn reply) {
        return reply_rendered<actors::events_page>(std::move(reply), events_list_of);
      }));

  // The backend's models, shaped by `shape` (the list, or one of them).
  using model_list = std::vector<actors::model_info>;
  auto models = [c](reply_fn reply, std::function<ev::result<json>(const model_list&)> shape) {
    using fn = actors::reply_for<model_list>::fn_type;
    caf::anon_send(c->backend_pool->get(), actors::models_atom::value,
                   actors::reply_for<model_list>{fn([reply = std::move(reply),
                                                     shape](ev::result<model_list> r) {
                     if (!r)
                       return reply(to_http(r.error()));
                     auto shaped = shape(*r);
                     reply(shaped ? response{200, ev::dump_json(*shaped), "application/json", {}}
                                  : to_http(shaped.error()));
                   })});
  };
  auto model_object = [](const actors::model_info& m) {
    return json{{"id", m.id},
                {"object", "model"},
                {"created", m.created},
                {"owned_by", m.owned_by}};
  };
  routes.push_back({"GET", "/v1/models",
                    [c, models, model_object](const request& req, const auto&, reply_fn reply) {
                      auto tenant = c->auth->tenant_of(req);
                      if (!tenant)
                        return reply(to_http(tenant.error()));
                      models(std::move(reply),
                             [model_object](const model_list& list) -> ev::result<json> {
                               json data = json::array();
                               for (const auto& m : list)
                                 data.push_back(model_object(m));
                               return json{{"object", "list"}, {"data", data}};
                             });
                    }});
  routes.push_back(
      {"GET", "/v1/models/{id}",
       [c, models, model_object](const request& req, const auto& params, reply_fn reply) {
         auto tenant = c->auth->tenant_of(req);
         if (!tenant)
           return reply(to_http(tenant.error()));
         auto id = params[0];
         models(std::move(reply), [id, model_object](const model_list& list) -> ev::result<json> {
           for (const auto& m : list)
             if (m.id == id)
               return model_object(m);
           return ev::make_error(riposte_errc::not_found,
                                 "The model '" + ev::excerpt(id) + "' does not exist", "model");
         });
       }});
  routes.push_back(
      {"GET", "/compatibility/responses",
       [backends = ctx.backends_manifest](const request&, const auto&, reply_fn reply) {
         auto manifest = manifest_json();
         manifest["backends"] = backends;
         reply(response{200, ev::dump_json(manifest), "application/json", {}});
       }});
  return routes;
}

} // namespace riposte::http
