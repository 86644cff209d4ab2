// The one place where riposte errors become HTTP statuses and OpenAI bodies.
#include "http/errors.hpp"

#include "events/json_safe.hpp"

#include <nlohmann/json.hpp>

namespace riposte::http {

using events::riposte_errc;

error_mapping map_error(riposte_errc code) {
  switch (code) {
    case riposte_errc::invalid_request: return {400, "invalid_request_error", ""};
    case riposte_errc::invalid_json: return {400, "invalid_request_error", "invalid_json"};
    case riposte_errc::unsupported_parameter:
      return {400, "invalid_request_error", "unsupported_parameter"};
    case riposte_errc::unknown_parameter:
      return {400, "invalid_request_error", "unknown_parameter"};
    case riposte_errc::missing_parameter:
      return {400, "invalid_request_error", "missing_required_parameter"};
    case riposte_errc::invalid_type: return {400, "invalid_request_error", "invalid_type"};
    case riposte_errc::invalid_value: return {400, "invalid_request_error", "invalid_value"};
    case riposte_errc::model_not_found: return {400, "invalid_request_error", "model_not_found"};
    case riposte_errc::invalid_api_key: return {401, "authentication_error", "invalid_api_key"};
    case riposte_errc::permission_denied: return {403, "permission_error", "permission_denied"};
    case riposte_errc::not_found: return {404, "invalid_request_error", "not_found"};
    case riposte_errc::item_not_found: return {404, "invalid_request_error", ""};
    case riposte_errc::version_conflict: return {409, "invalid_request_error", "conflict"};
    case riposte_errc::idempotency_conflict:
      return {409, "invalid_request_error", "idempotency_key_reused"};
    case riposte_errc::payload_too_large:
      return {413, "invalid_request_error", "request_too_large"};
    case riposte_errc::unsupported_media:
      return {415, "invalid_request_error", "unsupported_media_type"};
    case riposte_errc::unprocessable: return {422, "invalid_request_error", ""};
    case riposte_errc::corrupt_event:
    case riposte_errc::unknown_event_type:
    case riposte_errc::store_error:
    case riposte_errc::internal: return {500, "server_error", "server_error"};
    case riposte_errc::backend_unavailable: return {502, "server_error", "backend_unavailable"};
    case riposte_errc::backend_timeout: return {504, "server_error", "backend_timeout"};
    case riposte_errc::output_invalid: return {500, "server_error", "output_schema_violation"};
    case riposte_errc::model_capability:
      return {400, "invalid_request_error", "unsupported_model_capability"};
    case riposte_errc::context_too_long:
      return {400, "invalid_request_error", "context_length_exceeded"};
    case riposte_errc::conversation_locked:
      return {400, "invalid_request_error", "conversation_locked"};
    case riposte_errc::already_in_conversation:
      return {400, "invalid_request_error", "item_already_in_conversation"};
    case riposte_errc::mutually_exclusive:
      return {400, "invalid_request_error", "mutually_exclusive_parameters"};
    case riposte_errc::array_too_long:
      return {400, "invalid_request_error", "array_above_max_length"};
    case riposte_errc::too_many_properties:
      return {400, "invalid_request_error", "object_above_max_properties"};
  }
  return {500, "server_error", "server_error"};
}

response to_http(const events::error_info& err) {
  auto m = map_error(err.code);
  nlohmann::json body{{"error",
                       {{"message", err.message},
                        {"type", m.type},
                        {"param", err.param.empty() ? nlohmann::json() : nlohmann::json(err.param)},
                        {"code", m.code.empty() ? nlohmann::json() : nlohmann::json(m.code)}}}};
  return response{m.status, events::dump_json(body), "application/json", {}, std::string{m.code}};
}

response unknown_url(const request& req) {
  nlohmann::json body{{"error",
                       {{"message", "Unknown request URL: " + req.method + " " + req.path +
                                        ". Please check the URL for typos."},
                        {"type", "invalid_request_error"},
                        {"param", nullptr},
                        {"code", "unknown_url"}}}};
  return response{404, events::dump_json(body), "application/json", {}, "unknown_url"};
}

} // namespace riposte::http
