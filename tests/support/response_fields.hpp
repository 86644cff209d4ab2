// Test support: a Response object checked against the field list of the
// references (tests/support/response_fields.json: the pinned openai SDK's
// types and the Open Responses schema, revisions noted there).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace riposte::tests {

// What `response` lacks or carries with a type the references do not allow,
// each "field: why" (empty: it conforms). Function tools in `tools` are
// checked too.
std::vector<std::string> check_response_fields(const nlohmann::json& response);

} // namespace riposte::tests
