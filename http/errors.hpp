// OpenAI-shaped errors: one mapping from riposte_errc to HTTP status, error
// `type` and `code`, and the `{"error":{message,type,param,code}}` body.
#pragma once

#include "events/errc.hpp"
#include "http/server.hpp"

#include <string>
#include <string_view>

namespace riposte::http {

struct error_mapping {
  int status;
  std::string_view type;
  std::string_view code; // empty: JSON null
};

error_mapping map_error(events::riposte_errc code);

// The error body and status for an error value.
response to_http(const events::error_info& err);

// The reply for a URL no route serves (what the OpenAI API answers too).
response unknown_url(const request& req);

} // namespace riposte::http
