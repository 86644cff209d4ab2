// multipart/form-data bodies (POST /v1/files), parsed with RESTinio's
// multipart helpers. Parts point into the request body: no copies.
#pragma once

#include "events/errc.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace riposte::http {

struct form_part {
  std::string name;
  std::string filename; // empty for a plain field
  std::string content_type;
  std::string_view body;
};

// The parts of `body` under a `content_type` of multipart/form-data; an
// error value (naming what is wrong) for anything else.
events::result<std::vector<form_part>> parse_form_data(const std::string& content_type,
                                                       std::string_view body);

} // namespace riposte::http
