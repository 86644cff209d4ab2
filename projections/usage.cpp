#include "projections/usage.hpp"

#include <cstdint>

namespace riposte::projections {

using json = nlohmann::json;

json add_usage(const json& a, const json& b) {
  if (!a.is_object())
    return b;
  if (!b.is_object())
    return a;
  auto sum = [&](const char* k) {
    return a.value(k, std::int64_t{0}) + b.value(k, std::int64_t{0});
  };
  auto detail = [&](const char* group, const char* k) {
    auto one = [&](const json& u) {
      auto it = u.find(group);
      return it != u.end() && it->is_object() ? it->value(k, std::int64_t{0}) : std::int64_t{0};
    };
    return one(a) + one(b);
  };
  auto input = sum("input_tokens"), output = sum("output_tokens");
  return {{"input_tokens", input},
          {"input_tokens_details",
           {{"cached_tokens", detail("input_tokens_details", "cached_tokens")}}},
          {"output_tokens", output},
          {"output_tokens_details",
           {{"reasoning_tokens", detail("output_tokens_details", "reasoning_tokens")}}},
          {"total_tokens", input + output}};
}

} // namespace riposte::projections
