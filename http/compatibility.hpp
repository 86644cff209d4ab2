// The compatibility manifest: every feature of the Responses API riposte
// knows of, with its status. One table in the code is the source of truth;
// GET /compatibility/responses serves it and a test checks its claims.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>
#include <vector>

namespace riposte::http {

enum class support { supported, conditional, ignored, unsupported };

struct feature {
  std::string_view
      area; // endpoint | request_field | input_item | output_item | event | tool | state | backend
  std::string_view name;
  support status;
  std::string_view notes;
  // Test cases (Boost.Test case names or SDK test titles) that exercise it.
  std::vector<std::string_view> tests;
};

const std::vector<feature>& compatibility_manifest();
nlohmann::json manifest_json();

} // namespace riposte::http
