// The one error vocabulary of riposte: each code maps 1:1 to an OpenAI error
// `type`/`code` and an HTTP status (see http/errors.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace riposte::events {

enum class riposte_errc : std::uint8_t {
  invalid_request,         // 400 invalid_request_error
  invalid_json,            // 400 invalid_request_error / invalid_json
  unsupported_parameter,   // 400 invalid_request_error / unsupported_parameter
  unknown_parameter,       // 400 invalid_request_error / unknown_parameter
  missing_parameter,       // 400 invalid_request_error / missing_required_parameter
  invalid_type,            // 400 invalid_request_error / invalid_type
  invalid_value,           // 400 invalid_request_error / invalid_value
  model_not_found,         // 400 invalid_request_error / model_not_found
  invalid_api_key,         // 401 authentication_error / invalid_api_key
  permission_denied,       // 403 permission_error / permission_denied
  not_found,               // 404 invalid_request_error / not_found
  version_conflict,        // 409 conflict: expected stream version did not match
  idempotency_conflict,    // 409 same Idempotency-Key, different body
  payload_too_large,       // 413
  unsupported_media,       // 415
  unprocessable,           // 422
  corrupt_event,           // 500 a stored event does not decode
  unknown_event_type,      // 500 a stored event has a type this build does not know
  store_error,             // 500 the event store failed
  internal,                // 500
  backend_unavailable,     // 502 / 503
  backend_timeout,         // 504
  output_invalid,          // 500 the model's answer broke the requested text.format
  model_capability,        // 400 the model cannot take this input (images without vision)
  context_too_long,        // 400 context_length_exceeded: the input does not fit the window
  item_not_found,          // 404 invalid_request_error, no code: an item_reference to nothing
  conversation_locked,     // 400 conversation_locked: a response is running on the conversation
  already_in_conversation, // 400 item_already_in_conversation
  mutually_exclusive,      // 400 mutually_exclusive_parameters
  array_too_long,          // 400 array_above_max_length
  too_many_properties,     // 400 object_above_max_properties
};

std::string_view to_string(riposte_errc code) noexcept;

// An error value: what went wrong, and which request parameter it concerns.
struct error_info {
  riposte_errc code = riposte_errc::internal;
  std::string message;
  std::string param;
};

inline error_info make_error(riposte_errc code, std::string message, std::string param = {}) {
  return error_info{code, std::move(message), std::move(param)};
}

// A value or an error_info; events/ depends on nothing but nlohmann, so this
// stands in for caf::expected at the lowest layer.
template <class T>
class [[nodiscard]] result {
public:
  result(T value)
    : state_(std::in_place_index<0>, std::move(value)) {}
  result(error_info err)
    : state_(std::in_place_index<1>, std::move(err)) {}

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const error_info& error() const { return std::get<1>(state_); }

private:
  std::variant<T, error_info> state_;
};

struct unit {};
using status = result<unit>;
inline status ok() {
  return unit{};
}

} // namespace riposte::events
