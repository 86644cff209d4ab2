// Usage accounting as data: usage objects added up across a response's
// generations (a response that ran hosted tools generated more than once).
#pragma once

#include <nlohmann/json.hpp>

namespace riposte::projections {

// Two usage objects added up (either may be null).
nlohmann::json add_usage(const nlohmann::json& a, const nlohmann::json& b);

} // namespace riposte::projections
