// The OpenAI-shaped routes: thin handlers that validate into commands, send
// them to the actors and map the reply with to_http().
#pragma once

#include "actors/files.hpp"
#include "actors/readiness.hpp"
#include "actors/response_actor.hpp"
#include "actors/runtime/index_follower.hpp"
#include "actors/runtime/thread_pool.hpp"
#include "actors/supervisor.hpp"
#include "adapters/crypto/sealer.hpp"
#include "adapters/observability/metrics.hpp"
#include "events/json_safe.hpp"
#include "http/auth.hpp"
#include "http/errors.hpp"
#include "http/server.hpp"
#include "http/validate.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <optional>
#include <vector>

namespace riposte::http {

struct api_context {
  // A new response's actor is spawned on the HTTP thread (start_create).
  caf::actor_system* system = nullptr;
  std::shared_ptr<const actors::services> services;
  // The supervised actors, read per request: a restart swaps the handle.
  actors::slot_ptr registry;
  actors::slot_ptr backend_pool;
  actors::slot_ptr files;
  actors::slot_ptr prompts;
  actors::slot_ptr conversations;
  actors::file_limits file_limits;
  std::shared_ptr<const authenticator> auth;
  std::shared_ptr<const adapters::crypto::sealer> sealer; // replayed encrypted reasoning
  create_limits limits;
  std::string default_model; // counts input tokens for a request that names none
  // The configured backends for the compatibility manifest: each one's kind
  // and what riposte sends it and cannot.
  nlohmann::json backends_manifest = nlohmann::json::array();
  // WebSocket mode on /v1/responses; off, an upgrade is answered 426 and
  // clients use HTTP.
  bool websocket = true;
  std::size_t ws_per_tenant = 64; // WebSocket connections one tenant may hold open
  std::size_t ws_queued = 16;     // response.create messages waiting on one connection
  std::size_t ws_queued_bytes = 64u << 20; // and their bytes
  // Large WebSocket messages are parsed and started there, off the
  // connection's io thread (server_options has the same for HTTP bodies).
  offload_policy offload;
  std::shared_ptr<adapters::observability::metrics> stats;
  // Told of each WebSocket turn (a request log line, as for HTTP).
  std::function<void(const answer&)> on_ws_turn;
  // The operator's index of responses, queried on `index_pool` (a query
  // may wait for the index to load, never on an HTTP thread).
  std::shared_ptr<const actors::index_follower> index;
  actors::thread_pool* index_pool = nullptr;
};

// A new response: its create goes straight to its own new actor, which the
// registry adopts (actors::start_response).
template <class Waiter>
void start_create(const api_context& c, actors::create_command cmd, Waiter waiter) {
  actors::start_response(*c.system, c.services, std::move(cmd), std::move(waiter));
}

std::vector<route> responses_routes(const api_context& ctx);
// /v1/prompts: versioned prompt templates.
std::vector<route> prompts_routes(const api_context& ctx);
// /v1/conversations: conversations and their items.
std::vector<route> conversations_routes(const api_context& ctx);
// /v1/audit/events: the global feed for the admin key, paged or live (SSE).
std::vector<route> audit_routes(const api_context& ctx);
// /v1/operator/responses: the index of responses, for the admin key (every
// tenant) and tenant keys (their own).
std::vector<route> operator_routes(const api_context& ctx);
// /healthz, /readyz, /metrics. `ready` must outlive the server.
std::vector<route> ops_routes(actors::readiness& ready,
                              std::shared_ptr<adapters::observability::metrics> stats);

// Replayed reasoning (and compaction) items must carry content this riposte
// sealed for this tenant.
std::optional<events::error_info> check_sealed_reasoning(const api_context& c,
                                                         const actors::create_command& cmd,
                                                         const std::string& tenant);

// /v1/responses as a WebSocket (the Responses WebSocket mode).
std::vector<ws_route> responses_ws_routes(const api_context& ctx);

// A JSON request body (or none): anything else is 415.
std::optional<events::error_info> check_json_body(const request& req);

// A route for a tenant's resource: the API key decides the tenant (or the
// reply is the auth error) before `handle` runs.
using tenant_handler = std::function<void(const request&, const std::vector<std::string>& params,
                                          const std::string& tenant, reply_fn)>;
route tenant_route(std::shared_ptr<const authenticator> auth, std::string method,
                   std::string pattern, tenant_handler handle);

// An actor's answer as the reply: 200 with the JSON, or the error; a
// Response names its model in the request log.
actors::reply_to reply_with(reply_fn reply, std::shared_ptr<request_note> note = nullptr);

// An actor's typed answer as the reply: 200 with the wire form `render`
// makes of it, or the error.
template <class T, class Render>
actors::reply_for<T> reply_rendered(reply_fn reply, Render render) {
  using fn = typename actors::reply_for<T>::fn_type;
  return actors::reply_for<T>{
      fn([reply = std::move(reply), render = std::move(render)](events::result<T> r) {
        if (!r)
          return reply(to_http(r.error()));
        std::string body;
        try {
          body = events::dump_json(render(*r));
        } catch (...) { // a render that fails answers 500, never silence
          return reply(to_http(events::server_fault()));
        }
        reply(response{200, std::move(body), "application/json", {}});
      })};
}
template <class T>
actors::reply_for<T> reply_rendered(reply_fn reply, nlohmann::json (*render)(const T&)) {
  return reply_rendered<T, nlohmann::json (*)(const T&)>(std::move(reply), render);
}
// Wire forms of the response actors' pages: input items, and raw events
// (the events alone, and as a list object).
nlohmann::json list_of(const projections::items_page& page);
nlohmann::json envelopes_of(const actors::events_page& page);
nlohmann::json events_list_of(const actors::events_page& page);

// /v1/files: upload (multipart), list, retrieve, content, delete.
std::vector<route> files_routes(const api_context& ctx);

} // namespace riposte::http
