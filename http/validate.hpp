// Request validation: untrusted JSON in, a command or a precise 4xx naming
// the `param` out. Nothing is stored for a rejected request.
#pragma once

#include "actors/messages.hpp"
#include "actors/prompts.hpp"
#include "events/errc.hpp"
#include "projections/response_index.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace riposte::http {

struct create_limits {
  std::size_t max_input_items = 10'000;
  std::size_t max_tools = 512;
};

// POST /v1/responses body -> create_command (response id, tenant and
// idempotency key are filled in by the caller). With `fingerprint`, the
// command's request_hash is the body's (normalized) fingerprint, for an
// Idempotency-Key.
events::result<actors::create_command>
parse_create(std::string_view body, const create_limits& limits, bool fingerprint = false);
// The same, for a body already parsed by parse_body (a WebSocket message, a
// side request whose fields were checked first).
events::result<actors::create_command>
create_from_json(nlohmann::json body, const create_limits& limits, bool fingerprint = false);

// POST /v1/prompts (and /v1/prompts/{id}/versions) body -> a prompt version
// to store (tenant and prompt id are filled in by the caller).
events::result<actors::prompt_draft> parse_prompt_draft(std::string_view body);

// /v1/conversations bodies -> a conversation operation (tenant and id are
// filled in by the caller): create {items?, metadata?}, update {metadata},
// items create {items}. Items are checked as input items are, at most 20,
// each given an id where it has none (a client's id must carry its type's
// prefix) and status "completed".
events::result<actors::conversation_op> parse_conversation_create(std::string_view body);
events::result<actors::conversation_op> parse_conversation_update(std::string_view body);
events::result<actors::conversation_op> parse_conversation_items(std::string_view body);
// GET /v1/conversations/{id}/items: after, limit (1-100, 20), order (desc
// by default), include; other endpoints take only include.
events::result<actors::list_query> parse_conversation_items_query(const std::string& query);
events::status check_include_query(const std::string& query);

// A JSON request body, parsed under the nesting limit (max_json_depth()):
// malformed or too deep is a 400 saying which.
events::result<nlohmann::json> parse_body(std::string_view body);

// GET /v1/responses/{id}/input_items query -> list_query.
events::result<actors::list_query> parse_list_query(const std::string& query);

// GET /v1/operator/responses query -> the index filter (tenant as given;
// the caller decides whether the key may ask for it).
events::result<projections::index_filter> parse_index_filter(const std::string& query);
// GET /v1/operator/conversations query -> the conversations' filter, likewise.
events::result<projections::conversation_filter>
parse_conversation_filter(const std::string& query);

// GET /v1/audit/events: a page (`after`, `limit`) or a live tail
// (`stream=true`), filtered by tenant, event type and stream id.
struct audit_query : actors::audit_filter {
  std::uint64_t after = 0;
  std::int64_t limit = 100;
  bool stream = false;
};
// A reconnecting client's Last-Event-ID is where it was (`after` wins).
events::result<audit_query> parse_audit_query(const std::string& query,
                                              const std::optional<std::string>& last_event_id);

// A stable 64-bit FNV-1a hash, hex: the fingerprint of an idempotent request.
std::string fingerprint(const std::string& bytes);

// Decoded `key=value` pairs of a query string (repeated keys kept in order).
events::result<std::vector<std::pair<std::string, std::string>>>
parse_query_string(const std::string& query);

} // namespace riposte::http
